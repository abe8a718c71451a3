#!/usr/bin/env bash
# The main job: pasta giving a command network connectivity.
#
# Builds the release preset, then, inside a throw-away "host" namespace
# (integration/lib/common.sh: an uplink to a dead end with documentation
# addresses, so nothing can leave this machine), runs
#   pasta --config-net -- <command>
# and shows what the command sees.  Pass your own command as arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${PASST_IT_INSIDE:-}" != 1 ]; then
  ci/deps.sh
  cmake --preset release >/dev/null
  cmake --build --preset release
fi
. integration/lib/common.sh
enter_outer_ns build/release "$@"
shift || true

# A "remote" server on the host side: 203.0.113.1 (an address of the outer
# namespace, reached through the namespace's default route, i.e. through
# pasta's TCP translation) and the host's loopback (reached through the
# gateway address, which pasta maps to 127.0.0.1 by default).
echo "hello from the host side, $(date -u +%H:%M:%S)" >"$TMP/greeting"
socat TCP-LISTEN:8080,reuseaddr,fork SYSTEM:"cat $TMP/greeting" >/dev/null 2>&1 &
wait_until 5 sh -c 'ss -ltn | grep -q ":8080 "'

if [ $# -eq 0 ]; then
  set -- sh -c 'echo "== addresses"; ip -br addr; echo "== routes"; ip route; ip -6 route
                echo "== TCP to 203.0.113.1:8080 (routed through pasta)"
                socat -u TCP:203.0.113.1:8080 -
                echo "== TCP to the gateway 198.51.100.254:8080 (the host loopback)"
                socat -u TCP:198.51.100.254:8080 -'
fi
log "running: pasta --config-net -- $*"
"$BUILD/pasta" --config-net -- "$@"
