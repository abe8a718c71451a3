// Packet capture of the tap side (-p, --pcap FILE).
//
// Theory of operation
//  * Classic libpcap format: a 24-byte file header (magic 0xa1b2c3d4,
//    version 2.4, thiszone 0, sigfigs 0, snaplen 65535, LINKTYPE_ETHERNET 1)
//    and per frame a 16-byte record header (CLOCK_REALTIME seconds and
//    microseconds, captured length, original length) followed by the frame.
//    Every field is written little-endian; the magic tells readers the byte
//    order, so the file is valid whatever the host.  Frames longer than the
//    snap length are cut to it (orig_len keeps the real length).
//  * The file is created (or truncated) with mode 0600 and written
//    synchronously: one writev() per batch of up to kMaxBatch frames, all
//    with the batch's timestamp.  A short write is continued, so records are
//    never torn unless the disk fails; on an error the writer logs once,
//    counts, and stops capturing (a capture with a hole is misleading).
//  * Both directions, as upstream: PcapTap wraps the TapPort and records the
//    frames the inner port took (after a successful send; frames it did not
//    take are not recorded); PcapEventSink wraps the engine's EventSink and
//    records frames from the guest as they arrive, before the engine sees
//    them.  Everything else is forwarded untouched.
//
// Bounds: kMaxBatch frames per writev (larger batches take several calls);
// no allocation: the record headers and iovecs are members.
#pragma once

#include <array>
#include <span>

#include "ports/events.hpp"
#include "ports/tap.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

struct iovec;

namespace passt::os {

class PcapWriter {
 public:
  static constexpr u32 kMagic = 0xa1b2c3d4;
  static constexpr u32 kSnapLen = 65535;
  static constexpr u32 kLinkTypeEthernet = 1;
  static constexpr std::size_t kFileHeaderLen = 24;
  static constexpr std::size_t kRecordHeaderLen = 16;
  static constexpr std::size_t kMaxBatch = 256;

  struct Stats {
    u64 frames = 0;
    u64 bytes = 0;   // record headers and frame data written
    u64 errors = 0;  // failed writes (capture then stops)
  };

  PcapWriter() noexcept = default;
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  // Creates or truncates `path` (mode 0600, O_CLOEXEC) and writes the file
  // header.  Call before pivot_root.
  Status open(const char* path) noexcept;
  // Same, on an fd the caller opened (taken over; written from its current
  // offset).
  Status attach(int fd) noexcept;
  void close() noexcept;
  bool active() const noexcept { return fd_ >= 0 && !failed_; }
  int fd() const noexcept { return fd_; }
  const Stats& stats() const noexcept { return stats_; }

  // Records frames with the current CLOCK_REALTIME time.  No-op unless
  // active().
  void write(std::span<const Bytes> frames) noexcept;
  void write(Bytes frame) noexcept { write(std::span<const Bytes>(&frame, 1)); }

 private:
  void write_chunk(std::span<const Bytes> frames, u32 sec, u32 usec) noexcept;
  bool write_iov(::iovec* iov, int cnt) noexcept;
  void fail(int err) noexcept;

  int fd_ = -1;
  bool failed_ = false;
  Stats stats_;
  std::array<std::array<u8, kRecordHeaderLen>, kMaxBatch> rec_{};
};

// Outbound: records what the inner port sent.
class PcapTap final : public ports::TapPort {
 public:
  PcapTap(ports::TapPort& inner, PcapWriter& pcap) noexcept : inner_(inner), pcap_(pcap) {}
  std::size_t send(std::span<const Bytes> frames) noexcept override;
  bool connected() const noexcept override { return inner_.connected(); }
  bool takes_gso() const noexcept override { return inner_.takes_gso(); }

 private:
  ports::TapPort& inner_;
  PcapWriter& pcap_;
};

// Inbound: records frames from the guest, then forwards every event.
class PcapEventSink final : public ports::EventSink {
 public:
  PcapEventSink(ports::EventSink& inner, PcapWriter& pcap) noexcept : inner_(inner), pcap_(pcap) {}
  void on_tap_frames(std::span<const Bytes> frames, Instant now) noexcept override;
  void on_tap_state(bool connected, Instant now) noexcept override {
    inner_.on_tap_state(connected, now);
  }
  void on_socket_event(u64 ref, u32 events, Instant now) noexcept override {
    inner_.on_socket_event(ref, events, now);
  }
  void on_deadline(Instant now) noexcept override { inner_.on_deadline(now); }
  void flush(Instant now) noexcept override { inner_.flush(now); }
  Instant next_deadline() const noexcept override { return inner_.next_deadline(); }

 private:
  ports::EventSink& inner_;
  PcapWriter& pcap_;
};

}  // namespace passt::os
