// A fixed-capacity byte FIFO over caller-provided storage (no allocation).
#pragma once

#include <cstring>

#include "util/check.hpp"
#include "util/types.hpp"

namespace passt::sim {

class ByteRing {
 public:
  ByteRing() = default;
  void init(u8* storage, std::size_t cap) noexcept {
    buf_ = storage;
    cap_ = cap;
    head_ = 0;
    len_ = 0;
  }
  void clear() noexcept {
    head_ = 0;
    len_ = 0;
  }
  std::size_t size() const noexcept { return len_; }
  std::size_t capacity() const noexcept { return cap_; }
  std::size_t space() const noexcept { return cap_ - len_; }
  bool empty() const noexcept { return len_ == 0; }

  // Appends as much of `in` as fits; returns the count.
  std::size_t push(Bytes in) noexcept {
    std::size_t n = in.size() < space() ? in.size() : space();
    std::size_t tail = (head_ + len_) % (cap_ > 0 ? cap_ : 1);
    std::size_t first = n < cap_ - tail ? n : cap_ - tail;
    if (first > 0) std::memcpy(buf_ + tail, in.data(), first);
    if (n > first) std::memcpy(buf_, in.data() + first, n - first);
    len_ += n;
    return n;
  }
  // The contiguous run of bytes starting `off` bytes from the head (maybe
  // shorter than what is stored past `off`, when the data wraps).
  Bytes run_at(std::size_t off) const noexcept {
    if (off >= len_) return {};
    std::size_t pos = (head_ + off) % cap_;
    std::size_t n = len_ - off;
    if (n > cap_ - pos) n = cap_ - pos;
    return Bytes(buf_ + pos, n);
  }
  // Copies up to out.size() bytes starting `off` bytes from the head.
  std::size_t peek(std::size_t off, MutBytes out) noexcept {
    std::size_t done = 0;
    while (done < out.size()) {
      Bytes r = run_at(off + done);
      if (r.empty()) break;
      std::size_t n = r.size() < out.size() - done ? r.size() : out.size() - done;
      std::memcpy(out.data() + done, r.data(), n);
      done += n;
    }
    return done;
  }
  // Drops up to n bytes from the head; returns the count.
  std::size_t drop(std::size_t n) noexcept {
    if (n > len_) n = len_;
    if (cap_ > 0) head_ = (head_ + n) % cap_;
    len_ -= n;
    if (len_ == 0) head_ = 0;
    return n;
  }

 private:
  u8* buf_ = nullptr;
  std::size_t cap_ = 0;
  std::size_t head_ = 0;
  std::size_t len_ = 0;
};

}  // namespace passt::sim
