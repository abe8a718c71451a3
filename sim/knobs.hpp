// Every knob of a simulation run, derived from the seed (swarm testing: each
// fault is switched on or off per seed, and its rate drawn within a range, so
// the swarm covers combinations no hand-written test would) and printed
// before the run so that one line, `sim --seed N`, reproduces it.
#pragma once

#include <cstdio>

#include "sim/hostnet.hpp"
#include "sim/link.hpp"
#include "util/time.hpp"

namespace passt::sim {

struct Knobs {
  u64 seed = 0;
  LinkConfig link;
  HostNetConfig net;
  u32 link_flaps = 0;        // link down/up cycles during the safety phase
  Duration safety;           // safety phase: faults on
  Duration liveness;         // liveness phase bound: faults off, all must finish
  u64 event_budget = 0;      // events per run before it is declared stuck
  std::size_t event_capacity = 0;

  // Draws every knob from the seed's knob stream.
  static Knobs derive(u64 seed, Prng& rng) noexcept;
  // Event queue capacity implied by the sizes above.
  std::size_t implied_event_capacity() const noexcept;
  void print(std::FILE* out) const noexcept;
};

// "1.500ms", "12us", "2s": for knob printing.
struct DurText {
  char buf[32];
};
DurText fmt_dur(Duration d) noexcept;
// Parts per million as a percentage: "0.0125%".
struct PpmText {
  char buf[24];
};
PpmText fmt_ppm(u32 ppm) noexcept;

}  // namespace passt::sim
