// IPv6 fixed header (RFC 8200) and the extension-header walk.
//
// parse() checks the version and that 40 + payload length fits the buffer;
// the view is then cut to 40 + payload length (trailing padding dropped).
// Jumbograms (payload length 0 with a Jumbo option, RFC 2675) are not
// supported: payload length 0 means an empty payload.
//
// upper_layer() walks extension headers to the upper-layer protocol:
//   hop-by-hop (0, only as the first header), routing (43), destination
//   options (60), mobility (135), HIP (139), shim6 (140) and the
//   experimental 253/254 all use the RFC 6564 layout: next header, length
//   in 8-byte units not counting the first 8.  Fragment (44) is 8 bytes.
//   AH (51) counts 4-byte units plus 2.
//   ESP (50) encrypts what follows: the walk stops and reports protocol 50.
//   No next header (59): the walk stops and reports protocol 59.
//   A non-first fragment (offset != 0) does not carry the next header's
//   start: the walk stops there and reports the fragment's next header.
// At most kIpv6MaxExtHeaders headers are skipped; a longer chain is
// Err::not_supported (the packet is dropped).
#pragma once

#include "util/addr.hpp"
#include "util/result.hpp"
#include "util/types.hpp"
#include "wire/ipv4.hpp"  // ipproto

namespace passt::wire {

inline constexpr std::size_t kIpv6HeaderLen = 40;
inline constexpr std::size_t kIpv6MaxExtHeaders = 16;
inline constexpr std::size_t kIpv6FragHeaderLen = 8;

// Result of the extension-header walk.
struct Ipv6UpperLayer {
  u8 protocol = 0;          // final next-header value (may be 50 or 59)
  std::size_t offset = 0;   // from the start of the IPv6 header
  Bytes bytes;              // offset .. end of the payload
  u8 ext_headers = 0;       // extension headers skipped
  bool fragment = false;    // a fragment header was seen
  u16 frag_offset = 0;      // in 8-byte units (valid if fragment)
  bool more_fragments = false;
  u32 frag_ident = 0;
};

// True for the next-header values the walk skips (ESP and 59 excluded).
bool ipv6_is_ext_header(u8 next_header) noexcept;

class Ipv6View {
 public:
  // Err::truncated: shorter than 40 + payload length.  Err::malformed:
  // version != 6.
  static Result<Ipv6View> parse(Bytes b) noexcept;

  u8 version() const noexcept { return static_cast<u8>(b_[0] >> 4); }
  u8 traffic_class() const noexcept;
  u32 flow_label() const noexcept;  // 20 bits
  u16 payload_len() const noexcept;
  u8 next_header() const noexcept { return b_[6]; }
  u8 hop_limit() const noexcept { return b_[7]; }
  Ipv6Addr src() const noexcept { return Ipv6Addr::load(b_.data() + 8); }
  Ipv6Addr dst() const noexcept { return Ipv6Addr::load(b_.data() + 24); }
  // Everything after the fixed header, payload_len() bytes.
  Bytes payload() const noexcept { return b_.subspan(kIpv6HeaderLen); }
  // The whole packet, 40 + payload_len() bytes.
  Bytes bytes() const noexcept { return b_; }

  // Extension-header walk (see the top of this file).  Err::truncated: a
  // header runs past the payload.  Err::malformed: hop-by-hop not first.
  // Err::not_supported: more than kIpv6MaxExtHeaders headers.
  Result<Ipv6UpperLayer> upper_layer() const noexcept;

 private:
  explicit Ipv6View(Bytes b) noexcept : b_(b) {}
  Bytes b_;
};

// The fixed header.
struct Ipv6Repr {
  Ipv6Addr src;
  Ipv6Addr dst;
  u8 next_header = 0;
  u8 hop_limit = 255;  // what passt uses for frames to the guest
  u8 traffic_class = 0;
  u32 flow_label = 0;    // 20 bits
  u16 payload_len = 0;

  static Ipv6Repr from(const Ipv6View& v) noexcept;
  static constexpr std::size_t header_len() noexcept { return kIpv6HeaderLen; }
  std::size_t total_len() const noexcept { return kIpv6HeaderLen + payload_len; }
  // Writes exactly header_len() bytes.  Err::truncated if `out` is shorter;
  // Err::invalid if flow_label does not fit 20 bits.
  Status emit(MutBytes out) const noexcept;
  bool operator==(const Ipv6Repr&) const noexcept = default;
};

}  // namespace passt::wire
