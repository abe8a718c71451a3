// pasta's namespaces: spawning a command in new ones, joining existing ones,
// and configuring the network inside (upstream-behaviour.md §1.9, §3.10).
//
// Theory of operation
// -------------------
// Spawn mode (`pasta [OPTIONS] [COMMAND [ARG...]]`).  pasta itself stays in
// its network namespace (it makes the host-side sockets there) and keeps
// fds on the child's network and user namespaces.  The sequence:
//
//   parent                                   child (clone)
//   ------                                   -------------
//   prepare argv, hostname, map text
//   pipe2 go[], pipe2 status[] (CLOEXEC)
//   clone(NEWUSER|NEWNET|NEWNS|NEWIPC|
//         NEWUTS|NEWPID|SIGCHLD) ----------> (uid 0 unmapped, full caps in
//                                             its new user namespace)
//                                            read go[] ... blocks
//   write /proc/C/uid_map   "0 <uid> 1"
//   write /proc/C/setgroups "deny"
//   write /proc/C/gid_map   "0 <gid> 1"
//   open /proc/C/ns/net, /proc/C/ns/user
//   pidfd_open(C)
//   write go[] 'M' ------------------------> mount / rec-slave, mount proc
//                                            on /proc (new pid ns), write
//                                            ping_group_range "0 0" (needs
//                                            gid 0 mapped: after the maps),
//                                            sethostname("pasta-<host>")
//   read status[] <------------------------- write status[] "ready"
//   ... spawn_ns_child() returns; the app     read go[] ... blocks
//   creates the tap, configures the ns ...
//   release(): write go[] 'G' -------------> reset signal mask and SIGPIPE,
//                                            execvp(cmd) or $SHELL as "-sh"
//   read status[]: EOF = exec succeeded  <-- (an exec error is written)
//
// Why the parent writes the maps: the child cannot do anything needing a
// mapped uid/gid (ping_group_range) until they exist, and "0 <euid> 1" is the
// one map an unprivileged writer may install in a child namespace (with
// setgroups denied first for the gid map).  It works the same as root in the
// init user namespace, as root in a user namespace of its own (unshare -Ur),
// and unprivileged (then the caller has no CAP_SYS_ADMIN over its own user
// namespace, which setns() into the child's netns requires: it must first
// enter_userns(userns_fd()), as upstream pasta lives inside the userns too).
// If the parent dies before release(), the child reads EOF and exits 1.
// The child is PID 1 of its PID namespace: when it exits, the kernel kills
// the rest of that namespace.  Setup failures in the child exit with status
// 1 (upstream die()); their stage and errno come back on the status pipe.
//
// Join mode: a PID (/proc/PID/ns/net, and /proc/PID/ns/user unless --userns
// or --netns-only), or --netns PATH|NAME (a NAME without '/' is
// /run/netns/NAME; without --userns it implies --netns-only).  The fds are
// checked with NS_GET_NSTYPE to really be namespaces of the right kind.
//
// --config-net (configure_ns_net): lo up; MAC read or set; with config_net:
// MTU, link up (with IFF_NOARP while IPv6 is set up, so the kernel does no
// DAD for the link-local address), IPv4 addresses (copy or set one) and
// routes (copy or default), IPv6 link-local read back and marked NODAD,
// NOARP cleared, IPv6 addresses and routes.  The order is upstream's.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "linux/netlink.hpp"
#include "util/addr.hpp"
#include "util/result.hpp"

namespace passt::os {

// --- Spawn -----------------------------------------------------------------------------

struct SpawnOptions {
  std::vector<std::string> command;  // empty: a login shell
  std::string shell;                 // login shell; empty: $SHELL, else /bin/sh
  std::optional<u32> uid;            // outer uid mapped to 0; default: geteuid()
  std::optional<u32> gid;            // outer gid mapped to 0; default: getegid()
  std::string host_hostname;         // empty: gethostname()
  bool mount_proc = true;
};

// What failed in the child, from the status pipe.
enum class SpawnStage : u8 { none = 0, sync, mount, ping_range, hostname, exec };
const char* spawn_stage_name(SpawnStage s) noexcept;

class NsChild {
 public:
  NsChild() noexcept = default;
  NsChild(NsChild&& o) noexcept;
  NsChild& operator=(NsChild&& o) noexcept;
  NsChild(const NsChild&) = delete;
  NsChild& operator=(const NsChild&) = delete;
  // Not released: closes the go pipe (the child exits) and reaps it.
  // Released: closes our fds only; the caller waits for the child.
  ~NsChild();

  int pid() const noexcept { return pid_; }
  int pidfd() const noexcept { return pidfd_; }  // readable once the child exits
  int netns_fd() const noexcept { return netns_fd_; }
  int userns_fd() const noexcept { return userns_fd_; }

  // Lets the child exec.  Returns once the exec happened (ok) or failed
  // (the error, with failed_stage() = exec; the child exits 1).
  Status release();
  SpawnStage failed_stage() const noexcept { return stage_; }
  int failed_errno() const noexcept { return errno_; }

  // The child's exit as a process exit code: its status, or 128 + signal.
  // try_wait(): std::nullopt while it runs.  Use these, or let
  // SignalHandler::watch_child(pid()) reap it (daemon.hpp), not both.
  Result<std::optional<int>> try_wait();
  Result<int> wait();
  Status kill(int sig) noexcept;

 private:
  friend Result<NsChild> spawn_ns_child(const SpawnOptions& opt);
  void reset() noexcept;
  Result<std::optional<int>> wait_impl(bool block);
  Status read_status();

  int pid_ = -1;
  int pidfd_ = -1;
  int netns_fd_ = -1;
  int userns_fd_ = -1;
  int go_w_ = -1;      // our end of the go pipe
  int status_r_ = -1;  // our end of the status pipe
  bool released_ = false;
  bool reaped_ = false;
  SpawnStage stage_ = SpawnStage::none;
  int errno_ = 0;
};

// Creates the child and its namespaces, writes the maps, opens the
// namespace fds and a pidfd, and waits until the child's own setup (proc,
// ping_group_range, hostname) is done.  On a child setup failure the error
// is returned (the child is reaped).
Result<NsChild> spawn_ns_child(const SpawnOptions& opt);

// "pasta-" + host, truncated to 64 bytes (HOST_NAME_MAX).
std::string pasta_hostname(std::string_view host);

// setns(fd, CLONE_NEWUSER): the caller must be single-threaded.
Status enter_userns(int userns_fd) noexcept;

// Start-up shortcut (docs/performance.md, "Start-up and memory"): the tap
// and the namespace's netlink socket are made by the calling thread itself,
// inside the target netns, instead of by a cloned NetnsRunner child each.
// Every clone-and-wait hands the CPU away and has to wait its turn back,
// which on a busy machine costs more than the whole configuration.
// Entering is only attempted when coming back is certain: the netns we are
// in is owned by the user namespace we are in, and we hold CAP_SYS_ADMIN
// there (setns(2) asks for exactly that).  Otherwise, as after joining a
// container's user namespace, returns a closed visit and the caller uses
// the NetnsRunner as before.
class NetnsVisit {
 public:
  NetnsVisit() = default;
  NetnsVisit(const NetnsVisit&) = delete;
  NetnsVisit& operator=(const NetnsVisit&) = delete;
  ~NetnsVisit();
  // Enters target_fd's netns if the way back is certain.  Returns false
  // (nothing changed) if not.
  bool enter(int target_fd) noexcept;
  bool inside() const noexcept { return home_fd_ >= 0; }
  // Back to the netns we came from.  Fails only if the kernel refuses
  // (the check in enter() rules that out); the caller must then stop.
  Status leave() noexcept;

 private:
  int home_fd_ = -1;
};

// --- Join --------------------------------------------------------------------------------

struct JoinRequest {
  long pid = 0;             // > 0: PID mode
  std::string netns;        // --netns PATH|NAME (when pid == 0)
  std::string userns;       // --userns PATH; empty: PID's, or none
  bool netns_only = false;  // --netns-only
};

// Owns the fds.
class NsHandles {
 public:
  NsHandles() noexcept = default;
  NsHandles(NsHandles&& o) noexcept;
  NsHandles& operator=(NsHandles&& o) noexcept;
  NsHandles(const NsHandles&) = delete;
  NsHandles& operator=(const NsHandles&) = delete;
  ~NsHandles();

  int netns_fd = -1;
  int userns_fd = -1;        // -1 with --netns-only (or --netns without --userns)
  std::string netns_path;    // what was opened (for the quit watch)
  std::string userns_path;
  long pid = 0;              // PID mode: watch this process

 private:
  void close_all() noexcept;
};

// A NAME without '/' means /run/netns/NAME.
std::string netns_path_for(std::string_view path_or_name);

// Err::invalid if a file is not a namespace of the expected type.
Result<NsHandles> open_namespaces(const JoinRequest& req);

// --- Network configuration inside the namespace -----------------------------------------

struct NsNetFamily {
  bool enabled = false;
  u32 template_ifindex = 0;   // host interface to copy from
  bool copy_addrs = true;     // else set `addr` (if any)
  std::optional<InAny> addr;  // IPv4 v4-mapped
  u8 prefix_len = 0;          // for `addr` (IPv6: upstream uses 64)
  bool copy_routes = true;    // else a default route via `gateway` (if any)
  std::optional<InAny> gateway;
};

struct NsNetConfig {
  u32 ifindex = 0;             // the tap, in the namespace
  bool config_net = false;     // --config-net
  u32 mtu = 0;                 // 0: leave the kernel's
  std::optional<MacAddr> mac;  // --ns-mac-addr; nullopt: read the kernel's
  NsNetFamily v4;
  NsNetFamily v6;
};

struct NsNetResult {
  MacAddr mac;                  // the guest's MAC
  std::optional<Ipv6Addr> ll;   // the tap's link-local address (addr_ll_seen)
  DupStats addrs4, routes4, addrs6, routes6;
};

// `host`: netlink socket in the template's namespace (copies read from it);
// `ns`: in the pasta namespace (every write goes there).
Result<NsNetResult> configure_ns_net(Netlink& host, Netlink& ns, const NsNetConfig& cfg);

}  // namespace passt::os
