#include "linux/vhost_user.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "linux/os_error.hpp"
#include "linux/qemu_stream.hpp"
#include "linux/sandbox_fdlimit.hpp"
#include "ports/hostnet.hpp"
#include "util/endian.hpp"
#include "util/log.hpp"
#include "wire/vnet_hdr.hpp"

namespace passt::os {

namespace vu = wire::vhost_user;
namespace vq = wire::virtio;

namespace {
constexpr int kMaxAcceptsPerWake = 8;
constexpr int kMaxMessagesPerWake = 64;
constexpr std::size_t kBatchFrames = 256;                   // frames per on_tap_frames()
constexpr std::size_t kBatchBytes = std::size_t{4} << 20;   // their bytes
constexpr std::size_t kMaxRxChains = 256;                   // chains one frame may fill

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Copies `len` bytes from `src` into a chain's segments, from segment `si`
// at offset `off`; both advance.  Returns the bytes copied.
std::size_t copy_into(const vq::Chain& c, u32& si, std::size_t& off, const u8* src,
                      std::size_t len) noexcept {
  std::size_t done = 0;
  while (done < len && si < c.nsegs) {
    const vq::Seg& s = c.seg[si];
    const std::size_t n = std::min<std::size_t>(len - done, s.len - off);
    std::memcpy(s.p + off, src + done, n);
    done += n;
    off += n;
    if (off == s.len) {
      si++;
      off = 0;
    }
  }
  return done;
}

}  // namespace

struct VhostUser::Scratch {
  std::array<u8, vu::kHdrLen + vu::kMaxPayload> msg{};
  vu::Header hdr{};
  std::array<int, vu::kMaxFds> fds{};
  vq::Chain chain{};
  std::array<vq::Chain, kMaxRxChains> rx{};
  std::array<Bytes, kBatchFrames> frames{};
  std::array<u8, kBatchBytes> buf{};
};

VhostUser::VhostUser(EventLoop& loop, Options opt) noexcept : loop_(loop), opt_(opt) {
  if (opt_.max_frames == 0) opt_.max_frames = 1;
}

VhostUser::~VhostUser() {
  detach();
  if (listener_ >= 0) {
    loop_.remove_handler(listener_);
    ::close(listener_);
  }
}

Status VhostUser::init() noexcept {
  s_ = std::make_unique<Scratch>();
  s_->fds.fill(-1);
  return {};
}

Status VhostUser::listen(const char* path) noexcept {
  if (!s_) return Err::invalid;
  if (listener_ >= 0) return Err::already;
  auto fd = listen_unix_stream(path, 1);
  if (!fd) return fd.err();
  if (Status s = loop_.add_handler(*fd, ports::ev::in, *this); !s) {
    ::close(*fd);
    return s;
  }
  listener_ = *fd;
  return {};
}

Status VhostUser::attach(int fd) noexcept {
  if (!s_) return Err::invalid;
  if (client_ >= 0) return Err::is_connected;
  const int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return last_err();
  if (Status s = loop_.add_handler(fd, ports::ev::in | ports::ev::rdhup, *this); !s) return s;
  start_session(fd);
  return {};
}

void VhostUser::start_session(int fd) noexcept {
  client_ = fd;
  reset_device();
  stats_.sessions++;
}

void VhostUser::detach() noexcept {
  if (client_ < 0) return;
  reset_device();
  loop_.remove_handler(client_);
  close_fd(client_);
}

void VhostUser::end_session(Instant now, ports::EventSink& sink) noexcept {
  detach();
  LOG_INFO("vhost-user: front end disconnected");
  sink.on_tap_state(false, now);
  if (opt_.one_off) {
    loop_.stop();
    return;
  }
  if (listener_parked_ && listener_ >= 0) on_listener(now, sink);  // parked at the descriptor limit
}

void VhostUser::reset_device() noexcept {
  for (Queue& q : q_) {
    if (q.kick >= 0) loop_.remove_handler(q.kick);
    close_fd(q.kick);
    close_fd(q.call);
    q.vq.reset();
    q.addr = {};
    q.has_addr = q.enabled = q.started = q.broken = false;
  }
  unmap_all();
  features_ = 0;
  protocol_features_ = 0;
}

void VhostUser::unmap_all() noexcept {
  mem_.clear();
  for (Mapping& m : maps_) {
    if (m.base != nullptr) ::munmap(m.base, m.len);
    m = {};
  }
}

bool VhostUser::queue_running(u32 q) const noexcept {
  if (q >= kQueues) return false;
  const Queue& x = q_[q];
  return x.started && x.enabled && !x.broken && x.vq.ready() && client_ >= 0;
}

void VhostUser::mark_broken(u32 q, const char* why) noexcept {
  if (q_[q].broken) return;
  q_[q].broken = true;
  stats_.broken++;
  LOG_ERR("vhost-user: queue %u: %s: the guest's ring is corrupt, queue stopped", q, why);
}

// --- the front end's socket ------------------------------------------------------------

void VhostUser::on_fd_event(int fd, u32 events, Instant now, ports::EventSink& sink) noexcept {
  if (fd == listener_) {
    on_listener(now, sink);
    return;
  }
  for (u32 q = 0; q < kQueues; q++) {
    if (fd == q_[q].kick && fd >= 0) {
      u64 v = 0;
      if (::read(fd, &v, sizeof(v)) < 0) v = 0;  // clears the eventfd; EAGAIN: nothing to clear
      stats_.kicks++;
      on_kick(q, now, sink);
      return;
    }
  }
  if (fd == client_ && client_ >= 0) {
    if ((events & ports::ev::in) != 0) {
      on_client(now, sink);
      return;
    }
    if ((events & (ports::ev::hup | ports::ev::err | ports::ev::rdhup)) != 0) end_session(now, sink);
  }
}

void VhostUser::on_listener(Instant now, ports::EventSink& sink) noexcept {
  for (int i = 0; i < kMaxAcceptsPerWake; i++) {
    const int fd = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        // At the descriptor limit: see sandbox_fdlimit.hpp.
        stats_.accept_at_limit++;
        if (park_listener_at_fd_limit(loop_, listener_, &listener_parked_)) {
          stats_.listener_waits++;
          LOG_WARN("vhost-user: at the file descriptor limit, a pending connection waits");
        }
      }
      return;
    }
    unpark_listener(loop_, listener_, &listener_parked_);
    if (client_ >= 0) {
      LOG_INFO("vhost-user: another front end connected, closing it");
      ::close(fd);
      stats_.rejected++;
      continue;
    }
    if (Status s = loop_.add_handler(fd, ports::ev::in | ports::ev::rdhup, *this); !s) {
      LOG_ERR("vhost-user: cannot watch the front end: %s", err_name(s.err()));
      ::close(fd);
      continue;
    }
    start_session(fd);
    LOG_INFO("vhost-user: front end connected");
    sink.on_tap_state(true, now);
  }
}

void VhostUser::on_client(Instant now, ports::EventSink& sink) noexcept {
  for (int i = 0; i < kMaxMessagesPerWake && client_ >= 0; i++) {
    int nfds = 0;
    if (!read_message(&nfds)) {
      for (int& f : s_->fds) close_fd(f);
      end_session(now, sink);
      return;
    }
    if (nfds < 0) return;  // nothing to read
    stats_.messages++;
    const bool ok = handle_message(nfds, now, sink);
    for (int& f : s_->fds) close_fd(f);  // whatever the request did not keep
    if (!ok) {
      end_session(now, sink);
      return;
    }
  }
}

namespace {

// Finishes reading `len` bytes into `p` (a message cut by the stream),
// waiting at most `timeout` for each part.
bool read_rest(int fd, u8* p, std::size_t len, Duration timeout) noexcept {
  std::size_t got = 0;
  for (int round = 0; got < len && round < 64; round++) {
    const ssize_t n = ::recv(fd, p + got, len - got, MSG_DONTWAIT);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) return false;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(timeout.to_millis())) <= 0) return false;
  }
  return got == len;
}

}  // namespace

bool VhostUser::read_message(int* nfds) noexcept {
  Scratch& s = *s_;
  iovec iov{s.msg.data(), vu::kHdrLen};
  alignas(cmsghdr) std::array<u8, CMSG_SPACE(sizeof(int) * vu::kMaxFds)> ctl{};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl.data();
  mh.msg_controllen = ctl.size();
  const ssize_t n = ::recvmsg(client_, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    *nfds = -1;
    return true;
  }
  if (n <= 0) return false;
  int k = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; i++) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (k < static_cast<int>(vu::kMaxFds)) {
        s.fds[static_cast<std::size_t>(k++)] = fd;
      } else {
        ::close(fd);
      }
    }
  }
  *nfds = k;
  if ((mh.msg_flags & MSG_CTRUNC) != 0) {
    LOG_ERR("vhost-user: too many descriptors with one message");
    return false;
  }
  if (static_cast<std::size_t>(n) < vu::kHdrLen &&
      !read_rest(client_, s.msg.data() + n, vu::kHdrLen - static_cast<std::size_t>(n), opt_.msg_timeout))
    return false;
  auto h = vu::Header::parse(Bytes(s.msg.data(), vu::kHdrLen));
  if (!h) {
    LOG_ERR("vhost-user: malformed message header");
    return false;
  }
  s.hdr = *h;
  if (h->size > 0 && !read_rest(client_, s.msg.data() + vu::kHdrLen, h->size, opt_.msg_timeout)) {
    LOG_ERR("vhost-user: %s: payload cut short", vu::req_name(h->request));
    return false;
  }
  return true;
}

bool VhostUser::reply(u32 request, Bytes payload) noexcept {
  std::array<u8, vu::kHdrLen + 16> out{};
  if (payload.size() > 16) return false;
  vu::Header h{request, vu::kVersion | vu::kFlagReply, static_cast<u32>(payload.size())};
  h.emit(out.data());
  std::memcpy(out.data() + vu::kHdrLen, payload.data(), payload.size());
  const std::size_t len = vu::kHdrLen + payload.size();
  // A reply is small: a full socket buffer means a front end that stopped
  // reading; a short write breaks the framing.  Both end the session.
  const ssize_t n = ::send(client_, out.data(), len, MSG_NOSIGNAL | MSG_DONTWAIT);
  return n == static_cast<ssize_t>(len);
}

bool VhostUser::handle_message(int nfds, Instant now, ports::EventSink& sink) noexcept {
  Scratch& s = *s_;
  const vu::Header h = s.hdr;
  const Bytes p(s.msg.data() + vu::kHdrLen, h.size);
  LOG_DEBUG("vhost-user: %s", vu::req_name(h.request));
  bool ok = true;  // for REPLY_ACK
  std::array<u8, 8> u{};
  auto reply_u64 = [&](u64 v) {
    store_le64(u.data(), v);
    return reply(h.request, Bytes(u.data(), 8));
  };
  // The queue a vring request names, or kQueues for none we have.
  auto vring_index = [](u64 v) { return v < kQueues ? static_cast<u32>(v) : kQueues; };
  // A VringState payload into `st`, and the queue it names (kQueues: none,
  // or no payload).
  vu::VringState st{};
  auto state_queue = [&]() {
    auto r = vu::VringState::parse(p);
    if (!r) return kQueues;
    st = *r;
    return vring_index(st.index);
  };

  switch (h.request) {
    case vu::req::get_features:
      return reply_u64(kFeatures);
    case vu::req::get_protocol_features:
      return reply_u64(kProtocolFeatures);
    case vu::req::get_queue_num:
      return reply_u64(kQueues / 2);
    case vu::req::set_features: {
      auto v = vu::parse_u64(p);
      ok = v && (*v & ~kFeatures) == 0;
      if (ok) {
        features_ = *v;
        for (Queue& q : q_) q.vq.set_event_idx((features_ & vq::f_ring_event_idx) != 0);
        // Without PROTOCOL_FEATURES rings are enabled from the start.
        if ((features_ & vu::f_protocol_features) == 0)
          for (Queue& q : q_) q.enabled = true;
      }
      break;
    }
    case vu::req::set_protocol_features: {
      auto v = vu::parse_u64(p);
      ok = static_cast<bool>(v);
      if (ok) protocol_features_ = *v & kProtocolFeatures;
      break;
    }
    case vu::req::set_owner:
      break;
    case vu::req::reset_owner:
      reset_device();
      break;
    case vu::req::set_mem_table:
      ok = set_mem_table(p, nfds);
      break;
    case vu::req::set_vring_num: {
      const u32 q = state_queue();
      ok = q < kQueues;
      if (ok) {
        Queue& x = q_[q];
        const u16 base = x.vq.base();
        ok = x.vq.set_num(st.num);
        x.vq.set_base(base);
        if (ok && x.has_addr) ok = map_rings(q);
      }
      break;
    }
    case vu::req::set_vring_addr: {
      auto a = vu::VringAddr::parse(p);
      const u32 q = a ? vring_index(a->index) : kQueues;
      ok = q < kQueues;
      if (ok) {
        q_[q].addr = *a;
        q_[q].has_addr = true;
        ok = map_rings(q);
      }
      break;
    }
    case vu::req::set_vring_base: {
      const u32 q = state_queue();
      ok = q < kQueues;
      if (ok) q_[q].vq.set_base(static_cast<u16>(st.num));
      break;
    }
    case vu::req::get_vring_base: {
      const u32 q = state_queue();
      vu::VringState out{st.index, 0};
      if (q < kQueues) {
        Queue& x = q_[q];
        x.vq.publish();
        out.num = x.vq.base();
        if (x.kick >= 0) loop_.remove_handler(x.kick);
        close_fd(x.kick);
        x.started = false;
      }
      std::array<u8, 8> b{};
      out.emit(b.data());
      return reply(h.request, Bytes(b.data(), 8));
    }
    case vu::req::set_vring_kick:
    case vu::req::set_vring_call:
    case vu::req::set_vring_err: {
      auto v = vu::parse_u64(p);
      const u32 q = v ? vring_index(*v & vu::kVringIndexMask) : kQueues;
      const bool has_fd = v && (*v & vu::kVringNoFd) == 0;
      ok = q < kQueues && (!has_fd || nfds >= 1);
      if (!ok) break;
      const int fd = has_fd ? s.fds[0] : -1;
      if (has_fd) s.fds[0] = -1;  // ours now
      if (h.request == vu::req::set_vring_kick) {
        set_kick(q, fd);
        if (q == kTx) drain_guest(now, sink);
      } else if (h.request == vu::req::set_vring_call) {
        close_fd(q_[q].call);
        q_[q].call = fd;
      } else {
        int e = fd;  // error notifications: we never send any
        close_fd(e);
      }
      break;
    }
    case vu::req::set_vring_enable: {
      const u32 q = state_queue();
      ok = q < kQueues;
      if (ok) {
        q_[q].enabled = st.num != 0;
        if (q == kTx && q_[q].enabled) drain_guest(now, sink);
      }
      break;
    }
    case vu::req::send_rarp:
    case vu::req::net_set_mtu:
      break;  // not offered; harmless
    default:
      LOG_DEBUG("vhost-user: request %u not supported", h.request);
      ok = false;
      break;
  }
  const bool ack = (protocol_features_ & vu::pf::reply_ack) != 0 &&
                   (h.flags & vu::kFlagNeedReply) != 0;
  if (!ok) LOG_WARN("vhost-user: %s failed", vu::req_name(h.request));
  if (ack) return reply_u64(ok ? 0 : 1);
  return true;
}

bool VhostUser::set_mem_table(Bytes payload, int nfds) noexcept {
  auto t = vu::MemTable::parse(payload);
  if (!t || static_cast<int>(t->count) > nfds) return false;
  unmap_all();
  for (u32 i = 0; i < t->count; i++) {
    const vu::MemRegionMsg& r = t->region[i];
    const u64 len = r.size + r.mmap_offset;
    if (r.size == 0 || len < r.size) return false;
    void* base = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                        s_->fds[i], 0);
    if (base == MAP_FAILED) {
      LOG_ERR("vhost-user: can't map guest memory region %u: %s", i, err_name(last_err()));
      unmap_all();
      return false;
    }
    maps_[i] = Mapping{base, len};
    if (!mem_.add(vq::MemRegion{r.gpa, r.size, r.uva, static_cast<u8*>(base) + r.mmap_offset})) {
      unmap_all();
      return false;
    }
  }
  // Ring addresses are the front end's virtual addresses: translate again.
  for (u32 q = 0; q < kQueues; q++)
    if (q_[q].has_addr) (void)map_rings(q);
  return true;
}

bool VhostUser::map_rings(u32 q) noexcept {
  Queue& x = q_[q];
  const u32 num = x.vq.num();
  if (num == 0) return true;  // SET_VRING_NUM will map them
  u8* d = mem_.uva(x.addr.desc, vq::desc_bytes(num));
  u8* a = mem_.uva(x.addr.avail, vq::avail_bytes(num));
  u8* u = mem_.uva(x.addr.used, vq::used_bytes(num));
  const u16 base = x.vq.base();
  const bool ok = x.vq.set_rings(d, a, u);
  x.vq.set_base(base);
  if (!ok) {
    LOG_ERR("vhost-user: queue %u: rings outside guest memory or misaligned", q);
    return false;
  }
  // Kicks for frames from the guest; none for receive buffers.  (Also
  // after a reconnection: avail_event is set for where this session starts.)
  x.vq.set_event_idx((features_ & vq::f_ring_event_idx) != 0);
  x.vq.set_no_notify(q == kRx);
  return true;
}

void VhostUser::set_kick(u32 q, int fd) noexcept {
  Queue& x = q_[q];
  if (x.kick >= 0) loop_.remove_handler(x.kick);
  close_fd(x.kick);
  x.started = true;
  if (fd < 0) {
    LOG_WARN("vhost-user: queue %u: polling without a kick descriptor is not supported", q);
    return;
  }
  if (Status s = loop_.add_handler(fd, ports::ev::in, *this); !s) {
    LOG_ERR("vhost-user: queue %u: can't watch the kick descriptor: %s", q, err_name(s.err()));
    ::close(fd);
    x.started = false;
    return;
  }
  if (q == kTx) loop_.set_priority(fd, kTapMaxWait);
  x.kick = fd;
}

void VhostUser::interrupt(Queue& q) noexcept {
  if (q.call < 0 || !q.vq.want_interrupt()) return;
  const u64 one = 1;
  if (::write(q.call, &one, sizeof(one)) == sizeof(one)) stats_.interrupts++;
}

// --- frames ------------------------------------------------------------------------------

void VhostUser::on_kick(u32 q, Instant now, ports::EventSink& sink) noexcept {
  // A kick on the receive queue means new buffers: TCP tries again on its
  // own timer when a frame did not fit.
  if (q == kTx) drain_guest(now, sink);
}

void VhostUser::drain_guest(Instant now, ports::EventSink& sink) noexcept {
  if (!queue_running(kTx)) return;
  Queue& x = q_[kTx];
  Scratch& s = *s_;
  const std::size_t hdr = vq::net_hdr_len(features_);
  std::size_t total = 0;
  bool more = true;
  // No kicks while we drain: the guest adds chains without exiting to qemu.
  x.vq.set_no_notify(true);
  while (more && total < opt_.max_frames) {
    std::size_t nf = 0;
    std::size_t used = 0;
    while (nf < kBatchFrames && kBatchBytes - used >= kMaxFrame && total + nf < opt_.max_frames) {
      const vq::Pop r = x.vq.pop(mem_, s.chain);
      if (r == vq::Pop::empty) {
        more = false;
        break;
      }
      if (r == vq::Pop::bad) {
        mark_broken(kTx, "bad chain");
        more = false;
        break;
      }
      const vq::Chain& c = s.chain;
      if (c.read_bytes < hdr + 14 || c.read_bytes > hdr + kMaxFrame) {
        stats_.rx_oversize++;
        x.vq.push(c.head, 0);
        continue;
      }
      // Gather the readable segments, the virtio-net header apart.
      std::array<u8, vq::kNetHdrLen> h{};
      std::size_t skip = hdr;
      u8* out = s.buf.data() + used;
      std::size_t len = 0;
      for (u32 i = 0; i < c.readable; i++) {
        const vq::Seg& g = c.seg[i];
        std::size_t from = 0;
        if (skip > 0) {
          from = std::min<std::size_t>(skip, g.len);
          std::memcpy(h.data() + (hdr - skip), g.p, from);
          skip -= from;
        }
        const std::size_t n = g.len - from;
        std::memcpy(out + len, g.p + from, n);
        len += n;
      }
      x.vq.push(c.head, 0);
      // NEEDS_CSUM needs nothing here: the engine does not verify L4
      // checksums of a port that offloads them.  GSO: TCP only.
      if ((h[0] & wire::vnet::f_needs_csum) != 0) stats_.rx_csum_left++;
      if (const u8 gso = h[1]; gso != wire::vnet::gso_none) {
        if (gso != wire::vnet::gso_tcpv4 && gso != wire::vnet::gso_tcpv6) {
          stats_.rx_bad_gso++;
          continue;
        }
        stats_.rx_gso++;
      }
      s.frames[nf++] = Bytes(out, len);
      used += len;
    }
    if (x.vq.unpublished() != 0) {
      x.vq.publish();
      interrupt(x);
    }
    if (nf == 0) break;
    stats_.rx_frames += nf;
    total += nf;
    sink.on_tap_frames(std::span<const Bytes>(s.frames.data(), nf), now);
    if (!queue_running(kTx)) return;  // the engine's sends ended the session? (they cannot)
  }
  // Nothing left: kicks on again (with a fence), and a chain the guest
  // added before it could see that (so without a kick) is looked for once
  // more.  Chains left (the budget, or that race): kick ourselves for the
  // next pass, kicks still off.
  if (x.vq.pending() == 0) {
    x.vq.set_no_notify(false);
    if (x.vq.pending() == 0) return;
  }
  if (x.kick >= 0) {
    const u64 one = 1;
    if (::write(x.kick, &one, sizeof(one)) < 0) LOG_DEBUG("vhost-user: can't re-kick: %s", err_name(last_err()));
  }
}

std::size_t VhostUser::send(std::span<const Bytes> frames) noexcept { return send_frames(frames, nullptr); }

std::size_t VhostUser::send_gso(std::span<const Bytes> frames, std::span<const u16> gso) noexcept {
  return send_frames(frames, gso.size() >= frames.size() && takes_gso() ? gso.data() : nullptr);
}

std::size_t VhostUser::send_frames(std::span<const Bytes> frames, const u16* gso) noexcept {
  if (!queue_running(kRx)) {
    stats_.tx_dropped += frames.size();
    return frames.size();
  }
  Queue& x = q_[kRx];
  Scratch& s = *s_;
  const std::size_t hdr = vq::net_hdr_len(features_);
  const bool mrg = (features_ & vq::f_net_mrg_rxbuf) != 0;
  const bool guest_csum = (features_ & vq::f_net_guest_csum) != 0;
  std::size_t sent = 0;
  for (std::size_t fi = 0; fi < frames.size(); fi++) {
    const Bytes f = frames[fi];
    const u64 need = hdr + f.size();
    u64 room = 0;
    u32 nch = 0;
    bool fit = true;
    while (room < need) {
      if (nch == kMaxRxChains || (!mrg && nch == 1)) {
        fit = false;
        break;
      }
      const vq::Pop r = x.vq.pop(mem_, s.rx[nch]);
      if (r != vq::Pop::ok) {
        if (r == vq::Pop::bad) mark_broken(kRx, "bad chain");
        fit = false;
        break;
      }
      room += s.rx[nch].write_bytes;
      nch++;
    }
    if (!fit) {
      x.vq.unpop(static_cast<u16>(nch));
      stats_.tx_no_buffers += frames.size() - sent;
      break;
    }
    // The virtio-net header (little-endian), then the frame, its checksum
    // field (0 where the engine left the checksum) replaced by the
    // pseudo-header sum for a guest that completes it, or by the full
    // checksum.
    std::array<u8, vq::kNetHdrLen> h{};
    if (hdr == vq::kNetHdrLen) store_le16(h.data() + vq::kNetHdrNumBuffers, static_cast<u16>(nch));
    std::array<u8, 2> sum{};
    std::array<Bytes, 4> piece{Bytes(h.data(), hdr), f, {}, {}};
    std::size_t npiece = 2;
    if (const auto site = wire::l4_csum_left(f)) {
      if (guest_csum) {
        wire::VnetHdr v = wire::vnet_needs_csum(*site);
        if (gso != nullptr && wire::vnet_set_tcp_gso(v, f, *site, gso[fi])) stats_.tx_gso++;
        (void)v.emit_le(MutBytes(h.data(), wire::kVnetHdrLen));
        store_be16(sum.data(), static_cast<u16>(site->pseudo));
        stats_.tx_csum_left++;
      } else {
        store_be16(sum.data(), wire::l4_csum_value(f, *site));
        stats_.tx_csum_done++;
      }
      const std::size_t at = std::size_t{site->start} + site->offset;
      piece[1] = f.first(at);
      piece[2] = Bytes(sum);
      piece[3] = f.subspan(at + 2);
      npiece = 4;
    }
    std::size_t pi = 0;
    std::size_t pdone = 0;
    for (u32 k = 0; k < nch; k++) {
      const vq::Chain& c = s.rx[k];
      u32 si = c.readable;  // writable segments only
      std::size_t off = 0;
      std::size_t wrote = 0;
      while (pi < npiece) {
        const std::size_t n = copy_into(c, si, off, piece[pi].data() + pdone, piece[pi].size() - pdone);
        wrote += n;
        pdone += n;
        if (pdone < piece[pi].size()) break;  // this chain is full
        pi++;
        pdone = 0;
      }
      x.vq.push(c.head, static_cast<u32>(wrote));
    }
    sent++;
  }
  stats_.tx_frames += sent;
  if (x.vq.unpublished() != 0) {
    x.vq.publish();
    interrupt(x);
  }
  return sent;
}

}  // namespace passt::os
