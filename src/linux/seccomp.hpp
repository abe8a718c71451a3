// The seccomp filter and the last steps of isolation (upstream's
// isolate_postfork; docs/security.md).
//
// Theory of operation
//  * One allow-list per mode, kept in one table (seccomp.cpp, kRules) with
//    the code path that needs each entry.  It lists what the process does
//    once it runs the event loop, and what the protocol paths being added
//    will do (TCP, UDP, ICMP ping sockets, splice): adding those must not
//    need a filter change.  Start-up syscalls (open, mount, netlink set-up,
//    clone of the spawned command...) are not in it: the filter is installed
//    after daemonising, when they are done.
//  * Default action: kill the process (SECCOMP_RET_KILL_PROCESS).  Kernels
//    before 4.14 only have the thread-killing action: there pasta's
//    NetnsThread would die alone and the next namespace call would wait
//    forever (unsupported; 4.14 is from 2017).  A foreign
//    architecture (x32 on x86_64, i386 through int 0x80) is killed too.
//  * Some entries are narrowed by argument: socket() to AF_UNIX (syslog
//    reconnect), AF_INET and AF_INET6; ioctl() to SIOCOUTQ; tgkill() to our
//    own process (raise(), abort()).  No clone(), setns(), unshare(),
//    mount() or capset(): pasta reaches its namespace through a thread that
//    joined it before the filter (sandbox_netns.hpp), and no capability is
//    left in the main thread.
//  * Loaded with TSYNC: every thread of the process (pasta's NetnsThread)
//    gets the same filter and no_new_privs.
//  * Memory: no brk, mmap, mremap, munmap or mprotect (passt --vhost-user
//    alone may mmap and munmap: the guest's memory, mapped when the front
//    end sends it, at any time).  Any allocation that
//    reaches the kernel kills the process.  That alone does not catch a
//    small malloc() served from memory the heap already has, so lock_down()
//    also seals alloc_guard.hpp: in builds without a sanitizer every
//    allocation after it aborts (docs/security.md, "No allocation").
//  * Sanitizer builds (ASan, UBSan, libFuzzer instrumentation) add what the
//    runtimes need to run and to report (mmap family, signals, futex...):
//    kSanitizerBuild, kRules entries marked sanitizer-only.  UBSan's vptr
//    check probes a vtable the first time it meets a (dynamic type, static
//    type) pair by writing it into a pipe (the runtime's
//    IsAccessibleMemoryRange): pipe2, pasta's anyway, is passt's too there.
//  * lock_down() order: pasta's NetnsThread, the main thread's last
//    capabilities dropped, PR_SET_DUMPABLE 0 (no ptrace by our own user, no
//    core, /proc/PID/* owned by root), PR_SET_NO_NEW_PRIVS, mallopt() so that
//    free() never trims the heap (brk), the filter, the allocation guard.
//    The libseccomp context is never released: freeing it could trim the
//    heap, which the filter forbids.
//  * After lock_down() the process must leave with _exit(): destructors would
//    free and unmap (munmap is not allowed).
#pragma once

#include <span>
#include <string>

#include "linux/isolation.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::os {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(undefined_behavior_sanitizer) || __has_feature(coverage_sanitizer)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif
#else
inline constexpr bool kSanitizerBuild = false;
#endif

// Which modes an entry is for.
enum : u8 {
  kPasst = 1,
  kPasta = 2,
  kBoth = kPasst | kPasta,
  kSanitizer = 4,  // only in sanitizer builds (with kBoth)
  kSanitizerToo = 8,  // the modes given, and every mode in sanitizer builds
  kVhostUser = 16,    // passt --vhost-user only (guest memory: mmap, munmap)
};

// How the arguments are narrowed.
enum class ArgRule : u8 {
  any,       // every call allowed
  equals,    // argument `arg` is one of `values`
  self_pid,  // argument `arg` is our own pid (tgkill)
};

struct SyscallRule {
  const char* name;  // libseccomp's name; absent on this architecture: skipped
  u8 modes;
  ArgRule rule;
  u8 arg;            // argument index for equals/self_pid
  u64 values[4];     // equals: allowed values, 0-terminated unless all four used
  const char* narrowed;  // the narrowing in words ("" for any)
  const char* why;   // the code path that needs it
};

// The whole table (every mode, sanitizer entries included).
std::span<const SyscallRule> seccomp_rules() noexcept;

// Whether `r` is in the filter for `mode` in this build.
bool rule_applies(const SyscallRule& r, SandboxMode mode, bool sanitizer = kSanitizerBuild,
                  bool vhost_user = false) noexcept;

// The whole table in Markdown (docs/security.md keeps a copy, checked by a
// unit test), or one mode's allow-list, one "name [narrowing] why" line per
// entry.
std::string seccomp_table_markdown();
std::string seccomp_list_text(SandboxMode mode, bool sanitizer = kSanitizerBuild,
                              bool vhost_user = false);

struct SeccompOptions {
  SandboxMode mode = SandboxMode::passt;
  bool sanitizer = kSanitizerBuild;  // add the sanitizer-only entries
  bool vhost_user = false;           // add the kVhostUser entries (passt --vhost-user)
};

// Builds and loads the filter (sets PR_SET_NO_NEW_PRIVS first).  Start-up
// only: allocates.
Status install_seccomp(const SeccompOptions& opt) noexcept;

// Isolation after daemonising, in the process that runs the loop: pasta
// (with its namespace's `netns_fd`) starts its NetnsThread
// (sandbox_netns.hpp) and routes NetnsRunner calls there; a descriptor is
// put in reserve for listeners at the fd limit (sandbox_fdlimit.hpp); the calling
// thread drops every capability; PR_SET_DUMPABLE 0, PR_SET_NO_NEW_PRIVS,
// the filter (all threads), then alloc_guard_seal().  Logs what failed.
Status lock_down(SandboxMode mode, int netns_fd = -1, bool vhost_user = false) noexcept;

}  // namespace passt::os
