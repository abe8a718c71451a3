// DHCPv4 messages (RFC 2131, options RFC 2132, 3396, 3397, 3442, 4039):
// the payload of a UDP datagram to port 67 or 68.
//
// Theory of operation
// -------------------
// A DHCP message is the 236-byte BOOTP fixed part, the magic cookie
// 99.130.83.99 and a list of options: pad (0) is one byte, end (255) ends
// the list, every other option is code, length, value.  DhcpView::parse
// validates once that the fixed part and the cookie are there and that every
// option up to end (or up to the end of the datagram, if end is missing)
// fits; bytes after end are padding and are not looked at.  Option overload
// (52) is not honoured: the sname and file fields are never scanned for
// options, and option 52 is kept like any unknown option (passt does the
// same).  Pure BOOTP messages without the cookie are Err::malformed.
//
// DhcpRepr is the parsed form with typed access to the options passt reads
// (53, 55, 50, 54, 80, 61, 57, 12) and sends (1, 3, 6, 15, 26, 51, 53, 54,
// 80, 119, 121); every other option is kept raw.  Following RFC 3396, all
// instances of one option code are concatenated before the value is
// interpreted, and emit splits a value longer than 255 bytes into
// consecutive instances.  Typed values of the wrong length are
// Err::malformed; variable parts have fixed capacities (Err::full beyond).
// Domain search (119) is decoded with compression pointers relative to the
// start of the concatenated value (RFC 3397 §2) and emitted compressed.
//
// DhcpRepr::emit writes the options in passt's order: message type (53)
// first unless the client's parameter request list names it, then the
// options the caller's `priority` list names (normally the client's option
// 55) in that order, then all other present options by ascending code, then
// end, then pad bytes up to the 300-byte BOOTP minimum (RFC 951: a 64-byte
// vend field).  The emitted length does not depend on the order.
#pragma once

#include <array>
#include <optional>

#include "util/addr.hpp"
#include "util/result.hpp"
#include "util/types.hpp"
#include "wire/dns_name.hpp"

namespace passt::wire {

inline constexpr std::size_t kDhcpFixedLen = 236;
inline constexpr std::size_t kDhcpOptionsOffset = 240;  // after the cookie
inline constexpr std::size_t kDhcpMinLen = 300;         // BOOTP minimum message
inline constexpr u32 kDhcpMagicCookie = 0x63825363;
inline constexpr u16 kDhcpServerPort = 67;
inline constexpr u16 kDhcpClientPort = 68;
inline constexpr u16 kDhcpFlagBroadcast = 0x8000;
inline constexpr u32 kDhcpInfiniteLease = 0xffffffffu;

namespace dhcp_op {
inline constexpr u8 request = 1;
inline constexpr u8 reply = 2;
}  // namespace dhcp_op

namespace dhcp_msg {
inline constexpr u8 discover = 1;
inline constexpr u8 offer = 2;
inline constexpr u8 request = 3;
inline constexpr u8 decline = 4;
inline constexpr u8 ack = 5;
inline constexpr u8 nak = 6;
inline constexpr u8 release = 7;
inline constexpr u8 inform = 8;
}  // namespace dhcp_msg

namespace dhcp_opt {
inline constexpr u8 pad = 0;
inline constexpr u8 subnet_mask = 1;
inline constexpr u8 router = 3;
inline constexpr u8 dns_server = 6;
inline constexpr u8 hostname = 12;
inline constexpr u8 domain_name = 15;
inline constexpr u8 interface_mtu = 26;
inline constexpr u8 requested_ip = 50;
inline constexpr u8 lease_time = 51;
inline constexpr u8 overload = 52;
inline constexpr u8 message_type = 53;
inline constexpr u8 server_id = 54;
inline constexpr u8 parameter_request_list = 55;
inline constexpr u8 max_message_size = 57;
inline constexpr u8 client_id = 61;
inline constexpr u8 rapid_commit = 80;
inline constexpr u8 domain_search = 119;
inline constexpr u8 classless_route = 121;
inline constexpr u8 end = 255;
}  // namespace dhcp_opt

// One option instance (never pad or end).
struct DhcpOptionView {
  u8 code = 0;
  Bytes data;
};

// Walks an option area that DhcpView::parse validated: skips pad, stops at
// end.
class DhcpOptionIter {
 public:
  explicit DhcpOptionIter(Bytes opts) noexcept : rest_(opts) {}
  bool next(DhcpOptionView& out) noexcept;

 private:
  Bytes rest_;
};

class DhcpView {
 public:
  // Err::truncated below 240 bytes, Err::malformed for a wrong cookie or an
  // option that overruns the message.
  static Result<DhcpView> parse(Bytes msg) noexcept;

  u8 op() const noexcept { return b_[0]; }
  u8 htype() const noexcept { return b_[1]; }
  u8 hlen() const noexcept { return b_[2]; }
  u8 hops() const noexcept { return b_[3]; }
  u32 xid() const noexcept;
  u16 secs() const noexcept;
  u16 flags() const noexcept;
  bool broadcast() const noexcept { return (flags() & kDhcpFlagBroadcast) != 0; }
  Ipv4Addr ciaddr() const noexcept { return Ipv4Addr::load(b_.data() + 12); }
  Ipv4Addr yiaddr() const noexcept { return Ipv4Addr::load(b_.data() + 16); }
  Ipv4Addr siaddr() const noexcept { return Ipv4Addr::load(b_.data() + 20); }
  Ipv4Addr giaddr() const noexcept { return Ipv4Addr::load(b_.data() + 24); }
  Bytes chaddr() const noexcept { return b_.subspan(28, 16); }
  // The first 6 bytes of chaddr (the client's MAC when htype 1, hlen 6).
  MacAddr client_mac() const noexcept { return MacAddr::load(b_.data() + 28); }
  Bytes sname() const noexcept { return b_.subspan(44, 64); }
  Bytes file() const noexcept { return b_.subspan(108, 128); }

  // The option area from after the cookie up to (not including) end.
  Bytes options() const noexcept { return b_.subspan(kDhcpOptionsOffset, opts_len_); }
  DhcpOptionIter option_iter() const noexcept { return DhcpOptionIter(options()); }
  // The first instance of `code` (zero-copy; see DhcpRepr for RFC 3396).
  std::optional<Bytes> find(u8 code) const noexcept;
  // Option 53 if present with length 1.
  std::optional<u8> message_type() const noexcept;
  Bytes bytes() const noexcept { return b_; }

 private:
  DhcpView(Bytes b, std::size_t opts_len) noexcept : b_(b), opts_len_(opts_len) {}
  Bytes b_;
  std::size_t opts_len_;
};

// --- Parsed form -----------------------------------------------------------

inline constexpr std::size_t kDhcpMaxAddrs = 8;        // routers, DNS servers
inline constexpr std::size_t kDhcpMaxRoutes = 8;       // classless static routes
inline constexpr std::size_t kDhcpMaxOther = 16;       // raw options kept
inline constexpr std::size_t kDhcpMaxBlob = 255;       // any kept opaque value
inline constexpr std::size_t kDhcpMaxOptionValue = 2048;  // concatenated value

using DhcpBlob = FixedBytes<kDhcpMaxBlob>;

// RFC 3442 route: bytes of `dest` past the significant octets
// (ceil(prefix_len / 8)) are not sent and must be zero.
struct DhcpRoute {
  Ipv4Addr dest;
  u8 prefix_len = 0;
  Ipv4Addr router;
  bool operator==(const DhcpRoute&) const noexcept = default;
};

struct DhcpRawOption {
  u8 code = 0;
  DhcpBlob data;
  bool operator==(const DhcpRawOption&) const noexcept = default;
};

// Options without a typed field.  Emit places them by code (like every
// option), so equality ignores their order in the list.
struct DhcpRawOptions : FixedList<DhcpRawOption, kDhcpMaxOther> {
  const DhcpRawOption* find(u8 code) const noexcept;
  friend bool operator==(const DhcpRawOptions& a, const DhcpRawOptions& b) noexcept;
};

struct DhcpRepr {
  // Fixed part.
  u8 op = dhcp_op::reply;
  u8 htype = 1;  // Ethernet
  u8 hlen = 6;
  u8 hops = 0;
  u32 xid = 0;
  u16 secs = 0;
  u16 flags = 0;
  Ipv4Addr ciaddr;
  Ipv4Addr yiaddr;
  Ipv4Addr siaddr;
  Ipv4Addr giaddr;
  std::array<u8, 16> chaddr{};
  std::array<u8, 64> sname{};
  std::array<u8, 128> file{};

  // Options.  Lists are sent only when non-empty.
  std::optional<u8> message_type;                   // 53
  std::optional<Ipv4Addr> subnet_mask;              // 1
  FixedList<Ipv4Addr, kDhcpMaxAddrs> routers;       // 3
  FixedList<Ipv4Addr, kDhcpMaxAddrs> dns_servers;   // 6
  std::optional<DhcpBlob> hostname;                 // 12
  std::optional<DhcpBlob> domain_name;              // 15 (text)
  std::optional<u16> mtu;                           // 26
  std::optional<Ipv4Addr> requested_ip;             // 50
  std::optional<u32> lease_time;                    // 51
  std::optional<Ipv4Addr> server_id;                // 54
  std::optional<DhcpBlob> parameter_request_list;   // 55
  std::optional<u16> max_message_size;              // 57
  std::optional<DhcpBlob> client_id;                // 61
  bool rapid_commit = false;                        // 80, length 0
  DnsNameList domain_search;                        // 119
  FixedList<DhcpRoute, kDhcpMaxRoutes> classless_routes;  // 121
  DhcpRawOptions other;                             // any other code, unique codes

  bool broadcast() const noexcept { return (flags & kDhcpFlagBroadcast) != 0; }
  MacAddr client_mac() const noexcept { return MacAddr::load(chaddr.data()); }
  void set_client_mac(const MacAddr& m) noexcept;

  // Err::malformed for a typed option of the wrong length, a bad route or
  // domain list; Err::full past a capacity; Err::msg_size for a domain name
  // over 255 bytes.
  static Result<DhcpRepr> from(const DhcpView& v) noexcept;

  // Err::invalid if the repr cannot be sent as is: a raw option with a
  // typed, pad or end code or a repeated code, a route with prefix_len > 32
  // or non-zero bytes past its significant octets, a value longer than
  // kDhcpMaxOptionValue.
  Status check() const noexcept;
  std::size_t length() const noexcept;
  // Writes exactly length() bytes; `priority` lists option codes to put
  // first (see above).  Err::truncated if `out` is too short.
  Status emit(MutBytes out, Bytes priority = {}) const noexcept;

  bool operator==(const DhcpRepr&) const noexcept = default;
};

}  // namespace passt::wire
