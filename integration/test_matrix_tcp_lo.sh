#!/usr/bin/env bash
# Integration matrix, TCP on the loopback path (issue 5, Deliver 7): the
# peer is on the host's loopback (127.0.0.1 / ::1), so pasta splices the
# connection socket to socket (upstream-behaviour.md 3.9) to the
# namespace's own address: the server there sees 198.51.100.1 /
# 2001:db8::1 as the peer, which tells the spliced path from the tap path
# (there the peer would be the mapped gateway, 198.51.100.254 /
# 2001:db8::ff).
#
# One pasta --config-net (daemon, --netns FILE), every form of -t, IPv4 and
# IPv6 clients in the outer namespace:
#
#   single port            -t 22001
#   range                  -t 22010-22012           (first and last port)
#   translated port        -t 22020:23020
#   translated range       -t 22030-22032:23030-23032
#   address-bound          -t 127.0.0.1/22040, -t [::1]/22041, and Podman's
#                          -t 127.0.0.1/22060-22061:23060-23061 (not
#                          forwarded: the other family, up0's address)
#   interface-bound        -t %lo/22050, -t %lo/22070:23070 (not forwarded:
#                          the dead end through up0)
#
# Each row: a 2 KiB and a 10 MiB transfer, both ways in one connection,
# checked by SHA-256 on both ends (tools/xfer.py).  Then the same forms
# once more through --no-splice (the tap path for loopback peers: the server
# sees the gateway), 2 KiB and 10 MiB on one form each.
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need python3 ip timeout
. "$IT_TOOLS/matrix_lib.sh"

far_peer_setup
B6="[::1]"
upstream_only "Debian's 2023 pasta has no [ADDR]/ form" || B6=::1
IFS_SPECS=(-t %lo/22050 -t %lo/22070:23070)
[ $IFB = 1 ] || { IFS_SPECS=(); upstream_only "no %IF/ specs in Debian's 2023 pasta" || true; }
mx_pasta -t 22001 -t 22010-22012 -t 22020:23020 -t 22030-22032:23030-23032 \
  -t 127.0.0.1/22040 -t "$B6/22041" -t 127.0.0.1/22060-22061:23060-23061 \
  "${IFS_SPECS[@]}" -u none -T none -U none
ns_servers tcp :: 22001,22010,22012,23020,23030,23032,22040,22041,23060,23061,22050,23070

# both NAME HOST PEER PORT WANT_PORT: the 2 KiB and 10 MiB rows.
both() {
  local name=$1 host=$2 peer=$3 port=$4 want=$5
  row "$name" outer tcp "$host" "$port" $K2 "$peer" "$want"
  row "$name" outer tcp "$host" "$port" $M10 "$peer" "$want"
}

if [ "$REFERENCE" = 1 ]; then
  # Debian's 2023 pasta splices to the namespace's loopback instead.
  SEEN4=127.0.0.1 SEEN6=::1
else
  SEEN4=$HOST4 SEEN6=$HOST6
fi
for fam in 4 6; do
  if [ $fam = 4 ]; then H=127.0.0.1 S=$SEEN4; else H=::1 S=$SEEN6; fi
  both "spliced single (v$fam)" "$H" "$S" 22001 22001
  both "spliced range, first (v$fam)" "$H" "$S" 22010 22010
  both "spliced range, last (v$fam)" "$H" "$S" 22012 22012
  both "spliced translated (v$fam)" "$H" "$S" 22020 23020
  both "spliced translated range, first (v$fam)" "$H" "$S" 22030 23030
  both "spliced translated range, last (v$fam)" "$H" "$S" 22032 23032
  [ $IFB = 1 ] || continue
  both "spliced interface-bound %lo (v$fam)" "$H" "$S" 22050 22050
  both "spliced interface-bound %lo, translated (v$fam)" "$H" "$S" 22070 23070
done
both "spliced address-bound 127.0.0.1/" 127.0.0.1 "$SEEN4" 22040 22040
both "spliced address-bound [::1]/" ::1 "$SEEN6" 22041 22041
both "spliced address-bound translated range (Podman's form)" 127.0.0.1 "$SEEN4" 22061 23061

no_row "address-bound 127.0.0.1 only" outer tcp ::1 22040
no_row "address-bound ::1 only" outer tcp 127.0.0.1 22041
no_row "address-bound loopback only" far tcp "$HOST4" 22060 --bind "$FAR4"
if [ $IFB = 1 ]; then
  no_row "interface-bound %lo only" far tcp "$HOST4" 22050 --bind "$FAR4"
  no_row "interface-bound %lo only" far tcp "$HOST6" 22070 --bind "$FAR6"
fi
run_rows
mx_stop

# --- the same forms without the splice: loopback peers through the tap --------
if upstream_only "--no-splice is not in Debian's 2023 pasta"; then
  mx_pasta --no-splice -t 22010-22012 -t 22030-22032:23030-23032 -t "$B6/22041" -t %lo/22070:23070 \
    -u none -T none -U none
  ns_servers tcp :: 22011,23031,22041,23070
  both "tap range (v4)" 127.0.0.1 "$GW4" 22011 22011
  both "tap translated range (v6)" ::1 "$GW6" 22031 23031
  both "tap address-bound [::1]/" ::1 "$GW6" 22041 22041
  both "tap interface-bound %lo, translated (v4)" 127.0.0.1 "$GW4" 22070 23070
  run_rows
  mx_stop
fi
log "PASS ($ROWS transfers)"
