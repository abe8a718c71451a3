// ARP responder (proxy ARP for everything).
//
// Theory of operation
// -------------------
// The guest sees a single router-like neighbour: us.  Whatever IPv4 address
// it asks for (the gateway, a host on its subnet, anything), we answer with
// our own MAC, so every frame comes to us and the L4 translation decides
// what happens to it.  We stay quiet for:
//  * anything but an Ethernet/IPv4 request (hlen 6, plen 4);
//  * gratuitous announcements (sender IP == target IP, other than the
//    0.0.0.0 sender of an address probe);
//  * requests for the guest's own address (a duplicate-address probe from
//    the guest must find nobody).
// The reply goes to the requester's MAC, from ours.
#pragma once

#include "proto/context.hpp"
#include "wire/arp.hpp"

namespace passt::proto {

// Returns true if a reply was queued.
bool arp_handle(TapCtx& ctx, const MacAddr& eth_src, const wire::ArpView& req) noexcept;

}  // namespace passt::proto
