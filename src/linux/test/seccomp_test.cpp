#include "linux/seccomp.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sockios.h>
#include <malloc.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "linux/alloc_guard.hpp"
#include "linux/netns.hpp"
#include "linux/sandbox_netns.hpp"
#include "linux/test/sandbox_child.hpp"

namespace passt::os {
namespace {

using test::ChildOutcome;
using test::in_child;
using test::Say;

// Keeps the compiler from eliding an allocation whose result is unused.
void escape(void* p) { asm volatile("" : : "g"(p) : "memory"); }

std::set<std::string> names(SandboxMode mode, bool sanitizer) {
  std::set<std::string> s;
  for (const SyscallRule& r : seccomp_rules())
    if (rule_applies(r, mode, sanitizer)) s.insert(r.name);
  return s;
}

TEST(SeccompTable, EveryEntryResolvesAndSaysWhy) {
  std::set<std::string> seen;
  for (const SyscallRule& r : seccomp_rules()) {
    EXPECT_TRUE(seen.insert(r.name).second) << r.name << " listed twice";
    EXPECT_GT(std::strlen(r.why), 10u) << r.name;
    EXPECT_EQ(r.rule == ArgRule::any, r.narrowed[0] == '\0') << r.name;
#if defined(__x86_64__)
    EXPECT_NE(seccomp_syscall_resolve_name(r.name), __NR_SCMP_ERROR) << r.name;
#endif
  }
}

TEST(SeccompTable, NoMemoryOrProcessControlOutsideSanitizerBuilds) {
  for (SandboxMode m : {SandboxMode::passt, SandboxMode::pasta}) {
    auto s = names(m, false);
    for (const char* n : {"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "open",
                          "openat", "openat2", "execve", "execveat", "fork", "vfork", "clone3",
                          "kill", "ptrace", "mount", "umount2", "unshare", "pivot_root", "chroot",
                          "prctl", "capset", "setuid", "setresuid", "bpf", "memfd_create",
                          "process_vm_writev", "futex", "rt_sigaction", "clone", "setns",
                          "exit"}) {
      EXPECT_EQ(s.count(n), 0u) << n << " must not be allowed";
    }
  }
  auto passt = names(SandboxMode::passt, false);
  for (const char* n : {"splice", "pipe2"}) EXPECT_EQ(passt.count(n), 0u) << n << " is pasta's only";
}

TEST(SeccompTable, PastaExtendsPasstAndSanitizerBuildsAddTheirOwn) {
  auto passt = names(SandboxMode::passt, false);
  auto pasta = names(SandboxMode::pasta, false);
  for (const std::string& n : passt) EXPECT_EQ(pasta.count(n), 1u) << n;
  EXPECT_EQ(pasta.size(), passt.size() + 2);  // pipe2 splice
  auto san = names(SandboxMode::passt, true);
  EXPECT_EQ(san.count("mmap"), 1u);
  EXPECT_GT(san.size(), passt.size());
}

// The allow-list, printed (run with --gtest_filter=SeccompTable.Print).
TEST(SeccompTable, Print) {
  for (SandboxMode m : {SandboxMode::passt, SandboxMode::pasta}) {
    std::printf("--- %s (%zu entries%s) ---\n%s", m == SandboxMode::passt ? "passt" : "pasta",
                names(m, kSanitizerBuild).size(), kSanitizerBuild ? ", sanitizer build" : "",
                seccomp_list_text(m).c_str());
  }
}

// docs/security.md carries the table: it must be this one.
TEST(SeccompTable, DocumentedInSecurityMd) {
  std::string src = __FILE__;
  const std::string tail = "src/linux/test/seccomp_test.cpp";
  ASSERT_GE(src.size(), tail.size());
  std::ifstream f(src.substr(0, src.size() - tail.size()) + "docs/security.md");
  ASSERT_TRUE(f) << "docs/security.md not found next to the sources";
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string table = seccomp_table_markdown();
  EXPECT_NE(ss.str().find(table), std::string::npos)
      << "docs/security.md's allow-list differs from kRules; the current table is:\n"
      << table;
}

// --- The filter in a process ------------------------------------------------------------

// Installs the filter for `mode`, then runs `fn`: returns its code, or dies.
template <class F>
ChildOutcome filtered(SandboxMode mode, F fn) {
  return in_child([&](const Say& say) {
    SeccompOptions o;
    o.mode = mode;
    if (Status s = install_seccomp(o); !s) {
      say("install: %s", err_name(s.err()));
      return 90;
    }
    return fn(say);
  }, true);
}

TEST(SeccompFilter, ActiveAsSeenInProc) {
  // The child installs the filter and waits; /proc/PID/status from here.
  int go[2], ready[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(10);
    SeccompOptions o;
    if (!install_seccomp(o)) ::_exit(2);
    char c = 'r';
    (void)!::write(ready[1], &c, 1);
    (void)!::read(go[0], &c, 1);
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  std::ifstream st("/proc/" + std::to_string(pid) + "/status");
  std::string line, seccomp, nnp;
  while (std::getline(st, line)) {
    if (line.rfind("Seccomp:", 0) == 0) seccomp = line;
    if (line.rfind("NoNewPrivs:", 0) == 0) nnp = line;
  }
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(seccomp, "Seccomp:\t2");
  EXPECT_EQ(nnp, "NoNewPrivs:\t1");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (int fd : {go[0], go[1], ready[0], ready[1]}) ::close(fd);
}

TEST(SeccompFilter, AllowedCallsWork) {
  auto out = filtered(SandboxMode::passt, [](const Say& say) {
    int s = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int u = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0 || u < 0) return 1;
    int v = 0;
    if (::ioctl(s, SIOCOUTQ, &v) < 0) {
      say("ioctl SIOCOUTQ: %s", std::strerror(errno));
      return 2;
    }
    timespec ts{};
    if (::syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) < 0) return 3;
    if (::fcntl(s, F_GETFL) < 0) return 4;
    if (::shutdown(s, SHUT_RDWR) < 0 && errno != ENOTCONN) return 5;
    ::close(s);
    ::close(u);
    ::raise(SIGCONT);  // tgkill to ourselves (default action: continue)
    return 0;
  });
  EXPECT_TRUE(out.ok()) << out.describe();
}

// One forbidden call per child: each must be killed by SIGSYS.
struct Forbidden {
  const char* what;
  SandboxMode mode;
  int (*call)();
};

const Forbidden kForbidden[] = {
    {"mmap", SandboxMode::passt,
     [] { return ::mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? 1 : 0; }},
    {"brk", SandboxMode::passt, [] { return static_cast<int>(::syscall(SYS_brk, 0)); }},
    {"openat", SandboxMode::passt, [] { return ::open("/etc/passwd", O_RDONLY); }},
    {"socket(AF_PACKET)", SandboxMode::pasta, [] { return ::socket(AF_PACKET, SOCK_DGRAM, 0); }},
    {"socket(AF_NETLINK)", SandboxMode::passt, [] { return ::socket(AF_NETLINK, SOCK_RAW, 0); }},
    {"ioctl(TIOCGWINSZ)", SandboxMode::pasta,
     [] {
       winsize w{};
       return ::ioctl(0, TIOCGWINSZ, &w);
     }},
    {"kill", SandboxMode::passt, [] { return ::kill(::getppid(), 0); }},
    {"tgkill of another process", SandboxMode::pasta,
     [] { return static_cast<int>(::syscall(SYS_tgkill, ::getppid(), ::getppid(), 0)); }},
    {"fork (passt)", SandboxMode::passt, []() -> int { return ::fork(); }},
    {"fork (pasta)", SandboxMode::pasta, []() -> int { return ::fork(); }},
    {"clone with NetnsRunner's flags (pasta)", SandboxMode::pasta,
     []() -> int {
       return static_cast<int>(::syscall(SYS_clone, CLONE_VM | CLONE_VFORK | CLONE_FILES, 0, 0, 0, 0));
     }},
    {"setns (passt)", SandboxMode::passt, [] { return ::setns(0, CLONE_NEWNET); }},
    {"setns(CLONE_NEWNET) (pasta)", SandboxMode::pasta, [] { return ::setns(0, CLONE_NEWNET); }},
    {"setns(CLONE_NEWUSER) (pasta)", SandboxMode::pasta, [] { return ::setns(0, CLONE_NEWUSER); }},
    {"capset (pasta)", SandboxMode::pasta,
     [] { return set_thread_caps(cap_bit(CAP_SYS_ADMIN), cap_bit(CAP_SYS_ADMIN)) ? 0 : 1; }},
    {"unshare", SandboxMode::pasta, [] { return ::unshare(CLONE_NEWNET); }},
    {"execve", SandboxMode::pasta,
     [] {
       char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
       return ::execve("/bin/true", argv, nullptr);
     }},
    {"prctl", SandboxMode::passt, [] { return ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0); }},
};

TEST(SeccompFilter, ForbiddenCallsKill) {
  for (const Forbidden& f : kForbidden) {
    if (kSanitizerBuild && (std::strcmp(f.what, "mmap") == 0 || std::strcmp(f.what, "brk") == 0 ||
                            std::strcmp(f.what, "openat") == 0 || std::strcmp(f.what, "prctl") == 0))
      continue;  // allowed for the sanitizer runtimes
    auto out = filtered(f.mode, [&](const Say&) {
      (void)f.call();
      return 0;
    });
    EXPECT_TRUE(out.killed_by(SIGSYS)) << f.what << ": " << out.describe();
  }
}

// pasta after lock_down(): no capability left in the main thread, and
// NetnsRunner calls for the namespace go to the NetnsThread, which made
// the socket in the namespace (its netns cookie), holds
// CAP_NET_BIND_SERVICE alone, runs under the same filter (a forbidden call
// from a task kills the process) and has no_new_privs.
TEST(SeccompFilter, PastaNetnsThread) {
  if (::geteuid() != 0) GTEST_SKIP() << "setns() needs CAP_SYS_ADMIN";
  const int ns = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(ns, 0);
  NetnsRunner runner(ns);
  ASSERT_TRUE(runner.init());
  struct MakeSock final : NsTask {
    int fd = -1;
    CapState caps;
    bool caps_ok = false;
    int nnp = -1;
    void run() noexcept override {
      fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      auto c = read_caps();
      caps_ok = c.ok();
      if (c) caps = *c;
      nnp = ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    }
  };
  auto cookie = [](int fd) {
    unsigned long long c = 0;
    socklen_t len = sizeof(c);
    return ::getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &c, &len) == 0 ? c : 0ull;
  };
  auto out = in_child([&](const Say& say) {
    MakeSock before;
    if (!runner.run(before) || before.fd < 0) return 2;  // clone() before lock-down
    if (Status s = lock_down(SandboxMode::pasta, ns); !s) {
      say("lock_down: %s", err_name(s.err()));
      return 1;
    }
    auto mine = read_caps();
    if (!mine || mine->effective != 0 || mine->permitted != 0) {
      say("main thread keeps capabilities");
      return 1;
    }
    if (!netns_thread().running()) return 3;
    for (int i = 0; i < 3; i++) {
      MakeSock t;
      if (Status s = runner.run(t); !s || t.fd < 0) {
        say("run %d: %s", i, err_name(s.err()));
        return 1;
      }
      if (!t.caps_ok || t.caps.effective != cap_bit(CAP_NET_BIND_SERVICE) ||
          t.caps.permitted != cap_bit(CAP_NET_BIND_SERVICE)) {
        say("thread capabilities %llx/%llx", static_cast<unsigned long long>(t.caps.effective),
            static_cast<unsigned long long>(t.caps.permitted));
        return 1;
      }
      if (t.nnp != 1) {
        say("thread without no_new_privs");
        return 1;
      }
      const auto ck = cookie(t.fd);
      if (ck != 0 && ck != cookie(before.fd)) {
        say("socket not in the namespace");
        return 1;
      }
      ::close(t.fd);
    }
    // The thread is filtered too (TSYNC): a forbidden call in a task kills.
    struct Unshare final : NsTask {
      void run() noexcept override { (void)::unshare(CLONE_NEWNET); }
    } bad;
    (void)runner.run(bad);
    return 5;
  });
  EXPECT_TRUE(out.killed_by(SIGSYS)) << out.describe();
  ::close(ns);
}

// /proc/PID/task/TID/status of a locked-down pasta: the main thread has
// CapEff 0, the namespace thread CAP_NET_BIND_SERVICE; both Seccomp 2.
TEST(SeccompFilter, PastaThreadsAsSeenInProc) {
  if (::geteuid() != 0) GTEST_SKIP() << "setns() needs CAP_SYS_ADMIN";
  const int ns = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(ns, 0);
  int go[2], ready[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(10);
    if (!lock_down(SandboxMode::pasta, ns)) ::_exit(2);
    const int tid = netns_thread().tid();
    (void)!::write(ready[1], &tid, sizeof(tid));
    char c = 0;
    (void)!::read(go[0], &c, 1);
    ::_exit(0);
  }
  int tid = 0;
  ASSERT_EQ(::read(ready[0], &tid, sizeof(tid)), static_cast<ssize_t>(sizeof(tid)));
  auto status = [&](int t) {
    std::ifstream st("/proc/" + std::to_string(pid) + "/task/" + std::to_string(t) + "/status");
    std::string line, out;
    while (std::getline(st, line))
      if (line.rfind("Seccomp:", 0) == 0 || line.rfind("CapEff:", 0) == 0 ||
          line.rfind("CapPrm:", 0) == 0 || line.rfind("NoNewPrivs:", 0) == 0)
        out += line + ";";
    return out;
  };
  const std::string main_st = status(pid);
  const std::string thread_st = status(tid);
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  int st = 0;
  ::waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  EXPECT_NE(tid, pid);
  EXPECT_EQ(main_st,
            "CapPrm:\t0000000000000000;CapEff:\t0000000000000000;NoNewPrivs:\t1;Seccomp:\t2;");
  EXPECT_EQ(thread_st,
            "CapPrm:\t0000000000000400;CapEff:\t0000000000000400;NoNewPrivs:\t1;Seccomp:\t2;");
  for (int fd : {go[0], go[1], ready[0], ready[1], ns}) ::close(fd);
}

// --- No allocation after initialisation ----------------------------------------------------

// The filter alone does not catch a small malloc(): glibc serves it from
// memory the heap already has.  A large one needs mmap() and is killed.
TEST(NoAlloc, FilterAloneMissesSmallAllocations) {
  if (kSanitizerBuild) GTEST_SKIP() << "the sanitizer's allocator, and its mmap, are allowed";
  auto small = filtered(SandboxMode::passt, [](const Say&) {
    for (int i = 0; i < 1000; i++) {
      void* p = std::malloc(64);
      escape(p);
      std::free(p);
    }
    return 0;
  });
  EXPECT_TRUE(small.ok()) << small.describe();
  auto large = filtered(SandboxMode::passt, [](const Say&) {
    void* p = std::malloc(64 << 20);
    escape(p);
    return p != nullptr ? 0 : 1;
  });
  EXPECT_TRUE(large.killed_by(SIGSYS)) << large.describe();
}

// lock_down() seals the allocation guard: every entry point aborts, even a
// request glibc could serve without a syscall; free() does not.
TEST(NoAlloc, GuardAbortsAnyAllocationAfterLockDown) {
  if (!kAllocGuard) GTEST_SKIP() << "sanitizer build: the sanitizer owns malloc";
  EXPECT_FALSE(alloc_guard_sealed());
  const u64 before = alloc_guard_count();
  void* volatile p = std::malloc(8);
  std::free(p);
  EXPECT_GT(alloc_guard_count(), before);  // this process uses the guard's entry points

  using Fn = void (*)();
  const std::pair<const char*, Fn> kAllocs[] = {
      {"malloc", [] { escape(std::malloc(16)); }},
      {"calloc", [] { escape(std::calloc(1, 16)); }},
      {"realloc", [] { escape(std::realloc(nullptr, 16)); }},
      {"reallocarray", [] { escape(::reallocarray(nullptr, 2, 8)); }},
      {"aligned_alloc", [] { escape(std::aligned_alloc(64, 64)); }},
      {"posix_memalign",
       [] {
         void* q = nullptr;
         (void)!::posix_memalign(&q, 64, 64);
         escape(q);
       }},
      {"memalign", [] { escape(::memalign(64, 64)); }},
      {"valloc", [] { escape(::valloc(64)); }},
      {"operator new", [] { escape(new int(1)); }},
      {"strdup", [] { escape(::strdup("x")); }},
      {"std::string", [] {
         std::string str(100, 'x');
         escape(str.data());
       }},
  };
  for (const auto& alloc : kAllocs) {
    const char* what = alloc.first;
    const Fn fn = alloc.second;
    auto out = in_child([&](const Say& say) {
      void* keep = std::malloc(32);  // allocated before: freeing it later is fine
      if (Status s = lock_down(SandboxMode::passt); !s) {
        say("lock_down: %s", err_name(s.err()));
        return 90;
      }
      std::free(keep);
      fn();
      return 0;
    }, true);
    EXPECT_TRUE(out.killed_by(SIGABRT)) << what << ": " << out.describe();
  }
}

// And the message says what happened.
TEST(NoAlloc, GuardMessage) {
  if (!kAllocGuard) GTEST_SKIP() << "sanitizer build";
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  auto out = in_child([&](const Say&) {
    ::dup2(p[1], 2);
    if (!lock_down(SandboxMode::pasta)) return 90;
    escape(std::malloc(1));
    return 0;
  });
  ::close(p[1]);
  char buf[256] = {};
  ssize_t n = ::read(p[0], buf, sizeof(buf) - 1);
  ::close(p[0]);
  EXPECT_TRUE(out.killed_by(SIGABRT)) << out.describe();
  ASSERT_GT(n, 0);
  EXPECT_STREQ(buf, "passt: heap allocation after initialisation (malloc), aborting\n");
}

// Polymorphic types met for the first time under the filter: UBSan's vptr
// check probes their vtable through a pipe (seccomp.hpp).
struct VptrProbeBase {
  virtual ~VptrProbeBase() = default;
  virtual int value() const noexcept = 0;
};
template <int N>
struct VptrProbe final : VptrProbeBase {
  int value() const noexcept override { return N; }
};

// Sanitizer builds: the runtime keeps working under the filter (it
// allocates, maps memory, and checks dynamic types), in both modes.
TEST(NoAlloc, SanitizerRuntimeWorksUnderTheFilter) {
  if (!kSanitizerBuild) GTEST_SKIP() << "not a sanitizer build";
  for (SandboxMode m : {SandboxMode::passt, SandboxMode::pasta}) {
    auto out = filtered(m, [m](const Say&) {
      for (int i = 0; i < 100; i++) {
        void* p = std::malloc(static_cast<std::size_t>(1) << (i % 24));
        escape(p);
        std::free(p);
      }
      // A virtual call through a base pointer the compiler cannot see
      // through: the vptr check's first (type, base) pair for this type.
      VptrProbeBase* volatile probe = nullptr;
      if (m == SandboxMode::passt) {
        probe = new VptrProbe<1>;
      } else {
        probe = new VptrProbe<2>;
      }
      const int v = probe->value();
      delete probe;
      return v == (m == SandboxMode::passt ? 1 : 2) ? 0 : 1;
    });
    EXPECT_TRUE(out.ok()) << (m == SandboxMode::passt ? "passt: " : "pasta: ") << out.describe();
  }
}

}  // namespace
}  // namespace passt::os
