#!/usr/bin/env bash
# Real traffic through pasta's tap (issue 4, item 6): 200 connections open
# at once, in each direction (see tools/tcp_traffic_lib.sh for the paths):
#   namespace -> host: 200 clients in the namespace, alternately to the
#                      host's 203.0.113.1 and 2001:db8:1::1
#   host -> namespace: 200 clients on the host (from 203.0.113.1 /
#                      2001:db8:1::1) to a -t port on 198.51.100.1 /
#                      2001:db8::1, served in the namespace
# tools/tcp_traffic.py `many`: every connection is established before any
# carries data; each then carries 2 KiB-400 KiB each way (sizes seeded),
# every byte compared with the expected stream on both ends.  Afterwards no
# connection on the test ports may stay open (established, or half-closed
# waiting for a FIN) on either side beyond 10 s: pasta must have relayed
# every close.  At MTU 65520, then again at MTU 1500.  Namespace -> host
# must also be free of retransmission timeouts in the namespace (the tap
# queue is shared by the sending connections: docs/tcp.md).
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need ss ip timeout python3
. "$IT_TOOLS/tcp_traffic_lib.sh"

N=${TRAFFIC_MANY_N:-200}
P_NS=7101     # -t port: the namespace's server
P_HOST=7102   # the host's servers

# open_conns WHERE PORT: connections on PORT (either end) that are neither
# closed nor in TIME-WAIT.
open_conns() {
  local q=(ss -Htan exclude listening exclude time-wait "( sport = :$2 or dport = :$2 )") out
  if [ "$1" = ns ]; then out=$(in_ns "${q[@]}"); else out=$("${q[@]}"); fi || { echo "ss-failed"; return 0; }
  printf '%s' "$out" | grep -c . || true
}
all_closed() { [ "$(open_conns ns "$1")" = 0 ] && [ "$(open_conns host "$1")" = 0 ]; }

# many NAME WHERE_CLIENT HOSTS PORT SERVERLOG SEED
many() {
  local name=$1 where=$2 hosts=$3 port=$4 srvlog=$5 seed=$6 got t0 t1 d0 d1 in=()
  [ "$where" = ns ] && in=(nsenter --net="$NETNS")
  : >"$srvlog"
  snap "$TMP/c0"
  d0=$(tap_drops)
  t0=$(now_ms)
  got=$(timeout -k 2 200 "${in[@]}" python3 "$TRAFFIC_PY" many "$hosts" "$port" "$N" 2048 409600 "$seed" 2>&1) || true
  t1=$(now_ms)
  snap "$TMP/c1"
  d1=$(tap_drops)
  pasta_alive
  case $got in
  "ok $N connections"*) ;;
  *) fail "$name: $N connections: $got" ;;
  esac
  wait_until 10 sh -c "[ \$(grep -c . '$srvlog') -ge $N ]" ||
    fail "$name: the server logged $(grep -c . "$srvlog") connections of $N"
  if grep -v ' ok$' "$srvlog" | head -n 5 >&2; grep -qv ' ok$' "$srvlog"; then
    fail "$name: the server saw bad data (above)"
  fi
  if ! wait_until 10 all_closed "$port"; then
    in_ns ss -tan exclude listening exclude time-wait "( sport = :$port or dport = :$port )" | head -n 10 >&2
    ss -tan exclude listening exclude time-wait "( sport = :$port or dport = :$port )" | head -n 10 >&2
    fail "$name: connections still open 10 s after the transfers (namespace: $(open_conns ns "$port"), host: $(open_conns host "$port"); above)"
  fi
  local line to
  line="${got#ok $N connections, }; $((t1 - t0)) ms; tap TX drops +$((d1 - d0)); counters moved: $(deltas "$TMP/c0" "$TMP/c1")"
  ok "$name: $N simultaneous connections both ways intact, all closed: $line"
  # Namespace -> host must not stall either: no retransmission timeout in
  # the namespace (the regression guard below).

  to=$(grep -o 'ns:TcpExtTCPTimeouts+[0-9]*' <<<"$line" || true)
  if [ "$where" = ns ] && [ -n "$to" ]; then
    STALLS="$STALLS
  $name: ${to#ns:} ($line)"
  fi
}

# Regression guard: before the tap queue was shared by the connections
# sending from the namespace (each window capped at queue / senders), 200
# flows overflowed the tap's TX queue at MTU 1500 (1,300-2,300 drops) and
# the namespace's TCP fell into retransmission timeouts (37-204 per run, the
# slowest connection taking up to 117 s instead of 1-2 s).
STALLS=""

seed=1000
for mtu in 65520 1500; do
  start_pasta -t $P_NS -m $mtu
  traffic_server ns :: $P_NS "$TMP/ns.srv"
  NS_SRV=$!
  traffic_server host :: $P_HOST "$TMP/host.srv"
  HOST_SRV=$!
  many "ns->host MTU $mtu" ns "$HOST4,$HOST6" $P_HOST "$TMP/host.srv" $seed
  seed=$((seed + N))
  many "host->ns MTU $mtu" host "$NS4=$HOST4,$NS6=$HOST6" $P_NS "$TMP/ns.srv" $seed
  seed=$((seed + N))
  kill "$NS_SRV" "$HOST_SRV" 2>/dev/null || true
  stop_pasta
done
[ -z "$STALLS" ] || fail "stalls (retransmission timeouts in the namespace):$STALLS"
log "PASS"
