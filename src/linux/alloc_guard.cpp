#include "linux/alloc_guard.hpp"

#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace passt::os {

namespace {
std::atomic<bool> g_sealed{false};
std::atomic<u64> g_count{0};
}  // namespace

void alloc_guard_seal() noexcept { g_sealed.store(kAllocGuard, std::memory_order_relaxed); }
bool alloc_guard_sealed() noexcept { return g_sealed.load(std::memory_order_relaxed); }
u64 alloc_guard_count() noexcept { return g_count.load(std::memory_order_relaxed); }

}  // namespace passt::os

#if PASST_ALLOC_GUARD

// glibc's allocator under its internal names (exported, GLIBC_2.2.5).
extern "C" {
void* __libc_malloc(std::size_t n);
void* __libc_calloc(std::size_t n, std::size_t size);
void* __libc_realloc(void* p, std::size_t n);
void __libc_free(void* p);
void* __libc_memalign(std::size_t align, std::size_t n);
void* __libc_valloc(std::size_t n);
void* __libc_pvalloc(std::size_t n);
}

namespace {

[[noreturn]] void die(const char* what) noexcept {
  // No stdio, no logging: nothing here may allocate.
  static constexpr char kHead[] = "passt: heap allocation after initialisation (";
  static constexpr char kTail[] = "), aborting\n";
  (void)!::write(2, kHead, sizeof(kHead) - 1);
  (void)!::write(2, what, std::strlen(what));
  (void)!::write(2, kTail, sizeof(kTail) - 1);
  std::abort();
}

inline void check(const char* what) noexcept {
  passt::os::g_count.fetch_add(1, std::memory_order_relaxed);
  if (passt::os::g_sealed.load(std::memory_order_relaxed)) [[unlikely]]
    die(what);
}

bool power_of_two(std::size_t a) noexcept { return a != 0 && (a & (a - 1)) == 0; }

}  // namespace

extern "C" {

void* malloc(std::size_t n) noexcept {
  check("malloc");
  return __libc_malloc(n);
}

void* calloc(std::size_t n, std::size_t size) noexcept {
  check("calloc");
  return __libc_calloc(n, size);
}

void* realloc(void* p, std::size_t n) noexcept {
  check("realloc");
  return __libc_realloc(p, n);
}

void* reallocarray(void* p, std::size_t n, std::size_t size) noexcept {
  check("reallocarray");
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return __libc_realloc(p, bytes);
}

void free(void* p) noexcept { __libc_free(p); }

void* memalign(std::size_t align, std::size_t n) noexcept {
  check("memalign");
  return __libc_memalign(align, n);
}

void* aligned_alloc(std::size_t align, std::size_t n) noexcept {
  check("aligned_alloc");
  if (!power_of_two(align)) {
    errno = EINVAL;
    return nullptr;
  }
  return __libc_memalign(align, n);
}

int posix_memalign(void** out, std::size_t align, std::size_t n) noexcept {
  check("posix_memalign");
  if (!power_of_two(align) || align % sizeof(void*) != 0) return EINVAL;
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

void* valloc(std::size_t n) noexcept {
  check("valloc");
  return __libc_valloc(n);
}

void* pvalloc(std::size_t n) noexcept {
  check("pvalloc");
  return __libc_pvalloc(n);
}

}  // extern "C"

#endif
