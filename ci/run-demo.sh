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

if [ $# -eq 0 ]; then
  set -- sh -c 'echo "== addresses"; ip -br addr; echo "== routes"; ip route; ip -6 route;
                echo "== link"; ip -br link'
fi
log "running: pasta --config-net -- $*"
"$BUILD/pasta" --config-net -- "$@"
