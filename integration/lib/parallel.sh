# run_parallel_jobs BUILD_DIR JOB...: runs the calling test once per JOB, all
# at once, each run in an outer namespace of its own (enter_outer_ns: own
# network, so the runs' host ports cannot collide) with PARALLEL_JOB=JOB in
# its environment.  For tests that mostly wait on timers (the scripted frame
# tests): the test takes as long as its longest run instead of the sum.
# Prints each run's output after it, in order; fails if a run failed, skips
# if every run skipped.  Sourced after lib/common.sh, before enter_outer_ns.
run_parallel_jobs() {
  local build=$1; shift
  local out n=0 i rc failed=0 passed=0 job
  PARALLEL_PIDS=()
  out=$(mktemp -d /tmp/passt-it-jobs.XXXXXX)
  PARALLEL_OUT=$out
  trap 'for p in "${PARALLEL_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$PARALLEL_OUT"' EXIT
  for job in "$@"; do
    PARALLEL_JOB=$job bash "$0" "$build" >"$out/$n.log" 2>&1 &
    PARALLEL_PIDS+=($!)
    n=$((n + 1))
  done
  for ((i = 0; i < n; i++)); do
    rc=0
    wait "${PARALLEL_PIDS[$i]}" || rc=$?
    echo "----- run $((i + 1)) of $n: status $rc" >&2
    cat "$out/$i.log" >&2
    case $rc in
      0) passed=$((passed + 1)) ;;
      "$SKIP") ;;
      *) failed=$((failed + 1)) ;;
    esac
  done
  [ "$failed" = 0 ] || fail "$failed of $n parallel runs failed"
  [ "$passed" -gt 0 ] || skip "every run skipped"
  log "$n parallel runs passed"
}
