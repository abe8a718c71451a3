// ICMPv4 (RFC 792) messages.
//
// The view checks the 8-byte header (type, code, checksum, 4 bytes of
// "rest of header") and exposes everything after it as payload.  The
// checksum covers the whole message; parse() does not check it, callers use
// checksum_ok().
//
// Reprs describe a header; emit() writes exactly header_len() bytes and
// computes the checksum over the header and the payload, which must already
// sit right after the header in `out` (out.size() >= length()): on the data
// path the payload is received in place and never copied.
#pragma once

#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::wire {

inline constexpr std::size_t kIcmpHeaderLen = 8;

namespace icmp_type {
inline constexpr u8 echo_reply = 0;
inline constexpr u8 dest_unreach = 3;
inline constexpr u8 redirect = 5;
inline constexpr u8 echo_request = 8;
inline constexpr u8 time_exceeded = 11;
inline constexpr u8 param_problem = 12;
}  // namespace icmp_type

class IcmpView {
 public:
  // Err::truncated if shorter than 8 bytes.
  static Result<IcmpView> parse(Bytes b) noexcept;

  u8 type() const noexcept { return b_[0]; }
  u8 code() const noexcept { return b_[1]; }
  u16 checksum() const noexcept;
  u32 rest() const noexcept;  // bytes 4..7
  // Echo request/reply interpretation of rest().
  u16 echo_id() const noexcept;
  u16 echo_seq() const noexcept;
  bool is_echo() const noexcept {
    return type() == icmp_type::echo_request || type() == icmp_type::echo_reply;
  }
  Bytes payload() const noexcept { return b_.subspan(kIcmpHeaderLen); }
  Bytes bytes() const noexcept { return b_; }
  // Internet checksum over the whole message verifies.
  bool checksum_ok() const noexcept;

 private:
  explicit IcmpView(Bytes b) noexcept : b_(b) {}
  Bytes b_;
};

// Any ICMPv4 message: the header fields and the payload length.
struct IcmpRepr {
  u8 type = 0;
  u8 code = 0;
  u32 rest = 0;
  std::size_t payload_len = 0;

  static IcmpRepr from(const IcmpView& v) noexcept;
  static constexpr std::size_t header_len() noexcept { return kIcmpHeaderLen; }
  std::size_t length() const noexcept { return kIcmpHeaderLen + payload_len; }
  // Err::truncated if out.size() < length().
  Status emit(MutBytes out) const noexcept;
  bool operator==(const IcmpRepr&) const noexcept = default;
};

// Echo request (type 8) or reply (type 0), code 0.
struct IcmpEchoRepr {
  bool request = true;
  u16 id = 0;
  u16 seq = 0;
  std::size_t payload_len = 0;

  // Err::not_supported for other types; Err::malformed for a non-zero code.
  static Result<IcmpEchoRepr> from(const IcmpView& v) noexcept;
  static constexpr std::size_t header_len() noexcept { return kIcmpHeaderLen; }
  std::size_t length() const noexcept { return kIcmpHeaderLen + payload_len; }
  // Err::truncated if out.size() < length().
  Status emit(MutBytes out) const noexcept;
  bool operator==(const IcmpEchoRepr&) const noexcept = default;
};

}  // namespace passt::wire
