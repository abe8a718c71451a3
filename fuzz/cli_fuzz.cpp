// Command line: argv -> ParseOutcome never crashes, leaks or exits, and the
// outcome keeps its contract.  Differential check: glibc's getopt_long(),
// run with its own error printing on over the same argv and tables, prints
// exactly the message our parser rebuilds (first line of a usage error).
//
// Input encoding: byte 0 selects the mode (bit 0: 0 = passt, 1 = pasta) and
// the ephemeral port range (bits 1-2, one of four presets); the rest is the
// argument list, NUL-separated (argv[0] is supplied).  At most 256
// arguments are used.
#include <getopt.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "fuzz/fuzz.hpp"

namespace {

using passt::app::CliEnv;
using passt::app::ParseOutcome;
using passt::core::Config;
using passt::core::Mode;

constexpr std::size_t kMaxArgs = 256;

void check_fwd(const passt::core::PortFwd& f) {
  PASST_CHECK(f.mode != passt::core::FwdMode::unset);
  for (const auto& r : f.rules) {
    PASST_CHECK(!r.ports.empty());
    for (const auto& run : r.ports) {
      PASST_CHECK(run.first <= run.last);
      PASST_CHECK(f.forwarded.test(run.first));
      PASST_CHECK(f.forwarded.test(run.last));
    }
    PASST_CHECK(r.ifname.size() <= passt::core::kIfNameMax);
  }
  if (f.mode != passt::core::FwdMode::spec && f.mode != passt::core::FwdMode::all)
    PASST_CHECK(!f.forwarded.any() && f.rules.empty());
}

void check(const ParseOutcome& o, Mode mode) {
  if (o.action == ParseOutcome::Action::run) {
    PASST_CHECK(o.exit_code == 0);
    PASST_CHECK(o.config.has_value());
    PASST_CHECK(o.out.empty() && o.err.empty());
    const Config& c = *o.config;
    PASST_CHECK(c.mode == mode);
    PASST_CHECK(!(c.ipv4_only && c.ipv6_only));
    PASST_CHECK(c.mtu == 0 || c.mtu >= passt::core::kMinMtu);
    PASST_CHECK(c.log_size >= passt::core::kMinLogSize);
    PASST_CHECK(c.ip4.prefix_len <= 32);
    PASST_CHECK(c.fd == -1 || c.fd > 2);
    PASST_CHECK(c.dns_search.size() <= passt::core::kMaxDnsSearch);
    PASST_CHECK(c.ns_ifname.size() <= passt::core::kIfNameMax);
    PASST_CHECK(c.socket_path.size() <= passt::core::kUnixPathMax);
    if (c.ip4.addr) PASST_CHECK(!c.ip4.addr->is_loopback() && !c.ip4.addr->is_multicast());
    if (c.ip6.addr) PASST_CHECK(!c.ip6.addr->is_loopback() && !c.ip6.addr->is_v4_mapped());
    check_fwd(c.fwd_in.tcp);
    check_fwd(c.fwd_in.udp);
    check_fwd(c.fwd_out.tcp);
    check_fwd(c.fwd_out.udp);
    if (mode == Mode::passt) {
      PASST_CHECK(c.ns.command.empty() && c.ns.netns_path.empty());
      PASST_CHECK(c.no_splice);
    }
  } else {
    PASST_CHECK(!o.config.has_value());
    PASST_CHECK(o.exit_code == 0 || o.exit_code == 1);
    PASST_CHECK(!o.out.empty() || !o.err.empty());
    if (o.exit_code == 1) PASST_CHECK(!o.err.empty() && o.err.back() == '\n');
  }
}

// What glibc itself prints for the first getopt error in argv ("" if none).
std::string glibc_message(Mode mode, int argc, char* const* argv) {
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* mem = open_memstream(&buf, &len);
  PASST_CHECK(mem != nullptr);
  std::FILE* saved = stderr;
  stderr = mem;
  optind = 0;
  opterr = 1;
  int c = 0;
  do {
    c = getopt_long(argc, argv, passt::app::cli_optstring(mode), passt::app::cli_long_options(),
                    nullptr);
  } while (c != -1 && c != '?');
  opterr = 0;
  stderr = saved;
  std::fclose(mem);
  std::string s(buf, len);
  std::free(buf);
  return s;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool same(const ParseOutcome& a, const ParseOutcome& b) {
  return a.action == b.action && a.exit_code == b.exit_code && a.out == b.out &&
         a.err == b.err && a.warnings == b.warnings && a.config == b.config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Mode mode = (data[0] & 1) != 0 ? Mode::pasta : Mode::passt;
  CliEnv env;
  switch ((data[0] >> 1) & 3) {
    case 0: break;  // RFC 6335 49152-65535
    case 1: env.ephemeral_first = 32768; env.ephemeral_last = 60999; break;
    case 2: env.ephemeral_first = 1; env.ephemeral_last = 65535; break;
    default: env.ephemeral_first = 65535; env.ephemeral_last = 65535; break;
  }
  std::vector<std::string> store;
  store.emplace_back(mode == Mode::pasta ? "pasta" : "passt");
  std::string cur;
  for (std::size_t i = 1; i < size && store.size() < kMaxArgs; i++) {
    if (data[i] == 0) {
      store.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  if (size > 1 && store.size() < kMaxArgs) store.push_back(cur);
  std::vector<char*> argv;
  argv.reserve(store.size() + 1);
  for (auto& s : store) argv.push_back(s.data());
  argv.push_back(nullptr);
  const int argc = static_cast<int>(store.size());

  auto r1 = passt::app::parse_cli(mode, argc, argv.data(), env);
  PASST_CHECK(r1.ok());
  check(*r1, mode);

  const std::string want = glibc_message(mode, argc, argv.data());
  const bool usage_error =
      r1->exit_code == 1 && ends_with(r1->err, passt::app::usage_text(mode, store[0]));
  if (usage_error) {
    // Ours is a getopt error: glibc reports the same one, same text.
    PASST_CHECK(!want.empty());
    PASST_CHECK(r1->err.compare(0, want.size(), want) == 0);
  } else if (!want.empty()) {
    // glibc sees an error our parse never reached: something ended it
    // before (help, version, a value error), never a successful run.
    PASST_CHECK(r1->action == ParseOutcome::Action::exit);
  }
  // getopt's global state is reset by every call: a second run agrees.
  auto r2 = passt::app::parse_cli(mode, argc, argv.data(), env);
  PASST_CHECK(r2.ok());
  PASST_CHECK(same(*r1, *r2));
  return 0;
}
