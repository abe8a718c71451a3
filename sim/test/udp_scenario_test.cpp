// The udp scenario: seeds pass, runs are deterministic, the swarm reaches
// every path it is meant to (coverage marks), and each checker bites when
// the engine's output is sabotaged.
#include "sim/udp_scenario.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "sim/runner.hpp"

namespace passt::sim {
namespace {

RunOptions opt(const char* scenario) {
  RunOptions o;
  o.print_knobs = false;
  o.scenario = scenario;
  return o;
}

TEST(UdpScenario, SeedsPassAndCoverEveryPath) {
  udp_coverage_reset();
  for (u64 seed = 1; seed <= 120; seed++) {
    const RunResult r = run_seed(seed, opt("udp"));
    ASSERT_TRUE(r.ok) << "seed " << seed << ": " << r.failure.source << ": " << r.failure.reason;
  }
  const UdpCoverage& c = udp_coverage();
  EXPECT_EQ(c.runs, 120u);
  EXPECT_GT(c.flows_from_tap, 0u);
  EXPECT_GT(c.flows_from_sock, 0u);
  EXPECT_GT(c.flows_spliced, 0u);
  EXPECT_GT(c.flows_expired, 0u);
  EXPECT_GT(c.table_full, 0u);
  EXPECT_GT(c.dropped_too_big, 0u);
  EXPECT_GT(c.zero_length, 0u);
  EXPECT_GT(c.link_duplicates, 0u);
  EXPECT_GT(c.shared_guest_ports, 0u);
  EXPECT_GT(c.pasta_runs, 0u);
  EXPECT_GT(c.delivered, 10000u);
}

// Seeds that failed beyond the CI swarm's range (a generator bug: two DNS
// plans on one guest port, one of them through a third plan's port).
TEST(UdpScenario, RegressionSeeds) {
  for (u64 seed : {507u, 1196u}) {
    const RunResult r = run_seed(seed, opt("udp"));
    EXPECT_TRUE(r.ok) << "seed " << seed << ": " << r.failure.source << ": " << r.failure.reason;
  }
}

TEST(UdpScenario, SameSeedSameRun) {
  const RunResult a = run_seed(41, opt("udp"));
  const RunResult b = run_seed(41, opt("udp"));
  ASSERT_TRUE(a.ok) << a.failure.reason;
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.events, b.events);
}

std::unique_ptr<Scenario> make_dup() {
  UdpHooks h;
  h.duplicate_every = 7;
  return make_udp_scenario(h);
}
std::unique_ptr<Scenario> make_misdeliver() {
  UdpHooks h;
  h.misdeliver = true;
  return make_udp_scenario(h);
}
std::unique_ptr<Scenario> make_short_timeout() {
  UdpHooks h;
  h.engine_idle_timeout = Duration::seconds(170);
  return make_udp_scenario(h);
}
std::unique_ptr<Scenario> make_long_timeout() {
  UdpHooks h;
  h.engine_idle_timeout = Duration::seconds(181);
  return make_udp_scenario(h);
}

void register_sabotaged() {
  static bool done = false;
  if (done) return;
  done = true;
  ASSERT_TRUE(register_scenario({"udp-dup", "test: the engine duplicates datagrams", &make_dup}));
  ASSERT_TRUE(register_scenario({"udp-misdeliver", "test: datagrams to another port", &make_misdeliver}));
  ASSERT_TRUE(register_scenario({"udp-expire-early", "test: 170 s idle timeout", &make_short_timeout}));
  ASSERT_TRUE(register_scenario({"udp-expire-late", "test: 181 s idle timeout", &make_long_timeout}));
}

// Fails with `source` in most of the seeds (a seed may send nothing the
// sabotage touches, e.g. only empty datagrams or nothing to the guest).
void expect_bites(const char* scenario, const char* source) {
  register_sabotaged();
  u32 caught = 0;
  for (u64 seed = 1; seed <= 10; seed++) {
    const RunResult r = run_seed(seed, opt(scenario));
    if (r.ok) continue;
    EXPECT_STREQ(r.failure.source, source) << scenario << " seed " << seed << ": " << r.failure.reason;
    caught++;
  }
  EXPECT_GE(caught, 7u) << scenario;
}

TEST(UdpScenario, DuplicatesAreCaught) { expect_bites("udp-dup", "udp-dup"); }
TEST(UdpScenario, MisdeliveryIsCaught) { expect_bites("udp-misdeliver", "udp-flow"); }
TEST(UdpScenario, EarlyExpiryIsCaught) { expect_bites("udp-expire-early", "udp-expiry"); }
TEST(UdpScenario, LateExpiryIsCaught) { expect_bites("udp-expire-late", "udp-expiry"); }

}  // namespace
}  // namespace passt::sim
