#include "linux/pcap.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "linux/os_error.hpp"
#include "util/log.hpp"

namespace passt::os {

namespace {

constexpr int kMaxEintr = 8;

constexpr void store_le16(u8* p, u16 v) noexcept {
  p[0] = static_cast<u8>(v);
  p[1] = static_cast<u8>(v >> 8);
}
constexpr void store_le32(u8* p, u32 v) noexcept {
  p[0] = static_cast<u8>(v);
  p[1] = static_cast<u8>(v >> 8);
  p[2] = static_cast<u8>(v >> 16);
  p[3] = static_cast<u8>(v >> 24);
}

}  // namespace

PcapWriter::~PcapWriter() { close(); }

void PcapWriter::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status PcapWriter::open(const char* path) noexcept {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, S_IRUSR | S_IWUSR);
  if (fd < 0) return last_err();
  return attach(fd);
}

Status PcapWriter::attach(int fd) noexcept {
  close();
  fd_ = fd;
  failed_ = false;
  u8 h[kFileHeaderLen];
  store_le32(h, kMagic);
  store_le16(h + 4, 2);   // version major
  store_le16(h + 6, 4);   // version minor
  store_le32(h + 8, 0);   // thiszone: GMT
  store_le32(h + 12, 0);  // sigfigs
  store_le32(h + 16, kSnapLen);
  store_le32(h + 20, kLinkTypeEthernet);
  iovec iov{h, sizeof(h)};
  if (!write_iov(&iov, 1)) {
    const Err e = err_from_errno(errno);
    close();
    return e == Err::none ? Err::io : e;
  }
  return {};
}

void PcapWriter::fail(int err) noexcept {
  failed_ = true;
  stats_.errors++;
  LOG_ERR("pcap: write failed (%s), capture stopped", err_name(err_from_errno(err)));
}

// Writes everything, continuing short writes; false (errno set) on error.
bool PcapWriter::write_iov(iovec* iov, int cnt) noexcept {
  int eintr = 0;
  while (cnt > 0) {
    ssize_t n = ::writev(fd_, iov, cnt);
    if (n < 0) {
      if (errno == EINTR && ++eintr < kMaxEintr) continue;
      return false;
    }
    if (n == 0) {
      errno = EIO;
      return false;
    }
    auto left = static_cast<std::size_t>(n);
    while (cnt > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      iov++;
      cnt--;
    }
    if (cnt > 0) {
      iov->iov_base = static_cast<u8*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return true;
}

void PcapWriter::write(std::span<const Bytes> frames) noexcept {
  if (!active() || frames.empty()) return;
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  const u32 sec = static_cast<u32>(ts.tv_sec);
  const u32 usec = static_cast<u32>(ts.tv_nsec / 1000);
  while (!frames.empty() && active()) {
    const std::size_t n = std::min(frames.size(), kMaxBatch);
    write_chunk(frames.first(n), sec, usec);
    frames = frames.subspan(n);
  }
}

void PcapWriter::write_chunk(std::span<const Bytes> frames, u32 sec, u32 usec) noexcept {
  std::array<iovec, 2 * kMaxBatch> iov{};
  u64 bytes = 0;
  for (std::size_t i = 0; i < frames.size(); i++) {
    const std::size_t len = frames[i].size();
    const u32 incl = static_cast<u32>(std::min<std::size_t>(len, kSnapLen));
    u8* h = rec_[i].data();
    store_le32(h, sec);
    store_le32(h + 4, usec);
    store_le32(h + 8, incl);
    store_le32(h + 12, static_cast<u32>(std::min<std::size_t>(len, 0xffffffffu)));
    iov[2 * i] = iovec{h, kRecordHeaderLen};
    // writev does not write through iov_base.
    iov[2 * i + 1] = iovec{const_cast<u8*>(frames[i].data()), incl};
    bytes += kRecordHeaderLen + incl;
  }
  if (!write_iov(iov.data(), static_cast<int>(2 * frames.size()))) {
    fail(errno);
    return;
  }
  stats_.frames += frames.size();
  stats_.bytes += bytes;
}

std::size_t PcapTap::send(std::span<const Bytes> frames) noexcept {
  // Frames dropped while disconnected are reported as taken but never reach a
  // guest: record only what a connected port took.
  const bool was_connected = inner_.connected();
  const std::size_t n = inner_.send(frames);
  if (n > 0 && was_connected) pcap_.write(frames.first(n));
  return n;
}

void PcapEventSink::on_tap_frames(std::span<const Bytes> frames, Instant now) noexcept {
  pcap_.write(frames);
  inner_.on_tap_frames(frames, now);
}

}  // namespace passt::os
