#!/usr/bin/env bash
# nb_relay (ci/bench/relay/nb_relay.cpp), netbench.sh's "relay" reference
# column: it must carry what the benchmark sends, intact, or its figures
# mean nothing.  A test-made namespace plays netbench's; checked transfers
# (tools/xfer.py: SHA-256 both ways) through the relay:
#   tcp-out  a client on the namespace's 127.0.0.1 to a server on the
#            outer namespace's 127.0.0.1: 2 KiB and 10 MiB each way, and 50
#            1-byte exchanges one after the other (as the connection-rate
#            test);
#   tcp-in   the other way round;
#   udp-out  datagrams of 1 byte, 1400 bytes and 65000 bytes, each answered
#            (the reply goes back to the sender).
# Skipped when the build has no nb_relay (PASST_BENCH off).
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
need python3 ip timeout

RELAY=$BUILD/nb_relay
[ -x "$RELAY" ] || skip "no $RELAY (built with the micro-benchmarks)"
XFER=$IT_DIR/tools/xfer.py
P_OUT=10101 P_IN=10102 P_UDP=10103

new_netns bench
in_netns "$NETNS" ip link set lo up

python3 "$XFER" tcp-serve 127.0.0.1 "$P_OUT" >"$TMP/serve-out.log" 2>&1 &
python3 "$XFER" udp-serve 127.0.0.1 "$P_UDP" >"$TMP/serve-udp.log" 2>&1 &
in_netns "$NETNS" python3 "$XFER" tcp-serve 127.0.0.1 "$P_IN" >"$TMP/serve-in.log" 2>&1 &
wait_until 10 grep -q bound "$TMP/serve-out.log" || fail "host TCP server did not start"
wait_until 10 grep -q bound "$TMP/serve-udp.log" || fail "host UDP server did not start"
wait_until 10 grep -q bound "$TMP/serve-in.log" || fail "namespace TCP server did not start"

"$RELAY" "$NETNS" tcp-out="$P_OUT" tcp-in="$P_IN" udp-out="$P_UDP" >"$TMP/relay.log" 2>&1 &
RELAY_PID=$!
wait_until 10 grep -q ready "$TMP/relay.log" || fail "nb_relay did not start: $(cat "$TMP/relay.log")"

{
  for sz in 2048 10485760; do
    printf 'out-%s\ttcp\t127.0.0.1\t%s\t%s\t127.0.0.1\t%s\t-\tok\n' "$sz" "$P_OUT" "$sz" "$P_OUT"
  done
  for n in $(seq 1 50); do
    printf 'out-short-%s\ttcp\t127.0.0.1\t%s\t1\t127.0.0.1\t%s\t-\tok\n' "$n" "$P_OUT" "$P_OUT"
  done
  for sz in 1 1400 65000; do
    printf 'udp-%s\tudp\t127.0.0.1\t%s\t%s\t127.0.0.1\t%s\t-\tok\n' "$sz" "$P_UDP" "$sz" "$P_UDP"
  done
} >"$TMP/batch-ns"
printf 'in-%s\ttcp\t127.0.0.1\t%s\t%s\t127.0.0.1\t%s\t-\tok\n' 10485760 "$P_IN" 10485760 "$P_IN" \
  2048 "$P_IN" 2048 "$P_IN" >"$TMP/batch-host"

in_netns "$NETNS" timeout 120 python3 "$XFER" batch --timeout 20 <"$TMP/batch-ns" >"$TMP/out-ns.log" 2>&1 ||
  fail "through nb_relay from the namespace: $(grep -v '^ok' "$TMP/out-ns.log" | head -5)"
timeout 60 python3 "$XFER" batch --timeout 20 <"$TMP/batch-host" >"$TMP/out-host.log" 2>&1 ||
  fail "through nb_relay into the namespace: $(grep -v '^ok' "$TMP/out-host.log" | head -5)"
n=$(grep -c '^ok' "$TMP/out-ns.log" "$TMP/out-host.log" | awk -F: '{ s += $2 } END { print s }')
[ "$n" = 57 ] || fail "expected 57 checked transfers, got $n"
kill -0 "$RELAY_PID" 2>/dev/null || fail "nb_relay exited"
log "PASS: 57 checked transfers through nb_relay (TCP both ways, UDP)"
