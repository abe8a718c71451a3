#include "proto/arp.hpp"

#include <array>

#include "wire/ethernet.hpp"

namespace passt::proto {

bool arp_handle(TapCtx& ctx, const MacAddr& eth_src, const wire::ArpView& req) noexcept {
  auto r = wire::ArpRepr::from(req);
  if (!r || r->oper != wire::arp_op::request) return false;
  const wire::ArpRepr& q = *r;
  bool probe = q.spa.is_unspecified();
  if (q.spa == q.tpa && !probe) return false;  // gratuitous announcement
  if (ctx.net.v4.enabled && q.tpa == ctx.net.v4.addr) return false;

  wire::ArpRepr reply;
  reply.oper = wire::arp_op::reply;
  reply.sha = ctx.net.our_mac;
  reply.spa = q.tpa;
  reply.tha = q.sha;
  reply.tpa = q.spa;
  std::array<u8, wire::kArpEthIpv4Len> body{};
  if (!reply.emit(MutBytes(body))) return false;
  MacAddr dst = eth_src.is_multicast() ? q.sha : eth_src;
  std::array<u8, wire::kEthHeaderLen + wire::kArpEthIpv4Len> frame{};
  auto len = build_eth(MutBytes(frame), ctx.net.our_mac, dst, wire::ethertype::arp, Bytes(body));
  if (!len) return false;
  return ctx.out.push(Bytes(frame.data(), *len));
}

}  // namespace passt::proto
