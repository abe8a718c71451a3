// DHCPv6: the view validates option nesting once; a message whose repr
// parses re-emits (canonical option order) to bytes that parse to an equal
// repr.
#include <cstdint>
#include <vector>

#include "fuzz/fuzz.hpp"
#include "wire/dhcpv6.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace passt;
  using namespace passt::wire;
  auto v = Dhcpv6View::parse(Bytes(data, size));
  if (!v) return 0;
  PASST_CHECK(v->xid() <= 0xffffffu);
  std::size_t total = kDhcpv6HeaderLen;
  Dhcpv6OptionIter it = v->option_iter();
  Dhcpv6OptionView o;
  while (it.next(o)) total += 4 + o.data.size();
  PASST_CHECK(total == size);  // the walk covers the message exactly
  (void)v->find(dhcpv6_opt::client_id);

  auto r = Dhcpv6Repr::from(*v);
  if (!r) return 0;
  PASST_CHECK(r->check().ok());
  std::vector<u8> out(r->length());
  PASST_CHECK(r->emit(MutBytes(out)).ok());
  auto v2 = Dhcpv6View::parse(Bytes(out));
  PASST_CHECK(v2.ok());
  auto r2 = Dhcpv6Repr::from(*v2);
  PASST_CHECK(r2.ok());
  PASST_CHECK(*r2 == *r);
  return 0;
}
