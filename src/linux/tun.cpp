#include "linux/tun.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "linux/os_error.hpp"
#include "wire/vnet_hdr.hpp"

namespace passt::os {

namespace {

// Runs in the namespace (or here).  Only syscalls and memcpy.
class TapTask final : public NsTask {
 public:
  TapTask(const char* name, bool vnet) noexcept : name_(name), vnet_(vnet) {}

  void run() noexcept override {
    fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fail();
    ifreq ifr{};
    ifr.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | (vnet_ ? IFF_VNET_HDR : 0));
    std::strncpy(ifr.ifr_name, name_, IFNAMSIZ - 1);
    if (::ioctl(fd, TUNSETIFF, &ifr) < 0) return fail();
    std::memcpy(got_name, ifr.ifr_name, IFNAMSIZ);
    got_name[IFNAMSIZ - 1] = 0;
    if (vnet_) {
      int sz = static_cast<int>(wire::kVnetHdrLen);
      if (::ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) return fail();
      // Most to least: a kernel that refuses TSO may still take checksums.
      for (unsigned long o : {static_cast<unsigned long>(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6),
                              static_cast<unsigned long>(TUN_F_CSUM)}) {
        if (::ioctl(fd, TUNSETOFFLOAD, o) == 0) {
          offloads = static_cast<u32>(o);
          break;
        }
      }
    }

    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) s = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return fail();
    ifreq q{};
    std::memcpy(q.ifr_name, got_name, IFNAMSIZ);
    if (::ioctl(s, SIOCGIFINDEX, &q) < 0) {
      err = errno;
      ::close(s);
      return fail_keep_err();
    }
    ifindex = q.ifr_ifindex;
    if (::ioctl(s, SIOCGIFHWADDR, &q) < 0) {
      err = errno;
      ::close(s);
      return fail_keep_err();
    }
    std::memcpy(mac, q.ifr_hwaddr.sa_data, 6);
    ::close(s);
  }

  int fd = -1;
  int err = 0;
  int ifindex = 0;
  char got_name[IFNAMSIZ] = {};
  u8 mac[6] = {};
  u32 offloads = 0;

 private:
  void fail() noexcept {
    err = errno;
    fail_keep_err();
  }
  void fail_keep_err() noexcept {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  const char* name_;
  bool vnet_;
};

}  // namespace

Result<TapDevice> open_tap(NetnsRunner* ns, std::string_view name, bool vnet_hdr) {
  if (name.size() >= IFNAMSIZ || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos)
    return Err::invalid;
  char req[IFNAMSIZ] = {};
  if (name.empty())
    std::memcpy(req, "tap%d", 6);
  else
    std::memcpy(req, name.data(), name.size());

  TapTask t(req, vnet_hdr);
  if (ns != nullptr) {
    Status s = ns->run(t);
    if (!s) {
      if (t.fd >= 0) ::close(t.fd);
      return s.err();
    }
  } else {
    t.run();
  }
  if (t.fd < 0) {
    if (t.err == EBUSY) return Err::exists;
    Err e = err_from_errno(t.err);
    return e == Err::none ? Err::other : e;
  }
  TapDevice d;
  d.fd = t.fd;
  d.ifindex = static_cast<u32>(t.ifindex);
  d.name.assign(t.got_name);
  d.mac = MacAddr::load(t.mac);
  d.vnet_hdr_len = vnet_hdr ? wire::kVnetHdrLen : 0;
  d.offloads = t.offloads;
  return d;
}

}  // namespace passt::os
