#include "sim/alloc_counter.hpp"

namespace passt::sim::alloc {

namespace {
bool g_hooked = false;
bool g_armed = false;
Stats g_stats;
}  // namespace

bool hooked() noexcept { return g_hooked; }
void arm() noexcept { g_armed = true; }
void disarm() noexcept { g_armed = false; }
bool armed() noexcept { return g_armed; }
const Stats& stats() noexcept { return g_stats; }

void clear_violations() noexcept {
  g_stats.armed_allocs = 0;
  g_stats.first_size = 0;
}

void note_hook_installed() noexcept { g_hooked = true; }

void on_violation(std::size_t n) noexcept {
  // Keep the call observable so the optimiser cannot fold it away.
  asm volatile("" : : "r"(n) : "memory");
}

void note_allocation(std::size_t n) noexcept {
  g_hooked = true;
  g_stats.total++;
  if (g_armed) {
    if (g_stats.armed_allocs == 0) g_stats.first_size = n;
    g_stats.armed_allocs++;
    on_violation(n);
  }
}

}  // namespace passt::sim::alloc
