#!/usr/bin/env bash
# Real traffic through pasta's tap (issue 4, item 6): 100 MiB transfers with
# socat, checked by SHA-256 on both ends (the sender hashes the file it
# sends, the receiver what came out of its socket), for every combination
# of
#   direction  namespace -> host (a namespace client to the host's lo alias
#              203.0.113.1 / 2001:db8:1::1, through the tap) and
#              host -> namespace (a host client from 203.0.113.1 /
#              2001:db8:1::1 to a -t port on 198.51.100.1 / 2001:db8::1:
#              pasta accepts it and opens the connection through the tap)
#   family     IPv4, IPv6
#   MTU        65520 (pasta's default) and 1500 (pasta -m 1500)
# Every transfer is bounded (TRAFFIC_BULK_TIMEOUT, default 60 s); the
# throughput and the TCP counters that moved on either side are logged.  TRAFFIC_BULK_MIB changes the size.
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need socat ss ip timeout sha256sum python3
. "$IT_TOOLS/tcp_traffic_lib.sh"

MIB=${TRAFFIC_BULK_MIB:-100}
LIMIT=${TRAFFIC_BULK_TIMEOUT:-60}
P_NS=7001     # -t port: the namespace's receiver
P_HOST=7002   # the host's receiver

head -c $((MIB * 1024 * 1024)) /dev/urandom >"$TMP/data"
WANT=$(sha256sum <"$TMP/data" | cut -d' ' -f1)

# transfer NAME WHERE_RX RX_LISTEN TX_CONNECT: one socat receiver (piped into
# sha256sum) listening on WHERE_RX (ns|host), one socat sender on the other
# side; both bounded; the receiver's hash must be the file's.
transfer() {
  local name=$1 where=$2 listen=$3 connect=$4 port t0 t1 rc=0 got
  local rx=(timeout -k 2 "$LIMIT") tx=(timeout -k 2 "$LIMIT")
  port=${listen#*LISTEN:}; port=${port%%,*}
  if [ "$where" = ns ]; then rx=(nsenter --net="$NETNS" "${rx[@]}"); else tx=(nsenter --net="$NETNS" "${tx[@]}"); fi
  rm -f "$TMP/rx.sha"
  { "${rx[@]}" socat -u "$listen" STDOUT 2>"$TMP/rx.err" | sha256sum >"$TMP/rx.sha"; } &
  local rxpid=$!
  wait_until 5 listening_on "$where" "$port" || fail "$name: receiver did not listen"
  snap "$TMP/c0"
  t0=$(now_ms)
  "${tx[@]}" socat -u "OPEN:$TMP/data" "$connect" 2>"$TMP/tx.err" || rc=$?
  wait_exit $((LIMIT + 5)) "$rxpid"
  t1=$(now_ms)
  snap "$TMP/c1"
  pasta_alive
  [ "$rc" = 0 ] || fail "$name: sender exited with status $rc: $(cat "$TMP/tx.err")"
  [ "$WAIT_RC" = 0 ] || fail "$name: receiver status $WAIT_RC: $(cat "$TMP/rx.err")"
  got=$(cut -d' ' -f1 <"$TMP/rx.sha")
  [ "$got" = "$WANT" ] || fail "$name: $MIB MiB arrived with SHA-256 $got, sent $WANT"
  ok "$name: $MIB MiB intact in $((t1 - t0)) ms ($(( MIB * 8 * 1024 * 1024 / ( (t1 - t0 + 1) * 1000 ) )) Mbit/s); counters moved: $(deltas "$TMP/c0" "$TMP/c1")"
}

for mtu in 65520 1500; do
  start_pasta -t $P_NS -m $mtu
  [ "$(in_ns ip -o link show up0 | grep -o "mtu [0-9]*")" = "mtu $mtu" ] || fail "namespace tap MTU is not $mtu"
  transfer "ns->host IPv4 MTU $mtu" host "TCP4-LISTEN:$P_HOST,bind=$HOST4,reuseaddr" "TCP4:$HOST4:$P_HOST"
  transfer "ns->host IPv6 MTU $mtu" host "TCP6-LISTEN:$P_HOST,bind=[$HOST6],reuseaddr" "TCP6:[$HOST6]:$P_HOST"
  transfer "host->ns IPv4 MTU $mtu" ns "TCP6-LISTEN:$P_NS,ipv6only=0,reuseaddr" "TCP4:$NS4:$P_NS,bind=$HOST4"
  transfer "host->ns IPv6 MTU $mtu" ns "TCP6-LISTEN:$P_NS,ipv6only=0,reuseaddr" "TCP6:[$NS6]:$P_NS,bind=[$HOST6]"
  stop_pasta
done
log "PASS"
