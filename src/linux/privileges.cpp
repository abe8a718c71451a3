#include "linux/privileges.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "linux/os_error.hpp"

namespace passt::os {

bool in_init_userns() noexcept {
  int fd = ::open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;  // no procfs: assume the worst (drop)
  char buf[256] = {};
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return true;
  unsigned long inside = 1;
  unsigned long outside = 1;
  unsigned long count = 0;
  if (std::sscanf(buf, "%lu %lu %lu", &inside, &outside, &count) != 3) return true;
  return inside == 0 && outside == 0 && count == 4294967295UL;
}

UidGid nobody() noexcept {
  UidGid r{65534, 65534};
  if (const passwd* pw = ::getpwnam("nobody")) {
    r.uid = pw->pw_uid;
    r.gid = pw->pw_gid;
  }
  return r;
}

Result<UidGid> resolve_runas(std::optional<u32> uid, std::optional<u32> gid,
                             const std::string& user, const std::string& group) noexcept {
  UidGid r{::geteuid(), ::getegid()};
  if (uid) {
    r.uid = *uid;
    r.gid = gid.value_or(*uid);
  } else if (!user.empty()) {
    const passwd* pw = ::getpwnam(user.c_str());
    if (pw == nullptr) return Err::no_entry;
    r.uid = pw->pw_uid;
    r.gid = pw->pw_gid;
  }
  if (!group.empty()) {
    const struct group* gr = ::getgrnam(group.c_str());
    if (gr == nullptr) return Err::no_entry;
    r.gid = gr->gr_gid;
  } else if (gid) {
    r.gid = *gid;
  }
  return r;
}

Status drop_privileges(const UidGid& to) noexcept {
  if (::geteuid() == to.uid && ::getegid() == to.gid) return {};
  // setgroups() may be denied in a user namespace (setgroups "deny"): then
  // there are no supplementary groups to drop anyway.
  if (::setgroups(0, nullptr) != 0 && errno != EPERM) return last_err();
  if (::setgid(to.gid) != 0) return last_err();
  if (::setuid(to.uid) != 0) return last_err();
  return {};
}

}  // namespace passt::os
