#include "wire/vhost_user.hpp"

#include "util/endian.hpp"

namespace passt::wire::vhost_user {

const char* req_name(u32 request) noexcept {
  switch (request) {
    case req::get_features: return "GET_FEATURES";
    case req::set_features: return "SET_FEATURES";
    case req::set_owner: return "SET_OWNER";
    case req::reset_owner: return "RESET_OWNER";
    case req::set_mem_table: return "SET_MEM_TABLE";
    case req::set_log_base: return "SET_LOG_BASE";
    case req::set_log_fd: return "SET_LOG_FD";
    case req::set_vring_num: return "SET_VRING_NUM";
    case req::set_vring_addr: return "SET_VRING_ADDR";
    case req::set_vring_base: return "SET_VRING_BASE";
    case req::get_vring_base: return "GET_VRING_BASE";
    case req::set_vring_kick: return "SET_VRING_KICK";
    case req::set_vring_call: return "SET_VRING_CALL";
    case req::set_vring_err: return "SET_VRING_ERR";
    case req::get_protocol_features: return "GET_PROTOCOL_FEATURES";
    case req::set_protocol_features: return "SET_PROTOCOL_FEATURES";
    case req::get_queue_num: return "GET_QUEUE_NUM";
    case req::set_vring_enable: return "SET_VRING_ENABLE";
    case req::send_rarp: return "SEND_RARP";
    case req::net_set_mtu: return "NET_SET_MTU";
    default: return "unknown";
  }
}

bool req_replies(u32 request) noexcept {
  return request == req::get_features || request == req::get_protocol_features ||
         request == req::get_vring_base || request == req::get_queue_num;
}

Result<Header> Header::parse(Bytes b) noexcept {
  if (b.size() < kHdrLen) return Err::truncated;
  Header h;
  h.request = load_le32(b.data());
  h.flags = load_le32(b.data() + 4);
  h.size = load_le32(b.data() + 8);
  if ((h.flags & kFlagVersionMask) != kVersion || h.size > kMaxPayload) return Err::malformed;
  return h;
}

void Header::emit(u8* out) const noexcept {
  store_le32(out, request);
  store_le32(out + 4, flags);
  store_le32(out + 8, size);
}

Result<VringState> VringState::parse(Bytes payload) noexcept {
  if (payload.size() < 8) return Err::truncated;
  return VringState{load_le32(payload.data()), load_le32(payload.data() + 4)};
}

void VringState::emit(u8* out) const noexcept {
  store_le32(out, index);
  store_le32(out + 4, num);
}

Result<VringAddr> VringAddr::parse(Bytes payload) noexcept {
  if (payload.size() < 40) return Err::truncated;
  const u8* p = payload.data();
  VringAddr a;
  a.index = load_le32(p);
  a.flags = load_le32(p + 4);
  a.desc = load_le64(p + 8);
  a.used = load_le64(p + 16);
  a.avail = load_le64(p + 24);
  a.log = load_le64(p + 32);
  return a;
}

Result<MemTable> MemTable::parse(Bytes payload) noexcept {
  if (payload.size() < 8) return Err::truncated;
  MemTable t;
  t.count = load_le32(payload.data());  // then 4 bytes of padding
  if (t.count > kMaxRegions) return Err::malformed;
  if (payload.size() < 8 + std::size_t{32} * t.count) return Err::malformed;
  for (u32 i = 0; i < t.count; i++) {
    const u8* p = payload.data() + 8 + std::size_t{32} * i;
    t.region[i] = MemRegionMsg{load_le64(p), load_le64(p + 8), load_le64(p + 16), load_le64(p + 24)};
  }
  return t;
}

Result<u64> parse_u64(Bytes payload) noexcept {
  if (payload.size() < 8) return Err::truncated;
  return load_le64(payload.data());
}

}  // namespace passt::wire::vhost_user
