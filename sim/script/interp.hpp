// The script interpreter, shared by both runners, and the Backend
// interface each runner implements.
//
// Theory of operation
// -------------------
// Time.  Script time 0 is the moment the backend starts.  Step times are
// absolute script times (relative times were resolved by the parser), so
// delays never accumulate.  The backend reports its clock (now_ns) and can
// be asked to make progress until a time (advance): the simulator processes
// one event or jumps its virtual clock, the real runner waits up to 1 ms on
// its guest-side socket.  Both collect every frame sent towards the guest,
// with its arrival time, into a FIFO the interpreter reads.
//
// Tolerance.  The interpreter checks times within `tol` early and `late`
// late (the simulator uses 0 for both: virtual time is exact; the real
// runner allows more lateness, see RunOptions).  For each step at time T:
//   - every step first brings the backend to T (a `>` step does not: it
//     waits for the next frame, up to T + late);
//   - a frame that arrived before T - tol and is still queued when a step
//     other than `>` starts is unexpected: the run fails;
//   - `<` builds the frame and injects it;
//   - `>` takes the next frame (waiting until T + drift + late, where
//     drift is how late the previous step was: delays add up through
//     timers that start when something actually happened), fails if it arrived
//     before T - tol, then matches it field by field (frames.hpp);
//   - `host` actions that wait (accept, recv, expect-*, udp-recv) poll
//     until they are satisfied or T + drift + late passes; udp-expect-none checks
//     that no datagram waits at T;
//   - after the last step the backend runs until last + settle, and any
//     frame still queued then is unexpected.
// The first failure stops the run and names the script line.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "sim/script/frames.hpp"
#include "sim/script/script.hpp"
#include "util/result.hpp"

namespace passt::sim::script {

struct CapturedFrame {
  i64 at_ns = 0;  // script time of arrival
  std::vector<u8> bytes;
  bool optional = false;  // a window update: taken by a `>` it matches, else ignored
};

// A host-side address as the backends take it.
struct HostAddr {
  bool v6 = false;
  bool any = false;  // unspecified (listen: dual-stack)
  InAny addr;
  u16 port = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Script time now (ns since start).
  virtual i64 now_ns() = 0;
  // Makes progress towards `until_ns`: returns true if something happened
  // or time passed and `until_ns` is not reached yet; false once now >=
  // until_ns and nothing more is due at that time.  Frames towards the
  // guest are appended to `frames`.
  virtual bool advance(i64 until_ns, std::deque<CapturedFrame>& frames) = 0;
  // Sends a frame from the guest.  False with `err` if it could not.
  virtual bool inject(Bytes frame, std::string& err) = 0;
  // A fatal problem of the backend itself (the simulated world failed a
  // check, the binary died), or nullptr.
  virtual const char* failure() { return nullptr; }
  // True while the binary has not read every frame injected so far.  The
  // interpreter waits for that (up to 5 s) after each injection, so that a
  // stalled binary never finds frames of different steps in one read (one
  // event batch), and lateness is measured from when it read the frame.
  virtual bool input_pending() { return false; }

  // Host side.  Handles are small integers chosen by the backend.
  virtual Result<int> host_listen(const HostAddr& at, u32 backlog) = 0;
  // Err::again while no connection is waiting.
  virtual Result<int> host_accept(int listener) = 0;
  // Starts a non-blocking connect.
  virtual Result<int> host_connect(const HostAddr& to, u16 from_port) = 0;
  // Err::again while connecting, Err::none once connected, else the error.
  virtual Err host_connect_result(int h) = 0;
  virtual Result<std::size_t> host_send(int h, Bytes data) = 0;
  // 0 at end of stream; Err::again when nothing is there yet.
  virtual Result<std::size_t> host_recv(int h, MutBytes buf) = 0;
  virtual Status host_shutdown(int h) = 0;
  // `reset`: SO_LINGER {1, 0} first, so the peer gets a RST.
  virtual void host_close(int h, bool reset) = 0;

  // UDP: a socket bound to `at` (at.any: [::], dual-stack).
  virtual Result<int> host_udp_bind(const HostAddr& at) = 0;
  // One datagram to `to` (IPv4 from a dual-stack socket: v4-mapped).
  virtual Result<std::size_t> host_udp_send(int h, const HostAddr& to, Bytes data) = 0;
  // One datagram: its size (at most buf's) and its source (IPv4 sources
  // with v6 false, also on a dual-stack socket); Err::again when none waits.
  virtual Result<std::size_t> host_udp_recv(int h, MutBytes buf, HostAddr& from) = 0;
};

struct RunOptions {
  i64 tolerance_ns = 0;  // timing tolerance (0: exact): how early a frame may come
  // How late a frame (or a host action's result) may come; below
  // tolerance_ns: tolerance_ns.  A loaded machine delays things by
  // hundreds of milliseconds now and then but never makes them early, so
  // the real runner allows more lateness than earliness.
  i64 late_tolerance_ns = 0;
  i64 settle_ns = 50000000;  // how long after the last step frames are still unexpected
  bool trace = false;    // print every frame and step to `log`
  std::FILE* log = nullptr;
  const char* label = "";  // prefix of trace lines (e.g. "passt")
};

struct RunResult {
  bool ok = false;
  u32 line = 0;  // the failing step's line
  std::string msg;
};

// The values of the predefined variables (script.hpp: predefined_vars).
struct Env {
  MacAddr our_mac;
  MacAddr guest_mac;
  Ipv6Addr our_ll;
  Ipv4Addr addr4, gw4, our4;
  Ipv6Addr addr6, gw6;
  u16 mtu = 0;
};

RunResult run_script(const Script& s, const Env& env, Backend& b, const RunOptions& opt);

}  // namespace passt::sim::script
