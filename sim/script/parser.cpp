// The script parser: lines -> tokens -> header directives and steps.
// docs/scripts.md is the reference for the syntax; this file follows it
// section by section.
#include <cstdio>
#include <cstring>
#include <string>

#include "sim/script/script.hpp"

namespace passt::sim::script {

namespace {

// --- Field tables -------------------------------------------------------------

enum FieldFlags : u8 {
  kBare = 1,       // no value: presence (`df`, `broadcast`, `rapid-commit`)
  kInjectOnly = 2, // only in `<` lines (checksum overrides, padding)
  kAbsentOk = 4,   // `!name` allowed
  kGroup = 8,      // opens a group (DHCPv6 IA_NA, NDP prefix)
  kInGroup = 16,   // belongs to the last group opened
  kRepeat = 32,    // may appear more than once
};

struct FieldDef {
  const char* name;
  FieldId id;
  VType type;
  VType elem;  // list element type
  u8 width;    // bits, for numbers
  u8 flags;
};

constexpr VType N = VType::num;

const FieldDef kIpFields[] = {
    {"ttl", FieldId::ip_ttl, N, N, 8, 0},
    {"hlim", FieldId::ip_ttl, N, N, 8, 0},
    {"tos", FieldId::ip_tos, N, N, 8, 0},
    {"tclass", FieldId::ip_tos, N, N, 8, 0},
    {"id", FieldId::ip_id, N, N, 16, 0},
    {"df", FieldId::ip_df, N, N, 1, kBare | kAbsentOk},
    {"mf", FieldId::ip_mf, N, N, 1, kBare | kAbsentOk},
    {"frag-off", FieldId::ip_frag, N, N, 13, 0},
    {"flow", FieldId::ip_flow, N, N, 20, 0},
    {"ipcsum", FieldId::ip_csum, N, N, 16, kInjectOnly},
    {"csum", FieldId::l4_csum, N, N, 16, kInjectOnly},
    {"pad", FieldId::pad, N, N, 16, kInjectOnly},
};

const FieldDef kArpFields[] = {
    {"oper", FieldId::arp_oper, N, N, 16, 0},
    {"sha", FieldId::arp_sha, VType::mac, N, 0, 0},
    {"spa", FieldId::arp_spa, VType::ip4, N, 0, 0},
    {"tha", FieldId::arp_tha, VType::mac, N, 0, 0},
    {"tpa", FieldId::arp_tpa, VType::ip4, N, 0, 0},
    {"pad", FieldId::pad, N, N, 16, kInjectOnly},
};

const FieldDef kTcpFields[] = {
    {"seq", FieldId::tcp_seq, N, N, 32, 0},
    {"ack", FieldId::tcp_ack, N, N, 32, 0},
    {"win", FieldId::tcp_win, N, N, 16, 0},
    {"urg", FieldId::tcp_urg, N, N, 16, 0},
    {"flags", FieldId::tcp_flags, N, N, 8, 0},
};

const FieldDef kIcmpFields[] = {
    {"type", FieldId::icmp_type, N, N, 8, 0},
    {"code", FieldId::icmp_code, N, N, 8, 0},
    {"id", FieldId::icmp_id, N, N, 16, 0},
    {"seq", FieldId::icmp_seq, N, N, 16, 0},
    {"rest", FieldId::icmp_rest, N, N, 32, 0},
};

const FieldDef kNdpFields[] = {
    {"flags", FieldId::ndp_flags, N, N, 8, 0},
    {"hop", FieldId::ra_hop, N, N, 8, 0},
    {"lifetime", FieldId::ra_lifetime, N, N, 16, 0},
    {"reachable", FieldId::ra_reachable, N, N, 32, 0},
    {"retrans", FieldId::ra_retrans, N, N, 32, 0},
    {"slla", FieldId::ndp_slla, VType::mac, N, 0, kAbsentOk},
    {"tlla", FieldId::ndp_tlla, VType::mac, N, 0, kAbsentOk},
    {"mtu", FieldId::ndp_mtu, N, N, 32, kAbsentOk},
    {"prefix", FieldId::ndp_prefix, VType::prefix6, N, 0, kAbsentOk | kGroup},
    {"prefix-flags", FieldId::ndp_prefix_flags, N, N, 8, kInGroup},
    {"valid", FieldId::ndp_valid, N, N, 32, kInGroup},
    {"preferred", FieldId::ndp_preferred, N, N, 32, kInGroup},
    {"rdnss", FieldId::ndp_rdnss, VType::list, VType::ip6, 0, kAbsentOk},
    {"rdnss-lifetime", FieldId::ndp_rdnss_lifetime, N, N, 32, 0},
    {"dnssl", FieldId::ndp_dnssl, VType::list, VType::text, 0, kAbsentOk},
    {"dnssl-lifetime", FieldId::ndp_dnssl_lifetime, N, N, 32, 0},
};

const FieldDef kDhcpFields[] = {
    {"op", FieldId::dhcp_op, N, N, 8, 0},
    {"htype", FieldId::dhcp_htype, N, N, 8, 0},
    {"hlen", FieldId::dhcp_hlen, N, N, 8, 0},
    {"hops", FieldId::dhcp_hops, N, N, 8, 0},
    {"xid", FieldId::dhcp_xid, N, N, 32, 0},
    {"secs", FieldId::dhcp_secs, N, N, 16, 0},
    {"flags", FieldId::dhcp_flags, N, N, 16, 0},
    {"broadcast", FieldId::dhcp_broadcast, N, N, 1, kBare | kAbsentOk},
    {"ciaddr", FieldId::dhcp_ciaddr, VType::ip4, N, 0, 0},
    {"yiaddr", FieldId::dhcp_yiaddr, VType::ip4, N, 0, 0},
    {"siaddr", FieldId::dhcp_siaddr, VType::ip4, N, 0, 0},
    {"giaddr", FieldId::dhcp_giaddr, VType::ip4, N, 0, 0},
    {"chaddr", FieldId::dhcp_chaddr, VType::mac, N, 0, 0},
    {"mask", FieldId::dhcp_mask, VType::ip4, N, 0, kAbsentOk},
    {"router", FieldId::dhcp_router, VType::list, VType::ip4, 0, kAbsentOk},
    {"dns", FieldId::dhcp_dns, VType::list, VType::ip4, 0, kAbsentOk},
    {"hostname", FieldId::dhcp_hostname, VType::text, N, 0, kAbsentOk},
    {"domain", FieldId::dhcp_domain, VType::text, N, 0, kAbsentOk},
    {"mtu", FieldId::dhcp_mtu, N, N, 16, kAbsentOk},
    {"requested", FieldId::dhcp_requested, VType::ip4, N, 0, kAbsentOk},
    {"lease", FieldId::dhcp_lease, N, N, 32, kAbsentOk},
    {"server-id", FieldId::dhcp_server_id, VType::ip4, N, 0, kAbsentOk},
    {"prl", FieldId::dhcp_prl, VType::list, N, 8, kAbsentOk},
    {"max-size", FieldId::dhcp_max_size, N, N, 16, kAbsentOk},
    {"client-id", FieldId::dhcp_client_id, VType::bytes, N, 0, kAbsentOk},
    {"rapid-commit", FieldId::dhcp_rapid_commit, N, N, 1, kBare | kAbsentOk},
    {"search", FieldId::dhcp_search, VType::list, VType::text, 0, kAbsentOk},
    {"route", FieldId::dhcp_route, VType::route4, N, 0, kAbsentOk | kRepeat},
    {"opt-order", FieldId::dhcp_opt_order, VType::list, N, 8, 0},
    {"pad", FieldId::pad, N, N, 16, kInjectOnly},
};

const FieldDef kDhcp6Fields[] = {
    {"xid", FieldId::d6_xid, N, N, 24, 0},
    {"client-id", FieldId::d6_client_id, VType::bytes, N, 0, kAbsentOk},
    {"server-id", FieldId::d6_server_id, VType::bytes, N, 0, kAbsentOk},
    {"ia-na", FieldId::d6_ia_na, N, N, 32, kAbsentOk | kGroup},
    {"t1", FieldId::d6_t1, N, N, 32, kInGroup},
    {"t2", FieldId::d6_t2, N, N, 32, kInGroup},
    {"addr", FieldId::d6_addr, VType::ip6, N, 0, kInGroup},
    {"preferred", FieldId::d6_preferred, N, N, 32, kInGroup},
    {"valid", FieldId::d6_valid, N, N, 32, kInGroup},
    {"ia-status", FieldId::d6_ia_status, N, N, 16, kInGroup | kAbsentOk},
    {"status", FieldId::d6_status, N, N, 16, kAbsentOk},
    {"status-msg", FieldId::d6_status_msg, VType::text, N, 0, 0},
    {"oro", FieldId::d6_oro, VType::list, N, 16, kAbsentOk},
    {"elapsed", FieldId::d6_elapsed, N, N, 16, kAbsentOk},
    {"rapid-commit", FieldId::d6_rapid_commit, N, N, 1, kBare | kAbsentOk},
    {"dns", FieldId::d6_dns, VType::list, VType::ip6, 0, kAbsentOk},
    {"domains", FieldId::d6_domains, VType::list, VType::text, 0, kAbsentOk},
    {"opt-order", FieldId::d6_opt_order, VType::list, N, 16, 0},
};

template <std::size_t K>
const FieldDef* find_def(const FieldDef (&tab)[K], std::string_view name) noexcept {
  for (const FieldDef& d : tab)
    if (name == d.name) return &d;
  return nullptr;
}

struct NamedNum {
  const char* name;
  u16 value;
};

const NamedNum kDhcpMsgs[] = {{"discover", 1}, {"offer", 2},   {"request", 3}, {"decline", 4},
                              {"ack", 5},      {"nak", 6},     {"release", 7}, {"inform", 8},
                              {"bootp", 0}};
const NamedNum kDhcp6Msgs[] = {{"solicit", 1}, {"advertise", 2}, {"request", 3},
                               {"confirm", 4}, {"renew", 5},     {"rebind", 6},
                               {"reply", 7},   {"release", 8},   {"decline", 9},
                               {"reconfigure", 10}, {"info-request", 11}};
const NamedNum kD6Status[] = {{"success", 0},     {"unspec-fail", 1},   {"no-addrs-avail", 2},
                              {"no-binding", 3},  {"not-on-link", 4},   {"use-multicast", 5},
                              {"no-prefix-avail", 6}};
template <std::size_t K>
std::optional<u16> find_named(const NamedNum (&tab)[K], std::string_view name) noexcept {
  for (const NamedNum& n : tab)
    if (name == n.name) return n.value;
  return std::nullopt;
}

// --- Lexer ----------------------------------------------------------------------

struct Token {
  std::string text;
  bool quoted = false;  // "..." (text holds the unescaped bytes)
  bool opts = false;    // <...> (text holds what is between the brackets)
};

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Splits one line.  Returns false with `err` set on a lexical error.
bool tokenize(std::string_view line, std::vector<Token>& out, std::string& err) {
  out.clear();
  std::size_t i = 0;
  while (i < line.size()) {
    char c = line[i];
    if (is_space(c)) {
      i++;
      continue;
    }
    if (c == '#') break;
    if (out.size() >= kMaxTokens) {
      err = "too many tokens on one line";
      return false;
    }
    Token t;
    if (c == '"') {
      t.quoted = true;
      i++;
      bool closed = false;
      while (i < line.size()) {
        char d = line[i++];
        if (d == '"') {
          closed = true;
          break;
        }
        if (d == '\\') {
          if (i >= line.size()) break;
          char e = line[i++];
          switch (e) {
            case 'n': t.text.push_back('\n'); break;
            case 't': t.text.push_back('\t'); break;
            case 'r': t.text.push_back('\r'); break;
            case '0': t.text.push_back('\0'); break;
            case '\\': t.text.push_back('\\'); break;
            case '"': t.text.push_back('"'); break;
            case 'x': {
              if (i + 2 > line.size() || hex_digit(line[i]) < 0 || hex_digit(line[i + 1]) < 0) {
                err = "bad \\x escape in string";
                return false;
              }
              t.text.push_back(static_cast<char>(hex_digit(line[i]) * 16 + hex_digit(line[i + 1])));
              i += 2;
              break;
            }
            default:
              err = std::string("unknown escape \\") + e + " in string";
              return false;
          }
        } else {
          t.text.push_back(d);
        }
      }
      if (!closed) {
        err = "unterminated string";
        return false;
      }
    } else if (c == '<' && i + 1 < line.size() && !is_space(line[i + 1])) {
      // TCP options list: everything up to the next '>'.
      std::size_t end = line.find('>', i + 1);
      if (end == std::string_view::npos) {
        err = "unterminated option list '<...'";
        return false;
      }
      t.opts = true;
      t.text.assign(line.substr(i + 1, end - i - 1));
      i = end + 1;
    } else {
      std::size_t start = i;
      while (i < line.size() && !is_space(line[i]) && line[i] != '#') i++;
      t.text.assign(line.substr(start, i - start));
    }
    out.push_back(std::move(t));
  }
  return true;
}

// --- Numbers ---------------------------------------------------------------------

std::optional<u64> parse_u64(std::string_view s) noexcept {
  if (s.empty()) return std::nullopt;
  u64 v = 0;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    if (s.size() > 18) return std::nullopt;
    for (std::size_t i = 2; i < s.size(); i++) {
      int d = hex_digit(s[i]);
      if (d < 0) return std::nullopt;
      v = v * 16 + static_cast<u64>(d);
    }
    return v;
  }
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    u64 d = static_cast<u64>(c - '0');
    if (v > (~u64{0} - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

u64 width_max(u8 width) noexcept { return width >= 64 ? ~u64{0} : (u64{1} << width) - 1; }

// Seconds with up to 9 decimals -> nanoseconds (bounded by kMaxTimeNs).
std::optional<i64> parse_seconds(std::string_view s) noexcept {
  if (s.empty() || s.size() > 24) return std::nullopt;
  std::size_t dot = s.find('.');
  std::string_view ip = s.substr(0, dot);
  std::string_view fp = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
  if (ip.empty() && fp.empty()) return std::nullopt;
  if (fp.size() > 9) return std::nullopt;
  i64 secs = 0;
  for (char c : ip) {
    if (c < '0' || c > '9') return std::nullopt;
    secs = secs * 10 + (c - '0');
    if (secs > kMaxTimeNs / 1000000000) return std::nullopt;
  }
  i64 frac = 0;
  for (std::size_t k = 0; k < 9; k++) {
    char c = k < fp.size() ? fp[k] : '0';
    if (c < '0' || c > '9') return std::nullopt;
    frac = frac * 10 + (c - '0');
  }
  i64 ns = secs * 1000000000 + frac;
  if (ns > kMaxTimeNs) return std::nullopt;
  return ns;
}

bool valid_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

// --- The parser -------------------------------------------------------------------

enum class Dir : u8 { inject, expect, none };

class Parser {
 public:
  ParseResult run(std::string_view text);

 private:
  // Errors: the first one wins.
  bool fail(const std::string& msg) {
    if (!failed_) {
      failed_ = true;
      err_.line = line_;
      err_.msg = msg;
    }
    return false;
  }
  bool fail_tok(std::size_t i, const std::string& msg) {
    if (i < toks_.size()) return fail(msg + " at '" + toks_[i].text + "'");
    return fail(msg + " at end of line");
  }

  bool line_step();
  bool header();
  bool parse_time(const std::string& tok, i64* out);
  bool parse_frame(Step& st, std::size_t& i, Dir dir);
  bool parse_host(Step& st, std::size_t& i);

  bool literal(const Token& t, VType type, VType elem, u8 width, Value& out, std::string& why);
  bool expr(std::size_t i, VType type, VType elem, u8 width, Dir dir, Expr& out);
  bool endpoint(std::size_t i, bool with_port, bool force_v6, Dir dir, Expr& addr, Expr& port,
                int* family);
  bool parse_fields(FrameSpec& f, std::size_t& i, Dir dir);
  bool field(FrameSpec& f, std::size_t& i, Dir dir, const FieldDef& d, bool absent);
  bool tcp_options(FrameSpec& f, const Token& t, Dir dir);
  bool payload(FrameSpec& f, std::size_t& i, Dir dir);
  bool flag_letters(std::string_view s, const char* letters, const u8* bits, u8* out);

  int var_index(std::string_view name) const {
    for (std::size_t k = 0; k < script_.vars.size(); k++)
      if (script_.vars[k].name == name) return static_cast<int>(k);
    return -1;
  }
  bool host_obj(const std::string& name, HostObj kind);

  Script script_;
  std::vector<Token> toks_;
  u32 line_ = 0;
  bool failed_ = false;
  bool in_steps_ = false;
  ParseError err_;
  i64 last_t_ = 0;
  std::vector<std::pair<std::string, HostObj>> host_objs_;
};

bool Parser::parse_time(const std::string& tok, i64* out) {
  bool rel = !tok.empty() && tok[0] == '+';
  auto ns = parse_seconds(rel ? std::string_view(tok).substr(1) : std::string_view(tok));
  if (!ns) return fail("bad time '" + tok + "' (seconds, up to 9 decimals, below 3600)");
  i64 t = rel ? last_t_ + *ns : *ns;
  if (t > kMaxTimeNs) return fail("time beyond one hour");
  if (t < last_t_) return fail("time '" + tok + "' goes backwards");
  *out = t;
  return true;
}

bool Parser::literal(const Token& t, VType type, VType elem, u8 width, Value& out,
                     std::string& why) {
  const std::string& s = t.text;
  out = Value{};
  out.type = type;
  switch (type) {
    case VType::num: {
      std::optional<u64> v;
      if (s == "inf" && !t.quoted)
        v = 0xffffffffu;
      else if (!t.quoted)
        v = parse_u64(s);
      if (!v) {
        why = "expected a number";
        return false;
      }
      if (*v > width_max(width)) {
        why = "number does not fit " + std::to_string(width) + " bits";
        return false;
      }
      out.num = *v;
      return true;
    }
    case VType::ip4: {
      auto a = parse_ipv4(s);
      if (!a || t.quoted) {
        why = "expected an IPv4 address";
        return false;
      }
      out.ip4 = *a;
      return true;
    }
    case VType::ip6: {
      auto a = parse_ipv6(s);
      if (!a || t.quoted) {
        why = "expected an IPv6 address";
        return false;
      }
      out.ip6 = *a;
      return true;
    }
    case VType::mac: {
      auto m = parse_mac(s);
      if (!m || t.quoted) {
        why = "expected a MAC address";
        return false;
      }
      out.mac = *m;
      return true;
    }
    case VType::bytes: {
      if (t.quoted) {
        out.bytes.assign(s.begin(), s.end());
        return true;
      }
      std::string_view h = s;
      if (h.size() >= 2 && h[0] == '0' && (h[1] == 'x' || h[1] == 'X')) h.remove_prefix(2);
      std::vector<u8> b;
      int hi = -1;
      for (char c : h) {
        if (c == ':') {
          if (hi >= 0) break;
          continue;
        }
        int d = hex_digit(c);
        if (d < 0) {
          why = "expected hex bytes";
          return false;
        }
        if (hi < 0) {
          hi = d;
        } else {
          b.push_back(static_cast<u8>(hi * 16 + d));
          hi = -1;
        }
      }
      if (hi >= 0 || b.empty()) {
        why = "expected an even number of hex digits";
        return false;
      }
      if (b.size() > kMaxBytes) {
        why = "too many bytes";
        return false;
      }
      out.bytes = std::move(b);
      return true;
    }
    case VType::text:
      if (s.size() > kMaxBytes) {
        why = "string too long";
        return false;
      }
      out.bytes.assign(s.begin(), s.end());
      return true;
    case VType::prefix4:
    case VType::prefix6: {
      std::size_t slash = s.find('/');
      if (slash == std::string::npos || t.quoted) {
        why = "expected ADDRESS/LENGTH";
        return false;
      }
      auto len = parse_u64(std::string_view(s).substr(slash + 1));
      std::string_view a = std::string_view(s).substr(0, slash);
      if (type == VType::prefix4) {
        auto v = parse_ipv4(a);
        if (!v || !len || *len > 32) {
          why = "expected an IPv4 prefix";
          return false;
        }
        out.ip4 = *v;
      } else {
        auto v = parse_ipv6(a);
        if (!v || !len || *len > 128) {
          why = "expected an IPv6 prefix";
          return false;
        }
        out.ip6 = *v;
      }
      out.num = *len;
      return true;
    }
    case VType::route4:
      why = "internal: route literal";
      return false;
    case VType::list: {
      if (t.quoted) {
        why = "expected a comma-separated list";
        return false;
      }
      std::size_t pos = 0;
      while (pos <= s.size()) {
        std::size_t comma = s.find(',', pos);
        std::string_view part = std::string_view(s).substr(
            pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (part.empty()) {
          why = "empty list element";
          return false;
        }
        if (out.items.size() >= kMaxList) {
          why = "list too long";
          return false;
        }
        Token et;
        et.text.assign(part);
        Value ev;
        if (elem == VType::list || elem == VType::route4 ||
            !literal(et, elem, VType::num, width, ev, why))
          return false;
        out.items.push_back(std::move(ev));
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
      return true;
    }
  }
  why = "bad value";
  return false;
}

bool Parser::expr(std::size_t i, VType type, VType elem, u8 width, Dir dir, Expr& out) {
  if (i >= toks_.size()) return fail("missing value at end of line");
  const Token& t = toks_[i];
  out = Expr{};
  if (!t.quoted && t.text == "*") {
    if (dir != Dir::expect) return fail_tok(i, "wildcard '*' is only allowed in '>' lines");
    out.kind = Expr::Kind::any;
    return true;
  }
  if (!t.quoted && !t.text.empty() && t.text[0] == '$') {
    std::string_view s = std::string_view(t.text).substr(1);
    std::size_t op = s.find_first_of("+-");
    std::string_view name = s.substr(0, op);
    i64 off = 0;
    if (op != std::string_view::npos) {
      auto n = parse_u64(s.substr(op + 1));
      if (!n || *n > 0xffffffffu) return fail_tok(i, "bad variable offset");
      off = s[op] == '+' ? static_cast<i64>(*n) : -static_cast<i64>(*n);
    }
    if (!valid_name(name)) return fail_tok(i, "bad variable name");
    int k = var_index(name);
    out.kind = Expr::Kind::var;
    out.offset = off;
    if (k < 0) {
      if (dir != Dir::expect)
        return fail_tok(i, "unknown variable (variables are predefined, set in the header, or "
                           "captured in an earlier '>' line)");
      if (off != 0) return fail_tok(i, "a capture cannot have an offset");
      if (type == VType::list) return fail_tok(i, "lists cannot be captured");
      if (script_.vars.size() >= kMaxVars) return fail_tok(i, "too many variables");
      VarDef v;
      v.name.assign(name);
      v.type = type;
      script_.vars.push_back(std::move(v));
      out.var = static_cast<u16>(script_.vars.size() - 1);
      out.capture = true;
      return true;
    }
    const VarDef& v = script_.vars[static_cast<std::size_t>(k)];
    if (v.type != type)
      return fail_tok(i, std::string("variable is ") + vtype_name(v.type) + ", the field needs " +
                             vtype_name(type));
    if (off != 0 && type != VType::num) return fail_tok(i, "offsets only apply to numbers");
    out.var = static_cast<u16>(k);
    return true;
  }
  std::string why;
  if (!literal(t, type, elem, width, out.lit, why)) return fail_tok(i, why);
  out.kind = Expr::Kind::lit;
  return true;
}

// ADDR[:PORT], [ADDR6]:PORT, with '*' or $vars for either part.  `family`
// in/out: 0 unknown, 4, 6.
bool Parser::endpoint(std::size_t i, bool with_port, bool force_v6, Dir dir, Expr& addr,
                      Expr& port, int* family) {
  if (i >= toks_.size()) return fail("missing address at end of line");
  const Token& t = toks_[i];
  if (t.quoted || t.opts) return fail_tok(i, "expected an address");
  std::string a = t.text;
  std::string p;
  bool bracket = false;
  if (!a.empty() && a[0] == '[') {
    std::size_t close = a.find(']');
    if (close == std::string::npos) return fail_tok(i, "missing ']'");
    bracket = true;
    std::string rest = a.substr(close + 1);
    std::string inner = a.substr(1, close - 1);
    if (with_port) {
      if (rest.size() < 2 || rest[0] != ':') return fail_tok(i, "expected [ADDRESS]:PORT");
      p = rest.substr(1);
    } else if (!rest.empty()) {
      return fail_tok(i, "unexpected text after ']'");
    }
    a = inner;
  } else if (with_port) {
    std::size_t colon = a.rfind(':');
    if (colon == std::string::npos) return fail_tok(i, "expected ADDRESS:PORT");
    p = a.substr(colon + 1);
    a = a.substr(0, colon);
    if (a.find(':') != std::string::npos) return fail_tok(i, "IPv6 endpoints are written [ADDRESS]:PORT");
  }
  // Family: bracket or literal or variable type.
  int fam = *family;
  if (bracket || force_v6) fam = 6;
  if (fam == 0) {
    if (parse_ipv4(a)) fam = 4;
    else if (parse_ipv6(a)) fam = 6;
    else if (!a.empty() && a[0] == '$') {
      std::string_view s = std::string_view(a).substr(1);
      int k = var_index(s.substr(0, s.find_first_of("+-")));
      if (k >= 0 && script_.vars[static_cast<std::size_t>(k)].type == VType::ip6) fam = 6;
      else if (k >= 0) fam = 4;
    }
  }
  if (fam == 0) fam = 4;
  *family = fam;
  // Evaluate the parts through expr() on a temporary token list.  The
  // line's list is swapped out and back, not copied: its storage (which
  // `t` and our callers' references point into) stays alive and in place.
  std::vector<Token> saved;
  saved.swap(toks_);
  Token at;
  at.text = a;
  toks_ = {at};
  bool ok = expr(0, fam == 6 ? VType::ip6 : VType::ip4, VType::num, 0, dir, addr);
  if (ok && with_port) {
    Token pt;
    pt.text = p;
    toks_ = {pt};
    ok = expr(0, VType::num, VType::num, 16, dir, port);
  }
  toks_.swap(saved);
  if (!ok) {
    // Re-anchor the message on the original token.
    err_.msg += " (in '" + t.text + "')";
    return false;
  }
  return true;
}

bool Parser::flag_letters(std::string_view s, const char* letters, const u8* bits, u8* out) {
  *out = 0;
  if (s == "none") return true;
  for (char c : s) {
    const char* p = std::strchr(letters, c);
    if (p == nullptr || c == '\0') return false;
    *out = static_cast<u8>(*out | bits[p - letters]);
  }
  return true;
}

bool Parser::tcp_options(FrameSpec& f, const Token& t, Dir dir) {
  f.opts_given = true;
  const std::string& text = t.text;  // in the line's list, which stays in place (see endpoint())
  std::string body = text;
  // Trim.
  while (!body.empty() && is_space(body.back())) body.pop_back();
  std::size_t b0 = 0;
  while (b0 < body.size() && is_space(body[b0])) b0++;
  body = body.substr(b0);
  if (body == "*") {
    if (dir != Dir::expect) return fail("'<*>' is only allowed in '>' lines");
    f.opts_any = true;
    return true;
  }
  if (body.empty()) return true;  // "<>" hmm: no options
  std::size_t pos = 0;
  while (pos <= body.size()) {
    std::size_t comma = body.find(',', pos);
    std::string item = body.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    std::vector<Token> words;
    std::string lexerr;
    if (!tokenize(item, words, lexerr)) return fail("in TCP options: " + lexerr);
    if (words.empty()) return fail("empty TCP option in '<" + text + ">'");
    if (f.opts.size() >= 40) return fail("too many TCP options");
    TcpOptSpec o;
    std::vector<Token> saved;  // swapped, not copied: see endpoint()
    saved.swap(toks_);
    toks_ = words;
    bool ok = true;
    const std::string& k = words[0].text;
    auto arity = [&](std::size_t n) {
      if (words.size() != n) ok = fail("TCP option '" + k + "' takes " + std::to_string(n - 1) + " value(s)");
      return ok;
    };
    if (k == "mss") {
      o.kind = TcpOptSpec::Kind::mss;
      if (arity(2)) ok = expr(1, VType::num, VType::num, 16, dir, o.a);
    } else if (k == "wscale") {
      o.kind = TcpOptSpec::Kind::wscale;
      if (arity(2)) ok = expr(1, VType::num, VType::num, 8, dir, o.a);
    } else if (k == "sackOK") {
      o.kind = TcpOptSpec::Kind::sack_ok;
      arity(1);
    } else if (k == "nop") {
      o.kind = TcpOptSpec::Kind::nop;
      arity(1);
    } else if (k == "eol") {
      o.kind = TcpOptSpec::Kind::eol;
      arity(1);
    } else if (k == "TS") {
      o.kind = TcpOptSpec::Kind::ts;
      if (words.size() != 5 || words[1].text != "val" || words[3].text != "ecr")
        ok = fail("TCP option TS is 'TS val N ecr N'");
      else
        ok = expr(2, VType::num, VType::num, 32, dir, o.a) && expr(4, VType::num, VType::num, 32, dir, o.b);
    } else {
      ok = fail("unknown TCP option '" + k + "' (mss, wscale, sackOK, nop, eol, TS)");
    }
    toks_.swap(saved);
    if (!ok) return false;
    f.opts.push_back(std::move(o));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return true;
}

bool Parser::payload(FrameSpec& f, std::size_t& i, Dir dir) {
  const std::string& k = toks_[i].text;
  if (f.payload != PayloadKind::none) return fail_tok(i, "payload given twice");
  if (k == "len") {
    if (i + 1 < toks_.size() && toks_[i + 1].text == "*" && !toks_[i + 1].quoted) {
      if (dir != Dir::expect) return fail_tok(i + 1, "wildcard '*' is only allowed in '>' lines");
      f.payload = PayloadKind::any;
      i += 2;
      return true;
    }
    if (!expr(i + 1, VType::num, VType::num, 16, dir, f.payload_len)) return false;
    if (f.payload_len.kind == Expr::Kind::lit && f.payload_len.lit.num > kMaxBytes)
      return fail_tok(i + 1, "payload too long");
    f.payload = PayloadKind::len;
    i += 2;
    return true;
  }
  // data "text" | data 0xHEX
  Value v;
  std::string why;
  if (i + 1 >= toks_.size()) return fail("missing data after 'data'");
  if (!literal(toks_[i + 1], VType::bytes, VType::num, 0, v, why)) return fail_tok(i + 1, why);
  f.payload = PayloadKind::data;
  f.data = std::move(v.bytes);
  i += 2;
  return true;
}

bool Parser::field(FrameSpec& f, std::size_t& i, Dir dir, const FieldDef& d, bool absent) {
  Field fl;
  fl.id = d.id;
  fl.col = static_cast<u32>(i);
  fl.absent = absent;
  if ((d.flags & kInjectOnly) != 0 && dir == Dir::expect) {
    if (d.id == FieldId::ip_csum || d.id == FieldId::l4_csum)
      return fail_tok(i, "checksums are always verified in '>' lines, never matched");
    return fail_tok(i, "only allowed in '<' lines");
  }
  if (absent && (d.flags & kAbsentOk) == 0) return fail_tok(i, "cannot be negated with '!'");
  if ((d.flags & kGroup) != 0 && !absent) {
    if (f.groups >= 8) return fail_tok(i, "too many groups");
    f.groups++;
  }
  if ((d.flags & kInGroup) != 0) {
    if (f.groups == 0) return fail_tok(i, "must follow the option it belongs to");
  }
  fl.group = static_cast<u8>(f.groups == 0 ? 0 : f.groups - 1);
  if ((d.flags & kRepeat) == 0) {
    for (const Field& o : f.fields)
      if (o.id == d.id && o.group == fl.group && (d.flags & kGroup) == 0)
        return fail_tok(i, "field given twice");
  }
  if (absent || (d.flags & kBare) != 0) {
    fl.e.kind = Expr::Kind::lit;
    fl.e.lit = Value::of_num(1);
    i += 1;
    f.fields.push_back(std::move(fl));
    return true;
  }
  // Special value syntaxes.
  if (d.id == FieldId::dhcp_route) {
    // route DEST/LEN via ROUTER
    if (i + 3 >= toks_.size() || toks_[i + 2].text != "via")
      return fail_tok(i, "route is 'route DEST/LEN via ROUTER'");
    Value dst;
    Value via;
    std::string why;
    if (!literal(toks_[i + 1], VType::prefix4, N, 0, dst, why)) return fail_tok(i + 1, why);
    if (!literal(toks_[i + 3], VType::ip4, N, 0, via, why)) return fail_tok(i + 3, why);
    fl.e.kind = Expr::Kind::lit;
    fl.e.lit.type = VType::route4;
    fl.e.lit.ip4 = dst.ip4;
    fl.e.lit.num = dst.num;
    fl.e.lit.ip4b = via.ip4;
    i += 4;
    f.fields.push_back(std::move(fl));
    return true;
  }
  if (d.id == FieldId::ndp_flags || d.id == FieldId::ndp_prefix_flags) {
    if (i + 1 >= toks_.size()) return fail("missing flags");
    const Token& t = toks_[i + 1];
    if (!t.quoted && t.text != "*" && (t.text.empty() || t.text[0] != '$') &&
        !(t.text.size() > 1 && t.text[0] == '0')) {
      u8 bits = 0;
      static const u8 kNa[] = {0x80, 0x40, 0x20};
      static const u8 kRa[] = {0x80, 0x40};
      static const u8 kPi[] = {0x80, 0x40};
      bool ok = false;
      if (d.id == FieldId::ndp_prefix_flags)
        ok = flag_letters(t.text, "LA", kPi, &bits);
      else if (f.msg == 136)
        ok = flag_letters(t.text, "RSO", kNa, &bits);
      else if (f.msg == 134)
        ok = flag_letters(t.text, "MO", kRa, &bits);
      else
        return fail_tok(i, "flags apply to na (RSO) and ra (MO)");
      if (!ok) return fail_tok(i + 1, "bad flag letters");
      fl.e.kind = Expr::Kind::lit;
      fl.e.lit = Value::of_num(bits);
      i += 2;
      f.fields.push_back(std::move(fl));
      return true;
    }
  }
  if ((d.id == FieldId::d6_status || d.id == FieldId::d6_ia_status) && i + 1 < toks_.size()) {
    if (auto code = find_named(kD6Status, toks_[i + 1].text)) {
      fl.e.kind = Expr::Kind::lit;
      fl.e.lit = Value::of_num(*code);
      i += 2;
      f.fields.push_back(std::move(fl));
      return true;
    }
  }
  if (!expr(i + 1, d.type, d.elem, d.width, dir, fl.e)) return false;
  i += 2;
  f.fields.push_back(std::move(fl));
  return true;
}

bool Parser::parse_fields(FrameSpec& f, std::size_t& i, Dir dir) {
  while (i < toks_.size()) {
    const Token& t = toks_[i];
    if (t.quoted) return fail_tok(i, "unexpected string");
    if (t.opts) {
      if (f.proto != Proto::tcp) return fail_tok(i, "option lists '<...>' are for tcp");
      if (f.opts_given) return fail_tok(i, "option list given twice");
      if (!tcp_options(f, t, dir)) return false;
      i++;
      continue;
    }
    std::string k = t.text;
    bool absent = false;
    if (!k.empty() && k[0] == '!') {
      absent = true;
      k = k.substr(1);
    }
    if (!absent && (k == "len" || k == "data") &&
        (f.proto == Proto::tcp || f.proto == Proto::udp || f.proto == Proto::icmp ||
         f.proto == Proto::icmp6 || f.proto == Proto::ether)) {
      if (f.proto == Proto::icmp6 && f.msg_given && f.msg >= 133 && f.msg <= 136)
        return fail_tok(i, "NDP messages carry options, not a payload");
      if (!payload(f, i, dir)) return false;
      continue;
    }
    if (f.proto == Proto::dhcp && !absent && k == "opt") {
      // opt CODE HEX
      if (i + 2 >= toks_.size()) return fail_tok(i, "opt is 'opt CODE HEX'");
      auto code = parse_u64(toks_[i + 1].text);
      if (!code || *code == 0 || *code >= 255) return fail_tok(i + 1, "option code 1..254");
      Field fl;
      fl.id = FieldId::dhcp_opt;
      fl.code = static_cast<u8>(*code);
      fl.col = static_cast<u32>(i);
      if (!expr(i + 2, VType::bytes, N, 0, dir, fl.e)) return false;
      if (fl.e.kind == Expr::Kind::lit && fl.e.lit.bytes.size() > 255)
        return fail_tok(i + 2, "option value over 255 bytes");
      f.fields.push_back(std::move(fl));
      i += 3;
      continue;
    }
    if (absent && (f.proto == Proto::dhcp || f.proto == Proto::dhcp6)) {
      // !CODE or !name of an option.
      auto num = parse_u64(k);
      std::optional<u16> code;
      if (num) {
        if (f.proto == Proto::dhcp && (*num == 0 || *num >= 255)) return fail_tok(i, "option code 1..254");
        if (*num > 0xffff) return fail_tok(i, "option code too large");
        code = static_cast<u16>(*num);
      }
      if (code) {
        Field fl;
        fl.id = f.proto == Proto::dhcp ? FieldId::dhcp_opt : FieldId::d6_opt;
        fl.absent = true;
        fl.code = static_cast<u8>(*code);
        fl.code16 = *code;
        fl.col = static_cast<u32>(i);
        f.fields.push_back(std::move(fl));
        i++;
        continue;
      }
    }
    const FieldDef* d = nullptr;
    switch (f.proto) {
      case Proto::arp: d = find_def(kArpFields, k); break;
      case Proto::tcp: d = find_def(kTcpFields, k); break;
      case Proto::icmp: d = find_def(kIcmpFields, k); break;
      case Proto::icmp6:
        d = find_def(kIcmpFields, k);
        if (d == nullptr && f.msg >= 133 && f.msg <= 136) d = find_def(kNdpFields, k);
        break;
      case Proto::dhcp: d = find_def(kDhcpFields, k); break;
      case Proto::dhcp6: d = find_def(kDhcp6Fields, k); break;
      case Proto::udp:
      case Proto::raw:
      case Proto::ether:
        break;
    }
    if (d == nullptr && f.has_ip) d = find_def(kIpFields, k);
    if (d == nullptr && f.proto == Proto::dhcp6 && k == "pad") d = find_def(kIpFields, k);
    if (d == nullptr) return fail_tok(i, std::string("unknown field for ") + proto_name(f.proto));
    if (d->id == FieldId::ip_id && f.v6) return fail_tok(i, "'id' is an IPv4 field");
    if (d->id == FieldId::ip_flow && !f.v6) return fail_tok(i, "'flow' is an IPv6 field");
    if ((d->id == FieldId::ip_df || d->id == FieldId::ip_mf || d->id == FieldId::ip_frag ||
         d->id == FieldId::ip_csum) && f.v6)
      return fail_tok(i, "an IPv4 header field");
    if (!field(f, i, dir, *d, absent)) return false;
  }
  return true;
}

bool Parser::parse_frame(Step& st, std::size_t& i, Dir dir) {
  FrameSpec& f = st.frame;
  if (i >= toks_.size()) return fail("missing frame after direction");
  // Ethernet override.
  if (toks_[i].text == "eth" && !toks_[i].quoted) {
    if (i + 3 >= toks_.size() || toks_[i + 2].text != ">")
      return fail_tok(i, "expected 'eth SRC > DST'");
    Expr s;
    Expr d;
    if (!expr(i + 1, VType::mac, N, 0, dir, s) || !expr(i + 3, VType::mac, N, 0, dir, d)) return false;
    f.eth_src = s;
    f.eth_dst = d;
    i += 4;
    if (i >= toks_.size()) return fail("missing frame after 'eth SRC > DST'");
  }
  const std::string p = toks_[i].text;
  i++;
  int fam = 0;
  auto two_endpoints = [&](bool with_port, bool force_v6) {
    f.has_ip = true;
    f.has_ports = with_port;
    if (!endpoint(i, with_port, force_v6, dir, f.src, f.sport, &fam)) return false;
    if (i + 1 >= toks_.size() || toks_[i + 1].text != ">")
      return fail_tok(i + 1, "expected '>' between source and destination");
    int fam2 = fam;
    if (!endpoint(i + 2, with_port, force_v6, dir, f.dst, f.dport, &fam2)) return false;
    if (fam2 != fam) {
      // The first endpoint's family may have been a guess ('*').
      if (f.src.kind == Expr::Kind::any) {
        fam = fam2;
        f.src.lit.type = fam == 6 ? VType::ip6 : VType::ip4;
      } else {
        return fail_tok(i + 2, "source and destination are of different families");
      }
    }
    f.v6 = fam == 6;
    i += 3;
    return true;
  };
  if (p == "raw") {
    f.proto = Proto::raw;
    if (dir == Dir::none) return false;
    std::string hex;
    while (i < toks_.size()) {
      if (toks_[i].quoted || toks_[i].opts) return fail_tok(i, "expected hex bytes");
      hex += toks_[i].text;
      i++;
      if (hex.size() > 2 * (kMaxBytes + 14) + 2) return fail("raw frame too long");
    }
    Token t;
    t.text = hex;
    Value v;
    std::string why;
    if (!literal(t, VType::bytes, N, 0, v, why)) return fail("raw: " + why);
    f.raw = std::move(v.bytes);
    return true;
  }
  if (p == "ether") {
    f.proto = Proto::ether;
    if (i >= toks_.size() || toks_[i].text != "type") return fail_tok(i, "expected 'ether type N'");
    Field fl;
    fl.id = FieldId::eth_type;
    fl.col = static_cast<u32>(i);
    if (!expr(i + 1, VType::num, N, 16, dir, fl.e)) return false;
    f.fields.push_back(std::move(fl));
    i += 2;
    return parse_fields(f, i, dir);
  }
  if (p == "arp") {
    f.proto = Proto::arp;
    if (i >= toks_.size()) return fail("expected 'who-has' or 'reply'");
    const std::string m = toks_[i].text;
    if (m == "who-has") {
      // who-has TPA tell SPA
      if (i + 3 >= toks_.size() || toks_[i + 2].text != "tell") return fail_tok(i, "expected 'who-has TPA tell SPA'");
      f.msg = 1;
      Field tpa;
      Field spa;
      tpa.id = FieldId::arp_tpa;
      spa.id = FieldId::arp_spa;
      if (!expr(i + 1, VType::ip4, N, 0, dir, tpa.e) || !expr(i + 3, VType::ip4, N, 0, dir, spa.e)) return false;
      f.fields.push_back(std::move(tpa));
      f.fields.push_back(std::move(spa));
      i += 4;
    } else if (m == "reply") {
      // reply SPA is-at SHA
      if (i + 3 >= toks_.size() || toks_[i + 2].text != "is-at") return fail_tok(i, "expected 'reply SPA is-at SHA'");
      f.msg = 2;
      Field spa;
      Field sha;
      spa.id = FieldId::arp_spa;
      sha.id = FieldId::arp_sha;
      if (!expr(i + 1, VType::ip4, N, 0, dir, spa.e) || !expr(i + 3, VType::mac, N, 0, dir, sha.e)) return false;
      f.fields.push_back(std::move(spa));
      f.fields.push_back(std::move(sha));
      i += 4;
    } else {
      return fail_tok(i, "expected 'who-has' or 'reply'");
    }
    f.msg_given = true;
    return parse_fields(f, i, dir);
  }
  if (p == "tcp" || p == "udp") {
    f.proto = p == "tcp" ? Proto::tcp : Proto::udp;
    if (!two_endpoints(true, false)) return false;
    if (f.proto == Proto::tcp) {
      if (i >= toks_.size()) return fail("missing TCP flags (e.g. 'S', 'S.', '.', 'P.', 'F.', 'R')");
      const Token& t = toks_[i];
      Field fl;
      fl.id = FieldId::tcp_flags;
      fl.col = static_cast<u32>(i);
      if (t.text == "*" && !t.quoted) {
        if (dir != Dir::expect) return fail_tok(i, "wildcard '*' is only allowed in '>' lines");
        fl.e.kind = Expr::Kind::any;
      } else {
        // Upper case: set; lower case ('>' only): either way; absent: clear.
        u8 bits = 0;
        u8 loose = 0;
        static const u8 kBits[] = {0x02, 0x01, 0x08, 0x04, 0x20, 0x40, 0x80, 0x10};
        std::string upper;
        std::string lower;
        for (char c : t.text) (c >= 'a' && c <= 'z' ? lower : upper) += c;
        for (char& c : lower) c = static_cast<char>(c - 'a' + 'A');
        if (t.quoted || upper.empty() || !flag_letters(upper, "SFPRUEW.", kBits, &bits) ||
            (!lower.empty() && !flag_letters(lower, "SFPRUEW", kBits, &loose)))
          return fail_tok(i, "bad TCP flags (letters S F P R U E W and '.' for ACK, or 'none'; "
                             "lower case for 'either')");
        if (loose != 0 && dir != Dir::expect) return fail_tok(i, "lower-case (either way) flags only in '>' lines");
        if ((bits & loose) != 0) return fail_tok(i, "a flag is both required and optional");
        fl.e.kind = Expr::Kind::lit;
        fl.e.lit = Value::of_num(bits);
        fl.mask = static_cast<u8>(~loose);
      }
      f.fields.push_back(std::move(fl));
      i++;
    }
    return parse_fields(f, i, dir);
  }
  if (p == "icmp" || p == "icmp6") {
    f.proto = p == "icmp" ? Proto::icmp : Proto::icmp6;
    fam = p == "icmp" ? 4 : 6;
    if (!two_endpoints(false, p == "icmp6")) return false;
    if (p == "icmp" && f.v6) return fail("icmp needs IPv4 addresses (use icmp6)");
    if (i >= toks_.size()) return fail("missing ICMP message");
    const std::string m = toks_[i].text;
    bool six = f.proto == Proto::icmp6;
    if (m == "echo-request") {
      f.msg = six ? 128 : 8;
    } else if (m == "echo-reply") {
      f.msg = six ? 129 : 0;
    } else if (six && (m == "rs" || m == "ra")) {
      f.msg = m == "rs" ? 133 : 134;
    } else if (six && (m == "ns" || m == "na")) {
      f.msg = m == "ns" ? 135 : 136;
      Field tg;
      tg.id = FieldId::ndp_target;
      if (!expr(i + 1, VType::ip6, N, 0, dir, tg.e)) return false;
      f.fields.push_back(std::move(tg));
      i++;
    } else if (m == "type") {
      // Generic: the type field follows.
      f.msg_given = false;
      return parse_fields(f, i, dir);
    } else {
      return fail_tok(i, six ? "expected echo-request, echo-reply, rs, ra, ns, na or type N"
                             : "expected echo-request, echo-reply or type N");
    }
    f.msg_given = true;
    i++;
    return parse_fields(f, i, dir);
  }
  if (p == "dhcp" || p == "dhcp6") {
    bool six = p == "dhcp6";
    f.proto = six ? Proto::dhcp6 : Proto::dhcp;
    if (i < toks_.size() && !(six ? find_named(kDhcp6Msgs, toks_[i].text) : find_named(kDhcpMsgs, toks_[i].text))) {
      fam = six ? 6 : 4;
      if (!two_endpoints(true, six)) return false;
      if (!six && f.v6) return fail("dhcp needs IPv4 endpoints");
    } else {
      f.has_ip = false;
      f.v6 = six;
    }
    if (i >= toks_.size()) return fail("missing DHCP message type");
    auto m = six ? find_named(kDhcp6Msgs, toks_[i].text) : find_named(kDhcpMsgs, toks_[i].text);
    if (!m) return fail_tok(i, "unknown DHCP message type");
    f.msg = *m;
    f.msg_given = true;
    i++;
    // Fields after the message name; `f.has_ip` is true only if endpoints
    // were given, but IP header fields are allowed either way.
    bool had = f.has_ip;
    f.has_ip = true;
    bool ok = parse_fields(f, i, dir);
    f.has_ip = had;
    return ok;
  }
  return fail_tok(i - 1, "unknown frame kind (raw, ether, arp, tcp, udp, icmp, icmp6, dhcp, dhcp6)");
}

namespace {

const char* host_obj_name(HostObj k) {
  switch (k) {
    case HostObj::listener: return "listener";
    case HostObj::conn: return "connection";
    case HostObj::udp: return "UDP socket";
  }
  return "?";
}

const char* host_obj_maker(HostObj k) {
  switch (k) {
    case HostObj::listener: return "'host listen'";
    case HostObj::conn: return "'host accept' or 'host connect'";
    case HostObj::udp: return "'host udp-bind'";
  }
  return "?";
}

bool is_udp_op(HostOp op) {
  return op == HostOp::udp_bind || op == HostOp::udp_send || op == HostOp::udp_recv || op == HostOp::udp_reply ||
         op == HostOp::udp_expect_none;
}

}  // namespace

bool Parser::host_obj(const std::string& name, HostObj kind) {
  for (const auto& [n, k] : host_objs_)
    if (n == name) {
      if (k != kind) return fail("host object '" + name + "' is a " + host_obj_name(k));
      return true;
    }
  return fail("no host " + std::string(host_obj_name(kind)) + " named '" + name + "' (create it with " +
              host_obj_maker(kind) + ")");
}

bool Parser::parse_host(Step& st, std::size_t& i) {
  HostAction& h = st.host;
  if (i >= toks_.size()) return fail("missing host action");
  const std::string op = toks_[i].text;
  i++;
  struct OpName {
    const char* n;
    HostOp op;
  };
  static const OpName kOps[] = {
      {"listen", HostOp::listen},   {"accept", HostOp::accept},
      {"connect", HostOp::connect}, {"send", HostOp::send},
      {"recv", HostOp::recv},       {"shutdown", HostOp::shutdown},
      {"close", HostOp::close},     {"reset", HostOp::reset},
      {"expect-eof", HostOp::expect_eof},         {"expect-reset", HostOp::expect_reset},
      {"expect-refused", HostOp::expect_refused}, {"expect-connected", HostOp::expect_connected},
      {"udp-bind", HostOp::udp_bind},             {"udp-send", HostOp::udp_send},
      {"udp-recv", HostOp::udp_recv},             {"udp-reply", HostOp::udp_reply},
      {"udp-expect-none", HostOp::udp_expect_none},
  };
  bool found = false;
  for (const OpName& o : kOps)
    if (op == o.n) {
      h.op = o.op;
      found = true;
    }
  if (!found) return fail_tok(i - 1, "unknown host action");
  const bool udp = is_udp_op(h.op);
  // ADDR:PORT, [ADDR6]:PORT, or (addr_optional) PORT alone; port_wild
  // allows `*` for the port.
  auto host_endpoint = [&](std::size_t k, HostEndpoint& ep, bool addr_optional, bool port_wild,
                           bool* wild) -> bool {
    if (k >= toks_.size()) return fail("missing address");
    const std::string& s = toks_[k].text;
    std::string a;
    std::string p;
    if (!s.empty() && s[0] == '[') {
      std::size_t close = s.find(']');
      if (close == std::string::npos || close + 2 > s.size() || s[close + 1] != ':')
        return fail_tok(k, "expected [ADDRESS]:PORT");
      a = s.substr(1, close - 1);
      p = s.substr(close + 2);
      ep.v6 = true;
    } else {
      std::size_t colon = s.rfind(':');
      if (colon == std::string::npos) {
        if (!addr_optional) return fail_tok(k, "expected ADDRESS:PORT");
        p = s;
      } else {
        a = s.substr(0, colon);
        p = s.substr(colon + 1);
      }
    }
    if (port_wild && p == "*") {
      *wild = true;
    } else {
      auto port = parse_u64(p);
      if (!port || *port == 0 || *port > 65535) return fail_tok(k, "bad port");
      ep.port = static_cast<u16>(*port);
    }
    if (a.empty()) {
      if (!addr_optional) return fail_tok(k, "expected ADDRESS:PORT");
      ep.any = true;
      return true;
    }
    ep.any = false;
    if (ep.v6) {
      auto v = parse_ipv6(a);
      if (!v) return fail_tok(k, "bad IPv6 address");
      ep.ip6 = *v;
    } else {
      auto v = parse_ipv4(a);
      if (!v) return fail_tok(k, "bad IPv4 address (IPv6: [ADDRESS]:PORT)");
      ep.ip4 = *v;
    }
    return true;
  };
  // N, "text" or 0xHEX (more than 8 hex digits; shorter ones are counts).
  auto payload = [&]() -> bool {
    if (i >= toks_.size()) return fail("missing byte count or data");
    const Token& t = toks_[i];
    const bool hex_bytes = t.text.size() > 10 && t.text[0] == '0' && t.text[1] == 'x' &&
                           (h.op == HostOp::send || udp);
    if (t.quoted || hex_bytes) {
      Value v;
      std::string why;
      if (!literal(t, VType::bytes, N, 0, v, why)) return fail_tok(i, why);
      h.use_data = true;
      h.data = std::move(v.bytes);
      h.count = h.data.size();
      if (h.count == 0 && !udp) return fail_tok(i, "no bytes");
    } else {
      auto n = parse_u64(t.text);
      if (!n || *n == 0 || *n > kMaxBytes) return fail_tok(i, "byte count 1..65535, or \"text\"");
      if (udp && *n > kMaxUdpPayload) return fail_tok(i, "a UDP datagram holds at most 65507 bytes");
      h.count = *n;
    }
    if (udp && h.count > kMaxUdpPayload) return fail_tok(i, "a UDP datagram holds at most 65507 bytes");
    i++;
    return true;
  };
  switch (h.op) {
    case HostOp::listen:
    case HostOp::udp_bind:
      if (!host_endpoint(i, h.at, true, false, nullptr)) return false;
      i++;
      break;
    case HostOp::connect:
      if (!host_endpoint(i, h.at, false, false, nullptr)) return false;
      i++;
      break;
    case HostOp::udp_send:
      if (!host_endpoint(i, h.at, false, false, nullptr)) return false;
      i++;
      if (!payload()) return false;
      break;
    case HostOp::send:
    case HostOp::recv:
    case HostOp::udp_recv:
    case HostOp::udp_reply:
      if (!payload()) return false;
      break;
    default:
      break;
  }
  // Trailing keywords.
  const bool makes = h.op == HostOp::listen || h.op == HostOp::accept || h.op == HostOp::connect ||
                     h.op == HostOp::udp_bind;
  while (i < toks_.size()) {
    const std::string& k = toks_[i].text;
    if (i + 1 >= toks_.size()) return fail_tok(i, "missing value");
    const std::string& v = toks_[i + 1].text;
    if (k == "as" && makes) {
      if (!valid_name(v)) return fail_tok(i + 1, "bad name");
      h.as = v;
    } else if (k == "on" && h.op != HostOp::listen && h.op != HostOp::connect && h.op != HostOp::udp_bind) {
      if (!valid_name(v)) return fail_tok(i + 1, "bad name");
      h.on = v;
    } else if (k == "from" && h.op == HostOp::connect) {
      auto n = parse_u64(v);
      if (!n || *n == 0 || *n > 65535) return fail_tok(i + 1, "bad port");
      h.from_port = static_cast<u16>(*n);
    } else if (k == "from" && h.op == HostOp::udp_recv && !h.from_given) {
      if (!host_endpoint(i + 1, h.from, false, true, &h.from_any_port)) return false;
      h.from_given = true;
    } else if (k == "backlog" && h.op == HostOp::listen) {
      auto n = parse_u64(v);
      if (!n || *n == 0 || *n > 4096) return fail_tok(i + 1, "backlog 1..4096");
      h.backlog = static_cast<u32>(*n);
    } else {
      return fail_tok(i, "unexpected word in host action");
    }
    i += 2;
  }
  // Names and their static existence.
  HostObj target = udp ? HostObj::udp : HostObj::conn;
  if (h.op == HostOp::accept) target = HostObj::listener;
  if (h.op == HostOp::close && !h.on.empty()) {
    for (const auto& [n, k] : host_objs_)
      if (n == h.on) target = k;  // close takes any kind
  }
  if (!makes || h.op == HostOp::accept) {
    if (h.on.empty()) h.on = target == HostObj::listener ? "l" : target == HostObj::udp ? "u" : "c";
    if (!host_obj(h.on, target)) return false;
  }
  if (makes) {
    const HostObj kind = h.op == HostOp::listen ? HostObj::listener
                         : h.op == HostOp::udp_bind ? HostObj::udp
                                                    : HostObj::conn;
    if (h.as.empty()) h.as = kind == HostObj::listener ? "l" : kind == HostObj::udp ? "u" : "c";
    bool known = false;
    for (auto& [n, k] : host_objs_)
      if (n == h.as) {
        known = true;
        k = kind;
      }
    if (!known) {
      if (host_objs_.size() >= 64) return fail("too many host objects");
      host_objs_.emplace_back(h.as, kind);
    }
  }
  return true;
}

bool Parser::header() {
  const std::string& k = toks_[0].text;
  auto rest_text = [&]() {
    std::string s;
    for (std::size_t j = 1; j < toks_.size(); j++) {
      if (j > 1) s += ' ';
      s += toks_[j].text;
    }
    return s;
  };
  auto args_into = [&](std::vector<std::string>& v) {
    for (std::size_t j = 1; j < toks_.size(); j++) {
      if (v.size() >= kMaxArgs) return fail("too many arguments");
      v.push_back(toks_[j].text);
    }
    return true;
  };
  if (k == "mode") {
    if (toks_.size() != 2) return fail("mode is 'mode passt|pasta|both'");
    const std::string& m = toks_[1].text;
    if (m == "passt") script_.modes = kModePasst;
    else if (m == "pasta") script_.modes = kModePasta;
    else if (m == "both") script_.modes = kModePasst | kModePasta;
    else return fail_tok(1, "mode is passt, pasta or both");
    return true;
  }
  if (k == "sim-only") {
    script_.sim_only = true;
    script_.sim_only_reason = rest_text();
    if (script_.sim_only_reason.empty()) return fail("sim-only needs a reason");
    return true;
  }
  if (k == "slow") {
    script_.slow = true;
    script_.slow_reason = rest_text();
    if (script_.slow_reason.empty()) return fail("slow needs a reason");
    return true;
  }
  if (k == "pending") {
    script_.pending = true;
    script_.pending_reason = rest_text();
    if (script_.pending_reason.empty()) return fail("pending needs a reason");
    return true;
  }
  if (k == "requires") {
    if (toks_.size() < 2) return fail("requires names features: tcp, udp, icmp");
    for (std::size_t j = 1; j < toks_.size(); j++) {
      const std::string& f = toks_[j].text;
      if (f != "tcp" && f != "udp" && f != "icmp") return fail_tok(j, "unknown feature (tcp, udp, icmp)");
      script_.requires_.push_back(f);
    }
    return true;
  }
  if (k == "window-updates") {
    if (toks_.size() != 2 || (toks_[1].text != "keep" && toks_[1].text != "ignore"))
      return fail("window-updates is 'window-updates keep|ignore'");
    script_.keep_window_updates = toks_[1].text == "keep";
    return true;
  }
  if (k == "args") return args_into(script_.args);
  if (k == "args-passt") return args_into(script_.args_passt);
  if (k == "args-pasta") return args_into(script_.args_pasta);
  if (k == "tolerance") {
    if (toks_.size() != 2) return fail("tolerance is 'tolerance SECONDS'");
    auto ns = parse_seconds(toks_[1].text);
    if (!ns || *ns > 10LL * 1000000000) return fail_tok(1, "tolerance in seconds, at most 10");
    script_.tolerance_ns = *ns;
    return true;
  }
  if (k == "guest-mac") {
    if (toks_.size() != 2) return fail("guest-mac is 'guest-mac MAC'");
    auto m = parse_mac(toks_[1].text);
    if (!m || m->is_multicast() || m->is_zero()) return fail_tok(1, "expected a unicast MAC address");
    script_.guest_mac = *m;
    return true;
  }
  if (k == "set") {
    if (toks_.size() != 3 || toks_[1].text.size() < 2 || toks_[1].text[0] != '$')
      return fail("set is 'set $name VALUE'");
    std::string name = toks_[1].text.substr(1);
    if (!valid_name(name)) return fail_tok(1, "bad variable name");
    if (var_index(name) >= 0) return fail_tok(1, "variable already defined");
    if (script_.vars.size() >= kMaxVars) return fail("too many variables");
    const Token& t = toks_[2];
    VarDef v;
    v.name = name;
    v.preset = true;
    std::string why;
    // Type by form: string, IPv4, IPv6, MAC, number (up to 64 bits), hex bytes.
    VType order[] = {VType::ip4, VType::mac, VType::ip6, VType::num, VType::bytes};
    bool ok = false;
    if (t.quoted) {
      ok = literal(t, VType::text, N, 0, v.value, why);
    } else {
      for (VType ty : order)
        if (literal(t, ty, N, 64, v.value, why)) {
          ok = true;
          break;
        }
    }
    if (!ok) return fail_tok(2, "cannot tell the value's type");
    v.type = v.value.type;
    script_.vars.push_back(std::move(v));
    return true;
  }
  return fail_tok(0, "unknown header directive (mode, sim-only, slow, pending, requires, window-updates, "
                     "args, args-passt, args-pasta, tolerance, guest-mac, set)");
}

bool Parser::line_step() {
  Step st;
  st.line = line_;
  if (!parse_time(toks_[0].text, &st.t_ns)) return false;
  if (toks_.size() < 2) return fail("missing action after the time");
  if (script_.steps.size() >= kMaxSteps) return fail("too many steps");
  std::size_t i = 1;
  const Token& a = toks_[1];
  i = 2;
  if (a.text == "<" && !a.quoted) {
    st.kind = StepKind::inject;
    if (!parse_frame(st, i, Dir::inject)) return false;
  } else if (a.text == ">" && !a.quoted) {
    st.kind = StepKind::expect;
    if (!parse_frame(st, i, Dir::expect)) return false;
  } else if (a.text == "wait" && !a.quoted) {
    st.kind = StepKind::wait;
    if (toks_.size() > 2) return fail_tok(2, "'wait' takes nothing");
  } else if (a.text == "host" && !a.quoted) {
    st.kind = StepKind::host;
    if (!parse_host(st, i)) return false;
  } else {
    return fail_tok(1, "expected '<', '>', 'wait' or 'host'");
  }
  if (i < toks_.size()) return fail_tok(i, "unexpected text");
  last_t_ = st.t_ns;
  script_.steps.push_back(std::move(st));
  return true;
}

ParseResult Parser::run(std::string_view text) {
  ParseResult r;
  for (const PredefinedVar& p : predefined_vars()) {
    VarDef v;
    v.name = p.name;
    v.type = p.type;
    v.predefined = true;
    script_.vars.push_back(std::move(v));
  }
  if (text.size() > kMaxScriptBytes) {
    r.error = {0, "script larger than 1 MiB"};
    return r;
  }
  std::size_t pos = 0;
  std::string lexerr;
  while (pos < text.size() && !failed_) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    line_++;
    if (line.size() > kMaxLineLen) {
      fail("line longer than 4096 bytes");
      break;
    }
    for (char c : line)
      if (c == '\0') {
        fail("NUL byte in the script");
        break;
      }
    if (failed_) break;
    if (!tokenize(line, toks_, lexerr)) {
      fail(lexerr);
      break;
    }
    if (toks_.empty()) continue;
    const std::string& first = toks_[0].text;
    bool is_step = !toks_[0].quoted && !first.empty() &&
                   (first[0] == '+' || (first[0] >= '0' && first[0] <= '9'));
    if (is_step) {
      in_steps_ = true;
      line_step();
    } else {
      if (in_steps_) {
        fail_tok(0, "header directives come before the first step");
        break;
      }
      header();
    }
  }
  script_.lines = line_;
  if (failed_) {
    r.error = err_;
    return r;
  }
  r.ok = true;
  r.script = std::move(script_);
  return r;
}

}  // namespace

const char* vtype_name(VType t) noexcept {
  switch (t) {
    case VType::num: return "a number";
    case VType::ip4: return "an IPv4 address";
    case VType::ip6: return "an IPv6 address";
    case VType::mac: return "a MAC address";
    case VType::bytes: return "bytes";
    case VType::text: return "text";
    case VType::prefix4: return "an IPv4 prefix";
    case VType::prefix6: return "an IPv6 prefix";
    case VType::route4: return "a route";
    case VType::list: return "a list";
  }
  return "?";
}

const char* proto_name(Proto p) noexcept {
  switch (p) {
    case Proto::raw: return "raw";
    case Proto::ether: return "ether";
    case Proto::arp: return "arp";
    case Proto::tcp: return "tcp";
    case Proto::udp: return "udp";
    case Proto::icmp: return "icmp";
    case Proto::icmp6: return "icmp6";
    case Proto::dhcp: return "dhcp";
    case Proto::dhcp6: return "dhcp6";
  }
  return "?";
}

const char* host_op_name(HostOp op) noexcept {
  switch (op) {
    case HostOp::listen: return "listen";
    case HostOp::accept: return "accept";
    case HostOp::connect: return "connect";
    case HostOp::send: return "send";
    case HostOp::recv: return "recv";
    case HostOp::shutdown: return "shutdown";
    case HostOp::close: return "close";
    case HostOp::reset: return "reset";
    case HostOp::expect_eof: return "expect-eof";
    case HostOp::expect_reset: return "expect-reset";
    case HostOp::expect_refused: return "expect-refused";
    case HostOp::expect_connected: return "expect-connected";
    case HostOp::udp_bind: return "udp-bind";
    case HostOp::udp_send: return "udp-send";
    case HostOp::udp_recv: return "udp-recv";
    case HostOp::udp_reply: return "udp-reply";
    case HostOp::udp_expect_none: return "udp-expect-none";
  }
  return "?";
}

bool value_eq(const Value& a, const Value& b) noexcept {
  if (a.type != b.type) return false;
  switch (a.type) {
    case VType::num: return a.num == b.num;
    case VType::ip4: return a.ip4 == b.ip4;
    case VType::ip6: return a.ip6 == b.ip6;
    case VType::mac: return a.mac == b.mac;
    case VType::bytes:
    case VType::text: return a.bytes == b.bytes;
    case VType::prefix4: return a.num == b.num && a.ip4 == b.ip4;
    case VType::prefix6: return a.num == b.num && a.ip6 == b.ip6;
    case VType::route4: return a.num == b.num && a.ip4 == b.ip4 && a.ip4b == b.ip4b;
    case VType::list:
      if (a.items.size() != b.items.size()) return false;
      for (std::size_t i = 0; i < a.items.size(); i++)
        if (!value_eq(a.items[i], b.items[i])) return false;
      return true;
  }
  return false;
}

std::string value_text(const Value& v) {
  char buf[64];
  switch (v.type) {
    case VType::num:
      if (v.num >= 10 && v.num != 0xffffffffu) {
        std::snprintf(buf, sizeof(buf), "%llu (0x%llx)", static_cast<unsigned long long>(v.num),
                      static_cast<unsigned long long>(v.num));
      } else if (v.num == 0xffffffffu) {
        std::snprintf(buf, sizeof(buf), "inf");
      } else {
        std::snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(v.num));
      }
      return buf;
    case VType::ip4: return to_text(v.ip4).c_str();
    case VType::ip6: return to_text(v.ip6).c_str();
    case VType::mac: return to_text(v.mac).c_str();
    case VType::bytes: {
      std::string s = "0x";
      for (std::size_t i = 0; i < v.bytes.size() && i < 256; i++) {
        std::snprintf(buf, sizeof(buf), "%02x", v.bytes[i]);
        s += buf;
      }
      if (v.bytes.size() > 256) s += "...";
      return s;
    }
    case VType::text: {
      std::string s = "\"";
      for (std::size_t i = 0; i < v.bytes.size() && i < 256; i++) {
        u8 c = v.bytes[i];
        if (c == '"' || c == '\\') {
          s += '\\';
          s += static_cast<char>(c);
        } else if (c >= 0x20 && c < 0x7f) {
          s += static_cast<char>(c);
        } else {
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          s += buf;
        }
      }
      if (v.bytes.size() > 256) s += "...";
      return s + "\"";
    }
    case VType::prefix4: return std::string(to_text(v.ip4).c_str()) + "/" + std::to_string(v.num);
    case VType::prefix6: return std::string(to_text(v.ip6).c_str()) + "/" + std::to_string(v.num);
    case VType::route4:
      return std::string(to_text(v.ip4).c_str()) + "/" + std::to_string(v.num) + " via " +
             to_text(v.ip4b).c_str();
    case VType::list: {
      std::string s;
      for (std::size_t i = 0; i < v.items.size(); i++) {
        if (i > 0) s += ',';
        const Value& e = v.items[i];
        if (e.type == VType::text)
          s += e.text();
        else if (e.type == VType::num)
          s += std::to_string(e.num);
        else
          s += value_text(e);
      }
      return s.empty() ? "(empty)" : s;
    }
  }
  return "?";
}

const char* field_name(FieldId id) noexcept {
  for (const FieldDef& d : kIpFields)
    if (d.id == id) return d.name;
  for (const FieldDef& d : kArpFields)
    if (d.id == id) return d.name;
  for (const FieldDef& d : kTcpFields)
    if (d.id == id) return d.name;
  for (const FieldDef& d : kIcmpFields)
    if (d.id == id) return d.name;
  for (const FieldDef& d : kNdpFields)
    if (d.id == id) return d.name;
  for (const FieldDef& d : kDhcpFields)
    if (d.id == id) return d.name;
  for (const FieldDef& d : kDhcp6Fields)
    if (d.id == id) return d.name;
  switch (id) {
    case FieldId::ndp_target: return "target";
    case FieldId::dhcp_type: return "message type";
    case FieldId::dhcp_opt: return "opt";
    case FieldId::d6_type: return "message type";
    case FieldId::d6_opt: return "option";
    case FieldId::eth_type: return "type";
    default: return "?";
  }
}

u8 field_width(FieldId id) noexcept {
  auto scan = [id](const auto& tab) -> u8 {
    for (const FieldDef& d : tab)
      if (d.id == id && d.type == VType::num) return d.width;
    return 0;
  };
  u8 w = scan(kIpFields);
  if (w == 0) w = scan(kArpFields);
  if (w == 0) w = scan(kTcpFields);
  if (w == 0) w = scan(kIcmpFields);
  if (w == 0) w = scan(kNdpFields);
  if (w == 0) w = scan(kDhcpFields);
  if (w == 0) w = scan(kDhcp6Fields);
  if (id == FieldId::eth_type) w = 16;
  return w == 0 ? 32 : w;
}

std::vector<PredefinedVar> predefined_vars() {
  return {
      {"our_mac", VType::mac, "our MAC address (-M, default 9a:55:9a:55:9a:55)"},
      {"guest_mac", VType::mac, "the guest's MAC address (header guest-mac)"},
      {"guest_ll", VType::ip6, "the guest's link-local address (EUI-64 of guest-mac)"},
      {"our_ll", VType::ip6, "our link-local address (source of NA, RA, DHCPv6)"},
      {"addr4", VType::ip4, "the guest's IPv4 address (DHCP yiaddr)"},
      {"gw4", VType::ip4, "the IPv4 gateway"},
      {"our4", VType::ip4, "our IPv4 address on the link (DHCP server id)"},
      {"addr6", VType::ip6, "the guest's IPv6 address (DHCPv6)"},
      {"gw6", VType::ip6, "the IPv6 gateway"},
      {"mtu", VType::num, "the MTU handed to the guest (0: none)"},
  };
}

ParseResult parse_script(std::string_view text) {
  Parser p;
  return p.run(text);
}

std::string format_error(std::string_view file, const ParseError& e) {
  std::string s(file);
  s += ':';
  s += std::to_string(e.line);
  s += ": ";
  s += e.msg;
  return s;
}

}  // namespace passt::sim::script
