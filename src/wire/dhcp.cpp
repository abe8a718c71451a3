#include "wire/dhcp.hpp"

#include <cstring>

#include "util/endian.hpp"

namespace passt::wire {

namespace {

using Scratch = std::array<u8, kDhcpMaxOptionValue>;

constexpr std::array<u8, 16> kTypedCodes = {
    dhcp_opt::subnet_mask,   dhcp_opt::router,       dhcp_opt::dns_server,
    dhcp_opt::hostname,      dhcp_opt::domain_name,  dhcp_opt::interface_mtu,
    dhcp_opt::requested_ip,  dhcp_opt::lease_time,   dhcp_opt::message_type,
    dhcp_opt::server_id,     dhcp_opt::parameter_request_list,
    dhcp_opt::max_message_size, dhcp_opt::client_id, dhcp_opt::rapid_commit,
    dhcp_opt::domain_search, dhcp_opt::classless_route};

bool is_typed(u8 code) noexcept {
  switch (code) {
    case dhcp_opt::subnet_mask:
    case dhcp_opt::router:
    case dhcp_opt::dns_server:
    case dhcp_opt::hostname:
    case dhcp_opt::domain_name:
    case dhcp_opt::interface_mtu:
    case dhcp_opt::requested_ip:
    case dhcp_opt::lease_time:
    case dhcp_opt::message_type:
    case dhcp_opt::server_id:
    case dhcp_opt::parameter_request_list:
    case dhcp_opt::max_message_size:
    case dhcp_opt::client_id:
    case dhcp_opt::rapid_commit:
    case dhcp_opt::domain_search:
    case dhcp_opt::classless_route:
      return true;
    default:
      return false;
  }
}

std::size_t significant_octets(u8 prefix_len) noexcept {
  return (static_cast<std::size_t>(prefix_len) + 7) / 8;
}

// Bytes one option takes on the wire once split into <= 255-byte instances.
std::size_t wire_size(std::size_t value_len) noexcept {
  const std::size_t instances = value_len == 0 ? 1 : (value_len + 254) / 255;
  return value_len + 2 * instances;
}

// --- value encoders ----------------------------------------------------------

std::size_t put_addrs(std::span<const Ipv4Addr> a, u8* out) noexcept {
  if (out != nullptr)
    for (std::size_t i = 0; i < a.size(); i++) a[i].store(out + 4 * i);
  return 4 * a.size();
}

std::size_t put_blob(const DhcpBlob& b, u8* out) noexcept {
  if (out != nullptr)
    for (std::size_t i = 0; i < b.size(); i++) out[i] = b[i];
  return b.size();
}

std::size_t put_routes(std::span<const DhcpRoute> routes, u8* out) noexcept {
  std::size_t n = 0;
  for (const auto& rt : routes) {
    const std::size_t sig = significant_octets(rt.prefix_len);
    if (out != nullptr) {
      out[n] = rt.prefix_len;
      for (std::size_t i = 0; i < sig; i++) out[n + 1 + i] = rt.dest.b[i];
      rt.router.store(out + n + 1 + sig);
    }
    n += 1 + sig + 4;
  }
  return n;
}

// The value of option `code` in `r`, written to `out` unless it is null
// (then only measured).  nullopt if `r` does not carry that option.
std::optional<std::size_t> option_value(const DhcpRepr& r, u8 code, u8* out) noexcept {
  auto u8v = [out](u8 v) -> std::size_t {
    if (out != nullptr) out[0] = v;
    return 1;
  };
  auto u16v = [out](u16 v) -> std::size_t {
    if (out != nullptr) store_be16(out, v);
    return 2;
  };
  auto u32v = [out](u32 v) -> std::size_t {
    if (out != nullptr) store_be32(out, v);
    return 4;
  };
  auto addr = [out](Ipv4Addr a) -> std::size_t {
    if (out != nullptr) a.store(out);
    return 4;
  };
  switch (code) {
    case dhcp_opt::message_type:
      if (r.message_type) return u8v(*r.message_type);
      return std::nullopt;
    case dhcp_opt::subnet_mask:
      if (r.subnet_mask) return addr(*r.subnet_mask);
      return std::nullopt;
    case dhcp_opt::router:
      if (!r.routers.empty()) return put_addrs(r.routers.span(), out);
      return std::nullopt;
    case dhcp_opt::dns_server:
      if (!r.dns_servers.empty()) return put_addrs(r.dns_servers.span(), out);
      return std::nullopt;
    case dhcp_opt::hostname:
      if (r.hostname) return put_blob(*r.hostname, out);
      return std::nullopt;
    case dhcp_opt::domain_name:
      if (r.domain_name) return put_blob(*r.domain_name, out);
      return std::nullopt;
    case dhcp_opt::interface_mtu:
      if (r.mtu) return u16v(*r.mtu);
      return std::nullopt;
    case dhcp_opt::requested_ip:
      if (r.requested_ip) return addr(*r.requested_ip);
      return std::nullopt;
    case dhcp_opt::lease_time:
      if (r.lease_time) return u32v(*r.lease_time);
      return std::nullopt;
    case dhcp_opt::server_id:
      if (r.server_id) return addr(*r.server_id);
      return std::nullopt;
    case dhcp_opt::parameter_request_list:
      if (r.parameter_request_list) return put_blob(*r.parameter_request_list, out);
      return std::nullopt;
    case dhcp_opt::max_message_size:
      if (r.max_message_size) return u16v(*r.max_message_size);
      return std::nullopt;
    case dhcp_opt::client_id:
      if (r.client_id) return put_blob(*r.client_id, out);
      return std::nullopt;
    case dhcp_opt::rapid_commit:
      if (r.rapid_commit) return std::size_t{0};
      return std::nullopt;
    case dhcp_opt::domain_search: {
      if (r.domain_search.empty()) return std::nullopt;
      const auto span = r.domain_search.span();
      if (out == nullptr) return dns_list_length(span, DnsCompression::rfc1035);
      auto n = dns_encode_list(span, DnsCompression::rfc1035, MutBytes(out, kDhcpMaxOptionValue));
      PASST_CHECK(n.ok());
      return *n;
    }
    case dhcp_opt::classless_route:
      if (!r.classless_routes.empty()) return put_routes(r.classless_routes.span(), out);
      return std::nullopt;
    default:
      if (const DhcpRawOption* o = r.other.find(code)) return put_blob(o->data, out);
      return std::nullopt;
  }
}

// --- value decoders ----------------------------------------------------------

Status take_addrs(Bytes v, FixedList<Ipv4Addr, kDhcpMaxAddrs>& out) noexcept {
  if (v.size() % 4 != 0) return Err::malformed;
  for (std::size_t off = 0; off < v.size(); off += 4)
    if (!out.push(Ipv4Addr::load(v.data() + off))) return Err::full;
  return {};
}

Status take_blob(Bytes v, std::optional<DhcpBlob>& out) noexcept {
  DhcpBlob b;
  if (!b.assign(v)) return Err::full;
  out = b;
  return {};
}

Status take_routes(Bytes v, FixedList<DhcpRoute, kDhcpMaxRoutes>& out) noexcept {
  std::size_t pos = 0;
  while (pos < v.size()) {
    DhcpRoute rt;
    rt.prefix_len = v[pos];
    if (rt.prefix_len > 32) return Err::malformed;
    const std::size_t sig = significant_octets(rt.prefix_len);
    if (pos + 1 + sig + 4 > v.size()) return Err::malformed;
    for (std::size_t i = 0; i < sig; i++) rt.dest.b[i] = v[pos + 1 + i];
    rt.router = Ipv4Addr::load(v.data() + pos + 1 + sig);
    if (!out.push(rt)) return Err::full;
    pos += 1 + sig + 4;
  }
  return {};
}

template <class T, class Load>
Status take_fixed(Bytes v, std::size_t len, std::optional<T>& out, Load load) noexcept {
  if (v.size() != len) return Err::malformed;
  out = load(v.data());
  return {};
}

Status set_option(DhcpRepr& r, u8 code, Bytes v) noexcept {
  auto addr = [](const u8* p) { return Ipv4Addr::load(p); };
  auto be16 = [](const u8* p) { return load_be16(p); };
  switch (code) {
    case dhcp_opt::message_type:
      return take_fixed(v, 1, r.message_type, [](const u8* p) { return *p; });
    case dhcp_opt::subnet_mask: return take_fixed(v, 4, r.subnet_mask, addr);
    case dhcp_opt::router: return take_addrs(v, r.routers);
    case dhcp_opt::dns_server: return take_addrs(v, r.dns_servers);
    case dhcp_opt::hostname: return take_blob(v, r.hostname);
    case dhcp_opt::domain_name: return take_blob(v, r.domain_name);
    case dhcp_opt::interface_mtu: return take_fixed(v, 2, r.mtu, be16);
    case dhcp_opt::requested_ip: return take_fixed(v, 4, r.requested_ip, addr);
    case dhcp_opt::lease_time:
      return take_fixed(v, 4, r.lease_time, [](const u8* p) { return load_be32(p); });
    case dhcp_opt::server_id: return take_fixed(v, 4, r.server_id, addr);
    case dhcp_opt::parameter_request_list: return take_blob(v, r.parameter_request_list);
    case dhcp_opt::max_message_size: return take_fixed(v, 2, r.max_message_size, be16);
    case dhcp_opt::client_id: return take_blob(v, r.client_id);
    case dhcp_opt::rapid_commit:
      if (!v.empty()) return Err::malformed;
      r.rapid_commit = true;
      return {};
    case dhcp_opt::domain_search: {
      Status st = dns_decode_list(v, DnsCompression::rfc1035, r.domain_search);
      if (!st && st.err() == Err::truncated) return Err::malformed;
      return st;
    }
    case dhcp_opt::classless_route: return take_routes(v, r.classless_routes);
    default: {
      DhcpRawOption o;
      o.code = code;
      if (!o.data.assign(v)) return Err::full;
      if (!r.other.push(o)) return Err::full;
      return {};
    }
  }
}

}  // namespace

// --- view ----------------------------------------------------------------------

bool DhcpOptionIter::next(DhcpOptionView& out) noexcept {
  while (!rest_.empty()) {
    const u8 code = rest_[0];
    if (code == dhcp_opt::pad) {
      rest_ = rest_.subspan(1);
      continue;
    }
    // End and overruns cannot occur in a validated area; stop if they do.
    if (code == dhcp_opt::end || rest_.size() < 2 || 2u + rest_[1] > rest_.size()) {
      rest_ = {};
      return false;
    }
    out.code = code;
    out.data = rest_.subspan(2, rest_[1]);
    rest_ = rest_.subspan(2u + rest_[1]);
    return true;
  }
  return false;
}

Result<DhcpView> DhcpView::parse(Bytes msg) noexcept {
  if (msg.size() < kDhcpOptionsOffset) return Err::truncated;
  if (load_be32(msg.data() + kDhcpFixedLen) != kDhcpMagicCookie) return Err::malformed;
  std::size_t pos = kDhcpOptionsOffset;
  while (pos < msg.size()) {
    const u8 code = msg[pos];
    if (code == dhcp_opt::end) break;
    if (code == dhcp_opt::pad) {
      pos++;
      continue;
    }
    if (pos + 2 > msg.size() || pos + 2 + msg[pos + 1] > msg.size()) return Err::malformed;
    pos += 2u + msg[pos + 1];
  }
  return DhcpView(msg, pos - kDhcpOptionsOffset);
}

u32 DhcpView::xid() const noexcept { return load_be32(b_.data() + 4); }
u16 DhcpView::secs() const noexcept { return load_be16(b_.data() + 8); }
u16 DhcpView::flags() const noexcept { return load_be16(b_.data() + 10); }

std::optional<Bytes> DhcpView::find(u8 code) const noexcept {
  DhcpOptionIter it = option_iter();
  DhcpOptionView o;
  while (it.next(o))
    if (o.code == code) return o.data;
  return std::nullopt;
}

std::optional<u8> DhcpView::message_type() const noexcept {
  auto v = find(dhcp_opt::message_type);
  if (!v || v->size() != 1) return std::nullopt;
  return (*v)[0];
}

// --- repr ----------------------------------------------------------------------

const DhcpRawOption* DhcpRawOptions::find(u8 code) const noexcept {
  for (const auto& o : *this)
    if (o.code == code) return &o;
  return nullptr;
}

bool operator==(const DhcpRawOptions& a, const DhcpRawOptions& b) noexcept {
  if (a.size() != b.size()) return false;
  for (const auto& o : a) {
    const DhcpRawOption* p = b.find(o.code);
    if (p == nullptr || !(p->data == o.data)) return false;
  }
  return true;
}

void DhcpRepr::set_client_mac(const MacAddr& m) noexcept {
  chaddr.fill(0);
  m.store(chaddr.data());
}

Result<DhcpRepr> DhcpRepr::from(const DhcpView& v) noexcept {
  DhcpRepr r;
  r.op = v.op();
  r.htype = v.htype();
  r.hlen = v.hlen();
  r.hops = v.hops();
  r.xid = v.xid();
  r.secs = v.secs();
  r.flags = v.flags();
  r.ciaddr = v.ciaddr();
  r.yiaddr = v.yiaddr();
  r.siaddr = v.siaddr();
  r.giaddr = v.giaddr();
  std::memcpy(r.chaddr.data(), v.chaddr().data(), r.chaddr.size());
  std::memcpy(r.sname.data(), v.sname().data(), r.sname.size());
  std::memcpy(r.file.data(), v.file().data(), r.file.size());

  // RFC 3396: the value of a code is the concatenation of all its
  // instances, in order.  Each code is gathered once, when first seen.
  std::array<bool, 256> seen{};
  Scratch buf;
  DhcpOptionIter it = v.option_iter();
  for (;;) {
    DhcpOptionIter here = it;
    DhcpOptionView o;
    if (!it.next(o)) break;
    if (seen[o.code]) continue;
    seen[o.code] = true;
    std::size_t n = 0;
    DhcpOptionView x;
    while (here.next(x)) {
      if (x.code != o.code) continue;
      if (n + x.data.size() > buf.size()) return Err::full;
      std::memcpy(buf.data() + n, x.data.data(), x.data.size());
      n += x.data.size();
    }
    if (auto st = set_option(r, o.code, Bytes(buf.data(), n)); !st) return st.err();
  }
  return r;
}

Status DhcpRepr::check() const noexcept {
  std::array<bool, 256> raw_seen{};
  for (const auto& o : other) {
    if (o.code == dhcp_opt::pad || o.code == dhcp_opt::end || is_typed(o.code) ||
        raw_seen[o.code])
      return Err::invalid;
    raw_seen[o.code] = true;
  }
  for (const auto& rt : classless_routes) {
    if (rt.prefix_len > 32) return Err::invalid;
    for (std::size_t i = significant_octets(rt.prefix_len); i < 4; i++)
      if (rt.dest.b[i] != 0) return Err::invalid;
  }
  // Domain search is the only value that can outgrow the scratch buffer
  // (it cannot with kDhcpMaxListNames names, but say so).
  if (dns_list_length(domain_search.span(), DnsCompression::rfc1035) > kDhcpMaxOptionValue)
    return Err::invalid;
  return {};
}

std::size_t DhcpRepr::length() const noexcept {
  std::size_t n = kDhcpOptionsOffset + 1;  // fixed part, cookie, end
  for (u8 c : kTypedCodes)
    if (auto len = option_value(*this, c, nullptr)) n += wire_size(*len);
  for (const auto& o : other) n += wire_size(o.data.size());
  return n < kDhcpMinLen ? kDhcpMinLen : n;
}

Status DhcpRepr::emit(MutBytes out, Bytes priority) const noexcept {
  if (auto st = check(); !st) return st;
  const std::size_t len = length();
  if (out.size() < len) return Err::truncated;
  u8* p = out.data();
  std::memset(p, 0, len);
  p[0] = op;
  p[1] = htype;
  p[2] = hlen;
  p[3] = hops;
  store_be32(p + 4, xid);
  store_be16(p + 8, secs);
  store_be16(p + 10, flags);
  ciaddr.store(p + 12);
  yiaddr.store(p + 16);
  siaddr.store(p + 20);
  giaddr.store(p + 24);
  std::memcpy(p + 28, chaddr.data(), chaddr.size());
  std::memcpy(p + 44, sname.data(), sname.size());
  std::memcpy(p + 108, file.data(), file.size());
  store_be32(p + kDhcpFixedLen, kDhcpMagicCookie);

  std::size_t pos = kDhcpOptionsOffset;
  std::array<bool, 256> done{};
  done[dhcp_opt::pad] = true;
  done[dhcp_opt::end] = true;
  Scratch value;
  auto put = [&](u8 code) {
    if (done[code]) return;
    done[code] = true;
    auto n = option_value(*this, code, value.data());
    if (!n) return;
    // RFC 3396 split; a zero-length value is one empty instance.
    std::size_t off = 0;
    do {
      const std::size_t chunk = *n - off < 255 ? *n - off : 255;
      p[pos] = code;
      p[pos + 1] = static_cast<u8>(chunk);
      std::memcpy(p + pos + 2, value.data() + off, chunk);
      pos += 2 + chunk;
      off += chunk;
    } while (off < *n);
  };
  bool type_requested = false;
  for (u8 c : priority) type_requested = type_requested || c == dhcp_opt::message_type;
  if (!type_requested) put(dhcp_opt::message_type);
  for (u8 c : priority) put(c);
  // The rest by ascending code: mark what is present, then walk the codes.
  std::array<bool, 256> present{};
  for (u8 c : kTypedCodes) present[c] = true;  // put() skips absent ones
  for (const auto& o : other) present[o.code] = true;
  for (unsigned c = 1; c < 255; c++)
    if (present[c]) put(static_cast<u8>(c));
  p[pos++] = dhcp_opt::end;
  PASST_CHECK(pos <= len);  // the rest is padding, already zero
  return {};
}

}  // namespace passt::wire
