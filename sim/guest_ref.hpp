// The reference guest: a small, independent, RFC-following host stack that
// configures itself from whatever answers on the simulated link, so that the
// engine's ARP, DHCP, NDP and DHCPv6 responders are checked against a client
// that shares none of their code.
//
// Theory of operation
// -------------------
// The guest owns one Ethernet interface (its MAC is given) and runs, as
// configured:
//
//   ARP        resolves the IPv4 gateway (request, retransmitted); probes the
//              DHCP address before using it and announces it (RFC 5227).
//   DHCPv4     RFC 2131 client: INIT (random 1-10 s wait), SELECTING
//              (DISCOVER, retransmitted at 4, 8, 16, 32, 64 s +-1 s, same
//              xid), REQUESTING (REQUEST with 50/54, four retransmissions,
//              then back to INIT), INIT-REBOOT (REQUEST with 50 and no 54
//              after a link change), BOUND (RENEWING at T1 for a finite
//              lease).  Replies must match xid and chaddr, carry a server id
//              and the expected message type; an ACK in SELECTING only counts
//              with Rapid Commit (RFC 4039) on both sides.  Options read:
//              1, 3, 6, 26, 51, 54, 119 and 121 (RFC 3442: with 121, option 3
//              is ignored and the router is the default route of 121).
//   SLAAC      RFC 4862/4861: link-local address fe80::EUI-64 with DAD (NS
//              from ::), router solicitation (delay 0-1 s, then every
//              4 s doubling up to 3600 s, RFC 7559) from the link-local or
//              the unspecified address, RA validation (hop limit 255,
//              link-local source, checksum, code 0, option lengths), then
//              prefix information (A flag, /64) -> prefix + EUI-64 with DAD,
//              MTU (>= 1280), RDNSS and DNSSL (RFC 8106), default router = RA
//              source with lifetime > 0, router MAC from SLLA and, as a
//              second path, from a Neighbour Solicitation for the router.
//   DHCPv6     RFC 8415 client: SOLICIT (delay 0-1 s, IRT 1 s, MRT 3600 s,
//              Advertises collected for the first RT), REQUEST (IRT 1 s,
//              MRT 30 s, MRC 10, then SOLICIT again), CONFIRM after a link
//              change (IRT 1 s, MRT 4 s, MRD 10 s), IA_NA with one IAID,
//              Client ID (DUID-LL or DUID-LLT of the MAC), Elapsed Time, ORO
//              23/24; replies must match xid, Client ID and (REQUEST) Server
//              ID; NotOnLink or NoAddrsAvail restart discovery.  The leased
//              address goes through DAD.
//
// All timer constants are the RFCs' values multiplied by `scale_ppm` (the
// simulated world runs the protocols fast) and no retransmission interval
// exceeds `max_rt`.  Every received frame must be for our MAC (or broadcast,
// or a multicast group we joined), parse, and have correct IPv4 header and
// UDP/ICMPv6 checksums; anything else is counted and ignored.
//
// What the guest learned is exposed as plain state (Dhcp4State, RaState,
// Dhcp6State) for the scenario's checks; counters record every message sent
// and received, and mark() snapshots them so that "sent N times since the
// faults stopped, never answered" can be asked.
//
// No heap allocation after construction.
#pragma once

#include <optional>

#include "sim/guest.hpp"
#include "sim/prng.hpp"
#include "util/addr.hpp"
#include "util/time.hpp"
#include "wire/dhcp.hpp"
#include "wire/dhcpv6.hpp"
#include "wire/dns_name.hpp"
#include "wire/frame.hpp"

namespace passt::sim {

struct RefGuestConfig {
  MacAddr mac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
  bool v4 = true;  // run DHCPv4 (and ARP)
  bool v6 = true;  // run SLAAC and DHCPv6

  // Timing: RFC constants are multiplied by scale_ppm / 1e6; no
  // retransmission interval exceeds max_rt.
  u32 scale_ppm = 10000;
  Duration max_rt = Duration::seconds(5);

  // DHCPv4 client behaviour.
  bool dhcp4 = true;              // run the client at all (with v4)
  bool dhcp4_broadcast = false;   // set the BROADCAST flag
  bool dhcp4_rapid_commit = false;
  bool dhcp4_client_id = false;   // send option 61 (type 1 + MAC)
  wire::FixedBytes<16> dhcp4_prl; // option 55, in this order (empty: none)
  bool arp_probe = true;          // RFC 5227 probe before using the address

  // Static configuration used when nothing answers DHCP / RA (the scenario
  // passes what --config-net would have set): the gateway is then resolved
  // with ARP / NDP all the same.
  std::optional<Ipv4Addr> static_addr4;
  std::optional<Ipv4Addr> static_gw4;
  std::optional<Ipv6Addr> static_router6;

  // IPv6.
  bool rs_from_unspecified = false;  // first RS before the link-local is ready
  u8 dad_transmits = 1;              // DupAddrDetectTransmits (>= 1)
  bool dhcp6 = true;                 // run the DHCPv6 client (with v6)
  bool duid_llt = false;             // DUID-LLT (else DUID-LL)
  u32 duid_time = 0;
  bool dhcp6_rapid_commit = false;   // ask for it (our server never grants it)
  u32 iaid = 1;
};

enum class RestartKind : u8 {
  fresh,   // forget everything: a new boot
  reboot,  // link came back: keep leases, re-validate them (INIT-REBOOT,
           // CONFIRM), re-solicit routers, re-resolve neighbours, re-run DAD
};

// --- What the guest learned ----------------------------------------------------------

enum class Dhcp4Phase : u8 {
  off,         // not running
  init,        // waiting before DISCOVER
  selecting,   // DISCOVER sent
  requesting,  // REQUEST for an OFFER sent
  rebooting,   // INIT-REBOOT REQUEST sent
  probing,     // ACK received, ARP-probing the address
  bound,
  renewing,
  declined,    // conflict found; waiting before INIT
};
const char* dhcp4_phase_name(Dhcp4Phase p) noexcept;

struct Dhcp4Lease {
  Ipv4Addr addr;
  bool mask_present = false;
  bool mask_contiguous = false;
  u8 prefix_len = 0;
  std::optional<Ipv4Addr> router;  // RFC 3442 rule applied
  bool router_from_121 = false;
  bool router_reachable = false;   // in the subnet or on an on-link 121 route
  u32 routes_121 = 0;              // routes in option 121
  std::optional<Ipv4Addr> server_id;
  std::optional<u32> lease;
  std::optional<u16> mtu;
  wire::FixedList<Ipv4Addr, wire::kDhcpMaxAddrs> dns;
  wire::DnsNameList search;
};

struct Dhcp4State {
  Dhcp4Phase phase = Dhcp4Phase::off;
  bool have_lease = false;  // `lease` holds the last ACK's contents
  Dhcp4Lease lease;
};

enum class AddrState : u8 { none, tentative, preferred, duplicate };
const char* addr_state_name(AddrState s) noexcept;

struct Addr6 {
  Ipv6Addr addr;
  AddrState state = AddrState::none;
  u8 probes = 0;  // DAD solicitations sent in this round
};

struct RaState {
  bool received = false;  // a valid RA was processed
  Ipv6Addr router;        // its source
  u16 router_lifetime = 0;
  bool managed = false;
  bool other = false;
  std::optional<MacAddr> router_mac;  // its SLLA option
  std::optional<u32> mtu;             // accepted MTU option
  bool prefix_seen = false;           // an autonomous /64 prefix
  Ipv6Addr prefix;
  u8 prefix_len = 0;
  u32 valid = 0;
  u32 preferred = 0;
  wire::FixedList<Ipv6Addr, 16> rdnss;
  wire::DnsNameList dnssl;
};

enum class Dhcp6Phase : u8 { off, wait_ll, delay, soliciting, requesting, confirming, probing, bound };
const char* dhcp6_phase_name(Dhcp6Phase p) noexcept;

struct Dhcp6Lease {
  Ipv6Addr addr;
  u32 preferred = 0;
  u32 valid = 0;
  u32 t1 = 0;
  u32 t2 = 0;
  wire::Dhcpv6Duid server_id;
  wire::FixedList<Ipv6Addr, wire::kDhcpv6MaxDns> dns;
  wire::DnsNameList domains;
  std::optional<wire::Dhcpv6Fqdn> fqdn;  // option 39 as received
};

struct Dhcp6State {
  Dhcp6Phase phase = Dhcp6Phase::off;
  bool have_lease = false;  // `lease` holds the last accepted REPLY's contents
  Dhcp6Lease lease;
};

struct RefGuestCounters {
  // Receive path.
  u64 rx = 0;
  u64 rx_not_for_us = 0;   // Ethernet destination not ours
  u64 rx_malformed = 0;    // parse_frame failed
  u64 rx_bad_checksum = 0;
  u64 rx_other = 0;        // valid, but nothing we handle
  // ARP.
  u64 arp_requests = 0;    // for the gateway
  u64 arp_probes = 0;
  u64 arp_announces = 0;
  u64 arp_replies = 0;     // valid replies for a target we asked
  u64 arp_any_rx = 0;      // any ARP frame received
  u64 arp_conflicts = 0;
  // DHCPv4.
  u64 dhcp4_discovers = 0;
  u64 dhcp4_requests = 0;
  u64 dhcp4_declines = 0;
  u64 dhcp4_rx = 0;        // any UDP 67 -> 68 datagram with valid checksums
  u64 dhcp4_offers = 0;    // accepted
  u64 dhcp4_acks = 0;      // accepted
  u64 dhcp4_naks = 0;
  u64 dhcp4_ignored = 0;   // wrong xid, chaddr, type, missing server id...
  // NDP.
  u64 rs = 0;
  u64 ra_rx = 0;           // any RA with a valid checksum
  u64 ra_accepted = 0;
  u64 ra_ignored = 0;
  u64 ra_unsolicited = 0;  // accepted, to all-nodes, with no solicitation outstanding
  u64 ns_router = 0;       // NS for the router
  u64 ns_dad = 0;
  u64 na_rx = 0;           // any NA with a valid checksum
  u64 na_router = 0;       // accepted NA for the router
  u64 dad_failures = 0;
  u64 ndp_ignored = 0;
  // DHCPv6.
  u64 dhcp6_solicits = 0;
  u64 dhcp6_requests = 0;
  u64 dhcp6_confirms = 0;
  u64 dhcp6_rx = 0;        // any UDP 547 -> 546 datagram with valid checksums
  u64 dhcp6_advertises = 0;  // accepted
  u64 dhcp6_replies = 0;     // accepted
  u64 dhcp6_ignored = 0;
  u64 dhcp6_not_on_link = 0;
  u64 tx_refused = 0;      // the link did not take a frame
};

class RefGuest final : public GuestStack {
 public:
  RefGuest(const RefGuestConfig& cfg, Prng rng) noexcept;

  // GuestStack.  start() must be called once, before the first event.
  void attach(GuestPort& port) noexcept override { port_ = &port; }
  void on_frame(Bytes frame, Instant now) noexcept override;
  void on_link(bool up, Instant now) noexcept override;
  Instant next_deadline() const noexcept override;
  void on_deadline(Instant now) noexcept override;

  void start(Instant now) noexcept;
  void restart(RestartKind kind, Instant now) noexcept;
  // Snapshots the counters (see since_mark()).
  void mark() noexcept { mark_ = c_; }

  const RefGuestConfig& config() const noexcept { return cfg_; }
  const RefGuestCounters& counters() const noexcept { return c_; }
  const RefGuestCounters& at_mark() const noexcept { return mark_; }

  // IPv4.
  const Dhcp4State& dhcp4() const noexcept { return d4_; }
  // Our IPv4 address (DHCP lease or static), if any.
  std::optional<Ipv4Addr> addr4() const noexcept;
  // The gateway we resolve (DHCP router or static), and what ARP said.
  std::optional<Ipv4Addr> gateway4() const noexcept;
  std::optional<MacAddr> gateway4_mac() const noexcept { return gw4_mac_; }
  bool arp_probe_done() const noexcept { return acd_done_; }

  // IPv6.
  const Addr6& link_local() const noexcept { return ll_; }
  const Addr6& slaac() const noexcept { return slaac_; }
  const RaState& ra() const noexcept { return ra_; }
  const Dhcp6State& dhcp6() const noexcept { return d6_; }
  // The leased address and its DAD state.
  const Addr6& dhcp6_addr() const noexcept { return d6_addr_; }
  // The router we resolve (RA source or static) and what NDP said.
  std::optional<Ipv6Addr> router6() const noexcept;
  std::optional<MacAddr> router6_mac_na() const noexcept { return r6_mac_; }
  bool router6_is_router() const noexcept { return r6_router_flag_; }

  // Every address the guest ever ran DAD for (for the engine checker).
  bool ever_probed(const Ipv6Addr& a) const noexcept;

  // EUI-64 interface identifier and link-local address of a MAC (RFC 4291
  // appendix A, RFC 2464 §4-5).
  static Ipv6Addr link_local_of(const MacAddr& mac) noexcept;
  static Ipv6Addr with_iid(const Ipv6Addr& prefix64, const MacAddr& mac) noexcept;

 private:
  enum Timer : u8 {
    t_dhcp4,    // DHCPv4 state machine (waits, retransmissions, T1)
    t_acd,      // ARP probes / announcements
    t_arp_gw,   // gateway resolution
    t_ll_dad,   // link-local DAD
    t_rs,       // router solicitation
    t_slaac,    // SLAAC address DAD
    t_ns_r,     // router neighbour resolution
    t_dhcp6,    // DHCPv6 state machine
    t_dhcp6_dad,
    kTimers
  };
  static constexpr std::size_t kMaxProbed = 8;

  // --- timing ---
  Duration sc(Duration real) const noexcept;  // scaled, at most max_rt
  Duration jitter(Duration base, Duration plus_minus) noexcept;
  // RFC 8415 §15 / RFC 7559 retransmission step.
  Duration rt_first(Duration irt, bool positive_only) noexcept;
  Duration rt_next(Duration prev, Duration mrt) noexcept;
  void arm(Timer t, Instant at) noexcept { timers_[t] = at; }
  void disarm(Timer t) noexcept { timers_[t] = Instant::never(); }

  // --- transmit ---
  bool send(std::size_t len) noexcept;
  std::size_t put_eth(const MacAddr& dst, u16 ethertype) noexcept;
  bool send_udp4(const MacAddr& dst_mac, Ipv4Addr src, Ipv4Addr dst, u16 sport, u16 dport,
                 std::size_t payload_len) noexcept;  // payload already at udp4_payload()
  bool send_udp6(const MacAddr& dst_mac, const Ipv6Addr& src, const Ipv6Addr& dst, u16 sport,
                 u16 dport, u8 hop_limit, std::size_t payload_len) noexcept;
  bool send_icmp6(const MacAddr& dst_mac, const Ipv6Addr& src, const Ipv6Addr& dst,
                  std::size_t icmp_len) noexcept;  // message at icmp6_msg(), checksum done
  MutBytes udp4_payload() noexcept;
  MutBytes udp6_payload() noexcept;
  MutBytes icmp6_msg() noexcept;
  bool send_arp(u16 oper, Ipv4Addr spa, const MacAddr& tha, Ipv4Addr tpa, const MacAddr& dst) noexcept;

  // --- receive ---
  bool for_us(const MacAddr& dst) const noexcept;
  void rx_arp(const wire::Frame& f, Instant now) noexcept;
  void rx_dhcp4(const wire::Frame& f, Instant now) noexcept;
  void rx_icmp6(const wire::Frame& f, Instant now) noexcept;
  void rx_ra(const wire::Frame& f, Instant now) noexcept;
  void rx_na(const wire::Frame& f, Instant now) noexcept;
  void rx_ns(const wire::Frame& f, Instant now) noexcept;
  void rx_dhcp6(const wire::Frame& f, Instant now) noexcept;

  // --- DHCPv4 ---
  void d4_enter_init(Instant now, Duration wait) noexcept;
  void d4_timer(Instant now) noexcept;
  void d4_send(u8 type, Instant now) noexcept;
  void d4_accept_ack(const wire::DhcpRepr& r, Instant now) noexcept;
  void d4_bound(Instant now) noexcept;
  void acd_timer(Instant now) noexcept;
  void arp_gw_start(Instant now) noexcept;
  void arp_gw_timer(Instant now) noexcept;

  // --- IPv6 ---
  void v6_start(Instant now, bool keep_leases) noexcept;
  void ll_dad_timer(Instant now) noexcept;
  void ll_ready(Instant now) noexcept;
  void rs_timer(Instant now) noexcept;
  void slaac_timer(Instant now) noexcept;
  void ns_r_start(Instant now) noexcept;
  void ns_r_timer(Instant now) noexcept;
  bool dad_step(Addr6& a, Timer t, Instant now) noexcept;  // true when done
  void send_dad_ns(const Ipv6Addr& target) noexcept;
  void note_probed(const Ipv6Addr& a) noexcept;
  void dad_failed(const Ipv6Addr& target, Instant now) noexcept;

  // --- DHCPv6 ---
  void d6_begin(Instant now) noexcept;  // ll ready: solicit or confirm
  void d6_solicit(Instant now) noexcept;
  void d6_timer(Instant now) noexcept;
  void d6_send(u8 type, Instant now) noexcept;
  void d6_request(Instant now) noexcept;
  void d6_dad_timer(Instant now) noexcept;
  void d6_fill_duid(wire::Dhcpv6Duid& d) const noexcept;

  RefGuestConfig cfg_;
  Prng rng_;
  GuestPort* port_ = nullptr;
  Instant timers_[kTimers];
  RefGuestCounters c_;
  RefGuestCounters mark_;
  u8 tx_[2048] = {};

  // IPv4.
  Dhcp4State d4_;
  u32 d4_xid_ = 0;
  Instant d4_start_;       // for secs
  Duration d4_rt_;         // current retransmission base
  u32 d4_tries_ = 0;
  Ipv4Addr d4_offer_addr_;
  Ipv4Addr d4_offer_server_;
  Ipv4Addr d4_renew_server_;
  u8 acd_step_ = 0;
  bool acd_done_ = false;
  std::optional<MacAddr> gw4_mac_;
  Ipv4Addr gw4_target_;
  u32 arp_tries_ = 0;

  // IPv6.
  Addr6 ll_;
  Addr6 slaac_;
  RaState ra_;
  Duration rs_rt_;
  bool rs_done_ = false;
  std::optional<MacAddr> r6_mac_;
  bool r6_router_flag_ = false;
  Ipv6Addr r6_target_;
  u32 ns_r_tries_ = 0;
  Ipv6Addr probed_[kMaxProbed];
  std::size_t n_probed_ = 0;

  Dhcp6State d6_;
  u32 d6_xid_ = 0;
  Instant d6_start_;       // of the current exchange (elapsed time)
  Instant d6_first_rt_end_;
  Duration d6_rt_;
  u32 d6_tries_ = 0;
  bool d6_have_adv_ = false;
  wire::Dhcpv6Duid d6_adv_server_;
  Ipv6Addr d6_adv_addr_;
  bool d6_adv_has_addr_ = false;
  Addr6 d6_addr_;          // DAD of the leased address
};

}  // namespace passt::sim
