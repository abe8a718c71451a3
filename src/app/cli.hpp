// The passt / pasta command line: argv -> Config, or an action to exit with.
//
// Theory of operation
// -------------------
// parse_cli() is a pure function (no I/O, no exit, no environment reads): it
// runs glibc's getopt_long() over argv with upstream's option table and
// optstrings ('+': the first non-option ends the options, "--" works,
// unique prefixes of long options are accepted) and returns what the
// program must do.  getopt's own error printing is switched off; we rebuild
// glibc 2.36's exact messages ("%s: unrecognized option '%s'", ...) because
// clients match them (Podman retries without an option when it sees
// "unrecognized option '--map-guest-addr").
//
// Upstream parses argv three times (conf.c): pass 1 takes every option but
// -t -u -T -U -D, then it probes the host, pass 2 takes -t -u -D (binding
// host sockets), the namespace is set up, pass 3 takes -T -U.  We do the same
// passes over the recorded options, without the host parts in between, so
// the first error reported is the one upstream reports: every pass-1 error
// (in argv order) beats every -t/-u/-D error, which beats the pasta
// PID/--netns/COMMAND checks, which beat -T/-U errors.  Errors that need the
// host ("Failed to bind port", "Invalid interface name eth9: No such device",
// unknown --runas names, unusable template interface) are not parse errors:
// they come from the start-up step that applies the Config.
//
// Output contract: print `warnings` first (each is one log line at WARNING
// level, e.g. "--stderr will be dropped soon"), then, for Action::exit,
// `out` to stdout and `err` to stderr verbatim, and exit with `exit_code`.
// A die()-style error is `err` = "message\n" with exit code 1, like
// upstream's die(); a getopt error is glibc's message followed by the usage
// text on stderr, exit code 1.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "util/result.hpp"

struct option;  // <getopt.h>

namespace passt::app {

inline constexpr std::string_view kVersion = "0.1.0";

// Host facts the parser needs but must not read itself.
struct CliEnv {
  // /proc/sys/net/ipv4/ip_local_port_range: the ports "all" and
  // exclusion-only specs leave out.
  u16 ephemeral_first = core::kEphemeralFirstDefault;
  u16 ephemeral_last = core::kEphemeralLastDefault;
  std::string_view version = kVersion;
};

struct ParseOutcome {
  enum class Action : u8 {
    run,   // `config` holds the parsed configuration
    exit,  // print `out`/`err`, exit with `exit_code`
  };
  Action action = Action::exit;
  int exit_code = 0;
  std::string out;  // for stdout (help, version)
  std::string err;  // for stderr (errors, usage after a getopt error,
                    // --print-capabilities, which upstream prints there)
  std::vector<std::string> warnings;  // log lines, before anything else
  std::optional<core::Config> config;
};

// Mode from argv[0]: the basename containing "pasta" -> pasta, else one
// containing "passt" -> passt, else Err::invalid (print kModeError, exit 1).
Result<core::Mode> mode_from_argv0(std::string_view argv0) noexcept;
inline constexpr std::string_view kModeError =
    "Cannot determine mode, invoke as \"passt\" or \"pasta\"";

// Parses argv[1..argc-1]; argv[0] is the program name used in messages.
// Err::invalid only if argc < 1 or argv is null.  Not thread-safe (getopt's
// state is global); it resets that state (optind = 0) itself.
Result<ParseOutcome> parse_cli(core::Mode mode, int argc, char* const argv[],
                               const CliEnv& env = {});

// The tables parse_cli() hands to getopt_long() (tests compare our messages
// with the ones glibc prints itself from these).
const ::option* cli_long_options() noexcept;
const char* cli_optstring(core::Mode mode) noexcept;

// The --help text for a mode (our own wording), with `prog` as the name.
std::string usage_text(core::Mode mode, std::string_view prog);

}  // namespace passt::app
