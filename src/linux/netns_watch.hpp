// Noticing that pasta's namespace went away (upstream: "netns quit"), so
// that a per-container pasta exits by itself (clients.md: Podman never kills
// it and restarts fail while it lingers).
//
// Theory of operation
//  * Path mode (--netns PATH, or any namespace file): at watch time we
//    record the (st_dev, st_ino) the path resolves to (the nsfs inode of the
//    namespace) and keep an O_PATH fd on its directory, so checks keep
//    working after the process gave up its filesystem view (pivot_root).
//    The namespace is gone when fstatat(dirfd, name) fails with ENOENT,
//    ESRCH, ENOTDIR, ESTALE or ENODEV, or resolves to another inode: Podman
//    and `ip netns delete` unmount the nsfs bind mount and then unlink the
//    file; after the umount alone the name is a plain file again (another
//    inode), which counts as gone too.
//  * Two triggers run the check, both FdHandlers on the EventLoop:
//      - inotify on the directory (IN_DELETE, IN_MOVED_FROM for our name;
//        IN_DELETE_SELF, IN_MOVE_SELF, IN_UNMOUNT, IN_Q_OVERFLOW for the
//        directory): immediate;
//      - a periodic timerfd: Options::poll (default 50 ms) where inotify does
//        not report deletions (procfs, sysfs, devpts, nsfs: /proc/PID/ns/net),
//        else Options::slow_poll (default 1 s) as a backstop for changes
//        inotify cannot see (an umount without unlink).
//    Worst-case detection is therefore immediate with inotify and one poll
//    interval without.  (Upstream: inotify, or a 1 s timer on procfs.)
//  * PID mode (`pasta PID`): a pidfd (pidfd_open, Linux >= 5.3) becomes
//    readable when the process exits, which is also when /proc/PID/ns/net
//    stops resolving: immediate.  The pasta-spawned command's pidfd can be
//    watched the same way (watch_pidfd).
//  * Once gone, every watch is removed and Listener::on_netns_gone() runs
//    once, from the loop; what to do (upstream: exit 0) is the owner's call.
//  * Syscalls: inotify_init1, inotify_add_watch, timerfd_create,
//    timerfd_settime, open(O_PATH), fstatfs, fstatat (newfstatat), read,
//    pidfd_open, close, epoll_ctl.
#pragma once

#include <string>

#include "linux/event_loop.hpp"
#include "util/result.hpp"
#include "util/time.hpp"

namespace passt::os {

class NetnsWatch final : public FdHandler {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void on_netns_gone(Instant now, ports::EventSink& sink) noexcept = 0;
  };

  struct Options {
    Duration poll = Duration::millis(50);      // without inotify
    Duration slow_poll = Duration::seconds(1); // alongside inotify; 0: none
  };

  NetnsWatch(EventLoop& loop, Listener& listener) noexcept : NetnsWatch(loop, listener, Options{}) {}
  NetnsWatch(EventLoop& loop, Listener& listener, Options opt) noexcept;
  ~NetnsWatch() override;
  NetnsWatch(const NetnsWatch&) = delete;
  NetnsWatch& operator=(const NetnsWatch&) = delete;

  // Watches a namespace file (it must exist now).  One path per watcher.
  Status watch_path(const std::string& path);
  // Watches a process: opens a pidfd (owned).
  Status watch_pid(int pid);
  // Watches a pidfd the caller owns (kept open by the caller until stop()).
  Status watch_pidfd(int pidfd);

  // Removes every watch and closes what we opened.
  void stop() noexcept;

  bool gone() const noexcept { return gone_; }
  bool uses_inotify() const noexcept { return ifd_ >= 0; }
  // Runs the path check now; true if the namespace is gone (does not call
  // the listener).
  bool path_gone() const noexcept;

  void on_fd_event(int fd, u32 events, Instant now, ports::EventSink& sink) noexcept override;

 private:
  void fire(Instant now, ports::EventSink& sink) noexcept;
  bool inotify_says_check() noexcept;

  EventLoop& loop_;
  Listener& listener_;
  Options opt_;
  int dirfd_ = -1;
  int ifd_ = -1;
  int tfd_ = -1;
  int pidfd_ = -1;
  bool own_pidfd_ = false;
  std::string base_;
  u64 dev_ = 0;
  u64 ino_ = 0;
  bool gone_ = false;
};

}  // namespace passt::os
