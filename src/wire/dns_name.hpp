// DNS wire-format domain names (RFC 1035 §3.1, §4.1.4) as carried by the
// service protocols: DHCP option 119 (RFC 3397, with compression pointers),
// DHCPv6 option 24 (RFC 8415 §10, no compression) and the NDP DNSSL option
// (RFC 8106 §5.2, no compression).
//
// Theory of operation
// -------------------
// A DnsName holds one validated name in *uncompressed wire form*: a sequence
// of labels (length byte 1..63, then that many bytes) ending in the zero
// root label, at most 255 bytes in total.  Wire form is the canonical
// representation because it round-trips every legal name exactly; the text
// form ("example.com") is only for configuration and tests.  Label bytes are
// not restricted (RFC 2181 §11), so a label may even contain '.': such a
// name renders to ambiguous text but still encodes and decodes exactly.
//
// Lists are encoded in order.  With compression on, each name reuses the
// longest suffix already written earlier in the same buffer through a
// 2-byte pointer (offset from the start of the list buffer: for option 119
// that is the start of the concatenated option data, RFC 3397 §2).  Suffixes
// are matched byte for byte (case-sensitively), so decoding returns exactly
// the names that were encoded.
//
// Decoding follows pointers only when the caller allows them, and only
// strictly backwards: each jump must land before the previous jump target
// (or before the start of the name for the first jump).  Jump targets thus
// strictly decrease, so decoding ends after at most `buffer size` jumps and
// a loop is impossible; the 255-byte name limit bounds the output.  Label
// types 01 and 10 (RFC 6891 extended labels) are rejected.
//
// FixedList<T, N> lives here because every service repr (NDP, DHCP, DHCPv6)
// already depends on this header; it is the "no growing container" list
// used for the reprs' variable parts.
#pragma once

#include <array>
#include <cstring>
#include <span>
#include <string_view>

#include "util/check.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::wire {

// ---------------------------------------------------------------------------
// FixedList: a vector with a capacity fixed at compile time (no heap).
// ---------------------------------------------------------------------------
template <class T, std::size_t N>
class FixedList {
 public:
  static constexpr std::size_t capacity() noexcept { return N; }
  std::size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  bool full() const noexcept { return n_ == N; }
  void clear() noexcept { n_ = 0; }

  // Appends; false (and nothing stored) when the list is full.
  [[nodiscard]] bool push(const T& v) noexcept {
    if (n_ == N) return false;
    items_[n_++] = v;
    return true;
  }
  // Replaces the contents with `src`; false (list left empty) if it does
  // not fit.
  [[nodiscard]] bool assign(std::span<const T> src) noexcept {
    n_ = 0;
    if (src.size() > N) return false;
    for (std::size_t i = 0; i < src.size(); i++) items_[i] = src[i];
    n_ = src.size();
    return true;
  }

  const T& operator[](std::size_t i) const noexcept {
    PASST_CHECK(i < n_);
    return items_[i];
  }
  T& operator[](std::size_t i) noexcept {
    PASST_CHECK(i < n_);
    return items_[i];
  }
  const T& back() const noexcept { return (*this)[n_ - 1]; }
  T& back() noexcept { return (*this)[n_ - 1]; }
  const T* begin() const noexcept { return items_.data(); }
  const T* end() const noexcept { return items_.data() + n_; }
  T* begin() noexcept { return items_.data(); }
  T* end() noexcept { return items_.data() + n_; }
  std::span<const T> span() const noexcept { return {items_.data(), n_}; }

  friend bool operator==(const FixedList& a, const FixedList& b) noexcept {
    if (a.n_ != b.n_) return false;
    for (std::size_t i = 0; i < a.n_; i++)
      if (!(a.items_[i] == b.items_[i])) return false;
    return true;
  }

 private:
  std::array<T, N> items_{};
  std::size_t n_ = 0;
};

// Opaque bytes of bounded length, owned.
template <std::size_t N>
using FixedBytes = FixedList<u8, N>;

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------
inline constexpr std::size_t kDnsMaxLabel = 63;
inline constexpr std::size_t kDnsMaxName = 255;      // wire bytes, root label included
inline constexpr std::size_t kDnsMaxNameText = 253;  // text bytes, no trailing dot
// Names a repr's list can hold (passt sends at most MAXDNSRCH = 6).
inline constexpr std::size_t kDnsMaxListNames = 8;

// Text rendering of a name (no trailing dot; "." for root).  Label bytes
// are copied as they are: view() is exact even if they hold NUL or '.',
// c_str() stops at the first NUL.
struct DnsNameText {
  std::array<char, kDnsMaxNameText + 2> buf{};
  std::size_t len = 0;
  std::string_view view() const noexcept { return {buf.data(), len}; }
  const char* c_str() const noexcept { return buf.data(); }
};

enum class DnsCompression : u8 { none, rfc1035 };
struct DnsDecoded;
class DnsName;
Result<DnsDecoded> dns_decode_name(Bytes buf, std::size_t pos, DnsCompression c) noexcept;

class DnsName {
 public:
  // The root name (a single zero byte).
  DnsName() noexcept { wire_[0] = 0; }

  // "example.com", "example.com." (trailing dot optional), "" or "." for
  // root.  Err::malformed for an empty label ("a..b", ".a"), Err::msg_size
  // for a label over 63 bytes or a name over 255 wire bytes.
  static Result<DnsName> from_text(std::string_view text) noexcept;
  // Exactly one uncompressed name filling `wire` (labels, then the root
  // label, nothing after).  Err::malformed / Err::msg_size as above.
  static Result<DnsName> from_wire(Bytes wire) noexcept;

  // Uncompressed wire form, root label included (1..255 bytes).
  Bytes wire() const noexcept { return {wire_.data(), len_}; }
  std::size_t wire_length() const noexcept { return len_; }
  bool is_root() const noexcept { return len_ == 1; }
  std::size_t label_count() const noexcept;
  DnsNameText text() const noexcept;

  friend bool operator==(const DnsName& a, const DnsName& b) noexcept {
    return a.len_ == b.len_ && std::memcmp(a.wire_.data(), b.wire_.data(), a.len_) == 0;
  }

 private:
  friend Result<DnsDecoded> dns_decode_name(Bytes, std::size_t, DnsCompression) noexcept;
  std::array<u8, kDnsMaxName> wire_{};
  u8 len_ = 1;
};

using DnsNameList = FixedList<DnsName, kDnsMaxListNames>;

// Bytes dns_encode_list() writes for `names`.
std::size_t dns_list_length(std::span<const DnsName> names, DnsCompression c) noexcept;
// Writes the names one after the other at the start of `out` (pointer
// offsets are relative to out[0]).  Returns the number of bytes written,
// always dns_list_length(); Err::truncated (nothing promised about `out`)
// when `out` is shorter.
Result<std::size_t> dns_encode_list(std::span<const DnsName> names, DnsCompression c,
                                    MutBytes out) noexcept;

struct DnsDecoded {
  DnsName name;
  std::size_t next = 0;  // offset just past the name's bytes at `pos`
};

// Decodes the name starting at `pos` in `buf`.  With DnsCompression::rfc1035
// pointers are followed (offsets relative to buf[0], strictly backwards, see
// above); otherwise a pointer is Err::malformed.  Err::truncated if the name
// runs past the end of `buf`, Err::msg_size if it exceeds 255 bytes.
Result<DnsDecoded> dns_decode_name(Bytes buf, std::size_t pos, DnsCompression c) noexcept;

// Decodes a list of names that fills `buf` exactly (DHCP 119 data,
// DHCPv6 24 data).  Err::full if more than `out.capacity()` names.
Status dns_decode_list(Bytes buf, DnsCompression c, DnsNameList& out) noexcept;

}  // namespace passt::wire
