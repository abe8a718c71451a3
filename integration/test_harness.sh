#!/usr/bin/env bash
# The integration harness itself: the outer namespace has exactly the
# documented network and no way off the machine.
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"

ip -4 addr show dev up0 | grep -q '198.51.100.1/24' || fail "uplink address missing"
ip -6 route show default | grep -q 'via 2001:db8::ff' || fail "v6 default route missing"
grep -q '^nameserver 198.51.100.53' /etc/resolv.conf || fail "resolv.conf not replaced"
ping -c1 -W2 198.51.100.254 >/dev/null || fail "dead end does not answer ARP/ping"
# The dead end has no route anywhere else.
[ -z "$(in_deadend ip route show default)" ] || fail "dead end has a default route"
in_deadend ip -o link show | grep -qv -E ': (lo|up0p)@?' && fail "dead end has extra links"
log "harness OK"
