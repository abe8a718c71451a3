// errno -> passt::Err: the one place the Linux adapters translate kernel
// error numbers into the sans-I/O layers' vocabulary.
#pragma once

#include "util/result.hpp"

namespace passt::os {

// Maps an errno value (0 gives Err::none).  Unknown values map to Err::other.
Err err_from_errno(int e) noexcept;

// err_from_errno(errno), never Err::none: a syscall that reported failure
// without setting errno still yields an error (Err::other).
Err last_err() noexcept;

}  // namespace passt::os
