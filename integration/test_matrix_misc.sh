#!/usr/bin/env bash
# Integration matrix, the rest (issue 5, Deliver 7), pasta --config-net
# daemons on test-made namespaces (tools/matrix_lib.sh, tools/xfer.py):
#
#  * -T (the namespace's loopback to the host's): single port, range,
#    translated port, translated range; clients on the namespace's
#    127.0.0.1 and ::1, servers on the host's, 2 KiB and 10 MiB both ways
#    checked by SHA-256 (test_splice.sh has the close orders of one -T port).
#  * auto: -t auto forwards a TCP port bound in the namespace after start-up
#    within ~1 s (measured from the server's bind by a watcher already
#    running), carries 2 KiB and 10 MiB from a remote peer (tap) and from
#    the host's loopback (spliced), and drops it when the server closes;
#    -T auto the same for a port bound on the host.
#  * DNS forwarding: --dns-forward 192.0.2.53 --dns-host 203.0.113.1 and
#    --dns-forward 2001:db8:53::53 --dns-host 2001:db8:1::1, a resolver stub
#    (xfer.py dns-serve) on the host answering one A question; the namespace
#    asks ADDR port 53 over UDP and TCP; the stub must see the question.
#  * ping from the namespace to the gateway, IPv4 and IPv6 (echo through the
#    host's ping sockets: the dead end ignores pings, so the replies come
#    from the host's loopback that the gateway maps to).
#  * Podman: its exact default argument line (clients.md), as
#    test_pasta_podman.sh starts it, here checked for what a container then
#    does: DNS through 169.254.1.1 (to the first resolv.conf nameserver,
#    198.51.100.53, where a stub listens), the host reached at 169.254.1.2
#    (--map-guest-addr), the gateway not reaching the host's loopback
#    (--no-map-gw).  Then Podman's line with published ports (its range
#    form: -t 8080-8080:80-80, -t 127.0.0.1/8081-8081:81-81, -u
#    8080-8080:80-80): transfers through them; a host program binding
#    127.0.0.1:8080 gets EADDRINUSE; removing the netns file makes pasta exit
#    within 1 s and frees the ports, so the same line on a new namespace
#    (podman restart) binds them again.
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need python3 ip timeout ping
. "$IT_TOOLS/matrix_lib.sh"

far_peer_setup
BIG=$M10
upstream_only "Debian's 2023 pasta loses the end of a 10 MiB answer closed right after it: 2 KiB rows only" || BIG=
if udp_expected; then UDP=1; else UDP=0; log "no UDP handler in the tree yet: the UDP checks are skipped"; fi

# --- -T ------------------------------------------------------------------------
host_servers tcp 127.0.0.1 26001,26010,26011,27020,27030,27031 ::1 26001,26010,26011,27020,27030,27031
mx_pasta -T 26001 -T 26010-26011 -T 26020:27020 -T 26030-26031:27030-27031 -t none -u none -U none
wait_bound ns tcp 5 26001 26010 26011 26020 26030 26031 || fail "-T: listeners did not appear in the namespace"
for L in 127.0.0.1 ::1; do
  for sz in $K2 $BIG; do
    row "-T single ($L)" ns tcp "$L" 26001 $sz "$L" 26001
    row "-T range, first ($L)" ns tcp "$L" 26010 $sz "$L" 26010
    row "-T range, last ($L)" ns tcp "$L" 26011 $sz "$L" 26011
    row "-T translated ($L)" ns tcp "$L" 26020 $sz "$L" 27020
    row "-T translated range ($L)" ns tcp "$L" 26031 $sz "$L" 27031
  done
done
no_row "-T is loopback only" ns tcp "$HOST4" 26001
no_row "-T: next to the range" ns tcp 127.0.0.1 26012
run_rows
mx_stop

# --- -t auto, -T auto: ports bound after start-up -------------------------------------
kill_server() {   # the xfer.py server started for PORT alone
  local p
  for p in $(pids_with_arg "$1"); do
    tr '\0' ' ' <"/proc/$p/cmdline" | grep -q "xfer.py" && kill "$p"
  done
  return 0
}
mx_pasta -t auto -T auto -u none -U none
watch_start outer tcp 3 26101
ns_servers tcp :: 26101
watch_end || fail "-t auto: namespace port 26101 not forwarded within 3 s"
log "-t auto: port 26101 bound on the host $SEEN_DELAY_MS ms after the namespace bound it"
[ "$SEEN_DELAY_MS" -le "$AUTO_LIMIT_MS" ] || fail "-t auto took $SEEN_DELAY_MS ms (upstream: scans every second)"
for sz in $K2 $BIG; do
  row "-t auto, tap (v4)" far tcp "$HOST4" 26101 $sz "$FAR4" 26101 --bind "$FAR4"
  row "-t auto, tap (v6)" far tcp "$HOST6" 26101 $sz "$FAR6" 26101 --bind "$FAR6"
  row "-t auto, spliced (v4)" outer tcp 127.0.0.1 26101 $sz "$([ "$REFERENCE" = 1 ] && echo '*' || echo "$HOST4")" 26101
done
run_rows
kill_server 26101
wait_unbound outer tcp 3 26101 || fail "-t auto: port 26101 still forwarded 3 s after the namespace closed it"
ok "-t auto: the forward goes when the namespace's port closes"

watch_start ns tcp 3 26102
host_servers tcp 127.0.0.1 26102 ::1 26102
watch_end || fail "-T auto: host port 26102 not bound in the namespace within 3 s"
log "-T auto: port 26102 bound in the namespace $SEEN_DELAY_MS ms after the host bound it"
[ "$SEEN_DELAY_MS" -le "$AUTO_LIMIT_MS" ] || fail "-T auto took $SEEN_DELAY_MS ms (upstream: scans every second)"
for sz in $K2 $BIG; do
  row "-T auto (v4)" ns tcp 127.0.0.1 26102 $sz 127.0.0.1 26102
  row "-T auto (v6)" ns tcp ::1 26102 $sz ::1 26102
done
run_rows
kill_server 26102
wait_unbound ns tcp 3 26102 || fail "-T auto: port 26102 still bound in the namespace 3 s after the host closed it"
ok "-T auto: the namespace's port goes when the host's does"
mx_stop

# --- DNS forwarding ----------------------------------------------------------------------
# dns_stub ADDR: a resolver stub on ADDR port 53 (UDP and TCP), its log
# $TMP/dns.ADDR.log.
dns_stub() {
  python3 "$XFER" dns-serve "$1" 53 matrix.example.org 192.0.2.99 >"$TMP/dns.$1.log" 2>&1 &
  wait_until 10 grep -q READY "$TMP/dns.$1.log" || fail "DNS stub on $1: $(cat "$TMP/dns.$1.log")"
}
# dns_check NAME FORWARD STUB: the namespace asks FORWARD over TCP (and
# UDP); the stub on STUB must answer, and log the question.
dns_check() {
  local name=$1 fwd=$2 stub=$3 proto got
  for proto in tcp udp; do
    if [ $proto = udp ] && [ $UDP = 0 ]; then log "$name: the UDP query is skipped (no UDP handler)"; continue; fi
    if [ $proto = tcp ] && ! upstream_only "Debian's 2023 pasta does not forward TCP to --dns-forward"; then continue; fi
    : >"$TMP/dns.$stub.log.mark"
    got=$(in_netns "$NETNS" timeout 20 python3 "$XFER" dns-query "$fwd" matrix.example.org $proto --timeout 5 2>&1) || true
    [ "$got" = "ok 192.0.2.99" ] || fail "$name: $proto query to $fwd:53: $got"
    wait_until 5 grep -q "^$proto .* matrix.example.org$" "$TMP/dns.$stub.log" ||
      fail "$name: the stub on $stub did not log the $proto question: $(cat "$TMP/dns.$stub.log")"
    ok "$name: $proto query to $fwd:53 answered by the stub on $stub"
  done
}
if upstream_only "no --dns-host in Debian's 2023 pasta (Podman's block below uses the default)"; then
  dns_stub 203.0.113.1
  dns_stub 2001:db8:1::1
  mx_pasta --dns-forward 192.0.2.53 --dns-host 203.0.113.1 --dns-forward 2001:db8:53::53 --dns-host 2001:db8:1::1 \
    -t none -u none -T none -U none
  dns_check "--dns-forward (v4)" 192.0.2.53 203.0.113.1
  dns_check "--dns-forward (v6)" 2001:db8:53::53 2001:db8:1::1
  mx_stop
fi

# --- ping to the gateway ------------------------------------------------------------------
sysctl -qw net.ipv4.ping_group_range="0 0"
in_deadend sysctl -qw net.ipv4.icmp_echo_ignore_all=1
in_deadend sysctl -qw net.ipv6.icmp.echo_ignore_all=1 2>/dev/null ||
  log "note: the dead end cannot ignore ICMPv6 pings here; the IPv6 gateway check does not prove the mapping"
mx_pasta -t none -u none -T none -U none
for gw in "$GW4" "$GW6"; do
  upstream_only "Debian's 2023 pasta sends echo requests to the gateway's own address (the dead end, which ignores them)" || break
  out=$(in_netns "$NETNS" timeout 20 ping -n -c 3 -i 0.2 -W 3 "$gw" 2>&1) || true
  echo "$out" | grep -q " 3 received" || fail "ping $gw from the namespace: $out"
  ! echo "$out" | grep -q "DUP!" || fail "ping $gw: duplicated replies: $out"
  ok "ping $gw from the namespace: 3 replies, no duplicates"
done
mx_stop

# --- Podman ----------------------------------------------------------------------------------
# The resolver of the host's resolv.conf (198.51.100.53), on the host.
ip addr add 198.51.100.53/32 dev lo
dns_stub 198.51.100.53
host_servers tcp "$HOST4" 26201
# podman_pasta ARGS...: Podman's line with ARGS (published ports) in front
# of its defaults, on a fresh namespace; run in the foreground, the
# launcher must exit 0 with no output.  Sets NETNS, PODMAN_OUT.
podman_pasta() {
  MX_N=$((MX_N + 1))
  new_netns "podman$MX_N"
  local args=(--config-net "$@" --dns-forward 169.254.1.1)
  local a have_t=0 have_u=0
  for a in "$@"; do case $a in -t) have_t=1 ;; -u) have_u=1 ;; esac; done
  [ $have_t = 1 ] || args+=(-t none)
  [ $have_u = 1 ] || args+=(-u none)
  args+=(-T none -U none --no-map-gw --quiet --netns "$NETNS")
  if upstream_only "no --map-guest-addr (newer Podman retries without it)"; then args+=(--map-guest-addr 169.254.1.2); fi
  log "pasta ${args[*]}"
  PODMAN_OUT=$TMP/podman$MX_N.out
  "$PASTA_BIN" "${args[@]}" >"$PODMAN_OUT" 2>&1 </dev/null || fail "Podman's line: exit status $?: $(cat "$PODMAN_OUT")"
  [ ! -s "$PODMAN_OUT" ] || fail "Podman's line: --quiet, yet pasta wrote: $(cat "$PODMAN_OUT")"
  in_netns "$NETNS" ip -4 -o addr show dev up0 | grep -q " $HOST4/24 " || fail "Podman's line: up0 has no $HOST4/24"
  PODMAN_PID=$(pids_with_arg "$NETNS" | while read -r p; do [ "$p" = "$NETNS_SLEEPER" ] || echo "$p"; done)
  [ "$(echo "$PODMAN_PID" | wc -w)" = 1 ] || fail "Podman's line: pasta processes for $NETNS: '$PODMAN_PID'"
}
podman_pasta
dns_check "Podman: --dns-forward 169.254.1.1" 169.254.1.1 198.51.100.53
if upstream_only "no --map-guest-addr"; then
  row "Podman: --map-guest-addr 169.254.1.2 reaches the host" ns tcp 169.254.1.2 26201 $K2 '*' 26201
fi
host_servers tcp 127.0.0.1 26202
no_row "Podman: --no-map-gw, the gateway does not reach the host's loopback" ns tcp "$GW4" 26202
run_rows
remove_netns "$NETNS"
wait_gone 5 "$PODMAN_PID" || fail "Podman's line: pasta still runs 5 s after the netns file was removed"
ok "Podman's default line: DNS, --map-guest-addr, --no-map-gw; exit after the netns file was removed"

# Published ports, and a restart.
podman_pasta -t 8080-8080:80-80 -t 127.0.0.1/8081-8081:81-81 -u 8080-8080:80-80
ns_servers tcp :: 80,81
[ $UDP = 0 ] || ns_servers udp :: 80
for sz in $K2 $BIG; do
  row "Podman -t 8080-8080:80-80, tap" far tcp "$HOST4" 8080 $sz "$FAR4" 80 --bind "$FAR4"
  row "Podman -t 8080-8080:80-80, tap (v6)" far tcp "$HOST6" 8080 $sz "$FAR6" 80 --bind "$FAR6"
  row "Podman -t 8080-8080:80-80, spliced" outer tcp 127.0.0.1 8080 $sz '*' 80
  row "Podman -t 127.0.0.1/8081-8081:81-81" outer tcp 127.0.0.1 8081 $sz '*' 81
done
if [ $UDP = 1 ]; then
  row "Podman -u 8080-8080:80-80, tap" far udp "$HOST4" 8080 $K2 "$FAR4" 80 --bind "$FAR4"
  if upstream_only "Debian's 2023 pasta did not answer -u 8080-8080:80-80 on the loopback path (not investigated)"; then
    row "Podman -u 8080-8080:80-80, loopback" outer udp 127.0.0.1 8080 $K2 '*' 80
  fi
fi
no_row "Podman -t 127.0.0.1/8081: loopback only" far tcp "$HOST4" 8081 --bind "$FAR4"
run_rows
# bind_test PROTO ADDR PORT: "ok" or the errno name of a bind on the host,
# with SO_REUSEADDR as servers set it (the connections just made leave
# TIME_WAIT sockets on 8080; a listener still blocks such a bind).
bind_test() {
  python3 -c 'import errno, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[2], int(sys.argv[3]))); print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))' "$@"
}
got=$(bind_test tcp 127.0.0.1 8080)
[ "$got" = EADDRINUSE ] || fail "Podman: a host bind to 127.0.0.1:8080 while pasta forwards it: $got, expected EADDRINUSE"
ok "Podman: a host bind to 127.0.0.1:8080 gets EADDRINUSE"
t0=$(now_ms)
remove_netns "$NETNS"
wait_gone 5 "$PODMAN_PID" || fail "Podman: pasta still runs 5 s after the netns file was removed"
t1=$(now_ms)
[ $((t1 - t0)) -le 1000 ] || fail "Podman: pasta took $((t1 - t0)) ms to exit after the netns file was removed"
specs=("tcp 0.0.0.0 8080" "tcp 127.0.0.1 8081")
[ $UDP = 0 ] || specs+=("udp 0.0.0.0 8080")
for spec in "${specs[@]}"; do
  # shellcheck disable=SC2086
  got=$(bind_test $spec)
  [ "$got" = ok ] || fail "Podman: after pasta exited, binding $spec: $got"
done
ok "Podman: pasta exited $((t1 - t0)) ms after the netns file was removed; its ports are free"
kill_server 80
kill_server 81
kill_server 80,81
podman_pasta -t 8080-8080:80-80 -t 127.0.0.1/8081-8081:81-81 -u 8080-8080:80-80
ns_servers tcp :: 80,81
row "Podman restarted: -t 8080-8080:80-80" far tcp "$HOST4" 8080 $K2 "$FAR4" 80 --bind "$FAR4"
row "Podman restarted: -t 127.0.0.1/8081-8081:81-81" outer tcp 127.0.0.1 8081 $K2 '*' 81
run_rows
remove_netns "$NETNS"
wait_gone 5 "$PODMAN_PID" || fail "Podman (restarted): pasta still runs 5 s after the netns file was removed"
ok "Podman restart: the same line binds the same ports again"
log "PASS ($ROWS transfers)"
