#include "linux/seccomp.hpp"

#include <linux/capability.h>
#include <linux/sockios.h>
#include <malloc.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>

#include "linux/alloc_guard.hpp"
#include "linux/os_error.hpp"
#include "linux/sandbox_fdlimit.hpp"
#include "linux/sandbox_netns.hpp"
#include "util/log.hpp"

namespace passt::os {

namespace {

constexpr ArgRule kAny = ArgRule::any;
constexpr ArgRule kEq = ArgRule::equals;
constexpr u8 kSan = kBoth | kSanitizer;

// The allow-list: every syscall the process may make once lock_down() ran,
// and who makes it.  Names are libseccomp's; a name this architecture does
// not have (poll, dup2, epoll_wait on arm64) is skipped.  Keep the "why"
// precise: an entry nobody needs any more should be noticed and removed.
// docs/security.md has a copy of this table (checked by seccomp_test).
constexpr SyscallRule kRules[] = {
    // --- file descriptors -----------------------------------------------------------
    {"read", kBoth, kAny, 0, {}, "",
     "TapFd: frames from the tap (pasta); EventLoop: timerfd expirations; SignalHandler: "
     "signalfd; VhostUser: kick eventfds; NetnsWatch: inotify events, its timerfd; NetnsThread: requests, answers"},
    {"write", kBoth, kAny, 0, {}, "",
     "TapFd: frames to the tap (pasta); VhostUser: call eventfds; DaemonChild::ready(): the "
     "readiness byte; "
     "alloc_guard: its message; NetnsThread: requests, answers"},
    {"writev", kBoth, kAny, 0, {}, "", "log sinks (stderr, log file); PcapWriter records"},
    {"close", kBoth, kAny, 0, {}, "", "every adapter: closed sockets, pipes, a syslog socket"},
    {"fcntl", kBoth, kAny, 0, {}, "",
     "QemuStream: O_NONBLOCK on a new connection; FileSink: O_APPEND off during a cut; "
     "LinuxHostNet: F_SETPIPE_SZ/F_GETPIPE_SZ (splice pipes)"},
    {"dup2", kBoth, kAny, 0, {}, "", "DaemonChild::ready(): stdio onto /dev/null"},
    {"dup3", kBoth, kAny, 0, {}, "", "DaemonChild::ready() where dup2 is dup3 (arm64)"},
    // --- log file size cap (FileSink::cut) ------------------------------------------
    {"fstat", kBoth, kAny, 0, {}, "", "FileSink: size resync before a cut (old glibc)"},
    {"newfstatat", kBoth, kAny, 0, {}, "",
     "FileSink: size resync (glibc's fstat); NetnsWatch: fstatat() of the namespace file "
     "through its directory fd"},
    {"pread64", kBoth, kAny, 0, {}, "",
     "FileSink: reading lines back during a cut; /proc/net/* fds opened before isolation "
     "(pasta `auto` scans)"},
    {"pwrite64", kBoth, kAny, 0, {}, "", "FileSink: the header rewritten after a cut"},
    {"lseek", kBoth, kAny, 0, {}, "", "FileSink: cut; /proc/net/* rescans"},
    {"ftruncate", kBoth, kAny, 0, {}, "", "FileSink: cut"},
    {"fallocate", kBoth, kAny, 0, {}, "", "FileSink: cut with FALLOC_FL_COLLAPSE_RANGE"},
    // --- event loop, time, entropy --------------------------------------------------
    {"epoll_ctl", kBoth, kAny, 0, {}, "", "EventLoop: (un)watching sockets and handlers"},
    {"epoll_wait", kBoth, kAny, 0, {}, "", "EventLoop::run()"},
    {"epoll_pwait", kBoth, kAny, 0, {}, "", "EventLoop::run() where epoll_wait is epoll_pwait"},
    {"timerfd_settime", kBoth, kAny, 0, {}, "",
     "EventLoop: the next deadline; NetnsWatch: its periodic check"},
    {"clock_gettime", kBoth, kAny, 0, {}, "",
     "MonotonicClock, log time stamps, pcap records (vDSO: a syscall only without a vDSO "
     "clock source)"},
    {"getrandom", kBoth, kAny, 0, {}, "", "GetrandomEntropy (TCP initial sequence numbers...)"},
    {"poll", kBoth, kAny, 0, {}, "",
     "QemuStream: finishing a partly sent frame; VhostUser: a message cut short"},
    {"ppoll", kBoth, kAny, 0, {}, "", "QemuStream: as poll (arm64)"},
    // --- sockets ---------------------------------------------------------------------
    {"socket", kBoth, kEq, 0, {AF_UNIX, AF_INET, AF_INET6}, "domain: AF_UNIX, AF_INET, AF_INET6",
     "LinuxHostNet: TCP, UDP and ICMP ping sockets; SyslogSink: reconnecting"},
    {"connect", kBoth, kAny, 0, {}, "",
     "LinuxHostNet: outbound TCP, connected UDP; SyslogSink: reconnecting"},
    {"bind", kBoth, kAny, 0, {}, "",
     "LinuxHostNet: listeners (-t/-u/-T/-U, `auto`), UDP flow sockets"},
    {"listen", kBoth, kAny, 0, {}, "", "LinuxHostNet: TCP listeners (`auto` rebinding)"},
    {"accept", kBoth, kAny, 0, {}, "", "accept() where glibc does not use accept4"},
    {"accept4", kBoth, kAny, 0, {}, "",
     "LinuxHostNet: inbound TCP; QemuStream, VhostUser: a new guest connection"},
    {"getsockname", kBoth, kAny, 0, {}, "", "LinuxHostNet::local_addr (TCP/UDP flows)"},
    {"getsockopt", kBoth, kAny, 0, {}, "",
     "LinuxHostNet: SO_ERROR, TCP_INFO, SO_DOMAIN, SO_PEEK_OFF; QemuStream: SO_PEERCRED"},
    {"setsockopt", kBoth, kAny, 0, {}, "",
     "LinuxHostNet: buffers, TCP_*, IP(V6)_RECVERR, SO_PEEK_OFF, SO_LINGER..."},
    {"shutdown", kBoth, kAny, 0, {}, "", "LinuxHostNet: TCP half-close; QemuStream: a reset"},
    {"sendmsg", kBoth, kAny, 0, {}, "",
     "QemuStream: frames; LinuxHostNet: TCP data, datagrams; SyslogSink: a line"},
    {"sendto", kBoth, kAny, 0, {}, "",
     "send() (glibc's is sendto): LinuxHostNet datagrams, VhostUser replies"},
    {"sendmmsg", kBoth, kAny, 0, {}, "", "LinuxHostNet::send_batch (UDP, ICMP)"},
    {"recvmsg", kBoth, kAny, 0, {}, "",
     "LinuxHostNet: TCP recv and MSG_PEEK, MSG_ERRQUEUE drains; VhostUser: messages with "
     "descriptors"},
    {"recvfrom", kBoth, kAny, 0, {}, "",
     "recv() (glibc's is recvfrom): QemuStream frames, VhostUser messages, "
     "LinuxHostNet::discard (MSG_TRUNC)"},
    {"recvmmsg", kBoth, kAny, 0, {}, "", "LinuxHostNet::recv_batch (UDP, ICMP)"},
    {"ioctl", kBoth, kEq, 1, {SIOCOUTQ}, "request: SIOCOUTQ",
     "LinuxHostNet::send_queue (TCP unacknowledged bytes)"},
    // --- pasta: splice (the guest namespace is reached through NetnsThread) ----------
    {"pipe2", kPasta | kSanitizerToo, kAny, 0, {}, "",
     "LinuxHostNet::pipe (splice between sockets); sanitizer builds: UBSan's vptr check "
     "probes a vtable through a pipe"},
    {"splice", kPasta, kAny, 0, {}, "", "LinuxHostNet::splice (loopback connections)"},
    // --- processes and signals ----------------------------------------------------------
    {"wait4", kBoth, kAny, 0, {}, "",
     "SignalHandler: reaping on SIGCHLD (waitpid): pasta's command, or any child an "
     "external SIGCHLD makes us look for"},
    {"rt_sigprocmask", kBoth, kAny, 0, {}, "", "raise() and abort()"},
    {"getpid", kBoth, kAny, 0, {}, "", "raise() and abort()"},
    {"gettid", kBoth, kAny, 0, {}, "", "raise() and abort()"},
    {"tgkill", kBoth, ArgRule::self_pid, 0, {}, "tgid: our own",
     "raise(): SignalHandler re-raising SIGCHLD; abort()"},
    {"rt_sigreturn", kBoth, kAny, 0, {}, "", "returning from a signal handler"},
    {"restart_syscall", kBoth, kAny, 0, {}, "", "poll() restarted after SIGSTOP/SIGCONT"},
    {"exit_group", kBoth, kAny, 0, {}, "", "_exit(): the app's leave(), abort()"},
    // --- passt --vhost-user: the guest's memory ------------------------------------------
    {"mmap", kPasst | kVhostUser | kSanitizerToo, kAny, 0, {}, "",
     "VhostUser: SET_MEM_TABLE maps the guest's memory; sanitizer runtimes: allocator, "
     "shadow, reports"},
    {"munmap", kPasst | kVhostUser | kSanitizerToo, kAny, 0, {}, "",
     "VhostUser: a new memory table replaces the old; sanitizer runtimes"},
    // --- sanitizer builds only -----------------------------------------------------------
    {"mprotect", kSan, kAny, 0, {}, "", "sanitizer runtimes"},
    {"madvise", kSan, kAny, 0, {}, "", "sanitizer runtimes: quarantine recycling"},
    {"mremap", kSan, kAny, 0, {}, "", "sanitizer runtimes"},
    {"brk", kSan, kAny, 0, {}, "", "sanitizer runtimes"},
    {"futex", kSan, kAny, 0, {}, "", "sanitizer runtimes: internal locks"},
    {"sched_yield", kSan, kAny, 0, {}, "", "sanitizer runtimes: spin locks"},
    {"nanosleep", kSan, kAny, 0, {}, "", "sanitizer runtimes: spin locks"},
    {"clock_nanosleep", kSan, kAny, 0, {}, "", "sanitizer runtimes: spin locks"},
    {"sigaltstack", kSan, kAny, 0, {}, "", "sanitizer runtimes: SEGV handler stack"},
    {"rt_sigaction", kSan, kAny, 0, {}, "", "sanitizer runtimes: handlers in reports"},
    {"prctl", kSan, kAny, 0, {}, "", "sanitizer runtimes"},
    {"getrlimit", kSan, kAny, 0, {}, "", "sanitizer runtimes: stack bounds"},
    {"prlimit64", kSan, kAny, 0, {}, "", "sanitizer runtimes: stack bounds"},
    {"open", kSan, kAny, 0, {}, "", "sanitizer reports: /proc/self/maps (absent after isolation)"},
    {"openat", kSan, kAny, 0, {}, "", "sanitizer reports: /proc/self/maps"},
    {"readlink", kSan, kAny, 0, {}, "", "sanitizer reports: /proc/self/exe"},
    {"readlinkat", kSan, kAny, 0, {}, "", "sanitizer reports: /proc/self/exe"},
    {"getdents64", kSan, kAny, 0, {}, "", "sanitizer reports"},
    {"uname", kSan, kAny, 0, {}, "", "sanitizer reports"},
    {"pipe", kSan, kAny, 0, {}, "", "UBSan's vptr check where glibc's pipe() is not pipe2"},
};

// The main thread's stack is a grows-down mapping: the kernel extends it
// when a deeper call path than any before touches the page below it, and
// that changes /proc/PID/maps after lock_down() without any syscall (the
// hostile-input and limits tests saw it grow by 32 KiB in a Debug build).
// Touching the lowest byte of a kStackReserve frame extends the mapping once,
// here; only that page becomes resident, the rest is faulted in on use
// inside a mapping that no longer changes.
constexpr std::size_t kStackReserve = std::size_t{256} * 1024;

[[gnu::noinline]] void grow_stack() noexcept {
  u8 reserve[kStackReserve];
  volatile u8* touch = reserve;
  touch[0] = 0;  // the lowest address: the stack grows down
  touch[kStackReserve - 1] = 0;
}

bool for_mode(u8 modes, SandboxMode mode) noexcept {
  return (modes & (mode == SandboxMode::passt ? kPasst : kPasta)) != 0;
}

scmp_arg_cmp arg_eq(u8 arg, u64 v) noexcept {
  scmp_arg_cmp c{};
  c.arg = arg;
  c.op = SCMP_CMP_EQ;
  c.datum_a = v;
  c.datum_b = 0;
  return c;
}

}  // namespace

std::span<const SyscallRule> seccomp_rules() noexcept { return kRules; }

bool rule_applies(const SyscallRule& r, SandboxMode mode, bool sanitizer, bool vhost_user) noexcept {
  if ((r.modes & kSanitizerToo) != 0 && sanitizer) return true;
  if ((r.modes & kVhostUser) != 0 && !vhost_user) return false;
  if ((r.modes & kSanitizer) != 0 && !sanitizer) return false;
  return for_mode(r.modes, mode);
}

namespace {
// A table cell: '|' escaped.
void cell(std::string& s, const char* text) {
  for (const char* c = text; *c != '\0'; c++) {
    if (*c == '|') s += '\\';
    s += *c;
  }
}
}  // namespace

std::string seccomp_table_markdown() {
  std::string s = "| syscall | passt | pasta | narrowed to | needed by |\n|---|---|---|---|---|\n";
  for (const SyscallRule& r : kRules) {
    const bool san = (r.modes & kSanitizer) != 0;
    const char* other = (r.modes & kSanitizerToo) != 0 ? "san" : "";
    s += "| `";
    s += r.name;
    s += "` | ";
    const bool vu = (r.modes & kVhostUser) != 0;
    s += san ? "san" : vu ? "vu" : (r.modes & kPasst) != 0 ? "x" : other;
    s += " | ";
    s += san ? "san" : (r.modes & kPasta) != 0 ? "x" : other;
    s += " | ";
    cell(s, r.narrowed);
    s += " | ";
    cell(s, r.why);
    s += " |\n";
  }
  return s;
}

std::string seccomp_list_text(SandboxMode mode, bool sanitizer, bool vhost_user) {
  std::string s;
  char line[64];
  for (const SyscallRule& r : kRules) {
    if (!rule_applies(r, mode, sanitizer, vhost_user)) continue;
    std::snprintf(line, sizeof(line), "%-16s ", r.name);
    s += line;
    if (r.narrowed[0] != '\0') {
      s += "[";
      s += r.narrowed;
      s += "] ";
    }
    s += r.why;
    s += "\n";
  }
  return s;
}

Status install_seccomp(const SeccompOptions& opt) noexcept {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
  if (ctx == nullptr) ctx = seccomp_init(SCMP_ACT_KILL);  // kernel < 4.14
  if (ctx == nullptr) return Err::not_supported;
  // A foreign ABI (x32, i386 via int 0x80) never matches our numbers.
  (void)seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  // A binary tree over syscall numbers rather than a linear scan.
  (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  // Every thread gets the filter (and no_new_privs): pasta's NetnsThread.
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1); rc < 0) {
    LOG_ERR("seccomp: no thread synchronisation: %s", err_name(err_from_errno(-rc)));
    return err_from_errno(-rc);
  }
  const u64 self = static_cast<u64>(::getpid());
  for (const SyscallRule& r : kRules) {
    if (!rule_applies(r, opt.mode, opt.sanitizer, opt.vhost_user)) continue;
    const int nr = seccomp_syscall_resolve_name(r.name);
    if (nr == __NR_SCMP_ERROR) continue;
    int rc = 0;
    switch (r.rule) {
      case ArgRule::any:
        rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 0, nullptr);
        break;
      case ArgRule::self_pid: {
        scmp_arg_cmp c = arg_eq(r.arg, self);
        rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &c);
        break;
      }
      case ArgRule::equals:
        for (u64 v : r.values) {
          if (v == 0) break;
          scmp_arg_cmp c = arg_eq(r.arg, v);
          rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &c);
          if (rc < 0) break;
        }
        break;
    }
    if (rc < 0) {
      LOG_ERR("seccomp: can't add %s: %s", r.name, err_name(err_from_errno(-rc)));
      return err_from_errno(-rc);
    }
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return last_err();
  const int rc = seccomp_load(ctx);
  // ctx is deliberately never released: see seccomp.hpp.
  if (rc < 0) return err_from_errno(-rc);
  return {};
}

Status lock_down(SandboxMode mode, int netns_fd, bool vhost_user) noexcept {
  if (mode == SandboxMode::pasta && netns_fd >= 0) {
    // The namespace thread keeps CAP_NET_BIND_SERVICE (if we have it); the
    // main thread keeps nothing (sandbox_netns.hpp).
    auto caps = read_caps();
    if (!caps) return caps.err();
    NetnsThread& t = netns_thread();
    if (Status s = t.start(netns_fd, caps->permitted & cap_bit(CAP_NET_BIND_SERVICE)); !s) {
      LOG_ERR("Couldn't start the namespace thread: %s", err_name(s.err()));
      return s;
    }
    set_netns_executor(&t);
  }
  // A descriptor in reserve for listeners at RLIMIT_NOFILE (sandbox_fdlimit.hpp).
  if (!fd_reserve_init()) LOG_WARN("No descriptor in reserve: listeners at the fd limit may spin");
  if (Status s = set_thread_caps(0, 0); !s) {
    LOG_ERR("Couldn't drop the last capabilities: %s", err_name(s.err()));
    return s;
  }
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return last_err();
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return last_err();
  // The stack's mapping reaches its final size now (grow_stack()).
  grow_stack();
  // free() must never give memory back with brk (forbidden from now on).
  (void)::mallopt(M_TRIM_THRESHOLD, INT_MAX);
  SeccompOptions o;
  o.mode = mode;
  o.vhost_user = vhost_user;
  if (Status s = install_seccomp(o); !s) {
    LOG_ERR("Couldn't install the seccomp filter: %s", err_name(s.err()));
    return s;
  }
  alloc_guard_seal();
  return {};
}

}  // namespace passt::os
