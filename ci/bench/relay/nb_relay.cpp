// nb_relay: the least a user-space translator can do, as a reference column
// for ci/bench/netbench.sh ("relay").  It is not part of passt.
//
// Between a network namespace (the one netbench's clients run in) and the
// namespace it was started in (netbench's "host"), it relays
//   * TCP: every connection to 127.0.0.1:P in one namespace becomes a
//     connection to 127.0.0.1:P in the other; bytes move with splice(2)
//     through a pipe per direction (pipes are pooled), as pasta's loopback
//     path does, with nothing else per byte;
//   * UDP: datagrams to 127.0.0.1:P in the namespace go out of a socket
//     connected to 127.0.0.1:P in the host; what comes back goes to the last
//     sender (recvmmsg/sendmmsg, as much as 64 KiB holds at the size of the
//     socket's last datagrams, at most 32: our pasta's read policy).
//   * tun-udp-out: a tun device (IFF_TUN, "nbtun0") in the namespace, left
//     for the caller to configure; every IPv4 UDP datagram read from it goes
//     to its destination address and port out of a socket in the caller's
//     namespace (one connected socket per destination), one read() per
//     packet into one buffer, one send() per datagram.  Nothing comes back.
//     This is the tap path's floor for UDP from the namespace: the same
//     kernel work as pasta's read of its tap, without pasta.
//   * tun-udp-in=P: with the tun above, datagrams to port P of any address
//     of the caller's namespace are written into the tun, one write() each,
//     as IPv4 UDP packets from 203.0.113.1 to 198.51.100.1 (the address the
//     caller gives nbtun0), port P, no UDP checksum: the floor of the tap
//     path into the namespace.
// No protocol state, no tap, no checksums: whatever a real translator adds
// to these paths comes on top of what this program measures.
//
//   nb_relay NETNS_PATH [tcp-out=P,..] [tcp-in=P,..] [udp-out=P,..] [tun-udp-out]
//            [tun-udp-in=P]
//
// tcp-out/udp-out listen inside NETNS_PATH and connect in the caller's
// namespace; tcp-in the other way round.  Runs until killed.  Needs
// CAP_SYS_ADMIN over NETNS_PATH (netbench runs it as root of the user
// namespace that owns it).  Exits 1 with a message if set-up fails.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int kMaxFd = 65536;
constexpr int kPipeSize = 1 << 20;
constexpr int kBatch = 32;
constexpr int kRounds = 16;  // splice rounds per event, as pasta's bound

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "nb_relay: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

int g_epoll = -1;
int g_home_ns = -1;
int g_far_ns = -1;

void enter(int ns) {
  if (setns(ns, CLONE_NEWNET) != 0) die("setns");
}

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

void watch(int fd, uint32_t events, int op = EPOLL_CTL_ADD) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (epoll_ctl(g_epoll, op, fd, &ev) != 0) die("epoll_ctl");
}

// --- TCP ------------------------------------------------------------------

enum class Kind : uint8_t { none, listener, tcp, udp_near, udp_far, tun, tun_in };

struct Pipe {
  int r = -1;
  int w = -1;
};
std::vector<Pipe> g_pipes;  // empty pipes ready for reuse

Pipe take_pipe() {
  if (!g_pipes.empty()) {
    const Pipe p = g_pipes.back();
    g_pipes.pop_back();
    return p;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) die("pipe2");
  (void)fcntl(fds[1], F_SETPIPE_SZ, kPipeSize);  // as much as the kernel allows
  return Pipe{fds[0], fds[1]};
}

// One direction of a connection: bytes from `fd` to its peer through `pipe`.
struct Slot {
  Kind kind = Kind::none;
  int peer = -1;
  Pipe pipe;             // from this fd to the peer
  size_t pending = 0;    // bytes in the pipe
  bool eof = false;      // this fd said EOF, passed on as SHUT_WR
  bool held = false;     // EPOLLIN off while the peer cannot take more
  bool want_out = false;  // EPOLLOUT on, for the other direction
  int lport = 0;         // listeners: the port; UDP: the port
  bool outward = false;  // listeners: connect in the home namespace
};
std::array<Slot, kMaxFd> g_slot;

void update(int fd) {
  const Slot& s = g_slot[static_cast<size_t>(fd)];
  uint32_t ev = 0;
  if (!s.held && !s.eof) ev |= EPOLLIN | EPOLLRDHUP;
  if (s.want_out) ev |= EPOLLOUT;
  watch(fd, ev, EPOLL_CTL_MOD);
}

void close_pair(int fd) {
  const int peer = g_slot[static_cast<size_t>(fd)].peer;
  for (const int f : {fd, peer}) {
    if (f < 0) continue;
    Slot& s = g_slot[static_cast<size_t>(f)];
    if (s.pending == 0) {
      g_pipes.push_back(s.pipe);
    } else {
      close(s.pipe.r);
      close(s.pipe.w);
    }
    close(f);  // also leaves the epoll set
    s = Slot{};
  }
}

// Moves what it can from `fd` to its peer; false when the pair was closed.
bool pump(int fd) {
  Slot& s = g_slot[static_cast<size_t>(fd)];
  Slot& p = g_slot[static_cast<size_t>(s.peer)];
  for (int round = 0; round < kRounds; round++) {
    while (s.pending > 0) {
      const ssize_t w = splice(s.pipe.r, nullptr, s.peer, nullptr, s.pending,
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (w > 0) {
        s.pending -= static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && errno == EAGAIN) {  // the peer is full: wait for it
        if (!s.held || !p.want_out) {
          s.held = true;
          p.want_out = true;
          update(fd);
          update(s.peer);
        }
        return true;
      }
      close_pair(fd);
      return false;
    }
    if (s.held) {
      s.held = false;
      p.want_out = false;
      update(fd);
      update(s.peer);
    }
    if (s.eof) return true;
    const ssize_t r = splice(fd, nullptr, s.pipe.w, nullptr, kPipeSize,
                             SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (r > 0) {
      s.pending = static_cast<size_t>(r);
      continue;
    }
    if (r < 0 && errno == EAGAIN) return true;
    if (r < 0) {
      close_pair(fd);
      return false;
    }
    s.eof = true;  // EOF: half-close towards the peer, stop watching input
    (void)shutdown(s.peer, SHUT_WR);
    update(fd);
    return true;
  }
  return true;
}

void set_nodelay(int fd) {
  const int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void accept_all(int lfd) {
  const Slot& l = g_slot[static_cast<size_t>(lfd)];
  const int port = l.lport;
  const bool outward = l.outward;
  for (;;) {
    const int c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return;
    if (c >= kMaxFd) {
      close(c);
      continue;
    }
    if (!outward) enter(g_far_ns);
    const int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (!outward) enter(g_home_ns);
    if (t < 0 || t >= kMaxFd) {
      if (t >= 0) close(t);
      close(c);
      continue;
    }
    const sockaddr_in dst = loopback(port);
    // Blocking connect: on loopback the handshake completes inside it.
    if (connect(t, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) != 0) {
      close(t);
      close(c);
      continue;
    }
    (void)fcntl(t, F_SETFL, O_NONBLOCK);
    set_nodelay(c);
    set_nodelay(t);
    for (const int f : {c, t}) {
      Slot& s = g_slot[static_cast<size_t>(f)];
      s = Slot{};
      s.kind = Kind::tcp;
      s.peer = f == c ? t : c;
      s.pipe = take_pipe();
      watch(f, EPOLLIN | EPOLLRDHUP);
    }
  }
}

void listen_tcp(int port, bool outward) {
  // Outward ports listen in the far namespace and connect at home.
  if (outward) enter(g_far_ns);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (outward) enter(g_home_ns);
  if (fd < 0 || fd >= kMaxFd) die("socket");
  const int one = 1;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const sockaddr_in a = loopback(port);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) die("bind (TCP)");
  if (listen(fd, 1024) != 0) die("listen");
  Slot& s = g_slot[static_cast<size_t>(fd)];
  s.kind = Kind::listener;
  s.lport = port;
  s.outward = outward;
  watch(fd, EPOLLIN);
}

// --- UDP ------------------------------------------------------------------

struct UdpPort {
  int near = -1;  // bound in the far namespace (clients send here)
  int far = -1;   // connected to the server in the home namespace
  sockaddr_in client{};
  bool have_client = false;
  std::array<size_t, 2> last_len{};  // largest datagram of the last read: near, far
};
std::vector<UdpPort> g_udp;

void big_buffers(int fd) {
  const int big = 1 << 20;  // doubled, and capped at [rw]mem_max (as our pasta)
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
}

void open_udp(int port) {
  UdpPort u;
  enter(g_far_ns);
  u.near = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  enter(g_home_ns);
  u.far = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (u.near < 0 || u.far < 0 || u.near >= kMaxFd || u.far >= kMaxFd) die("socket (UDP)");
  big_buffers(u.near);
  big_buffers(u.far);
  const sockaddr_in a = loopback(port);
  if (bind(u.near, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) die("bind (UDP)");
  if (connect(u.far, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) die("connect (UDP)");
  g_slot[static_cast<size_t>(u.near)].kind = Kind::udp_near;
  g_slot[static_cast<size_t>(u.far)].kind = Kind::udp_far;
  g_slot[static_cast<size_t>(u.near)].lport = static_cast<int>(g_udp.size());
  g_slot[static_cast<size_t>(u.far)].lport = static_cast<int>(g_udp.size());
  watch(u.near, EPOLLIN);
  watch(u.far, EPOLLIN);
  g_udp.push_back(u);
}

std::array<std::array<char, 65536>, kBatch> g_buf;

void relay_udp(int fd) {
  UdpPort& u = g_udp[static_cast<size_t>(g_slot[static_cast<size_t>(fd)].lport)];
  const bool from_client = fd == u.near;
  size_t& last = u.last_len[from_client ? 0 : 1];
  std::array<mmsghdr, kBatch> m{};
  std::array<iovec, kBatch> iov{};
  std::array<sockaddr_in, kBatch> src{};
  for (int round = 0; round < kRounds; round++) {
    for (size_t k = 0; k < kBatch; k++) {
      iov[k] = iovec{g_buf[k].data(), g_buf[k].size()};
      m[k] = mmsghdr{};
      m[k].msg_hdr.msg_iov = &iov[k];
      m[k].msg_hdr.msg_iovlen = 1;
      m[k].msg_hdr.msg_name = &src[k];
      m[k].msg_hdr.msg_namelen = sizeof src[k];
    }
    size_t want = kBatch;
    if (last > 0) want = std::min<size_t>(kBatch, std::max<size_t>(1, 65536 / last));
    const int n = recvmmsg(fd, m.data(), static_cast<unsigned>(want), MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    const auto count = static_cast<size_t>(n);
    last = 1;
    for (size_t k = 0; k < count; k++) last = std::max<size_t>(last, m[k].msg_len);
    if (from_client) {
      u.client = src[count - 1];
      u.have_client = true;
    } else if (!u.have_client) {
      continue;  // nobody to answer to yet
    }
    for (size_t k = 0; k < count; k++) {
      iov[k].iov_len = m[k].msg_len;
      m[k].msg_hdr.msg_name = from_client ? nullptr : &u.client;
      m[k].msg_hdr.msg_namelen = from_client ? 0 : sizeof u.client;
    }
    (void)sendmmsg(from_client ? u.far : u.near, m.data(), static_cast<unsigned>(n), MSG_DONTWAIT);
  }
}

// --- tun ------------------------------------------------------------------

struct TunDest {
  uint32_t addr = 0;  // network order
  uint16_t port = 0;  // network order
  int fd = -1;
};
std::vector<TunDest> g_tun_dests;
alignas(64) std::array<unsigned char, 65536> g_tun_buf;

int open_tun() {
  enter(g_far_ns);
  const int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 || fd >= kMaxFd) die("open /dev/net/tun");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, "nbtun0", IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) die("TUNSETIFF");
  enter(g_home_ns);
  g_slot[static_cast<size_t>(fd)].kind = Kind::tun;
  watch(fd, EPOLLIN);
  return fd;
}

int tun_socket(uint32_t addr, uint16_t port) {
  for (const TunDest& d : g_tun_dests)
    if (d.addr == addr && d.port == port) return d.fd;
  if (g_tun_dests.size() >= 16) return -1;
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);  // home namespace
  if (fd < 0) die("socket (tun)");
  big_buffers(fd);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = addr;
  a.sin_port = port;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) die("connect (tun)");
  g_tun_dests.push_back(TunDest{addr, port, fd});
  return fd;
}

bool g_tun_out = false;  // tun-udp-out: forward what the tun gives; else drain it

void relay_tun(int fd) {
  for (int i = 0; i < 64; i++) {
    const ssize_t n = read(fd, g_tun_buf.data(), g_tun_buf.size());
    if (n <= 0) return;
    if (!g_tun_out) continue;
    const auto len = static_cast<size_t>(n);
    const unsigned char* p = g_tun_buf.data();
    if (len < 28 || (p[0] >> 4) != 4 || p[9] != IPPROTO_UDP) continue;
    const size_t ihl = static_cast<size_t>(p[0] & 15) * 4;
    if (ihl < 20 || len < ihl + 8) continue;
    uint32_t daddr = 0;
    uint16_t dport = 0;
    std::memcpy(&daddr, p + 16, sizeof daddr);
    std::memcpy(&dport, p + ihl + 2, sizeof dport);
    const int s = tun_socket(daddr, dport);
    if (s >= 0) (void)send(s, p + ihl + 8, len - ihl - 8, MSG_DONTWAIT);
  }
}

int g_tun_fd = -1;
int g_tun_in_port = 0;

uint16_t ip_checksum(const unsigned char* p, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void open_tun_in(int port) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);  // home namespace
  if (fd < 0 || fd >= kMaxFd) die("socket (tun-udp-in)");
  big_buffers(fd);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) die("bind (tun-udp-in)");
  g_tun_in_port = port;
  g_slot[static_cast<size_t>(fd)].kind = Kind::tun_in;
  watch(fd, EPOLLIN);
}

// Headers in front of the payload, received in place behind them.
void relay_tun_in(int fd) {
  unsigned char* p = g_tun_buf.data();
  for (int i = 0; i < 64; i++) {
    const ssize_t n = recv(fd, p + 28, g_tun_buf.size() - 28, MSG_DONTWAIT);
    if (n < 0) return;
    const auto len = static_cast<size_t>(n) + 28;
    std::memset(p, 0, 28);
    p[0] = 0x45;
    p[2] = static_cast<unsigned char>(len >> 8);
    p[3] = static_cast<unsigned char>(len);
    p[6] = 0x40;  // DF
    p[8] = 64;
    p[9] = IPPROTO_UDP;
    const unsigned char src[4] = {203, 0, 113, 1};
    const unsigned char dst[4] = {198, 51, 100, 1};
    std::memcpy(p + 12, src, 4);
    std::memcpy(p + 16, dst, 4);
    const uint16_t c = ip_checksum(p, 20);
    p[10] = static_cast<unsigned char>(c >> 8);
    p[11] = static_cast<unsigned char>(c);
    p[20] = static_cast<unsigned char>(g_tun_in_port >> 8);  // source port: the same
    p[21] = static_cast<unsigned char>(g_tun_in_port);
    p[22] = p[20];
    p[23] = p[21];
    p[24] = static_cast<unsigned char>((len - 20) >> 8);
    p[25] = static_cast<unsigned char>(len - 20);
    if (write(g_tun_fd, p, len) < 0) return;  // the tun's queue is full: dropped
  }
}

void parse_ports(const std::string& list, std::vector<int>& out) {
  size_t pos = 0;
  while (pos < list.size()) {
    size_t end = list.find(',', pos);
    if (end == std::string::npos) end = list.size();
    const int p = std::atoi(list.substr(pos, end - pos).c_str());
    if (p <= 0 || p > 65535) {
      std::fprintf(stderr, "nb_relay: bad port in '%s'\n", list.c_str());
      std::exit(1);
    }
    out.push_back(p);
    pos = end + 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: nb_relay NETNS_PATH [tcp-out=P,..] [tcp-in=P,..] [udp-out=P,..] [tun-udp-out] "
                 "[tun-udp-in=P]\n");
    return 1;
  }
  std::vector<int> tcp_out;
  std::vector<int> tcp_in;
  std::vector<int> udp_out;
  bool tun = false;
  int tun_in = 0;
  for (int i = 2; i < argc; i++) {
    const std::string a = argv[i];
    if (a.rfind("tcp-out=", 0) == 0) {
      parse_ports(a.substr(8), tcp_out);
    } else if (a.rfind("tcp-in=", 0) == 0) {
      parse_ports(a.substr(7), tcp_in);
    } else if (a.rfind("udp-out=", 0) == 0) {
      parse_ports(a.substr(8), udp_out);
    } else if (a == "tun-udp-out") {
      tun = true;
    } else if (a.rfind("tun-udp-in=", 0) == 0) {
      std::vector<int> one;
      parse_ports(a.substr(11), one);
      if (one.size() != 1) {
        std::fprintf(stderr, "nb_relay: tun-udp-in takes one port\n");
        return 1;
      }
      tun_in = one[0];
    } else {
      std::fprintf(stderr, "nb_relay: unknown argument '%s'\n", a.c_str());
      return 1;
    }
  }
  g_home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  g_far_ns = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (g_home_ns < 0 || g_far_ns < 0) die("open namespace");
  g_epoll = epoll_create1(EPOLL_CLOEXEC);
  if (g_epoll < 0) die("epoll_create1");
  for (const int p : tcp_out) listen_tcp(p, true);
  for (const int p : tcp_in) listen_tcp(p, false);
  for (const int p : udp_out) open_udp(p);
  g_tun_out = tun;
  if (tun || tun_in != 0) g_tun_fd = open_tun();
  if (tun_in != 0) open_tun_in(tun_in);
  std::fprintf(stderr, "nb_relay: ready\n");
  std::array<epoll_event, 64> evs{};
  for (;;) {
    const int n = epoll_wait(g_epoll, evs.data(), static_cast<int>(evs.size()), -1);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      const int fd = evs[static_cast<size_t>(i)].data.fd;
      const uint32_t ev = evs[static_cast<size_t>(i)].events;
      const Slot& s = g_slot[static_cast<size_t>(fd)];
      switch (s.kind) {
        case Kind::listener:
          accept_all(fd);
          break;
        case Kind::udp_near:
        case Kind::udp_far:
          relay_udp(fd);
          break;
        case Kind::tun:
          relay_tun(fd);
          break;
        case Kind::tun_in:
          relay_tun_in(fd);
          break;
        case Kind::tcp: {
          const int peer = s.peer;
          if ((ev & EPOLLERR) != 0) {
            close_pair(fd);
            break;
          }
          // EPOLLOUT: this fd can take what its peer holds for it.
          if ((ev & EPOLLOUT) != 0 && !pump(peer)) break;
          if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) != 0 && !pump(fd)) break;
          const Slot& a = g_slot[static_cast<size_t>(fd)];
          const Slot& b = g_slot[static_cast<size_t>(peer)];
          // Both ways at EOF and delivered (or hung up with nothing left).
          if ((a.eof && a.pending == 0 && b.eof && b.pending == 0) ||
              ((ev & EPOLLHUP) != 0 && a.eof && a.pending == 0))
            close_pair(fd);
          break;
        }
        case Kind::none:
          break;
      }
    }
  }
}
