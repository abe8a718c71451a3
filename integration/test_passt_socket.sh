#!/usr/bin/env bash
# passt's qemu socket (-s PATH, -F/--fd), played by tools/qemu_peer.py: the
# length-prefixed frame stream of qemu's `-netdev stream`.  The peer sends
# hand-built guest frames and checks passt's built-in services field by field:
#
#   ARP request for the gateway (and any other address: proxy ARP) -> reply
#   with passt's MAC; DHCP DISCOVER -> OFFER, REQUEST -> ACK (address,
#   mask, router, server id = gateway, infinite lease, MTU 65520, DNS and
#   search list from resolv.conf, broadcast flag honoured); RS -> RA (M flag,
#   router lifetime 65535, prefix 2001:db8::/64 L+A with infinite lifetimes,
#   source link-layer, MTU, RDNSS, DNSSL, from passt's link-local, hop limit
#   255); NS -> NA (R S O, target link-layer = passt's MAC); DHCPv6 SOLICIT ->
#   ADVERTISE, REQUEST -> REPLY (IA_NA with 2001:db8::1, infinite T1/T2 and
#   lifetimes, DNS, domain list, client id echoed, DUID with passt's MAC).
#
# Then: frames split across many send() calls (partial writes, a frame's tail
# and the next one's head in one send()); a second client is closed at once
# while the first is connected; a new client is served after the first
# disconnects; -1/--one-off exits 0 when its client leaves; --fd with a
# socketpair (implies --one-off); -M/-m/--no-dhcp-dns/--no-dhcp-search;
# --print-capabilities.
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need python3

PEER=(python3 "$IT_TOOLS/qemu_peer.py")
OUR_LL=$(host_ll up0)
if [ "$REFERENCE" = 1 ]; then
  # Debian's 2023 build: default MAC is the host's, RA router lifetime 9000 s
  # and prefix lifetimes 3600 s (upstream: 9a:55:9a:55:9a:55, 65535 s and
  # infinite); the DHCP broadcast flag is ignored (upstream: a reply to
  # 255.255.255.255).  Everything else is checked the same way.
  log "reference mode: expecting the host's MAC, RA lifetime 9000, prefix lifetimes 3600," \
      "DHCP broadcast flag ignored"
  EXPECT=(--our-mac "$(host_mac up0)" --our-ll "$OUR_LL" --ra-lifetime 9000 --prefix-lifetime 3600
          --ignore-bcast-flag)
else
  EXPECT=(--our-mac "$UPSTREAM_MAC" --our-ll "$OUR_LL" --ra-lifetime 65535 --prefix-lifetime 4294967295)
fi

# start_passt NAME ARGS...: passt -f on $TMP/NAME.sock, output in NAME.log.
start_passt() {
  local name=$1; shift
  SOCK=$TMP/$name.sock
  "$PASST_BIN" -f -s "$SOCK" "$@" </dev/null >"$TMP/$name.log" 2>&1 &
  PASST_PID=$!
  wait_until 5 test -S "$SOCK" || fail "$name: passt did not create $SOCK within 5 s"
}

# --- the services, whole frames and split frames -----------------------------
RAPID=()
if upstream_only "no DHCP rapid commit (option 80)"; then RAPID=(--rapid-commit); fi
start_passt main
"${PEER[@]}" services --socket "$SOCK" "${EXPECT[@]}" "${RAPID[@]}" >&2 ||
  fail "services (whole frames)"
ok "services answered correctly"
SPLIT=body
if upstream_only "a frame whose length prefix or Ethernet header is split across reads is lost"; then
  SPLIT=any
fi
"${PEER[@]}" services --socket "$SOCK" "${EXPECT[@]}" --split $SPLIT >&2 ||
  fail "services with frames split over several send() calls ($SPLIT)"
ok "frames split across send() calls ($SPLIT) are reassembled"

# --- one client at a time, reconnect ------------------------------------------
"${PEER[@]}" clients --socket "$SOCK" "${EXPECT[@]}" >&2 || fail "second client / reconnect"
kill -0 "$PASST_PID" || fail "passt exited although -1 was not given"
kill -TERM "$PASST_PID"
wait_exit 5 "$PASST_PID"
[ "$WAIT_RC" = 0 ] || fail "passt -f: SIGTERM gave exit status $WAIT_RC, expected 0"
ok "SIGTERM: exit status 0"

# --- options that change the answers ---------------------------------------
start_passt opts -M 02:00:00:00:00:01 -m 1400 --no-dhcp-dns --no-dhcp-search
"${PEER[@]}" services --socket "$SOCK" "${EXPECT[@]}" --our-mac 02:00:00:00:00:01 --mtu 1400 \
  --dns4 '' --dns6 '' --search '' >&2 || fail "-M / -m / --no-dhcp-dns / --no-dhcp-search"
kill -TERM "$PASST_PID"; wait_exit 5 "$PASST_PID"
ok "-M, -m, --no-dhcp-dns, --no-dhcp-search"

SEARCH=(-S one.example -S two.example)
if ! upstream_only "two search domains come out garbled in the DHCPv6 domain list"; then
  SEARCH=(-S one.example)
fi
start_passt mtu0 -m 0 -D 192.0.2.53 -D 2001:db8:5::53 "${SEARCH[@]}"
domains=$(printf '%s\n' "${SEARCH[@]}" | grep -v '^-S$' | paste -sd,)
"${PEER[@]}" services --socket "$SOCK" "${EXPECT[@]}" --mtu none --dns4 192.0.2.53 \
  --dns6 2001:db8:5::53 --search "$domains" >&2 || fail "-m 0 / -D / -S"
kill -TERM "$PASST_PID"; wait_exit 5 "$PASST_PID"
ok "-m 0 (no MTU option), -D and -S lists"

# --- -1 / --one-off ------------------------------------------------------------
start_passt oneoff -1
"${PEER[@]}" one-off --socket "$SOCK" "${EXPECT[@]}" >&2 || fail "one-off client"
wait_exit 3 "$PASST_PID"
[ "$WAIT_RC" = 0 ] || fail "passt -1: status '$WAIT_RC' 3 s after its client left, expected exit 0"
ok "-1: exit 0 when the client disconnects"

# --- --fd with a socketpair --------------------------------------------------------
"${PEER[@]}" fd "${EXPECT[@]}" --log "$TMP/fd.log" -- "$PASST_BIN" -f --fd '{fd}' >&2 ||
  fail "--fd"
ok "--fd: services over a socketpair, exit 0 when the peer closes"

# --- --print-capabilities ------------------------------------------------------------
if upstream_only "no --print-capabilities (added upstream in 2024)"; then
  rc=0
  "$PASST_BIN" --print-capabilities >"$TMP/caps.out" 2>"$TMP/caps.err" || rc=$?
  [ "$rc" = 0 ] || fail "--print-capabilities: exit status $rc"
  # Upstream prints it through its logger, so it ends up on stderr.
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d != {"type": "net"})' \
    "$TMP/caps.err" || fail "--print-capabilities: stderr is not {\"type\": \"net\"}: $(cat "$TMP/caps.err")"
  ok "--print-capabilities: { \"type\": \"net\" } on stderr, exit 0"
fi
log "PASS"
