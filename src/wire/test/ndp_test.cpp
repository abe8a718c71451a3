#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "util/endian.hpp"
#include "wire/ndp.hpp"

namespace passt::wire {
namespace {

Ipv6Addr v6(const char* s) { return parse_ipv6(s).value(); }

// Captured from Linux 6.x on a veth (see fuzz/corpus/ndp/).
// Router Solicitation, fe80::f8fb:deff:fe3e:23bc -> ff02::2, SLLA option.
const std::vector<u8> kRs = {0x85, 0x00, 0x85, 0x40, 0, 0, 0, 0,
                             0x01, 0x01, 0xfa, 0xfb, 0xde, 0x3e, 0x23, 0xbc};
// ndisc6: NS for fe80::1234 from fe80::1884:d1ff:fe5e:6bf3 to
// ff02::1:ff00:1234, SLLA option.
const std::vector<u8> kNs = {0x87, 0x00, 0xab, 0x88, 0, 0, 0, 0, 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
                             0,    0,    0,    0,    0, 0, 0x12, 0x34, 0x01, 0x01, 0x1a, 0x84,
                             0xd1, 0x5e, 0x6b, 0xf3};
// DAD probe: :: -> ff02::1:ff3e:23bc for fe80::f8fb:deff:fe3e:23bc, with a
// Nonce option (RFC 7527), which we do not interpret.
const std::vector<u8> kDadNs = {0x87, 0x00, 0xa5, 0x5e, 0,    0,    0,    0,    0xfe, 0x80, 0, 0,
                                0,    0,    0,    0,    0xf8, 0xfb, 0xde, 0xff, 0xfe, 0x3e, 0x23,
                                0xbc, 0x0e, 0x01, 0x6e, 0x4b, 0x4d, 0xc8, 0xee, 0xba};

TEST(Ndp, CapturedRouterSolicitation) {
  auto v = NdpView::parse(Bytes(kRs));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->type(), icmpv6_type::router_solicitation);
  EXPECT_EQ(v->source_ll(), (MacAddr{{0xfa, 0xfb, 0xde, 0x3e, 0x23, 0xbc}}));
  EXPECT_FALSE(v->target_ll());
  const Ipv6Addr src = v6("fe80::f8fb:deff:fe3e:23bc");
  const Ipv6Addr dst = v6("ff02::2");
  EXPECT_TRUE(ndp_validate_ip(*v, src, dst, 255));
  EXPECT_EQ(ndp_validate_ip(*v, src, dst, 254).err(), Err::malformed);
  // An SLLA from the unspecified address is not allowed (and the checksum
  // would not match anyway).
  EXPECT_FALSE(ndp_validate_ip(*v, Ipv6Addr::any(), dst, 255));
  auto r = NdpRepr::from(*v);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->options.source_ll, v->source_ll());
  EXPECT_EQ(r->length(), kRs.size());
  std::vector<u8> out(r->length());
  ASSERT_TRUE(r->emit(MutBytes(out), src, dst));
  EXPECT_EQ(out, kRs);  // byte-exact, checksum included
}

TEST(Ndp, CapturedNeighborSolicitation) {
  auto v = NdpView::parse(Bytes(kNs));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->target(), v6("fe80::1234"));
  EXPECT_EQ(v->source_ll(), (MacAddr{{0x1a, 0x84, 0xd1, 0x5e, 0x6b, 0xf3}}));
  const Ipv6Addr src = v6("fe80::1884:d1ff:fe5e:6bf3");
  const Ipv6Addr dst = v6("ff02::1:ff00:1234");
  EXPECT_TRUE(ndp_validate_ip(*v, src, dst, 255));
  auto r = NdpRepr::from(*v);
  ASSERT_TRUE(r);
  std::vector<u8> out(r->length());
  ASSERT_TRUE(r->emit(MutBytes(out), src, dst));
  EXPECT_EQ(out, kNs);
}

TEST(Ndp, CapturedDadProbeKeepsNonce) {
  auto v = NdpView::parse(Bytes(kDadNs));
  ASSERT_TRUE(v);
  const Ipv6Addr dst = v6("ff02::1:ff3e:23bc");
  EXPECT_TRUE(ndp_validate_ip(*v, Ipv6Addr::any(), dst, 255));
  // DAD must go to the solicited-node address.
  EXPECT_FALSE(ndp_validate_ip(*v, Ipv6Addr::any(), v6("ff02::1"), 255));
  auto r = NdpRepr::from(*v);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->options.unknown.size(), 1u);
  EXPECT_EQ(r->options.unknown[0].type, ndp_opt::nonce);
  EXPECT_EQ(r->options.unknown[0].data.size(), 6u);
  std::vector<u8> out(r->length());
  ASSERT_TRUE(r->emit(MutBytes(out), Ipv6Addr::any(), dst));
  EXPECT_EQ(out, kDadNs);
}

TEST(Ndp, FixedPartLengths) {
  std::vector<u8> m(24, 0);
  for (u8 t : std::array<u8, 4>{133, 134, 135, 136}) {
    m[0] = t;
    const std::size_t fixed = NdpView::fixed_len(t);
    EXPECT_TRUE(NdpView::parse(Bytes(m).first(fixed))) << int(t);
    EXPECT_EQ(NdpView::parse(Bytes(m).first(fixed - 1)).err(), Err::truncated) << int(t);
  }
  m[0] = 137;  // redirect
  EXPECT_EQ(NdpView::parse(Bytes(m)).err(), Err::not_supported);
  m[0] = 128;
  EXPECT_EQ(NdpView::parse(Bytes(m)).err(), Err::not_supported);
  m[0] = 133;
  m[1] = 1;  // code must be 0
  EXPECT_EQ(NdpView::parse(Bytes(m)).err(), Err::malformed);
  EXPECT_EQ(NdpView::parse(Bytes(m).first(3)).err(), Err::truncated);
}

TEST(Ndp, OptionLengthValidation) {
  std::vector<u8> rs(8, 0);
  rs[0] = 133;
  auto with = [&](std::vector<u8> opts) {
    std::vector<u8> m = rs;
    m.insert(m.end(), opts.begin(), opts.end());
    return NdpView::parse(Bytes(m)).err();
  };
  EXPECT_EQ(with({1, 0, 0, 0, 0, 0, 0, 0}), Err::malformed);           // length 0
  EXPECT_EQ(with({1, 2, 0, 0, 0, 0, 0, 0}), Err::malformed);           // overruns
  EXPECT_EQ(with({1, 1, 0, 0, 0, 0, 0, 0, 9}), Err::malformed);        // 1 stray byte
  EXPECT_EQ(with({1, 1, 0, 0, 0, 0, 0, 0, 9, 1}), Err::malformed);     // 2-byte stub
  EXPECT_EQ(with({1, 1, 0, 0, 0, 0, 0, 0}), Err::none);
  EXPECT_EQ(with({200, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0}), Err::none);
}

std::vector<u8> rs_with(std::vector<u8> opts) {
  std::vector<u8> m = {133, 0, 0, 0, 0, 0, 0, 0};
  m.insert(m.end(), opts.begin(), opts.end());
  return m;
}

Err repr_err(const std::vector<u8>& m) {
  auto v = NdpView::parse(Bytes(m));
  EXPECT_TRUE(v);
  if (!v) return v.err();
  auto r = NdpRepr::from(*v);
  return r.ok() ? Err::none : r.err();
}

TEST(Ndp, TypedOptionLengths) {
  // SLLA of 2 units (not Ethernet).
  EXPECT_EQ(repr_err(rs_with({1, 2, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0})), Err::malformed);
  // MTU of 2 units.
  EXPECT_EQ(repr_err(rs_with({5, 2, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0})), Err::malformed);
  // Prefix information of 1 unit.
  EXPECT_EQ(repr_err(rs_with({3, 1, 64, 0xc0, 0, 0, 0, 0})), Err::malformed);
  // RDNSS of 1 and 2 units.
  EXPECT_EQ(repr_err(rs_with({25, 1, 0, 0, 0, 0, 0, 0})), Err::malformed);
  std::vector<u8> rdnss2 = {25, 2, 0, 0, 0, 0, 0, 0};
  rdnss2.resize(16, 0);
  EXPECT_EQ(repr_err(rs_with(rdnss2)), Err::malformed);
  // DNSSL of 1 unit.
  EXPECT_EQ(repr_err(rs_with({31, 1, 0, 0, 0, 0, 0, 0})), Err::malformed);
}

TEST(Ndp, DnsslPaddingAndNames) {
  // "a.b" then zero padding: fine.
  std::vector<u8> ok = {31, 2, 0, 0, 0, 0, 0, 10, 1, 'a', 1, 'b', 0, 0, 0, 0};
  const auto msg = rs_with(ok);
  auto v = NdpView::parse(Bytes(msg));
  ASSERT_TRUE(v);
  auto r = NdpRepr::from(*v);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->options.dnssl.size(), 1u);
  EXPECT_EQ(r->options.dnssl[0].lifetime, 10u);
  ASSERT_EQ(r->options.dnssl[0].domains.size(), 1u);
  EXPECT_EQ(r->options.dnssl[0].domains[0].text().view(), "a.b");
  // Non-zero byte in the padding.
  std::vector<u8> bad = ok;
  bad[15] = 1;
  EXPECT_EQ(repr_err(rs_with(bad)), Err::malformed);
  // Only padding: no names.
  std::vector<u8> empty = {31, 2, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(repr_err(rs_with(empty)), Err::malformed);
  // A compression pointer.
  std::vector<u8> ptr = {31, 2, 0, 0, 0, 0, 0, 10, 1, 'a', 0xc0, 0, 0, 0, 0, 0};
  EXPECT_EQ(repr_err(rs_with(ptr)), Err::malformed);
  // A name running into the end of the option.
  std::vector<u8> cut = {31, 2, 0, 0, 0, 0, 0, 10, 7, 'a', 'b', 'c', 'd', 'e', 'f', 'g'};
  EXPECT_EQ(repr_err(rs_with(cut)), Err::malformed);
}

TEST(Ndp, FirstSingletonWinsAndCapacities) {
  const auto msg = rs_with({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2});
  auto r = NdpRepr::from(*NdpView::parse(Bytes(msg)));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->options.source_ll, (MacAddr{{1, 1, 1, 1, 1, 1}}));
  std::vector<u8> five;
  for (int i = 0; i < 5; i++) {
    std::vector<u8> pi(32, 0);
    pi[0] = 3;
    pi[1] = 4;
    five.insert(five.end(), pi.begin(), pi.end());
  }
  EXPECT_EQ(repr_err(rs_with(five)), Err::full);
}

// The RA passt sends (upstream §3.4), built and checked byte by byte.
TEST(Ndp, EmitRouterAdvertisement) {
  NdpRepr ra;
  ra.type = icmpv6_type::router_advertisement;
  ra.cur_hop_limit = 255;
  ra.managed = true;
  ra.router_lifetime = 65535;
  NdpPrefixInfo pi;
  pi.prefix = v6("2001:db8:1:2::");
  ASSERT_TRUE(ra.options.prefixes.push(pi));
  ra.options.source_ll = MacAddr{{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}};
  ra.options.mtu = 65520;
  NdpRdnss rd;
  ASSERT_TRUE(rd.servers.push(v6("2001:db8::53")));
  ASSERT_TRUE(ra.options.rdnss.push(rd));
  NdpDnssl sl;
  ASSERT_TRUE(sl.domains.push(DnsName::from_text("example.com").value()));
  ASSERT_TRUE(ra.options.dnssl.push(sl));

  const Ipv6Addr src = v6("fe80::1");
  const Ipv6Addr dst = v6("fe80::2");
  // 16 + SLLA 8 + prefix 32 + MTU 8 + RDNSS 24 + DNSSL 8+13 -> 24.
  ASSERT_EQ(ra.length(), 16u + 8 + 32 + 8 + 24 + 24);
  std::vector<u8> out(ra.length() + 1, 0xaa);
  ASSERT_TRUE(ra.emit(MutBytes(out), src, dst));
  EXPECT_EQ(out.back(), 0xaa);
  out.pop_back();
  const std::vector<u8> head = {134, 0, out[2], out[3], 255, 0x80, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(std::vector<u8>(out.begin(), out.begin() + 16), head);
  const std::vector<u8> slla = {1, 1, 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55};
  EXPECT_EQ(std::vector<u8>(out.begin() + 16, out.begin() + 24), slla);
  const std::vector<u8> prefix = {3,    4,    64,   0xc0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0,    0,    0,    0,    0x20, 0x01, 0x0d, 0xb8, 0,    1,
                                  0,    2,    0,    0,    0,    0,    0,    0,    0,    0};
  EXPECT_EQ(std::vector<u8>(out.begin() + 24, out.begin() + 56), prefix);
  const std::vector<u8> mtu = {5, 1, 0, 0, 0, 0, 0xff, 0xf0};
  EXPECT_EQ(std::vector<u8>(out.begin() + 56, out.begin() + 64), mtu);
  EXPECT_EQ(out[64], 25);
  EXPECT_EQ(out[65], 3);
  EXPECT_EQ(load_be32(&out[68]), 0xffffffffu);
  const std::vector<u8> dnssl = {31, 3,   0,   0,   0xff, 0xff, 0xff, 0xff, 7,   'e', 'x', 'a',
                                 'm', 'p', 'l', 'e', 3,    'c',  'o',  'm',  0,   0,   0,   0};
  EXPECT_EQ(std::vector<u8>(out.begin() + 88, out.end()), dnssl);
  EXPECT_TRUE(icmpv6_checksum_ok(src, dst, Bytes(out)));

  auto v = NdpView::parse(Bytes(out));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->managed());
  EXPECT_FALSE(v->other_config());
  EXPECT_EQ(v->router_lifetime(), 65535);
  EXPECT_EQ(v->cur_hop_limit(), 255);
  EXPECT_TRUE(ndp_validate_ip(*v, src, dst, 255));
  EXPECT_EQ(ndp_validate_ip(*v, v6("2001:db8::1"), dst, 255).err(), Err::malformed);
  auto back = NdpRepr::from(*v);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, ra);

  std::vector<u8> small(ra.length() - 1);
  EXPECT_EQ(ra.emit(MutBytes(small), src, dst).err(), Err::truncated);
}

TEST(Ndp, EmitNeighborAdvertisement) {
  NdpRepr na;
  na.type = icmpv6_type::neighbor_advertisement;
  na.router = na.solicited = na.override_flag = true;
  na.target = v6("fe80::1234");
  na.options.target_ll = MacAddr{{2, 0, 0, 0, 0, 1}};
  const Ipv6Addr src = v6("fe80::1");
  const Ipv6Addr dst = v6("fe80::1884:d1ff:fe5e:6bf3");
  std::vector<u8> out(na.length());
  ASSERT_EQ(out.size(), 32u);
  ASSERT_TRUE(na.emit(MutBytes(out), src, dst));
  EXPECT_EQ(out[0], 136);
  EXPECT_EQ(out[4], 0xe0);
  EXPECT_EQ(out[24], 2);
  EXPECT_EQ(out[25], 1);
  auto v = NdpView::parse(Bytes(out));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->router() && v->solicited() && v->override_flag());
  EXPECT_EQ(v->target_ll(), na.options.target_ll);
  EXPECT_TRUE(ndp_validate_ip(*v, src, dst, 255));
  // Solicited NA to a multicast address, or for a multicast target: invalid.
  EXPECT_FALSE(ndp_validate_ip(*v, src, v6("ff02::1"), 255));
  EXPECT_EQ(NdpRepr::from(*v).value(), na);

  na.target = v6("ff02::1");
  ASSERT_TRUE(na.emit(MutBytes(out), src, dst));
  EXPECT_FALSE(ndp_validate_ip(*NdpView::parse(Bytes(out)), src, dst, 255));
}

TEST(Ndp, CheckRefusesUnsendableReprs) {
  const Ipv6Addr a = v6("fe80::1");
  std::array<u8, 512> buf{};
  NdpRepr r;
  r.type = icmpv6_type::router_advertisement;
  ASSERT_TRUE(r.options.rdnss.push(NdpRdnss{}));
  EXPECT_EQ(r.emit(MutBytes(buf), a, a).err(), Err::invalid);
  r.options.rdnss.clear();
  NdpDnssl root;
  ASSERT_TRUE(root.domains.push(DnsName()));
  ASSERT_TRUE(r.options.dnssl.push(root));
  EXPECT_EQ(r.emit(MutBytes(buf), a, a).err(), Err::invalid);
  r.options.dnssl.clear();
  NdpRawOption u;
  u.type = 200;
  ASSERT_TRUE(u.data.push(1));
  ASSERT_TRUE(r.options.unknown.push(u));
  EXPECT_EQ(r.emit(MutBytes(buf), a, a).err(), Err::invalid);
  r.options.unknown.clear();
  r.type = 137;
  EXPECT_EQ(r.emit(MutBytes(buf), a, a).err(), Err::invalid);
}

TEST(Ndp, ReprEqualityIgnoresOtherTypesFields) {
  NdpRepr a;
  a.type = icmpv6_type::router_solicitation;
  NdpRepr b = a;
  b.managed = true;
  b.target = v6("fe80::9");
  EXPECT_EQ(a, b);
  b.options.mtu = 1500;
  EXPECT_FALSE(a == b);
}

}  // namespace
}  // namespace passt::wire
