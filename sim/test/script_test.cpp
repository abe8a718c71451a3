// Scripted tests (sim/script): parser, frame builder/matcher, interpreter
// timing rules, and the simulator backend end to end.
#include <gtest/gtest.h>

#include <deque>
#include <string>

#include "core/config.hpp"
#include "core/net_info.hpp"
#include "sim/script/frames.hpp"
#include "sim/script/interp.hpp"
#include "sim/script/script.hpp"
#include "sim/script/sim_backend.hpp"
#include "wire/frame.hpp"

namespace passt::sim::script {
namespace {

ParseResult P(const std::string& text) { return parse_script(text); }

// The line and message of a parse error, for EXPECT_* output.
std::string err_of(const std::string& text) {
  ParseResult r = P(text);
  if (r.ok) return "(parsed)";
  return std::to_string(r.error.line) + ": " + r.error.msg;
}

// --- Parser -------------------------------------------------------------------------

TEST(ScriptParser, HeaderAndSteps) {
  ParseResult r = P(
      "# comment\n"
      "mode passt\n"
      "args -t 10080  # trailing comment\n"
      "args-pasta --dhcp-dns\n"
      "tolerance 0.2\n"
      "guest-mac 02:00:00:00:00:07\n"
      "set $port 8080\n"
      "\n"
      "0.5 < arp who-has 198.51.100.254 tell 198.51.100.1\n"
      "+0.25 > arp reply 198.51.100.254 is-at $m\n"
      "1 wait\n");
  ASSERT_FALSE(!r.ok) << r.error.line << ": " << r.error.msg;
  const Script& s = r.script;
  EXPECT_EQ(s.modes, kModePasst);
  ASSERT_EQ(s.args.size(), 2u);
  EXPECT_EQ(s.args[1], "10080");
  ASSERT_EQ(s.args_pasta.size(), 1u);
  EXPECT_EQ(*s.tolerance_ns, 200000000);
  EXPECT_EQ(s.guest_mac.b[5], 7);
  ASSERT_EQ(s.steps.size(), 3u);
  EXPECT_EQ(s.steps[1].t_ns, 750000000);
}

TEST(ScriptParser, HostPortsAreLiteral) {
  // Host actions take literal addresses only.
  EXPECT_EQ(err_of("0 host listen $port\n"), "1: bad port at '$port'");
}

TEST(ScriptParser, TimesAbsoluteAndRelative) {
  ParseResult r = P("0.5 wait\n+0.25 wait\n1 wait\n+0.000000001 wait\n");
  ASSERT_TRUE(r.ok) << r.error.msg;
  ASSERT_EQ(r.script.steps.size(), 4u);
  EXPECT_EQ(r.script.steps[0].t_ns, 500000000);
  EXPECT_EQ(r.script.steps[1].t_ns, 750000000);
  EXPECT_EQ(r.script.steps[2].t_ns, 1000000000);
  EXPECT_EQ(r.script.steps[3].t_ns, 1000000001);
  EXPECT_EQ(r.script.steps[3].line, 4u);
}

TEST(ScriptParser, ErrorsNameTheLine) {
  EXPECT_EQ(err_of("\n\nfoo bar\n"), "3: unknown header directive (mode, sim-only, slow, pending, requires, window-updates, "
                                     "args, args-passt, args-pasta, tolerance, guest-mac, set) at 'foo'");
  EXPECT_EQ(err_of("requires sctp\n"), "1: unknown feature (tcp, udp, icmp) at 'sctp'");
  EXPECT_EQ(err_of("1 wait\n0.5 wait\n"), "2: time '0.5' goes backwards");
  EXPECT_EQ(err_of("0 wait\nmode passt\n"), "2: header directives come before the first step at 'mode'");
  EXPECT_EQ(err_of("0 < arp who-has * tell 198.51.100.1\n"),
            "1: wildcard '*' is only allowed in '>' lines at '*'");
  EXPECT_EQ(err_of("0 > udp 1.2.3.4:1 > 1.2.3.5:2 csum 0\n"),
            "1: checksums are always verified in '>' lines, never matched at 'csum'");
  EXPECT_EQ(err_of("0 < tcp 1.2.3.4:1 > 1.2.3.5:2 S seq $isn\n"),
            "1: unknown variable (variables are predefined, set in the header, or captured in an "
            "earlier '>' line) at '$isn'");
  EXPECT_EQ(err_of("0 > arp reply 1.2.3.4 is-at $x\n+0 < arp who-has $x tell 1.2.3.4\n"),
            "2: variable is a MAC address, the field needs an IPv4 address at '$x'");
  EXPECT_EQ(err_of("0 < udp 1.2.3.4:1 > 1.2.3.5:2 data \"abc\n"), "1: unterminated string");
  EXPECT_EQ(err_of("0 < tcp 1.2.3.4:1 > 1.2.3.5:2 S <mss 1460\n"), "1: unterminated option list '<...'");
  EXPECT_EQ(err_of("0 < tcp 1.2.3.4:1 > 1.2.3.5:2 S <mss 1460,bogus>\n"),
            "1: unknown TCP option 'bogus' (mss, wscale, sackOK, nop, eol, TS)");
  EXPECT_EQ(err_of("0 < tcp 1.2.3.4:1 > 1.2.3.5:70000 S\n"),
            "1: number does not fit 16 bits at '70000' (in '1.2.3.5:70000')");
  EXPECT_EQ(err_of("0 < dhcp discover xid 1 flux 3\n"), "1: unknown field for dhcp at 'flux'");
  EXPECT_EQ(err_of("0 host send 10\n"),
            "1: no host connection named 'c' (create it with 'host accept' or 'host connect')");
  EXPECT_EQ(err_of("0 host listen 80\n+0 host send 1 on l\n"), "2: host object 'l' is a listener");
  EXPECT_EQ(err_of("0 < icmp6 ::1 > ::2 ra valid 5\n"), "1: must follow the option it belongs to at 'valid'");
  EXPECT_EQ(err_of("0 > dhcp offer xid $x+1\n"), "1: a capture cannot have an offset at '$x+1'");
  EXPECT_EQ(err_of("0 < icmp6 ::1 > ::2 rs len 4\n"), "1: NDP messages carry options, not a payload at 'len'");
  EXPECT_EQ(err_of(std::string(5000, 'x') + "\n"), "1: line longer than 4096 bytes");
  EXPECT_EQ(err_of("0 < tcp 1.2.3.4:1 > [::1]:2 S\n"),
            "1: source and destination are of different families at '[::1]:2'");
  EXPECT_EQ(err_of("3601 wait\n"), "1: bad time '3601' (seconds, up to 9 decimals, below 3600)");
}

TEST(ScriptParser, CapturesBindOnceAndKeepTheirType) {
  ParseResult r = P(
      "0 > tcp 1.2.3.4:80 > 5.6.7.8:$sport S. seq $isn ack 1 <mss *>\n"
      "+0 < tcp 5.6.7.8:$sport > 1.2.3.4:80 . seq 1 ack $isn+1\n"
      "+0 > tcp 1.2.3.4:80 > 5.6.7.8:$sport . seq $isn+1 ack 1\n");
  ASSERT_TRUE(r.ok) << r.error.line << ": " << r.error.msg;
  const Script& s = r.script;
  int captures = 0;
  for (const VarDef& v : s.vars)
    if (!v.predefined) captures++;
  EXPECT_EQ(captures, 2);
  const FrameSpec& f0 = s.steps[0].frame;
  EXPECT_TRUE(f0.dport.capture);
  const FrameSpec& f2 = s.steps[2].frame;
  EXPECT_FALSE(f2.dport.capture);
}

TEST(ScriptParser, StepLimitIsEnforced) {
  std::string t;
  for (std::size_t i = 0; i <= kMaxSteps; i++) t += "+0 wait\n";
  ParseResult r = P(t);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.line, kMaxSteps + 1);
}

TEST(ScriptParser, AllScriptDirectivesAndPredefinedVariables) {
  ParseResult r = P(
      "sim-only needs virtual time\nslow takes 10 s\npending not yet\n"
      "0 > eth $our_mac > $guest_mac icmp6 $our_ll > $guest_ll na $addr6 flags RSO tlla $our_mac\n"
      "+0 > dhcp $gw4:67 > $addr4:68 offer xid 1 server-id $our4 mtu $mtu\n");
  ASSERT_TRUE(r.ok) << r.error.msg;
  EXPECT_TRUE(r.script.sim_only);
  EXPECT_TRUE(r.script.slow);
  EXPECT_EQ(r.script.slow_reason, "takes 10 s");
  EXPECT_EQ(r.script.pending_reason, "not yet");
  EXPECT_EQ(err_of("slow\n"), "1: slow needs a reason");
}

TEST(ScriptParser, ErrorsInsideEndpointsAndOptions) {
  // The parts are parsed on a temporary token list; the message names the
  // original token (which must still be alive: fuzz corpus regress_endpoint_uaf).
  EXPECT_EQ(err_of("0 < udp 1.2.3.4:99999 > 1.2.3.5:1\n"),
            "1: number does not fit 16 bits at '99999' (in '1.2.3.4:99999')");
  EXPECT_EQ(err_of("0 > tcp 1.2.3.4:1 > 1.2.3.5:1 S <mss 1,wscale 300>\n"), "1: number does not fit 8 bits at '300'");
  EXPECT_EQ(err_of("0 > tcp 1.2.3.4:1 > 1.2.3.5:1 S <mss 1,,nop>\n"), "1: empty TCP option in '<mss 1,,nop>'");
}

TEST(ScriptParser, HostObjectsHaveKinds) {
  ParseResult r = P("0 host udp-bind [2001:db8::1]:53 as d\n+0 host udp-recv 0x00112233445566 from [2001:db8::2]:* on d\n");
  ASSERT_TRUE(r.ok) << r.error.msg;
  const HostAction& h = r.script.steps[1].host;
  EXPECT_EQ(h.op, HostOp::udp_recv);
  EXPECT_EQ(h.data.size(), 7u);
  EXPECT_TRUE(h.from_given && h.from_any_port && h.from.v6);
  EXPECT_EQ(err_of("0 host udp-bind 53\n+0 host send 1 on u\n"), "2: host object 'u' is a UDP socket");
  EXPECT_EQ(err_of("0 host listen 53\n+0 host udp-send 127.0.0.1:1 1 on l\n"), "2: host object 'l' is a listener");
  EXPECT_EQ(err_of("0 host udp-recv 1\n"), "1: no host UDP socket named 'u' (create it with 'host udp-bind')");
  EXPECT_EQ(err_of("0 host udp-bind 53\n+0 host udp-send 127.0.0.1:1 65508\n"),
            "2: a UDP datagram holds at most 65507 bytes at '65508'");
  EXPECT_EQ(err_of("0 host udp-bind 53\n+0 host udp-recv 1 from 127.0.0.1\n"), "2: expected ADDRESS:PORT at '127.0.0.1'");
  EXPECT_EQ(err_of("0 host connect 127.0.0.1:1\n+0 host send \"\"\n"), "2: no bytes at ''");
  // close takes any kind.
  EXPECT_TRUE(P("0 host udp-bind 53 as d\n+0 host close on d\n").ok);
}

// --- Frames -----------------------------------------------------------------------------

struct Built {
  std::vector<u8> bytes;
  Script script;
};

Built build_one(const std::string& line, const FrameEnv& env) {
  ParseResult r = P(line);
  EXPECT_TRUE(r.ok) << r.error.msg;
  Built b;
  if (!r.ok) return b;
  b.script = r.script;
  Bindings vars(b.script.vars.size());
  std::string err;
  EXPECT_TRUE(build_frame(b.script.steps[0].frame, env, vars, b.bytes, err)) << err;
  return b;
}

// Matches `expect_line` (a `>` line) against `frame`; the matcher's "our
// MAC" is the builder's guest MAC (the frame went the other way).
bool matches(const std::string& expect_line, Bytes frame, const FrameEnv& built_env, std::string& why,
             Bindings* keep = nullptr) {
  ParseResult r = P(expect_line);
  EXPECT_TRUE(r.ok) << r.error.msg;
  if (!r.ok) return false;
  FrameEnv menv{built_env.our_mac, built_env.guest_mac};
  Bindings vars(r.script.vars.size());
  bool ok = match_frame(r.script.steps[0].frame, frame, menv, vars, why);
  if (keep != nullptr) *keep = vars;
  return ok;
}

const FrameEnv kEnv{{{0x52, 0x54, 0, 0x12, 0x34, 0x56}}, {{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}}};

TEST(ScriptFrames, TcpRoundTripWithOptionsInOrder) {
  Built b = build_one(
      "0 < tcp 198.51.100.1:40000 > 203.0.113.5:80 S seq 1000 win 64240 <mss 1460,sackOK,nop,wscale 7>\n", kEnv);
  auto f = wire::parse_frame(Bytes(b.bytes));
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(wire::frame_checksums_ok(*f));
  std::string why;
  EXPECT_TRUE(matches("0 > tcp 198.51.100.1:40000 > 203.0.113.5:80 S seq 1000 win 64240 "
                      "<mss 1460,sackOK,nop,wscale 7>\n",
                      Bytes(b.bytes), kEnv, why))
      << why;
  EXPECT_TRUE(matches("0 > tcp *:* > 203.0.113.5:80 S seq * win * <mss *,sackOK,nop,wscale *>\n", Bytes(b.bytes),
                      kEnv, why))
      << why;
  // Order matters, absence means none, values are compared.
  EXPECT_FALSE(matches("0 > tcp *:* > *:* S <sackOK,mss 1460,nop,wscale 7>\n", Bytes(b.bytes), kEnv, why));
  EXPECT_FALSE(matches("0 > tcp *:* > *:* S\n", Bytes(b.bytes), kEnv, why));
  EXPECT_FALSE(matches("0 > tcp *:* > *:* S <mss 1400,sackOK,nop,wscale 7>\n", Bytes(b.bytes), kEnv, why));
  EXPECT_EQ(why, "option mss: expected 1400 (0x578), got 1460 (0x5b4)");
  EXPECT_FALSE(matches("0 > tcp *:* > *:* S. <*>\n", Bytes(b.bytes), kEnv, why));
  EXPECT_EQ(why, "flags: expected 18 (0x12), got 2");
  EXPECT_TRUE(matches("0 > tcp *:* > *:* S <*>\n", Bytes(b.bytes), kEnv, why)) << why;
}

TEST(ScriptFrames, CapturesAndOffsetsWrap) {
  Built b = build_one("0 < tcp 1.2.3.4:1 > 5.6.7.8:2 S. seq 4294967295 ack 7\n", kEnv);
  std::string why;
  Bindings vars;
  ASSERT_TRUE(matches("0 > tcp 1.2.3.4:1 > 5.6.7.8:$p S. seq $isn ack 7\n", Bytes(b.bytes), kEnv, why, &vars))
      << why;
  // $isn was captured; a later line compares $isn+1 modulo 2^32.
  ParseResult r = P("0 > tcp 1.2.3.4:1 > 5.6.7.8:$p S. seq $isn ack 7\n+0 > tcp *:* > *:* S. seq $isn+1\n");
  ASSERT_TRUE(r.ok);
  Built c = build_one("0 < tcp 1.2.3.4:1 > 5.6.7.8:2 S. seq 0 ack 7\n", kEnv);
  FrameEnv menv{kEnv.our_mac, kEnv.guest_mac};
  Bindings v2(r.script.vars.size());
  ASSERT_TRUE(match_frame(r.script.steps[0].frame, Bytes(b.bytes), menv, v2, why)) << why;
  EXPECT_TRUE(match_frame(r.script.steps[1].frame, Bytes(c.bytes), menv, v2, why)) << why;
}

TEST(ScriptFrames, BadChecksumsNeverMatch) {
  Built b = build_one("0 < udp 1.2.3.4:1 > 5.6.7.8:2 len 10 csum 0x1234\n", kEnv);
  std::string why;
  EXPECT_FALSE(matches("0 > udp 1.2.3.4:1 > 5.6.7.8:2 len 10\n", Bytes(b.bytes), kEnv, why));
  EXPECT_EQ(why, "bad checksum");
  Built c = build_one("0 < udp 1.2.3.4:1 > 5.6.7.8:2 len 10 ipcsum 0x1234\n", kEnv);
  EXPECT_FALSE(matches("0 > udp 1.2.3.4:1 > 5.6.7.8:2 len 10\n", Bytes(c.bytes), kEnv, why));
  Built d = build_one("0 < udp 1.2.3.4:1 > 5.6.7.8:2 len 10\n", kEnv);
  EXPECT_TRUE(matches("0 > udp 1.2.3.4:1 > 5.6.7.8:2 len 10\n", Bytes(d.bytes), kEnv, why)) << why;
  EXPECT_FALSE(matches("0 > udp 1.2.3.4:1 > 5.6.7.8:2 len 11\n", Bytes(d.bytes), kEnv, why));
  EXPECT_FALSE(matches("0 > udp 1.2.3.4:1 > 5.6.7.8:2\n", Bytes(d.bytes), kEnv, why));
  EXPECT_EQ(why, "expected no payload, got 10 bytes");
}

TEST(ScriptFrames, EthernetDefaultsFollowTheDestination) {
  Built b = build_one("0 < dhcp discover xid 1\n", kEnv);
  auto f = wire::parse_frame(Bytes(b.bytes));
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->eth_dst.is_broadcast());
  EXPECT_EQ(f->eth_src, kEnv.guest_mac);
  EXPECT_EQ(f->src_port, 68);
  Built n = build_one("0 < icmp6 fe80::1 > ff02::1:ff00:ff ns 2001:db8::ff\n", kEnv);
  auto g = wire::parse_frame(Bytes(n.bytes));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->eth_dst, (MacAddr{{0x33, 0x33, 0xff, 0x00, 0x00, 0xff}}));
  EXPECT_EQ(g->hop_limit, 255);  // NDP default
  Built u = build_one("0 < udp 1.2.3.4:1 > 5.6.7.8:2\n", kEnv);
  auto h = wire::parse_frame(Bytes(u.bytes));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->eth_dst, kEnv.our_mac);
  EXPECT_EQ(h->hop_limit, 64);
}

TEST(ScriptFrames, DhcpFieldsOptionsAndOrder) {
  Built b = build_one(
      "0 < dhcp 198.51.100.254:67 > 198.51.100.1:68 offer op 2 xid 0x42 yiaddr 198.51.100.1 mask 255.255.255.0 "
      "router 198.51.100.254 dns 198.51.100.53,198.51.100.54 lease inf server-id 198.51.100.254 "
      "search example.org,example.com route 0.0.0.0/0 via 198.51.100.254 mtu 1500 opt 252 0x0102\n",
      kEnv);
  std::string why;
  EXPECT_TRUE(matches("0 > dhcp offer xid 0x42 dns 198.51.100.53,198.51.100.54 search EXAMPLE.org,example.com "
                      "route 0.0.0.0/0 via 198.51.100.254 lease 0xffffffff opt 252 0x0102 "
                      "opt-order 53,1,3,6,26,51,54,119,121,252 !rapid-commit !hostname !12\n",
                      Bytes(b.bytes), kEnv, why))
      << why;
  EXPECT_FALSE(matches("0 > dhcp offer xid 0x42 !mtu\n", Bytes(b.bytes), kEnv, why));
  EXPECT_EQ(why, "expected no mtu, got 1500 (0x5dc)");
  EXPECT_FALSE(matches("0 > dhcp ack xid 0x42\n", Bytes(b.bytes), kEnv, why));
  EXPECT_FALSE(matches("0 > dhcp offer xid 0x42 !route\n", Bytes(b.bytes), kEnv, why));
  EXPECT_FALSE(matches("0 > dhcp offer xid 0x42 hostname \"x\"\n", Bytes(b.bytes), kEnv, why));
  EXPECT_EQ(why, "hostname: missing");
}

TEST(ScriptFrames, NdpAndDhcpv6Groups) {
  Built ra = build_one(
      "0 < icmp6 fe80::1 > ff02::1 ra hop 64 flags MO lifetime 1800 slla 02:00:00:00:00:01 mtu 1500 "
      "prefix 2001:db8::/64 prefix-flags LA valid inf preferred 100 prefix 2001:db8:1::/64 prefix-flags L "
      "rdnss 2001:db8::53 dnssl example.org\n",
      kEnv);
  std::string why;
  EXPECT_TRUE(matches("0 > icmp6 fe80::1 > ff02::1 ra flags MO prefix 2001:db8::/64 preferred 100 "
                      "prefix 2001:db8:1::/64 prefix-flags L rdnss 2001:db8::53 dnssl example.org\n",
                      Bytes(ra.bytes), kEnv, why))
      << why;
  EXPECT_FALSE(matches("0 > icmp6 fe80::1 > ff02::1 ra prefix 2001:db8::/64\n", Bytes(ra.bytes), kEnv, why));
  EXPECT_EQ(why, "expected 1 prefix option(s), got 2");
  Built d6 = build_one(
      "0 < dhcp6 [fe80::1]:547 > [fe80::2]:546 reply xid 0x123 server-id 0x0003000102000000000a "
      "ia-na 1 t1 inf t2 inf addr 2001:db8::1 preferred inf valid inf ia-na 2 ia-status not-on-link "
      "status success dns 2001:db8::53\n",
      kEnv);
  EXPECT_TRUE(matches("0 > dhcp6 reply xid 0x123 server-id $sid ia-na 1 addr 2001:db8::1 ia-na 2 "
                      "ia-status 4 status 0 client-id 0x00030001525400123456\n",
                      Bytes(d6.bytes), kEnv, why))
      << why;
  EXPECT_FALSE(matches("0 > dhcp6 reply xid 0x123 !dns\n", Bytes(d6.bytes), kEnv, why));
}

TEST(ScriptFrames, DescribeNeverFails) {
  u8 junk[3] = {1, 2, 3};
  EXPECT_EQ(describe_frame(Bytes(junk, 3)), "raw 0x010203 (3 bytes)");
  Built b = build_one("0 < tcp 1.2.3.4:1 > 5.6.7.8:2 FP. seq 1 ack 2 win 3 len 4\n", kEnv);
  EXPECT_NE(describe_frame(Bytes(b.bytes)).find("tcp 1.2.3.4:1 > 5.6.7.8:2 FP. seq 1 ack 2 win 3 len 4"),
            std::string::npos);
}

// --- Interpreter timing ------------------------------------------------------------------------

// Frames arrive at planned times; injections are recorded.
class FakeBackend final : public Backend {
 public:
  struct Planned {
    i64 at;
    std::vector<u8> bytes;
  };
  std::deque<Planned> plan;
  std::vector<std::pair<i64, std::vector<u8>>> injected;
  i64 now = 0;
  i64 step = 1000000;  // 1 ms per advance

  i64 now_ns() override { return now; }
  bool advance(i64 until, std::deque<CapturedFrame>& frames) override {
    if (now >= until) {
      deliver(frames);
      return false;
    }
    now = std::min(until, now + step);
    deliver(frames);
    return now < until;
  }
  bool inject(Bytes f, std::string&) override {
    injected.emplace_back(now, std::vector<u8>(f.begin(), f.end()));
    return true;
  }
  Result<int> host_listen(const HostAddr&, u32) override { return 10; }
  Result<int> host_accept(int) override { return now >= 5000000 ? Result<int>(11) : Result<int>(Err::again); }
  Result<int> host_connect(const HostAddr&, u16) override { return 12; }
  Err host_connect_result(int) override { return Err::conn_refused; }
  Result<std::size_t> host_send(int, Bytes d) override { return d.size(); }
  Result<std::size_t> host_recv(int, MutBytes b) override {
    if (now < 3000000) return Err::again;
    const char* t = "hello";
    std::size_t n = std::min<std::size_t>(b.size(), 5 - got_);
    for (std::size_t i = 0; i < n; i++) b[i] = static_cast<u8>(t[got_ + i]);
    got_ += n;
    return n;
  }
  Status host_shutdown(int) override { return {}; }
  void host_close(int, bool) override {}
  Result<int> host_udp_bind(const HostAddr&) override { return 20; }
  Result<std::size_t> host_udp_send(int, const HostAddr& to, Bytes d) override {
    udp_sent.emplace_back(to, std::vector<u8>(d.begin(), d.end()));
    return d.size();
  }
  // "pong" from 127.0.0.1:5000 once, at 3 ms.
  Result<std::size_t> host_udp_recv(int, MutBytes b, HostAddr& from) override {
    if (now < 3000000 || pong_taken_) return Err::again;
    pong_taken_ = true;
    from.v6 = false;
    from.addr = InAny::from(Ipv4Addr::of(127, 0, 0, 1));
    from.port = 5000;
    const char* t = "pong";
    for (std::size_t i = 0; i < 4; i++) b[i] = static_cast<u8>(t[i]);
    return std::size_t{4};
  }
  std::vector<std::pair<HostAddr, std::vector<u8>>> udp_sent;

 private:
  bool pong_taken_ = false;
  void deliver(std::deque<CapturedFrame>& frames) {
    while (!plan.empty() && plan.front().at <= now) {
      frames.push_back({plan.front().at, plan.front().bytes});
      plan.pop_front();
    }
  }
  std::size_t got_ = 0;
};

std::vector<u8> arp_reply_bytes() {
  Built b = build_one("0 < eth 9a:55:9a:55:9a:55 > 52:54:00:12:34:56 arp reply 198.51.100.254 is-at "
                      "9a:55:9a:55:9a:55 tpa 198.51.100.1\n",
                      kEnv);
  return b.bytes;
}

RunResult run_fake(const std::string& text, FakeBackend& fb, i64 tol, i64 late = 0) {
  ParseResult r = P(text);
  EXPECT_TRUE(r.ok) << r.error.msg;
  Env env;
  env.our_mac = kEnv.our_mac;
  RunOptions o;
  o.tolerance_ns = tol;
  o.late_tolerance_ns = late;
  o.settle_ns = 10000000;
  return run_script(r.script, env, fb, o);
}

const char* kArpScript =
    "0.010 < arp who-has 198.51.100.254 tell 198.51.100.1\n"
    "0.020 > arp reply 198.51.100.254 is-at $our_mac\n";

TEST(ScriptInterp, FrameWithinToleranceMatches) {
  FakeBackend fb;
  fb.plan.push_back({25000000, arp_reply_bytes()});
  RunResult r = run_fake(kArpScript, fb, 10000000);
  EXPECT_TRUE(r.ok) << r.line << ": " << r.msg;
  ASSERT_EQ(fb.injected.size(), 1u);
  EXPECT_EQ(fb.injected[0].first, 10000000);  // injected at its time, not before
}

TEST(ScriptInterp, LateFrameFails) {
  FakeBackend fb;
  fb.plan.push_back({35000000, arp_reply_bytes()});
  RunResult r = run_fake(kArpScript, fb, 10000000);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.line, 2u);
  EXPECT_NE(r.msg.find("expected frame not seen by 0.030000 s; the next frame came at 0.035000 s"),
            std::string::npos)
      << r.msg;
}

TEST(ScriptInterp, EarlyFrameFails) {
  FakeBackend fb;
  fb.plan.push_back({9000000, arp_reply_bytes()});
  RunResult r = run_fake(kArpScript, fb, 0);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.line, 1u);  // seen while waiting for the injection's time
  EXPECT_NE(r.msg.find("unexpected frame at 0.009000 s (before this step)"), std::string::npos) << r.msg;
  FakeBackend fb2;
  fb2.plan.push_back({15000000, arp_reply_bytes()});
  r = run_fake(kArpScript, fb2, 1000000);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.line, 2u);
  EXPECT_NE(r.msg.find("frame arrived early, at 0.015000 s"), std::string::npos) << r.msg;
}

TEST(ScriptInterp, LateToleranceIsSeparate) {
  // 15 ms late passes with 20 ms of lateness allowed; 9 ms early still
  // fails with 1 ms of earliness.
  FakeBackend fb;
  fb.plan.push_back({35000000, arp_reply_bytes()});
  RunResult r = run_fake(kArpScript, fb, 1000000, 20000000);
  EXPECT_TRUE(r.ok) << r.line << ": " << r.msg;
  FakeBackend fb2;
  fb2.plan.push_back({11000000, arp_reply_bytes()});
  r = run_fake(kArpScript, fb2, 1000000, 20000000);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.msg.find("frame arrived early, at 0.011000 s"), std::string::npos) << r.msg;
  // Lateness carries over to the next step (timers start when things
  // happened): 5 ms late, then 13 ms late passes with 10 ms allowed; 16 does not.
  const std::string two = std::string(kArpScript) + "0.040 > arp reply 198.51.100.254 is-at $our_mac\n";
  FakeBackend fb4;
  fb4.plan.push_back({25000000, arp_reply_bytes()});
  fb4.plan.push_back({53000000, arp_reply_bytes()});
  r = run_fake(two, fb4, 1000000, 10000000);
  EXPECT_TRUE(r.ok) << r.line << ": " << r.msg;
  FakeBackend fb5;
  fb5.plan.push_back({25000000, arp_reply_bytes()});
  fb5.plan.push_back({56000000, arp_reply_bytes()});
  r = run_fake(two, fb5, 1000000, 10000000);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.msg.find("expected frame not seen by 0.055000 s"), std::string::npos) << r.msg;
  // Host actions wait as long.
  FakeBackend fb3;
  r = run_fake("0 host listen 80\n0.001 host accept\n", fb3, 0, 5000000);
  EXPECT_TRUE(r.ok) << r.msg;
}

std::vector<u8> seg_to_guest(const std::string& rest) {
  return build_one("0 < eth 9a:55:9a:55:9a:55 > 52:54:00:12:34:56 tcp 198.51.100.254:80 > 198.51.100.1:1000 " + rest +
                       "\n",
                   kEnv)
      .bytes;
}

TEST(ScriptInterp, WindowUpdatesAreOptional) {
  const std::string synack = "0.010 > tcp 198.51.100.254:80 > 198.51.100.1:1000 S. seq 100 ack 1 win *\n";
  const std::string ack = "0.020 > tcp 198.51.100.254:80 > 198.51.100.1:1000 . seq 101 ack 1 win *\n";
  // Not stated: ignored.
  FakeBackend fb;
  fb.plan.push_back({10000000, seg_to_guest("S. seq 100 ack 1 win 65535")});
  fb.plan.push_back({15000000, seg_to_guest(". seq 101 ack 1 win 512")});
  RunResult r = run_fake(synack, fb, 0);
  EXPECT_TRUE(r.ok) << r.line << ": " << r.msg;
  // ... unless the script keeps them.
  FakeBackend fb2;
  fb2.plan.push_back({10000000, seg_to_guest("S. seq 100 ack 1 win 65535")});
  fb2.plan.push_back({15000000, seg_to_guest(". seq 101 ack 1 win 512")});
  r = run_fake("window-updates keep\n" + synack, fb2, 0);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.msg.find("unexpected frame at 0.015000 s (after the last step)"), std::string::npos) << r.msg;
  // A stated ACK that looks like a window update (its window differs from
  // the SYN+ACK's) is taken.
  FakeBackend fb3;
  fb3.plan.push_back({10000000, seg_to_guest("S. seq 100 ack 1 win 65535")});
  fb3.plan.push_back({20000000, seg_to_guest(". seq 101 ack 1 win 512")});
  r = run_fake(synack + ack, fb3, 0);
  EXPECT_TRUE(r.ok) << r.line << ": " << r.msg;
  // A window update just before the stated ACK (same window: not one
  // itself): the ACK is taken, the window update dropped.
  FakeBackend fb4;
  fb4.plan.push_back({10000000, seg_to_guest("S. seq 100 ack 1 win 65535")});
  fb4.plan.push_back({18000000, seg_to_guest(". seq 101 ack 1 win 512")});
  fb4.plan.push_back({22000000, seg_to_guest(". seq 101 ack 1 win 512")});
  r = run_fake(synack + ack, fb4, 5000000);
  EXPECT_TRUE(r.ok) << r.line << ": " << r.msg;
  // Without the second frame the window update is the stated ACK.
  FakeBackend fb5;
  fb5.plan.push_back({10000000, seg_to_guest("S. seq 100 ack 1 win 65535")});
  fb5.plan.push_back({18000000, seg_to_guest(". seq 101 ack 1 win 512")});
  r = run_fake(synack + ack, fb5, 5000000);
  EXPECT_TRUE(r.ok) << r.line << ": " << r.msg;
  // A window update that does not match is skipped.
  FakeBackend fb6;
  fb6.plan.push_back({10000000, seg_to_guest("S. seq 100 ack 1 win 65535")});
  fb6.plan.push_back({18000000, seg_to_guest(". seq 101 ack 1 win 512")});
  fb6.plan.push_back({20000000, seg_to_guest("P. seq 101 ack 1 win 512 data \"x\"")});
  r = run_fake(synack + "0.020 > tcp 198.51.100.254:80 > 198.51.100.1:1000 P. seq 101 ack 1 win * data \"x\"\n", fb6,
               5000000);
  EXPECT_TRUE(r.ok) << r.line << ": " << r.msg;
}

TEST(ScriptInterp, TrailingFrameIsUnexpected) {
  FakeBackend fb;
  fb.plan.push_back({20000000, arp_reply_bytes()});
  fb.plan.push_back({25000000, arp_reply_bytes()});
  RunResult r = run_fake(kArpScript, fb, 0);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.msg.find("after the last step"), std::string::npos) << r.msg;
}

TEST(ScriptInterp, MismatchNamesTheField) {
  FakeBackend fb;
  fb.plan.push_back({20000000, arp_reply_bytes()});
  RunResult r = run_fake(
      "0.010 < arp who-has 198.51.100.254 tell 198.51.100.1\n"
      "0.020 > arp reply 198.51.100.254 is-at $our_mac tpa 198.51.100.2\n",
      fb, 0);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.line, 2u);
  EXPECT_NE(r.msg.find("tpa: expected 198.51.100.2, got 198.51.100.1"), std::string::npos) << r.msg;
}

TEST(ScriptInterp, HostActionsWaitWithinTolerance) {
  FakeBackend fb;
  RunResult r = run_fake("0 host listen 80\n0.004 host accept\n+0 host recv \"hello\"\n", fb, 2000000);
  EXPECT_TRUE(r.ok) << r.msg;
  FakeBackend fb2;
  r = run_fake("0 host listen 80\n0.001 host accept\n", fb2, 2000000);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.msg, "host accept: no connection by 0.003000 s");
  FakeBackend fb3;
  r = run_fake("0 host connect 127.0.0.1:1\n+0 host expect-refused\n", fb3, 0);
  EXPECT_TRUE(r.ok) << r.msg;
  FakeBackend fb4;
  r = run_fake("0 host connect 127.0.0.1:1\n+0 host expect-connected\n", fb4, 0);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.msg, "host expect-connected: connection refused");
}

TEST(ScriptInterp, UdpActions) {
  FakeBackend fb;
  RunResult r = run_fake(
      "0 host udp-bind 8053\n"
      "+0 host udp-send 127.0.0.1:5000 \"ping\"\n"
      "0.002 host udp-recv \"pong\" from 127.0.0.1:5000\n"
      "+0 host udp-reply 3\n"
      "+0 host udp-expect-none\n",
      fb, 2000000);
  EXPECT_TRUE(r.ok) << r.line << ": " << r.msg;
  ASSERT_EQ(fb.udp_sent.size(), 2u);
  EXPECT_EQ(fb.udp_sent[0].first.port, 5000);
  EXPECT_EQ(fb.udp_sent[1].first.port, 5000);  // the reply goes to the source
  EXPECT_EQ(fb.udp_sent[1].second, (std::vector<u8>{'a', 'b', 'c'}));
  FakeBackend fb2;
  r = run_fake("0 host udp-bind 8053\n0.001 host udp-recv 4\n", fb2, 1000000);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.msg, "host udp-recv: no datagram by 0.002000 s");
  FakeBackend fb3;
  r = run_fake("0 host udp-bind 8053\n0.003 host udp-recv 4 from 127.0.0.1:*\n+0 host udp-recv 4\n", fb3, 0);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.line, 3u) << r.msg;
  FakeBackend fb4;
  r = run_fake("0 host udp-bind 8053\n0.003 host udp-recv \"pong\" from 127.0.0.2:*\n", fb4, 0);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.msg, "host udp-recv: expected a datagram from 127.0.0.2:*, got a datagram of 4 bytes from 127.0.0.1:5000");
  FakeBackend fb5;
  r = run_fake("0 host udp-bind 8053\n0.003 host udp-recv \"ping\"\n", fb5, 0);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.msg.find("host udp-recv: expected"), std::string::npos) << r.msg;
  FakeBackend fb6;
  r = run_fake("0 host udp-bind 8053\n0.003 host udp-expect-none\n", fb6, 0);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.msg, "host udp-expect-none: a datagram of 4 bytes from 127.0.0.1:5000 is waiting");
  FakeBackend fb7;
  r = run_fake("0 host udp-bind 8053\n+0 host udp-reply 1\n", fb7, 0);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.msg, "host udp-reply: no datagram was received on 'u'");
}

// --- The simulator backend ------------------------------------------------------------------

core::NetInfo test_net() {
  core::NetInfo n;
  n.v4.enabled = true;
  n.v4.addr = Ipv4Addr::of(198, 51, 100, 1);
  n.v4.prefix_len = 24;
  n.v4.gateway = Ipv4Addr::of(198, 51, 100, 254);
  n.v4.our_tap_addr = n.v4.gateway;
  n.v6.enabled = true;
  n.v6.addr = *parse_ipv6("2001:db8::1");
  n.v6.gateway = *parse_ipv6("2001:db8::ff");
  n.v6.our_tap_ll = *parse_ipv6("fe80::1");
  return n;
}

RunResult run_sim(const std::string& text) {
  ParseResult r = P(text);
  EXPECT_TRUE(r.ok) << r.error.msg;
  core::Config cfg;
  core::NetInfo net = test_net();
  SimBackend b(cfg, net, SimBackendOptions{});
  Env env;
  env.our_mac = net.our_mac;
  env.our_ll = net.v6.our_tap_ll;
  RunOptions o;
  o.settle_ns = 50000000;
  return run_script(r.script, env, b, o);
}

TEST(ScriptSim, ExactVirtualTime) {
  RunResult r = run_sim(
      "0.5 < arp who-has 198.51.100.254 tell 198.51.100.1\n"
      "+0 > arp reply 198.51.100.254 is-at $our_mac\n"
      "+1 < icmp6 $guest_ll > ff02::1:ff00:ff ns 2001:db8::ff\n"
      "+0 > icmp6 fe80::1 > $guest_ll na 2001:db8::ff flags RSO\n");
  EXPECT_TRUE(r.ok) << r.line << ": " << r.msg;
  // One nanosecond later is not the same instant.
  r = run_sim(
      "0.5 < arp who-has 198.51.100.254 tell 198.51.100.1\n"
      "+0.000000001 > arp reply 198.51.100.254 is-at $our_mac\n");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.msg.find("frame arrived early"), std::string::npos) << r.msg;
}

TEST(ScriptSim, SilenceAndUnexpectedReplies) {
  RunResult r = run_sim("0 < arp who-has 198.51.100.1 tell 198.51.100.1\n+1 wait\n");
  EXPECT_TRUE(r.ok) << r.msg;
  r = run_sim("0 < arp who-has 198.51.100.2 tell 198.51.100.1\n+1 wait\n");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.line, 2u);
  EXPECT_NE(r.msg.find("unexpected frame at 0.000000 s"), std::string::npos) << r.msg;
}

TEST(ScriptSim, HostSocketsTalkToEachOther) {
  // Without the engine's involvement: a listener and a client on the
  // simulated host, data both ways, FIN and reset.
  RunResult r = run_sim(
      "0 host listen 8080\n"
      "+0 host connect 127.0.0.1:8080 as a\n"
      "+0 host expect-connected on a\n"
      "+0 host accept as b\n"
      "+0 host send \"ping\" on a\n"
      "+0 host recv \"ping\" on b\n"
      "+0 host shutdown on a\n"
      "+0 host expect-eof on b\n"
      "+0 host reset on b\n"
      "+0 host expect-reset on a\n"
      "+0 host connect 127.0.0.1:8081 as x\n"
      "+0 host expect-refused on x\n");
  EXPECT_TRUE(r.ok) << r.line << ": " << r.msg;
}

TEST(ScriptSim, HostUdpSocketsTalkToEachOther) {
  // A dual-stack socket and one per family: sources as the receiver sees
  // them (IPv4 ones plain, also on the dual-stack socket), replies.
  RunResult r = run_sim(
      "0 host udp-bind 8053 as srv\n"
      "+0 host udp-bind 127.0.0.1:5000 as c4\n"
      "+0 host udp-bind [::1]:5001 as c6\n"
      "+0 host udp-send 127.0.0.1:8053 \"four\" on c4\n"
      "+0 host udp-send [::1]:8053 \"six\" on c6\n"
      "+0 host udp-recv \"four\" from 127.0.0.1:5000 on srv\n"
      "+0 host udp-reply \"re4\" on srv\n"
      "+0 host udp-recv \"six\" from [::1]:5001 on srv\n"
      "+0 host udp-reply \"\" on srv\n"
      "+0 host udp-recv \"re4\" from 127.0.0.1:8053 on c4\n"
      "+0 host udp-recv \"\" from [::1]:8053 on c6\n"
      "+0 host udp-expect-none on srv\n"
      "+0 host close on srv\n");
  EXPECT_TRUE(r.ok) << r.line << ": " << r.msg;
}

}  // namespace
}  // namespace passt::sim::script
