// passt / pasta start-up: parse, discover, set up the tap side and the
// namespace, construct the engine, daemonise when ready, run the loop.
//
// The order follows upstream (docs/process.md, docs/namespaces.md): nothing
// that can fail is left for after the launcher has exited 0, because
// clients (Podman, libvirt) take "exit 0" to mean "ready".
#include "app/main.hpp"

#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include "app/cli.hpp"
#include "app/net_setup.hpp"
#include "core/fwd.hpp"
#include "core/resolv_conf.hpp"
#include "engine/engine.hpp"
#include "linux/clock.hpp"
#include "linux/daemon.hpp"
#include "linux/event_loop.hpp"
#include "linux/host_discovery.hpp"
#include "linux/host_net.hpp"
#include "linux/isolation.hpp"
#include "linux/log_sink.hpp"
#include "linux/netlink.hpp"
#include "linux/netns.hpp"
#include "linux/netns_watch.hpp"
#include "linux/pasta_ns.hpp"
#include "linux/pcap.hpp"
#include "linux/ping_group.hpp"
#include "linux/privileges.hpp"
#include "linux/procnet.hpp"
#include "linux/qemu_stream.hpp"
#include "linux/seccomp.hpp"
#include "linux/sock_diag.hpp"
#include "linux/tap_fd.hpp"
#include "linux/tun.hpp"
#include "linux/vhost_user.hpp"
#include "util/log.hpp"
#include "wire/vnet_hdr.hpp"

namespace passt::app {

namespace {

constexpr int kUnixSockMax = 100;  // probe /tmp/passt_1.socket .. _99
// pasta's tap transmit queue (frames waiting for us to read them).  The
// kernel's default is 1000; a longer queue lets a single flow use a larger
// window at MTU 1500 without overrunning it.
constexpr u32 kTapQueueFrames = 4096;
// The part of it the TCP windows may fill together (NetInfo::tap_queue_frames):
// a quarter.  The rest takes the namespace's ACKs and the connections at
// their floor share, and the whole budget drains in ~2 ms at full speed and
// within the guest's minimum RTO (200 ms) even when we get a fraction of a
// CPU (with the whole queue as the budget, a translator starved by other
// processes kept frames queued for over 200 ms: retransmission timeouts
// without a single drop).
constexpr u32 kTapWindowFrames = kTapQueueFrames / 4;
// pasta's tap receive pool (os::TapFd): one read() per frame, each to a
// 64-byte boundary, until EAGAIN, 1024 frames, or less than a largest
// frame's room is left.  At MTU 1500 the frame count is the limit
// (1.6 MiB); at MTU 65520 the pool is:
// 2 MiB holds 32 frames of 64 KiB per batch, which costs no throughput
// against upstream's 8 MiB, and every byte of it becomes resident in the
// first burst (docs/performance.md, "Start-up and memory").
constexpr std::size_t kTapPoolMax = std::size_t{2} << 20;
constexpr std::size_t kTapPoolFrames = 1024;

std::size_t tap_pool_bytes(u32 mtu) noexcept {
  // Each read takes a frame, its virtio-net header and the padding to the
  // next read boundary (os::TapFd::kReadAlign).
  constexpr std::size_t a = os::TapFd::kReadAlign;
  const std::size_t frame =
      ((mtu != 0 ? mtu : 65520u) + std::size_t{wire::kEthHeaderLen} + wire::kVnetHdrLen + a - 1) / a * a;
  const std::size_t want = os::TapFd::kMaxFrame + kTapPoolFrames * frame;
  return want < kTapPoolMax ? want : kTapPoolMax;
}

std::string read_file(const char* path, std::size_t limit) {
  std::string s;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return s;
  char buf[4096];
  while (s.size() < limit) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    s.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return s;
}

// Seconds since 2000-01-01 00:00:00 UTC (RFC 8415 DUID-LLT time).
u32 duid_time_now() noexcept {
  std::time_t t = std::time(nullptr);
  constexpr std::time_t k2000 = 946684800;
  return t > k2000 ? static_cast<u32>(t - k2000) : 0;
}

void print_str(FILE* f, const std::string& s) {
  if (!s.empty()) std::fwrite(s.data(), 1, s.size(), f);
  std::fflush(f);
}

// Quits the loop when the namespace goes away (pasta without
// --no-netns-quit): upstream exits 0.
class QuitOnNetnsGone final : public os::NetnsWatch::Listener {
 public:
  explicit QuitOnNetnsGone(os::EventLoop& loop) : loop_(loop) {}
  void on_netns_gone(Instant, ports::EventSink&) noexcept override {
    LOG_INFO("Namespace gone, exiting");
    gone = true;
    loop_.stop();
  }
  bool gone = false;

 private:
  os::EventLoop& loop_;
};

struct Runtime {
  os::MonotonicClock clock;
  os::GetrandomEntropy entropy;
  std::optional<os::Logging> log;
  core::Config cfg;
  std::string prog;
};

__attribute__((format(printf, 1, 2))) int fail(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  LOG_ERR("%s", buf);
  return 1;
}

// Finds or creates the passt socket path: explicit -s, or the first free
// /tmp/passt_N.socket.  Link: os::QemuStream or os::VhostUser.
template <class Link>
Status listen_socket(Link& qs, const core::Config& cfg, std::string* path_out) {
  if (!cfg.socket_path.empty()) {
    *path_out = cfg.socket_path;
    return qs.listen(cfg.socket_path.c_str());
  }
  for (int i = 1; i < kUnixSockMax; i++) {
    char p[64];
    std::snprintf(p, sizeof(p), "/tmp/passt_%d.socket", i);
    Status s = qs.listen(p);
    if (s) {
      *path_out = p;
      return s;
    }
    if (s.err() != Err::addr_in_use) return s;
  }
  return Err::addr_in_use;
}

// Leaves once sandboxed (os::lock_down): no destructors.
[[noreturn]] void leave(int rc) {
  std::fflush(nullptr);
  ::_exit(rc);
}

// Common tail: daemonise (or write the pid file), signals, run.
struct Finish {
  os::PidFile pid;
  int devnull = -1;
};

}  // namespace

int run(Runtime& rt, int argc, char** argv);

int main(int argc, char** argv) {
  const char* argv0 = argc > 0 ? argv[0] : "passt";
  auto mode = mode_from_argv0(argv0);
  if (!mode) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(kModeError.size()), kModeError.data());
    return 1;
  }
  Runtime rt;
  rt.log.emplace(rt.clock, rt.clock.now());
  const char* ident = core::mode_name(*mode);
  rt.log->start(ident);

  CliEnv env;
  auto range = os::read_ephemeral_range();
  env.ephemeral_first = range.first;
  env.ephemeral_last = range.last;
  auto parsed = parse_cli(*mode, argc, argv, env);
  if (!parsed) return 1;
  ParseOutcome& po = *parsed;
  if (po.action == ParseOutcome::Action::exit) {
    print_str(stdout, po.out);
    print_str(stderr, po.err);
    return po.exit_code;
  }
  rt.cfg = std::move(*po.config);
  rt.prog = argv0;
  for (const std::string& w : po.warnings) LOG_WARN("%s", w.c_str());
  return run(rt, argc, argv);
}

int run(Runtime& rt, int, char**) {
  const core::Config& cfg = rt.cfg;
  const bool pasta = cfg.mode == core::Mode::pasta;
  const char* ident = core::mode_name(cfg.mode);

  // Like upstream's isolate_initial: nothing inherited stays open but
  // --fd and our own syslog socket.
  {
    int keep[2] = {cfg.fd, rt.log->syslog_sink().fd()};
    (void)os::close_open_files(std::span<const int>(keep, 2));
  }

  os::Logging::Config lc;
  lc.ident = ident;
  lc.version = kVersion.data();
  lc.level = os::log_level_from_flags(cfg.debug, cfg.trace, cfg.quiet);
  lc.debug = cfg.debug || cfg.trace;
  lc.log_file = cfg.log_file.empty() ? nullptr : cfg.log_file.c_str();
  lc.log_size = cfg.log_size;
  if (auto s = rt.log->configure(lc); !s) return fail("Couldn't open log file %s", cfg.log_file.c_str());
  set_log_level(lc.level);

  Finish fin;
  if (!cfg.pid_file.empty()) {
    if (auto s = fin.pid.open(cfg.pid_file.c_str()); !s)
      return fail("Couldn't open PID file %s", cfg.pid_file.c_str());
  }
  auto dn = os::open_devnull();
  if (!dn) return fail("%s", "Couldn't open /dev/null");
  fin.devnull = *dn;

  os::PcapWriter pcap;
  if (!cfg.pcap_file.empty()) {
    if (auto s = pcap.open(cfg.pcap_file.c_str()); !s)
      return fail("Couldn't open pcap file %s", cfg.pcap_file.c_str());
    LOG_INFO("Saving packet capture to %s", cfg.pcap_file.c_str());
  }

  // --- Host discovery ---------------------------------------------------------
  os::Netlink host_nl;
  if (auto s = host_nl.open(); !s) return fail("Couldn't open netlink socket");
  os::DiscoveryRequest dr;
  dr.want4 = !cfg.ipv6_only;
  dr.want6 = !cfg.ipv4_only;
  dr.ifname = cfg.interface;
  dr.outbound_if4 = cfg.ip4.outbound_if;
  dr.outbound_if6 = cfg.ip6.outbound_if;
  dr.addr4_given = cfg.ip4.addr.has_value();
  dr.addr6_given = cfg.ip6.addr.has_value();
  auto tmpl = os::discover_host(host_nl, dr);
  if (!tmpl) return fail("Couldn't discover the host's interfaces: %s", err_name(tmpl.err()));
  core::ResolvConf resolv = core::parse_resolv_conf(read_file("/etc/resolv.conf", 1 << 20));
  NetSetup ns = build_net_info(cfg, *tmpl, resolv, duid_time_now());
  for (const std::string& w : ns.warnings) LOG_WARN("%s", w.c_str());
  if (!ns.error.empty()) return fail("%s", ns.error.c_str());
  if (tmpl->local_mode) LOG_INFO("No external interface: local mode");
  if (!tmpl->v4.ifname.empty()) LOG_INFO("Template interface: %s (IPv4)", tmpl->v4.ifname.c_str());
  if (!tmpl->v6.ifname.empty()) LOG_INFO("Template interface: %s (IPv6)", tmpl->v6.ifname.c_str());

  // --- Event loop and host sockets ------------------------------------------------
  os::EventLoop loop(rt.clock);
  if (auto s = loop.init(); !s) return fail("Couldn't create the event loop");
  // Signals are blocked and read through a signalfd from here on, so a
  // SIGTERM sent as soon as we look ready is never lost (the signalfd and
  // the mask survive daemonising; spawned commands get them reset).
  os::SignalHandler sig(loop);
  if (auto s = sig.init(); !s) return fail("Couldn't set up signal handling");

  // --- pasta: namespaces and the tap device ------------------------------------------
  std::optional<os::NsChild> child;
  std::optional<os::NsHandles> joined;
  int netns_fd = -1;
  std::string watch_path;
  long watch_pid = 0;
  if (pasta) {
    if (cfg.ns.target == core::NsTarget::spawn) {
      os::SpawnOptions so;
      so.command = cfg.ns.command;
      auto c = os::spawn_ns_child(so);
      if (!c) return fail("Couldn't create namespaces for the command: %s", err_name(c.err()));
      child.emplace(std::move(*c));
      netns_fd = child->netns_fd();
      if (geteuid() != 0) {
        if (auto s = os::enter_userns(child->userns_fd()); !s)
          return fail("Couldn't join the user namespace: %s", err_name(s.err()));
      }
    } else {
      os::JoinRequest jr;
      jr.pid = cfg.ns.target == core::NsTarget::pid ? cfg.ns.pid : 0;
      jr.netns = cfg.ns.target == core::NsTarget::netns ? cfg.ns.netns_path : "";
      jr.userns = cfg.ns.userns_path;
      jr.netns_only = cfg.ns.netns_only;
      auto h = os::open_namespaces(jr);
      if (!h) return fail("Couldn't open the target namespace: %s", err_name(h.err()));
      joined.emplace(std::move(*h));
      netns_fd = joined->netns_fd;
      watch_path = joined->netns_path;
      watch_pid = joined->pid;
      if (joined->userns_fd >= 0) {
        if (auto s = os::enter_userns(joined->userns_fd); !s)
          return fail("Couldn't join the user namespace: %s", err_name(s.err()));
      }
    }
  }

  os::LinuxHostNet::Options hno;
  hno.guest_netns_fd = netns_fd;
  os::LinuxHostNet hostnet(loop, hno);
  if (auto s = hostnet.init(); !s) return fail("Couldn't set up host sockets: %s", err_name(s.err()));

  std::optional<os::NetnsRunner> runner;
  std::optional<os::TapFd> tapfd;
  std::optional<os::QemuStream> qemu;
  std::optional<os::VhostUser> vhost;
  ports::TapPort* tap = nullptr;
  core::NetInfo& net = ns.net;
  bool tap_offload = false;  // pasta's tap completes L4 checksums (engine::Sizing)

  if (pasta) {
    runner.emplace(netns_fd);
    if (auto s = runner->init(); !s) return fail("Couldn't prepare namespace calls");
    std::string ifname = !cfg.ns_ifname.empty() ? cfg.ns_ifname : tmpl->ns_ifname();
    int tap_fd = cfg.fd;
    os::TapDevice dev;
    // The tap and the netlink socket: made by this thread inside the
    // namespace where it can surely come back, else by the runner's child.
    os::NetnsVisit visit;
    os::NetnsRunner* in_ns = visit.enter(netns_fd) ? nullptr : &*runner;
    if (tap_fd < 0) {
      // With a virtio-net header: checksum offload and TSO (docs/linux-adapters.md).
      // PASTA_NO_TAP_OFFLOAD (set) opens it without: for a test harness that
      // reads the namespace's tap through a packet socket and expects each
      // frame as a guest without offloads gets it (complete checksums, one
      // MSS per frame; sim/script/bin/script_real.cpp).
      const bool vnet = std::getenv("PASTA_NO_TAP_OFFLOAD") == nullptr;
      auto d = os::open_tap(in_ns, ifname, vnet);
      if (!d) return fail("Couldn't open the tap device in the namespace: %s", err_name(d.err()));
      dev = *d;
      tap_fd = dev.fd;
    }
    os::Netlink ns_nl;
    if (auto s = ns_nl.open(in_ns); !s) return fail("Couldn't open netlink in the namespace");
    if (auto s = visit.leave(); !s)
      return fail("Couldn't return from the namespace: %s", err_name(s.err()));
    os::NsNetConfig nc;
    nc.ifindex = dev.ifindex;
    nc.config_net = cfg.config_net;
    nc.mtu = cfg.mtu;
    nc.mac = cfg.ns_mac;
    nc.v4.enabled = net.v4.enabled;
    nc.v4.template_ifindex = tmpl->v4.ifindex;
    nc.v4.copy_addrs = !cfg.ip4.no_copy_addrs && !tmpl->local_mode;
    nc.v4.addr = InAny::from(net.v4.addr);
    nc.v4.prefix_len = net.v4.prefix_len;
    nc.v4.copy_routes = !cfg.ip4.no_copy_routes && !tmpl->local_mode;
    if (!net.v4.gateway.is_unspecified()) nc.v4.gateway = InAny::from(net.v4.gateway);
    nc.v6.enabled = net.v6.enabled;
    nc.v6.template_ifindex = tmpl->v6.ifindex;
    nc.v6.copy_addrs = !cfg.ip6.no_copy_addrs && !tmpl->local_mode;
    if (!net.v6.addr.is_unspecified()) nc.v6.addr = InAny::from(net.v6.addr);
    nc.v6.prefix_len = 64;
    nc.v6.copy_routes = !cfg.ip6.no_copy_routes && !tmpl->local_mode;
    if (!net.v6.gateway.is_unspecified()) nc.v6.gateway = InAny::from(net.v6.gateway);
    if (dev.ifindex != 0) {
      // The tap's queue towards us: TCP windows are capped to fit it (see
      // docs/tcp.md, "Pacing against the tap queue").
      if (ns_nl.set_txqlen(dev.ifindex, kTapQueueFrames)) net.tap_queue_frames = kTapWindowFrames;
      auto r = os::configure_ns_net(host_nl, ns_nl, nc);
      if (!r) return fail("Couldn't configure the namespace: %s", err_name(r.err()));
    }
    os::TapFd::Options to;
    to.buf_bytes = tap_pool_bytes(cfg.mtu);
    to.max_frames = kTapPoolFrames;
    tapfd.emplace(loop, to);
    if (auto s = tapfd->init(); !s) return fail("Couldn't set up the tap");
    if (auto s = tapfd->attach(tap_fd, {dev.vnet_hdr_len, dev.vnet_hdr_len != 0}); !s)
      return fail("Couldn't attach the tap");
    tap_offload = dev.vnet_hdr_len != 0;
    tap = &*tapfd;
    LOG_INFO("Namespace interface: %s", ifname.c_str());
  } else if (cfg.vhost_user) {
    os::VhostUser::Options vo;
    vo.one_off = cfg.one_off;
    vhost.emplace(loop, vo);
    if (auto s = vhost->init(); !s) return fail("Couldn't set up the vhost-user back end");
    if (cfg.fd >= 0) {
      if (auto s = vhost->attach(cfg.fd); !s) return fail("Couldn't use --fd");
    } else {
      std::string path;
      if (auto s = listen_socket(*vhost, cfg, &path); !s)
        return fail("Couldn't bind the UNIX domain socket %s", path.c_str());
      LOG_INFO("UNIX domain socket bound at %s", path.c_str());
      LOG_INFO("You can start qemu with:");
      LOG_INFO("    kvm ... -chardev socket,id=chr0,path=%s -netdev vhost-user,id=netdev0,chardev=chr0 "
               "-device virtio-net,netdev=netdev0 -object memory-backend-memfd,id=memfd0,share=on,size=$RAMSIZE "
               "-numa node,memdev=memfd0",
               path.c_str());
    }
    tap = &*vhost;
    tap_offload = true;  // checksums left to the port (VhostUser completes them if the guest won't)
  } else {
    os::QemuStream::Options qo;
    qo.one_off = cfg.one_off;
    qemu.emplace(loop, qo);
    if (auto s = qemu->init(); !s) return fail("Couldn't set up the guest socket");
    if (cfg.fd >= 0) {
      if (auto s = qemu->attach(cfg.fd); !s) return fail("Couldn't use --fd");
    } else {
      std::string path;
      if (auto s = listen_socket(*qemu, cfg, &path); !s)
        return fail("Couldn't bind the UNIX domain socket %s", path.c_str());
      LOG_INFO("UNIX domain socket bound at %s", path.c_str());
      LOG_INFO("You can now start qemu (>= 7.2, with commit 13c6be96618c):");
      LOG_INFO("    kvm ... -device virtio-net-pci,netdev=s -netdev stream,id=s,server=off,addr.type=unix,addr.path=%s",
               path.c_str());
    }
    tap = &*qemu;
  }
  for (const std::string& s : ns.infos) LOG_INFO("%s", s.c_str());

  // --- Engine -------------------------------------------------------------------
  std::optional<os::PcapTap> pcap_tap;
  if (pcap.active()) {
    pcap_tap.emplace(*tap, pcap);
    tap = &*pcap_tap;
  }
  proto::TcpOptions tcp_opt;
  // Frames per socket peek.  Upstream pasta peeks one frame at a time; eight
  // take 1.4-1.5x the throughput host->namespace with less CPU
  // (docs/performance.md §18).
  tcp_opt.frames_per_peek = pasta ? 8 : 128;
  engine::Sizing sizing;
  sizing.verify_l4_checksums = !pasta;  // pasta's tap: frames of the namespace's kernel (engine.hpp)
  sizing.tap_l4_csum_offload = tap_offload;
  // GSO frames to pasta's tap, and to a vhost-user guest that takes them
  // (VhostUser::takes_gso); PcapTap passes no GSO sizes on.
  sizing.tap_gso = tap_offload && !pcap.active();
  engine::Engine eng(cfg, net, ports::Ports{*tap, hostnet, rt.entropy}, sizing, tcp_opt);
  // pasta "auto" forwarding reads the bound ports of both namespaces: from
  // the kernel's socket diagnostics (linux/sock_diag), or /proc/net where
  // the kernel has no inet_diag (or PASTA_NO_SOCK_DIAG is set: a test
  // harness's way to run the fallback).
  std::optional<os::SockDiagScanner> diag_scan;
  std::optional<os::ProcNetScanner> proc_scan;
  if (pasta && core::fwd_auto_any(cfg)) {
    diag_scan.emplace();
    Status d = std::getenv("PASTA_NO_SOCK_DIAG") != nullptr ? Status(Err::not_supported)
                                                            : diag_scan->open(&*runner);
    if (d) {
      LOG_DEBUG("Port scan: socket diagnostics");
      eng.set_port_scan(&*diag_scan);
    } else {
      LOG_DEBUG("Port scan: /proc/net (socket diagnostics: %s)", err_name(d.err()));
      diag_scan.reset();
      proc_scan.emplace();
      if (auto s = proc_scan->open(&*runner); !s)
        LOG_WARN("Can't read the namespace's bound ports: %s", err_name(s.err()));
      eng.set_port_scan(&*proc_scan);
    }
  }
  // Forwarding listeners (and the first automatic scan): before
  // daemonising, so that a bind failure is reported and fails the launch
  // (the message is logged by the engine).
  if (auto s = eng.open_listeners(); !s) return 1;
  ports::EventSink* sink = &eng;
  std::optional<os::PcapEventSink> pcap_sink;
  if (pcap.active()) {
    pcap_sink.emplace(eng, pcap);
    sink = &*pcap_sink;
  }

  // --- Namespace quit watch --------------------------------------------------------
  QuitOnNetnsGone quit(loop);
  std::optional<os::NetnsWatch> nswatch;
  if (pasta && !cfg.no_netns_quit && !child) {
    nswatch.emplace(loop, quit);
    if (watch_pid > 0) {
      if (auto s = nswatch->watch_pid(static_cast<int>(watch_pid)); !s)
        LOG_WARN("Can't watch process %ld", watch_pid);
    } else if (!watch_path.empty()) {
      if (auto s = nswatch->watch_path(watch_path); !s)
        LOG_WARN("Can't watch namespace file %s", watch_path.c_str());
    }
  }

  // --- Isolation (docs/security.md): identity, namespaces, an empty root,
  // capabilities.  Every file and privilege the run needs is held by now.
  const bool foreground = cfg.foreground || (pasta && child.has_value());
  const os::SandboxMode smode = pasta ? os::SandboxMode::pasta : os::SandboxMode::passt;
  {
    os::IdentityFacts idf;
    idf.mode = smode;
    idf.euid = geteuid();
    idf.init_userns = os::in_init_userns();
    idf.nobody = os::nobody();
    if (cfg.runas) {
      auto r = os::resolve_runas(cfg.runas->uid, cfg.runas->gid, cfg.runas->user_name,
                                 cfg.runas->group_name);
      if (!r || (r->uid == 0 && !cfg.runas->uid && idf.init_userns))
        return fail("Invalid --runas option: %s", cfg.runas->spec.c_str());
      idf.runas = *r;
    }
    os::IsolationRequest ir;
    ir.mode = smode;
    ir.identity = os::plan_identity(idf);
    if (ir.identity.to_nobody) LOG_WARN("Started as root, dropping to nobody (use --runas to choose)");
    // pasta lives in its namespace's user namespace (spawn: the command's).
    ir.userns_fd = child ? child->userns_fd() : joined ? joined->userns_fd : -1;
    // Not for pasta in the foreground: its namespace thread (lock_down())
    // cannot be created into a PID namespace it is not in.
    ir.new_pid_ns = !pasta || !foreground;
    if (auto r = os::isolate(ir); !r) return 1;
  }

  // --- ICMP: can we open ping sockets (net.ipv4.ping_group_range)? ---------------------
  // Checked with our final identity, before daemonising.  Only a notice:
  // proto::Icmp warns (once) when the guest actually pings, as upstream
  // does, so that --quiet users who never ping (podman) see nothing.  The
  // probe asks the kernel; the sysctl is read for the text.
  if (net.icmp && (net.v4.enabled || net.v6.enabled)) {
    const Status probe = os::probe_ping_socket(!net.v4.enabled);
    if (!probe)
      LOG_INFO("%s", os::ping_socket_warning(probe.err(), os::check_ping_group_range()).c_str());
  }

  // --- Become a daemon once ready; then seccomp (os::lock_down) -----------------------
  // After lock_down() the process leaves with leave() (_exit): destructors
  // would free and unmap memory, which the filter forbids.
  if (!foreground) {
    auto d = os::daemonize(fin.pid.is_open() ? &fin.pid : nullptr, fin.devnull);
    if (!d) return fail("Couldn't daemonise: %s", err_name(d.err()));
    if (auto s = sig.renew(); !s) return fail("Couldn't set up signal handling");
    if (auto s = os::lock_down(smode, netns_fd, !pasta && cfg.vhost_user); !s)
      return 1;  // lock_down() logged why
    if (auto s = d->ready(); !s) leave(1);
    rt.log->daemonized(d->pid());
  } else {
    if (fin.pid.is_open()) (void)fin.pid.write(static_cast<long>(getpid()));
    if (auto s = os::lock_down(smode, netns_fd, !pasta && cfg.vhost_user); !s)
      return 1;  // lock_down() logged why
  }

  if (child) {
    sig.watch_child(child->pid());
    if (auto s = child->release(); !s) {
      LOG_ERR("Couldn't start the command in the namespace");
      leave(1);
    }
  }

  const Instant now = rt.clock.now();
  eng.start(now);
  sink->on_tap_state(tap->connected(), now);

  Status st = loop.run(*sink);
  {
    const auto& t = eng.tcp().stats();
    LOG_DEBUG("TCP: %llu conns from tap, %llu from sockets; %llu segs from tap, %llu bytes written, "
              "%llu partial writes, %llu out-of-order dropped, %llu dup ACKs sent, %llu fast and %llu "
              "timeout retransmits, %llu tap rewinds, %llu frames to tap",
              static_cast<unsigned long long>(t.conns_from_tap),
              static_cast<unsigned long long>(t.conns_from_sock),
              static_cast<unsigned long long>(t.segs_from_tap),
              static_cast<unsigned long long>(t.bytes_from_tap),
              static_cast<unsigned long long>(t.partial_writes),
              static_cast<unsigned long long>(t.ooo_dropped),
              static_cast<unsigned long long>(t.dup_acks_sent),
              static_cast<unsigned long long>(t.fast_retransmits),
              static_cast<unsigned long long>(t.timeout_retransmits),
              static_cast<unsigned long long>(t.tap_rewinds),
              static_cast<unsigned long long>(t.frames_to_tap));
  }
  if (vhost) {
    const auto& v = vhost->stats();
    LOG_DEBUG("vhost-user: %llu frames from the guest (%llu checksums left to us, %llu TSO, %llu bad GSO, "
              "%llu unusable chains), "
              "%llu to it (%llu checksums left to it, %llu TSO, %llu checksums completed here, %llu "
              "refused for want of buffers), %llu interrupts, %llu kicks",
              static_cast<unsigned long long>(v.rx_frames), static_cast<unsigned long long>(v.rx_csum_left),
              static_cast<unsigned long long>(v.rx_gso),
              static_cast<unsigned long long>(v.rx_bad_gso), static_cast<unsigned long long>(v.rx_oversize),
              static_cast<unsigned long long>(v.tx_frames), static_cast<unsigned long long>(v.tx_csum_left),
              static_cast<unsigned long long>(v.tx_gso), static_cast<unsigned long long>(v.tx_csum_done),
              static_cast<unsigned long long>(v.tx_no_buffers), static_cast<unsigned long long>(v.interrupts),
              static_cast<unsigned long long>(v.kicks));
  }
  if (sig.event() != os::SignalHandler::Event::none) leave(sig.exit_code());
  if (quit.gone) leave(0);
  leave(st ? 0 : 1);
}

}  // namespace passt::app
