// Listeners at the file descriptor limit (docs/security.md, "Limits").
//
// Theory of operation
//  * When the process holds RLIMIT_NOFILE descriptors (a guest opening
//    thousands of connections, or a small limit), accept() fails with
//    EMFILE (ENFILE: the system's table) and the connection stays in the
//    listener's backlog.  The listeners are level-triggered, so the event
//    loop would be woken again at once, for as long as the limit lasts: a
//    busy loop.
//  * Instead one descriptor is held in reserve (fd_reserve_init(), from
//    lock_down(): a duplicate of a standard descriptor).  After an EMFILE or
//    ENFILE, shed_pending_connection() closes the reserve, accepts the oldest
//    pending connection, resets it (SO_LINGER {1, 0}: the peer sees a RST),
//    and takes the reserve back (a duplicate of the listener: any open file
//    will do).  One warning per 10 s says so.  The backlog drains, the loop
//    sleeps.  LinuxHostNet::accept() reports a shed connection as
//    Err::conn_aborted (consumed: the core goes on accepting), an empty
//    backlog as Err::again, and EMFILE only when the reserve could not be
//    used (the core then pauses the listener: proto/tcp_fwd.hpp; passt's
//    qemu and vhost-user listeners are parked: park_listener_at_fd_limit()).
//  * Syscalls: close, accept4, setsockopt, fcntl(F_DUPFD_CLOEXEC),
//    clock_gettime: all in the seccomp filter.  No allocation.
//  * Single-threaded use (pasta's NetnsThread runs only while the main
//    thread waits).
#pragma once

namespace passt::os {

// Takes the reserve descriptor (once; later calls do nothing).  False if no
// descriptor could be had.
bool fd_reserve_init() noexcept;
bool fd_reserve_held() noexcept;

// Call after accept() on `listener` failed with EMFILE or ENFILE: resets
// the oldest pending connection with the reserve.  True if one was reset;
// if not and `nothing_pending` is given, it says whether the backlog was
// simply empty (accept() with the reserve freed said EAGAIN: the kernel
// checks for a free descriptor before it looks at the backlog).  Preserves
// errno.
bool shed_pending_connection(int listener, bool* nothing_pending = nullptr) noexcept;

// Connections reset so far.
unsigned long long shed_connections() noexcept;

class EventLoop;

// For an EventLoop handler's listener (passt's qemu socket, vhost-user),
// after accept() failed with EMFILE or ENFILE: sheds the pending connection
// through the reserve; without one, parks the listener: watched
// edge-triggered (*parked = true), so that the loop is woken by the next
// connection rather than by this one at every iteration.  True if it
// parked the listener now.  The owner tries accept() again when one of its
// own descriptors is freed, and unparks after an accept() that succeeds.
bool park_listener_at_fd_limit(EventLoop& loop, int listener, bool* parked) noexcept;
void unpark_listener(EventLoop& loop, int listener, bool* parked) noexcept;

}  // namespace passt::os
