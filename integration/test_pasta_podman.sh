#!/usr/bin/env bash
# pasta as Podman (and rootlesskit) run it: the namespace exists already
# (created by the test like Podman does: an `unshare --net` process whose
# nsfs file is bind-mounted on a file), pasta gets `--netns FILE`, runs in
# the background, and Podman relies on this contract (clients.md):
#
#  * readiness = the foreground process exits 0, only after the namespace is
#    configured (addresses, routes, MTU, link and lo up): checked at once;
#  * --quiet: no output at all;
#  * the daemon keeps none of the inherited stdout/stderr: Podman reads the
#    combined output until EOF (tested with a pipe, bounded wait for EOF);
#  * teardown: Podman unmounts (lazily) and deletes the netns file and never
#    kills pasta; pasta must exit by itself.  Upstream watches the directory
#    with inotify (exit within milliseconds; a 1 s timer where inotify does
#    not work).  We require 1 s and log the time (our target is 100 ms).
#
# Also rootlesskit's argument style (--opt=value, deprecated --stderr,
# --ns-ifname=tap0, explicit address and gateway).
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need python3 ip

EXIT_LIMIT_MS=1000

# launch NAME ARGS...: runs pasta like Podman (tools/launch.py): stdout and
# stderr into one pipe, nothing else inherited, plus with EXTRA_FD=1 an
# unrelated pipe descriptor; waits (bounded) for the launcher's exit, then
# for EOF on the pipe.  Sets LAUNCH_RC (and LAUNCH_EXTRA_EOF); the output is
# in $TMP/NAME.out.
launch() {
  local name=$1 extra=(); shift
  [ "${EXTRA_FD:-0}" = 0 ] || extra=(--extra-fd)
  python3 "$IT_TOOLS/launch.py" --out "$TMP/$name.out" "${extra[@]}" -- "$PASTA_BIN" "$@" \
    >"$TMP/$name.launch" || fail "$name: launch.py failed"
  LAUNCH_RC=$(sed -n 's/^rc=//p' "$TMP/$name.launch")
  LAUNCH_EXTRA_EOF=$(sed -n 's/^extra_eof=//p' "$TMP/$name.launch")
  # The launcher is gone; the pipe must have seen EOF, unless the daemon
  # still holds the inherited stdout or stderr.
  grep -q '^eof=yes' "$TMP/$name.launch" ||
    fail "$name: no EOF on pasta's stdout/stderr pipe 3 s after the launcher exited:" \
         "the daemon kept an inherited descriptor open (Podman would hang)"
}

# configured NAME NETNS IF ADDR4 GW4 ADDR6 GW6: the namespace as Podman reads it.
configured() {
  local name=$1 ns=$2 ifn=$3
  in_netns "$ns" "$IT_TOOLS/nsdump.sh" "$TMP/$name.dump"
  python3 "$IT_TOOLS/ipq.py" "$TMP/$name.dump" links lo "$ifn" \
    -- addrs "$ifn" inet "$4" -- default "$ifn" inet "$5" \
    -- addrs "$ifn" inet6 "$6" -- default "$ifn" inet6 "$7" \
    -- mtu "$ifn" 65520 -- up "$ifn" -- up lo -- has lo 127.0.0.1/8 -- no-tentative "$ifn" global ||
    fail "$name: namespace not (fully) configured when the launcher exited"
}

# teardown NAME NETNS PID: Podman's container stop; pasta must follow.
teardown() {
  local name=$1 ns=$2 pid=$3 t0 t1
  t0=$(now_ms)
  remove_netns "$ns"
  wait_gone 5 "$pid" || fail "$name: pasta ($pid) still runs 5 s after its netns file was removed"
  t1=$(now_ms)
  log "$name: pasta exited $((t1 - t0)) ms after the netns file was removed"
  [ $((t1 - t0)) -le $EXIT_LIMIT_MS ] ||
    fail "$name: pasta took $((t1 - t0)) ms to exit after the netns file was removed (limit $EXIT_LIMIT_MS)"
}

daemon_of() {   # daemon_of NAME NETNS: the one pasta process running for NETNS
  local pids
  pids=$(pids_with_arg "$2" "--netns=$2" | while read -r p; do
           [ "$p" = "$NETNS_SLEEPER" ] || echo "$p"; done)
  [ -n "$pids" ] || fail "$1: no pasta process left running after the launcher exited"
  [ "$(echo "$pids" | wc -l)" = 1 ] || fail "$1: several processes for $2: $pids"
  echo "$pids"
}

# --- Podman's per-container pasta ------------------------------------------
new_netns podman
PODMAN_ARGS=(--config-net --dns-forward 169.254.1.1 -t none -u none -T none -U none --no-map-gw --quiet
             --netns "$NETNS")
if upstream_only "no --map-guest-addr (newer Podman retries without it)"; then
  PODMAN_ARGS+=(--map-guest-addr 169.254.1.2)
fi
EXTRA_FD=1 launch podman "${PODMAN_ARGS[@]}"
[ "$LAUNCH_RC" = 0 ] || fail "podman: pasta exited with status $LAUNCH_RC: $(cat "$TMP/podman.out")"
configured podman "$NETNS" up0 198.51.100.1/24 198.51.100.254 2001:db8::1/64 2001:db8::ff
ok "podman: exit 0 with the namespace configured"
[ ! -s "$TMP/podman.out" ] || fail "podman: --quiet, yet pasta wrote: $(cat "$TMP/podman.out")"
ok "podman: no output with --quiet, EOF on the pipe once the launcher is gone"
PID=$(daemon_of podman "$NETNS")
for fd in 0 1 2; do
  [ "$(readlink "/proc/$PID/fd/$fd")" = /dev/null ] ||
    fail "podman: daemon fd $fd is $(readlink "/proc/$PID/fd/$fd"), expected /dev/null"
done
ok "podman: daemon $PID has /dev/null on fds 0-2"
if upstream_only "inherited descriptors above 2 are kept open (upstream closes them at start)"; then
  [ "$LAUNCH_EXTRA_EOF" = yes ] ||
    fail "podman: the daemon kept an inherited descriptor (fd > 2) open"
  ok "podman: inherited descriptors above 2 closed"
fi
teardown podman "$NETNS" "$PID"
ok "podman: pasta quit by itself after the netns file was removed"

# --- rootlesskit's style ---------------------------------------------------------
new_netns rootlesskit
launch rootlesskit --stderr --ns-ifname=tap0 --mtu=65520 --config-net --address=10.0.2.100 \
  --netmask=24 --gateway=10.0.2.2 --dns-forward=10.0.2.3 --tcp-ports=none --udp-ports=none \
  --netns="$NETNS"
[ "$LAUNCH_RC" = 0 ] || fail "rootlesskit: pasta exited with status $LAUNCH_RC: $(cat "$TMP/rootlesskit.out")"
configured rootlesskit "$NETNS" tap0 10.0.2.100/24 10.0.2.2 2001:db8::1/64 2001:db8::ff
ok "rootlesskit: --opt=value form, tap0 10.0.2.100/24 via 10.0.2.2"
PID=$(daemon_of rootlesskit "$NETNS")
teardown rootlesskit "$NETNS" "$PID"
log "PASS"
