// The "services" scenario: the real engine (engine::Engine) answers ARP,
// DHCP, NDP and DHCPv6 for the reference guest (sim/guest_ref.hpp) over a
// faulty link, with a network configuration drawn from the seed.
//
// Theory of operation
// -------------------
// derive() draws a ServicesPlan: the NetInfo the engine is built with
// (guest addresses in the documentation ranges, IPv4 prefix 8..30 with the
// gateway inside or outside the subnet, MTU 0 or 1280..65520, 0-3 DNS
// servers per family, 0-6 search domains, IPv4 and/or IPv6, each service
// switched on or off), the reference guest's behaviour (timing scale, flags,
// DUID, what it does when the faults stop) and link faults with loss,
// duplication and reordering each below 30 % (plus corruption).
//
// Safety phase, after every event:
//   engine-out   every frame the engine emits parses, has correct
//                checksums, comes from our MAC, fits the MTU (65535 + 14
//                with MTU 0), never claims the guest's IPv4 address in an
//                ARP reply, never answers a DAD probe (an NA for an address
//                the guest probed, unless the engine saw a non-DAD NS for
//                it: corruption can make one), and never speaks a service
//                that is switched off;
//   flows        the engine's flow table verify() holds;
//   guest        services switched off were never answered; and, while no
//                corrupted frame has reached the guest, whatever the guest
//                learned so far equals the configuration (without
//                corruption anywhere: no DAD failure either);
//   (and the link, socket-model and allocation checks of every run).
// Liveness phase: faults off.  The guest is rebooted or restarted from
// scratch as the plan says (a restart from scratch is forced if corrupted
// frames reached it, since ARP and Ethernet headers carry no checksum, the
// Internet checksum misses some multi-bit flips, and a rebooting DHCPv6
// client keeps the lifetimes it had), then the run is
// done when every client reached its final state, or, for a service that
// is off, asked at least three more times without an answer.  Then the
// final check: the guest's configuration equals exactly the configured one
// (address, prefix, router and its MAC, MTU, DNS servers, search list, lease
// lifetimes; IPv6: SLAAC address from the /64, RA router and flags, RDNSS,
// DNSSL, DHCPv6 address, server DUID, DNS and domains).
#pragma once

#include <cstdio>
#include <memory>

#include "core/config.hpp"
#include "core/net_info.hpp"
#include "sim/guest_ref.hpp"
#include "sim/scenario.hpp"

namespace passt::sim {

enum class LivenessRestart : u8 { none, reboot, fresh };
const char* liveness_restart_name(LivenessRestart r) noexcept;

struct ServicesPlan {
  core::NetInfo net;  // what the engine is given, and what the guest must end up with
  RefGuestConfig guest;
  LivenessRestart restart = LivenessRestart::reboot;
  // Wait (up to 1300 s) for an unsolicited RA after the faults stop.
  bool await_unsolicited_ra = false;
};

// Draws a plan from `rng`.
ServicesPlan draw_services_plan(Prng& rng) noexcept;
void print_services_plan(std::FILE* out, const ServicesPlan& p) noexcept;
// The command-line configuration that would have produced `net`.
core::Config services_config_of(const core::NetInfo& net);

// The checks, on what the guest learned against `net` (the configuration
// it must end up with).  `final` demands every client be finished; without
// it only what the guest has learned so far is compared.  `since_mark`
// counts only counters after RefGuest::mark().  nullptr when everything
// matches, else the first difference, written into `buf`.
struct GuestCheck {
  bool final = true;
  bool config = true;          // compare learned values (off after corruption)
  bool dad = true;             // no DAD failure / ARP conflict
  // net.search as names, if the caller has them (saves parsing per event).
  const wire::DnsNameList* search = nullptr;
};
const char* services_check_guest(const core::NetInfo& net, const RefGuest& g, const GuestCheck& what,
                                 char* buf, std::size_t len) noexcept;
// Is every client of the guest in its final state (see above)?  When not,
// `why` says what is missing.
bool services_guest_complete(const ServicesPlan& plan, const RefGuest& g, char* why, std::size_t len) noexcept;

// Engine output checker: sits between the engine and the link.
class EngineOutputCheck final : public ports::TapPort, public Checker {
 public:
  EngineOutputCheck(ports::TapPort& inner, const core::NetInfo& expected) noexcept
      : inner_(inner), net_(expected) {}
  void set_guest(const RefGuest* g) noexcept { guest_ = g; }

  // TapPort.
  std::size_t send(std::span<const Bytes> frames) noexcept override;
  bool connected() const noexcept override { return inner_.connected(); }
  // A frame the engine was given (records non-DAD solicitation targets).
  void note_input(Bytes frame) noexcept;
  // Inspects one frame as if the engine sent it (also used by tests).
  void inspect(Bytes frame) noexcept;

  const char* name() const noexcept override { return "engine-out"; }
  const char* check(World& w) noexcept override {
    (void)w;
    return violation();
  }
  u64 frames() const noexcept { return frames_; }
  const char* violation() const noexcept { return violation_[0] != '\0' ? violation_ : nullptr; }

 private:
  static constexpr std::size_t kTargets = 64;
  void violate(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));
  bool answerable(const Ipv6Addr& t) const noexcept;

  ports::TapPort& inner_;
  const core::NetInfo& net_;
  const RefGuest* guest_ = nullptr;
  Ipv6Addr targets_[kTargets];
  std::size_t n_targets_ = 0;
  u64 frames_ = 0;
  char violation_[256] = {};
};

// Test hooks: the engine can be given a NetInfo that differs from the one
// the guest is checked against (to prove the checks bite).
struct ServicesHooks {
  void (*mutate_engine_net)(core::NetInfo& net) = nullptr;
  // Force a plan detail after drawing (e.g. to make sure a service is on).
  void (*adjust_plan)(ServicesPlan& plan) = nullptr;
};

std::unique_ptr<Scenario> make_services_scenario(const ServicesHooks& hooks);
ScenarioEntry services_scenario_entry() noexcept;

}  // namespace passt::sim
