// Running one seed, start to end: derive and print the knobs, build the
// world, arm the allocation counter, run the safety phase (faults on, link
// flaps), then the liveness phase (faults off, link up: the scenario must
// finish within the bound), with every checker after every event.
#pragma once

#include <cstdio>

#include "sim/world.hpp"

namespace passt::sim {

struct RunOptions {
  const char* scenario = nullptr;  // by name; nullptr: picked by the seed
  const char* program = "sim";     // for the reproduction line
  std::FILE* out = stdout;         // knobs and statistics
  bool print_knobs = true;
  bool verbose = false;
};

struct RunResult {
  bool ok = false;
  u64 seed = 0;
  const char* scenario = "";
  u64 events = 0;
  u64 polls = 0;
  Duration virtual_time;
  u64 trace_hash = 0;
  std::size_t queue_peak = 0;
  Failure failure;
};

RunResult run_seed(u64 seed, const RunOptions& opt);

// "FAIL seed=... event=... time=... [phase] source: reason" and the one-line
// reproduction.
void print_failure(std::FILE* out, const RunResult& r, const RunOptions& opt) noexcept;

}  // namespace passt::sim
