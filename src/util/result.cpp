#include "util/result.hpp"

namespace passt {

const char* err_name(Err e) noexcept {
  switch (e) {
    case Err::none: return "ok";
    case Err::again: return "would block";
    case Err::in_progress: return "in progress";
    case Err::already: return "already in progress";
    case Err::interrupted: return "interrupted";
    case Err::conn_refused: return "connection refused";
    case Err::conn_reset: return "connection reset";
    case Err::conn_aborted: return "connection aborted";
    case Err::timed_out: return "timed out";
    case Err::host_unreach: return "host unreachable";
    case Err::net_unreach: return "network unreachable";
    case Err::addr_in_use: return "address in use";
    case Err::addr_not_avail: return "address not available";
    case Err::broken_pipe: return "broken pipe";
    case Err::not_connected: return "not connected";
    case Err::is_connected: return "already connected";
    case Err::no_buffers: return "no buffer space";
    case Err::no_memory: return "out of memory";
    case Err::too_many_files: return "too many open files";
    case Err::access: return "permission denied";
    case Err::invalid: return "invalid argument";
    case Err::not_supported: return "not supported";
    case Err::bad_handle: return "bad handle";
    case Err::msg_size: return "message too long";
    case Err::no_entry: return "no such entry";
    case Err::exists: return "exists";
    case Err::io: return "I/O error";
    case Err::truncated: return "truncated";
    case Err::malformed: return "malformed";
    case Err::full: return "table full";
    case Err::other: return "error";
  }
  return "error";
}

}  // namespace passt
