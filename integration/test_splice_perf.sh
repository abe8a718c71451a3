#!/usr/bin/env bash
# Rough throughput of pasta's spliced TCP path: iperf3 from the outer
# namespace's loopback to a server in pasta's namespace through -t, for the
# binary under test and, in the same run, Debian's pasta (/usr/bin/pasta)
# when installed; also plain loopback (no pasta) and our tap path
# (--no-splice) for scale.  The runs are interleaved, round after round,
# and the medians compared, so that a change in the machine's load hits
# every configuration alike.  Logs Gbit/s and the ratios; fails only if a
# transfer does not work at all.  Skipped for a Debug build unless
# SPLICE_PERF=1 (build/release is the one to measure).
#
#   integration/test_splice_perf.sh build/release   # SPLICE_PERF_SECS=2 SPLICE_PERF_ROUNDS=3
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need iperf3 python3 timeout
if grep -q '^CMAKE_BUILD_TYPE:STRING=Debug' "$BUILD/CMakeCache.txt" 2>/dev/null && [ "${SPLICE_PERF:-0}" != 1 ]; then
  skip "a Debug build says nothing about throughput (SPLICE_PERF=1 runs it anyway)"
fi

SECS=${SPLICE_PERF_SECS:-2}
ROUNDS=${SPLICE_PERF_ROUNDS:-3}
DEBIAN=0
if [ -x /usr/bin/pasta ] && [ "$(readlink -f "$PASTA_BIN")" != "$(readlink -f /usr/bin/pasta)" ]; then
  DEBIAN=1
fi

# setup NAME PASTA [ARGS...]: pasta on a new namespace with -t on a port of
# its own and an iperf3 server in it.  PASTA "-" means no pasta: a server
# on the outer namespace's loopback (the baseline).
declare -A SRV_PORT
NEXT_PORT=5201
setup() {
  local name=$1 bin=$2 port=$NEXT_PORT; shift 2
  NEXT_PORT=$((NEXT_PORT + 1))
  SRV_PORT[$name]=$port
  if [ "$bin" = - ]; then
    iperf3 -s -p "$port" >"$TMP/$name.srv.log" 2>&1 &
    wait_until 10 sh -c "ss -Htln | grep -q ':$port '" || fail "$name: iperf3 server did not start"
    return
  fi
  new_netns "$name"
  "$bin" --config-net -P "$TMP/$name.pid" -t "$port" "$@" --netns "$NETNS" >"$TMP/$name.log" 2>&1 ||
    fail "$name: $bin failed to start"
  in_netns "$NETNS" iperf3 -s -p "$port" >"$TMP/$name.srv.log" 2>&1 &
  wait_until 10 sh -c "nsenter --net='$NETNS' ss -Htln | grep -q ':$port '" ||
    fail "$name: iperf3 server did not start"
}

# run NAME HOST: one iperf3 client run; appends Gbit/s to $TMP/NAME.HOST.
run() {
  local name=$1 host=$2 port=${SRV_PORT[$1]} out=$TMP/$1.$2.json
  timeout $((SECS + 30)) iperf3 -c "$host" -p "$port" -t "$SECS" -J >"$out" 2>&1 ||
    fail "$name: iperf3 -c $host failed: $(head -c 300 "$out")"
  python3 -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' \
    "$out" >>"$TMP/$name.$host"
}

median() { sort -n "$TMP/$1" | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

setup direct -
setup ours "$PASTA_BIN"
[ "$REFERENCE" = 1 ] || setup tap "$PASTA_BIN" --no-splice
[ $DEBIAN = 0 ] || setup deb /usr/bin/pasta
for r in $(seq 1 "$ROUNDS"); do
  run direct 127.0.0.1
  for h in 127.0.0.1 ::1; do
    run ours $h
    [ $DEBIAN = 0 ] || run deb $h
  done
  [ "$REFERENCE" = 1 ] || run tap 127.0.0.1
done

log "medians of $ROUNDS interleaved ${SECS}s runs, Gbit/s:"
log "  plain loopback, no pasta:          $(median direct.127.0.0.1)"
log "  ours, spliced:                     127.0.0.1 $(median ours.127.0.0.1), ::1 $(median ours.::1)" \
    "(runs: $(tr '\n' ' ' <"$TMP/ours.127.0.0.1"))"
[ "$REFERENCE" = 1 ] || log "  ours, --no-splice (tap path):      127.0.0.1 $(median tap.127.0.0.1)"
if [ $DEBIAN = 1 ]; then
  log "  Debian's /usr/bin/pasta, spliced:  127.0.0.1 $(median deb.127.0.0.1), ::1 $(median deb.::1)" \
      "(runs: $(tr '\n' ' ' <"$TMP/deb.127.0.0.1"))"
  log "ratio ours/Debian: IPv4 $(python3 -c "print('%.2f' % ($(median ours.127.0.0.1) / max($(median deb.127.0.0.1), 0.001)))")," \
      "IPv6 $(python3 -c "print('%.2f' % ($(median ours.::1) / max($(median deb.::1), 0.001)))")"
else
  log "Debian's pasta not installed (apt-get install passt): no comparison"
fi
for n in ours tap deb; do [ -f "$TMP/$n.pid" ] && stop_pidfile "$TMP/$n.pid"; done
log "PASS"
