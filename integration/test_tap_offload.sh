#!/usr/bin/env bash
# pasta's tap with a virtio-net header (issue 7, docs/linux-adapters.md
# "TapFd"): checksum offload both ways and TSO from the namespace.
#   * ethtool -k on the namespace's tap shows tx-checksumming and TCP
#     segmentation offload on (our binary only: Debian's and upstream's pasta
#     open the tap without IFF_VNET_HDR);
#   * TCP moves data intact both ways (SHA-256 on both ends), IPv4 and IPv6,
#     at MTU 65520 and 1500: frames to the namespace carry partial checksums
#     its kernel accepts, frames from it carry partial checksums we do not
#     check, and at MTU 1500 its TCP segments exceed the MTU (TSO) -- seen
#     on the tap's TX counters as an average frame larger than the MTU;
#   * IPv6 UDP (whose checksum is mandatory, so it is offloaded) and IPv4
#     UDP echo datagrams of several sizes intact both ways;
#   * at MTU 1500 our TCP frames to the namespace are GSO frames of many
#     MSS (its RX counters: an average frame larger than the MTU).
# TAP_OFFLOAD_MIB sets the TCP transfer size (default 16).
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need socat ss ip timeout sha256sum python3
. "$IT_TOOLS/tcp_traffic_lib.sh"

MIB=${TAP_OFFLOAD_MIB:-16}
LIMIT=60
P_NS=7101
P_HOST=7102
P_UDP=7103

head -c $((MIB * 1024 * 1024)) /dev/urandom >"$TMP/data"
WANT=$(sha256sum <"$TMP/data" | cut -d' ' -f1)

transfer() {
  local name=$1 where=$2 listen=$3 connect=$4 port rc=0 got
  local rx=(timeout -k 2 "$LIMIT") tx=(timeout -k 2 "$LIMIT")
  port=${listen#*LISTEN:}; port=${port%%,*}
  if [ "$where" = ns ]; then rx=(nsenter --net="$NETNS" "${rx[@]}"); else tx=(nsenter --net="$NETNS" "${tx[@]}"); fi
  rm -f "$TMP/rx.sha"
  { "${rx[@]}" socat -u "$listen" STDOUT 2>"$TMP/rx.err" | sha256sum >"$TMP/rx.sha"; } &
  local rxpid=$!
  wait_until 5 listening_on "$where" "$port" || fail "$name: receiver did not listen"
  "${tx[@]}" socat -u "OPEN:$TMP/data" "$connect" 2>"$TMP/tx.err" || rc=$?
  wait_exit $((LIMIT + 5)) "$rxpid"
  pasta_alive
  [ "$rc" = 0 ] || fail "$name: sender exited with status $rc: $(cat "$TMP/tx.err")"
  [ "$WAIT_RC" = 0 ] || fail "$name: receiver status $WAIT_RC: $(cat "$TMP/rx.err")"
  got=$(cut -d' ' -f1 <"$TMP/rx.sha")
  [ "$got" = "$WANT" ] || fail "$name: $MIB MiB arrived with SHA-256 $got, sent $WANT"
  ok "$name: $MIB MiB intact"
}

# tap_tx / tap_rx PACKETS|BYTES: the namespace tap's transmit (towards
# pasta) and receive counters.
tap_tx() { in_ns cat "/proc/net/dev" | awk -v f="$1" '$1 == "up0:" { print (f == "BYTES" ? $10 : $11) }'; }
tap_rx() { in_ns cat "/proc/net/dev" | awk -v f="$1" '$1 == "up0:" { print (f == "BYTES" ? $2 : $3) }'; }

# udp_echo NAME BIND CONNECT MAX: a host echo server on BIND:P_UDP, a
# namespace client sending datagrams of several sizes up to MAX bytes (no IP
# fragments: pasta, like upstream, drops them) and checking each echo.
udp_echo() {
  local name=$1 bind=$2 connect=$3 max=$4
  timeout -k 2 30 python3 - "$bind" "$P_UDP" <<'EOF' &
import socket, sys
a = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ':' in a else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((a, int(sys.argv[2])))
s.settimeout(20)
while True:
    d, p = s.recvfrom(65535)
    if d == b'end':
        break
    s.sendto(d, p)
EOF
  local srv=$!
  wait_until 5 sh -c "ss -Huln 'sport = :$P_UDP' | grep -q ." || fail "$name: UDP server did not start"
  in_ns timeout -k 2 30 python3 - "$connect" "$P_UDP" "$max" <<'EOF' || fail "$name: UDP echo failed"
import hashlib, socket, sys
a = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ':' in a else socket.AF_INET, socket.SOCK_DGRAM)
s.connect((a, int(sys.argv[2])))
s.settimeout(2)
ok = 0
sizes = [n for n in [1, 7, 100, 1000, 1400, 1452, 4000, 30000, 65000] if n <= int(sys.argv[3])]
for i, n in enumerate(sizes * 5):
    d = hashlib.sha256(str(i).encode()).digest() * (n // 32 + 1)
    d = d[:n]
    for attempt in range(5):
        s.send(d)
        try:
            r = s.recv(65535)
        except socket.timeout:
            continue
        if r != d:
            sys.exit("datagram %d: %d bytes came back altered" % (i, len(r)))
        ok += 1
        break
    else:
        sys.exit("datagram %d (%d bytes): no echo" % (i, n))
s.send(b'end')
print(ok)
EOF
  wait_exit 10 "$srv"
  ok "$name: datagrams of 1-$max bytes echoed intact"
}

for mtu in 65520 1500; do
  start_pasta -t $P_NS -m $mtu
  if command -v ethtool >/dev/null && upstream_only "no virtio-net header on the tap"; then
    feat=$(in_ns ethtool -k up0)
    for f in tx-checksumming tcp-segmentation-offload; do
      echo "$feat" | grep -q "^$f: on" || fail "MTU $mtu: ethtool -k up0 shows $(echo "$feat" | grep "^$f:")"
    done
    ok "MTU $mtu: ethtool -k up0: tx-checksumming and TSO on"
  fi
  b0=$(tap_tx BYTES); p0=$(tap_tx PACKETS)
  transfer "ns->host IPv4 MTU $mtu" host "TCP4-LISTEN:$P_HOST,bind=$HOST4,reuseaddr" "TCP4:$HOST4:$P_HOST"
  b1=$(tap_tx BYTES); p1=$(tap_tx PACKETS)
  if [ "$mtu" = 1500 ] && upstream_only "no TSO without a virtio-net header"; then
    avg=$(( (b1 - b0) / (p1 - p0 + 1) ))
    [ "$avg" -gt 1514 ] || fail "MTU 1500: the namespace's frames average $avg bytes: no TSO"
    ok "MTU 1500: the namespace's frames average $avg bytes (TSO)"
  fi
  transfer "ns->host IPv6 MTU $mtu" host "TCP6-LISTEN:$P_HOST,bind=[$HOST6],reuseaddr" "TCP6:[$HOST6]:$P_HOST"
  b0=$(tap_rx BYTES); p0=$(tap_rx PACKETS)
  transfer "host->ns IPv4 MTU $mtu" ns "TCP6-LISTEN:$P_NS,ipv6only=0,reuseaddr" "TCP4:$NS4:$P_NS,bind=$HOST4"
  b1=$(tap_rx BYTES); p1=$(tap_rx PACKETS)
  if [ "$mtu" = 1500 ] && upstream_only "no GSO frames without a virtio-net header"; then
    avg=$(( (b1 - b0) / (p1 - p0 + 1) ))
    [ "$avg" -gt 1514 ] || fail "MTU 1500: our frames to the namespace average $avg bytes: no GSO"
    ok "MTU 1500: our frames to the namespace average $avg bytes (GSO)"
  fi
  transfer "host->ns IPv6 MTU $mtu" ns "TCP6-LISTEN:$P_NS,ipv6only=0,reuseaddr" "TCP6:[$NS6]:$P_NS,bind=[$HOST6]"
  # The namespace's kernel dropped nothing for a bad checksum.
  for c in TcpInCsumErrors Udp6InCsumErrors UdpInCsumErrors; do
    v=$(ns_counter "$c")
    [ "$v" = 0 ] || fail "MTU $mtu: namespace counter $c = $v"
  done
  stop_pasta
done

# UDP: pasta forwards the namespace's datagrams to the host and the replies
# back (the flow's reply path), IPv6 offloaded, IPv4 without checksum.
for mtu in 65520 1500; do
  start_pasta -m $mtu
  udp_echo "UDP IPv6 MTU $mtu" "$HOST6" "$HOST6" $((mtu - 48))
  udp_echo "UDP IPv4 MTU $mtu" "$HOST4" "$HOST4" $((mtu - 28))
  for c in Udp6InCsumErrors UdpInCsumErrors; do
    v=$(ns_counter "$c")
    [ "$v" = 0 ] || fail "MTU $mtu: namespace counter $c = $v"
  done
  stop_pasta
done
log "PASS"
