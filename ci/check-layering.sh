#!/usr/bin/env bash
# Fails (exit 1) if a layer breaks the architecture's rules:
#  1. a layer includes a header from a layer above it;
#  2. a sans-I/O layer (util wire ports core proto engine) includes an OS
#     header, a clock/thread/random header, or calls a clock or OS function.
# Usage: check-layering.sh SRC_DIR
set -euo pipefail
src=${1:-$(dirname "$0")/../src}
cd "$src"
fail=0

allowed() {
  case $1 in
    util)   echo "util" ;;
    wire)   echo "util wire" ;;
    ports)  echo "util wire ports" ;;
    core)   echo "util wire ports core" ;;
    proto)  echo "util wire ports core proto" ;;
    engine) echo "util wire ports core proto engine" ;;
    linux)  echo "util wire ports linux" ;;
    app)    echo "util wire ports core proto engine linux app" ;;
    *)      echo "" ;;
  esac
}

for layer in util wire ports core proto engine linux app; do
  [ -d "$layer" ] || continue
  ok=" $(allowed "$layer") "
  while IFS= read -r line; do
    file=${line%%:*}
    # The directory of the last `#include "DIR/` on the line (no fork per
    # line: this runs on every build and 8 times in the self-test).
    inc=$line
    [[ $line =~ ^.*\#include\ \"([^/\"]+)/ ]] && inc=${BASH_REMATCH[1]}
    # Unit tests of proto and engine may drive the code with the simulator
    # (CMake links passt_sim into unit_proto and unit_engine for that).
    case $file:$inc in
      proto/test/*:sim|engine/test/*:sim) continue ;;
    esac
    case $ok in
      *" $inc "*) ;;
      *) echo "layering: $line  ($layer may not include $inc/)"; fail=1 ;;
    esac
  done < <(grep -rnE '^\s*#\s*include\s+"[^/"]+/' "$layer" --include='*.hpp' --include='*.cpp' --include='*.h' || true)
done

# Sans-I/O layers: no OS headers, no wall clock, no <random>, no threads.
forbidden_inc='#\s*include\s*<(sys/|netinet/|arpa/|linux/|net/|unistd\.h|fcntl\.h|poll\.h|signal\.h|dirent\.h|pthread\.h|sched\.h|termios\.h|getopt\.h|netdb\.h|ifaddrs\.h|time\.h|ctime|chrono|random|thread|mutex|future|condition_variable|iostream|fstream|filesystem|csignal)'
# (read/write/socket and friends cannot even be declared without the headers
# above; these are the calls reachable through standard C++ headers.)
forbidden_call='\b(clock_gettime|gettimeofday|getrandom|s?rand\(|random_device|mt19937|minstd_rand|default_random_engine|std::chrono|system_clock|steady_clock|__rdtsc|fopen\(|std::system\(|getenv\()'
for layer in util wire ports core proto engine; do
  [ -d "$layer" ] || continue
  if hits=$(grep -rnE "$forbidden_inc" "$layer" --include='*.hpp' --include='*.cpp' --include='*.h'); then
    echo "layering: OS/clock/random header in sans-I/O layer '$layer':"; echo "$hits" | sed 's/^/    /'; fail=1
  fi
  # Skip comments (lines whose first non-blank is //) for call detection.
  if hits=$(grep -rnE "$forbidden_call" "$layer" --include='*.hpp' --include='*.cpp' | grep -vE '^[^:]+:[0-9]+:\s*//'); then
    echo "layering: OS/clock call in sans-I/O layer '$layer':"; echo "$hits" | sed 's/^/    /'; fail=1
  fi
done

if [ "$fail" -ne 0 ]; then
  echo "layering check FAILED (see docs/architecture.md)"
  exit 1
fi
echo "layering check passed"
