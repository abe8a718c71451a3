// Shared rapidcheck generators for addresses and other wire values.
#pragma once

#include <rapidcheck.h>

#include "util/addr.hpp"

namespace passt::gen {

inline MacAddr mac() {
  MacAddr m;
  for (auto& x : m.b) x = *rc::gen::arbitrary<u8>();
  return m;
}
inline Ipv4Addr ipv4() {
  return Ipv4Addr::from_u32(*rc::gen::arbitrary<u32>());
}
inline Ipv6Addr ipv6() {
  Ipv6Addr a;
  for (auto& x : a.b) x = *rc::gen::arbitrary<u8>();
  return a;
}

}  // namespace passt::gen
