#!/usr/bin/env bash
# pasta without --config-net: the namespace is configured by real clients
# talking to pasta's built-in servers over the tap, as in a container that
# runs its own DHCP client.  Upstream leaves the tap down (lo up); the test
# brings it up (DAD off in the namespace, so the link-local address is
# usable at once).
#
# Clients and what each must obtain (template: the outer namespace's up0):
#   busybox udhcpc        address 198.51.100.1, mask 255.255.255.0, router
#                         198.51.100.254, server id 198.51.100.254, MTU 65520,
#                         infinite lease
#   ISC dhclient -4       the same (private lease file and -sf script)
#   rdisc6 (ndisc6)       RA: prefix 2001:db8::/64, MTU 65520, M flag
#   ISC dhclient -6       2001:db8::1 (DHCPv6 IA_NA)
# With -H vm1 --fqdn vm1.example.org (as libvirt passes them): host name
# (DHCP 12: udhcpc, dhclient -4) and FQDN (DHCP 81: dhclient -4; DHCPv6 39:
# dhclient -6), neither without them.
# DNS: pasta sends no resolvers or search list by default (DHCP option
# 6/119, RA RDNSS/DNSSL, DHCPv6 23/24), only with --dhcp-dns / --dhcp-search:
# both runs are checked (resolvers 198.51.100.53 and 2001:db8::53, search
# example.org, from the outer resolv.conf).
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need python3 ip busybox dhclient rdisc6

# Event scripts, writing what the clients received into $TMP/ev (the
# clients clear the environment, so paths are baked in).
mkdir -p "$TMP/ev"
cat >"$TMP/udhcpc.script" <<EOF
#!/bin/sh
# busybox udhcpc: \$1 is the event; options come as variables
for v in ip subnet mask router dns domain search mtu serverid lease hostname; do
  eval "echo \$v=\\\$\$v"
done >"$TMP/ev/udhcpc.\$1"
EOF
cat >"$TMP/dhclient.script" <<EOF
#!/bin/sh
# ISC dhclient: \$reason is the event; new_* variables are the lease
env | grep -E '^(new_|reason=)' | sort >"$TMP/ev/dhclient.\$reason"
EOF
chmod +x "$TMP/udhcpc.script" "$TMP/dhclient.script"
# Ask for what a typical client asks for.
cat >"$TMP/dhclient.conf" <<'EOF'
request subnet-mask, broadcast-address, routers, domain-name-servers, domain-search,
        interface-mtu, host-name, dhcp6.name-servers, dhcp6.domain-search, dhcp6.fqdn;
EOF

# val FILE KEY: the value of KEY=... in FILE (quotes removed).
val() { sed -n "s/^$2=//p" "$1" | tr -d "'\"" | head -n 1; }
expect_val() {   # expect_val WHAT FILE KEY VALUE ('' = absent or empty)
  local got
  got=$(val "$2" "$3")
  [ "$got" = "$4" ] || fail "$1: $3='$got', expected '$4' ($(tr '\n' ' ' <"$2"))"
}

# start_pasta NAME ARGS...: pasta for a fresh namespace, in the background
# (readiness: the launcher's exit).
start_pasta() {
  local name=$1; shift
  new_netns "$name"
  timeout 20 "$PASTA_BIN" -t none -u none -T none -U none --netns "$NETNS" -P "$TMP/$name.pid" "$@" \
    </dev/null >"$TMP/$name.log" 2>&1 || fail "$name: pasta exited with status $?"
  [ -s "$TMP/$name.pid" ] || fail "$name: empty pid file"
}

run_clients() {   # run_clients NAME DNS(0|1) [NAMES(0|1)]
  local name=$1 dns=$2 names=${3:-0} ns=$NETNS out
  in_netns "$ns" "$IT_TOOLS/nsdump.sh" "$TMP/$name.before"
  python3 "$IT_TOOLS/ipq.py" "$TMP/$name.before" links lo up0 -- up lo -- has lo 127.0.0.1/8 \
    -- addrs up0 inet -- addrs up0 inet6 || fail "$name: namespace before the clients ran"
  if grep -q '"ifname":"up0","flags":\[[^]]*"UP"' "$TMP/$name.before/link.json"; then
    fail "$name: pasta without --config-net set the tap up (upstream leaves it down)"
  fi
  ok "$name: tap up0 present and down, no addresses; lo up"
  in_netns "$ns" ip link set up0 up

  # busybox udhcpc
  rm -f "$TMP"/ev/*
  in_netns "$ns" timeout 15 busybox udhcpc -i up0 -f -q -n -t 3 -T 1 -A 1 -O mtu -O search \
    -s "$TMP/udhcpc.script" >"$TMP/$name.udhcpc.log" 2>&1 || fail "$name: udhcpc got no lease"
  out=$TMP/ev/udhcpc.bound
  [ -f "$out" ] || fail "$name: udhcpc did not run its script with 'bound'"
  expect_val udhcpc "$out" ip 198.51.100.1
  expect_val udhcpc "$out" subnet 255.255.255.0
  expect_val udhcpc "$out" router 198.51.100.254
  expect_val udhcpc "$out" serverid 198.51.100.254
  expect_val udhcpc "$out" mtu 65520
  expect_val udhcpc "$out" lease 4294967295
  if [ "$dns" = 1 ]; then
    expect_val udhcpc "$out" dns 198.51.100.53
    expect_val udhcpc "$out" search example.org
  else
    expect_val udhcpc "$out" dns ''
    expect_val udhcpc "$out" search ''
  fi
  if [ "$names" = 1 ]; then
    expect_val udhcpc "$out" hostname vm1
  else
    expect_val udhcpc "$out" hostname ''
  fi
  ok "$name: udhcpc: $(tr '\n' ' ' <"$out")"

  # ISC dhclient -4 (forks to the background once bound; stopped below)
  in_netns "$ns" timeout 15 dhclient -4 -1 -v -cf "$TMP/dhclient.conf" -sf "$TMP/dhclient.script" \
    -lf "$TMP/$name.dhc4.leases" -pf "$TMP/$name.dhc4.pid" up0 >"$TMP/$name.dhclient4.log" 2>&1 ||
    fail "$name: dhclient -4 got no lease"
  stop_pidfile "$TMP/$name.dhc4.pid"
  out=$TMP/ev/dhclient.BOUND
  [ -f "$out" ] || fail "$name: dhclient -4 did not run its script with BOUND"
  expect_val dhclient "$out" new_ip_address 198.51.100.1
  expect_val dhclient "$out" new_subnet_mask 255.255.255.0
  expect_val dhclient "$out" new_routers 198.51.100.254
  expect_val dhclient "$out" new_dhcp_server_identifier 198.51.100.254
  expect_val dhclient "$out" new_interface_mtu 65520
  expect_val dhclient "$out" new_dhcp_lease_time 4294967295
  if [ "$dns" = 1 ]; then
    expect_val dhclient "$out" new_domain_name_servers 198.51.100.53
    expect_val dhclient "$out" new_domain_search example.org.
  else
    expect_val dhclient "$out" new_domain_name_servers ''
    expect_val dhclient "$out" new_domain_search ''
  fi
  # Option 81 (RFC 4702): flags E only (we update no DNS), RCODEs 255.
  if [ "$names" = 1 ]; then
    expect_val dhclient "$out" new_host_name vm1
    expect_val dhclient "$out" new_fqdn_fqdn vm1.example.org
    expect_val dhclient "$out" new_fqdn_encoded true
    expect_val dhclient "$out" new_fqdn_server_update false
  else
    expect_val dhclient "$out" new_host_name ''
    expect_val dhclient "$out" new_fqdn_fqdn ''
  fi
  ok "$name: dhclient -4: $(grep -v reason "$out" | tr '\n' ' ')"

  # rdisc6: one solicitation, the RA's contents
  in_netns "$ns" timeout 10 rdisc6 -1 -r 3 -w 1000 up0 >"$TMP/$name.rdisc6" 2>&1 ||
    fail "$name: rdisc6 saw no router advertisement: $(cat "$TMP/$name.rdisc6")"
  rd() { grep -E "^ *$1 *:" "$TMP/$name.rdisc6" | sed 's/^[^:]*: *//' | awk '{print $1}' | paste -sd' '; }
  [ "$(rd Prefix)" = 2001:db8::/64 ] || fail "$name: RA prefix '$(rd Prefix)', expected 2001:db8::/64"
  [ "$(rd MTU)" = 65520 ] || fail "$name: RA MTU '$(rd MTU)', expected 65520"
  [ "$(rd 'Stateful address conf.')" = Yes ] || fail "$name: RA without the M flag"
  if [ "$dns" = 1 ]; then
    [ "$(rd 'Recursive DNS server')" = 2001:db8::53 ] ||
      fail "$name: RA RDNSS '$(rd 'Recursive DNS server')', expected 2001:db8::53"
    [ "$(rd 'DNS search list')" = example.org ] ||
      fail "$name: RA DNSSL '$(rd 'DNS search list')', expected example.org"
  else
    [ -z "$(rd 'Recursive DNS server')" ] || fail "$name: RA carries RDNSS without --dhcp-dns"
    [ -z "$(rd 'DNS search list')" ] || fail "$name: RA carries DNSSL without --dhcp-search"
  fi
  ok "$name: rdisc6: prefix $(rd Prefix), MTU $(rd MTU), RDNSS '$(rd 'Recursive DNS server')'," \
     "DNSSL '$(rd 'DNS search list')'"

  # ISC dhclient -6 (stateful DHCPv6)
  in_netns "$ns" timeout 20 dhclient -6 -1 -v -cf "$TMP/dhclient.conf" -sf "$TMP/dhclient.script" \
    -lf "$TMP/$name.dhc6.leases" -pf "$TMP/$name.dhc6.pid" up0 >"$TMP/$name.dhclient6.log" 2>&1 ||
    fail "$name: dhclient -6 got no lease"
  stop_pidfile "$TMP/$name.dhc6.pid"
  out=$TMP/ev/dhclient.BOUND6
  [ -f "$out" ] || fail "$name: dhclient -6 did not run its script with BOUND6"
  expect_val "dhclient -6" "$out" new_ip6_address 2001:db8::1
  if [ "$dns" = 1 ]; then
    expect_val "dhclient -6" "$out" new_dhcp6_name_servers 2001:db8::53
    expect_val "dhclient -6" "$out" new_dhcp6_domain_search example.org.
  else
    expect_val "dhclient -6" "$out" new_dhcp6_name_servers ''
    expect_val "dhclient -6" "$out" new_dhcp6_domain_search ''
  fi
  # Option 39 (RFC 4704): flags 0, the name in wire format.
  if [ "$names" = 1 ]; then
    expect_val "dhclient -6" "$out" new_dhcp6_fqdn 0:3:76:6d:31:7:65:78:61:6d:70:6c:65:3:6f:72:67:0
    expect_val "dhclient -6" "$out" new_fqdn_fqdn vm1.example.org
    expect_val "dhclient -6" "$out" new_fqdn_server_update false
  else
    expect_val "dhclient -6" "$out" new_dhcp6_fqdn ''
  fi
  ok "$name: dhclient -6: $(grep -v reason "$out" | grep -E 'ip6_address|dhcp6_name|dhcp6_domain|fqdn_fqdn' | tr '\n' ' ')"
  stop_pidfile "$TMP/$name.pid"
}

start_pasta nodns
run_clients nodns 0
ok "default: addresses, router, MTU; no DNS information"

start_pasta names -H vm1 --fqdn vm1.example.org
run_clients names 0 1
ok "-H --fqdn: host name (DHCP 12) and FQDN (DHCP 81, DHCPv6 39)"

start_pasta dns --dhcp-dns --dhcp-search
run_clients dns 1
ok "--dhcp-dns --dhcp-search: resolvers and search list in DHCP, RA and DHCPv6"
log "PASS"
