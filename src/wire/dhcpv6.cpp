#include "wire/dhcpv6.hpp"

#include <cstring>

#include "util/endian.hpp"

namespace passt::wire {

namespace {

constexpr std::size_t kOptHeader = 4;
constexpr std::size_t kIaNaFixed = 12;
constexpr std::size_t kIaTaFixed = 4;
constexpr std::size_t kIaAddrFixed = 24;

bool is_relay(u8 type) noexcept {
  return type == dhcpv6_msg::relay_forw || type == dhcpv6_msg::relay_repl;
}

bool is_typed(u16 code) noexcept {
  switch (code) {
    case dhcpv6_opt::client_id:
    case dhcpv6_opt::server_id:
    case dhcpv6_opt::ia_na:
    case dhcpv6_opt::ia_ta:
    case dhcpv6_opt::oro:
    case dhcpv6_opt::elapsed_time:
    case dhcpv6_opt::status_code:
    case dhcpv6_opt::rapid_commit:
    case dhcpv6_opt::dns_servers:
    case dhcpv6_opt::domain_list:
    case dhcpv6_opt::client_fqdn:
      return true;
    default:
      return false;
  }
}

// A flat walk: every option header and value inside `area`.
bool walk_ok(Bytes area) noexcept {
  std::size_t pos = 0;
  while (pos < area.size()) {
    if (area.size() - pos < kOptHeader) return false;
    const std::size_t len = load_be16(area.data() + pos + 2);
    if (area.size() - pos - kOptHeader < len) return false;
    pos += kOptHeader + len;
  }
  return true;
}

// Walk `area`; at `level` 0 (top level) IA_NA/IA_TA values are
// checked too, at level 1 IAADDR values.  Level 2 is flat.
bool validate(Bytes area, int level) noexcept {  // NOLINT(misc-no-recursion): depth <= 2 (level)
  if (!walk_ok(area)) return false;
  if (level >= 2) return true;
  Dhcpv6OptionIter it(area);
  Dhcpv6OptionView o;
  while (it.next(o)) {
    std::size_t fixed = 0;
    if (level == 0 && o.code == dhcpv6_opt::ia_na) fixed = kIaNaFixed;
    else if (level == 0 && o.code == dhcpv6_opt::ia_ta) fixed = kIaTaFixed;
    else if (level == 1 && o.code == dhcpv6_opt::iaaddr) fixed = kIaAddrFixed;
    else continue;
    if (o.data.size() < fixed || !validate(o.data.subspan(fixed), level + 1)) return false;
  }
  return true;
}

// --- decoding ------------------------------------------------------------------

Status take_status(Bytes v, std::optional<Dhcpv6Status>& out) noexcept {
  if (v.size() < 2) return Err::malformed;
  if (out) return {};  // first wins
  Dhcpv6Status s;
  s.code = load_be16(v.data());
  if (!s.message.assign(v.subspan(2))) return Err::full;
  out = s;
  return {};
}

Status take_iaaddr(Bytes v, Dhcpv6Ia& ia) noexcept {
  // Length >= 24 was validated by the view.
  Dhcpv6IaAddr a;
  a.addr = Ipv6Addr::load(v.data());
  a.preferred = load_be32(v.data() + 16);
  a.valid = load_be32(v.data() + 20);
  Dhcpv6OptionIter it(v.subspan(kIaAddrFixed));
  Dhcpv6OptionView o;
  while (it.next(o))
    if (o.code == dhcpv6_opt::status_code)
      if (auto st = take_status(o.data, a.status); !st) return st;
  if (!ia.addrs.push(a)) return Err::full;
  return {};
}

template <std::size_t N>
Status take_ia(Bytes v, bool na, FixedList<Dhcpv6Ia, N>& out) noexcept {
  Dhcpv6Ia ia;
  ia.iaid = load_be32(v.data());
  if (na) {
    ia.t1 = load_be32(v.data() + 4);
    ia.t2 = load_be32(v.data() + 8);
  }
  Dhcpv6OptionIter it(v.subspan(na ? kIaNaFixed : kIaTaFixed));
  Dhcpv6OptionView o;
  while (it.next(o)) {
    Status st;
    if (o.code == dhcpv6_opt::iaaddr) st = take_iaaddr(o.data, ia);
    else if (o.code == dhcpv6_opt::status_code) st = take_status(o.data, ia.status);
    if (!st) return st;
  }
  if (!out.push(ia)) return Err::full;
  return {};
}

Status take_duid(Bytes v, std::optional<Dhcpv6Duid>& out) noexcept {
  if (v.size() < kDhcpv6MinDuid || v.size() > kDhcpv6MaxDuid) return Err::malformed;
  if (out) return {};
  Dhcpv6Duid d;
  PASST_CHECK(d.assign(v));
  out = d;
  return {};
}

Status add_option(Dhcpv6Repr& r, const Dhcpv6OptionView& o) noexcept {
  const Bytes v = o.data;
  switch (o.code) {
    case dhcpv6_opt::client_id: return take_duid(v, r.client_id);
    case dhcpv6_opt::server_id: return take_duid(v, r.server_id);
    case dhcpv6_opt::ia_na: return take_ia(v, true, r.ia_na);
    case dhcpv6_opt::ia_ta: return take_ia(v, false, r.ia_ta);
    case dhcpv6_opt::oro: {
      if (v.size() % 2 != 0) return Err::malformed;
      if (r.oro) return {};
      FixedList<u16, kDhcpv6MaxOro> l;
      for (std::size_t off = 0; off < v.size(); off += 2)
        if (!l.push(load_be16(v.data() + off))) return Err::full;
      r.oro = l;
      return {};
    }
    case dhcpv6_opt::elapsed_time:
      if (v.size() != 2) return Err::malformed;
      if (!r.elapsed_time) r.elapsed_time = load_be16(v.data());
      return {};
    case dhcpv6_opt::status_code: return take_status(v, r.status);
    case dhcpv6_opt::rapid_commit:
      if (!v.empty()) return Err::malformed;
      r.rapid_commit = true;
      return {};
    case dhcpv6_opt::dns_servers: {
      if (v.size() % 16 != 0) return Err::malformed;
      if (!r.dns_servers.empty()) return {};
      for (std::size_t off = 0; off < v.size(); off += 16)
        if (!r.dns_servers.push(Ipv6Addr::load(v.data() + off))) return Err::full;
      return {};
    }
    case dhcpv6_opt::domain_list: {
      if (!r.domain_list.empty()) return {};
      Status st = dns_decode_list(v, DnsCompression::none, r.domain_list);
      if (!st && st.err() == Err::truncated) return Err::malformed;
      return st;
    }
    case dhcpv6_opt::client_fqdn: {
      if (v.empty() || v.size() - 1 > kDnsMaxName) return Err::malformed;
      if (r.fqdn) return {};
      Dhcpv6Fqdn f;
      f.flags = v[0];
      PASST_CHECK(f.name.assign(v.subspan(1)));
      r.fqdn = f;
      return {};
    }
    default: {
      Dhcpv6RawOption raw;
      raw.code = o.code;
      if (!raw.data.assign(v)) return Err::full;
      if (!r.other.push(raw)) return Err::full;
      return {};
    }
  }
}

// --- sizes -----------------------------------------------------------------------

std::size_t status_len(const std::optional<Dhcpv6Status>& s) noexcept {
  return s ? kOptHeader + 2 + s->message.size() : 0;
}

std::size_t ia_len(const Dhcpv6Ia& ia, bool na) noexcept {
  std::size_t n = kOptHeader + (na ? kIaNaFixed : kIaTaFixed) + status_len(ia.status);
  for (const auto& a : ia.addrs) n += kOptHeader + kIaAddrFixed + status_len(a.status);
  return n;
}

// --- encoding --------------------------------------------------------------------

class Writer {
 public:
  explicit Writer(u8* p) noexcept : p_(p) {}
  std::size_t pos() const noexcept { return pos_; }
  // Starts an option; finish() fills in its length.
  std::size_t open(u16 code) noexcept {
    const std::size_t at = pos_;
    store_be16(p_ + pos_, code);
    pos_ += kOptHeader;
    return at;
  }
  void close(std::size_t at) noexcept {
    store_be16(p_ + at + 2, static_cast<u16>(pos_ - at - kOptHeader));
  }
  void u8v(u8 v) noexcept { p_[pos_++] = v; }
  void u16v(u16 v) noexcept {
    store_be16(p_ + pos_, v);
    pos_ += 2;
  }
  void u32v(u32 v) noexcept {
    store_be32(p_ + pos_, v);
    pos_ += 4;
  }
  void bytes(Bytes b) noexcept {
    if (!b.empty()) std::memcpy(p_ + pos_, b.data(), b.size());
    pos_ += b.size();
  }
  void addr(const Ipv6Addr& a) noexcept { bytes(Bytes(a.b)); }
  u8* here() noexcept { return p_ + pos_; }
  void skip(std::size_t n) noexcept { pos_ += n; }

 private:
  u8* p_;
  std::size_t pos_ = 0;
};

void put_status(Writer& w, const std::optional<Dhcpv6Status>& s) noexcept {
  if (!s) return;
  const std::size_t at = w.open(dhcpv6_opt::status_code);
  w.u16v(s->code);
  w.bytes(s->message.span());
  w.close(at);
}

void put_ia(Writer& w, const Dhcpv6Ia& ia, bool na) noexcept {
  const std::size_t at = w.open(na ? dhcpv6_opt::ia_na : dhcpv6_opt::ia_ta);
  w.u32v(ia.iaid);
  if (na) {
    w.u32v(ia.t1);
    w.u32v(ia.t2);
  }
  for (const auto& a : ia.addrs) {
    const std::size_t aat = w.open(dhcpv6_opt::iaaddr);
    w.addr(a.addr);
    w.u32v(a.preferred);
    w.u32v(a.valid);
    put_status(w, a.status);
    w.close(aat);
  }
  put_status(w, ia.status);
  w.close(at);
}

}  // namespace

// --- view ----------------------------------------------------------------------

bool Dhcpv6OptionIter::next(Dhcpv6OptionView& out) noexcept {
  if (rest_.size() < kOptHeader) return false;
  const std::size_t len = load_be16(rest_.data() + 2);
  if (rest_.size() - kOptHeader < len) {
    rest_ = {};
    return false;
  }
  out.code = load_be16(rest_.data());
  out.data = rest_.subspan(kOptHeader, len);
  rest_ = rest_.subspan(kOptHeader + len);
  return true;
}

Result<Dhcpv6View> Dhcpv6View::parse(Bytes msg) noexcept {
  if (msg.size() < kDhcpv6HeaderLen) return Err::truncated;
  if (is_relay(msg[0])) return Err::not_supported;
  if (!validate(msg.subspan(kDhcpv6HeaderLen), 0)) return Err::malformed;
  return Dhcpv6View(msg);
}

u32 Dhcpv6View::xid() const noexcept { return load_be32(b_.data()) & 0xffffffu; }

std::optional<Bytes> Dhcpv6View::find(u16 code) const noexcept {
  Dhcpv6OptionIter it = option_iter();
  Dhcpv6OptionView o;
  while (it.next(o))
    if (o.code == code) return o.data;
  return std::nullopt;
}

// --- repr ----------------------------------------------------------------------

Dhcpv6Duid dhcpv6_duid_llt(const MacAddr& mac, u32 time) noexcept {
  std::array<u8, 14> b{};
  store_be16(b.data(), 1);      // DUID-LLT
  store_be16(b.data() + 2, 1);  // hardware type: Ethernet
  store_be32(b.data() + 4, time);
  mac.store(b.data() + 8);
  Dhcpv6Duid d;
  PASST_CHECK(d.assign(Bytes(b)));
  return d;
}

Dhcpv6Status Dhcpv6Status::make(u16 code, std::string_view text) noexcept {
  Dhcpv6Status s;
  s.code = code;
  const std::size_t n = text.size() < kDhcpv6MaxStatusMsg ? text.size() : kDhcpv6MaxStatusMsg;
  for (std::size_t i = 0; i < n; i++) PASST_CHECK(s.message.push(static_cast<u8>(text[i])));
  return s;
}

Result<Dhcpv6Repr> Dhcpv6Repr::from(const Dhcpv6View& v) noexcept {
  Dhcpv6Repr r;
  r.msg_type = v.msg_type();
  r.xid = v.xid();
  Dhcpv6OptionIter it = v.option_iter();
  Dhcpv6OptionView o;
  while (it.next(o))
    if (auto st = add_option(r, o); !st) return st.err();
  return r;
}

Status Dhcpv6Repr::check() const noexcept {
  if (xid > 0xffffffu || is_relay(msg_type)) return Err::invalid;
  for (const auto* d : {&client_id, &server_id})
    if (*d && ((*d)->size() < kDhcpv6MinDuid)) return Err::invalid;
  for (const auto& o : other)
    if (is_typed(o.code)) return Err::invalid;
  return {};
}

std::size_t Dhcpv6Repr::length() const noexcept {
  std::size_t n = kDhcpv6HeaderLen;
  if (client_id) n += kOptHeader + client_id->size();
  if (server_id) n += kOptHeader + server_id->size();
  for (const auto& ia : ia_na) n += ia_len(ia, true);
  for (const auto& ia : ia_ta) n += ia_len(ia, false);
  if (oro) n += kOptHeader + 2 * oro->size();
  if (elapsed_time) n += kOptHeader + 2;
  n += status_len(status);
  if (rapid_commit) n += kOptHeader;
  if (!dns_servers.empty()) n += kOptHeader + 16 * dns_servers.size();
  if (!domain_list.empty())
    n += kOptHeader + dns_list_length(domain_list.span(), DnsCompression::none);
  if (fqdn) n += kOptHeader + 1 + fqdn->name.size();
  for (const auto& o : other) n += kOptHeader + o.data.size();
  return n;
}

Status Dhcpv6Repr::emit(MutBytes out) const noexcept {
  if (auto st = check(); !st) return st;
  const std::size_t len = length();
  if (out.size() < len) return Err::truncated;
  Writer w(out.data());
  w.u32v((static_cast<u32>(msg_type) << 24) | xid);
  auto blob = [&w](u16 code, Bytes b) {
    const std::size_t at = w.open(code);
    w.bytes(b);
    w.close(at);
  };
  if (client_id) blob(dhcpv6_opt::client_id, client_id->span());
  if (server_id) blob(dhcpv6_opt::server_id, server_id->span());
  for (const auto& ia : ia_na) put_ia(w, ia, true);
  for (const auto& ia : ia_ta) put_ia(w, ia, false);
  if (oro) {
    const std::size_t at = w.open(dhcpv6_opt::oro);
    for (u16 c : *oro) w.u16v(c);
    w.close(at);
  }
  if (elapsed_time) {
    const std::size_t at = w.open(dhcpv6_opt::elapsed_time);
    w.u16v(*elapsed_time);
    w.close(at);
  }
  put_status(w, status);
  if (rapid_commit) w.close(w.open(dhcpv6_opt::rapid_commit));
  if (!dns_servers.empty()) {
    const std::size_t at = w.open(dhcpv6_opt::dns_servers);
    for (const auto& a : dns_servers) w.addr(a);
    w.close(at);
  }
  if (!domain_list.empty()) {
    const std::size_t at = w.open(dhcpv6_opt::domain_list);
    const std::size_t n = dns_list_length(domain_list.span(), DnsCompression::none);
    auto wrote = dns_encode_list(domain_list.span(), DnsCompression::none, MutBytes(w.here(), n));
    PASST_CHECK(wrote.ok());
    w.skip(n);
    w.close(at);
  }
  if (fqdn) {
    const std::size_t at = w.open(dhcpv6_opt::client_fqdn);
    w.u8v(fqdn->flags);
    w.bytes(fqdn->name.span());
    w.close(at);
  }
  for (const auto& o : other) blob(o.code, o.data.span());
  PASST_CHECK(w.pos() == len);
  return {};
}

}  // namespace passt::wire
