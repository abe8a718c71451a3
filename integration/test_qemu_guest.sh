#!/usr/bin/env bash
# A real Linux guest under qemu, its virtio-net NIC on passt's socket
# (`-netdev stream,addr.type=unix,...`), configured by its own clients
# (integration/guest/init):
#
#   busybox udhcpc   198.51.100.1/24, router 198.51.100.254, MTU 65520,
#                    DNS 198.51.100.53, search example.org (passt sends DNS)
#   kernel SLAAC     2001:db8::5054:ff:fe12:3456/64 from passt's RA, default
#                    route via passt's link-local address
#   dhclient -6      2001:db8::1 (DHCPv6), DNS 2001:db8::53
#
# The guest (Debian's cloud kernel, busybox-static, dhclient) is built from
# Debian packages by guest/build-guest.sh into a cache (~/.cache/passt-cpp-
# guest, or $PASST_GUEST_CACHE) before the test enters its namespaces: the
# only step that uses the network (apt-get download), done once.  No
# package lists or no download: skip (77).
#
# qemu runs with TCG (PASST_GUEST_ACCEL overrides; on this machine /dev/kvm
# is slower than TCG).  Typical run: 10-25 s; the guest is given 90 s.
. "$(dirname "$0")/lib/common.sh"
. "$IT_DIR/lib/passt.sh"
GUEST_CACHE=${PASST_GUEST_CACHE:-$HOME/.cache/passt-cpp-guest}
QEMU=${QEMU:-qemu-system-x86_64}
if [ "${PASST_IT_INSIDE:-}" != 1 ]; then
  # Outside the namespaces: nothing to do for a placeholder binary; build
  # (or find) the guest.
  BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd) select_binaries
  need "$QEMU"
  rc=0
  "$IT_DIR/guest/build-guest.sh" "$GUEST_CACHE" || rc=$?
  [ "$rc" = 0 ] || { [ "$rc" = 2 ] && skip "the guest cannot be built here (see above)"; fail "build-guest.sh failed"; }
fi
enter_outer_ns "$@"
select_binaries
need "$QEMU" python3
export GUEST_CACHE

SOCK=$TMP/passt.sock
if [ "${PASST_LIBVIRT_STYLE:-}" = 1 ]; then
  # As libvirt starts it: daemonised, --one-off, a pid file and a log file
  # (libvirt creates it first); success is exit 0 once it serves.
  : >"$TMP/passt.log"
  "$PASST_BIN" $(passt_guest_opts) --one-off --socket "$SOCK" --pid "$TMP/passt.pid" \
    --log-file "$TMP/passt.log" </dev/null >"$TMP/passt.out" 2>&1 ||
    fail "passt did not daemonise with status 0: $(cat "$TMP/passt.out")"
  test -S "$SOCK" || fail "passt exited 0 without $SOCK in place"
  PASST_PID=$(cat "$TMP/passt.pid" 2>/dev/null) || fail "passt wrote no pid file"
  kill -0 "$PASST_PID" || fail "the pid file names $PASST_PID, which is not running"
else
  "$PASST_BIN" $(passt_guest_opts) -f -s "$SOCK" </dev/null >"$TMP/passt.log" 2>&1 &
  PASST_PID=$!
  wait_until 5 test -S "$SOCK" || fail "passt did not create $SOCK within 5 s"
fi
OUR_LL=$(host_ll up0)

: >"$TMP/result.log"
rc=0
t0=$(now_ms)
run_test_guest 90 256 "$SOCK" "" "$TMP/console.log" "$TMP/result.log" "$TMP/qemu.log" || rc=$?
log "qemu ran $(( $(now_ms) - t0 )) ms (status $rc)"
tr -d '\r' <"$TMP/result.log" | grep '^R ' | sed 's/^R //' >"$TMP/result"
sed 's/^/[guest] /' "$TMP/result" >&2
grep -q '^done' "$TMP/result" || fail "the guest did not finish (qemu status $rc); see console.log"
if [ "${PASST_LIBVIRT_STYLE:-}" = 1 ]; then
  # qemu has gone: --one-off ends passt.
  wait_until 10 pid_gone "$PASST_PID" || fail "passt --one-off still runs 10 s after qemu left"
  ok "libvirt-style start: daemonised with status 0, pid file, exit after qemu left"
else
  kill -0 "$PASST_PID" || fail "passt exited while serving the guest"
fi

! grep '^error=' "$TMP/result" || fail "errors reported by the guest"
field() { sed -n "s/^$1 .*\\b$2=\\([^ ]*\\).*/\\1/p" "$TMP/result" | head -n 1; }
expect() {   # expect WHAT GOT WANT
  [ "$2" = "$3" ] || fail "guest $1: '$2', expected '$3'"
}
expect "DHCPv4 address" "$(field dhcp4 ip)" 198.51.100.1
expect "DHCPv4 mask" "$(field dhcp4 mask)" 24
expect "DHCPv4 router" "$(field dhcp4 router)" 198.51.100.254
expect "DHCPv4 MTU" "$(field dhcp4 mtu)" 65520
expect "DHCPv4 DNS" "$(field dhcp4 dns)" 198.51.100.53
expect "DHCPv4 search" "$(field dhcp4 search)" example.org
grep -qx 'addr4=198.51.100.1/24' "$TMP/result" || fail "guest eth0 lacks 198.51.100.1/24"
grep -q '^route4=default via 198.51.100.254 dev eth0' "$TMP/result" || fail "guest has no IPv4 default route"
grep -qx 'mtu=65520' "$TMP/result" || fail "guest MTU is not 65520"
ok "IPv4 by DHCP: 198.51.100.1/24 via 198.51.100.254, MTU 65520, DNS and search list"

grep -qx 'addr6=2001:db8::5054:ff:fe12:3456/64' "$TMP/result" ||
  fail "no SLAAC address 2001:db8::5054:ff:fe12:3456/64 from passt's router advertisement"
grep -qx "route6=default via $OUR_LL" "$TMP/result" ||
  fail "guest IPv6 default route is not via passt's link-local $OUR_LL"
ok "IPv6 by SLAAC: 2001:db8::5054:ff:fe12:3456/64, default route via $OUR_LL"

expect "DHCPv6 address" "$(field dhcp6 ip6)" 2001:db8::1
expect "DHCPv6 DNS" "$(field dhcp6 dns)" 2001:db8::53
grep -qx 'addr6=2001:db8::1/128' "$TMP/result" || fail "guest eth0 lacks 2001:db8::1/128"
ok "IPv6 by DHCPv6: 2001:db8::1, DNS 2001:db8::53"
log "PASS"
