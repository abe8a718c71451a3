// ProcNetScanner: ports::PortScan over /proc/net/{tcp,tcp6,udp,udp6}, for
// pasta's "auto" forwarding (upstream-behaviour.md 1.7).
//
// Theory of operation
//  * /proc/net/* shows the network namespace of the task that opened it,
//    and an open file keeps showing that namespace.  So the files are
//    opened once: the host's directly, the namespace's from a NetnsRunner
//    task inside it (upstream's open_in_ns).  Each scan seeks back to 0 and
//    reads the file again (the kernel regenerates it).
//  * Lines are "sl: LOCAL_HEX:PORT_HEX REMOTE_HEX:PORT_HEX ST ...", after one
//    header line.  A TCP socket in LISTEN has ST 0A; an unconnected UDP
//    socket ST 07 (TCP_CLOSE).  Lines that do not parse are skipped.
//  * Bounds: a fixed read buffer; a line longer than kMaxLine is skipped; at
//    most kMaxBytes are read per file and scan (a host with that many
//    sockets gets a partial scan, logged once).
#pragma once

#include <array>
#include <string_view>

#include "linux/netns.hpp"
#include "ports/port_scan.hpp"

namespace passt::os {

inline constexpr u8 kProcNetTcpListen = 0x0a;
inline constexpr u8 kProcNetUdpUnconnected = 0x07;

// One data line: the local port and the state.  false if it does not parse.
bool parse_proc_net_line(std::string_view line, u16* port, u8* state) noexcept;

// A whole file's text (header line first): sets the bit of every local
// port in `state`.  Returns the number of matching lines.
std::size_t scan_proc_net_text(std::string_view text, u8 state, ports::PortWords out) noexcept;

class ProcNetScanner final : public ports::PortScan {
 public:
  static constexpr std::size_t kBuf = 16384;
  static constexpr std::size_t kMaxLine = 512;
  static constexpr std::size_t kMaxBytes = std::size_t{64} << 20;

  ProcNetScanner() noexcept = default;
  ~ProcNetScanner() override;
  ProcNetScanner(const ProcNetScanner&) = delete;
  ProcNetScanner& operator=(const ProcNetScanner&) = delete;

  // Opens the host's files, and the namespace's through `guest` (nullptr:
  // none).  Files that cannot be opened (no IPv6, say) are left out of the
  // scans; an error only if the runner fails.
  Status open(NetnsRunner* guest) noexcept;

  Status bound_ports(ports::Netns ns, ports::SockType type, ports::PortWords out) noexcept override;

  // One open /proc/net file (or anything in its format), read from offset
  // 0 through the fixed buffer.  Same result as scan_proc_net_text() on the
  // whole text when no line is longer than kMaxLine.
  Status scan_file(int fd, u8 state, ports::PortWords out) noexcept;

 private:
  // [netns][tcp=0/udp=1][v4=0/v6=1]
  int& fd(ports::Netns ns, unsigned proto, unsigned fam) noexcept {
    return fds_[ns == ports::Netns::host ? 0 : 1][proto][fam];
  }

  int fds_[2][2][2] = {{{-1, -1}, {-1, -1}}, {{-1, -1}, {-1, -1}}};
  std::array<char, kBuf + kMaxLine> buf_{};
  bool warned_big_ = false;
};

}  // namespace passt::os
