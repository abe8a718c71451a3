#!/usr/bin/env bash
# clang-tidy gate: runs clang-tidy-14 with the top-level .clang-tidy (and the
# nested sim/script/.clang-tidy and fuzz/.clang-tidy, which inherit it) and
# fails on any finding.  Files checked:
#   - production sources: src/**/*.cpp, unit tests under src/*/test/ excluded;
#   - the deterministic simulator: sim/**/*.cpp less its unit tests
#     (sim/test/) and, unless TIDY_ALL=1, the scripted-test interpreter
#     sim/script/ (kept clean, but outside the CI run's time budget);
#   - the fuzz targets and their replay driver: fuzz/*.cpp.
# Headers under src/, sim/ and fuzz/ are checked through the files that
# include them (HeaderFilterRegex in .clang-tidy).
#
#   ci/tidy.sh [BUILD_DIR]      BUILD_DIR defaults to build/release
#
# BUILD_DIR must hold a compile_commands.json: any configured preset has one
# (CMAKE_EXPORT_COMPILE_COMMANDS is ON); configuring is enough, nothing needs
# to be built.  The g++ presets' g++-only warning flags are ignored by clang.
# Environment: TIDY_JOBS (default 2) parallel clang-tidy processes,
# CLANG_TIDY (default clang-tidy-14), TIDY_ALL=1 adds sim/script/.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-build/release}
tidy=${CLANG_TIDY:-clang-tidy-14}
jobs=${TIDY_JOBS:-2}

if [ ! -f "$build/compile_commands.json" ]; then
  echo "tidy: $build/compile_commands.json not found (configure first, e.g. cmake --preset release)" >&2
  exit 2
fi
command -v "$tidy" >/dev/null || { echo "tidy: $tidy not found (ci/deps.sh installs it)" >&2; exit 2; }

sim_skip=(-path 'sim/script/*' -prune -o)
if [ "${TIDY_ALL:-0}" = 1 ]; then sim_skip=(); fi
mapfile -t files < <(
  find src -name '*.cpp' -not -path '*/test/*'
  find sim -path sim/test -prune -o "${sim_skip[@]}" -name '*.cpp' -print
  find fuzz -maxdepth 1 -name '*.cpp'
)
# Largest first (size is a rough proxy for cost): a big file started last
# would run alone at the end.
mapfile -t files < <(for f in "${files[@]}"; do echo "$(stat -c %s "$f") $f"; done | sort -rn | cut -d' ' -f2-)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

start=$(date +%s)
# One clang-tidy per file; each writes its own log so parallel output does
# not interleave.  xargs exits non-zero if any run failed.
status=0
printf '%s\n' "${files[@]}" |
  xargs -P "$jobs" -I{} sh -c '
    log="$3/$(echo "$4" | tr / _).log"
    "$1" -p "$2" --quiet "$4" >"$log" 2>&1 ||
      { echo "FAILED $4" >>"$log"; exit 1; }' sh "$tidy" "$build" "$out" {} || status=$?

cat "$out"/*.log | grep -v '^[0-9]* warnings\? \(and [0-9]* errors\? \)\?generated\.$' || true
findings=$(cat "$out"/*.log | grep -c ': \(warning\|error\): ' || true)
echo "tidy: ${#files[@]} files, $findings findings, $(($(date +%s) - start)) s"
if [ "$status" != 0 ] || [ "$findings" != 0 ]; then
  echo "tidy: FAILED (fix the findings; see .clang-tidy and docs/contributing.md)" >&2
  exit 1
fi
