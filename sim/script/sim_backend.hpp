// The simulator backend for scripts: the real engine::Engine in a World,
// with a fault-free SimLink (zero delay) to a capturing guest, and
// SimHostNet for the host side (zero latency, no pacing), so virtual time
// is exact: a reply is stamped with the instant of its cause.
//
// Host actions use SimHostNet sockets in the host namespace like any
// local application: a listener the engine's connect() reaches, a socket
// connecting to the engine's -t listener, data, FIN and RST.  The world's
// link and socket-model checkers run after every event; a checker failure
// (or a failing PASST_CHECK, printed by the check hook) fails the script.
#pragma once

#include <deque>
#include <memory>

#include "core/config.hpp"
#include "core/net_info.hpp"
#include "sim/hostnet.hpp"
#include "sim/link.hpp"
#include "sim/script/interp.hpp"
#include "sim/world.hpp"

namespace passt::engine {
class Engine;
}

namespace passt::sim::script {

struct SimBackendOptions {
  u64 seed = 1;  // entropy (ISNs, timers)
  bool pasta = false;
  InAny host_v4 = InAny::from(Ipv4Addr::of(198, 51, 100, 1));  // the host's own addresses
  InAny host_v6 = InAny::from(Ipv6Addr{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}});
};

class SimBackend final : public Backend {
 public:
  // `cfg` and `net` are copied: the engine keeps references to them.
  SimBackend(core::Config cfg, const core::NetInfo& net, const SimBackendOptions& o);
  ~SimBackend() override;
  SimBackend(const SimBackend&) = delete;
  SimBackend& operator=(const SimBackend&) = delete;

  // Engine start-up failure (e.g. a -t listener that cannot bind).
  const std::string& setup_error() const { return setup_error_; }

  i64 now_ns() override;
  bool advance(i64 until_ns, std::deque<CapturedFrame>& frames) override;
  bool inject(Bytes frame, std::string& err) override;
  const char* failure() override;

  Result<int> host_listen(const HostAddr& at, u32 backlog) override;
  Result<int> host_accept(int listener) override;
  Result<int> host_connect(const HostAddr& to, u16 from_port) override;
  Err host_connect_result(int h) override;
  Result<std::size_t> host_send(int h, Bytes data) override;
  Result<std::size_t> host_recv(int h, MutBytes buf) override;
  Status host_shutdown(int h) override;
  void host_close(int h, bool reset) override;
  Result<int> host_udp_bind(const HostAddr& at) override;
  Result<std::size_t> host_udp_send(int h, const HostAddr& to, Bytes data) override;
  Result<std::size_t> host_udp_recv(int h, MutBytes buf, HostAddr& from) override;

  World& world() { return world_; }

 private:
  class Guest;
  void take(std::deque<CapturedFrame>& frames);

  core::Config cfg_;
  core::NetInfo net_;
  World world_;
  SimLink link_;
  SimHostNet hostnet_;
  LinkChecker link_check_;
  HostNetChecker net_check_;
  std::unique_ptr<Guest> guest_;
  std::unique_ptr<engine::Engine> engine_;
  Instant t0_;
  std::string setup_error_;
  std::string failure_;
  struct ConnResult {
    int h;
    Err e;
  };
  std::vector<ConnResult> conn_results_;
};

}  // namespace passt::sim::script
