// GoogleMock mocks of every port, for unit tests of the layers above.
#pragma once

#include <gmock/gmock.h>

#include "ports/ports.hpp"

namespace passt::ports {

class MockClock : public Clock {
 public:
  MOCK_METHOD(Instant, now, (), (noexcept, override));
};

class MockEntropy : public Entropy {
 public:
  MOCK_METHOD(void, fill, (MutBytes out), (noexcept, override));
};

class MockTap : public TapPort {
 public:
  MOCK_METHOD(std::size_t, send, (std::span<const Bytes> frames), (noexcept, override));
  MOCK_METHOD(bool, connected, (), (const, noexcept, override));
};

class MockHostNet : public HostNet {
 public:
  MOCK_METHOD(Result<Sock>, socket, (Netns ns, Family fam, SockType type), (noexcept, override));
  MOCK_METHOD(Status, set_opt, (Sock s, SockOpt opt, int value), (noexcept, override));
  MOCK_METHOD(Result<int>, get_opt, (Sock s, SockOpt opt), (noexcept, override));
  MOCK_METHOD(Status, bind_to_device, (Sock s, std::string_view ifname), (noexcept, override));
  MOCK_METHOD(Status, bind, (Sock s, const SockAddr& addr), (noexcept, override));
  MOCK_METHOD(Status, listen, (Sock s, int backlog), (noexcept, override));
  MOCK_METHOD(Result<Sock>, accept, (Sock listener, SockAddr* peer), (noexcept, override));
  MOCK_METHOD(Status, connect, (Sock s, const SockAddr& to), (noexcept, override));
  MOCK_METHOD(Result<SockAddr>, local_addr, (Sock s), (noexcept, override));
  MOCK_METHOD(Err, take_error, (Sock s), (noexcept, override));
  MOCK_METHOD(void, close, (Sock s), (noexcept, override));
  MOCK_METHOD(Result<std::size_t>, send, (Sock s, std::span<const Bytes> iov, bool more),
              (noexcept, override));
  MOCK_METHOD(Result<std::size_t>, peek,
              (Sock s, std::size_t offset, std::span<const MutBytes> iov), (noexcept, override));
  MOCK_METHOD(Result<std::size_t>, discard, (Sock s, std::size_t n), (noexcept, override));
  MOCK_METHOD(Result<std::size_t>, recv, (Sock s, std::span<const MutBytes> iov),
              (noexcept, override));
  MOCK_METHOD(Result<TcpInfo>, tcp_info, (Sock s), (noexcept, override));
  MOCK_METHOD(Result<std::size_t>, send_queue, (Sock s), (noexcept, override));
  MOCK_METHOD(Status, shutdown_write, (Sock s), (noexcept, override));
  MOCK_METHOD(Result<std::size_t>, recv_batch, (Sock s, std::span<RecvSlot> slots),
              (noexcept, override));
  MOCK_METHOD(Result<std::size_t>, send_batch, (Sock s, std::span<const SendSlot> msgs),
              (noexcept, override));
  MOCK_METHOD(Result<PipeEnds>, pipe, (), (noexcept, override));
  MOCK_METHOD(Result<std::size_t>, splice, (Sock from, Sock to, std::size_t len, bool more),
              (noexcept, override));
  MOCK_METHOD(Status, watch, (Sock s, u32 events, u64 ref), (noexcept, override));
  MOCK_METHOD(void, unwatch, (Sock s), (noexcept, override));
};

}  // namespace passt::ports
