#include "sim/scenario.hpp"

#include "sim/echo_scenario.hpp"
#include "sim/icmp_scenario.hpp"
#include "sim/services_scenario.hpp"
#include "sim/tcp_scenario.hpp"
#include "sim/udp_scenario.hpp"

namespace passt::sim {

namespace {

constexpr std::size_t kMaxScenarios = 32;

struct Registry {
  ScenarioEntry entries[kMaxScenarios]{};
  std::size_t n = 0;
  bool seeded = false;
};

Registry& registry() noexcept {
  static Registry r;
  if (!r.seeded) {
    r.seeded = true;
    // Built-in scenarios, in a fixed order (a seed's scenario is picked by
    // index, so appending keeps old seeds meaning the same runs).
    r.entries[r.n++] = echo_scenario_entry();
    r.entries[r.n++] = services_scenario_entry();
    r.entries[r.n++] = tcp_scenario_entry();
    r.entries[r.n++] = icmp_scenario_entry();
    r.entries[r.n++] = udp_scenario_entry();
  }
  return r;
}

}  // namespace

std::span<const ScenarioEntry> scenarios() noexcept {
  Registry& r = registry();
  return {r.entries, r.n};
}

bool register_scenario(const ScenarioEntry& e) noexcept {
  Registry& r = registry();
  if (r.n == kMaxScenarios || find_scenario(e.name) != nullptr) return false;
  r.entries[r.n++] = e;
  return true;
}

const ScenarioEntry* find_scenario(std::string_view name) noexcept {
  Registry& r = registry();
  for (std::size_t i = 0; i < r.n; i++)
    if (name == r.entries[i].name) return &r.entries[i];
  return nullptr;
}

}  // namespace passt::sim
