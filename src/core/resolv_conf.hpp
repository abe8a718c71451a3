// resolv.conf(5) parser: the host's resolvers and search list, which
// upstream copies into the guest's DHCP/DHCPv6/RA options by default.
//
// Theory of operation
// -------------------
// A pure function over the file's bytes (the app reads the file; no I/O
// here), so it can be fuzzed and property-tested.  The grammar follows the
// glibc resolver, which is what the host itself uses:
//  * The file is split at '\n'.  A line longer than kMaxLineLen bytes is
//    skipped whole (never truncated: a cut address could be a different,
//    valid address).  At most kMaxLines lines are looked at; the rest of a
//    larger file is ignored.
//  * A keyword counts only at the very start of the line and must be
//    followed by a blank (space or tab): "nameserver", "search", "domain".
//    Lines starting with '#' or ';' are comments, as is everything else.
//    '\r' counts as a blank (files edited elsewhere).
//  * nameserver: the first token after the keyword is the address; anything
//    after it is ignored.  IPv4 dotted quads go to ns4, everything
//    parse_ipv6() accepts goes to ns6, with a "%scope" suffix stripped
//    (fe80::1%eth0 -> fe80::1).  Unparseable tokens are ignored.  At most
//    kMaxNameservers per family, in file order; later ones are ignored (and
//    counted in `ignored_nameservers`).  Duplicates are kept, as glibc does.
//  * search / domain: blank-separated domain names.  glibc: the two are
//    mutually exclusive and the last such line wins; a line with no usable
//    name is ignored.  "domain X" yields the search list {X}.  At most
//    kMaxSearch names (the rest are ignored); a name longer than
//    kMaxDomainLen bytes or containing a control byte, a non-ASCII byte or
//    one of the characters  \ " ( ) ; @ $  is skipped.
//
// Differences from upstream passt (conf.c get_dns): upstream keeps the
// *first* "search" line and ignores "domain"; it takes the text after the
// *last* space of a nameserver line (so "nameserver 1.1.1.1 # x" or a
// trailing blank loses the entry).  We follow the resolver's own rules so the
// guest sees what the host resolves with.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "util/addr.hpp"
#include "util/types.hpp"

namespace passt::core {

struct ResolvConf {
  static constexpr std::size_t kMaxNameservers = 3;  // MAXNS, per family
  static constexpr std::size_t kMaxSearch = 6;       // MAXDNSRCH
  static constexpr std::size_t kMaxDomainLen = 253;  // a DNS name in text form
  static constexpr std::size_t kMaxLineLen = 4096;
  static constexpr std::size_t kMaxLines = 65536;

  std::array<Ipv4Addr, kMaxNameservers> ns4{};
  std::size_t n4 = 0;
  std::array<Ipv6Addr, kMaxNameservers> ns6{};
  std::size_t n6 = 0;
  std::array<std::string, kMaxSearch> search{};
  std::size_t nsearch = 0;
  // Diagnostics (for a debug log line, and the tests).
  std::size_t ignored_nameservers = 0;  // beyond kMaxNameservers
  std::size_t skipped_lines = 0;        // longer than kMaxLineLen

  std::span<const Ipv4Addr> nameservers4() const noexcept { return {ns4.data(), n4}; }
  std::span<const Ipv6Addr> nameservers6() const noexcept { return {ns6.data(), n6}; }
  std::span<const std::string> search_list() const noexcept { return {search.data(), nsearch}; }

  bool operator==(const ResolvConf&) const = default;
};

ResolvConf parse_resolv_conf(std::string_view text);

// Is `name` acceptable as a search-list entry (the rule above)?
bool resolv_domain_ok(std::string_view name) noexcept;

}  // namespace passt::core
