// Log sinks: where the logging front end's (util/log.hpp) lines go.
//
// Theory of operation
//  * Every sink implements passt::LogSink and is a LevelSink: it carries its
//    own level threshold, so `-q` ("nothing below WARNING anywhere") holds
//    even for callers of logf() that bypass the LOG_* macros' global check.
//  * No heap after construction/open: each line is written with one
//    writev()/sendmsg() of stack-formatted prefixes plus the caller's message
//    (no copy, no truncation of the message beyond kMaxMessage).  A trailing
//    '\n' in the message is dropped (the sink ends every line itself).
//  * StderrSink: plain "msg\n" lines; with timestamps (-d) prefixed by
//    "sec.frac: " (seconds since the process start, 4 fractional digits),
//    like upstream's debug output.
//  * SyslogSink: its own AF_UNIX SOCK_DGRAM client (no libc syslog(), which
//    may allocate and may block).  Lines use glibc's local /dev/log format,
//    "<PRI>Mmm dd hh:mm:ss ident[pid]: msg" (RFC 3164 style, local time;
//    facility daemon).  The socket is non-blocking: a full receive queue drops
//    the line.  It connects at init() and again, lazily, after the peer went
//    away (ECONNREFUSED, ENOTCONN...), at most once per Options::retry: with
//    no /dev/log lines are dropped silently (upstream prints a complaint per
//    line instead).  Connecting needs the path, so after pivot_root a lost
//    connection stays lost (upstream has the same limit).
//  * FileSink (-l, --log-size): opened O_RDWR|O_CREAT|O_TRUNC|O_APPEND, mode 0600
//    (an existing file, e.g. pre-created by libvirt, is truncated and keeps
//    its mode and owner).  First line "<ident> <version>: <exe> (<pid>)".
//    Entries "<sec>.<4 digits>: <PREFIX><msg>", PREFIX "ERROR:   ",
//    "WARNING: ", "info:    " or 9 spaces (debug and trace).  Size cap: when
//    the next entry would take the file beyond it, the oldest ~30% (rounded
//    up to a page) is cut:
//      - fallocate(FALLOC_FL_COLLAPSE_RANGE) of [0, cut) where the file
//        system supports it (ext4, xfs); the head is then rewritten: the
//        header line (with " - log truncated at S.FFFF") is written over the
//        first bytes and the rest of the now-partial first line is blanked
//        with spaces up to its newline;
//      - otherwise (tmpfs, overlay...) the whole lines after the cut are
//        copied down behind a rewritten header line and the file is
//        ftruncate()d.
//    Either way the header line stays first and every following line is
//    whole.  O_APPEND is cleared during the cut (pwrite() ignores offsets
//    with O_APPEND on Linux) and set again afterwards.
//  * TeeSink: fan-out to up to kMaxSinks sinks (stderr plus the syslog or
//    file while parsing options and before daemonising).
//  * Logging: the start-up policy (docs/process.md), owning one of each.
//
// Bounds: a message beyond kMaxMessage bytes is cut; the cut copies through a
// 4 KiB stack buffer; the header line is at most kMaxHeader bytes.
#pragma once

#include <array>
#include <string_view>

#include "ports/clock.hpp"
#include "util/log.hpp"
#include "util/result.hpp"
#include "util/time.hpp"
#include "util/types.hpp"

namespace passt::os {

// Longest message a sink writes (the front end formats at most 1023 bytes).
inline constexpr std::size_t kMaxMessage = 4096;

// -d, --trace and -q to a level: trace > debug > quiet (warning) > info.
// (-d clears -q, as upstream.)
LogLevel log_level_from_flags(bool debug, bool trace, bool quiet) noexcept;

// "sec.frac" since `start`: 4 fractional digits.  Writes at most `cap` bytes
// including the NUL; returns the length (without NUL).
std::size_t format_elapsed(char* out, std::size_t cap, Duration since_start) noexcept;

// A sink with a level threshold (default: everything).
class LevelSink : public LogSink {
 public:
  void set_max_level(LogLevel l) noexcept { max_level_ = l; }
  LogLevel max_level() const noexcept { return max_level_; }
  bool accepts(LogLevel l) const noexcept { return l <= max_level_; }

 protected:
  LogLevel max_level_ = LogLevel::trace;
};

// ---------------------------------------------------------------------------
class StderrSink final : public LevelSink {
 public:
  struct Options {
    int fd = 2;
    bool timestamps = false;  // "sec.frac: " prefix (-d)
  };
  StderrSink(ports::Clock& clock, Instant start) noexcept : StderrSink(clock, start, Options{}) {}
  StderrSink(ports::Clock& clock, Instant start, Options opt) noexcept
      : clock_(clock), start_(start), opt_(opt) {}

  void set_timestamps(bool on) noexcept { opt_.timestamps = on; }
  void set_fd(int fd) noexcept { opt_.fd = fd; }
  u64 dropped() const noexcept { return dropped_; }

  void write(LogLevel level, std::string_view msg) noexcept override;

 private:
  ports::Clock& clock_;
  Instant start_;
  Options opt_;
  u64 dropped_ = 0;
};

// ---------------------------------------------------------------------------
class SyslogSink final : public LevelSink {
 public:
  struct Options {
    const char* path = "/dev/log";
    const char* ident = "passt";      // copied (at most 31 bytes)
    u8 facility = 3;                  // LOG_DAEMON >> 3
    Duration retry = Duration::seconds(10);  // between connection attempts
  };
  struct Stats {
    u64 sent = 0;
    u64 dropped = 0;  // not connected, queue full, or a send error
    u64 connect_attempts = 0;
    u64 connect_failures = 0;
  };

  explicit SyslogSink(ports::Clock& clock) noexcept : SyslogSink(clock, Options{}) {}
  SyslogSink(ports::Clock& clock, Options opt) noexcept;
  ~SyslogSink() override;
  SyslogSink(const SyslogSink&) = delete;
  SyslogSink& operator=(const SyslogSink&) = delete;

  // Before init(): replaces the options (path, ident...).
  void set_options(const Options& opt) noexcept;
  // Loads the time zone (so later localtime_r() reads no file and allocates
  // nothing), records the pid and makes the first connection attempt.  A
  // missing /dev/log is not an error: lines are dropped until it appears.
  void init() noexcept;
  // The pid shown in "ident[pid]" (after daemonising: the daemon's).
  void set_pid(long pid) noexcept { pid_ = pid; }
  bool connected() const noexcept { return fd_ >= 0; }
  // The socket (-1 if not connected): for close_open_files()'s keep list.
  int fd() const noexcept { return fd_; }
  const Stats& stats() const noexcept { return stats_; }

  void write(LogLevel level, std::string_view msg) noexcept override;

 private:
  bool try_connect(Instant now) noexcept;
  void disconnect() noexcept;

  ports::Clock& clock_;
  Options opt_;
  std::array<char, 32> ident_{};
  long pid_ = 0;
  int fd_ = -1;
  bool attempted_ = false;
  Instant last_attempt_{};
  Stats stats_;
};

// ---------------------------------------------------------------------------
class FileSink final : public LevelSink {
 public:
  static constexpr std::size_t kMaxHeader = 512;
  // Caps below this are raised to it: a cut must always make room for a
  // whole entry and the header.
  static constexpr u64 kMinSize = u64{16} * 1024;

  struct Options {
    const char* ident = "passt";    // "passt" or "pasta"
    const char* version = "";
    u64 max_size = u64{1024} * 1024;    // --log-size; 0 = no cap
    bool no_collapse = false;       // tests: always use the copy-down cut
  };
  struct Stats {
    u64 cuts_collapse = 0;
    u64 cuts_copy = 0;
    u64 write_errors = 0;
  };

  FileSink(ports::Clock& clock, Instant start) noexcept : FileSink(clock, start, Options{}) {}
  FileSink(ports::Clock& clock, Instant start, Options opt) noexcept;
  ~FileSink() override;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  // Before open(): replaces the options.
  void set_options(const Options& opt) noexcept;
  // Opens (creating or truncating) `path` and writes the header line.
  Status open(const char* path) noexcept;
  void close() noexcept;
  bool is_open() const noexcept { return fd_ >= 0; }
  int fd() const noexcept { return fd_; }
  // Bytes in the file as far as this process knows (header included).
  u64 size() const noexcept { return size_; }
  const Stats& stats() const noexcept { return stats_; }

  void write(LogLevel level, std::string_view msg) noexcept override;

 private:
  Status cut(Instant now) noexcept;
  Status cut_collapse(u64 len, std::string_view header) noexcept;
  Status cut_copy(u64 len, std::string_view header) noexcept;

  ports::Clock& clock_;
  Instant start_;
  Options opt_;
  int fd_ = -1;
  u64 size_ = 0;
  u64 page_ = 4096;
  std::array<char, kMaxHeader> header_{};  // first line, without '\n'
  std::size_t header_len_ = 0;
  Stats stats_;
};

// ---------------------------------------------------------------------------
class TeeSink final : public LogSink {
 public:
  static constexpr std::size_t kMaxSinks = 4;

  // Err::full beyond kMaxSinks; adding a sink twice is a no-op.
  Status add(LogSink& s) noexcept;
  void remove(LogSink& s) noexcept;
  void clear() noexcept { n_ = 0; }
  std::size_t size() const noexcept { return n_; }

  void write(LogLevel level, std::string_view msg) noexcept override;

 private:
  std::array<LogSink*, kMaxSinks> sinks_{};
  std::size_t n_ = 0;
};

// ---------------------------------------------------------------------------
// The start-up logging policy of both modes (docs/process.md, "Logging"):
//   start()       stderr (plain, every level) + syslog; installed globally.
//   configure()   level from flags on every sink.  With a log file: the file
//                 only.  Otherwise: syslog, plus stderr (timestamps with -d).
//   daemonized()  stderr is dropped (it is /dev/null by then); syslog shows
//                 the daemon's pid.
// In the foreground without -l, stderr stays for the whole run.
class Logging {
 public:
  struct Config {
    const char* ident = "passt";
    const char* version = "";
    LogLevel level = LogLevel::info;
    bool debug = false;              // timestamps on stderr
    const char* log_file = nullptr;  // -l; nullptr: syslog
    u64 log_size = u64{1024} * 1024;
  };

  Logging(ports::Clock& clock, Instant start) noexcept;
  ~Logging();
  Logging(const Logging&) = delete;
  Logging& operator=(const Logging&) = delete;

  void start(const char* ident) noexcept;
  Status configure(const Config& c) noexcept;
  // In the daemon, once its stdio is /dev/null: `pid` is the daemon's pid as
  // its launcher sees it (DaemonChild::pid()), shown by syslog.
  void daemonized(long pid) noexcept;

  StderrSink& stderr_sink() noexcept { return stderr_; }
  SyslogSink& syslog_sink() noexcept { return syslog_; }
  FileSink& file_sink() noexcept { return file_; }
  TeeSink& tee() noexcept { return tee_; }

  // Tests: a different /dev/log path (before start()).
  void set_syslog_path(const char* path) noexcept { syslog_path_ = path; }

 private:
  const char* syslog_path_ = "/dev/log";
  bool installed_ = false;
  StderrSink stderr_;
  SyslogSink syslog_;
  FileSink file_;
  TeeSink tee_;
};

}  // namespace passt::os
