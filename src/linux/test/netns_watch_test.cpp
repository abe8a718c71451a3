#include "linux/netns_watch.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include "linux/clock.hpp"
#include "linux/pasta_ns.hpp"
#include "linux/test/ns_fixture.hpp"
#include "linux/test/test_support.hpp"

namespace passt::os {
namespace {

struct GoneRecorder final : NetnsWatch::Listener {
  void on_netns_gone(Instant now, ports::EventSink&) noexcept override {
    calls++;
    at = now;
  }
  int calls = 0;
  Instant at;
};

// Watches until gone or `bound`; returns the detection latency after the
// instant `act` (run on another thread after `delay`) started, or a
// negative duration on timeout.
template <class Act>
Duration measure(EventLoop& loop, NetnsWatch& w, GoneRecorder& rec, Act act,
                 Duration delay = Duration::millis(30)) {
  std::atomic<i64> started{0};
  std::thread t([&] {
    ::usleep(static_cast<useconds_t>(delay.to_micros()));
    started = monotonic_now().ns;
    act();
  });
  test::RecordingSink sink;
  bool done = test::run_until(loop, sink, [&] { return w.gone(); }, Duration::seconds(3));
  t.join();
  if (!done) return Duration::nanos(-1);
  return rec.at - Instant::from_nanos(started.load());
}

// A process sitting in a network namespace of its own.
struct NsProcess {
  pid_t pid = -1;
  bool start() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return false;
    pid = ::fork();
    if (pid == 0) {
      char ok = ::unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
      (void)!::write(p[1], &ok, 1);
      for (;;) ::pause();
    }
    ::close(p[1]);
    char ok = 0;
    bool r = ::read(p[0], &ok, 1) == 1 && ok == 'y';
    ::close(p[0]);
    return r;
  }
  void kill_and_reap() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
  ~NsProcess() { kill_and_reap(); }
};

class Watch : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(loop.init()); }
  MonotonicClock clock;
  EventLoop loop{clock};
  GoneRecorder rec;
};

// Podman: the namespace is bind-mounted on a file in a tmpfs directory, and
// removed with umount + rm.  Done in a child with its own mount namespace.
TEST(WatchPodman, UnmountAndRemoveNoticedWithin100ms) {
  std::string r = test::run_forked([]() -> std::string {
    if (::unshare(CLONE_NEWNS) < 0) return "skip";
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) return "skip";
    char dir[] = "/tmp/netns_watch_XXXXXX";
    if (::mkdtemp(dir) == nullptr) return "mkdtemp";
    std::string result;
    if (::mount("tmpfs", dir, "tmpfs", 0, "size=64k") == 0) {
      const std::string file = std::string(dir) + "/netns-0123";
      int nsfd = test::new_netns();
      int f = ::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
      if (f >= 0) ::close(f);
      const std::string src = "/proc/self/fd/" + std::to_string(nsfd);
      if (nsfd < 0 || ::mount(src.c_str(), file.c_str(), nullptr, MS_BIND, nullptr) < 0) {
        result = "skip";
      } else {
        ::close(nsfd);  // the bind mount keeps the namespace
        MonotonicClock clock;
        EventLoop loop(clock);
        GoneRecorder rec;
        NetnsWatch w(loop, rec);
        if (!loop.init() || !w.watch_path(file)) {
          result = "watch failed";
        } else {
          const bool inotify = w.uses_inotify();
          const bool before = w.path_gone();
          Duration lat = measure(loop, w, rec, [&] {
            ::umount2(file.c_str(), MNT_DETACH);
            ::unlink(file.c_str());
          });
          result = "inotify=" + std::to_string(inotify) + " before=" + std::to_string(before) +
                   " calls=" + std::to_string(rec.calls) +
                   " latency_us=" + std::to_string(lat.to_micros());
        }
      }
      ::umount2(dir, MNT_DETACH);
    } else {
      result = "skip";
    }
    ::rmdir(dir);
    return result;
  });
  if (r == "skip") GTEST_SKIP() << "cannot bind-mount namespaces here";
  long long lat = -1;
  int inotify = -1;
  int before = -1;
  int calls = -1;
  ASSERT_EQ(std::sscanf(r.c_str(), "inotify=%d before=%d calls=%d latency_us=%lld", &inotify,
                        &before, &calls, &lat),
            4)
      << r;
  EXPECT_EQ(inotify, 1);
  EXPECT_EQ(before, 0);
  EXPECT_EQ(calls, 1);
  EXPECT_GE(lat, 0);
  EXPECT_LT(lat, 100000) << r;
  RecordProperty("latency_us", std::to_string(lat));
}

// An umount without the rm: no inotify event, but the name is now another
// inode; the slow poll catches it.
TEST(WatchPodman, UnmountOnlyCaughtByThePoll) {
  std::string r = test::run_forked([]() -> std::string {
    if (::unshare(CLONE_NEWNS) < 0) return "skip";
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) return "skip";
    char dir[] = "/tmp/netns_watch_XXXXXX";
    if (::mkdtemp(dir) == nullptr) return "mkdtemp";
    const std::string file = std::string(dir) + "/ns";
    int f = ::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (f >= 0) ::close(f);
    int nsfd = test::new_netns();
    const std::string src = "/proc/self/fd/" + std::to_string(nsfd);
    std::string result;
    if (nsfd < 0 || ::mount(src.c_str(), file.c_str(), nullptr, MS_BIND, nullptr) < 0) {
      result = "skip";
    } else {
      MonotonicClock clock;
      EventLoop loop(clock);
      GoneRecorder rec;
      NetnsWatch::Options opt;
      opt.slow_poll = Duration::millis(40);
      NetnsWatch w(loop, rec, opt);
      if (!loop.init() || !w.watch_path(file)) {
        result = "watch failed";
      } else {
        Duration lat = measure(loop, w, rec, [&] { ::umount2(file.c_str(), MNT_DETACH); });
        result = "latency_us=" + std::to_string(lat.to_micros());
      }
      ::umount2(file.c_str(), MNT_DETACH);
    }
    if (nsfd >= 0) ::close(nsfd);
    ::unlink(file.c_str());
    ::rmdir(dir);
    return result;
  });
  if (r == "skip") GTEST_SKIP() << "cannot bind-mount namespaces here";
  long long lat = -1;
  ASSERT_EQ(std::sscanf(r.c_str(), "latency_us=%lld", &lat), 1) << r;
  EXPECT_GE(lat, 0);
  EXPECT_LT(lat, 100000);
}

// /proc/PID/ns/net: procfs sends no inotify events; the 50 ms poll does.
TEST_F(Watch, ProcfsPathIsPolled) {
  NsProcess p;
  if (!p.start()) GTEST_SKIP() << "cannot create network namespaces here";
  NetnsWatch w(loop, rec);
  ASSERT_TRUE(w.watch_path("/proc/" + std::to_string(p.pid) + "/ns/net"));
  EXPECT_FALSE(w.uses_inotify());
  EXPECT_FALSE(w.path_gone());
  Duration lat = measure(loop, w, rec, [&] { p.kill_and_reap(); });
  RecordProperty("latency_us", std::to_string(lat.to_micros()));
  EXPECT_GE(lat.ns, 0);
  EXPECT_LT(lat, Duration::millis(100));
  EXPECT_EQ(rec.calls, 1);
}

// PID mode: the pidfd turns readable when the process exits.
TEST_F(Watch, PidModeIsImmediate) {
  NsProcess p;
  if (!p.start()) GTEST_SKIP() << "cannot create network namespaces here";
  NetnsWatch w(loop, rec);
  ASSERT_TRUE(w.watch_pid(p.pid));
  Duration lat = measure(loop, w, rec, [&] { ::kill(p.pid, SIGKILL); });
  RecordProperty("latency_us", std::to_string(lat.to_micros()));
  EXPECT_GE(lat.ns, 0);
  EXPECT_LT(lat, Duration::millis(100));
  EXPECT_EQ(rec.calls, 1);
  p.kill_and_reap();
}

// The spawned command's pidfd, watched the same way.
TEST_F(Watch, SpawnedChildExit) {
  SpawnOptions o;
  o.command = {"/bin/sh", "-c", "exit 5"};
  auto ch = spawn_ns_child(o);
  if (!ch) GTEST_SKIP() << "cannot create namespaces here";
  NetnsWatch w(loop, rec);
  ASSERT_TRUE(w.watch_pidfd(ch->pidfd()));
  ASSERT_TRUE(ch->release());
  test::RecordingSink sink;
  EXPECT_TRUE(test::run_until(loop, sink, [&] { return w.gone(); }));
  EXPECT_EQ(ch->wait().value_or(-1), 5);
}

// Renaming the file away (IN_MOVED_FROM), on an ordinary directory; other
// names in the directory changing do not count.
TEST_F(Watch, RenameAwayAndUnrelatedChanges) {
  char dir[] = "/tmp/netns_watch_XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string file = std::string(dir) + "/target";
  const std::string other = std::string(dir) + "/other";
  int f = ::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(f, 0);
  ::close(f);

  NetnsWatch w(loop, rec);
  ASSERT_TRUE(w.watch_path(file));
  EXPECT_TRUE(w.uses_inotify());
  EXPECT_EQ(w.watch_path(file).err(), Err::invalid);  // one path per watcher

  // Siblings come and go: not gone.
  for (int i = 0; i < 5; i++) {
    int g = ::open(other.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    ::close(g);
    ::unlink(other.c_str());
  }
  test::RecordingSink sink;
  for (int i = 0; i < 5; i++) ASSERT_TRUE(loop.run_once(sink, Duration::millis(10)));
  EXPECT_FALSE(w.gone());

  Duration lat = measure(loop, w, rec, [&] { ::rename(file.c_str(), other.c_str()); });
  EXPECT_GE(lat.ns, 0);
  EXPECT_LT(lat, Duration::millis(100));
  ::unlink(other.c_str());
  ::rmdir(dir);
}

TEST_F(Watch, Errors) {
  NetnsWatch w(loop, rec);
  EXPECT_EQ(w.watch_path("/nonexistent/netns").err(), Err::no_entry);
  EXPECT_EQ(w.watch_path("").err(), Err::invalid);
  EXPECT_EQ(w.watch_pidfd(-1).err(), Err::invalid);
  EXPECT_FALSE(w.watch_pid(0));
  EXPECT_FALSE(w.gone());
  EXPECT_FALSE(w.path_gone());
}

}  // namespace
}  // namespace passt::os
