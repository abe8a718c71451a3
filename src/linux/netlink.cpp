#include "linux/netlink.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "linux/os_error.hpp"
#include "util/log.hpp"

namespace passt::os {

namespace {

constexpr std::size_t align4(std::size_t n) noexcept { return (n + 3) & ~std::size_t{3}; }
constexpr std::size_t kHdr = sizeof(nlmsghdr);  // 16, already aligned
constexpr int kRecvTimeoutSec = 5;

static_assert(sizeof(nlmsghdr) == 16 && sizeof(rtattr) == 4 && sizeof(ifinfomsg) == 16 &&
              sizeof(ifaddrmsg) == 8 && sizeof(rtmsg) == 12 && sizeof(rtnexthop) == 8);

template <class T>
T load_struct(Bytes b) noexcept {
  T v{};
  std::memcpy(&v, b.data(), sizeof(T));
  return v;
}

template <class T>
void store_struct(MutBytes b, const T& v) noexcept {
  std::memcpy(b.data(), &v, sizeof(T));
}

u32 load_u32(Bytes b) noexcept {
  u32 v = 0;
  std::memcpy(&v, b.data(), 4);
  return v;
}

// One attribute: its full type (with NLA_F_* bits, for verbatim copies), the
// type without them, and its payload.
struct Attr {
  u16 raw_type = 0;
  u16 type = 0;
  Bytes data;
};

// Walks a run of attributes.  A length below the header or beyond the run
// stops the walk and marks it malformed; fewer than 4 trailing bytes are
// padding.
class AttrIter {
 public:
  explicit AttrIter(Bytes b) noexcept : rest_(b) {}
  bool next(Attr& a) noexcept {
    if (rest_.size() < sizeof(rtattr)) return false;
    auto h = load_struct<rtattr>(rest_);
    if (h.rta_len < sizeof(rtattr) || h.rta_len > rest_.size()) {
      bad_ = true;
      return false;
    }
    a.raw_type = h.rta_type;
    a.type = static_cast<u16>(h.rta_type & NLA_TYPE_MASK);
    a.data = rest_.subspan(sizeof(rtattr), h.rta_len - sizeof(rtattr));
    rest_ = rest_.subspan(std::min(align4(h.rta_len), rest_.size()));
    return true;
  }
  bool malformed() const noexcept { return bad_; }

 private:
  Bytes rest_;
  bool bad_ = false;
};

Result<InAny> addr_of(int af, Bytes d) noexcept {
  if (af == AF_INET && d.size() == 4) return InAny::from(Ipv4Addr::load(d.data()));
  if (af == AF_INET6 && d.size() == 16) return InAny::from(Ipv6Addr::load(d.data()));
  return Err::malformed;
}

Result<std::vector<NlNexthop>> parse_multipath(int af, Bytes b) {
  std::vector<NlNexthop> out;
  // Bounded by the attribute's length: every step consumes >= 8 bytes.
  while (b.size() >= sizeof(rtnexthop)) {
    auto h = load_struct<rtnexthop>(b);
    if (h.rtnh_len < sizeof(rtnexthop) || h.rtnh_len > b.size()) return Err::malformed;
    NlNexthop nh;
    nh.ifindex = static_cast<u32>(h.rtnh_ifindex);
    nh.hops = h.rtnh_hops;
    nh.flags = h.rtnh_flags;
    AttrIter it(b.subspan(sizeof(rtnexthop), h.rtnh_len - sizeof(rtnexthop)));
    Attr a;
    while (it.next(a)) {
      if (a.type == RTA_GATEWAY) {
        auto g = addr_of(af, a.data);
        if (!g) return g.err();
        nh.gw = *g;
        nh.has_gw = true;
      }
    }
    if (it.malformed()) return Err::malformed;
    out.push_back(nh);
    b = b.subspan(std::min(align4(h.rtnh_len), b.size()));
  }
  return out;
}

}  // namespace

// --- Result types --------------------------------------------------------------------

bool NlLink::up() const noexcept { return (flags & IFF_UP) != 0; }
bool NlLink::noarp() const noexcept { return (flags & IFF_NOARP) != 0; }
bool NlLink::loopback() const noexcept { return (flags & IFF_LOOPBACK) != 0; }

bool NlAddr::deprecated() const noexcept { return (flags & IFA_F_DEPRECATED) != 0; }
bool NlAddr::tentative() const noexcept { return (flags & IFA_F_TENTATIVE) != 0; }
bool NlAddr::nodad() const noexcept { return (flags & IFA_F_NODAD) != 0; }
bool NlAddr::permanent() const noexcept { return (flags & IFA_F_PERMANENT) != 0; }
bool NlAddr::link_scope() const noexcept { return scope == RT_SCOPE_LINK; }

bool NlRoute::uses(u32 ifindex) const noexcept {
  if (oif == ifindex) return true;
  for (const NlNexthop& nh : nexthops)
    if (nh.ifindex == ifindex) return true;
  return false;
}

namespace {
const NlNexthop* heaviest(const std::vector<NlNexthop>& nhs) noexcept {
  const NlNexthop* best = nullptr;
  for (const NlNexthop& nh : nhs)
    if (best == nullptr || nh.hops > best->hops) best = &nh;
  return best;
}
}  // namespace

const InAny* NlRoute::best_gateway() const noexcept {
  if (const NlNexthop* nh = heaviest(nexthops)) return nh->has_gw ? &nh->gw : nullptr;
  return has_gw ? &gw : nullptr;
}

u32 NlRoute::best_oif() const noexcept {
  if (const NlNexthop* nh = heaviest(nexthops)) return nh->ifindex;
  return oif;
}

// --- Parsing --------------------------------------------------------------------------

namespace nl {

Result<NlLink> parse_link(Bytes p) {
  if (p.size() < sizeof(ifinfomsg)) return Err::truncated;
  auto ifi = load_struct<ifinfomsg>(p);
  NlLink l;
  l.index = static_cast<u32>(ifi.ifi_index);
  l.flags = ifi.ifi_flags;
  l.type = ifi.ifi_type;
  AttrIter it(p.subspan(align4(sizeof(ifinfomsg))));
  Attr a;
  while (it.next(a)) {
    switch (a.type) {
      case IFLA_IFNAME: {
        std::size_t n = 0;
        while (n < a.data.size() && n < IFNAMSIZ - 1 && a.data[n] != 0) n++;
        l.name.assign(reinterpret_cast<const char*>(a.data.data()), n);
        break;
      }
      case IFLA_MTU:
        if (a.data.size() < 4) return Err::malformed;
        l.mtu = load_u32(a.data);
        break;
      case IFLA_ADDRESS:
        if (a.data.size() == 6) {
          l.mac = MacAddr::load(a.data.data());
          l.has_mac = true;
        }
        break;
      default:
        break;
    }
  }
  if (it.malformed()) return Err::malformed;
  return l;
}

Result<NlAddr> parse_addr(Bytes p) {
  if (p.size() < sizeof(ifaddrmsg)) return Err::truncated;
  auto ifa = load_struct<ifaddrmsg>(p);
  if (ifa.ifa_family != AF_INET && ifa.ifa_family != AF_INET6) return Err::not_supported;
  NlAddr r;
  r.af = ifa.ifa_family;
  r.ifindex = ifa.ifa_index;
  r.prefix_len = ifa.ifa_prefixlen;
  r.scope = ifa.ifa_scope;
  r.flags = ifa.ifa_flags;
  bool have_local = false;
  bool have_addr = false;
  AttrIter it(p.subspan(align4(sizeof(ifaddrmsg))));
  Attr a;
  while (it.next(a)) {
    switch (a.type) {
      case IFA_LOCAL: {
        auto v = addr_of(r.af, a.data);
        if (!v) return v.err();
        r.addr = *v;
        have_local = true;
        break;
      }
      case IFA_ADDRESS: {
        auto v = addr_of(r.af, a.data);
        if (!v) return v.err();
        if (!have_local) r.addr = *v;
        have_addr = true;
        break;
      }
      case IFA_FLAGS:
        if (a.data.size() < 4) return Err::malformed;
        r.flags = load_u32(a.data);
        break;
      default:
        break;
    }
  }
  if (it.malformed()) return Err::malformed;
  if (!have_local && !have_addr) return Err::malformed;
  if ((r.af == AF_INET && r.prefix_len > 32) || r.prefix_len > 128) return Err::malformed;
  r.msg.assign(p.begin(), p.end());
  return r;
}

Result<NlRoute> parse_route(Bytes p) {
  if (p.size() < sizeof(rtmsg)) return Err::truncated;
  auto rtm = load_struct<rtmsg>(p);
  if (rtm.rtm_family != AF_INET && rtm.rtm_family != AF_INET6) return Err::not_supported;
  NlRoute r;
  r.af = rtm.rtm_family;
  r.table = rtm.rtm_table;
  r.dst_len = rtm.rtm_dst_len;
  r.protocol = rtm.rtm_protocol;
  r.scope = rtm.rtm_scope;
  r.type = rtm.rtm_type;
  if ((r.af == AF_INET && r.dst_len > 32) || r.dst_len > 128) return Err::malformed;
  AttrIter it(p.subspan(align4(sizeof(rtmsg))));
  Attr a;
  while (it.next(a)) {
    switch (a.type) {
      case RTA_DST: {
        auto v = addr_of(r.af, a.data);
        if (!v) return v.err();
        r.dst = *v;
        r.has_dst = true;
        break;
      }
      case RTA_GATEWAY: {
        auto v = addr_of(r.af, a.data);
        if (!v) return v.err();
        r.gw = *v;
        r.has_gw = true;
        break;
      }
      case RTA_OIF:
        if (a.data.size() < 4) return Err::malformed;
        r.oif = load_u32(a.data);
        break;
      case RTA_PRIORITY:
        if (a.data.size() < 4) return Err::malformed;
        r.priority = load_u32(a.data);
        break;
      case RTA_TABLE:
        if (a.data.size() < 4) return Err::malformed;
        r.table = load_u32(a.data);
        break;
      case RTA_MULTIPATH: {
        auto nhs = parse_multipath(r.af, a.data);
        if (!nhs) return nhs.err();
        r.nexthops = std::move(*nhs);
        break;
      }
      default:
        break;
    }
  }
  if (it.malformed()) return Err::malformed;
  if (!r.has_dst) r.dst = r.af == AF_INET ? InAny::from(Ipv4Addr::any()) : InAny{};
  r.msg.assign(p.begin(), p.end());
  return r;
}

}  // namespace nl

// --- Builder ----------------------------------------------------------------------------

void NlBuilder::start(u16 type, u16 flags) noexcept {
  len_ = 0;
  overflow_ = false;
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = flags;
  put(&h, sizeof(h));
}

void NlBuilder::put(const void* data, std::size_t len) noexcept {
  std::size_t need = align4(len);
  if (overflow_ || need > buf_.size() - len_) {
    overflow_ = true;
    return;
  }
  if (len > 0) std::memcpy(buf_.data() + len_, data, len);
  std::memset(buf_.data() + len_ + len, 0, need - len);
  len_ += need;
}

void NlBuilder::put_attr(u16 type, const void* data, std::size_t len) noexcept {
  if (len > 0xffff - sizeof(rtattr)) {
    overflow_ = true;
    return;
  }
  rtattr h{};
  h.rta_len = static_cast<u16>(sizeof(rtattr) + len);
  h.rta_type = type;
  if (overflow_ || align4(sizeof(rtattr) + len) > buf_.size() - len_) {
    overflow_ = true;
    return;
  }
  put(&h, sizeof(h));
  put(data, len);
}

void NlBuilder::put_str(u16 type, std::string_view s) noexcept {
  if (overflow_ || s.size() + 1 + sizeof(rtattr) + 3 > buf_.size() - len_ ||
      s.size() + 1 > 0xffff - sizeof(rtattr)) {
    overflow_ = true;
    return;
  }
  rtattr h{};
  h.rta_len = static_cast<u16>(sizeof(rtattr) + s.size() + 1);
  h.rta_type = type;
  put(&h, sizeof(h));
  std::memcpy(buf_.data() + len_, s.data(), s.size());
  buf_[len_ + s.size()] = 0;
  std::size_t need = align4(s.size() + 1);
  std::memset(buf_.data() + len_ + s.size() + 1, 0, need - s.size() - 1);
  len_ += need;
}

void NlBuilder::put_inany(u16 type, int af, const InAny& a) noexcept {
  if (af == AF_INET) {
    Ipv4Addr v4 = a.v4();
    put_attr(type, v4.b.data(), 4);
  } else {
    put_attr(type, a.v6().b.data(), 16);
  }
}

std::size_t NlBuilder::begin_nest(u16 type) noexcept {
  std::size_t token = len_;
  rtattr h{};
  h.rta_type = static_cast<u16>(type | NLA_F_NESTED);
  put(&h, sizeof(h));
  return token;
}

void NlBuilder::end_nest(std::size_t token) noexcept {
  if (overflow_) return;
  std::size_t n = len_ - token;
  if (n > 0xffff) {
    overflow_ = true;
    return;
  }
  auto h = load_struct<rtattr>(Bytes(buf_.subspan(token)));
  h.rta_len = static_cast<u16>(n);
  store_struct(buf_.subspan(token), h);
}

// --- Socket ------------------------------------------------------------------------------

namespace {

class SocketTask final : public NsTask {
 public:
  SocketTask(int d, int t, int p) noexcept : domain_(d), type_(t), proto_(p) {}
  void run() noexcept override {
    fd = ::socket(domain_, type_, proto_);
    if (fd < 0) err = errno;
  }
  int fd = -1;
  int err = 0;

 private:
  int domain_, type_, proto_;
};

}  // namespace

Result<int> socket_in(NetnsRunner* ns, int domain, int type, int proto) noexcept {
  if (ns == nullptr) {
    int fd = ::socket(domain, type, proto);
    if (fd < 0) return last_err();
    return fd;
  }
  SocketTask t(domain, type, proto);
  Status s = ns->run(t);
  if (!s) {
    if (t.fd >= 0) ::close(t.fd);
    return s.err();
  }
  if (t.fd < 0) {
    Err e = err_from_errno(t.err);
    return e == Err::none ? Err::other : e;
  }
  return t.fd;
}

Netlink::~Netlink() { close(); }

void Netlink::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status Netlink::open(NetnsRunner* ns, int protocol, std::size_t rx_bytes, std::size_t tx_bytes) {
  close();
  static_assert(NETLINK_ROUTE == 0, "protocol 0 is the default, NETLINK_ROUTE");
  auto fd = socket_in(ns, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (!fd) return fd.err();
  fd_ = *fd;
  int one = 1;
  strict_ = ::setsockopt(fd_, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one)) == 0;
  // Error replies need not echo our whole request back.
  (void)::setsockopt(fd_, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
  timeval tv{};
  tv.tv_sec = kRecvTimeoutSec;
  if (::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
    Err e = last_err();
    close();
    return e;
  }
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) < 0) {
    Err e = last_err();
    close();
    return e;
  }
  rx_.assign(rx_bytes, 0);
  tx_.assign(tx_bytes, 0);
  return {};
}

NlBuilder Netlink::builder(u16 type, u16 flags) noexcept {
  NlBuilder b(MutBytes(tx_.data(), tx_.size()));
  b.start(type, flags);
  return b;
}

Status Netlink::request(NlBuilder& b) { return transact(b, nullptr, false); }
Status Netlink::dump(NlBuilder& b, Visitor& v) { return transact(b, &v, true); }
Status Netlink::get(NlBuilder& b, Visitor& v) { return transact(b, &v, false); }

Status Netlink::transact(NlBuilder& b, Visitor* v, bool is_dump) {
  last_errno_ = 0;
  if (fd_ < 0) return Err::bad_handle;
  if (b.overflowed() || b.size() < kHdr) return Err::full;
  MutBytes m = b.bytes();
  auto h = load_struct<nlmsghdr>(Bytes(m));
  if (++seq_ == 0) seq_ = 1;
  const u32 seq = seq_;
  h.nlmsg_len = static_cast<u32>(m.size());
  h.nlmsg_flags = static_cast<u16>(h.nlmsg_flags | NLM_F_REQUEST |
                                   (is_dump ? NLM_F_DUMP : NLM_F_ACK));
  h.nlmsg_seq = seq;
  h.nlmsg_pid = 0;
  store_struct(m, h);

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n = ::sendto(fd_, m.data(), m.size(), 0, reinterpret_cast<const sockaddr*>(&kernel),
                         sizeof(kernel));
    if (n >= 0) break;
    if (errno != EINTR) return last_err();
  }

  for (std::size_t reads = 0; reads < kMaxReplies; reads++) {
    sockaddr_nl from{};
    iovec iov{rx_.data(), rx_.size()};
    msghdr mh{};
    mh.msg_name = &from;
    mh.msg_namelen = sizeof(from);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd_, &mh, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return Err::timed_out;
      return last_err();
    }
    if ((mh.msg_flags & MSG_TRUNC) != 0) return Err::truncated;
    if (from.nl_pid != 0) continue;  // not from the kernel
    Bytes rest(rx_.data(), static_cast<std::size_t>(n));
    // Bounded by the datagram: every message consumes >= 16 bytes.
    while (rest.size() >= kHdr) {
      auto mhd = load_struct<nlmsghdr>(rest);
      if (mhd.nlmsg_len < kHdr || mhd.nlmsg_len > rest.size()) return Err::malformed;
      Bytes payload = rest.subspan(kHdr, mhd.nlmsg_len - kHdr);
      rest = rest.subspan(std::min<std::size_t>(align4(mhd.nlmsg_len), rest.size()));
      if (mhd.nlmsg_seq != seq) continue;  // a late answer to an earlier request
      switch (mhd.nlmsg_type) {
        case NLMSG_NOOP:
          break;
        case NLMSG_OVERRUN:
          return Err::no_buffers;
        case NLMSG_ERROR: {
          if (payload.size() < sizeof(int)) return Err::malformed;
          int error = 0;
          std::memcpy(&error, payload.data(), sizeof(error));
          if (error == 0) return {};  // the ACK
          last_errno_ = -error;
          Err e = err_from_errno(-error);
          return e == Err::none ? Err::other : e;
        }
        case NLMSG_DONE: {
          if (!is_dump) break;
          int error = 0;
          if (payload.size() >= sizeof(int)) std::memcpy(&error, payload.data(), sizeof(error));
          if (error < 0) {
            last_errno_ = -error;
            return err_from_errno(-error);
          }
          return {};
        }
        default:
          if (v != nullptr) (void)v->on_message(mhd.nlmsg_type, payload);
          break;
      }
    }
  }
  return Err::timed_out;
}

// --- Queries ---------------------------------------------------------------------------------

namespace {

// Collects parsed entries of one kind, with a filter and the dump bound.
template <class T, class Parse, class Keep>
class Collector final : public Netlink::Visitor {
 public:
  Collector(u16 want, Parse parse, Keep keep) : want_(want), parse_(parse), keep_(keep) {}
  bool on_message(u16 type, Bytes payload) override {
    if (type != want_) return false;
    auto r = parse_(payload);
    if (!r) {
      if (r.err() != Err::not_supported) bad++;
      return false;
    }
    if (!keep_(*r)) return false;
    if (out.size() >= Netlink::kMaxDumpEntries) {
      dropped++;
      return false;
    }
    out.push_back(std::move(*r));
    return true;
  }
  std::vector<T> out;
  std::size_t dropped = 0;
  std::size_t bad = 0;

 private:
  u16 want_;
  Parse parse_;
  Keep keep_;
};

template <class T, class Parse, class Keep>
Collector<T, Parse, Keep> collector(u16 want, Parse p, Keep k) {
  return Collector<T, Parse, Keep>(want, p, k);
}

}  // namespace

u32 Netlink::nodad_flag() noexcept { return IFA_F_NODAD; }

Result<std::vector<NlLink>> Netlink::links() {
  NlBuilder b = builder(RTM_GETLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  b.put(&ifi, sizeof(ifi));
  auto c = collector<NlLink>(RTM_NEWLINK, nl::parse_link, [](const NlLink&) { return true; });
  Status s = dump(b, c);
  if (!s) return s.err();
  dropped_ = c.dropped;
  if (c.bad > 0) LOG_DEBUG("netlink: %zu malformed link messages skipped", c.bad);
  return std::move(c.out);
}

Result<NlLink> Netlink::link(u32 ifindex) {
  if (ifindex == 0 || ifindex > 0x7fffffffu) return Err::invalid;
  NlBuilder b = builder(RTM_GETLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = static_cast<int>(ifindex);
  b.put(&ifi, sizeof(ifi));
  auto c = collector<NlLink>(RTM_NEWLINK, nl::parse_link,
                             [ifindex](const NlLink& l) { return l.index == ifindex; });
  Status s = get(b, c);
  if (!s) return s.err();
  if (c.out.empty()) return Err::no_entry;
  return std::move(c.out.front());
}

Result<NlLink> Netlink::link(std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ) return Err::invalid;
  NlBuilder b = builder(RTM_GETLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  b.put(&ifi, sizeof(ifi));
  b.put_str(IFLA_IFNAME, name);
  auto c = collector<NlLink>(RTM_NEWLINK, nl::parse_link,
                             [name](const NlLink& l) { return l.name == name; });
  Status s = get(b, c);
  if (!s) return s.err();
  if (c.out.empty()) return Err::no_entry;
  return std::move(c.out.front());
}

Result<std::vector<NlAddr>> Netlink::addrs(int af, u32 ifindex) {
  if (af != AF_INET && af != AF_INET6 && af != AF_UNSPEC) return Err::invalid;
  NlBuilder b = builder(RTM_GETADDR, 0);
  ifaddrmsg ifa{};
  ifa.ifa_family = static_cast<u8>(af);
  ifa.ifa_index = ifindex;  // strict checking: the kernel filters by it
  b.put(&ifa, sizeof(ifa));
  auto c = collector<NlAddr>(RTM_NEWADDR, nl::parse_addr, [af, ifindex](const NlAddr& a) {
    return (af == AF_UNSPEC || a.af == af) && (ifindex == 0 || a.ifindex == ifindex);
  });
  Status s = dump(b, c);
  if (!s) return s.err();
  dropped_ = c.dropped;
  if (c.bad > 0) LOG_DEBUG("netlink: %zu malformed address messages skipped", c.bad);
  return std::move(c.out);
}

Result<std::vector<NlRoute>> Netlink::routes(int af) {
  if (af != AF_INET && af != AF_INET6) return Err::invalid;
  NlBuilder b = builder(RTM_GETROUTE, 0);
  rtmsg rtm{};
  rtm.rtm_family = static_cast<u8>(af);
  rtm.rtm_table = RT_TABLE_MAIN;  // strict checking: the kernel filters by it
  b.put(&rtm, sizeof(rtm));
  auto c = collector<NlRoute>(RTM_NEWROUTE, nl::parse_route, [af](const NlRoute& r) {
    return r.af == af && r.table == RT_TABLE_MAIN;
  });
  Status s = dump(b, c);
  // A filtered IPv4 dump of a table that does not exist yet (a namespace
  // without any route) is ENOENT: no routes.
  if (!s && last_errno_ == ENOENT) return std::vector<NlRoute>{};
  if (!s) return s.err();
  dropped_ = c.dropped;
  if (c.bad > 0) LOG_DEBUG("netlink: %zu malformed route messages skipped", c.bad);
  return std::move(c.out);
}

// --- Setters ------------------------------------------------------------------------------------

Status Netlink::set_link_flags(u32 ifindex, u32 flags, u32 mask) {
  if (ifindex == 0 || ifindex > 0x7fffffffu) return Err::invalid;
  NlBuilder b = builder(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = static_cast<int>(ifindex);
  ifi.ifi_flags = flags & mask;
  ifi.ifi_change = mask;
  b.put(&ifi, sizeof(ifi));
  return request(b);
}

Status Netlink::set_link_up(u32 ifindex, bool up) {
  return set_link_flags(ifindex, up ? u32{IFF_UP} : 0u, u32{IFF_UP});
}

Status Netlink::set_noarp(u32 ifindex, bool on) {
  return set_link_flags(ifindex, on ? u32{IFF_NOARP} : 0u, u32{IFF_NOARP});
}

Status Netlink::set_mtu(u32 ifindex, u32 mtu) {
  if (ifindex == 0 || ifindex > 0x7fffffffu) return Err::invalid;
  NlBuilder b = builder(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = static_cast<int>(ifindex);
  b.put(&ifi, sizeof(ifi));
  b.put_u32(IFLA_MTU, mtu);
  return request(b);
}

Status Netlink::set_txqlen(u32 ifindex, u32 frames) {
  if (ifindex == 0 || ifindex > 0x7fffffffu) return Err::invalid;
  NlBuilder b = builder(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = static_cast<int>(ifindex);
  b.put(&ifi, sizeof(ifi));
  b.put_u32(IFLA_TXQLEN, frames);
  return request(b);
}

Status Netlink::set_mac(u32 ifindex, const MacAddr& mac) {
  if (ifindex == 0 || ifindex > 0x7fffffffu) return Err::invalid;
  NlBuilder b = builder(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = static_cast<int>(ifindex);
  b.put(&ifi, sizeof(ifi));
  b.put_attr(IFLA_ADDRESS, mac.b.data(), mac.b.size());
  return request(b);
}

Status Netlink::add_addr(u32 ifindex, int af, const InAny& addr, u8 prefix_len, bool nodad) {
  if (af != AF_INET && af != AF_INET6) return Err::invalid;
  if (prefix_len > (af == AF_INET ? 32 : 128) || ifindex == 0) return Err::invalid;
  NlBuilder b = builder(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  ifaddrmsg ifa{};
  ifa.ifa_family = static_cast<u8>(af);
  ifa.ifa_prefixlen = prefix_len;
  ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  ifa.ifa_index = ifindex;
  const u32 flags = (nodad && af == AF_INET6) ? u32{IFA_F_NODAD} : 0u;
  ifa.ifa_flags = static_cast<u8>(flags);
  b.put(&ifa, sizeof(ifa));
  b.put_inany(IFA_LOCAL, af, addr);
  b.put_inany(IFA_ADDRESS, af, addr);
  if (flags != 0) b.put_u32(IFA_FLAGS, flags);
  return request(b);
}

Status Netlink::add_default_route(u32 ifindex, int af, const InAny& gw) {
  if (af != AF_INET && af != AF_INET6) return Err::invalid;
  if (ifindex == 0) return Err::invalid;
  NlBuilder b = builder(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  rtmsg rtm{};
  rtm.rtm_family = static_cast<u8>(af);
  rtm.rtm_table = RT_TABLE_MAIN;
  rtm.rtm_protocol = RTPROT_BOOT;
  rtm.rtm_scope = RT_SCOPE_UNIVERSE;
  rtm.rtm_type = RTN_UNICAST;
  b.put(&rtm, sizeof(rtm));
  b.put_u32(RTA_OIF, ifindex);
  b.put_inany(RTA_GATEWAY, af, gw);
  return request(b);
}

Status Netlink::set_ll_nodad(u32 ifindex) {
  auto list = addrs(AF_INET6, ifindex);
  if (!list) return list.err();
  for (const NlAddr& a : *list) {
    if (!a.link_scope() || a.nodad()) continue;
    NlBuilder b = builder(RTM_NEWADDR, NLM_F_REPLACE);
    ifaddrmsg ifa{};
    ifa.ifa_family = AF_INET6;
    ifa.ifa_prefixlen = a.prefix_len;
    ifa.ifa_scope = a.scope;
    ifa.ifa_index = ifindex;
    b.put(&ifa, sizeof(ifa));
    b.put_inany(IFA_ADDRESS, AF_INET6, a.addr);
    b.put_u32(IFA_FLAGS, (a.flags & ~u32{IFA_F_TENTATIVE | IFA_F_PERMANENT}) | IFA_F_NODAD);
    Status s = request(b);
    if (!s) return s;
  }
  return {};
}

// --- Copies --------------------------------------------------------------------------------------

namespace {

// Route flags that describe state, not configuration: a copy must not carry
// them (the kernel refuses DEAD and LINKDOWN on add).
constexpr u32 kRouteFlagsKept = RTNH_F_ONLINK | RTNH_F_PERVASIVE;

bool build_route_copy(const NlRoute& r, u32 dst_ifi, NlBuilder& b) {
  Bytes p(r.msg);
  if (p.size() < sizeof(rtmsg)) return false;
  auto rtm = load_struct<rtmsg>(p);
  rtm.rtm_flags &= kRouteFlagsKept;
  b.put(&rtm, sizeof(rtm));
  AttrIter it(p.subspan(align4(sizeof(rtmsg))));
  Attr a;
  while (it.next(a)) {
    switch (a.type) {
      case RTA_PREFSRC:
      case RTA_NH_ID:
        break;
      case RTA_OIF:
        b.put_u32(a.raw_type, dst_ifi);
        break;
      case RTA_MULTIPATH: {
        std::size_t at = b.size() + sizeof(rtattr);
        b.put_attr(a.raw_type, a.data.data(), a.data.size());
        if (b.overflowed()) return false;
        // Rewrite each nexthop header in place (the layout was validated by
        // parse_route).
        MutBytes nhs = b.bytes().subspan(at, a.data.size());
        while (nhs.size() >= sizeof(rtnexthop)) {
          auto h = load_struct<rtnexthop>(Bytes(nhs));
          if (h.rtnh_len < sizeof(rtnexthop) || h.rtnh_len > nhs.size()) return false;
          h.rtnh_ifindex = static_cast<int>(dst_ifi);
          h.rtnh_flags = static_cast<u8>(h.rtnh_flags & kRouteFlagsKept);
          store_struct(nhs, h);
          nhs = nhs.subspan(std::min(align4(h.rtnh_len), nhs.size()));
        }
        break;
      }
      default:
        b.put_attr(a.raw_type, a.data.data(), a.data.size());
        break;
    }
  }
  return !it.malformed() && !b.overflowed();
}

bool build_addr_copy(const NlAddr& a, u32 dst_ifi, NlBuilder& b) {
  Bytes p(a.msg);
  if (p.size() < sizeof(ifaddrmsg)) return false;
  auto ifa = load_struct<ifaddrmsg>(p);
  const u32 flags = (a.flags & ~u32{IFA_F_TENTATIVE | IFA_F_PERMANENT}) | IFA_F_NODAD;
  ifa.ifa_index = dst_ifi;
  ifa.ifa_flags = static_cast<u8>(flags);
  b.put(&ifa, sizeof(ifa));
  AttrIter it(p.subspan(align4(sizeof(ifaddrmsg))));
  Attr at;
  while (it.next(at)) {
    switch (at.type) {
      case IFA_LABEL:
      case IFA_CACHEINFO:
      case IFA_FLAGS:
        break;
      default:
        b.put_attr(at.raw_type, at.data.data(), at.data.size());
        break;
    }
  }
  b.put_u32(IFA_FLAGS, flags);
  return !it.malformed() && !b.overflowed();
}

}  // namespace

Status addr_dup(Netlink& src, u32 src_ifi, Netlink& dst, u32 dst_ifi, int af, DupStats* stats) {
  DupStats local;
  DupStats& st = stats != nullptr ? *stats : local;
  st = DupStats{};
  auto list = src.addrs(af, src_ifi);
  if (!list) return list.err();
  for (const NlAddr& a : *list) {
    if (a.link_scope() || a.deprecated()) continue;
    st.candidates++;
    NlBuilder b = dst.builder(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    if (!build_addr_copy(a, dst_ifi, b)) return Err::malformed;
    Status s = dst.request(b);
    if (s) {
      st.added++;
    } else if (dst.last_errno() == EEXIST) {
      st.existed++;
    } else {
      LOG_DEBUG("netlink: copying address %s/%u failed: %s", to_text(a.addr).c_str(),
                a.prefix_len, err_name(s.err()));
      return s;
    }
  }
  return {};
}

Status route_dup(Netlink& src, u32 src_ifi, Netlink& dst, u32 dst_ifi, int af, DupStats* stats) {
  DupStats local;
  DupStats& st = stats != nullptr ? *stats : local;
  st = DupStats{};
  auto all = src.routes(af);
  if (!all) return all.err();
  std::vector<const NlRoute*> todo;
  for (const NlRoute& r : *all)
    if (r.uses(src_ifi)) todo.push_back(&r);
  st.candidates = todo.size();
  // Each pass re-sends what is left; a pass that adds nothing ends it, so
  // there are at most candidates + 1 passes.
  while (!todo.empty()) {
    st.passes++;
    bool progress = false;
    std::vector<const NlRoute*> again;
    for (const NlRoute* r : todo) {
      NlBuilder b = dst.builder(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
      if (!build_route_copy(*r, dst_ifi, b)) return Err::malformed;
      Status s = dst.request(b);
      const int e = dst.last_errno();
      if (s) {
        st.added++;
        progress = true;
      } else if (e == EEXIST) {
        st.existed++;
        progress = true;
      } else if (e == ENETUNREACH || e == EHOSTUNREACH) {
        again.push_back(r);
      } else {
        LOG_DEBUG("netlink: copying route to %s/%u failed: %s", to_text(r->dst).c_str(),
                  r->dst_len, err_name(s.err()));
        return s;
      }
    }
    todo.swap(again);
    if (!progress) break;
  }
  st.unresolved = todo.size();
  return {};
}

}  // namespace passt::os
