// Creating pasta's tap device inside the guest namespace.
//
// /dev/net/tun is opened by a NetnsRunner child that has joined the
// namespace: a tap interface is created in the network namespace of the task
// that issues TUNSETIFF, and lives as long as the returned fd (not
// persistent).  The fd is O_NONBLOCK | O_CLOEXEC, IFF_TAP | IFF_NO_PI (plain
// Ethernet frames, no packet-information header): what TapFd::attach() takes.
// The same child reads the new interface's index and MAC with ioctl()s on a
// datagram socket in that namespace.  Nothing here allocates in the child.
#pragma once

#include <string>
#include <string_view>

#include "linux/netns.hpp"
#include "util/addr.hpp"
#include "util/result.hpp"

namespace passt::os {

struct TapDevice {
  int fd = -1;        // owned by the caller
  u32 ifindex = 0;
  std::string name;   // as the kernel named it (a "%d" template is filled in)
  MacAddr mac;        // the kernel's random MAC (set another with Netlink::set_mac)
};

// `ns`: the namespace to create it in (nullptr: the caller's).  `name`:
// shorter than IFNAMSIZ (16); empty means "tap%d".  Errors: Err::invalid for
// a bad name, Err::exists (EBUSY/EEXIST) if an interface of that name exists
// and is not a tap we may attach to, access/no_entry/... from open()/ioctl().
Result<TapDevice> open_tap(NetnsRunner* ns, std::string_view name);

}  // namespace passt::os
