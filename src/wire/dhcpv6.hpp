// DHCPv6 client/server messages (RFC 8415), with DNS options (RFC 3646)
// and Client FQDN (RFC 4704): the payload of a UDP datagram to port 546 or
// 547.
//
// Theory of operation
// -------------------
// A message is msg-type (1 byte), a 24-bit transaction id, then options:
// code (2), length (2), value.  Dhcpv6View::parse validates once that every
// option fits exactly in the message, and goes one level into the options
// that nest others: IA_NA (3: IAID, T1, T2, then options) and IA_TA (4:
// IAID, then options) must have their fixed part and a valid option area,
// and so must every IAADDR (5: address, preferred and valid lifetimes, then
// options) directly inside them.  Nothing deeper is walked.  Relay messages
// (12, 13) have another layout and are Err::not_supported: passt never sees
// them, since it is the only server on its link.
//
// Dhcpv6Repr is the parsed form with typed access to client and server id
// (DUIDs of 2..130 bytes, RFC 8415 §11.1), IA_NA and IA_TA with their
// addresses and status codes, ORO, elapsed time, rapid commit, status code,
// DNS servers (23), domain list (24, names without compression) and client
// FQDN (39, flags plus the name bytes as sent: RFC 4704 allows a partial
// name without the root label).  Of a single-valued option the first
// instance wins; unknown top-level options are kept raw, in order; unknown
// options nested in an IA or IAADDR are dropped.  Variable parts have fixed
// capacities (Err::full beyond).
//
// Dhcpv6Repr::emit writes the options in a fixed order (1, 2, 3, 4, 6, 8,
// 13, 14, 23, 24, 39, then the raw ones), which is how passt's ADVERTISE and
// REPLY look; option order has no meaning in DHCPv6.
#pragma once

#include <optional>
#include <string_view>

#include "util/addr.hpp"
#include "util/result.hpp"
#include "util/types.hpp"
#include "wire/dns_name.hpp"

namespace passt::wire {

inline constexpr std::size_t kDhcpv6HeaderLen = 4;
inline constexpr u16 kDhcpv6ClientPort = 546;
inline constexpr u16 kDhcpv6ServerPort = 547;
inline constexpr u32 kDhcpv6Infinity = 0xffffffffu;
// ff02::1:2, All_DHCP_Relay_Agents_and_Servers.
inline constexpr Ipv6Addr kDhcpv6AllServers = {
    {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2}};

namespace dhcpv6_msg {
inline constexpr u8 solicit = 1;
inline constexpr u8 advertise = 2;
inline constexpr u8 request = 3;
inline constexpr u8 confirm = 4;
inline constexpr u8 renew = 5;
inline constexpr u8 rebind = 6;
inline constexpr u8 reply = 7;
inline constexpr u8 release = 8;
inline constexpr u8 decline = 9;
inline constexpr u8 reconfigure = 10;
inline constexpr u8 information_request = 11;
inline constexpr u8 relay_forw = 12;
inline constexpr u8 relay_repl = 13;
}  // namespace dhcpv6_msg

namespace dhcpv6_opt {
inline constexpr u16 client_id = 1;
inline constexpr u16 server_id = 2;
inline constexpr u16 ia_na = 3;
inline constexpr u16 ia_ta = 4;
inline constexpr u16 iaaddr = 5;
inline constexpr u16 oro = 6;
inline constexpr u16 preference = 7;
inline constexpr u16 elapsed_time = 8;
inline constexpr u16 status_code = 13;
inline constexpr u16 rapid_commit = 14;
inline constexpr u16 dns_servers = 23;
inline constexpr u16 domain_list = 24;
inline constexpr u16 ia_pd = 25;
inline constexpr u16 client_fqdn = 39;
}  // namespace dhcpv6_opt

namespace dhcpv6_status {
inline constexpr u16 success = 0;
inline constexpr u16 unspec_fail = 1;
inline constexpr u16 no_addrs_avail = 2;
inline constexpr u16 no_binding = 3;
inline constexpr u16 not_on_link = 4;
inline constexpr u16 use_multicast = 5;
inline constexpr u16 no_prefix_avail = 6;
}  // namespace dhcpv6_status

struct Dhcpv6OptionView {
  u16 code = 0;
  Bytes data;
};

// Walks an option area that Dhcpv6View::parse validated.
class Dhcpv6OptionIter {
 public:
  explicit Dhcpv6OptionIter(Bytes opts) noexcept : rest_(opts) {}
  bool next(Dhcpv6OptionView& out) noexcept;

 private:
  Bytes rest_;
};

class Dhcpv6View {
 public:
  // Err::truncated below 4 bytes, Err::not_supported for relay messages,
  // Err::malformed for an option that does not fit (at any level walked).
  static Result<Dhcpv6View> parse(Bytes msg) noexcept;

  u8 msg_type() const noexcept { return b_[0]; }
  u32 xid() const noexcept;  // 24 bits
  Bytes options() const noexcept { return b_.subspan(kDhcpv6HeaderLen); }
  Dhcpv6OptionIter option_iter() const noexcept { return Dhcpv6OptionIter(options()); }
  // First top-level instance of `code`.
  std::optional<Bytes> find(u16 code) const noexcept;
  Bytes bytes() const noexcept { return b_; }

 private:
  explicit Dhcpv6View(Bytes b) noexcept : b_(b) {}
  Bytes b_;
};

// --- Parsed form -----------------------------------------------------------

inline constexpr std::size_t kDhcpv6MinDuid = 2;
inline constexpr std::size_t kDhcpv6MaxDuid = 130;
inline constexpr std::size_t kDhcpv6MaxStatusMsg = 128;
inline constexpr std::size_t kDhcpv6MaxIaAddrs = 4;  // per IA
inline constexpr std::size_t kDhcpv6MaxIaNa = 4;
inline constexpr std::size_t kDhcpv6MaxIaTa = 2;
inline constexpr std::size_t kDhcpv6MaxOro = 32;
inline constexpr std::size_t kDhcpv6MaxDns = 8;
inline constexpr std::size_t kDhcpv6MaxOther = 8;
inline constexpr std::size_t kDhcpv6MaxRawData = 256;

using Dhcpv6Duid = FixedBytes<kDhcpv6MaxDuid>;

// DUID-LLT (RFC 8415 §11.2) for an Ethernet address; `time` is seconds since
// 2000-01-01 00:00 UTC, mod 2^32.
Dhcpv6Duid dhcpv6_duid_llt(const MacAddr& mac, u32 time) noexcept;

struct Dhcpv6Status {
  u16 code = dhcpv6_status::success;
  FixedBytes<kDhcpv6MaxStatusMsg> message;  // UTF-8, not NUL-terminated
  static Dhcpv6Status make(u16 code, std::string_view text) noexcept;  // text truncated to fit
  bool operator==(const Dhcpv6Status&) const noexcept = default;
};

struct Dhcpv6IaAddr {
  Ipv6Addr addr;
  u32 preferred = kDhcpv6Infinity;
  u32 valid = kDhcpv6Infinity;
  std::optional<Dhcpv6Status> status;
  bool operator==(const Dhcpv6IaAddr&) const noexcept = default;
};

// IA_NA, or IA_TA (then t1 and t2 are not on the wire and stay 0).
struct Dhcpv6Ia {
  u32 iaid = 0;
  u32 t1 = 0;
  u32 t2 = 0;
  FixedList<Dhcpv6IaAddr, kDhcpv6MaxIaAddrs> addrs;
  std::optional<Dhcpv6Status> status;
  bool operator==(const Dhcpv6Ia&) const noexcept = default;
};

struct Dhcpv6Fqdn {
  u8 flags = 0;
  FixedBytes<255> name;  // DNS wire format as sent, possibly partial
  bool operator==(const Dhcpv6Fqdn&) const noexcept = default;
};

struct Dhcpv6RawOption {
  u16 code = 0;
  FixedBytes<kDhcpv6MaxRawData> data;
  bool operator==(const Dhcpv6RawOption&) const noexcept = default;
};

struct Dhcpv6Repr {
  u8 msg_type = dhcpv6_msg::reply;
  u32 xid = 0;  // 24 bits; the top byte must be 0 to emit

  std::optional<Dhcpv6Duid> client_id;               // 1
  std::optional<Dhcpv6Duid> server_id;               // 2
  FixedList<Dhcpv6Ia, kDhcpv6MaxIaNa> ia_na;         // 3
  FixedList<Dhcpv6Ia, kDhcpv6MaxIaTa> ia_ta;         // 4
  std::optional<FixedList<u16, kDhcpv6MaxOro>> oro;  // 6
  std::optional<u16> elapsed_time;                   // 8, 1/100 s
  std::optional<Dhcpv6Status> status;                // 13
  bool rapid_commit = false;                         // 14
  FixedList<Ipv6Addr, kDhcpv6MaxDns> dns_servers;    // 23, sent when non-empty
  DnsNameList domain_list;                           // 24, sent when non-empty
  std::optional<Dhcpv6Fqdn> fqdn;                    // 39
  FixedList<Dhcpv6RawOption, kDhcpv6MaxOther> other; // others, in order

  // Err::malformed for a typed option of the wrong length (DUID outside
  // 2..130 bytes, elapsed time not 2, rapid commit not 0, DNS not 16n, ORO
  // odd, FQDN empty, an IA or IAADDR too short, a bad domain list), Err::full
  // past a capacity, Err::msg_size for a domain name over 255 bytes.
  static Result<Dhcpv6Repr> from(const Dhcpv6View& v) noexcept;

  // Err::invalid if the repr cannot be sent as is: xid over 24 bits, a
  // relay message type, a DUID outside 2..130 bytes, a raw option with a
  // typed code.
  Status check() const noexcept;
  std::size_t length() const noexcept;
  // Writes exactly length() bytes.  Err::truncated if `out` is too short.
  Status emit(MutBytes out) const noexcept;

  bool operator==(const Dhcpv6Repr&) const noexcept = default;
};

}  // namespace passt::wire
