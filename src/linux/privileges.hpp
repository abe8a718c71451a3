// --runas: which user to become, and becoming it.
//
// Upstream's rule: run as the given UID/GID; without --runas, stay who we
// are, except that root in the initial user namespace drops to "nobody"
// (running as real root is never needed).  Root inside a user namespace
// (rootless containers, `unshare -Ur`) stays root there: it has no power
// outside it.
#pragma once

#include <optional>
#include <string>

#include "util/result.hpp"
#include "util/types.hpp"

namespace passt::os {

struct UidGid {
  u32 uid = 0;
  u32 gid = 0;
  bool operator==(const UidGid&) const noexcept = default;
};

// True if we are in the initial user namespace (uid_map is the identity
// over the full range).
bool in_init_userns() noexcept;

// Numeric parts as parsed by the CLI, or names to look up.  Err::no_entry if
// a name is unknown.
Result<UidGid> resolve_runas(std::optional<u32> uid, std::optional<u32> gid,
                             const std::string& user, const std::string& group) noexcept;

// The "nobody" account (65534 if the passwd database has none).
UidGid nobody() noexcept;

// setgroups(0), setgid, setuid; a no-op if we already are `to`.
Status drop_privileges(const UidGid& to) noexcept;

}  // namespace passt::os
