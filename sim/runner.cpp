#include "sim/runner.hpp"

#include <cstdlib>

#include "sim/hostnet.hpp"
#include "sim/knobs.hpp"
#include "sim/link.hpp"
#include "sim/scenario.hpp"
#include "util/check.hpp"

namespace passt::sim {

namespace {

// What a failing PASST_CHECK prints before aborting (the hook has no
// argument, so the run in progress is kept here).
struct CheckContext {
  bool active = false;
  u64 seed = 0;
  const char* program = "sim";
  const char* scenario = "";
  World* world = nullptr;
};
CheckContext g_ctx;

void check_hook(const char* file, int line, const char* expr) {
  if (!g_ctx.active) return;
  World& w = *g_ctx.world;
  const Duration t = w.now() - World::kEpoch;
  std::fprintf(stderr,
               "FAIL seed=%llu scenario=%s event=%llu time=%lld.%09llds phase=%s "
               "internal check failed at %s:%d: %s\nreproduce: %s --seed %llu\n",
               static_cast<unsigned long long>(g_ctx.seed), g_ctx.scenario,
               static_cast<unsigned long long>(w.events()), static_cast<long long>(t.ns / 1000000000),
               static_cast<long long>(t.ns % 1000000000), w.phase(), file, line, expr, g_ctx.program,
               static_cast<unsigned long long>(g_ctx.seed));
  std::fflush(stderr);
  std::abort();
}

// Takes the link down and up again a few times during the safety phase.
class LinkFlapper final : public Actor {
 public:
  LinkFlapper(World& w, SimLink& link, u32 flaps, Duration safety) noexcept : link_(link) {
    Prng rng = w.rng().fork(0x666c6170);
    const u8 me = w.add_actor(*this);
    for (u32 i = 0; i < flaps; i++) {
      const Instant down = World::kEpoch + rng.duration(Duration::zero(), safety);
      const Duration len = rng.duration(Duration::micros(100), Duration::millis(50));
      w.schedule(down, me, kDown);
      w.schedule(down + len, me, kUp);
    }
  }
  const char* name() const noexcept override { return "flapper"; }
  void on_event(const Event& e) noexcept override { link_.set_connected(e.kind == kUp); }

 private:
  enum : u8 { kDown = 1, kUp = 2 };
  SimLink& link_;
};

void print_stats(std::FILE* out, const SimLink& link, const SimHostNet& net) noexcept {
  for (u8 d = 0; d < kDirs; d++) {
    const LinkStats& s = link.stats(static_cast<Dir>(d));
    std::fprintf(out,
                 "  link %s: offered=%llu accepted=%llu delivered=%llu lost=%llu dup=%llu "
                 "reordered=%llu corrupted=%llu flushed=%llu refused=%llu down_drops=%llu\n",
                 dir_name(static_cast<Dir>(d)), static_cast<unsigned long long>(s.offered),
                 static_cast<unsigned long long>(s.accepted), static_cast<unsigned long long>(s.delivered),
                 static_cast<unsigned long long>(s.lost), static_cast<unsigned long long>(s.duplicated),
                 static_cast<unsigned long long>(s.reordered), static_cast<unsigned long long>(s.corrupted),
                 static_cast<unsigned long long>(s.flushed), static_cast<unsigned long long>(s.refused),
                 static_cast<unsigned long long>(s.down_drops));
  }
  const HostNetTotals& t = net.totals();
  std::fprintf(out,
               "  net: conns=%llu/%llu refused=%llu resets=%llu peer_in=%llu peer_out=%llu "
               "verified=%llu peers_done=%llu clients_done=%llu dgrams=%llu echoed=%llu dropped=%llu "
               "pings=%llu\n",
               static_cast<unsigned long long>(t.conns_opened), static_cast<unsigned long long>(t.conns_freed),
               static_cast<unsigned long long>(t.refused), static_cast<unsigned long long>(t.peer_resets),
               static_cast<unsigned long long>(t.peer_bytes_in), static_cast<unsigned long long>(t.peer_bytes_out),
               static_cast<unsigned long long>(t.peer_verified), static_cast<unsigned long long>(t.peers_done),
               static_cast<unsigned long long>(t.clients_done), static_cast<unsigned long long>(t.dgrams_sent),
               static_cast<unsigned long long>(t.dgrams_echoed), static_cast<unsigned long long>(t.dgrams_dropped),
               static_cast<unsigned long long>(t.pings_answered));
}

}  // namespace

RunResult run_seed(u64 seed, const RunOptions& opt) {
  RunResult res;
  res.seed = seed;
  Prng krng = seed_stream(seed, stream::knobs);
  Knobs k = Knobs::derive(seed, krng);
  const auto all = scenarios();
  const ScenarioEntry* entry = nullptr;
  if (opt.scenario != nullptr) {
    entry = find_scenario(opt.scenario);
  } else if (!all.empty()) {
    entry = &all[krng.below(all.size())];
  }
  if (entry == nullptr) {
    res.failure.failed = true;
    std::snprintf(res.failure.source, sizeof(res.failure.source), "runner");
    std::snprintf(res.failure.reason, sizeof(res.failure.reason), "unknown scenario '%s'",
                  opt.scenario != nullptr ? opt.scenario : "");
    return res;
  }
  res.scenario = entry->name;
  std::unique_ptr<Scenario> sc = entry->make();
  sc->derive(krng, k);
  if (k.event_capacity < k.implied_event_capacity()) k.event_capacity = k.implied_event_capacity();
  if (opt.print_knobs) {
    k.print(opt.out);
    std::fprintf(opt.out, "  scenario %s:\n", entry->name);
    sc->print_knobs(opt.out);
    std::fflush(opt.out);
  }

  World w(seed, k.event_capacity);
  SimLink link(w, k.link);
  SimHostNet net(w, k.net);
  LinkChecker link_checker(link);
  HostNetChecker net_checker(net);
  w.add_checker(link_checker);
  w.add_checker(net_checker);
  SimEnv env{k, w, link, net};
  sc->setup(env);
  w.set_sink(&sc->sink());
  LinkFlapper flapper(w, link, k.link_flaps, k.safety);
  w.set_event_budget(k.event_budget);

  g_ctx = CheckContext{true, seed, opt.program, entry->name, &w};
  set_check_hook(check_hook);
  w.arm_allocation_check();

  w.set_phase("safety");
  w.run_until(World::kEpoch + k.safety);
  if (!w.failed()) {
    w.set_phase("liveness");
    link.clear_faults();
    link.set_connected(true);
    sc->start_liveness(env);
    const Instant limit = w.now() + k.liveness;
    while (!w.failed() && !sc->done(env)) {
      if (w.now() > limit) {
        w.fail("liveness", "not finished %s after the safety phase: %s", fmt_dur(k.liveness).buf,
               sc->pending(env));
        break;
      }
      if (w.step() == StepResult::idle && !sc->done(env)) {
        w.fail("liveness", "deadlock: nothing left to happen, but %s", sc->pending(env));
        break;
      }
    }
  }

  w.disarm_allocation_check();
  set_check_hook(nullptr);
  g_ctx.active = false;

  res.ok = !w.failed();
  res.failure = w.failure();
  res.events = w.events();
  res.polls = w.polls();
  res.virtual_time = w.now() - World::kEpoch;
  res.trace_hash = w.trace_hash();
  res.queue_peak = w.queue().peak();
  if (opt.verbose) {
    print_stats(opt.out, link, net);
    sc->print_stats(opt.out);
    std::fprintf(opt.out, "  result: %s events=%llu polls=%llu virtual=%s queue_peak=%zu trace=%016llx\n",
                 res.ok ? "ok" : "FAIL", static_cast<unsigned long long>(res.events),
                 static_cast<unsigned long long>(res.polls), fmt_dur(res.virtual_time).buf, res.queue_peak,
                 static_cast<unsigned long long>(res.trace_hash));
  }
  return res;
}

void print_failure(std::FILE* out, const RunResult& r, const RunOptions& opt) noexcept {
  const Duration t = r.failure.at - World::kEpoch;
  std::fprintf(out, "FAIL seed=%llu scenario=%s event=%llu time=%lld.%09llds phase=%s %s: %s\n",
               static_cast<unsigned long long>(r.seed), r.scenario,
               static_cast<unsigned long long>(r.failure.event), static_cast<long long>(t.ns / 1000000000),
               static_cast<long long>(t.ns % 1000000000), r.failure.phase, r.failure.source,
               r.failure.reason);
  if (opt.scenario != nullptr)
    std::fprintf(out, "reproduce: %s --seed %llu --scenario %s\n", opt.program,
                 static_cast<unsigned long long>(r.seed), opt.scenario);
  else
    std::fprintf(out, "reproduce: %s --seed %llu\n", opt.program, static_cast<unsigned long long>(r.seed));
}

}  // namespace passt::sim
