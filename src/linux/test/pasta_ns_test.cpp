#include "linux/pasta_ns.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "linux/clock.hpp"
#include "linux/host_discovery.hpp"
#include "linux/test/ns_fixture.hpp"
#include "linux/tun.hpp"

namespace passt::os {
namespace {

using test::a4;
using test::a6;
using test::find_addr;
using test::find_route;
using test::inode_of;
using test::TestNs;

// A pipe whose write end the spawned command inherits (as fd `wfd`).
struct OutPipe {
  int rfd = -1;
  int wfd = -1;
  OutPipe() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) == 0) {
      rfd = p[0];
      wfd = p[1];
      ::fcntl(wfd, F_SETFD, 0);
    }
  }
  ~OutPipe() {
    close_write();
    if (rfd >= 0) ::close(rfd);
  }
  void close_write() {
    if (wfd >= 0) ::close(wfd);
    wfd = -1;
  }
  // Everything written until every writer closed.
  std::string read_all() {
    close_write();
    std::string out;
    char buf[256];
    for (;;) {
      ssize_t n = ::read(rfd, buf, sizeof(buf));
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
};

// The report line the spawned shell writes: uid gid hostname ping_group_range
// (tab-separated pair) pid tap-seen.
std::string report_cmd(int fd) {
  return "echo \"$(id -u) $(id -g) $(hostname) $(cat /proc/sys/net/ipv4/ping_group_range) $$ "
         "$(grep -c ptap0 /proc/net/dev)\" >&" +
         std::to_string(fd) + "; exit 7";
}
const char kExpected[] = "0 0 pasta-testhost 0\t0 1 1\n";

bool can_spawn() {
  // Probe: a child in new namespaces that exits at once.
  SpawnOptions o;
  o.command = {"/bin/true"};
  auto ch = spawn_ns_child(o);
  if (!ch) return false;
  return ch->release().ok() && ch->wait().value_or(1) == 0;
}

// Spawns the report command, creates "ptap0" in its namespace from here,
// releases it and returns "<output>|<exit code>" or an error text.
std::string spawn_and_report(bool enter_userns_first) {
  OutPipe out;
  SpawnOptions o;
  o.command = {"/bin/sh", "-c", report_cmd(out.wfd)};
  o.host_hostname = "testhost";
  auto ch = spawn_ns_child(o);
  if (!ch) return std::string("spawn: ") + err_name(ch.err());
  if (enter_userns_first) {
    if (Status s = enter_userns(ch->userns_fd()); !s) return std::string("setns user: ") + err_name(s.err());
  }
  NetnsRunner runner(ch->netns_fd());
  if (!runner.init()) return "runner";
  auto tap = open_tap(&runner, "ptap0");
  int tap_fd = tap ? tap->fd : -1;
  if (!tap && tap.err() == Err::access) {
    // /dev/net/tun is not open to everybody on this machine: show that we
    // can configure the namespace with a veth of that name instead.
    Netlink nl;
    if (Status s = nl.open(&runner); !s) return std::string("netlink: ") + err_name(s.err());
    if (Status s = test::add_veth(nl, "ptap0", "zpeer"); !s)
      return std::string("veth: ") + err_name(s.err());
  } else if (!tap) {
    return std::string("tap: ") + err_name(tap.err());
  }
  if (Status s = ch->release(); !s) return std::string("release: ") + err_name(s.err());
  std::string text = out.read_all();
  auto code = ch->wait();
  if (tap_fd >= 0) ::close(tap_fd);
  if (!code) return std::string("wait: ") + err_name(code.err());
  return text + "|" + std::to_string(*code);
}

class Spawn : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!can_spawn()) GTEST_SKIP() << "cannot create user/net/pid namespaces here";
  }
};

TEST_F(Spawn, CommandRunsAsRootOfFreshNamespaces) {
  OutPipe out;
  SpawnOptions o;
  o.command = {"/bin/sh", "-c", report_cmd(out.wfd)};
  o.host_hostname = "testhost";
  auto ch = spawn_ns_child(o);
  ASSERT_TRUE(ch) << err_name(ch.err());
  EXPECT_GT(ch->pid(), 0);
  EXPECT_GE(ch->pidfd(), 0);

  // Our handles are on new namespaces, not ours.
  int my_net = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int my_user = ::open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
  EXPECT_NE(inode_of(ch->netns_fd()), inode_of(my_net));
  EXPECT_NE(inode_of(ch->userns_fd()), inode_of(my_user));
  ::close(my_net);
  ::close(my_user);

  // Before "go" we can work in its network namespace: it has only lo.
  NetnsRunner runner(ch->netns_fd());
  ASSERT_TRUE(runner.init());
  Netlink nl;
  ASSERT_TRUE(nl.open(&runner));
  auto links = nl.links();
  ASSERT_TRUE(links);
  EXPECT_EQ(links->size(), 1u);
  auto tap = open_tap(&runner, "ptap0");
  ASSERT_TRUE(tap);

  // Still waiting: nothing written yet, not exited.
  auto early = ch->try_wait();
  ASSERT_TRUE(early);
  EXPECT_FALSE(early->has_value());

  ASSERT_TRUE(ch->release());
  EXPECT_EQ(out.read_all(), kExpected);
  auto code = ch->wait();
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 7);
  ::close(tap->fd);
}

TEST_F(Spawn, SignalledChildGives128PlusSignal) {
  SpawnOptions o;
  o.command = {"/bin/sleep", "30"};
  auto ch = spawn_ns_child(o);
  ASSERT_TRUE(ch);
  ASSERT_TRUE(ch->release());
  ASSERT_TRUE(ch->kill(SIGKILL));
  auto code = ch->wait();
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 128 + SIGKILL);
  EXPECT_EQ(ch->try_wait().err(), Err::invalid);  // reaped already
}

TEST_F(Spawn, ExecFailureIsReported) {
  SpawnOptions o;
  o.command = {"/nonexistent/command"};
  auto ch = spawn_ns_child(o);
  ASSERT_TRUE(ch);
  Status s = ch->release();
  EXPECT_EQ(s.err(), Err::no_entry);
  EXPECT_EQ(ch->failed_stage(), SpawnStage::exec);
  EXPECT_EQ(ch->failed_errno(), ENOENT);
  auto code = ch->wait();
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1);
}

TEST_F(Spawn, LoginShellWhenNoCommand) {
  OutPipe out;
  int in[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  std::string script = "echo \"$0 $$\" >&" + std::to_string(out.wfd) + "; exit 3\n";
  ASSERT_EQ(::write(in[1], script.data(), script.size()), static_cast<ssize_t>(script.size()));
  ::close(in[1]);
  // The shell reads its commands from stdin: lend it our pipe for the clone.
  int saved = ::dup(0);
  ASSERT_GE(saved, 0);
  ASSERT_EQ(::dup2(in[0], 0), 0);
  SpawnOptions o;
  o.shell = "/bin/sh";
  auto ch = spawn_ns_child(o);
  ::dup2(saved, 0);
  ::close(saved);
  ::close(in[0]);
  ASSERT_TRUE(ch);
  ASSERT_TRUE(ch->release());
  std::string text = out.read_all();
  EXPECT_EQ(text.substr(text.size() >= 7 ? text.size() - 7 : 0), "-sh 1\n") << text;
  EXPECT_EQ(ch->wait().value_or(-1), 3);
}

TEST_F(Spawn, DroppedBeforeReleaseReapsTheChild) {
  int pid = -1;
  {
    SpawnOptions o;
    o.command = {"/bin/sleep", "30"};
    auto ch = spawn_ns_child(o);
    ASSERT_TRUE(ch);
    pid = ch->pid();
    EXPECT_EQ(::kill(pid, 0), 0);
  }
  errno = 0;
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST_F(Spawn, FromRootInInitUserNamespace) {
  EXPECT_EQ(spawn_and_report(false), std::string(kExpected) + "|7");
}

// What the tests (and rootless Podman setups) look like: root inside a user
// namespace of our own, as under `unshare -Ur`.
TEST_F(Spawn, FromRootInsideAUserNamespace) {
  std::string r = test::run_forked([]() -> std::string {
    const std::string uid = std::to_string(::geteuid());
    const std::string gid = std::to_string(::getegid());
    if (::unshare(CLONE_NEWUSER) < 0) return "skip";
    auto put = [](const char* path, const std::string& s) {
      int fd = ::open(path, O_WRONLY | O_CLOEXEC);
      bool ok = fd >= 0 && ::write(fd, s.data(), s.size()) == static_cast<ssize_t>(s.size());
      if (fd >= 0) ::close(fd);
      return ok;
    };
    if (!put("/proc/self/setgroups", "deny") || !put("/proc/self/uid_map", "0 " + uid + " 1") ||
        !put("/proc/self/gid_map", "0 " + gid + " 1"))
      return "maps";
    if (::geteuid() != 0) return "not root in the userns";
    return spawn_and_report(false);
  });
  if (r == "skip") GTEST_SKIP() << "cannot unshare a user namespace";
  EXPECT_EQ(r, std::string(kExpected) + "|7");
}

// Unprivileged: no CAP_SYS_ADMIN over our own user namespace, so the netns
// can only be entered after joining the child's user namespace.
TEST_F(Spawn, Unprivileged) {
  std::string r = test::run_forked([]() -> std::string {
    if (::setgroups(0, nullptr) < 0 || ::setgid(65534) < 0 || ::setuid(65534) < 0) return "skip";
    ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);  // setuid() cleared it
    {
      SpawnOptions o;
      o.command = {"/bin/true"};
      auto probe = spawn_ns_child(o);
      if (!probe) return "skip";
      (void)probe->release();
      (void)probe->wait();
    }
    return spawn_and_report(true);
  });
  if (r == "skip") GTEST_SKIP() << "unprivileged user namespaces are not allowed here";
  EXPECT_EQ(r, std::string(kExpected) + "|7");
}

TEST(PastaHostname, Truncates) {
  EXPECT_EQ(pasta_hostname("box"), "pasta-box");
  std::string longname(100, 'h');
  std::string h = pasta_hostname(longname);
  EXPECT_EQ(h.size(), 64u);
  EXPECT_EQ(h.substr(0, 7), "pasta-h");
  EXPECT_EQ(pasta_hostname(std::string_view("ab\0cd", 5)), "pasta-ab");
}

// --- Join ---------------------------------------------------------------------------------------

TEST(JoinNs, PathForName) {
  EXPECT_EQ(netns_path_for("podman-1"), "/run/netns/podman-1");
  EXPECT_EQ(netns_path_for("/run/user/1000/netns/netns-1"), "/run/user/1000/netns/netns-1");
  EXPECT_EQ(netns_path_for("./rel"), "./rel");
}

TEST(JoinNs, PidAndNetnsModes) {
  if (!can_spawn()) GTEST_SKIP() << "cannot create namespaces here";
  SpawnOptions o;
  o.command = {"/bin/sleep", "30"};
  auto ch = spawn_ns_child(o);
  ASSERT_TRUE(ch);
  ASSERT_TRUE(ch->release());
  const std::string proc = "/proc/" + std::to_string(ch->pid());

  JoinRequest pid_req;
  pid_req.pid = ch->pid();
  auto h = open_namespaces(pid_req);
  ASSERT_TRUE(h);
  EXPECT_EQ(inode_of(h->netns_fd), inode_of(ch->netns_fd()));
  EXPECT_EQ(inode_of(h->userns_fd), inode_of(ch->userns_fd()));
  EXPECT_EQ(h->netns_path, proc + "/ns/net");
  EXPECT_EQ(h->pid, ch->pid());

  pid_req.netns_only = true;
  h = open_namespaces(pid_req);
  ASSERT_TRUE(h);
  EXPECT_GE(h->netns_fd, 0);
  EXPECT_EQ(h->userns_fd, -1);

  // --netns PATH: no userns unless --userns.
  JoinRequest path_req;
  path_req.netns = proc + "/ns/net";
  h = open_namespaces(path_req);
  ASSERT_TRUE(h);
  EXPECT_EQ(inode_of(h->netns_fd), inode_of(ch->netns_fd()));
  EXPECT_EQ(h->userns_fd, -1);
  path_req.userns = proc + "/ns/user";
  h = open_namespaces(path_req);
  ASSERT_TRUE(h);
  EXPECT_EQ(inode_of(h->userns_fd), inode_of(ch->userns_fd()));
  NsHandles moved = std::move(*h);
  EXPECT_GE(moved.netns_fd, 0);
  EXPECT_EQ(h->netns_fd, -1);

  // Wrong kinds and missing files.
  JoinRequest bad;
  bad.netns = proc + "/ns/user";
  EXPECT_EQ(open_namespaces(bad).err(), Err::invalid);
  bad.netns = "/proc/self/cmdline";
  EXPECT_EQ(open_namespaces(bad).err(), Err::invalid);
  bad.netns = "/nonexistent/netns";
  EXPECT_EQ(open_namespaces(bad).err(), Err::no_entry);
  bad.netns = proc + "/ns/net";
  bad.userns = proc + "/ns/net";
  EXPECT_EQ(open_namespaces(bad).err(), Err::invalid);
  EXPECT_EQ(open_namespaces(JoinRequest{}).err(), Err::invalid);

  ASSERT_TRUE(ch->kill(SIGKILL));
  EXPECT_EQ(ch->wait().value_or(0), 128 + SIGKILL);
  JoinRequest gone;
  gone.pid = ch->pid();
  EXPECT_FALSE(open_namespaces(gone));
}

// --- --config-net --------------------------------------------------------------------------------

class ConfigNet : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!host.open() || !guest.open()) GTEST_SKIP() << "cannot create network namespaces here";
    std::string e = test::build_template(host.nl);
    ASSERT_TRUE(e.empty()) << e;
    tmpl = host.ifindex("tmpl0");
    auto t = open_tap(guest.runner.get(), "tap0");
    ASSERT_TRUE(t) << err_name(t.err());
    tap = std::move(*t);
  }
  void TearDown() override {
    if (tap.fd >= 0) ::close(tap.fd);
  }
  TestNs host;
  TestNs guest;
  u32 tmpl = 0;
  TapDevice tap;
};

TEST_F(ConfigNet, CopiesTheTemplate) {
  NsNetConfig cfg;
  cfg.ifindex = tap.ifindex;
  cfg.config_net = true;
  cfg.mtu = 65520;
  cfg.v4.enabled = true;
  cfg.v4.template_ifindex = tmpl;
  cfg.v6.enabled = true;
  cfg.v6.template_ifindex = tmpl;
  auto res = configure_ns_net(host.nl, guest.nl, cfg);
  ASSERT_TRUE(res) << err_name(res.err());
  EXPECT_EQ(res->mac, tap.mac);
  ASSERT_TRUE(res->ll);
  EXPECT_TRUE(res->ll->is_link_local());
  EXPECT_EQ(res->routes4.unresolved, 0u);
  EXPECT_GE(res->routes4.passes, 2u);

  auto lo = guest.nl.link(std::string_view("lo"));
  ASSERT_TRUE(lo);
  EXPECT_TRUE(lo->up());
  auto l = guest.nl.link(tap.ifindex);
  ASSERT_TRUE(l);
  EXPECT_TRUE(l->up());
  EXPECT_FALSE(l->noarp());
  EXPECT_EQ(l->mtu, 65520u);

  auto v4 = guest.nl.addrs(AF_INET, tap.ifindex);
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->size(), 2u);
  EXPECT_NE(find_addr(*v4, a4(198, 51, 100, 2)), nullptr);
  EXPECT_NE(find_addr(*v4, a4(198, 51, 100, 130)), nullptr);
  auto v6 = guest.nl.addrs(AF_INET6, tap.ifindex);
  ASSERT_TRUE(v6);
  EXPECT_NE(find_addr(*v6, a6("2001:db8:1::2")), nullptr);
  EXPECT_NE(find_addr(*v6, a6("2001:db8:2::2")), nullptr);
  EXPECT_EQ(find_addr(*v6, a6("2001:db8:3::2")), nullptr);  // deprecated on the host
  const NlAddr* ll = find_addr(*v6, InAny::from(*res->ll));
  ASSERT_NE(ll, nullptr);
  EXPECT_TRUE(ll->nodad());
  // Tentative until the kernel's link watcher marks the tap operational
  // (asynchronous, up to a second); then DAD sees NODAD and completes
  // without probing.
  const Instant t0 = monotonic_now();
  bool settled = false;
  while (!settled && monotonic_now() - t0 < Duration::seconds(3)) {
    auto now6 = guest.nl.addrs(AF_INET6, tap.ifindex);
    ASSERT_TRUE(now6);
    settled = true;
    for (const NlAddr& a : *now6) settled = settled && !a.tentative();
    if (!settled) ::usleep(5000);
  }
  EXPECT_TRUE(settled);

  auto r4 = guest.nl.routes(AF_INET);
  ASSERT_TRUE(r4);
  const NlRoute* d4 = find_route(*r4, {}, 0);
  ASSERT_NE(d4, nullptr);
  EXPECT_EQ(d4->oif, tap.ifindex);
  EXPECT_EQ(d4->gw.v4(), Ipv4Addr::of(198, 51, 100, 1));
  ASSERT_NE(find_route(*r4, a4(192, 0, 2, 0), 24), nullptr);
  ASSERT_NE(find_route(*r4, a4(203, 0, 113, 0), 24), nullptr);
  EXPECT_EQ(find_route(*r4, a4(192, 0, 2, 128), 25), nullptr);
  for (const NlRoute& r : *r4) EXPECT_EQ(r.oif, tap.ifindex);

  auto r6 = guest.nl.routes(AF_INET6);
  ASSERT_TRUE(r6);
  const NlRoute* d6 = find_route(*r6, {}, 0);
  ASSERT_NE(d6, nullptr);
  EXPECT_EQ(d6->gw.v6(), *parse_ipv6("2001:db8:1::1"));
  EXPECT_EQ(d6->oif, tap.ifindex);
  ASSERT_NE(find_route(*r6, a6("2001:db8:99::"), 48), nullptr);
  EXPECT_EQ(find_route(*r6, a6("2001:db8:77::"), 48), nullptr);

  // What discovery in the namespace now sees matches the host's template.
  auto seen = discover_host(guest.nl, {});
  auto orig = discover_host(host.nl, {});
  ASSERT_TRUE(seen);
  ASSERT_TRUE(orig);
  EXPECT_EQ(seen->v4.addr, orig->v4.addr);
  EXPECT_EQ(seen->v4.gateway, orig->v4.gateway);
  EXPECT_EQ(seen->v6.addr, orig->v6.addr);
  EXPECT_EQ(seen->v6.gateway, orig->v6.gateway);
}

TEST_F(ConfigNet, SetsOneAddressAndDefaultRoutes) {
  NsNetConfig cfg;
  cfg.ifindex = tap.ifindex;
  cfg.config_net = true;
  cfg.mac = MacAddr{{0x02, 0x00, 0x00, 0x00, 0x00, 0x42}};
  cfg.v4.enabled = true;
  cfg.v4.copy_addrs = false;
  cfg.v4.addr = a4(192, 0, 2, 10);
  cfg.v4.prefix_len = 24;
  cfg.v4.copy_routes = false;
  cfg.v4.gateway = a4(192, 0, 2, 1);
  cfg.v6.enabled = true;
  cfg.v6.copy_addrs = false;
  cfg.v6.addr = a6("2001:db8:5::10");  // prefix 0: /64 like upstream
  cfg.v6.copy_routes = false;
  cfg.v6.gateway = a6("fe80::1");
  auto res = configure_ns_net(host.nl, guest.nl, cfg);
  ASSERT_TRUE(res) << err_name(res.err());
  EXPECT_EQ(res->mac, *cfg.mac);
  auto l = guest.nl.link(tap.ifindex);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->mac, *cfg.mac);
  EXPECT_NE(l->mtu, 65520u);  // mtu 0: left alone

  auto v4 = guest.nl.addrs(AF_INET, tap.ifindex);
  ASSERT_TRUE(v4);
  ASSERT_EQ(v4->size(), 1u);
  EXPECT_EQ(v4->front().v4(), Ipv4Addr::of(192, 0, 2, 10));
  EXPECT_EQ(v4->front().prefix_len, 24u);
  auto v6 = guest.nl.addrs(AF_INET6, tap.ifindex);
  ASSERT_TRUE(v6);
  const NlAddr* g = find_addr(*v6, a6("2001:db8:5::10"));
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->prefix_len, 64u);
  EXPECT_TRUE(g->nodad());

  auto r4 = guest.nl.routes(AF_INET);
  ASSERT_TRUE(r4);
  const NlRoute* d4 = find_route(*r4, {}, 0);
  ASSERT_NE(d4, nullptr);
  EXPECT_EQ(d4->gw.v4(), Ipv4Addr::of(192, 0, 2, 1));
  EXPECT_EQ(find_route(*r4, a4(203, 0, 113, 0), 24), nullptr);  // nothing copied
  auto r6 = guest.nl.routes(AF_INET6);
  ASSERT_TRUE(r6);
  const NlRoute* d6 = find_route(*r6, {}, 0);
  ASSERT_NE(d6, nullptr);
  EXPECT_EQ(d6->gw.v6(), *parse_ipv6("fe80::1"));

  // Applying the same configuration again is harmless.
  EXPECT_TRUE(configure_ns_net(host.nl, guest.nl, cfg));
}

TEST_F(ConfigNet, WithoutConfigNetOnlyLoopbackComesUp) {
  NsNetConfig cfg;
  cfg.ifindex = tap.ifindex;
  cfg.v4.enabled = true;
  cfg.v4.template_ifindex = tmpl;
  auto res = configure_ns_net(host.nl, guest.nl, cfg);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->mac, tap.mac);
  EXPECT_TRUE(guest.nl.link(std::string_view("lo"))->up());
  auto l = guest.nl.link(tap.ifindex);
  ASSERT_TRUE(l);
  EXPECT_FALSE(l->up());
  auto v4 = guest.nl.addrs(AF_INET, tap.ifindex);
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->empty());
}

TEST_F(ConfigNet, Ipv4OnlyLeavesNoarpAlone) {
  NsNetConfig cfg;
  cfg.ifindex = tap.ifindex;
  cfg.config_net = true;
  cfg.v4.enabled = true;
  cfg.v4.template_ifindex = tmpl;
  ASSERT_TRUE(configure_ns_net(host.nl, guest.nl, cfg));
  auto l = guest.nl.link(tap.ifindex);
  ASSERT_TRUE(l);
  EXPECT_TRUE(l->up());
  EXPECT_FALSE(l->noarp());
  auto v6 = guest.nl.addrs(AF_INET6, tap.ifindex);
  ASSERT_TRUE(v6);
  for (const NlAddr& a : *v6) EXPECT_TRUE(a.link_scope());  // no global copied
}


// --- NetnsVisit -------------------------------------------------------------------------------

ino_t netns_ino(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

ino_t self_netns_ino() {
  int fd = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  ino_t i = netns_ino(fd);
  if (fd >= 0) ::close(fd);
  return i;
}

bool write_maps(const std::string& uid, const std::string& gid) {
  auto put = [](const char* path, const std::string& s) {
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && ::write(fd, s.data(), s.size()) == static_cast<ssize_t>(s.size());
    if (fd >= 0) ::close(fd);
    return ok;
  };
  return put("/proc/self/setgroups", "deny") && put("/proc/self/uid_map", "0 " + uid + " 1") &&
         put("/proc/self/gid_map", "0 " + gid + " 1");
}

// Root over its own netns (here: root in a user namespace that owns it, as
// under unshare -Urn): the visit goes in and comes back.
TEST(NetnsVisit, EntersAndComesBack) {
  std::string r = test::run_forked([]() -> std::string {
    const std::string uid = std::to_string(::geteuid());
    const std::string gid = std::to_string(::getegid());
    if (::unshare(CLONE_NEWUSER) < 0 || !write_maps(uid, gid)) return "skip";
    if (::unshare(CLONE_NEWNET) < 0) return "skip";
    int home = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (::unshare(CLONE_NEWNET) < 0) return "skip";
    int target = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (::setns(home, CLONE_NEWNET) < 0) return "setns home";
    NetnsVisit v;
    if (!v.enter(target)) return "not entered";
    if (!v.inside() || self_netns_ino() != netns_ino(target)) return "not inside";
    if (!v.leave()) return "leave failed";
    if (v.inside() || self_netns_ino() != netns_ino(home)) return "not back";
    return "ok";
  });
  if (r == "skip") GTEST_SKIP() << "cannot create user and network namespaces here";
  EXPECT_EQ(r, "ok");
}

// After joining a user namespace that does not own our netns (rootless
// Podman: pasta joins the container's), there is no way back: no visit.
TEST(NetnsVisit, RefusesWithoutAWayBack) {
  std::string r = test::run_forked([]() -> std::string {
    const std::string uid = std::to_string(::geteuid());
    const std::string gid = std::to_string(::getegid());
    if (::unshare(CLONE_NEWUSER) < 0 || !write_maps(uid, gid)) return "skip";
    const ino_t home = self_netns_ino();
    // A netns owned by our new user namespace, made by a child.
    int up[2];
    int down[2];
    if (::pipe2(up, O_CLOEXEC) < 0 || ::pipe2(down, O_CLOEXEC) < 0) return "pipe";
    pid_t c = ::fork();
    if (c == 0) {
      char x = 0;
      if (::unshare(CLONE_NEWNET) < 0 || ::write(up[1], "n", 1) != 1) ::_exit(1);
      const ssize_t got = ::read(down[0], &x, 1);  // until the parent is done
      ::_exit(got == 1 ? 0 : 1);
    }
    ::close(up[1]);
    char x = 0;
    if (::read(up[0], &x, 1) != 1) return "skip";
    const std::string path = "/proc/" + std::to_string(c) + "/ns/net";
    int target = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    NetnsVisit v;
    const bool entered = v.enter(target);
    const ino_t now = self_netns_ino();
    if (::write(down[1], "x", 1) != 1) ::close(down[1]);  // EOF ends the child's read as well
    ::waitpid(c, nullptr, 0);
    if (entered || v.inside()) return "entered";
    return now == home ? "ok" : "moved";
  });
  if (r == "skip") GTEST_SKIP() << "cannot create user and network namespaces here";
  EXPECT_EQ(r, "ok");
}

}  // namespace
}  // namespace passt::os
