#!/usr/bin/env bash
# The sandbox of the running binaries (docs/security.md), checked from the
# outside through /proc while they do real work:
#
#  * seccomp filter active (Seccomp: 2), no_new_privs, capabilities: none
#    at all (CapEff = CapPrm = 0) for passt and pasta; pasta's second thread,
#    the one that stays in its namespace (NetnsThread), has the same filter
#    and only CAP_NET_BIND_SERVICE (0x400: low ports inside the namespace),
#    and its network namespace is the target's; inheritable, ambient and
#    bounding sets empty;
#  * own mount, IPC and UTS namespaces; a daemon is PID 1 of its own PID
#    namespace; passt has a user namespace of its own, pasta lives in its
#    namespace's (spawn mode: the command's);
#  * the root directory is an empty read-only tmpfs;
#  * and under all that the daemons keep working: qemu_peer.py's services
#    and reconnects (passt, daemon and foreground), DHCP from inside a
#    spawned namespace (pasta's tap), SIGTERM exits 0, the command's exit
#    status is passed on, the netns quit watch still fires after pivot_root
#    (inotify on a bind-mounted file; the procfs poll on /proc/PID/ns/net; a
#    pidfd).  Nothing may allocate after initialisation: the allocation
#    guard would abort (exit 134, "heap allocation after initialisation")
#    and the filter kill (SIGSYS, 159).
#  * Fallbacks: with user namespaces unavailable (user.max_user_namespaces
#    = 0), passt as root in the outer namespace isolates within it; without
#    capabilities it can only warn, and still runs under seccomp with none.
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need python3 ip busybox setpriv stat sysctl

PEER=(python3 "$IT_TOOLS/qemu_peer.py")
if [ "$REFERENCE" = 1 ]; then
  EXPECT=(--our-mac "$(host_mac up0)" --our-ll "$(host_ll up0)" --ra-lifetime 9000
          --prefix-lifetime 3600 --ignore-bcast-flag)
else
  EXPECT=(--our-mac "$UPSTREAM_MAC" --our-ll "$(host_ll up0)" --ra-lifetime 65535
          --prefix-lifetime 4294967295)
fi
CAPS_NONE=0000000000000000
CAPS_NSTHREAD=0000000000000400   # CAP_NET_BIND_SERVICE (10), pasta's NetnsThread only

field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }   # field PID NAME
ns_of() { readlink "/proc/$1/ns/$2"; }                             # ns_of PID TYPE
filtered() { [ "$(field "$1" Seccomp)" = 2 ]; }                    # for wait_until

# sandboxed NAME PID CAPS: the filter, the capability sets, the namespaces
# and the empty root of PID.
sandboxed() {
  local name=$1 pid=$2 caps=$3 f t
  [ "$(field "$pid" Seccomp)" = 2 ] || fail "$name: Seccomp is '$(field "$pid" Seccomp)', expected 2 (filter)"
  [ "$(field "$pid" NoNewPrivs)" = 1 ] || fail "$name: NoNewPrivs is not 1"
  for f in CapEff CapPrm; do
    [ "$(field "$pid" $f)" = "$caps" ] || fail "$name: $f is $(field "$pid" $f), expected $caps"
  done
  for f in CapInh CapBnd CapAmb; do
    [ "$(field "$pid" $f)" = 0000000000000000 ] || fail "$name: $f is $(field "$pid" $f), expected 0"
  done
  for t in mnt ipc uts; do
    [ "$(ns_of "$pid" $t)" != "$(ns_of $$ $t)" ] || fail "$name: still in our $t namespace"
  done
  [ -z "$(ls -A "/proc/$pid/root/")" ] || fail "$name: root directory not empty: $(ls -A "/proc/$pid/root/" | head -5 | tr '\n' ' ')"
  [ "$(stat -f -c %T "/proc/$pid/root/")" = tmpfs ] || fail "$name: root is not a tmpfs"
  ! touch "/proc/$pid/root/x" 2>/dev/null || fail "$name: root directory is writable"
  ok "$name: Seccomp 2, NoNewPrivs 1, CapEff=CapPrm=$caps, other sets empty, own mnt/ipc/uts namespaces, empty read-only root"
}
# nsthread NAME PID NETNS_OF_PID: pasta's namespace thread, the process's
# only other thread: filtered, no_new_privs, CAP_NET_BIND_SERVICE alone, in
# the network namespace of NETNS_OF_PID (the target), not in ours.
nsthread() {
  local name=$1 pid=$2 target=$3 tid st f
  tid=$(ls "/proc/$pid/task" | grep -vx "$pid" || true)
  [ "$(echo "$tid" | wc -w)" = 1 ] || fail "$name: expected one namespace thread, tasks: $(ls "/proc/$pid/task" | tr '\n' ' ')"
  st=/proc/$pid/task/$tid/status
  [ "$(sed -n 's/^Seccomp:[[:space:]]*//p' "$st")" = 2 ] || fail "$name: namespace thread not filtered"
  [ "$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' "$st")" = 1 ] || fail "$name: namespace thread: NoNewPrivs not 1"
  for f in CapEff CapPrm; do
    [ "$(sed -n "s/^$f:[[:space:]]*//p" "$st")" = "$CAPS_NSTHREAD" ] ||
      fail "$name: namespace thread $f is $(sed -n "s/^$f:[[:space:]]*//p" "$st"), expected $CAPS_NSTHREAD"
  done
  for f in CapInh CapBnd CapAmb; do
    [ "$(sed -n "s/^$f:[[:space:]]*//p" "$st")" = "$CAPS_NONE" ] || fail "$name: namespace thread $f not empty"
  done
  [ "$(readlink "/proc/$pid/task/$tid/ns/net")" = "$(ns_of "$target" net)" ] ||
    fail "$name: namespace thread not in the target's network namespace"
  [ "$(ns_of "$pid" net)" != "$(ns_of "$target" net)" ] || fail "$name: main thread in the target's netns?"
  ok "$name: namespace thread $tid: Seccomp 2, CapEff=CapPrm=$CAPS_NSTHREAD, in the target's netns"
}
# pid1 NAME PID: PID is PID 1 of its own PID namespace.
pid1() {
  [ "$(field "$2" NSpid | awk '{print NF, $NF}')" = "2 1" ] ||
    fail "$1: not PID 1 of a PID namespace of its own (NSpid: $(field "$2" NSpid))"
}
no_alloc_abort() {   # no_alloc_abort NAME LOG
  ! grep -q "heap allocation after initialisation" "$2" || fail "$1: allocated after initialisation: $(grep heap "$2")"
}

# --- passt, daemon -----------------------------------------------------------------
SOCK=$TMP/d.sock
"$PASST_BIN" -s "$SOCK" -P "$TMP/d.pid" -l "$TMP/d.log" </dev/null >"$TMP/d.out" 2>&1 ||
  fail "passt daemon: launcher exit status $?"
PID=$(cat "$TMP/d.pid")
sandboxed "passt daemon" "$PID" 0000000000000000
pid1 "passt daemon" "$PID"
[ "$(ns_of "$PID" user)" != "$(ns_of $$ user)" ] || fail "passt daemon: no user namespace of its own"
"${PEER[@]}" services --socket "$SOCK" "${EXPECT[@]}" >&2 || fail "passt daemon: services"
"${PEER[@]}" clients --socket "$SOCK" "${EXPECT[@]}" >&2 || fail "passt daemon: reconnects"
kill -0 "$PID" 2>/dev/null || fail "passt daemon died while serving (seccomp or allocation guard?)"
[ "$(field "$PID" Seccomp)" = 2 ] || fail "passt daemon: filter gone"
stop_pidfile "$TMP/d.pid"
no_alloc_abort "passt daemon" "$TMP/d.log"
ok "passt daemon: services and reconnects under the sandbox, SIGTERM"

# --- passt, foreground, with a capture: exit status --------------------------------
SOCK=$TMP/f.sock
"$PASST_BIN" -f -s "$SOCK" -p "$TMP/f.pcap" </dev/null >"$TMP/f.log" 2>&1 &
PID=$!
wait_until 5 test -S "$SOCK" || fail "passt -f: no socket"
wait_until 5 filtered "$PID" || fail "passt -f: no filter after 5 s"
sandboxed "passt -f" "$PID" 0000000000000000
"${PEER[@]}" services --socket "$SOCK" "${EXPECT[@]}" >&2 || fail "passt -f: services"
kill -TERM "$PID"
wait_exit 5 "$PID"
[ "$WAIT_RC" = 0 ] || fail "passt -f: SIGTERM gave exit status $WAIT_RC (134: allocation guard, 159: seccomp)"
no_alloc_abort "passt -f" "$TMP/f.log"
[ "$(stat -c %s "$TMP/f.pcap")" -gt 1000 ] || fail "passt -f: capture empty"
ok "passt -f: services, capture written, SIGTERM exit status 0"

# --- passt, the log file's size cap at work under the filter ----------------------------
# 1500 connections of a client, two log lines each: the 40 KiB file is cut
# several times (fstat, fcntl, pread, pwrite, ftruncate on this tmpfs).
SOCK=$TMP/l.sock
"$PASST_BIN" -f -s "$SOCK" -l "$TMP/l.log" --log-size 40960 </dev/null >/dev/null 2>&1 &
PID=$!
wait_until 5 test -S "$SOCK" || fail "passt -l: no socket"
python3 -c '
import socket, sys
for _ in range(1500):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.close()
' "$SOCK" || fail "passt -l: connections failed"
kill -0 "$PID" 2>/dev/null || fail "passt -l: died while logging (seccomp or allocation guard?)"
kill -TERM "$PID"; wait_exit 5 "$PID"
[ "$WAIT_RC" = 0 ] || fail "passt -l: SIGTERM gave exit status $WAIT_RC"
[ "$(stat -c %s "$TMP/l.log")" -le 40960 ] || fail "passt -l: log file above its cap"
head -n 1 "$TMP/l.log" | grep -q "^passt .* - log truncated at " || fail "passt -l: the log was never cut: $(head -n 1 "$TMP/l.log")"
ok "passt -l --log-size 40960: the log file is cut under the filter"

# --- pasta, spawn mode: DHCP through the tap, the command's exit status ----------------
cat >"$TMP/cmd.sh" <<EOF
#!/bin/sh
ip link set up0 up
busybox udhcpc -i up0 -f -q -n -t 3 -T 1 -A 1 -s /bin/true >"$TMP/cmd.dhcp" 2>&1
echo \$? >"$TMP/cmd.rc"
n=0
while [ ! -e "$TMP/cmd.go" ] && [ \$n -lt 500 ]; do sleep 0.02; n=\$((n + 1)); done
exit 7
EOF
chmod +x "$TMP/cmd.sh"
"$PASTA_BIN" -- "$TMP/cmd.sh" </dev/null >"$TMP/spawn.log" 2>&1 &
PID=$!
wait_until 10 test -e "$TMP/cmd.rc" || fail "pasta spawn: the command did not run DHCP"
[ "$(cat "$TMP/cmd.rc")" = 0 ] || fail "pasta spawn: udhcpc got no lease: $(cat "$TMP/cmd.dhcp")"
sandboxed "pasta (spawn)" "$PID" "$CAPS_NONE"
CMD=$(cat "/proc/$PID/task/$PID/children" | awk '{print $1}')
[ -n "$CMD" ] || fail "pasta spawn: command not found"
nsthread "pasta (spawn)" "$PID" "$CMD"
[ "$(ns_of "$PID" user)" = "$(ns_of "$CMD" user)" ] || fail "pasta spawn: not in the command's user namespace"
touch "$TMP/cmd.go"
wait_exit 10 "$PID"
[ "$WAIT_RC" = 7 ] || fail "pasta spawn: exit status $WAIT_RC, expected the command's 7"
no_alloc_abort "pasta spawn" "$TMP/spawn.log"
ok "pasta (spawn): DHCP lease through the tap, lives in the command's user namespace, exit status 7 passed on"

# --- pasta, TCP both ways through the tap under the filter -------------------------------
# tools/tcp_sink.py ADDR PORT OUT READY: one connection's bytes into OUT.
SINK_PY=(python3 "$IT_DIR/tools/tcp_sink.py")
head -c 3000000 /dev/urandom >"$TMP/blob"
cat >"$TMP/tcp.sh" <<EOF
#!/bin/sh
${SINK_PY[*]} 0.0.0.0 7002 "$TMP/in.data" "$TMP/in.ready" &
timeout 20 socat -u OPEN:"$TMP/blob" TCP:203.0.113.1:7001 || echo "socat \$?" >"$TMP/out.err"
wait
EOF
chmod +x "$TMP/tcp.sh"
"${SINK_PY[@]}" 203.0.113.1 7001 "$TMP/out.data" "$TMP/out.ready" &
SINK=$!
wait_until 5 test -e "$TMP/out.ready" || fail "TCP sink did not start"
"$PASTA_BIN" --config-net -t 7002 -- "$TMP/tcp.sh" </dev/null >"$TMP/tcp.log" 2>&1 &
PID=$!
wait_until 10 test -e "$TMP/in.ready" || fail "pasta TCP: the namespace's sink did not start"
timeout 20 socat -u OPEN:"$TMP/blob" TCP:198.51.100.1:7002 || fail "pasta TCP: inbound transfer failed"
wait "$SINK" || fail "pasta TCP: outbound sink failed"
wait_exit 20 "$PID"
[ "$WAIT_RC" = 0 ] || fail "pasta TCP: exit status $WAIT_RC (134: allocation guard, 159: seccomp)"
[ ! -e "$TMP/out.err" ] || fail "pasta TCP: outbound $(cat "$TMP/out.err")"
cmp -s "$TMP/blob" "$TMP/out.data" || fail "pasta TCP: outbound data differs ($(stat -c %s "$TMP/out.data") bytes)"
cmp -s "$TMP/blob" "$TMP/in.data" || fail "pasta TCP: inbound data differs ($(stat -c %s "$TMP/in.data") bytes)"
no_alloc_abort "pasta TCP" "$TMP/tcp.log"
ok "pasta TCP: 3 MB out of and into the namespace under the sandbox, exit 0"

# --- pasta --netns FILE (Podman): daemon, quit watch by inotify -------------------------
new_netns podman
"$PASTA_BIN" --config-net --netns "$NETNS" -P "$TMP/p.pid" -l "$TMP/p.log" </dev/null \
  >"$TMP/p.out" 2>&1 || fail "pasta --netns: launcher exit status $?"
PID=$(cat "$TMP/p.pid")
sandboxed "pasta --netns" "$PID" "$CAPS_NONE"
nsthread "pasta --netns" "$PID" "$NETNS_SLEEPER"
pid1 "pasta --netns" "$PID"
remove_netns "$NETNS"
wait_gone 2 "$PID" || fail "pasta --netns: still running 2 s after the netns file was removed"
no_alloc_abort "pasta --netns" "$TMP/p.log"
ok "pasta --netns FILE: sandboxed daemon, exits when the file goes (inotify after pivot_root)"

# --- pasta --netns /proc/PID/ns/net: the procfs poll after pivot_root ---------------------
unshare --net sleep 100000 &
SLEEPER=$!
wait_until 5 ns_differs "$SLEEPER" || fail "sleeper namespace did not appear"
"$PASTA_BIN" --netns "/proc/$SLEEPER/ns/net" -f </dev/null >"$TMP/proc.log" 2>&1 &
PID=$!
wait_until 5 filtered "$PID" || fail "pasta --netns /proc: no filter after 5 s"
sandboxed "pasta --netns /proc/PID/ns/net" "$PID" "$CAPS_NONE"
nsthread "pasta --netns /proc/PID/ns/net" "$PID" "$SLEEPER"
kill -KILL "$SLEEPER"; wait "$SLEEPER" 2>/dev/null || true
wait_exit 2 "$PID"
[ "$WAIT_RC" = 0 ] || fail "pasta --netns /proc/PID/ns/net: exit status $WAIT_RC after the process died, expected 0 within 2 s"
ok "pasta --netns /proc/PID/ns/net: exits 0 when the process dies (poll after pivot_root)"

# --- pasta PID: joins the process's user namespace, pidfd watch -----------------------------
unshare --user --map-root-user --net sleep 100000 &
SLEEPER=$!
wait_until 5 ns_differs "$SLEEPER" || fail "sleeper namespace did not appear"
"$PASTA_BIN" --config-net -f "$SLEEPER" </dev/null >"$TMP/pid.log" 2>&1 &
PID=$!
wait_until 5 filtered "$PID" || fail "pasta PID: no filter after 5 s"
sandboxed "pasta PID" "$PID" "$CAPS_NONE"
nsthread "pasta PID" "$PID" "$SLEEPER"
[ "$(ns_of "$PID" user)" = "$(ns_of "$SLEEPER" user)" ] || fail "pasta PID: not in the process's user namespace"
kill -KILL "$SLEEPER"; wait "$SLEEPER" 2>/dev/null || true
wait_exit 2 "$PID"
[ "$WAIT_RC" = 0 ] || fail "pasta PID: exit status $WAIT_RC after the process died, expected 0 within 2 s"
ok "pasta PID: in the process's user namespace, exits 0 when it dies (pidfd)"

# --- no user namespaces: the fallbacks --------------------------------------------------------
sysctl -qw user.max_user_namespaces=0 || skip "cannot limit user namespaces here"
SOCK=$TMP/n.sock
"$PASST_BIN" -f -s "$SOCK" </dev/null >"$TMP/n.log" 2>&1 &
PID=$!
wait_until 5 filtered "$PID" || fail "passt without userns: no filter after 5 s"
grep -q "Couldn't create a user namespace" "$TMP/n.log" || fail "passt without userns: no warning"
sandboxed "passt (no user namespaces, root)" "$PID" 0000000000000000
[ "$(ns_of "$PID" user)" = "$(ns_of $$ user)" ] || fail "passt without userns: user namespace changed?"
"${PEER[@]}" arp --socket "$SOCK" "${EXPECT[@]}" >&2 || fail "passt without userns: ARP"
kill -TERM "$PID"; wait_exit 5 "$PID"
[ "$WAIT_RC" = 0 ] || fail "passt without userns: exit status $WAIT_RC"
ok "no user namespaces, root: isolated within the current one (warning logged)"

# Root without any capability (the outer namespace maps uid 0 only): with
# an empty bounding set execve() grants none.
setpriv --bounding-set=-all --inh-caps=-all "$PASST_BIN" -f -s "$TMP/u.sock" \
  </dev/null >"$TMP/u.log" 2>&1 &
PID=$!
wait_until 5 filtered "$PID" || fail "passt without capabilities or userns: no filter after 5 s"
grep -q "Couldn't detach from the mount" "$TMP/u.log" || fail "passt without capabilities: no warning about the filesystem"
[ "$(field "$PID" CapEff)" = 0000000000000000 ] || fail "passt without capabilities: CapEff $(field "$PID" CapEff)"
[ "$(field "$PID" NoNewPrivs)" = 1 ] || fail "passt without capabilities: NoNewPrivs not set"
[ "$(ns_of "$PID" mnt)" = "$(ns_of $$ mnt)" ] || fail "passt without capabilities: mount namespace changed?"
"${PEER[@]}" arp --socket "$TMP/u.sock" "${EXPECT[@]}" >&2 || fail "passt without capabilities: ARP"
kill -TERM "$PID"; wait_exit 5 "$PID"
[ "$WAIT_RC" = 0 ] || fail "passt without capabilities: exit status $WAIT_RC"
sysctl -qw user.max_user_namespaces=1000
ok "no user namespaces, no capabilities: warns that the filesystem stays visible; seccomp, no_new_privs, no capabilities"

log PASS
