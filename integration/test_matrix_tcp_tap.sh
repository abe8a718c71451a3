#!/usr/bin/env bash
# Integration matrix, TCP on the tap path (issue 5, Deliver 7): pasta
# forwards -t ports of the host to its namespace; the peer is remote: it
# sits in the dead end (lib/common.sh) on 198.51.100.77 / 2001:db8::77 and
# connects through up0 to the host's uplink address 198.51.100.1 /
# 2001:db8::1, so the connection takes the tap (not the splice) path, and
# the namespace's server must see that peer's own address (upstream
# preserves non-loopback sources, upstream-behaviour.md 2.3).
#
# One pasta --config-net (daemon, --netns FILE) with every form of -t
# (docs/forwarding.md, upstream-behaviour.md 1.7), IPv4 and IPv6 clients:
#
#   single port            -t 20001
#   range                  -t 20010-20012           (first and last port)
#   translated port        -t 20020:21020
#   translated range       -t 20030-20032:21030-21032
#   address-bound          -t 198.51.100.1/20040, -t 2001:db8::1/20041
#                          (the other family's address, and lo's
#                          203.0.113.1, are not forwarded)
#   address-bound range,   -t 198.51.100.1/20060-20061:21060-21061 (Podman's
#     translated             published-port form), -t [2001:db8::1]/20062:21062
#   interface-bound        -t %up0/20050 (reached through up0; a connection
#                          to lo's 203.0.113.1 / 2001:db8:1::1 is not)
#   interface-bound,       -t %up0/20070:21070
#     translated
#
# Each row: a 2 KiB and a 10 MiB transfer, both ways in one connection
# (the client sends, the server checks and answers with the same amount),
# checked by SHA-256 on both ends (tools/xfer.py).
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need python3 ip timeout
. "$IT_TOOLS/matrix_lib.sh"

far_peer_setup
B6="[$HOST6]"
upstream_only "Debian's 2023 pasta has no [ADDR]/ form" || B6=$HOST6
IFS_SPECS=(-t %up0/20050 -t %up0/20070:21070)
[ $IFB = 1 ] || { IFS_SPECS=(); upstream_only "no %IF/ specs in Debian's 2023 pasta" || true; }
mx_pasta -t 20001 -t 20010-20012 -t 20020:21020 -t 20030-20032:21030-21032 \
  -t "$HOST4/20040" -t "$HOST6/20041" -t "$HOST4/20060-20061:21060-21061" -t "$B6/20062:21062" \
  "${IFS_SPECS[@]}" -u none -T none -U none
ns_servers tcp :: 20001,20010,20012,21020,21030,21032,20040,20041,21060,21061,21062,20050,21070

# both NAME HOST PEER PORT WANT_PORT: the 2 KiB and 10 MiB rows from the
# dead end, bound to PEER.
LARGE=1
upstream_only "Debian's 2023 pasta loses the end of a 10 MiB answer closed right after it (tap path too): 2 KiB rows only" ||
  LARGE=0
both() {
  local name=$1 host=$2 peer=$3 port=$4 want=$5
  row "$name" far tcp "$host" "$port" $K2 "$peer" "$want" --bind "$peer"
  [ $LARGE = 0 ] || row "$name" far tcp "$host" "$port" $M10 "$peer" "$want" --bind "$peer"
}

for fam in 4 6; do
  if [ $fam = 4 ]; then H=$HOST4 P=$FAR4; else H=$HOST6 P=$FAR6; fi
  both "single (v$fam)" "$H" "$P" 20001 20001
  both "range, first (v$fam)" "$H" "$P" 20010 20010
  both "range, last (v$fam)" "$H" "$P" 20012 20012
  both "translated (v$fam)" "$H" "$P" 20020 21020
  both "translated range, first (v$fam)" "$H" "$P" 20030 21030
  both "translated range, last (v$fam)" "$H" "$P" 20032 21032
  [ $IFB = 1 ] || continue
  both "interface-bound (v$fam)" "$H" "$P" 20050 20050
  both "interface-bound, translated (v$fam)" "$H" "$P" 20070 21070
done
both "address-bound (v4)" "$HOST4" "$FAR4" 20040 20040
both "address-bound (v6)" "$HOST6" "$FAR6" 20041 20041
both "address-bound translated range (v4)" "$HOST4" "$FAR4" 20061 21061
both "address-bound translated, [ADDR]/ form (v6)" "$HOST6" "$FAR6" 20062 21062

# What the bound forms must not forward.
no_row "address-bound v4 only" far tcp "$HOST6" 20040 --bind "$FAR6"
no_row "address-bound v6 only" far tcp "$HOST4" 20041 --bind "$FAR4"
no_row "address-bound: not on lo's address" outer tcp 203.0.113.1 20040
no_row "address-bound: not on lo's address" outer tcp 203.0.113.1 20061
if [ $IFB = 1 ]; then
  no_row "interface-bound to up0" outer tcp 203.0.113.1 20050
  no_row "interface-bound to up0" outer tcp 2001:db8:1::1 20050
  no_row "interface-bound to up0" outer tcp 127.0.0.1 20070
fi
# A port next to the forwarded ones is not forwarded.
no_row "outside the range" far tcp "$HOST4" 20013 --bind "$FAR4"
no_row "outside the range" far tcp "$HOST6" 20033 --bind "$FAR6"

run_rows
mx_stop
log "PASS ($ROWS transfers)"
