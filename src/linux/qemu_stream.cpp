#include "linux/qemu_stream.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "linux/clock.hpp"
#include "linux/os_error.hpp"
#include "linux/sandbox_fdlimit.hpp"
#include "ports/hostnet.hpp"
#include "util/endian.hpp"
#include "util/log.hpp"

namespace passt::os {

namespace {
constexpr int kMaxAcceptsPerWake = 8;
constexpr int kListenBacklog = 1;
// Asked for on the client socket both ways; the kernel caps it at
// net.core.wmem_max / rmem_max (and doubles it).
constexpr int kClientBufBytes = 1 << 30;

// Best effort: with a smaller buffer everything still works, in smaller
// bursts.
void size_client_buffers(int fd) noexcept {
  const int v = kClientBufBytes;
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}
}  // namespace

struct QemuStream::SendScratch {
  std::array<std::array<u8, kLenPrefix>, kMaxSendFrames> hdr;
  std::array<iovec, 2 * kMaxSendFrames> iov;
};

QemuStream::QemuStream(EventLoop& loop, Options opt) noexcept : loop_(loop), opt_(opt) {
  // A partial frame (< prefix + kMaxFrame bytes) must always leave room to
  // complete it.
  if (opt_.buf_bytes < kLenPrefix + kMaxFrame + 1) opt_.buf_bytes = kLenPrefix + kMaxFrame + 1;
  if (opt_.max_frames == 0) opt_.max_frames = 1;
}

QemuStream::~QemuStream() {
  detach();
  if (listener_ >= 0) {
    loop_.remove_handler(listener_);
    ::close(listener_);
  }
}

Status QemuStream::init() noexcept {
  buf_ = std::make_unique_for_overwrite<u8[]>(opt_.buf_bytes);  // untouched until used
  frames_ = std::make_unique<Bytes[]>(opt_.max_frames);
  tx_ = std::make_unique<SendScratch>();
  return {};
}

Result<int> listen_unix_stream(const char* path, int backlog) noexcept {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  const std::size_t len = std::strlen(path);
  if (len == 0 || len >= sizeof(sa.sun_path)) return Err::invalid;
  std::memcpy(sa.sun_path, path, len + 1);
  const auto* addr = reinterpret_cast<const sockaddr*>(&sa);

  // Probe: is somebody serving this path already?
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) return last_err();
  int rc = ::connect(probe, addr, sizeof(sa));
  int probe_errno = errno;
  ::close(probe);
  if (rc == 0 || probe_errno == EAGAIN || probe_errno == EINPROGRESS) return Err::addr_in_use;
  if (probe_errno != ENOENT && probe_errno != ECONNREFUSED && probe_errno != EACCES)
    return err_from_errno(probe_errno) == Err::none ? Err::other : err_from_errno(probe_errno);

  ::unlink(path);  // a stale socket file (or nothing: ENOENT is fine)
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return last_err();
  if (::bind(fd, addr, sizeof(sa)) < 0 || ::listen(fd, backlog) < 0) {
    Err e = last_err();
    ::close(fd);
    return e;
  }
  return fd;
}

Status QemuStream::listen(const char* path) noexcept {
  if (!buf_) return Err::invalid;
  if (listener_ >= 0) return Err::already;
  auto fd = listen_unix_stream(path, kListenBacklog);
  if (!fd) return fd.err();
  if (Status s = loop_.add_handler(*fd, ports::ev::in, *this); !s) {
    ::close(*fd);
    return s;
  }
  listener_ = *fd;
  return {};
}

Status QemuStream::attach(int fd) noexcept {
  if (!buf_) return Err::invalid;
  if (client_ >= 0) return Err::is_connected;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return last_err();
  if (Status s = loop_.add_handler(fd, ports::ev::in | ports::ev::rdhup, *this); !s) return s;
  size_client_buffers(fd);
  loop_.set_priority(fd, kTapMaxWait);
  client_ = fd;
  broken_ = false;
  fill_ = 0;
  stats_.clients++;
  return {};
}

void QemuStream::detach() noexcept {
  if (client_ < 0) return;
  loop_.remove_handler(client_);
  ::close(client_);
  client_ = -1;
  broken_ = false;
  fill_ = 0;
}

void QemuStream::disconnect(Instant now, ports::EventSink& sink) noexcept {
  detach();
  LOG_INFO("qemu: client disconnected");
  sink.on_tap_state(false, now);
  if (opt_.one_off) {
    loop_.stop();
    return;
  }
  // A connection left waiting at the descriptor limit: the client's
  // descriptor is free now.
  if (listener_parked_ && listener_ >= 0) on_listener(now, sink);
}

void QemuStream::break_connection() noexcept {
  // The framing may be broken (or the socket failed): stop sending, and let
  // the loop see the hang-up and run the normal disconnect path, which is
  // the only place allowed to call the engine.
  broken_ = true;
  stats_.resets++;
  ::shutdown(client_, SHUT_RDWR);
}

void QemuStream::on_listener(Instant now, ports::EventSink& sink) noexcept {
  for (int i = 0; i < kMaxAcceptsPerWake; i++) {
    int fd = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        // At the descriptor limit: see sandbox_fdlimit.hpp.
        stats_.accept_at_limit++;
        if (park_listener_at_fd_limit(loop_, listener_, &listener_parked_)) {
          stats_.listener_waits++;
          LOG_WARN("qemu: at the file descriptor limit, a pending connection waits");
        }
      }
      return;  // EAGAIN, or an aborted connection: nothing to do
    }
    unpark_listener(loop_, listener_, &listener_parked_);
    if (client_ >= 0) {
      ucred cred{};
      socklen_t sl = sizeof(cred);
      if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &sl) == 0)
        LOG_INFO("qemu: another client connected (PID %d), closing it", cred.pid);
      ::close(fd);
      stats_.rejected++;
      continue;
    }
    if (Status s = loop_.add_handler(fd, ports::ev::in | ports::ev::rdhup, *this); !s) {
      LOG_ERR("qemu: cannot watch client: %s", err_name(s.err()));
      ::close(fd);
      continue;
    }
    size_client_buffers(fd);
    loop_.set_priority(fd, kTapMaxWait);
    client_ = fd;
    broken_ = false;
    fill_ = 0;
    stats_.clients++;
    LOG_INFO("qemu: client connected");
    sink.on_tap_state(true, now);
  }
}

bool QemuStream::receive(Instant now, ports::EventSink& sink, bool* drained) noexcept {
  u8* buf = buf_.get();
  const std::size_t room = opt_.buf_bytes - fill_;
  ssize_t n = ::recv(client_, buf + fill_, room, MSG_DONTWAIT);
  if (n == 0) {
    disconnect(now, sink);
    return false;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) {
      *drained = errno == EAGAIN;
      return true;
    }
    disconnect(now, sink);
    return false;
  }
  *drained = static_cast<std::size_t>(n) < room;
  fill_ += static_cast<std::size_t>(n);

  std::size_t off = 0;
  std::size_t nf = 0;
  bool bad = false;
  // Bounded by fill_: every iteration consumes a whole frame or stops.
  while (fill_ - off >= kLenPrefix) {
    const u32 len = load_be32(buf + off);
    if (len < kMinFrame || len > kMaxFrame) {
      bad = true;
      break;
    }
    if (fill_ - off - kLenPrefix < len) break;  // partial: completed by a later recv
    frames_[nf++] = Bytes(buf + off + kLenPrefix, len);
    off += kLenPrefix + len;
    if (nf == opt_.max_frames) {
      stats_.rx_frames += nf;
      sink.on_tap_frames(std::span<const Bytes>(frames_.get(), nf), now);
      nf = 0;
    }
  }
  if (nf > 0) {
    stats_.rx_frames += nf;
    sink.on_tap_frames(std::span<const Bytes>(frames_.get(), nf), now);
  }
  if (bad) {
    LOG_WARN("qemu: bad frame length, resetting the connection");
    stats_.resets++;
    disconnect(now, sink);
    return false;
  }
  if (off > 0) {
    std::memmove(buf, buf + off, fill_ - off);
    fill_ -= off;
  }
  return true;
}

void QemuStream::on_fd_event(int fd, u32 events, Instant now, ports::EventSink& sink) noexcept {
  if (fd == listener_) {
    on_listener(now, sink);
    return;
  }
  if (fd != client_) return;
  bool drained = true;
  if ((events & ports::ev::in) != 0 && !receive(now, sink, &drained)) return;
  // Only hang up once the queue is drained: data sent before a FIN counts.
  if ((events & (ports::ev::hup | ports::ev::err | ports::ev::rdhup)) != 0 && drained)
    disconnect(now, sink);
}

bool QemuStream::finish_frame(std::size_t k, std::size_t done) noexcept {
  SendScratch& t = *tx_;
  u8* hdr = t.hdr[k].data();
  u8* frame = static_cast<u8*>(t.iov[2 * k + 1].iov_base);
  const std::size_t flen = t.iov[2 * k + 1].iov_len;
  const std::size_t total = kLenPrefix + flen;
  const Instant deadline = monotonic_now() + opt_.finish_timeout;
  // Bounded by the deadline: every pass either writes something or polls
  // with a timeout no later than the deadline.
  while (done < total) {
    std::array<iovec, 2> v{};
    std::size_t nv = 0;
    if (done < kLenPrefix) {
      v[nv++] = iovec{hdr + done, kLenPrefix - done};
      v[nv++] = iovec{frame, flen};
    } else {
      v[nv++] = iovec{frame + (done - kLenPrefix), total - done};
    }
    msghdr mh{};
    mh.msg_iov = v.data();
    mh.msg_iovlen = nv;
    ssize_t r = ::sendmsg(client_, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r > 0) {
      done += static_cast<std::size_t>(r);
      continue;
    }
    if (r < 0 && errno != EAGAIN && errno != EINTR) return false;
    const Duration left = deadline - monotonic_now();
    if (left.ns <= 0) return false;
    pollfd p{client_, POLLOUT, 0};
    i64 ms = (left.ns + 999999) / 1000000;
    (void)::poll(&p, 1, ms > 1000 ? 1000 : static_cast<int>(ms));
  }
  return true;
}

std::size_t QemuStream::send_chunk(std::span<const Bytes> frames, bool* stop) noexcept {
  SendScratch& t = *tx_;
  const std::size_t n = frames.size();
  for (std::size_t i = 0; i < n; i++) {
    store_be32(t.hdr[i].data(), static_cast<u32>(frames[i].size()));
    t.iov[2 * i] = iovec{t.hdr[i].data(), kLenPrefix};
    t.iov[2 * i + 1] = iovec{const_cast<u8*>(frames[i].data()), frames[i].size()};
  }
  msghdr mh{};
  mh.msg_iov = t.iov.data();
  mh.msg_iovlen = 2 * n;
  ssize_t r = ::sendmsg(client_, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (r < 0) {
    *stop = true;
    if (errno != EAGAIN && errno != EINTR) {
      LOG_WARN("qemu: send failed: %s", err_name(last_err()));
      break_connection();
    }
    return 0;
  }
  std::size_t left = static_cast<std::size_t>(r);
  std::size_t i = 0;
  while (i < n && left >= kLenPrefix + frames[i].size()) {
    left -= kLenPrefix + frames[i].size();
    i++;
  }
  if (i == n) return n;
  *stop = true;  // the socket is full: the caller keeps the rest
  if (left == 0) return i;
  if (finish_frame(i, left)) {
    stats_.partial_finished++;
    return i + 1;
  }
  LOG_WARN("qemu: cannot finish a partially sent frame, resetting the connection");
  break_connection();
  return i;
}

std::size_t QemuStream::send(std::span<const Bytes> frames) noexcept {
  if (!connected()) {
    stats_.tx_dropped += frames.size();
    return frames.size();
  }
  std::size_t total = 0;
  // Bounded: each pass sends up to kMaxSendFrames or stops.
  while (total < frames.size() && connected()) {
    std::size_t rest = frames.size() - total;
    std::size_t chunk = rest < kMaxSendFrames ? rest : kMaxSendFrames;
    bool stop = false;
    std::size_t k = send_chunk(frames.subspan(total, chunk), &stop);
    total += k;
    stats_.tx_frames += k;
    if (stop) break;
  }
  return total;
}

}  // namespace passt::os
