// script_real: runs scripts (docs/scripts.md) against the real passt and
// pasta binaries.  Run it inside the integration harness's outer namespace
// (integration/test_scripts.sh does): host-side actions use real sockets
// there, and the binaries see its network (up0 198.51.100.1/24 ...).
//
//   script_real --passt BIN [--pasta BIN] [--mode passt|pasta|both]
//               [--tolerance SECONDS] [--late-tolerance SECONDS]
//               [--settle SECONDS] [--trace] [--debug]
//               [--pending] [--slow|--only-slow] FILE|DIR...
//
// passt: started as a daemon (`-P pidfile -l logfile -s SOCKET`); the
// runner plays qemu on the UNIX socket (4-byte big-endian length + frame).
//
// pasta: the runner makes a network namespace (a child that unshares it,
// with IPv6 disabled so the namespace's own stack stays silent), starts
// `pasta --netns /proc/CHILD/ns/net` as a daemon, and once pasta created its
// tap there, enters the namespace just long enough to open a packet socket
// on the tap, bring it up (ARP off, MTU 65520) and come back.  Frames sent
// on the packet socket leave through the tap towards pasta; frames pasta
// writes are received (outgoing copies of our own are skipped).
//
// Scripts marked sim-only or pending are skipped; scripts marked slow
// (seconds of real time in timers) only run with --slow (as well) or
// --only-slow (CI runs them as a separate test, in parallel with the
// others).  Exit status 0 when all run scripts passed, 1 otherwise.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "linux/netlink.hpp"
#include "sim/script/bin/runner_common.hpp"

using namespace passt;
using namespace passt::sim::script;

namespace {

i64 mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return i64{ts.tv_sec} * 1000000000 + i64{ts.tv_nsec};
}

void sleep_ms(int ms) {
  timespec ts{ms / 1000, static_cast<long>(ms % 1000) * 1000000};
  nanosleep(&ts, nullptr);
}

Err errno_err(int e) {
  switch (e) {
    case EAGAIN: return Err::again;
    case EINPROGRESS: return Err::in_progress;
    case ECONNREFUSED: return Err::conn_refused;
    case ECONNRESET: return Err::conn_reset;
    case ETIMEDOUT: return Err::timed_out;
    case EPIPE: return Err::broken_pipe;
    case EADDRINUSE: return Err::addr_in_use;
    case EADDRNOTAVAIL: return Err::addr_not_avail;
    case ENOTCONN: return Err::not_connected;
    case EHOSTUNREACH: return Err::host_unreach;
    case ENETUNREACH: return Err::net_unreach;
    case EINVAL: return Err::invalid;
    case EBADF: return Err::bad_handle;
    default: return Err::other;
  }
}

std::string tail_file(const std::string& path, std::size_t max_lines) {
  std::string text;
  std::string err;
  if (!read_text_file(path, text, err)) return "";
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    lines.push_back(text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  std::string out;
  std::size_t from = lines.size() > max_lines ? lines.size() - max_lines : 0;
  for (std::size_t i = from; i < lines.size(); i++) out += "    | " + lines[i] + "\n";
  return out;
}

// Runs a program, waits for it (bounded), returns its exit status (-1 on
// timeout or signal); stdout+stderr to `log`.
int run_wait(const std::vector<std::string>& argv, const std::string& log, int timeout_ms) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> a;
    a.reserve(argv.size() + 1);
    for (const std::string& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
  for (int waited = 0; waited < timeout_ms; waited += 5) {
    int st = 0;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    sleep_ms(5);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

long read_pid(const std::string& path) {
  std::string t;
  std::string err;
  if (!read_text_file(path, t, err)) return -1;
  return std::strtol(t.c_str(), nullptr, 10);
}

bool stop_pid(long pid) {
  if (pid <= 0) return true;
  kill(static_cast<pid_t>(pid), SIGTERM);
  for (int i = 0; i < 200; i++) {
    if (kill(static_cast<pid_t>(pid), 0) != 0) return true;
    // A daemon re-parented to us (we may be pid 1 of the harness's pid
    // namespace) must be reaped.
    waitpid(static_cast<pid_t>(pid), nullptr, WNOHANG);
    sleep_ms(5);
  }
  kill(static_cast<pid_t>(pid), SIGKILL);
  waitpid(static_cast<pid_t>(pid), nullptr, WNOHANG);
  return false;
}

struct Options {
  std::string passt_bin;
  std::string pasta_bin;
  u8 modes = kModePasst | kModePasta;
  i64 tolerance_ns = 50000000;
  i64 late_tolerance_ns = 0;  // 0: tolerance_ns
  i64 settle_ns = 50000000;
  bool trace = false;
  bool debug = false;
  bool pending = false;
  int slow = 0;  // 0: skip `slow` scripts, 1: run them too (--slow), 2: only them (--only-slow)
};

// A guest-side endpoint: the qemu socket (passt) or a packet socket (pasta).
class RealBackend final : public Backend {
 public:
  explicit RealBackend(bool qemu) : qemu_(qemu) {}
  RealBackend(const RealBackend&) = delete;
  RealBackend& operator=(const RealBackend&) = delete;
  ~RealBackend() override {
    for (int fd : socks_)
      if (fd >= 0) close(fd);
    if (guest_fd_ >= 0) close(guest_fd_);
    if (nl_fd_ >= 0) close(nl_fd_);
  }

  // `nl`, `index`: pasta's tap (a route netlink socket in its namespace),
  // for input_pending().
  void start(int guest_fd, int nl, unsigned index) {
    guest_fd_ = guest_fd;
    nl_fd_ = nl;
    tap_index_ = index;
    if (nl_fd_ >= 0) taken_base_ = tap_taken();
    t0_ = mono_ns();
  }

  // passt: bytes we wrote to its socket that it has not read yet (the
  // queued skbs are charged to our socket until the reader frees them).
  // pasta: the tap counts a frame as transmitted when pasta reads it
  // (tun_put_user), or dropped; fewer than we injected means some wait.
  bool input_pending() override {
    if (qemu_) {
      int n = 0;
      return ioctl(guest_fd_, SIOCOUTQ, &n) == 0 && n > 0;
    }
    if (nl_fd_ < 0) return false;
    const u64 t = tap_taken();
    return t != ~u64{0} && t - taken_base_ < injected_;
  }

  i64 now_ns() override { return mono_ns() - t0_; }

  bool advance(i64 until_ns, std::deque<CapturedFrame>& frames) override {
    const i64 now = now_ns();
    if (now >= until_ns) {
      drain(frames);
      return false;
    }
    i64 wait = until_ns - now;
    if (wait > 1000000) wait = 1000000;
    pollfd p{guest_fd_, POLLIN, 0};
    timespec ts{0, wait};
    (void)ppoll(&p, 1, &ts, nullptr);
    drain(frames);
    return now_ns() < until_ns;
  }

  bool inject(Bytes frame, std::string& err) override {
    if (qemu_) {
      std::vector<u8> buf(4 + frame.size());
      store_be32(buf.data(), static_cast<u32>(frame.size()));
      std::memcpy(buf.data() + 4, frame.data(), frame.size());
      std::size_t off = 0;
      const i64 limit = mono_ns() + 2000000000;
      while (off < buf.size()) {
        ssize_t n = send(guest_fd_, buf.data() + off, buf.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
          off += static_cast<std::size_t>(n);
          continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
          err = std::string("write to passt's socket: ") + std::strerror(errno);
          return false;
        }
        if (mono_ns() > limit) {
          err = "passt does not read its socket";
          return false;
        }
        pollfd p{guest_fd_, POLLOUT, 0};
        (void)poll(&p, 1, 10);
      }
      return true;
    }
    if (send(guest_fd_, frame.data(), frame.size(), MSG_DONTWAIT) != static_cast<ssize_t>(frame.size())) {
      err = std::string("send on the tap's packet socket: ") + std::strerror(errno);
      return false;
    }
    injected_++;
    return true;
  }

  const char* failure() override { return failure_.empty() ? nullptr : failure_.c_str(); }

  Result<int> host_listen(const HostAddr& at, u32 backlog) override {
    const bool v6 = at.any || at.v6;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno_err(errno);
    int one = 1;
    int zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (at.any) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    sockaddr_storage ss{};
    socklen_t len = fill(at, &ss, at.any);
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0 || listen(fd, static_cast<int>(backlog)) < 0) {
      Err e = errno_err(errno);
      close(fd);
      return e;
    }
    socks_.push_back(fd);
    return fd;
  }

  Result<int> host_accept(int listener) override {
    int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return errno_err(errno == EWOULDBLOCK ? EAGAIN : errno);
    socks_.push_back(fd);
    return fd;
  }

  Result<int> host_connect(const HostAddr& to, u16 from_port) override {
    int fd = socket(to.v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno_err(errno);
    if (from_port != 0) {
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      HostAddr any = to;
      any.port = from_port;
      sockaddr_storage ss{};
      socklen_t len = fill(any, &ss, true);
      if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
        Err e = errno_err(errno);
        close(fd);
        return e;
      }
    }
    sockaddr_storage ss{};
    socklen_t len = fill(to, &ss, false);
    if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0 && errno != EINPROGRESS) {
      conn_err_.emplace_back(fd, errno_err(errno));
    }
    socks_.push_back(fd);
    return fd;
  }

  Err host_connect_result(int h) override {
    for (const auto& [fd, e] : conn_err_)
      if (fd == h) return e;
    pollfd p{h, POLLOUT, 0};
    if (poll(&p, 1, 0) <= 0) return Err::again;
    int e = 0;
    socklen_t l = sizeof(e);
    getsockopt(h, SOL_SOCKET, SO_ERROR, &e, &l);
    Err r = e == 0 ? Err::none : errno_err(e);
    conn_err_.emplace_back(h, r);
    return r;
  }

  Result<std::size_t> host_send(int h, Bytes data) override {
    ssize_t n = send(h, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) return errno_err(errno == EWOULDBLOCK ? EAGAIN : errno);
    wait_acked(h);
    return static_cast<std::size_t>(n);
  }

  // The simulator hands the translator's socket all the bytes of a `host
  // send` at once.  Over loopback they usually arrive within send(), but not
  // always: while the translator holds its socket (a peek in progress) the
  // segment waits in the socket's backlog, and the translator may read the
  // first part alone and cut a segment the script did not expect.  So wait,
  // briefly, until our socket has nothing unacknowledged (everything is in
  // the translator's receive queue).  Bounded (50 ms): a script that sends
  // into a closed window goes on with the bytes still queued here, as in
  // the simulator.
  static void wait_acked(int h) {
    for (int k = 0; k < 250; k++) {
      int q = 0;
      if (ioctl(h, SIOCOUTQ, &q) < 0 || q == 0) return;
      timespec ts{0, 200L * 1000};
      nanosleep(&ts, nullptr);
    }
  }

  Result<std::size_t> host_recv(int h, MutBytes buf) override {
    ssize_t n = recv(h, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) return errno_err(errno == EWOULDBLOCK ? EAGAIN : errno);
    return static_cast<std::size_t>(n);
  }

  Status host_shutdown(int h) override {
    if (shutdown(h, SHUT_WR) < 0) return errno_err(errno);
    return {};
  }

  void host_close(int h, bool reset) override {
    if (reset) {
      linger l{1, 0};
      setsockopt(h, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    close(h);
    for (int& fd : socks_)
      if (fd == h) fd = -1;
    for (int& fd : udp6_)
      if (fd == h) fd = -1;
    for (std::size_t i = 0; i < conn_err_.size(); i++)
      if (conn_err_[i].first == h) {
        conn_err_.erase(conn_err_.begin() + static_cast<long>(i));
        break;
      }
  }

  Result<int> host_udp_bind(const HostAddr& at) override {
    const bool v6 = at.any || at.v6;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno_err(errno);
    int zero = 0;
    if (at.any) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    sockaddr_storage ss{};
    socklen_t len = fill(at, &ss, at.any);
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
      Err e = errno_err(errno);
      close(fd);
      return e;
    }
    socks_.push_back(fd);
    if (v6) udp6_.push_back(fd);
    return fd;
  }

  Result<std::size_t> host_udp_send(int h, const HostAddr& to, Bytes data) override {
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (!to.v6 && is_udp6(h)) {
      // IPv4 from a dual-stack socket: the v4-mapped address.
      auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons(to.port);
      std::memcpy(&s6->sin6_addr, to.addr.v6().b.data(), 16);
      len = sizeof(sockaddr_in6);
    } else {
      len = fill(to, &ss, false);
    }
    ssize_t n = sendto(h, data.data(), data.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), len);
    if (n < 0) return errno_err(errno == EWOULDBLOCK ? EAGAIN : errno);
    return static_cast<std::size_t>(n);
  }

  Result<std::size_t> host_udp_recv(int h, MutBytes buf, HostAddr& from) override {
    sockaddr_storage ss{};
    socklen_t sl = sizeof(ss);
    ssize_t n = recvfrom(h, buf.data(), buf.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), &sl);
    if (n < 0) return errno_err(errno == EWOULDBLOCK ? EAGAIN : errno);
    from.any = false;
    if (ss.ss_family == AF_INET6) {
      const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
      Ipv6Addr a;
      std::memcpy(a.b.data(), &s6->sin6_addr, 16);
      from.addr = InAny::from(a);
      from.v6 = !from.addr.is_v4();
      from.port = ntohs(s6->sin6_port);
    } else {
      const auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
      Ipv4Addr a;
      std::memcpy(a.b.data(), &s4->sin_addr, 4);
      from.addr = InAny::from(a);
      from.v6 = false;
      from.port = ntohs(s4->sin_port);
    }
    return static_cast<std::size_t>(n);
  }

 private:
  // The tap's tx_packets + tx_dropped (IFLA_STATS64), or ~0 if unknown.
  u64 tap_taken() {
    struct {
      nlmsghdr nh;
      ifinfomsg ifi;
    } req{};
    req.nh.nlmsg_len = sizeof(req);
    req.nh.nlmsg_type = RTM_GETLINK;
    req.nh.nlmsg_flags = NLM_F_REQUEST;
    req.nh.nlmsg_seq = ++nl_seq_;
    req.ifi.ifi_family = AF_UNSPEC;
    req.ifi.ifi_index = static_cast<int>(tap_index_);
    if (send(nl_fd_, &req, sizeof(req), 0) != static_cast<ssize_t>(sizeof(req))) return ~u64{0};
    static u8 buf[32768];
    for (int tries = 0; tries < 8; tries++) {
      ssize_t n = recv(nl_fd_, buf, sizeof(buf), 0);
      if (n < static_cast<ssize_t>(sizeof(nlmsghdr))) return ~u64{0};
      nlmsghdr h{};
      std::memcpy(&h, buf, sizeof(h));
      if (h.nlmsg_seq != nl_seq_) continue;  // a late answer to an earlier request
      if (h.nlmsg_type != RTM_NEWLINK || h.nlmsg_len > static_cast<u32>(n)) return ~u64{0};
      // Attributes after the header and ifinfomsg, each 4-byte aligned.
      std::size_t off = NLMSG_HDRLEN + ((sizeof(ifinfomsg) + 3) & ~std::size_t{3});
      while (off + 4 <= h.nlmsg_len) {
        const u16 len = static_cast<u16>(buf[off] | (buf[off + 1] << 8));
        const u16 type = static_cast<u16>(buf[off + 2] | (buf[off + 3] << 8));
        if (len < 4 || off + len > h.nlmsg_len) break;
        if (type == IFLA_STATS64 && len >= 4 + sizeof(rtnl_link_stats64)) {
          rtnl_link_stats64 st{};
          std::memcpy(&st, buf + off + 4, sizeof(st));
          return st.tx_packets + st.tx_dropped;
        }
        off += (static_cast<std::size_t>(len) + 3) & ~std::size_t{3};
      }
      return ~u64{0};
    }
    return ~u64{0};
  }

  bool is_udp6(int fd) const {
    for (int x : udp6_)
      if (x == fd) return true;
    return false;
  }

  // `use_any`: the unspecified address of the family (binding); a.any
  // always means the IPv6 (dual-stack) unspecified address.
  static socklen_t fill(const HostAddr& a, sockaddr_storage* ss, bool use_any) {
    if (a.v6 || a.any) {
      auto* s6 = reinterpret_cast<sockaddr_in6*>(ss);
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons(a.port);
      if (use_any || a.any)
        s6->sin6_addr = in6addr_any;
      else
        std::memcpy(&s6->sin6_addr, a.addr.v6().b.data(), 16);
      return sizeof(sockaddr_in6);
    }
    auto* s4 = reinterpret_cast<sockaddr_in*>(ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(a.port);
    if (use_any)
      s4->sin_addr.s_addr = htonl(INADDR_ANY);
    else
      std::memcpy(&s4->sin_addr, a.addr.v4().b.data(), 4);
    return sizeof(sockaddr_in);
  }

  void drain(std::deque<CapturedFrame>& frames) {
    if (guest_fd_ < 0 || !failure_.empty()) return;
    if (qemu_) {
      for (;;) {
        u8 buf[65536];
        ssize_t n = recv(guest_fd_, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0) {
          failure_ = "passt closed the qemu socket (did it exit?)";
          return;
        }
        if (n < 0) break;
        rx_.insert(rx_.end(), buf, buf + n);
        const i64 at = now_ns();
        while (rx_.size() >= 4) {
          u32 len = load_be32(rx_.data());
          if (len > 65535 + 14) {
            failure_ = "passt sent a frame length of " + std::to_string(len);
            return;
          }
          if (rx_.size() < 4 + len) break;
          CapturedFrame f;
          f.at_ns = at;
          f.bytes.assign(rx_.begin() + 4, rx_.begin() + 4 + len);
          frames.push_back(std::move(f));
          rx_.erase(rx_.begin(), rx_.begin() + 4 + len);
        }
      }
      return;
    }
    for (;;) {
      static u8 buf[65536 + 64];
      sockaddr_ll from{};
      socklen_t fl = sizeof(from);
      ssize_t n = recvfrom(guest_fd_, buf, sizeof(buf), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n < 0) break;
      if (from.sll_pkttype == PACKET_OUTGOING) continue;  // our own injections
      CapturedFrame f;
      f.at_ns = now_ns();
      f.bytes.assign(buf, buf + n);
      frames.push_back(std::move(f));
    }
  }

  bool qemu_;
  int guest_fd_ = -1;
  int nl_fd_ = -1;  // pasta: route netlink in the tap's namespace
  unsigned tap_index_ = 0;
  u32 nl_seq_ = 0;
  u64 taken_base_ = 0;  // tap_taken() at the start
  u64 injected_ = 0;    // frames sent on the packet socket
  i64 t0_ = 0;
  std::vector<u8> rx_;
  std::vector<int> socks_;
  std::vector<int> udp6_;  // UDP sockets of the IPv6 family (IPv4 destinations go v4-mapped)
  std::vector<std::pair<int, Err>> conn_err_;
  std::string failure_;
};

struct Outcome {
  bool ok = false;
  bool skipped = false;
  std::string msg;
};

// The holder of pasta's target namespace: unshares a network namespace,
// disables IPv6 in it, reports, then waits for its pipe to close.
struct NsHolder {
  pid_t pid = -1;
  int ctl = -1;  // write end: closing it ends the holder

  bool start(std::string& err) {
    int ready[2];
    int hold[2];
    if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(hold, O_CLOEXEC) < 0) {
      err = "pipe";
      return false;
    }
    pid = fork();
    if (pid < 0) {
      err = "fork";
      return false;
    }
    if (pid == 0) {
      close(ready[0]);
      close(hold[1]);
      char ok = 'n';
      if (unshare(CLONE_NEWNET) == 0) {
        ok = 'y';
        for (const char* p : {"/proc/sys/net/ipv6/conf/all/disable_ipv6", "/proc/sys/net/ipv6/conf/default/disable_ipv6"}) {
          int fd = open(p, O_WRONLY | O_CLOEXEC);
          if (fd >= 0) {
            (void)(write(fd, "1", 1) == 1);  // best effort, result ignored on purpose
            close(fd);
          }
        }
      }
      (void)(write(ready[1], &ok, 1) == 1);  // the parent reads EOF as failure
      char c = 0;
      while (read(hold[0], &c, 1) > 0) {
      }
      _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    ctl = hold[1];
    char c = 0;
    if (read(ready[0], &c, 1) != 1 || c != 'y') {
      close(ready[0]);
      err = "cannot create a network namespace";
      return false;
    }
    close(ready[0]);
    return true;
  }
  std::string path() const { return "/proc/" + std::to_string(pid) + "/ns/net"; }
  void stop() {
    if (ctl >= 0) close(ctl);
    ctl = -1;
    if (pid > 0) waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

// Opens a packet socket on `ifname` inside the namespace at `ns_path`,
// with the interface up, ARP off and MTU 65520; also a route netlink
// socket there (`*nl`, for the tap's counters) and the index (`*index`).
int open_tap_socket(const std::string& ns_path, const std::string& ifname, int* nl, unsigned* index,
                    std::string& err) {
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) < 0) {
    err = std::string("cannot enter the namespace: ") + std::strerror(errno);
    if (self >= 0) close(self);
    if (target >= 0) close(target);
    return -1;
  }
  int fd = -1;
  unsigned idx = if_nametoindex(ifname.c_str());
  if (idx == 0) {
    err = "no interface " + ifname + " in the namespace";
  } else {
    fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    int ctl = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname.c_str());
    ifr.ifr_mtu = 65520;
    if (ctl >= 0) (void)ioctl(ctl, SIOCSIFMTU, &ifr);
    if (ctl < 0 || ioctl(ctl, SIOCGIFFLAGS, &ifr) < 0) {
      err = std::string("interface flags: ") + std::strerror(errno);
    } else {
      ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_NOARP);
      if (ioctl(ctl, SIOCSIFFLAGS, &ifr) < 0) err = std::string("interface up: ") + std::strerror(errno);
    }
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = static_cast<int>(idx);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) < 0)
      err = std::string("packet socket: ") + std::strerror(errno);
    *nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    *index = idx;
    if (*nl < 0 && err.empty()) err = std::string("netlink socket: ") + std::strerror(errno);
    if (ctl >= 0) close(ctl);
    if (!err.empty() && fd >= 0) {
      close(fd);
      fd = -1;
    }
  }
  if (setns(self, CLONE_NEWNET) < 0) {
    err = "cannot return to the outer namespace";
    if (fd >= 0) close(fd);
    fd = -1;
  }
  if (fd < 0 && *nl >= 0) {
    close(*nl);
    *nl = -1;
  }
  close(self);
  close(target);
  return fd;
}

bool discover(const core::Config& cfg, os::HostTemplate& t, std::string& err) {
  os::Netlink nl;
  if (!nl.open()) {
    err = "netlink";
    return false;
  }
  os::DiscoveryRequest dr;
  dr.want4 = !cfg.ipv6_only;
  dr.want6 = !cfg.ipv4_only;
  dr.ifname = cfg.interface;
  dr.outbound_if4 = cfg.ip4.outbound_if;
  dr.outbound_if6 = cfg.ip6.outbound_if;
  dr.addr4_given = cfg.ip4.addr.has_value();
  dr.addr6_given = cfg.ip6.addr.has_value();
  auto r = os::discover_host(nl, dr);
  if (!r) {
    err = std::string("host discovery: ") + err_name(r.err());
    return false;
  }
  t = *r;
  return true;
}

Outcome run_one(const Options& o, const std::string& path, const Script& s, core::Mode mode,
                const std::string& dir) {
  Outcome out;
  const bool pasta = mode == core::Mode::pasta;
  const std::string log = dir + "/" + mode_label(mode) + ".log";
  const std::string pidf = dir + "/" + mode_label(mode) + ".pid";
  const std::string sock = dir + "/passt.socket";
  NsHolder holder;
  std::vector<std::string> plumbing = {"-P", pidf, "-l", log};
  if (o.debug) plumbing.emplace_back("-d");
  if (pasta) {
    std::string err;
    if (!holder.start(err)) {
      out.msg = err;
      return out;
    }
    plumbing.insert(plumbing.end(), {"--netns", holder.path()});
  } else {
    plumbing.insert(plumbing.end(), {"-s", sock});
  }
  EffectiveConfig ec = parse_config(s, mode, plumbing);
  os::HostTemplate tmpl;
  std::string err;
  std::string resolv;
  if (ec.ok && !discover(ec.cfg, tmpl, err)) {
    ec.ok = false;
    ec.error = err;
  }
  (void)read_text_file("/etc/resolv.conf", resolv, err);
  if (ec.ok) complete_config(ec, tmpl, core::parse_resolv_conf(resolv), 0);
  if (!ec.ok) {
    holder.stop();
    out.msg = ec.error;
    return out;
  }
  std::vector<std::string> argv = {pasta ? o.pasta_bin : o.passt_bin};
  argv.insert(argv.end(), plumbing.begin(), plumbing.end());
  argv.insert(argv.end(), ec.script_args.begin(), ec.script_args.end());
  const std::string launch_log = dir + "/launch.log";
  int rc = run_wait(argv, launch_log, 10000);
  long pid = read_pid(pidf);
  auto cleanup = [&]() {
    stop_pid(pid);
    holder.stop();
  };
  if (rc != 0) {
    out.msg = "the binary did not start (exit " + std::to_string(rc) + ")\n" + tail_file(launch_log, 20) +
              tail_file(log, 20);
    cleanup();
    return out;
  }
  int gfd = -1;
  int tap_nl = -1;
  unsigned tap_index = 0;
  if (pasta) {
    std::string ifname = !ec.cfg.ns_ifname.empty() ? ec.cfg.ns_ifname : tmpl.ns_ifname();
    gfd = open_tap_socket(holder.path(), ifname, &tap_nl, &tap_index, err);
    if (gfd < 0) {
      out.msg = err;
      cleanup();
      return out;
    }
  } else {
    gfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock.c_str());
    bool connected = false;
    for (int i = 0; i < 400 && !connected; i++) {
      if (connect(gfd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) connected = true;
      else sleep_ms(5);
    }
    if (!connected) {
      out.msg = "cannot connect to passt's socket " + sock + "\n" + tail_file(log, 20);
      close(gfd);
      cleanup();
      return out;
    }
    fcntl(gfd, F_SETFL, fcntl(gfd, F_GETFL) | O_NONBLOCK);
  }
  RealBackend be(!pasta);
  be.start(gfd, tap_nl, tap_index);
  RunOptions ro;
  ro.tolerance_ns = s.tolerance_ns.value_or(o.tolerance_ns);
  ro.late_tolerance_ns = o.late_tolerance_ns;
  ro.settle_ns = o.settle_ns;
  ro.trace = o.trace;
  ro.log = stdout;
  ro.label = mode_label(mode);
  RunResult r = run_script(s, env_of(ec.net, s), be, ro);
  if (!r.ok) {
    out.msg = path + ":" + std::to_string(r.line) + " [" + mode_label(mode) + "]: " + r.msg + "\n" +
              tail_file(log, 30);
  }
  out.ok = r.ok;
  if (pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && out.ok) {
    out.ok = false;
    out.msg = path + " [" + std::string(mode_label(mode)) + "]: the binary exited during the script\n" + tail_file(log, 30);
  }
  cleanup();
  return out;
}

void usage() {
  std::fprintf(stderr,
               "usage: script_real --passt BIN [--pasta BIN] [--mode passt|pasta|both] [--tolerance S]\n"
               "                   [--late-tolerance S]\n"
               "                   [--settle S] [--trace] [--debug] [--pending]\n"
               "                   [--slow|--only-slow] FILE|DIR...\n");
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::vector<std::string> paths;
  // We read pasta's tap through a packet socket and compare frames with the
  // scripts': pasta's tap offloads (partial checksums, GSO frames of many
  // MSS) would show there as a guest with offloads sees them.
  (void)setenv("PASTA_NO_TAP_OFFLOAD", "1", 1);
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--passt" && i + 1 < argc) {
      o.passt_bin = argv[++i];
    } else if (a == "--pasta" && i + 1 < argc) {
      o.pasta_bin = argv[++i];
    } else if (a == "--mode" && i + 1 < argc) {
      std::string m = argv[++i];
      o.modes = (m == "passt" ? u8{kModePasst} : m == "pasta" ? u8{kModePasta} : u8{kModePasst | kModePasta});
    } else if (a == "--tolerance" && i + 1 < argc) {
      o.tolerance_ns = static_cast<i64>(std::strtod(argv[++i], nullptr) * 1e9);
    } else if (a == "--late-tolerance" && i + 1 < argc) {
      o.late_tolerance_ns = static_cast<i64>(std::strtod(argv[++i], nullptr) * 1e9);
    } else if (a == "--settle" && i + 1 < argc) {
      o.settle_ns = static_cast<i64>(std::strtod(argv[++i], nullptr) * 1e9);
    } else if (a == "--trace") {
      o.trace = true;
    } else if (a == "--debug") {
      o.debug = true;
    } else if (a == "--pending") {
      o.pending = true;
    } else if (a == "--slow") {
      o.slow = 1;
    } else if (a == "--only-slow") {
      o.slow = 2;
    } else if (!a.empty() && a[0] == '-') {
      usage();
      return 2;
    } else {
      paths.push_back(a);
    }
  }
  if (o.passt_bin.empty() || paths.empty()) {
    usage();
    return 2;
  }
  if (o.pasta_bin.empty()) {
    std::string d = o.passt_bin.substr(0, o.passt_bin.rfind('/') + 1);
    o.pasta_bin = d + "pasta";
  }
  signal(SIGPIPE, SIG_IGN);
  const char* tmp = std::getenv("TMPDIR");
  std::string base = std::string(tmp != nullptr ? tmp : "/tmp") + "/passt-scripts.XXXXXX";
  std::vector<char> bt(base.begin(), base.end());
  bt.push_back('\0');
  if (mkdtemp(bt.data()) == nullptr) {
    std::fprintf(stderr, "script_real: cannot create a temporary directory\n");
    return 1;
  }
  const std::string root = bt.data();
  int passed = 0;
  int failed = 0;
  int skipped = 0;
  int n = 0;
  const i64 start = mono_ns();
  for (const std::string& path : collect_scripts(paths)) {
    std::string text;
    std::string err;
    if (!read_text_file(path, text, err)) {
      std::printf("FAIL %s: %s\n", path.c_str(), err.c_str());
      failed++;
      continue;
    }
    ParseResult pr = parse_script(text);
    if (!pr.ok) {
      std::printf("FAIL %s\n", format_error(path, pr.error).c_str());
      failed++;
      continue;
    }
    const Script& s = pr.script;
    if (o.slow == 2 && !s.slow) continue;  // the other run's
    if (std::string m = missing_feature(s); !m.empty()) {
      std::printf("PEND %s (requires %s, not in this build)\n", path.c_str(), m.c_str());
      skipped++;
      continue;
    }
    if (s.pending && !o.pending) {
      std::printf("PEND %s (%s)\n", path.c_str(), s.pending_reason.c_str());
      skipped++;
      continue;
    }
    if (s.sim_only) {
      std::printf("SKIP %s (sim-only: %s)\n", path.c_str(), s.sim_only_reason.c_str());
      skipped++;
      continue;
    }
    if (s.slow && o.slow == 0) {
      std::printf("SKIP %s (slow: %s; --slow runs it)\n", path.c_str(), s.slow_reason.c_str());
      skipped++;
      continue;
    }
    for (core::Mode mode : {core::Mode::passt, core::Mode::pasta}) {
      const u8 bit = mode == core::Mode::passt ? kModePasst : kModePasta;
      if ((s.modes & bit) == 0 || (o.modes & bit) == 0) continue;
      const std::string dir = root + "/" + std::to_string(n++);
      mkdir(dir.c_str(), 0700);
      const i64 t = mono_ns();
      Outcome r = run_one(o, path, s, mode, dir);
      if (r.ok) {
        std::printf("ok   %s [%s] (%s s)\n", path.c_str(), mode_label(mode), fmt_secs(mono_ns() - t).c_str());
        passed++;
      } else {
        std::printf("FAIL %s\n", r.msg.c_str());
        failed++;
      }
      std::fflush(stdout);
    }
  }
  std::printf("%d passed, %d failed, %d skipped (%s s)\n", passed, failed, skipped,
              fmt_secs(mono_ns() - start).c_str());
  if (failed == 0) (void)(system(("rm -rf '" + root + "'").c_str()) == 0);  // best effort clean-up
  else std::printf("logs in %s\n", root.c_str());
  return failed == 0 ? 0 : 1;
}
