// Big-endian (network order) loads and stores on raw byte pointers, and
// little-endian ones for virtio.
//
// These are the only way protocol code reads multi-byte fields.  They do no
// bounds checking themselves: callers are views whose constructor already
// validated the length (see docs/wire-contract.md).
#pragma once

#include "util/types.hpp"

namespace passt {

constexpr u16 load_be16(const u8* p) noexcept {
  return static_cast<u16>((static_cast<u16>(p[0]) << 8) | p[1]);
}
constexpr u32 load_be32(const u8* p) noexcept {
  return (static_cast<u32>(p[0]) << 24) | (static_cast<u32>(p[1]) << 16) |
         (static_cast<u32>(p[2]) << 8) | static_cast<u32>(p[3]);
}
constexpr u64 load_be64(const u8* p) noexcept {
  return (static_cast<u64>(load_be32(p)) << 32) | load_be32(p + 4);
}
constexpr void store_be16(u8* p, u16 v) noexcept {
  p[0] = static_cast<u8>(v >> 8);
  p[1] = static_cast<u8>(v);
}
constexpr void store_be32(u8* p, u32 v) noexcept {
  p[0] = static_cast<u8>(v >> 24);
  p[1] = static_cast<u8>(v >> 16);
  p[2] = static_cast<u8>(v >> 8);
  p[3] = static_cast<u8>(v);
}
constexpr void store_be64(u8* p, u64 v) noexcept {
  store_be32(p, static_cast<u32>(v >> 32));
  store_be32(p + 4, static_cast<u32>(v));
}

// Little-endian loads and stores (virtio rings and vhost-user messages).
constexpr u16 load_le16(const u8* p) noexcept {
  return static_cast<u16>(p[0] | (static_cast<u16>(p[1]) << 8));
}
constexpr u32 load_le32(const u8* p) noexcept {
  return static_cast<u32>(p[0]) | (static_cast<u32>(p[1]) << 8) | (static_cast<u32>(p[2]) << 16) |
         (static_cast<u32>(p[3]) << 24);
}
constexpr u64 load_le64(const u8* p) noexcept {
  return static_cast<u64>(load_le32(p)) | (static_cast<u64>(load_le32(p + 4)) << 32);
}
constexpr void store_le16(u8* p, u16 v) noexcept {
  p[0] = static_cast<u8>(v);
  p[1] = static_cast<u8>(v >> 8);
}
constexpr void store_le32(u8* p, u32 v) noexcept {
  store_le16(p, static_cast<u16>(v));
  store_le16(p + 2, static_cast<u16>(v >> 16));
}
constexpr void store_le64(u8* p, u64 v) noexcept {
  store_le32(p, static_cast<u32>(v));
  store_le32(p + 4, static_cast<u32>(v >> 32));
}

}  // namespace passt
