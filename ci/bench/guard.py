#!/usr/bin/env python3
"""Micro-benchmark regression guard (run through ci/bench-guard.sh).

Absolute times on a shared 2-core machine swing by 2x with the load, so the
guard never compares them.  Every guarded benchmark is paired with a
reference computation (ci/bench/micro/reference_bench.cpp), both are
measured in the same run with their repetitions interleaved in random
order, and the guard compares

    ratio = min over repetitions of the benchmark's CPU time per iteration
            / min over repetitions of the reference's CPU time per iteration

with the ratio committed in ci/bench/baseline.json.  CPU time (not wall
time) leaves out the time the process waited for a CPU.  Many short
repetitions (20 x 2 ms) and their minimum keep the cache pollution of other
processes out: some repetitions always run between two disturbances.  A
benchmark fails only if its ratio exceeds baseline x threshold (default 2.0)
in the first run AND again in a confirmation run of the suspects with more
repetitions.  docs/performance.md tells how the references were chosen.

  guard.py check      --bench BIN [--baseline FILE] [--threshold X]
  guard.py rebaseline --bench BIN [--baseline FILE] [--runs N]

Re-baselining measures N (default 3) full runs and writes the median ratio
of each benchmark into the baseline file, keeping the benchmark -> reference
pairs (and any new pair added by hand with "ratio": null).
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BASELINE = os.path.join(HERE, "baseline.json")

# Per run: repetitions and the minimum CPU time of each.  ~25 benchmarks x
# 20 x 2 ms is about 1 s of CPU time; the wall time on the loaded machines
# here is 5-30 s, mostly set-up and waiting for a CPU.
CHECK_REPS = 20
CONFIRM_REPS = 30
MIN_TIME = 0.002
RUN_TIMEOUT = 120  # seconds, per passt_bench invocation


def log(msg):
    print(f"bench-guard: {msg}", flush=True)


def run_once(binary, names, reps):
    """One passt_bench run.  Returns ({name: min cpu ns per iteration},
    {names whose repetitions were too short to count})."""
    pattern = "^(" + "|".join(re.escape(n) for n in sorted(names)) + ")$"
    with tempfile.NamedTemporaryFile(prefix="passt-bench-", suffix=".json", delete=False) as f:
        out = f.name
    try:
        cmd = [binary, f"--benchmark_filter={pattern}",
               f"--benchmark_repetitions={reps}",
               f"--benchmark_min_time={MIN_TIME}",
               "--benchmark_enable_random_interleaving=true",
               "--benchmark_report_aggregates_only=false",
               f"--benchmark_out={out}", "--benchmark_out_format=json",
               "--benchmark_format=console"]
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=RUN_TIMEOUT, check=False)
        if res.returncode != 0:
            sys.stdout.write(res.stdout.decode(errors="replace"))
            raise SystemExit(f"bench-guard: {binary} exited with status {res.returncode}")
        with open(out, encoding="utf-8") as fh:
            data = json.load(fh)
    finally:
        os.unlink(out)
    scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
    best = {}
    seen = set()
    errors = []
    for b in data.get("benchmarks", []):
        if b.get("run_type") != "iteration":
            continue
        name = b.get("run_name", b["name"])
        seen.add(name)
        if b.get("error_occurred"):
            errors.append(f"{name}: {b.get('error_message', 'error')}")
            continue
        t = float(b["cpu_time"]) * scale[b.get("time_unit", "ns")]
        # Google Benchmark fixes the iteration count in the first repetition
        # and accepts a trial whose *wall* time reached 5 x min_time: a
        # single iteration that happened to wait 10 ms for a CPU then stands
        # for all repetitions.  Such repetitions measure a cold call or two,
        # not the steady state: fewer than 10 iterations or 100 us of CPU
        # time do not count.
        iters = float(b["iterations"])
        if iters < 10 or iters * t < MIN_TIME * 1e9 / 20:
            continue
        best[name] = min(t, best.get(name, float("inf")))
    if errors:
        raise SystemExit("bench-guard: benchmark errors:\n  " + "\n  ".join(errors))
    missing = sorted(set(names) - seen)
    if missing:
        raise SystemExit("bench-guard: benchmarks not found in passt_bench: " + ", ".join(missing))
    return best, set(names) - set(best)


def measure(binary, pairs, reps):
    """Measures each benchmark of `pairs` (name -> reference) together with
    its reference.  Returns ({name: ratio}, {name: min cpu ns}).  A pair
    without a usable measurement of both is run again, with its reference,
    in a new process (which redoes the iteration estimate): at most four
    more times."""
    todo = dict(pairs)
    ratio = {}
    times = {}
    for attempt in range(5):
        if attempt:
            log(f"re-running (repetitions too short to count): {', '.join(sorted(todo))}")
        best, _short = run_once(binary, set(todo) | set(todo.values()), reps)
        for name, ref in todo.items():
            if name in best and ref in best:
                ratio[name] = best[name] / best[ref]
                times[name] = best[name]
        todo = {n: r for n, r in todo.items() if n not in ratio}
        if not todo:
            break
    if todo:
        # Five runs in a row without one usable repetition: the machine is
        # too busy for this benchmark right now.  Not a regression; say so.
        log("WARNING: no steady measurement in five runs, not checked: " + ", ".join(sorted(todo)))
    return ratio, times


def load_baseline(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} us"
    return f"{ns:.1f} ns"


def check(args):
    base = load_baseline(args.baseline)
    threshold = args.threshold or float(base.get("threshold", 2.0))
    entries = base["benchmarks"]
    pairs = {n: e["ref"] for n, e in entries.items()}
    t0 = time.monotonic()
    now, times = measure(args.bench, pairs, CHECK_REPS)

    suspects = []
    print(f"{'benchmark':28} {'time':>10} {'reference':22} {'ratio':>8} {'baseline':>8} {'x':>6}")
    unmeasured = sorted(set(pairs) - set(now))
    for name in sorted(now):
        want = entries[name].get("ratio")
        got = now[name]
        rel = got / want if want else float("nan")
        flag = ""
        if want is None:
            flag = "  (no baseline yet)"
        elif rel > threshold:
            flag = "  SLOW?"
            suspects.append(name)
        print(f"{name:28} {fmt_ns(times[name]):>10} {pairs[name]:22} {got:8.3f} "
              f"{(want if want else float('nan')):8.3f} {rel:6.2f}{flag}")

    failed = []
    if suspects:
        log(f"{len(suspects)} above {threshold}x the baseline ratio; confirming with "
            f"{CONFIRM_REPS} repetitions: {', '.join(suspects)}")
        again, _ = measure(args.bench, {s: pairs[s] for s in suspects}, CONFIRM_REPS)
        for name in suspects:
            if name not in again:
                print(f"  {name:28} no steady measurement on confirmation: not failed")
                continue
            got = again[name]
            rel = got / entries[name]["ratio"]
            verdict = "REGRESSION" if rel > threshold else "ok on confirmation (noise)"
            print(f"  {name:28} ratio {got:.3f} = {rel:.2f}x baseline: {verdict}")
            if rel > threshold:
                failed.append(name)
    log(f"done in {time.monotonic() - t0:.1f} s")
    if failed:
        log(f"FAIL: {', '.join(failed)} more than {threshold}x slower than the baseline "
            f"(relative to their references).  If this is intended, re-baseline: "
            f"ci/bench-guard.sh --rebaseline (docs/performance.md)")
        return 1
    if unmeasured:
        log(f"not checked this time (no steady measurement): {', '.join(unmeasured)}")
    log(f"ok: {len(now)} benchmarks within {threshold}x of the baseline ratios")
    return 0


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return {"date": datetime.date.today().isoformat(), "cpu": cpu, "cpus": os.cpu_count(),
            "kernel": platform.release(), "loadavg_1min": round(load, 2)}


def rebaseline(args):
    base = load_baseline(args.baseline)
    entries = base["benchmarks"]
    pairs = {n: e["ref"] for n, e in entries.items()}
    runs = []
    for i in range(args.runs):
        log(f"re-baseline run {i + 1}/{args.runs}")
        runs.append(measure(args.bench, pairs, CONFIRM_REPS)[0])
    for name in pairs:
        got = [r[name] for r in runs if name in r]
        if not got:
            raise SystemExit(f"bench-guard: no steady measurement of {name}: re-baseline later")
        entries[name]["ratio"] = round(statistics.median(got), 4)
    base["measured"] = machine_info()
    with open(args.baseline, "w", encoding="utf-8") as fh:
        json.dump(base, fh, indent=2)
        fh.write("\n")
    log(f"wrote {args.baseline} ({len(pairs)} ratios, median of {args.runs} runs)")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["check", "rebaseline"])
    ap.add_argument("--bench", required=True, help="the passt_bench executable")
    ap.add_argument("--baseline", default=DEFAULT_BASELINE)
    ap.add_argument("--threshold", type=float, default=None,
                    help="failure factor over the baseline ratio (default: the file's, else 2.0)")
    ap.add_argument("--runs", type=int, default=3, help="rebaseline: full runs to take the median of")
    args = ap.parse_args()
    if not os.access(args.bench, os.X_OK):
        raise SystemExit(f"bench-guard: {args.bench} is not an executable (build the release preset)")
    return check(args) if args.mode == "check" else rebaseline(args)


if __name__ == "__main__":
    sys.exit(main())
