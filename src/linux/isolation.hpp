// Isolation: what the process gives up once it is initialised
// (upstream-behaviour.md §6, docs/security.md).
//
// Theory of operation
//  * Everything the process will ever need from the filesystem or from its
//    privileges is acquired first: the pid file, pcap and log files,
//    /dev/null, the namespace fds, the tap device, the listening sockets,
//    the netns quit watch (an O_PATH fd on the namespace file's directory,
//    inotify, a timerfd: all keep working without a filesystem).  Anything
//    added later that needs a file (/proc/net/* for `auto` forwarding) must
//    be opened before isolate() too.
//  * isolate() then runs once, before daemonising (upstream's isolate_user
//    and isolate_prefork in one step, in this order):
//      1. identity: --runas, or "nobody" for root in the initial user
//         namespace (plan_identity()).  pasta keeps its capabilities across
//         the uid change (PR_SET_KEEPCAPS), it still needs CAP_SYS_ADMIN;
//      2. user namespace: passt unshares a new one (mapping its uid and gid
//         to 0) so that it holds capabilities only there, which is enough
//         for the next steps and useless outside; pasta enters the target
//         namespace's user namespace (spawn mode: the command's), where
//         its NetnsThread's setns() into the namespace needs CAP_SYS_ADMIN
//         (checked both in the caller's and in the netns's owning user
//         namespace);
//      3. refuses to continue as root (uid 0) in the initial user namespace;
//      4. unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS), plus
//         CLONE_NEWPID when daemonising (the daemon becomes PID 1 of a new
//         PID namespace, so it can see and signal no other process; pasta
//         in the foreground does not: its NetnsThread could not be created,
//         a thread cannot be put into a PID namespace its process is not in);
//      5. an empty root: every mount made private and unbindable, an empty
//         read-only tmpfs (nodev, noexec, nosuid, 2 inodes) mounted on /tmp,
//         pivot_root() into it, the old root detached.  Where pivot_root is
//         refused (the initramfs rootfs cannot be pivoted), chroot() into
//         the same tmpfs; where mounting is refused (no user namespaces,
//         container seccomp profiles), a warning says the filesystem stays
//         visible.  The seccomp filter never allows open(), so the
//         filesystem is out of reach either way once running;
//      6. capabilities: the bounding set and the ambient set are cleared,
//         inheritable emptied, effective = permitted = kept_caps(mode)
//         (passt: none; pasta: CAP_SYS_ADMIN and CAP_NET_BIND_SERVICE, in
//         the user namespace the process is in by then, for lock_down()).
//         lock_down() (seccomp.hpp) then starts pasta's NetnsThread
//         (sandbox_netns.hpp: CAP_SYS_ADMIN for its one setns(), then
//         CAP_NET_BIND_SERVICE alone for low ports inside the namespace)
//         and drops the main thread's last ones: CapEff 0 in both modes.
//    Failures of steps 2, 4 and 5 are warnings (the process still runs,
//    less isolated, and says so); failures of 1, 3 and 6 are errors.
//  * After daemonising (in the daemon, or in the foreground process),
//    seccomp.hpp's lock_down() finishes: PR_SET_DUMPABLE 0,
//    PR_SET_NO_NEW_PRIVS, the seccomp filter, the allocation guard.
//  * Syscalls: setgroups setgid setuid prctl capget capset setns unshare
//    openat write (uid_map/gid_map/setgroups) mount chdir pivot_root chroot
//    umount2, /proc/self/ns/user and /proc/self/uid_map reads: all before
//    the seccomp filter.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "linux/privileges.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::os {

enum class SandboxMode : u8 { passt, pasta };

// A set of capabilities, bit N = capability number N (CAP_SYS_ADMIN...).
using CapMask = u64;
constexpr CapMask cap_bit(int cap) noexcept { return CapMask{1} << static_cast<unsigned>(cap); }

// What each mode keeps for the rest of its life (see above; docs/security.md).
CapMask kept_caps(SandboxMode mode) noexcept;

struct CapState {
  CapMask effective = 0;
  CapMask permitted = 0;
  CapMask inheritable = 0;
  CapMask bounding = 0;
  CapMask ambient = 0;
};
// The calling thread's capability sets (capget and prctl, no /proc needed).
Result<CapState> read_caps() noexcept;
// The highest capability number the kernel knows.
int cap_last() noexcept;
// Sets the calling thread's effective and permitted sets (inheritable
// emptied).  Capabilities are per thread: this never touches other threads.
Status set_thread_caps(CapMask effective, CapMask permitted) noexcept;

// --- Identity --------------------------------------------------------------------
struct IdentityFacts {
  SandboxMode mode = SandboxMode::passt;
  u32 euid = 0;
  bool init_userns = true;            // os::in_init_userns()
  std::optional<UidGid> runas;        // --runas, resolved
  UidGid nobody{65534, 65534};
};
struct IdentityPlan {
  std::optional<UidGid> become;  // setgroups(0) + setgid + setuid, or stay
  bool keep_caps = false;        // pasta: keep permitted capabilities across it
  bool to_nobody = false;        // the default drop of root (the app warns)
};
// --runas wins; else root in the initial user namespace becomes nobody.
// pasta keeps its capabilities across the change (it enters its
// namespace's user namespace afterwards, or needs CAP_SYS_ADMIN where it is).
IdentityPlan plan_identity(const IdentityFacts& f) noexcept;

// --- The isolation step -------------------------------------------------------------
enum class RootMethod : u8 {
  pivot_root,  // pivot_root(), then chroot() if that is refused
  chroot,      // chroot() into the empty tmpfs directly (tests of the fallback)
  none,        // keep the filesystem (tests only)
};

struct IsolationRequest {
  SandboxMode mode = SandboxMode::passt;
  IdentityPlan identity;
  int userns_fd = -1;          // pasta: the namespace's user namespace (not owned)
  bool new_pid_ns = false;     // daemonising next
  RootMethod root = RootMethod::pivot_root;
  const char* mountpoint = "/tmp";  // where the empty tmpfs is mounted first
  bool new_userns = true;      // passt: false only in tests
};

struct IsolationReport {
  bool dropped_identity = false;
  bool new_userns = false;       // passt: unshared its own user namespace
  bool entered_userns = false;   // pasta: entered userns_fd
  bool detached = false;         // mount/IPC/UTS(/PID) namespaces unshared
  bool empty_root = false;       // root is the empty tmpfs
  bool chroot_fallback = false;  // ...reached with chroot() rather than pivot_root()
  CapMask kept = 0;              // effective == permitted at the end
  std::vector<std::string> warnings;  // each step that was refused, and what it means
};

// Steps 1-6 above.  Start-up only (allocates the report).  An Err means the
// process must not go on (identity or capabilities could not be set, or it
// would stay root in the initial user namespace); the warnings are for the
// log.
Result<IsolationReport> isolate(const IsolationRequest& req);

// True if `userns_fd` is the user namespace we are in (fstat vs
// /proc/self/ns/user).
bool in_userns(int userns_fd) noexcept;

}  // namespace passt::os
