// A test rig for the engine's TCP: the real Engine against the simulator's
// socket model (SimHostNet) in virtual time, with a capturing TapPort, and
// helpers to build guest segments and read the engine's.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

#include "core/config.hpp"
#include "core/net_info.hpp"
#include "engine/engine.hpp"
#include "sim/hostnet.hpp"
#include "sim/world.hpp"
#include "wire/ethernet.hpp"
#include "wire/frame.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace passt::engine::test {

namespace tf = wire::tcp_flag;

// Captures frames; can refuse all but the first `limit` of each batch.
class CaptureTap final : public ports::TapPort {
 public:
  std::size_t send(std::span<const Bytes> frames) noexcept override {
    std::size_t n = frames.size() < limit ? frames.size() : limit;
    for (std::size_t i = 0; i < n; i++) {
      sent.emplace_back(frames[i].begin(), frames[i].end());
      gso.push_back(0);
    }
    return n;
  }
  std::size_t send_gso(std::span<const Bytes> frames, std::span<const u16> sizes) noexcept override {
    const std::size_t first = gso.size();
    const std::size_t n = send(frames);
    for (std::size_t i = 0; i < n; i++) gso[first + i] = sizes[i];
    return n;
  }
  bool connected() const noexcept override { return true; }
  bool takes_gso() const noexcept override { return gso_ok; }
  std::size_t limit = ~std::size_t{0};
  bool gso_ok = true;  // what takes_gso() answers
  std::vector<std::vector<u8>> sent;
  std::vector<u16> gso;  // per sent frame: its GSO size (0: none)
};

struct Ep {
  InAny addr;
  u16 port = 0;
};

// A TCP segment as the guest sees it.
struct Seg {
  bool v6 = false;
  InAny src;
  InAny dst;
  u16 sport = 0;
  u16 dport = 0;
  Seq seq;
  Seq ack;
  u8 flags = 0;
  u16 window = 0;
  std::vector<u8> payload;
  std::optional<u16> mss;
  std::optional<u8> ws;
  u32 flow_label = 0;
  bool has(u8 f) const noexcept { return (flags & f) != 0; }
};

// A remote TCP peer of the simulated host with 1 ms of latency.
inline sim::PeerSpec peer(sim::PeerKind k, u64 bytes = 0) {
  sim::PeerSpec p;
  p.kind = k;
  p.latency = Duration::millis(1);
  p.bytes = bytes;
  return p;
}

inline const Ipv4Addr kGuest4 = Ipv4Addr::of(192, 0, 2, 1);  // = the host's (copied)
inline const Ipv4Addr kGw4 = Ipv4Addr::of(192, 0, 2, 254);
inline const Ipv6Addr kGuest6{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
inline const Ipv6Addr kLl6{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
inline const MacAddr kGuestMac{{0x52, 0x54, 0, 0x12, 0x34, 0x56}};

// The simulator's sockets bind to any address: probing would find every
// destination local.
inline proto::TcpOptions rig_opts() {
  proto::TcpOptions o;
  o.probe_local = false;
  return o;
}

inline core::NetInfo rig_net() {
  core::NetInfo n;
  n.v4.enabled = true;
  n.v4.addr = kGuest4;
  n.v4.gateway = kGw4;
  n.v4.our_tap_addr = kGw4;
  n.v4.map_host_loopback = kGw4;
  n.v6.enabled = true;
  n.v6.addr = kGuest6;
  n.v6.gateway = kLl6;
  n.v6.our_tap_ll = kLl6;
  n.v6.map_host_loopback = kLl6;
  n.dhcp = n.ndp = n.dhcpv6 = n.ra = false;
  return n;
}

class TcpRig {
 public:
  explicit TcpRig(core::NetInfo net = rig_net(), core::Config cfg = {}, u32 flows = 64,
                  sim::HostNetConfig ncfg = {}, proto::TcpOptions topt = rig_opts(),
                  bool tap_offload = false)
      : cfg_(std::move(cfg)), net_(std::move(net)), world_(7, 1 << 14), hostnet_(world_, ncfg),
        offload_(tap_offload) {
    cfg_.mtu = net_.mtu;
    Sizing sz{flows, 256, 1 << 20};
    // pasta's tap with a virtio-net header: checksums left 0, GSO frames.
    sz.tap_l4_csum_offload = sz.tap_gso = tap_offload;
    eng_ = std::make_unique<Engine>(cfg_, net_, ports::Ports{tap, hostnet_, world_}, sz, topt);
    world_.set_sink(eng_.get());
    eng_->start(world_.now());
    listen_status = eng_->open_listeners();
  }

  Engine& eng() noexcept { return *eng_; }
  sim::SimHostNet& net() noexcept { return hostnet_; }
  sim::World& world() noexcept { return world_; }
  Instant now() noexcept { return world_.now(); }
  const proto::TcpStats& stats() const noexcept { return eng_->tcp().stats(); }

  void inject(const std::vector<u8>& frame) {
    Bytes b(frame);
    eng_->on_tap_frames(std::span<const Bytes>(&b, 1), world_.now());
    eng_->flush(world_.now());
  }
  void inject_batch(const std::vector<std::vector<u8>>& frames) {
    std::vector<Bytes> v;
    for (const auto& f : frames) v.emplace_back(f);
    eng_->on_tap_frames(std::span<const Bytes>(v), world_.now());
    eng_->flush(world_.now());
  }
  void run(Duration d) { ASSERT_TRUE(world_.run_until(world_.now() + d)) << world_.failure().reason; }

  // The TCP segments the engine sent since the last call.
  std::vector<Seg> take() {
    std::vector<Seg> out;
    for (; taken_ < tap.sent.size(); taken_++) {
      auto pf = wire::parse_frame(Bytes(tap.sent[taken_]));
      EXPECT_TRUE(pf.ok());
      if (!pf || pf->l4 != wire::L4::tcp) continue;
      // With the offload the tap completes TCP checksums (left 0), and only
      // frames marked GSO may exceed the MTU.
      if (!offload_) {
        EXPECT_TRUE(wire::frame_checksums_ok(*pf));
      }
      if (tap.gso[taken_] == 0) {
        EXPECT_LE(tap.sent[taken_].size(), static_cast<std::size_t>(net_.mtu) + 14);
      }
      const wire::TcpView& t = *pf->tcp;
      Seg s;
      s.v6 = pf->l3 == wire::L3::ipv6;
      s.src = pf->src;
      s.dst = pf->dst;
      s.sport = t.src_port();
      s.dport = t.dst_port();
      s.seq = t.seq();
      s.ack = t.ack();
      s.flags = t.flags();
      s.window = t.window();
      s.payload.assign(t.payload().begin(), t.payload().end());
      const wire::TcpOptions o = wire::TcpOptions::parse(t.options());
      s.mss = o.mss;
      s.ws = o.wscale;
      if (pf->ip6) s.flow_label = pf->ip6->flow_label();
      out.push_back(std::move(s));
    }
    return out;
  }

  Status listen_status;
  CaptureTap tap;

 private:
  core::Config cfg_;
  core::NetInfo net_;
  sim::World world_;
  sim::SimHostNet hostnet_;
  bool offload_ = false;
  std::unique_ptr<Engine> eng_;
  std::size_t taken_ = 0;
};

// A guest segment from `from` to `to`.
inline std::vector<u8> guest_seg(const Ep& from, const Ep& to, u8 flags, Seq seq, Seq ack,
                                 u16 window, const std::vector<u8>& payload = {},
                                 std::optional<u16> mss = std::nullopt,
                                 std::optional<u8> ws = std::nullopt, bool bad_csum = false) {
  const bool v6 = !from.addr.is_v4();
  wire::TcpRepr t;
  t.src_port = from.port;
  t.dst_port = to.port;
  t.seq = seq;
  t.ack = ack;
  t.flags = flags;
  t.window = window;
  t.options.mss = mss;
  t.options.wscale = ws;
  t.payload_len = payload.size();
  const std::size_t l4 = 14 + (v6 ? 40 : 20);
  std::vector<u8> f(l4 + t.length());
  MutBytes b(f);
  wire::EthernetRepr eth{MacAddr{{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}}, kGuestMac,
                         v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4};
  (void)eth.emit(b);
  std::copy(payload.begin(), payload.end(), f.begin() + static_cast<long>(l4 + t.header_len()));
  if (!v6) {
    wire::Ipv4Repr ip;
    ip.src = from.addr.v4();
    ip.dst = to.addr.v4();
    ip.protocol = 6;
    ip.payload_len = static_cast<u16>(t.length());
    (void)ip.emit(b.subspan(14));
    (void)t.emit(b.subspan(l4, t.length()), ip.src, ip.dst);
  } else {
    wire::Ipv6Repr ip;
    ip.src = from.addr.v6();
    ip.dst = to.addr.v6();
    ip.next_header = 6;
    ip.payload_len = static_cast<u16>(t.length());
    (void)ip.emit(b.subspan(14));
    (void)t.emit(b.subspan(l4, t.length()), ip.src, ip.dst);
  }
  if (bad_csum) f[l4 + 16] ^= 0x01;
  return f;
}

inline std::vector<u8> bytes_of(const char* s) {
  std::vector<u8> v;
  for (; *s != '\0'; s++) v.push_back(static_cast<u8>(*s));
  return v;
}

}  // namespace passt::engine::test
