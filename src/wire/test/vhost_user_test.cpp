#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "util/endian.hpp"
#include "wire/vhost_user.hpp"

namespace passt::wire::vhost_user {
namespace {

std::array<u8, kHdrLen> hdr(u32 request, u32 flags, u32 size) {
  std::array<u8, kHdrLen> b{};
  store_le32(b.data(), request);
  store_le32(b.data() + 4, flags);
  store_le32(b.data() + 8, size);
  return b;
}

TEST(VhostUserHeader, ParseEmitRoundTrip) {
  const auto b = hdr(req::set_mem_table, kVersion | kFlagNeedReply, 264);
  auto h = Header::parse(Bytes(b));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->request, req::set_mem_table);
  EXPECT_EQ(h->flags, kVersion | kFlagNeedReply);
  EXPECT_EQ(h->size, 264U);
  std::array<u8, kHdrLen> out{};
  h->emit(out.data());
  EXPECT_EQ(out, b);
}

TEST(VhostUserHeader, EmitIsLittleEndian) {
  const Header h{req::get_features, kVersion | kFlagReply, 8};
  std::array<u8, kHdrLen> out{};
  h.emit(out.data());
  const std::array<u8, kHdrLen> want{1, 0, 0, 0, 5, 0, 0, 0, 8, 0, 0, 0};
  EXPECT_EQ(out, want);
  auto back = Header::parse(Bytes(out));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->request, h.request);
  EXPECT_EQ(back->flags, h.flags);
  EXPECT_EQ(back->size, h.size);
}

TEST(VhostUserHeader, VersionChecked) {
  for (u32 flags : {0U, 2U, 3U, kFlagReply, kFlagNeedReply | 2U, 0xfffffffcU, 0xffffffffU - 1}) {
    const auto b = hdr(req::get_features, flags, 0);
    auto h = Header::parse(Bytes(b));
    ASSERT_FALSE(h) << flags;
    EXPECT_EQ(h.err(), Err::malformed) << flags;
  }
  // Only the low two bits are the version: the others are flags.
  for (u32 flags : {1U, kVersion | kFlagReply, kVersion | kFlagNeedReply, 0xfffffffdU}) {
    const auto b = hdr(req::get_features, flags, 0);
    auto h = Header::parse(Bytes(b));
    ASSERT_TRUE(h) << flags;
    EXPECT_EQ(h->flags, flags);
  }
}

TEST(VhostUserHeader, SizeChecked) {
  auto b = hdr(req::set_features, kVersion, static_cast<u32>(kMaxPayload));
  auto h = Header::parse(Bytes(b));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->size, kMaxPayload);
  for (u32 size : {static_cast<u32>(kMaxPayload) + 1, 0x10000U, 0xffffffffU}) {
    b = hdr(req::set_features, kVersion, size);
    h = Header::parse(Bytes(b));
    ASSERT_FALSE(h) << size;
    EXPECT_EQ(h.err(), Err::malformed);
  }
}

TEST(VhostUserHeader, Truncated) {
  const auto b = hdr(req::get_features, kVersion, 0);
  for (std::size_t n = 0; n < kHdrLen; n++) {
    auto h = Header::parse(Bytes(b.data(), n));
    ASSERT_FALSE(h) << n;
    EXPECT_EQ(h.err(), Err::truncated) << n;
  }
}

TEST(VhostUserHeader, TrailingPayloadIgnored) {
  std::vector<u8> m(kHdrLen + 8, 0xee);
  const auto b = hdr(req::set_features, kVersion, 8);
  std::memcpy(m.data(), b.data(), b.size());
  auto h = Header::parse(Bytes(m));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->request, req::set_features);
  EXPECT_EQ(h->size, 8U);
}

TEST(VhostUserVringState, ParseEmit) {
  const std::array<u8, 8> b{1, 0, 0, 0, 0x00, 0x01, 0, 0};
  auto s = VringState::parse(Bytes(b));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->index, 1U);
  EXPECT_EQ(s->num, 256U);
  std::array<u8, 8> out{};
  s->emit(out.data());
  EXPECT_EQ(out, b);
  const VringState v{0x01020304, 0xa0b0c0d0};
  v.emit(out.data());
  const std::array<u8, 8> want{4, 3, 2, 1, 0xd0, 0xc0, 0xb0, 0xa0};
  EXPECT_EQ(out, want);
  // Longer payloads: the first 8 bytes.
  std::vector<u8> longer(want.begin(), want.end());
  longer.resize(20, 0xff);
  auto l = VringState::parse(Bytes(longer));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->index, 0x01020304U);
  EXPECT_EQ(l->num, 0xa0b0c0d0U);
}

TEST(VhostUserVringState, Truncated) {
  const std::array<u8, 8> b{};
  for (std::size_t n = 0; n < 8; n++) {
    auto s = VringState::parse(Bytes(b.data(), n));
    ASSERT_FALSE(s) << n;
    EXPECT_EQ(s.err(), Err::truncated);
  }
}

TEST(VhostUserVringAddr, Parse) {
  std::array<u8, 40> b{};
  store_le32(b.data(), 1);
  store_le32(b.data() + 4, 0);
  store_le64(b.data() + 8, 0x7f0011112000);   // desc
  store_le64(b.data() + 16, 0x7f0011113000);  // used
  store_le64(b.data() + 24, 0x7f0011112800);  // avail
  store_le64(b.data() + 32, 0x1122334455667788);
  auto a = VringAddr::parse(Bytes(b));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->index, 1U);
  EXPECT_EQ(a->flags, 0U);
  EXPECT_EQ(a->desc, 0x7f0011112000U);
  EXPECT_EQ(a->used, 0x7f0011113000U);
  EXPECT_EQ(a->avail, 0x7f0011112800U);
  EXPECT_EQ(a->log, 0x1122334455667788U);
  for (std::size_t n = 0; n < 40; n++) {
    auto t = VringAddr::parse(Bytes(b.data(), n));
    ASSERT_FALSE(t) << n;
    EXPECT_EQ(t.err(), Err::truncated);
  }
}

std::vector<u8> mem_table(u32 count, std::size_t regions) {
  std::vector<u8> p(8 + 32 * regions, 0);
  store_le32(p.data(), count);
  store_le32(p.data() + 4, 0xdeadbeef);  // padding: ignored
  for (std::size_t i = 0; i < regions; i++) {
    u8* r = p.data() + 8 + 32 * i;
    store_le64(r, 0x100000000 * (i + 1));
    store_le64(r + 8, 0x1000 * (i + 1));
    store_le64(r + 16, 0x7f0000000000 + 0x10000000 * i);
    store_le64(r + 24, 0x100 * i);
  }
  return p;
}

TEST(VhostUserMemTable, Parse) {
  const auto p = mem_table(2, 2);
  auto t = MemTable::parse(Bytes(p));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->count, 2U);
  EXPECT_EQ(t->region[0].gpa, 0x100000000U);
  EXPECT_EQ(t->region[0].size, 0x1000U);
  EXPECT_EQ(t->region[0].uva, 0x7f0000000000U);
  EXPECT_EQ(t->region[0].mmap_offset, 0U);
  EXPECT_EQ(t->region[1].gpa, 0x200000000U);
  EXPECT_EQ(t->region[1].size, 0x2000U);
  EXPECT_EQ(t->region[1].uva, 0x7f0010000000U);
  EXPECT_EQ(t->region[1].mmap_offset, 0x100U);
  EXPECT_EQ(t->region[2].size, 0U);  // the rest left zero
}

TEST(VhostUserMemTable, ZeroAndMaxRegions) {
  const auto z = mem_table(0, 0);
  auto t = MemTable::parse(Bytes(z));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->count, 0U);
  const auto full = mem_table(8, 8);
  ASSERT_EQ(full.size(), 264U);
  t = MemTable::parse(Bytes(full));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->count, 8U);
  EXPECT_EQ(t->region[7].gpa, 0x800000000U);
  EXPECT_EQ(t->region[7].mmap_offset, 0x700U);
}

TEST(VhostUserMemTable, TooManyRegionsMalformed) {
  for (u32 count : {9U, 100U, 0x80000000U, 0xffffffffU}) {
    const auto p = mem_table(count, 9);  // enough bytes for nine
    auto t = MemTable::parse(Bytes(p));
    ASSERT_FALSE(t) << count;
    EXPECT_EQ(t.err(), Err::malformed);
  }
}

TEST(VhostUserMemTable, PayloadTooShortMalformed) {
  for (u32 count = 1; count <= 8; count++) {
    auto p = mem_table(count, count);
    p.pop_back();  // one byte short of the last region
    auto t = MemTable::parse(Bytes(p));
    ASSERT_FALSE(t) << count;
    EXPECT_EQ(t.err(), Err::malformed);
    const auto fewer = mem_table(count, count - 1);  // one region short
    t = MemTable::parse(Bytes(fewer));
    ASSERT_FALSE(t) << count;
    EXPECT_EQ(t.err(), Err::malformed);
  }
}

TEST(VhostUserMemTable, Truncated) {
  const auto p = mem_table(0, 0);
  for (std::size_t n = 0; n < 8; n++) {
    auto t = MemTable::parse(Bytes(p.data(), n));
    ASSERT_FALSE(t) << n;
    EXPECT_EQ(t.err(), Err::truncated);
  }
}

TEST(VhostUserU64, Parse) {
  const std::array<u8, 10> b{0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xff, 0xff};
  auto v = parse_u64(Bytes(b));
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 0x1122334455667788U);
  v = parse_u64(Bytes(b.data(), 8));
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 0x1122334455667788U);
  for (std::size_t n = 0; n < 8; n++) {
    v = parse_u64(Bytes(b.data(), n));
    ASSERT_FALSE(v) << n;
    EXPECT_EQ(v.err(), Err::truncated);
  }
}

TEST(VhostUserReq, Names) {
  EXPECT_EQ(std::string(req_name(req::get_features)), "GET_FEATURES");
  EXPECT_EQ(std::string(req_name(req::set_features)), "SET_FEATURES");
  EXPECT_EQ(std::string(req_name(req::set_owner)), "SET_OWNER");
  EXPECT_EQ(std::string(req_name(req::reset_owner)), "RESET_OWNER");
  EXPECT_EQ(std::string(req_name(req::set_mem_table)), "SET_MEM_TABLE");
  EXPECT_EQ(std::string(req_name(req::set_log_base)), "SET_LOG_BASE");
  EXPECT_EQ(std::string(req_name(req::set_log_fd)), "SET_LOG_FD");
  EXPECT_EQ(std::string(req_name(req::set_vring_num)), "SET_VRING_NUM");
  EXPECT_EQ(std::string(req_name(req::set_vring_addr)), "SET_VRING_ADDR");
  EXPECT_EQ(std::string(req_name(req::set_vring_base)), "SET_VRING_BASE");
  EXPECT_EQ(std::string(req_name(req::get_vring_base)), "GET_VRING_BASE");
  EXPECT_EQ(std::string(req_name(req::set_vring_kick)), "SET_VRING_KICK");
  EXPECT_EQ(std::string(req_name(req::set_vring_call)), "SET_VRING_CALL");
  EXPECT_EQ(std::string(req_name(req::set_vring_err)), "SET_VRING_ERR");
  EXPECT_EQ(std::string(req_name(req::get_protocol_features)), "GET_PROTOCOL_FEATURES");
  EXPECT_EQ(std::string(req_name(req::set_protocol_features)), "SET_PROTOCOL_FEATURES");
  EXPECT_EQ(std::string(req_name(req::get_queue_num)), "GET_QUEUE_NUM");
  EXPECT_EQ(std::string(req_name(req::set_vring_enable)), "SET_VRING_ENABLE");
  EXPECT_EQ(std::string(req_name(req::send_rarp)), "SEND_RARP");
  EXPECT_EQ(std::string(req_name(req::net_set_mtu)), "NET_SET_MTU");
  for (u32 r : {0U, 21U, 40U, 0xffffffffU}) EXPECT_EQ(std::string(req_name(r)), "unknown") << r;
}

TEST(VhostUserReq, CodesMatchTheSpec) {
  // qemu docs/interop/vhost-user.rst numbering.
  EXPECT_EQ(req::get_features, 1U);
  EXPECT_EQ(req::set_mem_table, 5U);
  EXPECT_EQ(req::set_vring_num, 8U);
  EXPECT_EQ(req::set_vring_addr, 9U);
  EXPECT_EQ(req::set_vring_kick, 12U);
  EXPECT_EQ(req::get_protocol_features, 15U);
  EXPECT_EQ(req::get_queue_num, 17U);
  EXPECT_EQ(req::set_vring_enable, 18U);
  EXPECT_EQ(req::net_set_mtu, 20U);
}

TEST(VhostUserReq, Replies) {
  for (u32 r = 0; r <= 40; r++) {
    const bool want = r == req::get_features || r == req::get_protocol_features ||
                      r == req::get_vring_base || r == req::get_queue_num;
    EXPECT_EQ(req_replies(r), want) << req_name(r);
  }
  EXPECT_FALSE(req_replies(0xffffffff));
}

}  // namespace
}  // namespace passt::wire::vhost_user
