// TapOut's batch reservation and drop reporting, as the TCP data path uses
// them.
#include <gtest/gtest.h>

#include <vector>

#include "proto/tap_out.hpp"

namespace passt::proto {
namespace {

class Tap final : public ports::TapPort {
 public:
  std::size_t send(std::span<const Bytes> frames) noexcept override {
    std::size_t n = frames.size() < limit ? frames.size() : limit;
    for (std::size_t i = 0; i < n; i++) sent.emplace_back(frames[i].begin(), frames[i].end());
    batches++;
    return n;
  }
  std::size_t send_gso(std::span<const Bytes> frames, std::span<const u16> sizes) noexcept override {
    gso_batches++;
    gso.assign(sizes.begin(), sizes.end());
    return send(frames);
  }
  int gso_batches = 0;
  std::vector<u16> gso;
  bool connected() const noexcept override { return true; }
  std::size_t limit = ~std::size_t{0};
  std::vector<std::vector<u8>> sent;
  int batches = 0;
};

class Observer final : public TapDropObserver {
 public:
  void on_tap_dropped(u64 tag) noexcept override { tags.push_back(tag); }
  std::vector<u64> tags;
};

TEST(TapOutMany, ReservesCommitsAndShortensFrames) {
  Tap tap;
  TapOut out(tap, 16, 4096);
  MutBytes bufs[4];
  ASSERT_EQ(out.reserve_many(100, bufs), 4u);
  for (std::size_t i = 0; i < 4; i++) {
    EXPECT_EQ(bufs[i].size(), 100u);
    for (auto& b : bufs[i]) b = static_cast<u8>(i);
  }
  const std::size_t lens[] = {100, 100, 30};
  out.commit_many(lens, {});
  EXPECT_EQ(out.queued(), 3u);
  out.flush();
  ASSERT_EQ(tap.sent.size(), 3u);
  EXPECT_EQ(tap.sent[2].size(), 30u);
  EXPECT_EQ(tap.sent[1][0], 1);
  EXPECT_EQ(tap.sent[2][29], 2);
}

TEST(TapOutMany, FlushesFirstWhenTheyDoNotFit) {
  Tap tap;
  TapOut out(tap, 4, 1024);
  ASSERT_TRUE(out.push(Bytes(std::vector<u8>(600, 7))));
  MutBytes bufs[3];
  const std::size_t n = out.reserve_many(300, bufs);
  EXPECT_EQ(tap.batches, 1) << "the queued frame went first";
  EXPECT_EQ(n, 3u);
  out.abandon();
  EXPECT_EQ(out.queued(), 0u);
  MutBytes big[1];
  EXPECT_EQ(out.reserve_many(2000, big), 0u) << "larger than the arena";
}

TEST(TapOutMany, DroppedTagsAreReportedInOrder) {
  Tap tap;
  tap.limit = 1;
  Observer obs;
  TapOut out(tap, 8, 4096);
  out.set_drop_observer(&obs);
  MutBytes bufs[3];
  ASSERT_EQ(out.reserve_many(64, bufs), 3u);
  const std::size_t lens[] = {64, 64, 64};
  const u64 tags[] = {11, 0, 13};
  out.commit_many(lens, tags);
  MutBytes one = out.reserve(10);
  ASSERT_EQ(one.size(), 10u);
  out.commit(10, 14);
  EXPECT_EQ(out.flush(), 1u);
  EXPECT_EQ(obs.tags, (std::vector<u64>{13, 14})) << "untagged frames are not reported";
  EXPECT_EQ(out.dropped_frames(), 3u);
}

TEST(TapOutMany, GsoSizesGoWithTheirFramesAndOnlyThen) {
  Tap tap;
  TapOut out(tap, 16, 1 << 20);
  out.set_gso(true);
  EXPECT_TRUE(out.gso());
  // A batch without GSO frames goes through send().
  ASSERT_TRUE(out.push(Bytes(std::vector<u8>(60, 1))));
  out.flush();
  EXPECT_EQ(tap.gso_batches, 0);
  // A plain frame, two GSO frames, a plain frame: one send_gso() with the
  // sizes in place.
  ASSERT_TRUE(out.push(Bytes(std::vector<u8>(60, 2))));
  MutBytes bufs[2];
  ASSERT_EQ(out.reserve_many(60000, bufs), 2u);
  const std::size_t lens[] = {60000, 30000};
  out.commit_many_gso(lens, {}, 1460);
  MutBytes one = out.reserve(70);
  ASSERT_EQ(one.size(), 70u);
  out.commit(70);
  EXPECT_EQ(out.flush(), 4u);
  EXPECT_EQ(tap.gso_batches, 1);
  EXPECT_EQ(tap.gso, (std::vector<u16>{0, 1460, 1460, 0}));
  EXPECT_EQ(tap.sent.size(), 5u);
  EXPECT_EQ(tap.sent[2].size(), 60000u);
  // The marks do not outlive their batch; size 0 marks nothing.
  ASSERT_EQ(out.reserve_many(100, bufs), 2u);
  const std::size_t l2[] = {100};
  out.commit_many_gso(l2, {}, 0);
  out.flush();
  EXPECT_EQ(tap.gso_batches, 1);
}

}  // namespace
}  // namespace passt::proto
