#include "linux/ping_group.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "linux/os_error.hpp"

namespace passt::os {

namespace {

bool parse_u32(std::string_view& s, u32* out) noexcept {
  std::size_t i = 0;
  u64 v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    v = v * 10 + static_cast<u64>(s[i] - '0');
    if (v > 0xffffffffu) return false;
    i++;
  }
  if (i == 0) return false;
  *out = static_cast<u32>(v);
  s.remove_prefix(i);
  return true;
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

}  // namespace

std::optional<PingGroupRange> parse_ping_group_range(std::string_view s) noexcept {
  PingGroupRange r;
  if (!parse_u32(s, &r.low)) return std::nullopt;
  if (s.empty() || !is_space(s.front())) return std::nullopt;
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  if (!parse_u32(s, &r.high)) return std::nullopt;
  if (!s.empty() && s.front() == '\n') s.remove_prefix(1);
  if (!s.empty()) return std::nullopt;
  return r;
}

bool ping_group_allowed(const PingGroupRange& r, u32 egid, std::span<const u32> groups) noexcept {
  auto in = [&r](u32 g) noexcept { return r.low <= g && g <= r.high; };
  if (in(egid)) return true;
  for (u32 g : groups)
    if (in(g)) return true;
  return false;
}

PingGroupCheck check_ping_group_range(const char* path) {
  PingGroupCheck c;
  c.egid = ::getegid();  // gid_t is a u32 on Linux
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return c;
  char buf[64];
  ssize_t n = ::read(fd, buf, sizeof(buf));
  ::close(fd);
  if (n <= 0) return c;
  auto r = parse_ping_group_range(std::string_view(buf, static_cast<std::size_t>(n)));
  if (!r) return c;
  c.known = true;
  c.range = *r;
  std::vector<u32> groups;
  int ng = ::getgroups(0, nullptr);
  if (ng > 0) {
    std::vector<gid_t> g(static_cast<std::size_t>(ng));
    ng = ::getgroups(ng, g.data());
    for (int k = 0; k < ng; k++) groups.push_back(g[static_cast<std::size_t>(k)]);
  }
  c.allowed = ping_group_allowed(c.range, c.egid, groups);
  return c;
}

Status probe_ping_socket(bool v6) noexcept {
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC,
                          v6 ? static_cast<int>(IPPROTO_ICMPV6) : static_cast<int>(IPPROTO_ICMP));
  if (fd < 0) return last_err();
  ::close(fd);
  return {};
}

std::string ping_socket_warning(Err probe_err, const PingGroupCheck& c) {
  char buf[512];
  if (probe_err == Err::none) return {};
  if (probe_err == Err::access) {
    if (c.known)
      std::snprintf(buf, sizeof(buf),
                    "Can't open ping sockets: net.ipv4.ping_group_range is \"%u %u\", which does not "
                    "include our group %u; ICMP/ICMPv6 echo requests from the guest will be dropped "
                    "(sysctl -w net.ipv4.ping_group_range=\"%u %u\" would allow it)",
                    c.range.low, c.range.high, c.egid, c.egid < c.range.low ? c.egid : c.range.low,
                    c.egid > c.range.high ? c.egid : c.range.high);
    else
      std::snprintf(buf, sizeof(buf),
                    "Can't open ping sockets: our group %u is not in net.ipv4.ping_group_range; "
                    "ICMP/ICMPv6 echo requests from the guest will be dropped",
                    c.egid);
  } else {
    std::snprintf(buf, sizeof(buf),
                  "Can't open ping sockets (%s): ICMP/ICMPv6 echo requests from the guest will be "
                  "dropped",
                  err_name(probe_err));
  }
  return buf;
}

}  // namespace passt::os
