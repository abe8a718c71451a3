// The "echo" scenario: the world's own test.  The EchoEngine bounces guest
// frames and runs a plan of socket flows against remote peers; the EchoGuest
// sends numbered, hashed frames and checks what comes back.
//
// Checkers (besides the link and socket-model ones every run has):
//   echo-guest   every frame the guest receives intact is one it sent
//                (no phantoms); corrupted frames seen <= corruptions the link
//                declared (plus duplicates made on the way back, which can
//                repeat a corrupted bounce); duplicates seen <= duplicates
//                declared; frame
//                order kept whenever the seed never enabled reordering;
//   echo-engine  no flow found a wrong byte, a wrong datagram, a wrong error
//                or an inconsistent TCP_INFO / SIOCOUTQ.
// Liveness: every flow finished, every remote peer finished (FIN both ways or
// RST as planned) and every connection of the socket model was freed, and
// the guest's final frames (sent with faults off) all came back.
#pragma once

#include "sim/scenario.hpp"

namespace passt::sim {

ScenarioEntry echo_scenario_entry() noexcept;

// The guest of the echo scenario (exposed for tests).
class EchoGuest final : public GuestStack {
 public:
  static constexpr u64 kMaxFrames = 8192;
  static constexpr u16 kEtherType = 0x88b5;  // IEEE local experimental

  // Sends `frames` frames at uniform(0, period) intervals from `start`, each
  // up to `max_frame` bytes (mostly at most 1514).
  EchoGuest(Prng rng, std::size_t max_frame, Instant start, Duration period, u32 frames);

  void attach(GuestPort& port) noexcept override { port_ = &port; }
  void on_frame(Bytes frame, Instant now) noexcept override;
  Instant next_deadline() const noexcept override { return next_; }
  void on_deadline(Instant now) noexcept override;

  // Liveness: send `n` more frames, 2 ms apart; done when all came back.
  void start_final(u32 n, Instant now) noexcept;
  bool final_done() const noexcept;

  u64 sent() const noexcept { return next_seq_; }
  u64 accepted() const noexcept { return accepted_; }
  u64 received() const noexcept { return unique_; }
  u64 corrupted_seen() const noexcept { return corrupted_; }
  u64 dups_seen() const noexcept { return dups_; }
  u64 order_violations() const noexcept { return order_bad_; }
  u64 phantoms() const noexcept { return phantoms_; }
  u64 first_phantom() const noexcept { return first_phantom_; }
  u64 final_received() const noexcept;
  u32 final_wanted() const noexcept { return final_target_; }

 private:
  enum : u8 { kSent = 1, kGot = 2 };
  void send_one(Instant now) noexcept;

  GuestPort* port_ = nullptr;
  Prng rng_;
  std::size_t max_frame_;
  Duration period_;
  u32 budget_;
  Instant next_;
  std::unique_ptr<u8[]> flags_;  // per sequence number
  std::unique_ptr<u8[]> buf_;
  u64 next_seq_ = 0;
  u64 accepted_ = 0;
  u64 unique_ = 0;
  u64 corrupted_ = 0;
  u64 dups_ = 0;
  u64 order_bad_ = 0;
  u64 phantoms_ = 0;
  u64 first_phantom_ = 0;
  u64 last_seq_ = 0;
  bool any_ = false;
  bool final_ = false;
  u32 final_target_ = 0;
  u64 final_first_ = 0;
  u32 final_accepted_ = 0;
};

// The echo guest's safety properties against what the link declared.
class EchoGuestChecker final : public Checker {
 public:
  EchoGuestChecker(const EchoGuest& g, const SimLink& l) noexcept : g_(g), l_(l) {}
  const char* name() const noexcept override { return "echo-guest"; }
  const char* check(World& w) noexcept override;

 private:
  const EchoGuest& g_;
  const SimLink& l_;
  char buf_[160] = {};
};

}  // namespace passt::sim
