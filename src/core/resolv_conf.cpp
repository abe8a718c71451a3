#include "core/resolv_conf.hpp"

namespace passt::core {

namespace {

constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\r'; }

// Splits off the next blank-separated token of `rest` (advancing it).
std::string_view next_token(std::string_view& rest) noexcept {
  std::size_t i = 0;
  while (i < rest.size() && is_blank(rest[i])) i++;
  std::size_t j = i;
  while (j < rest.size() && !is_blank(rest[j])) j++;
  std::string_view tok = rest.substr(i, j - i);
  rest.remove_prefix(j);
  return tok;
}

// "keyword" followed by a blank at the start of `line`: returns the rest.
bool keyword(std::string_view line, std::string_view kw, std::string_view& rest) noexcept {
  if (line.size() <= kw.size() || line.substr(0, kw.size()) != kw) return false;
  if (!is_blank(line[kw.size()])) return false;
  rest = line.substr(kw.size() + 1);
  return true;
}

void add_nameserver(ResolvConf& rc, std::string_view tok) {
  if (auto v4 = parse_ipv4(tok)) {
    if (rc.n4 == ResolvConf::kMaxNameservers) {
      rc.ignored_nameservers++;
      return;
    }
    rc.ns4[rc.n4++] = *v4;
    return;
  }
  std::size_t pct = tok.find('%');
  if (pct != std::string_view::npos) tok = tok.substr(0, pct);
  if (auto v6 = parse_ipv6(tok)) {
    if (rc.n6 == ResolvConf::kMaxNameservers) {
      rc.ignored_nameservers++;
      return;
    }
    rc.ns6[rc.n6++] = *v6;
  }
}

// Parses a search/domain argument list; replaces the current list only if
// at least one name is usable (glibc ignores an empty line).
void set_search(ResolvConf& rc, std::string_view rest, std::size_t max_names) {
  std::array<std::string_view, ResolvConf::kMaxSearch> names{};
  std::size_t n = 0;
  // Bounded: every iteration consumes at least one byte of `rest` or ends.
  while (n < max_names) {
    std::string_view tok = next_token(rest);
    if (tok.empty()) break;
    if (resolv_domain_ok(tok)) names[n++] = tok;
  }
  if (n == 0) return;
  for (std::size_t i = 0; i < ResolvConf::kMaxSearch; i++)
    rc.search[i] = i < n ? std::string(names[i]) : std::string();
  rc.nsearch = n;
}

}  // namespace

bool resolv_domain_ok(std::string_view name) noexcept {
  if (name.empty() || name.size() > ResolvConf::kMaxDomainLen) return false;
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return false;
    switch (ch) {
      case '\\':
      case '"':
      case '(':
      case ')':
      case ';':
      case '@':
      case '$':
        return false;
      default:
        break;
    }
  }
  return true;
}

ResolvConf parse_resolv_conf(std::string_view text) {
  ResolvConf rc;
  std::size_t lines = 0;
  while (!text.empty() && lines < ResolvConf::kMaxLines) {
    lines++;
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.size() > ResolvConf::kMaxLineLen) {
      rc.skipped_lines++;
      continue;
    }
    std::string_view rest;
    if (keyword(line, "nameserver", rest)) {
      std::string_view tok = next_token(rest);
      if (!tok.empty()) add_nameserver(rc, tok);
    } else if (keyword(line, "search", rest)) {
      set_search(rc, rest, ResolvConf::kMaxSearch);
    } else if (keyword(line, "domain", rest)) {
      set_search(rc, rest, 1);
    }
  }
  return rc;
}

}  // namespace passt::core
