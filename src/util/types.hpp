// Fixed-width integer aliases and byte-span types used by every layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace passt {

using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
using i8 = std::int8_t;
using i16 = std::int16_t;
using i32 = std::int32_t;
using i64 = std::int64_t;

// Read-only and writable views over raw bytes.  All packet access goes
// through these (never through casts of structs onto buffers).
using Bytes = std::span<const u8>;
using MutBytes = std::span<u8>;

}  // namespace passt
