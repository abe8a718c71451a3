// Script parser (sim/script): any text either parses or gives an error with
// a line number within the text; a parsed script's `<` frames build (with
// every variable bound to a value of its type) or fail with a message, never
// crash; every `>` line can be matched against any bytes (the input itself,
// and every frame built); describe_frame() renders anything; host actions
// name their objects and carry data that fits.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz.hpp"
#include "sim/script/frames.hpp"
#include "sim/script/script.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace passt;
  using namespace passt::sim::script;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ParseResult r = parse_script(text);
  std::size_t lines = 1;
  for (char c : text) lines += c == '\n' ? 1 : 0;
  if (!r.ok) {
    PASST_CHECK(r.error.line <= lines);
    PASST_CHECK(!r.error.msg.empty());
    return 0;
  }
  const Script& s = r.script;
  PASST_CHECK(s.steps.size() <= kMaxSteps);
  Bindings vars(s.vars.size());
  for (std::size_t i = 0; i < s.vars.size(); i++) {
    Value v;
    v.type = s.vars[i].type;
    if (v.type == VType::bytes || v.type == VType::text) v.bytes = {0x61, 0x62};
    vars[i] = s.vars[i].preset ? s.vars[i].value : v;
  }
  const FrameEnv env{{{0x52, 0x54, 0, 0x12, 0x34, 0x56}}, {{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}}};
  std::vector<std::vector<std::uint8_t>> built;
  i64 last = 0;
  for (const Step& st : s.steps) {
    PASST_CHECK(st.t_ns >= last && st.t_ns <= kMaxTimeNs);
    last = st.t_ns;
    if (st.kind == StepKind::inject) {
      std::vector<std::uint8_t> out;
      std::string err;
      if (build_frame(st.frame, env, vars, out, err)) {
        PASST_CHECK(out.size() <= 2 * 65536 + 64);
        (void)describe_frame(Bytes(out));
        if (built.size() < 16) built.push_back(std::move(out));
      } else {
        PASST_CHECK(!err.empty());
      }
    } else if (st.kind == StepKind::expect) {
      std::string why;
      Bindings v = vars;
      (void)match_frame(st.frame, Bytes(data, size), env, v, why);
      for (const auto& f : built) {
        Bindings w = vars;
        (void)match_frame(st.frame, Bytes(f), env, w, why);
      }
    } else if (st.kind == StepKind::host) {
      // Every action names its object; data and counts agree and fit.
      const HostAction& h = st.host;
      PASST_CHECK(!h.on.empty() || !h.as.empty());
      if (h.use_data) PASST_CHECK(h.count == h.data.size());
      PASST_CHECK(h.count <= kMaxBytes);
      const bool udp = h.op == HostOp::udp_send || h.op == HostOp::udp_recv || h.op == HostOp::udp_reply;
      if (udp) PASST_CHECK(h.count <= kMaxUdpPayload);
      if (h.op == HostOp::send || h.op == HostOp::recv) PASST_CHECK(h.count > 0);
    }
  }
  (void)describe_frame(Bytes(data, size));
  return 0;
}
