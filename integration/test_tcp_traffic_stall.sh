#!/usr/bin/env bash
# Real traffic through pasta's tap (issue 4, item 6): a peer that stops
# reading.  A connection carries 64 MiB one way; after 1 MiB the receiving
# application stops reading for 5 s, then reads the rest.  While it does
# not read, the sender's window must close (its socket sits in the persist
# timer: zero-window probes; its acknowledged byte count does not move for
# a second and more), and once reading resumes every byte must arrive
# (compared with the expected stream and hashed by tools/tcp_traffic.py on
# both ends).  Four cases (paths as in tools/tcp_traffic_lib.sh):
#
#   case  connection      receiver that stops    sender watched
#   A1    ns -> host      host server            namespace client
#   A2    ns -> host      namespace client       host server
#   B1    host -> ns (-t) namespace server       host client
#   B2    host -> ns (-t) host client            namespace server
#
# A1 and B2: the namespace's TCP must see pasta's window close (pasta
# mirrors the host socket's window) rather than time out; A2 and B1: pasta
# must stop taking data from the host socket while the namespace's window is
# zero, and probe it.  IPv4 at MTU 65520, then IPv6 at MTU 1500.  The
# namespace's retransmission timeouts (TcpExtTCPTimeouts) are logged.
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need ss ip timeout python3 nstat
. "$IT_TOOLS/tcp_traffic_lib.sh"

SIZE=$((64 * 1024 * 1024))
PAUSE_AT=$((1024 * 1024))
PAUSE_MS=5000
P_NS=7201     # -t port: the namespace's server
P_HOST=7202   # the host's server

# sock_info WHERE FILTER...: `ss -tino` of the one open socket
# matching FILTER, on one line.
sock_info() {
  local where=$1; shift
  local q=(ss -Htino exclude listening exclude time-wait "$@")
  if [ "$where" = ns ]; then in_ns "${q[@]}"; else "${q[@]}"; fi | tr '\n\t' '  '
}

# watch_stall NAME WHERE NOTEFILE FILTER...: once NOTEFILE says the reader
# paused, samples the sender's socket (WHERE, FILTER) every 100 ms for up to
# 3.5 s: it must show the persist timer, and its bytes_acked must stay put
# for at least 1 s.
watch_stall() {
  local name=$1 where=$2 note=$3; shift 3
  local info acked last="" since=0 persist=0 stalled=0 t now i
  wait_until 30 grep -q '^pause ' "$note" || fail "$name: the reader never paused"
  t=$(now_ms)
  for i in $(seq 35); do
    info=$(sock_info "$where" "$@")
    now=$(now_ms)
    case $info in *"timer:(persist"*) persist=$((persist + 1)) ;; esac
    acked=$(grep -o 'bytes_acked:[0-9]*' <<<"$info" || echo none)
    if [ "$acked" != "$last" ]; then last=$acked; since=$now; fi
    [ $((now - since)) -ge 1000 ] && [ "$acked" != none ] && stalled=1
    [ $persist -ge 2 ] && [ $stalled = 1 ] && break
    sleep 0.1
  done
  [ $stalled = 1 ] || fail "$name: the sender's acknowledged bytes kept moving while the reader paused ($((now - t)) ms): $info"
  [ $persist -ge 1 ] || fail "$name: the sender never entered the persist timer (zero window) in $((now - t)) ms: $info"
  grep -q '^resume ' "$note" && fail "$name: the reader resumed before the checks were done (machine too slow?)"
  ok "$name: sender stalled at ${last#bytes_acked:} bytes acknowledged, persist timer in $persist samples"
}

# run_case NAME WHERE_CLIENT HOST PORT BIND READER WATCH_WHERE FILTER...
#   READER: server|client (which end stops reading).
run_case() {
  local name=$1 cwhere=$2 host=$3 port=$4 bind=$5 reader=$6 wwhere=$7; shift 7
  local in=() args=() up=0 down=0 note seed=$((RANDOM + 1)) to0 to1 rc
  [ "$cwhere" = ns ] && in=(nsenter --net="$NETNS")
  [ -n "$bind" ] && args+=(--bind "$bind")
  if [ "$reader" = server ]; then
    up=$SIZE; args+=(--server-pause-at "$PAUSE_AT" --server-pause-ms "$PAUSE_MS"); note=$SRVLOG
  else
    down=$SIZE; args+=(--pause-at "$PAUSE_AT" --pause-ms "$PAUSE_MS"); note=$TMP/client.err
  fi
  : >"$SRVLOG"; : >"$TMP/client.err"
  to0=$(ns_counter TcpExtTCPTimeouts)
  timeout -k 2 60 "${in[@]}" python3 "$TRAFFIC_PY" client "$host" "$port" $up $down $seed \
    "${args[@]}" >"$TMP/client.out" 2>"$TMP/client.err" &
  local cpid=$!
  watch_stall "$name" "$wwhere" "$note" "$@"
  wait_exit 70 $cpid
  rc=$WAIT_RC
  pasta_alive
  to1=$(ns_counter TcpExtTCPTimeouts)
  [ "$rc" = 0 ] || fail "$name: client status $rc: $(cat "$TMP/client.out" "$TMP/client.err")"
  wait_until 10 grep -q "^seed=$seed " "$SRVLOG" || fail "$name: the server did not log the connection"
  local cl sv
  cl=$(cat "$TMP/client.out")
  sv=$(grep "^seed=$seed " "$SRVLOG")
  case $sv in *" ok") ;; *) fail "$name: server: $sv" ;; esac
  # Each direction's hash as sent equals the hash as received.
  local csent crecv ssent srecv
  csent=$(sed -n 's/.* sent=\([^ ]*\).*/\1/p' <<<"$cl"); crecv=$(sed -n 's/.* recv=\([^ ]*\).*/\1/p' <<<"$cl")
  ssent=$(sed -n 's/.* sent=\([^ ]*\).*/\1/p' <<<"$sv"); srecv=$(sed -n 's/.* recv=\([^ ]*\).*/\1/p' <<<"$sv")
  [ "$csent" = "$srecv" ] && [ "$ssent" = "$crecv" ] ||
    fail "$name: hashes differ: client $cl, server $sv"
  local sha=${csent#*/}
  [ "$up" = 0 ] && sha=${ssent#*/}
  ok "$name: 64 MiB intact after the pause (SHA-256 ${sha:0:16}... on both ends; namespace RTO timeouts +$((to1 - to0)))"
}

SRVLOG=$TMP/srv.log
i=0
for spec in "4 65520 $HOST4 $NS4" "6 1500 $HOST6 $NS6"; do
  read -r fam mtu haddr naddr <<<"$spec"
  start_pasta -t $P_NS -m $mtu
  traffic_server host "$haddr" $P_HOST "$SRVLOG"
  HOST_SRV=$!
  run_case "A1 IPv$fam MTU $mtu ns->host, host stops reading" \
    ns "$haddr" $P_HOST "" server ns dport = :$P_HOST
  run_case "A2 IPv$fam MTU $mtu ns->host, namespace stops reading" \
    ns "$haddr" $P_HOST "" client host sport = :$P_HOST
  kill $HOST_SRV
  traffic_server ns :: $P_NS "$SRVLOG"
  NS_SRV=$!
  run_case "B1 IPv$fam MTU $mtu host->ns, namespace stops reading" \
    host "$naddr" $P_NS "$haddr" server host dport = :$P_NS
  run_case "B2 IPv$fam MTU $mtu host->ns, host stops reading" \
    host "$naddr" $P_NS "$haddr" client ns sport = :$P_NS
  kill $NS_SRV
  stop_pasta
  i=$((i + 1))
done
log "PASS"
