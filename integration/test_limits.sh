#!/usr/bin/env bash
# Limits of the running binaries (docs/security.md, "Limits"): each bound a
# guest can push passt or pasta to has a defined behaviour (RST, drop, one
# rate-limited log line), never a crash, a busy loop or memory growth.
#
#  * file descriptors exhausted (passt under `prlimit --nofile=128`):
#    guest SYNs beyond the limit are answered RST+ACK; an inbound
#    connection to a -t port and a second qemu client are reset (one
#    warning), passt stays idle (CPU time sampled, no busy loop on the
#    level-triggered listeners); the held connect()s time out
#    (net.ipv4.tcp_syn_retries=2 in the test's namespace: 7 s) and the same
#    link serves TCP again;
#  * SYN floods from the guest: 20000 SYNs to a closed port (at most 1024
#    unanswered: answers a guest does not read in time are dropped at the
#    link), each answered RST+ACK, nothing held afterwards; 5000 to a black hole at the normal
#    limit, answered RST+ACK beyond it, while DHCP and a TCP echo are still
#    served; the mappings (/proc/PID/maps, the stack's included) are
#    unchanged;
#  * a guest that never reads its link while a host source sends without
#    end: passt idles (the socket's queue is the only buffer), and the link
#    is still framed and served afterwards; pasta: an application in the
#    namespace that never reads, the same;
#  * the flow table itself (131072 entries) cannot be filled here: the fd
#    limit comes first.  sim/test/limits_test.cpp fills a small one (RST
#    per SYN, one warning per 10 s, no allocation), and repeats the fd,
#    SYN flood and never-reading cases against the engine with the
#    allocation counter armed.
#  * thousands of UDP flows: not yet (UDP flows are not on main).
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need python3 ip socat prlimit

HP=(python3 "$IT_TOOLS/hostile_peer.py")
PEER=(python3 "$IT_TOOLS/qemu_peer.py")
EXPECT=(--our-ll "$(host_ll up0)" --ra-lifetime any --prefix-lifetime any --ignore-bcast-flag)
field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | awk '{print $1}'; }
# The mappings, address ranges and names: the stack's included (lock_down()
# grows it once to its final size: docs/security.md).
maps() { awk '{print $1, $6}' "/proc/$1/maps"; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
nfds() { ls "/proc/$1/fd" | wc -l; }
filtered() { [ "$(field "$1" Seccomp)" = 2 ]; }

# Black-holed connect()s give up after 1 + 2 + 4 s (this namespace only).
sysctl -qw net.ipv4.tcp_syn_retries=2
# 192.0.2.0/24 is routed to the dead end, which forwards nothing.
socat TCP-LISTEN:7010,bind=203.0.113.1,fork,reuseaddr EXEC:cat &
socat TCP-LISTEN:7011,bind=203.0.113.1,fork,reuseaddr OPEN:/dev/zero 2>/dev/null &
wait_until 5 sh -c 'ss -ltn | grep -q 203.0.113.1:7011' || fail "host servers did not start"

# stop NAME PID LOG: SIGTERM, exit status 0, no allocation.
stop() {
  kill -TERM "$2"
  wait_exit 10 "$2"
  [ "$WAIT_RC" = 0 ] || fail "$1: exit status $WAIT_RC (134: allocation guard, 159: seccomp)"
  ! grep -q "heap allocation after initialisation" "$3" || fail "$1 allocated"
}

# --- passt at the file descriptor limit ---------------------------------------------------
SOCK=$TMP/fd.sock
prlimit --nofile=128:128 "$PASST_BIN" -f -s "$SOCK" -t 7020 -l "$TMP/fd.log" </dev/null \
  >"$TMP/fd.out" 2>&1 &
PID=$!
wait_until 5 filtered "$PID" || fail "passt --nofile 128: no filter"
wait_until 5 test -S "$SOCK" || fail "passt --nofile 128: no socket"
"${HP[@]}" fdlimit --socket "$SOCK" --pid "$PID" --count 400 --inbound-port 7020 --port 7010 \
  --wait 20 >&2 || fail "passt at the fd limit"
[ "$(grep -c "Out of file descriptors" "$TMP/fd.log")" = 1 ] ||
  fail "passt at the fd limit: expected one (rate-limited) warning, got: $(grep "Out of file" "$TMP/fd.log")"
stop "passt --nofile 128" "$PID" "$TMP/fd.out"
ok "passt at the fd limit: RSTs, resets without spinning, one warning, recovers"

# --- passt: SYN floods ----------------------------------------------------------------------
SOCK=$TMP/syn.sock
"$PASST_BIN" -f -s "$SOCK" -l "$TMP/syn.log" </dev/null >"$TMP/syn.out" 2>&1 &
PID=$!
wait_until 5 filtered "$PID" || fail "passt: no filter"
wait_until 5 test -S "$SOCK" || fail "passt: no socket"
"${HP[@]}" tcp --socket "$SOCK" --sport 45000 >&2 || fail "passt: TCP before the floods"
BASE=$(nfds "$PID")
maps "$PID" >"$TMP/syn.maps"
OUT=$("${HP[@]}" syn --socket "$SOCK" --dst 203.0.113.1 --port-base 1 --count 20000 --wait 10 \
  --window 1024)
log "$OUT"
# At most 1024 unanswered at a time: answers a guest does not read fast
# enough would be dropped at the link (the guest retransmits its SYN), and
# this test's reader is slower than passt.
case $OUT in *"rst 20000 "*) ;; *) fail "SYN flood to a closed port: not every SYN was answered RST+ACK" ;; esac
wait_until 5 sh -c "[ \$(ls /proc/$PID/fd | wc -l) -le $BASE ]" ||
  fail "SYN flood to a closed port: $(nfds "$PID") descriptors, $BASE before"
ok "20000 SYNs to a closed port: 20000 RST+ACK, nothing held"
LIMIT=$(awk '/Max open files/ {print $4}' "/proc/$PID/limits")
C0=$(cpu "$PID")
OUT=$("${HP[@]}" syn --socket "$SOCK" --dst 192.0.2.1 --count 5000 --wait 3)
log "$OUT (RLIMIT_NOFILE $LIMIT)"
HELD=$(( $(nfds "$PID") - BASE ))
RST=$(echo "$OUT" | sed -n 's/.* rst \([0-9]*\).*/\1/p')
[ "$HELD" -gt 0 ] || fail "SYN flood to a black hole: nothing held?"
# Every SYN is held or refused; where the limit is reached, refusals beyond
# what the link takes at once may be dropped (unpaced flood).
[ $((HELD + RST)) -ge 4990 ] || [ "$HELD" -ge $((LIMIT - 30)) ] ||
  fail "SYN flood to a black hole: $HELD held + $RST RST < 5000 (RLIMIT_NOFILE $LIMIT)"
"${PEER[@]}" services --socket "$SOCK" "${EXPECT[@]}" >&2 || fail "passt: services during the SYN flood"
if [ "$HELD" -lt $((LIMIT - 20)) ]; then
  "${HP[@]}" tcp --socket "$SOCK" --sport 45001 >&2 || fail "passt: TCP while $HELD flows are held"
fi
kill -0 "$PID" || fail "passt died"
wait_until 20 sh -c "[ \$(ls /proc/$PID/fd | wc -l) -le $((BASE + 1)) ]" ||
  fail "SYN flood to a black hole: $(nfds "$PID") descriptors 20 s later, $BASE before"
maps "$PID" | diff "$TMP/syn.maps" - >&2 || fail "passt: mappings changed during the SYN floods"
"${HP[@]}" tcp --socket "$SOCK" --sport 45002 >&2 || fail "passt: TCP after the SYN floods"
ok "5000 SYNs to a black hole: $HELD held, $RST RST+ACK, services and TCP still served, all released, same mappings ($(( $(cpu "$PID") - C0 )) ticks of CPU)"

# --- passt: a guest that never reads ------------------------------------------------------
"${HP[@]}" stall --socket "$SOCK" --port 7011 --seconds 6 --pid "$PID" >&2 ||
  fail "passt: a guest that never reads"
maps "$PID" | diff "$TMP/syn.maps" - >&2 || fail "passt: mappings changed during the stall"
"${HP[@]}" tcp --socket "$SOCK" --sport 45003 >&2 || fail "passt: TCP after the stall"
stop passt "$PID" "$TMP/syn.out"
ok "passt: a guest that never reads: idle, same mappings, served afterwards"

# --- pasta: an application in the namespace that never reads ------------------------------
cat >"$TMP/stall.sh" <<CMD
#!/bin/sh
python3 -c '
import socket, time
s = socket.create_connection(("203.0.113.1", 7011))
open("$TMP/stall.connected", "w").close()
time.sleep(6)
n = 0
s.settimeout(2)
while n < 1 << 20:
    d = s.recv(1 << 16)
    if not d: break
    n += len(d)
print(n)
' >"$TMP/stall.read" 2>&1
CMD
chmod +x "$TMP/stall.sh"
"$PASTA_BIN" --config-net -l "$TMP/pstall.log" -- "$TMP/stall.sh" </dev/null >"$TMP/pstall.out" 2>&1 &
PID=$!
wait_until 10 test -e "$TMP/stall.connected" || fail "pasta: the namespace's client did not connect"
sleep 1
maps "$PID" >"$TMP/pstall.maps"
C0=$(cpu "$PID")
sleep 4
USED=$(( $(cpu "$PID") - C0 ))
[ "$USED" -le 40 ] || fail "pasta: $USED ticks of CPU in 4 s while the application does not read"
maps "$PID" | diff "$TMP/pstall.maps" - >&2 || fail "pasta: mappings changed during the stall"
wait_exit 20 "$PID"
[ "$WAIT_RC" = 0 ] || fail "pasta: exit status $WAIT_RC"
[ "$(cat "$TMP/stall.read")" -ge 1048576 ] 2>/dev/null ||
  fail "pasta: the application read $(cat "$TMP/stall.read") bytes after the stall"
ok "pasta: an application that never reads: $USED ticks of CPU in 4 s, same mappings, 1 MiB read afterwards"

log PASS
