#include "sim/script/sim_backend.hpp"

#include <cstdio>
#include <utility>

#include "engine/engine.hpp"
#include "sim/guest.hpp"

namespace passt::sim::script {

namespace {

constexpr std::size_t kEventCapacity = 1u << 14;

LinkConfig link_config(const core::NetInfo& net) {
  LinkConfig c;
  // With MTU 0 (no MTU handed out) the engine may send frames up to 65535
  // bytes of IP.
  c.mtu = net.mtu == 0 ? 65535 : net.mtu;
  c.pool_frames = 128;
  c.queue_frames = 64;
  c.max_batch = 64;
  for (LinkFaults& f : c.faults) f.delay = Duration::zero();
  return c;
}

HostNetConfig host_config(const SimBackendOptions& o) {
  HostNetConfig c;
  c.loopback_latency = Duration::zero();
  c.unknown_latency = Duration::zero();
  c.loopback_bandwidth = 1000000000000000ULL;  // no pacing delay at any size
  c.local_v4 = o.host_v4;
  c.local_v6 = o.host_v6;
  // pasta's splice pools (32 pipes, 32 sockets per family) come on top of
  // what a script opens.
  c.max_sockets = 512;
  return c;
}

}  // namespace

// Records every frame towards the guest with its arrival time.
class SimBackend::Guest final : public GuestStack {
 public:
  explicit Guest(Instant t0) : t0_(t0) {}
  void attach(GuestPort& port) noexcept override { port_ = &port; }
  void on_frame(Bytes frame, Instant now) noexcept override {
    CapturedFrame f;
    f.at_ns = (now - t0_).ns;
    f.bytes.assign(frame.begin(), frame.end());
    rx_.push_back(std::move(f));
  }
  GuestPort* port_ = nullptr;
  Instant t0_;
  std::deque<CapturedFrame> rx_;
};

SimBackend::SimBackend(core::Config cfg, const core::NetInfo& net, const SimBackendOptions& o)
    : cfg_(std::move(cfg)),
      net_(net),
      world_(o.seed, kEventCapacity),
      link_(world_, link_config(net)),
      hostnet_(world_, host_config(o)),
      link_check_(link_),
      net_check_(hostnet_) {
  world_.add_checker(link_check_);
  world_.add_checker(net_check_);
  // Every address answers pings at once (the outer namespace of the
  // harness reaches its loopback, its own addresses and the dead end).
  (void)hostnet_.add_ping_host(ports::Netns::host, InAny::from(Ipv4Addr::any()), Duration::zero());
  (void)hostnet_.add_ping_host(ports::Netns::host, InAny::from(Ipv6Addr::any()), Duration::zero());
  t0_ = world_.now();
  guest_ = std::make_unique<Guest>(t0_);
  link_.attach_guest(*guest_);
  engine::Sizing sizing;
  sizing.flows = 1024;
  sizing.tap_batch_frames = 64;
  sizing.tap_arena = 1u << 20;
  proto::TcpOptions tcp;
  tcp.frames_per_peek = o.pasta ? 1 : 128;  // as src/app/main.cpp
  engine_ = std::make_unique<engine::Engine>(cfg_, net_, ports::Ports{link_, hostnet_, world_}, sizing, tcp);
  if (auto s = engine_->open_listeners(); !s)
    setup_error_ = std::string("cannot open the -t listeners: ") + err_name(s.err());
  world_.set_sink(engine_.get());
  world_.set_phase("script");
  engine_->start(world_.now());
}

SimBackend::~SimBackend() { world_.set_sink(nullptr); }

i64 SimBackend::now_ns() { return (world_.now() - t0_).ns; }

void SimBackend::take(std::deque<CapturedFrame>& frames) {
  while (!guest_->rx_.empty()) {
    frames.push_back(std::move(guest_->rx_.front()));
    guest_->rx_.pop_front();
  }
}

bool SimBackend::advance(i64 until_ns, std::deque<CapturedFrame>& frames) {
  if (world_.failed()) return false;
  const Instant until = t0_ + Duration::nanos(until_ns);
  if (world_.next_time() <= until) {
    (void)world_.step();
    take(frames);
    return !world_.failed();
  }
  if (world_.now() < until) (void)world_.run_until(until);
  take(frames);
  return false;
}

const char* SimBackend::failure() {
  if (!world_.failed()) return nullptr;
  const Failure& f = world_.failure();
  char buf[512];
  std::snprintf(buf, sizeof(buf), "simulator: %s: %s (event %llu)", f.source, f.reason,
                static_cast<unsigned long long>(f.event));
  failure_ = buf;
  return failure_.c_str();
}

bool SimBackend::inject(Bytes frame, std::string& err) {
  if (guest_->port_ == nullptr || !guest_->port_->guest_send(frame)) {
    err = frame.size() < 14 ? "the simulated link refuses frames shorter than an Ethernet header"
                            : "the simulated link refused the frame (queue full or too large)";
    return false;
  }
  return true;
}

Result<int> SimBackend::host_listen(const HostAddr& at, u32 backlog) {
  const bool v6 = at.any || at.v6;
  auto s = hostnet_.socket(ports::Netns::host, v6 ? ports::Family::v6 : ports::Family::v4, ports::SockType::tcp);
  if (!s) return s.err();
  if (at.any) (void)hostnet_.set_opt(*s, ports::SockOpt::v6only, 0);
  (void)hostnet_.set_opt(*s, ports::SockOpt::reuseaddr, 1);
  ports::SockAddr a;
  a.addr = at.any ? InAny::from(Ipv6Addr::any()) : at.addr;
  a.port = at.port;
  if (auto r = hostnet_.bind(*s, a); !r) {
    hostnet_.close(*s);
    return r.err();
  }
  if (auto r = hostnet_.listen(*s, static_cast<int>(backlog)); !r) {
    hostnet_.close(*s);
    return r.err();
  }
  return s->v;
}

Result<int> SimBackend::host_accept(int listener) {
  ports::SockAddr peer;
  auto s = hostnet_.accept(ports::Sock{listener}, &peer);
  if (!s) return s.err();
  return s->v;
}

Result<int> SimBackend::host_connect(const HostAddr& to, u16 from_port) {
  auto s = hostnet_.socket(ports::Netns::host, to.v6 ? ports::Family::v6 : ports::Family::v4,
                           ports::SockType::tcp);
  if (!s) return s.err();
  if (from_port != 0) {
    ports::SockAddr a;
    a.addr = to.v6 ? InAny::from(Ipv6Addr::any()) : InAny::from(Ipv4Addr::any());
    a.port = from_port;
    if (auto r = hostnet_.bind(*s, a); !r) {
      hostnet_.close(*s);
      return r.err();
    }
  }
  ports::SockAddr a;
  a.addr = to.addr;
  a.port = to.port;
  Status r = hostnet_.connect(*s, a);
  if (!r && r.err() != Err::in_progress) {
    conn_results_.push_back({s->v, r.err()});
    return s->v;
  }
  return s->v;
}

Err SimBackend::host_connect_result(int h) {
  for (const ConnResult& c : conn_results_)
    if (c.h == h) return c.e;
  const u32 r = hostnet_.readiness(ports::Sock{h});
  Err e = Err::again;
  if ((r & ports::ev::err) != 0) {
    e = hostnet_.take_error(ports::Sock{h});
    if (e == Err::none) e = Err::other;
  } else if ((r & ports::ev::out) != 0) {
    e = Err::none;
  } else if ((r & ports::ev::hup) != 0) {
    e = Err::conn_reset;
  }
  if (e != Err::again) conn_results_.push_back({h, e});
  return e;
}

Result<std::size_t> SimBackend::host_send(int h, Bytes data) {
  Bytes iov[1] = {data};
  return hostnet_.send(ports::Sock{h}, std::span<const Bytes>(iov, 1), false);
}

Result<std::size_t> SimBackend::host_recv(int h, MutBytes buf) {
  MutBytes iov[1] = {buf};
  return hostnet_.recv(ports::Sock{h}, std::span<const MutBytes>(iov, 1));
}

Status SimBackend::host_shutdown(int h) { return hostnet_.shutdown_write(ports::Sock{h}); }

void SimBackend::host_close(int h, bool reset) {
  if (reset) (void)hostnet_.set_opt(ports::Sock{h}, ports::SockOpt::linger_zero, 1);
  hostnet_.close(ports::Sock{h});
  for (std::size_t i = 0; i < conn_results_.size(); i++)
    if (conn_results_[i].h == h) {
      conn_results_.erase(conn_results_.begin() + static_cast<long>(i));
      break;
    }
}

Result<int> SimBackend::host_udp_bind(const HostAddr& at) {
  const bool v6 = at.any || at.v6;
  auto s = hostnet_.socket(ports::Netns::host, v6 ? ports::Family::v6 : ports::Family::v4, ports::SockType::udp);
  if (!s) return s.err();
  if (at.any) (void)hostnet_.set_opt(*s, ports::SockOpt::v6only, 0);
  ports::SockAddr a;
  a.addr = at.any ? InAny::from(Ipv6Addr::any()) : at.addr;
  a.port = at.port;
  if (auto r = hostnet_.bind(*s, a); !r) {
    hostnet_.close(*s);
    return r.err();
  }
  return s->v;
}

Result<std::size_t> SimBackend::host_udp_send(int h, const HostAddr& to, Bytes data) {
  const Bytes iov[1] = {data};
  ports::SockAddr a;
  a.addr = to.addr;
  a.port = to.port;
  const ports::SendSlot m{std::span<const Bytes>(iov, 1), &a};
  auto r = hostnet_.send_batch(ports::Sock{h}, std::span<const ports::SendSlot>(&m, 1));
  if (!r) return r.err();
  return *r == 1 ? data.size() : 0;
}

Result<std::size_t> SimBackend::host_udp_recv(int h, MutBytes buf, HostAddr& from) {
  ports::RecvSlot slot;
  slot.buf = buf;
  auto r = hostnet_.recv_batch(ports::Sock{h}, std::span<ports::RecvSlot>(&slot, 1));
  if (!r) return r.err();
  from.any = false;
  from.addr = slot.peer.addr;
  from.v6 = !slot.peer.addr.is_v4();
  from.port = slot.peer.port;
  return slot.len;
}

}  // namespace passt::sim::script
