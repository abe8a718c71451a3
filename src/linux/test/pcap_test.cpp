#include "linux/pcap.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "linux/test/test_support.hpp"
#include "util/endian.hpp"

namespace passt::os {
namespace {

using Frame = std::vector<u8>;

u32 le32(const u8* p) {
  return static_cast<u32>(p[0]) | static_cast<u32>(p[1]) << 8 | static_cast<u32>(p[2]) << 16 |
         static_cast<u32>(p[3]) << 24;
}
u16 le16(const u8* p) { return static_cast<u16>(p[0] | p[1] << 8); }

struct Record {
  u32 sec, usec, incl, orig;
  Frame data;
};

struct Capture {
  bool ok = false;
  u32 magic = 0, snaplen = 0, linktype = 0;
  u16 vmaj = 0, vmin = 0;
  std::vector<Record> records;
};

std::vector<u8> slurp(const std::string& path) {
  std::vector<u8> v;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return v;
  u8 buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) v.insert(v.end(), buf, buf + n);
  ::close(fd);
  return v;
}

// An independent reader of the classic format.
Capture parse(const std::vector<u8>& b) {
  Capture c;
  if (b.size() < 24) return c;
  c.magic = le32(b.data());
  c.vmaj = le16(b.data() + 4);
  c.vmin = le16(b.data() + 6);
  c.snaplen = le32(b.data() + 16);
  c.linktype = le32(b.data() + 20);
  std::size_t off = 24;
  while (off < b.size()) {
    if (b.size() - off < 16) return c;
    Record r{le32(&b[off]), le32(&b[off + 4]), le32(&b[off + 8]), le32(&b[off + 12]), {}};
    off += 16;
    if (b.size() - off < r.incl) return c;
    r.data.assign(b.begin() + static_cast<std::ptrdiff_t>(off),
                  b.begin() + static_cast<std::ptrdiff_t>(off + r.incl));
    off += r.incl;
    c.records.push_back(std::move(r));
  }
  c.ok = true;
  return c;
}

Frame arp_request() {
  Frame f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
             0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
             192,  0,    2,    10,   0,    0,    0,    0,    0,    0,    192,  0,    2,    1};
  return f;
}

// Ethernet + IPv4 + UDP (checksum 0) to 192.0.2.1:5353 with `payload` bytes.
Frame udp4(u16 dport, std::size_t payload) {
  Frame f(14 + 20 + 8 + payload, 0);
  const u8 mac_dst[] = {0x02, 0, 0, 0, 0, 0x02}, mac_src[] = {0x02, 0, 0, 0, 0, 0x01};
  std::copy(mac_dst, mac_dst + 6, f.begin());
  std::copy(mac_src, mac_src + 6, f.begin() + 6);
  store_be16(&f[12], 0x0800);
  u8* ip = &f[14];
  ip[0] = 0x45;
  store_be16(ip + 2, static_cast<u16>(20 + 8 + payload));
  ip[8] = 64;
  ip[9] = 17;
  const u8 src[] = {192, 0, 2, 10}, dst[] = {192, 0, 2, 1};
  std::copy(src, src + 4, ip + 12);
  std::copy(dst, dst + 4, ip + 16);
  u32 sum = 0;
  for (int i = 0; i < 20; i += 2) sum += load_be16(ip + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  store_be16(ip + 10, static_cast<u16>(~sum));
  u8* udp = ip + 20;
  store_be16(udp, 40000);
  store_be16(udp + 2, dport);
  store_be16(udp + 4, static_cast<u16>(8 + payload));
  for (std::size_t i = 0; i < payload; i++) udp[8 + i] = static_cast<u8>(i);
  return f;
}

std::vector<Bytes> spans(const std::vector<Frame>& fs) {
  std::vector<Bytes> v;
  for (const auto& f : fs) v.emplace_back(f.data(), f.size());
  return v;
}

class PcapTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string t = testing::TempDir() + "passt_pcapXXXXXX";
    std::vector<char> b(t.begin(), t.end());
    b.push_back('\0');
    ASSERT_NE(::mkdtemp(b.data()), nullptr);
    dir_ = b.data();
    path_ = dir_ + "/cap.pcap";
  }
  void TearDown() override {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  std::string dir_, path_;
};

TEST_F(PcapTest, FileFormatParsedBack) {
  // An existing file is truncated.
  {
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_EQ(::write(fd, "stale data", 10), 10);
    ::close(fd);
    ::unlink(path_.c_str());  // and a new one is created 0600
  }
  PcapWriter w;
  ASSERT_TRUE(w.open(path_.c_str()));
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  std::vector<Frame> frames = {arp_request(), udp4(5353, 0), udp4(53, 1000),
                               Frame(14 + 65535, 0xab)};  // the largest frame: cut to snaplen
  timespec t0{}, t1{};
  ::clock_gettime(CLOCK_REALTIME, &t0);
  auto sp = spans(frames);
  w.write(std::span<const Bytes>(sp).first(2));
  w.write(sp[2]);
  w.write(sp[3]);
  ::clock_gettime(CLOCK_REALTIME, &t1);
  EXPECT_EQ(w.stats().frames, 4u);
  EXPECT_EQ(w.stats().errors, 0u);

  Capture c = parse(slurp(path_));
  ASSERT_TRUE(c.ok);
  EXPECT_EQ(c.magic, 0xa1b2c3d4u);
  EXPECT_EQ(c.vmaj, 2);
  EXPECT_EQ(c.vmin, 4);
  EXPECT_EQ(c.snaplen, 65535u);
  EXPECT_EQ(c.linktype, 1u);
  ASSERT_EQ(c.records.size(), 4u);
  const u64 lo = static_cast<u64>(t0.tv_sec) * 1000000 + static_cast<u64>(t0.tv_nsec / 1000);
  const u64 hi = static_cast<u64>(t1.tv_sec) * 1000000 + static_cast<u64>(t1.tv_nsec / 1000);
  u64 prev = 0;
  for (std::size_t i = 0; i < 4; i++) {
    const Record& r = c.records[i];
    const u64 us = static_cast<u64>(r.sec) * 1000000 + r.usec;
    EXPECT_GE(us, lo);
    EXPECT_LE(us, hi);
    EXPECT_GE(us, prev);
    EXPECT_LT(r.usec, 1000000u);
    prev = us;
    EXPECT_EQ(r.orig, frames[i].size());
    if (i < 3) {
      EXPECT_EQ(r.incl, frames[i].size());
      EXPECT_EQ(r.data, frames[i]);
    } else {
      EXPECT_EQ(r.incl, 65535u);
      EXPECT_EQ(r.data, Frame(frames[i].begin(), frames[i].begin() + 65535));
    }
  }
}

TEST_F(PcapTest, ReadableByTshark) {
  if (::access("/usr/bin/tshark", X_OK) != 0) GTEST_SKIP() << "tshark not installed";
  {
    PcapWriter w;
    ASSERT_TRUE(w.open(path_.c_str()));
    std::vector<Frame> frames = {arp_request(), udp4(5353, 20), udp4(53, 100)};
    auto sp = spans(frames);
    w.write(sp);
    Frame big(14 + 65535, 0xab);  // beyond the snap length
    w.write(Bytes(big));
  }
  const std::string cmd = "/usr/bin/tshark -n -r '" + path_ +
                          "' -T fields -E separator=, -e frame.len -e frame.cap_len -e eth.src "
                          "-e eth.type -e arp.opcode -e ip.dst -e udp.dstport 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  const int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out,
            "42,42,02:00:00:00:00:01,0x0806,1,,\n"
            "62,62,02:00:00:00:00:01,0x0800,,192.0.2.1,5353\n"
            "142,142,02:00:00:00:00:01,0x0800,,192.0.2.1,53\n"
            "65549,65535,ab:ab:ab:ab:ab:ab,0xabab,,,\n");
}

TEST_F(PcapTest, LargeBatchesKeepOrder) {
  PcapWriter w;
  ASSERT_TRUE(w.open(path_.c_str()));
  std::vector<Frame> frames;
  for (std::size_t i = 0; i < 3 * PcapWriter::kMaxBatch + 17; i++) {
    Frame f = udp4(static_cast<u16>(1000 + i), i % 50);
    frames.push_back(f);
  }
  auto sp = spans(frames);
  w.write(sp);
  Capture c = parse(slurp(path_));
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(c.records.size(), frames.size());
  for (std::size_t i = 0; i < frames.size(); i++) EXPECT_EQ(c.records[i].data, frames[i]);
  EXPECT_EQ(w.stats().frames, frames.size());
}

TEST_F(PcapTest, WriteErrorStopsCapture) {
  PcapWriter w;
  ASSERT_TRUE(w.open(path_.c_str()));
  int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  if (full < 0) GTEST_SKIP() << "no /dev/full";
  ASSERT_GE(::dup3(full, w.fd(), O_CLOEXEC), 0);  // the disk fills up
  ::close(full);
  Frame f = arp_request();
  w.write(Bytes(f));
  EXPECT_FALSE(w.active());
  EXPECT_EQ(w.stats().errors, 1u);
  w.write(Bytes(f));  // no further attempts
  EXPECT_EQ(w.stats().errors, 1u);

  PcapWriter w2;
  EXPECT_FALSE(w2.open("/nonexistent-dir/x.pcap"));
  EXPECT_FALSE(w2.active());
  w2.write(Bytes(f));  // harmless
  full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  EXPECT_FALSE(w2.attach(full));  // the header cannot be written
  EXPECT_EQ(w2.fd(), -1);
}

// Takes the first `take` frames of each call.
class FakeTap final : public ports::TapPort {
 public:
  std::size_t send(std::span<const Bytes> frames) noexcept override {
    calls++;
    return std::min(frames.size(), take);
  }
  bool connected() const noexcept override { return up; }
  std::size_t take = 100;
  bool up = true;
  int calls = 0;
};

TEST_F(PcapTest, TapDecoratorRecordsWhatWasSent) {
  PcapWriter w;
  ASSERT_TRUE(w.open(path_.c_str()));
  FakeTap inner;
  PcapTap tap(inner, w);
  std::vector<Frame> frames = {udp4(1, 1), udp4(2, 2), udp4(3, 3)};
  auto sp = spans(frames);

  EXPECT_EQ(tap.send(sp), 3u);
  inner.take = 1;
  EXPECT_EQ(tap.send(std::span<const Bytes>(sp).subspan(1)), 1u);  // frame 2 only
  inner.take = 0;
  EXPECT_EQ(tap.send(sp), 0u);
  inner.take = 100;
  inner.up = false;
  EXPECT_FALSE(tap.connected());
  EXPECT_EQ(tap.send(sp), 3u);  // dropped by a disconnected port: not recorded
  EXPECT_EQ(inner.calls, 4);

  Capture c = parse(slurp(path_));
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(c.records.size(), 4u);
  EXPECT_EQ(c.records[0].data, frames[0]);
  EXPECT_EQ(c.records[1].data, frames[1]);
  EXPECT_EQ(c.records[2].data, frames[2]);
  EXPECT_EQ(c.records[3].data, frames[1]);
}

TEST_F(PcapTest, SinkDecoratorRecordsArrivalsAndForwardsEverything) {
  PcapWriter w;
  ASSERT_TRUE(w.open(path_.c_str()));
  test::RecordingSink inner;
  inner.deadline = Instant::from_nanos(12345);
  PcapEventSink sink(inner, w);
  std::vector<Frame> frames = {arp_request(), udp4(7, 7)};
  auto sp = spans(frames);
  const Instant now = Instant::from_nanos(99);
  sink.on_tap_frames(sp, now);
  sink.on_tap_state(true, now);
  sink.on_socket_event(42, 5, now);
  sink.flush(now);
  EXPECT_EQ(sink.next_deadline(), Instant::from_nanos(12345));
  sink.on_deadline(Instant::from_nanos(20000));

  EXPECT_EQ(inner.frames, frames);
  EXPECT_EQ(inner.batches, std::vector<std::size_t>{2});
  EXPECT_EQ(inner.states, std::vector<bool>{true});
  ASSERT_EQ(inner.socket_events.size(), 1u);
  EXPECT_EQ(inner.socket_events[0].ref, 42u);
  EXPECT_EQ(inner.socket_events[0].events, 5u);
  EXPECT_EQ(inner.flushes, 1);
  EXPECT_EQ(inner.deadline_calls.size(), 1u);

  Capture c = parse(slurp(path_));
  ASSERT_TRUE(c.ok);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[0].data, frames[0]);
  EXPECT_EQ(c.records[1].data, frames[1]);
}

}  // namespace
}  // namespace passt::os
