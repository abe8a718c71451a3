// Round-trip properties of the service-protocol formats: every generated
// repr emits exactly length() bytes, parses back to an equal repr, and
// refuses a buffer one byte short.  Compressed name lists decode to the
// input list.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <vector>

#include "proptests/gen.hpp"
#include "proptests/gen_svc.hpp"
#include "wire/dhcp.hpp"
#include "wire/dhcpv6.hpp"
#include "wire/dns_name.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ndp.hpp"

namespace passt::wire {
namespace {

RC_GTEST_PROP(DnsNameProp, TextRoundTripsForDotFreeLabels, ()) {
  const DnsName n = gen::dns_name();
  const auto t = n.text();
  bool dot_free = true;
  for (std::size_t off = 0; n.wire()[off] != 0; off += 1u + n.wire()[off])
    for (std::size_t i = 1; i <= n.wire()[off]; i++) {
      const u8 c = n.wire()[off + i];
      dot_free = dot_free && c != '.' && c != 0;
    }
  RC_PRE(dot_free);
  auto back = DnsName::from_text(t.view());
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == n);
}

RC_GTEST_PROP(DnsNameProp, ListsDecodeToTheInput, ()) {
  const DnsNameList names = gen::dns_list(kDnsMaxListNames, 8, true);
  for (auto c : {DnsCompression::none, DnsCompression::rfc1035}) {
    const std::size_t len = dns_list_length(names.span(), c);
    std::vector<u8> out(len + 1, 0xaa);
    auto n = dns_encode_list(names.span(), c, MutBytes(out));
    RC_ASSERT(n.ok());
    RC_ASSERT(*n == len);
    RC_ASSERT(out[len] == 0xaa);
    DnsNameList back;
    RC_ASSERT(dns_decode_list(Bytes(out).first(len), c, back).ok());
    RC_ASSERT(back == names);
    RC_ASSERT(dns_encode_list(names.span(), c, MutBytes(out).first(len - (len > 0 ? 1 : 0))).ok() ==
              (len == 0));
  }
  RC_ASSERT(dns_list_length(names.span(), DnsCompression::rfc1035) <=
            dns_list_length(names.span(), DnsCompression::none));
}

RC_GTEST_PROP(DnsNameProp, DecodingArbitraryBytesIsBounded, (const std::vector<u8>& data)) {
  // Any bytes: decoding either fails or yields names that re-encode to
  // something that decodes the same.
  DnsNameList l;
  if (!dns_decode_list(Bytes(data), DnsCompression::rfc1035, l).ok()) return;
  std::vector<u8> out(dns_list_length(l.span(), DnsCompression::rfc1035));
  RC_ASSERT(dns_encode_list(l.span(), DnsCompression::rfc1035, MutBytes(out)).ok());
  DnsNameList back;
  RC_ASSERT(dns_decode_list(Bytes(out), DnsCompression::rfc1035, back).ok());
  RC_ASSERT(back == l);
}

RC_GTEST_PROP(Icmpv6Prop, EchoRoundTrips, (const std::vector<u8>& data)) {
  Icmpv6EchoRepr r{*rc::gen::arbitrary<bool>(), *rc::gen::arbitrary<u16>(),
                   *rc::gen::arbitrary<u16>(), Bytes(data)};
  const Ipv6Addr src = gen::ipv6();
  const Ipv6Addr dst = gen::ipv6();
  std::vector<u8> out(r.length());
  RC_ASSERT(r.emit(MutBytes(out), src, dst).ok());
  RC_ASSERT(icmpv6_checksum_ok(src, dst, Bytes(out)));
  auto v = Icmpv6View::parse(Bytes(out));
  RC_ASSERT(v.ok());
  auto back = Icmpv6EchoRepr::from(*v);
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == r);
  RC_ASSERT(r.emit(MutBytes(out).first(out.size() - 1), src, dst).err() == Err::truncated);
}

RC_GTEST_PROP(NdpProp, ReprRoundTrips, ()) {
  const NdpRepr r = gen::ndp_repr();
  RC_ASSERT(r.check().ok());
  const Ipv6Addr src = gen::ipv6();
  const Ipv6Addr dst = gen::ipv6();
  std::vector<u8> out(r.length() + 1, 0xaa);
  RC_ASSERT(r.emit(MutBytes(out), src, dst).ok());
  RC_ASSERT(out.back() == 0xaa);
  out.pop_back();
  RC_ASSERT(icmpv6_checksum_ok(src, dst, Bytes(out)));
  auto v = NdpView::parse(Bytes(out));
  RC_ASSERT(v.ok());
  auto back = NdpRepr::from(*v);
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == r);
  RC_ASSERT(r.emit(MutBytes(out).first(out.size() - 1), src, dst).err() == Err::truncated);
}

RC_GTEST_PROP(DhcpProp, ReprRoundTripsInAnyOrder, ()) {
  const DhcpRepr r = gen::dhcp_repr();
  RC_ASSERT(r.check().ok());
  const auto prio = *rc::gen::container<std::vector<u8>>(rc::gen::arbitrary<u8>());
  const std::size_t len = r.length();
  RC_ASSERT(len >= kDhcpMinLen);
  std::vector<u8> out(len + 1, 0xaa);
  RC_ASSERT(r.emit(MutBytes(out), Bytes(prio)).ok());
  RC_ASSERT(out.back() == 0xaa);
  out.pop_back();
  auto v = DhcpView::parse(Bytes(out));
  RC_ASSERT(v.ok());
  auto back = DhcpRepr::from(*v);
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == r);
  // Another order: same bytes count, same repr.
  std::vector<u8> out2(len);
  RC_ASSERT(r.emit(MutBytes(out2)).ok());
  auto back2 = DhcpRepr::from(*DhcpView::parse(Bytes(out2)));
  RC_ASSERT(back2.ok());
  RC_ASSERT(*back2 == r);
  RC_ASSERT(r.emit(MutBytes(out).first(len - 1)).err() == Err::truncated);
}

RC_GTEST_PROP(DhcpProp, PriorityListedOptionsComeFirst, ()) {
  const DhcpRepr r = gen::dhcp_repr();
  const auto prio = *rc::gen::container<std::vector<u8>>(rc::gen::inRange<u8>(1, 255));
  std::vector<u8> out(r.length());
  RC_ASSERT(r.emit(MutBytes(out), Bytes(prio)).ok());
  auto v = DhcpView::parse(Bytes(out));
  RC_ASSERT(v.ok());
  // The sequence of distinct codes as emitted.
  std::vector<u8> seen;
  DhcpOptionIter it = v->option_iter();
  DhcpOptionView o;
  while (it.next(o))
    if (seen.empty() || seen.back() != o.code) seen.push_back(o.code);
  // Expected: 53 first unless listed; then listed codes that are present,
  // in list order; then the rest ascending.
  std::vector<u8> want;
  auto present = [&seen](u8 c) { return std::find(seen.begin(), seen.end(), c) != seen.end(); };
  auto add = [&want](u8 c) {
    if (std::find(want.begin(), want.end(), c) == want.end()) want.push_back(c);
  };
  if (present(53) && std::find(prio.begin(), prio.end(), 53) == prio.end()) add(53);
  for (u8 c : prio)
    if (present(c)) add(c);
  for (unsigned c = 1; c < 255; c++)
    if (present(static_cast<u8>(c))) add(static_cast<u8>(c));
  RC_ASSERT(seen == want);
}

RC_GTEST_PROP(Dhcpv6Prop, ReprRoundTrips, ()) {
  const Dhcpv6Repr r = gen::dhcpv6_repr();
  RC_ASSERT(r.check().ok());
  std::vector<u8> out(r.length() + 1, 0xaa);
  RC_ASSERT(r.emit(MutBytes(out)).ok());
  RC_ASSERT(out.back() == 0xaa);
  out.pop_back();
  auto v = Dhcpv6View::parse(Bytes(out));
  RC_ASSERT(v.ok());
  auto back = Dhcpv6Repr::from(*v);
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == r);
  RC_ASSERT(r.emit(MutBytes(out).first(out.size() - 1)).err() == Err::truncated);
}

}  // namespace
}  // namespace passt::wire
