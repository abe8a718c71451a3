#include "sim/script/frames.hpp"

#include <cstdio>
#include <cstring>

#include "util/endian.hpp"
#include "wire/arp.hpp"
#include "wire/checksum.hpp"
#include "wire/dhcp.hpp"
#include "wire/dhcpv6.hpp"
#include "wire/ethernet.hpp"
#include "wire/frame.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ndp.hpp"

namespace passt::sim::script {

namespace {

using namespace passt::wire;

constexpr u8 kIcmpv6RouterSolicit = 133;
constexpr u8 kIcmpv6NeighborAdvert = 136;

bool is_ndp(u16 msg) noexcept { return msg >= kIcmpv6RouterSolicit && msg <= kIcmpv6NeighborAdvert; }

u64 wrap(u64 v, u8 width) noexcept { return width >= 64 ? v : v & ((u64{1} << width) - 1); }

// --- Evaluation -----------------------------------------------------------------

bool eval(const Expr& e, const Bindings& vars, u8 width, Value& out, std::string& err) {
  switch (e.kind) {
    case Expr::Kind::lit:
      out = e.lit;
      return true;
    case Expr::Kind::any:
      err = "wildcard in an injected frame";
      return false;
    case Expr::Kind::var:
      if (e.var >= vars.size() || !vars[e.var]) {
        err = "variable is not bound";
        return false;
      }
      out = *vars[e.var];
      if (e.offset != 0) {
        if (out.type != VType::num) {
          err = "offset on a non-number";
          return false;
        }
        out.num = wrap(out.num + static_cast<u64>(e.offset), width);
      } else if (out.type == VType::num && width < 64 && out.num > wrap(~u64{0}, width)) {
        err = "variable value does not fit the field";
        return false;
      }
      return true;
  }
  return false;
}

const Field* find(const FrameSpec& f, FieldId id, int group = -1) noexcept {
  for (const Field& x : f.fields)
    if (x.id == id && !x.absent && (group < 0 || x.group == group)) return &x;
  return nullptr;
}
bool has_absent(const FrameSpec& f, FieldId id) noexcept {
  for (const Field& x : f.fields)
    if (x.id == id && x.absent) return true;
  return false;
}

struct Builder {
  const FrameSpec& f;
  const FrameEnv& env;
  const Bindings& vars;
  std::string& err;

  bool val(const Field* fl, Value& out) {
    if (fl == nullptr) return false;
    if (!eval(fl->e, vars, field_width(fl->id), out, err)) {
      err = std::string(field_name(fl->id)) + ": " + err;
      return false;
    }
    return true;
  }
  // A numeric field, or `dflt` if not given.  False only on error.
  bool num(FieldId id, u64 dflt, u64* out, int group = -1) {
    const Field* fl = find(f, id, group);
    if (fl == nullptr) {
      *out = dflt;
      return true;
    }
    Value v;
    if (!val(fl, v)) return false;
    if (v.type != VType::num) {
      err = std::string(field_name(id)) + ": not a number";
      return false;
    }
    *out = v.num;
    return true;
  }
  template <class T>
  bool typed(FieldId id, VType t, T* out, int group = -1) {
    const Field* fl = find(f, id, group);
    if (fl == nullptr) return true;
    Value v;
    if (!val(fl, v)) return false;
    if (v.type != t) {
      err = std::string(field_name(id)) + ": wrong kind of value";
      return false;
    }
    if constexpr (std::is_same_v<T, Ipv4Addr>) *out = v.ip4;
    else if constexpr (std::is_same_v<T, Ipv6Addr>) *out = v.ip6;
    else if constexpr (std::is_same_v<T, MacAddr>) *out = v.mac;
    else *out = v;
    return true;
  }
};

void fill_pattern(u8* p, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; i++) p[i] = static_cast<u8>('a' + i % 26);
}

MacAddr derived_mac(const InAny& dst, const MacAddr& unicast) noexcept {
  if (dst.is_v4()) {
    Ipv4Addr a = dst.v4();
    if (a.is_broadcast()) return MacAddr::broadcast();
    if (a.is_multicast()) return {{0x01, 0x00, 0x5e, static_cast<u8>(a.b[1] & 0x7f), a.b[2], a.b[3]}};
    return unicast;
  }
  const Ipv6Addr& a = dst.v6();
  if (a.is_multicast()) return {{0x33, 0x33, a.b[12], a.b[13], a.b[14], a.b[15]}};
  return unicast;
}

bool fits_payload(Builder& b, std::vector<u8>& out) {
  const FrameSpec& f = b.f;
  out.clear();
  if (f.payload == PayloadKind::data) {
    out = f.data;
  } else if (f.payload == PayloadKind::len) {
    Value v;
    if (!eval(f.payload_len, b.vars, 16, v, b.err)) return false;
    if (v.num > kMaxBytes) {
      b.err = "payload too long";
      return false;
    }
    out.resize(v.num);
    fill_pattern(out.data(), out.size());
  }
  return true;
}

bool dns_list(const Value& v, DnsNameList& out, std::string& err) {
  for (const Value& e : v.items) {
    auto n = DnsName::from_text(e.text());
    if (!n) {
      err = "bad domain name '" + std::string(e.text()) + "'";
      return false;
    }
    if (!out.push(*n)) {
      err = "too many domain names";
      return false;
    }
  }
  return true;
}

// --- L4 builders -------------------------------------------------------------------

bool build_tcp(Builder& b, u16 sport, u16 dport, std::vector<u8>& l4) {
  u64 flags = 0;
  u64 seq = 0;
  u64 ack = 0;
  u64 win = 0;
  u64 urg = 0;
  if (!b.num(FieldId::tcp_flags, 0, &flags) || !b.num(FieldId::tcp_seq, 0, &seq) ||
      !b.num(FieldId::tcp_ack, 0, &ack) || !b.num(FieldId::tcp_win, 65535, &win) ||
      !b.num(FieldId::tcp_urg, 0, &urg))
    return false;
  std::vector<u8> opts;
  for (const TcpOptSpec& o : b.f.opts) {
    Value a;
    Value c;
    switch (o.kind) {
      case TcpOptSpec::Kind::mss:
        if (!eval(o.a, b.vars, 16, a, b.err)) return false;
        opts.insert(opts.end(), {2, 4, static_cast<u8>(a.num >> 8), static_cast<u8>(a.num)});
        break;
      case TcpOptSpec::Kind::wscale:
        if (!eval(o.a, b.vars, 8, a, b.err)) return false;
        opts.insert(opts.end(), {3, 3, static_cast<u8>(a.num)});
        break;
      case TcpOptSpec::Kind::sack_ok:
        opts.insert(opts.end(), {4, 2});
        break;
      case TcpOptSpec::Kind::nop:
        opts.push_back(1);
        break;
      case TcpOptSpec::Kind::eol:
        opts.push_back(0);
        break;
      case TcpOptSpec::Kind::ts: {
        if (!eval(o.a, b.vars, 32, a, b.err) || !eval(o.b, b.vars, 32, c, b.err)) return false;
        u8 ts[10] = {8, 10};
        store_be32(ts + 2, static_cast<u32>(a.num));
        store_be32(ts + 6, static_cast<u32>(c.num));
        opts.insert(opts.end(), ts, ts + 10);
        break;
      }
    }
  }
  while (opts.size() % 4 != 0) opts.push_back(0);
  if (opts.size() > kTcpMaxOptionsLen) {
    b.err = "TCP options longer than 40 bytes";
    return false;
  }
  std::vector<u8> pay;
  if (!fits_payload(b, pay)) return false;
  const std::size_t hl = kTcpHeaderLen + opts.size();
  l4.assign(hl + pay.size(), 0);
  u8* p = l4.data();
  store_be16(p, sport);
  store_be16(p + 2, dport);
  store_be32(p + 4, static_cast<u32>(seq));
  store_be32(p + 8, static_cast<u32>(ack));
  p[12] = static_cast<u8>((hl / 4) << 4);
  p[13] = static_cast<u8>(flags);
  store_be16(p + 14, static_cast<u16>(win));
  store_be16(p + 18, static_cast<u16>(urg));
  if (!opts.empty()) std::memcpy(p + kTcpHeaderLen, opts.data(), opts.size());
  if (!pay.empty()) std::memcpy(p + hl, pay.data(), pay.size());
  return true;
}

bool build_udp(Builder& b, u16 sport, u16 dport, Bytes payload, std::vector<u8>& l4) {
  if (payload.size() > kUdpMaxPayload) {
    b.err = "UDP payload too long";
    return false;
  }
  l4.assign(kUdpHeaderLen + payload.size(), 0);
  store_be16(l4.data(), sport);
  store_be16(l4.data() + 2, dport);
  store_be16(l4.data() + 4, static_cast<u16>(l4.size()));
  if (!payload.empty()) std::memcpy(l4.data() + kUdpHeaderLen, payload.data(), payload.size());
  return true;
}

bool build_icmp(Builder& b, bool six, std::vector<u8>& l4) {
  const FrameSpec& f = b.f;
  u64 type = f.msg;
  u64 code = 0;
  u64 rest = 0;
  if (!f.msg_given && !b.num(FieldId::icmp_type, 0, &type)) return false;
  if (!b.num(FieldId::icmp_code, 0, &code)) return false;
  bool echo = f.msg_given && (f.msg == 8 || f.msg == 0 || f.msg == 128 || f.msg == 129);
  if (echo) {
    u64 id = 0;
    u64 seq = 0;
    if (!b.num(FieldId::icmp_id, 0, &id) || !b.num(FieldId::icmp_seq, 0, &seq)) return false;
    rest = (id << 16) | seq;
  } else if (!b.num(FieldId::icmp_rest, 0, &rest)) {
    return false;
  }
  std::vector<u8> pay;
  if (!fits_payload(b, pay)) return false;
  l4.assign(8 + pay.size(), 0);
  l4[0] = static_cast<u8>(type);
  l4[1] = static_cast<u8>(code);
  store_be32(l4.data() + 4, static_cast<u32>(rest));
  if (!pay.empty()) std::memcpy(l4.data() + 8, pay.data(), pay.size());
  (void)six;
  return true;
}

bool build_ndp(Builder& b, const Ipv6Addr& src, const Ipv6Addr& dst, std::vector<u8>& l4) {
  const FrameSpec& f = b.f;
  NdpRepr r;
  r.type = static_cast<u8>(f.msg);
  u64 v = 0;
  if (!b.typed(FieldId::ndp_target, VType::ip6, &r.target)) return false;
  if (!b.num(FieldId::ndp_flags, 0, &v)) return false;
  if (f.msg == icmpv6_type::router_advertisement) {
    r.managed = (v & 0x80) != 0;
    r.other_config = (v & 0x40) != 0;
  } else {
    r.router = (v & 0x80) != 0;
    r.solicited = (v & 0x40) != 0;
    r.override_flag = (v & 0x20) != 0;
  }
  if (!b.num(FieldId::ra_hop, 0, &v)) return false;
  r.cur_hop_limit = static_cast<u8>(v);
  if (!b.num(FieldId::ra_lifetime, 0, &v)) return false;
  r.router_lifetime = static_cast<u16>(v);
  if (!b.num(FieldId::ra_reachable, 0, &v)) return false;
  r.reachable_time = static_cast<u32>(v);
  if (!b.num(FieldId::ra_retrans, 0, &v)) return false;
  r.retrans_timer = static_cast<u32>(v);
  MacAddr m;
  if (const Field* fl = find(f, FieldId::ndp_slla)) {
    if (!b.typed(FieldId::ndp_slla, VType::mac, &m)) return false;
    r.options.source_ll = m;
    (void)fl;
  }
  if (find(f, FieldId::ndp_tlla) != nullptr) {
    if (!b.typed(FieldId::ndp_tlla, VType::mac, &m)) return false;
    r.options.target_ll = m;
  }
  if (find(f, FieldId::ndp_mtu) != nullptr) {
    if (!b.num(FieldId::ndp_mtu, 0, &v)) return false;
    r.options.mtu = static_cast<u32>(v);
  }
  for (u8 g = 0; g < f.groups; g++) {
    const Field* pf = find(f, FieldId::ndp_prefix, g);
    if (pf == nullptr) continue;
    Value pv;
    if (!b.val(pf, pv)) return false;
    NdpPrefixInfo pi;
    pi.prefix = pv.ip6;
    pi.prefix_len = static_cast<u8>(pv.num);
    u64 fl = 0;
    u64 valid = 0;
    u64 pref = 0;
    if (!b.num(FieldId::ndp_prefix_flags, 0xc0, &fl, g) || !b.num(FieldId::ndp_valid, 0xffffffffu, &valid, g) ||
        !b.num(FieldId::ndp_preferred, 0xffffffffu, &pref, g))
      return false;
    pi.on_link = (fl & 0x80) != 0;
    pi.autonomous = (fl & 0x40) != 0;
    pi.valid_lifetime = static_cast<u32>(valid);
    pi.preferred_lifetime = static_cast<u32>(pref);
    if (!r.options.prefixes.push(pi)) {
      b.err = "too many prefixes";
      return false;
    }
  }
  if (const Field* fl = find(f, FieldId::ndp_rdnss)) {
    Value lv;
    if (!b.val(fl, lv)) return false;
    NdpRdnss rd;
    if (!b.num(FieldId::ndp_rdnss_lifetime, 0xffffffffu, &v)) return false;
    rd.lifetime = static_cast<u32>(v);
    for (const Value& e : lv.items)
      if (!rd.servers.push(e.ip6)) {
        b.err = "too many RDNSS servers";
        return false;
      }
    (void)r.options.rdnss.push(rd);
  }
  if (const Field* fl = find(f, FieldId::ndp_dnssl)) {
    Value lv;
    if (!b.val(fl, lv)) return false;
    NdpDnssl d;
    if (!b.num(FieldId::ndp_dnssl_lifetime, 0xffffffffu, &v)) return false;
    d.lifetime = static_cast<u32>(v);
    if (!dns_list(lv, d.domains, b.err)) return false;
    (void)r.options.dnssl.push(d);
  }
  if (auto s = r.check(); !s) {
    b.err = std::string("NDP message cannot be built: ") + err_name(s.err());
    return false;
  }
  l4.assign(r.length(), 0);
  if (auto s = r.emit(MutBytes(l4), src, dst); !s) {
    b.err = std::string("NDP emit: ") + err_name(s.err());
    return false;
  }
  return true;
}

bool build_dhcp(Builder& b, std::vector<u8>& payload) {
  const FrameSpec& f = b.f;
  DhcpRepr r;
  u64 v = 0;
  if (!b.num(FieldId::dhcp_op, dhcp_op::request, &v)) return false;
  r.op = static_cast<u8>(v);
  if (!b.num(FieldId::dhcp_htype, 1, &v)) return false;
  r.htype = static_cast<u8>(v);
  if (!b.num(FieldId::dhcp_hlen, 6, &v)) return false;
  r.hlen = static_cast<u8>(v);
  if (!b.num(FieldId::dhcp_hops, 0, &v)) return false;
  r.hops = static_cast<u8>(v);
  if (!b.num(FieldId::dhcp_xid, 0, &v)) return false;
  r.xid = static_cast<u32>(v);
  if (!b.num(FieldId::dhcp_secs, 0, &v)) return false;
  r.secs = static_cast<u16>(v);
  if (!b.num(FieldId::dhcp_flags, 0, &v)) return false;
  r.flags = static_cast<u16>(v);
  if (find(f, FieldId::dhcp_broadcast) != nullptr) r.flags = static_cast<u16>(r.flags | kDhcpFlagBroadcast);
  if (!b.typed(FieldId::dhcp_ciaddr, VType::ip4, &r.ciaddr) ||
      !b.typed(FieldId::dhcp_yiaddr, VType::ip4, &r.yiaddr) ||
      !b.typed(FieldId::dhcp_siaddr, VType::ip4, &r.siaddr) ||
      !b.typed(FieldId::dhcp_giaddr, VType::ip4, &r.giaddr))
    return false;
  MacAddr ch = b.env.guest_mac;
  if (!b.typed(FieldId::dhcp_chaddr, VType::mac, &ch)) return false;
  r.set_client_mac(ch);
  if (f.msg != 0) r.message_type = static_cast<u8>(f.msg);
  Ipv4Addr a;
  if (find(f, FieldId::dhcp_mask) != nullptr) {
    if (!b.typed(FieldId::dhcp_mask, VType::ip4, &a)) return false;
    r.subnet_mask = a;
  }
  Value lv;
  if (b.val(find(f, FieldId::dhcp_router), lv))
    for (const Value& e : lv.items) (void)r.routers.push(e.ip4);
  if (!b.err.empty()) return false;
  if (b.val(find(f, FieldId::dhcp_dns), lv))
    for (const Value& e : lv.items) (void)r.dns_servers.push(e.ip4);
  if (!b.err.empty()) return false;
  auto blob = [&](FieldId id, std::optional<DhcpBlob>& out) {
    Value t;
    if (!b.val(find(f, id), t)) return b.err.empty();
    DhcpBlob bl;
    for (u8 c : t.bytes)
      if (!bl.push(c)) {
        b.err = std::string(field_name(id)) + ": over 255 bytes";
        return false;
      }
    out = bl;
    return true;
  };
  if (!blob(FieldId::dhcp_hostname, r.hostname) || !blob(FieldId::dhcp_domain, r.domain_name) ||
      !blob(FieldId::dhcp_client_id, r.client_id))
    return false;
  if (find(f, FieldId::dhcp_mtu) != nullptr) {
    if (!b.num(FieldId::dhcp_mtu, 0, &v)) return false;
    r.mtu = static_cast<u16>(v);
  }
  if (find(f, FieldId::dhcp_requested) != nullptr) {
    if (!b.typed(FieldId::dhcp_requested, VType::ip4, &a)) return false;
    r.requested_ip = a;
  }
  if (find(f, FieldId::dhcp_lease) != nullptr) {
    if (!b.num(FieldId::dhcp_lease, 0, &v)) return false;
    r.lease_time = static_cast<u32>(v);
  }
  if (find(f, FieldId::dhcp_server_id) != nullptr) {
    if (!b.typed(FieldId::dhcp_server_id, VType::ip4, &a)) return false;
    r.server_id = a;
  }
  if (b.val(find(f, FieldId::dhcp_prl), lv)) {
    DhcpBlob bl;
    for (const Value& e : lv.items) (void)bl.push(static_cast<u8>(e.num));
    r.parameter_request_list = bl;
  }
  if (!b.err.empty()) return false;
  if (find(f, FieldId::dhcp_max_size) != nullptr) {
    if (!b.num(FieldId::dhcp_max_size, 0, &v)) return false;
    r.max_message_size = static_cast<u16>(v);
  }
  r.rapid_commit = find(f, FieldId::dhcp_rapid_commit) != nullptr;
  if (b.val(find(f, FieldId::dhcp_search), lv) && !dns_list(lv, r.domain_search, b.err)) return false;
  if (!b.err.empty()) return false;
  for (const Field& fl : f.fields) {
    if (fl.absent) continue;
    if (fl.id == FieldId::dhcp_route) {
      DhcpRoute rt{fl.e.lit.ip4, static_cast<u8>(fl.e.lit.num), fl.e.lit.ip4b};
      if (!r.classless_routes.push(rt)) {
        b.err = "too many routes";
        return false;
      }
    } else if (fl.id == FieldId::dhcp_opt) {
      Value t;
      if (!b.val(&fl, t)) return false;
      DhcpRawOption o;
      o.code = fl.code;
      for (u8 c : t.bytes) (void)o.data.push(c);
      if (!r.other.push(o)) {
        b.err = "too many raw options";
        return false;
      }
    }
  }
  if (auto s = r.check(); !s) {
    b.err = std::string("DHCP message cannot be built (typed option given with 'opt'? bad route?): ") +
            err_name(s.err());
    return false;
  }
  payload.assign(r.length(), 0);
  if (auto s = r.emit(MutBytes(payload)); !s) {
    b.err = std::string("DHCP emit: ") + err_name(s.err());
    return false;
  }
  return true;
}

Dhcpv6Duid duid_ll(const MacAddr& m) {
  Dhcpv6Duid d;
  for (u8 c : {u8{0}, u8{3}, u8{0}, u8{1}}) (void)d.push(c);
  for (u8 c : m.b) (void)d.push(c);
  return d;
}

bool build_dhcp6(Builder& b, std::vector<u8>& payload) {
  const FrameSpec& f = b.f;
  Dhcpv6Repr r;
  r.msg_type = static_cast<u8>(f.msg);
  u64 v = 0;
  if (!b.num(FieldId::d6_xid, 0, &v)) return false;
  r.xid = static_cast<u32>(v);
  auto duid = [&](FieldId id, std::optional<Dhcpv6Duid>& out) {
    Value t;
    if (!b.val(find(f, id), t)) return b.err.empty();
    Dhcpv6Duid d;
    for (u8 c : t.bytes)
      if (!d.push(c)) {
        b.err = std::string(field_name(id)) + ": longer than 130 bytes";
        return false;
      }
    out = d;
    return true;
  };
  if (!has_absent(f, FieldId::d6_client_id)) r.client_id = duid_ll(b.env.guest_mac);
  if (!duid(FieldId::d6_client_id, r.client_id) || !duid(FieldId::d6_server_id, r.server_id)) return false;
  for (u8 g = 0; g < f.groups; g++) {
    const Field* iaf = find(f, FieldId::d6_ia_na, g);
    if (iaf == nullptr) continue;
    Dhcpv6Ia ia;
    u64 iaid = 0;
    u64 t1 = 0;
    u64 t2 = 0;
    if (!b.num(FieldId::d6_ia_na, 0, &iaid, g) || !b.num(FieldId::d6_t1, 0, &t1, g) ||
        !b.num(FieldId::d6_t2, 0, &t2, g))
      return false;
    ia.iaid = static_cast<u32>(iaid);
    ia.t1 = static_cast<u32>(t1);
    ia.t2 = static_cast<u32>(t2);
    if (find(f, FieldId::d6_addr, g) != nullptr) {
      Dhcpv6IaAddr a;
      u64 pref = 0;
      u64 valid = 0;
      if (!b.typed(FieldId::d6_addr, VType::ip6, &a.addr, g) ||
          !b.num(FieldId::d6_preferred, 0, &pref, g) || !b.num(FieldId::d6_valid, 0, &valid, g))
        return false;
      a.preferred = static_cast<u32>(pref);
      a.valid = static_cast<u32>(valid);
      (void)ia.addrs.push(a);
    }
    if (find(f, FieldId::d6_ia_status, g) != nullptr) {
      if (!b.num(FieldId::d6_ia_status, 0, &v, g)) return false;
      ia.status = Dhcpv6Status::make(static_cast<u16>(v), "");
    }
    if (!r.ia_na.push(ia)) {
      b.err = "too many IA_NA";
      return false;
    }
  }
  if (find(f, FieldId::d6_status) != nullptr) {
    if (!b.num(FieldId::d6_status, 0, &v)) return false;
    Value t;
    std::string text;
    if (b.val(find(f, FieldId::d6_status_msg), t)) text.assign(t.text());
    if (!b.err.empty()) return false;
    r.status = Dhcpv6Status::make(static_cast<u16>(v), text);
  }
  Value lv;
  if (b.val(find(f, FieldId::d6_oro), lv)) {
    FixedList<u16, kDhcpv6MaxOro> oro;
    for (const Value& e : lv.items) (void)oro.push(static_cast<u16>(e.num));
    r.oro = oro;
  }
  if (!b.err.empty()) return false;
  if (find(f, FieldId::d6_elapsed) != nullptr) {
    if (!b.num(FieldId::d6_elapsed, 0, &v)) return false;
    r.elapsed_time = static_cast<u16>(v);
  }
  r.rapid_commit = find(f, FieldId::d6_rapid_commit) != nullptr;
  if (b.val(find(f, FieldId::d6_dns), lv))
    for (const Value& e : lv.items) (void)r.dns_servers.push(e.ip6);
  if (!b.err.empty()) return false;
  if (b.val(find(f, FieldId::d6_domains), lv) && !dns_list(lv, r.domain_list, b.err)) return false;
  if (!b.err.empty()) return false;
  if (auto s = r.check(); !s) {
    b.err = std::string("DHCPv6 message cannot be built: ") + err_name(s.err());
    return false;
  }
  payload.assign(r.length(), 0);
  if (auto s = r.emit(MutBytes(payload)); !s) {
    b.err = std::string("DHCPv6 emit: ") + err_name(s.err());
    return false;
  }
  return true;
}

void put_l4_csum(std::vector<u8>& l4, std::size_t off, const InAny& src, const InAny& dst, u8 proto,
                 bool zero_is_ffff) {
  l4[off] = 0;
  l4[off + 1] = 0;
  u16 c = src.is_v4() ? l4_checksum_v4(src.v4(), dst.v4(), proto, Bytes(l4))
                      : l4_checksum_v6(src.v6(), dst.v6(), proto, Bytes(l4));
  if (c == 0 && zero_is_ffff) c = 0xffff;
  store_be16(l4.data() + off, c);
}

}  // namespace

Ipv6Addr eui64_link_local(const MacAddr& m) noexcept {
  return {{0xfe, 0x80, 0, 0, 0, 0, 0, 0, static_cast<u8>(m.b[0] ^ 0x02), m.b[1], m.b[2], 0xff, 0xfe,
           m.b[3], m.b[4], m.b[5]}};
}

bool build_frame(const FrameSpec& f, const FrameEnv& env, const Bindings& vars,
                 std::vector<u8>& out, std::string& err) {
  err.clear();
  Builder b{f, env, vars, err};
  out.clear();
  if (f.proto == Proto::raw) {
    out = f.raw;
    return true;
  }
  MacAddr src_mac = env.guest_mac;
  std::optional<MacAddr> dst_mac;
  Value v;
  if (f.eth_src) {
    if (!eval(*f.eth_src, vars, 0, v, err)) return false;
    src_mac = v.mac;
  }
  if (f.eth_dst) {
    if (!eval(*f.eth_dst, vars, 0, v, err)) return false;
    dst_mac = v.mac;
  }
  u16 ethertype = 0;
  std::vector<u8> l3;
  u64 pad = 0;
  if (!b.num(FieldId::pad, 0, &pad)) return false;

  if (f.proto == Proto::ether) {
    u64 t = 0;
    if (!b.num(FieldId::eth_type, 0, &t)) return false;
    ethertype = static_cast<u16>(t);
    if (!fits_payload(b, l3)) return false;
    if (!dst_mac) dst_mac = env.our_mac;
  } else if (f.proto == Proto::arp) {
    ArpRepr a;
    u64 oper = 0;
    if (!b.num(FieldId::arp_oper, f.msg, &oper)) return false;
    a.oper = static_cast<u16>(oper);
    a.sha = env.guest_mac;
    if (!b.typed(FieldId::arp_sha, VType::mac, &a.sha) || !b.typed(FieldId::arp_spa, VType::ip4, &a.spa) ||
        !b.typed(FieldId::arp_tha, VType::mac, &a.tha) || !b.typed(FieldId::arp_tpa, VType::ip4, &a.tpa))
      return false;
    l3.assign(ArpRepr::length(), 0);
    (void)a.emit(MutBytes(l3));
    ethertype = ethertype::arp;
    if (!dst_mac) dst_mac = a.oper == arp_op::request ? MacAddr::broadcast() : env.our_mac;
  } else {
    // IP: endpoints (or the DHCP defaults).
    InAny src;
    InAny dst;
    u64 sport = 0;
    u64 dport = 0;
    const bool six = f.v6 || f.proto == Proto::icmp6 || f.proto == Proto::dhcp6;
    if (f.has_ip) {
      if (!eval(f.src, vars, 0, v, err)) return false;
      src = six ? InAny::from(v.ip6) : InAny::from(v.ip4);
      if (!eval(f.dst, vars, 0, v, err)) return false;
      dst = six ? InAny::from(v.ip6) : InAny::from(v.ip4);
      if (f.has_ports) {
        if (!eval(f.sport, vars, 16, v, err)) return false;
        sport = v.num;
        if (!eval(f.dport, vars, 16, v, err)) return false;
        dport = v.num;
      }
    } else if (f.proto == Proto::dhcp) {
      src = InAny::from(Ipv4Addr::any());
      dst = InAny::from(Ipv4Addr::broadcast());
      sport = kDhcpClientPort;
      dport = kDhcpServerPort;
    } else {
      src = InAny::from(eui64_link_local(env.guest_mac));
      dst = InAny::from(kDhcpv6AllServers);
      sport = kDhcpv6ClientPort;
      dport = kDhcpv6ServerPort;
    }
    std::vector<u8> l4;
    u8 proto = 0;
    std::size_t csum_off = 0;
    bool zero_ffff = false;
    switch (f.proto) {
      case Proto::tcp:
        proto = ipproto::tcp;
        if (!build_tcp(b, static_cast<u16>(sport), static_cast<u16>(dport), l4)) return false;
        csum_off = 16;
        break;
      case Proto::udp: {
        proto = ipproto::udp;
        std::vector<u8> pay;
        if (!fits_payload(b, pay) || !build_udp(b, static_cast<u16>(sport), static_cast<u16>(dport), Bytes(pay), l4))
          return false;
        csum_off = 6;
        zero_ffff = true;
        break;
      }
      case Proto::dhcp:
      case Proto::dhcp6: {
        proto = ipproto::udp;
        std::vector<u8> pay;
        bool ok = f.proto == Proto::dhcp ? build_dhcp(b, pay) : build_dhcp6(b, pay);
        if (!ok || !build_udp(b, static_cast<u16>(sport), static_cast<u16>(dport), Bytes(pay), l4)) return false;
        csum_off = 6;
        zero_ffff = true;
        break;
      }
      case Proto::icmp:
        proto = ipproto::icmp;
        if (!build_icmp(b, false, l4)) return false;
        csum_off = 2;
        break;
      case Proto::icmp6:
        proto = ipproto::icmpv6;
        if (f.msg_given && is_ndp(f.msg)) {
          if (!build_ndp(b, src.v6(), dst.v6(), l4)) return false;
        } else if (!build_icmp(b, true, l4)) {
          return false;
        }
        csum_off = 2;
        break;
      default:
        err = "internal: unexpected protocol";
        return false;
    }
    // Checksum (ICMPv4 has no pseudo-header).
    if (f.proto == Proto::icmp) {
      l4[2] = l4[3] = 0;
      store_be16(l4.data() + 2, Csum().add(Bytes(l4)).finish());
    } else if (!(f.proto == Proto::icmp6 && f.msg_given && is_ndp(f.msg))) {
      put_l4_csum(l4, csum_off, src, dst, proto, zero_ffff);
    }
    if (const Field* c = find(f, FieldId::l4_csum)) {
      Value cv;
      if (!b.val(c, cv)) return false;
      store_be16(l4.data() + csum_off, static_cast<u16>(cv.num));
    }
    // IP header.
    const bool ndp = f.proto == Proto::icmp6 && f.msg_given && is_ndp(f.msg);
    u64 ttl = 0;
    u64 tos = 0;
    if (!b.num(FieldId::ip_ttl, ndp ? 255 : 64, &ttl) || !b.num(FieldId::ip_tos, 0, &tos)) return false;
    if (!six) {
      if (l4.size() + kIpv4HeaderLen > 65535) {
        err = "IPv4 packet over 65535 bytes";
        return false;
      }
      u64 id = 0;
      u64 frag = 0;
      if (!b.num(FieldId::ip_id, 0, &id) || !b.num(FieldId::ip_frag, 0, &frag)) return false;
      l3.assign(kIpv4HeaderLen + l4.size(), 0);
      u8* p = l3.data();
      p[0] = 0x45;
      p[1] = static_cast<u8>(tos);
      store_be16(p + 2, static_cast<u16>(l3.size()));
      store_be16(p + 4, static_cast<u16>(id));
      u16 ff = static_cast<u16>(frag & 0x1fff);
      if (find(f, FieldId::ip_df) != nullptr) ff = static_cast<u16>(ff | 0x4000);
      if (find(f, FieldId::ip_mf) != nullptr) ff = static_cast<u16>(ff | 0x2000);
      store_be16(p + 6, ff);
      p[8] = static_cast<u8>(ttl);
      p[9] = proto;
      src.v4().store(p + 12);
      dst.v4().store(p + 16);
      u16 hc = ipv4_header_checksum(Bytes(p, kIpv4HeaderLen));
      if (const Field* c = find(f, FieldId::ip_csum)) {
        Value cv;
        if (!b.val(c, cv)) return false;
        hc = static_cast<u16>(cv.num);
      }
      store_be16(p + 10, hc);
      std::memcpy(p + kIpv4HeaderLen, l4.data(), l4.size());
      ethertype = ethertype::ipv4;
    } else {
      if (l4.size() > 65535) {
        err = "IPv6 payload over 65535 bytes";
        return false;
      }
      u64 flow = 0;
      if (!b.num(FieldId::ip_flow, 0, &flow)) return false;
      l3.assign(kIpv6HeaderLen + l4.size(), 0);
      u8* p = l3.data();
      store_be32(p, (u32{6} << 28) | (static_cast<u32>(tos) << 20) | static_cast<u32>(flow & 0xfffff));
      store_be16(p + 4, static_cast<u16>(l4.size()));
      p[6] = proto;
      p[7] = static_cast<u8>(ttl);
      src.v6().store(p + 8);
      dst.v6().store(p + 24);
      std::memcpy(p + kIpv6HeaderLen, l4.data(), l4.size());
      ethertype = ethertype::ipv6;
    }
    if (!dst_mac) dst_mac = derived_mac(dst, env.our_mac);
  }
  out.assign(kEthHeaderLen + l3.size() + pad, 0);
  EthernetRepr eth{*dst_mac, src_mac, ethertype};
  (void)eth.emit(MutBytes(out));
  if (!l3.empty()) std::memcpy(out.data() + kEthHeaderLen, l3.data(), l3.size());
  return true;
}

// --- Matching ---------------------------------------------------------------------------

namespace {

struct TcpOpt {
  u8 kind;
  Bytes data;
};

struct Decoded {
  wire::Frame f;
  std::optional<ArpRepr> arp;
  std::optional<TcpRepr> tcp;
  std::vector<TcpOpt> tcp_opts;
  bool tcp_opts_bad = false;
  std::optional<NdpView> ndpv;
  std::optional<NdpRepr> ndp;
  std::optional<DhcpView> dhcpv;
  std::optional<DhcpRepr> dhcp;
  std::optional<Dhcpv6View> d6v;
  std::optional<Dhcpv6Repr> d6;
  Bytes l4_payload;  // TCP/UDP/ICMP payload; ether: after the header
};

void walk_tcp_options(Bytes o, Decoded& d) {
  std::size_t i = 0;
  while (i < o.size()) {
    u8 k = o[i];
    if (k == tcp_opt::eol) break;
    if (k == tcp_opt::nop) {
      d.tcp_opts.push_back({k, {}});
      i++;
      continue;
    }
    if (i + 1 >= o.size() || o[i + 1] < 2 || i + o[i + 1] > o.size()) {
      d.tcp_opts_bad = true;
      break;
    }
    d.tcp_opts.push_back({k, o.subspan(i + 2, o[i + 1] - 2u)});
    i += o[i + 1];
  }
}

Value names_value(std::span<const DnsName> names) {
  Value v;
  v.type = VType::list;
  for (const DnsName& n : names) v.items.push_back(Value::of_text(n.text().view()));
  return v;
}

Value bytes_value(Bytes b) { return Value::of_bytes(std::vector<u8>(b.begin(), b.end())); }

std::optional<Value> list_or_none(Value v) {
  if (v.items.empty()) return std::nullopt;
  return v;
}

// The actual value of a field, or nullopt when absent.
std::optional<Value> actual(const Decoded& d, const Field& fl) {
  const wire::Frame& f = d.f;
  switch (fl.id) {
    case FieldId::ip_ttl: return Value::of_num(f.hop_limit);
    case FieldId::ip_tos:
      if (f.ip4) return Value::of_num(f.ip4->tos());
      if (f.ip6) return Value::of_num(f.ip6->traffic_class());
      return std::nullopt;
    case FieldId::ip_id:
      if (f.ip4) return Value::of_num(f.ip4->ident());
      return std::nullopt;
    case FieldId::ip_df:
      if (f.ip4 && f.ip4->dont_fragment()) return Value::of_num(1);
      return std::nullopt;
    case FieldId::ip_mf:
      if (f.ip4 && f.ip4->more_fragments()) return Value::of_num(1);
      return std::nullopt;
    case FieldId::ip_frag:
      if (f.ip4) return Value::of_num(f.ip4->frag_offset());
      return std::nullopt;
    case FieldId::ip_flow:
      if (f.ip6) return Value::of_num(f.ip6->flow_label());
      return std::nullopt;
    case FieldId::arp_oper: return Value::of_num(d.arp->oper);
    case FieldId::arp_sha: return Value::of_mac(d.arp->sha);
    case FieldId::arp_spa: return Value::of_ip4(d.arp->spa);
    case FieldId::arp_tha: return Value::of_mac(d.arp->tha);
    case FieldId::arp_tpa: return Value::of_ip4(d.arp->tpa);
    case FieldId::tcp_flags: return Value::of_num(d.tcp->flags);
    case FieldId::tcp_seq: return Value::of_num(d.tcp->seq.v);
    case FieldId::tcp_ack: return Value::of_num(d.tcp->ack.v);
    case FieldId::tcp_win: return Value::of_num(d.tcp->window);
    case FieldId::tcp_urg: return Value::of_num(d.tcp->urgent);
    case FieldId::icmp_type: return Value::of_num(f.l4_bytes.empty() ? 0 : f.l4_bytes[0]);
    case FieldId::icmp_code: return Value::of_num(f.l4_bytes.size() < 2 ? 0 : f.l4_bytes[1]);
    case FieldId::icmp_id:
      if (f.l4_bytes.size() < 8) return std::nullopt;
      return Value::of_num(load_be16(f.l4_bytes.data() + 4));
    case FieldId::icmp_seq:
      if (f.l4_bytes.size() < 8) return std::nullopt;
      return Value::of_num(load_be16(f.l4_bytes.data() + 6));
    case FieldId::icmp_rest:
      if (f.l4_bytes.size() < 8) return std::nullopt;
      return Value::of_num(load_be32(f.l4_bytes.data() + 4));
    case FieldId::ndp_target: return Value::of_ip6(d.ndp->target);
    case FieldId::ndp_flags:
      if (d.ndp->type == icmpv6_type::router_advertisement)
        return Value::of_num((d.ndp->managed ? 0x80u : 0u) | (d.ndp->other_config ? 0x40u : 0u));
      return Value::of_num((d.ndp->router ? 0x80u : 0u) | (d.ndp->solicited ? 0x40u : 0u) |
                           (d.ndp->override_flag ? 0x20u : 0u));
    case FieldId::ra_hop: return Value::of_num(d.ndp->cur_hop_limit);
    case FieldId::ra_lifetime: return Value::of_num(d.ndp->router_lifetime);
    case FieldId::ra_reachable: return Value::of_num(d.ndp->reachable_time);
    case FieldId::ra_retrans: return Value::of_num(d.ndp->retrans_timer);
    case FieldId::ndp_slla:
      if (d.ndp->options.source_ll) return Value::of_mac(*d.ndp->options.source_ll);
      return std::nullopt;
    case FieldId::ndp_tlla:
      if (d.ndp->options.target_ll) return Value::of_mac(*d.ndp->options.target_ll);
      return std::nullopt;
    case FieldId::ndp_mtu:
      if (d.ndp->options.mtu) return Value::of_num(*d.ndp->options.mtu);
      return std::nullopt;
    case FieldId::ndp_prefix:
    case FieldId::ndp_prefix_flags:
    case FieldId::ndp_valid:
    case FieldId::ndp_preferred: {
      if (fl.group >= d.ndp->options.prefixes.size()) return std::nullopt;
      const NdpPrefixInfo& p = d.ndp->options.prefixes[fl.group];
      if (fl.id == FieldId::ndp_prefix) {
        Value v;
        v.type = VType::prefix6;
        v.ip6 = p.prefix;
        v.num = p.prefix_len;
        return v;
      }
      if (fl.id == FieldId::ndp_prefix_flags)
        return Value::of_num((p.on_link ? 0x80u : 0u) | (p.autonomous ? 0x40u : 0u));
      return Value::of_num(fl.id == FieldId::ndp_valid ? p.valid_lifetime : p.preferred_lifetime);
    }
    case FieldId::ndp_rdnss: {
      if (d.ndp->options.rdnss.empty()) return std::nullopt;
      Value v;
      v.type = VType::list;
      for (const NdpRdnss& r : d.ndp->options.rdnss)
        for (const Ipv6Addr& a : r.servers) v.items.push_back(Value::of_ip6(a));
      return v;
    }
    case FieldId::ndp_rdnss_lifetime:
      if (d.ndp->options.rdnss.empty()) return std::nullopt;
      return Value::of_num(d.ndp->options.rdnss[0].lifetime);
    case FieldId::ndp_dnssl: {
      if (d.ndp->options.dnssl.empty()) return std::nullopt;
      Value v;
      v.type = VType::list;
      for (const NdpDnssl& s : d.ndp->options.dnssl)
        for (const DnsName& n : s.domains) v.items.push_back(Value::of_text(n.text().view()));
      return v;
    }
    case FieldId::ndp_dnssl_lifetime:
      if (d.ndp->options.dnssl.empty()) return std::nullopt;
      return Value::of_num(d.ndp->options.dnssl[0].lifetime);
    case FieldId::dhcp_op: return Value::of_num(d.dhcp->op);
    case FieldId::dhcp_htype: return Value::of_num(d.dhcp->htype);
    case FieldId::dhcp_hlen: return Value::of_num(d.dhcp->hlen);
    case FieldId::dhcp_hops: return Value::of_num(d.dhcp->hops);
    case FieldId::dhcp_xid: return Value::of_num(d.dhcp->xid);
    case FieldId::dhcp_secs: return Value::of_num(d.dhcp->secs);
    case FieldId::dhcp_flags: return Value::of_num(d.dhcp->flags);
    case FieldId::dhcp_broadcast:
      if (d.dhcp->broadcast()) return Value::of_num(1);
      return std::nullopt;
    case FieldId::dhcp_ciaddr: return Value::of_ip4(d.dhcp->ciaddr);
    case FieldId::dhcp_yiaddr: return Value::of_ip4(d.dhcp->yiaddr);
    case FieldId::dhcp_siaddr: return Value::of_ip4(d.dhcp->siaddr);
    case FieldId::dhcp_giaddr: return Value::of_ip4(d.dhcp->giaddr);
    case FieldId::dhcp_chaddr: return Value::of_mac(d.dhcp->client_mac());
    case FieldId::dhcp_mask:
      if (d.dhcp->subnet_mask) return Value::of_ip4(*d.dhcp->subnet_mask);
      return std::nullopt;
    case FieldId::dhcp_router:
    case FieldId::dhcp_dns: {
      Value v;
      v.type = VType::list;
      for (Ipv4Addr a : fl.id == FieldId::dhcp_router ? d.dhcp->routers : d.dhcp->dns_servers)
        v.items.push_back(Value::of_ip4(a));
      return list_or_none(std::move(v));
    }
    case FieldId::dhcp_hostname:
      if (d.dhcp->hostname) return Value::of_text({reinterpret_cast<const char*>(d.dhcp->hostname->begin()), d.dhcp->hostname->size()});
      return std::nullopt;
    case FieldId::dhcp_domain:
      if (d.dhcp->domain_name) return Value::of_text({reinterpret_cast<const char*>(d.dhcp->domain_name->begin()), d.dhcp->domain_name->size()});
      return std::nullopt;
    case FieldId::dhcp_mtu:
      if (d.dhcp->mtu) return Value::of_num(*d.dhcp->mtu);
      return std::nullopt;
    case FieldId::dhcp_requested:
      if (d.dhcp->requested_ip) return Value::of_ip4(*d.dhcp->requested_ip);
      return std::nullopt;
    case FieldId::dhcp_lease:
      if (d.dhcp->lease_time) return Value::of_num(*d.dhcp->lease_time);
      return std::nullopt;
    case FieldId::dhcp_server_id:
      if (d.dhcp->server_id) return Value::of_ip4(*d.dhcp->server_id);
      return std::nullopt;
    case FieldId::dhcp_prl: {
      if (!d.dhcp->parameter_request_list) return std::nullopt;
      Value v;
      v.type = VType::list;
      for (u8 c : *d.dhcp->parameter_request_list) v.items.push_back(Value::of_num(c));
      return v;
    }
    case FieldId::dhcp_max_size:
      if (d.dhcp->max_message_size) return Value::of_num(*d.dhcp->max_message_size);
      return std::nullopt;
    case FieldId::dhcp_client_id:
      if (d.dhcp->client_id) return bytes_value(d.dhcp->client_id->span());
      return std::nullopt;
    case FieldId::dhcp_rapid_commit:
      if (d.dhcp->rapid_commit) return Value::of_num(1);
      return std::nullopt;
    case FieldId::dhcp_search:
      return list_or_none(names_value(d.dhcp->domain_search.span()));
    case FieldId::dhcp_opt: {
      auto o = d.dhcpv->find(fl.code);
      if (!o) return std::nullopt;
      return bytes_value(*o);
    }
    case FieldId::dhcp_opt_order: {
      Value v;
      v.type = VType::list;
      DhcpOptionIter it = d.dhcpv->option_iter();
      DhcpOptionView o;
      for (std::size_t n = 0; n < 320 && it.next(o); n++) v.items.push_back(Value::of_num(o.code));
      return v;
    }
    case FieldId::d6_xid: return Value::of_num(d.d6->xid);
    case FieldId::d6_client_id:
      if (d.d6->client_id) return bytes_value(d.d6->client_id->span());
      return std::nullopt;
    case FieldId::d6_server_id:
      if (d.d6->server_id) return bytes_value(d.d6->server_id->span());
      return std::nullopt;
    case FieldId::d6_ia_na:
    case FieldId::d6_t1:
    case FieldId::d6_t2:
    case FieldId::d6_ia_status:
    case FieldId::d6_addr:
    case FieldId::d6_preferred:
    case FieldId::d6_valid: {
      if (fl.group >= d.d6->ia_na.size()) return std::nullopt;
      const Dhcpv6Ia& ia = d.d6->ia_na[fl.group];
      switch (fl.id) {
        case FieldId::d6_ia_na: return Value::of_num(ia.iaid);
        case FieldId::d6_t1: return Value::of_num(ia.t1);
        case FieldId::d6_t2: return Value::of_num(ia.t2);
        case FieldId::d6_ia_status:
          if (ia.status) return Value::of_num(ia.status->code);
          return std::nullopt;
        default:
          break;
      }
      if (ia.addrs.empty()) return std::nullopt;
      const Dhcpv6IaAddr& a = ia.addrs[0];
      if (fl.id == FieldId::d6_addr) return Value::of_ip6(a.addr);
      return Value::of_num(fl.id == FieldId::d6_preferred ? a.preferred : a.valid);
    }
    case FieldId::d6_status:
      if (d.d6->status) return Value::of_num(d.d6->status->code);
      return std::nullopt;
    case FieldId::d6_status_msg:
      if (d.d6->status)
        return Value::of_text({reinterpret_cast<const char*>(d.d6->status->message.begin()), d.d6->status->message.size()});
      return std::nullopt;
    case FieldId::d6_oro: {
      if (!d.d6->oro) return std::nullopt;
      Value v;
      v.type = VType::list;
      for (u16 c : *d.d6->oro) v.items.push_back(Value::of_num(c));
      return v;
    }
    case FieldId::d6_elapsed:
      if (d.d6->elapsed_time) return Value::of_num(*d.d6->elapsed_time);
      return std::nullopt;
    case FieldId::d6_rapid_commit:
      if (d.d6->rapid_commit) return Value::of_num(1);
      return std::nullopt;
    case FieldId::d6_dns: {
      Value v;
      v.type = VType::list;
      for (const Ipv6Addr& a : d.d6->dns_servers) v.items.push_back(Value::of_ip6(a));
      return list_or_none(std::move(v));
    }
    case FieldId::d6_domains: return list_or_none(names_value(d.d6->domain_list.span()));
    case FieldId::d6_opt_order: {
      Value v;
      v.type = VType::list;
      Dhcpv6OptionIter it = d.d6v->option_iter();
      Dhcpv6OptionView o;
      for (std::size_t n = 0; n < 65536 && it.next(o); n++) v.items.push_back(Value::of_num(o.code));
      return v;
    }
    case FieldId::d6_opt: {
      auto o = d.d6v->find(fl.code16);
      if (!o) return std::nullopt;
      return bytes_value(*o);
    }
    case FieldId::eth_type: return Value::of_num(f.ethertype);
    case FieldId::ip_csum:
    case FieldId::l4_csum:
    case FieldId::pad:
    case FieldId::dhcp_type:
    case FieldId::dhcp_route:
    case FieldId::d6_type:
    case FieldId::count_:
      break;
  }
  return std::nullopt;
}

// Compares (or captures) one expression against an actual value.
bool check_expr(const Expr& e, const Value& act, u8 width, Bindings& vars, const char* what,
                std::string& why) {
  if (e.kind == Expr::Kind::any) return true;
  if (e.kind == Expr::Kind::var && e.capture && e.var < vars.size() && !vars[e.var]) {
    vars[e.var] = act;
    return true;
  }
  Value want;
  std::string err;
  if (!eval(e, vars, width, want, err)) {
    why = std::string(what) + ": " + err;
    return false;
  }
  if (want.type == VType::list && act.type == VType::list && want.items.size() == act.items.size()) {
    bool eq = true;
    for (std::size_t i = 0; i < want.items.size() && eq; i++) {
      const Value& a = want.items[i];
      const Value& b = act.items[i];
      if (a.type == VType::text && b.type == VType::text) {
        // Domain names compare case-insensitively, without a trailing dot.
        std::string_view x = a.text();
        std::string_view y = b.text();
        if (!x.empty() && x.back() == '.') x.remove_suffix(1);
        if (!y.empty() && y.back() == '.') y.remove_suffix(1);
        eq = x.size() == y.size();
        for (std::size_t k = 0; eq && k < x.size(); k++)
          eq = (x[k] | 0x20) == (y[k] | 0x20) || x[k] == y[k];
      } else {
        eq = value_eq(a, b);
      }
    }
    if (eq) return true;
  } else if (value_eq(want, act)) {
    return true;
  }
  why = std::string(what) + ": expected " + value_text(want) + ", got " + value_text(act);
  return false;
}

const char* expected_kind(const FrameSpec& s) {
  switch (s.proto) {
    case Proto::dhcp: return "a DHCP message";
    case Proto::dhcp6: return "a DHCPv6 message";
    default: return proto_name(s.proto);
  }
}

}  // namespace

bool match_frame(const FrameSpec& s, Bytes frame, const FrameEnv& env, Bindings& vars,
                 std::string& why) {
  why.clear();
  if (s.proto == Proto::raw) {
    if (frame.size() == s.raw.size() && std::memcmp(frame.data(), s.raw.data(), frame.size()) == 0)
      return true;
    why = "raw bytes differ";
    return false;
  }
  auto pf = parse_frame(frame);
  if (!pf) {
    why = std::string("frame does not parse (") + err_name(pf.err()) + ")";
    return false;
  }
  Decoded d;
  d.f = *pf;
  const wire::Frame& f = d.f;
  if (!frame_checksums_ok(f)) {
    why = "bad checksum";
    return false;
  }
  // Ethernet.
  if (s.eth_src) {
    if (!check_expr(*s.eth_src, Value::of_mac(f.eth_src), 0, vars, "Ethernet source", why)) return false;
  } else if (!(f.eth_src == env.our_mac)) {
    why = std::string("Ethernet source: expected ") + to_text(env.our_mac).c_str() + ", got " +
          to_text(f.eth_src).c_str();
    return false;
  }
  if (s.eth_dst) {
    if (!check_expr(*s.eth_dst, Value::of_mac(f.eth_dst), 0, vars, "Ethernet destination", why)) return false;
  } else {
    MacAddr want = f.l3 == L3::arp ? env.guest_mac : derived_mac(f.dst, env.guest_mac);
    if (!(f.eth_dst == want)) {
      why = std::string("Ethernet destination: expected ") + to_text(want).c_str() + ", got " +
            to_text(f.eth_dst).c_str();
      return false;
    }
  }
  // Kind of message.
  bool kind_ok = false;
  switch (s.proto) {
    case Proto::raw: break;
    case Proto::ether:
      kind_ok = true;
      d.l4_payload = frame.subspan(kEthHeaderLen);
      break;
    case Proto::arp:
      if (f.l3 == L3::arp) {
        auto r = ArpRepr::from(*f.arp);
        if (r) {
          d.arp = *r;
          kind_ok = !s.msg_given || r->oper == s.msg;
        }
      }
      break;
    case Proto::tcp:
      if (f.l4 == L4::tcp) {
        d.tcp = TcpRepr::from(*f.tcp);
        walk_tcp_options(f.tcp->options(), d);
        d.l4_payload = f.payload;
        kind_ok = true;
      }
      break;
    case Proto::udp:
      kind_ok = f.l4 == L4::udp;
      d.l4_payload = f.payload;
      break;
    case Proto::icmp:
      if (f.l4 == L4::icmp) {
        kind_ok = !s.msg_given || f.l4_bytes[0] == s.msg;
        d.l4_payload = f.payload;
      }
      break;
    case Proto::icmp6:
      if (f.l4 == L4::icmpv6 && f.l4_bytes.size() >= 4) {
        u8 type = f.l4_bytes[0];
        kind_ok = !s.msg_given || type == s.msg;
        if (kind_ok && is_ndp(type)) {
          auto v = NdpView::parse(f.l4_bytes);
          if (!v) {
            why = "NDP message does not parse";
            return false;
          }
          auto r = NdpRepr::from(*v);
          if (!r) {
            why = "NDP options do not parse";
            return false;
          }
          d.ndpv = *v;
          d.ndp = *r;
        } else if (kind_ok && f.l4_bytes.size() >= 8) {
          d.l4_payload = f.l4_bytes.subspan(8);
        }
      }
      break;
    case Proto::dhcp:
      if (f.l4 == L4::udp && f.l3 == L3::ipv4 &&
          (f.src_port == kDhcpServerPort || f.dst_port == kDhcpServerPort ||
           f.src_port == kDhcpClientPort || f.dst_port == kDhcpClientPort)) {
        auto v = DhcpView::parse(f.payload);
        if (v) {
          auto r = DhcpRepr::from(*v);
          if (!r) {
            why = std::string("DHCP options do not parse (") + err_name(r.err()) + ")";
            return false;
          }
          d.dhcpv = *v;
          d.dhcp = *r;
          std::optional<u8> t = r->message_type;
          kind_ok = s.msg == 0 ? !t.has_value() : (t && *t == s.msg);
        }
      }
      break;
    case Proto::dhcp6:
      if (f.l4 == L4::udp && f.l3 == L3::ipv6 &&
          (f.src_port == kDhcpv6ServerPort || f.dst_port == kDhcpv6ServerPort ||
           f.src_port == kDhcpv6ClientPort || f.dst_port == kDhcpv6ClientPort)) {
        auto v = Dhcpv6View::parse(f.payload);
        if (v) {
          auto r = Dhcpv6Repr::from(*v);
          if (!r) {
            why = std::string("DHCPv6 options do not parse (") + err_name(r.err()) + ")";
            return false;
          }
          d.d6v = *v;
          d.d6 = *r;
          kind_ok = r->msg_type == s.msg;
        }
      }
      break;
  }
  if (!kind_ok) {
    why = std::string("expected ") + expected_kind(s) + (s.msg_given ? " of the stated type" : "") +
          ", got another kind of frame";
    return false;
  }
  // Addresses and ports.
  if (s.has_ip) {
    if ((f.l3 == L3::ipv6) != s.v6) {
      why = s.v6 ? "expected IPv6, got IPv4" : "expected IPv4, got IPv6";
      return false;
    }
    Value sa = s.v6 ? Value::of_ip6(f.src.v6()) : Value::of_ip4(f.src.v4());
    Value da = s.v6 ? Value::of_ip6(f.dst.v6()) : Value::of_ip4(f.dst.v4());
    if (!check_expr(s.src, sa, 0, vars, "source address", why)) return false;
    if (!check_expr(s.dst, da, 0, vars, "destination address", why)) return false;
    if (s.has_ports) {
      if (!check_expr(s.sport, Value::of_num(f.src_port), 16, vars, "source port", why)) return false;
      if (!check_expr(s.dport, Value::of_num(f.dst_port), 16, vars, "destination port", why)) return false;
    }
  }
  // Group counts (NDP prefixes, DHCPv6 IA_NA): as many as the line names.
  if (s.groups > 0 && d.ndp && d.ndp->options.prefixes.size() != s.groups) {
    why = "expected " + std::to_string(s.groups) + " prefix option(s), got " +
          std::to_string(d.ndp->options.prefixes.size());
    return false;
  }
  if (s.groups > 0 && d.d6 && d.d6->ia_na.size() != s.groups) {
    why = "expected " + std::to_string(s.groups) + " IA_NA, got " + std::to_string(d.d6->ia_na.size());
    return false;
  }
  // Fields.
  std::vector<Value> routes;
  bool routes_checked = false;
  for (const Field& fl : s.fields) {
    if (fl.id == FieldId::dhcp_route && !fl.absent) {
      if (!routes_checked) {
        routes_checked = true;
        std::vector<Value> want;
        for (const Field& r : s.fields)
          if (r.id == FieldId::dhcp_route && !r.absent) want.push_back(r.e.lit);
        Value wl;
        Value al;
        wl.type = al.type = VType::list;
        wl.items = want;
        for (const DhcpRoute& r : d.dhcp->classless_routes) {
          Value rv;
          rv.type = VType::route4;
          rv.ip4 = r.dest;
          rv.num = r.prefix_len;
          rv.ip4b = r.router;
          al.items.push_back(rv);
        }
        if (!value_eq(wl, al)) {
          why = "route (option 121): expected " + value_text(wl) + ", got " + value_text(al);
          return false;
        }
      }
      continue;
    }
    if (fl.id == FieldId::dhcp_route && fl.absent) {
      if (!d.dhcp->classless_routes.empty()) {
        why = "expected no option 121";
        return false;
      }
      continue;
    }
    if (fl.id == FieldId::ndp_prefix && fl.absent) {
      if (!d.ndp->options.prefixes.empty()) {
        why = "expected no prefix option";
        return false;
      }
      continue;
    }
    if (fl.id == FieldId::d6_ia_na && fl.absent) {
      if (!d.d6->ia_na.empty()) {
        why = "expected no IA_NA";
        return false;
      }
      continue;
    }
    std::optional<Value> act = actual(d, fl);
    std::string what = field_name(fl.id);
    if (fl.id == FieldId::dhcp_opt || fl.id == FieldId::d6_opt)
      what = "option " + std::to_string(fl.id == FieldId::dhcp_opt ? fl.code : fl.code16);
    if (fl.absent) {
      if (act) {
        why = "expected no " + what + ", got " + value_text(*act);
        return false;
      }
      continue;
    }
    if (!act) {
      why = what + ": missing";
      return false;
    }
    if (fl.mask != 0xff && fl.e.kind == Expr::Kind::lit && act->type == VType::num) {
      Value masked = *act;
      masked.num &= fl.mask;
      if (!check_expr(fl.e, masked, field_width(fl.id), vars, what.c_str(), why)) return false;
      continue;
    }
    if (!check_expr(fl.e, *act, field_width(fl.id), vars, what.c_str(), why)) return false;
  }
  // TCP options: exactly as listed (absent: none).
  if (s.proto == Proto::tcp && !s.opts_any) {
    if (d.tcp_opts_bad) {
      why = "TCP options are malformed";
      return false;
    }
    if (d.tcp_opts.size() != s.opts.size()) {
      why = "TCP options: expected " + std::to_string(s.opts.size()) + ", got " +
            std::to_string(d.tcp_opts.size()) + " (" + describe_frame(frame) + ")";
      return false;
    }
    for (std::size_t i = 0; i < s.opts.size(); i++) {
      const TcpOptSpec& o = s.opts[i];
      const TcpOpt& a = d.tcp_opts[i];
      static const u8 kKind[] = {tcp_opt::mss, tcp_opt::wscale, tcp_opt::sack_permitted,
                                 tcp_opt::nop, tcp_opt::eol, tcp_opt::timestamps};
      static const u8 kLen[] = {2, 1, 0, 0, 0, 8};
      const u8 k = kKind[static_cast<u8>(o.kind)];
      if (a.kind != k || (k != tcp_opt::nop && a.data.size() != kLen[static_cast<u8>(o.kind)])) {
        why = "TCP option " + std::to_string(i + 1) + ": expected kind " + std::to_string(k) +
              ", got kind " + std::to_string(a.kind) + " length " + std::to_string(a.data.size() + 2);
        return false;
      }
      if (o.kind == TcpOptSpec::Kind::mss &&
          !check_expr(o.a, Value::of_num(load_be16(a.data.data())), 16, vars, "option mss", why))
        return false;
      if (o.kind == TcpOptSpec::Kind::wscale &&
          !check_expr(o.a, Value::of_num(a.data[0]), 8, vars, "option wscale", why))
        return false;
      if (o.kind == TcpOptSpec::Kind::ts &&
          (!check_expr(o.a, Value::of_num(load_be32(a.data.data())), 32, vars, "option TS val", why) ||
           !check_expr(o.b, Value::of_num(load_be32(a.data.data() + 4)), 32, vars, "option TS ecr", why)))
        return false;
    }
  }
  // Payload: always checked for frames that carry one.
  bool has_payload = s.proto == Proto::tcp || s.proto == Proto::udp || s.proto == Proto::icmp ||
                     s.proto == Proto::ether || (s.proto == Proto::icmp6 && !d.ndp);
  if (has_payload) {
    switch (s.payload) {
      case PayloadKind::any:
        break;
      case PayloadKind::none:
        if (!d.l4_payload.empty() && s.proto != Proto::ether) {
          why = "expected no payload, got " + std::to_string(d.l4_payload.size()) + " bytes";
          return false;
        }
        break;
      case PayloadKind::len:
        if (!check_expr(s.payload_len, Value::of_num(d.l4_payload.size()), 16, vars, "payload length", why))
          return false;
        break;
      case PayloadKind::data:
        if (d.l4_payload.size() != s.data.size() ||
            (!s.data.empty() && std::memcmp(d.l4_payload.data(), s.data.data(), s.data.size()) != 0)) {
          why = "payload: expected " + value_text(Value::of_text({reinterpret_cast<const char*>(s.data.data()), s.data.size()})) +
                ", got " + value_text(Value::of_text({reinterpret_cast<const char*>(d.l4_payload.data()), d.l4_payload.size()}));
          return false;
        }
        break;
    }
  }
  return true;
}

// --- Description ------------------------------------------------------------------------

namespace {

std::string hex(Bytes b, std::size_t max = 64) {
  std::string s = "0x";
  char buf[4];
  for (std::size_t i = 0; i < b.size() && i < max; i++) {
    std::snprintf(buf, sizeof(buf), "%02x", b[i]);
    s += buf;
  }
  if (b.size() > max) s += "...";
  return s;
}

std::string num(u64 v) { return std::to_string(v); }
std::string hexnum(u64 v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}
std::string lifetime(u32 v) { return v == 0xffffffffu ? "inf" : num(v); }

std::string ep(const InAny& a, u16 port, bool with_port) {
  std::string s = a.is_v4() ? std::string(to_text(a.v4()).c_str())
                            : (with_port ? "[" + std::string(to_text(a.v6()).c_str()) + "]"
                                         : std::string(to_text(a.v6()).c_str()));
  if (with_port) s += ":" + num(port);
  return s;
}

std::string tcp_flags(u8 f) {
  std::string s;
  if ((f & tcp_flag::syn) != 0) s += 'S';
  if ((f & tcp_flag::fin) != 0) s += 'F';
  if ((f & tcp_flag::psh) != 0) s += 'P';
  if ((f & tcp_flag::rst) != 0) s += 'R';
  if ((f & tcp_flag::urg) != 0) s += 'U';
  if ((f & tcp_flag::ece) != 0) s += 'E';
  if ((f & tcp_flag::cwr) != 0) s += 'W';
  if ((f & tcp_flag::ack) != 0) s += '.';
  return s.empty() ? "none" : s;
}

std::string names(std::span<const DnsName> ns) {
  std::string s;
  for (const DnsName& n : ns) {
    if (!s.empty()) s += ',';
    s += n.text().view();
  }
  return s;
}

void describe_dhcp(const DhcpView& v, std::string& s) {
  auto r = DhcpRepr::from(v);
  if (!r) {
    s += " (unparseable options)";
    return;
  }
  static const char* kNames[] = {"bootp", "discover", "offer", "request", "decline", "ack", "nak", "release", "inform"};
  if (!r->message_type) s += " bootp";
  else if (*r->message_type <= 8) s += std::string(" ") + kNames[*r->message_type];
  else s += " type " + num(*r->message_type);
  s += " xid " + hexnum(r->xid);
  if (r->op != 1) s += " op " + num(r->op);
  if (r->broadcast()) s += " broadcast";
  if (!r->ciaddr.is_unspecified()) s += std::string(" ciaddr ") + to_text(r->ciaddr).c_str();
  if (!r->yiaddr.is_unspecified()) s += std::string(" yiaddr ") + to_text(r->yiaddr).c_str();
  if (!r->siaddr.is_unspecified()) s += std::string(" siaddr ") + to_text(r->siaddr).c_str();
  s += std::string(" chaddr ") + to_text(r->client_mac()).c_str();
  if (r->subnet_mask) s += std::string(" mask ") + to_text(*r->subnet_mask).c_str();
  auto addrs = [&](const char* k, const auto& l) {
    if (l.empty()) return;
    s += std::string(" ") + k + " ";
    for (std::size_t i = 0; i < l.size(); i++) s += std::string(i ? "," : "") + to_text(l[i]).c_str();
  };
  addrs("router", r->routers);
  addrs("dns", r->dns_servers);
  if (r->mtu) s += " mtu " + num(*r->mtu);
  if (r->requested_ip) s += std::string(" requested ") + to_text(*r->requested_ip).c_str();
  if (r->lease_time) s += " lease " + lifetime(*r->lease_time);
  if (r->server_id) s += std::string(" server-id ") + to_text(*r->server_id).c_str();
  if (r->rapid_commit) s += " rapid-commit";
  if (!r->domain_search.empty()) s += " search " + names(r->domain_search.span());
  for (const DhcpRoute& rt : r->classless_routes)
    s += std::string(" route ") + to_text(rt.dest).c_str() + "/" + num(rt.prefix_len) + " via " +
         to_text(rt.router).c_str();
  if (r->parameter_request_list) {
    s += " prl ";
    bool first = true;
    for (u8 c : *r->parameter_request_list) {
      s += (first ? "" : ",") + num(c);
      first = false;
    }
  }
  if (r->client_id) s += " client-id " + hex(r->client_id->span());
  for (const DhcpRawOption& o : r->other) s += " opt " + num(o.code) + " " + hex(o.data.span());
  s += " opt-order ";
  DhcpOptionIter it = v.option_iter();
  DhcpOptionView o;
  bool first = true;
  for (std::size_t n = 0; n < 320 && it.next(o); n++) {
    s += (first ? "" : ",") + num(o.code);
    first = false;
  }
}

void describe_dhcp6(const Dhcpv6View& v, std::string& s) {
  auto r = Dhcpv6Repr::from(v);
  if (!r) {
    s += " (unparseable options)";
    return;
  }
  static const char* kNames[] = {"type0", "solicit", "advertise", "request", "confirm", "renew",
                                 "rebind", "reply", "release", "decline", "reconfigure", "info-request"};
  if (r->msg_type <= 11) s += std::string(" ") + kNames[r->msg_type];
  else s += " type" + num(r->msg_type);
  s += " xid " + hexnum(r->xid);
  if (r->client_id) s += " client-id " + hex(r->client_id->span());
  if (r->server_id) s += " server-id " + hex(r->server_id->span());
  for (const Dhcpv6Ia& ia : r->ia_na) {
    s += " ia-na " + num(ia.iaid) + " t1 " + lifetime(ia.t1) + " t2 " + lifetime(ia.t2);
    for (const Dhcpv6IaAddr& a : ia.addrs)
      s += std::string(" addr ") + to_text(a.addr).c_str() + " preferred " + lifetime(a.preferred) +
           " valid " + lifetime(a.valid);
    if (ia.status) s += " ia-status " + num(ia.status->code);
  }
  if (r->status) s += " status " + num(r->status->code);
  if (r->rapid_commit) s += " rapid-commit";
  if (!r->dns_servers.empty()) {
    s += " dns ";
    for (std::size_t i = 0; i < r->dns_servers.size(); i++)
      s += std::string(i != 0 ? "," : "") + to_text(r->dns_servers[i]).c_str();
  }
  if (!r->domain_list.empty()) s += " domains " + names(r->domain_list.span());
}

void describe_ndp(const NdpRepr& r, std::string& s) {
  switch (r.type) {
    case 133: s += " rs"; break;
    case 134: s += " ra"; break;
    case 135: s += std::string(" ns ") + to_text(r.target).c_str(); break;
    case 136: s += std::string(" na ") + to_text(r.target).c_str(); break;
    default: break;
  }
  if (r.type == 134) {
    std::string fl;
    if (r.managed) fl += 'M';
    if (r.other_config) fl += 'O';
    s += " hop " + num(r.cur_hop_limit) + " flags " + (fl.empty() ? "none" : fl) + " lifetime " +
         num(r.router_lifetime);
    if (r.reachable_time != 0) s += " reachable " + num(r.reachable_time);
    if (r.retrans_timer != 0) s += " retrans " + num(r.retrans_timer);
  }
  if (r.type == 136) {
    std::string fl;
    if (r.router) fl += 'R';
    if (r.solicited) fl += 'S';
    if (r.override_flag) fl += 'O';
    s += " flags " + (fl.empty() ? std::string("none") : fl);
  }
  const NdpOptions& o = r.options;
  if (o.source_ll) s += std::string(" slla ") + to_text(*o.source_ll).c_str();
  if (o.target_ll) s += std::string(" tlla ") + to_text(*o.target_ll).c_str();
  if (o.mtu) s += " mtu " + num(*o.mtu);
  for (const NdpPrefixInfo& p : o.prefixes) {
    std::string fl;
    if (p.on_link) fl += 'L';
    if (p.autonomous) fl += 'A';
    s += std::string(" prefix ") + to_text(p.prefix).c_str() + "/" + num(p.prefix_len) + " prefix-flags " +
         (fl.empty() ? "none" : fl) + " valid " + lifetime(p.valid_lifetime) + " preferred " +
         lifetime(p.preferred_lifetime);
  }
  for (const NdpRdnss& rd : o.rdnss) {
    s += " rdnss ";
    for (std::size_t i = 0; i < rd.servers.size(); i++)
      s += std::string(i != 0 ? "," : "") + to_text(rd.servers[i]).c_str();
    s += " rdnss-lifetime " + lifetime(rd.lifetime);
  }
  for (const NdpDnssl& d : o.dnssl) s += " dnssl " + names(d.domains.span()) + " dnssl-lifetime " + lifetime(d.lifetime);
}

}  // namespace

std::string describe_frame(Bytes frame) {
  auto pf = parse_frame(frame);
  if (!pf) return "raw " + hex(frame, 128) + " (" + std::to_string(frame.size()) + " bytes)";
  const wire::Frame& f = *pf;
  std::string s = std::string("eth ") + to_text(f.eth_src).c_str() + " > " + to_text(f.eth_dst).c_str() + " ";
  if (f.l3 == L3::arp) {
    auto r = ArpRepr::from(*f.arp);
    if (!r) return s + "arp (not Ethernet/IPv4) " + hex(f.l3_bytes);
    if (r->oper == arp_op::request)
      s += std::string("arp who-has ") + to_text(r->tpa).c_str() + " tell " + to_text(r->spa).c_str() +
           " sha " + to_text(r->sha).c_str() + " tha " + to_text(r->tha).c_str();
    else if (r->oper == arp_op::reply)
      s += std::string("arp reply ") + to_text(r->spa).c_str() + " is-at " + to_text(r->sha).c_str() +
           " tpa " + to_text(r->tpa).c_str() + " tha " + to_text(r->tha).c_str();
    else
      s += "arp oper " + num(r->oper);
    return s;
  }
  const bool pc = !frame_checksums_ok(f);
  auto tail = [&](std::string& t) {
    t += std::string(f.ip4 ? " ttl " : " hlim ") + num(f.hop_limit);
    if (f.ip4 && f.ip4->ident() != 0) t += " id " + num(f.ip4->ident());
    if (f.ip4 && f.ip4->dont_fragment()) t += " df";
    if (f.ip6 && f.ip6->flow_label() != 0) t += " flow " + hexnum(f.ip6->flow_label());
    if (pc) t += " (BAD CHECKSUM)";
  };
  switch (f.l4) {
    case L4::tcp: {
      TcpRepr t = TcpRepr::from(*f.tcp);
      s += "tcp " + ep(f.src, f.src_port, true) + " > " + ep(f.dst, f.dst_port, true) + " " + tcp_flags(t.flags) +
           " seq " + num(t.seq.v) + " ack " + num(t.ack.v) + " win " + num(t.window);
      if (!f.payload.empty()) s += " len " + num(f.payload.size());
      Decoded d;
      walk_tcp_options(f.tcp->options(), d);
      if (!d.tcp_opts.empty() || d.tcp_opts_bad) {
        s += " <";
        for (std::size_t i = 0; i < d.tcp_opts.size(); i++) {
          const TcpOpt& o = d.tcp_opts[i];
          if (i != 0) s += ",";
          if (o.kind == tcp_opt::mss && o.data.size() == 2) s += "mss " + num(load_be16(o.data.data()));
          else if (o.kind == tcp_opt::wscale && o.data.size() == 1) s += "wscale " + num(o.data[0]);
          else if (o.kind == tcp_opt::sack_permitted) s += "sackOK";
          else if (o.kind == tcp_opt::nop) s += "nop";
          else if (o.kind == tcp_opt::timestamps && o.data.size() == 8)
            s += "TS val " + num(load_be32(o.data.data())) + " ecr " + num(load_be32(o.data.data() + 4));
          else s += "kind " + num(o.kind);
        }
        if (d.tcp_opts_bad) s += ",(malformed)";
        s += ">";
      }
      tail(s);
      return s;
    }
    case L4::udp: {
      bool d4 = f.l3 == L3::ipv4 && (f.src_port == 67 || f.dst_port == 67 || f.src_port == 68 || f.dst_port == 68);
      bool d6 = f.l3 == L3::ipv6 && (f.src_port == 546 || f.dst_port == 546 || f.src_port == 547 || f.dst_port == 547);
      if (d4) {
        if (auto v = DhcpView::parse(f.payload)) {
          s += "dhcp " + ep(f.src, f.src_port, true) + " > " + ep(f.dst, f.dst_port, true);
          describe_dhcp(*v, s);
          tail(s);
          return s;
        }
      }
      if (d6) {
        if (auto v = Dhcpv6View::parse(f.payload)) {
          s += "dhcp6 " + ep(f.src, f.src_port, true) + " > " + ep(f.dst, f.dst_port, true);
          describe_dhcp6(*v, s);
          tail(s);
          return s;
        }
      }
      s += "udp " + ep(f.src, f.src_port, true) + " > " + ep(f.dst, f.dst_port, true) + " len " + num(f.payload.size());
      tail(s);
      return s;
    }
    case L4::icmp: {
      s += "icmp " + ep(f.src, 0, false) + " > " + ep(f.dst, 0, false);
      u8 t = f.l4_bytes[0];
      if (t == 8 || t == 0)
        s += std::string(t == 8 ? " echo-request" : " echo-reply") + " id " + num(load_be16(f.l4_bytes.data() + 4)) +
             " seq " + num(load_be16(f.l4_bytes.data() + 6)) + " len " + num(f.payload.size());
      else
        s += " type type " + num(t) + " code " + num(f.l4_bytes[1]);
      tail(s);
      return s;
    }
    case L4::icmpv6: {
      s += "icmp6 " + ep(f.src, 0, false) + " > " + ep(f.dst, 0, false);
      if (f.l4_bytes.size() < 4) return s + " (truncated)";
      u8 t = f.l4_bytes[0];
      if (is_ndp(t)) {
        auto v = NdpView::parse(f.l4_bytes);
        auto r = v ? NdpRepr::from(*v) : Result<NdpRepr>(v.err());
        if (r) {
          describe_ndp(*r, s);
          tail(s);
          return s;
        }
        s += " (malformed NDP) type " + num(t);
      } else if ((t == 128 || t == 129) && f.l4_bytes.size() >= 8) {
        s += std::string(t == 128 ? " echo-request" : " echo-reply") + " id " + num(load_be16(f.l4_bytes.data() + 4)) +
             " seq " + num(load_be16(f.l4_bytes.data() + 6)) + " len " + num(f.l4_bytes.size() - 8);
      } else {
        s += " type type " + num(t) + " code " + num(f.l4_bytes[1]);
      }
      tail(s);
      return s;
    }
    case L4::fragment:
      s += std::string(f.l3 == L3::ipv4 ? "ip4" : "ip6") + " fragment " + ep(f.src, 0, false) + " > " + ep(f.dst, 0, false);
      return s;
    case L4::none:
    case L4::other:
      s += "ip proto " + num(f.l4_proto) + " " + ep(f.src, 0, false) + " > " + ep(f.dst, 0, false);
      return s;
  }
  return s;
}

}  // namespace passt::sim::script
