// Replacement global operator new/delete (every form) that count allocations
// for the simulator's "no allocation after init" check (sim/alloc_counter.hpp).
// Linked only into the `sim` executable and `unit_sim`.
#include <cstdio>
#include <cstdlib>
#include <new>

#include "sim/alloc_counter.hpp"

namespace {

void* do_alloc(std::size_t n) noexcept {
  passt::sim::alloc::note_allocation(n);
  return std::malloc(n == 0 ? 1 : n);
}

void* do_alloc_aligned(std::size_t n, std::align_val_t al) noexcept {
  passt::sim::alloc::note_allocation(n);
  std::size_t a = static_cast<std::size_t>(al);
  if (a < sizeof(void*)) a = sizeof(void*);
  void* p = nullptr;
  if (posix_memalign(&p, a, n == 0 ? 1 : n) != 0) return nullptr;
  return p;
}

// The project throws no exceptions: running out of memory in the simulator
// is fatal, loudly.
void* or_die(void* p) noexcept {
  if (p == nullptr) {
    std::fputs("sim: out of memory\n", stderr);
    std::abort();
  }
  return p;
}

struct Installed {
  Installed() noexcept { passt::sim::alloc::note_hook_installed(); }
};
const Installed g_installed;

}  // namespace

void* operator new(std::size_t n) { return or_die(do_alloc(n)); }
void* operator new[](std::size_t n) { return or_die(do_alloc(n)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return do_alloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return do_alloc(n); }
void* operator new(std::size_t n, std::align_val_t al) { return or_die(do_alloc_aligned(n, al)); }
void* operator new[](std::size_t n, std::align_val_t al) {
  return or_die(do_alloc_aligned(n, al));
}
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return do_alloc_aligned(n, al);
}
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return do_alloc_aligned(n, al);
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
