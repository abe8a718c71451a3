// `sim`: the deterministic simulator's command line.
//
//   sim --seed N|0xHEX|COMMIT40   run one seed (prints its knobs first)
//   sim --swarm COUNT [--first-seed S]
//                                 run COUNT seeds from S (default 1); stop at
//                                 the first failure with its reproduction line
//   --scenario NAME               run NAME instead of the seed's choice
//   --list                        list the scenarios
//   --verbose                     statistics per seed
//   --quiet                       do not print knobs (the failing seed's
//                                 knobs are still printed)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "sim/prng.hpp"
#include "sim/runner.hpp"
#include "sim/scenario.hpp"

namespace {

void usage(const char* prog) {
  std::fprintf(stderr,
               "usage: %s --seed N|0xHEX|COMMIT40 [--scenario NAME] [--verbose]\n"
               "       %s --swarm COUNT [--first-seed S] [--scenario NAME] [--verbose] [--quiet]\n"
               "       %s --list\n",
               prog, prog, prog);
}

bool parse_u64(const char* s, passt::u64* out) {
  auto v = passt::sim::parse_seed(s);
  if (!v) return false;
  *out = *v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace passt::sim;
  const char* prog = argv[0];
  bool have_seed = false;
  bool swarm = false;
  bool quiet = false;
  passt::u64 seed = 0;
  passt::u64 count = 0;
  passt::u64 first = 1;
  RunOptions opt;
  opt.program = prog;
  // argv[i] is never null for i < argc; the loop says so for the static
  // analyzer, which otherwise takes `v != nullptr` below as a hint that it may be.
  for (int i = 1; i < argc && argv[i] != nullptr; i++) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (std::strcmp(a, "--seed") == 0 && v != nullptr) {
      if (!parse_u64(v, &seed)) {
        std::fprintf(stderr, "%s: bad seed '%s' (decimal, 0x-hex or a 40-digit commit id)\n", prog, v);
        return 2;
      }
      have_seed = true;
      i++;
    } else if (std::strcmp(a, "--swarm") == 0 && v != nullptr) {
      if (!parse_u64(v, &count) || count == 0) {
        std::fprintf(stderr, "%s: bad count '%s'\n", prog, v);
        return 2;
      }
      swarm = true;
      i++;
    } else if (std::strcmp(a, "--first-seed") == 0 && v != nullptr) {
      if (!parse_u64(v, &first)) {
        std::fprintf(stderr, "%s: bad seed '%s'\n", prog, v);
        return 2;
      }
      i++;
    } else if (std::strcmp(a, "--scenario") == 0 && v != nullptr) {
      if (find_scenario(v) == nullptr) {
        std::fprintf(stderr, "%s: unknown scenario '%s' (see --list)\n", prog, v);
        return 2;
      }
      opt.scenario = v;
      i++;
    } else if (std::strcmp(a, "--verbose") == 0) {
      opt.verbose = true;
    } else if (std::strcmp(a, "--quiet") == 0) {
      quiet = true;
    } else if (std::strcmp(a, "--list") == 0) {
      for (const ScenarioEntry& e : scenarios()) std::printf("%-12s %s\n", e.name, e.help);
      return 0;
    } else {
      usage(prog);
      return 2;
    }
  }
  if (have_seed == swarm) {
    usage(prog);
    return 2;
  }

  if (have_seed) {
    RunResult r = run_seed(seed, opt);
    if (!r.ok) {
      print_failure(stdout, r, opt);
      return 1;
    }
    std::printf("ok seed=%llu scenario=%s events=%llu virtual=%lld.%09llds trace=%016llx\n",
                static_cast<unsigned long long>(seed), r.scenario, static_cast<unsigned long long>(r.events),
                static_cast<long long>(r.virtual_time.ns / 1000000000),
                static_cast<long long>(r.virtual_time.ns % 1000000000),
                static_cast<unsigned long long>(r.trace_hash));
    return 0;
  }

  const auto t0 = std::chrono::steady_clock::now();
  passt::u64 events = 0;
  passt::i64 virt = 0;
  opt.print_knobs = !quiet;
  for (passt::u64 n = 0; n < count; n++) {
    const passt::u64 s = first + n;
    RunResult r = run_seed(s, opt);
    events += r.events;
    virt += r.virtual_time.ns;
    if (!r.ok) {
      if (quiet) {  // the failing seed's knobs, for the report
        RunOptions again = opt;
        again.print_knobs = true;
        again.verbose = false;
        (void)run_seed(s, again);
      }
      print_failure(stdout, r, opt);
      std::printf("sim swarm: FAILED at seed %llu after %llu passing seeds\n",
                  static_cast<unsigned long long>(s), static_cast<unsigned long long>(n));
      return 1;
    }
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("sim swarm: %llu seeds passed (%llu..%llu), %llu events, %.1f s virtual, %.1f s wall\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(first),
              static_cast<unsigned long long>(first + count - 1), static_cast<unsigned long long>(events),
              static_cast<double>(virt) / 1e9, wall);
  return 0;
}
