// IPv4, IPv6 and MAC addresses as value types, plus text parsing/formatting.
//
// Parsing and formatting are hand-written (no inet_pton: that is an OS
// header) and never allocate.  InAny holds either family as IPv6, with IPv4
// as v4-mapped (::ffff:a.b.c.d), like passt's union inany_addr.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "util/endian.hpp"
#include "util/types.hpp"

namespace passt {

struct Ipv4Addr {
  std::array<u8, 4> b{};

  static constexpr Ipv4Addr of(u8 a, u8 b1, u8 c, u8 d) noexcept { return {{a, b1, c, d}}; }
  static constexpr Ipv4Addr from_u32(u32 host_order) noexcept {
    return {{static_cast<u8>(host_order >> 24), static_cast<u8>(host_order >> 16),
             static_cast<u8>(host_order >> 8), static_cast<u8>(host_order)}};
  }
  static constexpr Ipv4Addr any() noexcept { return {}; }
  static constexpr Ipv4Addr broadcast() noexcept { return {{255, 255, 255, 255}}; }
  static constexpr Ipv4Addr loopback() noexcept { return {{127, 0, 0, 1}}; }
  static Ipv4Addr load(const u8* p) noexcept { return {{p[0], p[1], p[2], p[3]}}; }
  void store(u8* p) const noexcept {
    for (std::size_t i = 0; i < 4; i++) p[i] = b[i];
  }

  constexpr u32 to_u32() const noexcept {
    return (static_cast<u32>(b[0]) << 24) | (static_cast<u32>(b[1]) << 16) |
           (static_cast<u32>(b[2]) << 8) | b[3];
  }
  constexpr bool is_unspecified() const noexcept { return to_u32() == 0; }
  constexpr bool is_loopback() const noexcept { return b[0] == 127; }
  constexpr bool is_multicast() const noexcept { return (b[0] & 0xf0) == 0xe0; }
  constexpr bool is_broadcast() const noexcept { return to_u32() == 0xffffffffu; }
  constexpr bool is_link_local() const noexcept { return b[0] == 169 && b[1] == 254; }
  // Class E (240/4), reserved.
  constexpr bool is_reserved() const noexcept { return (b[0] & 0xf0) == 0xf0; }
  constexpr bool operator==(const Ipv4Addr&) const noexcept = default;

  // Does this address fall inside prefix/len?
  constexpr bool in_subnet(Ipv4Addr prefix, unsigned len) const noexcept {
    if (len == 0) return true;
    if (len > 32) len = 32;
    u32 mask = len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
    return (to_u32() & mask) == (prefix.to_u32() & mask);
  }
};

struct Ipv6Addr {
  std::array<u8, 16> b{};

  static constexpr Ipv6Addr any() noexcept { return {}; }
  static constexpr Ipv6Addr loopback() noexcept {
    return {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  }
  static constexpr Ipv6Addr all_nodes() noexcept {
    return {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  }
  static constexpr Ipv6Addr all_routers() noexcept {
    return {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
  }
  static Ipv6Addr load(const u8* p) noexcept {
    Ipv6Addr a;
    for (std::size_t i = 0; i < 16; i++) a.b[i] = p[i];
    return a;
  }
  void store(u8* p) const noexcept {
    for (std::size_t i = 0; i < 16; i++) p[i] = b[i];
  }

  constexpr bool is_unspecified() const noexcept {
    for (u8 x : b)
      if (x != 0) return false;
    return true;
  }
  constexpr bool is_loopback() const noexcept { return *this == loopback(); }
  constexpr bool is_multicast() const noexcept { return b[0] == 0xff; }
  constexpr bool is_link_local() const noexcept { return b[0] == 0xfe && (b[1] & 0xc0) == 0x80; }
  constexpr bool is_v4_mapped() const noexcept {
    for (std::size_t i = 0; i < 10; i++)
      if (b[i] != 0) return false;
    return b[10] == 0xff && b[11] == 0xff;
  }
  // ::a.b.c.d (deprecated IPv4-compatible form), excluding :: and ::1.
  constexpr bool is_v4_compat() const noexcept {
    for (std::size_t i = 0; i < 12; i++)
      if (b[i] != 0) return false;
    return !is_unspecified() && !is_loopback();
  }
  constexpr bool operator==(const Ipv6Addr&) const noexcept = default;

  constexpr bool in_subnet(const Ipv6Addr& prefix, unsigned len) const noexcept {
    if (len > 128) len = 128;
    std::size_t full = len / 8;
    for (std::size_t i = 0; i < full; i++)
      if (b[i] != prefix.b[i]) return false;
    unsigned rem = len % 8;
    if (rem == 0) return true;
    u8 mask = static_cast<u8>(0xff << (8 - rem));
    return (b[full] & mask) == (prefix.b[full] & mask);
  }
  // Solicited-node multicast address ff02::1:ffXX:XXXX for this address.
  constexpr Ipv6Addr solicited_node() const noexcept {
    return {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, b[13], b[14], b[15]}};
  }
};

struct MacAddr {
  std::array<u8, 6> b{};

  static constexpr MacAddr broadcast() noexcept { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  static MacAddr load(const u8* p) noexcept { return {{p[0], p[1], p[2], p[3], p[4], p[5]}}; }
  void store(u8* p) const noexcept {
    for (std::size_t i = 0; i < 6; i++) p[i] = b[i];
  }
  constexpr bool is_zero() const noexcept {
    for (u8 x : b)
      if (x != 0) return false;
    return true;
  }
  constexpr bool is_broadcast() const noexcept { return *this == broadcast(); }
  constexpr bool is_multicast() const noexcept { return (b[0] & 1) != 0; }
  constexpr bool operator==(const MacAddr&) const noexcept = default;
};

// Either family, stored as IPv6 (IPv4 as v4-mapped).
struct InAny {
  Ipv6Addr a;

  static constexpr InAny from(const Ipv6Addr& v6) noexcept { return {v6}; }
  static constexpr InAny from(Ipv4Addr v4) noexcept {
    return {{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, v4.b[0], v4.b[1], v4.b[2], v4.b[3]}}};
  }
  constexpr bool is_v4() const noexcept { return a.is_v4_mapped(); }
  constexpr Ipv4Addr v4() const noexcept { return {{a.b[12], a.b[13], a.b[14], a.b[15]}}; }
  constexpr const Ipv6Addr& v6() const noexcept { return a; }
  constexpr bool is_unspecified() const noexcept {
    return is_v4() ? v4().is_unspecified() : a.is_unspecified();
  }
  constexpr bool is_loopback() const noexcept {
    return is_v4() ? v4().is_loopback() : a.is_loopback();
  }
  constexpr bool is_multicast() const noexcept {
    return is_v4() ? v4().is_multicast() : a.is_multicast();
  }
  constexpr bool operator==(const InAny&) const noexcept = default;
};

// --- Text forms -----------------------------------------------------------

// Strict dotted-quad: four decimal octets, no leading '+', no empty parts.
std::optional<Ipv4Addr> parse_ipv4(std::string_view s) noexcept;
// RFC 4291 text forms including "::" and a trailing dotted quad.  No zone.
std::optional<Ipv6Addr> parse_ipv6(std::string_view s) noexcept;
// xx:xx:xx:xx:xx:xx (hex, case-insensitive).
std::optional<MacAddr> parse_mac(std::string_view s) noexcept;
// Either family; IPv4 comes back v4-mapped.
std::optional<InAny> parse_inany(std::string_view s) noexcept;

// Text buffers large enough for any address, including the terminating NUL.
struct AddrText {
  std::array<char, 48> buf{};
  const char* c_str() const noexcept { return buf.data(); }
  std::string_view view() const noexcept;
};

AddrText to_text(Ipv4Addr a) noexcept;
AddrText to_text(const Ipv6Addr& a) noexcept;  // RFC 5952 canonical form
AddrText to_text(const MacAddr& a) noexcept;
AddrText to_text(const InAny& a) noexcept;  // dotted quad for v4-mapped

}  // namespace passt
