// Common declarations for fuzz targets.  A target defines
// LLVMFuzzerTestOneInput and states its properties with PASST_CHECK, which
// aborts (a libFuzzer finding) when violated.
#pragma once

#include <cstddef>
#include <cstdint>

#include "util/check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
