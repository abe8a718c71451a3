#include "linux/procnet.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "linux/os_error.hpp"
#include "util/log.hpp"

namespace passt::os {

namespace {

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct Cursor {
  std::string_view s;
  std::size_t i = 0;

  void spaces() noexcept {
    while (i < s.size() && s[i] == ' ') i++;
  }
  bool lit(char c) noexcept {
    if (i >= s.size() || s[i] != c) return false;
    i++;
    return true;
  }
  // 1..max_digits hex digits; false if none or more.
  bool hex(std::size_t max_digits, u64* v) noexcept {
    std::size_t n = 0;
    u64 x = 0;
    while (i < s.size() && hex_digit(s[i]) >= 0) {
      if (++n > max_digits) return false;
      x = (x << 4) | static_cast<u64>(hex_digit(s[i]));
      i++;
    }
    *v = x;
    return n > 0;
  }
  bool dec() noexcept {
    std::size_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      i++;
      n++;
    }
    return n > 0;
  }
  // An address: 8 (IPv4) or 32 (IPv6) hex digits; we only skip it.
  bool addr() noexcept {
    std::size_t n = 0;
    while (i < s.size() && hex_digit(s[i]) >= 0) {
      i++;
      n++;
    }
    return n == 8 || n == 32;
  }
};

// Background task for NetnsRunner: opens the files inside the namespace.
class OpenTask final : public NsTask {
 public:
  explicit OpenTask(int (&fds)[2][2]) noexcept : fds_(fds) {}
  void run() noexcept override {
    static constexpr const char* kPaths[2][2] = {{"/proc/net/tcp", "/proc/net/tcp6"},
                                                 {"/proc/net/udp", "/proc/net/udp6"}};
    for (unsigned p = 0; p < 2; p++)
      for (unsigned f = 0; f < 2; f++) fds_[p][f] = ::open(kPaths[p][f], O_RDONLY | O_CLOEXEC);
  }

 private:
  int (&fds_)[2][2];
};

}  // namespace

bool parse_proc_net_line(std::string_view line, u16* port, u8* state) noexcept {
  Cursor c{line};
  u64 v = 0;
  c.spaces();
  if (!c.dec() || !c.lit(':')) return false;
  c.spaces();
  if (!c.addr() || !c.lit(':') || !c.hex(4, &v)) return false;
  const u64 local_port = v;
  if (!c.lit(' ')) return false;
  c.spaces();
  if (!c.addr() || !c.lit(':') || !c.hex(4, &v)) return false;
  if (!c.lit(' ')) return false;
  c.spaces();
  if (!c.hex(2, &v)) return false;
  if (c.i < line.size() && line[c.i] != ' ') return false;
  *port = static_cast<u16>(local_port);
  *state = static_cast<u8>(v);
  return true;
}

std::size_t scan_proc_net_text(std::string_view text, u8 state, ports::PortWords out) noexcept {
  std::size_t n = 0;
  bool header = true;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (header) {
      header = false;
      continue;
    }
    u16 port = 0;
    u8 st = 0;
    if (!parse_proc_net_line(line, &port, &st) || st != state) continue;
    out[port >> 6] |= u64{1} << (port & 63);
    n++;
  }
  return n;
}

ProcNetScanner::~ProcNetScanner() {
  for (auto& a : fds_)
    for (auto& b : a)
      for (int& f : b)
        if (f >= 0) ::close(f);
}

Status ProcNetScanner::open(NetnsRunner* guest) noexcept {
  static constexpr const char* kPaths[2][2] = {{"/proc/net/tcp", "/proc/net/tcp6"},
                                               {"/proc/net/udp", "/proc/net/udp6"}};
  for (unsigned p = 0; p < 2; p++)
    for (unsigned f = 0; f < 2; f++) {
      int& d = fd(ports::Netns::host, p, f);
      if (d < 0) d = ::open(kPaths[p][f], O_RDONLY | O_CLOEXEC);
    }
  if (guest == nullptr) return {};
  OpenTask task(fds_[1]);
  return guest->run(task);
}

Status ProcNetScanner::bound_ports(ports::Netns ns, ports::SockType type,
                                   ports::PortWords out) noexcept {
  unsigned proto = 0;
  u8 state = kProcNetTcpListen;
  if (type == ports::SockType::udp) {
    proto = 1;
    state = kProcNetUdpUnconnected;
  } else if (type != ports::SockType::tcp) {
    return Err::invalid;
  }
  Status st;
  for (unsigned f = 0; f < 2; f++) {
    const int d = fd(ns, proto, f);
    if (d < 0) continue;
    if (Status s = scan_file(d, state, out); !s && st) st = s;
  }
  return st;
}

// Reads the file from the start, line by line through the fixed buffer: a
// line cut by the end of one read is moved to the front and completed by
// the next.  A last line without a newline counts too (as in
// scan_proc_net_text).
Status ProcNetScanner::scan_file(int d, u8 state, ports::PortWords out) noexcept {
  if (::lseek(d, 0, SEEK_SET) != 0) return last_err();
  std::size_t keep = 0;      // bytes of an unfinished line at buf_[0]
  std::size_t total = 0;
  bool header = true;
  bool skipping = false;     // inside an over-long line: drop until '\n'
  auto line = [&](std::string_view l) noexcept {
    if (skipping) {  // the end of an over-long line (the header, maybe)
      skipping = false;
      header = false;
      return;
    }
    if (header) {
      header = false;
      return;
    }
    u16 port = 0;
    u8 st = 0;
    if (parse_proc_net_line(l, &port, &st) && st == state) out[port >> 6] |= u64{1} << (port & 63);
  };
  while (total < kMaxBytes) {
    const ssize_t r = ::read(d, buf_.data() + keep, kBuf);
    if (r < 0) {
      if (errno == EINTR) continue;
      return last_err();
    }
    if (r == 0) {
      if (keep > 0) line(std::string_view(buf_.data(), keep));
      break;
    }
    total += static_cast<std::size_t>(r);
    std::string_view data(buf_.data(), keep + static_cast<std::size_t>(r));
    std::size_t nl = 0;
    while ((nl = data.find('\n')) != std::string_view::npos) {
      line(data.substr(0, nl));
      data.remove_prefix(nl + 1);
    }
    if (data.size() > kMaxLine) {
      skipping = true;
      keep = 0;
    } else {
      std::memmove(buf_.data(), data.data(), data.size());
      keep = data.size();
    }
  }
  if (total >= kMaxBytes && !warned_big_) {
    warned_big_ = true;
    LOG_WARN("Port scan: /proc/net file larger than %zu bytes, scanned in part", kMaxBytes);
  }
  return {};
}

}  // namespace passt::os
