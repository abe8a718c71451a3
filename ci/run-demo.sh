#!/usr/bin/env bash
# The main job, end to end: build, then show what works today.
# (Grows into "pasta gives a command connectivity" as the modes land.)
set -euo pipefail
cd "$(dirname "$0")/.."
ci/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
if [ -x build/release/sim ]; then
  build/release/sim --seed 1
fi
