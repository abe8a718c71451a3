#!/usr/bin/env bash
# fuzz-long.sh [-t SECONDS] [-b BUILD_DIR] [-o OUT_DIR] [-m] [TARGET...]
#
# Deeper fuzzing than the CI smoke run (ci/fuzz-smoke.sh, a few seconds per
# target): each libFuzzer target of the `fuzz` preset (clang-14, ASan+UBSan)
# runs SECONDS (default 600) on a scratch copy of its committed corpus
# (fuzz/corpus/NAME), one target at a time.  At the end a table of executions,
# execs/s, new corpus units, peak RSS and findings per target is printed and
# written to OUT_DIR/summary.md.
#
#   -t SECONDS    per target (default 600)
#   -b BUILD_DIR  default build/fuzz (cmake --preset fuzz && cmake --build --preset fuzz)
#   -o OUT_DIR    logs, scratch corpora and crash-*/timeout-*/leak-* artifacts
#                 (default build/fuzz-long)
#   -m            merge what each run found into fuzz/corpus/NAME (-merge=1
#                 keeps only inputs that add coverage); review and commit
#   TARGET...     names (engine, tcp...) or all targets when none given
#
# Exit status 1 if any target left an artifact (a crash, a timeout, an
# out-of-memory or a leak): reproduce with `build/fuzz/fuzz/fuzz_NAME FILE`,
# then keep FILE in fuzz/corpus/NAME/ as the regression artifact.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=600
build=build/fuzz
out=build/fuzz-long
merge=0
while getopts "t:b:o:m" opt; do
  case $opt in
  t) secs=$OPTARG ;;
  b) build=$OPTARG ;;
  o) out=$OPTARG ;;
  m) merge=1 ;;
  *) sed -n '2,22p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ -d "$build/fuzz" ] || { echo "no $build/fuzz: cmake --preset fuzz && cmake --build --preset fuzz" >&2; exit 2; }
mkdir -p "$out"
if [ $# -eq 0 ]; then
  set -- $(ls "$build"/fuzz/fuzz_* | sed 's|.*/fuzz_||' | sort)
fi

stat_of() { sed -n "s/^stat::$2:[[:space:]]*//p" "$1" | tail -n 1; }

summary=$out/summary.md
{
  echo "| target | seconds | executions | execs/s | corpus (seeds -> after) | new units | peak RSS MB | findings |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$summary"
failed=0
for name in "$@"; do
  bin=$build/fuzz/fuzz_$name
  seeds=fuzz/corpus/$name
  [ -x "$bin" ] || { echo "no target $bin" >&2; exit 2; }
  [ -d "$seeds" ] || { echo "no corpus $seeds" >&2; exit 2; }
  work=$out/$name
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp -r "$seeds"/. "$work/corpus/"
  n0=$(ls "$work/corpus" | wc -l)
  echo "=== $name: $secs s from $n0 seeds"
  set +e
  "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1
  rc=$?
  set -e
  execs=$(stat_of "$work/log" number_of_executed_units)
  rate=$(stat_of "$work/log" average_exec_per_sec)
  newu=$(stat_of "$work/log" new_units_added)
  rss=$(stat_of "$work/log" peak_rss_mb)
  n1=$(ls "$work/corpus" | wc -l)
  finds=$(ls "$work/artifacts" | wc -l)
  if [ "$rc" -ne 0 ] || [ "$finds" -ne 0 ]; then
    failed=1
    echo "FINDING in $name (exit $rc): $(ls "$work/artifacts" | tr '\n' ' ')" >&2
    grep -m 5 -E "ERROR|SUMMARY|PASST_CHECK|check failed" "$work/log" >&2 || true
  fi
  echo "| $name | $secs | ${execs:-?} | ${rate:-?} | $n0 -> $n1 | ${newu:-?} | ${rss:-?} | $finds |" >>"$summary"
  tail -n 1 "$summary"
  if [ "$merge" = 1 ] && [ "$finds" -eq 0 ]; then
    "$bin" -merge=1 "$seeds" "$work/corpus" >"$work/merge.log" 2>&1
    echo "    merged into $seeds: $(ls "$seeds" | wc -l) files"
  fi
done
echo
cat "$summary"
exit $failed
