#include "linux/daemon.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "linux/os_error.hpp"
#include "ports/hostnet.hpp"
#include "util/endian.hpp"
#include "util/log.hpp"

namespace passt::os {

namespace {

constexpr int kMaxEintr = 8;
constexpr char kReadyByte = 'R';
// Children reaped per SIGCHLD batch; more are reaped on the next wake-up
// (the signal is re-raised so there is one).
constexpr int kMaxReapPerEvent = 64;
// siginfo structs read per wake-up.
constexpr int kMaxSigReads = 8;
// Without /proc and close_range: the highest fd tried.
constexpr long kMaxFdScan = 1L << 20;

// Writes everything, retrying EINTR; false on error.
bool write_all(int fd, const void* p, std::size_t n) noexcept {
  const auto* c = static_cast<const char*>(p);
  int eintr = 0;
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR && ++eintr < kMaxEintr) continue;
      return false;
    }
    if (w == 0) {
      errno = EIO;
      return false;
    }
    c += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Reads exactly n bytes (retrying EINTR, without bound: the peer decides);
// returns the count read (short at EOF) or -1.
ssize_t read_full(int fd, void* p, std::size_t n) noexcept {
  auto* c = static_cast<char*>(p);
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, c + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

bool in_keep(std::span<const int> keep, int fd) noexcept {
  return std::find(keep.begin(), keep.end(), fd) != keep.end();
}

// Closes every fd >= 3 listed in /proc/self/fd except the kept ones and the
// directory's own fd.  Closing while listing may skip entries, so the listing
// repeats until a pass closes nothing.
Status close_by_scan(std::span<const int> keep) noexcept {
  int dfd = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    // No /proc: try every fd up to the limit.
    rlimit rl{};
    long max = kMaxFdScan;
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
      max = std::min<long>(max, static_cast<long>(rl.rlim_cur));
    }
    for (long fd = 3; fd < max; fd++) {
      if (!in_keep(keep, static_cast<int>(fd))) ::close(static_cast<int>(fd));
    }
    return {};
  }
  alignas(8) char buf[4096];
  for (int pass = 0; pass < 8; pass++) {
    bool closed = false;
    if (::lseek(dfd, 0, SEEK_SET) < 0) break;
    for (;;) {
      ssize_t n = ::getdents64(dfd, buf, sizeof(buf));
      if (n <= 0) break;
      for (ssize_t off = 0; off < n;) {
        dirent64 d{};
        // d_name is the tail of the record: copy the fixed head, read the
        // name in place.
        std::memcpy(&d, buf + off, offsetof(dirent64, d_name));
        const char* name = buf + off + offsetof(dirent64, d_name);
        if (d.d_reclen == 0) break;  // malformed: never loop forever
        off += d.d_reclen;
        if (name[0] < '0' || name[0] > '9') continue;
        long v = 0;
        for (const char* p = name; *p >= '0' && *p <= '9' && v < INT_MAX / 10; p++) {
          v = v * 10 + (*p - '0');
        }
        const int fd = static_cast<int>(v);
        if (fd < 3 || fd == dfd || in_keep(keep, fd)) continue;
        ::close(fd);
        closed = true;
      }
    }
    if (!closed) break;
  }
  ::close(dfd);
  return {};
}

}  // namespace

Result<int> open_devnull() noexcept {
  int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd < 0) return last_err();
  return fd;
}

Status redirect_stdio(int devnull_fd) noexcept {
  for (int fd = 0; fd <= 2; fd++) {
    if (fd == devnull_fd) continue;
    if (::dup2(devnull_fd, fd) < 0) return last_err();
  }
  return {};
}

int exit_code_from_wait_status(int status) noexcept {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// --- PidFile -----------------------------------------------------------------

Status PidFile::open(const char* path) noexcept {
  close();
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, S_IRUSR | S_IWUSR);
  if (fd < 0) return last_err();
  fd_ = fd;
  return {};
}

Status PidFile::write(long pid) noexcept {
  if (fd_ < 0) return Err::bad_handle;
  char buf[24];
  int n = std::snprintf(buf, sizeof(buf), "%ld\n", pid);
  Status s;
  if (n <= 0 || !write_all(fd_, buf, static_cast<std::size_t>(n))) s = last_err();
  close();
  return s;
}

void PidFile::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

// --- close_open_files --------------------------------------------------------

Status close_open_files(std::span<const int> keep_in, CloseMethod how) noexcept {
  if (keep_in.size() > kMaxKeep) return Err::invalid;
  std::array<int, kMaxKeep> keep{};
  std::size_t nk = 0;
  for (int fd : keep_in) {
    if (fd >= 3) keep[nk++] = fd;
  }
  std::sort(keep.begin(), keep.begin() + static_cast<std::ptrdiff_t>(nk));
  const std::span<const int> kept(keep.data(), nk);

  if (how == CloseMethod::automatic) {
    unsigned lo = 3;
    bool ok = true;
    for (int k : kept) {
      const auto uk = static_cast<unsigned>(k);
      if (uk > lo && ::close_range(lo, uk - 1, 0) < 0) {
        ok = false;
        break;
      }
      lo = std::max(lo, uk + 1);
    }
    if (ok && ::close_range(lo, UINT_MAX, 0) == 0) return {};
    if (errno != ENOSYS && errno != EINVAL) return last_err();
  }
  return close_by_scan(kept);
}

// --- daemonize ---------------------------------------------------------------

Status DaemonChild::ready() noexcept {
  if (fd_ < 0) return Err::invalid;
  if (devnull_ >= 0) {
    if (Status s = redirect_stdio(devnull_); !s) return s;
  }
  const char b = kReadyByte;
  const bool ok = write_all(fd_, &b, 1);
  const Err e = ok ? Err::none : last_err();
  ::close(fd_);
  fd_ = -1;
  if (!ok) return e;
  return {};
}

Result<Forked> fork_daemon() noexcept {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return last_err();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const Err e = last_err();
    ::close(sv[0]);
    ::close(sv[1]);
    return e;
  }
  if (pid == 0) {
    ::close(sv[0]);
    (void)::setsid();  // cannot fail: a fresh child is no group leader
    // The parent sends our pid as it sees it right after fork; if it died
    // first, getpid() is the best we have.
    u8 b[8];
    long outer = static_cast<long>(::getpid());
    if (read_full(sv[1], b, sizeof(b)) == static_cast<ssize_t>(sizeof(b))) {
      outer = static_cast<long>(load_be64(b));
    }
    return Forked{.child = true, .pid = outer, .fd = sv[1]};
  }
  ::close(sv[1]);
  u8 b[8];
  store_be64(b, static_cast<u64>(pid));
  (void)::send(sv[0], b, sizeof(b), MSG_NOSIGNAL);
  return Forked{.child = false, .pid = static_cast<long>(pid), .fd = sv[0]};
}

int wait_daemon_ready(int fd, long child) noexcept {
  char b = 0;
  const ssize_t n = read_full(fd, &b, 1);
  ::close(fd);
  if (n == 1 && b == kReadyByte) return 0;
  int status = 0;
  pid_t r = -1;
  do {
    r = ::waitpid(static_cast<pid_t>(child), &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return 1;
  const int code = exit_code_from_wait_status(status);
  return code == 0 ? 1 : code;
}

Result<DaemonChild> daemonize(PidFile* pid_file, int devnull_fd) noexcept {
  Result<Forked> f = fork_daemon();
  if (!f) return f.err();
  if (f->child) {
    if (pid_file != nullptr) pid_file->close();  // the parent writes it
    return DaemonChild(f->fd, f->pid, devnull_fd);
  }
  int code = wait_daemon_ready(f->fd, f->pid);
  if (code == 0 && pid_file != nullptr && pid_file->is_open()) {
    if (Status s = pid_file->write(f->pid); !s) {
      LOG_ERR("cannot write PID file: %s", err_name(s.err()));
      ::kill(static_cast<pid_t>(f->pid), SIGKILL);
      code = 1;
    }
  }
  ::_exit(code);
}

// --- SignalHandler -----------------------------------------------------------

Status SignalHandler::init() noexcept {
  if (sfd_ >= 0) return Err::already;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGQUIT);
  sigaddset(&set, SIGCHLD);
  if (::sigprocmask(SIG_BLOCK, &set, &old_mask_) < 0) return last_err();
  mask_saved_ = true;
  struct sigaction sa {};
  sa.sa_handler = SIG_IGN;
  sigemptyset(&sa.sa_mask);
  if (::sigaction(SIGPIPE, &sa, nullptr) < 0) return last_err();
  int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return last_err();
  if (Status s = loop_.add_handler(fd, ports::ev::in, *this); !s) {
    ::close(fd);
    return s;
  }
  sfd_ = fd;
  return {};
}

Status SignalHandler::renew() noexcept {
  if (sfd_ < 0) return init();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGQUIT);
  sigaddset(&set, SIGCHLD);
  int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return last_err();
  loop_.remove_handler(sfd_);
  ::close(sfd_);
  sfd_ = -1;
  if (Status s = loop_.add_handler(fd, ports::ev::in, *this); !s) {
    ::close(fd);
    return s;
  }
  sfd_ = fd;
  return {};
}

SignalHandler::~SignalHandler() {
  if (sfd_ >= 0) {
    loop_.remove_handler(sfd_);
    drain();
    ::close(sfd_);
    sfd_ = -1;
  }
  if (mask_saved_) ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
}

void SignalHandler::drain() noexcept {
  signalfd_siginfo si[kMaxSigReads];
  for (int i = 0; i < kMaxSigReads; i++) {
    if (::read(sfd_, si, sizeof(si)) <= 0) return;
  }
}

void SignalHandler::watch_child(long pid) noexcept {
  child_ = static_cast<pid_t>(pid);
  // The child may have exited before SIGCHLD was blocked (that SIGCHLD was
  // discarded): a pending SIGCHLD makes the next iteration look.
  if (sfd_ >= 0) ::raise(SIGCHLD);
}

void SignalHandler::on_fd_event(int, u32, Instant, ports::EventSink&) noexcept {
  signalfd_siginfo si[kMaxSigReads];
  bool chld = false;
  for (int round = 0; round < kMaxSigReads; round++) {
    ssize_t n = ::read(sfd_, si, sizeof(si));
    if (n <= 0) break;
    const auto cnt = static_cast<std::size_t>(n) / sizeof(si[0]);
    for (std::size_t i = 0; i < cnt; i++) {
      const int sig = static_cast<int>(si[i].ssi_signo);
      if (sig == SIGCHLD) {
        chld = true;
      } else if (sig == SIGTERM || sig == SIGQUIT) {
        if (event_ == Event::none) {
          event_ = Event::terminate;
          exit_code_ = 0;
          signo_ = sig;
          LOG_DEBUG("%s received, exiting", sig == SIGTERM ? "SIGTERM" : "SIGQUIT");
        }
        loop_.stop();
      }
    }
    if (cnt < kMaxSigReads) break;
  }
  if (chld) reap();
}

void SignalHandler::reap() noexcept {
  int status = 0;
  if (child_ > 0 && ::waitpid(child_, &status, WNOHANG) == child_) {
    reaped_++;
    child_exited(status);
  }
  for (int i = 0; i < kMaxReapPerEvent; i++) {
    const pid_t r = ::waitpid(-1, &status, WNOHANG);
    if (r <= 0) return;
    reaped_++;
    // The watched child may have exited just after the check above.
    if (child_ > 0 && r == child_) child_exited(status);
  }
  ::raise(SIGCHLD);  // more to reap: come back next iteration
}

void SignalHandler::child_exited(int status) noexcept {
  child_ = 0;
  if (event_ == Event::none) {
    event_ = Event::child_exited;
    exit_code_ = exit_code_from_wait_status(status);
    signo_ = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    LOG_DEBUG("child exited, status %d", exit_code_);
  }
  loop_.stop();
}

void reset_signals_for_exec() noexcept {
  sigset_t none;
  sigemptyset(&none);
  (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  (void)::sigaction(SIGPIPE, &sa, nullptr);
}

}  // namespace passt::os
