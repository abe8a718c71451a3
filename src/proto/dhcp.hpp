// DHCPv4 server: hands the guest exactly one address (ours to give: the
// configured or host address), forever.
//
// Theory of operation
// -------------------
// There is one guest and one address, so there is no pool, no lease table
// and no NAK: every DISCOVER gets an OFFER (or an ACK at once when the
// client asks for Rapid Commit, RFC 4039), every REQUEST an ACK with the
// same address, and a BOOTP request (no message type) an ACK too.  DECLINE,
// RELEASE and INFORM are ignored, as upstream does.  The lease is infinite.
//
// Options sent: message type, subnet mask, router, server identifier (our
// address on the link), lease time, MTU (unless -m 0), DNS servers and the
// search list (unless turned off), hostname/FQDN when configured, and
// classless static routes (121) when the router is outside the guest's
// subnet, so that the guest can still reach it.  Options the client asked
// for in its parameter request list (55) come first, in its order.  The
// options stay within 308 bytes (a 576-byte message, the size every client
// must accept, RFC 2131 §2, as upstream): search domains that do not fit
// are left out from the end of the list, and an FQDN or hostname that does
// not fit is not sent.
//
// The reply goes from our address, port 67, to the assigned address (or to
// 255.255.255.255 when the client set the broadcast flag), port 68, and to
// the client's MAC.
#pragma once

#include "proto/context.hpp"
#include "wire/frame.hpp"

namespace passt::proto {

// `f` is a UDP datagram to port 67 from the guest.  Returns true if a reply
// was queued.
bool dhcp_handle(TapCtx& ctx, const wire::Frame& f) noexcept;

}  // namespace passt::proto
