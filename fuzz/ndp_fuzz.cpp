// NDP: every accessor of a parsed view stays in bounds; a message whose
// repr parses re-emits (options in canonical order, checksum filled in) to
// bytes that parse to an equal repr.
#include <cstdint>
#include <vector>

#include "fuzz/fuzz.hpp"
#include "wire/ndp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace passt;
  using namespace passt::wire;
  auto v = NdpView::parse(Bytes(data, size));
  if (!v) return 0;
  // Touch everything the view offers for this type.
  std::size_t total = NdpView::fixed_len(v->type());
  NdpOptionIter it = v->option_iter();
  NdpOptionView o;
  while (it.next(o)) {
    PASST_CHECK(o.len_units > 0);
    PASST_CHECK(o.data.size() + 2 == o.len_units * kNdpOptUnit);
    total += o.data.size() + 2;
  }
  PASST_CHECK(total == size);
  (void)v->source_ll();
  (void)v->target_ll();
  switch (v->type()) {
    case icmpv6_type::router_advertisement:
      (void)v->cur_hop_limit();
      (void)v->managed();
      (void)v->retrans_timer();
      break;
    case icmpv6_type::neighbor_advertisement:
      (void)v->router();
      (void)v->override_flag();
      [[fallthrough]];
    case icmpv6_type::neighbor_solicitation:
      (void)v->target();
      break;
    default:
      break;
  }
  const Ipv6Addr src = parse_ipv6("fe80::1").value();
  const Ipv6Addr dst = parse_ipv6("ff02::1").value();
  (void)ndp_validate_ip(*v, src, dst, 255);
  (void)ndp_validate_ip(*v, Ipv6Addr::any(), src.solicited_node(), 255);

  auto r = NdpRepr::from(*v);
  if (!r) return 0;
  // Whatever parses can be sent again.
  PASST_CHECK(r->check().ok());
  std::vector<u8> out(r->length());
  PASST_CHECK(r->emit(MutBytes(out), src, dst).ok());
  PASST_CHECK(icmpv6_checksum_ok(src, dst, Bytes(out)));
  auto v2 = NdpView::parse(Bytes(out));
  PASST_CHECK(v2.ok());
  auto r2 = NdpRepr::from(*v2);
  PASST_CHECK(r2.ok());
  PASST_CHECK(*r2 == *r);
  return 0;
}
