// Scripted frame tests (packetdrill style): the data model and the parser.
//
// Theory of operation
// -------------------
// A script is a small line-oriented text (docs/scripts.md is the reference):
// a header of directives (modes, command-line arguments, tolerance, guest
// MAC, variables), then steps, each with a time.  A step injects a frame
// from the guest (`<`), expects the next frame towards the guest (`>`),
// waits, or acts on the host side (`host listen`, `host send`, ...).
//
// parse_script() turns the text into a Script once; both runners (the
// simulator and the real binary) execute the same Script through the
// interpreter (sim/script/interp.hpp).  Everything the runners need to
// know is resolved here: the time of every step in nanoseconds since the
// start, every field of every frame with its type, and every variable with
// its type and the step that binds it.  Static checks catch what can be
// caught without running: unknown keywords, values of the wrong kind or
// range, wildcards and checksums in injected frames, variables used before
// a `>` line binds them (or bound with one type and used with another).
//
// Robustness: the parser is fuzzed (fuzz/script_fuzz.cpp).  Every loop is
// bounded by the limits below, every error is a ParseError with the line
// number (1-based) and a message; nothing aborts on any input.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/addr.hpp"
#include "util/types.hpp"

namespace passt::sim::script {

// --- Limits ---------------------------------------------------------------
inline constexpr std::size_t kMaxScriptBytes = 1u << 20;
inline constexpr std::size_t kMaxLineLen = 4096;
inline constexpr std::size_t kMaxSteps = 4096;
inline constexpr std::size_t kMaxTokens = 256;   // per line
inline constexpr std::size_t kMaxVars = 128;
inline constexpr std::size_t kMaxList = 32;      // elements of a list value
inline constexpr std::size_t kMaxBytes = 65535;  // a payload, string or hex blob
inline constexpr std::size_t kMaxUdpPayload = 65507;  // host udp-send / udp-recv (IPv4 limit)
inline constexpr std::size_t kMaxArgs = 64;      // command-line arguments per list
inline constexpr i64 kMaxTimeNs = 3600LL * 1000 * 1000 * 1000;  // one hour

// --- Values ---------------------------------------------------------------

enum class VType : u8 {
  num,      // unsigned integer (field width checked per field)
  ip4,
  ip6,
  mac,
  bytes,    // opaque bytes (hex)
  text,     // a string (domain names, host names, payload text)
  prefix4,  // address + prefix length
  prefix6,
  route4,   // destination prefix + router (DHCP option 121)
  list,     // of `elem` values (see FieldDef::elem)
};
const char* vtype_name(VType t) noexcept;

struct Value {
  VType type = VType::num;
  u64 num = 0;  // num; prefix length for prefix4/prefix6/route4
  Ipv4Addr ip4;
  Ipv4Addr ip4b;  // route4: the router
  Ipv6Addr ip6;
  MacAddr mac;
  std::vector<u8> bytes;    // bytes, text
  std::vector<Value> items;  // list

  static Value of_num(u64 n) {
    Value v;
    v.num = n;
    return v;
  }
  static Value of_ip4(Ipv4Addr a) {
    Value v;
    v.type = VType::ip4;
    v.ip4 = a;
    return v;
  }
  static Value of_ip6(const Ipv6Addr& a) {
    Value v;
    v.type = VType::ip6;
    v.ip6 = a;
    return v;
  }
  static Value of_mac(const MacAddr& m) {
    Value v;
    v.type = VType::mac;
    v.mac = m;
    return v;
  }
  static Value of_bytes(std::vector<u8> b) {
    Value v;
    v.type = VType::bytes;
    v.bytes = std::move(b);
    return v;
  }
  static Value of_text(std::string_view s) {
    Value v;
    v.type = VType::text;
    v.bytes.assign(s.begin(), s.end());
    return v;
  }
  std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

bool value_eq(const Value& a, const Value& b) noexcept;
// Script syntax for a value ("198.51.100.1", "0x1f", "\"text\"", "a.b,c.d").
std::string value_text(const Value& v);

// A field's value in a step: a literal, the wildcard `*`, or a variable
// with an optional offset (`$isn+1`).  A variable that is not yet bound in
// a `>` line is a capture: the actual value binds it.
struct Expr {
  enum class Kind : u8 { lit, any, var };
  Kind kind = Kind::lit;
  Value lit;
  u16 var = 0;      // index into Script::vars
  i64 offset = 0;   // added modulo the field's width (numbers only)
  bool capture = false;
};

// --- Frames -----------------------------------------------------------------

enum class Proto : u8 { raw, ether, arp, tcp, udp, icmp, icmp6, dhcp, dhcp6 };
const char* proto_name(Proto p) noexcept;

// Every field any frame line can name.  The tables in parser.cpp map
// keywords to these per protocol.
enum class FieldId : u8 {
  // IP header
  ip_ttl, ip_tos, ip_id, ip_df, ip_mf, ip_frag, ip_flow, ip_csum, l4_csum, pad,
  // ARP
  arp_oper, arp_sha, arp_spa, arp_tha, arp_tpa,
  // TCP
  tcp_flags, tcp_seq, tcp_ack, tcp_win, tcp_urg,
  // ICMP / ICMPv6
  icmp_type, icmp_code, icmp_id, icmp_seq, icmp_rest,
  // NDP
  ndp_target, ndp_flags, ra_hop, ra_lifetime, ra_reachable, ra_retrans, ndp_slla, ndp_tlla,
  ndp_mtu, ndp_prefix, ndp_prefix_flags, ndp_valid, ndp_preferred, ndp_rdnss,
  ndp_rdnss_lifetime, ndp_dnssl, ndp_dnssl_lifetime,
  // DHCP
  dhcp_op, dhcp_htype, dhcp_hlen, dhcp_hops, dhcp_xid, dhcp_secs, dhcp_flags, dhcp_broadcast,
  dhcp_ciaddr, dhcp_yiaddr, dhcp_siaddr, dhcp_giaddr, dhcp_chaddr, dhcp_type, dhcp_mask,
  dhcp_router, dhcp_dns, dhcp_hostname, dhcp_domain, dhcp_mtu, dhcp_requested, dhcp_lease,
  dhcp_server_id, dhcp_prl, dhcp_max_size, dhcp_client_id, dhcp_rapid_commit, dhcp_search,
  dhcp_route, dhcp_opt, dhcp_opt_order,
  // DHCPv6
  d6_type, d6_xid, d6_client_id, d6_server_id, d6_ia_na, d6_t1, d6_t2, d6_addr, d6_preferred,
  d6_valid, d6_ia_status, d6_status, d6_status_msg, d6_oro, d6_elapsed, d6_rapid_commit,
  d6_dns, d6_domains, d6_opt_order, d6_opt,
  // Ethernet raw payload
  eth_type,
  count_
};

struct Field {
  FieldId id = FieldId::count_;
  bool absent = false;  // `!name`: the option must not be there (or, in `<`, is left out)
  u8 code = 0;          // dhcp_opt: the option code; absent of a numeric code
  u16 code16 = 0;       // DHCPv6 numeric `!N`
  u8 mask = 0xff;       // tcp_flags: the bits compared (lower-case letters clear theirs)
  u8 group = 0;         // DHCPv6 IA / NDP prefix this field belongs to
  Expr e;
  u32 col = 0;          // token index on the line (for messages)
};

enum class PayloadKind : u8 { none, len, data, any };

// One TCP option in a `<...>` list.
struct TcpOptSpec {
  enum class Kind : u8 { mss, wscale, sack_ok, nop, eol, ts };
  Kind kind = Kind::nop;
  Expr a;  // mss / wscale value, TS val
  Expr b;  // TS ecr
};

struct FrameSpec {
  Proto proto = Proto::raw;
  // Ethernet (`eth SRC > DST`); nullopt: derived (see docs/scripts.md).
  std::optional<Expr> eth_src;
  std::optional<Expr> eth_dst;
  // IP endpoints (tcp, udp, icmp, icmp6, dhcp, dhcp6).
  bool has_ip = false;  // given on the line
  bool v6 = false;
  Expr src, dst;          // ip4 / ip6
  Expr sport, dport;      // num
  bool has_ports = false;
  // Message kind: ARP oper, ICMP/ICMPv6 type, DHCP / DHCPv6 message type.
  u16 msg = 0;
  bool msg_given = false;
  std::vector<Field> fields;
  PayloadKind payload = PayloadKind::none;
  Expr payload_len;         // PayloadKind::len
  std::vector<u8> data;     // PayloadKind::data
  bool opts_given = false;  // TCP `<...>`
  bool opts_any = false;    // `<*>`
  std::vector<TcpOptSpec> opts;
  std::vector<u8> raw;      // Proto::raw: the whole frame
  u8 groups = 0;            // DHCPv6 IAs / NDP prefixes opened on the line
};

// The keyword of a field (first table entry naming it), for messages.
const char* field_name(FieldId id) noexcept;
// The width in bits of a numeric field (offsets wrap at it); 32 if unknown.
u8 field_width(FieldId id) noexcept;

// --- Host actions ------------------------------------------------------------

enum class HostOp : u8 {
  listen, accept, connect, send, recv, shutdown, close, reset,
  expect_eof, expect_reset, expect_refused, expect_connected,
  udp_bind, udp_send, udp_recv, udp_reply, udp_expect_none,
};
const char* host_op_name(HostOp op) noexcept;

struct HostEndpoint {
  bool any = true;  // listen without an address: dual-stack any
  bool v6 = false;
  Ipv4Addr ip4;
  Ipv6Addr ip6;
  u16 port = 0;
};

// The kinds of host objects; the parser checks that `on NAME` names one of
// the right kind.
enum class HostObj : u8 { listener, conn, udp };

struct HostAction {
  HostOp op = HostOp::close;
  std::string on;  // the object acted on (default: "c" for connections, "l" for listeners, "u" for UDP)
  std::string as;  // the name of a new object (listen, accept, connect, udp-bind)
  HostEndpoint at;    // listen, connect, udp-bind: the address; udp-send: the destination
  u16 from_port = 0;  // connect ... from PORT
  bool from_given = false;  // udp-recv ... from ADDR:PORT|ADDR:*
  bool from_any_port = false;
  HostEndpoint from;
  u32 backlog = 16;
  u64 count = 0;  // send / recv N (UDP: the datagram's size, may be 0 with "")
  bool use_data = false;
  std::vector<u8> data;  // send / recv "text"
};

// --- Steps and scripts --------------------------------------------------------

enum class StepKind : u8 { inject, expect, wait, host };

struct Step {
  u32 line = 0;
  i64 t_ns = 0;  // since the start of the script
  StepKind kind = StepKind::wait;
  FrameSpec frame;
  HostAction host;
};

struct VarDef {
  std::string name;
  VType type = VType::num;
  bool predefined = false;  // bound by the runner (see predefined_vars)
  bool preset = false;      // `set $name VALUE`
  Value value;              // preset value
};

enum ModeBits : u8 { kModePasst = 1, kModePasta = 2 };

struct Script {
  u8 modes = kModePasst | kModePasta;
  bool sim_only = false;
  std::string sim_only_reason;
  bool slow = false;  // `slow REASON`: the real runner runs it only with --slow/--only-slow
  std::string slow_reason;
  bool pending = false;
  std::string pending_reason;
  std::vector<std::string> requires_;  // features the binary must have (tcp, udp, icmp)
  bool keep_window_updates = false;     // `window-updates keep`: match them like any frame
  std::vector<std::string> args;        // both modes
  std::vector<std::string> args_passt;  // passt only
  std::vector<std::string> args_pasta;  // pasta only
  std::optional<i64> tolerance_ns;      // real runner
  MacAddr guest_mac = {{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
  std::vector<VarDef> vars;
  std::vector<Step> steps;
  u32 lines = 0;
};

struct ParseError {
  u32 line = 0;  // 1-based; 0 for whole-file problems
  std::string msg;
};

struct ParseResult {
  bool ok = false;
  Script script;
  ParseError error;
};

// Names and types of the variables every runner binds before the first
// step (their values come from the effective configuration).
struct PredefinedVar {
  const char* name;
  VType type;
  const char* what;
};
std::vector<PredefinedVar> predefined_vars();

ParseResult parse_script(std::string_view text);

// "file:LINE: msg" helper for runners.
std::string format_error(std::string_view file, const ParseError& e);

}  // namespace passt::sim::script
