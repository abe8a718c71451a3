#include "sim/scenario.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "sim/echo_scenario.hpp"
#include "sim/recording_sink.hpp"
#include "sim/runner.hpp"

namespace passt::sim {
namespace {

// Captures what a function prints to a FILE*.
template <class F>
std::string capture(F&& f) {
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* m = open_memstream(&buf, &len);
  f(m);
  std::fclose(m);
  std::string s(buf, len);
  std::free(buf);
  return s;
}

TEST(Swarm, FirstSeedsPass) {
  RunOptions opt;
  opt.print_knobs = false;
  opt.scenario = "echo";  // other tests register scenarios of their own
  for (u64 seed = 1; seed <= 25; seed++) {
    const RunResult r = run_seed(seed, opt);
    EXPECT_TRUE(r.ok) << "seed " << seed << ": " << r.failure.source << ": " << r.failure.reason;
    EXPECT_STREQ(r.scenario, "echo");
    EXPECT_GT(r.events, 0u);
  }
}

// Seeds that once failed, kept forever (docs/contributing.md: every bug
// leaves an artifact CI replays).
TEST(Swarm, RegressionSeeds) {
  struct Regression {
    u64 seed;
    const char* what;
  };
  static constexpr Regression kSeeds[] = {
      {1218, "echo-guest: a corrupted bounce duplicated towards the guest is seen twice"},
  };
  RunOptions opt;
  opt.print_knobs = false;
  opt.scenario = "echo";
  for (const Regression& r : kSeeds) {
    const RunResult res = run_seed(r.seed, opt);
    EXPECT_TRUE(res.ok) << "seed " << r.seed << " (" << r.what << "): " << res.failure.reason;
  }
}

TEST(Knobs, DerivedFromTheSeedAndPrinted) {
  Prng a = seed_stream(9, stream::knobs);
  Prng b = seed_stream(9, stream::knobs);
  const Knobs ka = Knobs::derive(9, a);
  const Knobs kb = Knobs::derive(9, b);
  EXPECT_EQ(ka.link.mtu, kb.link.mtu);
  EXPECT_EQ(ka.link.faults[0].loss_ppm, kb.link.faults[0].loss_ppm);
  EXPECT_EQ(ka.net.buf_cap, kb.net.buf_cap);
  EXPECT_EQ(ka.safety, kb.safety);
  const std::string out = capture([&](std::FILE* f) { ka.print(f); });
  for (const char* key : {"seed 9", "mtu=", "to-guest", "to-engine", "loss=", "dup=", "reorder=",
                          "corrupt=", "delay=", "jitter=", "sndbuf=", "rcvbuf=", "mss=",
                          "tcp_info{snd_wnd=", "bytes_acked=", "min_rtt=", "safety=", "flaps="})
    EXPECT_NE(out.find(key), std::string::npos) << key;
}

TEST(Knobs, SwarmCoversEachFaultBothWays) {
  // Across seeds every fault is sometimes on and sometimes off.
  int loss = 0, dup = 0, reorder = 0, corrupt = 0, no_acked = 0, flaps = 0;
  for (u64 seed = 1; seed <= 200; seed++) {
    Prng p = seed_stream(seed, stream::knobs);
    const Knobs k = Knobs::derive(seed, p);
    loss += k.link.faults[0].loss_ppm != 0;
    dup += k.link.faults[0].dup_ppm != 0;
    reorder += k.link.faults[0].reorder_ppm != 0;
    corrupt += k.link.faults[0].corrupt_ppm != 0;
    no_acked += !k.net.has_bytes_acked;
    flaps += k.link_flaps != 0;
  }
  for (int n : {loss, dup, reorder, corrupt, no_acked, flaps}) {
    EXPECT_GT(n, 10);
    EXPECT_LT(n, 190);
  }
}

TEST(Runner, PrintsKnobsFlowsAndAReproductionLine) {
  RunOptions opt;
  opt.program = "build/debug/sim/sim";
  opt.scenario = "echo";
  RunResult r;
  const std::string out = capture([&](std::FILE* f) {
    opt.out = f;
    opt.verbose = true;
    r = run_seed(3, opt);
  });
  EXPECT_TRUE(r.ok);
  EXPECT_NE(out.find("scenario echo:"), std::string::npos);
  EXPECT_NE(out.find("guest: frames="), std::string::npos);
  EXPECT_NE(out.find("result: ok"), std::string::npos);
  RunResult failed = r;
  failed.ok = false;
  failed.failure.failed = true;
  failed.failure.at = World::kEpoch + Duration::millis(1500);
  failed.failure.event = 77;
  failed.failure.phase = "safety";
  std::snprintf(failed.failure.source, sizeof(failed.failure.source), "link");
  std::snprintf(failed.failure.reason, sizeof(failed.failure.reason), "boom");
  const std::string line = capture([&](std::FILE* f) { print_failure(f, failed, opt); });
  EXPECT_EQ(line,
            "FAIL seed=3 scenario=echo event=77 time=1.500000000s phase=safety link: boom\n"
            "reproduce: build/debug/sim/sim --seed 3 --scenario echo\n");
}

// --- the checkers catch a broken engine --------------------------------------------

// Bounces guest frames, optionally breaking them.
class BadBouncer final : public ports::EventSink {
 public:
  enum class Mode { corrupt, reverse, invent };
  BadBouncer(ports::TapPort& tap, Mode m) : tap_(tap), mode_(m) {}
  void on_tap_frames(std::span<const Bytes> frames, Instant) noexcept override {
    std::size_t n = 0;
    for (Bytes f : frames) {
      if (n == 8 || f.size() > sizeof(buf_[0])) break;
      std::memcpy(buf_[n], f.data(), f.size());
      len_[n] = f.size();
      if (mode_ == Mode::corrupt && f.size() > 40) buf_[n][30] ^= 0x10;
      if (mode_ == Mode::invent) buf_[n][25] ^= 0x01;  // another sequence number
      n++;
    }
    Bytes out[8];
    for (std::size_t i = 0; i < n; i++) {
      const std::size_t k = mode_ == Mode::reverse ? n - 1 - i : i;
      out[i] = Bytes(buf_[k], len_[k]);
    }
    tap_.send(std::span<const Bytes>(out, n));
  }
  void on_tap_state(bool, Instant) noexcept override {}
  void on_socket_event(u64, u32, Instant) noexcept override {}
  void on_deadline(Instant) noexcept override {}
  void flush(Instant) noexcept override {}
  Instant next_deadline() const noexcept override { return Instant::never(); }

 private:
  ports::TapPort& tap_;
  Mode mode_;
  u8 buf_[8][1600] = {};
  std::size_t len_[8] = {};
};

Failure run_bouncer(BadBouncer::Mode mode) {
  LinkConfig cfg;
  cfg.mtu = 1500;
  cfg.max_batch = 8;
  World w(5, 1 << 14);
  SimLink link(w, cfg);
  EchoGuest guest(Prng(1), link.max_frame(), w.now(), Duration::zero(), 400);  // in bursts
  link.attach_guest(guest);
  BadBouncer engine(link, mode);
  w.set_sink(&engine);
  LinkChecker lc(link);
  EchoGuestChecker gc(guest, link);
  w.add_checker(lc);
  w.add_checker(gc);
  w.run_until(w.now() + Duration::seconds(1));
  return w.failure();
}

TEST(Checkers, CatchAnEngineThatCorruptsFrames) {
  const Failure f = run_bouncer(BadBouncer::Mode::corrupt);
  ASSERT_TRUE(f.failed);
  EXPECT_STREQ(f.source, "echo-guest");
  EXPECT_NE(std::strstr(f.reason, "corrupted"), nullptr) << f.reason;
}

TEST(Checkers, CatchAnEngineThatReordersFrames) {
  const Failure f = run_bouncer(BadBouncer::Mode::reverse);
  ASSERT_TRUE(f.failed);
  EXPECT_STREQ(f.source, "echo-guest");
  EXPECT_NE(std::strstr(f.reason, "order"), nullptr) << f.reason;
}

TEST(Checkers, CatchAnEngineThatInventsFrames) {
  const Failure f = run_bouncer(BadBouncer::Mode::invent);
  ASSERT_TRUE(f.failed);
  EXPECT_STREQ(f.source, "echo-guest");
}

// --- pluggable scenarios ------------------------------------------------------------

class TrivialScenario final : public Scenario {
 public:
  explicit TrivialScenario(bool finishes) : finishes_(finishes) {}
  const char* name() const noexcept override { return finishes_ ? "test-trivial" : "test-stuck"; }
  void derive(Prng& rng, Knobs& k) noexcept override {
    deadline_ms_ = rng.range(1, 100);
    k.link_flaps = 0;
  }
  void print_knobs(std::FILE* out) const noexcept override {
    std::fprintf(out, "    deadline=%llums\n", static_cast<unsigned long long>(deadline_ms_));
  }
  void setup(SimEnv& env) override {
    sink_.set_deadline(World::kEpoch + Duration::millis(static_cast<i64>(deadline_ms_)));
    (void)env;
  }
  ports::EventSink& sink() noexcept override { return sink_; }
  bool done(SimEnv& env) noexcept override {
    (void)env;
    return finishes_ && sink_.deadline_calls() > 0;
  }
  const char* pending(SimEnv& env) noexcept override {
    (void)env;
    return "waiting for godot";
  }

 private:
  bool finishes_;
  u64 deadline_ms_ = 0;
  RecordingSink sink_;
};

std::unique_ptr<Scenario> make_trivial() { return std::make_unique<TrivialScenario>(true); }
std::unique_ptr<Scenario> make_stuck() { return std::make_unique<TrivialScenario>(false); }

TEST(Scenarios, RegisterFindAndRun) {
  ASSERT_NE(find_scenario("echo"), nullptr);
  EXPECT_EQ(find_scenario("no-such"), nullptr);
  ASSERT_TRUE(register_scenario({"test-trivial", "a test", &make_trivial}));
  EXPECT_FALSE(register_scenario({"test-trivial", "again", &make_trivial}));
  ASSERT_TRUE(register_scenario({"test-stuck", "never finishes", &make_stuck}));
  EXPECT_GE(scenarios().size(), 3u);
  RunOptions opt;
  opt.print_knobs = false;
  opt.scenario = "test-trivial";
  const RunResult ok = run_seed(4, opt);
  EXPECT_TRUE(ok.ok) << ok.failure.reason;
  EXPECT_STREQ(ok.scenario, "test-trivial");
  opt.scenario = "test-stuck";
  const RunResult stuck = run_seed(4, opt);
  ASSERT_FALSE(stuck.ok);
  EXPECT_STREQ(stuck.failure.source, "liveness");
  EXPECT_STREQ(stuck.failure.phase, "liveness");
  EXPECT_NE(std::strstr(stuck.failure.reason, "waiting for godot"), nullptr) << stuck.failure.reason;
  opt.scenario = "no-such";
  EXPECT_FALSE(run_seed(4, opt).ok);
}

}  // namespace
}  // namespace passt::sim
