#include "linux/tap_fd.hpp"

#include <unistd.h>

#include <cerrno>

#include "linux/os_error.hpp"
#include "ports/hostnet.hpp"
#include "util/log.hpp"

namespace passt::os {

namespace {
// EINTRs tolerated in a row while draining, so a signal storm cannot pin us.
constexpr int kMaxEintr = 8;
}  // namespace

TapFd::TapFd(EventLoop& loop, Options opt) noexcept : loop_(loop), opt_(opt) {
  if (opt_.buf_bytes < kMaxFrame) opt_.buf_bytes = kMaxFrame;
  if (opt_.max_frames == 0) opt_.max_frames = 1;
}

TapFd::~TapFd() { detach(); }

Status TapFd::init() noexcept {
  buf_ = std::make_unique_for_overwrite<u8[]>(opt_.buf_bytes);  // untouched until used
  frames_ = std::make_unique<Bytes[]>(opt_.max_frames);
  return {};
}

Status TapFd::attach(int fd) noexcept {
  if (!buf_) return Err::invalid;
  if (fd_ >= 0) return Err::is_connected;
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

std::size_t TapFd::send(std::span<const Bytes> frames) noexcept {
  for (std::size_t i = 0; i < frames.size(); i++) {
    if (!connected()) {
      stats_.tx_dropped += frames.size() - i;
      return frames.size();
    }
    const Bytes f = frames[i];
    ssize_t n = ::write(fd_, f.data(), f.size());
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
  while ((events & ports::ev::in) != 0 && nframes < opt_.max_frames &&
         opt_.buf_bytes - used >= kMaxFrame) {
    ssize_t n = ::read(fd_, buf_.get() + used, kMaxFrame);
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
    const std::size_t len = static_cast<std::size_t>(n);
    if (len < wire::kEthHeaderLen) {
      stats_.rx_short++;
      continue;
    }
    frames_[nframes++] = Bytes(buf_.get() + used, len);
    used += len;
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
