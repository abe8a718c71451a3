#include "wire/ndp.hpp"

#include <array>
#include <cstring>

#include "util/endian.hpp"

namespace passt::wire {

namespace {

constexpr u8 kRaManaged = 0x80;
constexpr u8 kRaOther = 0x40;
constexpr u8 kNaRouter = 0x80;
constexpr u8 kNaSolicited = 0x40;
constexpr u8 kNaOverride = 0x20;
constexpr u8 kPrefixOnLink = 0x80;
constexpr u8 kPrefixAuto = 0x40;
constexpr std::size_t kPrefixOptLen = 32;
constexpr std::size_t kDnsOptHeader = 8;  // type, length, reserved(2), lifetime(4)
constexpr std::size_t kMaxOptBytes = 255 * kNdpOptUnit;

bool is_ndp_type(u8 t) noexcept {
  return t >= icmpv6_type::router_solicitation && t <= icmpv6_type::neighbor_advertisement;
}

// ff02::1:ffXX:XXXX (RFC 4291 §2.7.1).
bool is_solicited_node(const Ipv6Addr& a) noexcept {
  constexpr std::array<u8, 13> kPrefix = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  for (std::size_t i = 0; i < kPrefix.size(); i++)
    if (a.b[i] != kPrefix[i]) return false;
  return true;
}

std::size_t round_up8(std::size_t n) noexcept { return (n + 7) & ~std::size_t{7}; }

std::size_t dnssl_len(const NdpDnssl& d) noexcept {
  return round_up8(kDnsOptHeader + dns_list_length(d.domains.span(), DnsCompression::none));
}
std::size_t rdnss_len(const NdpRdnss& r) noexcept { return kDnsOptHeader + 16 * r.servers.size(); }

// The DNSSL names area: names, then zero padding to the end.
Status parse_dnssl_names(Bytes area, DnsNameList& out) noexcept {
  out.clear();
  std::size_t pos = 0;
  while (pos < area.size()) {
    if (area[pos] == 0) {
      for (std::size_t i = pos; i < area.size(); i++)
        if (area[i] != 0) return Err::malformed;
      break;
    }
    auto d = dns_decode_name(area, pos, DnsCompression::none);
    if (!d) return d.err() == Err::msg_size ? Err::msg_size : Err::malformed;
    if (!out.push(d->name)) return Err::full;
    pos = d->next;
  }
  if (out.empty()) return Err::malformed;  // RFC 8106 §5.2: one or more names
  return {};
}

Status add_option(NdpOptions& o, const NdpOptionView& opt) noexcept {
  const Bytes d = opt.data;
  switch (opt.type) {
    case ndp_opt::source_ll:
    case ndp_opt::target_ll: {
      if (opt.len_units != 1) return Err::malformed;
      auto& slot = opt.type == ndp_opt::source_ll ? o.source_ll : o.target_ll;
      if (!slot) slot = MacAddr::load(d.data());
      return {};
    }
    case ndp_opt::prefix_info: {
      if (opt.len_units != kPrefixOptLen / kNdpOptUnit) return Err::malformed;
      NdpPrefixInfo p;
      p.prefix_len = d[0];
      p.on_link = (d[1] & kPrefixOnLink) != 0;
      p.autonomous = (d[1] & kPrefixAuto) != 0;
      p.valid_lifetime = load_be32(d.data() + 2);
      p.preferred_lifetime = load_be32(d.data() + 6);
      p.prefix = Ipv6Addr::load(d.data() + 14);
      if (!o.prefixes.push(p)) return Err::full;
      return {};
    }
    case ndp_opt::mtu:
      if (opt.len_units != 1) return Err::malformed;
      if (!o.mtu) o.mtu = load_be32(d.data() + 2);
      return {};
    case ndp_opt::rdnss: {
      if (opt.len_units < 3 || opt.len_units % 2 == 0) return Err::malformed;
      NdpRdnss r;
      r.lifetime = load_be32(d.data() + 2);
      for (std::size_t off = 6; off + 16 <= d.size(); off += 16)
        if (!r.servers.push(Ipv6Addr::load(d.data() + off))) return Err::full;
      if (!o.rdnss.push(r)) return Err::full;
      return {};
    }
    case ndp_opt::dnssl: {
      if (opt.len_units < 2) return Err::malformed;
      NdpDnssl s;
      s.lifetime = load_be32(d.data() + 2);
      if (auto st = parse_dnssl_names(d.subspan(6), s.domains); !st) return st;
      if (!o.dnssl.push(s)) return Err::full;
      return {};
    }
    default: {
      NdpRawOption r;
      r.type = opt.type;
      if (!r.data.assign(d)) return Err::full;
      if (!o.unknown.push(r)) return Err::full;
      return {};
    }
  }
}

// Writes the options at `p` (room already checked); returns bytes written.
std::size_t emit_options(const NdpOptions& o, u8* p) noexcept {
  u8* const start = p;
  auto ll = [&p](u8 type, const MacAddr& m) {
    p[0] = type;
    p[1] = 1;
    m.store(p + 2);
    p += 8;
  };
  if (o.source_ll) ll(ndp_opt::source_ll, *o.source_ll);
  if (o.target_ll) ll(ndp_opt::target_ll, *o.target_ll);
  for (const auto& pi : o.prefixes) {
    std::memset(p, 0, kPrefixOptLen);
    p[0] = ndp_opt::prefix_info;
    p[1] = kPrefixOptLen / kNdpOptUnit;
    p[2] = pi.prefix_len;
    p[3] = static_cast<u8>((pi.on_link ? kPrefixOnLink : 0) | (pi.autonomous ? kPrefixAuto : 0));
    store_be32(p + 4, pi.valid_lifetime);
    store_be32(p + 8, pi.preferred_lifetime);
    pi.prefix.store(p + 16);
    p += kPrefixOptLen;
  }
  if (o.mtu) {
    p[0] = ndp_opt::mtu;
    p[1] = 1;
    p[2] = 0;
    p[3] = 0;
    store_be32(p + 4, *o.mtu);
    p += 8;
  }
  for (const auto& r : o.rdnss) {
    const std::size_t len = rdnss_len(r);
    p[0] = ndp_opt::rdnss;
    p[1] = static_cast<u8>(len / kNdpOptUnit);
    p[2] = 0;
    p[3] = 0;
    store_be32(p + 4, r.lifetime);
    for (std::size_t i = 0; i < r.servers.size(); i++) r.servers[i].store(p + 8 + 16 * i);
    p += len;
  }
  for (const auto& s : o.dnssl) {
    const std::size_t len = dnssl_len(s);
    std::memset(p, 0, len);
    p[0] = ndp_opt::dnssl;
    p[1] = static_cast<u8>(len / kNdpOptUnit);
    store_be32(p + 4, s.lifetime);
    auto n = dns_encode_list(s.domains.span(), DnsCompression::none,
                             MutBytes(p + kDnsOptHeader, len - kDnsOptHeader));
    PASST_CHECK(n.ok());
    p += len;
  }
  for (const auto& u : o.unknown) {
    p[0] = u.type;
    p[1] = static_cast<u8>((u.data.size() + 2) / kNdpOptUnit);
    for (std::size_t i = 0; i < u.data.size(); i++) p[2 + i] = u.data[i];
    p += u.data.size() + 2;
  }
  return static_cast<std::size_t>(p - start);
}

}  // namespace

bool NdpOptionIter::next(NdpOptionView& out) noexcept {
  if (rest_.size() < 2) return false;
  const std::size_t len = static_cast<std::size_t>(rest_[1]) * kNdpOptUnit;
  // Validated by NdpView::parse; re-checked so a misuse cannot overrun.
  if (len == 0 || len > rest_.size()) return false;
  out.type = rest_[0];
  out.len_units = rest_[1];
  out.data = rest_.subspan(2, len - 2);
  rest_ = rest_.subspan(len);
  return true;
}

std::size_t NdpView::fixed_len(u8 type) noexcept {
  switch (type) {
    case icmpv6_type::router_solicitation: return kNdpRsLen;
    case icmpv6_type::router_advertisement: return kNdpRaLen;
    case icmpv6_type::neighbor_solicitation: return kNdpNsLen;
    case icmpv6_type::neighbor_advertisement: return kNdpNaLen;
    default: return 0;
  }
}

Result<NdpView> NdpView::parse(Bytes msg) noexcept {
  if (msg.size() < kIcmpv6HeaderLen) return Err::truncated;
  if (!is_ndp_type(msg[0])) return Err::not_supported;
  if (msg[1] != 0) return Err::malformed;
  const std::size_t fixed = fixed_len(msg[0]);
  if (msg.size() < fixed) return Err::truncated;
  Bytes opts = msg.subspan(fixed);
  while (!opts.empty()) {
    if (opts.size() < 2) return Err::malformed;
    const std::size_t len = static_cast<std::size_t>(opts[1]) * kNdpOptUnit;
    if (len == 0 || len > opts.size()) return Err::malformed;
    opts = opts.subspan(len);
  }
  return NdpView(msg);
}

u16 NdpView::checksum() const noexcept { return load_be16(b_.data() + 2); }

u8 NdpView::cur_hop_limit() const noexcept {
  PASST_CHECK(type() == icmpv6_type::router_advertisement);
  return b_[4];
}
bool NdpView::managed() const noexcept {
  PASST_CHECK(type() == icmpv6_type::router_advertisement);
  return (b_[5] & kRaManaged) != 0;
}
bool NdpView::other_config() const noexcept {
  PASST_CHECK(type() == icmpv6_type::router_advertisement);
  return (b_[5] & kRaOther) != 0;
}
u16 NdpView::router_lifetime() const noexcept {
  PASST_CHECK(type() == icmpv6_type::router_advertisement);
  return load_be16(b_.data() + 6);
}
u32 NdpView::reachable_time() const noexcept {
  PASST_CHECK(type() == icmpv6_type::router_advertisement);
  return load_be32(b_.data() + 8);
}
u32 NdpView::retrans_timer() const noexcept {
  PASST_CHECK(type() == icmpv6_type::router_advertisement);
  return load_be32(b_.data() + 12);
}
Ipv6Addr NdpView::target() const noexcept {
  PASST_CHECK(type() == icmpv6_type::neighbor_solicitation ||
              type() == icmpv6_type::neighbor_advertisement);
  return Ipv6Addr::load(b_.data() + 8);
}
bool NdpView::router() const noexcept {
  PASST_CHECK(type() == icmpv6_type::neighbor_advertisement);
  return (b_[4] & kNaRouter) != 0;
}
bool NdpView::solicited() const noexcept {
  PASST_CHECK(type() == icmpv6_type::neighbor_advertisement);
  return (b_[4] & kNaSolicited) != 0;
}
bool NdpView::override_flag() const noexcept {
  PASST_CHECK(type() == icmpv6_type::neighbor_advertisement);
  return (b_[4] & kNaOverride) != 0;
}

std::optional<MacAddr> NdpView::ll_option(u8 which) const noexcept {
  NdpOptionIter it = option_iter();
  NdpOptionView o;
  while (it.next(o))
    if (o.type == which) {
      if (o.len_units != 1) return std::nullopt;
      return MacAddr::load(o.data.data());
    }
  return std::nullopt;
}

Status ndp_validate_ip(const NdpView& v, const Ipv6Addr& src, const Ipv6Addr& dst,
                       u8 hop_limit) noexcept {
  if (hop_limit != 255) return Err::malformed;
  if (!icmpv6_checksum_ok(src, dst, v.bytes())) return Err::malformed;
  bool has_slla = false;
  {
    NdpOptionIter it = v.option_iter();
    NdpOptionView o;
    while (it.next(o)) has_slla = has_slla || o.type == ndp_opt::source_ll;
  }
  switch (v.type()) {
    case icmpv6_type::router_solicitation:
      if (src.is_unspecified() && has_slla) return Err::malformed;
      break;
    case icmpv6_type::router_advertisement:
      if (!src.is_link_local()) return Err::malformed;
      break;
    case icmpv6_type::neighbor_solicitation:
      if (v.target().is_multicast()) return Err::malformed;
      if (src.is_unspecified() && (!is_solicited_node(dst) || has_slla)) return Err::malformed;
      break;
    case icmpv6_type::neighbor_advertisement:
      if (v.target().is_multicast()) return Err::malformed;
      if (dst.is_multicast() && v.solicited()) return Err::malformed;
      break;
    default:
      return Err::malformed;
  }
  return {};
}

std::size_t NdpOptions::length() const noexcept {
  std::size_t n = 0;
  if (source_ll) n += 8;
  if (target_ll) n += 8;
  n += kPrefixOptLen * prefixes.size();
  if (mtu) n += 8;
  for (const auto& r : rdnss) n += rdnss_len(r);
  for (const auto& s : dnssl) n += dnssl_len(s);
  for (const auto& u : unknown) n += u.data.size() + 2;
  return n;
}

Result<NdpRepr> NdpRepr::from(const NdpView& v) noexcept {
  NdpRepr r;
  r.type = v.type();
  switch (r.type) {
    case icmpv6_type::router_advertisement:
      r.cur_hop_limit = v.cur_hop_limit();
      r.managed = v.managed();
      r.other_config = v.other_config();
      r.router_lifetime = v.router_lifetime();
      r.reachable_time = v.reachable_time();
      r.retrans_timer = v.retrans_timer();
      break;
    case icmpv6_type::neighbor_advertisement:
      r.router = v.router();
      r.solicited = v.solicited();
      r.override_flag = v.override_flag();
      r.target = v.target();
      break;
    case icmpv6_type::neighbor_solicitation:
      r.target = v.target();
      break;
    default:
      break;
  }
  NdpOptionIter it = v.option_iter();
  NdpOptionView o;
  while (it.next(o))
    if (auto st = add_option(r.options, o); !st) return st.err();
  return r;
}

std::size_t NdpRepr::length() const noexcept { return NdpView::fixed_len(type) + options.length(); }

Status NdpRepr::check() const noexcept {
  if (!is_ndp_type(type)) return Err::invalid;
  for (const auto& r : options.rdnss)
    if (r.servers.empty()) return Err::invalid;
  for (const auto& s : options.dnssl) {
    if (s.domains.empty() || dnssl_len(s) > kMaxOptBytes) return Err::invalid;
    for (const auto& d : s.domains)
      if (d.is_root()) return Err::invalid;
  }
  for (const auto& u : options.unknown)
    if ((u.data.size() + 2) % kNdpOptUnit != 0) return Err::invalid;
  return {};
}

Status NdpRepr::emit(MutBytes out, const Ipv6Addr& src, const Ipv6Addr& dst) const noexcept {
  if (auto st = check(); !st) return st;
  const std::size_t len = length();
  if (out.size() < len) return Err::truncated;
  u8* p = out.data();
  const std::size_t fixed = NdpView::fixed_len(type);
  std::memset(p, 0, fixed);
  p[0] = type;
  switch (type) {
    case icmpv6_type::router_advertisement:
      p[4] = cur_hop_limit;
      p[5] = static_cast<u8>((managed ? kRaManaged : 0) | (other_config ? kRaOther : 0));
      store_be16(p + 6, router_lifetime);
      store_be32(p + 8, reachable_time);
      store_be32(p + 12, retrans_timer);
      break;
    case icmpv6_type::neighbor_advertisement:
      p[4] = static_cast<u8>((router ? kNaRouter : 0) | (solicited ? kNaSolicited : 0) |
                             (override_flag ? kNaOverride : 0));
      target.store(p + 8);
      break;
    case icmpv6_type::neighbor_solicitation:
      target.store(p + 8);
      break;
    default:
      break;
  }
  const std::size_t n = emit_options(options, p + fixed);
  PASST_CHECK(fixed + n == len);
  return icmpv6_fill_checksum(src, dst, out.first(len));
}

bool operator==(const NdpRepr& a, const NdpRepr& b) noexcept {
  if (a.type != b.type || !(a.options == b.options)) return false;
  switch (a.type) {
    case icmpv6_type::router_advertisement:
      return a.cur_hop_limit == b.cur_hop_limit && a.managed == b.managed &&
             a.other_config == b.other_config && a.router_lifetime == b.router_lifetime &&
             a.reachable_time == b.reachable_time && a.retrans_timer == b.retrans_timer;
    case icmpv6_type::neighbor_advertisement:
      return a.router == b.router && a.solicited == b.solicited &&
             a.override_flag == b.override_flag && a.target == b.target;
    case icmpv6_type::neighbor_solicitation:
      return a.target == b.target;
    default:
      return true;
  }
}

}  // namespace passt::wire
