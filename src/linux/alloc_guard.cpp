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
  (void)(::write(2, kHead, sizeof(kHead) - 1) < 0);
  (void)(::write(2, what, std::strlen(what)) < 0);
  (void)(::write(2, kTail, sizeof(kTail) - 1) < 0);
  std::abort();
}

inline void check(const char* what) noexcept {
  passt::os::g_count.fetch_add(1, std::memory_order_relaxed);
  if (passt::os::g_sealed.load(std::memory_order_relaxed)) [[unlikely]]
    die(what);
}

bool power_of_two(std::size_t a) noexcept { return a != 0 && (a & (a - 1)) == 0; }

}  // namespace

// The replacements keep glibc's parameter names (<stdlib.h>, <malloc.h>):
// they are the same functions.
extern "C" {

void* malloc(std::size_t __size) noexcept {
  check("malloc");
  return __libc_malloc(__size);
}

void* calloc(std::size_t __nmemb, std::size_t __size) noexcept {
  check("calloc");
  return __libc_calloc(__nmemb, __size);
}

void* realloc(void* __ptr, std::size_t __size) noexcept {
  check("realloc");
  return __libc_realloc(__ptr, __size);
}

void* reallocarray(void* __ptr, std::size_t __nmemb, std::size_t __size) noexcept {
  check("reallocarray");
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(__nmemb, __size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return __libc_realloc(__ptr, bytes);
}

void free(void* __ptr) noexcept { __libc_free(__ptr); }

void* memalign(std::size_t __alignment, std::size_t __size) noexcept {
  check("memalign");
  return __libc_memalign(__alignment, __size);
}

void* aligned_alloc(std::size_t __alignment, std::size_t __size) noexcept {
  check("aligned_alloc");
  if (!power_of_two(__alignment)) {
    errno = EINVAL;
    return nullptr;
  }
  return __libc_memalign(__alignment, __size);
}

int posix_memalign(void** __memptr, std::size_t __alignment, std::size_t __size) noexcept {
  check("posix_memalign");
  if (!power_of_two(__alignment) || __alignment % sizeof(void*) != 0) return EINVAL;
  void* p = __libc_memalign(__alignment, __size);
  if (p == nullptr) return ENOMEM;
  *__memptr = p;
  return 0;
}

void* valloc(std::size_t __size) noexcept {
  check("valloc");
  return __libc_valloc(__size);
}

void* pvalloc(std::size_t __size) noexcept {
  check("pvalloc");
  return __libc_pvalloc(__size);
}

}  // extern "C"

#endif
