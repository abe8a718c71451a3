#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "util/endian.hpp"
#include "wire/dhcpv6.hpp"

namespace passt::wire {
namespace {

Ipv6Addr v6(const char* s) { return parse_ipv6(s).value(); }

std::vector<u8> hex(std::string_view s) {
  std::vector<u8> out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(static_cast<u8>(std::stoi(std::string(s.substr(i, 2)), nullptr, 16)));
  return out;
}

Err repr_err(const std::vector<u8>& m) {
  auto v = Dhcpv6View::parse(Bytes(m));
  if (!v) return v.err();
  auto r = Dhcpv6Repr::from(*v);
  return r.ok() ? Err::none : r.err();
}

Dhcpv6Repr repr_of(const std::vector<u8>& m) {
  auto v = Dhcpv6View::parse(Bytes(m));
  EXPECT_TRUE(v.ok());
  auto r = Dhcpv6Repr::from(*v);
  EXPECT_TRUE(r.ok()) << err_name(r.err());
  return r.ok() ? *r : Dhcpv6Repr{};
}

std::vector<u8> emit(const Dhcpv6Repr& r) {
  std::vector<u8> out(r.length());
  EXPECT_TRUE(r.emit(MutBytes(out)).ok());
  return out;
}

// ISC dhclient 4.4.3 "-6 -N -T -P": Solicit with IA_NA, IA_TA and IA_PD.
const char* kSolicitAll =
    "01a127b00001000e00010001329e9add1a84d15e6bf300060008001700180027001f0008000200000003000c"
    "d15e6bf300000e100000151800040004d15e6bf30019000cd15e6bf300000e1000001518";
// ISC dhclient "-6 -S": Information-request with a DUID-LL.
const char* kInfoRequest =
    "0b7b23c60001000a000300011a84d15e6bf300060008001700180027001f000800020111";

TEST(Dhcpv6, CapturedSolicit) {
  const auto m = hex(kSolicitAll);
  ASSERT_EQ(m.size(), 80u);
  auto v = Dhcpv6View::parse(Bytes(m));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->msg_type(), dhcpv6_msg::solicit);
  EXPECT_EQ(v->xid(), 0xa127b0u);
  ASSERT_TRUE(v->find(dhcpv6_opt::client_id));
  EXPECT_FALSE(v->find(dhcpv6_opt::server_id));
  auto r = Dhcpv6Repr::from(*v);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->client_id);
  EXPECT_EQ(r->client_id->size(), 14u);
  EXPECT_EQ((*r->client_id)[1], 1);  // DUID-LLT
  ASSERT_TRUE(r->oro);
  const std::vector<u16> oro = {23, 24, 39, 31};
  EXPECT_TRUE(std::ranges::equal(r->oro->span(), oro));
  EXPECT_EQ(r->elapsed_time, 0);
  ASSERT_EQ(r->ia_na.size(), 1u);
  EXPECT_EQ(r->ia_na[0].iaid, 0xd15e6bf3u);
  EXPECT_EQ(r->ia_na[0].t1, 3600u);
  EXPECT_EQ(r->ia_na[0].t2, 5400u);
  EXPECT_TRUE(r->ia_na[0].addrs.empty());
  ASSERT_EQ(r->ia_ta.size(), 1u);
  EXPECT_EQ(r->ia_ta[0].iaid, 0xd15e6bf3u);
  ASSERT_EQ(r->other.size(), 1u);  // IA_PD is kept raw
  EXPECT_EQ(r->other[0].code, dhcpv6_opt::ia_pd);
  EXPECT_EQ(r->other[0].data.size(), 12u);
  const auto again = emit(*r);
  EXPECT_EQ(again.size(), m.size());  // same options, canonical order
  EXPECT_EQ(repr_of(again), *r);
}

TEST(Dhcpv6, CapturedInformationRequest) {
  const auto r = repr_of(hex(kInfoRequest));
  EXPECT_EQ(r.msg_type, dhcpv6_msg::information_request);
  EXPECT_EQ(r.xid, 0x7b23c6u);
  ASSERT_TRUE(r.client_id);
  EXPECT_EQ(r.client_id->size(), 10u);  // DUID-LL
  EXPECT_EQ(r.elapsed_time, 0x111);
  EXPECT_TRUE(r.ia_na.empty());
  // Byte-exact: this message is already in canonical order.
  EXPECT_EQ(emit(r), hex(kInfoRequest));
}

// passt's REPLY (upstream §3.5), checked option by option.
TEST(Dhcpv6, EmitPasstStyleReply) {
  Dhcpv6Repr rep;
  rep.msg_type = dhcpv6_msg::reply;
  rep.xid = 0xa127b0;
  const MacAddr mac{{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}};
  rep.server_id = dhcpv6_duid_llt(mac, 0x2d2f1234);
  rep.client_id = repr_of(hex(kSolicitAll)).client_id;
  Dhcpv6Ia ia;
  ia.iaid = 0xd15e6bf3;
  ia.t1 = ia.t2 = kDhcpv6Infinity;
  Dhcpv6IaAddr a;
  a.addr = v6("2001:db8::15");
  ASSERT_TRUE(ia.addrs.push(a));
  ASSERT_TRUE(rep.ia_na.push(ia));
  ASSERT_TRUE(rep.dns_servers.push(v6("2001:db8::53")));
  ASSERT_TRUE(rep.domain_list.push(DnsName::from_text("example.org").value()));

  const auto m = emit(rep);
  ASSERT_EQ(m.size(), rep.length());
  EXPECT_EQ(m[0], dhcpv6_msg::reply);
  EXPECT_EQ(m[1], 0xa1);
  EXPECT_EQ(m[3], 0xb0);
  // Client id first (4 + 14), then the server DUID-LLT.
  const auto srv = hex("0002000e000100012d2f12349a559a559a55");
  EXPECT_TRUE(std::equal(srv.begin(), srv.end(), m.begin() + 4 + 18));
  const auto iana = hex(
      "00030028d15e6bf3ffffffffffffffff"
      "0005001820010db8000000000000000000000015ffffffffffffffff");
  EXPECT_TRUE(std::equal(iana.begin(), iana.end(), m.begin() + 40));
  const auto dns = hex("0017001020010db8000000000000000000000053");
  EXPECT_TRUE(std::equal(dns.begin(), dns.end(), m.begin() + 40 + 44));
  const auto dom = hex("0018000d076578616d706c65036f726700");
  EXPECT_TRUE(std::equal(dom.begin(), dom.end(), m.begin() + 40 + 44 + 20));
  EXPECT_EQ(m.size(), 40u + 44 + 20 + 17);
  EXPECT_EQ(repr_of(m), rep);
}

TEST(Dhcpv6, NotOnLinkStatusInsideIa) {
  Dhcpv6Repr rep;
  rep.xid = 1;
  Dhcpv6Ia ia;
  ia.iaid = 7;
  ia.status = Dhcpv6Status::make(dhcpv6_status::not_on_link, "Prefix not appropriate for link.");
  Dhcpv6IaAddr a;
  a.addr = v6("2001:db8::99");
  a.status = Dhcpv6Status::make(dhcpv6_status::success, "");
  ASSERT_TRUE(ia.addrs.push(a));
  ASSERT_TRUE(rep.ia_na.push(ia));
  const auto m = emit(rep);
  const auto back = repr_of(m);
  ASSERT_EQ(back.ia_na.size(), 1u);
  ASSERT_TRUE(back.ia_na[0].status);
  EXPECT_EQ(back.ia_na[0].status->code, dhcpv6_status::not_on_link);
  EXPECT_EQ(back.ia_na[0].status->message.size(), 32u);
  ASSERT_TRUE(back.ia_na[0].addrs[0].status);
  EXPECT_EQ(back, rep);
}

TEST(Dhcpv6, StructureValidation) {
  EXPECT_EQ(Dhcpv6View::parse(Bytes(hex("010203"))).err(), Err::truncated);
  EXPECT_TRUE(Dhcpv6View::parse(Bytes(hex("01020304"))));
  EXPECT_EQ(Dhcpv6View::parse(Bytes(hex("0c020304"))).err(), Err::not_supported);
  EXPECT_EQ(Dhcpv6View::parse(Bytes(hex("0d020304"))).err(), Err::not_supported);
  // Option overruns, stray bytes.
  EXPECT_EQ(Dhcpv6View::parse(Bytes(hex("010203040001000501"))).err(), Err::malformed);
  EXPECT_EQ(Dhcpv6View::parse(Bytes(hex("01020304000e0000aa"))).err(), Err::malformed);
  // IA_NA shorter than 12, IA_TA shorter than 4.
  EXPECT_EQ(Dhcpv6View::parse(Bytes(hex("0102030400030008" "0000000100000002"))).err(),
            Err::malformed);
  EXPECT_EQ(Dhcpv6View::parse(Bytes(hex("0102030400040002" "0000"))).err(), Err::malformed);
  // IAADDR inside IA_NA shorter than 24.
  EXPECT_EQ(Dhcpv6View::parse(Bytes(hex("0102030400030010" "000000010000000200000003"
                                        "00050000")))
                .err(),
            Err::malformed);
  // An IA_NA whose nested option overruns.
  EXPECT_EQ(Dhcpv6View::parse(Bytes(hex("0102030400030010" "000000010000000200000003"
                                        "000d0009")))
                .err(),
            Err::malformed);
  // IAADDR whose own option area overruns.
  EXPECT_EQ(Dhcpv6View::parse(Bytes(hex("010203040003002c" "000000010000000200000003"
                                        "0005001c" "20010db8000000000000000000000001"
                                        "0000000100000002" "000d0005")))
                .err(),
            Err::malformed);
  // Options nested deeper than IAADDR are not walked: status with odd bytes
  // inside an IAADDR inside an IA_NA is fine as long as it fits.
  EXPECT_TRUE(Dhcpv6View::parse(Bytes(hex("010203040003002e" "000000010000000200000003"
                                          "0005001e" "20010db8000000000000000000000001"
                                          "0000000100000002" "000d0002" "0004"))));
}

TEST(Dhcpv6, TypedLengths) {
  EXPECT_EQ(repr_err(hex("01000001" "00010001" "01")), Err::malformed);  // DUID of 1
  std::string big = "01000001" "00010083";
  for (int i = 0; i < 131; i++) big += "aa";
  EXPECT_EQ(repr_err(hex(big)), Err::malformed);  // DUID of 131
  EXPECT_EQ(repr_err(hex("01000001" "00080003" "000000")), Err::malformed);
  EXPECT_EQ(repr_err(hex("01000001" "00060003" "001700")), Err::malformed);
  EXPECT_EQ(repr_err(hex("01000001" "000e0001" "00")), Err::malformed);
  EXPECT_EQ(repr_err(hex("01000001" "0017000f" "000000000000000000000000000000")),
            Err::malformed);
  EXPECT_EQ(repr_err(hex("01000001" "00270000")), Err::malformed);  // FQDN without flags
  EXPECT_EQ(repr_err(hex("01000001" "000d0001" "00")), Err::malformed);
  EXPECT_EQ(repr_err(hex("01000001" "00180003" "056162")), Err::malformed);  // cut name
  EXPECT_EQ(repr_err(hex("01000001" "00180004" "0161c000")), Err::malformed);  // pointer
}

TEST(Dhcpv6, FirstInstanceWinsAndFqdn) {
  const auto r = repr_of(hex("01000001" "00010002aaaa" "00010002bbbb"
                             "00270005" "01" "01610000"));
  ASSERT_TRUE(r.client_id);
  EXPECT_EQ((*r.client_id)[0], 0xaa);
  ASSERT_TRUE(r.fqdn);
  EXPECT_EQ(r.fqdn->flags, 1);
  EXPECT_EQ(r.fqdn->name.size(), 4u);
  const auto back = repr_of(emit(r));
  EXPECT_EQ(back, r);
}

TEST(Dhcpv6, DuidLlt) {
  const auto d = dhcpv6_duid_llt(MacAddr{{1, 2, 3, 4, 5, 6}}, 0x01020304);
  EXPECT_TRUE(std::ranges::equal(d.span(), hex("0001000101020304010203040506")));
}

TEST(Dhcpv6, CheckRefusesUnsendableReprs) {
  std::array<u8, 256> buf{};
  Dhcpv6Repr r;
  r.xid = 0x1000000;
  EXPECT_EQ(r.emit(MutBytes(buf)).err(), Err::invalid);
  r.xid = 1;
  r.msg_type = dhcpv6_msg::relay_forw;
  EXPECT_EQ(r.emit(MutBytes(buf)).err(), Err::invalid);
  r.msg_type = dhcpv6_msg::reply;
  Dhcpv6RawOption raw;
  raw.code = dhcpv6_opt::client_id;
  ASSERT_TRUE(r.other.push(raw));
  EXPECT_EQ(r.emit(MutBytes(buf)).err(), Err::invalid);
  r.other.clear();
  r.client_id = Dhcpv6Duid{};
  EXPECT_EQ(r.emit(MutBytes(buf)).err(), Err::invalid);
  r.client_id.reset();
  std::array<u8, 3> small{};
  EXPECT_EQ(r.emit(MutBytes(small)).err(), Err::truncated);
  EXPECT_TRUE(r.emit(MutBytes(buf)).ok());
}

}  // namespace
}  // namespace passt::wire
