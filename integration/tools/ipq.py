#!/usr/bin/env python3
"""Checks a namespace's configuration from `ip -j` dumps.

  ipq.py DIR CHECK [ARGS...] [-- CHECK [ARGS...]]...

DIR holds addr.json (`ip -j addr show`), link.json (`ip -j link show`),
route4.json (`ip -j -4 route show`) and route6.json (`ip -j -6 route show`);
tools/nsdump.sh writes them.  Checks (exit 0 if true, 1 with a message
on stderr otherwise):

  addrs IF FAMILY [ADDR/PLEN...]  the global-scope addresses of FAMILY (inet,
                                  inet6) on IF are exactly these (none: empty)
  has IF ADDR/PLEN                IF has this address (any scope)
  no-tentative IF [global]        no address on IF is tentative (or: no global one)
  default IF FAMILY GW            the main table's default route is via GW on IF
                                  (FAMILY inet or inet6), and there is only one
  no-default FAMILY               no default route of FAMILY
  mtu IF N                        IF's MTU
  up IF                           IF is administratively up
  mac IF MAC                      IF's MAC address
  links NAME...                   the namespace has exactly these interfaces
  print                           a summary (for logs)
"""

import ipaddress
import json
import os
import sys


def load(d, name):
    with open(os.path.join(d, name)) as f:
        text = f.read().strip()
    return json.loads(text) if text else []


def link(d, ifname):
    for l in load(d, "addr.json"):
        if l.get("ifname") == ifname:
            return l
    raise SystemExit("no interface %s (have: %s)" % (ifname, [l.get("ifname") for l in load(d, "addr.json")]))


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    d = sys.argv[1]
    group = []
    for arg in sys.argv[2:] + ["--"]:
        if arg != "--":
            group.append(arg)
        elif group:
            try:
                run(d, group[0], group[1:])
            except SystemExit as e:
                if group[0] != "print" and e.code not in (None, 0):
                    print("FAIL: %s" % e.code, file=sys.stderr)
                    print("namespace configuration:", file=sys.stderr)
                    run(d, "print", [], out=sys.stderr)
                    sys.exit(1)
                raise
            group = []


def run(d, check, args, out=sys.stdout):
    if check == "addrs":
        ifname, family, want = args[0], args[1], args[2:]
        got = sorted("%s/%d" % (a["local"], a["prefixlen"]) for a in link(d, ifname).get("addr_info", [])
                     if a.get("family") == family and a.get("scope") == "global")
        want = sorted(str(ipaddress.ip_interface(w)) for w in want)
        got = sorted(str(ipaddress.ip_interface(g)) for g in got)
        if got != want:
            raise SystemExit("%s %s addresses: %s, expected %s" % (ifname, family, got, want))
    elif check == "has":
        ifname, want = args[0], ipaddress.ip_interface(args[1])
        got = [ipaddress.ip_interface("%s/%d" % (a["local"], a["prefixlen"]))
               for a in link(d, ifname).get("addr_info", [])]
        if want not in got:
            raise SystemExit("%s has no %s (has %s)" % (ifname, want, [str(g) for g in got]))
    elif check == "no-tentative":
        ifname = args[0]
        only_global = len(args) > 1 and args[1] == "global"
        bad = ["%s/%d" % (a["local"], a["prefixlen"]) for a in link(d, ifname).get("addr_info", [])
               if a.get("tentative") and (not only_global or a.get("scope") == "global")]
        if bad:
            raise SystemExit("%s: tentative addresses (DAD not skipped): %s" % (ifname, bad))
    elif check == "default":
        ifname, family, gw = args
        routes = load(d, "route4.json" if family == "inet" else "route6.json")
        defs = [r for r in routes if r.get("dst") == "default"]
        if len(defs) != 1:
            raise SystemExit("%s default routes: %s, expected one via %s" % (family, defs, gw))
        r = defs[0]
        if ipaddress.ip_address(r.get("gateway", "0::0" if family == "inet6" else "0.0.0.0")) != \
                ipaddress.ip_address(gw) or r.get("dev") != ifname:
            raise SystemExit("%s default route %s, expected via %s dev %s" % (family, r, gw, ifname))
    elif check == "no-default":
        family = args[0]
        routes = load(d, "route4.json" if family == "inet" else "route6.json")
        defs = [r for r in routes if r.get("dst") == "default"]
        if defs:
            raise SystemExit("unexpected %s default routes: %s" % (family, defs))
    elif check == "mtu":
        got = link(d, args[0]).get("mtu")
        if got != int(args[1]):
            raise SystemExit("%s MTU %s, expected %s" % (args[0], got, args[1]))
    elif check == "up":
        flags = link(d, args[0]).get("flags", [])
        if "UP" not in flags:
            raise SystemExit("%s is not up (flags %s)" % (args[0], flags))
    elif check == "mac":
        got = link(d, args[0]).get("address", "").lower()
        if got != args[1].lower():
            raise SystemExit("%s MAC %s, expected %s" % (args[0], got, args[1]))
    elif check == "links":
        got = sorted(l.get("ifname") for l in load(d, "link.json"))
        if got != sorted(args):
            raise SystemExit("interfaces %s, expected %s" % (got, sorted(args)))
    elif check == "print":
        for l in load(d, "addr.json"):
            print("  %s mtu %s %s %s %s" % (l.get("ifname"), l.get("mtu"), ",".join(l.get("flags", [])),
                                          l.get("address"),
                                          " ".join("%s/%d%s" % (a["local"], a["prefixlen"],
                                                                "(tentative)" if a.get("tentative") else "")
                                                   for a in l.get("addr_info", []))), file=out)
        for name in ("route4.json", "route6.json"):
            for r in load(d, name):
                print("  route %s via %s dev %s" % (r.get("dst"), r.get("gateway", "-"), r.get("dev")),
                      file=out)
    else:
        raise SystemExit("unknown check " + check)


if __name__ == "__main__":
    main()
