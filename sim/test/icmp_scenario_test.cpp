// The icmp scenario: seeds pass, runs are deterministic, and the swarm
// reaches the paths it is meant to (coverage marks).
#include "sim/icmp_scenario.hpp"

#include <gtest/gtest.h>

#include "sim/runner.hpp"

namespace passt::sim {
namespace {

RunOptions icmp_opt() {
  RunOptions opt;
  opt.print_knobs = false;
  opt.scenario = "icmp";
  return opt;
}

TEST(IcmpScenario, SeedsPassAndCoverEveryPath) {
  icmp_coverage_reset();
  for (u64 seed = 1; seed <= 200; seed++) {
    const RunResult r = run_seed(seed, icmp_opt());
    ASSERT_TRUE(r.ok) << "seed " << seed << ": " << r.failure.source << ": " << r.failure.reason;
  }
  const IcmpCoverage& c = icmp_coverage();
  EXPECT_EQ(c.runs, 200u);
  EXPECT_GT(c.requests, 1000u);
  EXPECT_GT(c.replies, 1000u);
  EXPECT_GT(c.flows_opened, 200u);
  EXPECT_EQ(c.flows_expired, c.flows_opened) << "every flow ends by expiry";
  EXPECT_GT(c.table_full, 0u);
  EXPECT_GT(c.not_request, 0u);
  EXPECT_GT(c.bad_addr, 0u);
  EXPECT_GT(c.reply_repeated, 0u);
  EXPECT_GT(c.dup_requests, 0u);
  EXPECT_GT(c.multi_replies, 0u);
  EXPECT_GT(c.gap_renewed, 0u);
  EXPECT_GT(c.gap_new_flow, 0u);
}

TEST(IcmpScenario, SameSeedSameRun) {
  const RunResult a = run_seed(42, icmp_opt());
  const RunResult b = run_seed(42, icmp_opt());
  ASSERT_TRUE(a.ok) << a.failure.reason;
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.events, b.events);
}

}  // namespace
}  // namespace passt::sim
