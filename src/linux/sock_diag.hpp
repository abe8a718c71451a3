// SockDiagScanner: ports::PortScan over the kernel's socket-diagnostics
// netlink interface (NETLINK_SOCK_DIAG, inet_diag), for pasta's "auto"
// forwarding.  Same answer as ProcNetScanner (linux/procnet), at a fraction
// of the cost; ProcNetScanner remains the fallback for kernels without
// inet_diag.
//
// Theory of operation
//  * Why: a read of /proc/net/tcp{,6} walks every bucket of the kernel's
//    established-socket hash table (sized by the machine's memory, shared by
//    all namespaces) and prints a line for every socket of the namespace,
//    TIME_WAIT included, only for us to keep the few in LISTEN.  Measured
//    on the development machine: ~10 ms per scan of both files with nothing
//    open, ~42 ms with 12,800 TIME_WAIT sockets, once a second per
//    namespace.  An inet_diag dump asking for TCP_LISTEN only walks the
//    listening hash and sends binary records: ~0.06 ms (docs/performance.md
//    §15).
//  * A netlink socket answers for the namespace it was created in, so, as
//    with the /proc files, the namespace's socket is created once by a
//    NetnsRunner task inside it and used from the main thread afterwards.
//  * One dump per (address family, protocol): SOCK_DIAG_BY_FAMILY with
//    idiag_states = 1 << TCP_LISTEN for TCP, 1 << TCP_CLOSE (unconnected)
//    for UDP; the kernel filters, we set the bit of each record's source
//    port (checking the record's state again).  AF_INET6 records include
//    dual-stack sockets, as /proc/net/tcp6 does.
//  * open() runs one TCP and one UDP dump in each namespace: a kernel
//    without tcp_diag/udp_diag answers ENOENT there, and the caller falls
//    back to /proc/net.
#pragma once

#include "linux/netlink.hpp"
#include "linux/netns.hpp"
#include "ports/port_scan.hpp"
#include "util/types.hpp"

namespace passt::os {

struct DiagRecord {
  u8 family = 0;
  u8 state = 0;
  u16 port = 0;  // local (source) port, host order
};

// The fixed part of one inet_diag_msg (the payload of a SOCK_DIAG_BY_FAMILY
// reply message).  false if it is too short.
bool parse_inet_diag_msg(Bytes payload, DiagRecord* out) noexcept;

class SockDiagScanner final : public ports::PortScan {
 public:
  static constexpr std::size_t kRxBytes = 32768;  // the kernel's largest dump datagram
  static constexpr std::size_t kTxBytes = 256;    // one request: 16 + 56 bytes

  SockDiagScanner() noexcept = default;
  ~SockDiagScanner() override = default;
  SockDiagScanner(const SockDiagScanner&) = delete;
  SockDiagScanner& operator=(const SockDiagScanner&) = delete;
  SockDiagScanner(SockDiagScanner&&) = delete;
  SockDiagScanner& operator=(SockDiagScanner&&) = delete;

  // Opens the host's socket, and the namespace's through `guest` (nullptr:
  // none), and checks that both answer TCP and UDP dumps.  An error: use
  // ProcNetScanner.
  Status open(NetnsRunner* guest);

  Status bound_ports(ports::Netns ns, ports::SockType type, ports::PortWords out) noexcept override;

 private:
  Netlink& nl(ports::Netns ns) noexcept { return nl_[ns == ports::Netns::host ? 0 : 1]; }

  Netlink nl_[2];  // [host, guest]
};

}  // namespace passt::os
