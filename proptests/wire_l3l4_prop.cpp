// Round-trip properties of the L2.5-L4 wire formats: repr -> emit -> parse
// -> the same repr, checksums verify, and the extension-header walk and TCP
// option lists behave on random input.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "proptests/gen.hpp"
#include "util/endian.hpp"
#include "wire/arp.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/frame.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"
#include "wire/udp.hpp"

namespace passt::wire {
namespace {

template <class T>
T any() {
  return *rc::gen::arbitrary<T>();
}

std::size_t below(std::size_t n) { return *rc::gen::inRange<std::size_t>(0, n); }

std::vector<u8> random_bytes(std::size_t n) {
  std::vector<u8> v(n);
  for (auto& b : v) b = any<u8>();
  return v;
}

// Random options that fit in 40 bytes.  Unknown options use kinds we do
// not interpret.
TcpOptions random_tcp_options() {
  TcpOptions o;
  if (any<bool>()) o.mss = any<u16>();
  if (any<bool>()) o.wscale = any<u8>();
  o.sack_permitted = any<bool>();
  if (any<bool>()) o.timestamps = TcpTimestamps{any<u32>(), any<u32>()};
  const std::size_t room = kTcpMaxOptionsLen - o.length();
  const std::size_t max_blocks = room >= 12 ? std::min<std::size_t>(4, (room - 4) / 8) : 0;
  o.sack_count = static_cast<u8>(below(max_blocks + 1));
  for (std::size_t k = 0; k < o.sack_count; k++)
    o.sack[k] = {Seq{any<u32>()}, Seq{any<u32>()}};
  const std::size_t n_unknown = below(4);
  for (std::size_t k = 0; k < n_unknown; k++) {
    u8 kind = static_cast<u8>(*rc::gen::inRange<int>(9, 256));
    std::vector<u8> data = random_bytes(below(12));
    TcpOptions trial = o;
    if (!trial.add_unknown(kind, data)) break;
    if (trial.length() > kTcpMaxOptionsLen) break;
    o = trial;
  }
  return o;
}

TcpRepr random_tcp_repr(std::size_t max_payload) {
  TcpRepr r;
  r.src_port = any<u16>();
  r.dst_port = any<u16>();
  r.seq = Seq{any<u32>()};
  r.ack = Seq{any<u32>()};
  r.flags = any<u8>();
  r.window = any<u16>();
  r.urgent = any<u16>();
  r.options = random_tcp_options();
  r.payload_len = below(max_payload + 1);
  return r;
}

// A buffer of r.length() bytes with a random payload after the header.
template <class R>
std::vector<u8> buffer_with_payload(const R& r, std::size_t header_len) {
  std::vector<u8> buf(header_len, 0);
  const auto payload = random_bytes(r.length() - header_len);
  buf.insert(buf.end(), payload.begin(), payload.end());
  return buf;
}

// --- ARP ---------------------------------------------------------------------

RC_GTEST_PROP(ArpProp, ReprRoundTrips, ()) {
  ArpRepr r{any<u16>(), gen::mac(), gen::ipv4(), gen::mac(), gen::ipv4()};
  std::vector<u8> buf(ArpRepr::length() + below(20), 0);
  RC_ASSERT(r.emit(MutBytes(buf)).ok());
  auto v = ArpView::parse(Bytes(buf));
  RC_ASSERT(v.ok());
  RC_ASSERT(v->bytes().size() == kArpEthIpv4Len);
  auto back = ArpRepr::from(*v);
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == r);
}

RC_GTEST_PROP(ArpProp, AnySizesParseIffTheyFit, ()) {
  const u8 hlen = any<u8>();
  const u8 plen = any<u8>();
  const std::size_t need = 8 + 2 * (static_cast<std::size_t>(hlen) + plen);
  const std::size_t have = below(need + 3);
  std::vector<u8> buf = random_bytes(std::max<std::size_t>(have, 8));
  buf.resize(have);
  if (have >= 6) {
    buf[4] = hlen;
    buf[5] = plen;
  }
  auto v = ArpView::parse(Bytes(buf));
  if (have < 8) {
    RC_ASSERT(!v.ok());
  } else {
    RC_ASSERT(v.ok() == (have >= need));
    if (v) {
      RC_ASSERT(v->tpa().data() + v->tpa().size() == buf.data() + need);
      RC_ASSERT(ArpRepr::from(*v).ok() == v->is_eth_ipv4());
    }
  }
}

// --- IPv4 --------------------------------------------------------------------

RC_GTEST_PROP(Ipv4Prop, ReprRoundTrips, ()) {
  Ipv4Repr r;
  r.src = gen::ipv4();
  r.dst = gen::ipv4();
  r.protocol = any<u8>();
  r.ttl = any<u8>();
  r.tos = any<u8>();
  r.ident = any<u16>();
  r.dont_fragment = any<bool>();
  r.payload_len = static_cast<u16>(below(1500));
  std::vector<u8> buf(r.total_len() + below(8), 0xa5);
  RC_ASSERT(r.emit(MutBytes(buf)).ok());
  auto v = Ipv4View::parse(Bytes(buf));
  RC_ASSERT(v.ok());
  RC_ASSERT(v->checksum_ok());
  RC_ASSERT(!v->is_fragment());
  RC_ASSERT(v->bytes().size() == r.total_len());
  RC_ASSERT(Ipv4Repr::from(*v) == r);
}

RC_GTEST_PROP(Ipv4Prop, OptionsAreSkippedAndDropped, ()) {
  const std::size_t ihl = *rc::gen::inRange<std::size_t>(5, 16);
  const std::size_t payload = below(64);
  std::vector<u8> buf = random_bytes(ihl * 4 + payload);
  buf[0] = static_cast<u8>(0x40 | ihl);
  store_be16(&buf[2], static_cast<u16>(buf.size()));
  auto v = Ipv4View::parse(Bytes(buf));
  RC_ASSERT(v.ok());
  RC_ASSERT(v->options().size() == ihl * 4 - 20);
  RC_ASSERT(v->payload().size() == payload);
  Ipv4Repr r = Ipv4Repr::from(*v);
  std::vector<u8> out(r.total_len(), 0);
  RC_ASSERT(r.emit(MutBytes(out)).ok());
  auto v2 = Ipv4View::parse(Bytes(out));
  RC_ASSERT(v2.ok());
  RC_ASSERT(Ipv4Repr::from(*v2) == r);
}

// --- IPv6 --------------------------------------------------------------------

RC_GTEST_PROP(Ipv6Prop, ReprRoundTrips, ()) {
  Ipv6Repr r;
  r.src = gen::ipv6();
  r.dst = gen::ipv6();
  r.next_header = any<u8>();
  r.hop_limit = any<u8>();
  r.traffic_class = any<u8>();
  r.flow_label = any<u32>() & 0xfffffu;
  r.payload_len = static_cast<u16>(below(1500));
  std::vector<u8> buf(r.total_len() + below(8), 0);
  RC_ASSERT(r.emit(MutBytes(buf)).ok());
  auto v = Ipv6View::parse(Bytes(buf));
  RC_ASSERT(v.ok());
  RC_ASSERT(v->bytes().size() == r.total_len());
  RC_ASSERT(Ipv6Repr::from(*v) == r);
}

// A random chain of extension headers followed by an upper-layer protocol:
// the walk finds it at the offset the chain adds up to.
RC_GTEST_PROP(Ipv6Prop, ExtensionWalkFindsTheUpperLayer, ()) {
  static constexpr u8 kKinds[] = {ipproto::routing,     ipproto::dstopts,    ipproto::ah,
                                  ipproto::mobility,    ipproto::hip,        ipproto::shim6,
                                  ipproto::experiment1, ipproto::experiment2, ipproto::fragment};
  const std::size_t n = below(kIpv6MaxExtHeaders + 3);
  const bool hbh_first = any<bool>();
  std::vector<u8> kinds;
  for (std::size_t i = 0; i < n; i++)
    kinds.push_back(i == 0 && hbh_first ? ipproto::hopopts : kKinds[below(std::size(kKinds))]);
  static constexpr u8 kUpper[] = {ipproto::tcp, ipproto::udp,  ipproto::icmpv6,
                                  ipproto::esp, ipproto::none, 47};
  const u8 upper = kUpper[below(std::size(kUpper))];
  std::vector<u8> rest;
  bool later_fragment = false;
  std::size_t stop_at = n;  // headers actually walked
  u8 expect_proto = upper;
  for (std::size_t i = 0; i < n; i++) {
    const u8 next = i + 1 < n ? kinds[i + 1] : upper;
    std::vector<u8> h;
    if (kinds[i] == ipproto::fragment) {
      h = random_bytes(8);
      // Mostly first fragments so the walk goes on; sometimes a later one.
      if (any<bool>()) h[2] = h[3] = 0;
      h[3] &= 0xf9;
      if (!later_fragment && ((h[2] << 5) | (h[3] >> 3)) != 0 && stop_at == n) {
        later_fragment = true;
        stop_at = i + 1;
        expect_proto = next;
      }
    } else if (kinds[i] == ipproto::ah) {
      const std::size_t len4 = below(6);
      h = random_bytes((len4 + 2) * 4);
      h[1] = static_cast<u8>(len4);
    } else {
      const std::size_t len8 = below(4);
      h = random_bytes((len8 + 1) * 8);
      h[1] = static_cast<u8>(len8);
    }
    h[0] = next;
    rest.insert(rest.end(), h.begin(), h.end());
  }
  const auto l4 = random_bytes(below(32));
  rest.insert(rest.end(), l4.begin(), l4.end());
  Ipv6Repr r;
  r.next_header = n == 0 ? upper : kinds[0];
  r.payload_len = static_cast<u16>(rest.size());
  std::vector<u8> buf(40, 0);
  RC_ASSERT(r.emit(MutBytes(buf)).ok());
  buf.insert(buf.end(), rest.begin(), rest.end());
  auto v = Ipv6View::parse(Bytes(buf));
  RC_ASSERT(v.ok());
  auto u = v->upper_layer();
  if (stop_at > kIpv6MaxExtHeaders) {
    RC_ASSERT(u.err() == Err::not_supported);
    return;
  }
  RC_ASSERT(u.ok());
  RC_ASSERT(u->ext_headers == stop_at);
  RC_ASSERT(u->protocol == expect_proto);
  RC_ASSERT(u->bytes.data() + u->bytes.size() == buf.data() + buf.size());
  RC_ASSERT(u->offset == static_cast<std::size_t>(u->bytes.data() - buf.data()));
  if (!later_fragment) RC_ASSERT(u->bytes.size() == l4.size());
  // Cutting the payload inside the chain is always caught.
  if (stop_at > 0 && !later_fragment) {
    const std::size_t cut = *rc::gen::inRange<std::size_t>(40, u->offset);
    std::vector<u8> t(buf.begin(), buf.begin() + static_cast<long>(cut));
    store_be16(&t[4], static_cast<u16>(cut - 40));
    RC_ASSERT(Ipv6View::parse(Bytes(t))->upper_layer().err() == Err::truncated);
  }
}

// --- ICMP --------------------------------------------------------------------

RC_GTEST_PROP(IcmpProp, EchoReprRoundTrips, ()) {
  IcmpEchoRepr r{any<bool>(), any<u16>(), any<u16>(), below(600)};
  auto buf = buffer_with_payload(r, kIcmpHeaderLen);
  const auto payload = std::vector<u8>(buf.begin() + 8, buf.end());
  RC_ASSERT(r.emit(MutBytes(buf)).ok());
  auto v = IcmpView::parse(Bytes(buf));
  RC_ASSERT(v.ok());
  RC_ASSERT(v->checksum_ok());
  auto back = IcmpEchoRepr::from(*v);
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == r);
  RC_ASSERT(std::equal(payload.begin(), payload.end(), v->payload().begin()));
}

RC_GTEST_PROP(IcmpProp, GenericReprRoundTrips, ()) {
  IcmpRepr r{any<u8>(), any<u8>(), any<u32>(), below(600)};
  auto buf = buffer_with_payload(r, kIcmpHeaderLen);
  RC_ASSERT(r.emit(MutBytes(buf)).ok());
  auto v = IcmpView::parse(Bytes(buf));
  RC_ASSERT(v.ok());
  RC_ASSERT(v->checksum_ok());
  RC_ASSERT(IcmpRepr::from(*v) == r);
}

// --- UDP ---------------------------------------------------------------------

RC_GTEST_PROP(UdpProp, ReprRoundTripsWithChecksums, ()) {
  UdpRepr r{any<u16>(), any<u16>(), below(1500)};
  auto buf = buffer_with_payload(r, kUdpHeaderLen);
  buf.resize(buf.size() + below(4), 0x77);  // bytes past the datagram
  if (any<bool>()) {
    const Ipv4Addr s = gen::ipv4();
    const Ipv4Addr d = gen::ipv4();
    RC_ASSERT(r.emit(MutBytes(buf), s, d).ok());
    auto v = UdpView::parse(Bytes(buf));
    RC_ASSERT(v.ok());
    RC_ASSERT(v->checksum() != 0);
    RC_ASSERT(v->checksum_ok(s, d));
    RC_ASSERT(UdpRepr::from(*v) == r);
  } else {
    const Ipv6Addr s = gen::ipv6();
    const Ipv6Addr d = gen::ipv6();
    RC_ASSERT(r.emit(MutBytes(buf), s, d).ok());
    auto v = UdpView::parse(Bytes(buf));
    RC_ASSERT(v.ok());
    RC_ASSERT(v->checksum() != 0);
    RC_ASSERT(v->checksum_ok(s, d));
    RC_ASSERT(UdpRepr::from(*v) == r);
  }
}

// --- TCP ---------------------------------------------------------------------

RC_GTEST_PROP(TcpProp, ReprRoundTripsWithChecksums, ()) {
  TcpRepr r = random_tcp_repr(1500);
  auto buf = buffer_with_payload(r, r.header_len());
  RC_ASSERT(r.header_len() % 4 == 0);
  RC_ASSERT(r.header_len() <= kTcpMaxHeaderLen);
  const Ipv6Addr s = gen::ipv6();
  const Ipv6Addr d = gen::ipv6();
  RC_ASSERT(r.emit(MutBytes(buf), s, d).ok());
  auto v = TcpView::parse(Bytes(buf));
  RC_ASSERT(v.ok());
  RC_ASSERT(v->header_len() == r.header_len());
  RC_ASSERT(v->checksum_ok(s, d));
  RC_ASSERT(TcpRepr::from(*v) == r);
}

// Well-formed options in any order, with NOPs sprinkled in and maybe an EOL
// at the end, parse to what they say, and re-emit to the same repr.
RC_GTEST_PROP(TcpProp, RandomOptionListsRoundTrip, ()) {
  std::vector<u8> o;
  TcpOptions expect;
  const std::size_t n = below(10);
  for (std::size_t i = 0; i < n; i++) {
    std::vector<u8> opt;
    TcpOptions next = expect;
    switch (below(7)) {
      case 0:
        opt = {tcp_opt::nop};
        break;
      case 1: {
        const u16 m = any<u16>();
        opt = {tcp_opt::mss, 4, static_cast<u8>(m >> 8), static_cast<u8>(m)};
        next.mss = m;
        break;
      }
      case 2: {
        const u8 w = any<u8>();
        opt = {tcp_opt::wscale, 3, w};
        next.wscale = w;
        break;
      }
      case 3:
        opt = {tcp_opt::sack_permitted, 2};
        next.sack_permitted = true;
        break;
      case 4: {
        const TcpTimestamps ts{any<u32>(), any<u32>()};
        opt = {tcp_opt::timestamps, 10, 0, 0, 0, 0, 0, 0, 0, 0};
        store_be32(&opt[2], ts.val);
        store_be32(&opt[6], ts.ecr);
        next.timestamps = ts;
        break;
      }
      case 5: {
        const std::size_t blocks = *rc::gen::inRange<std::size_t>(1, 5);
        opt = {tcp_opt::sack, static_cast<u8>(2 + 8 * blocks)};
        next.sack_count = static_cast<u8>(blocks);
        for (std::size_t k = 0; k < blocks; k++) {
          const u32 l = any<u32>();
          const u32 rr = any<u32>();
          std::vector<u8> b(8);
          store_be32(&b[0], l);
          store_be32(&b[4], rr);
          opt.insert(opt.end(), b.begin(), b.end());
          next.sack[k] = {Seq{l}, Seq{rr}};
        }
        break;
      }
      default: {
        const u8 kind = static_cast<u8>(*rc::gen::inRange<int>(9, 256));
        const auto data = random_bytes(below(10));
        if (!next.add_unknown(kind, data)) continue;
        opt = {kind, static_cast<u8>(2 + data.size())};
        opt.insert(opt.end(), data.begin(), data.end());
        break;
      }
    }
    if (o.size() + opt.size() > kTcpMaxOptionsLen) break;
    o.insert(o.end(), opt.begin(), opt.end());
    expect = next;
  }
  if (o.size() < kTcpMaxOptionsLen && any<bool>()) {
    o.push_back(tcp_opt::eol);
    const auto junk = random_bytes(below(kTcpMaxOptionsLen - o.size() + 1));
    o.insert(o.end(), junk.begin(), junk.end());  // ignored after EOL
  }
  TcpOptions got = TcpOptions::parse(Bytes(o));
  RC_ASSERT(got == expect);
  // Re-emitting may not fit 40 bytes (our layout adds NOPs); when it does,
  // it parses back to the same options.
  if (got.length() <= kTcpMaxOptionsLen) {
    std::vector<u8> out(got.length(), 0xcc);
    RC_ASSERT(got.emit(MutBytes(out)).ok());
    RC_ASSERT(TcpOptions::parse(Bytes(out)) == got);
  }
}

// Arbitrary bytes never break the option parser, and whatever it keeps
// survives a re-emit.
RC_GTEST_PROP(TcpProp, ArbitraryOptionBytesAreStable, ()) {
  const auto o = random_bytes(below(kTcpMaxOptionsLen + 1));
  TcpOptions got = TcpOptions::parse(Bytes(o));
  got.malformed = false;
  if (got.length() <= kTcpMaxOptionsLen) {
    std::vector<u8> out(got.length(), 0);
    RC_ASSERT(got.emit(MutBytes(out)).ok());
    RC_ASSERT(TcpOptions::parse(Bytes(out)) == got);
  }
}

RC_GTEST_PROP(TcpProp, PatchEqualsEmittingThePatchedRepr, ()) {
  TcpRepr r = random_tcp_repr(300);
  auto a = buffer_with_payload(r, r.header_len());
  auto b = a;
  const Ipv4Addr s = gen::ipv4();
  const Ipv4Addr d = gen::ipv4();
  RC_ASSERT(r.emit(MutBytes(a), s, d).ok());
  const TcpPatch p{Seq{any<u32>()}, Seq{any<u32>()}, any<u8>(), any<u16>()};
  RC_ASSERT(tcp_patch(MutBytes(a), p, s, d).ok());
  r.seq = p.seq;
  r.ack = p.ack;
  r.flags = p.flags;
  r.window = p.window;
  RC_ASSERT(r.emit(MutBytes(b), s, d).ok());
  // Same bytes, except that one's complement has two zeros (0 and 0xffff).
  const u16 ca = load_be16(&a[16]);
  const u16 cb = load_be16(&b[16]);
  RC_ASSERT(ca == cb || (ca ^ cb) == 0xffff);
  a[16] = b[16];
  a[17] = b[17];
  RC_ASSERT(a == b);
  RC_ASSERT(TcpView::parse(Bytes(b))->checksum_ok(s, d));
}

// --- Whole frames --------------------------------------------------------------

RC_GTEST_PROP(FrameProp, ComposedFramesParseBack, ()) {
  const bool v6 = any<bool>();
  const int l4 = *rc::gen::inRange<int>(0, 3);  // tcp, udp, icmp(v4)/icmpv6(v6)
  const std::size_t payload = below(200);
  std::vector<u8> f(kEthHeaderLen, 0);
  EthernetRepr eth{gen::mac(), gen::mac(), v6 ? ethertype::ipv6 : ethertype::ipv4};
  RC_ASSERT(eth.emit(MutBytes(f)).ok());
  const std::size_t l3 = v6 ? kIpv6HeaderLen : kIpv4HeaderLen;
  TcpRepr tcp = random_tcp_repr(0);
  tcp.payload_len = payload;
  const UdpRepr udp{any<u16>(), any<u16>(), payload};
  const IcmpEchoRepr echo{true, any<u16>(), any<u16>(), payload};
  const std::size_t l4len = l4 == 0 ? tcp.length() : l4 == 1 ? udp.length() : echo.length();
  const u8 proto = l4 == 0 ? ipproto::tcp
                  : l4 == 1 ? ipproto::udp
                  : v6      ? ipproto::icmpv6
                            : ipproto::icmp;
  f.resize(kEthHeaderLen + l3 + l4len, 0);
  const auto pl = random_bytes(payload);
  std::copy(pl.begin(), pl.end(), f.end() - static_cast<long>(payload));
  MutBytes ip = MutBytes(f).subspan(kEthHeaderLen);
  MutBytes seg = ip.subspan(l3);
  InAny src;
  InAny dst;
  if (v6) {
    Ipv6Repr r;
    r.src = gen::ipv6();
    r.dst = gen::ipv6();
    r.next_header = proto;
    r.payload_len = static_cast<u16>(l4len);
    RC_ASSERT(r.emit(ip).ok());
    src = InAny::from(r.src);
    dst = InAny::from(r.dst);
    if (l4 == 0) RC_ASSERT(tcp.emit(seg, r.src, r.dst).ok());
    if (l4 == 1) RC_ASSERT(udp.emit(seg, r.src, r.dst).ok());
    if (l4 == 2) {
      // ICMPv6 echo request: type 128, checksum over the pseudo-header.
      RC_ASSERT(echo.emit(seg).ok());
      seg[0] = 128;
      store_be16(&seg[2], 0);
      store_be16(&seg[2], l4_checksum_v6(r.src, r.dst, ipproto::icmpv6, Bytes(seg)));
    }
  } else {
    Ipv4Repr r;
    r.src = gen::ipv4();
    r.dst = gen::ipv4();
    r.protocol = proto;
    r.payload_len = static_cast<u16>(l4len);
    RC_ASSERT(r.emit(ip).ok());
    src = InAny::from(r.src);
    dst = InAny::from(r.dst);
    if (l4 == 0) RC_ASSERT(tcp.emit(seg, r.src, r.dst).ok());
    if (l4 == 1) RC_ASSERT(udp.emit(seg, r.src, r.dst).ok());
    if (l4 == 2) RC_ASSERT(echo.emit(seg).ok());
  }
  f.resize(std::max<std::size_t>(f.size(), 60), 0);  // Ethernet padding
  auto fr = parse_frame(Bytes(f));
  RC_ASSERT(fr.ok());
  RC_ASSERT(frame_checksums_ok(*fr));
  RC_ASSERT(fr->l3 == (v6 ? L3::ipv6 : L3::ipv4));
  RC_ASSERT(fr->src == src);
  RC_ASSERT(fr->dst == dst);
  RC_ASSERT(fr->l4_proto == proto);
  RC_ASSERT(fr->l4_offset == kEthHeaderLen + l3);
  RC_ASSERT(fr->l4_bytes.size() == l4len);
  if (l4 == 0) {
    RC_ASSERT(fr->l4 == L4::tcp);
    RC_ASSERT(TcpRepr::from(*fr->tcp) == tcp);
  } else if (l4 == 1) {
    RC_ASSERT(fr->l4 == L4::udp);
    RC_ASSERT(UdpRepr::from(*fr->udp) == udp);
  } else {
    RC_ASSERT(fr->l4 == (v6 ? L4::icmpv6 : L4::icmp));
  }
  if (l4 != 2 || !v6) {
    RC_ASSERT(fr->payload.size() == payload);
    RC_ASSERT(std::equal(pl.begin(), pl.end(), fr->payload.begin()));
  }
}

}  // namespace
}  // namespace passt::wire
