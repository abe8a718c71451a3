// Combining the command line, the host's template interface and
// /etc/resolv.conf into the NetInfo the engine serves (upstream's conf_ip4,
// conf_ip6, get_dns and the service implications of conf()).
//
// A pure function: discovery and file reading happen before, in main.
#pragma once

#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/net_info.hpp"
#include "core/resolv_conf.hpp"
#include "linux/host_discovery.hpp"

namespace passt::app {

struct NetSetup {
  core::NetInfo net;
  std::vector<std::string> warnings;  // to log at warning level
  std::vector<std::string> infos;     // start-up summary lines (not with -q)
  std::string error;                  // non-empty: fatal, exit 1
};

NetSetup build_net_info(const core::Config& cfg, const os::HostTemplate& tmpl,
                        const core::ResolvConf& resolv, u32 duid_time);

// Classful default prefix (upstream, when neither -n nor the host gives one).
u8 classful_prefix(Ipv4Addr a) noexcept;

}  // namespace passt::app
