// Command-line parser: every option in its short, long and --opt=value
// forms, every error with upstream's exact message, glibc's getopt messages
// (checked against glibc itself), the port-forwarding grammar, and the
// command lines real clients (Podman, rootlesskit, libvirt, qemu) pass.
#include <getopt.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <initializer_list>
#include <string>
#include <vector>

#include "app/cli.hpp"

namespace passt::app {
namespace {

using core::Config;
using core::FwdMode;
using core::Mode;
using core::NsTarget;
using core::PortRun;
using Action = ParseOutcome::Action;

constexpr Mode kPasst = Mode::passt;
constexpr Mode kPasta = Mode::pasta;

// argv storage that outlives the call.
class Argv {
 public:
  Argv(Mode m, const std::vector<std::string>& args) {
    store_.push_back(m == kPasta ? "pasta" : "passt");
    for (const auto& a : args) store_.push_back(a);
    for (auto& s : store_) ptrs_.push_back(s.data());
    ptrs_.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(store_.size()); }
  char* const* argv() const { return ptrs_.data(); }

 private:
  std::vector<std::string> store_;
  std::vector<char*> ptrs_;
};

ParseOutcome parse(Mode m, const std::vector<std::string>& args, const CliEnv& env = {}) {
  Argv a(m, args);
  auto r = parse_cli(m, a.argc(), a.argv(), env);
  EXPECT_TRUE(r.ok());
  if (!r.ok()) return {};
  return std::move(r).value();
}

Config ok(Mode m, const std::vector<std::string>& args, const CliEnv& env = {}) {
  ParseOutcome o = parse(m, args, env);
  EXPECT_EQ(o.action, Action::run) << "stderr: " << o.err;
  EXPECT_TRUE(o.config.has_value());
  if (!o.config) return Config{};
  return *o.config;
}

// The die() message (without the newline); expects exit status 1.
std::string fails(Mode m, const std::vector<std::string>& args) {
  ParseOutcome o = parse(m, args);
  EXPECT_EQ(o.action, Action::exit);
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_TRUE(o.out.empty());
  EXPECT_FALSE(o.config.has_value());
  std::string e = o.err;
  if (!e.empty() && e.back() == '\n') e.pop_back();
  return e;
}

// First line of stderr after a getopt error (the usage text follows).
std::string getopt_fails(Mode m, const std::vector<std::string>& args) {
  ParseOutcome o = parse(m, args);
  EXPECT_EQ(o.action, Action::exit);
  EXPECT_EQ(o.exit_code, 1);
  const std::string usage = usage_text(m, m == kPasta ? "pasta" : "passt");
  EXPECT_GE(o.err.size(), usage.size());
  EXPECT_EQ(o.err.substr(o.err.size() - std::min(o.err.size(), usage.size())), usage);
  return o.err.substr(0, o.err.find('\n'));
}

Ipv4Addr v4(const char* s) { return *parse_ipv4(s); }
Ipv6Addr v6(const char* s) { return *parse_ipv6(s); }

// ---------------------------------------------------------------------------
// Mode from argv[0]

TEST(CliMode, FromArgv0) {
  EXPECT_EQ(*mode_from_argv0("passt"), kPasst);
  EXPECT_EQ(*mode_from_argv0("/usr/bin/passt"), kPasst);
  EXPECT_EQ(*mode_from_argv0("/usr/bin/passt.avx2"), kPasst);
  EXPECT_EQ(*mode_from_argv0("pasta"), kPasta);
  EXPECT_EQ(*mode_from_argv0("./build/pasta.avx2"), kPasta);
  EXPECT_EQ(*mode_from_argv0("/opt/pasta/bin/passt"), kPasst);   // basename only
  EXPECT_EQ(*mode_from_argv0("/opt/passt/bin/pasta/"), kPasta);  // trailing slash
  EXPECT_EQ(*mode_from_argv0("my-passt-pasta"), kPasta);         // "pasta" wins
  EXPECT_FALSE(mode_from_argv0("qemu").ok());
  EXPECT_FALSE(mode_from_argv0("/usr/bin/passt/x").ok());
  EXPECT_FALSE(mode_from_argv0("").ok());
  EXPECT_FALSE(mode_from_argv0("/").ok());
}

TEST(CliMode, BadArgvIsInvalid) {
  char* argv[] = {nullptr};
  EXPECT_EQ(parse_cli(kPasst, 0, argv).err(), Err::invalid);
  EXPECT_EQ(parse_cli(kPasst, 1, nullptr).err(), Err::invalid);
}

// ---------------------------------------------------------------------------
// Defaults

TEST(CliDefaults, Passt) {
  Config c = ok(kPasst, {});
  EXPECT_EQ(c.mode, kPasst);
  EXPECT_FALSE(c.vhost_user);
  EXPECT_EQ(c.mtu, 65520);
  EXPECT_EQ(c.our_mac, (MacAddr{{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}}));
  for (auto* f : {&c.fwd_in.tcp, &c.fwd_in.udp, &c.fwd_out.tcp, &c.fwd_out.udp}) {
    EXPECT_EQ(f->mode, FwdMode::none);
    EXPECT_FALSE(f->forwarded.any());
    EXPECT_TRUE(f->rules.empty());
  }
  EXPECT_FALSE(c.no_dhcp_dns);
  EXPECT_FALSE(c.no_dhcp_search);
  EXPECT_TRUE(c.no_splice);  // forced in passt
  EXPECT_FALSE(c.no_ra);
  EXPECT_EQ(c.fd, -1);
  EXPECT_TRUE(c.socket_path.empty());
  EXPECT_FALSE(c.one_off);
  EXPECT_EQ(c.log_size, 1024u * 1024u);
  EXPECT_FALSE(c.runas.has_value());
  EXPECT_FALSE(c.ip4.addr || c.ip6.addr || c.ip4.gateway || c.ip6.gateway);
  EXPECT_FALSE(c.ip4.map_host_loopback || c.ip6.map_host_loopback);
  EXPECT_EQ(c.ip4.prefix_len, 0);
  EXPECT_TRUE(c.ip4.dns.empty() && c.ip6.dns.empty() && c.dns_search.empty());
  EXPECT_FALSE(c.debug || c.trace || c.quiet || c.foreground);
}

TEST(CliDefaults, Pasta) {
  Config c = ok(kPasta, {});
  EXPECT_EQ(c.mode, kPasta);
  for (auto* f : {&c.fwd_in.tcp, &c.fwd_in.udp, &c.fwd_out.tcp, &c.fwd_out.udp})
    EXPECT_EQ(f->mode, FwdMode::automatic);
  EXPECT_TRUE(c.no_dhcp_dns);     // pasta sends no DNS ...
  EXPECT_TRUE(c.no_dhcp_search);  // ... and no search list by default
  EXPECT_FALSE(c.no_splice);
  EXPECT_FALSE(c.config_net);
  EXPECT_EQ(c.ns.target, NsTarget::spawn);
  EXPECT_TRUE(c.ns.command.empty());
  EXPECT_FALSE(c.ns.netns_only);
  EXPECT_TRUE(c.ns_ifname.empty());
  EXPECT_FALSE(c.ns_mac.has_value());
}

// ---------------------------------------------------------------------------
// Help, version, capabilities

TEST(CliInfo, Help) {
  for (Mode m : {kPasst, kPasta}) {
    for (const char* h : {"-h", "--help", "--he"}) {
      ParseOutcome o = parse(m, {h});
      EXPECT_EQ(o.action, Action::exit);
      EXPECT_EQ(o.exit_code, 0);
      EXPECT_TRUE(o.err.empty());
      EXPECT_EQ(o.out, usage_text(m, m == kPasta ? "pasta" : "passt"));
    }
  }
  EXPECT_EQ(parse(kPasst, {}).out, "");
  EXPECT_EQ(usage_text(kPasst, "/usr/bin/passt").rfind("Usage: /usr/bin/passt [OPTION]...\n", 0),
            0u);
  EXPECT_EQ(usage_text(kPasta, "pasta").rfind("Usage: pasta [OPTION]... [COMMAND [ARG]...]\n", 0),
            0u);
}

// The help text of each mode names every long option valid in that mode.
TEST(CliInfo, HelpListsEveryOption) {
  const std::vector<std::string> passt_only = {"socket", "socket-path", "vhost-user",
                                               "print-capabilities", "one-off", "no-dhcp-dns",
                                               "no-dhcp-search"};
  const std::vector<std::string> pasta_only = {
      "ns-ifname",   "tcp-ns",         "udp-ns",        "userns",        "netns",
      "netns-only",  "ns-mac-addr",    "dhcp-dns",      "dhcp-search",   "no-netns-quit",
      "config-net",  "no-copy-routes", "no-copy-addrs", "host-lo-to-ns-lo", "no-splice"};
  auto in = [](const std::vector<std::string>& v, const std::string& s) {
    for (const auto& x : v)
      if (x == s) return true;
    return false;
  };
  for (Mode m : {kPasst, kPasta}) {
    const std::string help = usage_text(m, "x");
    for (const ::option* o = cli_long_options(); o->name != nullptr; o++) {
      const std::string name = o->name;
      const bool valid = m == kPasst ? !in(pasta_only, name) : !in(passt_only, name);
      if (!valid) continue;
      EXPECT_NE(help.find("--" + name), std::string::npos) << core::mode_name(m) << ": " << name;
    }
    for (const char* s = cli_optstring(m) + 1; *s != '\0'; s++) {
      if (*s == ':') continue;
      EXPECT_NE(help.find(std::string("-") + *s + ","), std::string::npos)
          << core::mode_name(m) << ": -" << *s;
    }
  }
}

TEST(CliInfo, Version) {
  for (Mode m : {kPasst, kPasta}) {
    ParseOutcome o = parse(m, {"--version"});
    EXPECT_EQ(o.action, Action::exit);
    EXPECT_EQ(o.exit_code, 0);
    const std::string first = o.out.substr(0, o.out.find('\n'));
    EXPECT_EQ(first, std::string(core::mode_name(m)) + " " + std::string(kVersion));
    EXPECT_TRUE(o.err.empty());
  }
  CliEnv env;
  env.version = "2025_01_09.xyz";
  EXPECT_EQ(parse(kPasta, {"--version"}, env).out.rfind("pasta 2025_01_09.xyz\n", 0), 0u);
}

// rootlesskit probes features like this; both must exit 0.
TEST(CliInfo, RootlesskitProbes) {
  ParseOutcome o = parse(kPasta, {"--version"});
  EXPECT_EQ(o.exit_code, 0);
  o = parse(kPasta, {"--host-lo-to-ns-lo", "--version"});
  EXPECT_EQ(o.action, Action::exit);
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_TRUE(o.warnings.empty());
  EXPECT_EQ(o.out.rfind("pasta ", 0), 0u);
}

TEST(CliInfo, PrintCapabilities) {
  ParseOutcome o = parse(kPasst, {"--print-capabilities"});
  EXPECT_EQ(o.action, Action::exit);
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.err, "{\n  \"type\": \"net\"\n}\n");  // on stderr, as upstream
  EXPECT_TRUE(o.out.empty());
  o = parse(kPasst, {"--vhost-user", "--print-capabilities"});
  EXPECT_EQ(o.exit_code, 0);
}

// Help, version and errors act where they appear, as upstream's single pass.
TEST(CliInfo, FirstActionWins) {
  EXPECT_EQ(parse(kPasst, {"--help", "-m", "5"}).exit_code, 0);
  EXPECT_EQ(fails(kPasst, {"-m", "5", "--help"}), "Invalid MTU: 5");
  EXPECT_EQ(parse(kPasst, {"--version", "--foo"}).exit_code, 0);
  EXPECT_EQ(getopt_fails(kPasst, {"--foo", "--version"}), "passt: unrecognized option '--foo'");
  // -t errors come from a later pass than --help.
  EXPECT_EQ(parse(kPasst, {"-t", "bogus", "--help"}).exit_code, 0);
}

// ---------------------------------------------------------------------------
// glibc getopt messages

TEST(CliGetopt, Messages) {
  EXPECT_EQ(getopt_fails(kPasst, {"--foo"}), "passt: unrecognized option '--foo'");
  EXPECT_EQ(getopt_fails(kPasst, {"--foo=bar"}), "passt: unrecognized option '--foo=bar'");
  EXPECT_EQ(getopt_fails(kPasst, {"-x"}), "passt: invalid option -- 'x'");
  EXPECT_EQ(getopt_fails(kPasst, {"-dqx"}), "passt: invalid option -- 'x'");
  EXPECT_EQ(getopt_fails(kPasst, {"-m"}), "passt: option requires an argument -- 'm'");
  EXPECT_EQ(getopt_fails(kPasst, {"-dm"}), "passt: option requires an argument -- 'm'");
  EXPECT_EQ(getopt_fails(kPasst, {"--mtu"}), "passt: option '--mtu' requires an argument");
  EXPECT_EQ(getopt_fails(kPasst, {"--mt"}), "passt: option '--mtu' requires an argument");
  EXPECT_EQ(getopt_fails(kPasst, {"--no-tcp=1"}),
            "passt: option '--no-tcp' doesn't allow an argument");
  EXPECT_EQ(getopt_fails(kPasst, {"--no-d"}),
            "passt: option '--no-d' is ambiguous; possibilities: '--no-dhcp' '--no-dhcpv6' "
            "'--no-dhcp-dns' '--no-dhcp-search'");
  EXPECT_EQ(getopt_fails(kPasst, {"--no-d=3"}),
            "passt: option '--no-d=3' is ambiguous; possibilities: '--no-dhcp' '--no-dhcpv6' "
            "'--no-dhcp-dns' '--no-dhcp-search'");
  // Podman looks for exactly this text to retry without the option.
  EXPECT_EQ(getopt_fails(kPasta, {"--map-guest-adr", "1.2.3.4"}),
            "pasta: unrecognized option '--map-guest-adr'");
  // Mode-specific optstrings.
  EXPECT_EQ(getopt_fails(kPasst, {"-T", "22"}), "passt: invalid option -- 'T'");
  EXPECT_EQ(getopt_fails(kPasta, {"-s", "/tmp/s"}), "pasta: invalid option -- 's'");
  EXPECT_EQ(getopt_fails(kPasta, {"-1"}), "pasta: invalid option -- '1'");
  EXPECT_EQ(getopt_fails(kPasst, {"-I", "x"}), "passt: invalid option -- 'I'");
  // --sock matches --socket and --socket-path, which are the same option.
  EXPECT_EQ(ok(kPasst, {"--sock", "/tmp/x"}).socket_path, "/tmp/x");
  EXPECT_EQ(ok(kPasst, {"--sock=/tmp/y"}).socket_path, "/tmp/y");
  // The program name is argv[0] as given.
  std::vector<std::string> store = {"/usr/bin/passt", "--bogus"};
  char* argv[] = {store[0].data(), store[1].data(), nullptr};
  auto r = parse_cli(kPasst, 2, argv);
  EXPECT_EQ(r->err.substr(0, r->err.find('\n')), "/usr/bin/passt: unrecognized option '--bogus'");
  EXPECT_NE(r->err.find("Usage: /usr/bin/passt [OPTION]..."), std::string::npos);
}

// The oracle: glibc's getopt_long() with opterr = 1 over the same tables,
// its stderr captured.  Our rebuilt message must be byte-identical.
std::string glibc_message(Mode m, const std::vector<std::string>& args) {
  Argv a(m, args);
  std::FILE* tmp = std::tmpfile();
  EXPECT_NE(tmp, nullptr);
  std::fflush(stderr);
  const int saved = dup(2);
  dup2(fileno(tmp), 2);
  optind = 0;
  opterr = 1;
  int c;
  while ((c = getopt_long(a.argc(), a.argv(), cli_optstring(m), cli_long_options(), nullptr)) !=
         -1) {
    if (c == '?') break;
  }
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  opterr = 0;
  std::rewind(tmp);
  std::string s;
  char buf[512];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), tmp)) > 0) s.append(buf, n);
  std::fclose(tmp);
  return s;
}

TEST(CliGetopt, MatchesGlibcExactly) {
  // The oracle itself works.
  EXPECT_EQ(glibc_message(kPasst, {"--foo"}), "passt: unrecognized option '--foo'\n");
  EXPECT_EQ(glibc_message(kPasta, {"-d"}), "");
  const std::vector<std::vector<std::string>> cases = {
      {"--foo"},          {"--foo=1"},       {"--no"},         {"--no-"},
      {"--no-d"},         {"--no-dhcp="},    {"--d"},          {"--de"},
      {"--=x"},           {"--="},           {"--s"},          {"--so"},
      {"--so=1", "--z"},  {"--map"},         {"--map-h"},      {"--n"},
      {"--ns"},           {"--u"},           {"--dns"},        {"--dns-"},
      {"--dhcp"},         {"--p"},           {"--print=1"},    {"--v"},
      {"--t"},            {"--tcp"},         {"--h"},          {"--help=1"},
      {"-x"},             {"-dqx"},          {"-d", "-x"},     {"-m"},
      {"-dm"},            {"-4m"},           {"-:"},           {"-?"},
      {"-+"},             {"-W", "x"},       {"-T"},           {"-U"},
      {"-s"},             {"-I"},            {"-1"},           {"-6", "-1x"},
      {"-t"},             {"-u"},            {"-D"},           {"-S"},
      {"-H"},             {"--mtu"},         {"--mtu=", "-x"}, {"--runas"},
      {"--trace=1"},      {"--version=2"},   {"--out"},        {"--outbound-if"},
      {"--no-copy"},      {"--freebind=yes"}, {"-ffff", "-y"}, {"--tcp-ns"},
  };
  for (Mode m : {kPasst, kPasta}) {
    for (const auto& args : cases) {
      const std::string want = glibc_message(m, args);
      ParseOutcome o = parse(m, args);
      if (want.empty()) {
        // No getopt error: whatever the outcome, it is not a getopt message.
        EXPECT_EQ(o.err.find(": unrecognized option"), std::string::npos);
        EXPECT_EQ(o.err.find(": invalid option"), std::string::npos);
        continue;
      }
      EXPECT_EQ(o.exit_code, 1) << args[0];
      EXPECT_EQ(o.err.substr(0, want.size()), want) << core::mode_name(m) << " " << args[0];
    }
  }
}

// ---------------------------------------------------------------------------
// Options, one by one: short, long, abbreviated and --opt=value forms

TEST(CliOptions, LoggingAndProcess) {
  for (const auto& a : std::vector<std::vector<std::string>>{{"-d"}, {"--debug"}, {"--deb"}}) {
    Config c = ok(kPasst, a);
    EXPECT_TRUE(c.debug);
    EXPECT_FALSE(c.trace);
  }
  Config c = ok(kPasst, {"--trace"});
  EXPECT_TRUE(c.debug && c.trace);
  c = ok(kPasst, {"-d", "-q"});
  EXPECT_TRUE(c.quiet);
  EXPECT_FALSE(c.debug);
  c = ok(kPasst, {"--trace", "--quiet"});
  EXPECT_TRUE(c.quiet);
  EXPECT_FALSE(c.debug || c.trace);
  c = ok(kPasst, {"-q", "-d"});
  EXPECT_FALSE(c.quiet);
  EXPECT_TRUE(c.debug);
  c = ok(kPasst, {"-q", "--trace"});
  EXPECT_FALSE(c.quiet);
  EXPECT_TRUE(c.trace);
  EXPECT_TRUE(ok(kPasst, {"-f"}).foreground);
  EXPECT_TRUE(ok(kPasta, {"--foreground"}).foreground);
  EXPECT_EQ(ok(kPasst, {"-l", "/tmp/log"}).log_file, "/tmp/log");
  EXPECT_EQ(ok(kPasst, {"--log-file=/tmp/l2"}).log_file, "/tmp/l2");
  EXPECT_EQ(ok(kPasta, {"-dfl/tmp/l3"}).log_file, "/tmp/l3");  // bundled short options
  EXPECT_EQ(ok(kPasst, {"--log-size", "40960"}).log_size, 40960u);
  EXPECT_EQ(ok(kPasst, {"--log-size=0x100000"}).log_size, 0x100000u);
  EXPECT_EQ(fails(kPasst, {"--log-size", "40959"}), "Invalid --log-size: 40959");
  EXPECT_EQ(fails(kPasst, {"--log-size", "1M"}), "Invalid --log-size: 1M");
  EXPECT_EQ(fails(kPasst, {"--log-size", "99999999999999999999999"}),
            "Invalid --log-size: 99999999999999999999999");
  EXPECT_EQ(ok(kPasst, {"-p", "/tmp/x.pcap"}).pcap_file, "/tmp/x.pcap");
  EXPECT_EQ(ok(kPasta, {"--pcap=/tmp/y.pcap"}).pcap_file, "/tmp/y.pcap");
  EXPECT_EQ(fails(kPasst, {"--pcap="}), "Invalid pcap path: ");
  EXPECT_EQ(ok(kPasst, {"-P", "/run/p.pid"}).pid_file, "/run/p.pid");
  EXPECT_EQ(ok(kPasta, {"--pid", "/run/q.pid"}).pid_file, "/run/q.pid");
  EXPECT_EQ(fails(kPasst, {"-P", ""}), "Invalid PID file: ");
  EXPECT_EQ(fails(kPasst, {"-P", std::string(4096, 'a')}),
            "Invalid PID file: " + std::string(4096, 'a'));
  EXPECT_EQ(ok(kPasst, {"-P", std::string(4095, 'a')}).pid_file.size(), 4095u);
}

TEST(CliOptions, DeprecatedWarn) {
  for (Mode m : {kPasst, kPasta}) {
    for (const char* e : {"-e", "--stderr"}) {
      ParseOutcome o = parse(m, {e});
      EXPECT_EQ(o.action, Action::run);
      ASSERT_EQ(o.warnings.size(), 1u);
      EXPECT_EQ(o.warnings[0], "--stderr will be dropped soon");
    }
  }
  ParseOutcome o = parse(kPasta, {"--config-net", "--no-copy-routes", "--no-copy-addrs"});
  ASSERT_EQ(o.warnings.size(), 2u);
  EXPECT_EQ(o.warnings[0], "--no-copy-routes will be dropped soon");
  EXPECT_EQ(o.warnings[1], "--no-copy-addrs will be dropped soon");
  EXPECT_TRUE(o.config->ip4.no_copy_routes && o.config->ip6.no_copy_routes);
  EXPECT_TRUE(o.config->ip4.no_copy_addrs && o.config->ip6.no_copy_addrs);
  EXPECT_EQ(fails(kPasta, {"--no-copy-routes"}), "--no-copy-routes needs --config-net");
  EXPECT_EQ(fails(kPasta, {"--no-copy-addrs"}), "--no-copy-addrs needs --config-net");
  // Warnings printed before a later error are kept.
  o = parse(kPasta, {"--stderr", "-m", "1"});
  EXPECT_EQ(o.warnings.size(), 1u);
  EXPECT_EQ(o.err, "Invalid MTU: 1\n");
  // --host-lo-to-ns-lo is accepted silently.
  o = parse(kPasta, {"--host-lo-to-ns-lo"});
  EXPECT_TRUE(o.warnings.empty());
  EXPECT_TRUE(o.config->host_lo_to_ns_lo);
}

TEST(CliOptions, Runas) {
  auto r = ok(kPasst, {"--runas", "1000"}).runas;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->spec, "1000");
  EXPECT_EQ(r->uid, 1000u);
  EXPECT_EQ(r->gid, 1000u);
  r = ok(kPasst, {"--runas=1000:100"}).runas;
  EXPECT_EQ(r->uid, 1000u);
  EXPECT_EQ(r->gid, 100u);
  r = ok(kPasta, {"--runas", "0x10:010"}).runas;  // strtol base 0
  EXPECT_EQ(r->uid, 16u);
  EXPECT_EQ(r->gid, 8u);
  r = ok(kPasst, {"--runas", "nobody"}).runas;
  EXPECT_FALSE(r->uid);
  EXPECT_FALSE(r->gid);
  EXPECT_EQ(r->user_name, "nobody");
  r = ok(kPasst, {"--runas", "nobody:nogroup"}).runas;
  EXPECT_EQ(r->user_name, "nobody");
  EXPECT_EQ(r->group_name, "nogroup");
  r = ok(kPasst, {"--runas", "1000:users"}).runas;
  EXPECT_EQ(r->uid, 1000u);
  EXPECT_FALSE(r->gid);
  EXPECT_EQ(r->group_name, "users");
  r = ok(kPasst, {"--runas", "alice:5"}).runas;
  EXPECT_EQ(r->user_name, "alice");
  EXPECT_EQ(r->gid, 5u);
  EXPECT_EQ(ok(kPasst, {"--runas", "1", "--runas", "2"}).runas->uid, 2u);  // last wins
}

TEST(CliOptions, SocketFdOneOff) {
  Config c = ok(kPasst, {"-s", "/tmp/a.sock"});
  EXPECT_EQ(c.socket_path, "/tmp/a.sock");
  EXPECT_EQ(ok(kPasst, {"--socket", "/tmp/b"}).socket_path, "/tmp/b");
  EXPECT_EQ(ok(kPasst, {"--socket-path=/tmp/c"}).socket_path, "/tmp/c");
  EXPECT_EQ(fails(kPasst, {"-s", ""}), "Invalid socket path: ");
  EXPECT_EQ(ok(kPasst, {"-s", std::string(107, 's')}).socket_path.size(), 107u);
  EXPECT_EQ(fails(kPasst, {"-s", std::string(108, 's')}),
            "Invalid socket path: " + std::string(108, 's'));
  c = ok(kPasst, {"-F", "3"});
  EXPECT_EQ(c.fd, 3);
  EXPECT_TRUE(c.one_off);
  EXPECT_EQ(ok(kPasst, {"--fd=0x10"}).fd, 16);
  EXPECT_EQ(ok(kPasst, {"--fd", "5junk"}).fd, 5);  // strtol without end check
  EXPECT_EQ(fails(kPasst, {"-F", "2"}), "Invalid --fd: 2");
  EXPECT_EQ(fails(kPasst, {"-F", "0"}), "Invalid --fd: 0");
  EXPECT_EQ(fails(kPasst, {"--fd", "abc"}), "Invalid --fd: abc");
  EXPECT_EQ(fails(kPasst, {"--fd", "2147483648"}), "Invalid --fd: 2147483648");
  EXPECT_EQ(ok(kPasta, {"-F", "7"}).fd, 7);  // pasta: a pre-opened tap fd
  // The later of -F and -s wins; --fd's implied --one-off stays.
  c = ok(kPasst, {"-F", "3", "-s", "/tmp/x"});
  EXPECT_EQ(c.fd, -1);
  EXPECT_EQ(c.socket_path, "/tmp/x");
  EXPECT_TRUE(c.one_off);
  c = ok(kPasst, {"-s", "/tmp/x", "-F", "3"});
  EXPECT_EQ(c.fd, 3);
  EXPECT_TRUE(c.socket_path.empty());
  EXPECT_TRUE(ok(kPasst, {"-1"}).one_off);
  EXPECT_TRUE(ok(kPasst, {"--one-off"}).one_off);
  EXPECT_EQ(fails(kPasta, {"--one-off"}), "--one-off is for passt mode only");
  EXPECT_TRUE(ok(kPasst, {"--vhost-user"}).vhost_user);
  EXPECT_EQ(fails(kPasta, {"--vhost-user"}), "--vhost-user is for passt mode only");
}

TEST(CliOptions, Mtu) {
  EXPECT_EQ(ok(kPasst, {"-m", "1500"}).mtu, 1500);
  EXPECT_EQ(ok(kPasst, {"--mtu=68"}).mtu, 68);
  EXPECT_EQ(ok(kPasta, {"--mtu", "65535"}).mtu, 65535);
  EXPECT_EQ(ok(kPasst, {"-m0x5dc"}).mtu, 1500);
  EXPECT_EQ(ok(kPasst, {"-m", "0"}).mtu, 0);  // disabled
  EXPECT_EQ(ok(kPasst, {"-m", "abc"}).mtu, 0);  // upstream: strtol() gives 0
  EXPECT_EQ(ok(kPasst, {"-m", "1500x"}).mtu, 1500);
  EXPECT_EQ(fails(kPasst, {"-m", "67"}), "Invalid MTU: 67");
  EXPECT_EQ(fails(kPasst, {"-m", "65536"}), "Invalid MTU: 65536");
  EXPECT_EQ(fails(kPasst, {"-m", "-1"}), "Invalid MTU: -1");
  EXPECT_EQ(fails(kPasta, {"--mtu", "99999999999999999999"}),
            "Invalid MTU: 99999999999999999999");
}

TEST(CliOptions, Address) {
  Config c = ok(kPasst, {"-a", "10.0.2.15", "--address", "2001:db8::5"});
  EXPECT_EQ(c.ip4.addr, v4("10.0.2.15"));
  EXPECT_EQ(c.ip6.addr, v6("2001:db8::5"));
  EXPECT_FALSE(c.ip4.no_copy_addrs);  // only pasta
  c = ok(kPasta, {"--address=10.0.2.100"});
  EXPECT_EQ(c.ip4.addr, v4("10.0.2.100"));
  EXPECT_TRUE(c.ip4.no_copy_addrs);
  EXPECT_FALSE(c.ip6.no_copy_addrs);
  c = ok(kPasta, {"-a", "fd00::2"});
  EXPECT_TRUE(c.ip6.no_copy_addrs);
  EXPECT_EQ(ok(kPasst, {"-a", "10.0.0.1", "-a", "10.0.0.2"}).ip4.addr, v4("10.0.0.2"));
  for (const char* bad : {"0.0.0.0", "127.0.0.1", "127.1.2.3", "224.0.0.1", "239.1.1.1",
                          "255.255.255.255", "::", "::1", "::ffff:10.0.0.1", "::10.0.0.1",
                          "ff02::1", "10.0.0", "010.0.0.1", "1.2.3.4/24", "eth0", ""}) {
    EXPECT_EQ(fails(kPasst, {"-a", bad}), std::string("Invalid address: ") + bad);
  }
}

TEST(CliOptions, Netmask) {
  EXPECT_EQ(ok(kPasst, {"-n", "24"}).ip4.prefix_len, 24);
  EXPECT_EQ(ok(kPasst, {"--netmask=255.255.255.0"}).ip4.prefix_len, 24);
  EXPECT_EQ(ok(kPasst, {"-n", "255.255.255.255"}).ip4.prefix_len, 32);
  EXPECT_EQ(ok(kPasst, {"-n", "0.0.0.0"}).ip4.prefix_len, 0);
  EXPECT_EQ(ok(kPasst, {"-n", "0x10"}).ip4.prefix_len, 16);
  EXPECT_EQ(ok(kPasst, {"-n", "32"}).ip4.prefix_len, 32);
  EXPECT_EQ(ok(kPasst, {"-n", "junk"}).ip4.prefix_len, 0);  // strtoul() -> 0: unset
  EXPECT_EQ(fails(kPasst, {"-n", "33"}), "Invalid netmask: 33");
  EXPECT_EQ(fails(kPasst, {"-n", "-1"}), "Invalid netmask: -1");
  EXPECT_EQ(fails(kPasst, {"-n", "255.0.255.0"}), "Invalid netmask: 255.0.255.0");
  EXPECT_EQ(fails(kPasst, {"-n", "0.255.255.255"}), "Invalid netmask: 0.255.255.255");
}

TEST(CliOptions, Mac) {
  EXPECT_EQ(ok(kPasst, {"-M", "02:00:00:00:00:01"}).our_mac,
            (MacAddr{{0x02, 0, 0, 0, 0, 0x01}}));
  EXPECT_EQ(ok(kPasta, {"--mac-addr=AA:bb:CC:dd:EE:ff"}).our_mac,
            (MacAddr{{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}}));
  for (const char* bad : {"02:00:00:00:00", "02:00:00:00:00:01:02", "02-00-00-00-00-01",
                          "0g:00:00:00:00:01", "2:00:00:00:00:001", "", "02:00:00:00:00:1"}) {
    EXPECT_EQ(fails(kPasst, {"-M", bad}), std::string("Invalid MAC address: ") + bad);
  }
  EXPECT_EQ(ok(kPasta, {"--ns-mac-addr", "02:11:22:33:44:55"}).ns_mac,
            (MacAddr{{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}}));
  EXPECT_EQ(fails(kPasta, {"--ns-mac-addr", "x"}), "Invalid MAC address: x");
  EXPECT_EQ(fails(kPasst, {"--ns-mac-addr", "02:11:22:33:44:55"}),
            "--ns-mac-addr is for pasta mode only");
}

TEST(CliOptions, Gateway) {
  Config c = ok(kPasst, {"-g", "10.0.2.2", "--gateway", "fe80::1"});
  EXPECT_EQ(c.ip4.gateway, v4("10.0.2.2"));
  EXPECT_EQ(c.ip6.gateway, v6("fe80::1"));
  EXPECT_FALSE(c.ip4.no_copy_routes || c.ip6.no_copy_routes);
  c = ok(kPasta, {"--gateway=10.0.2.2"});
  EXPECT_TRUE(c.ip4.no_copy_routes);
  EXPECT_FALSE(c.ip6.no_copy_routes);
  EXPECT_TRUE(ok(kPasta, {"-g", "2001:db8::1"}).ip6.no_copy_routes);
  EXPECT_EQ(ok(kPasst, {"-g", "224.0.0.1"}).ip4.gateway, v4("224.0.0.1"));  // not refused
  for (const char* bad : {"0.0.0.0", "127.0.0.1", "255.255.255.255", "::", "::1", "gw"})
    EXPECT_EQ(fails(kPasst, {"-g", bad}), std::string("Invalid gateway address: ") + bad);
}

TEST(CliOptions, InterfaceAndOutbound) {
  EXPECT_EQ(ok(kPasst, {"-i", "eth0"}).interface, "eth0");
  EXPECT_EQ(ok(kPasta, {"--interface=wlan0"}).interface, "wlan0");
  Config c = ok(kPasst, {"-o", "192.0.2.1", "--outbound", "2001:db8::1"});
  EXPECT_EQ(c.ip4.outbound, v4("192.0.2.1"));
  EXPECT_EQ(c.ip6.outbound, v6("2001:db8::1"));
  EXPECT_EQ(ok(kPasst, {"-o", "127.0.0.1"}).ip4.outbound, v4("127.0.0.1"));
  for (const char* bad : {"0.0.0.0", "255.255.255.255", "224.0.0.5", "::", "::1",
                          "::ffff:1.2.3.4", "::1.2.3.4", "ff05::2", "x"})
    EXPECT_EQ(fails(kPasst, {"-o", bad}),
              std::string("Invalid or redundant outbound address: ") + bad);
  c = ok(kPasst, {"--outbound-if4", "eth0", "--outbound-if6=eth1"});
  EXPECT_EQ(c.ip4.outbound_if, "eth0");
  EXPECT_EQ(c.ip6.outbound_if, "eth1");
  EXPECT_EQ(ok(kPasst, {"--outbound-if4", std::string(15, 'i')}).ip4.outbound_if.size(), 15u);
  EXPECT_EQ(fails(kPasst, {"--outbound-if4", std::string(16, 'i')}),
            "Invalid interface name: " + std::string(16, 'i'));
  EXPECT_EQ(fails(kPasst, {"--outbound-if6", ""}), "Invalid interface name: ");
}

TEST(CliOptions, Families) {
  Config c = ok(kPasst, {"-4"});
  EXPECT_TRUE(c.ipv4_only);
  EXPECT_FALSE(c.ipv6_only);
  c = ok(kPasst, {"--ipv4-only", "--ipv6-only"});
  EXPECT_FALSE(c.ipv4_only);
  EXPECT_TRUE(c.ipv6_only);
  c = ok(kPasta, {"-6", "-4"});
  EXPECT_TRUE(c.ipv4_only);
  EXPECT_FALSE(c.ipv6_only);
}

TEST(CliOptions, Dns) {
  Config c = ok(kPasst, {"-D", "1.1.1.1", "--dns", "2606:4700::1111", "--dns=8.8.8.8"});
  ASSERT_EQ(c.ip4.dns.size(), 2u);
  EXPECT_EQ(c.ip4.dns[0], v4("1.1.1.1"));
  EXPECT_EQ(c.ip4.dns[1], v4("8.8.8.8"));
  ASSERT_EQ(c.ip6.dns.size(), 1u);
  EXPECT_EQ(c.ip6.dns[0], v6("2606:4700::1111"));
  EXPECT_FALSE(c.no_dns);
  // MAXNS = 3 per family; more are silently dropped.
  c = ok(kPasst, {"-D", "1.0.0.1", "-D", "1.0.0.2", "-D", "1.0.0.3", "-D", "1.0.0.4"});
  ASSERT_EQ(c.ip4.dns.size(), 3u);
  EXPECT_EQ(c.ip4.dns[2], v4("1.0.0.3"));
  // Any address inet_pton() takes, even loopback.
  EXPECT_EQ(ok(kPasst, {"-D", "127.0.0.53"}).ip4.dns[0], v4("127.0.0.53"));
  EXPECT_EQ(fails(kPasst, {"-D", "dns.example"}), "Cannot use DNS address dns.example");
  EXPECT_EQ(fails(kPasst, {"-D", ""}), "Cannot use DNS address ");
  // -D none clears everything, --dns-forward and --dns-host too, whatever
  // their position: -D is handled in a later pass.
  c = ok(kPasst, {"-D", "1.1.1.1", "-D", "none", "--dns-forward", "10.0.2.3", "--dns-host",
                  "9.9.9.9"});
  EXPECT_TRUE(c.no_dns);
  EXPECT_TRUE(c.ip4.dns.empty());
  EXPECT_FALSE(c.ip4.dns_match);
  EXPECT_FALSE(c.ip4.dns_host);
  c = ok(kPasst, {"-D", "none", "-D", "1.1.1.1"});
  EXPECT_FALSE(c.no_dns);
  EXPECT_EQ(c.ip4.dns.size(), 1u);
}

TEST(CliOptions, DnsForwardAndHost) {
  Config c = ok(kPasta, {"--dns-forward", "169.254.1.1", "--dns-forward=fd00::53"});
  EXPECT_EQ(c.ip4.dns_match, v4("169.254.1.1"));
  EXPECT_EQ(c.ip6.dns_match, v6("fd00::53"));
  for (const char* bad : {"0.0.0.0", "255.255.255.255", "127.0.0.1", "::", "::1", "x"})
    EXPECT_EQ(fails(kPasta, {"--dns-forward", bad}),
              std::string("Invalid DNS forwarding address: ") + bad);
  c = ok(kPasst, {"--dns-host", "127.0.0.53", "--dns-host", "::1"});
  EXPECT_EQ(c.ip4.dns_host, v4("127.0.0.53"));
  EXPECT_EQ(c.ip6.dns_host, v6("::1"));
  for (const char* bad : {"0.0.0.0", "255.255.255.255", "::", "y"})
    EXPECT_EQ(fails(kPasst, {"--dns-host", bad}),
              std::string("Invalid host nameserver address: ") + bad);
}

TEST(CliOptions, Search) {
  Config c = ok(kPasst, {"-S", "a.example", "--search", "b.example", "--search=c"});
  ASSERT_EQ(c.dns_search.size(), 3u);
  EXPECT_EQ(c.dns_search[0], "a.example");
  EXPECT_EQ(c.dns_search[2], "c");
  EXPECT_FALSE(c.no_dns_search);
  EXPECT_EQ(ok(kPasst, {"-S", "1", "-S", "2", "-S", "3", "-S", "4", "-S", "5", "-S", "6"})
                .dns_search.size(),
            6u);
  EXPECT_EQ(fails(kPasst, {"-S", "1", "-S", "2", "-S", "3", "-S", "4", "-S", "5", "-S", "6",
                           "-S", "7"}),
            "Cannot use DNS search domain 7");
  EXPECT_EQ(fails(kPasst, {"-S", ""}), "Cannot use DNS search domain ");
  EXPECT_EQ(ok(kPasst, {"-S", std::string(1024, 'd')}).dns_search[0].size(), 1024u);
  EXPECT_EQ(fails(kPasst, {"-S", std::string(1025, 'd')}),
            "Cannot use DNS search domain " + std::string(1025, 'd'));
  c = ok(kPasst, {"-S", "a", "-S", "none"});
  EXPECT_TRUE(c.no_dns_search);
  EXPECT_TRUE(c.dns_search.empty());
  // Upstream keeps its cursor across "none": the next domain lands in the
  // second slot, behind an empty first one, so the list stays empty...
  c = ok(kPasst, {"-S", "a", "-S", "none", "-S", "b"});
  EXPECT_FALSE(c.no_dns_search);
  EXPECT_TRUE(c.dns_search.empty());
  // ... and six domains in total is the limit, "none" or not.
  EXPECT_EQ(fails(kPasst, {"-S", "1", "-S", "2", "-S", "3", "-S", "4", "-S", "5", "-S", "6",
                           "-S", "none", "-S", "7"}),
            "Cannot use DNS search domain 7");
  c = ok(kPasst, {"-S", "none", "-S", "x"});  // "none" first: nothing lost
  ASSERT_EQ(c.dns_search.size(), 1u);
  EXPECT_EQ(c.dns_search[0], "x");
}

TEST(CliOptions, DhcpDnsSwitches) {
  Config c = ok(kPasst, {"--no-dhcp-dns", "--no-dhcp-search"});
  EXPECT_TRUE(c.no_dhcp_dns && c.no_dhcp_search);
  c = ok(kPasta, {"--dhcp-dns", "--dhcp-search"});
  EXPECT_FALSE(c.no_dhcp_dns || c.no_dhcp_search);
  EXPECT_EQ(fails(kPasta, {"--no-dhcp-dns"}), "--no-dhcp-dns is for passt mode only");
  EXPECT_EQ(fails(kPasta, {"--no-dhcp-search"}), "--no-dhcp-search is for passt mode only");
  EXPECT_EQ(fails(kPasst, {"--dhcp-dns"}), "--dhcp-dns is for pasta mode only");
  EXPECT_EQ(fails(kPasst, {"--dhcp-search"}), "--dhcp-search is for pasta mode only");
}

TEST(CliOptions, HostnameFqdn) {
  Config c = ok(kPasst, {"-H", "vm1", "--fqdn", "vm1.example.com"});
  EXPECT_EQ(c.hostname, "vm1");
  EXPECT_EQ(c.fqdn, "vm1.example.com");
  EXPECT_EQ(ok(kPasta, {"--hostname=ns"}).hostname, "ns");
  EXPECT_EQ(ok(kPasst, {"-H", std::string(253, 'h')}).hostname.size(), 253u);
  EXPECT_EQ(fails(kPasst, {"-H", std::string(254, 'h')}),
            "Invalid hostname: " + std::string(254, 'h'));
  EXPECT_EQ(fails(kPasst, {"--fqdn", std::string(254, 'f')}),
            "Invalid FQDN: " + std::string(254, 'f'));
}

TEST(CliOptions, Nat) {
  Config c = ok(kPasta, {"--map-host-loopback", "10.0.2.2", "--map-host-loopback=fd00::2"});
  EXPECT_EQ(c.ip4.map_host_loopback, v4("10.0.2.2"));
  EXPECT_EQ(c.ip6.map_host_loopback, v6("fd00::2"));
  EXPECT_FALSE(c.no_map_gw);
  c = ok(kPasta, {"--map-host-loopback", "10.0.2.2", "--map-host-loopback", "none"});
  EXPECT_FALSE(c.ip4.map_host_loopback);
  EXPECT_TRUE(c.no_map_gw);  // "none" implies --no-map-gw
  c = ok(kPasta, {"--map-guest-addr", "169.254.1.2"});
  EXPECT_EQ(c.ip4.map_guest_addr, v4("169.254.1.2"));
  c = ok(kPasta, {"--map-guest-addr", "169.254.1.2", "--map-guest-addr", "none"});
  EXPECT_FALSE(c.ip4.map_guest_addr);
  EXPECT_FALSE(c.no_map_gw);
  for (const char* bad : {"0.0.0.0", "127.0.0.1", "224.0.0.1", "::", "::1", "ff02::1", "x"}) {
    EXPECT_EQ(fails(kPasst, {"--map-host-loopback", bad}),
              std::string("Invalid address to remap to host: ") + bad);
    EXPECT_EQ(fails(kPasst, {"--map-guest-addr", bad}),
              std::string("Invalid address to remap to host: ") + bad);
  }
  EXPECT_TRUE(ok(kPasst, {"--no-map-gw"}).no_map_gw);
  EXPECT_TRUE(ok(kPasst, {"--freebind"}).freebind);
  EXPECT_TRUE(ok(kPasta, {"--host-lo-to-ns-lo"}).host_lo_to_ns_lo);
  EXPECT_EQ(fails(kPasst, {"--host-lo-to-ns-lo"}), "--host-lo-to-ns-lo is for pasta mode only");
}

TEST(CliOptions, ProtocolSwitches) {
  Config c = ok(kPasta, {"--no-tcp", "--no-udp", "--no-icmp", "--no-dhcp", "--no-ndp",
                         "--no-dhcpv6", "--no-ra", "--no-splice"});
  EXPECT_TRUE(c.no_tcp && c.no_udp && c.no_icmp && c.no_dhcp && c.no_ndp && c.no_dhcpv6 &&
              c.no_ra && c.no_splice);
  EXPECT_TRUE(ok(kPasta, {"--config-net"}).no_ra);  // implied
  EXPECT_TRUE(ok(kPasst, {"--no-splice"}).no_splice);
  // Unique prefixes work for long options.
  EXPECT_TRUE(ok(kPasst, {"--no-i"}).no_icmp);
  EXPECT_TRUE(ok(kPasst, {"--no-dhcpv"}).no_dhcpv6);
}

TEST(CliOptions, PastaOnlyInPasst) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--userns", "/proc/1/ns/user"}, "--userns is for pasta mode only"},
      {{"--netns", "x"}, "--netns is for pasta mode only"},
      {{"--netns-only"}, "--netns-only is for pasta mode only"},
      {{"--ns-mac-addr", "02:00:00:00:00:01"}, "--ns-mac-addr is for pasta mode only"},
      {{"--dhcp-dns"}, "--dhcp-dns is for pasta mode only"},
      {{"--dhcp-search"}, "--dhcp-search is for pasta mode only"},
      {{"--no-netns-quit"}, "--no-netns-quit is for pasta mode only"},
      {{"--config-net"}, "--config-net is for pasta mode only"},
      {{"--no-copy-routes"}, "--no-copy-routes is for pasta mode only"},
      {{"--no-copy-addrs"}, "--no-copy-addrs is for pasta mode only"},
      {{"--host-lo-to-ns-lo"}, "--host-lo-to-ns-lo is for pasta mode only"},
  };
  for (const auto& [args, msg] : cases) EXPECT_EQ(fails(kPasst, args), msg);
}

TEST(CliOptions, PastaNamespaceOptions) {
  Config c = ok(kPasta, {"-I", "tap7"});
  EXPECT_EQ(c.ns_ifname, "tap7");
  EXPECT_EQ(ok(kPasta, {"--ns-ifname=eth0"}).ns_ifname, "eth0");
  EXPECT_EQ(fails(kPasta, {"-I", ""}), "Invalid interface name: ");
  EXPECT_EQ(fails(kPasta, {"-I", "0123456789abcdef"}), "Invalid interface name: 0123456789abcdef");
  EXPECT_TRUE(ok(kPasta, {"--no-netns-quit"}).no_netns_quit);
  EXPECT_TRUE(ok(kPasta, {"--config-net"}).config_net);
  EXPECT_EQ(fails(kPasta, {"--userns", ""}), "Invalid userns: ");
  EXPECT_EQ(fails(kPasta, {"--userns", std::string(4096, 'u')}),
            "Invalid userns: " + std::string(4096, 'u'));
}

// Like the snapshot, the long forms of the other mode's options are taken
// (and ignored at run time); their short forms are not in that optstring.
TEST(CliOptions, OtherModeLongForms) {
  EXPECT_EQ(ok(kPasta, {"--socket", "/tmp/s"}).socket_path, "/tmp/s");
  EXPECT_EQ(ok(kPasst, {"--ns-ifname", "tap1"}).ns_ifname, "tap1");
  Config c = ok(kPasst, {"--tcp-ns", "22", "--udp-ns", "none"});
  EXPECT_TRUE(c.fwd_out.tcp.forwarded.test(22));
  EXPECT_EQ(c.fwd_out.udp.mode, FwdMode::none);
  EXPECT_EQ(fails(kPasst, {"--tcp-ns", "auto"}), "'auto' port forwarding is only allowed for pasta");
  EXPECT_EQ(fails(kPasst, {"--udp-ns", "all"}), "Failed to bind any port for '-U all', exiting");
  EXPECT_EQ(parse(kPasta, {"--print-capabilities"}).exit_code, 0);
}

// ---------------------------------------------------------------------------
// pasta: PID, COMMAND or --netns

TEST(CliPastaTarget, Spawn) {
  Config c = ok(kPasta, {"--config-net", "ip", "link"});
  EXPECT_EQ(c.ns.target, NsTarget::spawn);
  EXPECT_EQ(c.ns.command, (std::vector<std::string>{"ip", "link"}));
  EXPECT_FALSE(c.ns.netns_only);
  // The first non-option ends the options ('+' in the optstring).
  c = ok(kPasta, {"sh", "-c", "--config-net"});
  EXPECT_EQ(c.ns.command, (std::vector<std::string>{"sh", "-c", "--config-net"}));
  EXPECT_FALSE(c.config_net);
  c = ok(kPasta, {"--", "-x", "y"});
  EXPECT_EQ(c.ns.command, (std::vector<std::string>{"-x", "y"}));
  c = ok(kPasta, {"top"});  // one non-numeric argument: a command
  EXPECT_EQ(c.ns.target, NsTarget::spawn);
  EXPECT_EQ(c.ns.command, (std::vector<std::string>{"top"}));
  c = ok(kPasta, {"1", "2"});  // two arguments: a command, even if numeric
  EXPECT_EQ(c.ns.target, NsTarget::spawn);
  EXPECT_EQ(c.ns.command.size(), 2u);
}

TEST(CliPastaTarget, Pid) {
  Config c = ok(kPasta, {"1234"});
  EXPECT_EQ(c.ns.target, NsTarget::pid);
  EXPECT_EQ(c.ns.pid, 1234);
  EXPECT_EQ(c.ns.netns_path, "/proc/1234/ns/net");
  EXPECT_EQ(c.ns.userns_path, "/proc/1234/ns/user");
  EXPECT_FALSE(c.ns.netns_only);
  EXPECT_TRUE(c.ns.command.empty());
  c = ok(kPasta, {"--userns", "/run/u", "77"});
  EXPECT_EQ(c.ns.userns_path, "/run/u");
  EXPECT_FALSE(c.ns.netns_only);
  c = ok(kPasta, {"--netns-only", "77"});
  EXPECT_TRUE(c.ns.netns_only);
  c = ok(kPasta, {"--netns-only", "--userns", "/run/u", "77"});
  EXPECT_FALSE(c.ns.netns_only);
  EXPECT_EQ(c.ns.userns_path, "/run/u");
  c = ok(kPasta, {"--userns", "/run/u", "--netns-only", "77"});
  EXPECT_TRUE(c.ns.netns_only);
  EXPECT_EQ(c.ns.userns_path, "/proc/77/ns/user");
  EXPECT_EQ(fails(kPasta, {"--", "-5"}), "Invalid PID -5");
  EXPECT_EQ(fails(kPasta, {"2147483648"}), "Invalid PID 2147483648");
  EXPECT_EQ(ok(kPasta, {"2147483647"}).ns.pid, 2147483647);
  EXPECT_EQ(ok(kPasta, {""}).ns.netns_path, "/proc/0/ns/net");  // upstream quirk
}

TEST(CliPastaTarget, Netns) {
  Config c = ok(kPasta, {"--netns", "ctr1"});
  EXPECT_EQ(c.ns.target, NsTarget::netns);
  EXPECT_EQ(c.ns.netns_path, "/run/netns/ctr1");
  EXPECT_TRUE(c.ns.netns_only);  // no --userns
  c = ok(kPasta, {"--netns=/run/user/1000/netns/netns-abc", "--userns", "/proc/9/ns/user"});
  EXPECT_EQ(c.ns.netns_path, "/run/user/1000/netns/netns-abc");
  EXPECT_EQ(c.ns.userns_path, "/proc/9/ns/user");
  EXPECT_FALSE(c.ns.netns_only);
  EXPECT_EQ(ok(kPasta, {"--netns", "./rel"}).ns.netns_path, "./rel");
  EXPECT_EQ(fails(kPasta, {"--netns", "x", "123"}), "Both --netns and PID or command given");
  EXPECT_EQ(fails(kPasta, {"--netns", "x", "sh", "-c", "true"}),
            "Both --netns and PID or command given");
  // (Built without operator+: GCC 12 -O2 warns falsely on "/" + string.)
  std::string too_long(4097, 'n');
  too_long[0] = '/';
  EXPECT_EQ(fails(kPasta, {"--netns", too_long}),
            std::string("Network namespace name/path ").append(too_long).append(" too long"));
  // Exactly PATH_MAX characters: upstream truncates silently.
  std::string path_max(4096, 'n');
  path_max[0] = '/';
  EXPECT_EQ(ok(kPasta, {"--netns", path_max}).ns.netns_path.size(), 4095u);
}

TEST(CliPasstTarget, ExtraArgument) {
  EXPECT_EQ(fails(kPasst, {"-f", "extra"}), "Extra non-option argument: extra");
  EXPECT_EQ(fails(kPasst, {"--", "-d"}), "Extra non-option argument: -d");
  EXPECT_TRUE(ok(kPasst, {"--"}).mode == kPasst);
}

// ---------------------------------------------------------------------------
// Port forwarding grammar

const core::PortFwd& tcp_in(const Config& c) { return c.fwd_in.tcp; }

TEST(CliPorts, SinglePortsAndRanges) {
  Config c = ok(kPasst, {"-t", "22"});
  const auto& f = tcp_in(c);
  EXPECT_EQ(f.mode, FwdMode::spec);
  EXPECT_EQ(f.forwarded.count(), 1u);
  EXPECT_TRUE(f.forwarded.test(22));
  EXPECT_EQ(f.delta(22), 0);
  EXPECT_FALSE(f.has_translation());
  ASSERT_EQ(f.rules.size(), 1u);
  EXPECT_EQ(f.rules[0].option, 't');
  EXPECT_EQ(f.rules[0].spec, "22");
  EXPECT_FALSE(f.rules[0].addr);
  EXPECT_TRUE(f.rules[0].ifname.empty());
  EXPECT_FALSE(f.rules[0].weak);
  EXPECT_EQ(f.rules[0].ports, (std::vector<PortRun>{{22, 22}}));

  c = ok(kPasst, {"--tcp-ports=22,25,80-82"});
  EXPECT_EQ(tcp_in(c).forwarded.count(), 5u);
  EXPECT_EQ(tcp_in(c).rules[0].ports, (std::vector<PortRun>{{22, 22}, {25, 25}, {80, 82}}));
  c = ok(kPasst, {"-u", "53", "--udp-ports", "5353"});
  EXPECT_EQ(c.fwd_in.udp.forwarded.count(), 2u);
  EXPECT_EQ(c.fwd_in.udp.rules.size(), 2u);
  EXPECT_EQ(c.fwd_in.udp.rules[1].option, 'u');
  EXPECT_EQ(c.fwd_in.tcp.mode, FwdMode::none);
  // strtoul() details upstream accepts: leading '+' and blanks.
  EXPECT_TRUE(tcp_in(ok(kPasst, {"-t", "+22"})).forwarded.test(22));
  EXPECT_TRUE(tcp_in(ok(kPasst, {"-t", " 22- 23"})).forwarded.test(23));
  // Port 0 is accepted by the parser (binding it is a run-time matter).
  EXPECT_TRUE(tcp_in(ok(kPasst, {"-t", "0"})).forwarded.test(0));
  EXPECT_TRUE(tcp_in(ok(kPasst, {"-t", "65535"})).forwarded.test(65535));
}

TEST(CliPorts, Translation) {
  Config c = ok(kPasst, {"-t", "22-80:32-90"});
  const auto& f = tcp_in(c);
  EXPECT_EQ(f.forwarded.count(), 59u);
  EXPECT_EQ(f.delta(22), 10);
  EXPECT_EQ(f.target(80), 90);
  EXPECT_EQ(f.target(21), 21);
  c = ok(kPasst, {"-t", "8080:80"});
  EXPECT_EQ(tcp_in(c).target(8080), 80);
  EXPECT_EQ(tcp_in(c).delta(8080), static_cast<u16>(80 - 8080));
  EXPECT_EQ(tcp_in(ok(kPasst, {"-t", "65535:0"})).target(65535), 0);
  // Re-mapping a mapped port warns once and the last mapping wins.
  ParseOutcome o = parse(kPasst, {"-t", "80:8080", "-t", "80-81"});
  ASSERT_EQ(o.warnings.size(), 1u);
  EXPECT_EQ(o.warnings[0], "Altering mapping of already mapped port number: 80-81");
  EXPECT_EQ(tcp_in(*o.config).delta(80), 0);
  EXPECT_EQ(tcp_in(*o.config).rules.size(), 2u);
}

TEST(CliPorts, Exclusions) {
  Config c = ok(kPasst, {"-t", "5-25,~10-20"});
  const auto& f = tcp_in(c);
  EXPECT_EQ(f.forwarded.count(), 10u);
  EXPECT_TRUE(f.forwarded.test(9) && f.forwarded.test(21));
  EXPECT_FALSE(f.forwarded.test(10) || f.forwarded.test(20));
  EXPECT_EQ(f.rules[0].ports, (std::vector<PortRun>{{5, 9}, {21, 25}}));
  EXPECT_FALSE(f.rules[0].weak);
  // Exclusions may come first.
  EXPECT_EQ(tcp_in(ok(kPasst, {"-t", "~10-20,5-25"})).forwarded.count(), 10u);
  // Only exclusions: every non-ephemeral port (1..49151 by default) but those.
  c = ok(kPasst, {"-t", "~25"});
  EXPECT_EQ(tcp_in(c).forwarded.count(), 49150u);
  EXPECT_FALSE(tcp_in(c).forwarded.test(0));
  EXPECT_FALSE(tcp_in(c).forwarded.test(25));
  EXPECT_FALSE(tcp_in(c).forwarded.test(49152));
  EXPECT_TRUE(tcp_in(c).rules[0].weak);
  EXPECT_EQ(tcp_in(c).rules[0].ports, (std::vector<PortRun>{{1, 24}, {26, 49151}}));
  // The ephemeral range comes from the environment.
  CliEnv env;
  env.ephemeral_first = 32768;
  env.ephemeral_last = 60999;
  c = ok(kPasst, {"-t", "~25,~80"}, env);
  EXPECT_EQ(tcp_in(c).forwarded.count(), 32767u - 2u + (65535u - 60999u));
  EXPECT_EQ(fails(kPasst, {"-t", "~10-20,~15"}), "Overlapping excluded ranges ~10-20,~15");
  // A list whose ports are all excluded forwards nothing, and is no error.
  c = ok(kPasst, {"-t", "5-9,~5-9"});
  EXPECT_EQ(tcp_in(c).mode, FwdMode::spec);
  EXPECT_FALSE(tcp_in(c).forwarded.any());
  EXPECT_TRUE(tcp_in(c).rules.empty());
  EXPECT_EQ(fails(kPasst, {"-t", "~1-65535"}), "Failed to bind any port for '-t ~1-65535', exiting");
}

TEST(CliPorts, BindAddressAndInterface) {
  Config c = ok(kPasst, {"-t", "127.0.0.1/8080-8080:80-80"});
  const auto& r = tcp_in(c).rules[0];
  ASSERT_TRUE(r.addr);
  EXPECT_EQ(*r.addr, InAny::from(v4("127.0.0.1")));
  EXPECT_EQ(tcp_in(c).target(8080), 80);
  EXPECT_EQ(*tcp_in(ok(kPasst, {"-t", "[::1]/22"})).rules[0].addr, InAny::from(v6("::1")));
  EXPECT_EQ(*tcp_in(ok(kPasst, {"-t", "::1/22"})).rules[0].addr, InAny::from(v6("::1")));
  EXPECT_EQ(*tcp_in(ok(kPasst, {"-t", "[192.0.2.1]/5"})).rules[0].addr,
            InAny::from(v4("192.0.2.1")));
  c = ok(kPasst, {"-u", "fe80::1%eth0/53"});
  EXPECT_EQ(*c.fwd_in.udp.rules[0].addr, InAny::from(v6("fe80::1")));
  EXPECT_EQ(c.fwd_in.udp.rules[0].ifname, "eth0");
  c = ok(kPasta, {"-t", "%eth0/22"});
  EXPECT_FALSE(tcp_in(c).rules[0].addr);
  EXPECT_EQ(tcp_in(c).rules[0].ifname, "eth0");
  EXPECT_EQ(tcp_in(ok(kPasta, {"-t", "%123456789abcdef/22"})).rules[0].ifname.size(), 15u);
  EXPECT_EQ(fails(kPasta, {"-t", "%123456789abcdefg/22"}),
            "Invalid port specifier %123456789abcdefg/22");
  EXPECT_EQ(tcp_in(ok(kPasst, {"-t", "10.0.0.1/~25"})).rules[0].weak, true);
  // -T / -U take no address or interface.
  EXPECT_EQ(fails(kPasta, {"-T", "127.0.0.1/22"}), "Invalid port specifier 127.0.0.1/22");
  EXPECT_EQ(fails(kPasta, {"-U", "%lo/53"}), "Invalid port specifier %lo/53");
  for (const char* bad : {"/22", "1.2.3/22", "[1.2.3.4/22", "eth0/22", "[]/22"})
    EXPECT_EQ(fails(kPasst, {"-t", bad}), std::string("Invalid port specifier ") + bad);
}

TEST(CliPorts, GrammarErrors) {
  for (const char* bad : {"", "80-22", "65536", "70000-70001", "22:", "22,", ",22", "22-",
                          "-22", "22:23-24", "22-23:24", "22:23:24", "abc", "22a", "22 ",
                          "~", "~22a", "~22:23", "22,,23", "22/", "1-2-3", "22:+-1"}) {
    EXPECT_EQ(fails(kPasst, {"-t", bad}), std::string("Invalid port specifier ") + bad) << bad;
  }
  EXPECT_EQ(fails(kPasst, {"-t", "auto"}), "'auto' port forwarding is only allowed for pasta");
  EXPECT_EQ(fails(kPasta, {"-u", "all"}), "'all' port forwarding is only allowed for passt");
  EXPECT_EQ(fails(kPasst, {"-t", "22", "--no-tcp"}),
            "TCP port forwarding requested but TCP is disabled");
  EXPECT_EQ(fails(kPasta, {"--no-udp", "-U", "53"}),
            "UDP port forwarding requested but UDP is disabled");
  EXPECT_EQ(fails(kPasta, {"--no-tcp", "-t", "auto"}),
            "TCP port forwarding requested but TCP is disabled");
  EXPECT_EQ(ok(kPasst, {"--no-tcp", "-t", "none"}).fwd_in.tcp.mode, FwdMode::none);
  EXPECT_EQ(ok(kPasta, {"--no-tcp"}).fwd_in.tcp.mode, FwdMode::automatic);  // defaults are fine
}

TEST(CliPorts, Modes) {
  Config c = ok(kPasst, {"-t", "all"});
  EXPECT_EQ(tcp_in(c).mode, FwdMode::all);
  EXPECT_EQ(tcp_in(c).forwarded.count(), 49151u);
  EXPECT_TRUE(tcp_in(c).rules[0].weak);
  EXPECT_EQ(tcp_in(c).rules[0].ports, (std::vector<PortRun>{{1, 49151}}));
  c = ok(kPasta, {"-t", "none", "-u", "auto", "-T", "none", "-U", "auto"});
  EXPECT_EQ(c.fwd_in.tcp.mode, FwdMode::none);
  EXPECT_EQ(c.fwd_in.udp.mode, FwdMode::automatic);
  EXPECT_EQ(c.fwd_out.tcp.mode, FwdMode::none);
  EXPECT_EQ(c.fwd_out.udp.mode, FwdMode::automatic);
  EXPECT_EQ(ok(kPasta, {"-T", "8080"}).fwd_out.tcp.forwarded.count(), 1u);
  EXPECT_EQ(ok(kPasta, {"--tcp-ns", "1-3", "--udp-ns=4"}).fwd_out.udp.rules[0].option, 'U');
  EXPECT_EQ(fails(kPasst, {"-t", "22", "-t", "none"}),
            "Port forwarding mode 'none' conflicts with previous mode");
  EXPECT_EQ(fails(kPasst, {"-t", "none", "-t", "none"}),
            "Port forwarding mode 'none' conflicts with previous mode");
  EXPECT_EQ(fails(kPasta, {"-t", "auto", "-t", "auto"}),
            "Port forwarding mode 'auto' conflicts with previous mode");
  EXPECT_EQ(fails(kPasst, {"-u", "22", "-u", "all"}),
            "Port forwarding mode 'all' conflicts with previous mode");
  EXPECT_EQ(fails(kPasst, {"-t", "none", "-t", "22"}),
            "Specific ports cannot be specified together with all/none/auto");
  EXPECT_EQ(fails(kPasta, {"-t", "auto", "-t", "22"}),
            "Specific ports cannot be specified together with all/none/auto");
  // Each protocol and direction has its own mode.
  c = ok(kPasta, {"-t", "none", "-u", "22", "-T", "auto", "-U", "none"});
  EXPECT_EQ(c.fwd_in.udp.mode, FwdMode::spec);
}

// Upstream's passes decide which error wins, not argv order.
TEST(CliPorts, PassOrder) {
  EXPECT_EQ(fails(kPasst, {"-t", "bad", "-m", "5"}), "Invalid MTU: 5");
  EXPECT_EQ(fails(kPasst, {"-D", "bad", "-m", "5"}), "Invalid MTU: 5");
  EXPECT_EQ(fails(kPasst, {"-t", "bad", "-D", "bad"}), "Invalid port specifier bad");
  EXPECT_EQ(fails(kPasst, {"-D", "bad", "-t", "bad"}), "Cannot use DNS address bad");
  EXPECT_EQ(fails(kPasta, {"-T", "bad", "-t", "bad"}), "Invalid port specifier bad");
  EXPECT_EQ(fails(kPasta, {"-T", "bad", "--netns", "x", "1"}),
            "Both --netns and PID or command given");
  EXPECT_EQ(fails(kPasta, {"-T", "bad", "-u", "22"}), "Invalid port specifier bad");
  EXPECT_EQ(fails(kPasta, {"-t", "bad", "--", "-1"}), "Invalid port specifier bad");
  EXPECT_EQ(fails(kPasst, {"-t", "bad", "extra"}), "Invalid port specifier bad");
  EXPECT_EQ(fails(kPasta, {"--no-copy-routes", "-t", "bad"}),
            "--no-copy-routes needs --config-net");
}

// ---------------------------------------------------------------------------
// --opt=value and --opt value and -o value are the same option

TEST(CliForms, EqualsSpaceAndShort) {
  struct Case {
    Mode mode;
    const char* long_name;
    char short_name;  // 0: long only
    const char* value;
  };
  const std::vector<Case> cases = {
      {kPasst, "log-file", 'l', "/tmp/l"},  {kPasst, "socket", 's', "/tmp/s"},
      {kPasst, "fd", 'F', "3"},             {kPasta, "ns-ifname", 'I', "tap0"},
      {kPasst, "pcap", 'p', "/tmp/p"},      {kPasst, "pid", 'P', "/tmp/pid"},
      {kPasst, "mtu", 'm', "1500"},         {kPasst, "address", 'a', "10.0.0.2"},
      {kPasst, "netmask", 'n', "24"},       {kPasst, "mac-addr", 'M', "02:00:00:00:00:02"},
      {kPasst, "gateway", 'g', "10.0.0.1"}, {kPasst, "interface", 'i', "eth0"},
      {kPasst, "outbound", 'o', "10.0.0.9"}, {kPasst, "dns", 'D', "1.1.1.1"},
      {kPasst, "search", 'S', "example.com"}, {kPasst, "hostname", 'H', "h"},
      {kPasst, "tcp-ports", 't', "22"},     {kPasst, "udp-ports", 'u', "53"},
      {kPasta, "tcp-ns", 'T', "22"},        {kPasta, "udp-ns", 'U', "53"},
      {kPasta, "userns", 0, "/u"},          {kPasta, "netns", 0, "n"},
      {kPasta, "ns-mac-addr", 0, "02:00:00:00:00:03"},
      {kPasst, "dns-forward", 0, "10.0.2.3"}, {kPasst, "runas", 0, "1000:1000"},
      {kPasst, "log-size", 0, "65536"},     {kPasst, "outbound-if4", 0, "eth0"},
      {kPasst, "outbound-if6", 0, "eth1"},  {kPasst, "map-host-loopback", 0, "10.0.2.2"},
      {kPasst, "map-guest-addr", 0, "10.0.2.4"}, {kPasst, "dns-host", 0, "9.9.9.9"},
      {kPasst, "socket-path", 's', "/tmp/sp"}, {kPasst, "fqdn", 0, "a.b"},
  };
  for (const auto& k : cases) {
    const std::string name = std::string("--") + k.long_name;
    const Config eq = ok(k.mode, {name + "=" + k.value});
    EXPECT_EQ(eq, ok(k.mode, {name, k.value})) << name;
    EXPECT_NE(eq, ok(k.mode, {})) << name;
    if (k.short_name != 0) {
      const std::string s = std::string("-") + k.short_name;
      EXPECT_EQ(eq, ok(k.mode, {s, k.value})) << s;
      EXPECT_EQ(eq, ok(k.mode, {s + k.value})) << s;
    }
  }
}

// ---------------------------------------------------------------------------
// Real clients (docs/clients.md)

TEST(CliClients, PodmanBaseline) {
  ParseOutcome o = parse(kPasta, {"--config-net", "--dns-forward", "169.254.1.1", "-t", "none",
                                  "-u", "none", "-T", "none", "-U", "none", "--no-map-gw",
                                  "--quiet", "--netns", "/run/user/1000/netns/netns-3f2a",
                                  "--map-guest-addr", "169.254.1.2"});
  ASSERT_EQ(o.action, Action::run);
  EXPECT_TRUE(o.warnings.empty());  // --quiet must be quiet
  const Config& c = *o.config;
  EXPECT_TRUE(c.config_net);
  EXPECT_TRUE(c.no_ra);
  EXPECT_EQ(c.ip4.dns_match, v4("169.254.1.1"));
  EXPECT_EQ(c.ip4.map_guest_addr, v4("169.254.1.2"));
  EXPECT_TRUE(c.no_map_gw);
  EXPECT_TRUE(c.quiet);
  for (auto* f : {&c.fwd_in.tcp, &c.fwd_in.udp, &c.fwd_out.tcp, &c.fwd_out.udp})
    EXPECT_EQ(f->mode, FwdMode::none);
  EXPECT_EQ(c.ns.target, NsTarget::netns);
  EXPECT_EQ(c.ns.netns_path, "/run/user/1000/netns/netns-3f2a");
  EXPECT_TRUE(c.ns.netns_only);
  EXPECT_EQ(c.mtu, 65520);
  EXPECT_FALSE(c.ip4.addr);  // copied from the host later
}

TEST(CliClients, PodmanPublishedPortsAndUserOptions) {
  Config c = ok(kPasta, {"--config-net", "-t", "80-80:80-80", "-t", "127.0.0.1/8080-8080:80-80",
                         "-u", "5353-5354:53-54", "-T", "none", "-U", "none", "-I", "eth9",
                         "--ns-mac-addr", "02:42:ac:11:00:02", "--ipv4-only", "--mtu", "1280",
                         "-a", "10.88.0.5", "-g", "10.88.0.1", "-n", "16", "-d", "-l",
                         "/tmp/pasta.log", "--pcap", "/tmp/pasta.pcap", "--netns",
                         "/run/user/1000/netns/netns-1"});
  EXPECT_EQ(c.fwd_in.tcp.mode, FwdMode::spec);
  EXPECT_EQ(c.fwd_in.tcp.rules.size(), 2u);
  EXPECT_FALSE(c.fwd_in.tcp.rules[0].addr);
  EXPECT_EQ(*c.fwd_in.tcp.rules[1].addr, InAny::from(v4("127.0.0.1")));
  EXPECT_EQ(c.fwd_in.tcp.target(80), 80);
  EXPECT_EQ(c.fwd_in.tcp.target(8080), 80);
  EXPECT_EQ(c.fwd_in.udp.target(5353), 53);
  EXPECT_EQ(c.fwd_in.udp.target(5354), 54);
  EXPECT_EQ(c.ns_ifname, "eth9");
  EXPECT_EQ(c.ns_mac, (MacAddr{{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}}));
  EXPECT_TRUE(c.ipv4_only);
  EXPECT_EQ(c.mtu, 1280);
  EXPECT_EQ(c.ip4.addr, v4("10.88.0.5"));
  EXPECT_EQ(c.ip4.gateway, v4("10.88.0.1"));
  EXPECT_EQ(c.ip4.prefix_len, 16);
  EXPECT_TRUE(c.ip4.no_copy_addrs && c.ip4.no_copy_routes);
  EXPECT_TRUE(c.debug);
  EXPECT_EQ(c.log_file, "/tmp/pasta.log");
  EXPECT_EQ(c.pcap_file, "/tmp/pasta.pcap");
}

TEST(CliClients, PodmanRetryText) {
  // An older pasta without --map-guest-addr: Podman needs glibc's text.
  EXPECT_EQ(getopt_fails(kPasta, {"--config-net", "--map-guest-addx", "169.254.1.2"}),
            "pasta: unrecognized option '--map-guest-addx'");
}

TEST(CliClients, RootlesskitPid) {
  ParseOutcome o = parse(
      kPasta, {"--stderr", "--ns-ifname=tap0", "--mtu=65520", "--config-net",
               "--address=10.0.2.100", "--netmask=24", "--gateway=10.0.2.2",
               "--dns-forward=10.0.2.3", "--no-map-gw", "--ipv4-only", "--tcp-ports=auto",
               "--udp-ports=auto", "--host-lo-to-ns-lo", "4242"});
  ASSERT_EQ(o.action, Action::run) << o.err;
  ASSERT_EQ(o.warnings.size(), 1u);
  EXPECT_EQ(o.warnings[0], "--stderr will be dropped soon");
  const Config& c = *o.config;
  EXPECT_EQ(c.ns_ifname, "tap0");
  EXPECT_EQ(c.mtu, 65520);
  EXPECT_TRUE(c.config_net);
  EXPECT_EQ(c.ip4.addr, v4("10.0.2.100"));
  EXPECT_EQ(c.ip4.prefix_len, 24);
  EXPECT_EQ(c.ip4.gateway, v4("10.0.2.2"));
  EXPECT_EQ(c.ip4.dns_match, v4("10.0.2.3"));
  EXPECT_TRUE(c.no_map_gw);
  EXPECT_TRUE(c.ipv4_only);
  EXPECT_EQ(c.fwd_in.tcp.mode, FwdMode::automatic);
  EXPECT_EQ(c.fwd_in.udp.mode, FwdMode::automatic);
  EXPECT_EQ(c.fwd_out.tcp.mode, FwdMode::automatic);  // default
  EXPECT_TRUE(c.host_lo_to_ns_lo);
  EXPECT_EQ(c.ns.target, NsTarget::pid);
  EXPECT_EQ(c.ns.netns_path, "/proc/4242/ns/net");
  EXPECT_EQ(c.ns.userns_path, "/proc/4242/ns/user");
  EXPECT_FALSE(c.ns.netns_only);
}

TEST(CliClients, RootlesskitNetnsAndDeprecated) {
  Config c = ok(kPasta, {"--stderr", "--ns-ifname=tap0", "--mtu=1500", "--config-net",
                         "--no-copy-routes", "--no-copy-addrs", "--address=10.0.2.100",
                         "--netmask=24", "--gateway=10.0.2.2", "--dns-forward=10.0.2.3",
                         "--tcp-ports=none", "--udp-ports=none", "--userns=/proc/77/ns/user",
                         "--netns=/proc/77/ns/net"});
  EXPECT_EQ(c.ns.target, NsTarget::netns);
  EXPECT_EQ(c.ns.netns_path, "/proc/77/ns/net");
  EXPECT_EQ(c.ns.userns_path, "/proc/77/ns/user");
  EXPECT_FALSE(c.ns.netns_only);
  EXPECT_EQ(c.fwd_in.tcp.mode, FwdMode::none);
  EXPECT_TRUE(c.ip4.no_copy_routes && c.ip6.no_copy_routes);
}

TEST(CliClients, Libvirt) {
  Config c = ok(kPasst, {"--one-off", "--socket", "/run/libvirt/qemu/passt/1-vm-net0.socket",
                         "--pid", "/run/libvirt/qemu/passt/1-vm-net0-passt.pid", "--mtu", "9000",
                         "--interface", "eth0", "--log-file", "/var/log/passt.log", "--hostname",
                         "vm", "--fqdn", "vm.example.com", "--address", "192.168.1.50",
                         "--netmask", "24", "--address", "2001:db8::50", "--tcp-ports",
                         "2222:22", "--udp-ports", "10.0.0.1/5353:53", "--tcp-ports", "443"});
  EXPECT_TRUE(c.one_off);
  EXPECT_EQ(c.socket_path, "/run/libvirt/qemu/passt/1-vm-net0.socket");
  EXPECT_EQ(c.pid_file, "/run/libvirt/qemu/passt/1-vm-net0-passt.pid");
  EXPECT_EQ(c.mtu, 9000);
  EXPECT_EQ(c.interface, "eth0");
  EXPECT_EQ(c.log_file, "/var/log/passt.log");
  EXPECT_EQ(c.hostname, "vm");
  EXPECT_EQ(c.fqdn, "vm.example.com");
  EXPECT_EQ(c.ip4.addr, v4("192.168.1.50"));
  EXPECT_EQ(c.ip4.prefix_len, 24);
  EXPECT_EQ(c.ip6.addr, v6("2001:db8::50"));
  EXPECT_EQ(c.fwd_in.tcp.target(2222), 22);
  EXPECT_TRUE(c.fwd_in.tcp.forwarded.test(443));
  EXPECT_EQ(c.fwd_in.tcp.rules.size(), 2u);
  EXPECT_EQ(c.fwd_in.udp.target(5353), 53);
  EXPECT_EQ(*c.fwd_in.udp.rules[0].addr, InAny::from(v4("10.0.0.1")));
  c = ok(kPasst, {"--vhost-user", "--one-off", "--socket", "/run/vu.socket", "--pid", "/run/p"});
  EXPECT_TRUE(c.vhost_user);
  EXPECT_EQ(c.socket_path, "/run/vu.socket");
}

TEST(CliClients, QemuNetdevPasst) {
  Config c = ok(kPasst, {"--pid", "/tmp/qemu-passt.pid", "--fd", "3"});
  EXPECT_EQ(c.fd, 3);
  EXPECT_TRUE(c.one_off);
  EXPECT_EQ(c.pid_file, "/tmp/qemu-passt.pid");
}

// The parser's getopt state is reset on every call.
TEST(CliState, Reentrant) {
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(getopt_fails(kPasst, {"-dqx"}), "passt: invalid option -- 'x'");
    EXPECT_EQ(ok(kPasst, {"-dq", "-m1500"}).mtu, 1500);
    EXPECT_EQ(getopt_fails(kPasst, {"-d", "--nope"}), "passt: unrecognized option '--nope'");
  }
}

}  // namespace
}  // namespace passt::app
