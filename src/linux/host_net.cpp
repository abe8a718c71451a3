#include "linux/host_net.hpp"

#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "linux/os_error.hpp"
#include "linux/sandbox_fdlimit.hpp"
#include "util/check.hpp"
#include "util/log.hpp"

namespace passt::os {

using ports::Family;
using ports::Sock;
using ports::SockAddr;
using ports::SockOpt;

namespace {

constexpr u8 kFamUnknown = 0;
constexpr u8 kFamV4 = 1;
constexpr u8 kFamV6 = 2;
constexpr u8 kFamPipe = 3;
constexpr u16 kOwned = 0x8000;         // FdState::owned_pending: created by us
constexpr u16 kPendingMask = 0x7fff;   // ... deferred discard bytes

// Peek offsets are kept well inside the kernel's int sk_peek_off even after
// a peek adds what it copied (windows are at most 1 GiB: scale 14).
constexpr std::size_t kMaxPeekOffset = std::size_t{1} << 30;
// Bytes dropped per discard() call (the kernel caps a read at ~2 GiB).
constexpr std::size_t kMaxDiscard = std::size_t{1} << 30;
constexpr std::size_t kMaxPeekScratchIov = 64;
// Error-queue entries drained per take_error() (EPOLLERR stays asserted while
// the IP_RECVERR queue is not empty).
constexpr int kMaxErrQueueDrain = 64;

union SaUnion {
  sockaddr sa;
  sockaddr_in in4;
  sockaddr_in6 in6;
};

u16 be16_to_host(u16 v) noexcept { return ntohs(v); }
u16 host_to_be16(u16 v) noexcept { return htons(v); }

// Fills `out` for a socket of family `fam` (kFamV4/kFamV6).
Result<socklen_t> to_sockaddr(const SockAddr& a, u8 fam, SaUnion& out) noexcept {
  std::memset(&out, 0, sizeof(out));
  if (fam == kFamV4) {
    if (!a.addr.is_v4()) return Err::invalid;
    out.in4.sin_family = AF_INET;
    out.in4.sin_port = host_to_be16(a.port);
    Ipv4Addr v4 = a.addr.v4();
    std::memcpy(&out.in4.sin_addr, v4.b.data(), 4);
    return static_cast<socklen_t>(sizeof(sockaddr_in));
  }
  if (fam == kFamV6) {
    out.in6.sin6_family = AF_INET6;
    out.in6.sin6_port = host_to_be16(a.port);
    std::memcpy(&out.in6.sin6_addr, a.addr.a.b.data(), 16);
    out.in6.sin6_scope_id = a.scope_id;
    return static_cast<socklen_t>(sizeof(sockaddr_in6));
  }
  return Err::invalid;
}

// IPv4 peers come back v4-mapped, on either socket family.
SockAddr from_sockaddr(const SaUnion& sa, socklen_t len) noexcept {
  SockAddr r;
  if (sa.sa.sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    Ipv4Addr v4;
    std::memcpy(v4.b.data(), &sa.in4.sin_addr, 4);
    r.addr = InAny::from(v4);
    r.port = be16_to_host(sa.in4.sin_port);
  } else if (sa.sa.sa_family == AF_INET6 &&
             len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    Ipv6Addr v6;
    std::memcpy(v6.b.data(), &sa.in6.sin6_addr, 16);
    r.addr = InAny::from(v6);
    r.port = be16_to_host(sa.in6.sin6_port);
    r.scope_id = r.addr.is_v4() ? 0 : sa.in6.sin6_scope_id;
  }
  return r;
}

Status sockopt_int(int fd, int level, int name, int value) noexcept {
  if (setsockopt(fd, level, name, &value, sizeof(value)) < 0) return last_err();
  return {};
}

Result<int> getsockopt_int(int fd, int level, int name) noexcept {
  int v = 0;
  socklen_t sl = sizeof(v);
  if (getsockopt(fd, level, name, &v, &sl) < 0) return last_err();
  return v;
}

// Level and name for the integer-valued options.
struct OptName {
  int level;
  int name;
};
Result<OptName> opt_name(SockOpt opt, u8 fam) noexcept {
  const bool v6 = fam == kFamV6;
  switch (opt) {
    case SockOpt::sndbuf: return OptName{SOL_SOCKET, SO_SNDBUF};
    case SockOpt::rcvbuf: return OptName{SOL_SOCKET, SO_RCVBUF};
    case SockOpt::reuseaddr: return OptName{SOL_SOCKET, SO_REUSEADDR};
    case SockOpt::rcvlowat: return OptName{SOL_SOCKET, SO_RCVLOWAT};
    case SockOpt::v6only: return OptName{IPPROTO_IPV6, IPV6_V6ONLY};
    case SockOpt::freebind:
      return v6 ? OptName{IPPROTO_IPV6, IPV6_FREEBIND} : OptName{IPPROTO_IP, IP_FREEBIND};
    case SockOpt::recverr:
      return v6 ? OptName{IPPROTO_IPV6, IPV6_RECVERR} : OptName{IPPROTO_IP, IP_RECVERR};
    case SockOpt::tcp_maxseg: return OptName{IPPROTO_TCP, TCP_MAXSEG};
    case SockOpt::tcp_nodelay: return OptName{IPPROTO_TCP, TCP_NODELAY};
    case SockOpt::tcp_quickack: return OptName{IPPROTO_TCP, TCP_QUICKACK};
    case SockOpt::linger_zero:
    case SockOpt::pipe_size: break;
  }
  return Err::invalid;
}

// Runs socket() in the guest namespace's child task.
class SocketTask final : public NsTask {
 public:
  SocketTask(int domain, int type, int proto) noexcept
      : domain_(domain), type_(type), proto_(proto) {}
  void run() noexcept override {
    fd_ = ::socket(domain_, type_, proto_);
    if (fd_ < 0) errno_ = errno;
  }
  int fd() const noexcept { return fd_; }
  int error() const noexcept { return errno_; }

 private:
  int domain_, type_, proto_;
  int fd_ = -1;
  int errno_ = 0;
};

}  // namespace

struct LinuxHostNet::Scratch {
  std::array<mmsghdr, kMaxBatch> msgs;
  std::array<SaUnion, kMaxBatch> addrs;
  std::array<iovec, kMaxBatchIov> iovs;
};
static_assert(LinuxHostNet::kMaxIov + kMaxPeekScratchIov <= LinuxHostNet::kMaxBatchIov);

LinuxHostNet::LinuxHostNet(EventLoop& loop, Options opt) noexcept
    : loop_(loop), opt_(opt), ns_(opt.guest_netns_fd) {}

LinuxHostNet::~LinuxHostNet() { std::free(fds_); }

Status LinuxHostNet::init() noexcept {
  PASST_CHECK(fds_ == nullptr);
  std::size_t n = opt_.max_fds;
  if (n == 0) {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return last_err();
    n = rl.rlim_cur == RLIM_INFINITY ? kFdTableMax : rl.rlim_cur;
  }
  if (n > kFdTableMax) n = kFdTableMax;
  if (n < 64) n = 64;
  // splice() into a socket whose peer is gone raises SIGPIPE and has no
  // MSG_NOSIGNAL: ignore the signal process-wide, as upstream pasta does.
  struct sigaction sa {};
  sa.sa_handler = SIG_IGN;
  if (sigaction(SIGPIPE, &sa, nullptr) < 0) return last_err();
  // calloc: zero pages are mapped lazily, and all-zero is a valid state.
  fds_ = static_cast<FdState*>(std::calloc(n, sizeof(FdState)));
  if (fds_ == nullptr) return Err::no_memory;
  nfds_ = n;
  scratch_ = std::make_unique<Scratch>();

  bool supported = false;
  if (opt_.peek_mode != PeekMode::discard_iov) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd >= 0) {
      supported = sockopt_int(fd, SOL_SOCKET, SO_PEEK_OFF, 0).ok();
      ::close(fd);
    }
    if (!supported && opt_.peek_mode == PeekMode::peek_off) return Err::not_supported;
  }
  peek_off_ = supported;
  if (!peek_off_) peek_scratch_ = std::make_unique_for_overwrite<u8[]>(kPeekScratch);
  LOG_DEBUG("host net: %zu fd slots, TCP peek at offset via %s", nfds_,
            peek_off_ ? "SO_PEEK_OFF" : "discard iovec");

  if (opt_.guest_netns_fd >= 0) {
    if (Status s = ns_.init(); !s) return s;
  }
  return {};
}

std::size_t LinuxHostNet::max_peek_offset() const noexcept {
  return peek_off_ ? kMaxPeekOffset : kPeekScratch * kMaxPeekScratchIov;
}

LinuxHostNet::FdState* LinuxHostNet::state(Sock s) noexcept {
  if (s.v < 0 || static_cast<std::size_t>(s.v) >= nfds_) return nullptr;
  return &fds_[static_cast<std::size_t>(s.v)];
}

Result<Sock> LinuxHostNet::track(int fd, u8 family) noexcept {
  Sock s{fd};
  FdState* st = state(s);
  if (st == nullptr) {
    // Beyond the table (upstream refuses fds above 2^24 the same way).
    ::close(fd);
    return Err::too_many_files;
  }
  *st = FdState{};
  st->family = family;
  st->owned_pending = kOwned;
  return s;
}

Status LinuxHostNet::adopt(Sock s, Family fam) noexcept {
  FdState* st = state(s);
  if (st == nullptr) return Err::too_many_files;
  *st = FdState{};
  st->family = fam == Family::v4 ? kFamV4 : kFamV6;
  return {};
}

u8 LinuxHostNet::family_of(Sock s) noexcept {
  FdState* st = state(s);
  if (st != nullptr && st->family != kFamUnknown) return st->family;
  auto dom = getsockopt_int(s.v, SOL_SOCKET, SO_DOMAIN);
  u8 fam = kFamUnknown;
  if (dom && *dom == AF_INET) fam = kFamV4;
  if (dom && *dom == AF_INET6) fam = kFamV6;
  if (st != nullptr) st->family = fam;
  return fam;
}

// --- creation and set-up -----------------------------------------------------

Result<Sock> LinuxHostNet::socket_in_guest(int domain, int type, int proto) noexcept {
  if (!ns_.ready()) return Err::not_supported;
  SocketTask task(domain, type, proto);
  if (Status st = ns_.run(task); !st) return st.err();
  if (task.fd() < 0) {
    Err e = err_from_errno(task.error());
    return e == Err::none ? Err::other : e;
  }
  return Sock{task.fd()};
}

Result<Sock> LinuxHostNet::socket(ports::Netns ns, Family fam, ports::SockType type) noexcept {
  const int domain = fam == Family::v4 ? AF_INET : AF_INET6;
  int stype = SOCK_DGRAM;
  int proto = IPPROTO_UDP;
  switch (type) {
    case ports::SockType::tcp:
      stype = SOCK_STREAM;
      proto = IPPROTO_TCP;
      break;
    case ports::SockType::udp: break;
    case ports::SockType::ping:
      proto = fam == Family::v4 ? static_cast<int>(IPPROTO_ICMP) : static_cast<int>(IPPROTO_ICMPV6);
      break;
  }
  stype |= SOCK_NONBLOCK | SOCK_CLOEXEC;
  int fd = -1;
  if (ns == ports::Netns::guest) {
    auto r = socket_in_guest(domain, stype, proto);
    if (!r) return r.err();
    fd = r->v;
  } else {
    fd = ::socket(domain, stype, proto);
    if (fd < 0) return last_err();
  }
  return track(fd, fam == Family::v4 ? kFamV4 : kFamV6);
}

Status LinuxHostNet::set_opt(Sock s, SockOpt opt, int value) noexcept {
  if (opt == SockOpt::pipe_size) {
    if (fcntl(s.v, F_SETPIPE_SZ, value) < 0) return last_err();
    return {};
  }
  if (opt == SockOpt::linger_zero) {
    linger l{};
    l.l_onoff = 1;
    l.l_linger = 0;
    if (setsockopt(s.v, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0) return last_err();
    return {};
  }
  auto name = opt_name(opt, family_of(s));
  if (!name) return name.err();
  return sockopt_int(s.v, name->level, name->name, value);
}

Result<int> LinuxHostNet::get_opt(Sock s, SockOpt opt) noexcept {
  if (opt == SockOpt::pipe_size) {
    int r = fcntl(s.v, F_GETPIPE_SZ);
    if (r < 0) return last_err();
    return r;
  }
  if (opt == SockOpt::linger_zero) {
    linger l{};
    socklen_t sl = sizeof(l);
    if (getsockopt(s.v, SOL_SOCKET, SO_LINGER, &l, &sl) < 0) return last_err();
    return (l.l_onoff != 0 && l.l_linger == 0) ? 1 : 0;
  }
  auto name = opt_name(opt, family_of(s));
  if (!name) return name.err();
  return getsockopt_int(s.v, name->level, name->name);
}

Status LinuxHostNet::bind_to_device(Sock s, std::string_view ifname) noexcept {
  if (ifname.size() >= IFNAMSIZ) return Err::invalid;
  // The kernel copies optlen bytes and terminates them itself; 0 unbinds.
  if (setsockopt(s.v, SOL_SOCKET, SO_BINDTODEVICE, ifname.data(),
                 static_cast<socklen_t>(ifname.size())) < 0)
    return last_err();
  return {};
}

Status LinuxHostNet::bind(Sock s, const SockAddr& addr) noexcept {
  SaUnion sa{};
  auto len = to_sockaddr(addr, family_of(s), sa);
  if (!len) return len.err();
  if (::bind(s.v, &sa.sa, *len) < 0) return last_err();
  return {};
}

Status LinuxHostNet::listen(Sock s, int backlog) noexcept {
  if (::listen(s.v, backlog) < 0) return last_err();
  return {};
}

Result<Sock> LinuxHostNet::accept(Sock listener, SockAddr* peer) noexcept {
  SaUnion sa{};
  socklen_t len = sizeof(sa);
  std::memset(&sa, 0, sizeof(sa));
  int fd = accept4(listener.v, &sa.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    // At the descriptor limit: reset it rather than wake up for it forever;
    // that connection is gone, as after ECONNABORTED.  Nothing pending: as
    // EAGAIN.  Without the reserve the error stands and the core pauses the
    // listener.
    if (errno == EMFILE || errno == ENFILE) {
      bool none = false;
      if (shed_pending_connection(listener.v, &none)) return Err::conn_aborted;
      if (none) return Err::again;
    }
    return last_err();
  }
  if (peer != nullptr) *peer = from_sockaddr(sa, len);
  return track(fd, family_of(listener));
}

Status LinuxHostNet::connect(Sock s, const SockAddr& to) noexcept {
  SaUnion sa{};
  auto len = to_sockaddr(to, family_of(s), sa);
  if (!len) return len.err();
  if (::connect(s.v, &sa.sa, *len) < 0) return last_err();
  return {};
}

Result<SockAddr> LinuxHostNet::local_addr(Sock s) noexcept {
  SaUnion sa{};
  socklen_t len = sizeof(sa);
  std::memset(&sa, 0, sizeof(sa));
  if (getsockname(s.v, &sa.sa, &len) < 0) return last_err();
  return from_sockaddr(sa, len);
}

Err LinuxHostNet::take_error(Sock s) noexcept {
  auto r = getsockopt_int(s.v, SOL_SOCKET, SO_ERROR);
  if (!r) return r.err();
  Err first = err_from_errno(*r);
  // With IP_RECVERR/IPV6_RECVERR the kernel also queues each ICMP error;
  // EPOLLERR stays up until that queue is empty, so drain it (bounded) and
  // report its first entry if SO_ERROR had nothing.  The payload is not
  // wanted: no iovec, the kernel just flags MSG_TRUNC.
  for (int i = 0; i < kMaxErrQueueDrain; i++) {
    alignas(cmsghdr) u8 control[256];
    msghdr mh{};
    mh.msg_control = control;
    mh.msg_controllen = sizeof(control);
    if (recvmsg(s.v, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
      const bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
      const bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
      if ((!v4 && !v6) || c->cmsg_len < CMSG_LEN(sizeof(sock_extended_err))) continue;
      sock_extended_err ee{};
      std::memcpy(&ee, CMSG_DATA(c), sizeof(ee));
      if (first == Err::none) first = err_from_errno(static_cast<int>(ee.ee_errno));
    }
  }
  return first;
}

void LinuxHostNet::close(Sock s) noexcept {
  if (s.v < 0) return;
  FdState* st = state(s);
  if (st != nullptr) {
    // Unread bytes at close() make the kernel reset the connection.
    if ((st->owned_pending & kPendingMask) != 0) (void)flush_discard(s, *st);
    // Explicitly leave the epoll set: a registration belongs to the open file
    // description and would outlive close() if the fd had been duplicated.
    if (st->watched != 0) (void)loop_.unwatch(s.v);
    *st = FdState{};
  }
  ::close(s.v);
}

// --- stream data -------------------------------------------------------------

Result<std::size_t> LinuxHostNet::send(Sock s, std::span<const Bytes> iov, bool more) noexcept {
  iovec* v = scratch_->iovs.data();
  std::size_t n = iov.size() < kMaxIov ? iov.size() : kMaxIov;  // bound: partial send
  for (std::size_t i = 0; i < n; i++) {
    v[i].iov_base = const_cast<u8*>(iov[i].data());
    v[i].iov_len = iov[i].size();
  }
  msghdr mh{};
  mh.msg_iov = v;
  mh.msg_iovlen = n;
  int flags = MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0);
  ssize_t r = sendmsg(s.v, &mh, flags);
  if (r < 0) return last_err();
  return static_cast<std::size_t>(r);
}

void LinuxHostNet::consumed(Sock s, std::size_t n) noexcept {
  // The kernel moves a set peek offset back by what a consuming read took,
  // floored at 0 (sk_peek_offset_bwd).
  FdState* st = state(s);
  if (st == nullptr) return;
  st->known = st->known > n ? static_cast<u32>(st->known - n) : 0;
  if (st->peek_off_plus1 <= 0) return;
  i64 off = static_cast<i64>(st->peek_off_plus1) - 1 - static_cast<i64>(n);
  st->peek_off_plus1 = static_cast<i32>((off < 0 ? 0 : off) + 1);
}

Result<std::size_t> LinuxHostNet::peek_with_offset(Sock s, FdState& st, std::size_t offset,
                                                   std::span<const MutBytes> iov) noexcept {
  // Deferred discards are still at the head of the queue: skip them too.
  const i32 want = static_cast<i32>(offset + (st.owned_pending & kPendingMask));
  // Never set (-1, the kernel's default) peeks from the head like offset 0
  // and stays -1: no setsockopt() for a peek at the head.
  if (st.peek_off_plus1 - 1 != want && !(want == 0 && st.peek_off_plus1 == 0)) {
    if (Status r = sockopt_int(s.v, SOL_SOCKET, SO_PEEK_OFF, want); !r) return r.err();
    st.peek_off_plus1 = want + 1;
  }
  iovec* v = scratch_->iovs.data();
  std::size_t n = iov.size() < kMaxIov ? iov.size() : kMaxIov;
  for (std::size_t i = 0; i < n; i++) v[i] = iovec{iov[i].data(), iov[i].size()};
  msghdr mh{};
  mh.msg_iov = v;
  mh.msg_iovlen = n;
  ssize_t r = recvmsg(s.v, &mh, MSG_PEEK | MSG_DONTWAIT);
  if (r < 0) {
    if (errno == EAGAIN) return std::size_t{0};  // nothing beyond offset yet
    return last_err();
  }
  if (st.peek_off_plus1 != 0) st.peek_off_plus1 += static_cast<i32>(r);  // sk_peek_offset_fwd
  const u32 end = static_cast<u32>(want) + static_cast<u32>(r);
  if (end > st.known) st.known = end;
  return static_cast<std::size_t>(r);
}

Result<std::size_t> LinuxHostNet::peek_with_iov(Sock s, std::size_t offset,
                                                std::span<const MutBytes> iov) noexcept {
  if (offset > kPeekScratch * kMaxPeekScratchIov) return Err::invalid;
  iovec* v = scratch_->iovs.data();
  std::size_t k = 0;
  // Leading iovecs absorbing `offset` bytes, all pointing at one scratch
  // buffer: the kernel copies the skipped bytes there and we ignore them.
  for (std::size_t left = offset; left > 0; k++) {
    std::size_t chunk = left < kPeekScratch ? left : kPeekScratch;
    v[k] = iovec{peek_scratch_.get(), chunk};
    left -= chunk;
  }
  std::size_t n = iov.size() < kMaxIov - k ? iov.size() : kMaxIov - k;
  for (std::size_t i = 0; i < n; i++) v[k + i] = iovec{iov[i].data(), iov[i].size()};
  msghdr mh{};
  mh.msg_iov = v;
  mh.msg_iovlen = k + n;
  ssize_t r = recvmsg(s.v, &mh, MSG_PEEK | MSG_DONTWAIT);
  if (r < 0) {
    if (errno == EAGAIN) return std::size_t{0};
    return last_err();
  }
  std::size_t got = static_cast<std::size_t>(r);
  return got > offset ? got - offset : 0;
}

Result<std::size_t> LinuxHostNet::peek(Sock s, std::size_t offset,
                                       std::span<const MutBytes> iov) noexcept {
  if (offset > kMaxPeekOffset) return Err::invalid;
  if (!peek_off_) return peek_with_iov(s, offset, iov);
  FdState* st = state(s);
  if (st == nullptr) return Err::bad_handle;
  return peek_with_offset(s, *st, offset, iov);
}

Status LinuxHostNet::flush_discard(Sock s, FdState& st) noexcept {
  const std::size_t n = st.owned_pending & kPendingMask;
  st.owned_pending = static_cast<u16>(st.owned_pending & kOwned);
  if (n == 0) return {};
  ssize_t r = ::recv(s.v, nullptr, n, MSG_TRUNC | MSG_DONTWAIT);
  if (r < 0) return last_err();
  consumed(s, static_cast<std::size_t>(r));
  return {};
}

Result<std::size_t> LinuxHostNet::discard(Sock s, std::size_t n) noexcept {
  if (n == 0) return std::size_t{0};
  if (n > kMaxDiscard) n = kMaxDiscard;
  FdState* st = state(s);
  std::size_t pending = 0;
  if (st != nullptr) {
    pending = st->owned_pending & kPendingMask;
    // Deferred: the bytes stay, the peek offset skips them (SO_PEEK_OFF only;
    // the discard iovec would copy them at every peek).
    if (peek_off_ && (st->owned_pending & kOwned) != 0 && st->family != kFamPipe &&
        pending + n <= kMaxDeferredDiscard && pending + n <= st->known) {
      st->owned_pending = static_cast<u16>(st->owned_pending + n);
      return n;
    }
    st->owned_pending = static_cast<u16>(st->owned_pending & kOwned);
  }
  // TCP: MSG_TRUNC drops the bytes without copying, so no buffer is needed.
  ssize_t r = ::recv(s.v, nullptr, pending + n, MSG_TRUNC | MSG_DONTWAIT);
  if (r < 0) {
    if (st != nullptr) st->owned_pending = static_cast<u16>(st->owned_pending | pending);
    return last_err();
  }
  consumed(s, static_cast<std::size_t>(r));
  const std::size_t got = static_cast<std::size_t>(r);
  return got > pending ? got - pending : 0;
}

Result<std::size_t> LinuxHostNet::recv(Sock s, std::span<const MutBytes> iov) noexcept {
  if (FdState* st = state(s); st != nullptr && (st->owned_pending & kPendingMask) != 0) {
    if (Status r = flush_discard(s, *st); !r) return r.err();
  }
  iovec* v = scratch_->iovs.data();
  std::size_t n = iov.size() < kMaxIov ? iov.size() : kMaxIov;
  for (std::size_t i = 0; i < n; i++) v[i] = iovec{iov[i].data(), iov[i].size()};
  msghdr mh{};
  mh.msg_iov = v;
  mh.msg_iovlen = n;
  ssize_t r = recvmsg(s.v, &mh, MSG_DONTWAIT);
  if (r < 0) return last_err();
  consumed(s, static_cast<std::size_t>(r));
  return static_cast<std::size_t>(r);
}

Result<ports::TcpInfo> LinuxHostNet::tcp_info(Sock s) noexcept {
  struct tcp_info ti{};
  socklen_t sl = sizeof(ti);
  if (getsockopt(s.v, IPPROTO_TCP, TCP_INFO, &ti, &sl) < 0) return last_err();
  const std::size_t got = sl;
  // An older kernel returns a shorter struct: fields past its end are absent.
  auto has = [got](std::size_t off, std::size_t size) { return off + size <= got; };
  ports::TcpInfo r;
  r.state = ti.tcpi_state;
  r.snd_wscale = ti.tcpi_snd_wscale;
  r.rcv_wscale = ti.tcpi_rcv_wscale;
  r.snd_mss = ti.tcpi_snd_mss;
  r.rtt_us = ti.tcpi_rtt;
  r.snd_cwnd = ti.tcpi_snd_cwnd;
  r.unacked = ti.tcpi_unacked;
  r.total_retrans = ti.tcpi_total_retrans;
  r.has_min_rtt = has(offsetof(struct tcp_info, tcpi_min_rtt), sizeof(ti.tcpi_min_rtt));
  if (r.has_min_rtt) r.min_rtt_us = ti.tcpi_min_rtt;
  r.has_bytes_acked =
      has(offsetof(struct tcp_info, tcpi_bytes_acked), sizeof(ti.tcpi_bytes_acked));
  if (r.has_bytes_acked) r.bytes_acked = ti.tcpi_bytes_acked;
  r.has_snd_wnd = has(offsetof(struct tcp_info, tcpi_snd_wnd), sizeof(ti.tcpi_snd_wnd));
  if (r.has_snd_wnd) r.snd_wnd = ti.tcpi_snd_wnd;
  return r;
}

Result<std::size_t> LinuxHostNet::send_queue(Sock s) noexcept {
  int v = 0;
  if (ioctl(s.v, SIOCOUTQ, &v) < 0) return last_err();
  return static_cast<std::size_t>(v < 0 ? 0 : v);
}

Status LinuxHostNet::shutdown_write(Sock s) noexcept {
  if (::shutdown(s.v, SHUT_WR) < 0) return last_err();
  return {};
}

// --- datagrams ---------------------------------------------------------------

Result<std::size_t> LinuxHostNet::recv_batch(Sock s, std::span<ports::RecvSlot> slots) noexcept {
  std::size_t n = slots.size() < kMaxBatch ? slots.size() : kMaxBatch;
  if (n == 0) return std::size_t{0};
  Scratch& sc = *scratch_;
  for (std::size_t i = 0; i < n; i++) {
    // A 0-byte buffer is allowed: the datagram is dropped (len 0).
    sc.iovs[i] = iovec{slots[i].buf.data(), slots[i].buf.size()};
    msghdr& mh = sc.msgs[i].msg_hdr;
    mh = msghdr{};
    mh.msg_name = &sc.addrs[i];
    mh.msg_namelen = sizeof(SaUnion);
    mh.msg_iov = &sc.iovs[i];
    mh.msg_iovlen = 1;
    sc.msgs[i].msg_len = 0;
  }
  int r = recvmmsg(s.v, sc.msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
  if (r < 0) return last_err();
  const std::size_t got = static_cast<std::size_t>(r);
  for (std::size_t i = 0; i < got; i++) {
    // Without MSG_TRUNC in flags msg_len is what was stored; a longer
    // datagram was cut to the buffer.
    std::size_t len = sc.msgs[i].msg_len;
    slots[i].len = len < slots[i].buf.size() ? len : slots[i].buf.size();
    slots[i].peer = from_sockaddr(sc.addrs[i], sc.msgs[i].msg_hdr.msg_namelen);
  }
  return got;
}

Result<std::size_t> LinuxHostNet::send_batch(Sock s,
                                             std::span<const ports::SendSlot> msgs) noexcept {
  std::size_t n = msgs.size() < kMaxBatch ? msgs.size() : kMaxBatch;
  if (n == 0) return std::size_t{0};
  Scratch& sc = *scratch_;
  const u8 fam = family_of(s);
  std::size_t used_iov = 0;
  std::size_t count = 0;
  for (; count < n; count++) {
    const ports::SendSlot& m = msgs[count];
    if (m.iov.size() > kMaxBatchIov - used_iov) break;  // bound: send the rest next time
    msghdr& mh = sc.msgs[count].msg_hdr;
    mh = msghdr{};
    if (m.to != nullptr) {
      auto len = to_sockaddr(*m.to, fam, sc.addrs[count]);
      if (!len) break;  // reported below if it is the first message
      mh.msg_name = &sc.addrs[count];
      mh.msg_namelen = *len;
    }
    for (std::size_t j = 0; j < m.iov.size(); j++)
      sc.iovs[used_iov + j] = iovec{const_cast<u8*>(m.iov[j].data()), m.iov[j].size()};
    mh.msg_iov = &sc.iovs[used_iov];
    mh.msg_iovlen = m.iov.size();
    used_iov += m.iov.size();
  }
  if (count == 0) {
    if (msgs[0].iov.size() > kMaxBatchIov) return Err::msg_size;
    return Err::invalid;  // address of the wrong family
  }
  int r = sendmmsg(s.v, sc.msgs.data(), static_cast<unsigned>(count), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (r < 0) return last_err();
  return static_cast<std::size_t>(r);
}

// --- pipes and splice ----------------------------------------------------------

Result<ports::PipeEnds> LinuxHostNet::pipe() noexcept {
  int p[2];
  if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) return last_err();
  auto rd = track(p[0], kFamPipe);
  if (!rd) {
    ::close(p[1]);
    return rd.err();
  }
  auto wr = track(p[1], kFamPipe);
  if (!wr) {
    close(*rd);
    return wr.err();
  }
  return ports::PipeEnds{*rd, *wr};
}

Result<std::size_t> LinuxHostNet::splice(Sock from, Sock to, std::size_t len, bool more) noexcept {
  unsigned flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (more ? SPLICE_F_MORE : 0u);
  ssize_t r = ::splice(from.v, nullptr, to.v, nullptr, len, flags);
  if (r < 0) return last_err();
  return static_cast<std::size_t>(r);
}

// --- readiness -----------------------------------------------------------------

Status LinuxHostNet::watch(Sock s, u32 events, u64 ref) noexcept {
  FdState* st = state(s);
  bool registered = st != nullptr && st->watched != 0;
  if (Status r = loop_.watch(s.v, events, ref, registered); !r) return r;
  if (st != nullptr) st->watched = 1;
  return {};
}

void LinuxHostNet::unwatch(Sock s) noexcept {
  (void)loop_.unwatch(s.v);
  if (FdState* st = state(s); st != nullptr) st->watched = 0;
}

}  // namespace passt::os
