// rtnetlink (NETLINK_ROUTE) client: links, addresses and routes, in the
// calling task's network namespace or in another one.
//
// Theory of operation
//  * Hand-written netlink (no libmnl): we need about a dozen message kinds,
//    all built and parsed here with explicit bounds; the kernel structs are
//    copied in and out of byte buffers with memcpy, never cast onto them.
//    docs/namespaces.md says why not libmnl.
//  * One socket per namespace.  Netlink sockets, like all sockets, belong to
//    the namespace they were created in: open(&runner) creates the socket
//    inside the runner's namespace (a NetnsRunner child calls socket()); all
//    later traffic on it concerns that namespace, from any task.
//  * Every request carries NLM_F_ACK and a fresh sequence number; a request
//    succeeds only when the kernel's NLMSG_ERROR with error 0 (the ACK) for
//    that sequence arrives.  Dumps end with NLMSG_DONE, whose error field is
//    checked too.  Messages not from the kernel (nl_pid != 0) or with another
//    sequence number (left over from an earlier, failed request) are skipped.
//  * NETLINK_GET_STRICT_CHK is requested at open() (Linux >= 4.20): the
//    kernel then filters dumps by the header fields we set (route table,
//    address ifindex).  Without it (older kernels) we filter the same way in
//    user space, so results do not depend on it.
//  * Bounds: one 64 KiB receive buffer and one 64 KiB request buffer per
//    socket, allocated at open().  A datagram that does not fit is
//    Err::truncated.  A dump keeps at most kMaxDumpEntries matching entries;
//    the rest are counted (last_dump_dropped()) and the dump is still read to
//    its end.  The socket has a 5 s receive timeout: a kernel that does not
//    answer is Err::timed_out, never a hang.  At most kMaxReplies datagrams
//    are read per request while looking for its answer.
//  * All of this runs at start-up (pasta's namespace set-up, template
//    discovery): results are std::vector / std::string.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>
#include <vector>

#include "linux/netns.hpp"
#include "util/addr.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::os {

// --- What dumps return -------------------------------------------------------

struct NlLink {
  u32 index = 0;
  std::string name;
  u32 mtu = 0;
  bool has_mac = false;  // IFLA_ADDRESS of 6 bytes
  MacAddr mac;
  u32 flags = 0;  // IFF_* (ifi_flags)
  u16 type = 0;   // ARPHRD_*

  bool up() const noexcept;        // IFF_UP
  bool noarp() const noexcept;     // IFF_NOARP
  bool loopback() const noexcept;  // IFF_LOOPBACK
};

struct NlAddr {
  u32 ifindex = 0;
  int af = AF_UNSPEC;  // AF_INET or AF_INET6
  InAny addr;          // IFA_LOCAL if present, else IFA_ADDRESS (v4 v4-mapped)
  u8 prefix_len = 0;
  u8 scope = 0;        // RT_SCOPE_*
  u32 flags = 0;       // IFA_F_* (IFA_FLAGS if present, else ifa_flags)
  std::vector<u8> msg; // ifaddrmsg + attributes as dumped (for addr_dup)

  bool deprecated() const noexcept;
  bool tentative() const noexcept;
  bool nodad() const noexcept;
  bool permanent() const noexcept;
  bool link_scope() const noexcept;  // RT_SCOPE_LINK
  Ipv4Addr v4() const noexcept { return addr.v4(); }
  const Ipv6Addr& v6() const noexcept { return addr.v6(); }
};

struct NlNexthop {
  u32 ifindex = 0;
  bool has_gw = false;
  InAny gw;
  u8 hops = 0;  // rtnh_hops: the weight minus one
  u8 flags = 0; // RTNH_F_*
};

struct NlRoute {
  int af = AF_UNSPEC;
  u32 table = 0;  // RTA_TABLE, else rtm_table
  u8 dst_len = 0;
  bool has_dst = false;
  InAny dst;
  u8 protocol = 0;
  u8 scope = 0;
  u8 type = 0;  // RTN_*
  u32 oif = 0;  // RTA_OIF; 0 for multipath routes (see nexthops)
  bool has_gw = false;
  InAny gw;
  u32 priority = 0;
  std::vector<NlNexthop> nexthops;  // RTA_MULTIPATH, in order
  std::vector<u8> msg;              // rtmsg + attributes as dumped (for route_dup)

  bool is_default() const noexcept { return dst_len == 0; }
  // Does the route leave through `ifindex` (its OIF, or any nexthop's)?
  bool uses(u32 ifindex) const noexcept;
  // The gateway and interface to use: the route's own, or for a multipath
  // route those of the nexthop with the highest weight (the first of equals),
  // as upstream does.  nullptr if there is none.
  const InAny* best_gateway() const noexcept;
  u32 best_oif() const noexcept;
};

// --- Message parsing (pure; exposed for the tests) -------------------------------

namespace nl {
// `payload`: the bytes after the nlmsghdr of an RTM_NEWLINK/NEWADDR/NEWROUTE.
// Err::truncated / Err::malformed for bad lengths; unknown attributes are
// skipped.
Result<NlLink> parse_link(Bytes payload);
Result<NlAddr> parse_addr(Bytes payload);
Result<NlRoute> parse_route(Bytes payload);
}  // namespace nl

// --- Building requests -----------------------------------------------------------

// Writes one netlink message into a caller-provided buffer.  Overflow is
// sticky: further puts are ignored and finish() fails with Err::full.
class NlBuilder {
 public:
  explicit NlBuilder(MutBytes buf) noexcept : buf_(buf) {}

  void start(u16 type, u16 flags) noexcept;
  // Appends raw bytes, 4-byte aligned (a family header such as ifinfomsg).
  void put(const void* data, std::size_t len) noexcept;
  void put_attr(u16 type, const void* data, std::size_t len) noexcept;
  void put_u8(u16 type, u8 v) noexcept { put_attr(type, &v, 1); }
  void put_u32(u16 type, u32 v) noexcept { put_attr(type, &v, 4); }
  void put_str(u16 type, std::string_view s) noexcept;  // NUL-terminated
  // Address bytes of the family (4 or 16).
  void put_inany(u16 type, int af, const InAny& a) noexcept;
  // Nested attribute: begin_nest() returns a token for end_nest().
  std::size_t begin_nest(u16 type) noexcept;
  void end_nest(std::size_t token) noexcept;
  // Offset of the next byte (for in-place edits).
  std::size_t size() const noexcept { return len_; }
  MutBytes bytes() noexcept { return buf_.subspan(0, len_); }
  bool overflowed() const noexcept { return overflow_; }

 private:
  MutBytes buf_;
  std::size_t len_ = 0;
  bool overflow_ = false;
};

// --- The socket --------------------------------------------------------------------

class Netlink {
 public:
  static constexpr std::size_t kBufBytes = std::size_t{64} * 1024;
  static constexpr std::size_t kMaxDumpEntries = 4096;
  static constexpr std::size_t kMaxReplies = 4096;  // datagrams read per request

  Netlink() noexcept = default;
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  // Opens a netlink socket of `protocol` (NETLINK_ROUTE by default) in the
  // runner's namespace (nullptr: the caller's).  Allocates both buffers:
  // replies of `rx_bytes` (the kernel fills a dump datagram up to the largest
  // buffer we read with, at most 32 KiB), requests of `tx_bytes`.
  Status open(NetnsRunner* ns = nullptr, int protocol = 0, std::size_t rx_bytes = kBufBytes,
              std::size_t tx_bytes = kBufBytes);
  void close() noexcept;
  bool is_open() const noexcept { return fd_ >= 0; }
  int fd() const noexcept { return fd_; }
  bool strict() const noexcept { return strict_; }  // NETLINK_GET_STRICT_CHK on
  std::size_t last_dump_dropped() const noexcept { return dropped_; }

  // --- queries ---
  Result<std::vector<NlLink>> links();
  Result<NlLink> link(u32 ifindex);
  Result<NlLink> link(std::string_view name);  // Err::no_entry if absent
  // Addresses of family `af` (AF_INET, AF_INET6 or AF_UNSPEC for both) on
  // `ifindex` (0: every interface).
  Result<std::vector<NlAddr>> addrs(int af, u32 ifindex = 0);
  // Routes of family `af` in the main table.
  Result<std::vector<NlRoute>> routes(int af);
  // IFA_F_* flag bits the kernel reports, for addresses; for tests and logs.
  static u32 nodad_flag() noexcept;

  // --- setters (each one request, ACK checked) ---
  // Sets the IFF_* bits in `mask` to their values in `flags`.
  Status set_link_flags(u32 ifindex, u32 flags, u32 mask);
  Status set_link_up(u32 ifindex, bool up);
  Status set_noarp(u32 ifindex, bool on);
  Status set_mtu(u32 ifindex, u32 mtu);
  // The device's transmit queue length (for a tap: frames queued towards
  // the reader, i.e. us).
  Status set_txqlen(u32 ifindex, u32 frames);
  Status set_mac(u32 ifindex, const MacAddr& mac);
  // RTM_NEWADDR (create, exclusive).  `nodad`: IFA_F_NODAD (IPv6 only; an
  // IPv4 address has no DAD).
  Status add_addr(u32 ifindex, int af, const InAny& addr, u8 prefix_len, bool nodad = true);
  // Default route via `gw` through `ifindex`, main table, proto boot.
  Status add_default_route(u32 ifindex, int af, const InAny& gw);
  // Marks every IPv6 link-local address of the link IFA_F_NODAD (a replace
  // of the address with the flag added).
  Status set_ll_nodad(u32 ifindex);

  // --- low level ---
  // A builder over this socket's request buffer.
  NlBuilder builder(u16 type, u16 flags) noexcept;
  // Sends the built message with NLM_F_REQUEST | NLM_F_ACK and waits for the
  // ACK.  An error ACK is mapped through err_from_errno (last_errno() keeps
  // the raw value).
  Status request(NlBuilder& b);
  int last_errno() const noexcept { return last_errno_; }

  // Called for every data message of a get/dump reply.  Return false to
  // drop it from the count of kept entries (filtered out).
  class Visitor {
   public:
    virtual ~Visitor() = default;
    virtual bool on_message(u16 type, Bytes payload) = 0;
  };
  // NLM_F_DUMP request; reads until NLMSG_DONE.
  Status dump(NlBuilder& b, Visitor& v);
  // Plain get: the reply messages, then the ACK.
  Status get(NlBuilder& b, Visitor& v);

 private:
  Status transact(NlBuilder& b, Visitor* v, bool is_dump);

  int fd_ = -1;
  bool strict_ = false;
  u32 seq_ = 0;
  int last_errno_ = 0;
  std::size_t dropped_ = 0;
  std::vector<u8> rx_;
  std::vector<u8> tx_;
};

// --- Copying the template's configuration into the namespace ------------------------

struct DupStats {
  std::size_t candidates = 0;  // entries of the template considered
  std::size_t added = 0;       // created in the destination
  std::size_t existed = 0;     // EEXIST (already there)
  std::size_t unresolved = 0;  // routes still ENETUNREACH/EHOSTUNREACH at the end
  std::size_t passes = 0;      // route passes made
};

// Copies every address of family `af` on `src_ifi` (socket `src`) that is
// neither link-scoped nor deprecated to `dst_ifi` (socket `dst`): IFA_LABEL
// and IFA_CACHEINFO are dropped (the copy is permanent), IFA_F_NODAD added.
// EEXIST is not an error.  (Upstream's nl_addr_dup.)
Status addr_dup(Netlink& src, u32 src_ifi, Netlink& dst, u32 dst_ifi, int af,
                DupStats* stats = nullptr);

// Copies every main-table route of family `af` leaving through `src_ifi` to
// `dst_ifi`: the OIF (and every multipath nexthop's ifindex) is rewritten,
// RTA_PREFSRC and RTA_NH_ID are dropped, RTNH_F_DEAD/LINKDOWN/OFFLOAD... are
// cleared.  A route can depend on another (a gateway reachable only through
// a later route), so the remaining routes are re-sent, at most once per
// route in total, until a pass adds nothing; EEXIST, ENETUNREACH and
// EHOSTUNREACH are not errors.  (Upstream's nl_route_dup.)
Status route_dup(Netlink& src, u32 src_ifi, Netlink& dst, u32 dst_ifi, int af,
                 DupStats* stats = nullptr);

// socket(domain, type, proto) inside the runner's namespace (nullptr: here).
// type should include SOCK_CLOEXEC.
Result<int> socket_in(NetnsRunner* ns, int domain, int type, int proto) noexcept;

}  // namespace passt::os
