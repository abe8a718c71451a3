// Whole frames: every view and offset parse_frame hands out lies inside the
// frame and agrees with the enums; frames whose layers all have reprs are
// rebuilt from them (Ethernet + 20/40-byte IP header + L4 header + payload)
// and must parse back to the same reprs with valid checksums.  Every parsed
// frame's frame_summary() stays within its buffer.
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz/fuzz.hpp"
#include "wire/checksum.hpp"
#include "wire/frame.hpp"

namespace {

using namespace passt;
using namespace passt::wire;

bool inside(Bytes inner, Bytes outer) {
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

// --trace's line: within its buffer and terminated, whatever the buffer.
void check_summary(const Frame& f) {
  char line[kFrameSummaryLen];
  const std::size_t n = frame_summary(f, line, sizeof(line));
  PASST_CHECK(n < sizeof(line) && std::strlen(line) == n);
  char small[7];
  PASST_CHECK(frame_summary(f, small, sizeof(small)) == std::strlen(small) && std::strlen(small) < sizeof(small));
  PASST_CHECK(frame_summary(f, small, 0) == 0);
}

void check_invariants(const Frame& f, Bytes in) {
  check_summary(f);
  PASST_CHECK(inside(f.l3_bytes, in) && f.l3_bytes.data() == in.data() + kEthHeaderLen);
  PASST_CHECK((f.l3 == L3::arp) == f.arp.has_value());
  PASST_CHECK((f.l3 == L3::ipv4) == f.ip4.has_value());
  PASST_CHECK((f.l3 == L3::ipv6) == f.ip6.has_value());
  if (f.l3 == L3::arp) {
    PASST_CHECK(f.l4 == L4::none && f.l4_bytes.empty());
    return;
  }
  PASST_CHECK(f.l4 != L4::none);
  if (f.l3 == L3::ipv4) PASST_CHECK(f.src.is_v4() && f.dst.is_v4());
  PASST_CHECK(inside(f.l4_bytes, f.l3_bytes));
  PASST_CHECK(f.l4_offset == static_cast<std::size_t>(f.l4_bytes.data() - in.data()));
  PASST_CHECK(f.l4_bytes.data() + f.l4_bytes.size() == f.l3_bytes.data() + f.l3_bytes.size());
  PASST_CHECK((f.l4 == L4::tcp) == f.tcp.has_value());
  PASST_CHECK((f.l4 == L4::udp) == f.udp.has_value());
  PASST_CHECK((f.l4 == L4::icmp) == f.icmp.has_value());
  PASST_CHECK((f.l4 == L4::fragment) == f.fragment);
  PASST_CHECK(f.payload.empty() || inside(f.payload, f.l4_bytes));
  if (f.l4 != L4::tcp && f.l4 != L4::udp) PASST_CHECK(f.src_port == 0 && f.dst_port == 0);
  if (f.tcp) PASST_CHECK(f.tcp->bytes().data() == f.l4_bytes.data());
  if (f.udp) PASST_CHECK(f.udp->bytes().data() == f.l4_bytes.data());
  (void)frame_checksums_ok(f);
}

// Rebuilds an IP frame from reprs; false if some layer has no repr.
bool rebuild(const Frame& f, std::vector<u8>& out) {
  if (f.l4 != L4::tcp && f.l4 != L4::udp && f.l4 != L4::icmp) return false;
  const bool v6 = f.l3 == L3::ipv6;
  std::size_t l4len = 0;
  TcpRepr tcp;
  UdpRepr udp;
  IcmpRepr icmp;
  if (f.tcp) {
    tcp = TcpRepr::from(*f.tcp);
    tcp.options.malformed = false;
    if (tcp.options.length() > kTcpMaxOptionsLen) return false;
    l4len = tcp.length();
  } else if (f.udp) {
    udp = UdpRepr::from(*f.udp);
    l4len = udp.length();
  } else {
    icmp = IcmpRepr::from(*f.icmp);
    l4len = icmp.length();
  }
  const std::size_t l3len = v6 ? kIpv6HeaderLen : kIpv4HeaderLen;
  if (l4len > 65535 - kIpv4HeaderLen) return false;
  out.assign(kEthHeaderLen + l3len + l4len, 0);
  const std::size_t hlen = f.tcp ? tcp.header_len() : f.udp ? kUdpHeaderLen : kIcmpHeaderLen;
  std::memcpy(out.data() + kEthHeaderLen + l3len + hlen, f.payload.data(), f.payload.size());
  const EthernetRepr eth{f.eth_dst, f.eth_src, f.ethertype};
  PASST_CHECK(eth.emit(MutBytes(out)).ok());
  MutBytes ip = MutBytes(out).subspan(kEthHeaderLen);
  MutBytes seg = ip.subspan(l3len);
  if (v6) {
    Ipv6Repr r = Ipv6Repr::from(*f.ip6);
    r.next_header = f.l4_proto;
    r.payload_len = static_cast<u16>(l4len);
    PASST_CHECK(r.emit(ip).ok());
    if (f.tcp) PASST_CHECK(tcp.emit(seg, r.src, r.dst).ok());
    if (f.udp) PASST_CHECK(udp.emit(seg, r.src, r.dst).ok());
  } else {
    Ipv4Repr r = Ipv4Repr::from(*f.ip4);
    r.payload_len = static_cast<u16>(l4len);
    PASST_CHECK(r.emit(ip).ok());
    if (f.tcp) PASST_CHECK(tcp.emit(seg, r.src, r.dst).ok());
    if (f.udp) PASST_CHECK(udp.emit(seg, r.src, r.dst).ok());
    if (f.icmp) PASST_CHECK(icmp.emit(seg).ok());
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes in(data, size);
  auto f = parse_frame(in);
  if (!f) return 0;
  check_invariants(*f, in);
  if (f->arp) {
    auto a = ArpRepr::from(*f->arp);
    if (a) {
      std::vector<u8> out(kEthHeaderLen + kArpEthIpv4Len);
      const EthernetRepr eth{f->eth_dst, f->eth_src, f->ethertype};
      PASST_CHECK(eth.emit(MutBytes(out)).ok());
      PASST_CHECK(a->emit(MutBytes(out).subspan(kEthHeaderLen)).ok());
      PASST_CHECK(std::memcmp(out.data(), data, out.size()) == 0);
    }
    return 0;
  }
  std::vector<u8> out;
  if (!rebuild(*f, out)) return 0;
  auto g = parse_frame(Bytes(out));
  PASST_CHECK(g.ok());
  check_invariants(*g, Bytes(out));
  PASST_CHECK(frame_checksums_ok(*g));
  PASST_CHECK(g->l3 == f->l3 && g->l4 == f->l4 && g->l4_proto == f->l4_proto);
  PASST_CHECK(g->src == f->src && g->dst == f->dst && g->hop_limit == f->hop_limit);
  PASST_CHECK(g->src_port == f->src_port && g->dst_port == f->dst_port);
  PASST_CHECK(g->payload.size() == f->payload.size());
  PASST_CHECK(f->payload.empty() ||
              std::memcmp(g->payload.data(), f->payload.data(), f->payload.size()) == 0);
  if (f->tcp) {
    TcpRepr a = TcpRepr::from(*f->tcp);
    a.options.malformed = false;
    PASST_CHECK(TcpRepr::from(*g->tcp) == a);
  }
  if (f->udp) PASST_CHECK(UdpRepr::from(*g->udp) == UdpRepr::from(*f->udp));
  if (f->icmp) PASST_CHECK(IcmpRepr::from(*g->icmp) == IcmpRepr::from(*f->icmp));
  return 0;
}
