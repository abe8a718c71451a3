#!/usr/bin/env bash
# Proves ci/check-layering.sh bites: each deliberate violation, injected into
# a scratch copy of src/, must make it fail; the clean copy must pass.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${1:-$here/../src}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src" "$tmp/src"
"$here/check-layering.sh" "$tmp/src" >/dev/null || { echo "clean tree fails the check"; exit 1; }
inject() {  # FILE LINE
  cp "$tmp/src/$1" "$tmp/orig"
  echo "$2" >>"$tmp/src/$1"
  if "$here/check-layering.sh" "$tmp/src" >/dev/null 2>&1; then
    echo "NOT caught: '$2' in $1"; exit 1
  fi
  echo "caught: '$2' in $1"
  cp "$tmp/orig" "$tmp/src/$1"
}
inject wire/ethernet.cpp '#include <sys/socket.h>'
inject wire/ethernet.cpp '#include <chrono>'
inject core/flow_table.cpp '#include <random>'
inject proto/arp.cpp '#include "engine/engine.hpp"'
inject wire/ethernet.cpp '#include "proto/arp.hpp"'
inject util/check.cpp 'static long t() { return std::chrono::steady_clock::now().time_since_epoch().count(); }'
inject linux/clock.cpp '#include "engine/engine.hpp"'
echo "layering self-test passed"
