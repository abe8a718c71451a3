// Error codes and a small Result<T> (this toolchain has no std::expected).
//
// Err names the outcomes protocol code reacts to.  The Linux adapters map
// errno values onto it; the simulator produces it directly.  Keeping our own
// enum (rather than errno) keeps OS headers out of the sans-I/O core.
#pragma once

#include <new>
#include <type_traits>
#include <utility>

#include "util/check.hpp"
#include "util/types.hpp"

namespace passt {

enum class Err : u8 {
  none = 0,
  again,           // EAGAIN / EWOULDBLOCK
  in_progress,     // EINPROGRESS (non-blocking connect started)
  already,         // EALREADY
  interrupted,     // EINTR
  conn_refused,    // ECONNREFUSED
  conn_reset,      // ECONNRESET
  conn_aborted,    // ECONNABORTED
  timed_out,       // ETIMEDOUT
  host_unreach,    // EHOSTUNREACH
  net_unreach,     // ENETUNREACH
  addr_in_use,     // EADDRINUSE
  addr_not_avail,  // EADDRNOTAVAIL
  broken_pipe,     // EPIPE
  not_connected,   // ENOTCONN
  is_connected,    // EISCONN
  no_buffers,      // ENOBUFS
  no_memory,       // ENOMEM
  too_many_files,  // EMFILE / ENFILE
  access,          // EACCES / EPERM
  invalid,         // EINVAL
  not_supported,   // EOPNOTSUPP / ENOPROTOOPT / EAFNOSUPPORT
  bad_handle,      // EBADF
  msg_size,        // EMSGSIZE
  no_entry,        // ENOENT
  exists,          // EEXIST
  io,              // EIO
  // Produced by parsers, never by the OS.
  truncated,
  malformed,
  full,            // a fixed-size table or buffer is full
  other,
};

const char* err_name(Err e) noexcept;

// Either a value or an Err (never Err::none).
template <class T>
class [[nodiscard]] Result {
 public:
  // NOLINTNEXTLINE(google-explicit-constructor): implicit by design
  Result(T v) noexcept(std::is_nothrow_move_constructible_v<T>) : err_(Err::none) {
    new (&val_) T(std::move(v));
  }
  // NOLINTNEXTLINE(google-explicit-constructor): implicit by design
  Result(Err e) noexcept : err_(e) { PASST_CHECK(e != Err::none); }
  Result(const Result& o) : err_(o.err_) {
    if (ok()) new (&val_) T(o.val_);
  }
  Result(Result&& o) noexcept : err_(o.err_) {
    if (ok()) new (&val_) T(std::move(o.val_));
  }
  Result& operator=(const Result& o) {
    if (this != &o) {
      reset();
      err_ = o.err_;
      if (ok()) new (&val_) T(o.val_);
    }
    return *this;
  }
  Result& operator=(Result&& o) noexcept {
    if (this != &o) {
      reset();
      err_ = o.err_;
      if (ok()) new (&val_) T(std::move(o.val_));
    }
    return *this;
  }
  ~Result() { reset(); }

  bool ok() const noexcept { return err_ == Err::none; }
  explicit operator bool() const noexcept { return ok(); }
  Err err() const noexcept { return err_; }

  T& value() & noexcept {
    PASST_CHECK(ok());
    return val_;
  }
  const T& value() const& noexcept {
    PASST_CHECK(ok());
    return val_;
  }
  T&& value() && noexcept {
    PASST_CHECK(ok());
    return std::move(val_);
  }
  T& operator*() & noexcept { return value(); }
  const T& operator*() const& noexcept { return value(); }
  T* operator->() noexcept { return &value(); }
  const T* operator->() const noexcept { return &value(); }
  T value_or(T dflt) const noexcept { return ok() ? val_ : dflt; }

 private:
  void reset() noexcept {
    if (ok()) val_.~T();
    err_ = Err::other;
  }
  Err err_;
  union {
    T val_;
  };
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() noexcept = default;
  // NOLINTNEXTLINE(google-explicit-constructor): implicit by design
  Result(Err e) noexcept : err_(e) {}
  bool ok() const noexcept { return err_ == Err::none; }
  explicit operator bool() const noexcept { return ok(); }
  Err err() const noexcept { return err_; }

 private:
  Err err_ = Err::none;
};

using Status = Result<void>;

}  // namespace passt
