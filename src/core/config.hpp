// The immutable run-time configuration of passt / pasta.
//
// Theory of operation
// -------------------
// `app::parse_cli()` turns argv into one `Config` (a pure function: no I/O).
// Everything the command line can say is here, already validated with
// upstream passt's rules and messages.  What the command line does *not*
// say, and upstream discovers from the host (template interface, its
// addresses and gateway, resolv.conf, the ephemeral port range for `auto`
// scans, names for --runas), stays "unset" here: std::nullopt, an empty
// string, or a zero prefix length.  A later start-up step (src/app) fills
// those in from the host and hands the finished, const Config to the engine.
//
// Conventions:
// - std::optional<Addr>: nullopt means "not given" (upstream: the unspecified
//   address).  Given addresses were already checked against upstream's
//   per-option rules (no unspecified, loopback, multicast, ... where upstream
//   refuses them).
// - Strings are built once at start-up; none of this is on the data path.
//   Lists whose length upstream bounds use fixed-capacity storage.
// - Port forwarding is kept in two forms: per direction and protocol a
//   65536-bit "forwarded" bitmap plus a u16 delta table (what the data path
//   looks up: target port = port + delta, mod 2^16), and the list of bind
//   rules, one per -t/-u/-T/-U option, in command-line order (what the
//   socket layer binds at start-up, with that option's address/interface).
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "util/addr.hpp"
#include "util/types.hpp"

namespace passt::core {

// Selected by argv[0]: a basename containing "pasta" is pasta, one containing
// "passt" is passt.  vhost-user is passt with Config::vhost_user set.
enum class Mode : u8 { passt, pasta };

const char* mode_name(Mode m) noexcept;  // "passt" / "pasta"

// --- Limits (upstream's compile-time bounds) -------------------------------

inline constexpr std::size_t kMaxDnsServers = 3;       // MAXNS, per family
inline constexpr std::size_t kMaxDnsSearch = 6;        // MAXDNSRCH domains
inline constexpr std::size_t kMaxDnsSearchLen = 1024;  // NS_MAXDNAME - 1
inline constexpr std::size_t kMaxHostnameLen = 253;    // PASST_MAXDNAME - 1
inline constexpr std::size_t kIfNameMax = 15;          // IFNAMSIZ - 1
inline constexpr std::size_t kPathMax = 4095;          // PATH_MAX - 1
inline constexpr std::size_t kUnixPathMax = 107;       // sizeof(sun_path) - 1

inline constexpr u16 kDefaultMtu = 65520;  // ROUND_DOWN(65535 - 14, 4)
inline constexpr u16 kMinMtu = 68;         // ETH_MIN_MTU
inline constexpr u16 kMaxMtu = 65535;      // ETH_MAX_MTU
inline constexpr MacAddr kDefaultOurMac = {{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}};
inline constexpr u64 kDefaultLogSize = u64{1024} * 1024;
inline constexpr u64 kMinLogSize = u64{5} * 8192;  // 5 * MAX(BUFSIZ, PAGE_SIZE) on x86_64
// RFC 6335 dynamic ports: upstream's fallback when ip_local_port_range is
// unreadable.
inline constexpr u16 kEphemeralFirstDefault = 49152;
inline constexpr u16 kEphemeralLastDefault = 65535;

// A list with a fixed capacity (upstream's static arrays).  Adding beyond
// the capacity is refused (push returns false); callers decide what that
// means (upstream either ignores the extra item or dies).
template <class T, std::size_t N>
class BoundedList {
 public:
  bool push(const T& v) noexcept {
    if (n_ == N) return false;
    items_[n_++] = v;
    return true;
  }
  void clear() noexcept {
    items_ = {};
    n_ = 0;
  }
  std::size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  static constexpr std::size_t capacity() noexcept { return N; }
  const T& operator[](std::size_t i) const noexcept { return items_[i]; }
  std::span<const T> view() const noexcept { return {items_.data(), n_}; }
  const T* begin() const noexcept { return items_.data(); }
  const T* end() const noexcept { return items_.data() + n_; }
  bool operator==(const BoundedList& o) const noexcept {
    if (n_ != o.n_) return false;
    for (std::size_t i = 0; i < n_; i++)
      if (!(items_[i] == o.items_[i])) return false;
    return true;
  }

 private:
  std::array<T, N> items_{};
  std::size_t n_ = 0;
};

// --- Port forwarding --------------------------------------------------------

// How one direction/protocol forwards (upstream enum fwd_ports_mode).
enum class FwdMode : u8 {
  unset,      // not given on the command line; parse_cli() replaces it by
              // the mode default (passt: none, pasta: automatic)
  spec,       // explicit port list(s), see PortFwd::rules
  none,       // nothing forwarded
  automatic,  // "auto" (pasta): listeners follow the other side's bound ports
  all,        // "all" (passt): every non-ephemeral port
};

const char* fwd_mode_name(FwdMode m) noexcept;

// One bit per port number 0..65535.
class PortBitmap {
 public:
  void set(u16 port) noexcept { w_[port >> 6] |= u64{1} << (port & 63); }
  void reset(u16 port) noexcept { w_[port >> 6] &= ~(u64{1} << (port & 63)); }
  bool test(u16 port) const noexcept { return ((w_[port >> 6] >> (port & 63)) & 1) != 0; }
  void clear() noexcept { w_ = {}; }
  std::size_t count() const noexcept;
  bool any() const noexcept;
  // this |= o, this &= ~o (whole-map operations of the automatic scans).
  void merge(const PortBitmap& o) noexcept;
  void remove(const PortBitmap& o) noexcept;
  // The raw words, bit (port & 63) of word (port >> 6): what
  // ports::PortScan fills.
  static constexpr std::size_t kWords = 65536 / 64;
  std::span<u64, kWords> words() noexcept { return std::span<u64, kWords>(w_); }
  std::span<const u64, kWords> words() const noexcept { return std::span<const u64, kWords>(w_); }
  bool operator==(const PortBitmap&) const noexcept = default;

 private:
  std::array<u64, kWords> w_{};
};

// An inclusive range of port numbers, first <= last.
struct PortRun {
  u16 first = 0;
  u16 last = 0;
  bool operator==(const PortRun&) const noexcept = default;
};

// The ports one -t/-u/-T/-U option asks to bind, with that option's
// listening address and interface.  Binding is a start-up (run-time) step:
// a failure there is "Failed to bind port N (...) for option '-t SPEC',
// exiting" for a strict rule, and tolerated unless no port at all could be
// bound for a weak one ("all", or exclusions only).
struct PortBindRule {
  char option = 't';                // 't', 'u', 'T' or 'U'
  std::string spec;                 // the option argument as given
  std::optional<InAny> addr;        // nullopt: any address (dual stack)
  std::string ifname;               // empty: no SO_BINDTODEVICE
  bool weak = false;                // "all" / exclusion-only spec
  std::vector<PortRun> ports;       // in command-line order
  bool operator==(const PortBindRule&) const = default;
};

// Forwarding state for one direction (inbound -t/-u, or outbound -T/-U) and
// one protocol.  `forwarded` + delta() is the data-path view: a connection
// arriving on port P (P forwarded) goes to port P + delta(P) (mod 65536).
// In automatic mode both start empty and follow the port scan at run time.
class PortFwd {
 public:
  FwdMode mode = FwdMode::unset;
  PortBitmap forwarded;
  std::vector<PortBindRule> rules;

  u16 delta(u16 port) const noexcept { return delta_.empty() ? u16{0} : delta_[port]; }
  u16 target(u16 port) const noexcept { return static_cast<u16>(port + delta(port)); }
  // The delta table is allocated only once some port is translated: most
  // configurations forward every port to the same number.
  void set_delta(u16 port, u16 delta);
  bool has_translation() const noexcept { return !delta_.empty(); }

  bool operator==(const PortFwd& o) const;

 private:
  std::vector<u16> delta_;  // empty, or exactly 65536 entries
};

// Both protocols of one direction.
struct FwdDirection {
  PortFwd tcp;
  PortFwd udp;
  bool operator==(const FwdDirection&) const = default;
};

// --- Per address family -------------------------------------------------------

struct Ip4Config {
  std::optional<Ipv4Addr> addr;               // -a: address handed to the guest
  u8 prefix_len = 0;                          // -n; 0: from the host / classful
  std::optional<Ipv4Addr> gateway;            // -g (guest_gw)
  std::optional<Ipv4Addr> outbound;           // -o: bind() source for host sockets
  std::string outbound_if;                    // --outbound-if4
  std::optional<Ipv4Addr> map_host_loopback;  // --map-host-loopback; nullopt: default
                                              // (the gateway) unless no_map_gw
  std::optional<Ipv4Addr> map_guest_addr;     // --map-guest-addr
  std::optional<Ipv4Addr> dns_match;          // --dns-forward
  std::optional<Ipv4Addr> dns_host;           // --dns-host
  BoundedList<Ipv4Addr, kMaxDnsServers> dns;  // -D (IPv4 ones)
  bool no_copy_addrs = false;                 // pasta: -a given / --no-copy-addrs
  bool no_copy_routes = false;                // pasta: -g given / --no-copy-routes
  bool operator==(const Ip4Config&) const = default;
};

struct Ip6Config {
  std::optional<Ipv6Addr> addr;
  std::optional<Ipv6Addr> gateway;
  std::optional<Ipv6Addr> outbound;
  std::string outbound_if;  // --outbound-if6
  std::optional<Ipv6Addr> map_host_loopback;
  std::optional<Ipv6Addr> map_guest_addr;
  std::optional<Ipv6Addr> dns_match;
  std::optional<Ipv6Addr> dns_host;
  BoundedList<Ipv6Addr, kMaxDnsServers> dns;
  bool no_copy_addrs = false;
  bool no_copy_routes = false;
  bool operator==(const Ip6Config&) const = default;
};

// --- Privileges ---------------------------------------------------------------

// --runas UID|UID:GID|LOGIN|LOGIN:GROUP.  Numeric parts are parsed here
// (strtol base 0, as upstream); names are looked up at start-up
// (getpwnam/getgrnam), where an unknown name, or a LOGIN resolving to uid 0,
// gives "Invalid --runas option: SPEC".
struct RunAs {
  std::string spec;                 // as given
  std::optional<u32> uid;           // numeric user part
  std::optional<u32> gid;           // numeric group part, or = uid if no group
  std::string user_name;            // non-numeric user part (look up)
  std::string group_name;           // non-numeric group part (look up)
  bool operator==(const RunAs&) const = default;
};

// --- pasta namespaces -----------------------------------------------------------

enum class NsTarget : u8 {
  spawn,  // no PID and no --netns: spawn `command` (or a login $SHELL)
  pid,    // a single numeric argument: join /proc/PID/ns/{net,user}
  netns,  // --netns PATH|NAME
};

struct PastaNs {
  NsTarget target = NsTarget::spawn;
  long pid = 0;                      // NsTarget::pid
  std::string netns_path;            // pid: /proc/PID/ns/net; netns: path
  std::string userns_path;           // --userns, or /proc/PID/ns/user
  bool netns_only = false;           // don't join or create a user namespace
  std::vector<std::string> command;  // spawn: argv (empty: login shell)
  bool operator==(const PastaNs&) const = default;
};

// --- The configuration ------------------------------------------------------------

struct Config {
  Mode mode = Mode::passt;
  bool vhost_user = false;  // --vhost-user (passt)

  // Logging and process.
  bool debug = false;       // -d, --debug
  bool trace = false;       // --trace (implies debug)
  bool quiet = false;       // -q, --quiet
  bool foreground = false;  // -f (pasta also forces it when it spawns a command)
  std::string log_file;     // -l; empty: syslog
  u64 log_size = kDefaultLogSize;  // --log-size
  std::optional<RunAs> runas;      // --runas; nullopt: default rules at start-up
  std::string pcap_file;           // -p
  std::string pid_file;            // -P

  // Tap side (passt).
  std::string socket_path;  // -s / --socket / --socket-path; empty: probe
  int fd = -1;              // -F / --fd: pre-opened socket or tap fd (> 2)
  bool one_off = false;     // -1 / --one-off (implied by --fd)

  // Link and addresses.
  u16 mtu = kDefaultMtu;  // -m; 0: disabled (no MTU options, kernel MSS)
  MacAddr our_mac = kDefaultOurMac;  // -M
  std::string interface;             // -i: template interface; empty: discover
  bool ipv4_only = false;            // -4 (the last of -4/-6 wins)
  bool ipv6_only = false;            // -6
  Ip4Config ip4;
  Ip6Config ip6;

  // DNS.
  bool no_dns = false;          // -D none
  bool no_dns_search = false;   // -S none
  BoundedList<std::string, kMaxDnsSearch> dns_search;  // -S, effective list
  bool no_dhcp_dns = false;     // passt --no-dhcp-dns; pasta default (--dhcp-dns)
  bool no_dhcp_search = false;  // passt --no-dhcp-search; pasta default
  std::string hostname;         // -H / --hostname (DHCP 12, DHCPv6 FQDN)
  std::string fqdn;             // --fqdn (DHCP 81, DHCPv6 39)

  // NAT.
  bool no_map_gw = false;          // --no-map-gw (or --map-host-loopback none)
  bool host_lo_to_ns_lo = false;   // pasta --host-lo-to-ns-lo (deprecated)
  bool freebind = false;           // --freebind

  // Protocol / service switches.
  bool no_tcp = false;
  bool no_udp = false;
  bool no_icmp = false;
  bool no_dhcp = false;
  bool no_ndp = false;
  bool no_dhcpv6 = false;
  bool no_ra = false;      // also implied by --config-net
  bool no_splice = false;  // pasta --no-splice; always set in passt

  // Port forwarding: inbound (-t/-u, host -> guest/namespace) and outbound
  // (-T/-U, pasta: namespace loopback -> host loopback).
  FwdDirection fwd_in;
  FwdDirection fwd_out;

  // pasta.
  PastaNs ns;
  std::string ns_ifname;          // -I; empty: template name, else tap0
  std::optional<MacAddr> ns_mac;  // --ns-mac-addr
  bool config_net = false;        // --config-net
  bool no_netns_quit = false;     // --no-netns-quit

  bool operator==(const Config&) const = default;
};

}  // namespace passt::core
