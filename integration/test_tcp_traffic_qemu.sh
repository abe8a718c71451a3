#!/usr/bin/env bash
# Real traffic through passt with a real Linux guest (issue 4, item 6): the
# test guest of test_qemu_guest.sh (qemu TCG, virtio-net on passt's UNIX
# socket, addresses from passt's DHCP/SLAAC/DHCPv6, MTU 65520) run with the
# kernel parameter passt_traffic=MIB,PORT,203.0.113.1,2001:db8:1::1 (see
# guest/init).  100 MiB each (~85 s in all: the guest is slow under TCG).
#
#   guest -> host   busybox nc to the host's lo aliases 203.0.113.1 and
#                   2001:db8:1::1 (through passt): the guest's random data,
#                   hashed by the host (socat | sha256sum) and by the guest;
#   host -> guest   the host's file read by the guest from PORT+1 on the same
#                   addresses (socat server), hashed by the guest;
#   -t, both ways   passt -t PORT+2,PORT+3: a host client on 127.0.0.1 sends
#                   the host's file to the guest's listener on PORT+2, and
#                   reads the guest's data from its listener on PORT+3.
# Every hash must match the sender's.  TRAFFIC_QEMU_MIB changes the size.
. "$(dirname "$0")/lib/common.sh"
. "$IT_DIR/lib/passt.sh"
GUEST_CACHE=${PASST_GUEST_CACHE:-$HOME/.cache/passt-cpp-guest}
QEMU=${QEMU:-qemu-system-x86_64}
if [ "${PASST_IT_INSIDE:-}" != 1 ]; then
  # Outside the namespaces: build (or find) the guest, as test_qemu_guest.sh.
  BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd) select_binaries
  need "$QEMU"
  rc=0
  "$IT_DIR/guest/build-guest.sh" "$GUEST_CACHE" || rc=$?
  [ "$rc" = 0 ] || { [ "$rc" = 2 ] && skip "the guest cannot be built here (see above)"; fail "build-guest.sh failed"; }
fi
enter_outer_ns "$@"
select_binaries
need "$QEMU" python3 socat sha256sum timeout ss
. "$IT_TOOLS/tcp_traffic_lib.sh"
export GUEST_CACHE

MIB=${TRAFFIC_QEMU_MIB:-100}
PORT=7401     # guest -> host uploads; PORT+1 downloads; PORT+2, PORT+3: -t
head -c $((MIB * 1024 * 1024)) /dev/urandom >"$TMP/data"
WANT=$(sha256sum <"$TMP/data" | cut -d' ' -f1)

# Host servers (dual stack): uploads hashed one line per connection,
# downloads served from the file.
: >"$TMP/up.sha"
socat -u TCP6-LISTEN:$PORT,ipv6only=0,reuseaddr,fork SYSTEM:"sha256sum >>'$TMP/up.sha'" 2>"$TMP/socat-up.log" &
socat -U TCP6-LISTEN:$((PORT + 1)),ipv6only=0,reuseaddr,fork "OPEN:$TMP/data" 2>"$TMP/socat-down.log" &
wait_until 5 listening_on host $PORT && wait_until 5 listening_on host $((PORT + 1)) ||
  fail "host servers did not start"

SOCK=$TMP/passt.sock
# shellcheck disable=SC2086  # PASST_EXTRA_ARGS: words on purpose
"$PASST_BIN" $(passt_guest_opts) -f -s "$SOCK" -t $((PORT + 2)),$((PORT + 3)) -u none ${PASST_EXTRA_ARGS:-} \
  </dev/null >"$TMP/passt.log" 2>&1 &
PASST_PID=$!
wait_until 5 test -S "$SOCK" || fail "passt did not create $SOCK within 5 s"

: >"$TMP/result.log"
t0=$(now_ms)
run_test_guest 170 512 "$SOCK" "passt_traffic=$MIB,$PORT,$HOST4,$HOST6" \
  "$TMP/console.log" "$TMP/result.log" "$TMP/qemu.log" &
QEMU_PID=$!

result() { tr -d '\r' <"$TMP/result.log" | grep '^R ' | sed 's/^R //'; }
guest_says() { result | grep -q "$1"; }
# wait_guest WHAT PATTERN: bounded wait for a guest report (qemu alive).
wait_guest() {
  local n=0
  until guest_says "$2"; do
    pid_gone $QEMU_PID && { result | sed 's/^/[guest] /' >&2; fail "the guest ended before $1"; }
    n=$((n + 1)); [ $n -lt 1700 ] || fail "no $1 from the guest within 170 s"
    sleep 0.1
  done
}

# -t, host -> guest: the file to the guest's listener.
wait_guest "listener on $((PORT + 2))" "^traffic listen port=$((PORT + 2))"
timeout 120 socat -u "OPEN:$TMP/data" TCP:127.0.0.1:$((PORT + 2)) 2>"$TMP/tx.err" ||
  fail "-t $((PORT + 2)): sending to the guest failed: $(cat "$TMP/tx.err")"
# -t, guest -> host: the guest's data from its listener.
wait_guest "listener on $((PORT + 3))" "^traffic listen port=$((PORT + 3))"
timeout 120 socat -u TCP:127.0.0.1:$((PORT + 3)) STDOUT 2>"$TMP/rx.err" | sha256sum | cut -d' ' -f1 >"$TMP/t-in.sha" ||
  fail "-t $((PORT + 3)): reading from the guest failed: $(cat "$TMP/rx.err")"
wait_exit 60 $QEMU_PID
log "qemu ran $(( $(now_ms) - t0 )) ms (status $WAIT_RC)"
result | grep -e '^traffic' -e '^error' -e '^done' | sed 's/^/[guest] /' >&2
guest_says '^done' || fail "the guest did not finish (qemu status $WAIT_RC); see console.log"
kill -0 "$PASST_PID" || fail "passt exited while serving the guest"

GUEST=$(result | sed -n 's/^traffic data sha=\([0-9a-f]*\).*/\1/p')
[ -n "$GUEST" ] || fail "the guest reported no data hash"
secs() {  # secs FROM TO: guest uptime difference of two reports, in seconds
  local a b
  a=$(result | sed -n "s/^$1.* uptime=\\([0-9.]*\\).*/\\1/p" | head -n 1)
  b=$(result | sed -n "s/^$2.* uptime=\\([0-9.]*\\).*/\\1/p" | head -n 1)
  awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", b - a }'
}
i=0
prev="traffic data"
for h in "$HOST4" "$HOST6"; do
  i=$((i + 1))
  guest_says "^traffic up host=$h rc=0" || fail "guest -> host $h: nc failed: $(result | grep "^traffic up host=$h")"
  got=$(sed -n "${i}p" "$TMP/up.sha" | cut -d' ' -f1)
  [ "$got" = "$GUEST" ] || fail "guest -> host $h: $MIB MiB arrived with SHA-256 '$got', the guest sent $GUEST"
  ok "guest -> host $h: $MIB MiB intact ($(secs "$prev" "traffic up host=$h") s)"
  got=$(result | sed -n "s/^traffic down host=$h sha=\\([0-9a-f]*\\).*/\\1/p")
  [ "$got" = "$WANT" ] || fail "host -> guest $h: the guest received SHA-256 '$got', the host sent $WANT"
  ok "host -> guest $h: $MIB MiB intact ($(secs "traffic up host=$h" "traffic down host=$h") s)"
  prev="traffic down host=$h"
done
got=$(result | sed -n 's/^traffic in sha=\([0-9a-f]*\).*/\1/p')
[ "$got" = "$WANT" ] || fail "-t host -> guest: the guest received SHA-256 '$got', the host sent $WANT"
ok "-t host -> guest: $MIB MiB intact ($(secs "$prev" "traffic in") s)"
guest_says '^traffic out rc=0' || fail "-t guest -> host: the guest's nc failed: $(result | grep '^traffic out')"
got=$(cat "$TMP/t-in.sha")
[ "$got" = "$GUEST" ] || fail "-t guest -> host: $MIB MiB arrived with SHA-256 '$got', the guest sent $GUEST"
ok "-t guest -> host: $MIB MiB intact ($(secs "traffic in" "traffic out") s)"
# PASST_CHECK_STATS=CMD: passt is stopped (SIGTERM: it logs its counters
# with -d) and CMD runs with its log on stdin; it must succeed.
if [ -n "${PASST_CHECK_STATS:-}" ]; then
  kill -TERM "$PASST_PID"
  wait_exit 10 "$PASST_PID"
  bash -c "$PASST_CHECK_STATS" <"$TMP/passt.log" || fail "passt's counters: '$PASST_CHECK_STATS' failed"
  ok "passt's counters: $PASST_CHECK_STATS"
fi
log "PASS"
