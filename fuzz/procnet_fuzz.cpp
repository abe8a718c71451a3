// /proc/net/{tcp,udp}{,6} parsing: never reads out of bounds, and the
// streaming scanner (fixed buffer, lines cut across reads) finds exactly
// what the one-shot text scanner finds, for both states upstream scans.
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <string_view>

#include "fuzz/fuzz.hpp"
#include "linux/procnet.hpp"

namespace {

int memfd_with(const std::uint8_t* data, std::size_t size) {
  const int fd = memfd_create("procnet_fuzz", MFD_CLOEXEC);
  PASST_CHECK(fd >= 0);
  std::size_t off = 0;
  while (off < size) {
    const ssize_t w = write(fd, data + off, size - off);
    PASST_CHECK(w > 0);
    off += static_cast<std::size_t>(w);
  }
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace passt;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Lines longer than the scanner's bound may be skipped by the streaming
  // scanner only: compare inputs without them.
  bool short_lines = true;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t nl = text.find('\n', start);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    if (end - start > os::ProcNetScanner::kMaxLine) short_lines = false;
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  static os::ProcNetScanner scanner;  // 17 KiB of buffer: not on the stack
  const int fd = memfd_with(data, size);
  for (u8 state : {os::kProcNetTcpListen, os::kProcNetUdpUnconnected}) {
    std::array<u64, ports::kPortWords> a{};
    std::array<u64, ports::kPortWords> b{};
    const std::size_t n = os::scan_proc_net_text(text, state, a);
    PASST_CHECK(n <= size / 8 + 1);
    PASST_CHECK(scanner.scan_file(fd, state, b).ok());
    if (short_lines) PASST_CHECK(a == b);
  }
  close(fd);
  return 0;
}
