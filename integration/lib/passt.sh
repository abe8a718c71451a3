# shellcheck shell=bash disable=SC2034
# Helpers for tests of a passt/pasta binary (sourced after lib/common.sh,
# after enter_outer_ns).
#
# The binary under test:
#   PASST_BIN   default $BUILD/passt
#   PASTA_BIN   default: "pasta" next to PASST_BIN (our build makes it a
#               symbolic link to passt; Debian's /usr/bin/pasta is one too)
#
# Reference mode: the tests are written against upstream passt (snapshot of
# 2025-01-09, /work/shared/docs/upstream-behaviour.md).  Debian 12's passt
# (0.0~git20230309, /usr/bin/passt) is used to validate the tests themselves;
# where it is known to differ from upstream, a check is guarded with
# `upstream_only "why"`, which skips it (and says so) in reference mode only.
# Reference mode is on when PASST_REFERENCE=1, or when PASST_BIN is Debian's
# installed 2023 binary (or a byte-identical copy); PASST_REFERENCE=0 forces
# it off.  Against our own binary every check runs.
#
# Use PASST_BIN=/usr/bin/passt for reference runs rather than a copy: the
# Debian binary re-executes "<itself>.avx2", and a copy without it warns.

IT_TOOLS=$IT_DIR/tools
UPSTREAM_MAC=9a:55:9a:55:9a:55      # upstream's default -M

select_binaries() {
  PASST_BIN=${PASST_BIN:-$BUILD/passt}
  PASTA_BIN=${PASTA_BIN:-$(dirname "$PASST_BIN")/pasta}
  [ -x "$PASST_BIN" ] || fail "PASST_BIN=$PASST_BIN is not an executable"
  [ -x "$PASTA_BIN" ] || fail "PASTA_BIN=$PASTA_BIN is not an executable"
  PASST_BIN=$(cd "$(dirname "$PASST_BIN")" && pwd)/$(basename "$PASST_BIN")
  PASTA_BIN=$(cd "$(dirname "$PASTA_BIN")" && pwd)/$(basename "$PASTA_BIN")
  export PASST_BIN PASTA_BIN
  # Our main() is still the placeholder: nothing to test yet.  This skips on
  # the placeholder's exact message only, so a working binary that breaks
  # --version fails the tests instead of skipping them.
  local version
  version=$(timeout 5 "$PASST_BIN" --version 2>&1 || true)
  case $version in
  *"not implemented yet"*) skip "$PASST_BIN is the placeholder main() ('not implemented yet')" ;;
  esac
  REFERENCE=0
  case "${PASST_REFERENCE:-auto}" in
  1) REFERENCE=1 ;;
  0) REFERENCE=0 ;;
  *)
    if [ -f /usr/bin/passt ] &&
       dpkg-query -W -f='${Version}' passt 2>/dev/null | grep -q '^0\.0~git2023' &&
       { cmp -s "$(readlink -f "$PASST_BIN")" /usr/bin/passt ||
         cmp -s "$(readlink -f "$PASST_BIN")" /usr/bin/passt.avx2; }; then
      REFERENCE=1
    fi ;;
  esac
  export REFERENCE
  log "binary under test: $PASST_BIN (pasta: $PASTA_BIN)$([ $REFERENCE = 1 ] &&
       echo ", reference mode: Debian's 2023 build")"
}

# upstream_only REASON: returns 0 (run the check) unless in reference mode,
# where it logs the known difference and returns 1.
upstream_only() {
  if [ "$REFERENCE" = 1 ]; then
    log "known difference of Debian's 2023 build, check skipped: $*"
    return 1
  fi
  return 0
}

# need CMD...: skip the test if a program is missing (ci/deps.sh installs them).
need() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || skip "$c not installed (ci/deps.sh installs it)"
  done
}

# A checked step: `ok "text"` after it passed keeps the log readable.
ok() { log "ok: $*"; }

# now_ms: monotonic-enough wall clock in milliseconds.
now_ms() { date +%s%3N; }

# new_netns NAME: a network namespace like Podman's: a sleeper process
# unshared into a new netns, whose nsfs file is bind-mounted on
# $TMP/netns/NAME.  Sets NETNS (the path) and NETNS_SLEEPER (the pid).  DAD
# is off in it so that addresses are usable at once; lo is left down (pasta
# brings it up).
new_netns() {
  mkdir -p "$TMP/netns"
  NETNS=$TMP/netns/$1
  unshare --net sleep 100000 &
  NETNS_SLEEPER=$!
  wait_until 5 ns_differs "$NETNS_SLEEPER" || fail "namespace of $1 did not appear"
  : >"$NETNS"
  mount --bind "/proc/$NETNS_SLEEPER/ns/net" "$NETNS"
  in_netns "$NETNS" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}
ns_differs() { [ "$(readlink "/proc/$1/ns/net")" != "$(readlink /proc/self/ns/net)" ]; }

in_netns() {
  local ns=$1; shift
  nsenter --net="$ns" "$@"
}

# remove_netns PATH: what Podman does when a container stops: lazy unmount
# (the daemon may still hold the namespace open) and delete the file.
remove_netns() {
  umount -l "$1"
  rm -f "$1"
}

# wait_gone SECS PID: bounded wait until PID no longer exists.
wait_gone() {
  local secs=$1 pid=$2
  wait_until "$secs" pid_gone "$pid"
}
# A zombie counts as gone only once it is alone in its thread group: the
# leader of a multi-threaded process (pasta's namespace thread) shows "Z"
# while its other threads are still exiting, and they hold the shared file
# table, listeners included, until the last one is done.
pid_gone() {
  ! kill -0 "$1" 2>/dev/null && return 0
  grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null || return 1
  local tasks
  tasks=$(ls "/proc/$1/task" 2>/dev/null | wc -l)
  [ "$tasks" -le 1 ]
}

# wait_exit SECS PID: waits (bounded) for PID, a child of this shell (not
# from a subshell: no $(...)); sets WAIT_RC to its exit status, or to
# "timeout" after killing it.
wait_exit() {
  local secs=$1 pid=$2
  WAIT_RC=0
  if wait_until "$secs" pid_gone "$pid"; then
    wait "$pid" 2>/dev/null || WAIT_RC=$?
  else
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    WAIT_RC=timeout
  fi
}

# pids_with_arg ARG...: processes having one of the ARGs as an argument.
pids_with_arg() {
  local p a
  local pat=()
  for a in "$@"; do pat+=(-e "$a"); done
  for p in /proc/[0-9]*; do
    tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qxF "${pat[@]}" && echo "${p#/proc/}"
  done
  return 0
}

# Outer-namespace facts the daemons copy.
host_mac() { ip -j link show dev "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])'; }
host_ll() {
  wait_until 5 has_ll "$1" || fail "$1 has no link-local address after 5 s"
  ip -6 -o addr show dev "$1" scope link | awk '{ sub(/\/.*/, "", $4); print $4; exit }'
}
has_ll() { ip -6 -o addr show dev "$1" scope link | grep -q inet6; }

# stop_pidfile FILE: SIGTERM the daemon whose pid is in FILE, bounded wait.
stop_pidfile() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  wait_gone 5 "$pid" || { kill -KILL "$pid" 2>/dev/null || true; fail "daemon $pid ignored SIGTERM for 5 s"; }
}

# guest_netdev SOCK MEM: qemu's arguments for the netdev n0 on passt's socket:
# `-netdev stream` (passt's default), or with PASST_VHOST_USER=1 a
# vhost-user netdev (passt --vhost-user), the guest's MEM MiB in a shared
# memfd that passt maps.
guest_netdev() {
  if [ "${PASST_VHOST_USER:-}" = 1 ]; then
    echo "-chardev socket,id=c0,path=$1 -netdev vhost-user,id=n0,chardev=c0" \
      "-object memory-backend-memfd,id=mem0,size=${2}M,share=on -numa node,memdev=mem0"
  else
    echo "-netdev stream,id=n0,server=off,addr.type=unix,addr.path=$1"
  fi
}

# guest_nic_opts: ",vectors=0" (no MSI-X) for vhost-user: qemu 7.2 under TCG
# crashes in msix_set_vector_notifiers when a vhost back end starts on an
# MSI-X device (no irqfd without KVM); legacy interrupts work.
guest_nic_opts() {
  [ "${PASST_VHOST_USER:-}" = 1 ] && echo ",vectors=0"
  return 0
}

# passt_guest_opts: what passt needs for the netdev of guest_netdev.
passt_guest_opts() {
  [ "${PASST_VHOST_USER:-}" = 1 ] && echo "--vhost-user"
  return 0
}

# run_test_guest TIMEOUT MEM SOCK APPEND CONSOLE_LOG RESULT_LOG QEMU_LOG [QEMU_ARGS...]:
# the integration guest (integration/guest) under qemu (TCG unless
# PASST_GUEST_ACCEL), one vCPU, MEM MiB, virtio-net on passt's socket SOCK;
# APPEND goes to the kernel command line, the guest reports on ttyS1
# (RESULT_LOG).  Returns qemu's (or timeout's) status.
run_test_guest() {
  local secs=$1 mem=$2 sock=$3 extra=$4 console=$5 result=$6 qlog=$7
  shift 7
  timeout -k 5 "$secs" "$QEMU" -machine "pc,accel=${PASST_GUEST_ACCEL:-tcg}" -m "$mem" -smp 1 \
    -nodefaults -no-user-config -display none -no-reboot \
    -kernel "$GUEST_CACHE/vmlinuz" -initrd "$GUEST_CACHE/initramfs.gz" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init${extra:+ $extra}" \
    -serial "file:$console" -serial "file:$result" \
    $(guest_netdev "$sock" "$mem") \
    -device "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,romfile=$(guest_nic_opts)" "$@" \
    </dev/null >"$qlog" 2>&1
}
