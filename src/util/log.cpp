#include "util/log.hpp"

#include <cstdarg>
#include <cstdio>

namespace passt {

namespace {
LogSink* g_sink = nullptr;
LogLevel g_level = LogLevel::info;
}  // namespace

void set_log_sink(LogSink* sink) noexcept { g_sink = sink; }
void set_log_level(LogLevel max_level) noexcept { g_level = max_level; }
LogLevel log_level() noexcept { return g_level; }

void logf(LogLevel level, const char* fmt, ...) noexcept {
  if (g_sink == nullptr) return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  std::size_t len = static_cast<std::size_t>(n) < sizeof(buf) ? static_cast<std::size_t>(n)
                                                               : sizeof(buf) - 1;
  g_sink->write(level, std::string_view(buf, len));
}

}  // namespace passt
