#!/usr/bin/env bash
# Scripted frame tests (docs/scripts.md) against the real binaries: every
# script in integration/scripts/ that is neither sim-only nor pending, in
# each mode it allows (passt over its UNIX socket, pasta over a tap in a
# namespace the runner creates), with host-side actions on real sockets in
# this outer namespace.  The same scripts run in the simulator under
# `ctest -L sim` (sim_scripts).
#
# SCRIPT_TOLERANCE (seconds, default 0.2: CI machines are loaded) sets how
# early, SCRIPT_LATE_TOLERANCE (default 1: a loaded machine stalls a
# process for hundreds of milliseconds now and then) how late a frame may
# come;
# SCRIPT_ARGS adds runner options (e.g. "--trace --debug").
#
#   integration/test_scripts.sh BUILD_DIR [SCRIPT|DIR...]
# runs the given scripts instead of integration/scripts/ (slow ones too).
#
# Without SCRIPT arguments the scripts are dealt round-robin into
# SCRIPT_JOBS (default 4) groups that run at once, each in an outer
# namespace of its own (lib/parallel.sh): a script run is mostly waiting
# (for frames, timers and quiet periods; ~5 s of CPU in ~47 s), so the test
# takes about a quarter of the time, and every script still runs in every
# mode it allows, alone in its namespace.
. "$(dirname "$0")/lib/common.sh"
if [ "${PASST_IT_INSIDE:-}" != 1 ] && [ -z "${PARALLEL_JOB+x}" ] && [ $# -eq 1 ]; then
  . "$IT_DIR/lib/parallel.sh"
  GROUPS_OF=()
  NL=$'\n'
  i=0
  for s in "$IT_DIR"/scripts/*.pkt; do
    g=$((i % ${SCRIPT_JOBS:-4}))
    GROUPS_OF[g]="${GROUPS_OF[g]:+${GROUPS_OF[g]}$NL}$s"
    i=$((i + 1))
  done
  [ $i -gt 0 ] || fail "no script in $IT_DIR/scripts"
  run_parallel_jobs "$1" "${GROUPS_OF[@]}"
  log "scripts OK"
  exit 0
fi
enter_outer_ns "$@"
. "$IT_DIR/lib/passt.sh"
select_binaries

RUNNER=$BUILD/sim/script_real
[ -x "$RUNNER" ] || fail "$RUNNER not built"
[ "$REFERENCE" = 1 ] && skip "the scripts state our behaviour; Debian's 2023 build differs (MAC, RA lifetimes, ...)"

# Ping sockets (ICMP echo scripts) for every group.
sysctl -qw net.ipv4.ping_group_range="0 0" || true

SCRIPTS=("$IT_DIR/scripts")
EXTRA=()
# One group of a parallel run: its scripts, the slow ones skipped as above.
[ -n "${PARALLEL_JOB:-}" ] && mapfile -t SCRIPTS <<<"$PARALLEL_JOB"
if [ $# -gt 1 ]; then
  SCRIPTS=("${@:2}")
  EXTRA=(--slow)
fi

# shellcheck disable=SC2086
TMPDIR=$TMP "$RUNNER" --passt "$PASST_BIN" --pasta "$PASTA_BIN" "${EXTRA[@]}" \
  --tolerance "${SCRIPT_TOLERANCE:-0.2}" \
  --late-tolerance "${SCRIPT_LATE_TOLERANCE:-1}" ${SCRIPT_ARGS:-} "${SCRIPTS[@]}" ||
  fail "scripts failed"
log "scripts OK"
