#include "linux/isolation.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "linux/os_error.hpp"
#include "util/log.hpp"

namespace passt::os {

namespace {

// capget/capset have no glibc wrapper (libcap has them; we need two calls).
bool capget3(__user_cap_data_struct (&d)[2]) noexcept {
  __user_cap_header_struct h{};
  h.version = _LINUX_CAPABILITY_VERSION_3;
  h.pid = 0;
  return ::syscall(SYS_capget, &h, d) == 0;
}

bool capset3(CapMask eff, CapMask perm, CapMask inh) noexcept {
  __user_cap_header_struct h{};
  h.version = _LINUX_CAPABILITY_VERSION_3;
  h.pid = 0;
  __user_cap_data_struct d[2]{};
  for (int i = 0; i < 2; i++) {
    const unsigned shift = 32u * static_cast<unsigned>(i);
    d[i].effective = static_cast<u32>(eff >> shift);
    d[i].permitted = static_cast<u32>(perm >> shift);
    d[i].inheritable = static_cast<u32>(inh >> shift);
  }
  return ::syscall(SYS_capset, &h, d) == 0;
}

CapMask join(u32 lo, u32 hi) noexcept { return static_cast<CapMask>(hi) << 32 | lo; }

// Writes a short text to a /proc file; the errno on failure, else 0.
int write_text(const char* path, const char* text) noexcept {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  const std::size_t n = std::strlen(text);
  const ssize_t w = ::write(fd, text, n);
  const int e = w < 0 ? errno : (static_cast<std::size_t>(w) == n ? 0 : EIO);
  ::close(fd);
  return e;
}

__attribute__((format(printf, 2, 3))) void warn(IsolationReport& rep, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  LOG_WARN("%s", buf);
  rep.warnings.emplace_back(buf);
}

// Step 2 for passt: a user namespace of our own, where we are root.
void new_userns(IsolationReport& rep) {
  const u32 uid = ::geteuid();
  const u32 gid = ::getegid();
  if (::unshare(CLONE_NEWUSER) < 0) {
    warn(rep,
         "Couldn't create a user namespace (%s): isolating within the current one, which "
         "needs CAP_SYS_ADMIN there",
         std::strerror(errno));
    return;
  }
  rep.new_userns = true;
  // A uid change made us non-dumpable, which hands /proc/self/* to root:
  // we could not write our own maps.  lock_down() clears it again.
  if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1) (void)::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  char map[64];
  std::snprintf(map, sizeof(map), "0 %u 1", uid);
  int e = write_text("/proc/self/uid_map", map);
  // "deny" first: an unprivileged gid_map write requires it.
  int e2 = write_text("/proc/self/setgroups", "deny");
  if (e2 == ENOENT) e2 = 0;  // Linux < 3.19
  std::snprintf(map, sizeof(map), "0 %u 1", gid);
  int e3 = e2 == 0 ? write_text("/proc/self/gid_map", map) : e2;
  // Capabilities in the namespace do not depend on the maps: only our
  // identity as seen inside it does.
  if (e != 0 || e3 != 0)
    LOG_DEBUG("User namespace maps not written (%s): uid/gid unmapped inside",
              std::strerror(e != 0 ? e : e3));
}

// Step 5: an empty, read-only root.
void empty_root(const IsolationRequest& req, IsolationReport& rep) {
  // Nothing we do to mounts from here on propagates back to the host, and
  // pivot_root() refuses shared mounts.
  if (::mount("", "/", "", MS_UNBINDABLE | MS_REC, nullptr) < 0) {
    warn(rep, "Couldn't make mounts private (%s): the host's filesystem stays visible",
         std::strerror(errno));
    return;
  }
  const unsigned long flags = MS_RDONLY | MS_NODEV | MS_NOEXEC | MS_NOSUID;
  const char* mp = req.mountpoint;
  if (::mount("", mp, "tmpfs", flags, "nr_inodes=2,nr_blocks=0") < 0) {
    // No such directory (minimal containers): stack it on / itself.
    if (errno == ENOENT && ::mount("", "/", "tmpfs", flags, "nr_inodes=2,nr_blocks=0") == 0) {
      mp = "/";
    } else {
      warn(rep, "Couldn't mount an empty tmpfs on %s (%s): the host's filesystem stays visible",
           req.mountpoint, std::strerror(errno));
      return;
    }
  }
  // A lookup of "/" itself does not cross what is mounted on it; ".." from
  // the root does.
  struct statfs sf {};
  if (::chdir(mp[1] == '\0' ? "/.." : mp) < 0 || ::statfs(".", &sf) < 0 ||
      sf.f_type != TMPFS_MAGIC) {
    warn(rep, "Couldn't enter the empty tmpfs (%s): the host's filesystem stays visible",
         std::strerror(errno));
    return;
  }
  if (req.root == RootMethod::pivot_root) {
    // With both arguments ".", the old root ends up stacked on the new one,
    // at ".", and is detached from there: nothing of it stays reachable by
    // path.
    if (::syscall(SYS_pivot_root, ".", ".") == 0) {
      if (::umount2(".", MNT_DETACH) < 0)
        warn(rep, "Couldn't detach the old root (%s): the host's filesystem stays visible",
             std::strerror(errno));
      else
        rep.empty_root = true;
      if (::chdir("/") < 0) warn(rep, "Couldn't enter the empty root (%s)", std::strerror(errno));
      return;
    }
    // EINVAL on the initramfs rootfs, which cannot be pivoted.
    LOG_INFO("pivot_root() refused (%s), using chroot() into the empty tmpfs",
             std::strerror(errno));
  }
  if (::chroot(".") < 0) {
    warn(rep, "Couldn't chroot() into the empty tmpfs (%s): the host's filesystem stays visible",
         std::strerror(errno));
    return;
  }
  if (::chdir("/") < 0) warn(rep, "Couldn't enter the empty root (%s)", std::strerror(errno));
  rep.empty_root = true;
  rep.chroot_fallback = true;
}

}  // namespace

CapMask kept_caps(SandboxMode mode) noexcept {
  if (mode == SandboxMode::passt) return 0;
  // Until lock_down(): CAP_SYS_ADMIN for the NetnsThread's setns() into the
  // namespace (in our user namespace and in the one owning the netns: the
  // same one once we entered it), CAP_NET_BIND_SERVICE for the thread to
  // bind ports below net.ipv4.ip_unprivileged_port_start inside the
  // namespace at run time.  lock_down() leaves the main thread none.
  return cap_bit(CAP_SYS_ADMIN) | cap_bit(CAP_NET_BIND_SERVICE);
}

Status set_thread_caps(CapMask effective, CapMask permitted) noexcept {
  if (!capset3(effective, permitted, 0)) return last_err();
  return {};
}

int cap_last() noexcept {
  int last = 0;
  for (int i = 0; i < 64; i++) {
    if (::prctl(PR_CAPBSET_READ, i, 0, 0, 0) < 0) break;
    last = i;
  }
  return last;
}

Result<CapState> read_caps() noexcept {
  __user_cap_data_struct d[2]{};
  if (!capget3(d)) return last_err();
  CapState s;
  s.effective = join(d[0].effective, d[1].effective);
  s.permitted = join(d[0].permitted, d[1].permitted);
  s.inheritable = join(d[0].inheritable, d[1].inheritable);
  const int last = cap_last();
  for (int i = 0; i <= last; i++) {
    if (::prctl(PR_CAPBSET_READ, i, 0, 0, 0) == 1) s.bounding |= cap_bit(i);
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, i, 0, 0) == 1) s.ambient |= cap_bit(i);
  }
  return s;
}

IdentityPlan plan_identity(const IdentityFacts& f) noexcept {
  IdentityPlan p;
  p.keep_caps = f.mode == SandboxMode::pasta;
  if (f.runas) {
    p.become = *f.runas;
  } else if (f.euid == 0 && f.init_userns) {
    p.become = f.nobody;
    p.to_nobody = true;
  }
  return p;
}

bool in_userns(int userns_fd) noexcept {
  struct stat a{};
  struct stat b{};
  if (::fstat(userns_fd, &a) < 0) return false;
  if (::stat("/proc/self/ns/user", &b) < 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

Result<IsolationReport> isolate(const IsolationRequest& req) {
  IsolationReport rep;
  const bool pasta = req.mode == SandboxMode::pasta;

  // 1. Identity.
  if (req.identity.become) {
    const UidGid to = *req.identity.become;
    const bool change = ::geteuid() != to.uid || ::getegid() != to.gid;
    if (req.identity.keep_caps) (void)::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
    Status s = drop_privileges(to);
    if (req.identity.keep_caps) {
      (void)::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
      // setuid() away from 0 clears the effective set even with KEEPCAPS.
      if (auto c = read_caps(); c && !capset3(c->permitted, c->permitted, 0)) {
        LOG_ERR("Couldn't restore capabilities after the uid change: %s", std::strerror(errno));
        return last_err();
      }
    }
    if (!s) {
      LOG_ERR("Can't change user/group to %u/%u: %s", to.uid, to.gid, err_name(s.err()));
      return s.err();
    }
    rep.dropped_identity = change;
  }

  // 2. User namespace.
  if (pasta) {
    if (req.userns_fd >= 0 && !in_userns(req.userns_fd)) {
      if (::setns(req.userns_fd, CLONE_NEWUSER) < 0) {
        LOG_ERR("Couldn't join the namespace's user namespace: %s", std::strerror(errno));
        return last_err();
      }
      rep.entered_userns = true;
    }
  } else if (req.new_userns) {
    new_userns(rep);
  }

  // 3. Never root in the initial user namespace.
  if (::geteuid() == 0 && in_init_userns()) {
    LOG_ERR("Refusing to run as root in the initial user namespace: use --runas");
    return Err::access;
  }

  // 4. Namespaces.
  int flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
  if (req.new_pid_ns) flags |= CLONE_NEWPID;
  if (::unshare(flags) == 0) {
    rep.detached = true;
  } else {
    warn(rep,
         "Couldn't detach from the mount, IPC and UTS namespaces (%s): the host's filesystem "
         "stays visible (the seccomp filter still forbids opening files)",
         std::strerror(errno));
  }

  // 5. Empty root.
  if (rep.detached && req.root != RootMethod::none) empty_root(req, rep);

  // 6. Capabilities.
  auto cur = read_caps();
  if (!cur) {
    LOG_ERR("Couldn't read capabilities: %s", err_name(cur.err()));
    return cur.err();
  }
  const int last = cap_last();
  for (int i = 0; i <= last; i++) {
    if ((cur->bounding & cap_bit(i)) == 0) continue;
    // Needs CAP_SETPCAP: without it (no user namespace of our own and no
    // privileges) nothing can be gained by execve() anyway (no_new_privs).
    if (::prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0) {
      LOG_DEBUG("Bounding set kept (%s)", std::strerror(errno));
      break;
    }
  }
  (void)::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  const CapMask keep = kept_caps(req.mode) & cur->permitted;
  if (!capset3(keep, keep, 0)) {
    LOG_ERR("Couldn't drop capabilities: %s", std::strerror(errno));
    return last_err();
  }
  rep.kept = keep;
  return rep;
}

}  // namespace passt::os
