#include "proto/tcp_splice.hpp"

#include "util/check.hpp"

namespace passt::proto {

using core::Flow;
using core::FlowIdx;
using core::FlowSide;
using core::FlowSidx;
using ports::Sock;
using ports::SockAddr;
namespace ev = ports::ev;
namespace se = splice_ev;

// --- set-up ----------------------------------------------------------------------------------

TcpSplice::TcpSplice(ports::HostNet& host, core::FlowTable& flows, core::DeadlineHeap& timers,
                     FlowReaper& reaper, const SpliceOptions& opt)
    : host_(host),
      flows_(flows),
      timers_(timers),
      reaper_(reaper),
      opt_(opt),
      pipes_(host, opt.pipe_pool),
      ns4_(host, ports::Netns::guest, ports::Family::v4, opt.sock_pool),
      ns6_(host, ports::Netns::guest, ports::Family::v6, opt.sock_pool) {}

void TcpSplice::init(bool v4, bool v6, bool ns_pools) noexcept {
  v4_ = v4;
  v6_ = v6;
  ns_pools_ = ns_pools;
  const u32 n = pipes_.init(opt_.max_pipe_size, opt_.min_pipe_size);
  LOG_DEBUG("splice: %u pipes of %zu bytes ready", n, pipes_.pipe_size());
  if (ns_pools_) {
    if (v4_) ns4_.refill();
    if (v6_) ns6_.refill();
  }
}

void TcpSplice::periodic(Instant now) noexcept {
  (void)now;
  pipes_.refill();
  if (ns_pools_) {
    if (v4_) ns4_.refill();
    if (v6_) ns6_.refill();
  }
}

Result<Sock> TcpSplice::target_socket(ports::Netns ns, ports::Family fam) noexcept {
  if (ns == ports::Netns::guest) return fam == ports::Family::v4 ? ns4_.take() : ns6_.take();
  return host_.socket(ns, fam, ports::SockType::tcp);
}

// --- new connections -------------------------------------------------------------------------

bool TcpSplice::start(const SpliceRequest& req, Instant now) noexcept {
  const Sock a = req.accepted;
  const ports::Family fam = req.tgt.eaddr.is_v4() ? ports::Family::v4 : ports::Family::v6;
  const SockAddr to{req.tgt.eaddr, req.tgt.eport, 0};
  Sock t;
  ports::PipeEnds p[2];
  auto give_up = [&](FlowIdx i) noexcept {
    if (i.valid()) flows_.cancel(i);
    for (ports::PipeEnds& q : p) pipes_.give_back(q, true);
    if (t.valid()) host_.close(t);
    (void)host_.set_opt(a, ports::SockOpt::linger_zero, 1);
    host_.close(a);
    return false;
  };

  auto fi = flows_.alloc(core::L4::tcp);
  if (!fi) {
    stats_.table_full++;
    if (warn_.allow(now)) LOG_WARN("TCP: flow table full, refusing a spliced connection");
    return give_up(FlowIdx{});
  }
  const FlowIdx i = *fi;
  flows_.set_ini(i, req.ini_pif, req.ini);

  auto ts = target_socket(req.tgt_ns, fam);
  if (!ts) {
    stats_.no_resources++;
    if (warn_.allow(now)) LOG_WARN("TCP splice: no socket for the target: %s", err_name(ts.err()));
    return give_up(i);
  }
  t = *ts;
  for (ports::PipeEnds& q : p) {
    auto r = pipes_.take();
    if (!r) {
      stats_.no_resources++;
      if (warn_.allow(now)) LOG_WARN("TCP splice: can't open a pipe: %s", err_name(r.err()));
      return give_up(i);
    }
    q = *r;
  }
  // Small writes go out at once; SPLICE_F_MORE batches the large ones.
  (void)host_.set_opt(a, ports::SockOpt::tcp_nodelay, 1);
  (void)host_.set_opt(t, ports::SockOpt::tcp_nodelay, 1);
  (void)host_.set_opt(a, ports::SockOpt::tcp_quickack, 1);
  (void)host_.set_opt(t, ports::SockOpt::tcp_quickack, 1);
  if (!req.tgt.oaddr.is_unspecified() || req.tgt.oport != 0) {
    if (Status b = host_.bind(t, SockAddr{req.tgt.oaddr, req.tgt.oport, 0}); !b) {
      stats_.connect_failed++;
      LOG_DEBUG("TCP splice: can't bind to %s:%u: %s", to_text(req.tgt.oaddr).c_str(), req.tgt.oport,
                err_name(b.err()));
      return give_up(i);
    }
  }
  const Status cs = host_.connect(t, to);
  if (!cs && cs.err() != Err::in_progress) {
    stats_.connect_failed++;
    LOG_DEBUG("TCP splice: connect to %s:%u failed: %s", to_text(to.addr).c_str(), to.port,
              err_name(cs.err()));
    return give_up(i);
  }
  // The kernel chose our address and port in connect(): a distinct key.
  FlowSide tgt = req.tgt;
  if (auto la = host_.local_addr(t); la) {
    tgt.oaddr = la->addr;
    tgt.oport = la->port;
  }
  flows_.set_tgt(i, req.tgt_pif, tgt);
  SpliceConn& c = flows_.set_type<SpliceConn>(i, core::FlowType::tcp_splice);
  flows_.activate(i);
  Flow& f = flows_.at(i);
  c.s[0] = a;
  c.s[1] = t;
  c.pipe[0] = p[0];
  c.pipe[1] = p[1];
  stats_.conns++;
  LOG_DEBUG("TCP flow %u (spliced): %s:%u -> %s:%u%s", i.v, to_text(req.ini.eaddr).c_str(),
            req.ini.eport, to_text(to.addr).c_str(), to.port,
            req.tgt_ns == ports::Netns::guest ? " in the namespace" : " on the host");
  if (cs) {
    established(i, f, c);
    return true;
  }
  c.events = se::connect;
  c.t_connect = now + kSpliceConnectTimeout;
  timers_.set(i.v, c.t_connect);
  update_masks(i, c);
  return true;
}

void TcpSplice::established(FlowIdx i, Flow& f, SpliceConn& c) noexcept {
  c.events = se::established;
  c.t_connect = Instant::never();
  timers_.clear(i.v);
  stats_.established++;
  // Either side may have sent already (the client surely may have).
  for (unsigned k = 0; k < 2 && f.closing == 0; k++) move(i, f, c, k);
  if (f.closing != 0) return;
  update_masks(i, c);
  check_done(i, f, c);
}

// --- events --------------------------------------------------------------------------------

void TcpSplice::sock_event(FlowSidx s, u32 events, Instant now) noexcept {
  (void)now;
  if (s.flow >= flows_.capacity()) return;
  const FlowIdx i = s.idx();
  Flow& f = flows_.at(i);
  if (f.state != core::FlowState::active || f.type != core::FlowType::tcp_splice || f.closing != 0)
    return;
  SpliceConn& c = f.as<SpliceConn>();
  const unsigned k = s.side;

  if (c.has(se::connect)) {
    if (k != 1 || (events & (ev::out | ev::err | ev::hup)) == 0) return;
    const Err e = host_.take_error(c.s[1]);
    if (e != Err::none || (events & (ev::err | ev::hup)) != 0) {
      stats_.connect_failed++;
      LOG_DEBUG("TCP flow %u (spliced): connect failed: %s", i.v,
                err_name(e != Err::none ? e : Err::conn_refused));
      close_conn(i, f, c, true);
      return;
    }
    established(i, f, c);
    return;
  }
  if (!c.has(se::established)) return;
  stats_.wakeups++;

  if ((events & ev::err) != 0) {
    const Err e = host_.take_error(c.s[k]);
    if (e != Err::none) {
      stats_.resets++;
      LOG_DEBUG("TCP flow %u (spliced): side %u: %s", i.v, k, err_name(e));
      close_conn(i, f, c, true);
      return;
    }
  }
  // A hang-up is both: read what is left, and try the pending write (which
  // reports the error if the hang-up was a reset).
  if ((events & (ev::in | ev::rdhup | ev::hup)) != 0) move(i, f, c, k);
  if (f.closing == 0 && (events & (ev::out | ev::hup)) != 0) {
    c.events = static_cast<u16>(c.events & ~se::out_wait(k));
    move(i, f, c, 1 - k);
  }
  if (f.closing != 0) return;
  update_masks(i, c);
  check_done(i, f, c);
}

void TcpSplice::timer(FlowIdx i, Instant now) noexcept {
  Flow& f = flows_.at(i);
  if (f.state != core::FlowState::active || f.type != core::FlowType::tcp_splice || f.closing != 0) {
    timers_.clear(i.v);
    return;
  }
  SpliceConn& c = f.as<SpliceConn>();
  if (c.has(se::connect) && now >= c.t_connect) {
    stats_.connect_failed++;
    LOG_DEBUG("TCP flow %u (spliced): connect timed out", i.v);
    close_conn(i, f, c, true);
    return;
  }
  if (c.has(se::connect))
    timers_.set(i.v, c.t_connect);
  else
    timers_.clear(i.v);
}

// --- data ------------------------------------------------------------------------------------

void TcpSplice::move(FlowIdx i, Flow& f, SpliceConn& c, unsigned k) noexcept {
  const unsigned o = 1 - k;
  const std::size_t psize = pipes_.pipe_size();
  if (c.has(se::fin_sent(o))) return;  // this direction is over
  for (u32 n = 0; n < opt_.move_rounds; n++) {
    std::size_t got = 0;
    if (!c.has(se::fin_rcvd(k))) {
      stats_.splice_calls++;
      auto r = host_.splice(c.s[k], c.pipe[k].wr, psize, false);
      if (r) {
        if (*r == 0) {
          c.events |= se::fin_rcvd(k);
        } else {
          got = *r;
          c.read[k] += got;
        }
      } else if (r.err() == Err::again) {
        stats_.read_again++;
      } else {
        stats_.resets++;
        LOG_DEBUG("TCP flow %u (spliced): reading side %u: %s", i.v, k, err_name(r.err()));
        close_conn(i, f, c, true);
        return;
      }
    }
    std::size_t put = 0;
    if (c.in_pipe(k) > 0) {
      // More is coming if this read (nearly) filled the pipe.
      const bool more = got >= psize - psize / 10 && !c.has(se::fin_rcvd(k));
      stats_.splice_calls++;
      auto w = host_.splice(c.pipe[k].rd, c.s[o], c.in_pipe(k), more);
      if (w) {
        put = *w;
        c.written[k] += put;
        stats_.bytes[k] += put;
      } else if (w.err() == Err::again) {
        break;
      } else {
        stats_.resets++;
        LOG_DEBUG("TCP flow %u (spliced): writing side %u: %s", i.v, o, err_name(w.err()));
        close_conn(i, f, c, true);
        return;
      }
    }
    if (got == 0 && put == 0) break;
  }
  if (c.in_pipe(k) > 0) {
    if (!c.has(se::out_wait(o))) stats_.back_pressure++;
    c.events |= se::out_wait(o);
    return;
  }
  c.events = static_cast<u16>(c.events & ~se::out_wait(o));
  if (c.has(se::fin_rcvd(k))) {
    // Everything before the FIN is out: relay the FIN.
    const Status st = host_.shutdown_write(c.s[o]);
    if (!st && st.err() != Err::not_connected) {
      stats_.resets++;
      LOG_DEBUG("TCP flow %u (spliced): shutdown side %u: %s", i.v, o, err_name(st.err()));
      close_conn(i, f, c, true);
      return;
    }
    c.events |= se::fin_sent(o);
    stats_.half_closes++;
  }
}

void TcpSplice::update_masks(FlowIdx i, SpliceConn& c) noexcept {
  for (unsigned k = 0; k < 2; k++) {
    u8 want = 0;
    if (c.has(se::connect)) {
      if (k == 1) want = static_cast<u8>(ev::out);
    } else if (c.has(se::established)) {
      if (!c.has(se::fin_rcvd(k)) && !c.has(se::out_wait(1 - k)))
        want = static_cast<u8>(ev::in | ev::rdhup);
      if (c.has(se::out_wait(k))) want = static_cast<u8>(want | ev::out);
    }
    if (want == c.mask[k]) continue;
    if (want == 0) {
      host_.unwatch(c.s[k]);
    } else {
      const u64 ref = core::EpollRef::flow(core::RefType::tcp_splice, FlowSidx{i.v, static_cast<u8>(k)}).pack();
      if (Status w = host_.watch(c.s[k], want, ref); !w) {
        // Without readiness the connection would hang: give up on it.
        LOG_DEBUG("TCP flow %u (spliced): can't watch side %u: %s", i.v, k, err_name(w.err()));
        stats_.resets++;
        close_conn(i, flows_.at(i), c, true);
        return;
      }
    }
    c.mask[k] = want;
  }
}

void TcpSplice::check_done(FlowIdx i, Flow& f, SpliceConn& c) noexcept {
  if (f.closing == 0 && c.has(se::fin_sent(0)) && c.has(se::fin_sent(1))) close_conn(i, f, c, false);
}

void TcpSplice::close_conn(FlowIdx i, Flow& f, SpliceConn& c, bool abort) noexcept {
  if (f.closing != 0) return;
  for (unsigned k = 0; k < 2; k++) {
    if (c.mask[k] != 0) host_.unwatch(c.s[k]);
    c.mask[k] = 0;
    if (c.s[k].valid()) {
      if (abort) (void)host_.set_opt(c.s[k], ports::SockOpt::linger_zero, 1);
      host_.close(c.s[k]);
      c.s[k] = Sock{};
    }
    pipes_.give_back(c.pipe[k], c.in_pipe(k) == 0);
    c.pipe[k] = ports::PipeEnds{};
  }
  LOG_DEBUG("TCP flow %u (spliced): %s, %llu bytes out, %llu bytes back", i.v,
            abort ? "reset" : "closed", static_cast<unsigned long long>(c.written[0]),
            static_cast<unsigned long long>(c.written[1]));
  c.events = 0;
  timers_.clear(i.v);
  stats_.conns_closed++;
  reaper_.defer(i, f);
}

}  // namespace passt::proto
