// resolv.conf parser against a model: a file rendered from random
// nameservers, search/domain lines and noise (comments, blanks, CRLF,
// unknown options) parses back to exactly what the resolver rules say.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "core/resolv_conf.hpp"
#include "proptests/gen.hpp"

namespace passt::core {
namespace {

std::string blanks() {
  const auto n = *rc::gen::inRange(1, 4);
  std::string s;
  for (int i = 0; i < n; i++) s += *rc::gen::element(' ', '\t');
  return s;
}

std::string domain() {
  const auto labels = *rc::gen::inRange(1, 4);
  std::string d;
  for (int i = 0; i < labels; i++) {
    if (i) d += '.';
    const auto len = *rc::gen::inRange(1, 12);
    for (int j = 0; j < len; j++) d += *rc::gen::element('a', 'b', 'z', '0', '9', '-', '_');
  }
  return d;
}

RC_GTEST_PROP(ResolvConfProp, MatchesModel, ()) {
  std::vector<Ipv4Addr> want4;
  std::vector<Ipv6Addr> want6;
  std::vector<std::string> want_search;
  std::size_t ignored = 0;
  std::string text;

  const auto lines = *rc::gen::inRange(0, 25);
  for (int i = 0; i < lines; i++) {
    const std::string eol = *rc::gen::element(std::string("\n"), std::string("\r\n"));
    switch (*rc::gen::inRange(0, 7)) {
      case 0: {  // IPv4 nameserver
        Ipv4Addr a = gen::ipv4();
        text += "nameserver" + blanks() + std::string(to_text(a).view());
        if (*rc::gen::arbitrary<bool>()) text += blanks() + "# comment";
        text += eol;
        if (want4.size() < ResolvConf::kMaxNameservers)
          want4.push_back(a);
        else
          ignored++;
        break;
      }
      case 1: {  // IPv6 nameserver, maybe with a scope
        Ipv6Addr a = gen::ipv6();
        text += "nameserver" + blanks() + std::string(to_text(a).view());
        if (*rc::gen::arbitrary<bool>()) text += "%eth" + std::to_string(*rc::gen::inRange(0, 9));
        text += eol;
        // A v4-mapped address prints as ::ffff:a.b.c.d and stays IPv6.
        if (want6.size() < ResolvConf::kMaxNameservers)
          want6.push_back(a);
        else
          ignored++;
        break;
      }
      case 2: {  // search line
        const auto n = *rc::gen::inRange(1, 9);
        std::vector<std::string> names;
        text += "search";
        for (int j = 0; j < n; j++) {
          names.push_back(domain());
          text += blanks() + names.back();
        }
        if (*rc::gen::arbitrary<bool>()) text += blanks();
        text += eol;
        if (names.size() > ResolvConf::kMaxSearch) names.resize(ResolvConf::kMaxSearch);
        want_search = names;
        break;
      }
      case 3: {  // domain line: one name
        std::string d = domain();
        text += "domain" + blanks() + d + eol;
        want_search = {d};
        break;
      }
      case 4:
        text += *rc::gen::element(std::string("# nameserver 192.0.2.1"),
                                  std::string("; search x.example"),
                                  std::string("options ndots:2 edns0"), std::string(""),
                                  std::string("sortlist 130.155.160.0/255.255.240.0"));
        text += eol;
        break;
      case 5:  // indented keyword: not a keyword
        text += blanks() + "nameserver 192.0.2.99" + eol;
        break;
      default:  // keyword without a blank
        text += "nameserver" + std::string(to_text(gen::ipv4()).view()) + eol;
        break;
    }
  }
  if (*rc::gen::arbitrary<bool>() && !text.empty() && text.back() == '\n') text.pop_back();

  ResolvConf got = parse_resolv_conf(text);
  RC_ASSERT(got.n4 == want4.size());
  for (std::size_t i = 0; i < want4.size(); i++) RC_ASSERT(got.ns4[i] == want4[i]);
  RC_ASSERT(got.n6 == want6.size());
  for (std::size_t i = 0; i < want6.size(); i++) RC_ASSERT(got.ns6[i] == want6[i]);
  RC_ASSERT(got.nsearch == want_search.size());
  for (std::size_t i = 0; i < want_search.size(); i++) RC_ASSERT(got.search[i] == want_search[i]);
  RC_ASSERT(got.ignored_nameservers == ignored);
}

}  // namespace
}  // namespace passt::core
