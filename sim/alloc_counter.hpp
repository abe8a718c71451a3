// Counting heap allocations, to prove "no allocation after init".
//
// The counters live here (in passt_sim); the replacement global operator
// new/delete that feeds them is a separate translation unit,
// sim/alloc_hook/new_delete.cpp, linked only into the `sim` executable and
// `unit_sim` (never into the production binary, and not into other test
// executables that link passt_sim).  Without the hook, hooked() is false and
// every counter stays 0: the World then reports the check as unavailable
// rather than silently passing it.
//
// The World arms the counter once initialisation is over.  Any operator new
// while armed is a violation: it is counted, its size remembered, and the
// World fails the run at the end of the current event.  To find the culprit,
// break on passt::sim::alloc::on_violation in a debugger.
//
// Single-threaded by design (the simulator is).
#pragma once

#include <cstddef>

#include "util/types.hpp"

namespace passt::sim::alloc {

struct Stats {
  u64 total = 0;             // every operator new since start
  u64 armed_allocs = 0;      // operator new calls while armed
  std::size_t first_size = 0;  // size of the first armed allocation
};

bool hooked() noexcept;
void arm() noexcept;
void disarm() noexcept;
bool armed() noexcept;
const Stats& stats() noexcept;
// Forgets recorded violations (not the total).
void clear_violations() noexcept;

// Arms for the lifetime of the guard, restoring the previous state after.
class ArmGuard {
 public:
  ArmGuard() noexcept : was_(armed()) { arm(); }
  ~ArmGuard() {
    if (!was_) disarm();
  }
  ArmGuard(const ArmGuard&) = delete;
  ArmGuard& operator=(const ArmGuard&) = delete;

 private:
  bool was_;
};

// --- called by the hook translation unit ------------------------------------
void note_hook_installed() noexcept;
void note_allocation(std::size_t n) noexcept;
// Breakpoint target; called on every armed allocation.
[[gnu::noinline]] void on_violation(std::size_t n) noexcept;

}  // namespace passt::sim::alloc
