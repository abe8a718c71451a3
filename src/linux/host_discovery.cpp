#include "linux/host_discovery.hpp"

#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <optional>
#include <utility>
#include <vector>

#include "linux/os_error.hpp"
#include "util/log.hpp"

namespace passt::os {

namespace {

const char* af_name(int af) noexcept { return af == AF_INET ? "IPv4" : "IPv6"; }

bool link_local_prefix(const NlRoute& r) noexcept {
  if (!r.has_dst) return false;
  if (r.af == AF_INET) return r.dst_len >= 16 && r.dst.v4().is_link_local();
  return r.dst_len >= 10 && r.dst.v6().is_link_local();
}

// Resolves the template interface of one family; `name` may be empty.  The
// route dump it reads is kept in `routes` for the caller (one dump less).
Result<u32> template_ifindex(Netlink& nl, int af, std::string_view name,
                             std::optional<std::vector<NlRoute>>& routes_out) {
  if (!name.empty()) {
    auto l = nl.link(name);
    if (!l) {
      LOG_ERR("Invalid interface name %.*s: %s", static_cast<int>(name.size()), name.data(),
              err_name(l.err()));
      return l.err();
    }
    return l->index;
  }
  auto routes = nl.routes(af);
  if (!routes) return routes.err();
  std::size_t ndef = 0;
  std::size_t nother = 0;
  u32 ifi = pick_template_ifindex(*routes, af, &ndef, &nother);
  routes_out.emplace(std::move(*routes));
  if (ifi == 0)
    LOG_DEBUG("No interfaces with usable %s routes", af_name(af));
  else if (ndef > 1)
    LOG_INFO("Multiple default %s routes, picked first", af_name(af));
  else if (ndef == 0 && nother > 1)
    LOG_INFO("Multiple interfaces with %s routes, use -i to disambiguate", af_name(af));
  return ifi;
}

// Gateway of the first default route through `ifi`.
template <class Addr>
std::optional<Addr> default_gateway(const std::vector<NlRoute>& routes, u32 ifi) {
  for (const NlRoute& r : routes) {
    if (!r.is_default() || r.type != RTN_UNICAST || !r.uses(ifi)) continue;
    const InAny* gw = r.best_gateway();
    if (gw == nullptr) continue;
    if constexpr (sizeof(Addr) == 4)
      return gw->v4();
    else
      return gw->v6();
  }
  return std::nullopt;
}

Status fill_link(Netlink& nl, u32 ifi, std::string& name, u32& mtu, std::optional<MacAddr>& mac) {
  auto l = nl.link(ifi);
  if (!l) return l.err();
  name = l->name;
  mtu = l->mtu;
  if (l->has_mac && !l->mac.is_zero()) mac = l->mac;
  return {};
}

Status discover4(Netlink& nl, const DiscoveryRequest& req, HostTemplate4& t) {
  const std::string& name = !req.ifname.empty() ? req.ifname : req.outbound_if4;
  std::optional<std::vector<NlRoute>> routes;
  auto ifi = template_ifindex(nl, AF_INET, name, routes);
  if (!ifi) return ifi.err();
  t.ifindex = *ifi;
  if (t.ifindex == 0) return {};
  if (Status s = fill_link(nl, t.ifindex, t.ifname, t.mtu, t.mac); !s) return s;

  if (!routes) {
    auto r = nl.routes(AF_INET);
    if (!r) return r.err();
    routes.emplace(std::move(*r));
  }
  t.gateway = default_gateway<Ipv4Addr>(*routes, t.ifindex);

  auto addrs = nl.addrs(AF_INET, t.ifindex);
  if (!addrs) return addrs.err();
  for (const NlAddr& a : *addrs) {
    if (!t.addr || a.prefix_len > t.prefix_len) {
      t.addr = a.v4();
      t.prefix_len = a.prefix_len;
    }
  }
  t.usable = t.addr.has_value() || req.addr4_given;
  return {};
}

Status discover6(Netlink& nl, const DiscoveryRequest& req, HostTemplate6& t) {
  const std::string& name = !req.ifname.empty() ? req.ifname : req.outbound_if6;
  std::optional<std::vector<NlRoute>> routes;
  auto ifi = template_ifindex(nl, AF_INET6, name, routes);
  if (!ifi) return ifi.err();
  t.ifindex = *ifi;
  if (t.ifindex == 0) return {};
  if (Status s = fill_link(nl, t.ifindex, t.ifname, t.mtu, t.mac); !s) return s;

  if (!routes) {
    auto r = nl.routes(AF_INET6);
    if (!r) return r.err();
    routes.emplace(std::move(*r));
  }
  t.gateway = default_gateway<Ipv6Addr>(*routes, t.ifindex);

  auto addrs = nl.addrs(AF_INET6, t.ifindex);
  if (!addrs) return addrs.err();
  bool ll_good = false;
  constexpr u32 kDadFailed = 0x08;  // IFA_F_DADFAILED
  for (const NlAddr& a : *addrs) {
    if (a.link_scope()) {
      const bool good = !a.tentative() && !a.deprecated();
      if (!t.ll || (good && !ll_good)) {
        t.ll = a.v6();
        ll_good = good;
      }
      continue;
    }
    if (a.scope != RT_SCOPE_UNIVERSE || a.deprecated() || (a.flags & kDadFailed) != 0) continue;
    if (!t.addr || a.prefix_len > t.prefix_len) {
      t.addr = a.v6();
      t.prefix_len = a.prefix_len;
    }
  }
  const bool ll_gw = t.gateway && t.gateway->is_link_local();
  t.usable = (t.addr.has_value() || req.addr6_given) && (t.ll.has_value() || ll_gw);
  return {};
}

}  // namespace

std::string HostTemplate::ns_ifname() const {
  if (v4.usable && !v4.ifname.empty()) return v4.ifname;
  if (v6.usable && !v6.ifname.empty()) return v6.ifname;
  return std::string(LocalMode::kIfname);
}

u32 pick_template_ifindex(const std::vector<NlRoute>& routes, int af, std::size_t* ndefault,
                          std::size_t* nother) noexcept {
  u32 def = 0;
  u32 any = 0;
  std::size_t ndef = 0;
  std::size_t nany = 0;
  for (const NlRoute& r : routes) {
    if (r.af != af || r.type != RTN_UNICAST) continue;
    u32 ifi = r.oif != 0 ? r.oif : (r.nexthops.empty() ? 0u : r.nexthops.front().ifindex);
    if (ifi == 0 || link_local_prefix(r)) continue;
    if (r.is_default()) {
      ndef++;
      if (def == 0) def = ifi;
    } else {
      nany++;
      if (any == 0) any = ifi;
    }
  }
  if (ndefault != nullptr) *ndefault = ndef;
  if (nother != nullptr) *nother = nany;
  return def != 0 ? def : any;
}

Result<HostTemplate> discover_host(Netlink& nl, const DiscoveryRequest& req) {
  HostTemplate t;
  if (req.want4) {
    if (Status s = discover4(nl, req, t.v4); !s) return s.err();
    if (!t.v4.usable)
      LOG_DEBUG(t.v4.ifindex ? "IPv4: template interface has no address"
                             : "Failed to detect external interface for IPv4");
  }
  if (req.want6) {
    if (Status s = discover6(nl, req, t.v6); !s) return s.err();
    if (!t.v6.usable)
      LOG_DEBUG(t.v6.ifindex ? "IPv6: template interface lacks a global or link-local address"
                             : "Failed to detect external interface for IPv6");
  }
  t.local_mode = !t.v4.usable && !t.v6.usable;
  if (t.local_mode) LOG_INFO("No external interface as template, switch to local mode");
  return t;
}

// --- Ephemeral ports -------------------------------------------------------------------------

namespace {
bool parse_port(std::string_view& s, u16& out) noexcept {
  std::size_t i = 0;
  u32 v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    v = v * 10 + static_cast<u32>(s[i] - '0');
    if (v > 65535) return false;
    i++;
  }
  if (i == 0) return false;
  out = static_cast<u16>(v);
  s.remove_prefix(i);
  return true;
}
bool blank(char c) noexcept { return c == ' ' || c == '\t'; }
}  // namespace

std::optional<PortRange> parse_port_range(std::string_view s) noexcept {
  PortRange r;
  if (!parse_port(s, r.first)) return std::nullopt;
  if (s.empty() || !blank(s.front())) return std::nullopt;
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  if (!parse_port(s, r.last)) return std::nullopt;
  if (!s.empty() && s != "\n") return std::nullopt;
  if (r.first == 0 || r.first > r.last) return std::nullopt;
  return r;
}

PortRange read_ephemeral_range(const char* path) noexcept {
  PortRange fallback;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fallback;
  std::array<char, 64> buf{};
  ssize_t n = -1;
  do {
    n = ::read(fd, buf.data(), buf.size());
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return fallback;
  auto r = parse_port_range(std::string_view(buf.data(), static_cast<std::size_t>(n)));
  return r ? *r : fallback;
}

}  // namespace passt::os
