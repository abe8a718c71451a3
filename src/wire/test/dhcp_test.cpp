#include <gtest/gtest.h>

#include <array>
#include <string_view>
#include <vector>

#include "util/endian.hpp"
#include "wire/dhcp.hpp"

namespace passt::wire {
namespace {

const MacAddr kMac{{0x1a, 0x84, 0xd1, 0x5e, 0x6b, 0xf3}};

// A BOOTREQUEST fixed part + cookie followed by `opts` (verbatim).
std::vector<u8> request(u32 xid, u16 flags, std::vector<u8> opts) {
  std::vector<u8> m(kDhcpOptionsOffset, 0);
  m[0] = 1;
  m[1] = 1;
  m[2] = 6;
  store_be32(&m[4], xid);
  store_be16(&m[10], flags);
  kMac.store(&m[28]);
  store_be32(&m[kDhcpFixedLen], kDhcpMagicCookie);
  m.insert(m.end(), opts.begin(), opts.end());
  return m;
}

DhcpRepr repr_of(const std::vector<u8>& m) {
  auto v = DhcpView::parse(Bytes(m));
  EXPECT_TRUE(v.ok());
  auto r = DhcpRepr::from(*v);
  EXPECT_TRUE(r.ok()) << err_name(r.err());
  return r.ok() ? *r : DhcpRepr{};
}

Err repr_err(const std::vector<u8>& m) {
  auto v = DhcpView::parse(Bytes(m));
  if (!v) return v.err();
  auto r = DhcpRepr::from(*v);
  return r.ok() ? Err::none : r.err();
}

std::vector<u8> emit(const DhcpRepr& r, Bytes prio = {}) {
  std::vector<u8> out(r.length());
  EXPECT_TRUE(r.emit(MutBytes(out), prio).ok());
  return out;
}

// Options area of an emitted message, up to and including end.
std::vector<u8> options_of(const std::vector<u8>& m) {
  auto v = DhcpView::parse(Bytes(m));
  EXPECT_TRUE(v.ok());
  std::vector<u8> o(v->options().begin(), v->options().end());
  o.push_back(255);
  return o;
}

// Options of a DISCOVER captured from busybox udhcpc 1.35 (-x hostname:guest1
// -O search -O staticroutes -V myvendor -r 10.9.0.77).
const std::vector<u8> kUdhcpcOpts = {
    53, 1,  1,    50,   4,    10,   9,    0,    77,   57,   2,    0x02, 0x40, 55,  9,
    1,  3,  6,    12,   15,   28,   42,   119,  121,  12,   6,    'g',  'u',  'e', 's',
    't', '1', 60, 8,    'm',  'y',  'v',  'e',  'n',  'd',  'o',  'r',  61,   7,   1,
    0x1a, 0x84, 0xd1, 0x5e, 0x6b, 0xf3, 255, 0, 0, 0, 0, 0, 0, 0, 0};

TEST(Dhcp, CapturedUdhcpcDiscover) {
  const auto m = request(0x7d10b85d, 0, kUdhcpcOpts);
  ASSERT_EQ(m.size(), 300u);
  auto v = DhcpView::parse(Bytes(m));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->op(), dhcp_op::request);
  EXPECT_EQ(v->xid(), 0x7d10b85du);
  EXPECT_EQ(v->client_mac(), kMac);
  EXPECT_EQ(v->message_type(), dhcp_msg::discover);
  EXPECT_FALSE(v->broadcast());
  ASSERT_TRUE(v->find(dhcp_opt::client_id));
  EXPECT_EQ(v->find(dhcp_opt::client_id)->size(), 7u);
  EXPECT_FALSE(v->find(dhcp_opt::router));

  auto r = DhcpRepr::from(*v);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->message_type, dhcp_msg::discover);
  EXPECT_EQ(r->requested_ip, Ipv4Addr::of(10, 9, 0, 77));
  EXPECT_EQ(r->max_message_size, 576);
  ASSERT_TRUE(r->parameter_request_list);
  const std::vector<u8> prl = {1, 3, 6, 12, 15, 28, 42, 119, 121};
  EXPECT_TRUE(std::ranges::equal(r->parameter_request_list->span(), prl));
  ASSERT_TRUE(r->hostname);
  EXPECT_EQ(r->hostname->size(), 6u);
  ASSERT_TRUE(r->client_id);
  EXPECT_EQ((*r->client_id)[0], 1);
  ASSERT_EQ(r->other.size(), 1u);  // 60, vendor class
  EXPECT_EQ(r->other[0].code, 60);
  EXPECT_FALSE(r->rapid_commit);

  // Re-emitted in the client's own order, the options come out as sent
  // (53 first, as the client put it; 50, 57, 55 ascending after the PRL).
  const auto again = emit(*r, r->parameter_request_list->span());
  EXPECT_EQ(again.size(), 300u);
  EXPECT_EQ(repr_of(again), *r);
}

// What passt answers (upstream §3.3), checked byte by byte.
TEST(Dhcp, EmitPasstStyleOffer) {
  DhcpRepr rep;
  rep.op = dhcp_op::reply;
  rep.xid = 0x01020304;
  rep.flags = kDhcpFlagBroadcast;
  rep.yiaddr = Ipv4Addr::of(10, 0, 2, 15);
  rep.set_client_mac(kMac);
  rep.message_type = dhcp_msg::offer;
  rep.subnet_mask = Ipv4Addr::of(255, 255, 255, 0);
  ASSERT_TRUE(rep.routers.push(Ipv4Addr::of(10, 0, 2, 2)));
  rep.server_id = Ipv4Addr::of(10, 0, 2, 2);
  rep.lease_time = kDhcpInfiniteLease;
  rep.mtu = 65520;
  ASSERT_TRUE(rep.dns_servers.push(Ipv4Addr::of(10, 0, 2, 3)));
  ASSERT_TRUE(rep.domain_search.push(DnsName::from_text("eng.apple.com").value()));
  ASSERT_TRUE(rep.domain_search.push(DnsName::from_text("marketing.apple.com").value()));
  ASSERT_TRUE(rep.classless_routes.push({Ipv4Addr::of(10, 0, 2, 2), 32, Ipv4Addr::any()}));
  ASSERT_TRUE(rep.classless_routes.push({Ipv4Addr::any(), 0, Ipv4Addr::of(10, 0, 2, 2)}));

  const std::vector<u8> prl = {1, 3, 6, 12, 15, 28, 42, 119, 121};
  const auto m = emit(rep, Bytes(prl));
  EXPECT_EQ(m[0], 2);
  EXPECT_EQ(load_be16(&m[10]), 0x8000);
  const std::vector<u8> want = {
      53, 1, 2,                                        // type first: not in the PRL
      1, 4, 255, 255, 255, 0,                          // then the PRL order
      3, 4, 10, 0, 2, 2,                               //
      6, 4, 10, 0, 2, 3,                               //
      119, 27, 3, 'e', 'n', 'g', 5, 'a', 'p', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
      9, 'm', 'a', 'r', 'k', 'e', 't', 'i', 'n', 'g', 0xc0, 0x04,  // RFC 3397 pointer
      121, 14, 32, 10, 0, 2, 2, 0, 0, 0, 0, 0, 10, 0, 2, 2,       // RFC 3442
      26, 2, 0xff, 0xf0,                               // then ascending codes
      51, 4, 0xff, 0xff, 0xff, 0xff,                   //
      54, 4, 10, 0, 2, 2,                              //
      255};
  EXPECT_EQ(options_of(m), want);
  EXPECT_EQ(m.size(), kDhcpOptionsOffset + want.size());  // over 300: no padding
  // Padding after end is zero.
  for (std::size_t i = kDhcpOptionsOffset + want.size(); i < m.size(); i++) EXPECT_EQ(m[i], 0);
  EXPECT_EQ(repr_of(m), rep);

  // When the client lists 53 itself, it goes where the client put it.
  const std::vector<u8> prl53 = {1, 53};
  const auto m2 = emit(rep, Bytes(prl53));
  const auto o2 = options_of(m2);
  EXPECT_EQ(o2[0], 1);
  EXPECT_EQ(o2[6], 53);
  EXPECT_EQ(repr_of(m2), rep);
}

TEST(Dhcp, Rfc3442Examples) {
  // Destination descriptors from RFC 3442 §2, router 1.2.3.4 each.
  struct Ex {
    Ipv4Addr dest;
    u8 len;
    std::vector<u8> descriptor;
  };
  const std::vector<Ex> ex = {
      {Ipv4Addr::of(0, 0, 0, 0), 0, {0}},
      {Ipv4Addr::of(10, 0, 0, 0), 8, {8, 10}},
      {Ipv4Addr::of(10, 0, 0, 0), 24, {24, 10, 0, 0}},
      {Ipv4Addr::of(10, 17, 0, 0), 16, {16, 10, 17}},
      {Ipv4Addr::of(10, 27, 129, 0), 24, {24, 10, 27, 129}},
      {Ipv4Addr::of(10, 229, 0, 128), 25, {25, 10, 229, 0, 128}},
      {Ipv4Addr::of(10, 198, 122, 47), 32, {32, 10, 198, 122, 47}},
  };
  DhcpRepr r;
  std::vector<u8> want = {121, 0};
  for (const auto& e : ex) {
    ASSERT_TRUE(r.classless_routes.push({e.dest, e.len, Ipv4Addr::of(1, 2, 3, 4)}));
    want.insert(want.end(), e.descriptor.begin(), e.descriptor.end());
    want.insert(want.end(), {1, 2, 3, 4});
  }
  want[1] = static_cast<u8>(want.size() - 2);
  want.push_back(255);
  const auto m = emit(r);
  EXPECT_EQ(options_of(m), want);
  EXPECT_EQ(repr_of(m), r);
}

TEST(Dhcp, RouteValidation) {
  EXPECT_EQ(repr_err(request(1, 0, {121, 5, 33, 0, 0, 0, 0, 255})), Err::malformed);
  EXPECT_EQ(repr_err(request(1, 0, {121, 5, 9, 10, 0, 1, 2, 255})), Err::malformed);  // short
  DhcpRepr r;
  ASSERT_TRUE(r.classless_routes.push({Ipv4Addr::of(10, 1, 0, 0), 8, Ipv4Addr::any()}));
  std::array<u8, 400> buf{};
  EXPECT_EQ(r.emit(MutBytes(buf)).err(), Err::invalid);  // bytes past the prefix octets
  r.classless_routes[0] = {Ipv4Addr::any(), 33, Ipv4Addr::any()};
  EXPECT_EQ(r.emit(MutBytes(buf)).err(), Err::invalid);
}

TEST(Dhcp, LongOptionsAreSplitAndConcatenated) {
  // RFC 3396: a domain search value over 255 bytes goes out as several
  // consecutive 119 instances and comes back as one list.
  DhcpRepr r;
  for (int i = 0; i < 5; i++) {
    std::string n = std::string(60, static_cast<char>('a' + i)) + ".x" + std::to_string(i);
    ASSERT_TRUE(r.domain_search.push(DnsName::from_text(n).value()));
  }
  const std::size_t value = dns_list_length(r.domain_search.span(), DnsCompression::rfc1035);
  ASSERT_GT(value, 255u);
  ASSERT_LE(value, 510u);
  const auto m = emit(r);
  const auto o = options_of(m);
  EXPECT_EQ(o[0], 119);
  EXPECT_EQ(o[1], 255);
  EXPECT_EQ(o[2 + 255], 119);
  EXPECT_EQ(o[3 + 255], value - 255);
  EXPECT_EQ(m.size(), kDhcpOptionsOffset + value + 4 + 1);
  EXPECT_EQ(repr_of(m), r);

  // Two DNS-server instances concatenate into one list.
  const auto d = repr_of(request(1, 0, {6, 4, 1, 1, 1, 1, 0, 0, 6, 4, 2, 2, 2, 2, 255}));
  ASSERT_EQ(d.dns_servers.size(), 2u);
  EXPECT_EQ(d.dns_servers[1], Ipv4Addr::of(2, 2, 2, 2));
  // ... and a split hostname is one value.
  const auto h = repr_of(request(1, 0, {12, 2, 'a', 'b', 60, 1, 'x', 12, 1, 'c', 255}));
  ASSERT_TRUE(h.hostname);
  EXPECT_EQ(h.hostname->size(), 3u);
  EXPECT_EQ((*h.hostname)[2], 'c');
}

TEST(Dhcp, RapidCommitHasLengthZero) {
  DhcpRepr r;
  r.message_type = dhcp_msg::ack;
  r.rapid_commit = true;
  const auto o = options_of(emit(r));
  const std::vector<u8> want = {53, 1, 5, 80, 0, 255};
  EXPECT_EQ(o, want);
  EXPECT_EQ(repr_err(request(1, 0, {80, 1, 0, 255})), Err::malformed);
  EXPECT_TRUE(repr_of(request(1, 0, {80, 0, 255})).rapid_commit);
}

TEST(Dhcp, ViewValidation) {
  std::vector<u8> m = request(1, 0, {53, 1, 3, 255});
  EXPECT_TRUE(DhcpView::parse(Bytes(m)));
  EXPECT_EQ(DhcpView::parse(Bytes(m).first(239)).err(), Err::truncated);
  // No options at all (cookie only) is fine.
  EXPECT_TRUE(DhcpView::parse(Bytes(m).first(240)));
  std::vector<u8> bad = m;
  bad[236] = 0;
  EXPECT_EQ(DhcpView::parse(Bytes(bad)).err(), Err::malformed);
  // Overrunning option.
  EXPECT_EQ(DhcpView::parse(Bytes(request(1, 0, {53, 5, 3}))).err(), Err::malformed);
  EXPECT_EQ(DhcpView::parse(Bytes(request(1, 0, {53}))).err(), Err::malformed);
  // Missing end is tolerated; garbage after end is ignored.
  const auto noend_msg = request(1, 0, {0, 0, 53, 1, 3});
  auto noend = DhcpView::parse(Bytes(noend_msg));
  ASSERT_TRUE(noend);
  EXPECT_EQ(noend->message_type(), dhcp_msg::request);
  const auto after_msg = request(1, 0, {53, 1, 3, 255, 7, 200, 1});
  auto after = DhcpView::parse(Bytes(after_msg));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->options().size(), 3u);
}

TEST(Dhcp, TypedLengthsAndCapacities) {
  EXPECT_EQ(repr_err(request(1, 0, {53, 2, 1, 1, 255})), Err::malformed);
  EXPECT_EQ(repr_err(request(1, 0, {50, 3, 1, 1, 1, 255})), Err::malformed);
  EXPECT_EQ(repr_err(request(1, 0, {57, 1, 1, 255})), Err::malformed);
  EXPECT_EQ(repr_err(request(1, 0, {6, 5, 1, 1, 1, 1, 1, 255})), Err::malformed);
  EXPECT_EQ(repr_err(request(1, 0, {119, 3, 5, 'a', 'b', 255})), Err::malformed);
  // Nine DNS servers do not fit.
  std::vector<u8> nine = {6, 36};
  nine.resize(38, 1);
  nine.push_back(255);
  EXPECT_EQ(repr_err(request(1, 0, nine)), Err::full);
  // Option 52 (overload) is kept raw, not honoured.
  const auto o = repr_of(request(1, 0, {52, 1, 3, 255}));
  ASSERT_EQ(o.other.size(), 1u);
  EXPECT_EQ(o.other[0].code, dhcp_opt::overload);
}

TEST(Dhcp, CheckRefusesUnsendableReprs) {
  std::array<u8, 600> buf{};
  DhcpRepr r;
  DhcpRawOption typed;
  typed.code = dhcp_opt::message_type;
  ASSERT_TRUE(r.other.push(typed));
  EXPECT_EQ(r.emit(MutBytes(buf)).err(), Err::invalid);
  r.other.clear();
  DhcpRawOption x;
  x.code = 200;
  ASSERT_TRUE(r.other.push(x));
  EXPECT_TRUE(r.emit(MutBytes(buf)).ok());
  ASSERT_TRUE(r.other.push(x));  // the same code twice
  EXPECT_EQ(r.emit(MutBytes(buf)).err(), Err::invalid);
  r.other.clear();
  std::array<u8, 299> small{};
  EXPECT_EQ(r.emit(MutBytes(small)).err(), Err::truncated);
}

TEST(Dhcp, FixedFieldsRoundTrip) {
  DhcpRepr r;
  r.op = dhcp_op::request;
  r.hops = 3;
  r.secs = 0x1234;
  r.flags = kDhcpFlagBroadcast;
  r.ciaddr = Ipv4Addr::of(1, 2, 3, 4);
  r.siaddr = Ipv4Addr::of(5, 6, 7, 8);
  r.giaddr = Ipv4Addr::of(9, 10, 11, 12);
  r.sname[0] = 's';
  r.file[127] = 'f';
  r.chaddr[15] = 0xee;
  const auto m = emit(r);
  auto v = DhcpView::parse(Bytes(m));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->broadcast());
  EXPECT_EQ(v->secs(), 0x1234);
  EXPECT_EQ(v->giaddr(), r.giaddr);
  EXPECT_EQ(v->sname()[0], 's');
  EXPECT_EQ(v->file()[127], 'f');
  EXPECT_EQ(repr_of(m), r);
}

}  // namespace
}  // namespace passt::wire
