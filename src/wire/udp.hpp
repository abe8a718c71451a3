// UDP (RFC 768; RFC 8200 section 8.1 for IPv6).
//
// parse() checks the 8-byte header and the length field: it must be at
// least 8 and no more than the buffer; the view is cut to it (bytes past
// the length field are not part of the datagram).  A zero-length payload is
// fine.  The checksum is not checked by parse(): checksum_ok() does it with
// the pseudo-header.  Over IPv4 a zero checksum field means "no checksum"
// and verifies; over IPv6 it is invalid.
//
// The repr describes the header; emit() writes exactly header_len() bytes
// and takes the payload to be already in place after it (out.size() >=
// length()).  With addresses it computes the checksum over the
// pseudo-header, header and payload (a computed 0 is sent as 0xffff);
// without, it writes checksum 0 (IPv4 only: "no checksum").
#pragma once

#include "util/addr.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::wire {

inline constexpr std::size_t kUdpHeaderLen = 8;
inline constexpr std::size_t kUdpMaxPayload = 65535 - kUdpHeaderLen;

class UdpView {
 public:
  // Err::truncated: shorter than 8 bytes or than the length field.
  // Err::malformed: length field < 8.
  static Result<UdpView> parse(Bytes b) noexcept;

  u16 src_port() const noexcept;
  u16 dst_port() const noexcept;
  u16 length() const noexcept;  // == bytes().size()
  u16 checksum() const noexcept;
  Bytes payload() const noexcept { return b_.subspan(kUdpHeaderLen); }
  Bytes bytes() const noexcept { return b_; }

  bool checksum_ok(Ipv4Addr src, Ipv4Addr dst) const noexcept;
  bool checksum_ok(const Ipv6Addr& src, const Ipv6Addr& dst) const noexcept;

 private:
  explicit UdpView(Bytes b) noexcept : b_(b) {}
  Bytes b_;
};

struct UdpRepr {
  u16 src_port = 0;
  u16 dst_port = 0;
  std::size_t payload_len = 0;

  static UdpRepr from(const UdpView& v) noexcept;
  static constexpr std::size_t header_len() noexcept { return kUdpHeaderLen; }
  std::size_t length() const noexcept { return kUdpHeaderLen + payload_len; }
  // All: Err::truncated if out.size() < length(); Err::invalid if
  // length() > 65535.
  // Checksum field 0 ("none", IPv4 only).
  Status emit(MutBytes out) const noexcept;
  Status emit(MutBytes out, Ipv4Addr src, Ipv4Addr dst) const noexcept;
  Status emit(MutBytes out, const Ipv6Addr& src, const Ipv6Addr& dst) const noexcept;
  bool operator==(const UdpRepr&) const noexcept = default;

 private:
  Status emit_header(MutBytes out) const noexcept;
};

}  // namespace passt::wire
