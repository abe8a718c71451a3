#!/usr/bin/env python3
"""Starts a daemonising program the way Podman, libvirt and qemu do, and
reports what they would see.

  launch.py [--timeout S] [--eof-timeout S] [--extra-fd] --out FILE -- CMD...

CMD gets stdin from /dev/null and one pipe as both stdout and stderr (Podman
reads the combined output until EOF); no other descriptor is inherited
(close_fds), except with --extra-fd: the write end of a second pipe, not
close-on-exec, as an unrelated descriptor a careless launcher might leak.

Prints key=value lines:
  rc=N            the launcher's exit status (or "timeout": killed after S s)
  eof=yes|no      EOF on the output pipe within --eof-timeout s after the exit
  eof_ms=N        milliseconds from the exit to that EOF
  extra_fd=N      (--extra-fd) the descriptor number given to CMD
  extra_eof=yes|no  (--extra-fd) EOF on the second pipe by then
The output goes to FILE.
"""

import argparse
import os
import select
import subprocess
import sys
import time


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        raise SystemExit(__doc__)
    cmd = argv[argv.index("--") + 1:]
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--eof-timeout", type=float, default=3)
    ap.add_argument("--extra-fd", action="store_true")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv[:argv.index("--")])

    r, w = os.pipe()
    pass_fds = ()
    er = ew = None
    if a.extra_fd:
        er, ew = os.pipe()
        pass_fds = (ew,)
    with open(os.devnull, "rb") as devnull:
        p = subprocess.Popen(cmd, stdin=devnull, stdout=w, stderr=w, close_fds=True,
                             pass_fds=pass_fds)
    os.close(w)
    if ew is not None:
        os.close(ew)
    out = b""
    deadline = time.monotonic() + a.timeout
    rc = None
    # Drain while waiting, so a chatty launcher cannot block on a full pipe.
    while rc is None:
        left = deadline - time.monotonic()
        if left <= 0:
            p.kill()
            p.wait()
            rc = "timeout"
            break
        ready, _, _ = select.select([r], [], [], min(left, 0.02))
        if ready:
            d = os.read(r, 65536)
            if d:
                out += d
        rc = p.poll()
    t_exit = time.monotonic()
    eof = False
    eof_deadline = t_exit + a.eof_timeout
    while True:
        left = eof_deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([r], [], [], left)
        if not ready:
            break
        d = os.read(r, 65536)
        if not d:
            eof = True
            break
        out += d
    eof_ms = int((time.monotonic() - t_exit) * 1000)
    with open(a.out, "wb") as f:
        f.write(out)
    print("rc=%s" % rc)
    print("eof=%s" % ("yes" if eof else "no"))
    print("eof_ms=%d" % eof_ms)
    if er is not None:
        ready, _, _ = select.select([er], [], [], 0.2)
        extra_eof = bool(ready) and os.read(er, 1) == b""
        print("extra_fd=%d" % ew)
        print("extra_eof=%s" % ("yes" if extra_eof else "no"))


if __name__ == "__main__":
    main()
