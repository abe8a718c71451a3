#!/usr/bin/env bash
# ICMP/ICMPv6 echo through ping sockets, in both modes.
#
# pasta (spawn mode): `ping -c 3` from inside the namespace pasta made, to
# an outer-namespace address (203.0.113.1, 2001:db8:1::1 on the outer lo)
# and to the gateway (198.51.100.254, 2001:db8::ff: map_host_loopback, so
# the host's loopback answers: the dead end is told to ignore pings, so
# only that mapping can produce the replies).  ping checks sequence
# numbers and data itself; we also require no "DUP!".  An address nobody
# answers gets no reply.
#
# passt: tools/icmp_peer.py on passt's socket sends echo requests with one
# identifier and checks every reply field by field (identifier restored,
# sequence, data, IP and ICMP checksums, no duplicates).
#
# net.ipv4.ping_group_range (in the outer namespace, where the ping sockets
# are opened): "0 0" lets our group (root of the test's user namespace) in;
# "1 0" shuts it out: pings then go unanswered and pasta warns exactly once,
# while pasta --quiet without pings stays silent.  --no-icmp: no replies.
# --trace: the three requests and replies of one ping each show up in the
# log as "tap in" / "tap out" lines (and nothing of the kind without it).
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need ping python3

sysctl -qw net.ipv4.ping_group_range="0 0"
in_deadend sysctl -qw net.ipv4.icmp_echo_ignore_all=1
V6_GW_CHECK=1
in_deadend sysctl -qw net.ipv6.icmp.echo_ignore_all=1 2>/dev/null || V6_GW_CHECK=0

# --- pasta: ping from inside the namespace ------------------------------------
cat >"$TMP/pings.sh" <<'EOF'
#!/bin/sh
# Each target: 3 requests, replies awaited 3 s each; the summary and any
# DUP! line go to stdout, tagged with the target.
for t in "$@"; do
  case $t in *:*) fam=-6 ;; *) fam=-4 ;; esac
  ping "$fam" -n -c 3 -i 0.2 -W 3 "$t" 2>&1 | sed "s|^|$t |"
done
EOF
chmod +x "$TMP/pings.sh"

# pasta_pings NAME PASTA-ARGS... -- TARGETS...: runs pings.sh in a spawned
# namespace; output in $TMP/NAME.out, pasta's log in $TMP/NAME.log.
pasta_pings() {
  local name=$1; shift
  local args=()
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  local rc=0
  timeout 60 "$PASTA_BIN" --config-net "${args[@]}" -- "$TMP/pings.sh" "$@" \
    >"$TMP/$name.out" 2>"$TMP/$name.log" </dev/null || rc=$?
  [ "$rc" = 0 ] || fail "$name: pasta exited with status $rc"
}
# received NAME TARGET: the "N received" count of TARGET's summary.
received() {
  sed -n "s|^$2 .* \\([0-9]*\\) received.*|\\1|p" "$TMP/$1.out" | head -n 1
}
expect_replies() {   # expect_replies NAME TARGET N
  local got
  got=$(received "$1" "$2")
  [ "$got" = "$3" ] || { cat "$TMP/$1.out" >&2; fail "$1: ping $2: '${got:-no summary}' received, expected $3"; }
  ! grep -q "^$2 .*DUP!" "$TMP/$1.out" || { cat "$TMP/$1.out" >&2; fail "$1: ping $2: duplicated replies"; }
}

TARGETS=(203.0.113.1 2001:db8:1::1 198.51.100.254 2001:db8::ff)
pasta_pings pasta -- "${TARGETS[@]}" 198.51.100.77
for t in "${TARGETS[@]}"; do expect_replies pasta "$t" 3; done
expect_replies pasta 198.51.100.77 0
ok "pasta: ping -c 3 to 203.0.113.1, 2001:db8:1::1 and the gateways: 3 replies each, no DUP!"
ok "pasta: 198.51.100.77 (nobody there): no reply"
[ "$V6_GW_CHECK" = 1 ] ||
  log "note: the dead end cannot ignore ICMPv6 pings here; the IPv6 gateway check does not prove the mapping"
! grep -qi "ping" "$TMP/pasta.log" || fail "pasta warned about ping sockets although they work: $(cat "$TMP/pasta.log")"

# --trace: every frame both ways, one line each (wire::frame_summary).
pasta_pings trace --trace -- 203.0.113.1
expect_replies trace 203.0.113.1 3
n_in=$(grep -c "tap in: IPv4 ICMP 198.51.100.1 > 203.0.113.1 type 8 code 0 len 64" "$TMP/trace.log" || true)
n_out=$(grep -c "tap out: IPv4 ICMP 203.0.113.1 > 198.51.100.1 type 0 code 0 len 64" "$TMP/trace.log" || true)
[ "$n_in" = 3 ] && [ "$n_out" = 3 ] ||
  fail "--trace: $n_in echo requests and $n_out replies traced, expected 3 and 3: $(grep 'tap ' "$TMP/trace.log" | head -20)"
! grep -q "tap in:" "$TMP/pasta.log" || fail "frames traced without --trace"
ok "pasta --trace: each echo request and reply traced (tap in / tap out)"

pasta_pings noicmp --no-icmp -- 203.0.113.1 2001:db8:1::1
expect_replies noicmp 203.0.113.1 0
expect_replies noicmp 2001:db8:1::1 0
ok "pasta --no-icmp: no replies"

# --- passt: the qemu socket ----------------------------------------------------
SOCK=$TMP/passt.sock
"$PASST_BIN" -f -s "$SOCK" </dev/null >"$TMP/passt.log" 2>&1 &
PASST_PID=$!
wait_until 5 test -S "$SOCK" || fail "passt did not create $SOCK within 5 s"
python3 "$IT_TOOLS/icmp_peer.py" --socket "$SOCK" --count 3 \
  203.0.113.1 2001:db8:1::1 198.51.100.254 '!198.51.100.77' >&2 || fail "passt: echo through ping sockets"
kill -TERM "$PASST_PID"
wait_exit 5 "$PASST_PID"
[ "$WAIT_RC" = 0 ] || fail "passt: SIGTERM gave exit status $WAIT_RC"
ok "passt: echo replies to 203.0.113.1, 2001:db8:1::1 and the gateway, field by field"

# --- ping_group_range without our group ---------------------------------------
# Only gid 0 is mapped in the test's user namespace, so "0 0" is the only
# range we could write; a fresh network namespace starts with the kernel's
# default "1 0" (nobody).  pasta's host side is such a namespace here: lo
# with 203.0.113.1 and an uplink to copy: a veth pair with both ends in
# there (nothing is reachable through it).
cat >"$TMP/denied_host.sh" <<'EOF'
#!/bin/sh
set -e
ip link set lo up
ip addr add 203.0.113.1/32 dev lo
ip link add up0 type veth peer name up0p
ip addr add 198.51.100.1/24 dev up0
ip link set up0p up
ip link set up0 up
ip route add default via 198.51.100.254 dev up0
exec "$@"
EOF
chmod +x "$TMP/denied_host.sh"
rc=0
timeout 60 unshare --net "$TMP/denied_host.sh" "$PASTA_BIN" -4 --config-net -- "$TMP/pings.sh" \
  203.0.113.1 198.51.100.254 >"$TMP/denied.out" 2>"$TMP/denied.log" </dev/null || rc=$?
[ "$rc" = 0 ] || fail "denied: pasta exited with status $rc"
expect_replies denied 203.0.113.1 0
expect_replies denied 198.51.100.254 0
grep "ping_group_range" "$TMP/denied.log" | sed 's/^/[pasta] /' >&2 || true
n=$(grep -c "echo requests from the guest are dropped" "$TMP/denied.log" || true)
[ "$n" = 1 ] || fail "expected one warning for 6 dropped echo requests, got $n: $(cat "$TMP/denied.log")"
ok "ping_group_range \"1 0\": no replies, one warning for 6 requests"

rc=0
timeout 20 unshare --net "$TMP/denied_host.sh" "$PASTA_BIN" -4 --quiet --config-net -- true \
  >"$TMP/quiet.out" 2>"$TMP/quiet.log" </dev/null || rc=$?
[ "$rc" = 0 ] || fail "pasta --quiet -- true: status $rc"
[ ! -s "$TMP/quiet.log" ] || fail "pasta --quiet without pings wrote: $(cat "$TMP/quiet.log")"
ok "pasta --quiet, ping sockets unavailable, no pings: silent"
log "PASS"
