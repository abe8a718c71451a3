#!/usr/bin/env bash
# The scripted frame tests marked `slow` (docs/scripts.md): those whose
# timers take seconds of real time (retransmission and handshake limits).
# A test of its own, with the same options as test_scripts.sh, which runs
# all the others.
#
# These scripts spend nearly all their time waiting on their timers: every
# (slow script, mode) pair runs at once, each in an outer namespace of its
# own (lib/parallel.sh), so the test takes as long as the longest script
# (~20 s) instead of the sum (~55 s).
. "$(dirname "$0")/lib/common.sh"

if [ "${PASST_IT_INSIDE:-}" != 1 ] && [ -z "${PARALLEL_JOB+x}" ]; then
  . "$IT_DIR/lib/parallel.sh"
  mapfile -t SLOW < <(grep -lE '^[[:space:]]*slow[[:space:]]' "$IT_DIR"/scripts/*.pkt)
  [ ${#SLOW[@]} -gt 0 ] || fail "no slow script in $IT_DIR/scripts"
  JOBS=()
  for s in "${SLOW[@]}"; do JOBS+=("passt $s" "pasta $s"); done
  run_parallel_jobs "${1:?usage: $0 BUILD_DIR}" "${JOBS[@]}"
  log "slow scripts OK"
  exit 0
fi

enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries

RUNNER=$BUILD/sim/script_real
[ -x "$RUNNER" ] || fail "$RUNNER not built"
[ "$REFERENCE" = 1 ] && skip "the scripts state our behaviour; Debian's 2023 build differs (MAC, RA lifetimes, ...)"

# One run: PARALLEL_JOB is "MODE SCRIPT".
read -r MODE SCRIPT <<<"$PARALLEL_JOB"
# shellcheck disable=SC2086
TMPDIR=$TMP "$RUNNER" --passt "$PASST_BIN" --pasta "$PASTA_BIN" --only-slow --mode "$MODE" \
  --tolerance "${SCRIPT_TOLERANCE:-0.2}" \
  --late-tolerance "${SCRIPT_LATE_TOLERANCE:-1}" ${SCRIPT_ARGS:-} "$SCRIPT" ||
  fail "slow scripts failed"
log "slow scripts OK"
