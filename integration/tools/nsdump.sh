#!/bin/sh
# nsdump.sh DIR: the current network namespace's addresses, links and
# routes as `ip -j` JSON in DIR (read by tools/ipq.py).
# nsdump.sh -: the same on stdout, each file after a line "@@ NAME"
# (for a spawned command that may not write to the test's directory);
# `nsdump.sh --split DIR < OUTPUT` turns that back into files.
set -e
if [ "$1" = --split ]; then
  mkdir -p "$2"
  exec awk -v d="$2" '/^@@ / { f = d "/" $2; printf "" > f; next } f { print >> f }'
fi
dump() {
  echo "@@ addr.json"; ip -j addr show
  echo "@@ link.json"; ip -j link show
  echo "@@ route4.json"; ip -j -4 route show
  echo "@@ route6.json"; ip -j -6 route show
}
if [ "$1" = - ]; then
  dump
else
  dump | "$0" --split "$1"
fi
