// Creating pasta's tap device inside the guest namespace.
//
// /dev/net/tun is opened by a NetnsRunner child that has joined the
// namespace: a tap interface is created in the network namespace of the task
// that issues TUNSETIFF, and lives as long as the returned fd (not
// persistent).  The fd is O_NONBLOCK | O_CLOEXEC, IFF_TAP | IFF_NO_PI (plain
// Ethernet frames, no packet-information header): what TapFd::attach() takes.
// The same child reads the new interface's index and MAC with ioctl()s on a
// datagram socket in that namespace.  Nothing here allocates in the child.
//
// With `vnet_hdr` the device is opened with IFF_VNET_HDR: every frame read
// or written is preceded by a 10-byte virtio-net header (wire/vnet_hdr.hpp,
// set explicitly with TUNSETVNETHDRSZ), and TUNSETOFFLOAD offers the
// namespace's kernel checksum offload and TSO (TUN_F_CSUM | TUN_F_TSO4 |
// TUN_F_TSO6; falling back to TUN_F_CSUM alone, then to none, if refused):
// the interface then shows tx-checksumming and TSO on in `ethtool -k`, and
// the namespace hands us TCP segments of up to 64 KiB with partial
// checksums.  UDP segmentation offload (TUN_F_USO4/6) is not offered: its
// frames would be several datagrams to split, which we do not do; the
// kernel segments them in software instead.  TapFd::attach() must be told
// the header length (TapDevice::vnet_hdr_len).
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
  std::size_t vnet_hdr_len = 0;  // 0 or wire::kVnetHdrLen
  u32 offloads = 0;              // tun_offload:: bits the kernel took
};

// TUN_F_* values (linux/if_tun.h), for TapDevice::offloads.
namespace tun_offload {
inline constexpr u32 csum = 0x01;
inline constexpr u32 tso4 = 0x02;
inline constexpr u32 tso6 = 0x04;
}  // namespace tun_offload

// `ns`: the namespace to create it in (nullptr: the caller's).  `name`:
// shorter than IFNAMSIZ (16); empty means "tap%d".  Errors: Err::invalid for
// a bad name, Err::exists (EBUSY/EEXIST) if an interface of that name exists
// and is not a tap we may attach to, access/no_entry/... from open()/ioctl().
Result<TapDevice> open_tap(NetnsRunner* ns, std::string_view name, bool vnet_hdr = false);

}  // namespace passt::os
