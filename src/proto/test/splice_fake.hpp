// A small in-memory kernel for the spliced TCP path's tests: TCP sockets
// with a receive queue (what the far application sent), a send capacity
// (what the far application has room to take) and FIN/RST state; pipes with
// a byte capacity; splice() between them with the kernel's return
// conventions (0 at end of stream, Err::again when nothing can move,
// Err::broken_pipe / Err::conn_reset on dead sockets).  Readiness is
// computed from that state and delivered by pump(), level-triggered, only
// for the interest each socket is registered with (err and hup always).
//
// Test code: it allocates freely.
#pragma once

#include <algorithm>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/epoll_ref.hpp"
#include "ports/hostnet.hpp"

namespace passt::proto::test {

class SpliceFakeNet : public ports::HostNet {
 public:
  enum class Kind { tcp, listener, pipe_rd, pipe_wr };
  enum class Conn { idle, pending, ok, refused };

  struct Obj {
    Kind kind = Kind::tcp;
    ports::Netns ns = ports::Netns::host;
    ports::Family fam = ports::Family::v4;
    bool open = true;
    // TCP
    Conn conn = Conn::idle;
    ports::SockAddr local, remote, bound;
    std::deque<u8> rx;           // bytes the far application sent us, unread
    bool peer_fin = false;       // ... followed by its FIN
    bool peer_rst = false;       // the far end reset: reads and writes fail
    bool peer_gone = false;      // the far end closed: writes fail (EPIPE)
    std::string delivered;       // bytes we sent that the far application got
    std::size_t space = 1 << 20; // how many more bytes the far end takes now
    bool shut_wr = false;
    bool linger_zero = false;
    bool nodelay = false;
    int more_calls = 0;          // splice() writes with SPLICE_F_MORE
    Err pending_err = Err::none; // SO_ERROR
    // listener
    std::deque<std::pair<int, ports::SockAddr>> backlog;
    // pipes: both ends share the buffer of the read end
    int other = -1;
    std::deque<u8> buf;
    std::size_t cap = 65536;
    // readiness
    bool watched = false;
    u32 mask = 0;
    u64 ref = 0;
  };

  std::map<int, Obj> objs;
  int next_fd = 100;
  int pipes_opened = 0;
  int sockets_opened = 0;
  std::size_t max_pipe_size = 1 << 20;  // F_SETPIPE_SZ above this: Err::access
  int pipe_budget = 1 << 30;            // pipe() calls left before Err::too_many_files
  int socket_budget = 1 << 30;
  bool fail_watch = false;
  Conn connect_result = Conn::pending;  // what connect() does
  std::vector<std::string> log;         // notable calls

  Obj& at(ports::Sock s) { return objs.at(s.v); }
  Obj& at(int fd) { return objs.at(fd); }
  bool is_open(ports::Sock s) const { return objs.count(s.v) != 0 && objs.at(s.v).open; }

  // --- far-end controls --------------------------------------------------------
  void app_send(ports::Sock s, const std::string& data) {
    Obj& o = at(s);
    for (char ch : data) o.rx.push_back(static_cast<u8>(ch));
  }
  void app_fin(ports::Sock s) { at(s).peer_fin = true; }
  void app_rst(ports::Sock s) { at(s).peer_rst = true; }
  // The far application reads up to n bytes of what we sent.
  std::string app_take(ports::Sock s, std::size_t n = ~std::size_t{0}) {
    Obj& o = at(s);
    std::string r = o.delivered.substr(0, std::min(n, o.delivered.size()));
    o.delivered.erase(0, r.size());
    o.space += r.size();
    return r;
  }
  // A connecting socket's handshake completes (or is refused).
  void finish_connect(ports::Sock s, bool ok) {
    Obj& o = at(s);
    o.conn = ok ? Conn::ok : Conn::refused;
    if (!ok) o.pending_err = Err::conn_refused;
  }
  // A client connects to a listener: returns the client's fd in the accept
  // queue (the accepted socket).
  int queue_accept(ports::Sock listener, const ports::SockAddr& peer) {
    int fd = next_fd++;
    Obj o;
    o.kind = Kind::tcp;
    o.ns = at(listener).ns;
    o.fam = at(listener).fam;
    o.conn = Conn::ok;
    o.local = at(listener).bound;
    o.remote = peer;
    objs[fd] = o;
    at(listener).backlog.emplace_back(fd, peer);
    return fd;
  }

  u32 readiness(const Obj& o) const {
    u32 r = 0;
    if (!o.open) return 0;
    if (o.kind == Kind::listener) return o.backlog.empty() ? 0 : ports::ev::in;
    if (o.kind != Kind::tcp) return 0;
    if (o.conn == Conn::pending || o.conn == Conn::idle) return 0;
    if (o.conn == Conn::refused) return ports::ev::err | ports::ev::hup | ports::ev::out;
    if (o.peer_rst) return ports::ev::err | ports::ev::hup | ports::ev::in | ports::ev::out;
    if (!o.rx.empty() || o.peer_fin) r |= ports::ev::in;
    if (o.peer_fin) r |= ports::ev::rdhup;
    if (o.peer_fin && o.shut_wr) r |= ports::ev::hup;
    if (o.space > 0 || o.shut_wr) r |= ports::ev::out;  // writable, or writes fail at once
    return r;
  }

  // Pending events as (ref, events), for watched objects.
  std::vector<std::pair<u64, u32>> ready() const {
    std::vector<std::pair<u64, u32>> v;
    for (const auto& [fd, o] : objs) {
      if (!o.watched || !o.open) continue;
      u32 r = readiness(o) & (o.mask | ports::ev::err | ports::ev::hup);
      if (r != 0) v.emplace_back(o.ref, r);
    }
    return v;
  }

  // --- ports::HostNet ---------------------------------------------------------
  Result<ports::Sock> socket(ports::Netns ns, ports::Family fam, ports::SockType) noexcept override {
    if (socket_budget-- <= 0) return Err::too_many_files;
    int fd = next_fd++;
    Obj o;
    o.ns = ns;
    o.fam = fam;
    objs[fd] = o;
    sockets_opened++;
    return ports::Sock{fd};
  }
  Status set_opt(ports::Sock s, ports::SockOpt opt, int value) noexcept override {
    Obj& o = at(s);
    switch (opt) {
      case ports::SockOpt::pipe_size: {
        if (static_cast<std::size_t>(value) > max_pipe_size) return Err::access;
        Obj& rd = o.kind == Kind::pipe_wr ? at(o.other) : o;
        if (rd.buf.size() > static_cast<std::size_t>(value)) return Err::invalid;
        rd.cap = static_cast<std::size_t>(value);
        return {};
      }
      case ports::SockOpt::linger_zero: o.linger_zero = true; return {};
      case ports::SockOpt::tcp_nodelay: o.nodelay = value != 0; return {};
      default: return {};
    }
  }
  Result<int> get_opt(ports::Sock s, ports::SockOpt opt) noexcept override {
    Obj& o = at(s);
    if (opt == ports::SockOpt::pipe_size) {
      Obj& rd = o.kind == Kind::pipe_wr ? at(o.other) : o;
      return static_cast<int>(rd.cap);
    }
    return 0;
  }
  Status bind_to_device(ports::Sock, std::string_view) noexcept override { return {}; }
  Status bind(ports::Sock s, const ports::SockAddr& a) noexcept override {
    at(s).bound = a;
    at(s).local = a;
    log.push_back("bind " + std::to_string(s.v));
    return {};
  }
  Status listen(ports::Sock s, int) noexcept override {
    at(s).kind = Kind::listener;
    return {};
  }
  Result<ports::Sock> accept(ports::Sock l, ports::SockAddr* peer) noexcept override {
    Obj& o = at(l);
    if (o.backlog.empty()) return Err::again;
    auto [fd, p] = o.backlog.front();
    o.backlog.pop_front();
    if (peer != nullptr) *peer = p;
    return ports::Sock{fd};
  }
  Status connect(ports::Sock s, const ports::SockAddr& to) noexcept override {
    Obj& o = at(s);
    o.remote = to;
    if (o.local.port == 0) o.local.port = static_cast<u16>(40000 + s.v);
    o.conn = connect_result;
    if (connect_result == Conn::refused) {
      o.conn = Conn::idle;
      return Err::conn_refused;
    }
    if (connect_result == Conn::ok) return {};
    return Err::in_progress;
  }
  Result<ports::SockAddr> local_addr(ports::Sock s) noexcept override { return at(s).local; }
  Err take_error(ports::Sock s) noexcept override {
    Obj& o = at(s);
    Err e = o.pending_err;
    o.pending_err = Err::none;
    if (e == Err::none && o.peer_rst) e = Err::conn_reset;
    return e;
  }
  void close(ports::Sock s) noexcept override {
    Obj& o = at(s);
    EXPECT_TRUE(o.open) << "double close of " << s.v;
    o.open = false;
    o.watched = false;
    log.push_back(std::string(o.linger_zero ? "rst-close " : "close ") + std::to_string(s.v));
  }
  Result<std::size_t> send(ports::Sock, std::span<const Bytes>, bool) noexcept override {
    return Err::not_supported;
  }
  Result<std::size_t> peek(ports::Sock, std::size_t, std::span<const MutBytes>) noexcept override {
    return Err::not_supported;
  }
  Result<std::size_t> discard(ports::Sock, std::size_t) noexcept override { return Err::not_supported; }
  Result<std::size_t> recv(ports::Sock, std::span<const MutBytes>) noexcept override {
    return Err::not_supported;
  }
  Result<ports::TcpInfo> tcp_info(ports::Sock) noexcept override { return ports::TcpInfo{}; }
  Result<std::size_t> send_queue(ports::Sock) noexcept override { return std::size_t{0}; }
  Status shutdown_write(ports::Sock s) noexcept override {
    Obj& o = at(s);
    EXPECT_FALSE(o.shut_wr) << "second shutdown of " << s.v;
    o.shut_wr = true;
    log.push_back("shutdown " + std::to_string(s.v));
    return {};
  }
  Result<std::size_t> recv_batch(ports::Sock, std::span<ports::RecvSlot>) noexcept override {
    return Err::not_supported;
  }
  Result<std::size_t> send_batch(ports::Sock, std::span<const ports::SendSlot>) noexcept override {
    return Err::not_supported;
  }

  Result<ports::PipeEnds> pipe() noexcept override {
    if (pipe_budget-- <= 0) return Err::too_many_files;
    int rd = next_fd++, wr = next_fd++;
    Obj r, w;
    r.kind = Kind::pipe_rd;
    r.other = wr;
    w.kind = Kind::pipe_wr;
    w.other = rd;
    objs[rd] = r;
    objs[wr] = w;
    pipes_opened++;
    return ports::PipeEnds{ports::Sock{rd}, ports::Sock{wr}};
  }
  Result<std::size_t> splice(ports::Sock from, ports::Sock to, std::size_t len, bool more) noexcept override {
    Obj& f = at(from);
    Obj& t = at(to);
    EXPECT_TRUE(f.open && t.open);
    EXPECT_GT(len, 0u);
    if (f.kind == Kind::tcp && t.kind == Kind::pipe_wr) {
      Obj& p = at(t.other);
      if (f.peer_rst) return Err::conn_reset;
      std::size_t n = std::min({len, f.rx.size(), p.cap - p.buf.size()});
      if (n == 0) {
        if (f.rx.empty() && f.peer_fin) return std::size_t{0};
        return Err::again;
      }
      for (std::size_t k = 0; k < n; k++) {
        p.buf.push_back(f.rx.front());
        f.rx.pop_front();
      }
      return n;
    }
    if (f.kind == Kind::pipe_rd && t.kind == Kind::tcp) {
      if (t.peer_rst) return Err::conn_reset;
      if (t.peer_gone || t.shut_wr) return Err::broken_pipe;
      std::size_t n = std::min({len, f.buf.size(), t.space});
      if (n == 0) return Err::again;
      for (std::size_t k = 0; k < n; k++) {
        t.delivered.push_back(static_cast<char>(f.buf.front()));
        f.buf.pop_front();
      }
      t.space -= n;
      if (more) t.more_calls++;
      return n;
    }
    ADD_FAILURE() << "splice between unexpected ends " << from.v << " -> " << to.v;
    return Err::invalid;
  }

  Status watch(ports::Sock s, u32 events, u64 ref) noexcept override {
    if (fail_watch) return Err::no_memory;
    Obj& o = at(s);
    EXPECT_TRUE(o.open);
    o.watched = true;
    o.mask = events;
    o.ref = ref;
    return {};
  }
  void unwatch(ports::Sock s) noexcept override {
    Obj& o = at(s);
    o.watched = false;
    o.mask = 0;
  }
};

}  // namespace passt::proto::test
