#!/usr/bin/env bash
# test_tcp_traffic_qemu.sh over passt --vhost-user (see
# test_qemu_vhost_user.sh): 12 MiB each way, IPv4 and IPv6, and through -t
# listeners, every byte hashed at both ends (TRAFFIC_QEMU_MIB changes it),
# twice:
#  1. at MTU 1500: the guest's kernel hands us TCP segments beyond its MTU
#     (HOST_TSO4/6) and leaves checksums to us (CSUM), we leave them to it
#     (GUEST_CSUM) and send it frames of several MSS (GUEST_TSO4/6), and
#     passt's counters (-d, logged when it stops) must show all four and
#     nothing dropped for a bad GSO type or an unusable chain;
#  2. at passt's default MTU (65520): checksums left both ways.
set -u
export TRAFFIC_QEMU_MIB=${TRAFFIC_QEMU_MIB:-12}
export PASST_VHOST_USER=1
here=$(dirname "$0")
counts='vhost-user: [0-9]+ frames from the guest \([1-9][0-9]* checksums left to us, '
PASST_EXTRA_ARGS="-m 1500 -d" \
  PASST_CHECK_STATS="grep -E '$counts[1-9][0-9]* TSO, 0 bad GSO, 0 unusable chains\\), [0-9]+ to it \\([1-9][0-9]* checksums left to it, [1-9][0-9]* TSO, 0 checksums completed'" \
  "$here/test_tcp_traffic_qemu.sh" "$@"
rc=$?
[ $rc -eq 0 ] || exit $rc
PASST_EXTRA_ARGS="-d" \
  PASST_CHECK_STATS="grep -E '$counts[0-9]+ TSO, 0 bad GSO, 0 unusable chains\\), [0-9]+ to it \\([1-9][0-9]* checksums left to it, [0-9]+ TSO, 0 checksums completed'" \
  exec "$here/test_tcp_traffic_qemu.sh" "$@"
