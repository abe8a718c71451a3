#include "wire/tcp.hpp"

#include <cstring>

#include "util/check.hpp"
#include "util/endian.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"

namespace passt::wire {

namespace {

bool is_known_kind(u8 kind) noexcept {
  return kind <= tcp_opt::sack || kind == tcp_opt::timestamps;
}

}  // namespace

// --- Options ----------------------------------------------------------------

TcpOptions TcpOptions::parse(Bytes o) noexcept {
  TcpOptions r;
  std::size_t i = 0;
  const std::size_t n = o.size();
  // Bounded: every iteration advances i by at least 1.
  while (i < n) {
    const u8 kind = o[i];
    if (kind == tcp_opt::eol) break;
    if (kind == tcp_opt::nop) {
      i++;
      continue;
    }
    if (n - i < 2) {
      r.malformed = true;
      break;
    }
    const std::size_t len = o[i + 1];
    if (len < 2 || len > n - i) {
      r.malformed = true;
      break;
    }
    const u8* d = o.data() + i + 2;
    bool ok = true;
    switch (kind) {
      case tcp_opt::mss:
        ok = len == 4;
        if (ok) r.mss = load_be16(d);
        break;
      case tcp_opt::wscale:
        ok = len == 3;
        if (ok) r.wscale = d[0];
        break;
      case tcp_opt::sack_permitted:
        ok = len == 2;
        if (ok) r.sack_permitted = true;
        break;
      case tcp_opt::timestamps:
        ok = len == 10;
        if (ok) r.timestamps = TcpTimestamps{load_be32(d), load_be32(d + 4)};
        break;
      case tcp_opt::sack: {
        const std::size_t blocks = (len - 2) / 8;
        ok = len >= 10 && (len - 2) % 8 == 0 && blocks <= kTcpMaxSackBlocks;
        if (ok) {
          r.sack_count = static_cast<u8>(blocks);
          for (std::size_t k = 0; k < blocks; k++)
            r.sack[k] = {Seq{load_be32(d + 8 * k)}, Seq{load_be32(d + 8 * k + 4)}};
        }
        break;
      }
      default:
        // Only fails if `o` is longer than 40 bytes (not from a TcpView).
        ok = r.add_unknown(kind, Bytes(d, len - 2)).ok();
        break;
    }
    if (!ok) {
      r.malformed = true;
      break;
    }
    i += len;
  }
  return r;
}

std::size_t TcpOptions::length() const noexcept {
  std::size_t n = 0;
  if (mss) n += 4;
  if (timestamps) {
    n += 12;  // SACK-permitted + TS, or NOP NOP TS
  } else if (sack_permitted) {
    n += 4;  // NOP NOP SACK-permitted
  }
  if (wscale) n += 4;  // NOP WS
  if (sack_count != 0) n += 4 + 8 * static_cast<std::size_t>(sack_count);  // NOP NOP SACK
  for (std::size_t k = 0; k < unknown_count_; k++) n += 2 + static_cast<std::size_t>(unknown_[k].len);
  return (n + 3) & ~std::size_t{3};
}

Status TcpOptions::emit(MutBytes out) const noexcept {
  if (sack_count > kTcpMaxSackBlocks) return Err::invalid;
  const std::size_t len = length();
  if (len > kTcpMaxOptionsLen) return Err::invalid;
  if (out.size() < len) return Err::truncated;
  u8* p = out.data();
  std::size_t i = 0;
  if (mss) {
    p[i] = tcp_opt::mss;
    p[i + 1] = 4;
    store_be16(p + i + 2, *mss);
    i += 4;
  }
  if (timestamps) {
    if (sack_permitted) {
      p[i] = tcp_opt::sack_permitted;
      p[i + 1] = 2;
    } else {
      p[i] = tcp_opt::nop;
      p[i + 1] = tcp_opt::nop;
    }
    p[i + 2] = tcp_opt::timestamps;
    p[i + 3] = 10;
    store_be32(p + i + 4, timestamps->val);
    store_be32(p + i + 8, timestamps->ecr);
    i += 12;
  } else if (sack_permitted) {
    p[i] = tcp_opt::nop;
    p[i + 1] = tcp_opt::nop;
    p[i + 2] = tcp_opt::sack_permitted;
    p[i + 3] = 2;
    i += 4;
  }
  if (wscale) {
    p[i] = tcp_opt::nop;
    p[i + 1] = tcp_opt::wscale;
    p[i + 2] = 3;
    p[i + 3] = *wscale;
    i += 4;
  }
  if (sack_count != 0) {
    p[i] = tcp_opt::nop;
    p[i + 1] = tcp_opt::nop;
    p[i + 2] = tcp_opt::sack;
    p[i + 3] = static_cast<u8>(2 + 8 * sack_count);
    i += 4;
    for (std::size_t k = 0; k < sack_count; k++) {
      store_be32(p + i, sack[k].left.v);
      store_be32(p + i + 4, sack[k].right.v);
      i += 8;
    }
  }
  for (std::size_t k = 0; k < unknown_count_; k++) {
    const TcpUnknownOption& u = unknown_[k];
    p[i] = u.kind;
    p[i + 1] = static_cast<u8>(2 + u.len);
    if (u.len != 0) std::memcpy(p + i + 2, unknown_data_.data() + u.off, u.len);
    i += 2 + static_cast<std::size_t>(u.len);
  }
  while (i < len) p[i++] = tcp_opt::eol;
  return {};
}

const TcpUnknownOption& TcpOptions::unknown(std::size_t i) const noexcept {
  PASST_CHECK(i < unknown_count_);
  return unknown_[i];
}

Bytes TcpOptions::unknown_data(std::size_t i) const noexcept {
  const TcpUnknownOption& u = unknown(i);
  return Bytes(unknown_data_).subspan(u.off, u.len);
}

Status TcpOptions::add_unknown(u8 kind, Bytes data) noexcept {
  if (is_known_kind(kind) || data.size() > kTcpMaxOptionsLen - 2) return Err::invalid;
  if (unknown_count_ == kTcpMaxUnknownOptions ||
      data.size() > unknown_data_.size() - unknown_used_)
    return Err::full;
  TcpUnknownOption& u = unknown_[unknown_count_++];
  u.kind = kind;
  u.len = static_cast<u8>(data.size());
  u.off = unknown_used_;
  if (!data.empty()) std::memcpy(unknown_data_.data() + unknown_used_, data.data(), data.size());
  unknown_used_ = static_cast<u8>(unknown_used_ + data.size());
  return {};
}

bool TcpOptions::operator==(const TcpOptions& o) const noexcept {
  if (mss != o.mss || wscale != o.wscale || sack_permitted != o.sack_permitted ||
      timestamps != o.timestamps || sack_count != o.sack_count || malformed != o.malformed ||
      unknown_count_ != o.unknown_count_)
    return false;
  for (std::size_t k = 0; k < sack_count && k < kTcpMaxSackBlocks; k++)
    if (!(sack[k] == o.sack[k])) return false;
  for (std::size_t k = 0; k < unknown_count_; k++) {
    if (unknown_[k].kind != o.unknown_[k].kind) return false;
    Bytes a = unknown_data(k);
    Bytes b = o.unknown_data(k);
    if (a.size() != b.size() || (!a.empty() && std::memcmp(a.data(), b.data(), a.size()) != 0))
      return false;
  }
  return true;
}

// --- Header -----------------------------------------------------------------

Result<TcpView> TcpView::parse(Bytes b) noexcept {
  if (b.size() < kTcpHeaderLen) return Err::truncated;
  const std::size_t hlen = static_cast<std::size_t>(b[12] >> 4) * 4;
  if (hlen < kTcpHeaderLen) return Err::malformed;
  if (hlen > b.size()) return Err::truncated;
  return TcpView(b);
}

u16 TcpView::src_port() const noexcept { return load_be16(b_.data()); }
u16 TcpView::dst_port() const noexcept { return load_be16(b_.data() + 2); }
Seq TcpView::seq() const noexcept { return Seq{load_be32(b_.data() + 4)}; }
Seq TcpView::ack() const noexcept { return Seq{load_be32(b_.data() + 8)}; }
u16 TcpView::window() const noexcept { return load_be16(b_.data() + 14); }
u16 TcpView::checksum() const noexcept { return load_be16(b_.data() + 16); }
u16 TcpView::urgent() const noexcept { return load_be16(b_.data() + 18); }

bool TcpView::checksum_ok(Ipv4Addr src, Ipv4Addr dst) const noexcept {
  return l4_checksum_v4(src, dst, ipproto::tcp, b_) == 0;
}

bool TcpView::checksum_ok(const Ipv6Addr& src, const Ipv6Addr& dst) const noexcept {
  return l4_checksum_v6(src, dst, ipproto::tcp, b_) == 0;
}

TcpRepr TcpRepr::from(const TcpView& v) noexcept {
  TcpRepr r;
  r.src_port = v.src_port();
  r.dst_port = v.dst_port();
  r.seq = v.seq();
  r.ack = v.ack();
  r.flags = v.flags();
  r.window = v.window();
  r.urgent = v.urgent();
  r.options = TcpOptions::parse(v.options());
  r.payload_len = v.payload().size();
  return r;
}

Status TcpRepr::emit(MutBytes out) const noexcept {
  if (options.sack_count > kTcpMaxSackBlocks) return Err::invalid;
  const std::size_t olen = options.length();
  if (olen > kTcpMaxOptionsLen) return Err::invalid;
  // Written so that an absurd payload_len cannot wrap length().
  if (out.size() < kTcpHeaderLen + olen || out.size() - kTcpHeaderLen - olen < payload_len)
    return Err::truncated;
  u8* p = out.data();
  store_be16(p, src_port);
  store_be16(p + 2, dst_port);
  store_be32(p + 4, seq.v);
  store_be32(p + 8, ack.v);
  p[12] = static_cast<u8>(((kTcpHeaderLen + olen) / 4) << 4);
  p[13] = flags;
  store_be16(p + 14, window);
  store_be16(p + 16, 0);
  store_be16(p + 18, urgent);
  return options.emit(out.subspan(kTcpHeaderLen, olen));
}

Status TcpRepr::emit(MutBytes out, Ipv4Addr src, Ipv4Addr dst) const noexcept {
  if (Status s = emit(out); !s) return s;
  store_be16(out.data() + 16, l4_checksum_v4(src, dst, ipproto::tcp, Bytes(out.first(length()))));
  return {};
}

Status TcpRepr::emit(MutBytes out, const Ipv6Addr& src, const Ipv6Addr& dst) const noexcept {
  if (Status s = emit(out); !s) return s;
  store_be16(out.data() + 16, l4_checksum_v6(src, dst, ipproto::tcp, Bytes(out.first(length()))));
  return {};
}

// --- Data-path patch ----------------------------------------------------------

Status tcp_patch(MutBytes seg, const TcpPatch& p, u32 pseudo_partial) noexcept {
  if (Result<TcpView> v = TcpView::parse(Bytes(seg)); !v) return v.err();
  u8* h = seg.data();
  store_be32(h + 4, p.seq.v);
  store_be32(h + 8, p.ack.v);
  h[13] = p.flags;
  store_be16(h + 14, p.window);
  store_be16(h + 16, 0);
  store_be16(h + 16, Csum().add_partial(pseudo_partial).add(Bytes(seg)).finish());
  return {};
}

Status tcp_patch(MutBytes seg, const TcpPatch& p, Ipv4Addr src, Ipv4Addr dst) noexcept {
  return tcp_patch(seg, p, pseudo_header_v4(src, dst, ipproto::tcp, static_cast<u32>(seg.size())));
}

Status tcp_patch(MutBytes seg, const TcpPatch& p, const Ipv6Addr& src,
                 const Ipv6Addr& dst) noexcept {
  return tcp_patch(seg, p, pseudo_header_v6(src, dst, ipproto::tcp, static_cast<u32>(seg.size())));
}

}  // namespace passt::wire
