// DNS names: decoding any bytes, with or without compression pointers, is
// bounded and either fails or yields names that re-encode (both ways) to
// bytes that decode to the same names.  Text forms that parse re-encode
// exactly.
#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz/fuzz.hpp"
#include "wire/dns_name.hpp"

namespace {

using namespace passt;
using namespace passt::wire;

void reencode(const DnsNameList& l) {
  for (auto c : {DnsCompression::none, DnsCompression::rfc1035}) {
    std::vector<u8> out(dns_list_length(l.span(), c));
    auto n = dns_encode_list(l.span(), c, MutBytes(out));
    PASST_CHECK(n.ok() && *n == out.size());
    DnsNameList back;
    PASST_CHECK(dns_decode_list(Bytes(out), c, back).ok());
    PASST_CHECK(back == l);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes in(data, size);
  for (auto c : {DnsCompression::none, DnsCompression::rfc1035}) {
    DnsNameList l;
    if (dns_decode_list(in, c, l).ok()) reencode(l);
    // One name at every offset: bounded, and `next` stays in the buffer.
    for (std::size_t pos = 0; pos < size && pos < 64; pos++) {
      auto d = dns_decode_name(in, pos, c);
      if (!d) continue;
      PASST_CHECK(d->next > pos && d->next <= size);
      PASST_CHECK(d->name.wire_length() <= kDnsMaxName);
      auto w = DnsName::from_wire(d->name.wire());
      PASST_CHECK(w.ok() && *w == d->name);
    }
  }
  auto w = DnsName::from_wire(in);
  if (w) PASST_CHECK(std::ranges::equal(w->wire(), in));
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto t = DnsName::from_text(text);
  if (t) {
    PASST_CHECK(t->wire_length() <= kDnsMaxName);
    // Text labels cannot hold '.', so the text form round-trips exactly.
    auto again = DnsName::from_text(t->text().view());
    PASST_CHECK(again.ok() && *again == *t);
  }
  return 0;
}
