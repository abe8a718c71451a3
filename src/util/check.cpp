#include "util/check.hpp"

#include <cstdio>
#include <cstdlib>

namespace passt {

namespace {
CheckHook g_hook = nullptr;
}

void set_check_hook(CheckHook hook) noexcept { g_hook = hook; }

void check_failed(const char* file, int line, const char* expr) noexcept {
  if (g_hook != nullptr) g_hook(file, line, expr);
  std::fprintf(stderr, "passt: internal check failed at %s:%d: %s\n", file, line, expr);
  std::abort();
}

}  // namespace passt
