#!/usr/bin/env bash
# test_qemu_guest.sh with the guest's NIC on passt --vhost-user instead of
# the stream socket: qemu's `-netdev vhost-user` (the guest's memory in a
# shared memfd, MSI-X off: see integration/lib/passt.sh, guest_nic_opts),
# and the same checks: DHCPv4, SLAAC, DHCPv6 through the virtqueues.
# passt starts as libvirt's <interface type='vhostuser'> starts it
# (daemonised, --one-off, --pid, --log-file) and must leave with qemu.
PASST_VHOST_USER=1 PASST_LIBVIRT_STYLE=1 exec "$(dirname "$0")/test_qemu_guest.sh" "$@"
