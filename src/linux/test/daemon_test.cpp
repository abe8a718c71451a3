#include "linux/daemon.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "linux/clock.hpp"
#include "linux/test/test_support.hpp"

namespace passt::os {
namespace {

constexpr int kWaitMs = 10000;  // bound for every wait (never reached when things work)

// Waits for `pid` (a child, or an orphan we reap as subreaper) to exit;
// returns its wait status, or -1 if it did not exit in time.
int wait_exit(pid_t pid, int timeout_ms = kWaitMs) {
  int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pfd >= 0) {
    pollfd p{pfd, POLLIN, 0};
    const int r = ::poll(&p, 1, timeout_ms);
    ::close(pfd);
    if (r != 1) return -1;
  }
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &st, 0);
  } while (r < 0 && errno == EINTR);
  return r == pid ? st : -1;
}

// Reads exactly n bytes within the bound.
bool read_exact(int fd, void* buf, std::size_t n, int timeout_ms = kWaitMs) {
  auto* p = static_cast<char*>(buf);
  std::size_t got = 0;
  while (got < n) {
    if (!test::wait_fd(fd, POLLIN, timeout_ms)) return false;
    ssize_t r = ::read(fd, p + got, n - got);
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

// Reads until EOF within the bound; false if EOF did not come.
bool read_to_eof(int fd, std::string* out, int timeout_ms = kWaitMs) {
  char buf[4096];
  for (;;) {
    if (!test::wait_fd(fd, POLLIN, timeout_ms)) return false;
    ssize_t r = ::read(fd, buf, sizeof(buf));
    if (r < 0) return false;
    if (r == 0) return true;
    out->append(buf, static_cast<std::size_t>(r));
  }
}

std::string file_contents(const std::string& path) {
  std::string s;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "<missing>";
  char buf[256];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) s.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return s;
}

std::string fd_target(long pid, int fd) {
  char path[64], buf[256];
  std::snprintf(path, sizeof(path), "/proc/%ld/fd/%d", pid, fd);
  ssize_t n = ::readlink(path, buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "<none>";
}

class TempDirTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string t = testing::TempDir() + "passt_daemonXXXXXX";
    std::vector<char> b(t.begin(), t.end());
    b.push_back('\0');
    ASSERT_NE(::mkdtemp(b.data()), nullptr);
    dir_ = b.data();
    pid_path_ = dir_ + "/passt.pid";
  }
  void TearDown() override {
    ::unlink(pid_path_.c_str());
    ::rmdir(dir_.c_str());
  }
  std::string dir_, pid_path_;
};

// --- small helpers -----------------------------------------------------------

TEST(Daemon, ExitCodeFromWaitStatus) {
  pid_t a = ::fork();
  if (a == 0) ::_exit(5);
  pid_t b = ::fork();
  if (b == 0) {
    ::raise(SIGKILL);
    ::_exit(0);
  }
  const int sa = wait_exit(a), sb = wait_exit(b);
  EXPECT_EQ(exit_code_from_wait_status(sa), 5);
  EXPECT_EQ(exit_code_from_wait_status(sb), 128 + SIGKILL);
}

TEST(Daemon, DevnullAndRedirect) {
  Result<int> dn = open_devnull();
  ASSERT_TRUE(dn);
  EXPECT_EQ(::fcntl(*dn, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!redirect_stdio(*dn)) ::_exit(1);
    for (int fd = 0; fd <= 2; fd++) {
      if (fd_target(::getpid(), fd) != "/dev/null") ::_exit(2 + fd);
    }
    ::_exit(0);
  }
  ::close(*dn);
  const int st = wait_exit(pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST_F(TempDirTest, PidFileForeground) {
  // An old file is truncated on open; the pid is written later.
  {
    int fd = ::open(pid_path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_EQ(::write(fd, "99999999\n", 9), 9);
    ::close(fd);
  }
  PidFile pf;
  ASSERT_TRUE(pf.open(pid_path_.c_str()));
  EXPECT_TRUE(pf.is_open());
  EXPECT_EQ(file_contents(pid_path_), "");
  ASSERT_TRUE(pf.write(static_cast<long>(::getpid())));
  EXPECT_FALSE(pf.is_open());
  EXPECT_EQ(file_contents(pid_path_), std::to_string(::getpid()) + "\n");
  EXPECT_EQ(pf.write(1).err(), Err::bad_handle);  // once

  ::unlink(pid_path_.c_str());
  PidFile fresh;
  ASSERT_TRUE(fresh.open(pid_path_.c_str()));
  struct stat st {};
  ASSERT_EQ(::stat(pid_path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  PidFile bad;
  EXPECT_EQ(bad.open("/nonexistent-dir/p.pid").err(), Err::no_entry);
}

// --- close_open_files -------------------------------------------------------

// In a child: opens fds, keeps some, closes the rest; reports what is left.
void check_close(CloseMethod how) {
  int rep[2];
  ASSERT_EQ(::pipe2(rep, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(rep[0]);
    int dn = ::open("/dev/null", O_RDWR);
    std::array<int, 8> fds{};
    for (int& fd : fds) fd = ::dup(dn);
    const int high_keep = ::dup2(dn, 900), high_drop = ::dup2(dn, 1000);
    const int keep[] = {fds[1], fds[4], rep[1], high_keep, 1, -1, fds[4]};
    u32 result = 0;
    if (!close_open_files(keep, how)) result |= 1u << 31;
    for (std::size_t i = 0; i < fds.size(); i++) {
      if (::fcntl(fds[i], F_GETFD) >= 0) result |= 1u << i;
    }
    if (::fcntl(high_keep, F_GETFD) >= 0) result |= 1u << 8;
    if (::fcntl(high_drop, F_GETFD) >= 0) result |= 1u << 9;
    if (::fcntl(dn, F_GETFD) >= 0) result |= 1u << 10;
    for (int fd = 0; fd <= 2; fd++) {
      if (::fcntl(fd, F_GETFD) < 0) result |= 1u << (11 + fd);
    }
    // Nothing else is open: list /proc/self/fd (its own fd aside).
    if (DIR* d = ::opendir("/proc/self/fd")) {
      const std::set<int> allowed = {0, 1, 2, fds[1], fds[4], rep[1], high_keep, ::dirfd(d)};
      while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        if (allowed.count(std::atoi(e->d_name)) == 0) result |= 1u << 14;
      }
      ::closedir(d);
    }
    (void)!::write(rep[1], &result, sizeof(result));
    ::_exit(0);
  }
  ::close(rep[1]);
  u32 result = 0xffffffff;
  EXPECT_TRUE(read_exact(rep[0], &result, sizeof(result)));
  ::close(rep[0]);
  EXPECT_EQ(WEXITSTATUS(wait_exit(pid)), 0);
  EXPECT_EQ(result, (1u << 1) | (1u << 4) | (1u << 8));
}

TEST(Daemon, CloseOpenFilesCloseRange) { check_close(CloseMethod::automatic); }
TEST(Daemon, CloseOpenFilesProcScan) { check_close(CloseMethod::proc_scan); }

TEST(Daemon, CloseOpenFilesKeepListBound) {
  std::array<int, kMaxKeep + 1> keep{};
  EXPECT_EQ(close_open_files(keep).err(), Err::invalid);
}

// --- the readiness handshake -------------------------------------------------

TEST(Daemon, HandshakeInProcess) {
  int rep[2];
  ASSERT_EQ(::pipe2(rep, O_CLOEXEC), 0);
  Result<Forked> f = fork_daemon();
  ASSERT_TRUE(f);
  if (f->child) {
    // The daemon: no gtest here, report and leave.
    long v[3] = {f->pid, static_cast<long>(::getpid()), static_cast<long>(::getsid(0))};
    (void)!::write(rep[1], v, sizeof(v));
    DaemonChild d(f->fd, f->pid, -1);
    ::_exit(d.ready() ? 0 : 1);
  }
  ::close(rep[1]);
  EXPECT_EQ(wait_daemon_ready(f->fd, f->pid), 0);
  long v[3] = {};
  ASSERT_TRUE(read_exact(rep[0], v, sizeof(v)));
  ::close(rep[0]);
  EXPECT_EQ(v[0], f->pid);  // the pid the parent sent
  EXPECT_EQ(v[1], f->pid);  // no PID namespace here: the same
  EXPECT_EQ(v[2], f->pid);  // session leader
  const int st = wait_exit(static_cast<pid_t>(f->pid));
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(Daemon, HandshakeChildFailures) {
  struct Case {
    int how;  // 0: exit 3, 1: exit 0 without ready, 2: killed
    int want;
  };
  for (Case c : {Case{0, 3}, Case{1, 1}, Case{2, 128 + SIGKILL}}) {
    Result<Forked> f = fork_daemon();
    ASSERT_TRUE(f);
    if (f->child) {
      if (c.how == 2) ::raise(SIGKILL);
      ::_exit(c.how == 0 ? 3 : 0);
    }
    EXPECT_EQ(wait_daemon_ready(f->fd, f->pid), c.want) << "case " << c.how;
    errno = 0;
    EXPECT_EQ(::waitpid(static_cast<pid_t>(f->pid), nullptr, WNOHANG), -1);  // reaped
    EXPECT_EQ(errno, ECHILD);
  }
}

// --- daemonize() end to end ---------------------------------------------------
//
// The test plays the client (Podman, libvirt): it forks a launcher whose
// stdout and stderr are one pipe, the launcher opens the pid file and
// daemonizes.  We are the subreaper, so the daemon is ours to wait for.

enum class DaemonPlan { ready, exit3, exit0, killed };

struct LaunchResult {
  int launcher_status = -1;
  bool output_eof = false;  // EOF on the client's pipe after the launcher exited
  std::string output;
  long daemon_pid = 0;      // DaemonChild::pid(), as reported by the daemon
  long daemon_getpid = 0;
  std::string pid_file;
  std::string fd0, fd1, fd2;
  long sid = 0;
  int daemon_status = -1;
};

LaunchResult launch(DaemonPlan plan, const std::string& pid_path) {
  LaunchResult res;
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  int out[2], hold[2], info[2];
  if (::pipe2(out, O_CLOEXEC) < 0 || ::pipe2(hold, O_CLOEXEC) < 0 || ::pipe2(info, O_CLOEXEC) < 0) {
    return res;
  }
  const pid_t launcher = ::fork();
  if (launcher == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::close(out[0]);
    ::close(out[1]);
    ::close(hold[1]);
    ::close(info[0]);
    PidFile pf;
    if (!pf.open(pid_path.c_str())) ::_exit(90);
    Result<int> dn = open_devnull();
    if (!dn) ::_exit(91);
    Result<DaemonChild> d = daemonize(&pf, *dn);
    if (!d) ::_exit(92);
    // The daemon.
    if (pf.is_open()) ::_exit(93);  // its copy of the pid file is closed
    const char pre[] = "before ready\n";
    (void)!::write(2, pre, sizeof(pre) - 1);
    switch (plan) {
      case DaemonPlan::exit3: ::_exit(3);
      case DaemonPlan::exit0: ::_exit(0);
      case DaemonPlan::killed: ::raise(SIGKILL); break;
      case DaemonPlan::ready: break;
    }
    if (!d->ready()) ::_exit(94);
    const char post[] = "after ready\n";
    (void)!::write(1, post, sizeof(post) - 1);
    (void)!::write(2, post, sizeof(post) - 1);
    long v[2] = {d->pid(), static_cast<long>(::getpid())};
    (void)!::write(info[1], v, sizeof(v));
    char c;
    (void)!::read(hold[0], &c, 1);  // until the test lets go
    ::_exit(0);
  }
  ::close(out[1]);
  ::close(hold[0]);
  ::close(info[1]);
  res.launcher_status = wait_exit(launcher);
  res.output_eof = read_to_eof(out[0], &res.output);
  res.pid_file = file_contents(pid_path);
  if (plan == DaemonPlan::ready) {
    long v[2] = {};
    if (read_exact(info[0], v, sizeof(v))) {
      res.daemon_pid = v[0];
      res.daemon_getpid = v[1];
      // Inspected while it runs (blocked on `hold`).
      res.fd0 = fd_target(v[0], 0);
      res.fd1 = fd_target(v[0], 1);
      res.fd2 = fd_target(v[0], 2);
      res.sid = static_cast<long>(::getsid(static_cast<pid_t>(v[0])));
      ::close(hold[1]);
      hold[1] = -1;
      res.daemon_status = wait_exit(static_cast<pid_t>(v[0]));
    }
  }
  if (hold[1] >= 0) ::close(hold[1]);
  ::close(out[0]);
  ::close(info[0]);
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  return res;
}

TEST_F(TempDirTest, DaemonizeReadyMeansExit0PidFileAndClosedOutput) {
  const LaunchResult r = launch(DaemonPlan::ready, pid_path_);
  ASSERT_TRUE(WIFEXITED(r.launcher_status)) << r.launcher_status;
  EXPECT_EQ(WEXITSTATUS(r.launcher_status), 0);
  // The daemon was still running when we saw EOF: its stdout and stderr
  // were closed before the launcher exited (Podman's condition).
  EXPECT_TRUE(r.output_eof);
  EXPECT_EQ(r.output, "before ready\n");  // errors before ready() still reach the client
  ASSERT_GT(r.daemon_pid, 0);
  EXPECT_EQ(r.daemon_pid, r.daemon_getpid);
  EXPECT_EQ(r.pid_file, std::to_string(r.daemon_pid) + "\n");
  EXPECT_EQ(r.fd0, "/dev/null");
  EXPECT_EQ(r.fd1, "/dev/null");
  EXPECT_EQ(r.fd2, "/dev/null");
  EXPECT_EQ(r.sid, r.daemon_pid);  // session leader
  ASSERT_TRUE(WIFEXITED(r.daemon_status)) << r.daemon_status;
  EXPECT_EQ(WEXITSTATUS(r.daemon_status), 0);
}

TEST_F(TempDirTest, DaemonizeFailureBeforeReadyIsReported) {
  struct Case {
    DaemonPlan plan;
    int code;
  };
  for (Case c : {Case{DaemonPlan::exit3, 3}, Case{DaemonPlan::exit0, 1},
                 Case{DaemonPlan::killed, 128 + SIGKILL}}) {
    const LaunchResult r = launch(c.plan, pid_path_);
    ASSERT_TRUE(WIFEXITED(r.launcher_status));
    EXPECT_EQ(WEXITSTATUS(r.launcher_status), c.code);
    EXPECT_TRUE(r.output_eof);
    EXPECT_EQ(r.output, "before ready\n");
    EXPECT_EQ(r.pid_file, "");  // opened (truncated), never written
  }
}

// --- signals -----------------------------------------------------------------

bool blocked(int sig) {
  sigset_t cur;
  ::sigprocmask(SIG_BLOCK, nullptr, &cur);
  return sigismember(&cur, sig) == 1;
}

class SignalTest : public testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(loop_.init()); }
  bool run_until_event(SignalHandler& sh) {
    return test::run_until(loop_, sink_, [&] { return sh.event() != SignalHandler::Event::none; },
                           Duration::seconds(10));
  }
  MonotonicClock clock_;
  EventLoop loop_{clock_};
  test::RecordingSink sink_;
};

TEST_F(SignalTest, TermAndQuitStopTheLoopWithExit0) {
  for (int sig : {SIGTERM, SIGQUIT}) {
    ASSERT_FALSE(blocked(sig));
    {
      SignalHandler sh(loop_);
      ASSERT_TRUE(sh.init());
      EXPECT_TRUE(blocked(sig));
      EXPECT_EQ(sh.init().err(), Err::already);
      ::raise(sig);
      ASSERT_TRUE(run_until_event(sh));
      EXPECT_EQ(sh.event(), SignalHandler::Event::terminate);
      EXPECT_EQ(sh.exit_code(), 0);
      EXPECT_EQ(sh.signal_number(), sig);
      EXPECT_TRUE(loop_.stopping());
      // A later child exit does not change the outcome.
      pid_t p = ::fork();
      if (p == 0) ::_exit(9);
      sh.watch_child(p);
      ASSERT_TRUE(test::run_until(loop_, sink_, [&] { return sh.reaped() >= 1; }));
      EXPECT_EQ(sh.event(), SignalHandler::Event::terminate);
      EXPECT_EQ(sh.exit_code(), 0);
    }
    EXPECT_FALSE(blocked(sig));  // the destructor restored the mask
  }
}

TEST_F(SignalTest, WatchedChildExitStatus) {
  SignalHandler sh(loop_);
  ASSERT_TRUE(sh.init());
  int gate[2];
  ASSERT_EQ(::pipe2(gate, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(gate[1]);
    char c;
    (void)!::read(gate[0], &c, 1);
    ::_exit(7);
  }
  ::close(gate[0]);
  sh.watch_child(pid);
  ASSERT_TRUE(loop_.run_once(sink_, Duration::millis(50)));
  EXPECT_EQ(sh.event(), SignalHandler::Event::none);  // still running
  ::close(gate[1]);  // now it exits
  ASSERT_TRUE(run_until_event(sh));
  EXPECT_EQ(sh.event(), SignalHandler::Event::child_exited);
  EXPECT_EQ(sh.exit_code(), 7);
  EXPECT_EQ(sh.signal_number(), 0);
  EXPECT_TRUE(loop_.stopping());
  errno = 0;
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST_F(SignalTest, WatchedChildKilled) {
  SignalHandler sh(loop_);
  ASSERT_TRUE(sh.init());
  int gate[2];
  ASSERT_EQ(::pipe2(gate, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    char c;
    (void)!::read(gate[0], &c, 1);
    ::_exit(0);
  }
  ::close(gate[0]);
  sh.watch_child(pid);
  ::kill(pid, SIGKILL);
  ASSERT_TRUE(run_until_event(sh));
  EXPECT_EQ(sh.exit_code(), 128 + SIGKILL);
  EXPECT_EQ(sh.signal_number(), SIGKILL);
  ::close(gate[1]);
}

TEST_F(SignalTest, ChildThatExitedBeforeTheHandlerIsNoticed) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(5);
  siginfo_t si{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOWAIT), 0);  // exited, not reaped
  SignalHandler sh(loop_);
  ASSERT_TRUE(sh.init());  // its SIGCHLD is long gone
  sh.watch_child(pid);
  ASSERT_TRUE(run_until_event(sh));
  EXPECT_EQ(sh.event(), SignalHandler::Event::child_exited);
  EXPECT_EQ(sh.exit_code(), 5);
}

TEST_F(SignalTest, OtherChildrenAreReapedWithoutStopping) {
  SignalHandler sh(loop_);
  ASSERT_TRUE(sh.init());
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ASSERT_TRUE(test::run_until(loop_, sink_, [&] { return sh.reaped() >= 1; }));
  EXPECT_EQ(sh.event(), SignalHandler::Event::none);
  EXPECT_FALSE(loop_.stopping());
  errno = 0;
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST_F(SignalTest, SigpipeIgnored) {
  SignalHandler sh(loop_);
  ASSERT_TRUE(sh.init());
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  ::close(p[0]);
  errno = 0;
  EXPECT_EQ(::write(p[1], "x", 1), -1);  // still alive
  EXPECT_EQ(errno, EPIPE);
  ::close(p[1]);
}

TEST_F(SignalTest, ResetForExec) {
  SignalHandler sh(loop_);
  ASSERT_TRUE(sh.init());
  const pid_t pid = ::fork();
  if (pid == 0) {
    reset_signals_for_exec();
    // A spawned shell must be killable by SIGTERM and see SIGPIPE.
    ::execl("/bin/sh", "sh", "-c", "kill -TERM $$; exit 3", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const int st = wait_exit(pid);
  ASSERT_TRUE(WIFSIGNALED(st)) << st;
  EXPECT_EQ(WTERMSIG(st), SIGTERM);

  const pid_t pid2 = ::fork();
  if (pid2 == 0) {
    reset_signals_for_exec();
    sigset_t cur;
    ::sigprocmask(SIG_BLOCK, nullptr, &cur);
    struct sigaction sa {};
    ::sigaction(SIGPIPE, nullptr, &sa);
    const bool ok = sigismember(&cur, SIGTERM) == 0 && sigismember(&cur, SIGCHLD) == 0 &&
                    sa.sa_handler == SIG_DFL;
    ::_exit(ok ? 0 : 1);
  }
  const int st2 = wait_exit(pid2);
  EXPECT_TRUE(WIFEXITED(st2) && WEXITSTATUS(st2) == 0) << st2;
}

}  // namespace
}  // namespace passt::os
