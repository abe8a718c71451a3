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
#            (the reply goes back to the sender);
#   tun-udp-out  (a second nb_relay, its tun configured as udp_tun_bound.sh
#            does) datagrams of 1, 1400 and 65000 bytes from the namespace
#            to a host address arrive whole (SHA-256), in order;
#   tun-udp-in   (a third) the same datagrams sent to the relay's port on
#            the host arrive whole in the namespace, in order.
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

# tun-udp-out: one-way, so the receiver records what it got.
new_netns tun
"$RELAY" "$NETNS" tun-udp-out >"$TMP/relay-tun.log" 2>&1 &
wait_until 10 grep -q ready "$TMP/relay-tun.log" || fail "nb_relay tun-udp-out did not start: $(cat "$TMP/relay-tun.log")"
in_netns "$NETNS" sh -c "ip link set lo up && ip addr add 198.51.100.1/24 dev nbtun0 &&
  ip link set nbtun0 mtu 65520 up && ip route add default dev nbtun0" || fail "configuring nbtun0"
cat >"$TMP/udp.py" <<'EOF'
import hashlib, socket, sys
sizes = [1, 1400, 65000]
def payload(n):
    return bytes((i * 7 + n) & 0xff for i in range(n))
if sys.argv[1] == "recv":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[2], 10104))
    print("bound", flush=True)
    s.settimeout(10)
    for _ in sizes:
        print(hashlib.sha256(s.recv(65535)).hexdigest(), flush=True)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for n in sizes:
        s.sendto(payload(n), (sys.argv[2], 10104))
    for n in sizes:
        print(hashlib.sha256(payload(n)).hexdigest())
EOF
python3 "$TMP/udp.py" recv 203.0.113.1 >"$TMP/tun-got" 2>&1 &
TUN_RX=$!
wait_until 10 grep -q bound "$TMP/tun-got" || fail "tun receiver did not start"
in_netns "$NETNS" python3 "$TMP/udp.py" send 203.0.113.1 >"$TMP/tun-sent" || fail "tun sender failed"
wait "$TUN_RX" || fail "tun receiver: $(cat "$TMP/tun-got")"
diff <(grep -v bound "$TMP/tun-got") "$TMP/tun-sent" >/dev/null ||
  fail "out of nb_relay's tun: got $(grep -vc bound "$TMP/tun-got") datagrams, not the 3 sent, or different bytes"

# tun-udp-in: the relay listens on port 10104 of the outer namespace and
# writes into its tun, towards 198.51.100.1 in the namespace.
new_netns tunin
"$RELAY" "$NETNS" tun-udp-in=10104 >"$TMP/relay-tunin.log" 2>&1 &
wait_until 10 grep -q ready "$TMP/relay-tunin.log" ||
  fail "nb_relay tun-udp-in did not start: $(cat "$TMP/relay-tunin.log")"
in_netns "$NETNS" sh -c "ip link set lo up && ip addr add 198.51.100.1/24 dev nbtun0 &&
  ip link set nbtun0 mtu 65520 up && ip route add default dev nbtun0" || fail "configuring nbtun0"
in_netns "$NETNS" python3 "$TMP/udp.py" recv 198.51.100.1 >"$TMP/tunin-got" 2>&1 &
TUN_RX=$!
wait_until 10 grep -q bound "$TMP/tunin-got" || fail "namespace receiver did not start"
python3 "$TMP/udp.py" send 198.51.100.1 >"$TMP/tunin-sent" || fail "host sender failed"
wait "$TUN_RX" || fail "namespace receiver: $(cat "$TMP/tunin-got")"
diff <(grep -v bound "$TMP/tunin-got") "$TMP/tunin-sent" >/dev/null ||
  fail "into nb_relay's tun: got $(grep -vc bound "$TMP/tunin-got") datagrams, not the 3 sent, or different bytes"
log "PASS: 57 checked transfers through nb_relay (TCP both ways, UDP), 3 datagrams each way through its tun"
