// vhost-user messages (qemu's docs/interop/vhost-user.rst): what a back
// end reads from and writes to the front end's UNIX socket.
//
// A message is a 12-byte header (request, flags, payload size; host byte
// order, i.e. little-endian on every host we run on) and `size` bytes of
// payload; file descriptors ride along as SCM_RIGHTS.  Replies carry
// the request's code with flags = version 1 | kFlagReply.
//
// This file only decodes and encodes; linux/vhost_user.cpp owns the socket,
// the descriptors and the guest memory, and acts on the requests.
#pragma once

#include <array>
#include <optional>

#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::wire::vhost_user {

namespace req {
inline constexpr u32 get_features = 1;
inline constexpr u32 set_features = 2;
inline constexpr u32 set_owner = 3;
inline constexpr u32 reset_owner = 4;
inline constexpr u32 set_mem_table = 5;
inline constexpr u32 set_log_base = 6;
inline constexpr u32 set_log_fd = 7;
inline constexpr u32 set_vring_num = 8;
inline constexpr u32 set_vring_addr = 9;
inline constexpr u32 set_vring_base = 10;
inline constexpr u32 get_vring_base = 11;
inline constexpr u32 set_vring_kick = 12;
inline constexpr u32 set_vring_call = 13;
inline constexpr u32 set_vring_err = 14;
inline constexpr u32 get_protocol_features = 15;
inline constexpr u32 set_protocol_features = 16;
inline constexpr u32 get_queue_num = 17;
inline constexpr u32 set_vring_enable = 18;
inline constexpr u32 send_rarp = 19;
inline constexpr u32 net_set_mtu = 20;
}  // namespace req

// The request's name without its VHOST_USER_ prefix ("GET_FEATURES"), for
// logs ("unknown" otherwise).
const char* req_name(u32 request) noexcept;

// Whether the request has a reply of its own (not only REPLY_ACK's).
bool req_replies(u32 request) noexcept;

inline constexpr std::size_t kHdrLen = 12;
inline constexpr u32 kVersion = 1;
inline constexpr u32 kFlagVersionMask = 3;
inline constexpr u32 kFlagReply = 4;
inline constexpr u32 kFlagNeedReply = 8;
// The largest payload we accept; anything longer ends the session.  (The
// largest request we act on, SET_MEM_TABLE with 8 regions, is 264 bytes.)
inline constexpr std::size_t kMaxPayload = 4096;
inline constexpr std::size_t kMaxFds = 8;

// Device feature bit only vhost-user has; protocol features (the bit
// numbers of GET_PROTOCOL_FEATURES).
inline constexpr u64 f_protocol_features = u64{1} << 30;
inline constexpr u64 f_log_all = u64{1} << 26;
namespace pf {
inline constexpr u64 mq = u64{1} << 0;
inline constexpr u64 log_shmfd = u64{1} << 1;
inline constexpr u64 rarp = u64{1} << 2;
inline constexpr u64 reply_ack = u64{1} << 3;
}  // namespace pf

// SET_VRING_KICK/CALL/ERR: the queue index in the low byte, and a flag
// saying no descriptor came (polling).
inline constexpr u64 kVringIndexMask = 0xff;
inline constexpr u64 kVringNoFd = 0x100;

struct Header {
  u32 request = 0;
  u32 flags = 0;
  u32 size = 0;
  // Err::truncated under kHdrLen; Err::malformed for a version other than
  // 1 or a size above kMaxPayload.
  static Result<Header> parse(Bytes b) noexcept;
  void emit(u8* out) const noexcept;  // kHdrLen bytes
};

struct VringState {
  u32 index = 0;
  u32 num = 0;
  static Result<VringState> parse(Bytes payload) noexcept;
  void emit(u8* out) const noexcept;  // 8 bytes
};

struct VringAddr {
  u32 index = 0;
  u32 flags = 0;  // bit 0: log the used ring (migration; not offered)
  u64 desc = 0;   // the three rings, in the front end's address space
  u64 used = 0;
  u64 avail = 0;
  u64 log = 0;
  static Result<VringAddr> parse(Bytes payload) noexcept;
};

struct MemRegionMsg {
  u64 gpa = 0;
  u64 size = 0;
  u64 uva = 0;
  u64 mmap_offset = 0;  // where the region starts in the descriptor's file
};

struct MemTable {
  static constexpr std::size_t kMaxRegions = 8;
  u32 count = 0;
  std::array<MemRegionMsg, kMaxRegions> region{};
  // Err::truncated under 8 bytes; Err::malformed for more than kMaxRegions
  // or a payload too short for `count` regions.
  static Result<MemTable> parse(Bytes payload) noexcept;
};

// An 8-byte payload (features, a vring descriptor index, a status).
Result<u64> parse_u64(Bytes payload) noexcept;

}  // namespace passt::wire::vhost_user
