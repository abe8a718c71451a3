#include "linux/os_error.hpp"

#include <cerrno>

namespace passt::os {

Err err_from_errno(int e) noexcept {
  switch (e) {
    case 0: return Err::none;
    case EAGAIN: return Err::again;  // == EWOULDBLOCK on Linux
    case EINPROGRESS: return Err::in_progress;
    case EALREADY: return Err::already;
    case EINTR: return Err::interrupted;
    case ECONNREFUSED: return Err::conn_refused;
    case ECONNRESET: return Err::conn_reset;
    case ECONNABORTED: return Err::conn_aborted;
    case ETIMEDOUT: return Err::timed_out;
    case EHOSTUNREACH:
    case EHOSTDOWN: return Err::host_unreach;
    case ENETUNREACH:
    case ENETDOWN:
    case ENETRESET: return Err::net_unreach;
    case EADDRINUSE: return Err::addr_in_use;
    case EADDRNOTAVAIL: return Err::addr_not_avail;
    case EPIPE:
    case ESHUTDOWN: return Err::broken_pipe;
    case ENOTCONN:
    case EDESTADDRREQ: return Err::not_connected;
    case EISCONN: return Err::is_connected;
    case ENOBUFS:
    case ENOSPC: return Err::no_buffers;
    case ENOMEM: return Err::no_memory;
    case EMFILE:
    case ENFILE: return Err::too_many_files;
    case EACCES:
    case EPERM: return Err::access;
    case EINVAL:
    case EFAULT:
    case ERANGE: return Err::invalid;
    case EOPNOTSUPP:  // == ENOTSUP on Linux
    case ENOPROTOOPT:
    case EAFNOSUPPORT:
    case EPFNOSUPPORT:
    case EPROTONOSUPPORT:
    case ESOCKTNOSUPPORT:
    case EPROTOTYPE:
    case ENOSYS: return Err::not_supported;
    case EBADF:
    case ENOTSOCK: return Err::bad_handle;
    case EMSGSIZE: return Err::msg_size;
    case ENOENT:
    case ENODEV:
    case ENXIO: return Err::no_entry;
    case EEXIST: return Err::exists;
    case EIO: return Err::io;
    default: return Err::other;
  }
}

Err last_err() noexcept {
  Err e = err_from_errno(errno);
  return e == Err::none ? Err::other : e;
}

}  // namespace passt::os
