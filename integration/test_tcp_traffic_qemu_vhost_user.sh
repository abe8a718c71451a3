#!/usr/bin/env bash
# test_tcp_traffic_qemu.sh over passt --vhost-user (see
# test_qemu_vhost_user.sh): 20 MiB each way, IPv4 and IPv6, and through -t
# listeners, every byte hashed at both ends (TRAFFIC_QEMU_MIB changes it).
export TRAFFIC_QEMU_MIB=${TRAFFIC_QEMU_MIB:-20}
PASST_VHOST_USER=1 exec "$(dirname "$0")/test_tcp_traffic_qemu.sh" "$@"
