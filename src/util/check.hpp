// Invariant checks that stay on in release builds.
//
// PASST_CHECK is for conditions that, if false, mean our own state is
// corrupt: there is no safe way to continue.  Guest-controlled input must
// never reach a failing PASST_CHECK: such input is validated and dropped.
#pragma once

namespace passt {

[[noreturn]] void check_failed(const char* file, int line, const char* expr) noexcept;

// The simulator installs a hook so a failing check prints the seed that
// reproduces it before aborting.  The hook must not return.
using CheckHook = void (*)(const char* file, int line, const char* expr);
void set_check_hook(CheckHook hook) noexcept;

}  // namespace passt

#define PASST_CHECK(cond)                                    \
  do {                                                       \
    if (!(cond)) [[unlikely]]                                \
      ::passt::check_failed(__FILE__, __LINE__, #cond);      \
  } while (0)
