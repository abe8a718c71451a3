// Properties of the command-line parser: generated port specs give the
// forwarding bitmap and delta table a simple model predicts; --opt=value,
// --opt value, -o value, -ovalue and unique long-option prefixes are the
// same option; random argv never breaks the outcome contract.
#include <getopt.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "proptests/gen.hpp"

namespace passt::app {
namespace {

using core::Config;
using core::Mode;
using Action = ParseOutcome::Action;

ParseOutcome run(Mode m, const std::vector<std::string>& args, const CliEnv& env = {}) {
  std::vector<std::string> store;
  store.emplace_back(m == Mode::pasta ? "pasta" : "passt");
  store.insert(store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : store) argv.push_back(s.data());
  argv.push_back(nullptr);
  auto r = parse_cli(m, static_cast<int>(store.size()), argv.data(), env);
  RC_ASSERT(r.ok());
  return std::move(r).value();
}

// --- Port specs against a model -------------------------------------------------

struct Item {
  u16 first;
  u16 last;
  bool translate;
  u16 to;  // target of `first` when translating
};

std::string range_text(u16 a, u16 b, bool as_range) {
  if (a == b && !as_range) return std::to_string(a);
  return std::to_string(a) + "-" + std::to_string(b);
}

RC_GTEST_PROP(CliPortsProp, SpecMatchesModel, ()) {
  // Disjoint exclusions, then any include items.
  const auto n_excl = *rc::gen::inRange<int>(0, 4);
  const auto n_items = *rc::gen::inRange<int>(0, 5);
  std::vector<std::pair<u16, u16>> excl;
  std::array<bool, 65536> excluded{};
  for (int k = 0; k < n_excl; k++) {
    const auto a = *rc::gen::inRange<u32>(1, 65536);
    const auto len = *rc::gen::inRange<u32>(0, 300);
    const u32 b = std::min<u32>(65535, a + len);
    bool overlap = false;
    for (u32 i = a; i <= b; i++) overlap = overlap || excluded[i];
    if (overlap) continue;
    for (u32 i = a; i <= b; i++) excluded[i] = true;
    excl.emplace_back(static_cast<u16>(a), static_cast<u16>(b));
  }
  std::vector<Item> items;
  for (int k = 0; k < n_items; k++) {
    const auto a = *rc::gen::inRange<u32>(1, 65536);
    const auto len = *rc::gen::inRange<u32>(0, 2000);
    const u32 b = std::min<u32>(65535, a + len);
    Item it{static_cast<u16>(a), static_cast<u16>(b), *rc::gen::arbitrary<bool>(), 0};
    if (it.translate) it.to = static_cast<u16>(*rc::gen::inRange<u32>(0, 65536 - (b - a)));
    items.push_back(it);
  }
  if (excl.empty() && items.empty()) return;  // "" is not a spec

  // Build the text with exclusions shuffled in.
  std::vector<std::string> chunks;
  for (const auto& it : items) {
    std::string s = range_text(it.first, it.last, *rc::gen::arbitrary<bool>());
    if (it.translate) {
      // (append, not "x" + string: GCC 12 -O2 warns falsely on the latter)
      s.append(":").append(range_text(it.to, static_cast<u16>(it.to + (it.last - it.first)),
                                      it.first != it.last));
    }
    chunks.push_back(s);
  }
  for (const auto& [a, b] : excl) {
    const auto pos = *rc::gen::inRange<std::size_t>(0, chunks.size() + 1);
    chunks.insert(chunks.begin() + static_cast<std::ptrdiff_t>(pos),
                  std::string("~").append(range_text(a, b, *rc::gen::arbitrary<bool>())));
  }
  std::string spec;
  for (std::size_t i = 0; i < chunks.size(); i++) spec += (i ? "," : "") + chunks[i];

  // Optional listening address.
  std::optional<InAny> addr;
  const auto addr_kind = *rc::gen::inRange<int>(0, 4);
  if (addr_kind == 1) {
    addr = InAny::from(Ipv4Addr::of(10, 1, 2, 3));
    spec = "10.1.2.3/" + spec;
  } else if (addr_kind == 2) {
    addr = InAny::from(*parse_ipv6("2001:db8::7"));
    spec = "[2001:db8::7]/" + spec;
  } else if (addr_kind == 3) {
    spec = "%eth0/" + spec;
  }

  CliEnv env;
  env.ephemeral_first = static_cast<u16>(*rc::gen::inRange<u32>(1024, 65536));
  env.ephemeral_last = static_cast<u16>(*rc::gen::inRange<u32>(env.ephemeral_first, 65536));

  // The model.
  std::array<bool, 65536> fwd{};
  std::array<u16, 65536> delta{};
  if (items.empty()) {
    for (u32 i = 1; i < 65536; i++)
      fwd[i] = !excluded[i] && !(i >= env.ephemeral_first && i <= env.ephemeral_last);
  } else {
    for (const auto& it : items) {
      for (u32 i = it.first; i <= it.last; i++) {
        if (excluded[i]) continue;
        fwd[i] = true;
        delta[i] = it.translate ? static_cast<u16>(it.to - it.first) : 0;
      }
    }
  }
  const bool any = std::any_of(fwd.begin(), fwd.end(), [](bool b) { return b; });

  ParseOutcome o = run(Mode::passt, {"-t", spec}, env);
  if (items.empty() && !any) {
    RC_ASSERT(o.exit_code == 1);
    RC_ASSERT(o.err == "Failed to bind any port for '-t " + spec + "', exiting\n");
    return;
  }
  RC_ASSERT(o.action == Action::run);
  const core::PortFwd& f = o.config->fwd_in.tcp;
  RC_ASSERT(f.mode == core::FwdMode::spec);
  core::PortBitmap want;
  bool deltas_ok = true;
  for (u32 i = 0; i < 65536; i++) {
    if (!fwd[i]) continue;
    want.set(static_cast<u16>(i));
    deltas_ok = deltas_ok && f.delta(static_cast<u16>(i)) == delta[i];
  }
  RC_ASSERT(f.forwarded == want);
  RC_ASSERT(deltas_ok);
  if (!any) {  // everything listed was excluded again
    RC_ASSERT(f.rules.empty());
    return;
  }
  RC_ASSERT(f.rules.size() == 1u);
  RC_ASSERT(f.rules[0].addr == addr);
  RC_ASSERT(f.rules[0].weak == items.empty());
  RC_ASSERT(f.rules[0].ifname == (addr_kind == 3 ? "eth0" : ""));
  // The bind runs cover exactly the forwarded ports, each run valid.
  core::PortBitmap covered;
  for (const auto& r : f.rules[0].ports) {
    RC_ASSERT(r.first <= r.last);
    for (u32 i = r.first; i <= r.last; i++) covered.set(static_cast<u16>(i));
  }
  RC_ASSERT(covered == want);
}

RC_GTEST_PROP(CliPortsProp, ReversedRangeIsInvalid, ()) {
  const auto a = *rc::gen::inRange<u32>(1, 65535);
  const auto b = *rc::gen::inRange<u32>(a + 1, 65536);
  const std::string spec = std::to_string(b) + "-" + std::to_string(a);
  ParseOutcome o = run(Mode::passt, {"-u", spec});
  RC_ASSERT(o.err == "Invalid port specifier " + spec + "\n");
}

RC_GTEST_PROP(CliPortsProp, TranslationLengthMustMatch, ()) {
  const auto a = *rc::gen::inRange<u32>(1, 60000);
  const auto len = *rc::gen::inRange<u32>(0, 1000);
  const auto len2 = *rc::gen::inRange<u32>(0, 1000);
  RC_PRE(len != len2);
  const std::string spec = std::to_string(a) + "-" + std::to_string(a + len) + ":" +
                           std::to_string(a) + "-" + std::to_string(a + len2);
  ParseOutcome o = run(Mode::passt, {"-t", spec});
  RC_ASSERT(o.err == "Invalid port specifier " + spec + "\n");
}

// --- Equivalent spellings -----------------------------------------------------

struct OptCase {
  Mode mode;
  const char* name;
  char short_name;
};

const std::vector<OptCase>& value_options() {
  static const std::vector<OptCase> v = {
      {Mode::passt, "mtu", 'm'},       {Mode::passt, "address", 'a'},
      {Mode::passt, "netmask", 'n'},   {Mode::passt, "gateway", 'g'},
      {Mode::passt, "outbound", 'o'},  {Mode::passt, "dns", 'D'},
      {Mode::passt, "tcp-ports", 't'}, {Mode::pasta, "udp-ns", 'U'},
      {Mode::passt, "map-guest-addr", 0}, {Mode::pasta, "dns-forward", 0},
      {Mode::passt, "search", 'S'},    {Mode::passt, "log-size", 0},
      {Mode::passt, "fd", 'F'},        {Mode::pasta, "ns-ifname", 'I'},
  };
  return v;
}

// Values both valid and invalid: equal spellings give equal outcomes either way.
std::string some_value() {
  return *rc::gen::oneOf(
      rc::gen::element<std::string>("1500", "0", "24", "abc", "10.0.0.2", "2001:db8::9",
                                    "127.0.0.1", "none", "22", "80:8080", "~25", "1.2.3.4/5",
                                    "3", "65536", "x.example", "eth0", "", "-1"),
      rc::gen::map(rc::gen::inRange<u32>(0, 70000), [](u32 x) { return std::to_string(x); }));
}

void same_outcome(const ParseOutcome& a, const ParseOutcome& b) {
  RC_ASSERT(a.action == b.action);
  RC_ASSERT(a.exit_code == b.exit_code);
  RC_ASSERT(a.out == b.out);
  RC_ASSERT(a.err == b.err);
  RC_ASSERT(a.warnings == b.warnings);
  RC_ASSERT(a.config == b.config);
}

RC_GTEST_PROP(CliFormsProp, EqualsAndSpaceAreTheSame, ()) {
  const OptCase k = *rc::gen::elementOf(value_options());
  const std::string val = some_value();
  const std::string l = std::string("--") + k.name;
  const ParseOutcome eq = run(k.mode, {l + "=" + val});
  same_outcome(eq, run(k.mode, {l, val}));
  if (k.short_name != 0) {
    const std::string s = std::string("-") + k.short_name;
    same_outcome(eq, run(k.mode, {s, val}));
    if (!val.empty()) same_outcome(eq, run(k.mode, {s + val}));
  }
}

// A prefix naming one option (or only aliases of it) acts like the full name.
RC_GTEST_PROP(CliFormsProp, UniquePrefixIsTheOption, ()) {
  std::vector<const ::option*> opts;
  for (const ::option* o = cli_long_options(); o->name != nullptr; o++) opts.push_back(o);
  const ::option* o = *rc::gen::elementOf(opts);
  const std::string full = o->name;
  const auto len = *rc::gen::inRange<std::size_t>(1, full.size() + 1);
  const std::string prefix = full.substr(0, len);
  bool exact = false;
  bool unique = true;
  for (const ::option* p : opts) {
    const std::string n = p->name;
    if (n == prefix) exact = true;
    if (n.rfind(prefix, 0) == 0 && (p->val != o->val || p->has_arg != o->has_arg)) unique = false;
  }
  RC_PRE(unique || exact);
  if (exact && prefix != full) return;  // names another option exactly
  const Mode m = *rc::gen::element(Mode::passt, Mode::pasta);
  std::vector<std::string> a = {"--" + prefix};
  std::vector<std::string> b = {"--" + full};
  if (o->has_arg == required_argument) {
    const std::string val = some_value();
    a.push_back(val);
    b.push_back(val);
  }
  ParseOutcome pa = run(m, a);
  ParseOutcome pb = run(m, b);
  // getopt messages name the option in full, so even errors agree.
  same_outcome(pa, pb);
}

RC_GTEST_PROP(CliFormsProp, BundledShortFlags, ()) {
  const std::string flags = *rc::gen::container<std::string>(rc::gen::element('d', 'q', 'f', '4', '6', 'e'));
  RC_PRE(!flags.empty());
  std::vector<std::string> separate;
  for (char ch : flags) separate.push_back(std::string("-") + ch);
  const Mode m = *rc::gen::element(Mode::passt, Mode::pasta);
  same_outcome(run(m, {"-" + flags}), run(m, separate));
}

// --- Random argv: the outcome contract ---------------------------------------------

std::string token() {
  static const std::vector<std::string> toks = {
      "-d", "-q", "-f", "-e", "-h", "-4", "-6", "-1", "-t", "-u", "-T", "-U", "-D", "-S",
      "-m", "-a", "-n", "-M", "-g", "-i", "-o", "-s", "-F", "-I", "-p", "-P", "-l", "-H",
      "--", "-", "--no-tcp", "--no-udp", "--config-net", "--netns", "--userns", "--netns-only",
      "--runas", "--log-size", "--map-host-loopback", "--dns-forward", "--vhost-user",
      "--no-copy-routes", "--version", "--help", "--print-capabilities", "--no-d", "--x",
      "none", "auto", "all", "22", "~25", "80:8080", "1.2.3.4", "::1", "10.0.0.1/80", "0",
      "1500", "eth0", "1234", "ls", "/tmp/x", "02:00:00:00:00:01", "%lo/22", "-dq", "-m0"};
  return *rc::gen::oneOf(rc::gen::elementOf(toks), rc::gen::arbitrary<std::string>());
}

RC_GTEST_PROP(CliContractProp, RandomArgv, ()) {
  const auto n = *rc::gen::inRange<int>(0, 12);
  std::vector<std::string> args;
  for (int i = 0; i < n; i++) {
    std::string t = token();
    t.erase(std::remove(t.begin(), t.end(), '\0'), t.end());
    args.push_back(t);
  }
  const Mode m = *rc::gen::element(Mode::passt, Mode::pasta);
  const ParseOutcome o = run(m, args);
  if (o.action == Action::run) {
    RC_ASSERT(o.exit_code == 0);
    RC_ASSERT(o.config.has_value());
    RC_ASSERT(o.out.empty() && o.err.empty());
    const Config& c = *o.config;
    RC_ASSERT(c.mode == m);
    for (auto* f : {&c.fwd_in.tcp, &c.fwd_in.udp, &c.fwd_out.tcp, &c.fwd_out.udp})
      RC_ASSERT(f->mode != core::FwdMode::unset);
    RC_ASSERT(!(c.ipv4_only && c.ipv6_only));
    RC_ASSERT(c.mtu == 0 || c.mtu >= core::kMinMtu);
  } else {
    RC_ASSERT(!o.config.has_value());
    RC_ASSERT(o.exit_code == 0 || o.exit_code == 1);
    RC_ASSERT(!o.err.empty() || !o.out.empty());
    if (o.exit_code == 1) RC_ASSERT(!o.err.empty() && o.err.back() == '\n');
  }
  // Deterministic: the same argv gives the same outcome.
  same_outcome(o, run(m, args));
}

}  // namespace
}  // namespace passt::app
