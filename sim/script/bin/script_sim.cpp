// script_sim: runs scripts (docs/scripts.md) against the real engine in the
// simulator, in virtual time, in each mode the script allows.
//
//   script_sim [--mode passt|pasta|both] [--trace] [--seed N] [--pending]
//              [--check] FILE|DIR...
//
// Exit status 0 when every script passed (pending scripts are skipped and
// listed), 1 otherwise.  --check only parses.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sim/script/bin/runner_common.hpp"
#include "sim/script/sim_backend.hpp"
#include "util/check.hpp"

using namespace passt;
using namespace passt::sim::script;

namespace {

// The outer namespace of the integration harness (integration/lib/common.sh),
// as host discovery would see it, so both runners compute the same
// configuration from a script's arguments.
os::HostTemplate harness_template() {
  os::HostTemplate t;
  t.v4.usable = true;
  t.v4.ifindex = 2;
  t.v4.ifname = "up0";
  t.v4.addr = Ipv4Addr::of(198, 51, 100, 1);
  t.v4.prefix_len = 24;
  t.v4.gateway = Ipv4Addr::of(198, 51, 100, 254);
  t.v4.mtu = 1500;
  t.v4.mac = MacAddr{{0x02, 0x5c, 0x00, 0x00, 0x00, 0x01}};
  t.v6.usable = true;
  t.v6.ifindex = 2;
  t.v6.ifname = "up0";
  t.v6.addr = *parse_ipv6("2001:db8::1");
  t.v6.prefix_len = 64;
  t.v6.ll = *parse_ipv6("fe80::5c:ff:fe00:1");
  t.v6.gateway = *parse_ipv6("2001:db8::ff");
  t.v6.mtu = 1500;
  t.v6.mac = t.v4.mac;
  return t;
}

constexpr const char* kResolvConf =
    "nameserver 198.51.100.53\nnameserver 2001:db8::53\nsearch example.org\n";
constexpr u32 kDuidTime = 0x2d000000;  // a fixed start-up time for the DHCPv6 DUID

struct Current {
  const char* file = "";
  const char* mode = "";
  SimBackend* backend = nullptr;
};
Current g_cur;

void check_hook(const char* file, int line, const char* expr) {
  std::fprintf(stderr, "FAIL %s [%s]: internal check failed at %s:%d: %s", g_cur.file, g_cur.mode, file, line, expr);
  if (g_cur.backend != nullptr)
    std::fprintf(stderr, " (virtual time %s s)", fmt_secs(g_cur.backend->now_ns()).c_str());
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
  std::abort();
}

void usage() {
  std::fprintf(stderr,
               "usage: script_sim [--mode passt|pasta|both] [--trace] [--seed N] [--pending] [--check] FILE|DIR...\n");
}

}  // namespace

int main(int argc, char** argv) {
  u8 modes = kModePasst | kModePasta;
  bool trace = false;
  bool pending = false;
  bool check_only = false;
  u64 seed = 1;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--trace") {
      trace = true;
    } else if (a == "--pending") {
      pending = true;
    } else if (a == "--check") {
      check_only = true;
    } else if (a == "--mode" && i + 1 < argc) {
      std::string m = argv[++i];
      modes = (m == "passt" ? u8{kModePasst} : m == "pasta" ? u8{kModePasta} : u8{kModePasst | kModePasta});
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 0);
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      usage();
      return 2;
    } else {
      paths.push_back(a);
    }
  }
  if (paths.empty()) {
    usage();
    return 2;
  }
  set_check_hook(check_hook);
  const os::HostTemplate tmpl = harness_template();
  const core::ResolvConf rc = core::parse_resolv_conf(kResolvConf);
  int failed = 0;
  int passed = 0;
  int skipped = 0;
  for (const std::string& path : collect_scripts(paths)) {
    std::string text;
    std::string err;
    if (!read_text_file(path, text, err)) {
      std::printf("FAIL %s: %s\n", path.c_str(), err.c_str());
      failed++;
      continue;
    }
    ParseResult pr = parse_script(text);
    if (!pr.ok) {
      std::printf("FAIL %s\n", format_error(path, pr.error).c_str());
      failed++;
      continue;
    }
    const Script& s = pr.script;
    if (check_only) {
      std::printf("ok   %s (parsed, %zu steps)\n", path.c_str(), s.steps.size());
      passed++;
      continue;
    }
    if (std::string m = missing_feature(s); !m.empty()) {
      std::printf("PEND %s (requires %s, not in this build)\n", path.c_str(), m.c_str());
      skipped++;
      continue;
    }
    if (s.pending && !pending) {
      std::printf("PEND %s (%s)\n", path.c_str(), s.pending_reason.c_str());
      skipped++;
      continue;
    }
    for (core::Mode mode : {core::Mode::passt, core::Mode::pasta}) {
      const u8 bit = mode == core::Mode::passt ? kModePasst : kModePasta;
      if ((s.modes & bit) == 0 || (modes & bit) == 0) continue;
      std::vector<std::string> plumbing;
      if (mode == core::Mode::pasta) plumbing = {"--netns", "/run/netns/script"};
      EffectiveConfig ec = effective_config(s, mode, plumbing, tmpl, rc, kDuidTime);
      if (!ec.ok) {
        std::printf("FAIL %s [%s]: %s\n", path.c_str(), mode_label(mode), ec.error.c_str());
        failed++;
        continue;
      }
      // pasta sets its tap's transmit queue to 4096 frames and caps TCP
      // windows to it (src/app/main.cpp, docs/tcp.md); passt has no such queue.
      if (mode == core::Mode::pasta) ec.net.tap_queue_frames = 4096;
      SimBackendOptions bo;
      bo.seed = seed;
      bo.pasta = mode == core::Mode::pasta;
      SimBackend backend(ec.cfg, ec.net, bo);
      if (!backend.setup_error().empty()) {
        std::printf("FAIL %s [%s]: %s\n", path.c_str(), mode_label(mode), backend.setup_error().c_str());
        failed++;
        continue;
      }
      g_cur = Current{path.c_str(), mode_label(mode), &backend};
      RunOptions ro;
      ro.tolerance_ns = 0;
      ro.settle_ns = s.tolerance_ns.value_or(50000000);
      ro.trace = trace;
      ro.log = stdout;
      ro.label = mode_label(mode);
      RunResult r = run_script(s, env_of(ec.net, s), backend, ro);
      g_cur = Current{};
      if (r.ok) {
        std::printf("ok   %s [%s] (%zu steps, %s s virtual)\n", path.c_str(), mode_label(mode), s.steps.size(),
                    fmt_secs(backend.now_ns()).c_str());
        passed++;
      } else {
        std::printf("FAIL %s:%u [%s]: %s\n", path.c_str(), r.line, mode_label(mode), r.msg.c_str());
        failed++;
      }
      std::fflush(stdout);
    }
  }
  std::printf("%d passed, %d failed, %d pending\n", passed, failed, skipped);
  return failed == 0 ? 0 : 1;
}
