#include "linux/netns.hpp"

#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "linux/os_error.hpp"

namespace passt::os {

namespace {

constexpr std::size_t kGuard = 4096;

NsExecutor* g_executor = nullptr;  // set_netns_executor()

struct ChildCtx {
  int netns_fd;
  NsTask* task;
  int setns_errno;
};

// Runs in the cloned child, on the mmap()ed stack.
int child_main(void* arg) noexcept {
  auto* ctx = static_cast<ChildCtx*>(arg);
  if (setns(ctx->netns_fd, CLONE_NEWNET) < 0) {
    ctx->setns_errno = errno;
    return 1;
  }
  ctx->task->run();
  return 0;
}

}  // namespace

void set_netns_executor(NsExecutor* ex) noexcept { g_executor = ex; }

NetnsRunner::NetnsRunner(int netns_fd, std::size_t stack_bytes) noexcept
    : fd_(netns_fd), size_((stack_bytes + kGuard - 1) / kGuard * kGuard + kGuard) {}

NetnsRunner::~NetnsRunner() {
  if (stack_ != nullptr) munmap(stack_, size_);
}

Status NetnsRunner::init() noexcept {
  if (fd_ < 0) return Err::bad_handle;
  void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                 -1, 0);
  if (p == MAP_FAILED) return last_err();
  stack_ = static_cast<u8*>(p);
  // Guard page at the low end: a stack overflow faults instead of writing
  // into whatever is mapped below.
  if (mprotect(stack_, kGuard, PROT_NONE) < 0) return last_err();
  return {};
}

Status NetnsRunner::run(NsTask& task) noexcept {
  if (!ready()) return Err::bad_handle;
  if (g_executor != nullptr && g_executor->netns_fd() == fd_) return g_executor->execute(task);
  ChildCtx ctx{fd_, &task, 0};
  // The stack grows down on every architecture we build for: pass its top,
  // 16-byte aligned.
  u8* top = stack_ + size_;
  pid_t pid = clone(child_main, top, CLONE_VM | CLONE_VFORK | CLONE_FILES, &ctx);
  if (pid < 0) return last_err();
  int status = 0;
  // Bounded: EINTR is the only retried error and the child has already
  // exited (CLONE_VFORK).
  while (waitpid(pid, &status, __WALL) < 0) {
    if (errno != EINTR) return last_err();
  }
  if (ctx.setns_errno != 0) {
    Err e = err_from_errno(ctx.setns_errno);
    return e == Err::none ? Err::other : e;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return Err::other;
  return {};
}

}  // namespace passt::os
