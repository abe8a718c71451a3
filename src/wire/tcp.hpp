// TCP header (RFC 9293) and options (MSS, window scale, SACK-permitted,
// SACK, timestamps: RFC 9293, 7323, 2018).
//
// parse() checks the 20-byte header and that the data offset is at least 5
// and within the buffer.  TCP has no length field: the payload is whatever
// follows the header in the buffer, so callers pass exactly the L4 bytes
// (IPv4 total length / IPv6 payload length already applied).  The checksum
// is not checked by parse(): checksum_ok() does it with the pseudo-header.
//
// Options never make a segment unparseable.  TcpOptions::parse walks them
// left to right: EOL ends the list, NOP is skipped, every other kind needs a
// length byte >= 2 that fits the remaining bytes.  A known kind must have its
// exact length (MSS 4, WS 3, SACK-permitted 2, timestamps 10, SACK 2 + 8n
// with n >= 1).  On any length error the walk stops and `malformed` is set;
// options parsed before the error are kept.  A repeated option overwrites
// the earlier one.  Other kinds are kept in order as (kind, data).
//
// TcpRepr::emit writes options in a fixed order (MSS, SACK-permitted and
// timestamps, window scale, SACK blocks, unknown options), NOP-aligned the
// way Linux does, padded with EOL to a multiple of 4 bytes.
//
// tcp_patch() is the data-path helper: frames are built once from a repr,
// then only seq/ack/flags/window change before each send.
#pragma once

#include <array>
#include <optional>

#include "util/addr.hpp"
#include "util/result.hpp"
#include "util/seq.hpp"
#include "util/types.hpp"

namespace passt::wire {

inline constexpr std::size_t kTcpHeaderLen = 20;
inline constexpr std::size_t kTcpMaxHeaderLen = 60;
inline constexpr std::size_t kTcpMaxOptionsLen = kTcpMaxHeaderLen - kTcpHeaderLen;
inline constexpr std::size_t kTcpMaxSackBlocks = 4;
// Each unknown option takes at least 2 bytes of the 40.
inline constexpr std::size_t kTcpMaxUnknownOptions = kTcpMaxOptionsLen / 2;

namespace tcp_flag {
inline constexpr u8 fin = 0x01;
inline constexpr u8 syn = 0x02;
inline constexpr u8 rst = 0x04;
inline constexpr u8 psh = 0x08;
inline constexpr u8 ack = 0x10;
inline constexpr u8 urg = 0x20;
inline constexpr u8 ece = 0x40;
inline constexpr u8 cwr = 0x80;
}  // namespace tcp_flag

namespace tcp_opt {
inline constexpr u8 eol = 0;
inline constexpr u8 nop = 1;
inline constexpr u8 mss = 2;
inline constexpr u8 wscale = 3;
inline constexpr u8 sack_permitted = 4;
inline constexpr u8 sack = 5;
inline constexpr u8 timestamps = 8;
}  // namespace tcp_opt

struct TcpSackBlock {
  Seq left;
  Seq right;
  bool operator==(const TcpSackBlock&) const noexcept = default;
};

struct TcpTimestamps {
  u32 val = 0;
  u32 ecr = 0;
  bool operator==(const TcpTimestamps&) const noexcept = default;
};

// An option of a kind we do not interpret; its data lives in
// TcpOptions::unknown_data at [off, off + len).
struct TcpUnknownOption {
  u8 kind = 0;
  u8 len = 0;  // data bytes, not counting kind and length
  u8 off = 0;
  bool operator==(const TcpUnknownOption&) const noexcept = default;
};

class TcpOptions {
 public:
  std::optional<u16> mss;
  std::optional<u8> wscale;  // as received; clamping to 14 is the caller's job
  bool sack_permitted = false;
  std::optional<TcpTimestamps> timestamps;
  u8 sack_count = 0;
  std::array<TcpSackBlock, kTcpMaxSackBlocks> sack{};
  // The list had a length error; everything before it was kept.
  bool malformed = false;

  // Never fails (see the top of this file).
  static TcpOptions parse(Bytes opts) noexcept;

  // Bytes emit() writes, padding included (a multiple of 4).
  std::size_t length() const noexcept;
  // Writes exactly length() bytes.  Err::invalid if the options do not fit
  // 40 bytes or sack_count > 4; Err::truncated if `out` is too short.
  Status emit(MutBytes out) const noexcept;

  // Unknown options, in the order received.
  std::size_t unknown_count() const noexcept { return unknown_count_; }
  const TcpUnknownOption& unknown(std::size_t i) const noexcept;
  Bytes unknown_data(std::size_t i) const noexcept;
  // Err::invalid if `kind` is one we interpret (0-5, 8) or data is longer
  // than 38 bytes; Err::full if the option storage (20 options, 40 bytes)
  // is exhausted.
  Status add_unknown(u8 kind, Bytes data) noexcept;

  // Semantic equality (unused array slots are ignored).
  bool operator==(const TcpOptions& o) const noexcept;

 private:
  u8 unknown_count_ = 0;
  u8 unknown_used_ = 0;
  std::array<TcpUnknownOption, kTcpMaxUnknownOptions> unknown_{};
  std::array<u8, kTcpMaxOptionsLen> unknown_data_{};
};

class TcpView {
 public:
  // Err::truncated: shorter than 20 bytes or than the data offset.
  // Err::malformed: data offset < 5.
  static Result<TcpView> parse(Bytes b) noexcept;

  u16 src_port() const noexcept;
  u16 dst_port() const noexcept;
  Seq seq() const noexcept;
  Seq ack() const noexcept;
  u8 data_offset() const noexcept { return static_cast<u8>(b_[12] >> 4); }  // words
  std::size_t header_len() const noexcept { return static_cast<std::size_t>(data_offset()) * 4; }
  // The eight flag bits (tcp_flag::*).
  u8 flags() const noexcept { return b_[13]; }
  bool has(u8 flag) const noexcept { return (flags() & flag) != 0; }
  // The four bits between data offset and CWR (reserved, and AE/NS).
  u8 reserved() const noexcept { return static_cast<u8>(b_[12] & 0x0f); }
  u16 window() const noexcept;
  u16 checksum() const noexcept;
  u16 urgent() const noexcept;
  Bytes options() const noexcept { return b_.subspan(kTcpHeaderLen, header_len() - kTcpHeaderLen); }
  Bytes header() const noexcept { return b_.first(header_len()); }
  Bytes payload() const noexcept { return b_.subspan(header_len()); }
  Bytes bytes() const noexcept { return b_; }

  bool checksum_ok(Ipv4Addr src, Ipv4Addr dst) const noexcept;
  bool checksum_ok(const Ipv6Addr& src, const Ipv6Addr& dst) const noexcept;

 private:
  explicit TcpView(Bytes b) noexcept : b_(b) {}
  Bytes b_;
};

struct TcpRepr {
  u16 src_port = 0;
  u16 dst_port = 0;
  Seq seq;
  Seq ack;
  u8 flags = 0;
  u16 window = 0;
  u16 urgent = 0;
  TcpOptions options;
  std::size_t payload_len = 0;

  // Drops the reserved bits and the checksum.
  static TcpRepr from(const TcpView& v) noexcept;
  std::size_t header_len() const noexcept { return kTcpHeaderLen + options.length(); }
  std::size_t length() const noexcept { return header_len() + payload_len; }
  // Write exactly header_len() bytes; the payload must already be in place
  // after the header.  Err::truncated if out.size() < length(); Err::invalid
  // if the options cannot be encoded.
  // Checksum field 0 (tests, or checksum computed elsewhere).
  Status emit(MutBytes out) const noexcept;
  Status emit(MutBytes out, Ipv4Addr src, Ipv4Addr dst) const noexcept;
  Status emit(MutBytes out, const Ipv6Addr& src, const Ipv6Addr& dst) const noexcept;
  bool operator==(const TcpRepr&) const noexcept = default;
};

// Data path: the fields that change between segments of a connection.
struct TcpPatch {
  Seq seq;
  Seq ack;
  u8 flags = 0;
  u16 window = 0;
};

// `segment` is one whole TCP segment (header + payload) whose header was
// written earlier.  Sets seq/ack/flags/window and recomputes the checksum
// over the pseudo-header and segment.size() bytes.  Err::truncated /
// Err::malformed if the segment is not a valid TCP header (see TcpView).
Status tcp_patch(MutBytes segment, const TcpPatch& p, Ipv4Addr src, Ipv4Addr dst) noexcept;
Status tcp_patch(MutBytes segment, const TcpPatch& p, const Ipv6Addr& src,
                 const Ipv6Addr& dst) noexcept;
// Same, with the pseudo-header partial sum precomputed by the caller:
// pseudo_header_v4/v6(src, dst, 6, segment.size()).
Status tcp_patch(MutBytes segment, const TcpPatch& p, u32 pseudo_partial) noexcept;

}  // namespace passt::wire
