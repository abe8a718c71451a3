// Running a short piece of code inside another network namespace.
//
// Sockets remember the netns they were created in, so creating one "in the
// guest's namespace" only needs the creating task to be there for the
// socket() call.  We never move the main thread: after pasta joins or creates
// a user namespace it usually holds no capability over the host's netns, so
// it could enter the guest's namespace but never come back.
//
// Instead, like upstream's NS_CALL, a short-lived child task is cloned with
// CLONE_VM | CLONE_VFORK | CLONE_FILES: it shares our memory and fd table,
// joins the namespace with setns(), runs the task and exits.  CLONE_VFORK
// suspends us until then, so the child may write into our memory (and our
// errno) without races.  The child's exit signal is 0: it raises no SIGCHLD
// and a waitpid()/waitid() without __WALL/__WCLONE (pasta reaping its
// command) never sees it; we reap it by pid with __WALL.
// The child's stack is mmap()ed once at construction (with a guard page):
// running a task allocates nothing.
#pragma once

#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::os {

// Work to do inside the namespace.  run() executes in the child task: it may
// make syscalls and write into memory it shares with the caller, but must not
// allocate, take locks (no stdio, no logging) or throw.
class NsTask {
 public:
  virtual ~NsTask() = default;
  virtual void run() noexcept = 0;
};

// Something already inside a namespace that can run tasks there: pasta's
// resident thread once sandboxed (sandbox_netns.hpp), which needs neither
// clone() nor setns() nor CAP_SYS_ADMIN at run time.
class NsExecutor {
 public:
  virtual ~NsExecutor() = default;
  virtual int netns_fd() const noexcept = 0;
  virtual Status execute(NsTask& task) noexcept = 0;
};

// Process-wide: from now on NetnsRunner::run() for the executor's netns fd
// hands the task to it instead of cloning a child (nullptr: clone again).
void set_netns_executor(NsExecutor* ex) noexcept;

class NetnsRunner {
 public:
  static constexpr std::size_t kDefaultStack = std::size_t{256} * 1024;

  // `netns_fd`: an open /proc/PID/ns/net (or bind mount); not owned.
  explicit NetnsRunner(int netns_fd, std::size_t stack_bytes = kDefaultStack) noexcept;
  ~NetnsRunner();
  NetnsRunner(const NetnsRunner&) = delete;
  NetnsRunner& operator=(const NetnsRunner&) = delete;

  // Maps the child stack.
  Status init() noexcept;
  bool ready() const noexcept { return stack_ != nullptr && fd_ >= 0; }
  int netns_fd() const noexcept { return fd_; }

  // Runs task.run() inside the namespace.  Fails (without running the task)
  // if clone() or setns() fails.
  Status run(NsTask& task) noexcept;

 private:
  int fd_;
  std::size_t size_;
  u8* stack_ = nullptr;
};

}  // namespace passt::os
