// What both script runners (script_sim, script_real) share: finding and
// reading script files, and computing the configuration a script's
// command line gives (the same parse_cli + build_net_info as the binary),
// from which the predefined variables are bound.
//
// Header-only: it needs src/app, which the passt_sim library must not
// depend on; the two runner executables link passt_app.
#pragma once

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "app/net_setup.hpp"
#include "core/resolv_conf.hpp"
#include "linux/host_discovery.hpp"
#include "sim/script/interp.hpp"
#include "sim/script/script.hpp"

namespace passt::sim::script {

inline bool read_text_file(const std::string& path, std::string& out, std::string& err) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    err = "cannot open " + path;
    return false;
  }
  out.clear();
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    out.append(buf, n);
    if (out.size() > kMaxScriptBytes) break;
  }
  std::fclose(f);
  return true;
}

// Files named on the command line; directories give their *.pkt files,
// sorted by name.
inline std::vector<std::string> collect_scripts(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const std::string& a : args) {
    struct stat st {};
    if (stat(a.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      std::vector<std::string> names;
      if (DIR* d = opendir(a.c_str())) {
        while (dirent* e = readdir(d)) {
          std::string n = e->d_name;
          if (n.size() > 4 && n.compare(n.size() - 4, 4, ".pkt") == 0) names.push_back(a + "/" + n);
        }
        closedir(d);
      }
      std::sort(names.begin(), names.end());
      out.insert(out.end(), names.begin(), names.end());
    } else {
      out.push_back(a);
    }
  }
  return out;
}

struct EffectiveConfig {
  bool ok = false;
  std::string error;
  core::Config cfg;
  core::NetInfo net;
  std::vector<std::string> script_args;  // the script's arguments for this mode
};

inline std::vector<std::string> script_args(const Script& s, core::Mode mode) {
  std::vector<std::string> v = s.args;
  const auto& m = mode == core::Mode::passt ? s.args_passt : s.args_pasta;
  v.insert(v.end(), m.begin(), m.end());
  return v;
}

// Parses the command line the runner will give the binary: `plumbing`
// (the runner's own options: socket path, namespace) then the script's
// arguments for `mode`.
inline EffectiveConfig parse_config(const Script& s, core::Mode mode,
                                    const std::vector<std::string>& plumbing,
                                    const app::CliEnv& cli_env = {}) {
  EffectiveConfig e;
  e.script_args = script_args(s, mode);
  std::vector<std::string> argv = {mode == core::Mode::passt ? "passt" : "pasta"};
  argv.insert(argv.end(), plumbing.begin(), plumbing.end());
  argv.insert(argv.end(), e.script_args.begin(), e.script_args.end());
  std::vector<char*> ptrs;
  for (std::string& a : argv) ptrs.push_back(a.data());
  ptrs.push_back(nullptr);
  auto po = app::parse_cli(mode, static_cast<int>(argv.size()), ptrs.data(), cli_env);
  if (!po) {
    e.error = "command line: cannot parse";
    return e;
  }
  if (po->action != app::ParseOutcome::Action::run || !po->config) {
    e.error = "command line: " + po->err + po->out;
    while (!e.error.empty() && e.error.back() == '\n') e.error.pop_back();
    return e;
  }
  e.cfg = *po->config;
  e.ok = true;
  return e;
}

// Adds the NetInfo the binary would build on this host.
inline bool complete_config(EffectiveConfig& e, const os::HostTemplate& tmpl,
                            const core::ResolvConf& rc, u32 duid_time) {
  app::NetSetup ns = app::build_net_info(e.cfg, tmpl, rc, duid_time);
  if (!ns.error.empty()) {
    e.ok = false;
    e.error = "configuration: " + ns.error;
    return false;
  }
  e.net = ns.net;
  return true;
}

inline EffectiveConfig effective_config(const Script& s, core::Mode mode,
                                        const std::vector<std::string>& plumbing,
                                        const os::HostTemplate& tmpl, const core::ResolvConf& rc,
                                        u32 duid_time, const app::CliEnv& cli_env = {}) {
  EffectiveConfig e = parse_config(s, mode, plumbing, cli_env);
  if (e.ok) complete_config(e, tmpl, rc, duid_time);
  return e;
}

inline Env env_of(const core::NetInfo& n, const Script& s) {
  Env e;
  e.our_mac = n.our_mac;
  e.guest_mac = s.guest_mac;
  e.our_ll = n.v6.our_tap_ll;
  e.addr4 = n.v4.addr;
  e.gw4 = n.v4.gateway;
  e.our4 = n.v4.our_tap_addr;
  e.addr6 = n.v6.addr;
  e.gw6 = n.v6.gateway;
  e.mtu = n.mtu;
  return e;
}

// Features of the engine this runner was built with (a script's
// `requires`): the protocol handlers present in src/proto, as
// sim/CMakeLists.txt found them (PASST_SCRIPT_HAVE_*, re-evaluated when a
// source file appears there).
inline bool has_feature(const std::string& f) {
#if defined(PASST_SCRIPT_HAVE_TCP)
  if (f == "tcp") return true;
#endif
#if defined(PASST_SCRIPT_HAVE_UDP)
  if (f == "udp") return true;
#endif
#if defined(PASST_SCRIPT_HAVE_ICMP)
  if (f == "icmp") return true;
#endif
  (void)f;
  return false;
}

// The first feature `s` requires that this build lacks, or "".
inline std::string missing_feature(const Script& s) {
  for (const std::string& f : s.requires_)
    if (!has_feature(f)) return f;
  return "";
}

inline const char* mode_label(core::Mode m) { return m == core::Mode::passt ? "passt" : "pasta"; }

inline std::string fmt_secs(i64 ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%lld.%03lld", static_cast<long long>(ns / 1000000000),
                static_cast<long long>((ns % 1000000000) / 1000000));
  return buf;
}

}  // namespace passt::sim::script
