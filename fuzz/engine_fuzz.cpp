// The whole core under fuzzing: the real Engine (ARP, DHCP, NDP, DHCPv6,
// TCP, dispatch, timers, flow table) against the simulator's socket model
// in virtual time, driven by a byte program.  Assertions are the
// simulator's checkers and our own, evaluated after every event:
//
//   * every frame the engine sends parses, fits the MTU, has correct
//     checksums and comes from our MAC;
//   * the flow table and the deadline heap verify() (every 8 events);
//   * the socket model's own invariants and peer verification
//     (HostNetChecker: remote peers check every byte they receive);
//   * the World's own failures (livelock: time never advancing, event
//     budget), and at the end, after two virtual minutes to drain: the flow
//     table, the heap and the model still consistent.
//
// The program (docs/security.md, "Fuzzing"): byte 0 picks the set-up
// (flow table 4/16/64 entries, services on or off, the tap taking every
// frame or a limited number per batch); then operations until the input
// ends, each an opcode byte and its arguments:
//
//   0 seg    [conn][flags][seq:2][ack:2][win:2][len] payload   a TCP segment of
//            the guest's connection `conn` (port 40000 + conn % 8; service by
//            conn / 8 % 4: echo, endless source, silent, closed; IPv6 if
//            conn >= 128).  seq and ack are offsets from the guest's next
//            sequence number and from the last one the engine used on that
//            connection, so programs reach established states;
//   1 raw    [len:2] bytes                                    a raw frame;
//   2 time   [e]                                              2^(e % 25) us pass;
//   3 tap    [n]                                              the tap takes n
//            frames per batch from now on (255: all, 0: none);
//   4 accept [kind]                                           a remote client
//            connects to the -t 8080 forward (client/source/sink/resetter);
//   5 batch  [count][len:2] bytes...                          `count` raw frames in one
//            on_tap_frames() call.
//
// Seeds (fuzz/corpus/engine/) are handshakes, data, FIN and RST programs
// and every frame of fuzz/corpus/frame as a raw op (ci/fuzz-corpus-engine.py).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/engine.hpp"
#include "fuzz/fuzz.hpp"
#include "sim/hostnet.hpp"
#include "sim/world.hpp"
#include "wire/ethernet.hpp"
#include "wire/frame.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace {

using namespace passt;
namespace tf = wire::tcp_flag;

const Ipv4Addr kGuest4 = Ipv4Addr::of(192, 0, 2, 1);
const Ipv4Addr kGw4 = Ipv4Addr::of(192, 0, 2, 254);
const Ipv6Addr kGuest6{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
const Ipv6Addr kLl6{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
const MacAddr kGuestMac{{0x52, 0x54, 0, 0x12, 0x34, 0x56}};
const MacAddr kOurMac{{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}};
constexpr int kConns = 256;

// The remote services, by conn / 8 % 4.
InAny service_addr(int conn) {
  const u8 k = static_cast<u8>(conn / 8 % 4);
  if (conn >= 128) {
    Ipv6Addr a{{0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<u8>(10 + k)}};
    return InAny::from(a);
  }
  return InAny::from(Ipv4Addr::of(203, 0, 113, static_cast<u8>(10 + k)));
}

// Every frame the engine sends, checked; remembers each connection's last
// sequence number for the program's ack offsets.
class CheckingTap final : public ports::TapPort {
 public:
  std::size_t send(std::span<const Bytes> frames) noexcept override {
    const std::size_t n = frames.size() < limit ? frames.size() : limit;
    for (std::size_t i = 0; i < n; i++) check(frames[i]);
    return n;
  }
  bool connected() const noexcept override { return true; }

  void check(Bytes b) noexcept {
    PASST_CHECK(b.size() <= static_cast<std::size_t>(mtu) + wire::kEthHeaderLen);
    auto f = wire::parse_frame(b);
    PASST_CHECK(f.ok());
    PASST_CHECK(wire::frame_checksums_ok(*f));
    PASST_CHECK(f->eth_src == kOurMac);
    if (f->l4 != wire::L4::tcp) return;
    const u16 port = f->tcp->dst_port();
    if (port < 40000 || port >= 40008) return;
    for (int c = port - 40000; c < kConns; c += 8) {
      if (service_addr(c) != f->src) continue;
      const u32 len = static_cast<u32>(f->tcp->payload().size());
      const u8 fl = f->tcp->flags();
      last_seq[c] = f->tcp->seq() + len + ((fl & (tf::syn | tf::fin)) != 0 ? 1u : 0u);
    }
  }

  std::size_t limit = ~std::size_t{0};
  u16 mtu = 65520;
  Seq last_seq[kConns];
};

class EngineInvariants final : public sim::Checker {
 public:
  explicit EngineInvariants(const engine::Engine& e) : e_(e) {}
  const char* name() const noexcept override { return "engine"; }
  const char* check(sim::World& w) noexcept override {
    if (w.events() % 8 != 0) return nullptr;
    if (const char* v = e_.flows().verify()) return v;
    return e_.timers().verify();
  }

 private:
  const engine::Engine& e_;
};

std::vector<u8> tcp_frame(int conn, u8 flags, Seq seq, Seq ack, u16 window, Bytes payload) {
  const bool v6 = conn >= 128;
  wire::TcpRepr t;
  t.src_port = static_cast<u16>(40000 + conn % 8);
  t.dst_port = 80;
  t.seq = seq;
  t.ack = ack;
  t.flags = flags;
  t.window = window;
  if ((flags & tf::syn) != 0) t.options.mss = 1460;
  t.payload_len = payload.size();
  const std::size_t l4 = wire::kEthHeaderLen + (v6 ? 40 : 20);
  std::vector<u8> f(l4 + t.length());
  MutBytes b(f);
  wire::EthernetRepr eth{kOurMac, kGuestMac, v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4};
  (void)eth.emit(b);
  if (!payload.empty())
    std::memcpy(f.data() + l4 + t.header_len(), payload.data(), payload.size());
  const InAny dst = service_addr(conn);
  if (!v6) {
    wire::Ipv4Repr ip;
    ip.src = kGuest4;
    ip.dst = dst.v4();
    ip.protocol = 6;
    ip.payload_len = static_cast<u16>(t.length());
    (void)ip.emit(b.subspan(wire::kEthHeaderLen));
    (void)t.emit(b.subspan(l4, t.length()), ip.src, ip.dst);
  } else {
    wire::Ipv6Repr ip;
    ip.src = kGuest6;
    ip.dst = dst.v6();
    ip.next_header = 6;
    ip.payload_len = static_cast<u16>(t.length());
    (void)ip.emit(b.subspan(wire::kEthHeaderLen));
    (void)t.emit(b.subspan(l4, t.length()), ip.src, ip.dst);
  }
  return f;
}

class Reader {
 public:
  Reader(const u8* d, std::size_t n) : d_(d), n_(n) {}
  bool more() const { return i_ < n_; }
  u8 u8_() { return i_ < n_ ? d_[i_++] : 0; }
  u16 u16_() { return static_cast<u16>(u8_() << 8 | u8_()); }
  Bytes bytes(std::size_t n) {
    if (n > n_ - i_) n = n_ - i_;
    Bytes b(d_ + i_, n);
    i_ += n;
    return b;
  }

 private:
  const u8* d_;
  std::size_t n_;
  std::size_t i_ = 0;
};

core::NetInfo net_info(bool services) {
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
  n.our_mac = kOurMac;
  n.dhcp = n.ndp = n.dhcpv6 = n.ra = services;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Reader in(data, size);
  const u8 setup = in.u8_();
  static constexpr u32 kFlows[4] = {4, 16, 64, 64};

  core::Config cfg;
  cfg.fwd_in.tcp.mode = core::FwdMode::spec;
  core::PortBindRule rule;
  rule.ports.push_back({8080, 8080});
  cfg.fwd_in.tcp.rules.push_back(rule);
  core::NetInfo net = net_info((setup & 4) != 0);
  cfg.mtu = net.mtu;

  sim::World world(1, 1 << 12);
  world.set_event_budget(200000);
  sim::HostNetConfig nc;
  nc.max_sockets = 48;
  nc.max_conns = 48;
  sim::SimHostNet hostnet(world, nc);
  sim::PeerSpec p;
  p.latency = Duration::millis(1);
  const sim::PeerKind kinds[4] = {sim::PeerKind::echo, sim::PeerKind::source,
                                  sim::PeerKind::silent, sim::PeerKind::echo};
  for (int k = 0; k < 3; k++) {
    p.kind = kinds[k];
    p.bytes = kinds[k] == sim::PeerKind::source ? 1u << 20 : 0;
    for (int v6 = 0; v6 < 2; v6++)
      (void)hostnet.add_tcp_service(ports::Netns::host, {service_addr(k * 8 + v6 * 128), 80, 0}, p);
  }
  CheckingTap tap;
  tap.mtu = net.mtu;
  if ((setup & 8) != 0) tap.limit = 1 + (setup >> 4);
  proto::TcpOptions topt;
  topt.probe_local = false;  // the model's sockets bind anywhere
  engine::Engine eng(cfg, net, ports::Ports{tap, hostnet, world},
                     engine::Sizing{kFlows[setup & 3], 64, 1 << 17}, topt);
  world.set_sink(&eng);
  sim::HostNetChecker hc(hostnet);
  EngineInvariants ec(eng);
  world.add_checker(hc);
  world.add_checker(ec);
  eng.start(world.now());
  (void)eng.open_listeners();

  Seq guest_seq[kConns];
  for (int c = 0; c < kConns; c++) guest_seq[c] = Seq{static_cast<u32>(1000 + c * 100000)};
  auto deliver = [&](std::span<const Bytes> frames) {
    eng.on_tap_frames(frames, world.now());
    eng.flush(world.now());
    (void)world.run_until(world.now());
  };

  for (int ops = 0; in.more() && ops < 512 && !world.failed(); ops++) {
    switch (in.u8_() % 6) {
      case 0: {
        const int c = in.u8_();
        const u8 flags = in.u8_();
        const i16 ds = static_cast<i16>(in.u16_());
        const i16 da = static_cast<i16>(in.u16_());
        const u16 win = in.u16_();
        const Bytes pl = in.bytes(in.u8_());
        const Seq seq = guest_seq[c] + static_cast<u32>(static_cast<i32>(ds));
        const Seq ack = tap.last_seq[c] + static_cast<u32>(static_cast<i32>(da));
        std::vector<u8> f = tcp_frame(c, flags, seq, ack, win, pl);
        if (ds == 0) guest_seq[c] = seq + static_cast<u32>(pl.size()) + ((flags & (tf::syn | tf::fin)) != 0 ? 1u : 0u);
        const Bytes b(f);
        deliver(std::span<const Bytes>(&b, 1));
        break;
      }
      case 1: {
        const Bytes b = in.bytes(in.u16_() % 2048);
        deliver(std::span<const Bytes>(&b, 1));
        break;
      }
      case 2:
        (void)world.run_until(world.now() + Duration::micros(i64{1} << (in.u8_() % 25)));
        break;
      case 3: {
        const u8 n = in.u8_();
        tap.limit = n == 255 ? ~std::size_t{0} : n;
        break;
      }
      case 4: {
        sim::PeerSpec cp;
        const sim::PeerKind ck[4] = {sim::PeerKind::client, sim::PeerKind::source, sim::PeerKind::sink,
                                     sim::PeerKind::resetter};
        cp.kind = ck[in.u8_() % 4];
        cp.bytes = 3000;
        cp.latency = Duration::millis(1);
        static u16 from_port = 5000;
        from_port = static_cast<u16>(from_port % 60000 + 1);
        (void)hostnet.connect_remote(ports::Netns::host,
                                     {InAny::from(Ipv4Addr::of(203, 0, 113, 77)), from_port, 0},
                                     {InAny::from(kGuest4), 8080, 0}, cp);
        break;
      }
      default: {
        const u8 count = static_cast<u8>(in.u8_() % 32 + 1);
        Bytes batch[32];
        for (u8 i = 0; i < count; i++) batch[i] = in.bytes(in.u16_() % 2048);
        deliver(std::span<const Bytes>(batch, count));
        break;
      }
    }
  }
  // Two virtual minutes with a guest that reads: timers, retransmissions,
  // resets and closes run their course.
  tap.limit = ~std::size_t{0};
  if (!world.failed()) (void)world.run_until(world.now() + Duration::seconds(130));
  // The event budget bounds a run; exhausting it is not a finding.
  const bool failed = world.failed() && std::strstr(world.failure().reason, "budget") == nullptr;
  if (failed)
    std::fprintf(stderr, "engine_fuzz: %s: %s\n", world.failure().source, world.failure().reason);
  PASST_CHECK(!failed);
  PASST_CHECK(eng.flows().verify() == nullptr);
  PASST_CHECK(eng.timers().verify() == nullptr);
  static const bool verbose = std::getenv("PASST_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    const proto::TcpStats& t = eng.tcp().stats();
    std::fprintf(stderr,
                 "engine_fuzz: frames in %llu, tcp from tap %llu, from sock %llu, bytes %llu/%llu, "
                 "rst to tap %llu, stateless %llu, table full %llu, events %llu\n",
                 static_cast<unsigned long long>(eng.stats().frames_in),
                 static_cast<unsigned long long>(t.conns_from_tap),
                 static_cast<unsigned long long>(t.conns_from_sock),
                 static_cast<unsigned long long>(t.bytes_from_tap),
                 static_cast<unsigned long long>(t.bytes_to_tap),
                 static_cast<unsigned long long>(t.rst_to_tap),
                 static_cast<unsigned long long>(t.rst_stateless),
                 static_cast<unsigned long long>(t.table_full),
                 static_cast<unsigned long long>(world.events()));
  }
  return 0;
}
