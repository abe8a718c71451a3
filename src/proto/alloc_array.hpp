// Fixed arrays allocated once at construction (the handlers never allocate
// afterwards): zeroed memory with every element value-initialised in place.
// Released with std::free (the element types are trivially destructible).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>

#include "util/check.hpp"

namespace passt::proto {

template <class T>
T* alloc_array(std::size_t n) {
  static_assert(std::is_trivially_destructible_v<T>, "released with std::free");
  void* p = std::calloc(n > 0 ? n : 1, sizeof(T));
  PASST_CHECK(p != nullptr);
  T* t = static_cast<T*>(p);
  for (std::size_t k = 0; k < n; k++) new (&t[k]) T();
  return t;
}

}  // namespace passt::proto
