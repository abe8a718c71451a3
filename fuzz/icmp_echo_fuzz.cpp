// ICMP echo through the engine: arbitrary guest ICMP/ICMPv6 messages (with
// valid checksums, so they get past the engine's check) to a few targets,
// interleaved with jumps in virtual time, against the simulator's socket
// model.  Properties: no internal check fails; every frame the engine emits
// parses with valid checksums; every echo reply answers a request the guest
// sent (same addresses swapped, same identifier and sequence number); the
// flow table and deadline heap stay consistent; 60 s after the last input
// no ping flow and no socket is left.
//
// Input: records of [ctrl][len_hi][len_lo][message bytes...]:
//   ctrl bit 0     IPv6
//   ctrl bits 1-2  target: remote echo host, silent address, gateway,
//                  map_guest_addr
//   ctrl bit 3     IPv6: from the guest's link-local address
//   ctrl bits 4-7  then advance virtual time by 0, 1 ms, 10 ms, ... (15: 61 s)
// The message is used as the ICMP message (type, code, id, seq, data); its
// checksum is recomputed.
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/config.hpp"
#include "core/net_info.hpp"
#include "engine/engine.hpp"
#include "fuzz/fuzz.hpp"
#include "sim/hostnet.hpp"
#include "sim/world.hpp"
#include "util/endian.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/frame.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"

namespace {

using namespace passt;

const Ipv4Addr kGuest4 = Ipv4Addr::of(192, 0, 2, 1);
const Ipv4Addr kGw4 = Ipv4Addr::of(192, 0, 2, 254);
const Ipv4Addr kMap4 = Ipv4Addr::of(192, 0, 2, 253);
const Ipv6Addr kGuest6{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
const Ipv6Addr kGuestLl6{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
const Ipv6Addr kLl6{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
const Ipv6Addr kMap6{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfd}};
const MacAddr kGuestMac{{0x52, 0x54, 0, 0x12, 0x34, 0x56}};
constexpr std::size_t kMaxMsg = 1400;
constexpr std::size_t kMaxSent = 256;

InAny target(bool v6, unsigned sel) {
  switch (sel) {
    case 0: return v6 ? InAny::from(*parse_ipv6("2001:db8:71::5")) : InAny::from(Ipv4Addr::of(203, 0, 113, 5));
    case 1: return v6 ? InAny::from(*parse_ipv6("2001:db8:71::99")) : InAny::from(Ipv4Addr::of(203, 0, 113, 99));
    case 2: return v6 ? InAny::from(kLl6) : InAny::from(kGw4);
    default: return v6 ? InAny::from(kMap6) : InAny::from(kMap4);
  }
}

struct Sent {
  InAny src, dst;
  u16 id = 0;
  u16 seq = 0;
};

class Tap final : public ports::TapPort {
 public:
  std::size_t send(std::span<const Bytes> frames) noexcept override {
    for (Bytes f : frames) check(f);
    return frames.size();
  }
  bool connected() const noexcept override { return true; }

  void check(Bytes frame) const noexcept {
    auto pf = wire::parse_frame(frame);
    PASST_CHECK(pf.ok());
    PASST_CHECK(wire::frame_checksums_ok(*pf));
    PASST_CHECK(frame.size() <= 1500 + wire::kEthHeaderLen);
    if (pf->l4 != wire::L4::icmp && pf->l4 != wire::L4::icmpv6) return;
    const Bytes m = pf->l4_bytes;
    PASST_CHECK(m.size() >= 8);
    PASST_CHECK(m[0] == (pf->l4 == wire::L4::icmp ? 0 : 129));  // echo replies only
    PASST_CHECK(m[1] == 0);
    const u16 id = load_be16(m.data() + 4);
    const u16 seq = load_be16(m.data() + 6);
    bool found = false;
    for (std::size_t i = 0; i < nsent && !found; i++)
      found = sent[i].src == pf->dst && sent[i].dst == pf->src && sent[i].id == id && sent[i].seq == seq;
    PASST_CHECK(found);
  }

  Sent sent[kMaxSent];
  std::size_t nsent = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  core::NetInfo net;
  net.mtu = 1500;
  net.v4.enabled = true;
  net.v4.addr = kGuest4;
  net.v4.gateway = kGw4;
  net.v4.our_tap_addr = kGw4;
  net.v4.map_host_loopback = kGw4;
  net.v4.map_guest_addr = kMap4;
  net.v6.enabled = true;
  net.v6.addr = kGuest6;
  net.v6.gateway = kLl6;
  net.v6.our_tap_ll = kLl6;
  net.v6.map_host_loopback = kLl6;
  net.v6.map_guest_addr = kMap6;
  net.dhcp = net.ndp = net.dhcpv6 = net.ra = false;
  core::Config cfg;
  cfg.mode = core::Mode::passt;

  sim::World w(1, 1 << 12);
  sim::HostNetConfig hc;
  // Small: the model preallocates every buffer, per input.
  hc.max_sockets = 16;
  hc.max_conns = 1;
  hc.max_dgram_socks = 16;
  hc.max_services = 8;
  hc.buf_cap = 16384;
  hc.rcvbuf_default = 16384;
  hc.sndbuf_default = 16384;
  hc.dgram_queue = 16;
  sim::SimHostNet host(w, hc);
  (void)host.add_ping_host(ports::Netns::host, target(false, 0), Duration::micros(100));
  (void)host.add_ping_host(ports::Netns::host, target(true, 0), Duration::micros(100));
  (void)host.add_ping_host(ports::Netns::host, InAny::from(Ipv4Addr::loopback()), Duration::micros(5));
  (void)host.add_ping_host(ports::Netns::host, InAny::from(Ipv6Addr::loopback()), Duration::micros(5));
  (void)host.add_ping_host(ports::Netns::host, InAny::from(kGuest4), Duration::micros(5));
  (void)host.add_ping_host(ports::Netns::host, InAny::from(kGuest6), Duration::micros(5));
  Tap tap;
  engine::Sizing sizing;
  sizing.flows = 8;
  sizing.tap_arena = 1 << 16;
  engine::Engine eng(cfg, net, ports::Ports{tap, host, w}, sizing);
  w.set_sink(&eng);
  eng.start(w.now());

  static constexpr i64 kAdvanceNs[16] = {
      0, 1000000, 10000000, 100000000, 1000000000, 5000000000LL, 10000000000LL, 20000000000LL,
      30000000000LL, 59000000000LL, 59999999999LL, 60000000000LL, 60000000001LL, 2000000, 500000000,
      61000000000LL};
  std::vector<u8> frame(wire::kEthHeaderLen + wire::kIpv6HeaderLen + kMaxMsg);
  std::size_t off = 0;
  while (off + 3 <= size) {
    const u8 ctrl = data[off];
    std::size_t len = (static_cast<std::size_t>(data[off + 1]) << 8) | data[off + 2];
    off += 3;
    if (len > size - off) len = size - off;
    if (len > kMaxMsg) len = kMaxMsg;
    if (len < 4) {  // type, code and the checksum at least
      if (size - off < 4) break;
      len = 4;
    }
    const bool v6 = (ctrl & 1) != 0;
    const InAny src = v6 ? InAny::from((ctrl & 8) != 0 ? kGuestLl6 : kGuest6) : InAny::from(kGuest4);
    const InAny dst = target(v6, (ctrl >> 1) & 3);
    const std::size_t ip = v6 ? wire::kIpv6HeaderLen : wire::kIpv4HeaderLen;
    const std::size_t l4 = wire::kEthHeaderLen + ip;
    MutBytes f(frame.data(), l4 + len);
    (void)wire::EthernetRepr{net.our_mac, kGuestMac, v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4}.emit(f);
    std::memcpy(f.data() + l4, data + off, len);
    off += len;
    MutBytes m = f.subspan(l4);
    m[2] = 0;
    m[3] = 0;
    if (!v6) {
      wire::Ipv4Repr h;
      h.src = src.v4();
      h.dst = dst.v4();
      h.protocol = wire::ipproto::icmp;
      h.ttl = 64;
      h.payload_len = static_cast<u16>(len);
      (void)h.emit(f.subspan(wire::kEthHeaderLen));
      store_be16(m.data() + 2, wire::Csum().add(Bytes(m)).finish());
    } else {
      wire::Ipv6Repr h;
      h.src = src.v6();
      h.dst = dst.v6();
      h.next_header = wire::kIpProtoIcmpv6;
      h.hop_limit = 64;
      h.payload_len = static_cast<u16>(len);
      (void)h.emit(f.subspan(wire::kEthHeaderLen));
      (void)wire::icmpv6_fill_checksum(h.src, h.dst, m);
    }
    if (len >= 8 && tap.nsent < kMaxSent)
      tap.sent[tap.nsent++] = Sent{src, dst, load_be16(m.data() + 4), load_be16(m.data() + 6)};
    const Bytes one[1] = {Bytes(f)};
    eng.on_tap_frames(std::span<const Bytes>(one), w.now());
    eng.flush(w.now());
    PASST_CHECK(w.run_until(w.now() + Duration::nanos(kAdvanceNs[ctrl >> 4])));
    PASST_CHECK(eng.flows().verify() == nullptr);
    PASST_CHECK(eng.timers().verify() == nullptr);
  }
  PASST_CHECK(w.run_until(w.now() + Duration::seconds(61)));
  PASST_CHECK(eng.flows().active_count() == 0);
  PASST_CHECK(host.open_sockets() == 0);
  return 0;
}
