// resolv.conf parser: never reads out of bounds, respects every bound, and
// what it returns survives a write-out / re-parse round trip unchanged.
#include <string>
#include <string_view>

#include "core/resolv_conf.hpp"
#include "fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace passt;
  using namespace passt::core;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ResolvConf rc = parse_resolv_conf(text);
  PASST_CHECK(rc.n4 <= ResolvConf::kMaxNameservers);
  PASST_CHECK(rc.n6 <= ResolvConf::kMaxNameservers);
  PASST_CHECK(rc.nsearch <= ResolvConf::kMaxSearch);
  for (std::size_t i = 0; i < ResolvConf::kMaxSearch; i++) {
    if (i < rc.nsearch)
      PASST_CHECK(resolv_domain_ok(rc.search[i]));
    else
      PASST_CHECK(rc.search[i].empty());
  }

  std::string out;
  for (Ipv4Addr a : rc.nameservers4()) out += "nameserver " + std::string(to_text(a).view()) + "\n";
  for (const Ipv6Addr& a : rc.nameservers6())
    out += "nameserver " + std::string(to_text(a).view()) + "\n";
  if (rc.nsearch > 0) {
    out += "search";
    for (const std::string& s : rc.search_list()) out += " " + s;
    out += "\n";
  }
  ResolvConf again = parse_resolv_conf(out);
  PASST_CHECK(again.nameservers4().size() == rc.n4 && again.n6 == rc.n6 &&
              again.nsearch == rc.nsearch);
  for (std::size_t i = 0; i < rc.n4; i++) PASST_CHECK(again.ns4[i] == rc.ns4[i]);
  for (std::size_t i = 0; i < rc.n6; i++) PASST_CHECK(again.ns6[i] == rc.ns6[i]);
  for (std::size_t i = 0; i < rc.nsearch; i++) PASST_CHECK(again.search[i] == rc.search[i]);
  return 0;
}
