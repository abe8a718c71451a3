#include "linux/tap_fd.hpp"

#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <optional>

#include "linux/os_error.hpp"
#include "ports/hostnet.hpp"
#include "util/endian.hpp"
#include "util/log.hpp"
#include "wire/ipv4.hpp"
#include "wire/vnet_hdr.hpp"

namespace passt::os {

namespace {
// EINTRs tolerated in a row while draining, so a signal storm cannot pin us.
constexpr int kMaxEintr = 8;
}  // namespace

TapFd::TapFd(EventLoop& loop, Options opt) noexcept : loop_(loop), opt_(opt) {
  if (opt_.buf_bytes < kMaxFrame + wire::kVnetHdrLen) opt_.buf_bytes = kMaxFrame + wire::kVnetHdrLen;
  if (opt_.max_frames == 0) opt_.max_frames = 1;
}

TapFd::~TapFd() { detach(); }

Status TapFd::init() noexcept {
  // kReadAlign bytes more, so that the pool can start on a boundary.
  buf_ = std::make_unique_for_overwrite<u8[]>(opt_.buf_bytes + kReadAlign);  // untouched until used
  const auto at = reinterpret_cast<std::uintptr_t>(buf_.get());
  pool_ = buf_.get() + ((kReadAlign - at % kReadAlign) % kReadAlign);
  frames_ = std::make_unique<Bytes[]>(opt_.max_frames);
  return {};
}

Status TapFd::attach(int fd, Vnet vnet) noexcept {
  if (!buf_) return Err::invalid;
  if (fd_ >= 0) return Err::is_connected;
  if (vnet.hdr_len != 0 && vnet.hdr_len != wire::kVnetHdrLen) return Err::invalid;
  vnet_ = vnet;
  if (Status s = loop_.add_handler(fd, ports::ev::in, *this); !s) return s;
  loop_.set_priority(fd, kTapMaxWait);
  fd_ = fd;
  failed_ = false;
  reported_down_ = false;
  return {};
}

void TapFd::detach() noexcept {
  if (fd_ < 0) return;
  loop_.remove_handler(fd_);
  ::close(fd_);
  fd_ = -1;
}

void TapFd::fatal(Err e) noexcept {
  if (failed_) return;
  failed_ = true;
  LOG_ERR("tap: fatal error: %s", err_name(e));
  loop_.fail(e);
}

std::size_t TapFd::send(std::span<const Bytes> frames) noexcept { return send_frames(frames, nullptr); }

std::size_t TapFd::send_gso(std::span<const Bytes> frames, std::span<const u16> gso) noexcept {
  return send_frames(frames, gso.size() >= frames.size() ? gso.data() : nullptr);
}

std::size_t TapFd::send_frames(std::span<const Bytes> frames, const u16* gso) noexcept {
  for (std::size_t i = 0; i < frames.size(); i++) {
    if (!connected()) {
      stats_.tx_dropped += frames.size() - i;
      return frames.size();
    }
    const Bytes f = frames[i];
    ssize_t n = -1;
    if (vnet_.hdr_len == 0) {
      n = ::write(fd_, f.data(), f.size());
    } else {
      // The frame is const (and may be shown to a pcap writer as built):
      // a checksum left to the kernel gets its pseudo-header sum from a
      // separate iovec instead of being patched in place.
      u8 hdr[wire::kVnetHdrLen];
      u8 pseudo[2];
      u8* fb = const_cast<u8*>(f.data());  // writev() only reads it
      iovec iov[4] = {{hdr, sizeof(hdr)}, {fb, f.size()}, {}, {}};
      int niov = 2;
      std::optional<wire::L4CsumSite> site;
      if (vnet_.partial_csum) site = wire::l4_csum_left(f);
      if (site) {
        wire::VnetHdr h = wire::vnet_needs_csum(*site);
        if (gso != nullptr && wire::vnet_set_tcp_gso(h, f, *site, gso[i])) stats_.tx_gso++;
        (void)h.emit(MutBytes(hdr));
        const std::size_t at = std::size_t{site->start} + site->offset;
        store_be16(pseudo, static_cast<u16>(site->pseudo));
        iov[1].iov_len = at;
        iov[2] = {pseudo, sizeof(pseudo)};
        iov[3] = {fb + at + 2, f.size() - at - 2};
        niov = 4;
      } else {
        (void)wire::VnetHdr{}.emit(MutBytes(hdr));
      }
      n = ::writev(fd_, iov, niov);
      if (n >= static_cast<ssize_t>(sizeof(hdr))) n -= static_cast<ssize_t>(sizeof(hdr));
    }
    if (n < 0) {
      switch (errno) {
        case EAGAIN:
        case EINTR:
        case ENOBUFS:
        case ENOSPC:
        case EIO:
          stats_.tx_dropped++;
          continue;
        default:
          fatal(last_err());
          return i;
      }
    }
    if (static_cast<std::size_t>(n) != f.size()) {
      stats_.tx_dropped++;  // a tap write is all or nothing; count anything else as loss
      continue;
    }
    stats_.tx_frames++;
  }
  return frames.size();
}

void TapFd::on_fd_event(int fd, u32 events, Instant now, ports::EventSink& sink) noexcept {
  if (fd != fd_) return;
  std::size_t used = 0;
  std::size_t nframes = 0;
  int eintr = 0;
  Err err = Err::none;
  // Bounded by the pool, max_frames and kMaxEintr.
  const std::size_t vh = vnet_.hdr_len;
  // Every read starts on a kReadAlign boundary of the pool: the kernel's
  // copy runs faster into an aligned destination (docs/performance.md §22).
  while ((events & ports::ev::in) != 0 && nframes < opt_.max_frames &&
         used + kMaxFrame + vh <= opt_.buf_bytes) {
    ssize_t n = ::read(fd_, pool_ + used, kMaxFrame + vh);
    if (n < 0) {
      if (errno == EINTR && ++eintr < kMaxEintr) continue;
      if (errno == EAGAIN || errno == EINTR) break;
      err = last_err();
      break;
    }
    if (n == 0) {
      err = Err::conn_reset;  // EOF: the device is gone
      break;
    }
    std::size_t len = static_cast<std::size_t>(n);
    if (len < vh + wire::kEthHeaderLen) {
      stats_.rx_short++;
      continue;
    }
    if (vh != 0) {
      // The checksum flags need nothing from us: L4 checksums of tap frames
      // are not verified (engine::Sizing::tap_l4_csum_offload).
      const wire::VnetHdr h = *wire::VnetHdr::parse(Bytes(pool_ + used, vh));
      const u8 gso = static_cast<u8>(h.gso_type & ~wire::vnet::gso_ecn);
      if (gso == wire::vnet::gso_tcpv4 || gso == wire::vnet::gso_tcpv6) {
        stats_.rx_gso++;
      } else if (gso != wire::vnet::gso_none) {
        stats_.rx_bad_vnet++;
        continue;
      }
      used += vh;
      len -= vh;
    }
    frames_[nframes++] = Bytes(pool_ + used, len);
    used = (used + len + kReadAlign - 1) / kReadAlign * kReadAlign;
  }
  if (nframes > 0) {
    stats_.rx_frames += nframes;
    sink.on_tap_frames(std::span<const Bytes>(frames_.get(), nframes), now);
  }
  if (err == Err::none && (events & (ports::ev::hup | ports::ev::err)) != 0) err = Err::conn_reset;
  if (err != Err::none) {
    fatal(err);
    if (!reported_down_) {
      reported_down_ = true;
      sink.on_tap_state(false, now);
    }
    detach();
  }
}

}  // namespace passt::os
