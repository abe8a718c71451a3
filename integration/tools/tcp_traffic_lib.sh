# shellcheck shell=bash disable=SC2034
# Shared by integration/test_tcp_traffic*.sh (sourced after lib/common.sh,
# enter_outer_ns and lib/passt.sh): pasta on a test-made namespace, traffic
# through its tap in both directions.
#
#   outer namespace ("host")            pasta's namespace (--config-net)
#   lo  203.0.113.1, 2001:db8:1::1      up0 (tap) 198.51.100.1/24, 2001:db8::1/64
#   up0 198.51.100.1, 2001:db8::1       default via 198.51.100.254 / 2001:db8::ff
#
# namespace -> host: a namespace client connects to the host's lo aliases
#   (HOST4, HOST6): routed into the tap, pasta connects on the host.
# host -> namespace: a host client bound to HOST4/HOST6 connects to the
#   namespace's address (NS4, NS6) at a -t port: pasta accepts and opens the
#   connection to the namespace through the tap (a non-loopback client is
#   never spliced).

HOST4=203.0.113.1
HOST6=2001:db8:1::1
NS4=198.51.100.1
NS6=2001:db8::1
TRAFFIC_PY=$IT_TOOLS/tcp_traffic.py

PASTA_N=0
# start_pasta ARGS...: a daemonised pasta --config-net on a fresh namespace
# ($NETNS), ARGS before --netns; pid in $PASTA_PID, log in $PASTA_LOG.
# port_bindable PORT: a dual-stack listener with SO_REUSEADDR (as pasta's
# -t) could bind PORT on the host now.
port_bindable() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
s.listen(1)
PY
}

start_pasta() {
  # The previous pasta's listeners must be closed: pid_gone waits for its
  # last thread (docs/integration-tests.md, "A quick restart"); a guard,
  # bounded, that logs what still holds a -t port.
  local a prev=""
  for a in "$@"; do
    if [ "$prev" = -t ] && [[ "$a" =~ ^[0-9]+$ ]] && ! port_bindable "$a" 2>/dev/null; then
      log "port $a not bindable yet: $(ss -tanpe "sport = :$a" 2>&1 | head -n 8 | tr '\n' ';')"
      wait_until 5 port_bindable "$a" || fail "port $a still not bindable 5 s after the previous pasta"
    fi
    prev=$a
  done
  PASTA_N=$((PASTA_N + 1))
  new_netns "traffic$PASTA_N"
  PASTA_LOG=$TMP/pasta$PASTA_N.log
  "$PASTA_BIN" --config-net -P "$TMP/pasta$PASTA_N.pid" -l "$PASTA_LOG" -u none -T none -U none \
    "$@" --netns "$NETNS" >"$TMP/pasta$PASTA_N.out" 2>&1 ||
    fail "pasta $* exited with status $?: $(cat "$TMP/pasta$PASTA_N.out")"
  PASTA_PID=$(cat "$TMP/pasta$PASTA_N.pid")
  # The routes through the tap are there once pasta returns; the link-local
  # address (IPv6 neighbour of the gateway) may take a moment.
  wait_until 5 in_netns "$NETNS" sh -c 'ip -6 route show default | grep -q via' ||
    fail "pasta: no IPv6 default route in the namespace"
}
stop_pasta() {
  kill -0 "$PASTA_PID" 2>/dev/null || fail "pasta (pid $PASTA_PID) died during the test"
  stop_pidfile "$TMP/pasta$PASTA_N.pid"
}
pasta_alive() { kill -0 "$PASTA_PID" 2>/dev/null || fail "pasta (pid $PASTA_PID) exited; log: $(tail -n 20 "$PASTA_LOG")"; }

# in_ns CMD...: CMD in pasta's namespace.
in_ns() { in_netns "$NETNS" "$@"; }

# listening_on WHERE PORT: a TCP listener on PORT (WHERE: host|ns).
listening_on() {
  if [ "$1" = ns ]; then [ -n "$(in_ns ss -Hltn "sport = :$2")" ]; else [ -n "$(ss -Hltn "sport = :$2")" ]; fi
}

# ns_counter NAME: a TCP counter of pasta's namespace (nstat -s: the history
# file is not touched, absolute values).
ns_counter() { in_ns nstat -saz "$1" | awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'; }
host_counter() { nstat -saz "$1" | awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'; }

# traffic_server WHERE BIND PORT LOG: tcp_traffic.py's server in the
# namespace (ns) or on the host (host); waits until it listens.
traffic_server() {
  local where=$1 bind=$2 port=$3 log=$4
  : >"$log"
  if [ "$where" = ns ]; then
    in_ns python3 "$TRAFFIC_PY" server "$bind" "$port" "$log" &
  else
    python3 "$TRAFFIC_PY" server "$bind" "$port" "$log" &
  fi
  wait_until 10 listening_on "$where" "$port" || fail "traffic server on $where $bind:$port did not start"
}

# snap FILE: every TCP counter of both sides; deltas FILE0 FILE1: those
# telling of losses, reordering, timeouts and probes that moved, as
# "ns:Name+N host:Name+N ...".
snap() { { in_ns nstat -saz | sed 's/^/ns:/'; nstat -saz | sed 's/^/host:/'; } >"$1"; }
deltas() {
  awk 'NR == FNR { v[$1] = $2; next }
       $1 ~ /:(TcpExtTCPTimeouts|TcpRetransSegs|TcpExtTCPRcvQDrop|TcpExtPruneCalled|TcpExtTCPRcvCollapsed|TcpExtTCPLossProbes|TcpExtTCPZeroWindowDrop|TcpExtTCPBacklogDrop|TcpExtTCPWinProbe|TcpExtTCPSpuriousRTOs|TcpExtTCPOFOQueue|TcpExtTCPSACKReorder|TcpExtTCPDSACKOldSent|TcpExtTCPDSACKOfoSent|TcpExtDelayedACKLost)$/ &&
       $2 != v[$1] { printf "%s%s+%d", sep, $1, $2 - v[$1]; sep = " " }' "$1" "$2"
}

# tap_drops: frames the namespace's tap dropped on their way to pasta (its
# TX queue was full: pasta did not read them in time).
tap_drops() {
  in_ns ip -s -j link show up0 | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["dropped"])'
}
