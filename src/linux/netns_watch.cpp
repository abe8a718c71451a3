#include "linux/netns_watch.hpp"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "linux/os_error.hpp"
#include "ports/hostnet.hpp"
#include "util/log.hpp"

namespace passt::os {

namespace {

// Filesystems whose entries disappear without inotify events.
constexpr long kProcMagic = 0x9fa0;       // PROC_SUPER_MAGIC
constexpr long kSysfsMagic = 0x62656572;  // SYSFS_MAGIC
constexpr long kDevptsMagic = 0x1cd1;     // DEVPTS_SUPER_MAGIC
constexpr long kNsfsMagic = 0x6e736673;   // NSFS_MAGIC

constexpr std::size_t kInotifyReads = 16;  // reads per wake-up (rest: next wake-up)

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

timespec ts_of(Duration d) noexcept {
  timespec t{};
  t.tv_sec = d.ns / 1000000000;
  t.tv_nsec = d.ns % 1000000000;
  return t;
}

}  // namespace

NetnsWatch::NetnsWatch(EventLoop& loop, Listener& listener, Options opt) noexcept
    : loop_(loop), listener_(listener), opt_(opt) {}

NetnsWatch::~NetnsWatch() { stop(); }

void NetnsWatch::stop() noexcept {
  for (int* fd : {&ifd_, &tfd_}) {
    if (*fd >= 0) loop_.remove_handler(*fd);
    close_fd(*fd);
  }
  if (pidfd_ >= 0) {
    loop_.remove_handler(pidfd_);
    if (own_pidfd_) ::close(pidfd_);
    pidfd_ = -1;
  }
  close_fd(dirfd_);
}

Status NetnsWatch::watch_path(const std::string& path) {
  if (dirfd_ >= 0 || path.empty()) return Err::invalid;
  std::size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  base_ = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base_.empty()) return Err::invalid;

  struct stat st{};
  if (::stat(path.c_str(), &st) < 0) return last_err();
  dev_ = st.st_dev;
  ino_ = st.st_ino;

  dirfd_ = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd_ < 0) return last_err();

  struct statfs sfs{};
  bool inotify_ok = true;
  if (::fstatfs(dirfd_, &sfs) == 0) {
    const long t = sfs.f_type;
    inotify_ok = t != kProcMagic && t != kSysfsMagic && t != kDevptsMagic && t != kNsfsMagic;
  }

  if (inotify_ok) {
    ifd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ifd_ >= 0 &&
        ::inotify_add_watch(ifd_, dir.c_str(),
                            IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF |
                                IN_ONLYDIR) < 0) {
      LOG_DEBUG("netns watch: inotify on %s failed (%s), polling", dir.c_str(),
                std::strerror(errno));
      close_fd(ifd_);
    }
    if (ifd_ >= 0) {
      if (Status s = loop_.add_handler(ifd_, ports::ev::in, *this); !s) {
        stop();
        return s;
      }
    }
  }

  const Duration every = ifd_ >= 0 ? opt_.slow_poll : opt_.poll;
  if (every > Duration::zero()) {
    tfd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd_ < 0) {
      Err e = last_err();
      stop();
      return e;
    }
    itimerspec its{};
    its.it_value = ts_of(every);
    its.it_interval = ts_of(every);
    if (::timerfd_settime(tfd_, 0, &its, nullptr) < 0) {
      Err e = last_err();
      stop();
      return e;
    }
    if (Status s = loop_.add_handler(tfd_, ports::ev::in, *this); !s) {
      stop();
      return s;
    }
  }
  if (ifd_ < 0 && tfd_ < 0) {  // no inotify and polling turned off
    stop();
    return Err::not_supported;
  }
  return {};
}

Status NetnsWatch::watch_pid(int pid) {
  if (pidfd_ >= 0 || pid <= 0) return Err::invalid;
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return last_err();
  Status s = watch_pidfd(static_cast<int>(fd));
  if (!s) {
    ::close(static_cast<int>(fd));
    return s;
  }
  own_pidfd_ = true;
  return {};
}

Status NetnsWatch::watch_pidfd(int pidfd) {
  if (pidfd_ >= 0 || pidfd < 0) return Err::invalid;
  if (Status s = loop_.add_handler(pidfd, ports::ev::in, *this); !s) return s;
  pidfd_ = pidfd;
  own_pidfd_ = false;
  return {};
}

bool NetnsWatch::path_gone() const noexcept {
  if (dirfd_ < 0) return false;
  struct stat st{};
  if (::fstatat(dirfd_, base_.c_str(), &st, 0) < 0) {
    switch (errno) {
      case ENOENT:
      case ESRCH:
      case ENOTDIR:
      case ESTALE:
      case ENODEV:
        return true;
      default:
        return false;  // transient (ENOMEM...): the next trigger retries
    }
  }
  return st.st_dev != dev_ || st.st_ino != ino_;
}

bool NetnsWatch::inotify_says_check() noexcept {
  alignas(inotify_event) char buf[4096];
  bool check = false;
  for (std::size_t r = 0; r < kInotifyReads; r++) {
    ssize_t n = ::read(ifd_, buf, sizeof(buf));
    if (n <= 0) break;  // EAGAIN: drained
    std::size_t off = 0;
    const auto len = static_cast<std::size_t>(n);
    // Bounded by the read: each event consumes its header at least.
    while (len - off >= sizeof(inotify_event)) {
      inotify_event ev{};
      std::memcpy(&ev, buf + off, sizeof(ev));
      std::size_t name_len = std::min<std::size_t>(ev.len, len - off - sizeof(ev));
      const char* name = buf + off + sizeof(ev);
      off += sizeof(ev) + name_len;
      if ((ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED | IN_Q_OVERFLOW)) !=
          0) {
        check = true;
        continue;
      }
      std::size_t nl = ::strnlen(name, name_len);
      if (nl == base_.size() && std::memcmp(name, base_.data(), nl) == 0) check = true;
    }
  }
  return check;
}

void NetnsWatch::on_fd_event(int fd, u32 /*events*/, Instant now,
                             ports::EventSink& sink) noexcept {
  if (gone_) return;
  if (fd == pidfd_) {
    fire(now, sink);
    return;
  }
  bool check = false;
  if (fd == ifd_) {
    check = inotify_says_check();
  } else if (fd == tfd_) {
    u64 expirations = 0;
    (void)(::read(tfd_, &expirations, sizeof(expirations)) < 0);
    check = true;
  }
  if (check && path_gone()) fire(now, sink);
}

void NetnsWatch::fire(Instant now, ports::EventSink& sink) noexcept {
  gone_ = true;
  stop();
  listener_.on_netns_gone(now, sink);
}

}  // namespace passt::os
