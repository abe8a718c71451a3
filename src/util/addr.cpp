#include "util/addr.hpp"

#include <cstdio>

namespace passt {

namespace {

int hex_val(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view AddrText::view() const noexcept { return std::string_view(buf.data()); }

std::optional<Ipv4Addr> parse_ipv4(std::string_view s) noexcept {
  Ipv4Addr out;
  std::size_t i = 0;
  for (std::size_t part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= s.size() || s[i] != '.') return std::nullopt;
      i++;
    }
    std::size_t start = i;
    unsigned v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
      if (v > 255 || i - start >= 3) return std::nullopt;
      i++;
    }
    if (i == start) return std::nullopt;
    out.b[part] = static_cast<u8>(v);
  }
  if (i != s.size()) return std::nullopt;
  return out;
}

std::optional<Ipv6Addr> parse_ipv6(std::string_view s) noexcept {
  // Parse groups before and after an optional "::".
  std::array<u16, 8> head{};
  std::array<u16, 8> tail{};
  std::size_t nhead = 0;
  std::size_t ntail = 0;
  bool gap = false;
  std::size_t i = 0;
  if (s.size() < 2) return std::nullopt;
  if (s[0] == ':') {
    if (s[1] != ':') return std::nullopt;
    gap = true;
    i = 2;
  }
  std::optional<Ipv4Addr> v4tail;
  while (i < s.size()) {
    // A group, or a dotted quad at the end.
    std::size_t start = i;
    while (i < s.size() && s[i] != ':') i++;
    std::string_view tok = s.substr(start, i - start);
    if (tok.empty()) return std::nullopt;
    if (tok.find('.') != std::string_view::npos) {
      if (i != s.size()) return std::nullopt;
      v4tail = parse_ipv4(tok);
      if (!v4tail) return std::nullopt;
      break;
    }
    if (tok.size() > 4) return std::nullopt;
    unsigned v = 0;
    for (char c : tok) {
      int h = hex_val(c);
      if (h < 0) return std::nullopt;
      v = v * 16 + static_cast<unsigned>(h);
    }
    std::size_t& n = gap ? ntail : nhead;
    auto& arr = gap ? tail : head;
    if (n >= 8) return std::nullopt;
    arr[n++] = static_cast<u16>(v);
    if (i == s.size()) break;
    // s[i] == ':'
    i++;
    if (i < s.size() && s[i] == ':') {
      if (gap) return std::nullopt;
      gap = true;
      i++;
      if (i == s.size()) break;
    } else if (i == s.size()) {
      return std::nullopt;  // trailing single ':'
    }
  }
  std::size_t ngroups = nhead + ntail + (v4tail ? 2 : 0);
  if (gap ? ngroups > 7 : ngroups != 8) return std::nullopt;
  std::array<u16, 8> g{};
  for (std::size_t k = 0; k < nhead; k++) g[k] = head[k];
  std::size_t tail_groups = ntail + (v4tail ? 2 : 0);
  std::size_t base = 8 - tail_groups;
  for (std::size_t k = 0; k < ntail; k++) g[base + k] = tail[k];
  if (v4tail) {
    g[6] = static_cast<u16>((v4tail->b[0] << 8) | v4tail->b[1]);
    g[7] = static_cast<u16>((v4tail->b[2] << 8) | v4tail->b[3]);
  }
  Ipv6Addr out;
  for (std::size_t k = 0; k < 8; k++) store_be16(&out.b[2 * k], g[k]);
  return out;
}

std::optional<MacAddr> parse_mac(std::string_view s) noexcept {
  if (s.size() != 17) return std::nullopt;
  MacAddr m;
  for (std::size_t k = 0; k < 6; k++) {
    int hi = hex_val(s[3 * k]);
    int lo = hex_val(s[3 * k + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (k < 5 && s[3 * k + 2] != ':') return std::nullopt;
    m.b[k] = static_cast<u8>(hi * 16 + lo);
  }
  return m;
}

std::optional<InAny> parse_inany(std::string_view s) noexcept {
  if (auto v4 = parse_ipv4(s)) return InAny::from(*v4);
  if (auto v6 = parse_ipv6(s)) return InAny::from(*v6);
  return std::nullopt;
}

AddrText to_text(Ipv4Addr a) noexcept {
  AddrText t;
  std::snprintf(t.buf.data(), t.buf.size(), "%u.%u.%u.%u", a.b[0], a.b[1], a.b[2], a.b[3]);
  return t;
}

AddrText to_text(const Ipv6Addr& a) noexcept {
  AddrText t;
  std::array<u16, 8> g{};
  for (std::size_t k = 0; k < 8; k++) g[k] = load_be16(&a.b[2 * k]);
  // RFC 5952: compress the longest run (>= 2) of zero groups, first on ties.
  std::size_t best = 8;
  std::size_t best_len = 1;
  for (std::size_t k = 0; k < 8;) {
    if (g[k] != 0) {
      k++;
      continue;
    }
    std::size_t e = k;
    while (e < 8 && g[e] == 0) e++;
    if (e - k > best_len) {
      best = k;
      best_len = e - k;
    }
    k = e;
  }
  // v4-mapped addresses print their IPv4 tail as a dotted quad.
  if (a.is_v4_mapped()) {
    std::snprintf(t.buf.data(), t.buf.size(), "::ffff:%u.%u.%u.%u", a.b[12], a.b[13], a.b[14],
                  a.b[15]);
    return t;
  }
  std::size_t pos = 0;
  auto put = [&](bool colon, unsigned v) {
    int n = colon ? std::snprintf(t.buf.data() + pos, t.buf.size() - pos, ":%x", v)
                  : std::snprintf(t.buf.data() + pos, t.buf.size() - pos, "%x", v);
    if (n > 0) pos += static_cast<std::size_t>(n);
  };
  for (std::size_t k = 0; k < 8;) {
    if (k == best) {
      t.buf[pos++] = ':';
      t.buf[pos++] = ':';
      k += best_len;
      continue;
    }
    bool after_gap = best != 8 && k == best + best_len;
    put(!(k == 0 || after_gap), g[k]);
    k++;
  }
  t.buf[pos] = '\0';
  return t;
}

AddrText to_text(const MacAddr& a) noexcept {
  AddrText t;
  std::snprintf(t.buf.data(), t.buf.size(), "%02x:%02x:%02x:%02x:%02x:%02x", a.b[0], a.b[1],
                a.b[2], a.b[3], a.b[4], a.b[5]);
  return t;
}

AddrText to_text(const InAny& a) noexcept {
  if (a.is_v4()) return to_text(a.v4());
  return to_text(a.v6());
}

}  // namespace passt
