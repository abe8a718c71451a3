// NDP responder: neighbour advertisements for any target, router
// advertisements on request and on a timer.
//
// Theory of operation
// -------------------
// As with ARP, we are the guest's only neighbour: a Neighbour Solicitation
// for any target gets an advertisement with our MAC (router, solicited,
// override), sent from our link-local address to the solicitation's source.
// Duplicate-address probes (unspecified source) are left unanswered so the
// guest's DAD succeeds.
//
// A Router Solicitation gets a Router Advertisement (unless --no-ra): hop
// limit 255, managed flag set (addresses also come from DHCPv6), router
// lifetime 65535 s, a /64 prefix from the guest's address for SLAAC with
// infinite lifetimes, our MAC, the MTU, and RDNSS/DNSSL when DNS is handed
// out.  Unsolicited advertisements go to all nodes at a random interval in
// [200, 600) s (RFC 4861 §6.2.1 with MaxRtrAdvInterval 600 s); the first
// timer expiry only schedules the next one, as in passt.
#pragma once

#include "proto/context.hpp"
#include "util/time.hpp"
#include "wire/frame.hpp"

namespace passt::proto {

// `f` is an ICMPv6 message of type 133..136 from the guest.  Returns true if
// a reply was queued.
bool ndp_handle(TapCtx& ctx, const wire::Frame& f) noexcept;

// Sends an unsolicited RA to all nodes (if enabled); returns true if sent.
bool ndp_send_unsolicited_ra(TapCtx& ctx) noexcept;

// The RA timer: next expiry given a random 32-bit value.
Duration ndp_ra_interval(u32 random) noexcept;

}  // namespace passt::proto
