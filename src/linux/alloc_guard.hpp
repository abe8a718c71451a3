// No heap allocation after initialisation, enforced in the real binary.
//
// Theory of operation
//  * The seccomp filter has no brk/mmap/mremap: an allocation that needs new
//    memory from the kernel kills the process.  glibc serves small requests
//    from memory its heap already holds (free chunks, the top chunk) without
//    any syscall, so the filter alone misses them (seccomp_test shows it).
//  * This object replaces the C allocator's entry points (malloc, calloc,
//    realloc, reallocarray, free, memalign, aligned_alloc, posix_memalign,
//    valloc, pvalloc) with thin forwarders to glibc's own implementation
//    (__libc_malloc...).  glibc documents this replacement: it routes its own
//    internal allocations through the replaced symbols, and operator new
//    calls malloc(), so every heap allocation of the process passes here.
//  * Before alloc_guard_seal() they only forward (and count).  After it,
//    any allocation writes one line to stderr (fd 2: the terminal in the
//    foreground, /dev/null once daemonised) and abort()s: SIGABRT, which the
//    launcher reports as exit status 134 when it happens before readiness.
//    free() stays allowed (it never asks for memory).
//  * Linked in only when referenced (alloc_guard_seal() is, by lock_down()),
//    and only in builds without a sanitizer: ASan and friends replace
//    malloc themselves (kAllocGuard is false there; seal() is a no-op).
//  * Cost: one predictable branch per allocation; nothing on the data path
//    allocates anyway.
#pragma once

#include "util/types.hpp"

namespace passt::os {

// 1 where this file replaces malloc (no sanitizer owns it).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PASST_ALLOC_GUARD 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define PASST_ALLOC_GUARD 0
#else
#define PASST_ALLOC_GUARD 1
#endif
#else
#define PASST_ALLOC_GUARD 1
#endif
inline constexpr bool kAllocGuard = PASST_ALLOC_GUARD != 0;

// From now on every allocation aborts the process.  Irreversible.
void alloc_guard_seal() noexcept;
bool alloc_guard_sealed() noexcept;

// Allocation calls seen so far (all entry points, sealed or not); 0 in
// sanitizer builds.
u64 alloc_guard_count() noexcept;

}  // namespace passt::os
