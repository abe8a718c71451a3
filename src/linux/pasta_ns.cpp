#include "linux/pasta_ns.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/nsfs.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "linux/daemon.hpp"
#include "linux/os_error.hpp"
#include "util/log.hpp"

namespace passt::os {

namespace {

constexpr std::size_t kChildStack = std::size_t{256} * 1024;
constexpr std::size_t kHostNameMax = 64;  // HOST_NAME_MAX

// One record on the status pipe (child -> parent), written whole.
struct StatusMsg {
  u8 kind;   // 'R' ready, 'E' error
  u8 stage;  // SpawnStage
  u8 pad[2];
  i32 err;   // errno; for 'R': ping_group_range errno (a warning), or 0
  i32 err2;  // for 'R': sethostname errno (a warning), or 0
};

struct ChildCtx {
  int go_r;
  int go_w;
  int status_r;
  int status_w;
  bool mount_proc;
  const char* hostname;
  std::size_t hostname_len;
  const char* file;
  char* const* argv;
};

// Async-signal-safe helpers for the child (no allocation, no locks).
ssize_t read_retry(int fd, void* buf, std::size_t n) noexcept {
  ssize_t r = -1;
  do {
    r = ::read(fd, buf, n);
  } while (r < 0 && errno == EINTR);
  return r;
}

void write_status(int fd, u8 kind, SpawnStage stage, int err, int err2 = 0) noexcept {
  StatusMsg m{};
  m.kind = kind;
  m.stage = static_cast<u8>(stage);
  m.err = err;
  m.err2 = err2;
  ssize_t r = -1;
  do {
    r = ::write(fd, &m, sizeof(m));
  } while (r < 0 && errno == EINTR);
}

[[noreturn]] void child_fail(const ChildCtx* c, SpawnStage stage, int err) noexcept {
  write_status(c->status_w, 'E', stage, err);
  ::_exit(1);
}

int child_main(void* arg) noexcept {
  const auto* c = static_cast<const ChildCtx*>(arg);
  ::close(c->go_w);
  ::close(c->status_r);

  char cmd = 0;
  // 'M': the parent wrote our uid/gid maps.
  if (read_retry(c->go_r, &cmd, 1) != 1 || cmd != 'M') ::_exit(1);

  if (c->mount_proc) {
    // Our mount namespace is a copy: keep receiving the host's mounts but
    // never send ours back.
    (void)::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr);
    if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) < 0)
      child_fail(c, SpawnStage::mount, errno);
  }

  // Let root (in here) open ping sockets.  A failure only loses ping.
  int ping_err = 0;
  int fd = ::open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    ping_err = errno;
  } else {
    if (::write(fd, "0 0", 3) != 3) ping_err = errno != 0 ? errno : EIO;
    ::close(fd);
  }
  int host_err = 0;
  if (::sethostname(c->hostname, c->hostname_len) < 0) host_err = errno;

  write_status(c->status_w, 'R', SpawnStage::none, ping_err, host_err);

  // 'G': go.
  if (read_retry(c->go_r, &cmd, 1) != 1 || cmd != 'G') ::_exit(1);
  ::close(c->go_r);

  // Whatever the parent blocked or ignored for itself is not the command's
  // business (pasta blocks SIGCHLD for its signalfd, ignores SIGPIPE).
  reset_signals_for_exec();

  ::execvp(c->file, c->argv);
  child_fail(c, SpawnStage::exec, errno);
}

Status write_file(const std::string& path, std::string_view text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return last_err();
  ssize_t n = -1;
  do {
    n = ::write(fd, text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  Err e = n < 0 ? last_err() : Err::none;
  ::close(fd);
  if (e != Err::none) return e;
  if (static_cast<std::size_t>(n) != text.size()) return Err::io;
  return {};
}

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

Result<int> open_ns(const std::string& path, int type) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return last_err();
  int t = ::ioctl(fd, NS_GET_NSTYPE);
  if (t != type) {
    ::close(fd);
    return Err::invalid;
  }
  return fd;
}

}  // namespace

const char* spawn_stage_name(SpawnStage s) noexcept {
  switch (s) {
    case SpawnStage::none: return "none";
    case SpawnStage::sync: return "start-up synchronisation";
    case SpawnStage::mount: return "mounting /proc";
    case SpawnStage::ping_range: return "setting ping_group_range";
    case SpawnStage::hostname: return "setting the hostname";
    case SpawnStage::exec: return "starting the command";
  }
  return "?";
}

std::string pasta_hostname(std::string_view host) {
  std::string h = "pasta-";
  h.append(host.substr(0, host.find('\0')));
  if (h.size() > kHostNameMax) h.resize(kHostNameMax);
  return h;
}

Status enter_userns(int userns_fd) noexcept {
  if (::setns(userns_fd, CLONE_NEWUSER) < 0) return last_err();
  return {};
}

// --- NetnsVisit ------------------------------------------------------------------------

namespace {

bool same_inode(int a, int b) noexcept {
  struct stat sa {};
  struct stat sb {};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

bool have_sys_admin() noexcept {
  __user_cap_header_struct h{};
  h.version = _LINUX_CAPABILITY_VERSION_3;
  __user_cap_data_struct d[2]{};
  if (::syscall(SYS_capget, &h, d) != 0) return false;
  return (d[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32))) != 0;
}

}  // namespace

NetnsVisit::~NetnsVisit() {
  if (home_fd_ >= 0) (void)leave();
}

bool NetnsVisit::enter(int target_fd) noexcept {
  if (home_fd_ >= 0 || target_fd < 0 || !have_sys_admin()) return false;
  int home = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) return false;
  int owner = ::ioctl(home, NS_GET_USERNS);
  int self_user = ::open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
  const bool ok = owner >= 0 && self_user >= 0 && same_inode(owner, self_user);
  if (owner >= 0) ::close(owner);
  if (self_user >= 0) ::close(self_user);
  if (!ok || ::setns(target_fd, CLONE_NEWNET) < 0) {
    ::close(home);
    return false;
  }
  home_fd_ = home;
  return true;
}

Status NetnsVisit::leave() noexcept {
  if (home_fd_ < 0) return {};
  const int r = ::setns(home_fd_, CLONE_NEWNET);
  const Err e = r < 0 ? last_err() : Err::none;
  ::close(home_fd_);
  home_fd_ = -1;
  if (e != Err::none) return e;
  return {};
}

// --- NsChild ------------------------------------------------------------------------------

NsChild::NsChild(NsChild&& o) noexcept { *this = std::move(o); }

NsChild& NsChild::operator=(NsChild&& o) noexcept {
  if (this != &o) {
    reset();
    pid_ = o.pid_;
    pidfd_ = o.pidfd_;
    netns_fd_ = o.netns_fd_;
    userns_fd_ = o.userns_fd_;
    go_w_ = o.go_w_;
    status_r_ = o.status_r_;
    released_ = o.released_;
    reaped_ = o.reaped_;
    stage_ = o.stage_;
    errno_ = o.errno_;
    o.pid_ = o.pidfd_ = o.netns_fd_ = o.userns_fd_ = o.go_w_ = o.status_r_ = -1;
    o.reaped_ = true;
  }
  return *this;
}

NsChild::~NsChild() { reset(); }

void NsChild::reset() noexcept {
  if (pid_ > 0 && !released_ && !reaped_) {
    // EOF on the go pipe makes the child exit 1 at once.
    close_fd(go_w_);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  close_fd(go_w_);
  close_fd(status_r_);
  close_fd(pidfd_);
  close_fd(netns_fd_);
  close_fd(userns_fd_);
  pid_ = -1;
}

Status NsChild::read_status() {
  StatusMsg m{};
  ssize_t n = read_retry(status_r_, &m, sizeof(m));
  if (n == 0) return Err::conn_reset;  // EOF
  if (n < 0) return last_err();
  if (static_cast<std::size_t>(n) != sizeof(m)) return Err::truncated;
  if (m.kind == 'R') {
    if (m.err != 0)
      LOG_WARN("Cannot set ping_group_range, ICMP requests might fail: %s", std::strerror(m.err));
    if (m.err2 != 0) LOG_WARN("Cannot set the namespace's hostname: %s", std::strerror(m.err2));
    return {};
  }
  stage_ = static_cast<SpawnStage>(m.stage);
  errno_ = m.err;
  Err e = err_from_errno(m.err);
  return e == Err::none ? Err::other : e;
}

Status NsChild::release() {
  if (pid_ <= 0 || released_) return Err::invalid;
  released_ = true;
  const char go = 'G';
  ssize_t n = -1;
  do {
    n = ::write(go_w_, &go, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) return last_err();
  close_fd(go_w_);
  Status s = read_status();
  close_fd(status_r_);
  if (s.err() == Err::conn_reset) return {};  // EOF: exec closed the pipe
  if (s) return Err::other;                   // a second "ready": cannot happen
  return s;
}

Result<std::optional<int>> NsChild::wait_impl(bool block) {
  if (pid_ <= 0 || reaped_) return Err::invalid;
  int st = 0;
  for (;;) {
    pid_t r = ::waitpid(pid_, &st, block ? 0 : WNOHANG);
    if (r == 0) return std::optional<int>{};
    if (r == pid_) break;
    if (errno != EINTR) return last_err();
  }
  reaped_ = true;
  return std::optional<int>{exit_code_from_wait_status(st)};
}

Result<std::optional<int>> NsChild::try_wait() { return wait_impl(false); }

Result<int> NsChild::wait() {
  auto r = wait_impl(true);
  if (!r) return r.err();
  return r->value_or(1);
}

Status NsChild::kill(int sig) noexcept {
  if (pid_ <= 0 || reaped_) return Err::invalid;
  long r = pidfd_ >= 0 ? ::syscall(SYS_pidfd_send_signal, pidfd_, sig, nullptr, 0)
                       : ::kill(pid_, sig);
  if (r < 0) return last_err();
  return {};
}

// --- spawn ------------------------------------------------------------------------------------

Result<NsChild> spawn_ns_child(const SpawnOptions& opt) {
  const u32 uid = opt.uid.value_or(u32{::geteuid()});
  const u32 gid = opt.gid.value_or(u32{::getegid()});

  std::string host = opt.host_hostname;
  if (host.empty()) {
    std::array<char, kHostNameMax + 1> buf{};
    if (::gethostname(buf.data(), kHostNameMax) == 0) host = buf.data();
  }
  const std::string hostname = pasta_hostname(host);

  // Everything the child needs is built here: after clone() it only makes
  // syscalls.
  std::vector<std::string> args;
  std::string file;
  if (opt.command.empty()) {
    file = opt.shell;
    if (file.empty()) {
      const char* sh = std::getenv("SHELL");
      file = sh != nullptr && *sh != '\0' ? sh : "/bin/sh";
    }
    std::size_t slash = file.rfind('/');
    // (append, not operator+: GCC 12 -Wrestrict false positive in release)
    std::string arg0(1, '-');
    arg0.append(file, slash == std::string::npos ? 0 : slash + 1, std::string::npos);
    args.push_back(std::move(arg0));
  } else {
    file = opt.command.front();
    args = opt.command;
  }
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int go[2];
  int status[2];
  if (::pipe2(go, O_CLOEXEC) < 0) return last_err();
  if (::pipe2(status, O_CLOEXEC) < 0) {
    Err e = last_err();
    ::close(go[0]);
    ::close(go[1]);
    return e;
  }
  ChildCtx ctx{go[0],          go[1],       status[0], status[1],  opt.mount_proc,
               hostname.data(), hostname.size(), file.c_str(), argv.data()};

  void* stack = ::mmap(nullptr, kChildStack, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    Err e = last_err();
    for (int fd : {go[0], go[1], status[0], status[1]}) ::close(fd);
    return e;
  }
  // No CLONE_VM: the child runs on its own copy of this stack, so it can be
  // unmapped here as soon as clone() returns.
  const int flags = CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS |
                    CLONE_NEWPID | SIGCHLD;
  int pid = ::clone(child_main, static_cast<u8*>(stack) + kChildStack, flags, &ctx);
  Err clone_err = pid < 0 ? last_err() : Err::none;
  ::munmap(stack, kChildStack);
  ::close(go[0]);
  ::close(status[1]);
  if (pid < 0) {
    ::close(go[1]);
    ::close(status[0]);
    LOG_ERR("Failed to clone process with detached namespaces: %s", err_name(clone_err));
    return clone_err;
  }

  NsChild ch;
  ch.pid_ = pid;
  ch.go_w_ = go[1];
  ch.status_r_ = status[0];
  // From here on, returning an error destroys `ch`: the child sees EOF on
  // the go pipe, exits, and is reaped.

  const std::string proc = "/proc/" + std::to_string(pid);
  if (Status s = write_file(proc + "/uid_map", "0 " + std::to_string(uid) + " 1"); !s) {
    LOG_ERR("Cannot write uid_map of the namespace child: %s", err_name(s.err()));
    return s.err();
  }
  if (Status s = write_file(proc + "/setgroups", "deny"); !s) {
    LOG_ERR("Cannot write setgroups of the namespace child: %s", err_name(s.err()));
    return s.err();
  }
  if (Status s = write_file(proc + "/gid_map", "0 " + std::to_string(gid) + " 1"); !s) {
    LOG_ERR("Cannot write gid_map of the namespace child: %s", err_name(s.err()));
    return s.err();
  }
  auto netns = open_ns(proc + "/ns/net", CLONE_NEWNET);
  if (!netns) return netns.err();
  ch.netns_fd_ = *netns;
  auto userns = open_ns(proc + "/ns/user", CLONE_NEWUSER);
  if (!userns) return userns.err();
  ch.userns_fd_ = *userns;
  long pfd = ::syscall(SYS_pidfd_open, pid, 0);
  if (pfd < 0) return last_err();
  ch.pidfd_ = static_cast<int>(pfd);

  const char maps = 'M';
  ssize_t n = -1;
  do {
    n = ::write(ch.go_w_, &maps, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) return last_err();
  Status s = ch.read_status();
  if (!s) {
    if (s.err() == Err::conn_reset) ch.stage_ = SpawnStage::sync;
    LOG_ERR("Namespace child failed %s: %s", spawn_stage_name(ch.stage_),
            ch.errno_ != 0 ? std::strerror(ch.errno_) : err_name(s.err()));
    return s.err();
  }
  return ch;
}

// --- Join ---------------------------------------------------------------------------------------

NsHandles::NsHandles(NsHandles&& o) noexcept { *this = std::move(o); }

NsHandles& NsHandles::operator=(NsHandles&& o) noexcept {
  if (this != &o) {
    close_all();
    netns_fd = o.netns_fd;
    userns_fd = o.userns_fd;
    netns_path = std::move(o.netns_path);
    userns_path = std::move(o.userns_path);
    pid = o.pid;
    o.netns_fd = o.userns_fd = -1;
  }
  return *this;
}

NsHandles::~NsHandles() { close_all(); }

void NsHandles::close_all() noexcept {
  close_fd(netns_fd);
  close_fd(userns_fd);
}

std::string netns_path_for(std::string_view p) {
  if (p.find('/') != std::string_view::npos) return std::string(p);
  return "/run/netns/" + std::string(p);
}

Result<NsHandles> open_namespaces(const JoinRequest& req) {
  NsHandles h;
  if (req.pid > 0) {
    const std::string proc = "/proc/" + std::to_string(req.pid);
    h.pid = req.pid;
    h.netns_path = proc + "/ns/net";
    if (!req.netns_only) h.userns_path = req.userns.empty() ? proc + "/ns/user" : req.userns;
  } else if (!req.netns.empty()) {
    h.netns_path = netns_path_for(req.netns);
    // --netns without --userns implies --netns-only.
    if (!req.netns_only) h.userns_path = req.userns;
  } else {
    return Err::invalid;
  }
  auto n = open_ns(h.netns_path, CLONE_NEWNET);
  if (!n) {
    LOG_ERR("Couldn't open network namespace %s: %s", h.netns_path.c_str(), err_name(n.err()));
    return n.err();
  }
  h.netns_fd = *n;
  if (!h.userns_path.empty()) {
    auto u = open_ns(h.userns_path, CLONE_NEWUSER);
    if (!u) {
      LOG_ERR("Couldn't open user namespace %s: %s", h.userns_path.c_str(), err_name(u.err()));
      return u.err();
    }
    h.userns_fd = *u;
  }
  return h;
}

// --- --config-net ------------------------------------------------------------------------------

namespace {

Status set_addrs(Netlink& host, Netlink& ns, u32 ifi, int af, const NsNetFamily& f,
                 DupStats& stats) {
  if (!f.copy_addrs) {
    if (!f.addr) return {};
    u8 plen = f.prefix_len;
    if (plen == 0) plen = af == AF_INET ? 32 : 64;
    Status s = ns.add_addr(ifi, af, *f.addr, plen, true);
    if (!s && ns.last_errno() == EEXIST) return {};
    return s;
  }
  if (f.template_ifindex == 0) return {};
  return addr_dup(host, f.template_ifindex, ns, ifi, af, &stats);
}

Status set_routes(Netlink& host, Netlink& ns, u32 ifi, int af, const NsNetFamily& f,
                  DupStats& stats) {
  if (!f.copy_routes) {
    if (!f.gateway) return {};
    Status s = ns.add_default_route(ifi, af, *f.gateway);
    if (!s && ns.last_errno() == EEXIST) return {};
    return s;
  }
  if (f.template_ifindex == 0) return {};
  return route_dup(host, f.template_ifindex, ns, ifi, af, &stats);
}

}  // namespace

Result<NsNetResult> configure_ns_net(Netlink& host, Netlink& ns, const NsNetConfig& cfg) {
  NsNetResult res;
  auto lo = ns.link(std::string_view("lo"));
  if (!lo) return lo.err();
  if (Status s = ns.set_link_up(lo->index, true); !s) {
    LOG_ERR("Couldn't bring up loopback in the namespace: %s", err_name(s.err()));
    return s.err();
  }

  if (cfg.mac) {
    if (Status s = ns.set_mac(cfg.ifindex, *cfg.mac); !s) {
      LOG_ERR("Couldn't set the MAC address in the namespace: %s", err_name(s.err()));
      return s.err();
    }
    res.mac = *cfg.mac;
  } else {
    auto l = ns.link(cfg.ifindex);
    if (!l) return l.err();
    res.mac = l->mac;
  }
  if (!cfg.config_net) return res;

  if (cfg.mtu != 0) {
    if (Status s = ns.set_mtu(cfg.ifindex, cfg.mtu); !s) {
      LOG_ERR("Couldn't set MTU %u in the namespace: %s", cfg.mtu, err_name(s.err()));
      return s.err();
    }
  }
  // With IPv6, bring the link up with NOARP: the kernel then skips DAD for
  // the link-local address it creates.
  u32 flags = IFF_UP;
  if (cfg.v6.enabled) flags |= IFF_NOARP;
  if (Status s = ns.set_link_flags(cfg.ifindex, flags, flags); !s) return s.err();

  if (cfg.v4.enabled) {
    if (Status s = set_addrs(host, ns, cfg.ifindex, AF_INET, cfg.v4, res.addrs4); !s) {
      LOG_ERR("Couldn't set IPv4 address(es) in namespace: %s", err_name(s.err()));
      return s.err();
    }
    if (Status s = set_routes(host, ns, cfg.ifindex, AF_INET, cfg.v4, res.routes4); !s) {
      LOG_ERR("Couldn't set IPv4 route(s) in guest: %s", err_name(s.err()));
      return s.err();
    }
  }

  if (cfg.v6.enabled) {
    auto addrs = ns.addrs(AF_INET6, cfg.ifindex);
    if (addrs) {
      for (const NlAddr& a : *addrs)
        if (a.link_scope()) {
          res.ll = a.v6();
          break;
        }
    }
    if (!res.ll) LOG_WARN("Can't get LL address from namespace");
    if (Status s = ns.set_ll_nodad(cfg.ifindex); !s)
      LOG_WARN("Can't set nodad for LL in namespace: %s", err_name(s.err()));
    // DAD dodged: neighbour solicitations back on.
    if (Status s = ns.set_noarp(cfg.ifindex, false); !s) return s.err();

    if (Status s = set_addrs(host, ns, cfg.ifindex, AF_INET6, cfg.v6, res.addrs6); !s) {
      LOG_ERR("Couldn't set IPv6 address(es) in namespace: %s", err_name(s.err()));
      return s.err();
    }
    if (Status s = set_routes(host, ns, cfg.ifindex, AF_INET6, cfg.v6, res.routes6); !s) {
      LOG_ERR("Couldn't set IPv6 route(s) in guest: %s", err_name(s.err()));
      return s.err();
    }
  }
  return res;
}

}  // namespace passt::os
