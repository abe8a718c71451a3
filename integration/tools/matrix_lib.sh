# shellcheck shell=bash disable=SC2034
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
# How late `auto` may follow (upstream rescans every second; a loaded
# machine adds a few hundred ms).  Debian's 2023 build was seen at 1.5 s.
AUTO_LIMIT_MS=1500
[ "$REFERENCE" = 0 ] || AUTO_LIMIT_MS=2500
# Interface-bound specs (%IF/) are not in Debian's 2023 build.
IFB=1
[ "$REFERENCE" = 0 ] || IFB=0
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

SRV_N=0
# ns_servers PROTO ADDR PORTS [ADDR PORTS...]: xfer.py servers in $NETNS
# (PORTS comma-separated); waits until they are bound, and sets SRV_BOUND_MS
# to the wall clock of that moment (their own report).
ns_servers() { servers_at ns "$@"; }
# host_servers PROTO ADDR PORTS [ADDR PORTS...]: the same in the outer namespace.
host_servers() { servers_at outer "$@"; }
servers_at() {
  local where=$1 proto=$2; shift 2
  SRV_N=$((SRV_N + 1))
  local log=$TMP/server$SRV_N.log
  run_at "$where" python3 "$XFER" "$proto-serve" "$@" >"$log" 2>&1 &
  wait_until 10 grep -q '^bound ' "$log" || fail "$proto servers ($where) on $*: $(cat "$log")"
  SRV_BOUND_MS=$(sed -n 's/^bound //p' "$log")
}
# How fast does `auto` follow?  watch_start WHERE PROTO SECS PORT...
# starts a watcher (running before anything binds: python takes a second to
# start on a loaded machine) that notes when every PORT is bound at WHERE;
# start the server, then watch_end: fails unless the watcher saw the ports
# within SECS; SEEN_DELAY_MS = how long after SRV_BOUND_MS it saw them.
watch_start() {
  local where=$1 proto=$2 secs=$3; shift 3
  WATCH_LOG=$TMP/watch.$SRV_N.log
  bound_at "$where" "$proto" "$secs" "$@" >"$WATCH_LOG" 2>&1 &
  WATCH_PID=$!
  wait_until 10 grep -q '^watching' "$WATCH_LOG" || fail "watcher did not start: $(cat "$WATCH_LOG")"
}
watch_end() {
  wait_exit 30 "$WATCH_PID"
  [ "$WAIT_RC" = 0 ] || return 1
  SEEN_DELAY_MS=$(($(tail -n1 "$WATCH_LOG") - SRV_BOUND_MS))
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

# bound_at WHERE PROTO SECS PORT... [--gone]: waits (at most SECS) until
# every PORT is bound at WHERE (tcp: listening), or with --gone until none is.
bound_at() {
  local where=$1 proto=$2 secs=$3; shift 3
  run_at "$where" timeout $((${secs%.*} + 10)) python3 "$XFER" ready "$proto" any "$@" --wait "$secs"
}
# wait_bound / wait_unbound WHERE PROTO SECS PORT...: bound_at, quietly.
wait_bound() { bound_at "$@" >/dev/null; }
wait_unbound() { bound_at "$@" --gone >/dev/null; }

ROWS=0
# row NAME WHERE PROTO HOST PORT SIZE WANT_PEER WANT_PORT [--bind ADDR]:
# queues one checked transfer from WHERE to HOST:PORT (run_rows runs the
# queue).  TCP: SIZE bytes each way; UDP: one SIZE-byte datagram and its
# echo.  The server must have seen WANT_PEER ("*": any) and been reached on
# WANT_PORT.
row() {
  local name=$1 where=$2 proto=$3 host=$4 port=$5 size=$6 want_peer=$7 want_port=$8 bind=-; shift 8
  [ "${1:-}" != --bind ] || bind=$2
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\tok\n' "$name" "$proto" "$host" "$port" "$size" \
    "$want_peer" "$want_port" "$bind" >>"$TMP/rows.$where"
}
# no_row NAME WHERE PROTO HOST PORT [--bind ADDR]: queues a transfer that
# must fail (nothing forwards there; UDP: no answer within 2 s).
no_row() {
  local name=$1 where=$2 proto=$3 host=$4 port=$5 bind=-; shift 5
  [ "${1:-}" != --bind ] || bind=$2
  printf '%s\t%s\t%s\t%s\t16\t*\t0\t%s\tnone\n' "$name" "$proto" "$host" "$port" "$bind" >>"$TMP/rows.$where"
}
# run_rows: runs the queued rows, one xfer.py process per place, in the
# order queued there; logs every row, fails if any failed.
run_rows() {
  local where n out bad=0
  for where in outer far ns; do
    [ -s "$TMP/rows.$where" ] || continue
    n=$(wc -l <"$TMP/rows.$where")
    out=$TMP/rows.$where.out
    run_at "$where" timeout $((n * 70 + 30)) python3 "$XFER" batch --timeout 60 <"$TMP/rows.$where" >"$out" 2>&1 || true
    sed 's/^/    /' "$out" >&2
    ROWS=$((ROWS + $(grep -c '^ok: ' "$out" || true)))
    bad=$((bad + n - $(grep -c '^ok: ' "$out" || true)))
    rm -f "$TMP/rows.$where"
  done
  [ $bad = 0 ] || fail "$bad rows failed (FAIL above, or missing: the batch broke off)"
}

# udp_expected: does the binary under test forward UDP?  Yes for Debian's
# build (reference mode) and once the source tree has the UDP handler
# (src/proto/udp.cpp); before that (UDP landed after the first matrix),
# -u is parsed but binds nothing.
udp_expected() {
  [ "$REFERENCE" = 1 ] || [ -f "$IT_DIR/../src/proto/udp.cpp" ] || [ "${PASST_EXPECT_UDP:-0}" = 1 ]
}
