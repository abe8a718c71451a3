#include "sim/script/interp.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "wire/frame.hpp"

namespace passt::sim::script {

namespace {

std::string secs(i64 ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%s%lld.%06lld", ns < 0 ? "-" : "", static_cast<long long>((ns < 0 ? -ns : ns) / 1000000000),
                static_cast<long long>(((ns < 0 ? -ns : ns) % 1000000000) / 1000));
  return buf;
}

class Interp {
 public:
  Interp(const Script& s, const Env& env, Backend& b, const RunOptions& o)
      : s_(s), b_(b), o_(o), fenv_{s.guest_mac, env.our_mac} {
    vars_.resize(s.vars.size());
    for (std::size_t i = 0; i < s.vars.size(); i++) {
      const VarDef& v = s.vars[i];
      if (v.preset) {
        vars_[i] = v.value;
        continue;
      }
      if (!v.predefined) continue;
      const std::string& n = v.name;
      if (n == "our_mac") vars_[i] = Value::of_mac(env.our_mac);
      else if (n == "guest_mac") vars_[i] = Value::of_mac(s.guest_mac);
      else if (n == "guest_ll") vars_[i] = Value::of_ip6(eui64_link_local(s.guest_mac));
      else if (n == "our_ll") vars_[i] = Value::of_ip6(env.our_ll);
      else if (n == "addr4") vars_[i] = Value::of_ip4(env.addr4);
      else if (n == "gw4") vars_[i] = Value::of_ip4(env.gw4);
      else if (n == "our4") vars_[i] = Value::of_ip4(env.our4);
      else if (n == "addr6") vars_[i] = Value::of_ip6(env.addr6);
      else if (n == "gw6") vars_[i] = Value::of_ip6(env.gw6);
      else if (n == "mtu") vars_[i] = Value::of_num(env.mtu);
    }
  }

  RunResult run() {
    i64 last = 0;
    for (const Step& st : s_.steps) {
      line_ = st.line;
      last = st.t_ns;
      bool ok = false;
      switch (st.kind) {
        case StepKind::expect: ok = expect(st); break;
        case StepKind::inject: ok = reach(st.t_ns) && inject(st); break;
        case StepKind::wait: ok = reach(st.t_ns); break;
        case StepKind::host: ok = reach(st.t_ns) && host(st); break;
      }
      if (!ok) break;
      // How late this step completed (a `>`: when its frame arrived) is
      // allowed on top of the late tolerance for the next step: timers run
      // from when things actually happened, so delays add up.  Only with a
      // tolerance (the simulator is exact and never late).
      const i64 done = st.kind == StepKind::expect ? last_arrival_ : b_.now_ns();
      drift_ = late() > 0 && done > st.t_ns ? done - st.t_ns : 0;
    }
    if (!failed_) {
      line_ = s_.steps.empty() ? 0 : s_.steps.back().line;
      end_ = true;
      (void)reach(last + o_.settle_ns);
      drop_optional();
      if (!failed_ && !frames_.empty()) unexpected(frames_.front());
    }
    for (const auto& h : handles_) b_.host_close(h, false);
    RunResult r;
    r.ok = !failed_;
    r.line = fail_line_;
    r.msg = msg_;
    return r;
  }

 private:
  bool fail(const std::string& m) {
    if (!failed_) {
      failed_ = true;
      fail_line_ = line_;
      msg_ = m;
    }
    return false;
  }
  void trace(const char* what, const std::string& text, i64 at) {
    if (!o_.trace || o_.log == nullptr) return;
    std::fprintf(o_.log, "[%s %s] %s %s\n", o_.label, secs(at).c_str(), what, text.c_str());
  }
  // New frames: mark pure window updates optional (unless the script
  // keeps them); trace them all.
  void collect_trace() {
    while (traced_ < frames_.size()) {
      const CapturedFrame& f = frames_[traced_];
      if (window_update(Bytes(f.bytes))) {
        frames_[traced_].optional = true;
        trace("~~", "(window update: optional) " + describe_frame(Bytes(f.bytes)), f.at_ns);
      } else {
        trace(">>", describe_frame(Bytes(f.bytes)), f.at_ns);
      }
      traced_++;
    }
  }
  // A TCP segment with only ACK set, no payload and no options, that
  // acknowledges what the previous segment of its connection acknowledged,
  // with the sequence number that followed it, but another window: a
  // window update.
  // The host kernel decides when windows move, so these are not part of
  // what a script can state (docs/scripts.md, "Window updates").
  bool window_update(Bytes frame) {
    auto pf = wire::parse_frame(frame);
    if (!pf || pf->l4 != wire::L4::tcp) return false;
    const wire::TcpView& t = *pf->tcp;
    u8 key[40];
    pf->src.a.store(key);
    pf->dst.a.store(key + 16);
    store_be16(key + 32, pf->src_port);
    store_be16(key + 34, pf->dst_port);
    std::string k(reinterpret_cast<const char*>(key), 36);
    const u32 seq = t.seq().v;
    const u32 ack = t.ack().v;
    const u32 end = seq + static_cast<u32>(t.payload().size()) + (t.has(wire::tcp_flag::syn) ? 1u : 0u) +
                    (t.has(wire::tcp_flag::fin) ? 1u : 0u);
    const u16 win = t.window();
    LastSeg* last = nullptr;
    for (LastSeg& l : last_)
      if (l.key == k) last = &l;
    const bool update = !s_.keep_window_updates && last != nullptr && t.flags() == wire::tcp_flag::ack &&
                        t.payload().empty() && t.header_len() == wire::kTcpHeaderLen && last->end == seq &&
                        last->ack == ack && last->win != win;
    if (last == nullptr) {
      if (last_.size() >= 256) last_.erase(last_.begin());
      last_.push_back({k, end, ack, win});
    } else {
      *last = {k, end, ack, win};
    }
    return update;
  }
  bool advance(i64 until) {
    if (failed_) return false;
    bool more = b_.advance(until, frames_);
    collect_trace();
    if (const char* f = b_.failure()) {
      fail(f);
      return false;
    }
    return more;
  }
  void pop() {
    frames_.pop_front();
    if (traced_ > 0) traced_--;
  }

  bool unexpected(const CapturedFrame& f) {
    return fail("unexpected frame at " + secs(f.at_ns) + " s" +
                (end_ ? " (after the last step)" : " (before this step)") + ": " +
                describe_frame(Bytes(f.bytes)));
  }
  i64 late() const { return o_.late_tolerance_ns > o_.tolerance_ns ? o_.late_tolerance_ns : o_.tolerance_ns; }
  // Window updates nobody expects are not part of the script.
  void drop_optional() {
    while (!frames_.empty() && frames_.front().optional) pop();
  }
  bool check_unexpected(i64 t) {
    drop_optional();
    if (!frames_.empty() && frames_.front().at_ns < t - o_.tolerance_ns) return unexpected(frames_.front());
    return true;
  }
  // Brings the backend to time t.
  bool reach(i64 t) {
    for (u64 n = 0; advance(t); n++) {
      if (!check_unexpected(t)) return false;
      if (n > 100000000) return fail("backend does not reach the time of this step");
    }
    return !failed_ && check_unexpected(t);
  }

  bool expect(const Step& st) {
    const i64 deadline = st.t_ns + drift_ + late();
    for (;;) {
      while (frames_.empty() && advance(deadline)) {
      }
      if (failed_ || frames_.empty() || !frames_.front().optional) break;
      if (take_optional(st, deadline)) return true;
    }
    if (failed_) return false;
    if (frames_.empty()) {
      // Say when it would have come, if it does within 5 s.
      std::string later;
      const i64 look = deadline + 5LL * 1000000000;
      while (frames_.empty() && advance(look)) {
      }
      if (failed_) return false;
      if (!frames_.empty())
        later = "; the next frame came at " + secs(frames_.front().at_ns) + " s: " +
                describe_frame(Bytes(frames_.front().bytes));
      return fail("expected frame not seen by " + secs(deadline) + " s" + later);
    }
    CapturedFrame f = frames_.front();
    pop();
    last_arrival_ = f.at_ns;
    if (f.at_ns < st.t_ns - o_.tolerance_ns)
      return fail("frame arrived early, at " + secs(f.at_ns) + " s (expected " + secs(st.t_ns) +
                  " s, tolerance " + secs(o_.tolerance_ns) + " s): " + describe_frame(Bytes(f.bytes)));
    std::string why;
    if (!match_frame(st.frame, Bytes(f.bytes), fenv_, vars_, why))
      return fail(why + "\n    got (at " + secs(f.at_ns) + " s): " + describe_frame(Bytes(f.bytes)));
    return true;
  }

  // The frame at the front is a window update (optional).  It is this
  // step's frame if it matches and is not early, unless a frame that is not
  // a window update follows within the tolerance and matches too (a pure
  // ACK looks like a window update when the ACK before it had another
  // window, e.g. the SYN+ACK's unscaled one; and a real window update may
  // come just before the ACK a script states).  True if the step took a
  // frame; otherwise the window update is dropped.
  bool take_optional(const Step& st, i64 deadline) {
    const CapturedFrame w = frames_.front();
    Bindings v = vars_;
    std::string why;
    if (w.at_ns < st.t_ns - o_.tolerance_ns || !match_frame(st.frame, Bytes(w.bytes), fenv_, v, why)) {
      pop();
      return false;
    }
    const i64 look = std::min(deadline, w.at_ns + o_.tolerance_ns);
    while (advance(look)) {
    }
    for (std::size_t j = 1; j < frames_.size(); j++) {
      if (frames_[j].optional) continue;
      Bindings u = vars_;
      if (frames_[j].at_ns <= look && match_frame(st.frame, Bytes(frames_[j].bytes), fenv_, u, why)) {
        last_arrival_ = frames_[j].at_ns;
        vars_ = std::move(u);
        for (std::size_t k = 0; k <= j; k++) pop();
        return true;
      }
      break;
    }
    trace("==", "(the window update is this step's frame)", w.at_ns);
    vars_ = std::move(v);
    last_arrival_ = w.at_ns;
    pop();
    return true;
  }

  bool inject(const Step& st) {
    std::vector<u8> bytes;
    std::string err;
    if (!build_frame(st.frame, fenv_, vars_, bytes, err)) return fail("cannot build the frame: " + err);
    trace("<<", describe_frame(Bytes(bytes)), st.t_ns);
    if (!b_.inject(Bytes(bytes), err)) return fail("cannot inject the frame: " + err);
    const i64 sent = b_.now_ns();
    const i64 until = sent + 5LL * 1000000000;
    u64 polls = 0;
    while (b_.input_pending() && advance(until)) polls++;
    if (polls > 0)
      trace("..", "(read by the binary after " + secs(b_.now_ns() - sent) + " s)", b_.now_ns());
    return !failed_;
  }

  int* obj(const std::string& name) {
    for (auto& [n, h] : objs_)
      if (n == name) return &h;
    return nullptr;
  }
  void set_obj(const std::string& name, int h) {
    if (int* p = obj(name)) {
      *p = h;
    } else {
      objs_.emplace_back(name, h);
    }
    handles_.push_back(h);
  }
  void forget(int h) {
    for (std::size_t i = 0; i < handles_.size(); i++)
      if (handles_[i] == h) {
        handles_.erase(handles_.begin() + static_cast<long>(i));
        break;
      }
    for (auto& [n, x] : objs_)
      if (x == h) x = -1;
    for (std::size_t i = 0; i < last_from_.size(); i++)
      if (last_from_[i].first == h) {
        last_from_.erase(last_from_.begin() + static_cast<long>(i));
        break;
      }
  }

  bool host(const Step& st) {
    const HostAction& h = st.host;
    const i64 deadline = st.t_ns + drift_ + late();
    trace("host", host_op_name(h.op), st.t_ns);
    auto handle = [&](int* out) {
      int* p = obj(h.on);
      if (p == nullptr || *p < 0) return fail("host object '" + h.on + "' is closed or was never created");
      *out = *p;
      return true;
    };
    const HostAddr a = host_addr(h.at);
    int x = -1;
    switch (h.op) {
      case HostOp::listen: {
        auto r = b_.host_listen(a, h.backlog);
        if (!r) return fail(std::string("host listen: ") + err_name(r.err()));
        set_obj(h.as, *r);
        return true;
      }
      case HostOp::connect: {
        auto r = b_.host_connect(a, h.from_port);
        if (!r) return fail(std::string("host connect: ") + err_name(r.err()));
        set_obj(h.as, *r);
        return true;
      }
      case HostOp::accept: {
        if (!handle(&x)) return false;
        for (;;) {
          auto r = b_.host_accept(x);
          if (r) {
            set_obj(h.as, *r);
            return true;
          }
          if (r.err() != Err::again) return fail(std::string("host accept: ") + err_name(r.err()));
          if (!advance(deadline)) return fail("host accept: no connection by " + secs(deadline) + " s");
        }
      }
      case HostOp::send: {
        if (!handle(&x)) return false;
        const std::vector<u8> data = payload_of(h);
        std::size_t done = 0;
        while (done < data.size()) {
          auto r = b_.host_send(x, Bytes(data).subspan(done));
          if (r) {
            done += *r;
            continue;
          }
          if (r.err() != Err::again) return fail(std::string("host send: ") + err_name(r.err()));
          if (!advance(deadline))
            return fail("host send: only " + std::to_string(done) + " of " + std::to_string(data.size()) +
                        " bytes taken by " + secs(deadline) + " s");
        }
        return true;
      }
      case HostOp::recv: {
        if (!handle(&x)) return false;
        std::vector<u8> got(h.count);
        std::size_t have = 0;
        while (have < got.size()) {
          auto r = b_.host_recv(x, MutBytes(got).subspan(have));
          if (r && *r == 0)
            return fail("host recv: end of stream after " + std::to_string(have) + " of " +
                        std::to_string(got.size()) + " bytes");
          if (r) {
            have += *r;
            continue;
          }
          if (r.err() != Err::again) return fail(std::string("host recv: ") + err_name(r.err()));
          if (!advance(deadline))
            return fail("host recv: " + std::to_string(have) + " of " + std::to_string(got.size()) +
                        " bytes by " + secs(deadline) + " s");
        }
        if (h.use_data && got != h.data)
          return fail("host recv: expected " + value_text(Value::of_text({reinterpret_cast<const char*>(h.data.data()), h.data.size()})) +
                      ", got " + value_text(Value::of_text({reinterpret_cast<const char*>(got.data()), got.size()})));
        return true;
      }
      case HostOp::shutdown: {
        if (!handle(&x)) return false;
        if (auto r = b_.host_shutdown(x); !r) return fail(std::string("host shutdown: ") + err_name(r.err()));
        return true;
      }
      case HostOp::close:
      case HostOp::reset:
        if (!handle(&x)) return false;
        b_.host_close(x, h.op == HostOp::reset);
        forget(x);
        return true;
      case HostOp::expect_eof:
      case HostOp::expect_reset: {
        if (!handle(&x)) return false;
        const bool want_eof = h.op == HostOp::expect_eof;
        for (;;) {
          u8 c = 0;
          auto r = b_.host_recv(x, MutBytes(&c, 1));
          if (r && *r == 0) {
            if (want_eof) return true;
            return fail("host expect-reset: end of stream (FIN) instead of a reset");
          }
          if (r) return fail(std::string("host ") + host_op_name(h.op) + ": unread data is pending");
          if (r.err() == Err::conn_reset || r.err() == Err::broken_pipe) {
            if (!want_eof) return true;
            return fail("host expect-eof: connection reset instead of end of stream");
          }
          if (r.err() != Err::again) return fail(std::string("host ") + host_op_name(h.op) + ": " + err_name(r.err()));
          if (!advance(deadline))
            return fail(std::string("host ") + host_op_name(h.op) + ": nothing by " + secs(deadline) + " s");
        }
      }
      case HostOp::expect_refused:
      case HostOp::expect_connected: {
        if (!handle(&x)) return false;
        for (;;) {
          Err e = b_.host_connect_result(x);
          if (e == Err::again) {
            if (!advance(deadline))
              return fail(std::string("host ") + host_op_name(h.op) + ": still connecting at " + secs(deadline) + " s");
            continue;
          }
          if (h.op == HostOp::expect_connected) {
            if (e == Err::none) return true;
            return fail(std::string("host expect-connected: ") + err_name(e));
          }
          if (e == Err::conn_refused) return true;
          return fail(std::string("host expect-refused: ") + (e == Err::none ? "connected" : err_name(e)));
        }
      }
      case HostOp::udp_bind: {
        auto r = b_.host_udp_bind(a);
        if (!r) return fail(std::string("host udp-bind: ") + err_name(r.err()));
        set_obj(h.as, *r);
        return true;
      }
      case HostOp::udp_send:
      case HostOp::udp_reply: {
        if (!handle(&x)) return false;
        HostAddr to = a;
        if (h.op == HostOp::udp_reply) {
          const HostAddr* last = last_from(x);
          if (last == nullptr) return fail("host udp-reply: no datagram was received on '" + h.on + "'");
          to = *last;
        }
        const std::vector<u8> data = payload_of(h);
        for (;;) {
          auto r = b_.host_udp_send(x, to, Bytes(data));
          if (r && *r == data.size()) return true;
          if (r) return fail("host " + std::string(host_op_name(h.op)) + ": sent " + std::to_string(*r) + " of " +
                             std::to_string(data.size()) + " bytes");
          if (r.err() != Err::again) return fail(std::string("host ") + host_op_name(h.op) + ": " + err_name(r.err()));
          if (!advance(deadline)) return fail(std::string("host ") + host_op_name(h.op) + ": not sent by " + secs(deadline) + " s");
        }
      }
      case HostOp::udp_recv: {
        if (!handle(&x)) return false;
        std::vector<u8> buf(kMaxUdpPayload + 1);
        HostAddr from;
        std::size_t n = 0;
        for (;;) {
          auto r = b_.host_udp_recv(x, MutBytes(buf), from);
          if (r) {
            n = *r;
            break;
          }
          if (r.err() != Err::again) return fail(std::string("host udp-recv: ") + err_name(r.err()));
          if (!advance(deadline)) return fail("host udp-recv: no datagram by " + secs(deadline) + " s");
        }
        set_last_from(x, from);
        const std::string got = "a datagram of " + std::to_string(n) + " bytes from " + addr_text(from, true);
        if (h.from_given) {
          const HostAddr want = host_addr(h.from);
          if (want.v6 != from.v6 || want.addr != from.addr || (!h.from_any_port && want.port != from.port))
            return fail("host udp-recv: expected a datagram from " + addr_text(want, !h.from_any_port) + ", got " +
                        got);
        }
        if (n != h.count) return fail("host udp-recv: expected " + std::to_string(h.count) + " bytes, got " + got);
        if (h.use_data && !std::equal(h.data.begin(), h.data.end(), buf.begin()))
          return fail("host udp-recv: expected " + value_text(Value::of_bytes(h.data)) + ", got " +
                      value_text(Value::of_bytes(std::vector<u8>(buf.begin(), buf.begin() + static_cast<long>(n)))));
        return true;
      }
      case HostOp::udp_expect_none: {
        if (!handle(&x)) return false;
        std::vector<u8> buf(kMaxUdpPayload + 1);
        HostAddr from;
        auto r = b_.host_udp_recv(x, MutBytes(buf), from);
        if (r)
          return fail("host udp-expect-none: a datagram of " + std::to_string(*r) + " bytes from " +
                      addr_text(from, true) + " is waiting");
        if (r.err() != Err::again) return fail(std::string("host udp-expect-none: ") + err_name(r.err()));
        return true;
      }
    }
    return fail("internal: unknown host action");
  }

  // The bytes of a send/recv/udp-* action: its data, or `count` bytes of
  // 'a'..'z' repeated.
  static std::vector<u8> payload_of(const HostAction& h) {
    if (h.use_data) return h.data;
    std::vector<u8> data(h.count);
    for (std::size_t i = 0; i < data.size(); i++) data[i] = static_cast<u8>('a' + i % 26);
    return data;
  }
  static HostAddr host_addr(const HostEndpoint& e) {
    HostAddr a;
    a.v6 = e.v6;
    a.any = e.any;
    a.port = e.port;
    a.addr = e.v6 ? InAny::from(e.ip6) : InAny::from(e.ip4);
    return a;
  }
  static std::string addr_text(const HostAddr& a, bool port) {
    std::string t = to_text(a.addr).c_str();
    if (a.v6) t = "[" + t + "]";
    return port ? t + ":" + std::to_string(a.port) : t + ":*";
  }
  const HostAddr* last_from(int h) const {
    for (const auto& [k, a] : last_from_)
      if (k == h) return &a;
    return nullptr;
  }
  void set_last_from(int h, const HostAddr& a) {
    for (auto& [k, x] : last_from_)
      if (k == h) {
        x = a;
        return;
      }
    last_from_.emplace_back(h, a);
  }

  const Script& s_;
  Backend& b_;
  RunOptions o_;
  FrameEnv fenv_;
  Bindings vars_;
  std::deque<CapturedFrame> frames_;
  std::size_t traced_ = 0;
  struct LastSeg {
    std::string key;
    u32 end, ack;  // the sequence number after the segment, its ACK
    u16 win;
  };
  std::vector<LastSeg> last_;
  std::vector<std::pair<std::string, int>> objs_;
  std::vector<int> handles_;
  std::vector<std::pair<int, HostAddr>> last_from_;
  i64 drift_ = 0;         // how late the previous step was (see run())
  i64 last_arrival_ = 0;  // arrival of the frame the last `>` took  // UDP socket -> source of its last datagram
  u32 line_ = 0;
  bool failed_ = false;
  bool end_ = false;
  u32 fail_line_ = 0;
  std::string msg_;
};

}  // namespace

RunResult run_script(const Script& s, const Env& env, Backend& b, const RunOptions& opt) {
  Interp it(s, env, b, opt);
  return it.run();
}

}  // namespace passt::sim::script
