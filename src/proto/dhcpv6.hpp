// DHCPv6 server (RFC 8415 subset): one address for the one guest.
//
// Theory of operation
// -------------------
// Accepts client messages to port 547 sent to a multicast address (clients
// reach servers through All_DHCP_Relay_Agents_and_Servers, ff02::1:2).  A
// client identifier is required; a server identifier, where present, must be
// ours (a DUID-LLT built from our MAC and the start-up time).
//
//   SOLICIT (no server id)              -> ADVERTISE
//   REQUEST, RENEW (our server id)      -> REPLY
//   REBIND, CONFIRM (no server id)      -> REPLY
//   INFORMATION-REQUEST (no IA)         -> REPLY without IA
//   anything else                       -> ignored
//
// Replies carry our server id, the client id, an IA_NA per IA_NA requested
// (IAID echoed, T1 = T2 = infinity) holding the guest's address with
// infinite lifetimes, DNS servers (23) and the domain list (24) when handed
// out.  If the client names an address that is not the guest's, the reply
// says NotOnLink (RFC 8415 §18.3.3) so it starts over.  Rapid commit is not
// offered.  Replies go from our link-local address to the client's source
// address, port 546.
#pragma once

#include "proto/context.hpp"
#include "wire/frame.hpp"

namespace passt::proto {

bool dhcpv6_handle(TapCtx& ctx, const wire::Frame& f) noexcept;

}  // namespace passt::proto
