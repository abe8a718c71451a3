// Reply building of the built-in services: an ARP reply and a DHCP OFFER,
// each from an already parsed request (what the engine hands the handler)
// into the TapOut batch, flushed to a NullTap every 64 replies.
#include <array>

#include "bench_util.hpp"
#include "core/net_info.hpp"
#include "proto/arp.hpp"
#include "proto/context.hpp"
#include "proto/dhcp.hpp"
#include "proto/tap_out.hpp"
#include "wire/arp.hpp"
#include "wire/dhcp.hpp"
#include "wire/ethernet.hpp"
#include "wire/frame.hpp"

namespace passt::bench {
namespace {

const MacAddr kGuestMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};

core::NetInfo bench_net() {
  core::NetInfo n;
  n.v4.enabled = true;
  n.v4.addr = Ipv4Addr::of(198, 51, 100, 1);
  n.v4.prefix_len = 24;
  n.v4.gateway = Ipv4Addr::of(198, 51, 100, 254);
  n.v4.our_tap_addr = n.v4.gateway;
  (void)n.v4.dns.push(Ipv4Addr::of(198, 51, 100, 53));
  (void)n.search.push("example.org");
  return n;
}

struct Rig {
  core::NetInfo net = bench_net();
  proto::GuestL2 guest;
  NullTap tap;
  proto::TapOut out{tap, 128, 1 << 20};
  proto::TapCtx ctx{net, guest, out};
};

void BM_arp_reply(benchmark::State& state) {
  Rig rig;
  wire::ArpRepr q{wire::arp_op::request, kGuestMac, Ipv4Addr::of(198, 51, 100, 1), MacAddr{},
                  Ipv4Addr::of(198, 51, 100, 254)};
  std::array<u8, wire::kArpEthIpv4Len> body{};
  (void)q.emit(MutBytes(body));
  auto view = wire::ArpView::parse(Bytes(body));
  if (!view) {
    state.SkipWithError("ARP request does not parse");
    return;
  }
  u32 n = 0;
  bool ok = true;
  fresh_slice();
  for (auto _ : state) {
    if (!proto::arp_handle(rig.ctx, kGuestMac, *view)) {
      ok = false;
      break;
    }
    if (++n == 64) {
      rig.out.flush();
      n = 0;
    }
  }
  rig.out.flush();
  if (!ok) state.SkipWithError("no ARP reply");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_arp_reply)->Name("arp_reply");

std::vector<u8> dhcp_discover() {
  wire::DhcpRepr r;
  r.op = wire::dhcp_op::request;
  r.xid = 0x11223344;
  r.set_client_mac(kGuestMac);
  r.message_type = wire::dhcp_msg::discover;
  wire::DhcpBlob prl;
  for (u8 c : std::array<u8, 6>{1, 3, 6, 15, 26, 119}) (void)prl.push(c);
  r.parameter_request_list = prl;
  std::vector<u8> payload(r.length());
  (void)r.emit(MutBytes(payload));
  std::vector<u8> frame(1600);
  auto len = proto::build_udp4(MutBytes(frame), kGuestMac, MacAddr::broadcast(), Ipv4Addr::any(),
                               Ipv4Addr::broadcast(), 68, 67, Bytes(payload));
  if (!len) return {};
  frame.resize(*len);
  return frame;
}

void BM_dhcp_offer(benchmark::State& state) {
  Rig rig;
  const std::vector<u8> frame = dhcp_discover();
  auto f = wire::parse_frame(Bytes(frame));
  if (frame.empty() || !f) {
    state.SkipWithError("DHCP DISCOVER does not parse");
    return;
  }
  u32 n = 0;
  bool ok = true;
  fresh_slice();
  for (auto _ : state) {
    if (!proto::dhcp_handle(rig.ctx, *f)) {
      ok = false;
      break;
    }
    if (++n == 64) {
      rig.out.flush();
      n = 0;
    }
  }
  rig.out.flush();
  if (!ok) state.SkipWithError("no DHCP reply");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_dhcp_offer)->Name("dhcp_offer");

}  // namespace
}  // namespace passt::bench
