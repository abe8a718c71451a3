# shellcheck shell=bash
# Shared part of integration/test_matrix_*.sh (sourced after lib/common.sh,
# enter_outer_ns and lib/passt.sh).  Transfers go through tools/xfer.py:
# the client's single line says whether the data arrived intact both ways,
# which address the server saw and which port it was reached on.
#
# Where the peers are (lib/common.sh's network):
#   outer  the "host": up0 198.51.100.1/24 2001:db8::1/64, lo 127.0.0.1 ::1
#          203.0.113.1 2001:db8:1::1
#   far    the dead end, given 198.51.100.77 and 2001:db8::77 here: a
#          remote peer reaching the host's uplink address through up0 (the
#          tap path; pasta must keep its address as the source)
#   ns     the namespace pasta serves (--config-net: 198.51.100.1/24 and
#          2001:db8::1/64, gateways 198.51.100.254 and 2001:db8::ff)

XFER=$IT_TOOLS/xfer.py
FAR4=198.51.100.77
FAR6=2001:db8::77
HOST4=198.51.100.1
HOST6=2001:db8::1
GW4=198.51.100.254
GW6=2001:db8::ff
K2=2048
M10=$((10 * 1024 * 1024))

# far_peer_setup: the dead end's extra addresses (once per test).
far_peer_setup() {
  in_deadend ip addr add "$FAR4/24" dev up0p
  in_deadend ip -6 addr add "$FAR6/64" dev up0p nodad
}

MX_N=0
# mx_pasta ARGS...: a daemonised pasta --config-net on a fresh test-made
# namespace ($NETNS); its pid file $MX_PIDFILE, its log $MX_LOG.
mx_pasta() {
  MX_N=$((MX_N + 1))
  new_netns "mx$MX_N"
  MX_PIDFILE=$TMP/pasta$MX_N.pid
  MX_LOG=$TMP/pasta$MX_N.log
  "$PASTA_BIN" --config-net -P "$MX_PIDFILE" -l "$MX_LOG" "$@" --netns "$NETNS" \
    >"$TMP/pasta$MX_N.out" 2>&1 </dev/null ||
    fail "pasta $* exited with status $?: $(cat "$TMP/pasta$MX_N.out")"
}
mx_stop() { stop_pidfile "$MX_PIDFILE"; }

# ns_servers PROTO ADDR PORTS [ADDR PORTS...]: xfer.py servers in $NETNS
# (PORTS comma-separated); waits until all are bound.
ns_servers() {
  local proto=$1; shift
  in_netns "$NETNS" python3 "$XFER" "$proto-serve" "$@" >>"$TMP/servers.log" 2>&1 &
  local ports
  ports=$(printf '%s\n' "$@" | awk 'NR % 2 == 0' | tr ',\n' '  ')
  # shellcheck disable=SC2086
  wait_until 10 in_netns "$NETNS" python3 "$XFER" ready "$proto" any $ports ||
    fail "$proto servers in the namespace did not start on $ports"
}
# host_servers PROTO ADDR PORTS [ADDR PORTS...]: the same in the outer namespace.
host_servers() {
  local proto=$1; shift
  python3 "$XFER" "$proto-serve" "$@" >>"$TMP/servers.log" 2>&1 &
  local ports
  ports=$(printf '%s\n' "$@" | awk 'NR % 2 == 0' | tr ',\n' '  ')
  # shellcheck disable=SC2086
  wait_until 10 python3 "$XFER" ready "$proto" any $ports ||
    fail "$proto servers in the outer namespace did not start on $ports"
}

# run_at WHERE CMD...: CMD in the outer namespace (outer), the dead end
# (far) or pasta's namespace (ns).
run_at() {
  local where=$1; shift
  case $where in
  outer) "$@" ;;
  far) in_deadend "$@" ;;
  ns) in_netns "$NETNS" "$@" ;;
  *) fail "run_at: unknown place $where" ;;
  esac
}

ROWS=0
# row NAME WHERE PROTO HOST PORT SIZE WANT_PEER WANT_PORT [--bind ADDR]:
# one checked transfer from WHERE to HOST:PORT.  TCP: SIZE bytes each way;
# UDP: one SIZE-byte datagram and its echo.  The server must have seen
# WANT_PEER ("*": any) and been reached on WANT_PORT.
row() {
  local name=$1 where=$2 proto=$3 host=$4 port=$5 size=$6 want_peer=$7 want_port=$8; shift 8
  local got args
  if [ "$proto" = tcp ]; then args=(tcp "$host" "$port" "$size" "$size"); else args=(udp "$host" "$port" "$size"); fi
  got=$(run_at "$where" timeout 90 python3 "$XFER" "${args[@]}" --timeout 60 "$@" 2>&1) || true
  case $got in
  "ok peer=$want_peer port=$want_port") ;;
  "ok peer="*" port=$want_port") [ "$want_peer" = "*" ] ||
    fail "$name: $proto $host:$port ($size bytes) from $where: the server saw the peer as ${got#ok peer=}, expected $want_peer" ;;
  *) fail "$name: $proto $host:$port ($size bytes) from $where: $got (expected the server on port $want_port${want_peer:+, peer $want_peer})" ;;
  esac
  ROWS=$((ROWS + 1))
  ok "$name: $proto $size bytes via $host:$port from $where: ${got#ok }"
}

# no_row NAME WHERE PROTO HOST PORT: that transfer must fail (nothing
# forwards there); UDP waits 2 s for an answer that must not come.
no_row() {
  local name=$1 where=$2 proto=$3 host=$4 port=$5; shift 5
  local got args
  if [ "$proto" = tcp ]; then args=(tcp "$host" "$port" 16 16); else args=(udp "$host" "$port" 16); fi
  got=$(run_at "$where" timeout 20 python3 "$XFER" "${args[@]}" --timeout 2 "$@" 2>&1) || true
  case $got in
  ok*) fail "$name: $proto $host:$port from $where answered ($got); it must not be forwarded" ;;
  esac
  ok "$name: $proto $host:$port from $where not forwarded (${got#error: })"
}
