// Upstream's failure rules for binding one port-forwarding rule (the
// binding part of conf_ports()), shared by the TCP and UDP listeners: an
// explicit port that cannot be bound is fatal, a weak rule (a range or
// `all`) only if none of its ports could be bound or sockets ran out.
#pragma once

#include <cstddef>

#include "core/fwd.hpp"
#include "util/log.hpp"
#include "util/result.hpp"

namespace passt::proto {

class FwdRuleBinding {
 public:
  explicit FwdRuleBinding(const core::PortBindRule& r) noexcept : r_(r) {}

  // After binding `port` with result `st`: Err::none to go on, or the
  // error that ends start-up.
  Err port_done(u16 port, const Status& st) noexcept {
    if (st) {
      bound_++;
      return Err::none;
    }
    if (!r_.weak) {
      LOG_ERR("Failed to bind port %u (%s) for option '-%c %s', exiting", port,
              core::fwd_error_text(st.err()), r_.option, r_.spec.c_str());
      return st.err();
    }
    if (first_ == Err::none) first_ = st.err();
    if (st.err() == Err::too_many_files) {
      LOG_ERR("Can't open enough sockets for port specifier: %s", r_.spec.c_str());
      return st.err();
    }
    return Err::none;
  }

  // After the rule's last port.
  Status finish() const noexcept {
    if (r_.weak && bound_ == 0) {
      LOG_ERR("Failed to bind any port for '-%c %s', exiting", r_.option, r_.spec.c_str());
      return first_ != Err::none ? first_ : Err::addr_not_avail;
    }
    return {};
  }

 private:
  const core::PortBindRule& r_;
  std::size_t bound_ = 0;
  Err first_ = Err::none;
};

}  // namespace passt::proto
