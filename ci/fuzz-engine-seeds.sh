#!/usr/bin/env bash
# Writes the seed corpus of fuzz/engine_fuzz.cpp into fuzz/corpus/engine/
# (committed): TCP programs (handshake, data, FIN, RST, an endless source, a
# silent and a closed service, both families, the tap refusing frames, an
# inbound connection), and each frame of fuzz/corpus/frame/ as a raw-frame
# operation, plus one batch of all of them.  The program format is described
# at the top of fuzz/engine_fuzz.cpp.  Re-run after changing that format.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "$@" <<'PY'
import os, struct

out = "fuzz/corpus/engine"
os.makedirs(out, exist_ok=True)
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
SETUP = 2 | 4          # 64 flows, services on


def seg(conn, flags, ds=0, da=0, win=65535, payload=b""):
    return bytes([0, conn, flags]) + struct.pack("!hhH", ds, da, win) + bytes([len(payload)]) + payload


def time_us(exp):
    return bytes([2, exp])


def raw(frame):
    return bytes([1]) + struct.pack("!H", len(frame)) + frame


def tap(n):
    return bytes([3, n])


def accept(kind):
    return bytes([4, kind])


def batch(frames):
    b = bytes([5, len(frames) - 1])
    for f in frames:
        b += struct.pack("!H", len(f)) + f
    return b


def write(name, prog, setup=SETUP):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([setup]) + prog)


def echo(conn):
    return (seg(conn, SYN) + time_us(13) + seg(conn, ACK) + seg(conn, PSH | ACK, payload=b"hello") +
            time_us(13) + seg(conn, ACK) + seg(conn, FIN | ACK) + time_us(13) + seg(conn, ACK))


write("tcp_echo4", echo(0))
write("tcp_echo6", echo(128))
write("tcp_echo_small_table", echo(1) + echo(2), setup=0)
write("tcp_source4", seg(8, SYN) + time_us(13) + seg(8, ACK) + time_us(14) + seg(8, ACK) +
      time_us(14) + seg(8, ACK, win=0) + time_us(20) + seg(8, ACK) + seg(8, RST | ACK))
write("tcp_source_tap_refuses", seg(9, SYN) + time_us(13) + seg(9, ACK) + tap(0) + time_us(22) +
      tap(255) + time_us(14) + seg(9, ACK), setup=2 | 4 | 8 | 0x30)
write("tcp_silent", seg(16, SYN) + time_us(24) + seg(16, SYN))
write("tcp_closed", seg(24, SYN) + time_us(12) + seg(24, ACK) + seg(24, RST))
write("tcp_out_of_order", seg(0, SYN) + time_us(13) + seg(0, ACK) +
      seg(0, PSH | ACK, ds=100, payload=b"later") + seg(0, PSH | ACK, payload=b"first") + time_us(13))
write("tcp_inbound", accept(0) + time_us(13) + accept(1) + time_us(20) + accept(3) + time_us(20))
frames = []
for name in sorted(os.listdir("fuzz/corpus/frame")):
    with open(os.path.join("fuzz/corpus/frame", name), "rb") as f:
        frame = f.read()[:2047]
    frames.append(frame)
    write("raw_" + name, raw(frame))
write("raw_batch", batch(frames[:32]))
print("%d seeds in %s" % (len(os.listdir(out)), out))
PY
