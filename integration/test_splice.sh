#!/usr/bin/env bash
# pasta's loopback fast path for TCP (upstream-behaviour.md §2.3, §3.9):
# a connection to a -t port from the host's loopback is spliced (socket to
# socket through pipes, no frame) into the namespace; other clients, and
# every client with --no-splice, take the tap path.
#
# Three pastas, each on its own test-made namespace (--config-net: the
# namespace gets 198.51.100.1/24 and 2001:db8::1/64), each with -t PORT:
#
#   default            the target is the namespace's own address (reached
#                      over its lo): a wildcard server there sees the
#                      connection coming from 198.51.100.1 / 2001:db8::1
#   --host-lo-to-ns-lo the target is the namespace's 127.0.0.1 / ::1: servers
#                      bound to those addresses only are reached
#   --no-splice        the tap path: the server sees the mapped host
#                      loopback (the gateway, 198.51.100.254 / 2001:db8::ff)
#
# Clients on the outer namespace's 127.0.0.1 and ::1.  Each connection
# carries a header, then data both ways, checked by SHA-256 on both ends:
# 2 KiB one way and 10 MiB the other, both ways round, with the client
# closing first (it sends, shuts down, then reads the answer) and with the
# server closing first (it answers and shuts down before the client sends).
# Also: a target that refuses (nothing listens) and one that resets are seen
# by the client as a reset, and 60 connections open at once.
#
# -T, the other way: a client on the namespace's loopback, a -T listener
# there, the server on the host's 127.0.0.1 / ::1 (which sees the client's
# loopback address as the source); the same transfers.
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries
need python3 ip timeout

P_WILD=10001      # server on 0.0.0.0 and :: (dual stack)
P_LO=10002        # servers on 127.0.0.1 and ::1 only
P_REFUSE=10003    # nothing listens
P_RESET=10004     # accepts, then resets
P_T=10005         # -T P_T:P_HOST
P_HOST=10006      # servers on the host's 127.0.0.1 and ::1

cat >"$TMP/peer.py" <<'EOF'
# Test peer: "serve HOST PORT LOG" (threaded, forever) or "client HOST PORT
# MODE UP DOWN".  A connection starts with a 64-byte header "MODE UP DOWN";
# UP bytes go client -> server, DOWN bytes server -> client; contents are
# deterministic (SHA-256 counter stream), checked by digest on each end.
# MODE c: the client sends, shuts down, then reads until EOF (client closes
# first).  MODE s: the server sends and shuts down first, then reads.
# MODE r (server): reset at once (SO_LINGER 0).
import hashlib, socket, struct, sys, threading

def stream(n, tag):
    out, i = bytearray(), 0
    while len(out) < n:
        out += hashlib.sha256(b"%s-%d" % (tag, i)).digest() * 64
        i += 1
    return bytes(out[:n])

def read_all(s):
    h, n = hashlib.sha256(), 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            return h.hexdigest(), n
        h.update(b)
        n += len(b)

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("short header")
        b += c
    return b

def serve_one(c, peer, log, lock):
    try:
        mode, up, down = recv_exact(c, 64).decode().split()[:3]
        up, down = int(up), int(down)
        if mode == "r":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
            return
        if mode == "s":
            c.sendall(stream(down, b"down"))
            c.shutdown(socket.SHUT_WR)
        digest, n = read_all(c)
        ok = n == up and digest == hashlib.sha256(stream(up, b"up")).hexdigest()
        if mode == "c":
            c.sendall(stream(down, b"down"))
            c.shutdown(socket.SHUT_WR)
            read_all(c)  # the client's close
        result = "ok" if ok else "bad(%d bytes)" % n
    except Exception as e:  # noqa: BLE001
        result = "error(%s)" % e
    finally:
        c.close()
    addr = peer[0][7:] if peer[0].startswith("::ffff:") else peer[0]
    with lock, open(log, "a") as f:
        f.write("peer=%s mode=%s up=%d down=%d %s\n" % (addr, mode, up, down, result))

def serve(host, port, log):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if host == "::" else 1)
    s.bind((host, port))
    s.listen(128)
    lock = threading.Lock()
    while True:
        c, peer = s.accept()
        threading.Thread(target=serve_one, args=(c, peer, log, lock), daemon=True).start()

def client(host, port, mode, up, down):
    print(transfer(host, port, mode, up, down))

def transfer(host, port, mode, up, down):
    try:
        s = socket.create_connection((host, port), timeout=30)
        s.sendall(("%s %d %d" % (mode, up, down)).encode().ljust(64))
        if mode == "c":
            s.sendall(stream(up, b"up"))
            s.shutdown(socket.SHUT_WR)
            digest, n = read_all(s)
        elif mode == "s":
            digest, n = read_all(s)
            s.sendall(stream(up, b"up"))
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5)
            s.recv(1)  # the server's close
        else:
            s.settimeout(10)
            b = s.recv(1)
            return "eof" if not b else "data"
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    ok = n == down and digest == hashlib.sha256(stream(down, b"down")).hexdigest()
    return "ok" if ok else "bad(%d bytes)" % n

def many(hosts, port, n):
    # n connections open at once (alternating hosts), then a mode c transfer
    # on each, in parallel.
    socks = [socket.create_connection((hosts[i % len(hosts)], port), timeout=30) for i in range(n)]
    results = [None] * n
    def run(i):
        s = socks[i]
        try:
            s.sendall(b"c 1000 3000".ljust(64))
            s.sendall(stream(1000, b"up"))
            s.shutdown(socket.SHUT_WR)
            digest, got = read_all(s)
            results[i] = got == 3000 and digest == hashlib.sha256(stream(3000, b"down")).hexdigest()
        except OSError as e:
            results[i] = e
        finally:
            s.close()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = [r for r in results if r is not True]
    print("ok" if not bad else "bad: %d of %d failed: %s" % (len(bad), n, bad[:3]))

if sys.argv[1] == "serve":
    serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
elif sys.argv[1] == "multi":  # multi HOST PORT MODE:UP:DOWN...: one after the other
    for spec in sys.argv[4:]:
        mode, up, down = spec.split(":")
        print(transfer(sys.argv[2], int(sys.argv[3]), mode, int(up), int(down)))
elif sys.argv[1] == "many":
    many(sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4]))
else:
    client(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
EOF

# start_pasta NAME ARGS...: a namespace NAME with pasta --config-net ARGS
# running on it, and the test servers inside.  Sets NS_<NAME>.
start_pasta() {
  local name=$1; shift
  new_netns "$name"
  "$PASTA_BIN" --config-net -P "$TMP/$name.pid" "$@" --netns "$NETNS" >"$TMP/$name.log" 2>&1 ||
    fail "$name: pasta $* failed to start"
  eval "NS_$name=\$NETNS"
  in_netns "$NETNS" python3 "$TMP/peer.py" serve :: $P_WILD "$TMP/$name.srv" &
  in_netns "$NETNS" python3 "$TMP/peer.py" serve 127.0.0.1 $P_LO "$TMP/$name.srv" &
  in_netns "$NETNS" python3 "$TMP/peer.py" serve ::1 $P_LO "$TMP/$name.srv" &
  in_netns "$NETNS" python3 "$TMP/peer.py" serve :: $P_RESET "$TMP/$name.srv" &
  wait_until 10 servers_up "$NETNS" || fail "$name: test servers did not start"
}
servers_up() { [ "$(in_netns "$1" ss -Htln | wc -l)" -ge 4 ]; }

# client NAME HOST PORT MODE UP DOWN EXPECT: one connection from the outer
# namespace; the client must print EXPECT.
client() {
  local name=$1 host=$2 port=$3 mode=$4 up=$5 down=$6 want=$7 got
  got=$(timeout 60 python3 "$TMP/peer.py" client "$host" "$port" "$mode" "$up" "$down" 2>&1) || true
  [ "$got" = "$want" ] || fail "$name: client $host:$port mode $mode up $up down $down: got '$got', want '$want'"
}

K2=2048
M10=$((10 * 1024 * 1024))

# transfers NAME HOST PORT PEER [NETNS]: the four transfers through one
# forwarded port, one after the other, checked on both ends; the server must
# have seen the connections from PEER.  The client runs in NETNS if given.
transfers() {
  local name=$1 host=$2 port=$3 peer=$4 ns=${5:-} mode up down specs=() want="" got in=()
  [ -z "$ns" ] || in=(nsenter --net="$ns")
  : >"$TMP/$name.srv"
  for mode in c s; do
    for up in $K2 $M10; do
      down=$((up == K2 ? M10 : K2))
      # The direction that closes second: the answer (c) or the request (s).
      if { [ $mode = c ] && [ $down = $M10 ]; } || { [ $mode = s ] && [ $up = $M10 ]; } &&
         ! upstream_only "Debian's 2023 pasta loses the end of a large stream sent after the other direction closed"; then
        continue
      fi
      specs+=("$mode:$up:$down")
      want="$want ok"
    done
  done
  got=$(timeout 120 "${in[@]}" python3 "$TMP/peer.py" multi "$host" "$port" "${specs[@]}" 2>&1 | tr '\n' ' ') || true
  [ "$got" = "${want# } " ] || fail "$name: transfers via $host:$port (${specs[*]}): got '$got'"
  wait_until 10 sh -c "[ \$(wc -l <'$TMP/$name.srv') -ge ${#specs[@]} ]" ||
    fail "$name: server logged $(cat "$TMP/$name.srv")"
  if grep -v " ok$" "$TMP/$name.srv" >&2; then fail "$name: a server saw bad data (above)"; fi
  if grep -v "^peer=$peer " "$TMP/$name.srv" >&2; then
    fail "$name via $host: connections came from another address than $peer (above)"
  fi
}

# --- default: spliced to the namespace's own address ------------------------
start_pasta dflt -t $P_WILD,$P_LO,$P_REFUSE,$P_RESET
if [ "$REFERENCE" = 1 ]; then
  # Debian's 2023 pasta splices to the namespace's loopback instead.
  transfers dflt 127.0.0.1 $P_WILD 127.0.0.1
  transfers dflt ::1 $P_WILD ::1
else
  transfers dflt 127.0.0.1 $P_WILD 198.51.100.1
  transfers dflt ::1 $P_WILD 2001:db8::1
  ok "spliced to 198.51.100.1 / 2001:db8::1 (over the namespace's lo): 2 KiB + 10 MiB both ways, both close orders"
  # Services bound to the namespace's loopback only are not exposed.
  client dflt 127.0.0.1 $P_LO c 10 10 reset
  client dflt ::1 $P_LO c 10 10 reset
  ok "loopback-only services are not reached without --host-lo-to-ns-lo"
fi

# Failures reach the client as a reset: the target refuses, or resets.
if upstream_only "Debian's 2023 pasta closes the client's socket plainly (EOF) when the target refuses or resets"; then
  for host in 127.0.0.1 ::1; do
    client dflt $host $P_REFUSE r 0 0 reset
    client dflt $host $P_RESET r 0 0 reset
  done
  ok "refused and reset targets: the client sees a reset"
fi

# Many short connections at once: more than the pools hold (32 pipes, 32
# namespace sockets per family), so some are opened on the spot.
: >"$TMP/dflt.srv"
got=$(timeout 120 python3 "$TMP/peer.py" many 127.0.0.1,::1 $P_WILD 60 2>&1) || true
[ "$got" = ok ] || fail "dflt: 60 simultaneous connections: $got"
wait_until 10 sh -c "[ \$(grep -c ' ok$' '$TMP/dflt.srv') -ge 60 ]" ||
  fail "dflt: the server saw $(grep -c ' ok$' "$TMP/dflt.srv") good connections of 60"
ok "60 simultaneous connections"
stop_pidfile "$TMP/dflt.pid"

# --- --host-lo-to-ns-lo: spliced to the namespace's loopback ------------------
if upstream_only "--host-lo-to-ns-lo is not in Debian's 2023 pasta"; then
  start_pasta lo --host-lo-to-ns-lo -t $P_LO
  transfers lo 127.0.0.1 $P_LO 127.0.0.1
  transfers lo ::1 $P_LO ::1
  ok "--host-lo-to-ns-lo: spliced to 127.0.0.1 / ::1 in the namespace"
  stop_pidfile "$TMP/lo.pid"
fi

# --- --no-splice: the tap path -----------------------------------------------------
if upstream_only "--no-splice is not in Debian's 2023 pasta"; then
  start_pasta nosp --no-splice -t $P_WILD
  transfers nosp 127.0.0.1 $P_WILD 198.51.100.254
  transfers nosp ::1 $P_WILD 2001:db8::ff
  ok "--no-splice: through the tap, from the mapped host loopback 198.51.100.254 / 2001:db8::ff"
  stop_pidfile "$TMP/nosp.pid"
fi
# --- -T: the namespace's loopback to the host's -----------------------------------
python3 "$TMP/peer.py" serve 127.0.0.1 $P_HOST "$TMP/tout.srv" &
python3 "$TMP/peer.py" serve ::1 $P_HOST "$TMP/tout.srv" &
wait_until 10 sh -c "[ \$(ss -Htln 'sport = :$P_HOST' | wc -l) -ge 2 ]" || fail "host servers did not start"
start_pasta tout -t none -T $P_T:$P_HOST
wait_until 5 sh -c "[ \$(nsenter --net='$NS_tout' ss -Htln 'sport = :$P_T' | wc -l) -ge 2 ]" ||
  fail "tout: -T listeners did not appear in the namespace"
transfers tout 127.0.0.1 $P_T 127.0.0.1 "$NS_tout"
transfers tout ::1 $P_T ::1 "$NS_tout"
ok "-T: namespace loopback to host loopback, 2 KiB + 10 MiB both ways, both close orders"
stop_pidfile "$TMP/tout.pid"
log "PASS"
