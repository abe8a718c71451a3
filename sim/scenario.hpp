// Scenarios: what a simulation run drives.  A scenario draws its own knobs
// from the seed, builds the engine (any ports::EventSink), the guest and the
// remote peers, registers its checkers, and says when its work is done (the
// liveness goal).  The runner (sim/runner.hpp) owns the World, the SimLink
// and the SimHostNet and runs every scenario through the same phases.
//
// Adding a scenario: implement Scenario and either list it in
// builtin_scenarios() (sim/scenario.cpp) or call register_scenario() before
// running seeds.
#pragma once

#include <cstdio>
#include <memory>
#include <span>
#include <string_view>

#include "ports/events.hpp"
#include "sim/hostnet.hpp"
#include "sim/knobs.hpp"
#include "sim/link.hpp"
#include "sim/world.hpp"

namespace passt::sim {

// What a scenario gets to build on.
struct SimEnv {
  const Knobs& knobs;
  World& world;
  SimLink& link;
  SimHostNet& net;
};

class Scenario {
 public:
  virtual ~Scenario() = default;
  virtual const char* name() const noexcept = 0;
  // Draws this scenario's knobs; may raise world knobs it depends on (for
  // instance the socket table size).  Called before anything is built.
  virtual void derive(Prng& rng, Knobs& knobs) noexcept = 0;
  virtual void print_knobs(std::FILE* out) const noexcept = 0;
  // Builds the engine, guest and peers; registers actors and checkers with
  // env.world.  May allocate (the allocation counter is not armed yet).
  virtual void setup(SimEnv& env) = 0;
  virtual ports::EventSink& sink() noexcept = 0;
  // The safety phase ended: faults are off and the link is up.
  virtual void start_liveness(SimEnv& env) noexcept { (void)env; }
  // Has everything the scenario started finished?
  virtual bool done(SimEnv& env) noexcept = 0;
  // What is still pending (for a liveness failure message).
  virtual const char* pending(SimEnv& env) noexcept = 0;
  // One line of statistics for --verbose.
  virtual void print_stats(std::FILE* out) noexcept { (void)out; }
};

struct ScenarioEntry {
  const char* name;
  const char* help;
  std::unique_ptr<Scenario> (*make)();
};

// Every scenario available to `sim`: the built-in ones first, then those
// registered at run time.  A seed picks one of them unless --scenario names it.
std::span<const ScenarioEntry> scenarios() noexcept;
// False if the table (32 entries) is full or the name is taken.
bool register_scenario(const ScenarioEntry& e) noexcept;
const ScenarioEntry* find_scenario(std::string_view name) noexcept;

}  // namespace passt::sim
