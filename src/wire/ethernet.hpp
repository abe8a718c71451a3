// Ethernet II header (no 802.1Q tags, no FCS: neither qemu's stream socket
// nor a tap device carries them).
#pragma once

#include "util/addr.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::wire {

inline constexpr std::size_t kEthHeaderLen = 14;
inline constexpr std::size_t kEthMinFrame = kEthHeaderLen;
inline constexpr std::size_t kEthMaxFrame = 65535 + kEthHeaderLen;

namespace ethertype {
inline constexpr u16 ipv4 = 0x0800;
inline constexpr u16 arp = 0x0806;
inline constexpr u16 ipv6 = 0x86dd;
}  // namespace ethertype

// Zero-copy view.  After parse() succeeds no accessor can read out of
// bounds (docs/wire-contract.md).
class EthernetView {
 public:
  static Result<EthernetView> parse(Bytes frame) noexcept;

  MacAddr dst() const noexcept { return MacAddr::load(b_.data()); }
  MacAddr src() const noexcept { return MacAddr::load(b_.data() + 6); }
  u16 ethertype() const noexcept;
  Bytes payload() const noexcept { return b_.subspan(kEthHeaderLen); }
  Bytes bytes() const noexcept { return b_; }

 private:
  explicit EthernetView(Bytes b) noexcept : b_(b) {}
  Bytes b_;
};

// Parsed form.
struct EthernetRepr {
  MacAddr dst;
  MacAddr src;
  u16 ethertype = 0;

  static EthernetRepr from(const EthernetView& v) noexcept;
  static constexpr std::size_t header_len() noexcept { return kEthHeaderLen; }
  // Writes exactly header_len() bytes at the start of `out`.
  // Returns Err::truncated (and writes nothing) if `out` is too short.
  Status emit(MutBytes out) const noexcept;
  bool operator==(const EthernetRepr&) const noexcept = default;
};

}  // namespace passt::wire
