#include "wire/dns_name.hpp"

#include <cstring>

#include "util/endian.hpp"

namespace passt::wire {

namespace {

constexpr u8 kPointerBits = 0xc0;
constexpr std::size_t kMaxPointerOffset = 0x3fff;
// Names whose layout the compressor remembers as pointer targets.  Later
// names are still encoded correctly, they just are not reused as targets.
constexpr std::size_t kMaxCompressTargets = 64;

// Offset of the label after the one at `off` in an uncompressed name.
std::size_t next_label(Bytes wire, std::size_t off) noexcept { return off + 1 + wire[off]; }

bool same_tail(Bytes a, std::size_t off_a, Bytes b, std::size_t off_b) noexcept {
  const std::size_t n = a.size() - off_a;
  return n == b.size() - off_b && std::memcmp(a.data() + off_a, b.data() + off_b, n) == 0;
}

struct Placed {
  std::size_t start = 0;           // offset of the name in the output
  std::size_t physical_bytes = 0;  // bytes of its labels written in full
};

// The one encoder: counts when `out` is null, writes otherwise.
//
// For name i, every label start already written in full by an earlier name
// is a candidate pointer target; the suffix it stands for is the tail of
// that earlier name.  A name has at most one suffix of a given length, so a
// table from tail length to label offset finds the suffix of name i a
// candidate could replace in O(1); the longest such suffix wins (the first
// candidate in output order among equals).  Cost: O(candidates) per name,
// plus a byte comparison only when the lengths agree.
std::size_t encode(std::span<const DnsName> names, DnsCompression c, u8* out) noexcept {
  std::array<Placed, kMaxCompressTargets> placed{};
  std::size_t pos = 0;
  for (std::size_t i = 0; i < names.size(); i++) {
    Bytes w = names[i].wire();
    std::size_t keep = w.size();  // bytes written verbatim (whole name by default)
    std::size_t target = 0;
    if (c == DnsCompression::rfc1035 && w.size() > 1) {
      // tail length -> offset of the label starting that suffix (root excluded).
      std::array<u8, kDnsMaxName + 1> k_for_len{};
      std::array<bool, kDnsMaxName + 1> has{};
      for (std::size_t k = 0; w[k] != 0; k = next_label(w, k)) {
        k_for_len[w.size() - k] = static_cast<u8>(k);
        has[w.size() - k] = true;
      }
      for (std::size_t j = 0; j < i && j < placed.size(); j++) {
        Bytes v = names[j].wire();
        for (std::size_t l = 0; l < placed[j].physical_bytes; l = next_label(v, l)) {
          const std::size_t off = placed[j].start + l;
          if (off > kMaxPointerOffset) break;
          const std::size_t tail = v.size() - l;
          if (!has[tail] || k_for_len[tail] >= keep) continue;
          if (same_tail(w, k_for_len[tail], v, l)) {
            keep = k_for_len[tail];
            target = off;
          }
        }
      }
    }
    const bool found = keep < w.size();
    if (i < placed.size()) placed[i] = {pos, found ? keep : w.size() - 1};
    if (out != nullptr && keep > 0) std::memcpy(out + pos, w.data(), keep);
    pos += keep;
    if (found) {
      if (out != nullptr) store_be16(out + pos, static_cast<u16>(0xc000u | target));
      pos += 2;
    }
  }
  return pos;
}

}  // namespace

Result<DnsName> DnsName::from_text(std::string_view text) noexcept {
  DnsName n;
  if (text.empty() || text == ".") return n;
  if (text.back() == '.') text.remove_suffix(1);
  std::size_t len = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t dot = text.find('.', start);
    if (dot == std::string_view::npos) dot = text.size();
    std::size_t l = dot - start;
    if (l == 0) return Err::malformed;
    if (l > kDnsMaxLabel) return Err::msg_size;
    if (len + 1 + l + 1 > kDnsMaxName) return Err::msg_size;
    n.wire_[len++] = static_cast<u8>(l);
    for (std::size_t i = 0; i < l; i++) n.wire_[len++] = static_cast<u8>(text[start + i]);
    start = dot + 1;
  }
  n.wire_[len++] = 0;
  n.len_ = static_cast<u8>(len);
  return n;
}

Result<DnsName> DnsName::from_wire(Bytes wire) noexcept {
  if (wire.size() > kDnsMaxName) return Err::msg_size;
  std::size_t pos = 0;
  for (;;) {
    if (pos >= wire.size()) return Err::truncated;
    u8 l = wire[pos];
    if (l == 0) break;
    if ((l & kPointerBits) != 0) return Err::malformed;
    if (pos + 1 + l > wire.size()) return Err::truncated;
    pos += 1 + static_cast<std::size_t>(l);
  }
  if (pos + 1 != wire.size()) return Err::malformed;
  DnsName n;
  std::memcpy(n.wire_.data(), wire.data(), wire.size());
  n.len_ = static_cast<u8>(wire.size());
  return n;
}

std::size_t DnsName::label_count() const noexcept {
  std::size_t count = 0;
  for (std::size_t off = 0; wire_[off] != 0; off = next_label(wire(), off)) count++;
  return count;
}

DnsNameText DnsName::text() const noexcept {
  DnsNameText t;
  if (is_root()) {
    t.buf[0] = '.';
    t.len = 1;
    return t;
  }
  // Text is at most wire length - 2 bytes: it always fits.
  std::size_t o = 0;
  for (std::size_t off = 0; wire_[off] != 0; off = next_label(wire(), off)) {
    if (off != 0) t.buf[o++] = '.';
    for (std::size_t i = 0; i < wire_[off]; i++) t.buf[o++] = static_cast<char>(wire_[off + 1 + i]);
  }
  t.len = o;
  return t;
}

std::size_t dns_list_length(std::span<const DnsName> names, DnsCompression c) noexcept {
  return encode(names, c, nullptr);
}

Result<std::size_t> dns_encode_list(std::span<const DnsName> names, DnsCompression c,
                                    MutBytes out) noexcept {
  std::size_t need = encode(names, c, nullptr);
  if (out.size() < need) return Err::truncated;
  std::size_t wrote = encode(names, c, out.data());
  PASST_CHECK(wrote == need);
  return wrote;
}

Result<DnsDecoded> dns_decode_name(Bytes buf, std::size_t pos, DnsCompression c) noexcept {
  DnsDecoded d;
  std::size_t olen = 0;
  std::size_t p = pos;
  std::size_t limit = pos;  // the next jump must land strictly before this
  bool jumped = false;
  for (;;) {
    if (p >= buf.size()) return Err::truncated;
    const u8 l = buf[p];
    if (l == 0) {
      d.name.wire_[olen++] = 0;
      if (!jumped) d.next = p + 1;
      break;
    }
    if ((l & kPointerBits) == kPointerBits) {
      if (c != DnsCompression::rfc1035) return Err::malformed;
      if (p + 1 >= buf.size()) return Err::truncated;
      std::size_t target = load_be16(buf.data() + p) & kMaxPointerOffset;
      if (target >= limit) return Err::malformed;
      if (!jumped) d.next = p + 2;
      jumped = true;
      limit = target;
      p = target;
      continue;
    }
    if ((l & kPointerBits) != 0) return Err::malformed;  // 01/10: extended label types
    if (p + 1 + l > buf.size()) return Err::truncated;
    // The label, its length byte and the root label still to come.
    if (olen + 1 + l + 1 > kDnsMaxName) return Err::msg_size;
    std::memcpy(d.name.wire_.data() + olen, buf.data() + p, 1u + l);
    olen += 1 + static_cast<std::size_t>(l);
    p += 1 + static_cast<std::size_t>(l);
  }
  d.name.len_ = static_cast<u8>(olen);
  return d;
}

Status dns_decode_list(Bytes buf, DnsCompression c, DnsNameList& out) noexcept {
  out.clear();
  std::size_t pos = 0;
  while (pos < buf.size()) {
    auto d = dns_decode_name(buf, pos, c);
    if (!d) return d.err();
    if (!out.push(d->name)) return Err::full;
    pos = d->next;  // always > pos: a name takes at least one byte
  }
  return {};
}

}  // namespace passt::wire
