// PortScan port: which ports the kernel has bound, per namespace.  pasta's
// "auto" forwarding (upstream-behaviour.md 1.7) follows the ports the other
// side listens on; upstream reads /proc/net/{tcp,tcp6,udp,udp6} every
// second.  Production: linux/procnet (those files, kept open, re-read).
// Tests and the simulator: a fake.
#pragma once

#include <cstddef>
#include <span>

#include "ports/hostnet.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::ports {

// One bit per port: bit (port & 63) of word (port >> 6).
inline constexpr std::size_t kPortWords = 65536 / 64;
using PortWords = std::span<u64, kPortWords>;

class PortScan {
 public:
  virtual ~PortScan() = default;
  // Sets (never clears) the bit of every port that a socket of `type`
  // (tcp or udp) has bound in `ns` in the "listening" state: TCP LISTEN,
  // UDP unconnected.  Both address families.  An error leaves `out` as far
  // as it got; callers treat it as "nothing more found".
  virtual Status bound_ports(Netns ns, SockType type, PortWords out) noexcept = 0;
};

}  // namespace passt::ports
