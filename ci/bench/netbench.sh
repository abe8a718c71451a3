#!/usr/bin/env bash
# Macro benchmark: our pasta beside the reference implementations found on
# this machine, through the same tests, in namespaces this script creates.
# docs/performance.md describes the method and how to read the table.
#
#   ci/bench/netbench.sh [--quick] [--rows LIST] [--mtu LIST] [--time S]
#                        [--rounds N] [--impls LIST] [--ours PATH]
#                        [--startup-runs N] [--pin CPU] [--out DIR]
#                        [--max-minutes M] [--passt-also LABEL=PATH]
#                        [--passt-vhost-user]
#                        [BUILD_DIR]
#
#   --quick          1 s per test, 1 round, MTU 65520 only, 2 start-ups
#   --rows LIST      tcp_out,tcp_in,tcp_lo_out,tcp_lo_in,udp_out,udp_in,rr,
#                    crr,startup,rss, passt_out,passt_in (passt mode, below)
#                    (default: all)
#   --mtu LIST       tap MTUs to test (default 65520,1500)
#   --time S         seconds per throughput/latency test (default 3)
#   --rounds N       rounds, interleaved over implementations; the table
#                    shows medians (default 3)
#   --impls LIST     ours,pasta,slirp4netns,kernel,relay (default: ours plus
#                    every reference found; the first one is "ours" in the
#                    ratios)
#   --ours PATH      our binary (default BUILD_DIR/pasta, BUILD_DIR defaults
#                    to build/release)
#   --pin CPU        CPU for the latency tests (client, server and the
#                    implementation's threads); -1: no pinning (default 0)
#   --out DIR        where results.tsv, results.md and logs/ go (default: a
#                    new /tmp/passt-netbench.XXXXXX, kept)
#   --max-minutes M  stop starting tests after M minutes (default 30)
#   --passt-vhost-user  passt mode: one more column, ours-vu: our passt with
#                    --vhost-user, qemu's -netdev vhost-user (the guest's RAM
#                    a shared memfd; lib/passt.sh guest_netdev)
#   --passt-also LABEL=PATH  passt mode: one more passt binary in the
#                    rounds, in its own column (e.g. base=/tmp/old/passt for
#                    an A/B of a change); repeatable.  A LABEL ending in -vu
#                    runs its binary over vhost-user, as ours-vu
#
# Columns: ours (our pasta), pasta (/usr/bin/pasta: Debian's 2023 build),
# slirp4netns, kernel (a veth pair: the machine's limit, no translator),
# relay (BUILD_DIR/nb_relay, ci/bench/relay/nb_relay.cpp: a minimal
# splice/recvmmsg relay from the namespace's loopback to the host's, the
# least any user-space translator does on these paths; its clients connect
# to 127.0.0.1 in the namespace, so it has no tap rows, no start-up and no
# RSS: those cells are n/a).
#
# passt mode (--rows passt_out,passt_in; either one runs both): the test
# guest of integration/test_qemu_guest.sh (qemu TCG, one vCPU, 256 MiB;
# built by integration/guest/build-guest.sh into $PASST_GUEST_CACHE, default
# ~/.cache/passt-cpp-guest, before entering the namespaces: the only step
# that may download, once) is booted once per round and binary, with
# passt_bench=TIME,5211,203.0.113.1 on its kernel command line: its
# virtio-net NIC on our passt (BUILD_DIR/passt), then on /usr/bin/passt
# (Debian's), then on each --passt-also binary, one guest at a time.
#   passt_out  the guest's dd writes zeros for TIME s into a TCP connection
#              to 203.0.113.1 (a host address, through passt), timed by the
#              host from the first byte to EOF;
#   passt_in   the host sends for TIME s on a connection the guest opened,
#              timed from accept to the guest's close (it read everything).
# Each also reports qemu's CPU busy (% of one CPU) and qemu's and the
# translator's CPU seconds per GB, sampled over the transfer: on a loaded
# machine the guest's CPU share moves the Gbit/s, its CPU per GB much less.
# Own table, columns ours, passt (and the --passt-also labels).  A guest
# takes ~15 s: the 3 default rounds ~1.5 min (also under a load average of
# 7 on 2 CPUs), --quick ~30 s, 5 rounds with one --passt-also binary ~4 min.
# $QEMU overrides qemu-system-x86_64, $PASST_GUEST_ACCEL the accelerator
# (default tcg).  Without qemu, or if the guest cannot be built (no package
# lists, no download), these rows are n/a and the rest runs.
#
# Network safety: everything runs inside integration/lib/common.sh's outer
# namespace (user + net + mount + pid) whose only uplink leads to a dead-end
# namespace; every address is a documentation or loopback address; nothing
# leaves the machine.  Every command has a timeout and every loop a bound.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NBTOOL=$HERE/nbtool.py

# enter_outer_ns re-executes us with the build directory first.
if [ "${PASST_IT_INSIDE:-}" = 1 ]; then
  INNER_BUILD=$1
  shift
fi
ORIG_ARGS=("$@")

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

QUICK=0
ROWS=""
MTUS=""
TIME=""
ROUNDS=""
IMPLS=""
OURS=""
STARTUP_RUNS=""
PIN=0
OUT=${NB_OUT:-}
MAX_MIN=30
BUILD_ARG=""
PASST_ALSO=()
while [ $# -gt 0 ]; do
  case $1 in
  --quick) QUICK=1 ;;
  --rows) ROWS=$2; shift ;;
  --mtu) MTUS=$2; shift ;;
  --time) TIME=$2; shift ;;
  --rounds) ROUNDS=$2; shift ;;
  --impls) IMPLS=$2; shift ;;
  --ours) OURS=$2; shift ;;
  --startup-runs) STARTUP_RUNS=$2; shift ;;
  --pin) PIN=$2; shift ;;
  --out) OUT=$2; shift ;;
  --max-minutes) MAX_MIN=$2; shift ;;
  --passt-also) PASST_ALSO+=("$2"); shift ;;
  --passt-vhost-user) PASST_VU=1 ;;
  -h|--help) usage 0 ;;
  -*) echo "netbench: unknown option $1" >&2; usage 2 ;;
  *) BUILD_ARG=$1 ;;
  esac
  shift
done
if [ "$QUICK" = 1 ]; then
  : "${TIME:=1}" "${ROUNDS:=1}" "${MTUS:=65520}" "${STARTUP_RUNS:=2}"
fi
: "${TIME:=3}" "${ROUNDS:=3}" "${MTUS:=65520,1500}" "${STARTUP_RUNS:=5}"
PASTA_ROW_SET=tcp_out,tcp_in,tcp_lo_out,tcp_lo_in,udp_out,udp_in,rr,crr,startup,rss
ALL_ROWS=$PASTA_ROW_SET,passt_out,passt_in
ROWS=${ROWS:-$ALL_ROWS}
for r in ${ROWS//,/ }; do
  case ",$ALL_ROWS," in *",$r,"*) ;; *) echo "netbench: unknown row '$r' (rows: $ALL_ROWS)" >&2; exit 2 ;; esac
done
for i in ${IMPLS//,/ }; do
  case $i in ours | pasta | slirp4netns | kernel | relay) ;; *) echo "netbench: unknown implementation '$i'" >&2; exit 2 ;; esac
done
for m in ${MTUS//,/ }; do
  case $m in '' | *[!0-9]*) echo "netbench: bad MTU '$m'" >&2; exit 2 ;; esac
  if [ "$m" -lt 576 ] || [ "$m" -gt 65520 ]; then echo "netbench: MTU $m outside 576..65520" >&2; exit 2; fi
done
declare -A PASST_BIN_OF=()
for pa in "${PASST_ALSO[@]}"; do
  l=${pa%%=*} b=${pa#*=}
  case $l in '' | ours | passt | *[!a-z0-9_-]* | "$pa") echo "netbench: --passt-also LABEL=PATH, LABEL in [a-z0-9_-], not ours or passt" >&2; exit 2 ;; esac
  [ -x "$b" ] || { echo "netbench: --passt-also: $b is not an executable" >&2; exit 2; }
  PASST_BIN_OF[$l]=$(cd "$(dirname "$b")" && pwd)/$(basename "$b")
done
for v in "$TIME" "$ROUNDS" "$STARTUP_RUNS" "$MAX_MIN"; do
  case $v in '' | *[!0-9]*) echo "netbench: counts and times are whole numbers" >&2; exit 2 ;; esac
done
if [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 20 ]; then echo "netbench: --rounds 1..20" >&2; exit 2; fi
if [ "$TIME" -lt 1 ] || [ "$TIME" -gt 60 ]; then echo "netbench: --time 1..60" >&2; exit 2; fi

BUILD_DIR=${INNER_BUILD:-${BUILD_ARG:-$ROOT/build/release}}
OURS=${OURS:-$BUILD_DIR/pasta}
if [ ! -x "$OURS" ]; then
  echo "netbench: $OURS not found: build the release preset first" >&2
  exit 1
fi
OURS=$(cd "$(dirname "$OURS")" && pwd)/$(basename "$OURS")
export NB_OURS=$OURS

if [ "${PASST_IT_INSIDE:-}" != 1 ]; then
  for c in iperf3 python3 nstat ss taskset nsenter unshare; do
    command -v "$c" >/dev/null || { echo "netbench: $c is missing (ci/deps.sh installs it)" >&2; exit 1; }
  done
  # passt mode: the guest is built (or found) before entering the
  # namespaces, which have no way out.
  export NB_GUEST=0
  case ",$ROWS," in
  *,passt_out,* | *,passt_in,*)
    export PASST_GUEST_CACHE=${PASST_GUEST_CACHE:-$HOME/.cache/passt-cpp-guest}
    if ! command -v "${QEMU:-qemu-system-x86_64}" >/dev/null; then
      echo "netbench: ${QEMU:-qemu-system-x86_64} is missing: the passt rows stay n/a" >&2
    elif "$ROOT/integration/guest/build-guest.sh" "$PASST_GUEST_CACHE"; then
      NB_GUEST=1
    else
      echo "netbench: the test guest cannot be built here: the passt rows stay n/a" >&2
    fi
    ;;
  esac
  OUT=${OUT:-$(mktemp -d /tmp/passt-netbench.XXXXXX)}
  mkdir -p "$OUT"
  NB_OUT=$(cd "$OUT" && pwd)
  export NB_OUT
  echo "netbench: results and logs in $NB_OUT" >&2
fi

# shellcheck source=../../integration/lib/common.sh
. "$ROOT/integration/lib/common.sh"
# shellcheck source=../../integration/lib/passt.sh
. "$ROOT/integration/lib/passt.sh"
enter_outer_ns "$BUILD_DIR" "${ORIG_ARGS[@]}"

# --- inside the outer namespace from here on --------------------------------

OUT=$NB_OUT
LOGS=$OUT/logs
RES=$OUT/results.tsv
mkdir -p "$LOGS"
printf 'impl\tmtu\trow\tround\tvalue\n' >"$RES"
DEADLINE=$(($(date +%s) + MAX_MIN * 60))
NCPU=$(nproc)

want() { case ",$ROWS," in *",$1,"*) return 0 ;; esac; return 1; }
past_deadline() { [ "$(date +%s)" -ge "$DEADLINE" ]; }

# Implementations: ours first (the numerator of every ratio).
if [ -z "$IMPLS" ]; then
  IMPLS=ours
  if [ -x /usr/bin/pasta ] && ! cmp -s "$(readlink -f /usr/bin/pasta)" "$(readlink -f "$OURS")"; then
    IMPLS+=,pasta
  fi
  command -v slirp4netns >/dev/null && IMPLS+=,slirp4netns
  IMPLS+=,kernel
  [ -x "$(dirname "$OURS")/nb_relay" ] && IMPLS+=,relay
fi
IFS=, read -r -a IMPL_LIST <<<"$IMPLS"
IFS=, read -r -a MTU_LIST <<<"$MTUS"
FIRST_MTU=${MTU_LIST[0]}

impl_bin() {
  case $1 in
  ours) echo "$OURS" ;;
  pasta) echo /usr/bin/pasta ;;
  slirp4netns) command -v slirp4netns ;;
  relay) echo "$(dirname "$OURS")/nb_relay" ;;
  esac
}

{
  echo "date: $(date -Is)"
  echo "host: $(uname -r), $NCPU CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "rows: $ROWS"
  echo "implementations: $IMPLS; MTUs: $MTUS; rounds: $ROUNDS; time per test: $TIME s; pin: $PIN"
  echo "ours: $OURS ($(sha256sum "$OURS" | cut -c1-16))"
  echo "congestion control: $(sysctl -n net.ipv4.tcp_congestion_control 2>/dev/null || echo '?')"
} >"$OUT/info.txt"
log "$(tr '\n' ';' <"$OUT/info.txt")"

# record IMPL MTU ROW ROUND VALUE
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$RES"; }

# where host|ns: WHERE=() or the nsenter prefix for the test namespace
# (an array, so that a background job's $! is the command itself).
where() {
  WHERE=()
  if [ "$1" = ns ]; then WHERE=(nsenter --net="$NETNS"); fi
}
# run_in host|ns CMD...: in the outer namespace or in the test namespace.
run_in() {
  local where=$1; shift
  if [ "$where" = ns ]; then nsenter --net="$NETNS" "$@"; else "$@"; fi
}
listening() { [ -n "$(run_in "$1" ss -Hltn "sport = :$2" 2>/dev/null)" ]; }
ns_default_route() { nsenter --net="$NETNS" ip -4 route show default | grep -q default; }
tcp_timeouts() {
  run_in "$1" nstat -asz TcpExtTCPTimeouts 2>/dev/null | awk '$1 == "TcpExtTCPTimeouts" { print $2; f = 1 } END { if (!f) print 0 }'
}
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" 2>/dev/null; }

# kill_wait PID: SIGTERM, bounded wait, SIGKILL.
kill_wait() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  wait_until 3 pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# --- implementations ------------------------------------------------------------
# start_impl IMPL MTU TAG: a fresh namespace ($NETNS) connected by IMPL.  Sets
# IMPL_PID (empty for kernel) and the client targets: DST_OUT (a host
# address reached from the ns), DST_IN (what a host client connects to for
# the ns's port 5202), LO_OUT / LO_IN (loopback paths, empty if none).

IMPL_PID=""
IMPL_CMD=()
# pasta_cmd BIN MTU NS / slirp_cmd MTU NS [API]: the command line in IMPL_CMD.
pasta_cmd() {
  IMPL_CMD=("$1" -f -q --config-net -t 5202 -T 5203 -u none -U none --netns "$3" -m "$2")
}
slirp_cmd() {
  IMPL_CMD=(slirp4netns --configure --mtu="$1")
  if [ -n "${3:-}" ]; then IMPL_CMD+=(--api-socket "$3"); fi
  IMPL_CMD+=(--netns-type=path "$2" tap0)
}
kernel_up() { # MTU SLEEPER NS
  ip link add vb0 mtu "$1" type veth peer name vb1 mtu "$1" &&
    ip link set vb1 netns "$2" &&
    ip addr add 192.0.2.1/24 dev vb0 && ip link set vb0 up &&
    nsenter --net="$3" sh -c 'ip link set lo up && ip addr add 192.0.2.2/24 dev vb1 &&
      ip link set vb1 up && ip route add default via 192.0.2.1'
}

start_impl() {
  local impl=$1 mtu=$2 tag=$3
  new_netns "$tag"
  IMPL_PID=""
  DST_OUT=203.0.113.1
  case $impl in
  ours | pasta)
    pasta_cmd "$(impl_bin "$impl")" "$mtu" "$NETNS"
    echo "${IMPL_CMD[*]}" >"$LOGS/$tag.cmd"
    "${IMPL_CMD[@]}" >"$LOGS/$tag.log" 2>&1 &
    IMPL_PID=$!
    DST_IN=198.51.100.1 LO_OUT=127.0.0.1 LO_IN=127.0.0.1
    ;;
  slirp4netns)
    local api=$TMP/$tag.sock
    slirp_cmd "$mtu" "$NETNS" "$api"
    echo "${IMPL_CMD[*]}" >"$LOGS/$tag.cmd"
    "${IMPL_CMD[@]}" >"$LOGS/$tag.log" 2>&1 &
    IMPL_PID=$!
    # slirp4netns has no splice: its loopback rows measure the same
    # function through its TCP stack (10.0.2.2 is the host's loopback).
    DST_IN=198.51.100.1 LO_OUT=10.0.2.2 LO_IN=127.0.0.1
    wait_until 10 test -S "$api" || { log "slirp4netns API socket missing"; return 1; }
    python3 "$NBTOOL" slirp-api "$api" \
      '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"0.0.0.0","host_port":5202,"guest_port":5202}}' \
      >>"$LOGS/$tag.log" 2>&1 || { log "slirp4netns add_hostfwd failed"; return 1; }
    ;;
  kernel)
    kernel_up "$mtu" "$NETNS_SLEEPER" "$NETNS" >"$LOGS/$tag.log" 2>&1 || { log "veth set-up failed"; return 1; }
    DST_IN=192.0.2.2 LO_OUT="" LO_IN=""
    ;;
  relay)
    # Every port a test uses from the namespace (iperf3's UDP tests keep
    # their control connection on the same port), 5202 the other way.
    in_netns "$NETNS" ip link set lo up
    IMPL_CMD=("$(impl_bin relay)" "$NETNS" tcp-out=5203,5205,5206,5207,5208 tcp-in=5202
      udp-out=5205,5206,5209)
    echo "${IMPL_CMD[*]}" >"$LOGS/$tag.cmd"
    "${IMPL_CMD[@]}" >"$LOGS/$tag.log" 2>&1 &
    IMPL_PID=$!
    DST_OUT=127.0.0.1 DST_IN="" LO_OUT=127.0.0.1 LO_IN=127.0.0.1
    wait_until 10 grep -q ready "$LOGS/$tag.log" || { log "nb_relay did not start"; return 1; }
    ;;
  esac
  if [ "$impl" != relay ]; then
    wait_until 10 ns_default_route || { log "$impl: no default route in the namespace"; return 1; }
  fi
  if [ "$impl" != kernel ]; then
    wait_until 10 listening host 5202 || { log "$impl: port 5202 not forwarded"; return 1; }
  fi
  return 0
}

stop_impl() {
  kill_wait "$IMPL_PID"
  IMPL_PID=""
  ip link del vb0 2>/dev/null || true
  remove_netns "$NETNS" 2>/dev/null || true
  kill_wait "$NETNS_SLEEPER"
}

# --- tests --------------------------------------------------------------------
# Each prints the value to record on stdout, or fails (recorded as n/a).

# t_iperf SRV CLI DST PORT TAG [UDP_LEN [REVERSE]]: iperf3 server on side
# SRV (host or ns), client on CLI towards DST:PORT.  A server on the host
# binds DST itself: replies to a UDP client must come from the address it
# sent to (with a veth the host would otherwise answer from 192.0.2.1).
t_iperf() {
  local srv=$1 cli=$2 dst=$3 port=$4 tag=$5 udp_len=${6:-} rev=${7:-}
  local json=$LOGS/$tag.json bind=()
  if [ "$srv" = host ]; then
    case $dst in
    203.0.113.1 | 127.0.0.1) bind=(-B "$dst") ;;
    10.0.2.2) bind=(-B 127.0.0.1) ;;  # slirp4netns: the host's loopback
    esac
  fi
  where "$srv"
  "${WHERE[@]}" timeout $((TIME + 20)) iperf3 -s -1 -p "$port" "${bind[@]}" >"$LOGS/$tag.server.log" 2>&1 &
  local spid=$!
  if ! wait_until 5 listening "$srv" "$port"; then
    kill_wait "$spid"
    return 1
  fi
  local args=(-c "$dst" -p "$port" -t "$TIME" -J --connect-timeout 3000)
  if [ -n "$udp_len" ]; then
    args+=(-u -b 0 -l "$udp_len")
    [ -n "$rev" ] && args+=(-R)
  fi
  local rc=0
  run_in "$cli" timeout $((TIME + 8)) iperf3 "${args[@]}" >"$json" 2>&1 || rc=$?
  kill_wait "$spid"
  [ $rc = 0 ] || return 1
  python3 "$NBTOOL" iperf "$json" ${udp_len:+--udp-len "$udp_len"} | json_field gbps
}

pin_impl() {
  [ "$PIN" != -1 ] && [ -n "$IMPL_PID" ] || return 0
  taskset -a -p -c "$1" "$IMPL_PID" >/dev/null 2>&1 || true
}

# t_py KIND TAG: the rr or crr client in the ns against a server on the host.
t_py() {
  local kind=$1 tag=$2 port
  [ "$kind" = rr ] && port=5207 || port=5208
  local pin=()
  [ "$PIN" = -1 ] || pin=(taskset -c "$PIN")
  "${pin[@]}" timeout $((TIME + 20)) python3 "$NBTOOL" server --kind "$kind" --port "$port" \
    --lifetime $((TIME + 15)) >"$LOGS/$tag.server.log" 2>&1 &
  local spid=$!
  if ! wait_until 5 listening host "$port"; then
    kill_wait "$spid"
    return 1
  fi
  pin_impl "$PIN"
  local rc=0
  local limit=200000
  [ "$kind" = crr ] && limit=20000
  nsenter --net="$NETNS" timeout $((TIME + 10)) "${pin[@]}" python3 "$NBTOOL" "$kind" --addr "$DST_OUT" --port "$port" --secs "$TIME" --max "$limit" \
    >"$LOGS/$tag.json" 2>&1 || rc=$?
  pin_impl "0-$((NCPU - 1))"
  kill_wait "$spid"
  [ $rc = 0 ] && cat "$LOGS/$tag.json"
}

# measure ROW IMPL MTU ROUND CMD...: runs CMD, records its value or n/a.
measure() {
  local row=$1 impl=$2 mtu=$3 round=$4; shift 4
  local v
  if past_deadline; then
    log "deadline (--max-minutes $MAX_MIN) passed: $row not run"
    return 0
  fi
  if v=$("$@" 2>>"$LOGS/errors.log") && [ -n "$v" ]; then
    record "$impl" "$mtu" "$row" "$round" "$v"
    log "  $impl mtu $mtu round $round: $row = $v"
  else
    record "$impl" "$mtu" "$row" "$round" n/a
    log "  $impl mtu $mtu round $round: $row n/a"
  fi
}

tcp_with_timeouts() { # ROW SENDER SRV CLI DST PORT IMPL MTU ROUND
  local row=$1 sender=$2 srv=$3 cli=$4 dst=$5 port=$6 impl=$7 mtu=$8 round=$9
  local before after
  before=$(tcp_timeouts "$sender")
  measure "$row" "$impl" "$mtu" "$round" t_iperf "$srv" "$cli" "$dst" "$port" "$impl-$mtu-$round-$row"
  after=$(tcp_timeouts "$sender")
  record "$impl" "$mtu" "${row}_timeouts" "$round" $((after - before))
}

# udp_path TAG: does a datagram from the ns to the host get an answer?
udp_path() {
  python3 "$NBTOOL" udp-echo --port 5209 --lifetime 10 >"$LOGS/$1-udp-probe.log" 2>&1 &
  local epid=$! rc=0
  wait_until 5 test -s "$LOGS/$1-udp-probe.log" || true
  nsenter --net="$NETNS" timeout 10 python3 "$NBTOOL" udp-probe --addr "$DST_OUT" --port 5209 || rc=$?
  kill_wait "$epid"
  return $rc
}

udp_rows() { # IMPL MTU ROUND TAG UDP_LEN
  local impl=$1 mtu=$2 round=$3 tag=$4 udp_len=$5
  if want udp_out; then
    measure udp_out "$impl" "$mtu" "$round" t_iperf host ns "$DST_OUT" 5205 "$tag-udp_out" "$udp_len"
  fi
  if want udp_in; then
    # The ns opens the flow and the host sends (iperf3 -R): the reply path.
    measure udp_in "$impl" "$mtu" "$round" t_iperf host ns "$DST_OUT" 5206 "$tag-udp_in" "$udp_len" R
  fi
}

run_variant() {
  local impl=$1 mtu=$2 round=$3
  local tag=$impl-$mtu-$round
  local first=0
  [ "$mtu" = "$FIRST_MTU" ] && first=1
  log "== $impl, MTU $mtu, round $round"
  if ! start_impl "$impl" "$mtu" "$tag"; then
    log "$impl could not be started at MTU $mtu: its cells stay n/a (log: $LOGS/$tag.log)"
    stop_impl
    return 0
  fi
  local udp_len=$((mtu - 28))
  [ $udp_len -gt 65507 ] && udp_len=65507
  if want tcp_out && [ "$impl" != relay ]; then
    tcp_with_timeouts tcp_out ns host ns "$DST_OUT" 5201 "$impl" "$mtu" "$round"
  fi
  if want tcp_in && [ -n "$DST_IN" ]; then
    tcp_with_timeouts tcp_in host ns host "$DST_IN" 5202 "$impl" "$mtu" "$round"
  fi
  if [ $first = 1 ] && want tcp_lo_out && [ -n "$LO_OUT" ]; then
    measure tcp_lo_out "$impl" "$mtu" "$round" t_iperf host ns "$LO_OUT" 5203 "$tag-tcp_lo_out"
  fi
  if [ $first = 1 ] && want tcp_lo_in && [ -n "$LO_IN" ]; then
    measure tcp_lo_in "$impl" "$mtu" "$round" t_iperf ns host "$LO_IN" 5202 "$tag-tcp_lo_in"
  fi
  if { want udp_out || want udp_in; } && ! udp_path "$tag"; then
    log "  $impl mtu $mtu round $round: no UDP path (probe unanswered): UDP rows n/a"
    if want udp_out; then record "$impl" "$mtu" udp_out "$round" n/a; fi
    if want udp_in; then record "$impl" "$mtu" udp_in "$round" n/a; fi
  else
    udp_rows "$impl" "$mtu" "$round" "$tag" "$udp_len"
  fi
  if [ $first = 1 ] && want rr; then
    local j
    if ! past_deadline && j=$(t_py rr "$tag-rr"); then
      record "$impl" "$mtu" rr_p50 "$round" "$(json_field p50_us <<<"$j")"
      record "$impl" "$mtu" rr_p99 "$round" "$(json_field p99_us <<<"$j")"
      log "  $impl mtu $mtu round $round: rr $j"
    else
      record "$impl" "$mtu" rr_p50 "$round" n/a
      log "  $impl mtu $mtu round $round: rr n/a"
    fi
  fi
  if [ $first = 1 ] && want crr; then
    measure crr "$impl" "$mtu" "$round" t_py_crr "$tag"
  fi
  if want rss && [ -n "$IMPL_PID" ] && [ "$impl" != relay ]; then
    local kib
    kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$IMPL_PID/status" 2>/dev/null || true)
    if [ -n "$kib" ]; then
      record "$impl" "$mtu" rss "$round" "$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')"
    fi
  fi
  stop_impl
}

# --- start-up -------------------------------------------------------------------
startup_once() { # IMPL N
  local impl=$1 n=$2 tag=startup-$1-$2
  new_netns "$tag"
  local cmd=() v6=()
  case $impl in
  ours | pasta)
    pasta_cmd "$(impl_bin "$impl")" "$FIRST_MTU" "$NETNS"
    cmd=("${IMPL_CMD[@]}")
    v6=(--want6)  # pasta configures both families: wait for both routes
    ;;
  slirp4netns)
    slirp_cmd "$FIRST_MTU" "$NETNS"
    cmd=("${IMPL_CMD[@]}")
    ;;
  kernel)
    export -f kernel_up
    cmd=(bash -c "kernel_up $FIRST_MTU $NETNS_SLEEPER $NETNS")
    ;;
  esac
  local j rc=0
  j=$(timeout 30 python3 "$NBTOOL" startup --netns "$NETNS" "${v6[@]}" --timeout 10 -- "${cmd[@]}" \
    2>>"$LOGS/$tag.log") || rc=$?
  ip link del vb0 2>/dev/null || true
  remove_netns "$NETNS" 2>/dev/null || true
  kill_wait "$NETNS_SLEEPER"
  [ $rc = 0 ] && json_field ms <<<"$j"
}

# --- passt mode -----------------------------------------------------------------
# passt_variant IMPL ROUND: one guest on IMPL's passt (ours: OURS_PASST;
# passt: /usr/bin/passt), both transfers, then everything stopped.  The
# guest's MTU is what passt's DHCP gives (65520, both binaries).
GUEST_CACHE=${PASST_GUEST_CACHE:-}
QEMU=${QEMU:-qemu-system-x86_64}
PASST_PORT=5211      # guest -> host; PASST_PORT+1: host -> guest
PASST_HOST=203.0.113.1
PASST_MTU=65520      # the column the rows are recorded under

passt_variant() {
  local impl=$1 round=$2 tag=passt-$1-$2 bin vu=""
  local sock=$TMP/$tag.sock
  case $impl in
  ours) bin=$OURS_PASST ;;
  ours-vu) bin=$OURS_PASST vu=1 ;;
  passt) bin=/usr/bin/passt ;;
  *-vu) bin=${PASST_BIN_OF[$impl]} vu=1 ;;
  *) bin=${PASST_BIN_OF[$impl]} ;;
  esac
  log "== passt mode: $impl, round $round"
  if [ "$NB_GUEST" != 1 ] || past_deadline; then
    past_deadline && log "deadline (--max-minutes $MAX_MIN) passed: passt rows not run"
    for r in passt_out passt_in; do record "$impl" "$PASST_MTU" "$r" "$round" n/a; done
    return 0
  fi
  echo "$bin ${vu:+--vhost-user }-f -s $sock -t none -u none" >"$LOGS/$tag.cmd"
  "$bin" ${vu:+--vhost-user} -f -s "$sock" -t none -u none </dev/null >"$LOGS/$tag.log" 2>&1 &
  local ppid=$! spid="" rpid=""
  local out_json=$LOGS/$tag-out.json in_json=$LOGS/$tag-in.json
  local qpidfile=$TMP/$tag.qemu.pid tpidfile=$TMP/$tag.passt.pid
  echo "$ppid" >"$tpidfile"
  : >"$out_json"; : >"$in_json"
  if wait_until 5 test -S "$sock"; then
    # Both host ends sample the CPU time of qemu and of the translator
    # over their transfer.
    local cpu=(--cpu "guest=$qpidfile" --cpu "translator=$tpidfile")
    python3 "$NBTOOL" sink --bind "$PASST_HOST" --port "$PASST_PORT" --lifetime 150 "${cpu[@]}" \
      >"$out_json" 2>"$LOGS/$tag-out.log" &
    spid=$!
    python3 "$NBTOOL" source --bind "$PASST_HOST" --port $((PASST_PORT + 1)) --secs "$TIME" \
      --lifetime 150 "${cpu[@]}" >"$in_json" 2>"$LOGS/$tag-in.log" &
    rpid=$!
    if ! wait_until 5 listening host "$PASST_PORT" || ! wait_until 5 listening host $((PASST_PORT + 1)); then
      log "  host servers did not start"
    fi
    local t0
    t0=$(date +%s%N)
    # The integration tests' guest (lib/passt.sh), 256 MiB as test_qemu_guest.sh.
    PASST_VHOST_USER=$vu run_test_guest 150 256 "$sock" "passt_bench=$TIME,$PASST_PORT,$PASST_HOST" \
      "$LOGS/$tag.console.log" "$LOGS/$tag.guest.log" "$LOGS/$tag.qemu.log" -pidfile "$qpidfile" ||
      log "  qemu status $? (logs: $LOGS/$tag.*)"
    log "  guest ran $((($(date +%s%N) - t0) / 1000000)) ms: $(tr -d '\r' <"$LOGS/$tag.guest.log" |
      sed -n 's/^R //p' | grep -e '^bench' -e '^error' | paste -sd';')"
  else
    log "  $bin did not create its socket (log: $LOGS/$tag.log)"
  fi
  kill_wait "$spid"; kill_wait "$rpid"
  kill -0 "$ppid" 2>/dev/null || log "  $bin exited by itself (log: $LOGS/$tag.log)"
  kill_wait "$ppid"
  local r j v gbps busy gcpu tcpu
  for r in out in; do
    j=$LOGS/$tag-$r.json
    v=$(python3 "$NBTOOL" guest-rows "$j" 2>/dev/null) || v=""
    if [ -n "$v" ]; then
      # n/a where a process could not be sampled
      read -r gbps busy gcpu tcpu <<<"$v"
      record "$impl" "$PASST_MTU" "passt_$r" "$round" "$gbps"
      record "$impl" "$PASST_MTU" "passt_${r}_gbusy" "$round" "$busy"
      record "$impl" "$PASST_MTU" "passt_${r}_gcpu" "$round" "$gcpu"
      record "$impl" "$PASST_MTU" "passt_${r}_tcpu" "$round" "$tcpu"
      log "  $impl round $round: passt_$r = $gbps Gbit/s, qemu busy $busy %, qemu $gcpu s/GB, translator $tcpu s/GB"
    else
      record "$impl" "$PASST_MTU" "passt_$r" "$round" n/a
      log "  $impl round $round: passt_$r n/a ($(tail -n 1 "$LOGS/$tag-$r.log" 2>/dev/null))"
    fi
  done
}

# --- main -------------------------------------------------------------------------
# crr through measure(): a named function so that measure can run it.
t_py_crr() { local j; j=$(t_py crr "$1-crr") && json_field per_s <<<"$j"; }

# The pasta rows (start-up has its own loop below).
PASTA_ROWS=0
for r in ${PASTA_ROW_SET//,/ }; do
  [ "$r" != startup ] && want "$r" && PASTA_ROWS=1
done
if [ $PASTA_ROWS = 1 ]; then
  for round in $(seq 1 "$ROUNDS"); do
    for mtu in "${MTU_LIST[@]}"; do
      for impl in "${IMPL_LIST[@]}"; do
        past_deadline && break 3
        run_variant "$impl" "$mtu" "$round"
      done
    done
  done
fi

# passt mode: ours against Debian's passt, one guest at a time.
PASST_IMPLS=ours
if want passt_out || want passt_in; then
  OURS_PASST=$(dirname "$OURS")/passt
  if [ ! -x "$OURS_PASST" ]; then
    # Our binary picks its mode from its name.
    OURS_PASST=$TMP/ours/passt
    mkdir -p "$TMP/ours" && ln -sf "$OURS" "$OURS_PASST"
  fi
  if [ -x /usr/bin/passt ] && ! cmp -s "$(readlink -f /usr/bin/passt)" "$(readlink -f "$OURS_PASST")"; then
    PASST_IMPLS+=,passt
  fi
  [ "${PASST_VU:-}" = 1 ] && PASST_IMPLS+=,ours-vu
  for l in "${!PASST_BIN_OF[@]}"; do
    PASST_IMPLS+=",$l"
    echo "passt mode: $l ${PASST_BIN_OF[$l]} ($(sha256sum "${PASST_BIN_OF[$l]}" | cut -c1-16))" >>"$OUT/info.txt"
  done
  echo "passt mode: ours $OURS_PASST; guest $GUEST_CACHE ($(paste -sd' ' "$GUEST_CACHE/manifest" 2>/dev/null))" \
    >>"$OUT/info.txt"
  IFS=, read -r -a PASST_LIST <<<"$PASST_IMPLS"
  for round in $(seq 1 "$ROUNDS"); do
    for impl in "${PASST_LIST[@]}"; do
      passt_variant "$impl" "$round"
    done
  done
fi

if want startup; then
  for n in $(seq 1 "$STARTUP_RUNS"); do
    for impl in "${IMPL_LIST[@]}"; do
      past_deadline && break 2
      [ "$impl" = relay ] && continue
      measure startup "$impl" "$FIRST_MTU" "$n" startup_once "$impl" "$n"
    done
  done
fi

log "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/info.txt"
{
  echo "## netbench $(date -I)"
  echo
  sed 's/^/    /' "$OUT/info.txt"
  if [ $PASTA_ROWS = 1 ] || want startup; then
    python3 "$NBTOOL" table "$RES" --impls "$IMPLS" --mtus "$MTUS"
  fi
  if want passt_out || want passt_in; then
    python3 "$NBTOOL" table "$RES" --impls "$PASST_IMPLS" --mtus "$PASST_MTU" --group passt \
      --title "passt mode: a TCG guest (MTU $PASST_MTU); ours = our passt, passt = /usr/bin/passt"
  fi
} | tee "$OUT/results.md"
log "results: $OUT/results.md, raw: $RES, logs: $LOGS"
