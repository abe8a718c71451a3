// DHCPv4: a parsed view walks its options in bounds; a message whose repr
// parses (RFC 3396 concatenation, compressed domain search, RFC 3442
// routes) re-emits in the client's requested order to bytes that parse to
// an equal repr.
#include <cstdint>
#include <vector>

#include "fuzz/fuzz.hpp"
#include "wire/dhcp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace passt;
  using namespace passt::wire;
  auto v = DhcpView::parse(Bytes(data, size));
  if (!v) return 0;
  PASST_CHECK(kDhcpOptionsOffset + v->options().size() <= size);
  DhcpOptionIter it = v->option_iter();
  DhcpOptionView o;
  std::size_t n = 0;
  while (it.next(o)) {
    PASST_CHECK(o.code != dhcp_opt::pad && o.code != dhcp_opt::end);
    n++;
  }
  PASST_CHECK(n <= size);
  (void)v->message_type();
  (void)v->client_mac();
  (void)v->find(dhcp_opt::parameter_request_list);

  auto r = DhcpRepr::from(*v);
  if (!r) return 0;
  PASST_CHECK(r->check().ok());
  Bytes prio;
  if (r->parameter_request_list) prio = r->parameter_request_list->span();
  std::vector<u8> out(r->length());
  PASST_CHECK(out.size() >= kDhcpMinLen);
  PASST_CHECK(r->emit(MutBytes(out), prio).ok());
  auto v2 = DhcpView::parse(Bytes(out));
  PASST_CHECK(v2.ok());
  auto r2 = DhcpRepr::from(*v2);
  PASST_CHECK(r2.ok());
  PASST_CHECK(*r2 == *r);
  return 0;
}
