#!/usr/bin/env bash
# How fast can anything forward UDP from a namespace's tap?  The netbench
# row "UDP ns->host" floods 64 KiB datagrams from the namespace to a host
# address; a translator reads each from its tun/tap fd and sends it from a
# host socket.  This script puts three forwarders on that path, one at a
# time, in test-made namespaces:
#   ours      our pasta (BUILD_DIR/pasta)
#   pasta     Debian's (/usr/bin/pasta), when installed
#   tunrelay  BUILD_DIR/nb_relay tun-udp-out: a tun device and a loop of
#             read() + send(), nothing else (ci/bench/relay/nb_relay.cpp):
#             the floor for any translator that reads a tun fd
# and reports, per forwarder (medians over the rounds): the rate the host's
# receiver got, the datagrams the forwarder sent to it, and the
# forwarder's CPU per datagram sent (user + system, /proc/PID/stat).  The
# flood is socat reading /dev/zero in 65492-byte blocks (a datagram each)
# for SECS seconds; the receiver socat writes to /dev/null; the counts are
# the host namespace's UdpInDatagrams / UdpOutDatagrams (nstat).
#
#   ci/bench/udp_tun_bound.sh [--secs S] [--rounds N] [--mtu M]
#                             [--also LABEL=PATH]... [BUILD_DIR]
#
# --also runs one more pasta binary in its own row (an A/B of a change).
# Defaults: 3 s, 3 rounds (interleaved), MTU 65520, build/release.
# Network safety: integration/lib/common.sh's outer namespace, documentation
# addresses only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECS=3 ROUNDS=3 MTU=65520 BUILD_ARG='' ALSO=()
ORIG_ARGS=("$@")
while [ $# -gt 0 ]; do
  case $1 in
  --secs) SECS=$2; shift 2 ;;
  --rounds) ROUNDS=$2; shift 2 ;;
  --mtu) MTU=$2; shift 2 ;;
  --also) ALSO+=("$2"); shift 2 ;;
  -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
  -*) echo "udp_tun_bound: unknown option $1" >&2; exit 2 ;;
  *) BUILD_ARG=$1; shift ;;
  esac
done
if [ "$SECS" -lt 1 ] || [ "$SECS" -gt 30 ]; then echo "udp_tun_bound: --secs 1..30" >&2; exit 2; fi
if [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 10 ]; then echo "udp_tun_bound: --rounds 1..10" >&2; exit 2; fi
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
[ -n "${NB_DEBUG:-}" ] && set -x

PORT=5210 DST=203.0.113.1 LEN=65492
IMPLS=(ours tunrelay)
[ -x /usr/bin/pasta ] && IMPLS=(ours pasta tunrelay)
declare -A BIN=([ours]=$BUILD_DIR/pasta [pasta]=/usr/bin/pasta)
for a in "${ALSO[@]}"; do
  BIN[${a%%=*}]=${a#*=}
  IMPLS+=("${a%%=*}")
done
cpu_s() { awk '{ printf "%.2f\n", ($14 + $15) / 100 }' "/proc/$1/stat"; }
# Counters since the last `nstat -n`, in one call (each call moves the mark).
nstat_udp() {
  nstat -z 2>/dev/null | awk '$1 == "UdpInDatagrams" { i = $2 } $1 == "UdpOutDatagrams" { o = $2 }
    END { print i + 0, o + 0 }'
}

# one IMPL ROUND: appends "IMPL recv_gbps sent_dgrams us_per_dgram" to $TMP/runs
one() {
  local impl=$1 pid c0 c1 rx tx
  new_netns "$impl-$2"
  if [ "$impl" = tunrelay ]; then
    "$BUILD_DIR/nb_relay" "$NETNS" tun-udp-out >"$TMP/$impl.log" 2>&1 &
    pid=$!
    wait_until 10 grep -q ready "$TMP/$impl.log" || fail "nb_relay did not start: $(cat "$TMP/$impl.log")"
    in_netns "$NETNS" sh -c "ip link set lo up && ip addr add 198.51.100.1/24 dev nbtun0 &&
      ip link set nbtun0 mtu $MTU up && ip route add default dev nbtun0"
  else
    "${BIN[$impl]}" -f -q --config-net -t none -u none -T none -U none --netns "$NETNS" -m "$MTU" \
      >"$TMP/$impl.log" 2>&1 &
    pid=$!
    wait_until 10 sh -c "nsenter --net='$NETNS' ip route show default | grep -q ." ||
      fail "$impl: no default route in the namespace"
  fi
  socat -u -b 65536 "UDP4-RECV:$PORT,bind=$DST" OPEN:/dev/null &
  local sink=$!
  sleep 0.3
  nstat -n >/dev/null
  c0=$(cpu_s "$pid")
  in_netns "$NETNS" timeout "$SECS" socat -u -b "$LEN" /dev/zero "UDP4-SENDTO:$DST:$PORT" || true
  sleep 0.3
  c1=$(cpu_s "$pid")
  read -r rx tx < <(nstat_udp)
  kill "$sink" "$pid" 2>/dev/null || true
  wait "$sink" "$pid" 2>/dev/null || true
  remove_netns "$NETNS" 2>/dev/null || true
  kill "$NETNS_SLEEPER" 2>/dev/null || true
  wait "$NETNS_SLEEPER" 2>/dev/null || true
  local line
  line=$(awk -v i="$impl" -v rx="${rx:-0}" -v tx="${tx:-0}" -v c0="$c0" -v c1="$c1" -v s="$SECS" \
    -v l="$LEN" 'BEGIN { printf "%s %.2f %d %.2f", i, rx * l * 8 / s / 1e9, tx, (tx > 0 ? (c1 - c0) * 1e6 / tx : 0) }')
  echo "$line" >>"$TMP/runs"
  log "$line"
}

: >"$TMP/runs"
for r in $(seq 1 "$ROUNDS"); do
  for i in "${IMPLS[@]}"; do
    one "$i" "$r"
  done
done

python3 - "$TMP/runs" "$SECS" "$ROUNDS" "$MTU" <<'EOF'
import statistics, sys
runs, secs, rounds, mtu = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
by = {}
for line in open(runs):
    impl, gbps, sent, us = line.split()
    by.setdefault(impl, []).append((float(gbps), int(sent), float(us)))
med = {i: [statistics.median(x[k] for x in v) for k in range(3)] for i, v in by.items()}
ref = med.get("pasta")
print(f"UDP ns->host through the tap, 64 KiB datagrams, MTU {mtu}, {secs} s x {rounds} rounds (medians)")
print("| forwarder | received Gbit/s | datagrams sent to the host | forwarder CPU per datagram, us |")
print("|---|---:|---:|---:|")
for i in med:
    g, n, u = med[i]
    ratio = f" ({g / ref[0]:.2f}x)" if ref and ref[0] > 0 and i != "pasta" else ""
    print(f"| {i} | {g:.2f}{ratio} | {n:.0f} | {u:.2f} |")
print("per round: " + "; ".join(f"{i} " + " / ".join(f"{x[0]:.1f}" for x in v) for i, v in by.items()))
EOF
