// Building injected frames and matching expected ones, through the wire
// reprs (src/wire); and rendering any frame as a script line.
//
// Theory of operation
// -------------------
// build_frame() evaluates every field of a `<` line (variables must be
// bound: the parser guarantees it statically) and writes the L4 message
// first (DHCP, DHCPv6 and NDP through their reprs' emit, TCP with its
// options in the order written, UDP, ICMP), then the IP header, then the
// Ethernet header, with correct checksums unless the line overrides them.
// Unstated fields take the defaults of docs/scripts.md ("Defaults").
//
// match_frame() parses a received frame once (wire::parse_frame and the
// protocol's repr), verifies every checksum, checks the Ethernet addresses
// (given, or the derived defaults), the kind of message, then each field
// of the `>` line in order: a wildcard accepts anything present, a capture
// binds, a literal or bound variable must be equal (numbers with an offset
// are compared modulo the field's width).  Payload length and TCP options
// are always checked (absent means none).  The first difference is the
// result, in words.
//
// describe_frame() renders a frame in script syntax, for failure messages
// and traces; it never fails (unparseable frames are shown as `raw`).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sim/script/script.hpp"
#include "util/types.hpp"

namespace passt::sim::script {

// Variable values during a run, indexed like Script::vars.
using Bindings = std::vector<std::optional<Value>>;

struct FrameEnv {
  MacAddr guest_mac;
  MacAddr our_mac;
};

// Builds a `<` frame.  False with `err` if a value cannot be used (e.g. a
// variable bound at run time to a value that does not fit the field).
bool build_frame(const FrameSpec& f, const FrameEnv& env, const Bindings& vars,
                 std::vector<u8>& out, std::string& err);

// Matches a `>` line against a received frame, binding captures.  On
// failure `why` says what differs; captures made before the failure may
// have been bound.
bool match_frame(const FrameSpec& s, Bytes frame, const FrameEnv& env, Bindings& vars,
                 std::string& why);

std::string describe_frame(Bytes frame);

// The EUI-64 link-local address of a MAC.
Ipv6Addr eui64_link_local(const MacAddr& m) noexcept;

}  // namespace passt::sim::script
