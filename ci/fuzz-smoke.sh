#!/usr/bin/env bash
# fuzz-smoke.sh replay BINARY CORPUS_DIR
# fuzz-smoke.sh fuzz   BINARY CORPUS_DIR SECONDS
#
# replay: run every corpus file once (works in any build).
# fuzz:   libFuzzer for SECONDS; new inputs go to a scratch directory, never
#         into the committed corpus; crashes are left in the build directory
#         as crash-* files and fail the test.  The mutation seed is fixed
#         (FUZZ_SEED, default 1) so that CI explores the same inputs on every
#         run and a finding reproduces; FUZZ_SEED=0 lets libFuzzer draw one
#         (exploration belongs in ci/fuzz-long.sh, whose findings become
#         corpus entries).
set -euo pipefail
mode=$1; bin=$2; corpus=$3
[ -d "$corpus" ] || { echo "no corpus directory $corpus" >&2; exit 1; }
case "$mode" in
replay)
  # -runs=0: libFuzzer executes the corpus once and exits; the plain replay
  # driver ignores flags.
  exec "$bin" -runs=0 "$corpus"
  ;;
fuzz)
  secs=${4:-5}
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  name=$(basename "$bin")
  "$bin" -seed="${FUZZ_SEED:-1}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
         -artifact_prefix="./$name-" "$scratch" "$corpus" 2>&1 | tail -n 15
  ;;
*)
  echo "usage: $0 replay|fuzz BINARY CORPUS [SECONDS]" >&2; exit 2 ;;
esac
