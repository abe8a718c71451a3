#!/usr/bin/env bash
# sim-long.sh [-n COUNT] [-b BUILD_DIR] [-t SECONDS] [SCENARIO...]
#
# Wider simulator swarms than CI's (`ctest -L sim` runs seeds 1..200-3000
# per scenario): each scenario runs COUNT seeds (default 10000) starting
# right after CI's range, so every run explores seeds CI never tried.  Stops a
# scenario at its first failure (the swarm prints the `sim --seed N` line that
# reproduces it); a failing seed, once fixed, belongs in that scenario's
# RegressionSeeds test (sim/test/*_scenario_test.cpp).
#
#   -n COUNT      seeds per scenario (default 10000)
#   -b BUILD_DIR  default build/release (cmake --preset release && cmake --build --preset release)
#   -t SECONDS    wall-clock bound per scenario (default 900)
#   SCENARIO...   mixed, tcp, udp, icmp, services (default: all of them;
#                 "mixed" is the default scenario, the seed picks it)
#
# Exit status 1 if any scenario failed or ran out of time.
set -euo pipefail
cd "$(dirname "$0")/.."
count=10000
build=build/release
limit=900
while getopts "n:b:t:" opt; do
  case $opt in
  n) count=$OPTARG ;;
  b) build=$OPTARG ;;
  t) limit=$OPTARG ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
sim=$build/sim/sim
[ -x "$sim" ] || { echo "sim-long: $sim not found (build the $build preset first)" >&2; exit 2; }
[ $# -gt 0 ] || set -- mixed tcp udp icmp services
status=0
for s in "$@"; do
  # First seed: past the range CI runs for this scenario (sim/CMakeLists.txt).
  case $s in
  mixed) first=201; args=() ;;
  tcp) first=1001; args=(--scenario tcp) ;;
  udp) first=201; args=(--scenario udp) ;;
  icmp) first=501; args=(--scenario icmp) ;;
  services) first=3001; args=(--scenario services) ;;
  *) echo "sim-long: unknown scenario $s" >&2; exit 2 ;;
  esac
  start=$(date +%s)
  if timeout "$limit" "$sim" --swarm "$count" --first-seed "$first" "${args[@]}" --quiet; then
    echo "sim-long: $s: seeds $first..$((first + count - 1)) passed in $(($(date +%s) - start)) s"
  else
    echo "sim-long: $s: FAILED or timed out (see above)" >&2
    status=1
  fi
done
exit $status
