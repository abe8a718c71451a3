#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "wire/dns_name.hpp"

namespace passt::wire {
namespace {

DnsName name(std::string_view s) {
  auto r = DnsName::from_text(s);
  EXPECT_TRUE(r.ok()) << s;
  return r.value_or(DnsName());
}

std::vector<u8> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<u8> encode(std::span<const DnsName> names, DnsCompression c) {
  std::vector<u8> out(dns_list_length(names, c));
  auto n = dns_encode_list(names, c, MutBytes(out));
  EXPECT_TRUE(n.ok());
  EXPECT_EQ(n.value_or(0), out.size());
  return out;
}

TEST(DnsName, FromTextEncodesLabels) {
  DnsName n = name("example.com");
  const std::array<u8, 13> want = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
  EXPECT_TRUE(std::ranges::equal(n.wire(), want));
  EXPECT_EQ(n.label_count(), 2u);
  EXPECT_EQ(n.text().view(), "example.com");
  EXPECT_EQ(name("example.com."), n);  // trailing dot is optional
}

TEST(DnsName, RootForms) {
  EXPECT_TRUE(name("").is_root());
  EXPECT_TRUE(name(".").is_root());
  EXPECT_EQ(name("").wire().size(), 1u);
  EXPECT_EQ(name("").text().view(), ".");
  EXPECT_EQ(name("").label_count(), 0u);
}

TEST(DnsName, RejectsEmptyLabels) {
  EXPECT_EQ(DnsName::from_text("a..b").err(), Err::malformed);
  EXPECT_EQ(DnsName::from_text(".a").err(), Err::malformed);
  EXPECT_EQ(DnsName::from_text("a.b..").err(), Err::malformed);
}

TEST(DnsName, LabelAndNameLimits) {
  const std::string l63(63, 'a');
  const std::string l64(64, 'a');
  EXPECT_TRUE(DnsName::from_text(l63).ok());
  EXPECT_EQ(DnsName::from_text(l64).err(), Err::msg_size);
  // 3 x 63 + 61: 3*64 + 62 + 1 = 255 wire bytes, 253 text bytes: the maximum.
  const std::string max = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
  auto m = DnsName::from_text(max);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->wire_length(), 255u);
  EXPECT_EQ(m->text().view(), max);
  EXPECT_EQ(DnsName::from_text(max + "c").err(), Err::msg_size);
}

TEST(DnsName, FromWireValidates) {
  const std::array<u8, 5> ok = {1, 'a', 1, 'b', 0};
  EXPECT_EQ(DnsName::from_wire(Bytes(ok))->text().view(), "a.b");
  const std::array<u8, 4> no_root = {1, 'a', 1, 'b'};
  EXPECT_EQ(DnsName::from_wire(Bytes(no_root)).err(), Err::truncated);
  const std::array<u8, 4> trailing = {1, 'a', 0, 0};
  EXPECT_EQ(DnsName::from_wire(Bytes(trailing)).err(), Err::malformed);
  const std::array<u8, 4> pointer = {1, 'a', 0xc0, 0};
  EXPECT_EQ(DnsName::from_wire(Bytes(pointer)).err(), Err::malformed);
  EXPECT_EQ(DnsName::from_wire(Bytes()).err(), Err::truncated);
}

// RFC 3397 §3: "eng.apple.com." and "marketing.apple.com." as one
// compressed stream; the second name points at offset 4 ("apple.com").
TEST(DnsName, Rfc3397ExampleCompresses) {
  const std::array<DnsName, 2> names = {name("eng.apple.com"), name("marketing.apple.com")};
  const std::vector<u8> want = {3,   'e', 'n', 'g', 5,   'a', 'p', 'p', 'l', 'e', 3,   'c',
                                'o', 'm', 0,   9,   'm', 'a', 'r', 'k', 'e', 't', 'i', 'n',
                                'g', 0xc0, 0x04};
  EXPECT_EQ(encode(names, DnsCompression::rfc1035), want);
  DnsNameList out;
  ASSERT_TRUE(dns_decode_list(Bytes(want), DnsCompression::rfc1035, out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], names[0]);
  EXPECT_EQ(out[1], names[1]);
  // Without compression the pointer is refused.
  EXPECT_EQ(dns_decode_list(Bytes(want), DnsCompression::none, out).err(), Err::malformed);
}

TEST(DnsName, UncompressedIsConcatenation) {
  const std::array<DnsName, 2> names = {name("eng.apple.com"), name("marketing.apple.com")};
  std::vector<u8> want(names[0].wire().begin(), names[0].wire().end());
  want.insert(want.end(), names[1].wire().begin(), names[1].wire().end());
  EXPECT_EQ(encode(names, DnsCompression::none), want);
}

TEST(DnsName, DuplicateNameBecomesPointer) {
  const std::array<DnsName, 3> names = {name("a.example"), name("a.example"), name("example")};
  auto out = encode(names, DnsCompression::rfc1035);
  // 11 bytes for the first, 2 for each pointer.
  ASSERT_EQ(out.size(), 15u);
  EXPECT_EQ(out[11], 0xc0);
  EXPECT_EQ(out[12], 0x00);
  EXPECT_EQ(out[13], 0xc0);
  EXPECT_EQ(out[14], 0x02);
}

TEST(DnsName, CompressionIsCaseExact) {
  const std::array<DnsName, 2> names = {name("A.com"), name("a.com")};
  auto out = encode(names, DnsCompression::rfc1035);
  // "a" is written again, only "com" is shared.
  const std::vector<u8> want = {1, 'A', 3, 'c', 'o', 'm', 0, 1, 'a', 0xc0, 2};
  EXPECT_EQ(out, want);
}

TEST(DnsName, RootNamesInList) {
  const std::array<DnsName, 3> names = {name(""), name("x"), name("")};
  auto out = encode(names, DnsCompression::rfc1035);
  const std::vector<u8> want = {0, 1, 'x', 0, 0};
  EXPECT_EQ(out, want);
  DnsNameList l;
  ASSERT_TRUE(dns_decode_list(Bytes(out), DnsCompression::rfc1035, l).ok());
  ASSERT_EQ(l.size(), 3u);
  EXPECT_TRUE(l[0].is_root());
  EXPECT_TRUE(l[2].is_root());
}

// RFC 1035 §4.1.4: F.ISI.ARPA at 20, FOO.F.ISI.ARPA at 40 (pointer to 20),
// ARPA at 64 (pointer to 26), the root at 92.
TEST(DnsName, Rfc1035SectionFourOneFourExample) {
  std::vector<u8> msg(93, 0xee);
  const std::vector<u8> f_isi = {1, 'F', 3, 'I', 'S', 'I', 4, 'A', 'R', 'P', 'A', 0};
  std::copy(f_isi.begin(), f_isi.end(), msg.begin() + 20);
  const std::vector<u8> foo = {3, 'F', 'O', 'O', 0xc0, 20};
  std::copy(foo.begin(), foo.end(), msg.begin() + 40);
  msg[64] = 0xc0;
  msg[65] = 26;
  msg[92] = 0;
  auto a = dns_decode_name(Bytes(msg), 20, DnsCompression::rfc1035);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->name.text().view(), "F.ISI.ARPA");
  EXPECT_EQ(a->next, 32u);
  auto b = dns_decode_name(Bytes(msg), 40, DnsCompression::rfc1035);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->name.text().view(), "FOO.F.ISI.ARPA");
  EXPECT_EQ(b->next, 46u);
  auto c = dns_decode_name(Bytes(msg), 64, DnsCompression::rfc1035);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->name.text().view(), "ARPA");
  EXPECT_EQ(c->next, 66u);
  auto d = dns_decode_name(Bytes(msg), 92, DnsCompression::rfc1035);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->name.is_root());
}

TEST(DnsName, PointerLoopsAreRefused) {
  // A pointer to itself.
  const std::vector<u8> self = {0xc0, 0x00};
  EXPECT_EQ(dns_decode_name(Bytes(self), 0, DnsCompression::rfc1035).err(), Err::malformed);
  // Forward pointer.
  const std::vector<u8> fwd = {0xc0, 0x02, 0x00};
  EXPECT_EQ(dns_decode_name(Bytes(fwd), 0, DnsCompression::rfc1035).err(), Err::malformed);
  // Two pointers at each other: 2 -> 0 is backwards, then 0 -> 2 is not.
  const std::vector<u8> pair = {0xc0, 0x02, 0xc0, 0x00};
  EXPECT_EQ(dns_decode_name(Bytes(pair), 2, DnsCompression::rfc1035).err(), Err::malformed);
  // A label followed by a pointer back to that label: the jump lands at
  // 0 < 4, then reading forward reaches the same pointer, whose target is not
  // before the previous jump target.
  const std::vector<u8> loop = {1, 'a', 1, 'b', 0xc0, 0x00};
  EXPECT_EQ(dns_decode_name(Bytes(loop), 4, DnsCompression::rfc1035).err(), Err::malformed);
}

TEST(DnsName, DecodeBounds) {
  const std::vector<u8> cut_label = {5, 'a', 'b'};
  EXPECT_EQ(dns_decode_name(Bytes(cut_label), 0, DnsCompression::none).err(), Err::truncated);
  const std::vector<u8> cut_ptr = {1, 'a', 0xc0};
  EXPECT_EQ(dns_decode_name(Bytes(cut_ptr), 0, DnsCompression::rfc1035).err(), Err::truncated);
  const std::vector<u8> ext = {0x41, 'a', 0};
  EXPECT_EQ(dns_decode_name(Bytes(ext), 0, DnsCompression::none).err(), Err::malformed);
  const std::vector<u8> ext2 = {0x80, 0};
  EXPECT_EQ(dns_decode_name(Bytes(ext2), 0, DnsCompression::none).err(), Err::malformed);
  EXPECT_EQ(dns_decode_name(Bytes(), 0, DnsCompression::none).err(), Err::truncated);
  // Over 255 bytes through pointers: 100 one-byte labels, then a name of
  // 100 more labels pointing back at them.
  std::vector<u8> big;
  for (int i = 0; i < 100; i++) big.insert(big.end(), {1, 'x'});
  big.push_back(0);
  const std::size_t second = big.size();
  for (int i = 0; i < 100; i++) big.insert(big.end(), {1, 'y'});
  big.insert(big.end(), {0xc0, 0x00});
  EXPECT_TRUE(dns_decode_name(Bytes(big), 0, DnsCompression::rfc1035).ok());
  EXPECT_EQ(dns_decode_name(Bytes(big), second, DnsCompression::rfc1035).err(), Err::msg_size);
}

TEST(DnsName, ListCapacityAndTruncation) {
  std::vector<u8> nine;
  for (int i = 0; i < 9; i++) nine.insert(nine.end(), {1, static_cast<u8>('a' + i), 0});
  DnsNameList l;
  EXPECT_EQ(dns_decode_list(Bytes(nine), DnsCompression::none, l).err(), Err::full);
  nine.resize(3 * 8);
  EXPECT_TRUE(dns_decode_list(Bytes(nine), DnsCompression::none, l).ok());
  EXPECT_EQ(l.size(), 8u);
  // A list cut inside a name.
  nine.resize(3 * 8 - 1);
  EXPECT_EQ(dns_decode_list(Bytes(nine), DnsCompression::none, l).err(), Err::truncated);
  EXPECT_TRUE(dns_decode_list(Bytes(), DnsCompression::none, l).ok());
  EXPECT_TRUE(l.empty());

  const std::array<DnsName, 1> one = {name("abc.de")};
  std::array<u8, 7> small{};
  EXPECT_EQ(dns_encode_list(one, DnsCompression::none, MutBytes(small)).err(), Err::truncated);
  std::array<u8, 8> exact{};
  EXPECT_EQ(dns_encode_list(one, DnsCompression::none, MutBytes(exact).first(8)).value_or(0), 8u);
}

TEST(DnsName, CompressedListOfMaximalNamesDecodes) {
  // Eight long names sharing a long suffix.
  const std::string tail = std::string(63, 't') + "." + std::string(63, 'u');
  std::array<DnsName, 8> names;
  for (std::size_t i = 0; i < names.size(); i++)
    names[i] = name(std::string(1 + i, static_cast<char>('a' + i)) + "." + tail);
  auto out = encode(names, DnsCompression::rfc1035);
  EXPECT_LT(out.size(), dns_list_length(names, DnsCompression::none));
  DnsNameList l;
  ASSERT_TRUE(dns_decode_list(Bytes(out), DnsCompression::rfc1035, l).ok());
  ASSERT_EQ(l.size(), names.size());
  for (std::size_t i = 0; i < names.size(); i++) EXPECT_EQ(l[i], names[i]);
}

TEST(FixedList, PushAssignCompare) {
  FixedList<int, 2> a;
  EXPECT_TRUE(a.push(1));
  EXPECT_TRUE(a.push(2));
  EXPECT_FALSE(a.push(3));
  EXPECT_EQ(a.size(), 2u);
  FixedList<int, 2> b;
  const std::array<int, 2> src = {1, 2};
  EXPECT_TRUE(b.assign(src));
  EXPECT_EQ(a, b);
  const std::array<int, 3> big = {1, 2, 3};
  EXPECT_FALSE(b.assign(big));
  EXPECT_TRUE(b.empty());
  EXPECT_FALSE(a == b);
  (void)bytes_of;
}

}  // namespace
}  // namespace passt::wire
