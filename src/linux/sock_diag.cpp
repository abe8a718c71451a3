#include "linux/sock_diag.hpp"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

namespace passt::os {

namespace {

// Kernel socket states (include/net/tcp_states.h) the scan asks for.
constexpr u8 kTcpListen = 10;  // TCP_LISTEN
constexpr u8 kUdpUnbound = 7;  // TCP_CLOSE: an unconnected UDP socket

static_assert(sizeof(inet_diag_req_v2) == 56, "request layout");

class PortCollector final : public Netlink::Visitor {
 public:
  PortCollector(u8 family, u8 state, ports::PortWords out) noexcept
      : family_(family), state_(state), out_(out) {}
  bool on_message(u16 type, Bytes payload) override {
    DiagRecord r;
    if (type != SOCK_DIAG_BY_FAMILY || !parse_inet_diag_msg(payload, &r)) return false;
    if (r.family != family_ || r.state != state_) return false;
    out_[r.port >> 6] |= u64{1} << (r.port & 63);
    return true;
  }

 private:
  u8 family_;
  u8 state_;
  ports::PortWords out_;
};

Status dump_ports(Netlink& nl, u8 family, u8 protocol, u8 state, ports::PortWords out) noexcept {
  inet_diag_req_v2 req{};
  req.sdiag_family = family;
  req.sdiag_protocol = protocol;
  req.idiag_states = u32{1} << state;
  NlBuilder b = nl.builder(SOCK_DIAG_BY_FAMILY, 0);
  b.put(&req, sizeof(req));
  PortCollector c(family, state, out);
  return nl.dump(b, c);
}

}  // namespace

bool parse_inet_diag_msg(Bytes payload, DiagRecord* out) noexcept {
  inet_diag_msg m{};
  if (payload.size() < sizeof(m)) return false;
  std::memcpy(&m, payload.data(), sizeof(m));
  out->family = m.idiag_family;
  out->state = m.idiag_state;
  out->port = ntohs(m.id.idiag_sport);
  return true;
}

Status SockDiagScanner::open(NetnsRunner* guest) {
  if (Status s = nl_[0].open(nullptr, NETLINK_SOCK_DIAG, kRxBytes, kTxBytes); !s) return s;
  if (guest != nullptr) {
    if (Status s = nl_[1].open(guest, NETLINK_SOCK_DIAG, kRxBytes, kTxBytes); !s) return s;
  }
  std::array<u64, ports::kPortWords> scratch{};
  for (ports::Netns ns : {ports::Netns::host, ports::Netns::guest}) {
    if (!nl(ns).is_open()) continue;
    if (Status s = dump_ports(nl(ns), AF_INET, IPPROTO_TCP, kTcpListen, scratch); !s) return s;
    if (Status s = dump_ports(nl(ns), AF_INET, IPPROTO_UDP, kUdpUnbound, scratch); !s) return s;
  }
  return {};
}

Status SockDiagScanner::bound_ports(ports::Netns ns, ports::SockType type,
                                    ports::PortWords out) noexcept {
  u8 protocol = IPPROTO_TCP;
  u8 state = kTcpListen;
  if (type == ports::SockType::udp) {
    protocol = IPPROTO_UDP;
    state = kUdpUnbound;
  } else if (type != ports::SockType::tcp) {
    return Err::invalid;
  }
  Netlink& n = nl(ns);
  if (!n.is_open()) return {};
  Status st;
  for (u8 family : {u8{AF_INET}, u8{AF_INET6}}) {
    if (Status s = dump_ports(n, family, protocol, state, out); !s && st) st = s;
  }
  return st;
}

}  // namespace passt::os
