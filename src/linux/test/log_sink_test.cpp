#include "linux/log_sink.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <regex>
#include <string>
#include <vector>

#include "linux/test/test_support.hpp"

namespace passt::os {
namespace {

class FakeClock final : public ports::Clock {
 public:
  Instant now() noexcept override { return t; }
  Instant t = Instant::from_nanos(1000);
};

class CaptureSink final : public LogSink {
 public:
  void write(LogLevel l, std::string_view m) noexcept override {
    lines.emplace_back(std::to_string(static_cast<int>(l)) + ":" + std::string(m));
  }
  std::vector<std::string> lines;
};

std::string read_pipe(int fd) {
  std::string out;
  char buf[4096];
  while (test::wait_fd(fd, POLLIN, 0)) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> v;
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t nl = s.find('\n', start);
    if (nl == std::string::npos) {
      v.push_back(s.substr(start));
      break;
    }
    v.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return v;
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
}

// A private temporary directory, removed with its files at the end.
class TempDir {
 public:
  TempDir() : TempDir(testing::TempDir()) {}
  explicit TempDir(const std::string& base) {
    std::string tmpl = base + (base.empty() || base.back() == '/' ? "" : "/") + "passt_logXXXXXX";
    std::vector<char> b(tmpl.begin(), tmpl.end());
    b.push_back('\0');
    if (::mkdtemp(b.data()) != nullptr) path = b.data();
  }
  ~TempDir() {
    for (const auto& f : files) ::unlink(f.c_str());
    if (!path.empty()) ::rmdir(path.c_str());
  }
  std::string file(const char* name) {
    files.push_back(path + "/" + name);
    return files.back();
  }
  std::string path;
  std::vector<std::string> files;
};

// A datagram server standing in for syslogd.
class FakeSyslogd {
 public:
  explicit FakeSyslogd(const std::string& p) : path(p) {
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p.c_str());
    ::unlink(p.c_str());
    bound = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  }
  ~FakeSyslogd() { stop(); }
  void stop() {
    if (fd >= 0) ::close(fd);
    fd = -1;
    ::unlink(path.c_str());
  }
  std::vector<std::string> recv_all() {
    std::vector<std::string> v;
    char buf[8192];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n < 0) break;
      v.emplace_back(buf, static_cast<std::size_t>(n));
    }
    return v;
  }
  std::string path;
  int fd = -1;
  bool bound = false;
};

TEST(LogSink, LevelFromFlags) {
  EXPECT_EQ(log_level_from_flags(false, false, false), LogLevel::info);
  EXPECT_EQ(log_level_from_flags(false, false, true), LogLevel::warning);
  EXPECT_EQ(log_level_from_flags(true, false, true), LogLevel::debug);  // -d clears -q
  EXPECT_EQ(log_level_from_flags(false, true, false), LogLevel::trace);
  EXPECT_EQ(log_level_from_flags(true, true, true), LogLevel::trace);
}

TEST(LogSink, FormatElapsed) {
  char b[32];
  EXPECT_EQ(format_elapsed(b, sizeof(b), Duration::zero()), 6u);
  EXPECT_STREQ(b, "0.0000");
  format_elapsed(b, sizeof(b), Duration::nanos(1234567891));
  EXPECT_STREQ(b, "1.2345");
  format_elapsed(b, sizeof(b), Duration::seconds(98765) + Duration::micros(900));
  EXPECT_STREQ(b, "98765.0009");
  format_elapsed(b, sizeof(b), Duration::seconds(-3));
  EXPECT_STREQ(b, "0.0000");
  EXPECT_EQ(format_elapsed(b, 4, Duration::seconds(12)), 3u);  // cut, NUL-terminated
  EXPECT_STREQ(b, "12.");
}

TEST(StderrSink, PlainLinesAndThreshold) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  FakeClock clock;
  StderrSink s(clock, clock.t, {.fd = p[1]});
  s.write(LogLevel::info, "hello");
  s.write(LogLevel::error, "with newline\n");
  s.write(LogLevel::debug, "");
  EXPECT_EQ(read_pipe(p[0]), "hello\nwith newline\n\n");

  s.set_max_level(LogLevel::warning);  // -q
  s.write(LogLevel::info, "hidden");
  s.write(LogLevel::debug, "hidden");
  s.write(LogLevel::warning, "shown");
  s.write(LogLevel::error, "shown too");
  EXPECT_EQ(read_pipe(p[0]), "shown\nshown too\n");
  ::close(p[0]);
  ::close(p[1]);
}

TEST(StderrSink, DebugTimestampsRelativeToStart) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  FakeClock clock;
  const Instant start = clock.t;
  StderrSink s(clock, start, {.fd = p[1], .timestamps = true});
  s.write(LogLevel::debug, "first");
  clock.t = start + Duration::seconds(3) + Duration::millis(500);
  s.write(LogLevel::info, "later");
  clock.t = start + Duration::seconds(12) + Duration::micros(123456);
  s.write(LogLevel::error, "much later");
  EXPECT_EQ(read_pipe(p[0]), "0.0000: first\n3.5000: later\n12.1234: much later\n");
  ::close(p[0]);
  ::close(p[1]);
}

TEST(StderrSink, LongMessagesAreCutNotOverflowed) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  ::fcntl(p[1], F_SETPIPE_SZ, 1 << 16);
  FakeClock clock;
  StderrSink s(clock, clock.t, {.fd = p[1]});
  std::string big(kMaxMessage + 1000, 'x');
  s.write(LogLevel::info, big);
  EXPECT_EQ(read_pipe(p[0]).size(), kMaxMessage + 1);
  ::close(p[0]);
  ::close(p[1]);
}

TEST(SyslogSink, Rfc3164LocalFormat) {
  TempDir d;
  FakeSyslogd server(d.file("log"));
  ASSERT_TRUE(server.bound);
  FakeClock clock;
  SyslogSink s(clock, {.path = server.path.c_str(), .ident = "pasta"});
  s.init();
  EXPECT_TRUE(s.connected());
  s.write(LogLevel::error, "boom");
  s.write(LogLevel::warning, "careful\n");
  s.write(LogLevel::info, "fyi");
  s.write(LogLevel::debug, "detail");
  s.set_pid(4242);
  s.write(LogLevel::trace, "packet");
  auto got = server.recv_all();
  ASSERT_EQ(got.size(), 5u);
  const std::string pid = std::to_string(::getpid());
  const std::string ts = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123][0-9] "
                         "[0-2][0-9]:[0-5][0-9]:[0-6][0-9] ";
  EXPECT_TRUE(std::regex_match(got[0], std::regex("<27>" + ts + "pasta\\[" + pid + "\\]: boom")))
      << got[0];
  EXPECT_TRUE(std::regex_match(got[1], std::regex("<28>" + ts + "pasta\\[" + pid + "\\]: careful")))
      << got[1];
  EXPECT_TRUE(std::regex_match(got[2], std::regex("<30>" + ts + "pasta\\[" + pid + "\\]: fyi")))
      << got[2];
  EXPECT_TRUE(std::regex_match(got[3], std::regex("<31>" + ts + "pasta\\[" + pid + "\\]: detail")))
      << got[3];
  EXPECT_TRUE(std::regex_match(got[4], std::regex("<31>" + ts + "pasta\\[4242\\]: packet")))
      << got[4];
  EXPECT_EQ(s.stats().sent, 5u);

  s.set_max_level(LogLevel::warning);
  s.write(LogLevel::info, "quiet");
  s.write(LogLevel::warning, "loud");
  got = server.recv_all();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find("loud"), std::string::npos);
}

TEST(SyslogSink, MissingSocketDropsSilentlyAndRetriesPerInterval) {
  TempDir d;
  const std::string path = d.file("log");
  FakeClock clock;
  SyslogSink s(clock, {.path = path.c_str(), .ident = "passt", .retry = Duration::seconds(10)});
  s.init();
  EXPECT_FALSE(s.connected());
  EXPECT_EQ(s.stats().connect_attempts, 1u);
  for (int i = 0; i < 100; i++) s.write(LogLevel::error, "nobody listens");
  EXPECT_EQ(s.stats().connect_attempts, 1u);  // no retry storm
  EXPECT_EQ(s.stats().dropped, 100u);

  clock.t = clock.t + Duration::seconds(10);
  s.write(LogLevel::error, "still nobody");
  EXPECT_EQ(s.stats().connect_attempts, 2u);
  EXPECT_EQ(s.stats().connect_failures, 2u);

  // syslogd appears: the next attempt (after the interval) connects.
  FakeSyslogd server(path);
  ASSERT_TRUE(server.bound);
  s.write(LogLevel::error, "too early");
  EXPECT_EQ(s.stats().connect_attempts, 2u);
  clock.t = clock.t + Duration::seconds(10);
  s.write(LogLevel::error, "hello syslogd");
  EXPECT_TRUE(s.connected());
  auto got = server.recv_all();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find("hello syslogd"), std::string::npos);
}

TEST(SyslogSink, ReconnectsAfterSyslogdRestart) {
  TempDir d;
  const std::string path = d.file("log");
  FakeClock clock;
  SyslogSink s(clock, {.path = path.c_str(), .ident = "passt", .retry = Duration::seconds(1)});
  auto server = std::make_unique<FakeSyslogd>(path);
  s.init();
  s.write(LogLevel::info, "one");
  ASSERT_EQ(server->recv_all().size(), 1u);

  server.reset();  // syslogd goes away...
  server = std::make_unique<FakeSyslogd>(path);  // ...and comes back with a new socket
  clock.t = clock.t + Duration::seconds(2);
  s.write(LogLevel::info, "two");  // refused by the dead peer, reconnect, resend
  auto got = server->recv_all();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find("two"), std::string::npos);
  EXPECT_EQ(s.stats().connect_attempts, 2u);
}

TEST(SyslogSink, FullQueueNeverBlocks) {
  TempDir d;
  FakeSyslogd server(d.file("log"));
  FakeClock clock;
  SyslogSink s(clock, {.path = server.path.c_str(), .ident = "passt"});
  s.init();
  const std::string msg(900, 'm');
  for (int i = 0; i < 5000; i++) s.write(LogLevel::info, msg);  // nobody reads
  EXPECT_GT(s.stats().dropped, 0u);
  EXPECT_GT(s.stats().sent, 0u);
  EXPECT_EQ(s.stats().sent + s.stats().dropped, 5000u);
  EXPECT_TRUE(s.connected());  // a full queue is not a lost connection
}

TEST(FileSink, HeaderEntriesAndMode) {
  TempDir d;
  const std::string path = d.file("passt.log");
  FakeClock clock;
  const Instant start = clock.t;
  FileSink f(clock, start, {.ident = "pasta", .version = "0.1.0"});
  ASSERT_TRUE(f.open(path.c_str()));
  clock.t = start + Duration::seconds(1) + Duration::millis(500);
  f.write(LogLevel::error, "e");
  f.write(LogLevel::warning, "w");
  f.write(LogLevel::info, "i\n");
  clock.t = start + Duration::seconds(75) + Duration::micros(12345);
  f.write(LogLevel::debug, "d");
  f.write(LogLevel::trace, "t");
  const std::string want = "pasta 0.1.0: " + self_exe() + " (" + std::to_string(::getpid()) +
                           ")\n"
                           "1.5000: ERROR:   e\n"
                           "1.5000: WARNING: w\n"
                           "1.5000: info:    i\n"
                           "75.0123:          d\n"
                           "75.0123:          t\n";
  EXPECT_EQ(read_file(path), want);
  EXPECT_EQ(f.size(), want.size());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  f.set_max_level(LogLevel::warning);
  f.write(LogLevel::info, "quiet");
  EXPECT_EQ(read_file(path), want);
}

TEST(FileSink, PreCreatedFileIsTruncatedAndKeepsItsMode) {
  TempDir d;
  const std::string path = d.file("libvirt.log");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
  ASSERT_GE(fd, 0);
  ::fchmod(fd, 0640);
  const std::string old(10000, 'o');
  ASSERT_EQ(::write(fd, old.data(), old.size()), static_cast<ssize_t>(old.size()));
  ::close(fd);

  FakeClock clock;
  FileSink f(clock, clock.t, {.ident = "passt", .version = "v"});
  ASSERT_TRUE(f.open(path.c_str()));
  f.write(LogLevel::info, "fresh");
  auto lines = split_lines(read_file(path));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("passt v: ", 0), 0u);
  EXPECT_EQ(lines[1], "0.0000: info:    fresh");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(FileSink, OpenFailure) {
  FakeClock clock;
  FileSink f(clock, clock.t);
  EXPECT_EQ(f.open("/nonexistent-dir/x.log").err(), Err::no_entry);
  EXPECT_FALSE(f.is_open());
  f.write(LogLevel::error, "nowhere");  // harmless
}

// Writes numbered lines of varying length through the size cap and checks,
// after every write, that the file never exceeds the cap, starts with the
// header, and holds a contiguous suffix of the lines written, all whole.
void exercise_cap(const std::string& path, bool no_collapse, u64* collapse, u64* copy) {
  FakeClock clock;
  const Instant start = clock.t;
  const u64 cap = FileSink::kMinSize;
  FileSink f(clock, start,
             {.ident = "passt", .version = "9.9", .max_size = cap, .no_collapse = no_collapse});
  ASSERT_TRUE(f.open(path.c_str()));
  const std::string header = split_lines(read_file(path))[0];
  const std::regex entry(
      R"(([0-9]+)\.([0-9]{4}): (ERROR:   |WARNING: |info:    |         )line ([0-9]+) x*)");
  const LogLevel levels[] = {LogLevel::error, LogLevel::warning, LogLevel::info, LogLevel::debug};
  const int total = 1500;
  for (int i = 0; i < total; i++) {
    clock.t = start + Duration::millis(i * 7);
    std::string msg = "line " + std::to_string(i) + " " + std::string(static_cast<std::size_t>((i * 37) % 300), 'x');
    f.write(levels[i % 4], msg);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    ASSERT_LE(static_cast<u64>(st.st_size), cap) << "after line " << i;
    ASSERT_EQ(static_cast<u64>(st.st_size), f.size());
    if (i % 97 != 0 && i != total - 1) continue;  // full check now and then
    auto lines = split_lines(read_file(path));
    ASSERT_GE(lines.size(), 2u);
    ASSERT_EQ(lines[0].rfind(header, 0), 0u) << lines[0];
    int expect = -1;
    for (std::size_t k = 1; k < lines.size(); k++) {
      std::smatch m;
      ASSERT_TRUE(std::regex_match(lines[k], m, entry)) << "line " << k << ": " << lines[k];
      const int n = std::stoi(m[4].str());
      if (expect >= 0) {
        ASSERT_EQ(n, expect) << "lines must be contiguous";
      }
      expect = n + 1;
    }
    ASSERT_EQ(expect, i + 1) << "the last line is the last written";
  }
  auto lines = split_lines(read_file(path));
  EXPECT_NE(lines[0].find(" - log truncated at "), std::string::npos) << lines[0];
  *collapse = f.stats().cuts_collapse;
  *copy = f.stats().cuts_copy;
  EXPECT_EQ(f.stats().write_errors, 0u);
}

TEST(FileSink, SizeCapCopyDown) {
  TempDir d;
  u64 collapse = 0, copy = 0;
  exercise_cap(d.file("copy.log"), true, &collapse, &copy);
  EXPECT_EQ(collapse, 0u);
  EXPECT_GT(copy, 3u);
}

TEST(FileSink, SizeCapCollapseRange) {
  TempDir d;
  u64 collapse = 0, copy = 0;
  exercise_cap(d.file("collapse.log"), false, &collapse, &copy);
  EXPECT_GT(collapse + copy, 3u);
  if (collapse == 0) GTEST_SKIP() << "file system without FALLOC_FL_COLLAPSE_RANGE (copy used)";
  EXPECT_EQ(copy, 0u);
}

TEST(FileSink, SizeCapOnTmpfsFallsBack) {
  struct statfs sf {};
  if (::statfs("/dev/shm", &sf) != 0 || sf.f_type != 0x01021994 /* TMPFS_MAGIC */) {
    GTEST_SKIP() << "no tmpfs at /dev/shm";
  }
  TempDir d("/dev/shm");
  if (d.path.empty()) GTEST_SKIP() << "cannot write to /dev/shm";
  u64 collapse = 0, copy = 0;
  exercise_cap(d.file("tmpfs.log"), false, &collapse, &copy);
  EXPECT_GT(copy, 3u);
}

TEST(FileSink, SmallCapsAreRaised) {
  TempDir d;
  const std::string path = d.file("small.log");
  FakeClock clock;
  FileSink f(clock, clock.t, {.max_size = 100});
  ASSERT_TRUE(f.open(path.c_str()));
  for (int i = 0; i < 100; i++) f.write(LogLevel::info, std::string(100, 'y'));
  EXPECT_GT(f.size(), 100u * 100u);  // 10 KiB < kMinSize: no cut yet
  EXPECT_EQ(f.stats().cuts_collapse + f.stats().cuts_copy, 0u);
}

TEST(TeeSink, FansOut) {
  CaptureSink a, b, c, d, e;
  TeeSink t;
  EXPECT_TRUE(t.add(a));
  EXPECT_TRUE(t.add(b));
  EXPECT_TRUE(t.add(a));  // once only
  EXPECT_EQ(t.size(), 2u);
  t.write(LogLevel::warning, "x");
  EXPECT_EQ(a.lines, std::vector<std::string>{"1:x"});
  EXPECT_EQ(b.lines, std::vector<std::string>{"1:x"});
  t.remove(a);
  t.write(LogLevel::error, "y");
  EXPECT_EQ(a.lines.size(), 1u);
  EXPECT_EQ(b.lines.size(), 2u);
  EXPECT_TRUE(t.add(c));
  EXPECT_TRUE(t.add(d));
  EXPECT_TRUE(t.add(e));
  EXPECT_EQ(t.add(a).err(), Err::full);
  t.clear();
  t.write(LogLevel::error, "z");
  EXPECT_EQ(b.lines.size(), 2u);
}

TEST(Logging, StartupPolicy) {
  TempDir d;
  FakeSyslogd server(d.file("dev-log"));
  ASSERT_TRUE(server.bound);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  FakeClock clock;
  {
    Logging log(clock, clock.t);
    log.set_syslog_path(server.path.c_str());
    log.stderr_sink().set_fd(p[1]);
    log.start("pasta");

    // Parsing: stderr and syslog.
    LOG_ERR("bad option");
    EXPECT_EQ(read_pipe(p[0]), "bad option\n");
    auto got = server.recv_all();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_NE(got[0].find("pasta["), std::string::npos);

    // -q: nothing below warning anywhere.
    ASSERT_TRUE(log.configure({.ident = "pasta", .level = log_level_from_flags(false, false, true)}));
    LOG_INFO("Template interface: eth0");
    logf(LogLevel::info, "even through logf()");
    LOG_WARN("careful");
    EXPECT_EQ(read_pipe(p[0]), "careful\n");
    EXPECT_EQ(server.recv_all().size(), 1u);

    // -d: timestamps on stderr, debug to syslog too.
    ASSERT_TRUE(log.configure({.ident = "pasta", .level = LogLevel::debug, .debug = true}));
    clock.t = clock.t + Duration::seconds(2);
    LOG_DEBUG("dbg");
    EXPECT_EQ(read_pipe(p[0]), "2.0000: dbg\n");
    EXPECT_EQ(server.recv_all().size(), 1u);

    // Daemonised: stderr dropped, syslog shows the daemon's pid.
    log.daemonized(777);
    LOG_INFO("running");
    EXPECT_EQ(read_pipe(p[0]), "");
    got = server.recv_all();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_NE(got[0].find("pasta[777]: running"), std::string::npos);

    // -l: the file only.
    const std::string lf = d.file("out.log");
    ASSERT_TRUE(log.configure({.ident = "passt", .version = "1", .level = LogLevel::info,
                               .log_file = lf.c_str()}));
    LOG_INFO("to file");
    EXPECT_EQ(read_pipe(p[0]), "");
    EXPECT_TRUE(server.recv_all().empty());
    auto lines = split_lines(read_file(lf));
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].rfind("passt 1: ", 0), 0u);
    EXPECT_NE(lines[1].find("info:    to file"), std::string::npos);

    // A log file that cannot be opened: the error, and logging stays usable.
    EXPECT_FALSE(log.configure({.level = LogLevel::info, .log_file = "/nonexistent/x.log"}));
  }
  set_log_level(LogLevel::info);
  ::close(p[0]);
  ::close(p[1]);
}

}  // namespace
}  // namespace passt::os
