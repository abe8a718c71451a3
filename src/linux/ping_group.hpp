// Can we open ping sockets?  net.ipv4.ping_group_range (per network
// namespace, default "1 0": nobody) lists the groups whose members may
// create unprivileged ICMP / ICMPv6 echo sockets (SOCK_DGRAM with
// IPPROTO_ICMP / IPPROTO_ICMPV6), which proto/icmp.hpp relies on.  The
// kernel's test (ping_init_sock) is: the effective or a supplementary gid
// lies within [low, high]; there is no capability that bypasses it.
//
// The range as read from /proc is expressed in the reader's user namespace,
// with gids that have no mapping there shown as the overflow gid (65534), so
// inside a user namespace (pasta spawning a command) the file alone can be
// misleading: probe_ping_socket() asks the kernel instead, and the file is
// read for the warning's text.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::os {

inline constexpr const char* kPingGroupRangePath = "/proc/sys/net/ipv4/ping_group_range";

struct PingGroupRange {
  u32 low = 1;
  u32 high = 0;
  bool operator==(const PingGroupRange&) const noexcept = default;
};

// "LOW<whitespace>HIGH" with an optional trailing newline, as the kernel
// prints it.  nullopt unless exactly two decimal numbers below 2^32.
std::optional<PingGroupRange> parse_ping_group_range(std::string_view s) noexcept;

// The kernel's rule: is `egid`, or one of `groups`, within the range?
bool ping_group_allowed(const PingGroupRange& r, u32 egid, std::span<const u32> groups) noexcept;

struct PingGroupCheck {
  bool known = false;    // the file was read and parsed
  bool allowed = false;  // by the file, for our effective and supplementary groups
  PingGroupRange range;
  u32 egid = 0;
};

// Reads `path` (the current network namespace's sysctl) and applies the
// rule to our credentials.  Start-up only (allocates).
PingGroupCheck check_ping_group_range(const char* path = kPingGroupRangePath);

// Opens and closes one ping socket of the family (in our own network
// namespace): Err::access when ping_group_range excludes us,
// Err::not_supported when the kernel has no such sockets (or no IPv6).
Status probe_ping_socket(bool v6) noexcept;

// The start-up warning for a failed probe (empty if `probe_err` is none).
std::string ping_socket_warning(Err probe_err, const PingGroupCheck& c);

}  // namespace passt::os
