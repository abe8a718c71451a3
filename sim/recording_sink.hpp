// RecordingSink: a ports::EventSink for tests of the simulator (and of code
// built on it) that records what the world delivers, in fixed-size tables.
// It also checks the adapter contract from the engine's side: calls are
// never nested (no port may call the engine re-entrantly), and flush() ends
// every batch.
#pragma once

#include <cstring>

#include "ports/events.hpp"
#include "util/time.hpp"

namespace passt::sim {

class RecordingSink final : public ports::EventSink {
 public:
  static constexpr std::size_t kMax = 256;
  static constexpr std::size_t kFrameCopy = 128;

  struct SockEv {
    u64 ref = 0;
    u32 events = 0;
    Instant at;
  };
  struct Frame {
    Instant at;
    std::size_t len = 0;
    u8 head[kFrameCopy] = {};  // first bytes
    std::size_t batch = 0;     // index of the on_tap_frames call
  };

  // Called inside on_socket_event (after recording), e.g. to act on sockets.
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void on_socket_event(u64 ref, u32 events, Instant now) noexcept = 0;
  };

  void set_handler(Handler* h) noexcept { handler_ = h; }
  void set_deadline(Instant t) noexcept { deadline_ = t; }

  void on_tap_frames(std::span<const Bytes> frames, Instant now) noexcept override {
    enter();
    for (Bytes f : frames) {
      Frame& r = frames_[n_frames_ % kMax];
      r.at = now;
      r.len = f.size();
      r.batch = batches_;
      std::memcpy(r.head, f.data(), f.size() < kFrameCopy ? f.size() : kFrameCopy);
      n_frames_++;
    }
    if (frames.size() > max_batch_) max_batch_ = frames.size();
    batches_++;
    leave();
  }
  void on_tap_state(bool connected, Instant now) noexcept override {
    (void)now;
    enter();
    states_[n_states_ % kMax] = connected;
    n_states_++;
    leave();
  }
  void on_socket_event(u64 ref, u32 events, Instant now) noexcept override {
    enter();
    SockEv& e = sock_[n_sock_ % kMax];
    e.ref = ref;
    e.events = events;
    e.at = now;
    n_sock_++;
    if (handler_ != nullptr) handler_->on_socket_event(ref, events, now);
    leave();
  }
  void on_deadline(Instant now) noexcept override {
    enter();
    deadline_calls_++;
    last_deadline_call_ = now;
    if (now >= deadline_) deadline_ = Instant::never();
    leave();
  }
  void flush(Instant now) noexcept override {
    (void)now;
    enter();
    flushes_++;
    leave();
  }
  Instant next_deadline() const noexcept override { return deadline_; }

  // --- observations ----------------------------------------------------------------------
  u64 frames() const noexcept { return n_frames_; }
  const Frame& frame(u64 i) const noexcept { return frames_[i % kMax]; }
  u64 batches() const noexcept { return batches_; }
  std::size_t max_batch() const noexcept { return max_batch_; }
  u64 states() const noexcept { return n_states_; }
  bool state(u64 i) const noexcept { return states_[i % kMax]; }
  u64 sock_events() const noexcept { return n_sock_; }
  const SockEv& sock_event(u64 i) const noexcept { return sock_[i % kMax]; }
  // Events for `ref` among all recorded (OR of their bits) and their count.
  u32 events_for(u64 ref, u64* count = nullptr) const noexcept {
    u32 bits = 0;
    u64 n = 0;
    const u64 first = n_sock_ > kMax ? n_sock_ - kMax : 0;
    for (u64 i = first; i < n_sock_; i++) {
      if (sock_[i % kMax].ref == ref) {
        bits |= sock_[i % kMax].events;
        n++;
      }
    }
    if (count != nullptr) *count = n;
    return bits;
  }
  u64 deadline_calls() const noexcept { return deadline_calls_; }
  Instant last_deadline_call() const noexcept { return last_deadline_call_; }
  u64 flushes() const noexcept { return flushes_; }
  // Nested calls seen (must stay 0).
  u64 reentries() const noexcept { return reentries_; }
  void clear_sock_events() noexcept { n_sock_ = 0; }

 private:
  void enter() noexcept {
    if (depth_++ > 0) reentries_++;
  }
  void leave() noexcept { depth_--; }

  Handler* handler_ = nullptr;
  Instant deadline_ = Instant::never();
  Frame frames_[kMax];
  u64 n_frames_ = 0;
  u64 batches_ = 0;
  std::size_t max_batch_ = 0;
  bool states_[kMax] = {};
  u64 n_states_ = 0;
  SockEv sock_[kMax];
  u64 n_sock_ = 0;
  u64 deadline_calls_ = 0;
  Instant last_deadline_call_;
  u64 flushes_ = 0;
  u64 reentries_ = 0;
  int depth_ = 0;
};

}  // namespace passt::sim
