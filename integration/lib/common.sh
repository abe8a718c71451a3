# Shared helpers for integration tests (sourced by integration/test_*.sh).
#
# Network safety: every test runs inside its own "outer" namespace set
# (user + net + mount + pid) that plays the host.  Its only uplink, up0, is a
# veth whose peer sits alone in a dead-end network namespace: nothing can
# leave the machine.  Addresses are documentation ranges only:
#
#   outer ("host")                       dead end
#   lo   127.0.0.1 ::1, 203.0.113.1/32    up0p 198.51.100.254/24
#   up0  198.51.100.1/24 ──── veth ────       2001:db8::ff/64
#        2001:db8::1/64                   (answers ARP/NDP/ping, forwards
#   default via 198.51.100.254, 2001:db8::ff     nothing)
#   /etc/resolv.conf: nameserver 198.51.100.53, 2001:db8::53 (bind mount)
#
# Usage in a test:
#   . "$(dirname "$0")/lib/common.sh"
#   enter_outer_ns "$@"          # re-executes the test inside; returns there
#   ... test body, using $BUILD (build directory, $1) and helpers below ...

set -euo pipefail

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SKIP=77

log() { echo "[$(date +%H:%M:%S.%N | cut -c1-12)] $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
skip() { log "SKIP: $*"; exit $SKIP; }

# Re-executes the calling script inside a fresh user+net+mount+pid
# namespace, then builds the outer network there.  The dead-end namespace
# is a sleeping process; the PID namespace reaps everything on exit.
enter_outer_ns() {
  if [ "${PASST_IT_INSIDE:-}" != 1 ]; then
    command -v unshare >/dev/null || skip "unshare not available"
    unshare --user --map-root-user --net --mount --pid --fork --kill-child true 2>/dev/null ||
      skip "cannot create user namespaces here"
    export PASST_IT_INSIDE=1
    exec unshare --user --map-root-user --net --mount --pid --fork --kill-child \
      --mount-proc bash "$0" "$@"
  fi
  BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
  export BUILD
  TMP=$(mktemp -d /tmp/passt-it.XXXXXX)
  export TMP
  trap 'outer_cleanup' EXIT
  outer_network_setup
}

outer_cleanup() {
  local rc=$?
  jobs -p | xargs -r kill 2>/dev/null || true
  if [ $rc -ne 0 ] && [ $rc -ne $SKIP ] && [ -d "$TMP" ]; then
    log "logs in $TMP:"
    for f in "$TMP"/*.log; do
      [ -f "$f" ] || continue
      echo "----- $f (last 40 lines)" >&2
      tail -n 40 "$f" >&2
    done
  fi
  # Mounts a test made under $TMP (bind-mounted namespace files) would make
  # the rm fail and leave the directory behind on the real /tmp.
  local m
  for m in $(awk -v t="$TMP/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$TMP"
  exit $rc
}

outer_network_setup() {
  sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 || true
  ip link set lo up
  ip addr add 203.0.113.1/32 dev lo
  ip addr add 2001:db8:1::1/128 dev lo
  # Dead-end namespace holding the far end of the uplink.
  unshare --net sleep 100000 &
  DEADEND_PID=$!
  export DEADEND_PID
  local n=0
  until [ "$(readlink /proc/$DEADEND_PID/ns/net)" != "$(readlink /proc/self/ns/net)" ]; do
    n=$((n + 1)); [ $n -lt 200 ] || fail "dead-end namespace did not appear"
    sleep 0.01
  done
  ip link add up0 type veth peer name up0p
  ip link set up0p netns "$DEADEND_PID"
  ip addr add 198.51.100.1/24 dev up0
  ip -6 addr add 2001:db8::1/64 dev up0 nodad
  ip link set up0 up
  ip route add default via 198.51.100.254 dev up0
  ip -6 route add default via 2001:db8::ff dev up0
  in_deadend sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 || true
  in_deadend ip link set lo up
  in_deadend ip addr add 198.51.100.254/24 dev up0p
  in_deadend ip -6 addr add 2001:db8::ff/64 dev up0p nodad
  in_deadend ip link set up0p up
  # Predictable resolvers (nothing answers there unless a test starts one).
  printf 'nameserver 198.51.100.53\nnameserver 2001:db8::53\nsearch example.org\n' >"$TMP/resolv.conf"
  mount --bind "$TMP/resolv.conf" /etc/resolv.conf
  assert_no_escape
}

in_deadend() { nsenter --net=/proc/"$DEADEND_PID"/ns/net "$@"; }

# The outer namespace must have no interface but lo and up0, and every
# route must point at the dead end or be local.
assert_no_escape() {
  local ifs
  ifs=$(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort | tr '\n' ' ')
  [ "$ifs" = "lo up0 " ] || fail "unexpected interfaces in the outer namespace: $ifs"
}

# wait_until SECONDS COMMAND...: polls COMMAND every 20 ms, bounded.
wait_until() {
  local secs=$1; shift
  local n=$((secs * 50))
  while [ $n -gt 0 ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.02
    n=$((n - 1))
  done
  return 1
}

# Runs a command in the network (and user) namespace of PID.
in_ns_of() {
  local pid=$1; shift
  nsenter --target "$pid" --net --user --preserve-credentials "$@"
}
