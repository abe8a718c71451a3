// Deterministic byte streams and cheap fingerprints.
//
// Stream `id` is an infinite, seekable byte sequence: byte `off` is a pure
// function of (id, off).  Sources produce it and sinks verify it without
// storing what was sent, so a checker can tell at any offset whether a byte
// stream arrived intact and in order.
#pragma once

#include "util/types.hpp"

namespace passt::sim {

u8 pattern_byte(u64 stream, u64 off) noexcept;
void fill_pattern(u64 stream, u64 off, MutBytes out) noexcept;
// Index of the first byte of `in` that differs from the stream at `off`, or
// in.size() if all match.
std::size_t check_pattern(u64 stream, u64 off, Bytes in) noexcept;

// Full-content hash (fast, non-cryptographic: it detects accidental changes).
u64 content_hash(Bytes b) noexcept;
// Cheap identity of a frame: its length and its first and last 128 bytes.
u64 fingerprint(Bytes b) noexcept;

}  // namespace passt::sim
