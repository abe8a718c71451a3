#include "core/config.hpp"

#include <bit>

namespace passt::core {

const char* mode_name(Mode m) noexcept { return m == Mode::pasta ? "pasta" : "passt"; }

const char* fwd_mode_name(FwdMode m) noexcept {
  switch (m) {
    case FwdMode::unset: return "unset";
    case FwdMode::spec: return "spec";
    case FwdMode::none: return "none";
    case FwdMode::automatic: return "auto";
    case FwdMode::all: return "all";
  }
  return "?";
}

std::size_t PortBitmap::count() const noexcept {
  std::size_t n = 0;
  for (u64 w : w_) n += static_cast<std::size_t>(std::popcount(w));
  return n;
}

bool PortBitmap::any() const noexcept {
  for (u64 w : w_)
    if (w != 0) return true;
  return false;
}

void PortBitmap::merge(const PortBitmap& o) noexcept {
  for (std::size_t i = 0; i < kWords; i++) w_[i] |= o.w_[i];
}

void PortBitmap::remove(const PortBitmap& o) noexcept {
  for (std::size_t i = 0; i < kWords; i++) w_[i] &= ~o.w_[i];
}

void PortFwd::set_delta(u16 port, u16 d) {
  if (delta_.empty()) {
    if (d == 0) return;
    delta_.assign(65536, 0);
  }
  delta_[port] = d;
}

bool PortFwd::operator==(const PortFwd& o) const {
  if (mode != o.mode || !(forwarded == o.forwarded) || !(rules == o.rules)) return false;
  if (delta_.empty() && o.delta_.empty()) return true;
  for (u32 p = 0; p < 65536; p++)
    if (delta(static_cast<u16>(p)) != o.delta(static_cast<u16>(p))) return false;
  return true;
}

}  // namespace passt::core
