// The process contract: daemonising, the pid file, inherited fds, signals.
//
// Theory of operation
//  * What clients rely on (docs/process.md): the launching process exits 0
//    only when the daemon is fully set up, has its stdin/stdout/stderr on
//    /dev/null (Podman reads the combined output until EOF), and the pid
//    file holds the daemon's pid (libvirt and Podman read it after the
//    launcher exits).
//  * daemonize() forks once, after everything that can fail is done.  The
//    parent and child share a socketpair:
//      - the parent writes the child's pid as it sees it (the child may be
//        pid 1 of a new PID namespace and cannot know its outer pid), then
//        blocks reading the socket;
//      - the child calls setsid() and returns a DaemonChild; when the
//        remaining post-fork steps (seccomp...) succeeded it calls
//        DaemonChild::ready(): stdio goes to /dev/null, one byte is written;
//      - on that byte the parent writes the pid file and exits 0.  If the
//        socket closes without it (the child failed or died), the parent
//        reaps the child and exits with its status (1 for a child that
//        exited 0 without being ready; 128 + signal for a killed child), and
//        the pid file stays empty.  If the pid file cannot be written the
//        child is killed and the parent exits 1.
//    Errors between fork and ready() still reach the original stderr, and
//    the launcher's exit status reports them.  Upstream's parent exits right
//    after fork; this only orders the same events.
//  * The pid file is opened early (before dropping privileges and
//    pivot_root; O_CREAT | O_TRUNC, mode 0600) and written later: by the
//    launcher with the daemon's pid, or with getpid() in the foreground.
//  * /dev/null does not exist after pivot_root: open_devnull() early.
//  * close_open_files(): close_range() over everything >= 3 except a keep
//    list (--fd, the log file...); without close_range (Linux < 5.9) it
//    scans /proc/self/fd.
//  * SignalHandler (event loop side): SIGTERM, SIGQUIT and SIGCHLD are
//    blocked and read from a signalfd registered as an FdHandler; SIGPIPE is
//    ignored.  SIGTERM/SIGQUIT stop the loop with exit status 0 (upstream).
//    SIGCHLD reaps: the watched child (pasta's spawned command) ends the loop
//    with its exit status (128 + signal if killed), like upstream pasta;
//    every other exited child is reaped too (in a PID namespace we are init
//    and inherit orphans).  Clone children with exit signal 0 (NetnsRunner)
//    are not touched: waitpid() without __WALL does not see them.
//    Blocked masks and ignored dispositions survive execve(): a spawned
//    command must call reset_signals_for_exec() between fork and exec.
#pragma once

#include <signal.h>

#include <span>

#include "linux/event_loop.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::os {

// /dev/null, O_RDWR | O_CLOEXEC.
Result<int> open_devnull() noexcept;

// Points fds 0, 1 and 2 at `devnull_fd` (dup2).
Status redirect_stdio(int devnull_fd) noexcept;

// Exit status for a wait() status: the exit code, or 128 + signal.
int exit_code_from_wait_status(int status) noexcept;

class PidFile {
 public:
  PidFile() noexcept = default;
  ~PidFile() { close(); }
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

  // Creates or truncates `path` (O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
  // mode 0600).
  Status open(const char* path) noexcept;
  bool is_open() const noexcept { return fd_ >= 0; }
  int fd() const noexcept { return fd_; }
  // Writes "<pid>\n" and closes the file.
  Status write(long pid) noexcept;
  void close() noexcept;

 private:
  int fd_ = -1;
};

enum class CloseMethod : u8 { automatic, proc_scan };

// Closes every fd >= 3 except those in `keep` (at most kMaxKeep entries,
// else Err::invalid; entries < 3 are ignored).
inline constexpr std::size_t kMaxKeep = 16;
Status close_open_files(std::span<const int> keep,
                        CloseMethod how = CloseMethod::automatic) noexcept;

// The daemon's side of daemonize().
class DaemonChild {
 public:
  DaemonChild(int fd, long pid, int devnull_fd) noexcept
      : fd_(fd), pid_(pid), devnull_(devnull_fd) {}
  DaemonChild(DaemonChild&& o) noexcept : fd_(o.fd_), pid_(o.pid_), devnull_(o.devnull_) {
    o.fd_ = -1;
  }
  DaemonChild(const DaemonChild&) = delete;
  DaemonChild& operator=(const DaemonChild&) = delete;
  DaemonChild& operator=(DaemonChild&&) = delete;
  // Deliberately leaves the socket open: without ready(), the launcher
  // learns the outcome when this process exits.
  ~DaemonChild() = default;

  // Our pid as the launcher sees it (for logs; getpid() may be 1).
  long pid() const noexcept { return pid_; }
  int fd() const noexcept { return fd_; }

  // Redirects stdio to /dev/null (when a devnull fd was given), then tells
  // the launcher to write the pid file and exit 0.  Once only.
  Status ready() noexcept;

 private:
  int fd_;
  long pid_;
  int devnull_;
};

// The steps of daemonize(), for tests and other callers.
struct Forked {
  bool child = false;
  long pid = 0;  // the child's pid as the parent sees it (in both processes)
  int fd = -1;   // the readiness socket
};
Result<Forked> fork_daemon() noexcept;
// Parent side: blocks until the child is ready (returns 0) or gone (reaps it
// and returns its exit status, never 0).  Closes `fd`.
int wait_daemon_ready(int fd, long child) noexcept;

// Forks.  Never returns in the parent: it waits for DaemonChild::ready(),
// writes the pid file (if open) and _exit()s (see above).  In the child the
// pid file's fd is closed and a DaemonChild is returned; stdio is still the
// original until ready().  `devnull_fd` < 0: ready() leaves stdio alone.
Result<DaemonChild> daemonize(PidFile* pid_file, int devnull_fd) noexcept;

// ---------------------------------------------------------------------------
class SignalHandler final : public FdHandler {
 public:
  enum class Event : u8 { none, terminate, child_exited };

  explicit SignalHandler(EventLoop& loop) noexcept : loop_(loop) {}
  // Drains pending signals, restores the signal mask init() changed.
  ~SignalHandler() override;
  SignalHandler(const SignalHandler&) = delete;
  SignalHandler& operator=(const SignalHandler&) = delete;

  // Blocks SIGTERM, SIGQUIT and SIGCHLD, ignores SIGPIPE, creates the
  // signalfd and registers it.  Call after daemonize(), in the process that
  // runs the loop.
  Status init() noexcept;
  // Ends the loop when `pid` exits.  Checks once at the next loop iteration
  // too, in case it exited before SIGCHLD was blocked.
  void watch_child(long pid) noexcept;
  // After fork(): a signalfd wakes epoll only for the process that
  // registered it, so the daemon replaces the inherited one.  Signals that
  // arrived in between stay pending (they are blocked) and are not lost.
  Status renew() noexcept;

  // Why the loop was stopped, the status to exit with, and the signal
  // (SIGTERM/SIGQUIT, or the one that killed the child; 0 otherwise).
  Event event() const noexcept { return event_; }
  int exit_code() const noexcept { return exit_code_; }
  int signal_number() const noexcept { return signo_; }
  u64 reaped() const noexcept { return reaped_; }
  int fd() const noexcept { return sfd_; }

  void on_fd_event(int fd, u32 events, Instant now, ports::EventSink& sink) noexcept override;

 private:
  void reap() noexcept;
  void child_exited(int status) noexcept;
  void drain() noexcept;

  EventLoop& loop_;
  int sfd_ = -1;
  bool mask_saved_ = false;
  sigset_t old_mask_{};
  pid_t child_ = 0;
  Event event_ = Event::none;
  int exit_code_ = 0;
  int signo_ = 0;
  u64 reaped_ = 0;
};

// Between fork() and execve() of a spawned command: empty signal mask and
// default SIGPIPE disposition.  Async-signal-safe.
void reset_signals_for_exec() noexcept;

}  // namespace passt::os
