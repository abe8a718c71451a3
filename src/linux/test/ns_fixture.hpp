// Helpers for the netlink / namespace tests: namespaces the test creates
// (never the real root namespace's network), veth pairs and routes built
// with our own netlink client, and running a test body in a forked child
// (for user/mount namespace changes that must not leak into the test
// process).
#pragma once

#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "linux/netlink.hpp"
#include "linux/netns.hpp"

namespace passt::os::test {

// A fresh network namespace (lo down), made by a helper thread.  -1 if
// namespaces cannot be created here.
inline int new_netns() {
  int fd = -1;
  std::thread t([&fd] {
    if (::unshare(CLONE_NEWNET) < 0) return;
    fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  });
  t.join();
  return fd;
}

// A test namespace with a runner and a netlink socket inside it.
struct TestNs {
  int fd = -1;
  std::unique_ptr<NetnsRunner> runner;
  Netlink nl;

  ~TestNs() {
    nl.close();
    runner.reset();
    if (fd >= 0) ::close(fd);
  }
  bool open() {
    fd = new_netns();
    if (fd < 0) return false;
    runner = std::make_unique<NetnsRunner>(fd);
    if (!runner->init()) return false;
    return nl.open(runner.get()).ok();
  }
  u32 ifindex(const char* name) {
    auto l = nl.link(std::string_view(name));
    return l ? l->index : 0;
  }
};

inline u64 inode_of(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) < 0) return 0;
  return st.st_ino;
}

// veth pair `name` <-> `peer`; the peer goes to `peer_ns_fd` if >= 0.
inline Status add_veth(Netlink& nl, const char* name, const char* peer, int peer_ns_fd = -1) {
  NlBuilder b = nl.builder(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  ifinfomsg ifi{};
  b.put(&ifi, sizeof(ifi));
  b.put_str(IFLA_IFNAME, name);
  std::size_t li = b.begin_nest(IFLA_LINKINFO);
  b.put_str(IFLA_INFO_KIND, "veth");
  std::size_t data = b.begin_nest(IFLA_INFO_DATA);
  std::size_t p = b.begin_nest(VETH_INFO_PEER);
  b.put(&ifi, sizeof(ifi));
  b.put_str(IFLA_IFNAME, peer);
  if (peer_ns_fd >= 0) b.put_u32(IFLA_NET_NS_FD, static_cast<u32>(peer_ns_fd));
  b.end_nest(p);
  b.end_nest(data);
  b.end_nest(li);
  return nl.request(b);
}

inline InAny a4(u8 a, u8 b, u8 c, u8 d) { return InAny::from(Ipv4Addr::of(a, b, c, d)); }
inline InAny a6(const char* s) { return InAny::from(*parse_ipv6(s)); }

// An address with optional lifetimes (preferred 0 makes it deprecated).
inline Status add_addr_full(Netlink& nl, u32 ifi, int af, const InAny& a, u8 plen, u32 flags,
                            bool deprecated = false) {
  NlBuilder b = nl.builder(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  ifaddrmsg ifa{};
  ifa.ifa_family = static_cast<u8>(af);
  ifa.ifa_prefixlen = plen;
  ifa.ifa_index = ifi;
  b.put(&ifa, sizeof(ifa));
  b.put_inany(IFA_LOCAL, af, a);
  b.put_inany(IFA_ADDRESS, af, a);
  b.put_u32(IFA_FLAGS, flags);
  if (deprecated) {
    ifa_cacheinfo ci{};
    ci.ifa_prefered = 0;
    ci.ifa_valid = 0xffffffffu;
    b.put_attr(IFA_CACHEINFO, &ci, sizeof(ci));
  }
  return nl.request(b);
}

struct TestNexthop {
  InAny gw;
  u8 weight;  // 1..256
};

// Adds a route: `dst`/`plen` via `gw` (or none: scope link) through `ifi`,
// or a multipath route over `nhs`.
inline Status add_route(Netlink& nl, int af, const InAny& dst, u8 plen, u32 ifi,
                        const InAny* gw, const std::vector<TestNexthop>& nhs = {}) {
  NlBuilder b = nl.builder(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  rtmsg rtm{};
  rtm.rtm_family = static_cast<u8>(af);
  rtm.rtm_dst_len = plen;
  rtm.rtm_table = RT_TABLE_MAIN;
  rtm.rtm_protocol = RTPROT_BOOT;
  rtm.rtm_scope = (gw == nullptr && nhs.empty()) ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  rtm.rtm_type = RTN_UNICAST;
  b.put(&rtm, sizeof(rtm));
  if (plen > 0) b.put_inany(RTA_DST, af, dst);
  if (nhs.empty()) {
    b.put_u32(RTA_OIF, ifi);
    if (gw != nullptr) b.put_inany(RTA_GATEWAY, af, *gw);
  } else {
    std::size_t mp = b.begin_nest(RTA_MULTIPATH);
    for (const TestNexthop& nh : nhs) {
      std::size_t at = b.size();
      rtnexthop h{};
      h.rtnh_hops = static_cast<u8>(nh.weight - 1);
      h.rtnh_ifindex = static_cast<int>(ifi);
      b.put(&h, sizeof(h));
      b.put_inany(RTA_GATEWAY, af, nh.gw);
      h.rtnh_len = static_cast<u16>(b.size() - at);
      std::memcpy(b.bytes().data() + at, &h, sizeof(h));
    }
    b.end_nest(mp);
  }
  return nl.request(b);
}

// The "host" the tests copy from, in a test namespace:
//   tmpl0 <-> tpeer0 (veth, both in the namespace, both up), tmpl0 MTU 1400
//   tmpl0: 198.51.100.2/24, 198.51.100.130/25,
//          2001:db8:1::2/64, 2001:db8:2::2/56, 2001:db8:3::2/96 (deprecated)
//   IPv4 routes: default via 198.51.100.1 dev tmpl0
//                203.0.113.0/24 dev tmpl0 scope link
//                192.0.2.0/24 via 203.0.113.1 dev tmpl0 (needs the one above)
//                192.0.2.128/25 dev tpeer0 (another interface: never copied)
//   IPv6 routes: default via 2001:db8:1::1 dev tmpl0
//                2001:db8:99::/48 via fe80::99 dev tmpl0
//                2001:db8:77::/48 dev tpeer0
// Returns an empty string or what failed.
inline std::string build_template(Netlink& nl) {
  auto step = [](const char* what, Status s) -> std::string {
    return s ? std::string() : std::string(what) + ": " + err_name(s.err());
  };
  std::string e;
  if (!(e = step("veth", add_veth(nl, "tmpl0", "tpeer0"))).empty()) return e;
  auto t = nl.link(std::string_view("tmpl0"));
  auto p = nl.link(std::string_view("tpeer0"));
  if (!t || !p) return "veth not found";
  const u32 ti = t->index;
  const u32 pi = p->index;
  const u32 nodad = Netlink::nodad_flag();
  const InAny gw4 = a4(198, 51, 100, 1);
  const InAny via4 = a4(203, 0, 113, 1);
  const InAny gw6 = a6("2001:db8:1::1");
  const InAny ll99 = a6("fe80::99");
  const std::pair<const char*, Status> steps[] = {
      {"mtu", nl.set_mtu(ti, 1400)},
      {"up", nl.set_link_up(ti, true)},
      {"peer up", nl.set_link_up(pi, true)},
      {"v4 a", add_addr_full(nl, ti, AF_INET, a4(198, 51, 100, 2), 24, 0)},
      {"v4 b", add_addr_full(nl, ti, AF_INET, a4(198, 51, 100, 130), 25, 0)},
      {"v6 a", add_addr_full(nl, ti, AF_INET6, a6("2001:db8:1::2"), 64, nodad)},
      {"v6 b", add_addr_full(nl, ti, AF_INET6, a6("2001:db8:2::2"), 56, nodad)},
      {"v6 c", add_addr_full(nl, ti, AF_INET6, a6("2001:db8:3::2"), 96, nodad, true)},
      {"r4 default", add_route(nl, AF_INET, a4(0, 0, 0, 0), 0, ti, &gw4)},
      {"r4 link", add_route(nl, AF_INET, a4(203, 0, 113, 0), 24, ti, nullptr)},
      {"r4 dep", add_route(nl, AF_INET, a4(192, 0, 2, 0), 24, ti, &via4)},
      {"r4 other", add_route(nl, AF_INET, a4(192, 0, 2, 128), 25, pi, nullptr)},
      {"r6 default", add_route(nl, AF_INET6, a6("::"), 0, ti, &gw6)},
      {"r6 ll gw", add_route(nl, AF_INET6, a6("2001:db8:99::"), 48, ti, &ll99)},
      {"r6 other", add_route(nl, AF_INET6, a6("2001:db8:77::"), 48, pi, nullptr)},
  };
  for (const auto& st : steps)
    if (!(e = step(st.first, st.second)).empty()) return e;
  return {};
}

// Waits (bounded) until `ifi` has an IPv6 link-local address: the kernel
// adds it once the link has a carrier, which veth pairs get asynchronously.
inline bool wait_ll(Netlink& nl, u32 ifi, int timeout_ms = 3000) {
  for (int waited = 0; waited <= timeout_ms; waited += 10) {
    auto as = nl.addrs(AF_INET6, ifi);
    if (as)
      for (const NlAddr& a : *as)
        if (a.link_scope()) return true;
    ::usleep(10 * 1000);
  }
  return false;
}

// Route lookup helpers on a dump.
inline const NlRoute* find_route(const std::vector<NlRoute>& rs, const InAny& dst, u8 plen) {
  for (const NlRoute& r : rs)
    if (r.dst_len == plen && (plen == 0 || r.dst == dst)) return &r;
  return nullptr;
}
inline const NlAddr* find_addr(const std::vector<NlAddr>& as, const InAny& a) {
  for (const NlAddr& x : as)
    if (x.addr == a) return &x;
  return nullptr;
}

// Runs `body` in a forked child; returns what it returned (or a note that it
// crashed).  For tests that change credentials or namespaces of the whole
// process.  The child never returns into the test framework.
template <class F>
std::string run_forked(F body) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(p[0]);
    std::string r = body();
    std::size_t off = 0;
    while (off < r.size()) {
      ssize_t n = ::write(p[1], r.data() + off, r.size() - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(p[0], buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(p[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  if (!WIFEXITED(st)) return "child crashed: " + out;
  return out;
}

}  // namespace passt::os::test
