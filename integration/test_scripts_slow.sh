#!/usr/bin/env bash
# The scripted frame tests marked `slow` (docs/scripts.md): those whose
# timers take seconds of real time (retransmission and handshake limits).
# A test of its own so that ctest runs it in parallel with
# test_scripts.sh, which runs all the others; the same options.
. "$(dirname "$0")/lib/common.sh"
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries

RUNNER=$BUILD/sim/script_real
[ -x "$RUNNER" ] || fail "$RUNNER not built"
[ "$REFERENCE" = 1 ] && skip "the scripts state our behaviour; Debian's 2023 build differs (MAC, RA lifetimes, ...)"

# shellcheck disable=SC2086
TMPDIR=$TMP "$RUNNER" --passt "$PASST_BIN" --pasta "$PASTA_BIN" --only-slow \
  --tolerance "${SCRIPT_TOLERANCE:-0.2}" \
  --late-tolerance "${SCRIPT_LATE_TOLERANCE:-1}" ${SCRIPT_ARGS:-} "$IT_DIR/scripts" ||
  fail "slow scripts failed"
log "slow scripts OK"
