#include "linux/log_sink.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "linux/os_error.hpp"

namespace passt::os {

namespace {

// EINTRs tolerated in a row on one line before it is dropped.
constexpr int kMaxEintr = 8;
// Stack buffer for the cut's reads and copies.
constexpr std::size_t kCopyChunk = 4096;

std::string_view trim_newline(std::string_view msg) noexcept {
  if (!msg.empty() && msg.back() == '\n') msg.remove_suffix(1);
  if (msg.size() > kMaxMessage) msg = msg.substr(0, kMaxMessage);
  return msg;
}

iovec iov_of(const void* p, std::size_t n) noexcept {
  return iovec{const_cast<void*>(p), n};  // writev does not write through it
}

// Writes every iovec fully (short writes continue where they stopped).
// Returns the bytes written; `err` is set if it stopped early.
std::size_t writev_all(int fd, iovec* iov, int cnt, int* err) noexcept {
  std::size_t done = 0;
  int eintr = 0;
  *err = 0;
  while (cnt > 0) {
    ssize_t n = ::writev(fd, iov, cnt);
    if (n < 0) {
      if (errno == EINTR && ++eintr < kMaxEintr) continue;
      *err = errno;
      return done;
    }
    if (n == 0) {
      *err = EIO;
      return done;
    }
    done += static_cast<std::size_t>(n);
    auto left = static_cast<std::size_t>(n);
    while (cnt > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      iov++;
      cnt--;
    }
    if (cnt > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return done;
}

bool pwrite_all(int fd, const char* p, std::size_t n, u64 off) noexcept {
  int eintr = 0;
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR && ++eintr < kMaxEintr) continue;
      return false;
    }
    if (w == 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
    off += static_cast<u64>(w);
  }
  return true;
}

// Reads up to n bytes at off; returns the count (short only at EOF), -1 on error.
ssize_t pread_full(int fd, char* p, std::size_t n, u64 off) noexcept {
  std::size_t got = 0;
  int eintr = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, p + got, n - got, static_cast<off_t>(off + got));
    if (r < 0) {
      if (errno == EINTR && ++eintr < kMaxEintr) continue;
      return -1;
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

// Offset of the first '\n' at or after `from` (before `size`), or -1 if
// none; -2 on a read error.
i64 find_newline(int fd, u64 from, u64 size) noexcept {
  char buf[kCopyChunk];
  u64 off = from;
  while (off < size) {
    const std::size_t want = static_cast<std::size_t>(std::min<u64>(sizeof(buf), size - off));
    ssize_t r = pread_full(fd, buf, want, off);
    if (r < 0) return -2;
    if (r == 0) return -1;
    if (const void* nl = std::memchr(buf, '\n', static_cast<std::size_t>(r))) {
      return static_cast<i64>(off) + (static_cast<const char*>(nl) - buf);
    }
    off += static_cast<u64>(r);
  }
  return -1;
}

const char* file_prefix(LogLevel l) noexcept {
  switch (l) {
    case LogLevel::error: return "ERROR:   ";
    case LogLevel::warning: return "WARNING: ";
    case LogLevel::info: return "info:    ";
    case LogLevel::debug:
    case LogLevel::trace: break;
  }
  return "         ";
}

u8 syslog_severity(LogLevel l) noexcept {
  switch (l) {
    case LogLevel::error: return 3;    // LOG_ERR
    case LogLevel::warning: return 4;  // LOG_WARNING
    case LogLevel::info: return 6;     // LOG_INFO
    case LogLevel::debug:
    case LogLevel::trace: break;
  }
  return 7;  // LOG_DEBUG
}

}  // namespace

LogLevel log_level_from_flags(bool debug, bool trace, bool quiet) noexcept {
  if (trace) return LogLevel::trace;
  if (debug) return LogLevel::debug;
  if (quiet) return LogLevel::warning;
  return LogLevel::info;
}

std::size_t format_elapsed(char* out, std::size_t cap, Duration since_start) noexcept {
  if (cap == 0) return 0;
  const i64 ns = since_start.ns < 0 ? 0 : since_start.ns;
  const long long sec = ns / 1000000000;
  const long long frac = (ns % 1000000000) / 100000;
  int n = std::snprintf(out, cap, "%lld.%04lld", sec, frac);
  if (n < 0) {
    out[0] = '\0';
    return 0;
  }
  return std::min(static_cast<std::size_t>(n), cap - 1);
}

// --- StderrSink --------------------------------------------------------------

void StderrSink::write(LogLevel level, std::string_view msg) noexcept {
  if (!accepts(level) || opt_.fd < 0) return;
  msg = trim_newline(msg);
  char ts[40];
  std::size_t tn = 0;
  if (opt_.timestamps) {
    tn = format_elapsed(ts, sizeof(ts) - 2, clock_.now() - start_);
    ts[tn++] = ':';
    ts[tn++] = ' ';
  }
  iovec iov[3] = {iov_of(ts, tn), iov_of(msg.data(), msg.size()), iov_of("\n", 1)};
  int err = 0;
  (void)writev_all(opt_.fd, iov, 3, &err);
  if (err != 0) dropped_++;
}

// --- SyslogSink --------------------------------------------------------------

SyslogSink::SyslogSink(ports::Clock& clock, Options opt) noexcept : clock_(clock) {
  set_options(opt);
}

SyslogSink::~SyslogSink() { disconnect(); }

void SyslogSink::set_options(const Options& opt) noexcept {
  opt_ = opt;
  std::snprintf(ident_.data(), ident_.size(), "%s", opt.ident != nullptr ? opt.ident : "");
}

void SyslogSink::init() noexcept {
  ::tzset();
  // One conversion now: glibc loads the zone file on the first call only.
  std::time_t t = std::time(nullptr);
  std::tm tmv{};
  (void)::localtime_r(&t, &tmv);
  pid_ = static_cast<long>(::getpid());
  disconnect();
  attempted_ = false;
  (void)try_connect(clock_.now());
}

void SyslogSink::disconnect() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool SyslogSink::try_connect(Instant now) noexcept {
  if (fd_ >= 0) return true;
  if (attempted_ && now - last_attempt_ < opt_.retry) return false;
  attempted_ = true;
  last_attempt_ = now;
  stats_.connect_attempts++;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  const std::size_t len = opt_.path != nullptr ? std::strlen(opt_.path) : 0;
  if (len == 0 || len >= sizeof(sa.sun_path)) {
    stats_.connect_failures++;
    return false;
  }
  std::memcpy(sa.sun_path, opt_.path, len);
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    stats_.connect_failures++;
    return false;
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) < 0) {
    ::close(fd);
    stats_.connect_failures++;
    return false;
  }
  fd_ = fd;
  return true;
}

void SyslogSink::write(LogLevel level, std::string_view msg) noexcept {
  if (!accepts(level)) return;
  const Instant now = clock_.now();
  if (!try_connect(now)) {
    stats_.dropped++;
    return;
  }
  msg = trim_newline(msg);

  static constexpr const char* kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  timespec rt{};
  ::clock_gettime(CLOCK_REALTIME, &rt);
  std::tm t{};
  ::localtime_r(&rt.tv_sec, &t);
  const unsigned pri = static_cast<unsigned>(opt_.facility) * 8u + syslog_severity(level);
  char hdr[96];
  int hn = std::snprintf(hdr, sizeof(hdr), "<%u>%s %2d %02d:%02d:%02d %s[%ld]: ", pri,
                         kMonths[(t.tm_mon % 12 + 12) % 12], t.tm_mday, t.tm_hour, t.tm_min,
                         t.tm_sec, ident_.data(), pid_);
  if (hn < 0) hn = 0;
  const std::size_t hlen = std::min(static_cast<std::size_t>(hn), sizeof(hdr) - 1);

  iovec iov[2] = {iov_of(hdr, hlen), iov_of(msg.data(), msg.size())};
  msghdr mh{};
  mh.msg_iov = iov;
  mh.msg_iovlen = 2;
  // Two tries: the second after a reconnect, if the daemon went away (a
  // restarted syslogd has a new socket; our old peer refuses).
  for (int attempt = 0; attempt < 2; attempt++) {
    if (::sendmsg(fd_, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
      stats_.sent++;
      return;
    }
    const int e = errno;
    if (e == EAGAIN || e == ENOBUFS || e == EINTR || e == EMSGSIZE) break;  // drop the line only
    disconnect();
    if (attempt > 0 || !try_connect(now)) break;
  }
  stats_.dropped++;
}

// --- FileSink ----------------------------------------------------------------

FileSink::FileSink(ports::Clock& clock, Instant start, Options opt) noexcept
    : clock_(clock), start_(start) {
  set_options(opt);
}

void FileSink::set_options(const Options& opt) noexcept {
  opt_ = opt;
  if (opt_.max_size != 0 && opt_.max_size < kMinSize) opt_.max_size = kMinSize;
}

FileSink::~FileSink() { close(); }

void FileSink::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status FileSink::open(const char* path) noexcept {
  close();
  // O_RDWR: the cut reads the file back.
  int fd = ::open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, S_IRUSR | S_IWUSR);
  if (fd < 0) return last_err();
  const long pg = ::sysconf(_SC_PAGESIZE);
  page_ = pg > 0 ? static_cast<u64>(pg) : 4096;

  char exe[256];
  ssize_t en = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (en < 0) en = 0;
  exe[en] = '\0';
  int hn = std::snprintf(header_.data(), header_.size(), "%s %s: %s (%ld)",
                         opt_.ident != nullptr ? opt_.ident : "passt",
                         opt_.version != nullptr ? opt_.version : "", en > 0 ? exe : "?",
                         static_cast<long>(::getpid()));
  header_len_ = hn < 0 ? 0 : std::min(static_cast<std::size_t>(hn), header_.size() - 1);

  iovec iov[2] = {iov_of(header_.data(), header_len_), iov_of("\n", 1)};
  int err = 0;
  const std::size_t n = writev_all(fd, iov, 2, &err);
  if (err != 0) {
    ::close(fd);
    return err_from_errno(err);
  }
  fd_ = fd;
  size_ = n;
  return {};
}

void FileSink::write(LogLevel level, std::string_view msg) noexcept {
  if (!accepts(level) || fd_ < 0) return;
  msg = trim_newline(msg);
  const Instant now = clock_.now();
  char pre[64];
  std::size_t pn = format_elapsed(pre, 32, now - start_);
  pre[pn++] = ':';
  pre[pn++] = ' ';
  const std::string_view p = file_prefix(level);
  std::memcpy(pre + pn, p.data(), p.size());
  pn += p.size();
  const u64 total = pn + msg.size() + 1;

  if (opt_.max_size != 0 && size_ + total > opt_.max_size) {
    if (!cut(now)) {
      // Keep the promise of the cap: start over behind the header.
      const u64 keep = header_len_ + 1;
      if (::ftruncate(fd_, static_cast<off_t>(keep)) == 0) {
        size_ = keep;
      } else {
        stats_.write_errors++;
        return;
      }
    }
  }
  iovec iov[3] = {iov_of(pre, pn), iov_of(msg.data(), msg.size()), iov_of("\n", 1)};
  int err = 0;
  size_ += writev_all(fd_, iov, 3, &err);
  if (err != 0) stats_.write_errors++;
}

Status FileSink::cut(Instant now) noexcept {
  // Resynchronise with the file (a forked parent may have written too).
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && st.st_size >= 0) size_ = static_cast<u64>(st.st_size);

  u64 len = opt_.max_size * 3 / 10;
  len = (len + page_ - 1) / page_ * page_;

  // The rewritten header line.
  char hdr[kMaxHeader + 64];
  char el[32];
  format_elapsed(el, sizeof(el), now - start_);
  int hn = std::snprintf(hdr, sizeof(hdr), "%.*s - log truncated at %s",
                         static_cast<int>(header_len_), header_.data(), el);
  const std::size_t hlen = hn < 0 ? 0 : std::min(static_cast<std::size_t>(hn), sizeof(hdr) - 1);
  const std::string_view header(hdr, hlen);

  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0) return last_err();
  if (::fcntl(fd_, F_SETFL, flags & ~O_APPEND) < 0) return last_err();

  Status s;
  if (len + header.size() + 1 >= size_) {
    // Nothing worth keeping: header only.
    s = ::ftruncate(fd_, 0) == 0 && pwrite_all(fd_, hdr, hlen, 0) && pwrite_all(fd_, "\n", 1, hlen)
            ? Status{}
            : Status{last_err()};
    if (s) size_ = hlen + 1;
  } else if (!opt_.no_collapse && ::fallocate(fd_, FALLOC_FL_COLLAPSE_RANGE, 0,
                                               static_cast<off_t>(len)) == 0) {
    size_ -= len;
    stats_.cuts_collapse++;
    s = cut_collapse(len, header);
  } else {
    stats_.cuts_copy++;
    s = cut_copy(len, header);
  }
  if (::fcntl(fd_, F_SETFL, flags) < 0 && s) s = last_err();
  return s;
}

// After [0, len) was collapsed away the file starts inside some line.  The
// header is written over the first bytes and the rest of that line (up to
// its newline) becomes spaces, so the first line is the header and every
// following line is whole.
Status FileSink::cut_collapse(u64 /*len*/, std::string_view header) noexcept {
  const i64 nl = find_newline(fd_, header.size(), size_);
  if (nl == -2) return last_err();
  if (nl < 0) {
    // No whole line left: header only.
    if (::ftruncate(fd_, 0) < 0) return last_err();
    if (!pwrite_all(fd_, header.data(), header.size(), 0) ||
        !pwrite_all(fd_, "\n", 1, header.size())) {
      return last_err();
    }
    size_ = header.size() + 1;
    return {};
  }
  if (!pwrite_all(fd_, header.data(), header.size(), 0)) return last_err();
  char spaces[kCopyChunk];
  std::memset(spaces, ' ', sizeof(spaces));
  u64 off = header.size();
  const u64 end = static_cast<u64>(nl);
  while (off < end) {
    const std::size_t n = static_cast<std::size_t>(std::min<u64>(sizeof(spaces), end - off));
    if (!pwrite_all(fd_, spaces, n, off)) return last_err();
    off += n;
  }
  return {};
}

// Without COLLAPSE_RANGE: the whole lines after the first `len` bytes of
// entries are copied down behind a rewritten header, then the file is cut.
Status FileSink::cut_copy(u64 len, std::string_view header) noexcept {
  const i64 first_nl = find_newline(fd_, 0, size_);
  if (first_nl == -2) return last_err();
  const u64 entries = first_nl < 0 ? size_ : static_cast<u64>(first_nl) + 1;
  i64 nl = entries + len - 1 < size_ ? find_newline(fd_, entries + len - 1, size_) : -1;
  if (nl == -2) return last_err();
  const u64 src0 = nl < 0 ? size_ : static_cast<u64>(nl) + 1;
  const u64 dst0 = header.size() + 1;
  // dst0 <= src0: the header (< kMaxHeader + 64) is shorter than one page.
  if (!pwrite_all(fd_, header.data(), header.size(), 0) ||
      !pwrite_all(fd_, "\n", 1, header.size())) {
    return last_err();
  }
  char buf[kCopyChunk];
  u64 src = src0;
  u64 dst = dst0;
  while (src < size_) {
    const std::size_t want = static_cast<std::size_t>(std::min<u64>(sizeof(buf), size_ - src));
    ssize_t r = pread_full(fd_, buf, want, src);
    if (r < 0) return last_err();
    if (r == 0) break;
    if (!pwrite_all(fd_, buf, static_cast<std::size_t>(r), dst)) return last_err();
    src += static_cast<u64>(r);
    dst += static_cast<u64>(r);
  }
  if (::ftruncate(fd_, static_cast<off_t>(dst)) < 0) return last_err();
  size_ = dst;
  return {};
}

// --- TeeSink -----------------------------------------------------------------

Status TeeSink::add(LogSink& s) noexcept {
  for (std::size_t i = 0; i < n_; i++) {
    if (sinks_[i] == &s) return {};
  }
  if (n_ == kMaxSinks) return Err::full;
  sinks_[n_++] = &s;
  return {};
}

void TeeSink::remove(LogSink& s) noexcept {
  for (std::size_t i = 0; i < n_; i++) {
    if (sinks_[i] == &s) {
      for (std::size_t j = i + 1; j < n_; j++) sinks_[j - 1] = sinks_[j];
      n_--;
      return;
    }
  }
}

void TeeSink::write(LogLevel level, std::string_view msg) noexcept {
  for (std::size_t i = 0; i < n_; i++) sinks_[i]->write(level, msg);
}

// --- Logging -----------------------------------------------------------------

Logging::Logging(ports::Clock& clock, Instant start) noexcept
    : stderr_(clock, start), syslog_(clock), file_(clock, start) {}

Logging::~Logging() {
  if (installed_) set_log_sink(nullptr);
}

void Logging::start(const char* ident) noexcept {
  SyslogSink::Options so;
  so.path = syslog_path_;
  so.ident = ident;
  syslog_.set_options(so);
  syslog_.init();
  tee_.clear();
  (void)tee_.add(stderr_);
  (void)tee_.add(syslog_);
  set_log_sink(&tee_);
  installed_ = true;
}

Status Logging::configure(const Config& c) noexcept {
  set_log_level(c.level);
  stderr_.set_max_level(c.level);
  syslog_.set_max_level(c.level);
  stderr_.set_timestamps(c.debug);
  if (c.log_file != nullptr) {
    file_.set_options(FileSink::Options{
        .ident = c.ident, .version = c.version, .max_size = c.log_size, .no_collapse = false});
    file_.set_max_level(c.level);
    if (Status s = file_.open(c.log_file); !s) return s;  // tee unchanged: stderr + syslog
    tee_.clear();
    (void)tee_.add(file_);
  } else {
    tee_.clear();
    (void)tee_.add(syslog_);
    (void)tee_.add(stderr_);
  }
  set_log_sink(&tee_);
  installed_ = true;
  return {};
}

void Logging::daemonized(long pid) noexcept {
  tee_.remove(stderr_);
  syslog_.set_pid(pid);
}

}  // namespace passt::os
