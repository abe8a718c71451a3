#!/usr/bin/env bash
# Integration matrix, UDP (issue 5, Deliver 7): every form of -u, IPv4 and
# IPv6, on both paths, then -U and automatic forwarding.
#
# One pasta --config-net (daemon, --netns FILE); xfer.py echo servers in
# the namespace answer each datagram from the socket it came to with its
# SHA-256, the peer they saw, the port they were reached on, and the
# datagram itself; the client checks it all (tools/xfer.py).
#
#   single port            -u 24001
#   range                  -u 24010-24012           (first and last port)
#   translated port        -u 24020:25020
#   translated range       -u 24030-24032:25030-25032
#   address-bound          -u 198.51.100.1/24040, -u 2001:db8::1/24041,
#                          -u 198.51.100.1/24060-24061:25060-25061,
#                          -u 127.0.0.1/24140, -u [::1]/24141
#   interface-bound        -u %up0/24050, -u %up0/24070:25070, -u %lo/24150
#
# Paths: tap = a remote peer in the dead end (198.51.100.77 /
# 2001:db8::77) sending through up0 to the host's uplink address (the
# namespace must see that peer's address: sources are preserved);
# loopback = a peer on the host's 127.0.0.1 / ::1 (pasta moves the datagram
# socket to socket, no frame: the namespace sees its own address
# 198.51.100.1 / 2001:db8::1 as the source).  Each row: a 2 KiB datagram
# and a 32 KiB one (one tap frame at MTU 65520; IP fragments on the dead
# end's veth).  The bound forms are checked not to answer elsewhere.
#
# -U (the namespace's loopback to the host's): -U 24201, -U 24210-24211,
# -U 24220:25220, -U 24230-24231:25230-25231 to echo servers on the host's
# 127.0.0.1 / ::1, which see the client's loopback address.
#
# auto: -u auto forwards a UDP port bound in the namespace after start-up
# within about a second (upstream rescans every second) and stops when it
# is closed; -U auto the same for a port bound on the host.
#
# Until the UDP handler is in the source tree (src/proto/udp.cpp), -u is
# parsed but binds nothing: then the test skips (77).
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need python3 ip timeout
. "$IT_TOOLS/matrix_lib.sh"

K32=32768
far_peer_setup
B6="[::1]"
upstream_only "Debian's 2023 pasta has no [ADDR]/ form" || B6=::1
IFS_SPECS=(-u %up0/24050 -u %up0/24070:25070 -u %lo/24150)
[ $IFB = 1 ] || { IFS_SPECS=(); upstream_only "no %IF/ specs in Debian's 2023 pasta" || true; }
mx_pasta -u 24001 -u 24010-24012 -u 24020:25020 -u 24030-24032:25030-25032 \
  -u "$HOST4/24040" -u "$HOST6/24041" -u "$HOST4/24060-24061:25060-25061" \
  -u 127.0.0.1/24140 -u "$B6/24141" "${IFS_SPECS[@]}" \
  -t none -T none -U none
if ! wait_bound outer udp 2 24001; then
  udp_expected || skip "this binary parses -u but binds no UDP socket (no UDP handler in the tree yet)"
  fail "-u 24001: no UDP socket bound on the host"
fi
ns_servers udp :: 24001,24010,24012,25020,25030,25032,24040,24041,25061,24140,24141,24050,25070,24150

# both NAME WHERE HOST PEER PORT WANT_PORT [--bind ADDR]: 2 KiB and 32 KiB.
both() {
  local name=$1 where=$2 host=$3 peer=$4 port=$5 want=$6; shift 6
  row "$name" "$where" udp "$host" "$port" $K2 "$peer" "$want" "$@"
  row "$name" "$where" udp "$host" "$port" $K32 "$peer" "$want" "$@"
}

if [ "$REFERENCE" = 1 ]; then SEEN4='*' SEEN6='*'; else SEEN4=$HOST4 SEEN6=$HOST6; fi
for fam in 4 6; do
  if [ $fam = 4 ]; then H=$HOST4 P=$FAR4 L=127.0.0.1 S=$SEEN4; else H=$HOST6 P=$FAR6 L=::1 S=$SEEN6; fi
  for path in tap lo; do
    if [ $path = tap ]; then set -- far "$H" "$P" --bind "$P"; else set -- outer "$L" "$S"; fi
    w=$1 h=$2 p=$3; shift 3
    both "$path single (v$fam)" "$w" "$h" "$p" 24001 24001 "$@"
    both "$path range, first (v$fam)" "$w" "$h" "$p" 24010 24010 "$@"
    both "$path range, last (v$fam)" "$w" "$h" "$p" 24012 24012 "$@"
    both "$path translated (v$fam)" "$w" "$h" "$p" 24020 25020 "$@"
    both "$path translated range, first (v$fam)" "$w" "$h" "$p" 24030 25030 "$@"
    both "$path translated range, last (v$fam)" "$w" "$h" "$p" 24032 25032 "$@"
  done
  [ $IFB = 1 ] || continue
  both "tap interface-bound %up0 (v$fam)" far "$H" "$P" 24050 24050 --bind "$P"
  both "tap interface-bound %up0, translated (v$fam)" far "$H" "$P" 24070 25070 --bind "$P"
  both "lo interface-bound %lo (v$fam)" outer "$L" "$S" 24150 24150
done
both "tap address-bound (v4)" far "$HOST4" "$FAR4" 24040 24040 --bind "$FAR4"
both "tap address-bound (v6)" far "$HOST6" "$FAR6" 24041 24041 --bind "$FAR6"
both "tap address-bound translated range (v4)" far "$HOST4" "$FAR4" 24061 25061 --bind "$FAR4"
both "lo address-bound 127.0.0.1/" outer 127.0.0.1 "$SEEN4" 24140 24140
both "lo address-bound [::1]/" outer ::1 "$SEEN6" 24141 24141

no_row "address-bound v4 only" far udp "$HOST6" 24040 --bind "$FAR6"
no_row "address-bound v6 only" far udp "$HOST4" 24041 --bind "$FAR4"
no_row "address-bound: not on lo's address" outer udp 203.0.113.1 24040
no_row "address-bound 127.0.0.1 only" outer udp ::1 24140
no_row "address-bound loopback only" far udp "$HOST4" 24140 --bind "$FAR4"
if [ $IFB = 1 ]; then
  no_row "interface-bound to up0" outer udp 203.0.113.1 24050
  no_row "interface-bound to up0" outer udp 127.0.0.1 24070
  no_row "interface-bound to lo" far udp "$HOST6" 24150 --bind "$FAR6"
fi
no_row "outside the range" far udp "$HOST4" 24013 --bind "$FAR4"
run_rows
mx_stop

# --- -U: the namespace's loopback to the host's ----------------------------------
host_servers udp 127.0.0.1 24201,24210,24211,25220,25230,25231 ::1 24201,24210,24211,25220,25230,25231
mx_pasta -U 24201 -U 24210-24211 -U 24220:25220 -U 24230-24231:25230-25231 -t none -u none -T none
wait_bound ns udp 5 24201 24210 24211 24220 24230 24231 ||
  fail "-U: listeners did not appear in the namespace"
for L in 127.0.0.1 ::1; do
  both "-U single ($L)" ns "$L" "$L" 24201 24201
  both "-U range ($L)" ns "$L" "$L" 24211 24211
  both "-U translated ($L)" ns "$L" "$L" 24220 25220
  both "-U translated range ($L)" ns "$L" "$L" 24231 25231
done
no_row "-U is loopback only" ns udp "$HOST4" 24201
run_rows
mx_stop

if ! upstream_only "Debian's 2023 pasta did not bind a UDP port bound after start-up within 3 s"; then
  log "PASS ($ROWS transfers)"
  exit 0
fi
# --- auto, both ways -------------------------------------------------------------------
# A port that carried datagrams stays bound while its flows live (180 s:
# they borrow the listener's socket, as upstream's keep a dup() of it), so
# the removal is checked on ports without traffic.
mx_pasta -u auto -U auto -t none -T none
# kill_server PORT: stops the xfer.py server started for PORT alone.
kill_server() {
  local p
  for p in $(pids_with_arg "$1"); do
    tr '\0' ' ' <"/proc/$p/cmdline" | grep -q "xfer.py" && kill "$p"
  done
  return 0
}
# -u auto: ports bound in the namespace after start-up.
watch_start outer udp 3 24301
ns_servers udp :: 24301
watch_end || fail "-u auto: namespace port 24301 not bound on the host within 3 s"
log "-u auto: port 24301 bound on the host $SEEN_DELAY_MS ms after the namespace bound it"
[ "$SEEN_DELAY_MS" -le "$AUTO_LIMIT_MS" ] || fail "-u auto took $SEEN_DELAY_MS ms (upstream: scans every second)"
row "-u auto (tap)" far udp "$HOST4" 24301 $K2 "$FAR4" 24301 --bind "$FAR4"
row "-u auto (tap)" far udp "$HOST6" 24301 $K2 "$FAR6" 24301 --bind "$FAR6"
row "-u auto (loopback)" outer udp 127.0.0.1 24301 $K2 "$SEEN4" 24301
row "-u auto (loopback)" outer udp ::1 24301 $K2 "$SEEN6" 24301
ns_servers udp :: 24303
wait_bound outer udp 3 24303 || fail "-u auto: namespace port 24303 not bound on the host within 3 s"
kill_server 24303
wait_unbound outer udp 3 24303 ||
  fail "-u auto: port 24303 still bound on the host 3 s after the namespace closed it"
ok "-u auto: the host's port goes when the namespace's does"
# -U auto: ports bound on the host after start-up.
watch_start ns udp 3 24302
host_servers udp 127.0.0.1 24302 ::1 24302
watch_end || fail "-U auto: host port 24302 not bound in the namespace within 3 s"
log "-U auto: port 24302 bound in the namespace $SEEN_DELAY_MS ms after the host bound it"
[ "$SEEN_DELAY_MS" -le "$AUTO_LIMIT_MS" ] || fail "-U auto took $SEEN_DELAY_MS ms (upstream: scans every second)"
row "-U auto" ns udp 127.0.0.1 24302 $K2 127.0.0.1 24302
row "-U auto" ns udp ::1 24302 $K2 ::1 24302
host_servers udp 127.0.0.1 24304 ::1 24304
wait_bound ns udp 3 24304 || fail "-U auto: host port 24304 not bound in the namespace within 3 s"
kill_server 24304
wait_unbound ns udp 3 24304 ||
  fail "-U auto: port 24304 still bound in the namespace 3 s after the host closed it"
ok "-U auto: the namespace's port goes when the host's does"
run_rows
mx_stop
log "PASS ($ROWS transfers)"
