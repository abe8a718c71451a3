// Pre-opened resources for the spliced TCP path (pasta): pipes, and TCP
// sockets inside the namespace.  docs/splice.md is the long form.
//
// Theory of operation
// -------------------
// A spliced connection needs two pipes and, for a -t forward, a socket
// created inside the namespace.  Creating either on the accept path costs:
// pipe2() + fcntl(F_SETPIPE_SZ) for a pipe, and a clone() into the
// namespace for a socket (the main task never enters it, see
// linux/netns.hpp).  So, like upstream, both come from pools filled at
// start-up and topped up from a 1 s timer; an empty pool falls back to
// creating the resource on the spot.
//
// Pipe size: at start-up the pool's pipes are opened and sized with the
// largest power of two from `max_size` (upstream: 8 MiB) down to 64 KiB
// that every one of them accepts (an unprivileged task is limited by
// fs.pipe-max-size, 1 MiB by default, and fs.pipe-user-pages-soft).  That
// size is then asked of every later pipe too; a pipe that refuses it keeps
// what the kernel gave it (splice() simply moves less per call).
//
// Unlike upstream, a pipe known to be empty (every byte spliced in was
// spliced out) goes back to the pool when its connection closes; a pipe that
// may hold data is closed.
//
// Bounds: each pool is a fixed array sized at construction.  Nothing here
// allocates after that.
#pragma once

#include "ports/hostnet.hpp"
#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::proto {

inline constexpr std::size_t kPipeSizeMax = std::size_t{8} << 20;  // upstream's MAX_PIPE_SIZE
inline constexpr std::size_t kPipeSizeMin = std::size_t{64} << 10;  // the kernel's default

struct PipePoolStats {
  u64 taken_pooled = 0;   // take() served from the pool
  u64 taken_fresh = 0;    // take() had to open a pipe
  u64 recycled = 0;       // give_back() kept the pipe
  u64 closed = 0;         // give_back() closed it (pool full or dirty)
  u64 open_failed = 0;    // pipe() failed (take() or refill())
  u64 resize_failed = 0;  // a pipe refused pipe_size()
};

class PipePool {
 public:
  // Room for `capacity` pipes (upstream: 32).  Opens nothing yet.
  PipePool(ports::HostNet& host, u32 capacity);
  ~PipePool();  // closes the pooled pipes
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;

  // Start-up: fills the pool and finds pipe_size(): the largest of max_size,
  // max_size / 2, ... down to min_size that every pooled pipe takes, else
  // the kernel's default.  Returns the number of pipes pooled; 0 means pipes
  // cannot be opened at all.
  u32 init(std::size_t max_size, std::size_t min_size = kPipeSizeMin) noexcept;
  // Tops the pool up (the 1 s timer).  Stops at the first failure.
  void refill() noexcept;

  // A pipe from the pool, else a new one (sized).  Errors from pipe().
  Result<ports::PipeEnds> take() noexcept;
  // Returns a pipe: `clean` says it holds no data.  Pooled if clean and
  // there is room, else closed.
  void give_back(ports::PipeEnds p, bool clean) noexcept;

  // Bytes asked of each pipe: what splice() may move per call.
  std::size_t pipe_size() const noexcept { return size_; }
  u32 available() const noexcept { return n_; }
  u32 capacity() const noexcept { return cap_; }
  const PipePoolStats& stats() const noexcept { return stats_; }

 private:
  Result<ports::PipeEnds> open_sized() noexcept;
  void close_pipe(ports::PipeEnds p) noexcept;

  ports::HostNet& host_;
  u32 cap_;
  u32 n_ = 0;
  ports::PipeEnds* pipes_;
  std::size_t size_ = kPipeSizeMin;
  PipePoolStats stats_;
};

struct SockPoolStats {
  u64 taken_pooled = 0;
  u64 taken_fresh = 0;
  u64 open_failed = 0;
};

// TCP sockets of one family in one namespace, not yet bound or connected.
class SockPool {
 public:
  SockPool(ports::HostNet& host, ports::Netns ns, ports::Family fam, u32 capacity);
  ~SockPool();  // closes the pooled sockets
  SockPool(const SockPool&) = delete;
  SockPool& operator=(const SockPool&) = delete;

  // Fills the pool up to capacity (start-up and the 1 s timer); stops at the
  // first failure.
  void refill() noexcept;
  // A pooled socket, else a new one.
  Result<ports::Sock> take() noexcept;

  u32 available() const noexcept { return n_; }
  u32 capacity() const noexcept { return cap_; }
  const SockPoolStats& stats() const noexcept { return stats_; }

 private:
  ports::HostNet& host_;
  ports::Netns ns_;
  ports::Family fam_;
  u32 cap_;
  u32 n_ = 0;
  ports::Sock* socks_;
  SockPoolStats stats_;
};

}  // namespace passt::proto
