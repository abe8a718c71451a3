#include "app/cli.hpp"

#include <arpa/inet.h>
#include <getopt.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace passt::app {

using core::Config;
using core::FwdMode;
using core::Mode;
using core::PortBitmap;
using core::PortBindRule;
using core::PortFwd;
using core::PortRun;

namespace {

// --- Option table -----------------------------------------------------------
//
// One table for both modes, in upstream's order (the order shows in glibc's
// "is ambiguous; possibilities:" list).  Long-only options get codes >= 256.
// Upstream returns 0 for its flag-pointer options; we give each its own code,
// which keeps getopt's ambiguity rule (same has_arg, flag and val = same
// option) unchanged: only --socket and --socket-path share a value.

enum LongOnly : int {
  kOptNoTcp = 256,
  kOptNoUdp,
  kOptNoIcmp,
  kOptNoDhcp,
  kOptNoDhcpv6,
  kOptNoNdp,
  kOptNoRa,
  kOptNoSplice,
  kOptFreebind,
  kOptNoMapGw,
  kOptUserns,
  kOptNetns,
  kOptNsMacAddr,
  kOptDhcpDns,
  kOptNoDhcpDns,
  kOptDhcpSearch,
  kOptNoDhcpSearch,
  kOptDnsForward,
  kOptNoNetnsQuit,
  kOptTrace,
  kOptRunas,
  kOptLogSize,
  kOptVersion,
  kOptOutboundIf4,
  kOptOutboundIf6,
  kOptConfigNet,
  kOptNoCopyRoutes,
  kOptNoCopyAddrs,
  kOptNetnsOnly,
  kOptMapHostLoopback,
  kOptMapGuestAddr,
  kOptHostLoToNsLo,
  kOptDnsHost,
  kOptVhostUser,
  kOptPrintCapabilities,
  kOptFqdn,
};

constexpr int kNo = no_argument;
constexpr int kReq = required_argument;

const struct option kLongOptions[] = {
    {"debug", kNo, nullptr, 'd'},
    {"quiet", kNo, nullptr, 'q'},
    {"foreground", kNo, nullptr, 'f'},
    {"stderr", kNo, nullptr, 'e'},
    {"log-file", kReq, nullptr, 'l'},
    {"help", kNo, nullptr, 'h'},
    {"socket", kReq, nullptr, 's'},
    {"fd", kReq, nullptr, 'F'},
    {"ns-ifname", kReq, nullptr, 'I'},
    {"pcap", kReq, nullptr, 'p'},
    {"pid", kReq, nullptr, 'P'},
    {"mtu", kReq, nullptr, 'm'},
    {"address", kReq, nullptr, 'a'},
    {"netmask", kReq, nullptr, 'n'},
    {"mac-addr", kReq, nullptr, 'M'},
    {"gateway", kReq, nullptr, 'g'},
    {"interface", kReq, nullptr, 'i'},
    {"outbound", kReq, nullptr, 'o'},
    {"dns", kReq, nullptr, 'D'},
    {"search", kReq, nullptr, 'S'},
    {"hostname", kReq, nullptr, 'H'},
    {"no-tcp", kNo, nullptr, kOptNoTcp},
    {"no-udp", kNo, nullptr, kOptNoUdp},
    {"no-icmp", kNo, nullptr, kOptNoIcmp},
    {"no-dhcp", kNo, nullptr, kOptNoDhcp},
    {"no-dhcpv6", kNo, nullptr, kOptNoDhcpv6},
    {"no-ndp", kNo, nullptr, kOptNoNdp},
    {"no-ra", kNo, nullptr, kOptNoRa},
    {"no-splice", kNo, nullptr, kOptNoSplice},
    {"freebind", kNo, nullptr, kOptFreebind},
    {"no-map-gw", kNo, nullptr, kOptNoMapGw},
    {"ipv4-only", kNo, nullptr, '4'},
    {"ipv6-only", kNo, nullptr, '6'},
    {"one-off", kNo, nullptr, '1'},
    {"tcp-ports", kReq, nullptr, 't'},
    {"udp-ports", kReq, nullptr, 'u'},
    {"tcp-ns", kReq, nullptr, 'T'},
    {"udp-ns", kReq, nullptr, 'U'},
    {"userns", kReq, nullptr, kOptUserns},
    {"netns", kReq, nullptr, kOptNetns},
    {"ns-mac-addr", kReq, nullptr, kOptNsMacAddr},
    {"dhcp-dns", kNo, nullptr, kOptDhcpDns},
    {"no-dhcp-dns", kNo, nullptr, kOptNoDhcpDns},
    {"dhcp-search", kNo, nullptr, kOptDhcpSearch},
    {"no-dhcp-search", kNo, nullptr, kOptNoDhcpSearch},
    {"dns-forward", kReq, nullptr, kOptDnsForward},
    {"no-netns-quit", kNo, nullptr, kOptNoNetnsQuit},
    {"trace", kNo, nullptr, kOptTrace},
    {"runas", kReq, nullptr, kOptRunas},
    {"log-size", kReq, nullptr, kOptLogSize},
    {"version", kNo, nullptr, kOptVersion},
    {"outbound-if4", kReq, nullptr, kOptOutboundIf4},
    {"outbound-if6", kReq, nullptr, kOptOutboundIf6},
    {"config-net", kNo, nullptr, kOptConfigNet},
    {"no-copy-routes", kNo, nullptr, kOptNoCopyRoutes},
    {"no-copy-addrs", kNo, nullptr, kOptNoCopyAddrs},
    {"netns-only", kNo, nullptr, kOptNetnsOnly},
    {"map-host-loopback", kReq, nullptr, kOptMapHostLoopback},
    {"map-guest-addr", kReq, nullptr, kOptMapGuestAddr},
    {"host-lo-to-ns-lo", kNo, nullptr, kOptHostLoToNsLo},
    {"dns-host", kReq, nullptr, kOptDnsHost},
    {"vhost-user", kNo, nullptr, kOptVhostUser},
    {"print-capabilities", kNo, nullptr, kOptPrintCapabilities},
    {"socket-path", kReq, nullptr, 's'},
    {"fqdn", kReq, nullptr, kOptFqdn},
    {nullptr, 0, nullptr, 0},
};

// Upstream's optstrings, plus -H (--hostname).
constexpr const char* kPasstOptstring = "+dqfel:hs:F:p:P:m:a:n:M:g:i:o:D:S:H:461t:u:";
constexpr const char* kPastaOptstring = "+dqfel:hF:I:p:P:m:a:n:M:g:i:o:D:S:H:46t:u:T:U:";

constexpr std::size_t kBufSiz = 8192;  // BUFSIZ: upstream copies -t specs into this
constexpr std::size_t kIfNamSiz = 16;
constexpr std::size_t kPathMaxBuf = 4096;
constexpr std::size_t kUnixPathBuf = 108;

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list ap2;
  va_copy(ap2, ap);
  const int n = std::vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  std::string s;
  if (n > 0) {
    s.resize(static_cast<std::size_t>(n) + 1);
    std::vsnprintf(s.data(), s.size(), fmt, ap2);
    s.resize(static_cast<std::size_t>(n));
  }
  va_end(ap2);
  return s;
}

// --- glibc 2.36 getopt_long diagnostics ---------------------------------------
//
// With opterr = 0 getopt_long() reports errors only as '?' plus optopt.  We
// rebuild the text glibc would have printed.  For long options that means
// redoing its matching: an exact name match wins; otherwise every option
// the text is a prefix of is a candidate, and the text is ambiguous when a
// later candidate differs from the first in has_arg, flag or val (the list
// then names the first candidate and every differing one, in table order).

struct LongMatch {
  const struct option* found = nullptr;
  std::vector<const struct option*> ambiguous;  // non-empty: ambiguous
};

LongMatch match_long(const char* text) {
  LongMatch m;
  std::size_t namelen = 0;
  while (text[namelen] != '\0' && text[namelen] != '=') namelen++;
  for (const struct option* p = kLongOptions; p->name != nullptr; p++) {
    if (std::strlen(p->name) == namelen && std::strncmp(p->name, text, namelen) == 0) {
      m.found = p;
      return m;
    }
  }
  std::vector<bool> marked(sizeof(kLongOptions) / sizeof(kLongOptions[0]), false);
  std::size_t first = 0;
  bool ambiguous = false;
  std::size_t idx = 0;
  for (const struct option* p = kLongOptions; p->name != nullptr; p++, idx++) {
    if (std::strncmp(p->name, text, namelen) != 0) continue;
    if (m.found == nullptr) {
      m.found = p;
      first = idx;
    } else if (m.found->has_arg != p->has_arg || m.found->flag != p->flag ||
               m.found->val != p->val) {
      ambiguous = true;
      marked[first] = true;
      marked[idx] = true;
    }
  }
  if (ambiguous) {
    for (std::size_t i = 0; i < marked.size(); i++)
      if (marked[i]) m.ambiguous.push_back(&kLongOptions[i]);
  }
  return m;
}

std::string long_option_error(const char* prog, const char* text) {
  const LongMatch m = match_long(text);
  if (!m.ambiguous.empty()) {
    std::string s = format("%s: option '--%s' is ambiguous; possibilities:", prog, text);
    for (const struct option* o : m.ambiguous) s += format(" '--%s'", o->name);
    return s + "\n";
  }
  if (m.found == nullptr) return format("%s: unrecognized option '--%s'\n", prog, text);
  if (std::strchr(text, '=') != nullptr)
    return format("%s: option '--%s' doesn't allow an argument\n", prog, m.found->name);
  return format("%s: option '--%s' requires an argument\n", prog, m.found->name);
}

std::string short_option_error(const char* prog, const char* optstring, int c) {
  // glibc skips the leading '+' of the optstring before looking c up.
  const char* body = optstring + 1;
  const char* hit = (c > 0 && c < 256) ? std::strchr(body, c) : nullptr;
  if (hit != nullptr && c != ':' && c != ';' && hit[1] == ':')
    return format("%s: option requires an argument -- '%c'\n", prog, c);
  return format("%s: invalid option -- '%c'\n", prog, c);
}

// --- Value parsers mirroring upstream's C library use --------------------------

std::optional<Ipv4Addr> pton4(const char* s) {
  unsigned char b[4];
  if (inet_pton(AF_INET, s, b) != 1) return std::nullopt;
  return Ipv4Addr::load(b);
}

std::optional<Ipv6Addr> pton6(const char* s) {
  unsigned char b[16];
  if (inet_pton(AF_INET6, s, b) != 1) return std::nullopt;
  return Ipv6Addr::load(b);
}

// upstream inany_pton(): IPv4 first (stored v4-mapped), then IPv6.
std::optional<InAny> pton_any(const char* s) {
  if (auto a4 = pton4(s)) return InAny::from(*a4);
  if (auto a6 = pton6(s)) return InAny::from(*a6);
  return std::nullopt;
}

// Upstream parse_mac(): exactly 17 characters, six strtoul(base 16) octets
// that each end two characters later at ':' (or the end).
std::optional<MacAddr> parse_mac_like_upstream(const char* str) {
  if (std::strlen(str) != 17) return std::nullopt;
  MacAddr mac;
  for (std::size_t i = 0; i < 6; i++) {
    const char* octet = str + 3 * i;
    char* end = nullptr;
    errno = 0;
    const unsigned long b = std::strtoul(octet, &end, 16);
    if (b > 255 || errno != 0 || end != octet + 2 || *end != (i == 5 ? '\0' : ':'))
      return std::nullopt;
    mac.b[i] = static_cast<u8>(b);
  }
  return mac;
}

bool ipv4_is_loopback(Ipv4Addr a) { return a.is_loopback(); }

const char* next_chunk(const char* s, char c) {
  const char* sep = std::strchr(s, c);
  return sep != nullptr ? sep + 1 : nullptr;
}

// Upstream parse_port_range(): "<first>[-<last>]" with strtoul(base 10).
bool parse_port_range(const char* s, const char** endptr, PortRun* range) {
  char* ep = nullptr;
  unsigned long first = std::strtoul(s, &ep, 10);
  unsigned long last = first;
  if (ep == s) return false;
  if (*ep == '-') {
    const char* lasts = ep + 1;
    last = std::strtoul(lasts, &ep, 10);
    if (ep == lasts) return false;
  }
  if (last < first || last >= 65536) return false;
  range->first = static_cast<u16>(first);
  range->last = static_cast<u16>(last);
  *endptr = ep;
  return true;
}

// Appends port to the run list, extending the last run when contiguous.
void add_port(std::vector<PortRun>& runs, u16 port, bool new_run) {
  if (!new_run && !runs.empty() && runs.back().last + 1u == port) {
    runs.back().last = port;
    return;
  }
  runs.push_back(PortRun{port, port});
}

struct Deferred {
  int code;
  std::string arg;
};

// --- The parser ---------------------------------------------------------------

class Parser {
 public:
  Parser(Mode mode, int argc, char* const argv[], const CliEnv& env)
      : mode_(mode), argc_(argc), argv_(argv), env_(env), prog_(argv[0] != nullptr ? argv[0] : "") {
    c_.mode = mode;
    if (mode == Mode::pasta) c_.no_dhcp_dns = c_.no_dhcp_search = true;
  }

  ParseOutcome run() {
    if (!pass1()) return std::move(out_);
    if (!after_pass1()) return std::move(out_);
    for (const Deferred& d : deferred_) {
      bool ok = true;
      if (d.code == 't') ok = conf_ports('t', d.arg, c_.fwd_in.tcp);
      else if (d.code == 'u') ok = conf_ports('u', d.arg, c_.fwd_in.udp);
      else if (d.code == 'D') ok = conf_dns(d.arg);
      if (!ok) return std::move(out_);
    }
    if (!positional()) return std::move(out_);
    for (const Deferred& d : deferred_) {
      bool ok = true;
      if (d.code == 'T') ok = conf_ports('T', d.arg, c_.fwd_out.tcp);
      else if (d.code == 'U') ok = conf_ports('U', d.arg, c_.fwd_out.udp);
      if (!ok) return std::move(out_);
    }
    finish();
    out_.action = ParseOutcome::Action::run;
    out_.exit_code = 0;
    out_.config = std::move(c_);
    return std::move(out_);
  }

 private:
  // upstream die(): message on stderr, exit status 1.
  bool die(const std::string& msg) {
    out_.action = ParseOutcome::Action::exit;
    out_.exit_code = 1;
    out_.err = msg + "\n";
    return false;
  }
  void warn(std::string msg) { out_.warnings.push_back(std::move(msg)); }
  bool exit_with(int code, std::string out, std::string err) {
    out_.action = ParseOutcome::Action::exit;
    out_.exit_code = code;
    out_.out = std::move(out);
    out_.err = std::move(err);
    return false;
  }
  bool usage_error(const std::string& getopt_msg) {
    return exit_with(1, "", getopt_msg + usage_text(mode_, prog_));
  }
  bool pasta_only(const char* opt) {
    if (mode_ == Mode::pasta) return true;
    return die(format("%s is for pasta mode only", opt));
  }
  bool passt_only(const char* opt) {
    if (mode_ == Mode::passt) return true;
    return die(format("%s is for passt mode only", opt));
  }

  // ---- pass 1 ----

  bool pass1() {
    const char* optstring = mode_ == Mode::pasta ? kPastaOptstring : kPasstOptstring;
    optind = 0;  // full re-initialisation of glibc's getopt state
    opterr = 0;
    bool mid_cluster = false;  // inside a bundle of short options ("-dq")
    for (;;) {
      const int at = optind == 0 ? 1 : optind;
      const bool is_long = !mid_cluster && at < argc_ && argv_[at] != nullptr &&
                           argv_[at][0] == '-' && argv_[at][1] == '-' && argv_[at][2] != '\0';
      const int name = getopt_long(argc_, argv_, optstring, kLongOptions, nullptr);
      if (name == -1) break;
      mid_cluster = !is_long && optind == at;
      if (name == '?') {
        if (is_long) return usage_error(long_option_error(prog_, argv_[at] + 2));
        return usage_error(short_option_error(prog_, optstring, optopt));
      }
      const char* arg = optarg != nullptr ? optarg : "";
      if (!option(name, arg)) return false;
    }
    first_positional_ = optind;
    return true;
  }

  bool option(int name, const char* arg) {
    const std::size_t len = std::strlen(arg);
    switch (name) {
      case 'd':
        c_.debug = true;
        c_.quiet = false;
        return true;
      case kOptTrace:
        c_.trace = c_.debug = true;
        c_.quiet = false;
        return true;
      case 'q':
        c_.quiet = true;
        c_.debug = c_.trace = false;
        return true;
      case 'f':
        c_.foreground = true;
        return true;
      case 'e':
        warn("--stderr will be dropped soon");
        return true;
      case 'l':
        c_.log_file = arg;
        return true;
      case kOptLogSize: {
        errno = 0;
        // Upstream stores strtol()'s long in a size_t: negative numbers
        // become huge sizes and pass the minimum check.
        const auto size = static_cast<u64>(std::strtol(arg, nullptr, 0));
        if (size < core::kMinLogSize || errno != 0)
          return die(format("Invalid --log-size: %s", arg));
        c_.log_size = size;
        return true;
      }
      case kOptRunas:
        runas_ = arg;
        has_runas_ = true;
        return true;
      case 'h':
        return exit_with(0, usage_text(mode_, prog_), "");
      case kOptVersion:
        return exit_with(0, version_text(), "");
      case kOptPrintCapabilities:
        // The vhost-user backend convention; upstream prints it through its
        // logger, which writes to stderr before the options are parsed.
        return exit_with(0, "", "{\n  \"type\": \"net\"\n}\n");
      case 's':
        if (len == 0 || len >= kUnixPathBuf) return die(format("Invalid socket path: %s", arg));
        c_.socket_path = arg;
        c_.fd = -1;
        return true;
      case 'F': {
        errno = 0;
        const long fd = std::strtol(arg, nullptr, 0);
        if (errno != 0 || fd <= 2 || fd > INT_MAX) return die(format("Invalid --fd: %s", arg));
        c_.fd = static_cast<int>(fd);
        c_.one_off = true;
        c_.socket_path.clear();
        return true;
      }
      case 'I':
        if (len == 0 || len >= kIfNamSiz) return die(format("Invalid interface name: %s", arg));
        c_.ns_ifname = arg;
        return true;
      case 'p':
        if (len == 0 || len >= kPathMaxBuf) return die(format("Invalid pcap path: %s", arg));
        c_.pcap_file = arg;
        return true;
      case 'P':
        if (len == 0 || len >= kPathMaxBuf) return die(format("Invalid PID file: %s", arg));
        c_.pid_file = arg;
        return true;
      case 'm': {
        errno = 0;
        // Upstream keeps the MTU in an int: strtol()'s long is truncated,
        // and anything that parses as 0 (including "abc") means "disabled".
        const int mtu = static_cast<int>(std::strtol(arg, nullptr, 0));
        if (mtu == 0) {
          c_.mtu = 0;
          return true;
        }
        if (mtu < core::kMinMtu || mtu > core::kMaxMtu || errno != 0)
          return die(format("Invalid MTU: %s", arg));
        c_.mtu = static_cast<u16>(mtu);
        return true;
      }
      case 'a':
        return opt_address(arg);
      case 'n':
        return opt_netmask(arg);
      case 'M': {
        auto mac = parse_mac_like_upstream(arg);
        if (!mac) return die(format("Invalid MAC address: %s", arg));
        c_.our_mac = *mac;
        return true;
      }
      case 'g':
        return opt_gateway(arg);
      case 'i':
        // Resolved (if_nametoindex) at start-up: "Invalid interface name
        // NAME: No such device" is a host error.
        c_.interface = arg;
        return true;
      case 'o':
        return opt_outbound(arg);
      case 'S':
        return opt_search(arg);
      case 'H':
        if (len > core::kMaxHostnameLen) return die(format("Invalid hostname: %s", arg));
        c_.hostname = arg;
        return true;
      case kOptFqdn:
        if (len > core::kMaxHostnameLen) return die(format("Invalid FQDN: %s", arg));
        c_.fqdn = arg;
        return true;
      case '4':
        c_.ipv4_only = true;
        c_.ipv6_only = false;
        return true;
      case '6':
        c_.ipv6_only = true;
        c_.ipv4_only = false;
        return true;
      case '1':
        if (!passt_only("--one-off")) return false;
        c_.one_off = true;
        return true;
      case 't':
      case 'u':
      case 'T':
      case 'U':
      case 'D':
        // Later passes, as upstream (after the host probe / the namespace).
        deferred_.push_back(Deferred{name, arg});
        return true;
      case kOptNoTcp:
        c_.no_tcp = true;
        return true;
      case kOptNoUdp:
        c_.no_udp = true;
        return true;
      case kOptNoIcmp:
        c_.no_icmp = true;
        return true;
      case kOptNoDhcp:
        c_.no_dhcp = true;
        return true;
      case kOptNoDhcpv6:
        c_.no_dhcpv6 = true;
        return true;
      case kOptNoNdp:
        c_.no_ndp = true;
        return true;
      case kOptNoRa:
        c_.no_ra = true;
        return true;
      case kOptNoSplice:
        c_.no_splice = true;
        return true;
      case kOptFreebind:
        c_.freebind = true;
        return true;
      case kOptNoMapGw:
        c_.no_map_gw = true;
        return true;
      case kOptUserns:
        if (!pasta_only("--userns")) return false;
        if (len == 0 || len >= kPathMaxBuf) return die(format("Invalid userns: %s", arg));
        userns_ = arg;
        netns_only_ = false;
        return true;
      case kOptNetns: {
        if (!pasta_only("--netns")) return false;
        // A name without '/' lives in /run/netns.  Upstream formats into a
        // PATH_MAX buffer and only refuses results longer than PATH_MAX, so
        // a result of exactly PATH_MAX characters is silently truncated.
        std::string path = std::strchr(arg, '/') != nullptr ? std::string(arg)
                                                            : std::string("/run/netns/") + arg;
        if (path.empty() || path.size() > kPathMaxBuf)
          return die(format("Network namespace name/path %s too long", arg));
        if (path.size() >= kPathMaxBuf) path.resize(kPathMaxBuf - 1);
        netns_ = std::move(path);
        return true;
      }
      case kOptNsMacAddr: {
        if (!pasta_only("--ns-mac-addr")) return false;
        auto mac = parse_mac_like_upstream(arg);
        if (!mac) return die(format("Invalid MAC address: %s", arg));
        c_.ns_mac = *mac;
        return true;
      }
      case kOptDhcpDns:
        if (!pasta_only("--dhcp-dns")) return false;
        c_.no_dhcp_dns = false;
        return true;
      case kOptNoDhcpDns:
        if (!passt_only("--no-dhcp-dns")) return false;
        c_.no_dhcp_dns = true;
        return true;
      case kOptDhcpSearch:
        if (!pasta_only("--dhcp-search")) return false;
        c_.no_dhcp_search = false;
        return true;
      case kOptNoDhcpSearch:
        if (!passt_only("--no-dhcp-search")) return false;
        c_.no_dhcp_search = true;
        return true;
      case kOptDnsForward: {
        if (auto a6 = pton6(arg); a6 && !a6->is_unspecified() && !a6->is_loopback()) {
          c_.ip6.dns_match = *a6;
          return true;
        }
        if (auto a4 = pton4(arg);
            a4 && !a4->is_unspecified() && !a4->is_broadcast() && !ipv4_is_loopback(*a4)) {
          c_.ip4.dns_match = *a4;
          return true;
        }
        return die(format("Invalid DNS forwarding address: %s", arg));
      }
      case kOptDnsHost: {
        if (auto a6 = pton6(arg); a6 && !a6->is_unspecified()) {
          c_.ip6.dns_host = *a6;
          return true;
        }
        if (auto a4 = pton4(arg); a4 && !a4->is_unspecified() && !a4->is_broadcast()) {
          c_.ip4.dns_host = *a4;
          return true;
        }
        return die(format("Invalid host nameserver address: %s", arg));
      }
      case kOptNoNetnsQuit:
        if (!pasta_only("--no-netns-quit")) return false;
        c_.no_netns_quit = true;
        return true;
      case kOptOutboundIf4:
      case kOptOutboundIf6:
        if (len == 0 || len >= kIfNamSiz) return die(format("Invalid interface name: %s", arg));
        (name == kOptOutboundIf4 ? c_.ip4.outbound_if : c_.ip6.outbound_if) = arg;
        return true;
      case kOptConfigNet:
        if (!pasta_only("--config-net")) return false;
        c_.config_net = true;
        return true;
      case kOptNoCopyRoutes:
        if (!pasta_only("--no-copy-routes")) return false;
        warn("--no-copy-routes will be dropped soon");
        c_.ip4.no_copy_routes = c_.ip6.no_copy_routes = true;
        no_copy_routes_opt_ = true;
        return true;
      case kOptNoCopyAddrs:
        if (!pasta_only("--no-copy-addrs")) return false;
        warn("--no-copy-addrs will be dropped soon");
        c_.ip4.no_copy_addrs = c_.ip6.no_copy_addrs = true;
        no_copy_addrs_opt_ = true;
        return true;
      case kOptNetnsOnly:
        if (!pasta_only("--netns-only")) return false;
        netns_only_ = true;
        userns_.clear();
        return true;
      case kOptMapHostLoopback:
        return opt_nat(arg, c_.ip4.map_host_loopback, c_.ip6.map_host_loopback, true);
      case kOptMapGuestAddr:
        return opt_nat(arg, c_.ip4.map_guest_addr, c_.ip6.map_guest_addr, false);
      case kOptHostLoToNsLo:
        if (!pasta_only("--host-lo-to-ns-lo")) return false;
        c_.host_lo_to_ns_lo = true;
        return true;
      case kOptVhostUser:
        if (!passt_only("--vhost-user")) return false;
        c_.vhost_user = true;
        return true;
      default:
        // Upstream: anything getopt returns that conf() does not know
        // prints the usage on stderr and exits 1 (no getopt message).
        return usage_error("");
    }
  }

  bool opt_address(const char* arg) {
    if (auto a6 = pton6(arg); a6 && !a6->is_unspecified() && !a6->is_loopback() &&
                              !a6->is_v4_mapped() && !a6->is_v4_compat() &&
                              !a6->is_multicast()) {
      c_.ip6.addr = *a6;
      if (mode_ == Mode::pasta) c_.ip6.no_copy_addrs = true;
      return true;
    }
    if (auto a4 = pton4(arg); a4 && !a4->is_unspecified() && !a4->is_broadcast() &&
                              !a4->is_loopback() && !a4->is_multicast()) {
      c_.ip4.addr = *a4;
      if (mode_ == Mode::pasta) c_.ip4.no_copy_addrs = true;
      return true;
    }
    return die(format("Invalid address: %s", arg));
  }

  bool opt_netmask(const char* arg) {
    unsigned long prefix = 0;
    if (auto mask = pton4(arg)) {
      const u32 m = mask->to_u32();
      prefix = static_cast<unsigned long>(__builtin_popcount(m));
      // Contiguous ones from the top.  (Upstream shifts a 32-bit value by 32
      // for 255.255.255.255, which is undefined; we accept it as /32.)
      if (prefix < 32 && (m << prefix) != 0) return die(format("Invalid netmask: %s", arg));
    } else {
      errno = 0;
      prefix = std::strtoul(arg, nullptr, 0);
      if (prefix > 32 || errno != 0) return die(format("Invalid netmask: %s", arg));
    }
    c_.ip4.prefix_len = static_cast<u8>(prefix);
    return true;
  }

  bool opt_gateway(const char* arg) {
    if (auto a6 = pton6(arg); a6 && !a6->is_unspecified() && !a6->is_loopback()) {
      c_.ip6.gateway = *a6;
      if (mode_ == Mode::pasta) c_.ip6.no_copy_routes = true;
      return true;
    }
    if (auto a4 = pton4(arg);
        a4 && !a4->is_unspecified() && !a4->is_broadcast() && !a4->is_loopback()) {
      c_.ip4.gateway = *a4;
      if (mode_ == Mode::pasta) c_.ip4.no_copy_routes = true;
      return true;
    }
    return die(format("Invalid gateway address: %s", arg));
  }

  bool opt_outbound(const char* arg) {
    if (auto a6 = pton6(arg); a6 && !a6->is_unspecified() && !a6->is_loopback() &&
                              !a6->is_v4_mapped() && !a6->is_v4_compat() &&
                              !a6->is_multicast()) {
      c_.ip6.outbound = *a6;
      return true;
    }
    // (Upstream lets an IPv4 loopback address through here.)
    if (auto a4 = pton4(arg);
        a4 && !a4->is_unspecified() && !a4->is_broadcast() && !a4->is_multicast()) {
      c_.ip4.outbound = *a4;
      return true;
    }
    return die(format("Invalid or redundant outbound address: %s", arg));
  }

  // -S: one domain per option into MAXDNSRCH slots.  Upstream's "none"
  // clears the slots but not its cursor, so a later -S fills the next slot
  // while the list, read up to the first empty slot, stays empty; and a
  // seventh domain overall dies even after "none".  We keep both quirks.
  bool opt_search(const char* arg) {
    if (std::strcmp(arg, "none") == 0) {
      c_.no_dns_search = true;
      for (auto& s : search_slots_) s.clear();
      return true;
    }
    c_.no_dns_search = false;
    const std::size_t len = std::strlen(arg);
    if (search_next_ < search_slots_.size()) {
      search_slots_[search_next_++] = std::string(arg, std::min(len, core::kMaxDnsSearchLen));
      if (len > 0 && len <= core::kMaxDnsSearchLen) return true;
    }
    return die(format("Cannot use DNS search domain %s", arg));
  }

  // --map-host-loopback / --map-guest-addr.
  template <class A4, class A6>
  bool opt_nat(const char* arg, A4& a4out, A6& a6out, bool is_host_loopback) {
    if (std::strcmp(arg, "none") == 0) {
      a4out.reset();
      a6out.reset();
      if (is_host_loopback) c_.no_map_gw = true;
      return true;
    }
    if (auto a6 = pton6(arg);
        a6 && !a6->is_unspecified() && !a6->is_loopback() && !a6->is_multicast()) {
      a6out = *a6;
      return true;
    }
    if (auto a4 = pton4(arg);
        a4 && !a4->is_unspecified() && !a4->is_loopback() && !a4->is_multicast()) {
      a4out = *a4;
      return true;
    }
    return die(format("Invalid address to remap to host: %s", arg));
  }

  // ---- between the passes ----

  bool after_pass1() {
    if (mode_ == Mode::pasta && !c_.config_net) {
      if (no_copy_routes_opt_) return die("--no-copy-routes needs --config-net");
      if (no_copy_addrs_opt_) return die("--no-copy-addrs needs --config-net");
    }
    if (has_runas_) c_.runas = parse_runas(runas_);
    return true;
  }

  static core::RunAs parse_runas(const std::string& spec) {
    core::RunAs r;
    r.spec = spec;
    const std::size_t colon = spec.find(':');
    const std::string user = spec.substr(0, colon);
    char* end = nullptr;
    // Upstream: strtol(base 0) into an unsigned int; not numeric -> a name.
    const long uid = std::strtol(user.c_str(), &end, 0);
    if (*end != '\0') {
      r.user_name = user;
    } else {
      r.uid = static_cast<u32>(uid);
      r.gid = r.uid;
    }
    if (colon != std::string::npos) {
      const std::string group = spec.substr(colon + 1);
      const long gid = std::strtol(group.c_str(), &end, 0);
      if (*end != '\0') {
        r.group_name = group;
        r.gid.reset();
      } else {
        r.gid = static_cast<u32>(gid);
      }
    }
    return r;
  }

  // ---- pass 2: -t -u -D ----

  bool conf_dns(const std::string& arg) {
    if (arg == "none") {
      c_.no_dns = true;
      c_.ip4.dns.clear();
      c_.ip4.dns_match.reset();
      c_.ip4.dns_host.reset();
      c_.ip6.dns.clear();
      c_.ip6.dns_match.reset();
      c_.ip6.dns_host.reset();
      return true;
    }
    c_.no_dns = false;
    // More than MAXNS per family: silently ignored, as upstream.
    if (auto a4 = pton4(arg.c_str())) {
      (void)c_.ip4.dns.push(*a4);
      return true;
    }
    if (auto a6 = pton6(arg.c_str())) {
      (void)c_.ip6.dns.push(*a6);
      return true;
    }
    return die(format("Cannot use DNS address %s", arg.c_str()));
  }

  bool is_ephemeral(u32 port) const {
    return port >= env_.ephemeral_first && port <= env_.ephemeral_last;
  }

  bool mode_conflict(const std::string& arg) {
    return die(format("Port forwarding mode '%s' conflicts with previous mode", arg.c_str()));
  }

  // One -t/-u/-T/-U option (upstream conf_ports()), without the binding.
  bool conf_ports(char optname, const std::string& optarg, PortFwd& fwd) {
    const char* oa = optarg.c_str();
    if (optarg == "none") {
      if (fwd.mode != FwdMode::unset) return mode_conflict(optarg);
      fwd.mode = FwdMode::none;
      return true;
    }
    const bool tcp = optname == 't' || optname == 'T';
    if (tcp && c_.no_tcp) return die("TCP port forwarding requested but TCP is disabled");
    if (!tcp && c_.no_udp) return die("UDP port forwarding requested but UDP is disabled");

    if (optarg == "auto") {
      if (fwd.mode != FwdMode::unset) return mode_conflict(optarg);
      if (mode_ != Mode::pasta) return die("'auto' port forwarding is only allowed for pasta");
      fwd.mode = FwdMode::automatic;
      return true;
    }
    if (optarg == "all") {
      if (fwd.mode != FwdMode::unset) return mode_conflict(optarg);
      if (mode_ == Mode::pasta) return die("'all' port forwarding is only allowed for passt");
      fwd.mode = FwdMode::all;
      // Upstream binds nothing for -T/-U here (passt --tcp-ns all), so it
      // finds no bound port and gives up.
      if (optname == 'T' || optname == 'U')
        return die(format("Failed to bind any port for '-%c %s', exiting", optname, oa));
      PortBindRule rule{optname, optarg, std::nullopt, "", true, {}};
      // Port 0 is never bound: it means "any port" to the socket API.
      for (u32 i = 1; i < 65536; i++) {
        if (is_ephemeral(i)) continue;
        fwd.forwarded.set(static_cast<u16>(i));
        add_port(rule.ports, static_cast<u16>(i), false);
      }
      if (rule.ports.empty())
        return die(format("Failed to bind any port for '-%c %s', exiting", optname, oa));
      fwd.rules.push_back(std::move(rule));
      return true;
    }
    if (fwd.mode != FwdMode::unset && fwd.mode != FwdMode::spec)
      return die("Specific ports cannot be specified together with all/none/auto");
    fwd.mode = FwdMode::spec;

    const auto bad = [&] { return die(format("Invalid port specifier %s", oa)); };

    // Upstream works on a BUFSIZ copy: longer specs are cut.
    std::string buf = optarg.substr(0, kBufSiz - 1);
    PortBindRule rule{optname, optarg, std::nullopt, "", false, {}};
    std::string spec_str;
    if (const std::size_t slash = buf.find('/'); slash != std::string::npos) {
      spec_str = buf.substr(slash + 1);
      std::string addr = buf.substr(0, slash);
      if (optname != 't' && optname != 'u') return bad();
      bool addr_given = true;
      if (const std::size_t pct = addr.find('%'); pct != std::string::npos) {
        rule.ifname = addr.substr(pct + 1);
        if (rule.ifname.size() >= kIfNamSiz) return bad();
        addr_given = pct != 0;
        addr.resize(pct);
      }
      if (addr_given) {
        // Square brackets are allowed, for IPv4 too.
        if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']')
          addr = addr.substr(1, addr.size() - 2);
        auto a = pton_any(addr.c_str());
        if (!a) return bad();
        rule.addr = *a;
      }
    } else {
      spec_str = buf;
    }
    const char* spec = spec_str.c_str();

    // Exclusions first: they may follow the ranges they cut.
    PortBitmap exclude;
    bool exclude_only = true;
    const char* p = spec;
    do {
      if (*p != '~') {
        exclude_only = false;
        continue;
      }
      p++;
      PortRun x;
      if (!parse_port_range(p, &p, &x)) return bad();
      if (*p != '\0' && *p != ',') return bad();
      for (u32 i = x.first; i <= x.last; i++) {
        if (exclude.test(static_cast<u16>(i)))
          return die(format("Overlapping excluded ranges %s", oa));
        exclude.set(static_cast<u16>(i));
      }
    } while ((p = next_chunk(p, ',')) != nullptr);

    if (exclude_only) {
      // All non-ephemeral ports but the excluded ones; bind failures are
      // tolerated as long as one port binds.
      rule.weak = true;
      for (u32 i = 1; i < 65536; i++) {
        const auto port = static_cast<u16>(i);
        if (is_ephemeral(i) || exclude.test(port)) continue;
        fwd.forwarded.set(port);
        add_port(rule.ports, port, false);
      }
      if (rule.ports.empty())
        return die(format("Failed to bind any port for '-%c %s', exiting", optname, oa));
      fwd.rules.push_back(std::move(rule));
      return true;
    }

    bool warned = false;
    p = spec;
    do {
      if (*p == '~') continue;  // already parsed
      PortRun orig;
      PortRun mapped;
      if (!parse_port_range(p, &p, &orig)) return bad();
      if (*p == ':') {
        if (!parse_port_range(p + 1, &p, &mapped)) return bad();
        if (mapped.last - mapped.first != orig.last - orig.first) return bad();
      } else {
        mapped = orig;
      }
      if (*p != '\0' && *p != ',') return bad();
      bool new_run = true;
      const auto delta = static_cast<u16>(mapped.first - orig.first);
      for (u32 i = orig.first; i <= orig.last; i++) {
        const auto port = static_cast<u16>(i);
        // Upstream logs this once per re-mapped port; once per option is
        // enough to be useful.
        if (fwd.forwarded.test(port) && !warned) {
          warn(format("Altering mapping of already mapped port number: %s", oa));
          warned = true;
        }
        if (exclude.test(port)) {
          new_run = true;
          continue;
        }
        fwd.forwarded.set(port);
        fwd.set_delta(port, delta);
        add_port(rule.ports, port, new_run);
        new_run = false;
      }
    } while ((p = next_chunk(p, ',')) != nullptr);
    // Everything excluded ("5-9,~5-9"): nothing to bind, not an error.
    if (!rule.ports.empty()) fwd.rules.push_back(std::move(rule));
    return true;
  }

  // ---- after pass 2: what follows the options ----

  bool positional() {
    const int first = first_positional_;
    if (mode_ == Mode::passt) {
      if (first != argc_) return die(format("Extra non-option argument: %s", argv_[first]));
      return true;
    }
    core::PastaNs& ns = c_.ns;
    const bool netns_given = !netns_.empty();
    if (netns_given && first != argc_) return die("Both --netns and PID or command given");
    bool is_pid = false;
    if (first + 1 == argc_) {
      char* end = nullptr;
      const long pid = std::strtol(argv_[first], &end, 10);
      if (*end == '\0') {
        // Note: like upstream, an empty argument reads as PID 0.
        if (pid < 0 || pid > INT_MAX) return die(format("Invalid PID %s", argv_[first]));
        is_pid = true;
        ns.pid = pid;
        netns_ = format("/proc/%ld/ns/net", pid);
        if (userns_.empty()) userns_ = format("/proc/%ld/ns/user", pid);
      }
    }
    if (!netns_.empty() && userns_.empty()) netns_only_ = true;
    ns.target = netns_given ? core::NsTarget::netns
                            : (is_pid ? core::NsTarget::pid : core::NsTarget::spawn);
    ns.netns_path = netns_;
    ns.userns_path = userns_;
    ns.netns_only = netns_only_;
    if (ns.target == core::NsTarget::spawn) {
      for (int i = first; i < argc_; i++) ns.command.emplace_back(argv_[i]);
    }
    return true;
  }

  void finish() {
    if (c_.config_net) c_.no_ra = true;
    if (mode_ == Mode::passt) c_.no_splice = true;
    const FwdMode dflt = mode_ == Mode::pasta ? FwdMode::automatic : FwdMode::none;
    for (PortFwd* f : {&c_.fwd_in.tcp, &c_.fwd_in.udp, &c_.fwd_out.tcp, &c_.fwd_out.udp})
      if (f->mode == FwdMode::unset) f->mode = dflt;
    for (const std::string& s : search_slots_) {
      if (s.empty()) break;
      (void)c_.dns_search.push(s);
    }
  }

  std::string version_text() const {
    return format("%s %.*s\n", core::mode_name(mode_), static_cast<int>(env_.version.size()),
                  env_.version.data()) +
           "A C++ re-implementation of passt/pasta, command-line compatible with it.\n"
           "Free software: you may redistribute and change it.  There is NO WARRANTY.\n";
  }

  Mode mode_;
  int argc_;
  char* const* argv_;
  const CliEnv& env_;
  const char* prog_;
  Config c_;
  ParseOutcome out_;
  std::vector<Deferred> deferred_;
  int first_positional_ = 1;
  std::string runas_;
  bool has_runas_ = false;
  std::string userns_;
  std::string netns_;
  bool netns_only_ = false;
  bool no_copy_routes_opt_ = false;
  bool no_copy_addrs_opt_ = false;
  std::array<std::string, core::kMaxDnsSearch> search_slots_{};
  std::size_t search_next_ = 0;
};

}  // namespace

Result<core::Mode> mode_from_argv0(std::string_view argv0) noexcept {
  // POSIX basename(): trailing slashes do not count.
  while (argv0.size() > 1 && argv0.back() == '/') argv0.remove_suffix(1);
  if (const std::size_t slash = argv0.rfind('/');
      slash != std::string_view::npos && argv0.size() > 1)
    argv0.remove_prefix(slash + 1);
  if (argv0.find("pasta") != std::string_view::npos) return Mode::pasta;
  if (argv0.find("passt") != std::string_view::npos) return Mode::passt;
  return Err::invalid;
}

const ::option* cli_long_options() noexcept { return kLongOptions; }

const char* cli_optstring(core::Mode mode) noexcept {
  return mode == Mode::pasta ? kPastaOptstring : kPasstOptstring;
}

Result<ParseOutcome> parse_cli(core::Mode mode, int argc, char* const argv[], const CliEnv& env) {
  if (argc < 1 || argv == nullptr) return Err::invalid;
  Parser parser(mode, argc, argv, env);
  return parser.run();
}

std::string usage_text(core::Mode mode, std::string_view prog_sv) {
  const std::string prog(prog_sv);
  const bool pasta = mode == Mode::pasta;
  const char* peer = pasta ? "namespace" : "guest";
  std::string s;
  if (pasta) {
    s += format("Usage: %s [OPTION]... [COMMAND [ARG]...]\n", prog.c_str());
    s += format("       %s [OPTION]... PID\n", prog.c_str());
    s += format("       %s [OPTION]... --netns [PATH|NAME]\n", prog.c_str());
    s +=
        "\n"
        "Connects a network namespace to the host's network through a tap\n"
        "device and ordinary host sockets.  With neither PID nor --netns, a\n"
        "new user and network namespace is created for COMMAND (by default a\n"
        "login shell).\n";
  } else {
    s += format("Usage: %s [OPTION]...\n", prog.c_str());
    s +=
        "\n"
        "Connects a virtual machine's Ethernet link (a qemu stream socket or\n"
        "a vhost-user socket) to the host's network through ordinary host\n"
        "sockets.\n";
  }
  s +=
      "\n"
      "General:\n"
      "  -d, --debug             log debug messages, also to standard error\n"
      "      --trace             log every packet; implies --debug\n"
      "  -q, --quiet             log warnings and errors only\n"
      "  -f, --foreground        do not daemonize\n"
      "  -e, --stderr            deprecated, has no effect\n"
      "  -l, --log-file PATH     log to PATH instead of the system log\n"
      "      --log-size BYTES    truncate the log file at this size\n"
      "                          (default 1 MiB, at least 40 KiB)\n"
      "      --runas UID|UID:GID|LOGIN|LOGIN:GROUP\n"
      "                          user and group to run as (default: the\n"
      "                          current ones; \"nobody\" if started as root)\n"
      "  -h, --help              print this help and exit\n"
      "      --version           print the version and exit\n"
      "  -p, --pcap FILE         capture the frames exchanged with the " +
      std::string(peer) +
      "\n"
      "  -P, --pid FILE          write the process ID to FILE\n";
  if (pasta) {
    s +=
        "  -F, --fd FD             use FD (> 2) as the already-opened tap device\n"
        "  -I, --ns-ifname NAME    name of the tap device in the namespace\n"
        "                          (default: the template interface's name,\n"
        "                          or tap0)\n";
  } else {
    s +=
        "  -s, --socket, --socket-path PATH\n"
        "                          UNIX socket to listen on (default: the first\n"
        "                          free one of /tmp/passt_1.socket ... _99)\n"
        "      --vhost-user        serve vhost-user on that socket\n"
        "      --print-capabilities  print the vhost-user back-end capabilities\n"
        "                          (JSON) and exit\n"
        "  -F, --fd FD             use FD (> 2) as the already-connected socket;\n"
        "                          implies --one-off\n"
        "  -1, --one-off           exit when the first client disconnects\n";
  }
  s +=
      "\n"
      "Addresses and routes:\n"
      "  -m, --mtu MTU           MTU to announce (68-65535; 0: announce none)\n"
      "                          (default 65520)\n"
      "  -a, --address ADDR      IPv4 or IPv6 address for the " +
      std::string(peer) +
      ", once per family\n"
      "                          (default: the template interface's address)\n"
      "  -n, --netmask MASK      IPv4 netmask, dotted or prefix length\n"
      "  -M, --mac-addr ADDR     our own MAC address (default 9a:55:9a:55:9a:55)\n"
      "  -g, --gateway ADDR      IPv4 or IPv6 gateway; once per family\n"
      "                          (default: the template interface's gateway)\n"
      "  -i, --interface NAME    template interface for addresses and routes\n"
      "                          (default: --outbound-if4/6, else the interface\n"
      "                          of the first default route)\n"
      "  -o, --outbound ADDR     source address for host sockets; once per family\n"
      "      --outbound-if4 NAME  bind IPv4 host sockets to interface NAME\n"
      "      --outbound-if6 NAME  bind IPv6 host sockets to interface NAME\n"
      "  -4, --ipv4-only         IPv4 only\n"
      "  -6, --ipv6-only         IPv6 only\n"
      "\n"
      "DNS:\n"
      "  -D, --dns ADDR          resolver to announce; repeatable (3 per family);\n"
      "                          'none' announces none\n";
  s += pasta ? "                          (default: none)\n"
             : "                          (default: from /etc/resolv.conf)\n";
  s +=
      "  -S, --search DOMAIN     search domain to announce; repeatable (up to 6);\n"
      "                          'none' announces none\n";
  s += pasta ? "                          (default: none)\n"
             : "                          (default: from /etc/resolv.conf)\n";
  if (pasta) {
    s +=
        "      --dhcp-dns          announce resolvers via DHCP, DHCPv6 and NDP\n"
        "      --dhcp-search       announce search domains via DHCP, DHCPv6, NDP\n";
  } else {
    s +=
        "      --no-dhcp-dns       do not announce resolvers (DHCP, DHCPv6, NDP)\n"
        "      --no-dhcp-search    do not announce search domains\n";
  }
  s +=
      "      --dns-forward ADDR  redirect DNS (TCP and UDP, ports 53 and 853)\n"
      "                          sent to ADDR to the --dns-host resolver\n"
      "      --dns-host ADDR     host resolver for --dns-forward (default: the\n"
      "                          first nameserver in /etc/resolv.conf)\n"
      "  -H, --hostname NAME     host name to hand out (DHCP, DHCPv6)\n"
      "      --fqdn NAME         fully qualified name to hand out (DHCP, DHCPv6)\n"
      "\n"
      "Address translation:\n"
      "      --map-host-loopback ADDR|none\n"
      "                          traffic to ADDR reaches the host's loopback\n"
      "                          (default: the gateway address)\n"
      "      --map-guest-addr ADDR|none\n"
      "                          traffic to ADDR reaches the host's address\n"
      "                          that the " +
      std::string(peer) +
      " uses (default: none)\n"
      "      --no-map-gw         do not map the gateway address to the host\n"
      "      --freebind          allow forwarding from non-local addresses\n";
  if (pasta)
    s +=
        "      --host-lo-to-ns-lo  deprecated: connections from host loopback\n"
        "                          arrive at namespace loopback\n";
  s +=
      "\n"
      "Protocols and services:\n"
      "      --no-tcp            disable TCP\n"
      "      --no-udp            disable UDP\n"
      "      --no-icmp           disable ICMP and ICMPv6 echo\n"
      "      --no-dhcp           disable the DHCP server\n"
      "      --no-ndp            disable NDP responses\n"
      "      --no-dhcpv6         disable the DHCPv6 server\n"
      "      --no-ra             disable router advertisements\n";
  if (pasta) s += "      --no-splice         do not splice inbound loopback connections\n";
  s +=
      "\n"
      "Port forwarding:\n"
      "  -t, --tcp-ports SPEC    TCP ports to forward from the host to the " +
      std::string(peer) +
      "\n"
      "  -u, --udp-ports SPEC    the same for UDP\n";
  if (pasta)
    s +=
        "  -T, --tcp-ns SPEC       TCP ports to forward from the namespace's\n"
        "                          loopback to the host's loopback\n"
        "  -U, --udp-ns SPEC       the same for UDP\n";
  s += pasta ? "    SPEC is 'none', 'auto' (follow the ports bound on the other side;\n"
               "    the default), or a list as below.\n"
             : "    SPEC is 'none' (the default), 'all' (every port outside the\n"
               "    ephemeral range), or a list:\n";
  s +=
      "      [ADDR/ | ADDR%IF/ | %IF/]ITEM[,ITEM]...   (ADDR and IF: -t/-u only)\n"
      "      ITEM is PORT, FIRST-LAST, a range to forward to a range of the same\n"
      "      length (80-89:8080-8089), or ~RANGE to leave a range out; a list\n"
      "      of exclusions only means every non-ephemeral port but those.\n"
      "    Examples: -t 22   -t 8080:80   -t 127.0.0.1/5000-5010   -t ~20-25\n"
      "    Options add up; none/auto/all do not mix with lists.\n";
  if (pasta) {
    s +=
        "\n"
        "Namespaces:\n"
        "      --userns PATH       user namespace to join\n"
        "      --netns PATH|NAME   network namespace to join (NAME: /run/netns/NAME)\n"
        "      --netns-only        do not join or create a user namespace\n"
        "                          (implied by --netns or PID without --userns)\n"
        "      --no-netns-quit     keep running when the namespace file goes away\n"
        "      --config-net        configure the tap device: addresses, routes, MTU\n"
        "      --no-copy-routes    deprecated: set only a default route\n"
        "      --no-copy-addrs     deprecated: set only one address\n"
        "      --ns-mac-addr ADDR  MAC address of the tap device\n";
  }
  return s;
}

}  // namespace passt::app
