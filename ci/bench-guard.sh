#!/usr/bin/env bash
# Micro-benchmark regression guard (docs/performance.md).
#
#   ci/bench-guard.sh [BUILD_DIR]               check against ci/bench/baseline.json
#   ci/bench-guard.sh --rebaseline [BUILD_DIR]  measure and rewrite the baseline
#
# BUILD_DIR defaults to build/release (the guard means nothing on a debug
# build).  Runs passt_bench briefly (< 60 s) and fails only if a hot path
# became more than `threshold` (2x) slower relative to a reference
# computation measured in the same run, twice in a row: see
# ci/bench/guard.py for the method.  BENCH_GUARD_THRESHOLD overrides the
# threshold.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=check
if [ "${1:-}" = --rebaseline ]; then
  mode=rebaseline
  shift
fi
build=${1:-build/release}
bin=$build/passt_bench
if [ ! -x "$bin" ]; then
  echo "bench-guard: $bin not found: build the release preset (libbenchmark-dev installed?)" >&2
  exit 1
fi
args=(--bench "$bin")
if [ -n "${BENCH_GUARD_THRESHOLD:-}" ]; then
  args+=(--threshold "$BENCH_GUARD_THRESHOLD")
fi
exec timeout 300 python3 ci/bench/guard.py "$mode" "${args[@]}"
