// Logging front end.  Formatting happens into a fixed stack buffer (no heap);
// the sink (syslog, log file, stderr, or a test capture) is installed by the
// application and is the only part that does I/O.
#pragma once

#include <string_view>

#include "util/time.hpp"
#include "util/types.hpp"

namespace passt {

enum class LogLevel : u8 { error = 0, warning, info, debug, trace };

class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void write(LogLevel level, std::string_view msg) noexcept = 0;
};

void set_log_sink(LogSink* sink) noexcept;
void set_log_level(LogLevel max_level) noexcept;
LogLevel log_level() noexcept;
inline bool log_enabled(LogLevel l) noexcept { return l <= log_level(); }

void logf(LogLevel level, const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

// Allows one event per interval; for log lines caused by guest input.
class RateLimit {
 public:
  explicit constexpr RateLimit(Duration every) noexcept : every_(every) {}
  bool allow(Instant now) noexcept {
    if (armed_ && now - last_ < every_) {
      suppressed_++;
      return false;
    }
    armed_ = true;
    last_ = now;
    return true;
  }
  u64 suppressed() const noexcept { return suppressed_; }

 private:
  Duration every_;
  Instant last_{};
  bool armed_ = false;
  u64 suppressed_ = 0;
};

}  // namespace passt

#define PASST_LOG(level, ...)                                              \
  do {                                                                     \
    if (::passt::log_enabled(level)) ::passt::logf(level, __VA_ARGS__);    \
  } while (0)
#define LOG_ERR(...) PASST_LOG(::passt::LogLevel::error, __VA_ARGS__)
#define LOG_WARN(...) PASST_LOG(::passt::LogLevel::warning, __VA_ARGS__)
#define LOG_INFO(...) PASST_LOG(::passt::LogLevel::info, __VA_ARGS__)
#define LOG_DEBUG(...) PASST_LOG(::passt::LogLevel::debug, __VA_ARGS__)
#define LOG_TRACE(...) PASST_LOG(::passt::LogLevel::trace, __VA_ARGS__)
