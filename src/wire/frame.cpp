#include "wire/frame.hpp"

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

}  // namespace passt::wire
