// Guest echo frames and the engine's echo replies, for the ICMP tests of
// proto (src/proto/test/icmp_test.cpp) and the engine.
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "util/addr.hpp"
#include "util/endian.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/frame.hpp"
#include "wire/icmp.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"

namespace passt::proto::test {

inline const MacAddr kGuestMac{{0x52, 0x54, 0, 0x12, 0x34, 0x56}};

// An echo message from the guest, as a whole frame.
inline std::vector<u8> echo_frame(const InAny& src, const InAny& dst, u16 id, u16 seq,
                           const std::vector<u8>& data, bool request = true, u8 code = 0) {
  const bool v6 = !src.is_v4();
  const std::size_t ip = v6 ? wire::kIpv6HeaderLen : wire::kIpv4HeaderLen;
  const std::size_t l4 = wire::kEthHeaderLen + ip;
  std::vector<u8> f(l4 + 8 + data.size());
  MutBytes b(f);
  wire::EthernetRepr eth{MacAddr{{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}}, kGuestMac,
                         v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4};
  (void)eth.emit(b);
  std::copy(data.begin(), data.end(), f.begin() + static_cast<long>(l4 + 8));
  if (!v6) {
    wire::Ipv4Repr h;
    h.src = src.v4();
    h.dst = dst.v4();
    h.protocol = wire::ipproto::icmp;
    h.ttl = 64;
    h.payload_len = static_cast<u16>(8 + data.size());
    (void)h.emit(b.subspan(wire::kEthHeaderLen));
    wire::IcmpRepr r{static_cast<u8>(request ? 8 : 0), code, (static_cast<u32>(id) << 16) | seq,
                     data.size()};
    (void)r.emit(b.subspan(l4));
  } else {
    wire::Ipv6Repr h;
    h.src = src.v6();
    h.dst = dst.v6();
    h.next_header = wire::kIpProtoIcmpv6;
    h.hop_limit = 64;
    h.payload_len = static_cast<u16>(8 + data.size());
    (void)h.emit(b.subspan(wire::kEthHeaderLen));
    MutBytes m = b.subspan(l4);
    m[0] = request ? 128 : 129;
    m[1] = code;
    store_be16(m.data() + 4, id);
    store_be16(m.data() + 6, seq);
    (void)wire::icmpv6_fill_checksum(h.src, h.dst, m);
  }
  return f;
}

struct Echo {
  bool v6 = false;
  InAny src;
  InAny dst;
  u8 type = 0;
  u16 id = 0;
  u16 seq = 0;
  std::vector<u8> data;
  MacAddr eth_dst;
};

// Every frame must parse with correct checksums; returns the echo messages.
inline std::vector<Echo> echoes(const std::vector<std::vector<u8>>& sent, std::size_t* taken) {
  std::vector<Echo> out;
  for (; *taken < sent.size(); (*taken)++) {
    const std::vector<u8>& raw = sent[*taken];
    auto pf = wire::parse_frame(Bytes(raw));
    EXPECT_TRUE(pf.ok());
    if (!pf) continue;
    EXPECT_TRUE(wire::frame_checksums_ok(*pf)) << "frame " << *taken;
    Echo e;
    e.v6 = pf->l3 == wire::L3::ipv6;
    e.src = pf->src;
    e.dst = pf->dst;
    e.eth_dst = pf->eth_dst;
    Bytes m = pf->l4_bytes;
    EXPECT_GE(m.size(), 8u);
    if (m.size() < 8) continue;
    e.type = m[0];
    e.id = load_be16(m.data() + 4);
    e.seq = load_be16(m.data() + 6);
    e.data.assign(m.begin() + 8, m.end());
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace passt::proto::test
