#!/usr/bin/env python3
"""Helpers for ci/bench/netbench.sh (standard library only).

  nbtool.py server  --kind rr|crr --port P --lifetime S [--size N]
  nbtool.py rr      --addr A --port P --secs S --max N [--size N]   -> JSON
  nbtool.py crr     --addr A --port P --secs S --max N              -> JSON
  nbtool.py udp-echo --port P --lifetime S
  nbtool.py udp-probe --addr A --port P [--tries N]                 -> exit 0 if echoed
  nbtool.py sink    --bind A --port P --lifetime S [--cpu NAME=PIDFILE]...   -> JSON
  nbtool.py source  --bind A --port P --secs S --lifetime S [--cpu ...]    -> JSON
  nbtool.py poll-routes [--want6] --timeout S
  nbtool.py startup --netns PATH [--want6] --timeout S -- CMD...    -> JSON
  nbtool.py iperf   FILE [--udp-len L]                              -> JSON
  nbtool.py guest-rows FILE (a sink/source JSON)   -> "gbps busy% qemu_s/GB translator_s/GB"
  nbtool.py slirp-api SOCKET JSON
  nbtool.py table   RESULTS.tsv --impls a,b,c --mtus m1,m2 [--group pasta|passt]
                    [--title T]

Every loop here is bounded by a count and a deadline.
"""

import argparse
import json
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import time


def now():
    return time.monotonic()


# --- servers and clients ------------------------------------------------------

def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def cmd_server(a):
    """rr: echo fixed-size messages until EOF; crr: read 1 byte, write 1, close."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", a.port))
    ls.listen(512)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    print("listening", flush=True)
    deadline = now() + a.lifetime
    pending = {}
    while now() < deadline:
        for key, _ in sel.select(timeout=0.2):
            if key.data is None:
                for _ in range(64):  # bounded accepts per wake-up
                    try:
                        c, _addr = ls.accept()
                    except BlockingIOError:
                        break
                    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    c.setblocking(False)
                    pending[c] = b""
                    sel.register(c, selectors.EVENT_READ, "c")
                continue
            c = key.fileobj
            try:
                data = c.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(c)
                pending.pop(c, None)
                c.close()
                continue
            if a.kind == "crr":
                try:
                    c.send(b"y")
                except OSError:
                    pass
                sel.unregister(c)
                pending.pop(c, None)
                c.close()
                continue
            buf = pending[c] + data
            whole = len(buf) - len(buf) % a.size
            if whole:
                c.setblocking(True)
                c.settimeout(5)
                try:
                    c.sendall(buf[:whole])
                except OSError:
                    pass
                c.setblocking(False)
            pending[c] = buf[whole:]
    return 0


def cmd_rr(a):
    s = socket.create_connection((a.addr, a.port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = b"x" * a.size
    # Warm-up: a few round trips outside the figures.
    for _ in range(20):
        s.sendall(msg)
        if recv_exact(s, a.size) is None:
            raise SystemExit("rr: connection closed during warm-up")
    samples = []
    deadline = now() + a.secs
    while len(samples) < a.max and now() < deadline:
        t0 = time.perf_counter_ns()
        s.sendall(msg)
        if recv_exact(s, a.size) is None:
            break
        samples.append((time.perf_counter_ns() - t0) / 1000.0)
    s.close()
    if not samples:
        raise SystemExit("rr: no samples")
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(json.dumps({"count": len(samples), "p50_us": statistics.median(samples),
                      "p99_us": p99}))
    return 0


def cmd_crr(a):
    n = 0
    failures = 0
    t0 = now()
    deadline = t0 + a.secs
    while n < a.max and now() < deadline and failures < 50:
        try:
            s = socket.create_connection((a.addr, a.port), timeout=2)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(b"x")
            r = s.recv(1)
            s.close()
            if r == b"y":
                n += 1
            else:
                failures += 1
        except OSError:
            failures += 1
    el = now() - t0
    if n == 0:
        raise SystemExit(f"crr: no connection completed ({failures} failures)")
    print(json.dumps({"count": n, "failures": failures, "per_s": n / el}))
    return 0


def cmd_udp_echo(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", a.port))
    s.settimeout(0.2)
    print("listening", flush=True)
    deadline = now() + a.lifetime
    while now() < deadline:
        try:
            data, peer = s.recvfrom(2048)
        except socket.timeout:
            continue
        s.sendto(data, peer)
    return 0


def cmd_udp_probe(a):
    """Is there a UDP path at all?  A few datagrams, each answered or not
    within half a second: lets netbench skip UDP rows at once instead of
    waiting for iperf3's timeouts."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    for i in range(a.tries):
        try:
            s.sendto(b"probe%d" % i, (a.addr, a.port))
            data, _ = s.recvfrom(2048)
            if data.startswith(b"probe"):
                return 0
        except OSError:
            pass
    return 1


# --- start-up -------------------------------------------------------------------

def default_routes():
    v4 = v6 = False
    try:
        with open("/proc/net/route", encoding="ascii") as fh:
            next(fh, None)
            for line in fh:
                f = line.split()
                if len(f) > 7 and f[1] == "00000000" and f[7] == "00000000":
                    v4 = True
    except OSError:
        pass
    try:
        with open("/proc/net/ipv6_route", encoding="ascii") as fh:
            for line in fh:
                f = line.split()
                if len(f) > 9 and f[0] == "0" * 32 and f[1] == "00" and f[9] != "lo":
                    v6 = True
    except OSError:
        pass
    return v4, v6


def cmd_poll_routes(a):
    """Runs inside the namespace: 'ready', then the monotonic time at which the
    default route(s) appeared, polling every millisecond."""
    print("ready", flush=True)
    deadline = now() + a.timeout
    while now() < deadline:
        v4, v6 = default_routes()
        if v4 and (v6 or not a.want6):
            print(f"{now():.6f}", flush=True)
            return 0
        time.sleep(0.001)
    print("timeout", flush=True)
    return 1


def stop(p, grace=3.0):
    if p.poll() is not None:
        return
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=grace)


def cmd_startup(a):
    """Time from exec of CMD until the namespace has its default route(s)."""
    me = os.path.abspath(__file__)
    poll = [sys.executable, me, "poll-routes", "--timeout", str(a.timeout)]
    if a.want6:
        poll.append("--want6")
    poller = subprocess.Popen(["nsenter", f"--net={a.netns}"] + poll, stdout=subprocess.PIPE,
                              text=True)
    try:
        if poller.stdout.readline().strip() != "ready":
            raise SystemExit("startup: poller did not start")
        t0 = now()
        impl = subprocess.Popen(a.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            line = poller.stdout.readline().strip()
            if line in ("", "timeout"):
                raise SystemExit("startup: no default route before the timeout")
            ms = (float(line) - t0) * 1000.0
            print(json.dumps({"ms": ms}))
        finally:
            stop(impl)
    finally:
        stop(poller)
    return 0


# --- passt rows: one bulk TCP connection from a guest, timed on the host -------

def cpu_ticks(a):
    """{name: utime + stime in clock ticks} of each --cpu NAME=PIDFILE
    process now (a name is left out if its process cannot be read)."""
    out = {}
    for spec in a.cpu:
        name, _, pidfile = spec.partition("=")
        try:
            with open(pidfile, encoding="ascii") as fh:
                pid = int(fh.read().split()[0])
            with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                f = fh.read().rsplit(")", 1)[1].split()
            out[name] = int(f[11]) + int(f[12])
        except (OSError, ValueError, IndexError):
            pass
    return out


def cpu_secs(a, before, after):
    """CPU seconds of each --cpu process between two cpu_ticks() samples."""
    hz = os.sysconf("SC_CLK_TCK")
    return {f"cpu_{k}": (after[k] - before[k]) / hz for k in before if k in after}


def accept_one(a):
    """Listens on a.bind:a.port, prints "listening", accepts one connection
    within a.lifetime seconds (None if none came)."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.bind, a.port))
    ls.listen(1)
    ls.settimeout(a.lifetime)
    print("listening", file=sys.stderr, flush=True)
    try:
        c, _ = ls.accept()
    except socket.timeout:
        return None
    finally:
        ls.close()
    return c


def cmd_sink(a):
    """Reads one connection to its end: the rate from the first byte to EOF
    (the sender's FIN comes after its last byte, so nothing is missed)."""
    deadline = now() + a.lifetime
    c = accept_one(a)
    if c is None:
        raise SystemExit("sink: no connection")
    buf = bytearray(1 << 20)
    n, t0, t1 = 0, None, None
    c.settimeout(5)
    while now() < deadline:
        try:
            k = c.recv_into(buf)
        except socket.timeout:
            raise SystemExit(f"sink: stalled for 5 s after {n} bytes")
        if not k:
            t1 = now()
            break
        if t0 is None:
            t0 = now()
            c0 = cpu_ticks(a)
        n += k
    c1 = cpu_ticks(a)
    c.close()
    if t0 is None or t1 is None or t1 <= t0:
        raise SystemExit(f"sink: no complete transfer ({n} bytes)")
    print(json.dumps({"gbps": n * 8 / (t1 - t0) / 1e9, "bytes": n, "secs": t1 - t0,
                      **cpu_secs(a, c0, c1)}))
    return 0


def cmd_source(a):
    """Sends zeros on one connection for a.secs seconds, shuts down its side
    and waits for the receiver's EOF, which comes after it read the last
    byte: the rate is all bytes over accept to that EOF (the data still in
    the socket buffers at the end is counted and waited for)."""
    deadline = now() + a.lifetime
    c = accept_one(a)
    if c is None:
        raise SystemExit("source: no connection")
    buf = bytes(1 << 18)
    n, t0, c0 = 0, now(), cpu_ticks(a)
    c.settimeout(5)
    while now() - t0 < a.secs:
        try:
            n += c.send(buf)
        except socket.timeout:
            raise SystemExit(f"source: stalled for 5 s after {n} bytes")
    c.shutdown(socket.SHUT_WR)
    c.settimeout(max(1.0, deadline - now()))
    try:
        while c.recv(4096):
            pass
    except socket.timeout:
        raise SystemExit(f"source: the receiver did not close ({n} bytes sent)")
    t1 = now()
    c1 = cpu_ticks(a)
    c.close()
    print(json.dumps({"gbps": n * 8 / (t1 - t0) / 1e9, "bytes": n, "secs": t1 - t0,
                      **cpu_secs(a, c0, c1)}))
    return 0


# --- result parsing -------------------------------------------------------------

def cmd_iperf(a):
    with open(a.file, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    # iperf3 may print a line before its JSON on errors: take the object.
    start = text.find("{")
    try:
        d = json.loads(text[start:]) if start >= 0 else None
    except ValueError:
        d = None
    if d is None:
        first = text.strip().splitlines()[0] if text.strip() else "no output"
        raise SystemExit(f"iperf: no result ({first})")
    if d.get("error"):
        raise SystemExit(f"iperf: {d['error']}")
    end = d.get("end", {})
    out = {}
    if a.udp_len:
        s = end.get("sum", {})
        secs = float(s.get("seconds") or 0)
        got = int(s.get("packets", 0)) - int(s.get("lost_packets", 0))
        if secs <= 0:
            raise SystemExit("iperf: no UDP summary")
        out["gbps"] = got * a.udp_len * 8 / secs / 1e9
        out["lost_percent"] = float(s.get("lost_percent", 0))
    else:
        r = end.get("sum_received", {})
        if not r.get("seconds"):
            raise SystemExit("iperf: no TCP summary")
        out["gbps"] = float(r["bits_per_second"]) / 1e9
        out["retransmits"] = int(end.get("sum_sent", {}).get("retransmits", 0))
    print(json.dumps(out))
    return 0


def cmd_guest_rows(a):
    """A sink/source JSON as the passt rows' values on one line: Gbit/s,
    qemu's CPU busy (% of one CPU), qemu's and the translator's CPU seconds
    per GB moved (n/a where not sampled)."""
    with open(a.file, encoding="utf-8") as fh:
        d = json.loads(fh.read())
    gb = d["bytes"] / 1e9
    g, t = d.get("cpu_guest"), d.get("cpu_translator")
    na = "n/a"
    print(f"{d['gbps']:.4f}",
          na if g is None else f"{100 * g / d['secs']:.1f}",
          na if g is None or gb <= 0 else f"{g / gb:.3f}",
          na if t is None or gb <= 0 else f"{t / gb:.3f}")
    return 0


def cmd_slirp_api(a):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(a.socket)
    s.sendall(a.request.encode())
    s.shutdown(socket.SHUT_WR)
    resp = b""
    for _ in range(64):
        chunk = s.recv(4096)
        if not chunk:
            break
        resp += chunk
    s.close()
    r = json.loads(resp.decode() or "{}")
    if "error" in r:
        raise SystemExit(f"slirp4netns API: {r['error']}")
    print(json.dumps(r))
    return 0


# --- the table --------------------------------------------------------------------

# row id -> (label, unit, higher_is_better, per_mtu)
ROWS = [
    ("tcp_out", "TCP ns→host, tap", "Gbit/s", True, True),
    ("tcp_out_timeouts", "  TCPTimeouts, sender (ns)", "count", False, True),
    ("tcp_in", "TCP host→ns, tap (-t)", "Gbit/s", True, True),
    ("tcp_in_timeouts", "  TCPTimeouts, sender (host)", "count", False, True),
    ("tcp_lo_out", "TCP ns→host, loopback (-T)", "Gbit/s", True, False),
    ("tcp_lo_in", "TCP host→ns, loopback (-t)", "Gbit/s", True, False),
    ("udp_out", "UDP ns→host, received", "Gbit/s", True, True),
    ("udp_in", "UDP host→ns, received", "Gbit/s", True, True),
    ("rr_p50", "TCP RR latency, median", "µs", False, False),
    ("rr_p99", "TCP RR latency, p99", "µs", False, False),
    ("crr", "TCP connections ns→host", "conn/s", True, False),
    ("startup", "start-up to a configured ns", "ms", False, False),
    ("rss", "peak RSS (VmHWM)", "MiB", False, True),
]
# passt mode (--group passt): a qemu guest on passt's socket.
PASST_ROWS = [
    ("passt_out", "TCP guest→host (guest's dd)", "Gbit/s", True, True),
    ("passt_out_gbusy", "  guest (qemu) CPU busy", "% of a CPU", True, True),
    ("passt_out_gcpu", "  guest (qemu) CPU per GB", "s/GB", False, True),
    ("passt_out_tcpu", "  translator CPU per GB", "s/GB", False, True),
    ("passt_in", "TCP host→guest (guest's dd)", "Gbit/s", True, True),
    ("passt_in_gbusy", "  guest (qemu) CPU busy", "% of a CPU", True, True),
    ("passt_in_gcpu", "  guest (qemu) CPU per GB", "s/GB", False, True),
    ("passt_in_tcpu", "  translator CPU per GB", "s/GB", False, True),
]


# Units whose values are context, not a figure of merit: no ratio column.
NO_RATIO = ("count", "% of a CPU")


def fmt(x, unit=""):
    if x is None:
        return "n/a"
    if unit == "count":
        return f"{x:.0f}"
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def cmd_table(a):
    impls = a.impls.split(",")
    mtus = a.mtus.split(",")
    vals = {}
    with open(a.results, encoding="utf-8") as fh:
        for line in fh:
            f = line.rstrip("\n").split("\t")
            if len(f) < 5 or f[0] == "impl":
                continue
            impl, mtu, row, _rnd, v = f[:5]
            if v in ("", "n/a"):
                continue
            vals.setdefault((impl, mtu, row), []).append(float(v))
    ours = impls[0]
    refs = impls[1:]

    def med(impl, mtu, row):
        v = vals.get((impl, mtu, row))
        return statistics.median(v) if v else None

    def cell(impl, mtu, row, unit):
        """The median, and the spread of the rounds as +-half the range in %."""
        v = vals.get((impl, mtu, row))
        if not v:
            return "n/a"
        m = statistics.median(v)
        if len(v) < 2 or unit == "count" or m == 0:
            return fmt(m, unit)
        return f"{fmt(m, unit)} ±{50 * (max(v) - min(v)) / m:.0f}%"

    all_rows = PASST_ROWS if a.group == "passt" else ROWS
    for mi, mtu in enumerate(mtus):
        rows = [r for r in all_rows if r[4] or mi == 0]
        hdr = ["row", "unit", "better"] + impls + [f"{ours}/{r}" for r in refs]
        title = f"MTU {mtu}" if mi else f"MTU {mtu} (MTU-independent rows measured here only)"
        if a.title:
            title = a.title
        print(f"\n### {title}\n")
        print("| " + " | ".join(hdr) + " |")
        print("|" + "|".join(["---"] * 3 + ["---:"] * (len(hdr) - 3)) + "|")
        for rid, label, unit, higher, _per in rows:
            m = {i: med(i, mtu, rid) for i in impls}
            if all(v is None for v in m.values()):
                continue
            better = "–" if unit in NO_RATIO else "↑" if higher else "↓"
            cells = [label, unit, better] + [cell(i, mtu, rid, unit) for i in impls]
            for r in refs:
                if m[ours] is None or m[r] is None or m[r] == 0 or unit in NO_RATIO:
                    cells.append("–")
                else:
                    cells.append(f"{m[ours] / m[r]:.2f}")
            print("| " + " | ".join(cells) + " |")
    print(f"\nMedians over rounds (start-up: over runs), ±: half the range of the rounds "
          f"relative to the median.  Ratios are {ours} / reference, of the medians: with ↑ a "
          f"ratio above 1 favours {ours}, with ↓ one below 1 does.  n/a: no such path, or the "
          f"test failed (logs/).  Counts: the median per test, no ratio.")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="sub", required=True)
    p = sub.add_parser("server")
    p.add_argument("--kind", choices=["rr", "crr"], required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--lifetime", type=float, default=60)
    p.add_argument("--size", type=int, default=64)
    p = sub.add_parser("rr")
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--secs", type=float, default=3)
    p.add_argument("--max", type=int, default=200000)
    p.add_argument("--size", type=int, default=64)
    p = sub.add_parser("crr")
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--secs", type=float, default=3)
    p.add_argument("--max", type=int, default=20000)
    p = sub.add_parser("udp-echo")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--lifetime", type=float, default=10)
    p = sub.add_parser("udp-probe")
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tries", type=int, default=4)
    for name in ("sink", "source"):
        p = sub.add_parser(name)
        p.add_argument("--bind", required=True)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--lifetime", type=float, default=120)
        p.add_argument("--cpu", action="append", default=[], metavar="NAME=PIDFILE")
        if name == "source":
            p.add_argument("--secs", type=float, default=3)
    p = sub.add_parser("poll-routes")
    p.add_argument("--want6", action="store_true")
    p.add_argument("--timeout", type=float, default=10)
    p = sub.add_parser("startup")
    p.add_argument("--netns", required=True)
    p.add_argument("--want6", action="store_true")
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("command", nargs=argparse.REMAINDER)
    p = sub.add_parser("iperf")
    p.add_argument("file")
    p.add_argument("--udp-len", type=int, default=0)
    p = sub.add_parser("guest-rows")
    p.add_argument("file")
    p = sub.add_parser("slirp-api")
    p.add_argument("socket")
    p.add_argument("request")
    p = sub.add_parser("table")
    p.add_argument("results")
    p.add_argument("--impls", required=True)
    p.add_argument("--mtus", required=True)
    p.add_argument("--group", choices=["pasta", "passt"], default="pasta")
    p.add_argument("--title", default="")
    a = ap.parse_args()
    if a.sub == "startup" and a.command and a.command[0] == "--":
        a.command = a.command[1:]
    return {"server": cmd_server, "rr": cmd_rr, "crr": cmd_crr, "poll-routes": cmd_poll_routes,
            "udp-echo": cmd_udp_echo, "udp-probe": cmd_udp_probe,
            "sink": cmd_sink, "source": cmd_source,
            "startup": cmd_startup, "iperf": cmd_iperf, "guest-rows": cmd_guest_rows, "slirp-api": cmd_slirp_api,
            "table": cmd_table}[a.sub](a)


if __name__ == "__main__":
    sys.exit(main())
