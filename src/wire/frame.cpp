#include "wire/frame.hpp"

#include <cstdarg>
#include <cstdio>

#include "wire/checksum.hpp"

namespace passt::wire {

namespace {

// Parses the L4 header in f.l4_bytes according to f.l4_proto.
Status parse_l4(Frame& f) noexcept {
  if (f.fragment) {
    f.l4 = L4::fragment;
    return {};
  }
  const bool v6 = f.l3 == L3::ipv6;
  switch (f.l4_proto) {
    case ipproto::tcp: {
      Result<TcpView> t = TcpView::parse(f.l4_bytes);
      if (!t) return t.err();
      f.l4 = L4::tcp;
      f.src_port = t->src_port();
      f.dst_port = t->dst_port();
      f.payload = t->payload();
      f.tcp = *t;
      return {};
    }
    case ipproto::udp: {
      Result<UdpView> u = UdpView::parse(f.l4_bytes);
      if (!u) return u.err();
      f.l4 = L4::udp;
      f.src_port = u->src_port();
      f.dst_port = u->dst_port();
      f.payload = u->payload();
      f.udp = *u;
      return {};
    }
    case ipproto::icmp:
      if (!v6) {
        Result<IcmpView> i = IcmpView::parse(f.l4_bytes);
        if (!i) return i.err();
        f.l4 = L4::icmp;
        f.payload = i->payload();
        f.icmp = *i;
        return {};
      }
      break;
    case ipproto::icmpv6:
      if (v6) {
        f.l4 = L4::icmpv6;
        return {};
      }
      break;
    default:
      break;
  }
  f.l4 = L4::other;
  return {};
}

}  // namespace

Result<Frame> parse_frame(Bytes frame) noexcept {
  Result<EthernetView> eth = EthernetView::parse(frame);
  if (!eth) return eth.err();
  Frame f;
  f.eth_dst = eth->dst();
  f.eth_src = eth->src();
  f.ethertype = eth->ethertype();
  switch (f.ethertype) {
    case ethertype::arp: {
      Result<ArpView> a = ArpView::parse(eth->payload());
      if (!a) return a.err();
      f.l3 = L3::arp;
      f.l3_bytes = a->bytes();
      f.arp = *a;
      return f;
    }
    case ethertype::ipv4: {
      Result<Ipv4View> ip = Ipv4View::parse(eth->payload());
      if (!ip) return ip.err();
      f.l3 = L3::ipv4;
      f.l3_bytes = ip->bytes();
      f.src = InAny::from(ip->src());
      f.dst = InAny::from(ip->dst());
      f.hop_limit = ip->ttl();
      f.l4_proto = ip->protocol();
      f.fragment = ip->is_fragment();
      f.l4_offset = kEthHeaderLen + ip->header_len();
      f.l4_bytes = ip->payload();
      f.ip4 = *ip;
      break;
    }
    case ethertype::ipv6: {
      Result<Ipv6View> ip = Ipv6View::parse(eth->payload());
      if (!ip) return ip.err();
      Result<Ipv6UpperLayer> up = ip->upper_layer();
      if (!up) return up.err();
      f.l3 = L3::ipv6;
      f.l3_bytes = ip->bytes();
      f.src = InAny::from(ip->src());
      f.dst = InAny::from(ip->dst());
      f.hop_limit = ip->hop_limit();
      f.l4_proto = up->protocol;
      f.fragment = up->fragment;
      f.l4_offset = kEthHeaderLen + up->offset;
      f.l4_bytes = up->bytes;
      f.ip6 = *ip;
      break;
    }
    default:
      return Err::not_supported;
  }
  if (Status s = parse_l4(f); !s) return s.err();
  return f;
}

bool frame_checksums_ok(const Frame& f) noexcept {
  if (f.l3 == L3::arp) return true;
  if (f.ip4) {
    if (!f.ip4->checksum_ok()) return false;
    const Ipv4Addr s = f.src.v4();
    const Ipv4Addr d = f.dst.v4();
    switch (f.l4) {
      case L4::tcp: return f.tcp->checksum_ok(s, d);
      case L4::udp: return f.udp->checksum_ok(s, d);
      case L4::icmp: return f.icmp->checksum_ok();
      default: return true;
    }
  }
  const Ipv6Addr& s = f.src.v6();
  const Ipv6Addr& d = f.dst.v6();
  switch (f.l4) {
    case L4::tcp: return f.tcp->checksum_ok(s, d);
    case L4::udp: return f.udp->checksum_ok(s, d);
    case L4::icmpv6: return l4_checksum_v6(s, d, ipproto::icmpv6, f.l4_bytes) == 0;
    default: return true;
  }
}

namespace {

// Appends to a fixed buffer, cutting at its end (always NUL-terminated).
class Line {
 public:
  Line(char* out, std::size_t len) noexcept : out_(out), len_(len) {
    if (len_ > 0) out_[0] = '\0';
  }
  void add(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3))) {
    if (len_ == 0 || pos_ + 1 >= len_) return;
    va_list ap;
    va_start(ap, fmt);
    const int n = std::vsnprintf(out_ + pos_, len_ - pos_, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    pos_ += static_cast<std::size_t>(n);
    if (pos_ > len_ - 1) pos_ = len_ - 1;
  }
  std::size_t size() const noexcept { return pos_; }

 private:
  char* out_;
  std::size_t len_;
  std::size_t pos_ = 0;
};

// "a:p" for IPv4, "[a]:p" for IPv6.
void endpoint(Line& l, const InAny& a, u16 port) noexcept {
  if (a.is_v4())
    l.add("%s:%u", to_text(a).c_str(), port);
  else
    l.add("[%s]:%u", to_text(a).c_str(), port);
}

}  // namespace

std::size_t frame_summary(const Frame& f, char* out, std::size_t len) noexcept {
  Line l(out, len);
  if (f.l3 == L3::arp) {
    const ArpView& a = *f.arp;
    const bool eth_ip4 = a.plen() == 4 && a.hlen() == 6;
    if (eth_ip4 && a.oper() == arp_op::request) {
      l.add("ARP who-has %s", to_text(Ipv4Addr::load(a.tpa().data())).c_str());
      l.add(" tell %s", to_text(Ipv4Addr::load(a.spa().data())).c_str());
    } else if (eth_ip4 && a.oper() == arp_op::reply) {
      l.add("ARP reply %s is-at", to_text(Ipv4Addr::load(a.spa().data())).c_str());
      l.add(" %s", to_text(MacAddr::load(a.sha().data())).c_str());
    } else {
      l.add("ARP oper %u", a.oper());
    }
    return l.size();
  }
  l.add("%s ", f.l3 == L3::ipv4 ? "IPv4" : "IPv6");
  switch (f.l4) {
    case L4::tcp: {
      const TcpView& t = *f.tcp;
      l.add("TCP ");
      endpoint(l, f.src, f.src_port);
      l.add(" > ");
      endpoint(l, f.dst, f.dst_port);
      // tcpdump's letters: S F R P, then "." for ACK.
      char flags[8] = {};
      std::size_t k = 0;
      if (t.has(tcp_flag::syn)) flags[k++] = 'S';
      if (t.has(tcp_flag::fin)) flags[k++] = 'F';
      if (t.has(tcp_flag::rst)) flags[k++] = 'R';
      if (t.has(tcp_flag::psh)) flags[k++] = 'P';
      if (t.has(tcp_flag::ack)) flags[k++] = '.';
      l.add(" [%s] seq %u ack %u win %u len %zu", flags, t.seq().v, t.ack().v, t.window(), f.payload.size());
      break;
    }
    case L4::udp:
      l.add("UDP ");
      endpoint(l, f.src, f.src_port);
      l.add(" > ");
      endpoint(l, f.dst, f.dst_port);
      l.add(" len %zu", f.payload.size());
      break;
    case L4::icmp:
    case L4::icmpv6:
      l.add("%s %s", f.l4 == L4::icmp ? "ICMP" : "ICMPv6", to_text(f.src).c_str());
      l.add(" > %s", to_text(f.dst).c_str());
      if (f.l4_bytes.size() >= 2)
        l.add(" type %u code %u len %zu", f.l4_bytes[0], f.l4_bytes[1], f.l4_bytes.size());
      break;
    case L4::fragment:
    case L4::other:
    case L4::none: {
      l.add("%s %s", f.l4 == L4::fragment ? "fragment" : "other", to_text(f.src).c_str());
      l.add(" > %s", to_text(f.dst).c_str());
      const std::size_t ip_payload = f.ip4 ? f.ip4->payload().size() : f.l3_bytes.size() - kIpv6HeaderLen;
      l.add(" proto %u len %zu", f.l4_proto, ip_payload);
      break;
    }
  }
  return l.size();
}

}  // namespace passt::wire
