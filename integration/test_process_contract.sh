#!/usr/bin/env bash
# The process contract of both modes (docs/process.md, clients.md):
#
#  * without -f the launcher exits 0 once the daemon is ready (passt: the
#    socket accepts a client at once; pasta: the namespace is configured),
#    and the pid file (-P) then holds "<daemon pid>\n"; the daemon has
#    /dev/null on fds 0-2, no other inherited descriptor, and the
#    launcher's stdout/stderr see EOF;
#    with -f the pid file holds the process's own pid;
#  * SIGTERM: exit status 0 (foreground);
#  * -l FILE: mode 0600, first line "<passt|pasta> VERSION: EXE (PID)", then
#    entries "S.FFFF: PREFIX message" (PREFIX "ERROR:   ", "WARNING: ",
#    "info:    " or 9 spaces);
#  * -q: no output at all (passt in the foreground, pasta spawning a command);
#  * --version, --help: exit 0, output on stdout only; --version's first line
#    is "<passt|pasta> VERSION";
#  * an unknown option: glibc getopt's "unrecognized option '--foo'" on
#    stderr, exit 1 (Podman matches this text); an unknown short option:
#    "invalid option -- 'Z'", exit 1;
#  * pasta spawning a command exits with the command's status (128+N if
#    it was killed by signal N);
#  * -p FILE: a pcap file (mode 0600) that `tshark -r` reads: ARP, DHCP,
#    NDP and DHCPv6 of a session, both directions.
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need python3 ip busybox tshark

PEER=(python3 "$IT_TOOLS/qemu_peer.py")
if [ "$REFERENCE" = 1 ]; then
  EXPECT=(--our-mac "$(host_mac up0)" --ra-lifetime any --prefix-lifetime any --ignore-bcast-flag)
else
  EXPECT=(--our-mac "$UPSTREAM_MAC")
fi

file_mode() { stat -c %a "$1"; }

check_daemon_fds() {   # check_daemon_fds WHAT PID
  local fd
  for fd in 0 1 2; do
    [ "$(readlink "/proc/$2/fd/$fd")" = /dev/null ] ||
      fail "$1: daemon fd $fd is $(readlink "/proc/$2/fd/$fd"), expected /dev/null"
  done
}

check_pidfile() {   # check_pidfile WHAT FILE ARG: FILE holds the pid of the process run with ARG
  local what=$1 file=$2 pid
  [ -f "$file" ] || fail "$what: no pid file $file"
  printf '%s' "$(cat "$file")" | grep -qE '^[0-9]+$' || fail "$what: pid file holds '$(cat "$file")'"
  [ "$(tail -c 1 "$file" | od -An -c | tr -d ' ')" = '\n' ] || fail "$what: pid file not newline-terminated"
  pid=$(cat "$file")
  kill -0 "$pid" 2>/dev/null || fail "$what: pid file says $pid, which does not run"
  tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -e "$3" -e "--netns=$3" ||
    fail "$what: pid $pid from the pid file is not our daemon: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
  PIDFILE_PID=$pid
}

check_log() {   # check_log WHAT FILE MODE-NAME [PID]
  local what=$1 f=$2 mode=$3 header
  [ -s "$f" ] || fail "$what: log file $f is empty"
  [ "$(file_mode "$f")" = 600 ] || fail "$what: log file mode $(file_mode "$f"), expected 600"
  header=$(head -n 1 "$f")
  echo "$header" | grep -qE "^$mode .+: /[^ ]+ \\([0-9]+\\)\$" ||
    fail "$what: log header '$header', expected '$mode VERSION: EXE (PID)'"
  if [ -n "${4:-}" ]; then
    echo "$header" | grep -q "($4)\$" || fail "$what: log header '$header' does not name pid $4"
  fi
  tail -n +2 "$f" | grep -v '^$' | grep -vE '^[0-9]+\.[0-9]{4}: (ERROR:   |WARNING: |info:    |         )' |
    head -n 3 >"$TMP/badlines" || true
  [ ! -s "$TMP/badlines" ] || fail "$what: log entries not in 'S.FFFF: PREFIX msg' form: $(cat "$TMP/badlines")"
  ok "$what: log file: mode 0600, header '$header', $(($(wc -l <"$f") - 1)) more lines, well-formed"
}

# --- passt: daemon, readiness, pid file, log file ---------------------------------
SOCK=$TMP/d.sock
python3 "$IT_TOOLS/launch.py" --extra-fd --out "$TMP/passt-daemon.out" -- \
  "$PASST_BIN" -s "$SOCK" -P "$TMP/passt.pid" -l "$TMP/passt.log" >"$TMP/passt-daemon.launch"
grep -q '^rc=0$' "$TMP/passt-daemon.launch" ||
  fail "passt daemon: launcher $(head -n 1 "$TMP/passt-daemon.launch"): $(cat "$TMP/passt-daemon.out")"
grep -q '^eof=yes$' "$TMP/passt-daemon.launch" ||
  fail "passt daemon: stdout/stderr still open in the daemon after the launcher exited"
# Ready means ready: one connection attempt, no retry.
"${PEER[@]}" arp --socket "$SOCK" --connect-timeout 0 "${EXPECT[@]}" >&2 ||
  fail "passt daemon: not serving its socket when the launcher exited"
check_pidfile "passt daemon" "$TMP/passt.pid" "$SOCK"
DPID=$PIDFILE_PID
check_daemon_fds "passt daemon" "$DPID"
ok "passt daemon: launcher exit 0 when ready, pid file $DPID, fds 0-2 on /dev/null"
if upstream_only "inherited descriptors above 2 are kept open (upstream closes them at start)"; then
  grep -q '^extra_eof=yes$' "$TMP/passt-daemon.launch" ||
    fail "passt daemon: an inherited descriptor (fd $(sed -n 's/^extra_fd=//p' "$TMP/passt-daemon.launch")) is still open"
  ok "passt daemon: inherited descriptors above 2 closed"
fi
check_log "passt daemon" "$TMP/passt.log" passt
stop_pidfile "$TMP/passt.pid"
ok "passt daemon: SIGTERM stops it"

# --- passt -f: pid file is its own pid, -q is quiet, SIGTERM exit 0 ------------
SOCK=$TMP/f.sock
"$PASST_BIN" -f -q -s "$SOCK" -P "$TMP/passt-f.pid" -l "$TMP/passt-f.log" </dev/null \
  >"$TMP/passt-f.out" 2>&1 &
FPID=$!
wait_until 5 test -S "$SOCK" || fail "passt -f: no socket after 5 s"
"${PEER[@]}" arp --socket "$SOCK" "${EXPECT[@]}" >&2 || fail "passt -f: no ARP reply"
wait_until 2 test -s "$TMP/passt-f.pid" || fail "passt -f: empty pid file"
[ "$(cat "$TMP/passt-f.pid")" = "$FPID" ] ||
  fail "passt -f: pid file says $(cat "$TMP/passt-f.pid"), the process is $FPID"
check_log "passt -f -q" "$TMP/passt-f.log" passt "$FPID"
kill -TERM "$FPID"
wait_exit 5 "$FPID"
[ "$WAIT_RC" = 0 ] || fail "passt -f: status $WAIT_RC after SIGTERM, expected 0"
ok "passt -f: pid file = own pid, SIGTERM exit 0"

SOCK=$TMP/q.sock
"$PASST_BIN" -f -q -s "$SOCK" </dev/null >"$TMP/passt-q.out" 2>&1 &
QPID=$!
wait_until 5 test -S "$SOCK" || fail "passt -f -q: no socket after 5 s"
"${PEER[@]}" arp --socket "$SOCK" "${EXPECT[@]}" >/dev/null || fail "passt -f -q: no ARP reply"
kill -TERM "$QPID"
wait_exit 5 "$QPID"
if upstream_only "-q still prints the socket path and qemu command-line hints"; then
  [ ! -s "$TMP/passt-q.out" ] || fail "passt -q: output: $(head -c 300 "$TMP/passt-q.out")"
  ok "passt -q: no output"
fi

# --- pasta: daemon with a pid file, log file -------------------------------------------
new_netns pidns
python3 "$IT_TOOLS/launch.py" --out "$TMP/pasta-daemon.out" -- \
  "$PASTA_BIN" --config-net -q -t none -u none -T none -U none --netns "$NETNS" -P "$TMP/pasta.pid" \
  -l "$TMP/pasta.log" >"$TMP/pasta-daemon.launch"
grep -q '^rc=0$' "$TMP/pasta-daemon.launch" ||
  fail "pasta daemon: launcher $(head -n 1 "$TMP/pasta-daemon.launch"): $(cat "$TMP/pasta-daemon.out")"
grep -q '^eof=yes$' "$TMP/pasta-daemon.launch" || fail "pasta daemon: stdout/stderr still open in the daemon"
in_netns "$NETNS" "$IT_TOOLS/nsdump.sh" "$TMP/pidns.dump"
python3 "$IT_TOOLS/ipq.py" "$TMP/pidns.dump" addrs up0 inet 198.51.100.1/24 -- mtu up0 65520 -- up lo ||
  fail "pasta daemon: namespace not configured when the launcher exited"
check_pidfile "pasta daemon" "$TMP/pasta.pid" "$NETNS"
check_daemon_fds "pasta daemon" "$PIDFILE_PID"
[ ! -s "$TMP/pasta-daemon.out" ] || fail "pasta -q: output: $(head -c 300 "$TMP/pasta-daemon.out")"
ok "pasta daemon: exit 0 when configured, pid file $PIDFILE_PID, quiet"
check_log "pasta daemon" "$TMP/pasta.log" pasta
stop_pidfile "$TMP/pasta.pid"

# --- pasta -f: SIGTERM exit 0 ---------------------------------------------------------
new_netns fg
"$PASTA_BIN" -f -q --config-net -t none -u none -T none -U none --netns "$NETNS" </dev/null \
  >"$TMP/pasta-f.out" 2>&1 &
PPID_F=$!
wait_until 5 in_netns "$NETNS" ip -4 addr show dev up0 scope global || fail "pasta -f: namespace not configured"
kill -TERM "$PPID_F"
wait_exit 5 "$PPID_F"
[ "$WAIT_RC" = 0 ] || fail "pasta -f: status $WAIT_RC after SIGTERM, expected 0"
ok "pasta -f: SIGTERM exit 0"

# --- pasta spawning a command: its exit status, -q ---------------------------------------
rc=0; timeout 20 "$PASTA_BIN" -q --config-net -- sh -c 'exit 7' </dev/null >"$TMP/spawn7.out" 2>&1 || rc=$?
[ "$rc" = 7 ] || fail "pasta -- sh -c 'exit 7': status $rc, expected 7"
# The command is pid 1 of its PID namespace: only SIGKILL (from outside) is
# sure to kill it.
"$PASTA_BIN" -q --config-net -- sleep 31415 </dev/null >"$TMP/spawn9.out" 2>&1 &
SPID=$!
wait_until 5 pgrep -f "^sleep 31415$" || fail "pasta -- sleep 31415: the command did not start"
kill -KILL "$(pgrep -f "^sleep 31415$")"
wait_exit 5 "$SPID"
[ "$WAIT_RC" = 137 ] || fail "pasta -- (command killed by SIGKILL): status $WAIT_RC, expected 137"
ok "pasta spawn: exit status of the command (7; 128+9)"
if upstream_only "spawning warns that it cannot write uid_map / ping_group_range here, even with -q"; then
  [ ! -s "$TMP/spawn7.out" ] || fail "pasta -q -- CMD: output: $(head -c 300 "$TMP/spawn7.out")"
  ok "pasta -q spawn: no output"
fi

# --- --version, --help, unknown options --------------------------------------------
for bin in "$PASST_BIN" "$PASTA_BIN"; do
  mode=$(basename "$bin")
  rc=0; "$bin" --version >"$TMP/v.out" 2>"$TMP/v.err" || rc=$?
  [ "$rc" = 0 ] || fail "$mode --version: status $rc"
  [ ! -s "$TMP/v.err" ] || fail "$mode --version: stderr: $(cat "$TMP/v.err")"
  head -n 1 "$TMP/v.out" | grep -qE "^$mode [^ ]+" ||
    fail "$mode --version: first line '$(head -n 1 "$TMP/v.out")', expected '$mode VERSION'"
  ok "$mode --version: '$(head -n 1 "$TMP/v.out")' on stdout, exit 0"

  if upstream_only "--help exits 1 with the usage on stderr"; then
    rc=0; "$bin" --help >"$TMP/h.out" 2>"$TMP/h.err" || rc=$?
    [ "$rc" = 0 ] || fail "$mode --help: status $rc"
    [ ! -s "$TMP/h.err" ] || fail "$mode --help: stderr: $(head -c 300 "$TMP/h.err")"
    grep -q 'Usage:' "$TMP/h.out" || fail "$mode --help: no 'Usage:' on stdout"
    ok "$mode --help: usage on stdout, exit 0"
  fi

  rc=0; "$bin" --foo >"$TMP/u.out" 2>"$TMP/u.err" || rc=$?
  [ "$rc" = 1 ] || fail "$mode --foo: status $rc, expected 1"
  grep -qF "unrecognized option '--foo'" "$TMP/u.err" ||
    fail "$mode --foo: stderr lacks \"unrecognized option '--foo'\": $(head -n 2 "$TMP/u.err")"
  [ ! -s "$TMP/u.out" ] || fail "$mode --foo: output on stdout"
  rc=0; "$bin" -Z >"$TMP/u.out" 2>"$TMP/u.err" || rc=$?
  [ "$rc" = 1 ] || fail "$mode -Z: status $rc, expected 1"
  grep -qF "invalid option -- 'Z'" "$TMP/u.err" ||
    fail "$mode -Z: stderr lacks \"invalid option -- 'Z'\": $(head -n 2 "$TMP/u.err")"
  ok "$mode: unknown options: getopt's messages, exit 1"
done

# --- pcap -------------------------------------------------------------------------------
# tshark_summary FILE: one line per frame: protocols arp-opcode dhcp-type icmpv6-type dhcpv6-type
tshark_summary() {
  tshark -r "$1" -T fields -E separator=' ' -E occurrence=f -e frame.protocols -e arp.opcode \
    -e dhcp.option.dhcp -e icmpv6.type -e dhcpv6.msgtype 2>"$TMP/tshark.err" | awk '{ $1 = $1; print }'
}
has_frames() {   # has_frames WHAT SUMMARY REGEX...: each REGEX matches some line
  local what=$1 sum=$2 r; shift 2
  for r in "$@"; do
    grep -qE "$r" "$sum" || fail "$what: no frame matching '$r' in the capture: $(cat "$sum")"
  done
}

SOCK=$TMP/p.sock
"$PASST_BIN" -f -q -s "$SOCK" -p "$TMP/passt.pcap" </dev/null >"$TMP/passt-pcap.out" 2>&1 &
CPID=$!
wait_until 5 test -S "$SOCK" || fail "passt -p: no socket after 5 s"
"${PEER[@]}" services --socket "$SOCK" "${EXPECT[@]}" >/dev/null || fail "passt -p: services"
kill -TERM "$CPID"
wait_exit 5 "$CPID"
[ "$(file_mode "$TMP/passt.pcap")" = 600 ] || fail "passt -p: pcap mode $(file_mode "$TMP/passt.pcap")"
tshark_summary "$TMP/passt.pcap" >"$TMP/passt.sum" || fail "tshark -r: $(cat "$TMP/tshark.err")"
grep -qi 'cut short\|corrupt\|error' "$TMP/tshark.err" && fail "tshark -r: $(cat "$TMP/tshark.err")"
has_frames "passt -p" "$TMP/passt.sum" ':arp 1$' ':arp 2$' \
  ':dhcp 1$' ':dhcp 2$' ':dhcp 3$' ':dhcp 5$' ':icmpv6 133$' ':icmpv6 134$' ':icmpv6 135$' ':icmpv6 136$' \
  ':dhcpv6 1$' ':dhcpv6 2$' ':dhcpv6 3$' ':dhcpv6 7$'
ok "passt -p: tshark reads $(wc -l <"$TMP/passt.sum") frames: ARP, DHCP, NDP, DHCPv6 both ways"

new_netns pcap
timeout 20 "$PASTA_BIN" -q -t none -u none -T none -U none --netns "$NETNS" -P "$TMP/pasta-pcap.pid" \
  -p "$TMP/pasta.pcap" </dev/null >"$TMP/pasta-pcap.out" 2>&1 || fail "pasta -p: launcher failed"
in_netns "$NETNS" ip link set up0 up
in_netns "$NETNS" timeout 15 busybox udhcpc -i up0 -f -q -n -t 3 -T 1 -A 1 -s /bin/true \
  >"$TMP/pasta-pcap.udhcpc" 2>&1 || fail "pasta -p: udhcpc got no lease"
stop_pidfile "$TMP/pasta-pcap.pid"
tshark_summary "$TMP/pasta.pcap" >"$TMP/pasta.sum" || fail "tshark -r: $(cat "$TMP/tshark.err")"
has_frames "pasta -p" "$TMP/pasta.sum" ':dhcp 1$' ':dhcp 2$' ':dhcp 3$' ':dhcp 5$'
ok "pasta -p: tshark reads the DHCP exchange"
log "PASS"
