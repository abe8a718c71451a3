#include "linux/sandbox_netns.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "linux/os_error.hpp"

namespace passt::os {

namespace {

constexpr std::size_t kGuard = 4096;
constexpr int kThreadFlags =
    CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;

// Only this thread ends: glibc's _exit() would be exit_group().
[[noreturn]] void exit_thread() noexcept {
  for (;;) ::syscall(SYS_exit, 0);
}

// One byte each way; EINTR retried (bounded: signals are blocked in the
// thread, and the main thread's are read from a signalfd).
bool put_byte(int fd) noexcept {
  const char b = 1;
  for (int i = 0; i < 1000; i++) {
    const ssize_t n = ::write(fd, &b, 1);
    if (n == 1) return true;
    if (n < 0 && errno != EINTR) return false;
  }
  return false;
}

// 1: a byte; 0: the other end is gone; -1: an error (errno).
int get_byte(int fd) noexcept {
  char b = 0;
  for (int i = 0; i < 1000; i++) {
    const ssize_t n = ::read(fd, &b, 1);
    if (n == 1) return 1;
    if (n == 0) return 0;
    if (errno != EINTR) return -1;
  }
  errno = EINTR;
  return -1;
}

}  // namespace

int NetnsThread::thread_main(void* self) noexcept {
  auto* t = static_cast<NetnsThread*>(self);
  // Process-directed signals go to the main thread (its signalfd).
  sigset_t all;
  sigfillset(&all);
  (void)::sigprocmask(SIG_SETMASK, &all, nullptr);
  int err = 0;
  if (::setns(t->netns_fd_, CLONE_NEWNET) < 0)
    err = errno;
  else if (!set_thread_caps(t->keep_, t->keep_))
    err = errno != 0 ? errno : EPERM;
  t->start_errno_ = err;
  if (!put_byte(t->sv_[1]) || err != 0) exit_thread();
  for (;;) {
    const int r = get_byte(t->sv_[1]);
    if (r <= 0) exit_thread();  // nobody will ever ask again
    NsTask* task = t->task_.load(std::memory_order_acquire);
    if (task != nullptr) task->run();
    if (!put_byte(t->sv_[1])) exit_thread();
  }
}

Status NetnsThread::start(int netns_fd, CapMask keep) noexcept {
  if (tid_ > 0 || stack_ != nullptr) return Err::already;
  if (netns_fd < 0) return Err::bad_handle;
  netns_fd_ = netns_fd;
  keep_ = keep;
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv_) < 0) return last_err();
  size_ = kStack + kGuard;
  void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) return last_err();
  stack_ = static_cast<u8*>(p);
  // A stack overflow faults on the guard page instead of writing below.
  if (::mprotect(stack_, kGuard, PROT_NONE) < 0) return last_err();
  const int tid = ::clone(&NetnsThread::thread_main, stack_ + size_, kThreadFlags, this);
  if (tid < 0) return last_err();
  const int r = get_byte(sv_[0]);
  if (r <= 0) return r == 0 ? Err::other : last_err();
  if (start_errno_ != 0) {
    // The thread exits by itself; its stack is left mapped (it may still be
    // on it), and the process is about to give up anyway.
    const Err e = err_from_errno(start_errno_);
    return e == Err::none ? Err::other : e;
  }
  tid_ = tid;
  return {};
}

Status NetnsThread::execute(NsTask& task) noexcept {
  if (tid_ <= 0) return Err::bad_handle;
  task_.store(&task, std::memory_order_release);
  if (!put_byte(sv_[0])) return last_err();
  const int r = get_byte(sv_[0]);
  task_.store(nullptr, std::memory_order_relaxed);
  if (r <= 0) return r == 0 ? Err::other : last_err();
  return {};
}

NetnsThread& netns_thread() noexcept {
  static NetnsThread t;
  return t;
}

}  // namespace passt::os
