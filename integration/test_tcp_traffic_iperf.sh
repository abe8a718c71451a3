#!/usr/bin/env bash
# Real traffic through pasta's tap (issue 4, item 6 and "namespace -> host
# over the tap path never stalls"): iperf3 for 10 s from the namespace to an
# iperf3 server on the host's lo alias (203.0.113.1, 2001:db8:1::1: routed
# into the tap, pasta connects on the host), at MTU 65520 and at MTU 1500
# (pasta -m), IPv4 and IPv6; and host -> namespace (IPv4, a host client
# from 203.0.113.1 to a -t port on 198.51.100.1, served in the namespace),
# where the host sender's timeouts are logged but not checked: under load
# it saw one (1 in 3 runs), with TcpExtTCPRcvQDrop +1 on the host: pasta's
# socket, which peeks and keeps the data until the namespace acknowledges
# it, dropped an in-window segment when its receive queue overflowed.
#
# The guard (namespace -> host): the namespace's TCP must never fall into a
# retransmission timeout, i.e. nstat's TcpExtTCPTimeouts in pasta's
# namespace does not move during the run (upstream pasta shows 4-10 per 6 s here: its
# translator idles while the namespace waits for an RTO).  Retransmits
# (iperf3's count, TcpRetransSegs), throughput and pasta's CPU use are
# logged.  A failure prints those numbers; do not loosen the check.  In
# reference mode (Debian's pasta, which stalls: 4 timeouts and 0.09 Gbit/s
# in 6 s at MTU 65520 here) the numbers are only logged.
#
# TRAFFIC_IPERF_SECONDS (default 10) changes the duration.
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need iperf3 nstat ss ip timeout python3
. "$IT_TOOLS/tcp_traffic_lib.sh"

SECS=${TRAFFIC_IPERF_SECONDS:-10}
PORT=7301      # the host's iperf3 server
PORT_NS=7302   # -t port: the namespace's iperf3 server

# cpu_ticks PID: user + system clock ticks of PID.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# counter WHERE NAME: a TCP counter of the namespace (ns) or the host.
counter() { if [ "$1" = ns ]; then ns_counter "$2"; else host_counter "$2"; fi; }

# iperf_run NAME DIR ADDR [BIND]: one run; DIR ns->host (server on the host
# at ADDR, client in the namespace) or host->ns (server in the namespace, a
# host client from BIND to ADDR through pasta's -t).  The sender's side must
# see no retransmission timeout.
iperf_run() {
  local name=$1 dir=$2 addr=$3 bind=${4:-} port=$PORT spid to0 to1 rs0 rs1 c0 c1 t0 t1 rc=0 summary
  local srv=() cli=() sender=ns cargs=()
  if [ "$dir" = "host->ns" ]; then
    srv=(nsenter --net="$NETNS"); sender=host; cargs=(-B "$bind"); port=$PORT_NS
    "${srv[@]}" iperf3 -s -1 -p $port >"$TMP/iperf-server.log" 2>&1 &
    spid=$!
    wait_until 5 listening_on ns $port || fail "$name: iperf3 server did not start"
  else
    cli=(nsenter --net="$NETNS")
    iperf3 -s -1 -B "$addr" -p $PORT >"$TMP/iperf-server.log" 2>&1 &
    spid=$!
    wait_until 5 listening_on host $PORT || fail "$name: iperf3 server did not start"
  fi
  to0=$(counter $sender TcpExtTCPTimeouts); rs0=$(counter $sender TcpRetransSegs)
  snap "$TMP/c0"
  c0=$(cpu_ticks "$PASTA_PID"); t0=$(now_ms)
  "${cli[@]}" timeout -k 2 $((SECS + 20)) iperf3 -c "$addr" "${cargs[@]}" -p $port -t "$SECS" -J \
    >"$TMP/iperf.json" 2>"$TMP/iperf.err" || rc=$?
  c1=$(cpu_ticks "$PASTA_PID"); t1=$(now_ms)
  to1=$(counter $sender TcpExtTCPTimeouts); rs1=$(counter $sender TcpRetransSegs)
  snap "$TMP/c1"
  wait_exit 5 $spid
  pasta_alive
  [ "$rc" = 0 ] || fail "$name: iperf3 client status $rc: $(cat "$TMP/iperf.err"; tail -n 5 "$TMP/iperf.json")"
  summary=$(python3 - "$TMP/iperf.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
s = j["end"]["sum_sent"]
r = j["end"]["sum_received"]
print("%.2f Gbit/s sent, %.2f received, %d retransmits (iperf3)" %
      (s["bits_per_second"] / 1e9, r["bits_per_second"] / 1e9, s.get("retransmits", -1)))
PY
  ) || fail "$name: cannot read iperf3's result: $(head -c 500 "$TMP/iperf.json")"
  local cpu line
  cpu=$(( (c1 - c0) * 100 * 1000 / $(getconf CLK_TCK) / (t1 - t0 + 1) ))
  line="$summary; $sender TcpExtTCPTimeouts +$((to1 - to0)), TcpRetransSegs +$((rs1 - rs0)); pasta CPU ${cpu}%; counters moved: $(deltas "$TMP/c0" "$TMP/c1")"
  if [ "$to1" != "$to0" ]; then
    # Our requirement, not upstream's: Debian's pasta stalls here.
    [ "$REFERENCE" = 1 ] && { log "reference mode, not checked: $name: $line"; return 0; }
    # host -> ns: the sender is the host's socket, on loopback to pasta's
    # peeking socket, whose receive queue can overflow (TcpExtTCPRcvQDrop):
    # logged, not (yet) a requirement.
    [ "$sender" = host ] && { log "not checked (host -> namespace): $name: $line"; return 0; }
    fail "$name: the sender's TCP ($sender) had $((to1 - to0)) retransmission timeouts in $SECS s ($line)"
  fi
  ok "$name: $line"
}

for mtu in 65520 1500; do
  start_pasta -t $PORT_NS -m $mtu
  iperf_run "iperf3 ${SECS}s ns->host IPv4 MTU $mtu" "ns->host" "$HOST4"
  iperf_run "iperf3 ${SECS}s ns->host IPv6 MTU $mtu" "ns->host" "$HOST6"
  iperf_run "iperf3 ${SECS}s host->ns IPv4 MTU $mtu" "host->ns" "$NS4" "$HOST4"
  stop_pasta
done
log "PASS"
