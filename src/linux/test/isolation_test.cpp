#include "linux/isolation.hpp"

#include <gtest/gtest.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "linux/netns.hpp"
#include "linux/pasta_ns.hpp"
#include "linux/seccomp.hpp"
#include "linux/test/sandbox_child.hpp"

namespace passt::os {
namespace {

using test::in_child;
using test::inode_at;
using test::Say;

bool real_root() { return ::geteuid() == 0 && in_init_userns(); }

// Like `unshare -Ur`: root of a new user namespace, mapped to who we were.
bool root_of_new_userns() {
  const unsigned uid = ::geteuid(), gid = ::getegid();
  if (::unshare(CLONE_NEWUSER) < 0) return false;
  auto put = [](const char* path, const std::string& text) {
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    return ok;
  };
  return put("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") &&
         put("/proc/self/setgroups", "deny") &&
         put("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
}

// A capability set line of /proc/self/status, as a number.
CapMask status_caps(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(f, line)) {
    if (line.compare(0, key.size(), key) == 0) return std::stoull(line.substr(key.size()), nullptr, 16);
  }
  return ~CapMask{0};
}

// In the child: the root directory is an empty, read-only tmpfs and nothing
// of the host's filesystem is reachable by path.
int check_empty_root(const Say& say) {
  struct statfs sf {};
  if (::statfs("/", &sf) < 0 || sf.f_type != TMPFS_MAGIC) {
    say("root is not a tmpfs");
    return 1;
  }
  struct statvfs sv {};
  if (::statvfs("/", &sv) < 0 || !(sv.f_flag & ST_RDONLY)) {
    say("root is not read-only");
    return 1;
  }
  DIR* d = ::opendir("/");
  int n = 0;
  if (d != nullptr) {
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) n++;
    }
    ::closedir(d);
  }
  if (n != 0) {
    say("%d entries in /", n);
    return 1;
  }
  if (::access("/proc/self/status", F_OK) == 0 || ::access("/etc/passwd", F_OK) == 0) {
    say("host files still reachable");
    return 1;
  }
  if (::mkdir("/x", 0700) == 0 || errno != EROFS) {
    say("mkdir in the root: %s", std::strerror(errno));
    return 1;
  }
  return 0;
}

TEST(Identity, RunasWinsThenRootInInitNamespaceBecomesNobody) {
  IdentityFacts f;
  f.nobody = {65534, 65533};
  f.euid = 0;
  f.init_userns = true;
  IdentityPlan p = plan_identity(f);
  ASSERT_TRUE(p.become);
  EXPECT_EQ(*p.become, (UidGid{65534, 65533}));
  EXPECT_TRUE(p.to_nobody);
  EXPECT_FALSE(p.keep_caps);

  f.runas = UidGid{1000, 100};
  p = plan_identity(f);
  ASSERT_TRUE(p.become);
  EXPECT_EQ(*p.become, (UidGid{1000, 100}));
  EXPECT_FALSE(p.to_nobody);

  // Root inside a user namespace (rootless containers, unshare -Ur) stays.
  f.runas.reset();
  f.init_userns = false;
  EXPECT_FALSE(plan_identity(f).become);
  // Not root: stays.
  f.init_userns = true;
  f.euid = 1000;
  EXPECT_FALSE(plan_identity(f).become);

  // pasta keeps its capabilities across a change.
  f.mode = SandboxMode::pasta;
  f.euid = 0;
  p = plan_identity(f);
  EXPECT_TRUE(p.to_nobody);
  EXPECT_TRUE(p.keep_caps);
}

TEST(Caps, KeptSets) {
  EXPECT_EQ(kept_caps(SandboxMode::passt), 0u);
  EXPECT_EQ(kept_caps(SandboxMode::pasta), cap_bit(CAP_SYS_ADMIN) | cap_bit(CAP_NET_BIND_SERVICE));
  EXPECT_EQ(kept_caps(SandboxMode::pasta), 0x200400u);  // what test_sandbox.sh expects
}

TEST(Caps, ReadMatchesProcStatus) {
  auto c = read_caps();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->effective, status_caps("CapEff"));
  EXPECT_EQ(c->permitted, status_caps("CapPrm"));
  EXPECT_EQ(c->inheritable, status_caps("CapInh"));
  EXPECT_EQ(c->bounding, status_caps("CapBnd"));
  EXPECT_EQ(c->ambient, status_caps("CapAmb"));
  EXPECT_GE(cap_last(), CAP_AUDIT_READ);  // Linux >= 3.16
}

// passt as root in the initial user namespace, the full sequence.
TEST(Isolate, PasstAsRealRoot) {
  if (!real_root()) GTEST_SKIP() << "needs root in the initial user namespace";
  auto out = in_child([](const Say& say) {
    // /proc/self as it is now: still usable after pivot_root (the fd keeps
    // the old procfs), and "ns/*" follows this task's namespaces.
    const int self = ::open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
    const auto mnt0 = inode_at(self, "ns/mnt"), ipc0 = inode_at(self, "ns/ipc"),
               uts0 = inode_at(self, "ns/uts"), user0 = inode_at(self, "ns/user"),
               pid0 = inode_at(self, "ns/pid_for_children");
    IsolationRequest r;
    r.mode = SandboxMode::passt;
    IdentityFacts f;
    f.euid = ::geteuid();
    f.init_userns = true;
    r.identity = plan_identity(f);  // nobody
    r.new_pid_ns = true;
    auto rep = isolate(r);
    if (!rep) {
      say("isolate: %s", err_name(rep.err()));
      return 1;
    }
    if (!rep->dropped_identity || !rep->new_userns || !rep->detached || !rep->empty_root ||
        rep->chroot_fallback || rep->kept != 0 || !rep->warnings.empty()) {
      say("report: dropped %d userns %d detached %d root %d chroot %d kept %llx warnings %zu",
          rep->dropped_identity, rep->new_userns, rep->detached, rep->empty_root,
          rep->chroot_fallback, static_cast<unsigned long long>(rep->kept), rep->warnings.size());
      return 1;
    }
    // nobody outside, root (0) inside our own user namespace.
    if (::geteuid() != 0 || ::getegid() != 0) {
      say("euid/egid %u/%u inside, expected 0/0 (mapped)", ::geteuid(), ::getegid());
      return 1;
    }
    if (inode_at(self, "ns/mnt") == mnt0 || inode_at(self, "ns/ipc") == ipc0 ||
        inode_at(self, "ns/uts") == uts0 || inode_at(self, "ns/user") == user0 ||
        inode_at(self, "ns/pid_for_children") == pid0) {
      say("a namespace was not changed");
      return 1;
    }
    auto c = read_caps();
    if (!c || c->effective || c->permitted || c->inheritable || c->bounding || c->ambient) {
      say("capabilities left");
      return 1;
    }
    if (int rc = check_empty_root(say); rc != 0) return rc;
    // The next child is PID 1 of the new PID namespace.
    pid_t k = ::fork();
    if (k == 0) ::_exit(::getpid() == 1 ? 0 : 1);
    int st = 0;
    ::waitpid(k, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      say("forked child is not PID 1 of a new PID namespace");
      return 1;
    }
    return 0;
  });
  EXPECT_TRUE(out.ok()) << out.describe();
}

// Root in a user namespace of its own (how the integration tests and
// rootless containers run): identity kept, a nested user namespace.
TEST(Isolate, PasstAsRootOfAUserNamespace) {
  auto out = in_child([](const Say& say) {
    if (!root_of_new_userns()) return 77;
    IsolationRequest r;
    r.mode = SandboxMode::passt;
    auto rep = isolate(r);
    if (!rep) {
      say("isolate: %s", err_name(rep.err()));
      return 1;
    }
    if (rep->dropped_identity || !rep->new_userns || !rep->empty_root || rep->kept != 0) {
      say("report");
      return 1;
    }
    return check_empty_root(say);
  });
  if (out.exited(77)) GTEST_SKIP() << "cannot create user namespaces here";
  EXPECT_TRUE(out.ok()) << out.describe();
}

// Where pivot_root() is refused (initramfs), chroot() into the same tmpfs.
TEST(Isolate, ChrootFallback) {
  auto out = in_child([](const Say& say) {
    if (!root_of_new_userns()) return 77;
    IsolationRequest r;
    r.root = RootMethod::chroot;
    auto rep = isolate(r);
    if (!rep || !rep->empty_root || !rep->chroot_fallback) {
      say("no chroot fallback");
      return 1;
    }
    return check_empty_root(say);
  });
  if (out.exited(77)) GTEST_SKIP() << "cannot create user namespaces here";
  EXPECT_TRUE(out.ok()) << out.describe();
}

// No /tmp to mount on: the tmpfs goes on / itself.
TEST(Isolate, MissingMountpointStacksOnRoot) {
  auto out = in_child([](const Say& say) {
    if (!root_of_new_userns()) return 77;
    IsolationRequest r;
    r.mountpoint = "/nonexistent-passt-mountpoint";
    auto rep = isolate(r);
    if (!rep || !rep->empty_root) {
      say("no empty root: %s", rep && !rep->warnings.empty() ? rep->warnings[0].c_str() : "");
      return 1;
    }
    return check_empty_root(say);
  });
  if (out.exited(77)) GTEST_SKIP() << "cannot create user namespaces here";
  EXPECT_TRUE(out.ok()) << out.describe();
}

// Without any capability and without user namespaces only warnings are
// possible: the process still ends with nothing, and says so.
TEST(Isolate, WithoutPrivilegesWarns) {
  auto out = in_child([](const Say& say) {
    if (!root_of_new_userns()) return 77;
    // Give up every capability of this namespace first.
    for (int i = 0; i <= cap_last(); i++) (void)::prctl(PR_CAPBSET_DROP, i, 0, 0, 0);
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct d[2]{};
    if (::syscall(SYS_capset, &h, d) < 0) return 2;
    IsolationRequest r;
    r.new_userns = false;  // as if user namespaces were disabled
    auto rep = isolate(r);
    if (!rep) {
      say("isolate: %s", err_name(rep.err()));
      return 1;
    }
    if (rep->detached || rep->empty_root || rep->warnings.empty()) {
      say("expected warnings only");
      return 1;
    }
    auto c = read_caps();
    if (!c || c->effective || c->permitted) return 3;
    return ::access("/proc/self/status", F_OK) == 0 ? 0 : 4;  // filesystem still there
  });
  if (out.exited(77)) GTEST_SKIP() << "cannot create user namespaces here";
  EXPECT_TRUE(out.ok()) << out.describe();
}

TEST(Isolate, RefusesRootInInitialNamespace) {
  if (!real_root()) GTEST_SKIP() << "needs root in the initial user namespace";
  auto out = in_child([](const Say&) {
    IsolationRequest r;
    r.new_userns = false;  // no --runas, no user namespace: would stay root
    auto rep = isolate(r);
    return !rep && rep.err() == Err::access ? 0 : 1;
  }, true);
  EXPECT_TRUE(out.ok()) << out.describe();
}

// pasta, spawn mode, started by root: becomes nobody (keeping its
// capabilities), enters the command's user namespace, keeps CAP_SYS_ADMIN
// and CAP_NET_BIND_SERVICE there until lock_down(), and can still make
// sockets inside the namespace with NetnsRunner: cloned children first,
// then the NetnsThread once the main thread has no capability left and
// the filter, which forbids setns(), is on.
TEST(Isolate, PastaKeepsWhatNetnsRunnerNeeds) {
  if (!real_root()) GTEST_SKIP() << "needs root in the initial user namespace";
  SpawnOptions o;
  o.command = {"/bin/true"};
  auto ch = spawn_ns_child(o);
  if (!ch) GTEST_SKIP() << "cannot create namespaces here: " << err_name(ch.err());
  const int netns = ch->netns_fd();
  const int userns = ch->userns_fd();
  auto out = in_child([&](const Say& say) {
    const int self = ::open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
    NetnsRunner runner(netns);
    if (!runner.init()) return 2;
    // A socket made in the namespace before isolating, for its cookie.
    struct MakeSock final : NsTask {
      int fd = -1;
      void run() noexcept override { fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }
    };
    auto cookie = [](int fd) {
      unsigned long long c = 0;
      socklen_t len = sizeof(c);
      return ::getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &c, &len) == 0 ? c : 0ull;
    };
    MakeSock before;
    if (!runner.run(before) || before.fd < 0) return 3;

    IsolationRequest r;
    r.mode = SandboxMode::pasta;
    IdentityFacts f;
    f.mode = SandboxMode::pasta;
    f.euid = ::geteuid();
    f.init_userns = true;
    r.identity = plan_identity(f);
    r.userns_fd = userns;
    auto rep = isolate(r);
    if (!rep) {
      say("isolate: %s", err_name(rep.err()));
      return 1;
    }
    struct stat us {};
    ::fstat(userns, &us);
    if (!rep->dropped_identity || !rep->entered_userns || !rep->empty_root ||
        inode_at(self, "ns/user") != (static_cast<unsigned long long>(us.st_ino) ^
                                      (static_cast<unsigned long long>(us.st_dev) << 32))) {
      say("report: dropped %d entered %d root %d", rep->dropped_identity, rep->entered_userns,
          rep->empty_root);
      return 1;
    }
    auto c = read_caps();
    if (!c || c->effective != kept_caps(SandboxMode::pasta) ||
        c->permitted != kept_caps(SandboxMode::pasta) || c->bounding || c->inheritable) {
      say("capabilities %llx/%llx", c ? static_cast<unsigned long long>(c->effective) : 0ull,
          c ? static_cast<unsigned long long>(c->permitted) : 0ull);
      return 1;
    }
    if (::geteuid() == 0) {
      say("still uid 0");
      return 1;
    }
    for (int pass = 0; pass < 2; pass++) {
      if (pass == 1) {
        // The main thread gives up the rest; the NetnsThread carries on.
        if (!lock_down(SandboxMode::pasta, netns)) return 4;
        auto m = read_caps();
        if (!m || m->effective != 0 || m->permitted != 0) {
          say("main thread keeps capabilities after lock_down()");
          return 1;
        }
      }
      MakeSock after;
      if (Status s = runner.run(after); !s || after.fd < 0) {
        say("NetnsRunner after isolation%s: %s", pass ? " and lock_down()" : "", err_name(s.err()));
        return 1;
      }
      const auto ck = cookie(after.fd);
      if (ck != 0 && ck != cookie(before.fd)) {
        say("socket not in the namespace");
        return 1;
      }
      ::close(after.fd);
    }
    // Any other namespace change is not in the filter.
    (void)::setns(userns, CLONE_NEWUSER);
    return 5;
  });
  EXPECT_TRUE(out.killed_by(SIGSYS)) << out.describe();
  ASSERT_TRUE(ch->release());
  EXPECT_EQ(ch->wait().value_or(-1), 0);
}

}  // namespace
}  // namespace passt::os
