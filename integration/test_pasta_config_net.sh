#!/usr/bin/env bash
# pasta --config-net in spawn mode (`pasta --config-net [OPTIONS] -- CMD`):
# the command runs in a new namespace that pasta configured through netlink
# before starting it.  Upstream: the tap gets the template interface's name
# (up0 here), the template's addresses (198.51.100.1/24, 2001:db8::1/64;
# global ones usable at once: no DAD), its routes (default via 198.51.100.254 and
# 2001:db8::ff), MTU 65520, the link up; lo up.
#
# Variants: -a/-n/-g for both families (only that address, only a default
# route via that gateway), -n dotted, -m, -I, --ns-mac-addr, -4, -6.
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need python3 ip

# spawn NAME PASTA-ARGS...: runs nsdump inside a spawned namespace; the
# dump goes to $TMP/NAME/ (printed to stdout: the spawned command may not
# be able to write to the test's private directory).
spawn() {
  local name=$1 rc=0; shift
  timeout 20 "$PASTA_BIN" --config-net "$@" -- "$IT_TOOLS/nsdump.sh" - \
    >"$TMP/$name.out" 2>"$TMP/$name.log" </dev/null || rc=$?
  echo "$*" >"$TMP/$name.args"
  [ "$rc" = 0 ] || fail "$name: pasta --config-net $* -- nsdump exited with status $rc"
  "$IT_TOOLS/nsdump.sh" --split "$TMP/$name" <"$TMP/$name.out"
  [ -s "$TMP/$name/addr.json" ] || fail "$name: the spawned command printed nothing"
}

# q NAME CHECK ARGS [-- CHECK ARGS]...: tools/ipq.py checks on NAME's dump.
q() {
  local name=$1; shift
  python3 "$IT_TOOLS/ipq.py" "$TMP/$name" "$@" || fail "$name: pasta --config-net $(cat "$TMP/$name.args")"
}
LO_UP=(-- up lo -- has lo 127.0.0.1/8 -- has lo ::1/128)

# --- defaults: a copy of the template ------------------------------------
spawn default
# Global addresses are added with NODAD: usable at once.  The link-local
# address is not checked: the kernel keeps it tentative until its link
# watcher sees the tap's carrier (asynchronous, up to ~1 s), whatever pasta
# does (it never sends DAD probes: NOARP at link-up, NODAD).
NO_TENTATIVE=(-- no-tentative up0 global)
q default links lo up0 \
  -- addrs up0 inet 198.51.100.1/24 -- addrs up0 inet6 2001:db8::1/64 \
  -- default up0 inet 198.51.100.254 -- default up0 inet6 2001:db8::ff \
  -- mtu up0 65520 -- up up0 "${NO_TENTATIVE[@]}" "${LO_UP[@]}"
ok "defaults: 198.51.100.1/24, 2001:db8::1/64, default routes, MTU 65520, up0 and lo up"

# --- -a / -n / -g, both families ---------------------------------------------
spawn addr -a 192.0.2.10 -n 26 -g 192.0.2.1 -a 2001:db8:2::10 -g 2001:db8:2::1
q addr addrs up0 inet 192.0.2.10/26 -- addrs up0 inet6 2001:db8:2::10/64 \
  -- default up0 inet 192.0.2.1 -- default up0 inet6 2001:db8:2::1 -- mtu up0 65520 -- up up0
ok "-a/-n/-g: 192.0.2.10/26 via 192.0.2.1, 2001:db8:2::10/64 via 2001:db8:2::1"

if upstream_only "-n in dotted form is misread (255.255.255.0 gives a /5)"; then
  spawn mask -a 192.0.2.10 -n 255.255.255.0
  q mask addrs up0 inet 192.0.2.10/24
  ok "-n in dotted form"
fi

# --- -m, -I, --ns-mac-addr ----------------------------------------------------
spawn link -m 1280 -I eth7 --ns-mac-addr 02:00:00:00:00:42
q link links lo eth7 -- mtu eth7 1280 -- mac eth7 02:00:00:00:00:42 -- up eth7 \
  -- addrs eth7 inet 198.51.100.1/24 -- addrs eth7 inet6 2001:db8::1/64 \
  -- default eth7 inet 198.51.100.254 -- default eth7 inet6 2001:db8::ff "${LO_UP[@]}"
ok "-m 1280, -I eth7, --ns-mac-addr"

# --- one family only ------------------------------------------------------------
spawn v4 -4
q v4 addrs up0 inet 198.51.100.1/24 -- addrs up0 inet6 \
  -- default up0 inet 198.51.100.254 -- no-default inet6
ok "-4: no IPv6 address or route"

spawn v6 -6
q v6 addrs up0 inet -- addrs up0 inet6 2001:db8::1/64 \
  -- no-default inet -- default up0 inet6 2001:db8::ff
ok "-6: no IPv4 address or route"
log "PASS"
