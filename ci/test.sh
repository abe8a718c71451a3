#!/usr/bin/env bash
# The whole test suite, as CI runs it (README's test command).
#
#   1. install build and test dependencies (Debian 12 packages only);
#   2. release build (g++): unit, property, simulator swarm, fuzz corpus
#      replay, integration tests with real clients in test-made namespaces;
#   3. micro-benchmark regression guard on the release build
#      (ci/bench-guard.sh, docs/performance.md; under a minute);
#   4. sanitizer build (clang-14, ASan+UBSan, libFuzzer): unit, property,
#      simulator and fuzz-smoke (corpus replay plus a few seconds of fuzzing
#      per target); then the sandbox, hostile-input and limits integration
#      tests against its binaries.
#
# Environment: SKIP_DEPS=1 skips step 1, SKIP_BENCH=1 step 3, SKIP_SAN=1 step 4,
# CTEST_ARGS adds ctest arguments (e.g. "-L unit").
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

if [ "${SKIP_DEPS:-0}" != 1 ]; then
  ci/deps.sh
fi

step() { echo; echo "=== $* ($(($(date +%s) - start)) s)"; }

step "release build"
cmake --preset release >/dev/null
cmake --build --preset release
step "release tests"
# One round of the splice throughput log (docs/integration-tests.md): every
# path is still carried, which is what the test checks.
export SPLICE_PERF_ROUNDS=${SPLICE_PERF_ROUNDS:-1}
ctest --preset release --timeout 900 ${CTEST_ARGS:-}

if [ "${SKIP_BENCH:-0}" != 1 ]; then
  step "micro-benchmark regression guard"
  ci/bench-guard.sh build/release
fi

if [ "${SKIP_SAN:-0}" != 1 ]; then
  step "sanitizer + fuzz build (clang-14, ASan+UBSan, libFuzzer)"
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz
  step "sanitizer tests"
  ctest --preset fuzz --timeout 900 -L 'unit|prop|sim|fuzz-smoke' ${CTEST_ARGS:-}
  # The sanitizer build's real binaries under their sandbox, hostile frames
  # and at their limits (docs/security.md).
  step "sanitizer build: sandbox, hostile input and limits"
  ctest --preset fuzz --timeout 900 -R 'integration_test_(sandbox|hostile_input|limits)$' ${CTEST_ARGS:-}
fi

# clang-tidy gate (.clang-tidy, docs/contributing.md): src/ production
# sources against the release build's compile database; any finding fails.
# SKIP_TIDY=1 skips it.
if [ "${SKIP_TIDY:-0}" != 1 ]; then
  step "clang-tidy (ci/tidy.sh)"
  ci/tidy.sh build/release
fi

step "all tests passed"
