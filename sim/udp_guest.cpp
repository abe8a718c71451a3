#include "sim/udp_guest.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "wire/ethernet.hpp"
#include "wire/frame.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/udp.hpp"

namespace passt::sim {

namespace {
constexpr Duration kLinkRetry = Duration::millis(1);
}  // namespace

UdpGuest::UdpGuest(const UdpGuestConfig& cfg, UdpGuestHandler& handler)
    : cfg_(cfg), handler_(handler), frame_cap_(static_cast<std::size_t>(cfg_.mtu) + wire::kEthHeaderLen) {
  if (cfg_.backlog == 0) cfg_.backlog = 1;
  q_.reset(new u8[frame_cap_ * cfg_.backlog]);
  qlen_.reset(new u32[cfg_.backlog]);
}

UdpGuest::~UdpGuest() = default;

void UdpGuest::violate(const char* fmt, ...) noexcept {
  if (violation_[0] != '\0') return;
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(violation_, sizeof(violation_), fmt, ap);
  va_end(ap);
}

u32 UdpGuest::add_app(const UdpGuestApp& a) noexcept {
  if (napps_ == kMaxApps) return ~0u;
  apps_[napps_] = a;
  return napps_++;
}

bool UdpGuest::send(u32 i, const InAny& dst, u16 dport, Bytes payload, Instant now) noexcept {
  if (i >= napps_) return false;
  const UdpGuestApp& a = apps_[i];
  const std::size_t ip = a.v6 ? wire::kIpv6HeaderLen : wire::kIpv4HeaderLen;
  const std::size_t l4 = wire::kEthHeaderLen + ip;
  const std::size_t total = l4 + wire::kUdpHeaderLen + payload.size();
  if (total > frame_cap_ || nq_ == cfg_.backlog) {
    stats_.send_dropped++;
    return false;
  }
  const u32 slot = (qhead_ + nq_) % cfg_.backlog;
  MutBytes f(q_.get() + static_cast<std::size_t>(slot) * frame_cap_, total);
  wire::EthernetRepr eth{cfg_.router_mac, cfg_.mac, a.v6 ? wire::ethertype::ipv6 : wire::ethertype::ipv4};
  (void)eth.emit(f);
  if (!payload.empty()) std::memcpy(f.data() + l4 + wire::kUdpHeaderLen, payload.data(), payload.size());
  wire::UdpRepr u;
  u.src_port = a.port;
  u.dst_port = dport;
  u.payload_len = payload.size();
  if (!a.v6) {
    wire::Ipv4Repr h;
    h.src = cfg_.addr4;
    h.dst = dst.v4();
    h.protocol = wire::ipproto::udp;
    h.ttl = 64;
    h.payload_len = static_cast<u16>(u.length());
    (void)h.emit(f.subspan(wire::kEthHeaderLen));
    (void)u.emit(f.subspan(l4), h.src, h.dst);
  } else {
    wire::Ipv6Repr h;
    h.src = cfg_.addr6;
    h.dst = dst.v6();
    h.next_header = wire::ipproto::udp;
    h.hop_limit = 64;
    h.payload_len = static_cast<u16>(u.length());
    (void)h.emit(f.subspan(wire::kEthHeaderLen));
    (void)u.emit(f.subspan(l4), h.src, h.dst);
  }
  qlen_[slot] = static_cast<u32>(total);
  nq_++;
  stats_.dgrams_out++;
  drain(now);
  return true;
}

void UdpGuest::drain(Instant now) noexcept {
  while (nq_ > 0 && port_ != nullptr) {
    const Bytes f(q_.get() + static_cast<std::size_t>(qhead_) * frame_cap_, qlen_[qhead_]);
    if (!port_->guest_send(f)) {
      stats_.link_refused++;
      retry_at_ = now + kLinkRetry;
      return;
    }
    qhead_ = (qhead_ + 1) % cfg_.backlog;
    nq_--;
  }
  retry_at_ = Instant::never();
}

void UdpGuest::on_deadline(Instant now) noexcept {
  if (now >= retry_at_) drain(now);
}

void UdpGuest::on_frame(Bytes frame, Instant now) noexcept {
  stats_.frames_in++;
  auto pf = wire::parse_frame(frame);
  if (!pf || !wire::frame_checksums_ok(*pf)) {
    stats_.frames_bad++;
    return;
  }
  const wire::Frame& f = *pf;
  const bool v6 = f.l3 == wire::L3::ipv6;
  const bool ours = f.l3 == wire::L3::ipv4 ? f.dst == InAny::from(cfg_.addr4)
                                           : (f.l3 == wire::L3::ipv6 && f.dst == InAny::from(cfg_.addr6));
  if (f.l4 != wire::L4::udp || !ours) {
    stats_.frames_other++;
    return;
  }
  for (u32 i = 0; i < napps_; i++) {
    const UdpGuestApp& a = apps_[i];
    if (a.v6 != v6 || a.port != f.dst_port) continue;
    if (a.connected && (a.peer != f.src || a.peer_port != f.src_port)) continue;
    stats_.dgrams_in++;
    handler_.on_guest_datagram(i, a, f.src, f.src_port, f.payload, now);
    return;
  }
  violate("a datagram from %s port %u to port %u (%zu bytes) that no guest socket takes",
          to_text(f.src).c_str(), f.src_port, f.dst_port, f.payload.size());
}

}  // namespace passt::sim
