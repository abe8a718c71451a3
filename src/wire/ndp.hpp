// Neighbor Discovery (RFC 4861) messages and options, with the DNS options
// of RFC 8106 (RDNSS, DNSSL).
//
// Theory of operation
// -------------------
// NdpView::parse takes an ICMPv6 message (type 133-136) and validates, once,
// everything about lengths that RFC 4861 §6.1 and §7.1 ask a receiver to
// check: the code is 0, the message has at least its fixed part (RS 8, RA
// 16, NS/NA 24 bytes), and the options that follow all have a non-zero
// length and fit exactly in the message.  After that, option iteration
// cannot fail.  The checks that need the IPv6 header (hop limit 255, the
// checksum, source/destination rules) are in ndp_validate_ip(), because the
// view only has the ICMPv6 bytes.  Redirect (137) is not handled: passt
// neither sends nor accepts it.
//
// NdpRepr is the parsed form with typed options.  Its variable parts have
// fixed capacities (no heap); a message with more than fits is
// Err::full from NdpRepr::from, never truncated silently.  Typed options
// whose length is wrong for their type are Err::malformed (SLLA/TLLA must
// be 1 unit: the link is Ethernet, RFC 2464 §8; prefix information 4; MTU
// 1; RDNSS odd and >= 3; DNSSL >= 2).  Of the single-valued options (SLLA,
// TLLA, MTU) the first occurrence wins and repeats are dropped, like Linux.
// Unknown options are kept, as raw bytes, in order.  Reserved bits are
// ignored on parse and sent as zero.
//
// NdpRepr::emit writes the message with its options in a fixed order (SLLA,
// TLLA, prefixes, MTU, RDNSS, DNSSL, unknown), then the ICMPv6 checksum for
// the given addresses.  Option order carries no meaning in NDP, so a repr
// survives emit -> parse -> from unchanged.
#pragma once

#include <optional>

#include "util/addr.hpp"
#include "util/result.hpp"
#include "util/types.hpp"
#include "wire/dns_name.hpp"
#include "wire/icmpv6.hpp"

namespace passt::wire {

inline constexpr std::size_t kNdpRsLen = 8;
inline constexpr std::size_t kNdpRaLen = 16;
inline constexpr std::size_t kNdpNsLen = 24;
inline constexpr std::size_t kNdpNaLen = 24;
inline constexpr std::size_t kNdpOptUnit = 8;
inline constexpr u32 kNdpInfiniteLifetime = 0xffffffffu;

namespace ndp_opt {
inline constexpr u8 source_ll = 1;
inline constexpr u8 target_ll = 2;
inline constexpr u8 prefix_info = 3;
inline constexpr u8 redirected_header = 4;
inline constexpr u8 mtu = 5;
inline constexpr u8 nonce = 14;
inline constexpr u8 rdnss = 25;
inline constexpr u8 dnssl = 31;
}  // namespace ndp_opt

// One option as found in a validated message.
struct NdpOptionView {
  u8 type = 0;
  u8 len_units = 0;  // the option's Length field (units of 8 bytes, >= 1)
  Bytes data;        // the option after its type and length bytes
};

// Walks an option area that NdpView::parse validated.
class NdpOptionIter {
 public:
  explicit NdpOptionIter(Bytes opts) noexcept : rest_(opts) {}
  // False when no option is left.
  bool next(NdpOptionView& out) noexcept;

 private:
  Bytes rest_;
};

class NdpView {
 public:
  // Err::not_supported if the type is not 133-136, Err::malformed if the
  // code is not 0 or an option has length 0 or overruns the message,
  // Err::truncated if the fixed part is short.
  static Result<NdpView> parse(Bytes icmpv6_msg) noexcept;

  u8 type() const noexcept { return b_[0]; }
  u16 checksum() const noexcept;

  // Router Advertisement only (PASST_CHECK on the type).
  u8 cur_hop_limit() const noexcept;
  bool managed() const noexcept;
  bool other_config() const noexcept;
  u16 router_lifetime() const noexcept;
  u32 reachable_time() const noexcept;
  u32 retrans_timer() const noexcept;
  // Neighbor Solicitation / Advertisement only.
  Ipv6Addr target() const noexcept;
  // Neighbor Advertisement only.
  bool router() const noexcept;
  bool solicited() const noexcept;
  bool override_flag() const noexcept;

  Bytes options() const noexcept { return b_.subspan(fixed_len(type())); }
  NdpOptionIter option_iter() const noexcept { return NdpOptionIter(options()); }
  // The first source/target link-layer address option, if it is 1 unit long.
  std::optional<MacAddr> source_ll() const noexcept { return ll_option(ndp_opt::source_ll); }
  std::optional<MacAddr> target_ll() const noexcept { return ll_option(ndp_opt::target_ll); }
  Bytes bytes() const noexcept { return b_; }

  // Fixed part length for an NDP type (0 for other types).
  static std::size_t fixed_len(u8 type) noexcept;

 private:
  explicit NdpView(Bytes b) noexcept : b_(b) {}
  std::optional<MacAddr> ll_option(u8 which) const noexcept;
  Bytes b_;
};

// RFC 4861 §6.1.1, §6.1.2, §7.1.1, §7.1.2 checks that need the IPv6 header:
// hop limit 255, checksum, RA source link-local, NS/NA target not
// multicast, no SLLA from the unspecified address, a DAD NS goes to a
// solicited-node address, an NA to a multicast address has S = 0.
// Err::malformed on the first failed check.
Status ndp_validate_ip(const NdpView& v, const Ipv6Addr& src, const Ipv6Addr& dst,
                       u8 hop_limit) noexcept;

// --- Parsed form -----------------------------------------------------------

inline constexpr std::size_t kNdpMaxPrefixes = 4;
inline constexpr std::size_t kNdpMaxRdnss = 2;          // RDNSS options
inline constexpr std::size_t kNdpMaxRdnssServers = 8;   // addresses per RDNSS option
inline constexpr std::size_t kNdpMaxDnssl = 2;          // DNSSL options
inline constexpr std::size_t kNdpMaxUnknown = 4;        // unknown options kept
inline constexpr std::size_t kNdpMaxUnknownData = 254;  // bytes after type/length

struct NdpPrefixInfo {
  u8 prefix_len = 64;
  bool on_link = true;     // L
  bool autonomous = true;  // A
  u32 valid_lifetime = kNdpInfiniteLifetime;
  u32 preferred_lifetime = kNdpInfiniteLifetime;
  Ipv6Addr prefix;
  bool operator==(const NdpPrefixInfo&) const noexcept = default;
};

struct NdpRdnss {
  u32 lifetime = kNdpInfiniteLifetime;
  FixedList<Ipv6Addr, kNdpMaxRdnssServers> servers;  // at least one to emit
  bool operator==(const NdpRdnss&) const noexcept = default;
};

struct NdpDnssl {
  u32 lifetime = kNdpInfiniteLifetime;
  DnsNameList domains;  // at least one, none of them the root, to emit
  bool operator==(const NdpDnssl&) const noexcept = default;
};

struct NdpRawOption {
  u8 type = 0;
  FixedBytes<kNdpMaxUnknownData> data;  // size + 2 must be a multiple of 8 to emit
  bool operator==(const NdpRawOption&) const noexcept = default;
};

struct NdpOptions {
  std::optional<MacAddr> source_ll;
  std::optional<MacAddr> target_ll;
  FixedList<NdpPrefixInfo, kNdpMaxPrefixes> prefixes;
  std::optional<u32> mtu;
  FixedList<NdpRdnss, kNdpMaxRdnss> rdnss;
  FixedList<NdpDnssl, kNdpMaxDnssl> dnssl;
  FixedList<NdpRawOption, kNdpMaxUnknown> unknown;

  // Bytes emitted for the options.
  std::size_t length() const noexcept;
  bool operator==(const NdpOptions&) const noexcept = default;
};

struct NdpRepr {
  u8 type = icmpv6_type::router_solicitation;
  // Router Advertisement.
  u8 cur_hop_limit = 0;
  bool managed = false;
  bool other_config = false;
  u16 router_lifetime = 0;
  u32 reachable_time = 0;
  u32 retrans_timer = 0;
  // Neighbor Solicitation / Advertisement.
  Ipv6Addr target;
  // Neighbor Advertisement.
  bool router = false;
  bool solicited = false;
  bool override_flag = false;

  NdpOptions options;

  // Err::full past a capacity above, Err::malformed for a typed option of
  // the wrong length or a bad DNSSL, Err::msg_size for a DNSSL name over
  // 255 bytes.
  static Result<NdpRepr> from(const NdpView& v) noexcept;

  std::size_t length() const noexcept;
  // Err::invalid if the repr cannot be sent as is: type not 133-136, an
  // RDNSS without servers, a DNSSL without domains or with the root name,
  // an unknown option whose size is not 8n-2, an option over 255 units.
  Status check() const noexcept;
  // Writes exactly length() bytes including the checksum for src -> dst.
  // Err::truncated if `out` is too short; check()'s error if invalid.
  Status emit(MutBytes out, const Ipv6Addr& src, const Ipv6Addr& dst) const noexcept;

  // Compares the fields that exist for `type` (and the options).
  friend bool operator==(const NdpRepr& a, const NdpRepr& b) noexcept;
};

}  // namespace passt::wire
