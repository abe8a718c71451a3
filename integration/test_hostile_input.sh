#!/usr/bin/env bash
# Hostile input against the running binaries (docs/security.md, "Hostile
# input"): tools/hostile_peer.py feeds passt (qemu framing) and pasta (its
# tap, from inside the namespace) with many malformed, truncated, oversized
# and random frames built from every fuzz corpus (fuzz/corpus/*), in rounds
# with different seeds.  Then, for each binary:
#
#  * the process is alive, still sandboxed (Seccomp 2), and exits 0 on
#    SIGTERM (134 would be the allocation guard, 159 the seccomp filter);
#  * its memory did not grow: the list of mappings (/proc/PID/maps: address
#    ranges, so the heap and every mmap; brk and mmap are forbidden anyway,
#    except in sanitizer builds, where there is no allocation guard and
#    this comparison is what would see ASan's allocator map memory for
#    allocations on the data path) is identical before and after, the main thread's stack included
#    (lock_down() grows it once to its final size); VmRSS may
#    rise while preallocated tables are touched for the first time (the flow
#    index: random 4-tuples hash to random buckets), and must stay within
#    HOSTILE_RSS_SLACK_KB (8 MiB) of the first round's;
#  * it still serves DHCP and TCP correctly: qemu_peer.py's DHCP exchange
#    and a TCP echo through passt (hostile_peer.py tcp); udhcpc and a TCP
#    echo with socat from pasta's namespace;
#  * passt: each broken length prefix resets the connection, and the next
#    client is served.
#
# HOSTILE_FRAMES (default 40000) frames per round, HOSTILE_ROUNDS (3) rounds.
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need python3 ip busybox socat

FRAMES=${HOSTILE_FRAMES:-40000}
ROUNDS=${HOSTILE_ROUNDS:-3}
SLACK_KB=${HOSTILE_RSS_SLACK_KB:-8192}
CORPUS=$(cd "$IT_DIR/../fuzz/corpus" && pwd)
HP=(python3 "$IT_TOOLS/hostile_peer.py")
PEER=(python3 "$IT_TOOLS/qemu_peer.py")
EXPECT=(--our-ll "$(host_ll up0)" --ra-lifetime any --prefix-lifetime any --ignore-bcast-flag)

field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | awk '{print $1}'; }

# An echo server on the host for the TCP checks (each connection: cat).
socat TCP-LISTEN:7010,bind=203.0.113.1,fork,reuseaddr EXEC:cat &
wait_until 5 sh -c 'ss -ltn | grep -q 203.0.113.1:7010' || fail "echo server did not start"

# The mappings, address ranges and names: the stack's included (lock_down()
# grows it once to its final size: docs/security.md).
maps() { awk '{print $1, $6}' "/proc/$1/maps"; }

# memory_steady NAME PID VMSIZE0 RSS1 MAPS0: the same mappings (hence
# VmSize), VmRSS bounded.
memory_steady() {
  local name=$1 pid=$2 vms0=$3 rss1=$4 maps0=$5 vms rss
  vms=$(field "$pid" VmSize)
  rss=$(field "$pid" VmRSS)
  maps "$pid" >"$maps0.after"
  diff "$maps0" "$maps0.after" >&2 || fail "$name: its mappings changed (above)"
  [ "$rss" -le $((rss1 + SLACK_KB)) ] ||
    fail "$name: VmRSS grew from $rss1 kB (after round 1) to $rss kB"
  ok "$name: same $(wc -l <"$maps0") mappings (VmSize $vms0 -> $vms kB), VmRSS $rss kB (round 1: $rss1 kB)"
}

# --- passt ----------------------------------------------------------------------------
SOCK=$TMP/h.sock
"$PASST_BIN" -f -s "$SOCK" -l "$TMP/passt.log" </dev/null >"$TMP/passt.out" 2>&1 &
PID=$!
wait_until 5 test -S "$SOCK" || fail "passt: no socket"
wait_until 5 sh -c "[ \"\$(sed -n 's/^Seccomp:[[:space:]]*//p' /proc/$PID/status)\" = 2 ]" ||
  fail "passt: no filter"
"${HP[@]}" tcp --socket "$SOCK" --sport 45000 >&2 || fail "passt: TCP before the flood"
VMS0=$(field "$PID" VmSize)
maps "$PID" >"$TMP/passt.maps"
RSS1=
for r in $(seq 1 "$ROUNDS"); do
  "${HP[@]}" flood --socket "$SOCK" --corpus "$CORPUS" --frames "$FRAMES" --seed "$r" >&2 ||
    fail "passt: flood round $r"
  kill -0 "$PID" 2>/dev/null || fail "passt died in round $r"
  [ -n "$RSS1" ] || RSS1=$(field "$PID" VmRSS)
  log "round $r: VmRSS $(field "$PID" VmRSS) kB VmSize $(field "$PID" VmSize) kB"
done
"${HP[@]}" framing --socket "$SOCK" >&2 || fail "passt: broken framing"
memory_steady "passt after $ROUNDS x $FRAMES frames" "$PID" "$VMS0" "$RSS1" "$TMP/passt.maps"
[ "$(sed -n 's/^Seccomp:[[:space:]]*//p' "/proc/$PID/status")" = 2 ] || fail "passt: filter gone"
"${PEER[@]}" services --socket "$SOCK" "${EXPECT[@]}" >&2 || fail "passt: DHCP/NDP/DHCPv6 after the flood"
"${HP[@]}" tcp --socket "$SOCK" --sport 45001 --bytes 200000 >&2 || fail "passt: TCP after the flood"
kill -TERM "$PID"
wait_exit 10 "$PID"
[ "$WAIT_RC" = 0 ] || fail "passt: exit status $WAIT_RC after SIGTERM (134: allocation guard, 159: seccomp)"
! grep -q "heap allocation after initialisation" "$TMP/passt.out" || fail "passt allocated"
ok "passt: $ROUNDS x $FRAMES hostile frames, alive, memory steady, DHCP and TCP still served, exit 0"

# --- pasta ------------------------------------------------------------------------------
# The command floods the tap in rounds; between rounds it waits for us to
# sample pasta's memory (round.N files), then checks DHCP and TCP.
cat >"$TMP/cmd.sh" <<EOF
#!/bin/sh
ip link set up0 up
busybox udhcpc -i up0 -f -q -n -t 3 -T 1 -A 1 -s /bin/true >"$TMP/dhcp0.log" 2>&1 || echo dhcp0 >>"$TMP/cmd.err"
for r in \$(seq 1 $ROUNDS); do
  ${HP[*]} inject --ifname up0 --corpus "$CORPUS" --frames $FRAMES --seed \$r >>"$TMP/inject.log" 2>&1 || echo "inject \$r" >>"$TMP/cmd.err"
  touch "$TMP/round.\$r"
  n=0
  while [ ! -e "$TMP/go.\$r" ] && [ \$n -lt 1500 ]; do sleep 0.02; n=\$((n + 1)); done
done
busybox udhcpc -i up0 -f -q -n -t 3 -T 1 -A 1 -s /bin/true >"$TMP/dhcp1.log" 2>&1 || echo dhcp1 >>"$TMP/cmd.err"
head -c 300000 /dev/urandom >"$TMP/blob"
timeout 20 socat -t 5 - TCP:203.0.113.1:7010 <"$TMP/blob" >"$TMP/blob.back" 2>"$TMP/socat.log" || echo "socat \$?" >>"$TMP/cmd.err"
cmp -s "$TMP/blob" "$TMP/blob.back" || echo "echo differs: \$(stat -c %s "$TMP/blob.back") bytes" >>"$TMP/cmd.err"
touch "$TMP/cmd.done"
EOF
chmod +x "$TMP/cmd.sh"
"$PASTA_BIN" --config-net -l "$TMP/pasta.log" -p "$TMP/pasta.pcap" -- "$TMP/cmd.sh" </dev/null >"$TMP/pasta.out" 2>&1 &
PID=$!
wait_until 10 sh -c "[ \"\$(sed -n 's/^Seccomp:[[:space:]]*//p' /proc/$PID/status 2>/dev/null)\" = 2 ]" ||
  fail "pasta: no filter"
VMS0=$(field "$PID" VmSize)
maps "$PID" >"$TMP/pasta.maps"
RSS1=
for r in $(seq 1 "$ROUNDS"); do
  wait_until 120 test -e "$TMP/round.$r" || fail "pasta: round $r did not finish"
  kill -0 "$PID" 2>/dev/null || fail "pasta died in round $r"
  [ -n "$RSS1" ] || RSS1=$(field "$PID" VmRSS)
  log "round $r: VmRSS $(field "$PID" VmRSS) kB VmSize $(field "$PID" VmSize) kB"
  [ "$r" != "$ROUNDS" ] || memory_steady "pasta after $ROUNDS x $FRAMES frames" "$PID" "$VMS0" "$RSS1" "$TMP/pasta.maps"
  touch "$TMP/go.$r"
done
wait_exit 60 "$PID"
[ "$WAIT_RC" = 0 ] || fail "pasta: exit status $WAIT_RC (134: allocation guard, 159: seccomp)"
cat "$TMP/inject.log" >&2
[ -e "$TMP/cmd.done" ] || fail "pasta: the command did not finish"
[ ! -e "$TMP/cmd.err" ] || fail "pasta: $(tr '\n' ' ' <"$TMP/cmd.err")"
! grep -q "heap allocation after initialisation" "$TMP/pasta.out" || fail "pasta allocated"
# The frames did reach pasta: its capture has them (records from the tap).
SEEN=$(python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read()
i, n = 24, 0
while i + 16 <= len(d):
    n += 1
    i += 16 + struct.unpack("<I", d[i + 8:i + 12])[0]
print(n)' "$TMP/pasta.pcap")
[ "$SEEN" -ge $((FRAMES * ROUNDS / 2)) ] || fail "pasta: only $SEEN frames in its capture"
ok "pasta: $SEEN frames in its capture"
ok "pasta: $ROUNDS x $FRAMES hostile frames into the tap, alive, memory steady, DHCP and TCP (300 kB echo) still work, exit 0"

log PASS
