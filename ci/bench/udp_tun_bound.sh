#!/usr/bin/env bash
# How fast can anything forward UDP through a namespace's tap?  netbench's
# UDP rows flood 64 KiB datagrams between the namespace and the host; a
# translator reads each from its tun/tap fd and sends it from a host socket
# (out: ns->host), or receives it on a host socket and writes it to the
# tun/tap (in: host->ns, a -u port forward).  This script puts three
# forwarders on those paths, one at a time, in test-made namespaces:
#   ours      our pasta (BUILD_DIR/pasta)
#   pasta     Debian's (/usr/bin/pasta), when installed
#   tunrelay  BUILD_DIR/nb_relay tun-udp-out / tun-udp-in=P: a tun device
#             and a loop of read() + send() or recv() + write(), nothing
#             else (ci/bench/relay/nb_relay.cpp): the floor for any
#             translator that moves datagrams through a tun fd
# and reports, per direction and forwarder (medians over the rounds): the
# rate the receiver got, the datagrams that reached the forwarder (out:
# what it sent to the host; in: what its host socket received), and its CPU
# per such datagram (user + system, /proc/PID/stat).  The flood is socat
# reading /dev/zero in 65492-byte blocks (a datagram each) for SECS
# seconds; the receiver is socat writing to /dev/null; counts are
# UdpInDatagrams / UdpOutDatagrams of the namespaces (nstat).
#
#   ci/bench/udp_tun_bound.sh [--secs S] [--rounds N] [--mtu M]
#                             [--dir out|in|both] [--also LABEL=PATH]...
#                             [BUILD_DIR]
#
# UTB_VERBOSE=1 logs the Udp* counters of both namespaces per run.
# --also runs one more pasta binary in its own row (an A/B of a change).
# Defaults: 3 s, 3 rounds (interleaved), MTU 65520, both directions,
# build/release.
# Network safety: integration/lib/common.sh's outer namespace, documentation
# addresses only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECS=3 ROUNDS=3 MTU=65520 DIRS=both BUILD_ARG='' ALSO=()
ORIG_ARGS=("$@")
while [ $# -gt 0 ]; do
  case $1 in
  --secs) SECS=$2; shift 2 ;;
  --rounds) ROUNDS=$2; shift 2 ;;
  --mtu) MTU=$2; shift 2 ;;
  --dir) DIRS=$2; shift 2 ;;
  --also) ALSO+=("$2"); shift 2 ;;
  -h | --help) sed -n '2,31p' "$0"; exit 0 ;;
  -*) echo "udp_tun_bound: unknown option $1" >&2; exit 2 ;;
  *) BUILD_ARG=$1; shift ;;
  esac
done
if [ "$SECS" -lt 1 ] || [ "$SECS" -gt 30 ]; then echo "udp_tun_bound: --secs 1..30" >&2; exit 2; fi
if [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 10 ]; then echo "udp_tun_bound: --rounds 1..10" >&2; exit 2; fi
case $DIRS in out | in) ;; both) DIRS="out in" ;; *) echo "udp_tun_bound: --dir out|in|both" >&2; exit 2 ;; esac
BUILD_DIR=${INNER_BUILD:-${BUILD_ARG:-$ROOT/build/release}}
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
export INNER_BUILD=$BUILD_DIR
for f in pasta nb_relay; do
  [ -x "$BUILD_DIR/$f" ] || { echo "udp_tun_bound: no $BUILD_DIR/$f (release preset, PASST_BENCH on)" >&2; exit 1; }
done
for c in socat nstat nsenter unshare ip; do
  command -v "$c" >/dev/null || { echo "udp_tun_bound: $c is missing" >&2; exit 1; }
done

# shellcheck source=../../integration/lib/common.sh
. "$ROOT/integration/lib/common.sh"
# shellcheck source=../../integration/lib/passt.sh
. "$ROOT/integration/lib/passt.sh"
enter_outer_ns "$BUILD_DIR" "${ORIG_ARGS[@]}"

PORT=5210 LEN=65492
IMPLS=(ours tunrelay)
[ -x /usr/bin/pasta ] && IMPLS=(ours pasta tunrelay)
declare -A BIN=([ours]=$BUILD_DIR/pasta [pasta]=/usr/bin/pasta)
for a in "${ALSO[@]}"; do
  BIN[${a%%=*}]=${a#*=}
  IMPLS+=("${a%%=*}")
done
cpu_s() { awk '{ printf "%.2f\n", ($14 + $15) / 100 }' "/proc/$1/stat"; }
# The UDP counters of a namespace since the last `nstat -n` with the same
# history file (each namespace keeps its own; each call moves the mark):
# "UdpInDatagrams UdpOutDatagrams"; with UTB_VERBOSE=1 every Udp* and
# softnet counter that moved goes to the log as well.
nstat_udp() {
  local out
  out=$(NSTAT_HISTORY=$1 "${@:3}" nstat -z 2>/dev/null)
  [ "${UTB_VERBOSE:-0}" = 1 ] && log "$2: $(echo "$out" | awk '$1 ~ /^(Udp|TcpExtTCPBacklogDrop)/ && $2 != 0 { printf "%s=%s ", $1, $2 }')"
  echo "$out" | awk '$1 == "UdpInDatagrams" { i = $2 } $1 == "UdpOutDatagrams" { o = $2 } END { print i + 0, o + 0 }'
}

# one DIR IMPL ROUND: appends "DIR IMPL recv_gbps dgrams us_per_dgram" to $TMP/runs
one() {
  local dir=$1 impl=$2 pid c0 c1 got seen x
  new_netns "$dir-$impl-$3"
  local ns=$NETNS
  if [ "$impl" = tunrelay ]; then
    local mode=tun-udp-out
    [ "$dir" = in ] && mode=tun-udp-in=$PORT
    "$BUILD_DIR/nb_relay" "$ns" "$mode" >"$TMP/$impl.log" 2>&1 &
    pid=$!
    wait_until 10 grep -q ready "$TMP/$impl.log" || fail "nb_relay did not start: $(cat "$TMP/$impl.log")"
    in_netns "$ns" sh -c "ip link set lo up && ip addr add 198.51.100.1/24 dev nbtun0 &&
      ip link set nbtun0 mtu $MTU up && ip route add default dev nbtun0"
  else
    local fwd=none
    [ "$dir" = in ] && fwd=$PORT
    "${BIN[$impl]}" -f -q --config-net -t none -u "$fwd" -T none -U none --netns "$ns" -m "$MTU" \
      >"$TMP/$impl.log" 2>&1 &
    pid=$!
    wait_until 10 sh -c "nsenter --net='$ns' ip route show default | grep -q ." ||
      fail "$impl: no default route in the namespace"
  fi
  local sink
  if [ "$dir" = out ]; then
    socat -u -b 65536 "UDP4-RECV:$PORT,bind=203.0.113.1" OPEN:/dev/null &
  else
    in_netns "$ns" socat -u -b 65536 "UDP4-RECV:$PORT" OPEN:/dev/null &
  fi
  sink=$!
  sleep 0.3
  NSTAT_HISTORY=$TMP/nstat.host nstat -n >/dev/null
  NSTAT_HISTORY=$TMP/nstat.ns in_netns "$ns" nstat -n >/dev/null
  c0=$(cpu_s "$pid")
  if [ "$dir" = out ]; then
    in_netns "$ns" timeout "$SECS" socat -u -b "$LEN" /dev/zero "UDP4-SENDTO:203.0.113.1:$PORT" || true
  else
    timeout "$SECS" socat -u -b "$LEN" /dev/zero "UDP4-SENDTO:198.51.100.1:$PORT" || true
  fi
  sleep 0.3
  c1=$(cpu_s "$pid")
  if [ "$dir" = out ]; then
    read -r got seen < <(nstat_udp "$TMP/nstat.host" host)  # received by the sink, sent by the forwarder
    [ "${UTB_VERBOSE:-0}" = 1 ] && nstat_udp "$TMP/nstat.ns" ns in_netns "$ns" >/dev/null
  else
    read -r got x < <(nstat_udp "$TMP/nstat.ns" ns in_netns "$ns")
    read -r seen x < <(nstat_udp "$TMP/nstat.host" host)    # received by the forwarder's socket
  fi
  kill "$sink" "$pid" 2>/dev/null || true
  wait "$sink" "$pid" 2>/dev/null || true
  remove_netns "$ns" 2>/dev/null || true
  kill "$NETNS_SLEEPER" 2>/dev/null || true
  wait "$NETNS_SLEEPER" 2>/dev/null || true
  local line
  line=$(awk -v d="$dir" -v i="$impl" -v rx="${got:-0}" -v n="${seen:-0}" -v c0="$c0" -v c1="$c1" \
    -v s="$SECS" -v l="$LEN" \
    'BEGIN { printf "%s %s %.2f %d %.2f", d, i, rx * l * 8 / s / 1e9, n, (n > 0 ? (c1 - c0) * 1e6 / n : 0) }')
  echo "$line" >>"$TMP/runs"
  log "$line"
}

: >"$TMP/runs"
for r in $(seq 1 "$ROUNDS"); do
  for d in $DIRS; do
    for i in "${IMPLS[@]}"; do
      one "$d" "$i" "$r"
    done
  done
done

python3 - "$TMP/runs" "$SECS" "$ROUNDS" "$MTU" <<'EOF'
import statistics, sys
runs, secs, rounds, mtu = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
by = {}
for line in open(runs):
    d, impl, gbps, n, us = line.split()
    by.setdefault(d, {}).setdefault(impl, []).append((float(gbps), int(n), float(us)))
title = {"out": "ns->host (the forwarder reads the tun)", "in": "host->ns (-u: the forwarder writes the tun)"}
what = {"out": "datagrams it sent to the host", "in": "datagrams its host socket got"}
for d in ("out", "in"):
    if d not in by:
        continue
    med = {i: [statistics.median(x[k] for x in v) for k in range(3)] for i, v in by[d].items()}
    ref = med.get("pasta")
    print(f"UDP {title[d]}, 64 KiB datagrams, MTU {mtu}, {secs} s x {rounds} rounds (medians)")
    print(f"| forwarder | received Gbit/s | {what[d]} | forwarder CPU per datagram, us |")
    print("|---|---:|---:|---:|")
    for i, (g, n, u) in med.items():
        ratio = f" ({g / ref[0]:.2f}x)" if ref and ref[0] > 0 and i != "pasta" else ""
        print(f"| {i} | {g:.2f}{ratio} | {n:.0f} | {u:.2f} |")
    print("per round: " + "; ".join(f"{i} " + " / ".join(f"{x[0]:.1f}" for x in v) for i, v in by[d].items()))
    print()
EOF
