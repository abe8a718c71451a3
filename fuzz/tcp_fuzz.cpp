// TCP: parse agrees with the data-offset rules; whatever the option list
// holds, the repr re-emits (when its options fit 40 bytes) to a segment that
// parses to the same repr with a valid checksum; tcp_patch then changes
// exactly seq/ack/flags/window and keeps the checksum valid.
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz/fuzz.hpp"
#include "util/endian.hpp"
#include "wire/tcp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace passt;
  using namespace passt::wire;
  const Ipv4Addr s4 = Ipv4Addr::of(10, 0, 0, 1);
  const Ipv4Addr d4 = Ipv4Addr::of(10, 0, 0, 2);
  const Ipv6Addr s6 = *parse_ipv6("fd00::1");
  const Ipv6Addr d6 = *parse_ipv6("fd00::2");
  auto v = TcpView::parse(Bytes(data, size));
  if (!v) {
    PASST_CHECK(size < kTcpHeaderLen || (data[12] >> 4) < 5 ||
                static_cast<std::size_t>(data[12] >> 4) * 4 > size);
    return 0;
  }
  PASST_CHECK(v->header_len() >= kTcpHeaderLen && v->header_len() <= kTcpMaxHeaderLen);
  PASST_CHECK(v->header().size() + v->payload().size() == size);
  PASST_CHECK(v->options().size() == v->header_len() - kTcpHeaderLen);
  const bool ok4 = v->checksum_ok(s4, d4);
  (void)v->checksum_ok(s6, d6);

  TcpRepr r = TcpRepr::from(*v);
  PASST_CHECK(r.payload_len == v->payload().size());
  PASST_CHECK(r.options.sack_count <= kTcpMaxSackBlocks);
  PASST_CHECK(r.options.unknown_count() <= kTcpMaxUnknownOptions);
  std::size_t unknown_bytes = 0;
  for (std::size_t i = 0; i < r.options.unknown_count(); i++) {
    PASST_CHECK(r.options.unknown_data(i).size() == r.options.unknown(i).len);
    unknown_bytes += std::size_t{2} + r.options.unknown(i).len;
  }
  PASST_CHECK(unknown_bytes <= v->options().size());
  // A re-parse never reports the original list's length error.
  r.options.malformed = false;

  std::vector<u8> out(r.header_len() + r.payload_len);
  std::memcpy(out.data() + r.header_len(), v->payload().data(), r.payload_len);
  if (r.options.length() > kTcpMaxOptionsLen) {
    // Our canonical layout (NOP alignment) can be longer than a packed one.
    PASST_CHECK(r.emit(MutBytes(out), s4, d4).err() == Err::invalid);
    return 0;
  }
  PASST_CHECK(r.emit(MutBytes(out), s4, d4).ok());
  auto v2 = TcpView::parse(Bytes(out));
  PASST_CHECK(v2.ok() && v2->checksum_ok(s4, d4));
  PASST_CHECK(v2->header_len() == r.header_len());
  PASST_CHECK(TcpRepr::from(*v2) == r);
  // Same options and layout as the input: the same bytes, checksum included.
  if (ok4 && v->reserved() == 0 && v->options().size() == r.options.length() &&
      std::memcmp(out.data() + kTcpHeaderLen, v->options().data(), v->options().size()) == 0) {
    const u16 c = load_be16(out.data() + 16);
    if (c != 0 && c != 0xffff) PASST_CHECK(std::memcmp(out.data(), data, size) == 0);
  }

  PASST_CHECK(r.emit(MutBytes(out), s6, d6).ok());
  PASST_CHECK(TcpView::parse(Bytes(out))->checksum_ok(s6, d6));

  const TcpPatch p{Seq{~r.seq.v}, r.ack + 1, static_cast<u8>(r.flags ^ 0x5a),
                   static_cast<u16>(r.window + 7)};
  PASST_CHECK(tcp_patch(MutBytes(out), p, s6, d6).ok());
  auto v3 = TcpView::parse(Bytes(out));
  PASST_CHECK(v3.ok() && v3->checksum_ok(s6, d6));
  TcpRepr r3 = TcpRepr::from(*v3);
  PASST_CHECK(r3.seq == p.seq && r3.ack == p.ack && r3.flags == p.flags && r3.window == p.window);
  r3.seq = r.seq;
  r3.ack = r.ack;
  r3.flags = r.flags;
  r3.window = r.window;
  PASST_CHECK(r3 == r);
  return 0;
}
