#!/usr/bin/env bash
# TCP port forwarding and address mapping with the real pasta binary
# (upstream-behaviour.md 1.4-1.7, 2.3), in namespaces the test makes
# (lib/common.sh: the outer namespace plays the host, documentation
# addresses only).  pasta serves a Podman-style namespace (--netns FILE,
# --config-net): the namespace is a copy of the host's up0, 198.51.100.1/24
# and 2001:db8::1/64, default routes via 198.51.100.254 and 2001:db8::ff.
#
# Covered:
#  * -t: single port with translation, ranges (translated), dual stack
#    (IPv4 and IPv6 clients on one listener), address-bound (ADDR/ and
#    Podman's 127.0.0.1/8080-8080:80-80), interface-bound (%up0/: reached
#    through up0 only), source address of the peer preserved on the tap
#    path, loopback peers rewritten to the gateway (--no-splice: the tap
#    path), binding failures (strict: fatal with upstream's message; weak
#    "~" exclusions: tolerated);
#  * -t auto: a port bound in the namespace after start-up is forwarded
#    within about a second, and dropped again when it closes; -T auto does
#    not bind our own -t listeners back;
#  * -T: listeners on the namespace's 127.0.0.1 and ::1, a connection
#    reaching a server on the host's loopback at the translated port (once
#    the splice data mover is in; until then the listener and accept part);
#  * mapping of guest connections: the gateway reaches the host's loopback
#    by default, --map-host-loopback ADDR, --no-map-gw, --dns-forward with
#    --dns-host (TCP 53 and 853), -o / --outbound-if4.
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need socat ss ip timeout

HOST4=198.51.100.1
HOST6=2001:db8::1
GW4=198.51.100.254
OTHER4=203.0.113.1   # an address on the outer namespace's lo

PASTA_N=0
# start_pasta ARGS...: a daemonised pasta for a fresh namespace ($NETNS),
# its pid in $PASTA_PID.  Extra arguments come before --netns.
start_pasta() {
  PASTA_N=$((PASTA_N + 1))
  new_netns "fwd$PASTA_N"
  PASTA_LOG=$TMP/pasta$PASTA_N.log
  "$PASTA_BIN" --config-net -P "$TMP/pasta$PASTA_N.pid" -l "$PASTA_LOG" -d "$@" --netns "$NETNS" \
    >"$TMP/pasta$PASTA_N.out" 2>&1 || fail "pasta $* exited with status $?: $(cat "$TMP/pasta$PASTA_N.out")"
  PASTA_PID=$(cat "$TMP/pasta$PASTA_N.pid")
}
stop_pasta() { stop_pidfile "$TMP/pasta$PASTA_N.pid"; }

# listening WHERE PORT: is something listening on TCP PORT (WHERE: host|ns)?
listening() {
  local out
  if [ "$1" = ns ]; then out=$(in_netns "$NETNS" ss -Hltn "sport = :$2"); else out=$(ss -Hltn "sport = :$2"); fi
  [ -n "$out" ]
}
not_listening() { ! listening "$@"; }

# ns_server PORT: a server in the namespace (both families) answering each
# connection with "peer=ADDR local=PORT" of what it sees.
# Its pid: $NS_SERVER_PID (nsenter executes socat: no extra process).
ns_server() {
  nsenter --net="$NETNS" socat TCP6-LISTEN:"$1",ipv6only=0,reuseaddr,fork \
    SYSTEM:'echo peer=$SOCAT_PEERADDR local=$SOCAT_SOCKPORT' >/dev/null 2>&1 &
  NS_SERVER_PID=$!
  wait_until 5 listening ns "$1" || fail "namespace server on $1 did not start"
}
# host_server ADDR PORT TEXT: the same on the outer side, bound to ADDR.
host_server() {
  socat TCP-LISTEN:"$2",bind="$1",reuseaddr,fork SYSTEM:"echo $3 peer=\$SOCAT_PEERADDR" >/dev/null 2>&1 &
  wait_until 5 listening host "$2" || fail "host server on $1:$2 did not start"
}
# fetch [IN_NS] ADDRESS... : the first line a socat client gets (5 s bound).
fetch() {
  if [ "$1" = ns ]; then shift; in_netns "$NETNS" timeout 5 socat -u "$@" - 2>/dev/null | head -n1 || true
  else timeout 5 socat -u "$@" - 2>/dev/null | head -n1 || true; fi
}
# peer "peer=ADDR local=PORT": ADDR in its short form (socat writes IPv6
# in full, IPv4 peers of a dual-stack socket v4-mapped).
peer() {
  python3 - "$1" <<'PY'
import ipaddress, sys
w = sys.argv[1].split()
a = w[0].split("=", 1)[1].strip("[]") if w and w[0].startswith("peer=") else ""
try:
    ip = ipaddress.ip_address(a)
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    print(ip)
except ValueError:
    print(a)
PY
}
local_port() { echo "${1##* local=}"; }
expect() {  # expect WHAT GOT WANTED
  [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
  ok "$1"
}

# --- -t: ports, ranges, translation, dual stack, source preserved -----------------
start_pasta -t 8080:80 -t 9100-9101:9200-9201 -t 9300 -u none -T none -U none
ns_server 80
ns_server 9201
ns_server 9300
got=$(fetch "TCP:$HOST4:8080,bind=$OTHER4")
expect "-t 8080:80 from $OTHER4: the guest sees the real source" "$(peer "$got")" "$OTHER4"
expect "-t 8080:80 reaches port 80" "$(local_port "$got")" 80
got=$(fetch "TCP:$HOST4:9101,bind=$OTHER4")
expect "-t 9100-9101:9200-9201: 9101 reaches 9201" "$(peer "$got") $(local_port "$got")" "$OTHER4 9201"
got=$(fetch "TCP6:[$HOST6]:9300")
# The host's own address is the guest's: it appears as our link-local
# address (IPv6 has no gateway mapping for it).
[ -n "$got" ] || fail "-t 9300: no answer over IPv6"
ok "-t 9300: one dual-stack listener answers IPv6 ($got)"
got=$(fetch "TCP4:$HOST4:9300,bind=$OTHER4")
expect "-t 9300 over IPv4" "$(peer "$got")" "$OTHER4"
[ "$(ss -Hltn "sport = :9300" | wc -l)" = 1 ] || fail "-t 9300: expected one dual-stack listener"
ok "-t 9300: a single [::] listener"
stop_pasta

# --- loopback peers: rewritten to the gateway (tap path) -----------------------------
start_pasta --no-splice -t 9010 -u none -T none -U none
ns_server 9010
got=$(fetch "TCP4:127.0.0.1:9010")
expect "127.0.0.1 peer appears as the gateway (map_host_loopback)" "$(peer "$got")" "$GW4"
got=$(fetch "TCP6:[::1]:9010")
expect "::1 peer appears as the IPv6 gateway" "$(peer "$got")" "2001:db8::ff"
stop_pasta

# --- address-bound and interface-bound -----------------------------------------------
start_pasta -t "$OTHER4/9020" -t 127.0.0.1/8081-8081:80-80 -t %up0/9030 -u none -T none -U none
ns_server 80
ns_server 9020
ns_server 9030
got=$(fetch "TCP:$OTHER4:9020")
[ -n "$got" ] || fail "-t $OTHER4/9020: no answer on $OTHER4"
got=$(fetch "TCP:$HOST4:9020")
[ -z "$got" ] || fail "-t $OTHER4/9020 answered on $HOST4"
ok "-t $OTHER4/9020: bound to that address only"
got=$(fetch "TCP:127.0.0.1:8081")
expect "Podman's -t 127.0.0.1/8081-8081:80-80" "$(local_port "$got")" 80
got=$(fetch "TCP:$HOST4:8081")
[ -z "$got" ] || fail "-t 127.0.0.1/8081 answered on $HOST4"
ok "-t 127.0.0.1/8081: loopback only"
# %up0: only connections for up0 (from the dead end, or to up0's address),
# not those for lo's addresses (the kernel matches a local connection by
# the device owning the destination address).
got=$(in_deadend timeout 5 socat -u "TCP:$HOST4:9030" - 2>/dev/null | head -n1 || true)
expect "-t %up0/9030 through up0: the peer is the dead end" "$(peer "$got")" "$GW4"
got=$(fetch "TCP:127.0.0.1:9030")
[ -z "$got" ] || fail "-t %up0/9030 answered a connection to 127.0.0.1"
got=$(fetch "TCP:$OTHER4:9030")
[ -z "$got" ] || fail "-t %up0/9030 answered a connection to $OTHER4 (on lo)"
ok "-t %up0/9030: bound to up0 (SO_BINDTODEVICE)"
stop_pasta

# --- binding failures ----------------------------------------------------------------------
socat TCP-LISTEN:9040,bind=$OTHER4,reuseaddr SYSTEM:true >/dev/null 2>&1 &
TAKEN=$!
wait_until 5 listening host 9040 || fail "could not take port 9040"
new_netns fail1
rc=0
"$PASTA_BIN" --config-net -f -t "$OTHER4/9040" -u none -T none -U none --netns "$NETNS" \
  >"$TMP/fail1.out" 2>&1 </dev/null || rc=$?
[ "$rc" = 1 ] || fail "strict -t on a taken port: exit status $rc, expected 1"
grep -qF "Failed to bind port 9040 (Address already in use) for option '-t $OTHER4/9040', exiting" "$TMP/fail1.out" ||
  fail "strict -t on a taken port: message: $(cat "$TMP/fail1.out")"
ok "strict -t on a taken port: exit 1, upstream's message"
# Exclusions only: every non-ephemeral port (here 32701-32767: the outer
# namespace's ip_local_port_range starts at 32768) but the excluded; a
# taken one is tolerated.
[ "$(sysctl -n net.ipv4.ip_local_port_range | awk '{print $1}')" = 32768 ] ||
  sysctl -qw net.ipv4.ip_local_port_range="32768 60999"
socat TCP-LISTEN:32750,reuseaddr SYSTEM:true >/dev/null 2>&1 &
wait_until 5 listening host 32750 || fail "could not take port 32750"
start_pasta -t "~1-32700" -u none -T none -U none
listening host 32701 && listening host 32767 || fail "-t ~1-32700: 32701 and 32767 not bound"
ok "-t ~1-32700: binds 32701-32767, tolerating the taken 32750"
stop_pasta
kill "$TAKEN" 2>/dev/null || true

# --- -t auto / -T auto -------------------------------------------------------------------------
# Twice: with the scan pasta picks (socket diagnostics) and with its /proc/net
# fallback (PASTA_NO_SOCK_DIAG); each run checks in the debug log which one
# it used.
auto_forwarding() {  # auto_forwarding LABEL EXPECTED-LOG-LINE
  local what=$1 want=$2
  start_pasta -t auto -T auto -u none -U none
  grep -q "$want" "$PASTA_LOG" || fail "$what: pasta did not log '$want'"
  # -T auto: the host's 9050 is bound on the namespace's loopback ...
  wait_until 3 listening ns 9050 || fail "$what: -T auto: host port 9050 not bound in the namespace"
  ok "$what: -T auto: the host's listening port 9050 appears in the namespace"
  # ... and -t auto does not bind it back on the host (our own listener).
  sleep 1.5
  [ "$(ss -Hltnp "sport = :9050" | grep -vc socat)" = 0 ] || fail "$what: -t auto bound our own -T port 9050 on the host"
  ok "$what: -t auto leaves our own -T listener alone"
  ns_server 9060
  t0=$(now_ms)
  wait_until 3 listening host 9060 || fail "$what: -t auto: namespace port 9060 not forwarded within 3 s"
  t1=$(now_ms)
  log "$what: -t auto: port 9060 forwarded $((t1 - t0)) ms after the namespace bound it"
  [ $((t1 - t0)) -le 1500 ] || fail "$what: -t auto took $((t1 - t0)) ms (upstream: scans every second)"
  got=$(fetch "TCP:$HOST4:9060,bind=$OTHER4")
  expect "$what: -t auto: a connection to 9060 reaches the namespace" "$(peer "$got")" "$OTHER4"
  kill "$NS_SERVER_PID"
  wait_until 3 not_listening host 9060 || fail "$what: -t auto: port 9060 still forwarded after it closed"
  ok "$what: -t auto: the forward goes when the namespace's port closes"
  stop_pasta
}
host_server 127.0.0.1 9050 host9050
auto_forwarding "sock_diag" "Port scan: socket diagnostics"
PASTA_NO_SOCK_DIAG=1 auto_forwarding "/proc/net" "Port scan: /proc/net"

# --- -T: the namespace's loopback to the host's ---------------------------------------------
host_server 127.0.0.1 9070 host9070
start_pasta -T 9080:9070 -t none -u none -U none
wait_until 3 listening ns 9080 || fail "-T 9080:9070: nothing listens on 9080 in the namespace"
[ "$(in_netns "$NETNS" ss -Hltn "sport = :9080" | awk '{print $4}' | sort | tr '\n' ' ')" = "127.0.0.1:9080 [::1]:9080 " ] ||
  fail "-T 9080: expected 127.0.0.1 and ::1 listeners, got: $(in_netns "$NETNS" ss -Hltn "sport = :9080")"
ok "-T 9080: listeners on 127.0.0.1 and ::1 in the namespace"
got=$(fetch ns "TCP:127.0.0.1:9080")
if [ -n "$got" ]; then
  expect "-T 9080:9070 reaches the host's loopback server" "${got% peer=*}" host9070
else
  # No splice data mover yet: the connection is accepted and refused.
  grep -q "no loopback data mover" "$PASTA_LOG" || fail "-T 9080: no answer and no reason in the log"
  ok "-T 9080: accepted (refused until the splice data mover lands)"
fi
stop_pasta

# --- guest connections: host loopback mapping, DNS ------------------------------------------
host_server 127.0.0.1 9090 loopback
start_pasta -t none -u none -T none -U none
got=$(fetch ns "TCP:$GW4:9090")
expect "the gateway reaches the host's loopback" "$got" "loopback peer=127.0.0.1"
stop_pasta

start_pasta --map-host-loopback 192.0.2.1 -t none -u none -T none -U none
got=$(fetch ns "TCP:192.0.2.1:9090")
expect "--map-host-loopback 192.0.2.1 reaches the host's loopback" "${got% peer=*}" loopback
got=$(fetch ns "TCP:$GW4:9090")
[ -z "$got" ] || fail "--map-host-loopback 192.0.2.1: the gateway still reaches the host's loopback"
ok "--map-host-loopback: the gateway is no longer mapped"
stop_pasta

start_pasta --no-map-gw -t none -u none -T none -U none
got=$(fetch ns "TCP:$GW4:9090")
[ -z "$got" ] || fail "--no-map-gw: the gateway still reaches the host's loopback"
ok "--no-map-gw: the gateway is not mapped"
stop_pasta

host_server 127.0.0.1 53 dns53
host_server 127.0.0.1 853 dns853
start_pasta --dns-forward 192.0.2.53 --dns-host 127.0.0.1 -t none -u none -T none -U none
got=$(fetch ns "TCP:192.0.2.53:53")
expect "--dns-forward: TCP 53 reaches --dns-host" "${got% peer=*}" dns53
got=$(fetch ns "TCP:192.0.2.53:853")
expect "--dns-forward: TCP 853 reaches --dns-host" "${got% peer=*}" dns853
stop_pasta

# --- outbound source: -o, --outbound-if4 ------------------------------------------------------
host_server "$OTHER4" 9095 other
start_pasta -o "$HOST4" -t none -u none -T none -U none
got=$(fetch ns "TCP:$OTHER4:9095")
expect "-o $HOST4: the host sees that source" "$got" "other peer=$HOST4"
stop_pasta
in_deadend ip addr add 198.51.100.253/24 dev up0p
in_deadend socat TCP-LISTEN:9096,reuseaddr,fork SYSTEM:'echo deadend peer=$SOCAT_PEERADDR' >/dev/null 2>&1 &
wait_until 5 sh -c "nsenter --net=/proc/$DEADEND_PID/ns/net ss -Hltn 'sport = :9096' | grep -q ." ||
  fail "dead-end server did not start"
start_pasta --outbound-if4 up0 -t none -u none -T none -U none
got=$(fetch ns "TCP:198.51.100.253:9096")
expect "--outbound-if4 up0: out through up0" "$got" "deadend peer=$HOST4"
stop_pasta
log "PASS"
