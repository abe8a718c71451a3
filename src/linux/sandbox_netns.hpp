// pasta's resident namespace thread: how a sandboxed pasta still makes
// sockets inside its namespace with no capability left in its main thread
// (docs/security.md, "Capabilities").
//
// Theory of operation
//  * During start-up, sockets in the guest's namespace are made by
//    NetnsRunner (netns.hpp): a clone()d child joins the namespace with
//    setns(), which needs CAP_SYS_ADMIN both in the caller's user namespace
//    and in the one owning the netns.  Keeping that for the whole run (as
//    upstream does) leaves CapEff non-zero and clone()/setns() in the filter.
//  * Instead lock_down() (seccomp.hpp) starts this thread before it drops
//    the last capabilities: clone(CLONE_VM | CLONE_FS | CLONE_FILES |
//    CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM), a thread of our process
//    that glibc does not know about.  It blocks every signal, joins the
//    namespace once (setns() is per thread), reduces its own capabilities to
//    CAP_NET_BIND_SERVICE when the process has it (binding ports below
//    net.ipv4.ip_unprivileged_port_start inside the namespace), and waits.
//  * Capabilities are per thread: the main thread then drops everything, so
//    /proc/PID/status (the main thread's) reads CapEff 0.  The filter is
//    loaded with SECCOMP_FILTER_FLAG_TSYNC: the same filter, and
//    no_new_privs, in both threads; it has no clone, setns or exit.
//  * NetnsRunner::run() for that namespace (set_netns_executor()) becomes:
//    store the task pointer, write one byte on a SOCK_SEQPACKET socketpair,
//    block reading the answer.  The thread reads the byte, runs the task and
//    writes the byte back.  As with the CLONE_VFORK child it replaces, the
//    thread runs only while the main thread sleeps in read(): the thread
//    shares the main thread's TLS (errno, the stack protector canary), and
//    they never use it at the same time.  Tasks still must not allocate,
//    lock or log.  No allocation: the stack is mapped at start.
//  * The thread ends with the process: _exit() is exit_group(), and fatal
//    signals and the filter's kill take the whole thread group.  It exits on
//    its own only when its start fails (before the filter).
//  * A thread cannot be created into another PID namespace: pasta in the
//    foreground therefore does not unshare one (isolation.hpp); a daemon is
//    PID 1 of its own and creates the thread there.
#pragma once

#include <atomic>
#include <cstddef>

#include "linux/isolation.hpp"
#include "linux/netns.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::os {

class NetnsThread final : public NsExecutor {
 public:
  static constexpr std::size_t kStack = std::size_t{256} * 1024;

  NetnsThread() = default;
  NetnsThread(const NetnsThread&) = delete;
  NetnsThread& operator=(const NetnsThread&) = delete;
  ~NetnsThread() override = default;

  // Starts the thread in `netns_fd`'s network namespace (not owned; kept
  // open), keeping `keep` as its effective and permitted capabilities.
  // Needs CAP_SYS_ADMIN for the setns().  Start-up only.  Once.
  Status start(int netns_fd, CapMask keep) noexcept;
  bool running() const noexcept { return tid_ > 0; }
  int tid() const noexcept { return tid_; }

  // NsExecutor: runs task.run() in the thread, waiting for it.
  int netns_fd() const noexcept override { return netns_fd_; }
  Status execute(NsTask& task) noexcept override;

 private:
  static int thread_main(void* self) noexcept;

  int netns_fd_ = -1;
  int sv_[2] = {-1, -1};  // [0]: the main thread's end, [1]: the thread's
  u8* stack_ = nullptr;
  std::size_t size_ = 0;
  CapMask keep_ = 0;
  std::atomic<NsTask*> task_{nullptr};
  int start_errno_ = 0;
  int tid_ = 0;
};

// The process's one namespace thread (started by lock_down() for pasta).
NetnsThread& netns_thread() noexcept;

}  // namespace passt::os
