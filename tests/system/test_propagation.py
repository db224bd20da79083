"""Propagation to every authoritative server, against real servers: a BIND
primary that sends NOTIFY to a Knot secondary (which follows within a
second), and a BIND secondary that gets no NOTIFY and has a refresh of an
hour (it lags).  `present --wait` polls every server given with
--authoritative; `check` lists each with its SOA serial and the zone's
timers and fails naming the one that lags.

The servers are dnsservers.py's classes with their own configurations;
each runs on a port chosen before any starts, since the primary's
also-notify and the secondaries' primaries name each other.
"""
import os

import pytest

from dnsservers import (ZONE_FILE, BindServer, KnotServer, free_port,
                        knot_head, named_options, unique_fqdn)
from test_cli import key_args, run


class FixedPort:
    """A server started on a port chosen beforehand (dnsservers.py picks
    its own; the neighbours' configurations need it first)."""

    def __init__(self, port, **kw):
        super().__init__()
        self.fixed_port = port
        for k, v in kw.items():
            setattr(self, k, v)

    def start(self):
        import dnsservers
        real = dnsservers.free_port
        dnsservers.free_port = lambda: self.fixed_port
        try:
            return super().start()
        finally:
            dnsservers.free_port = real


class NotifyingPrimary(FixedPort, BindServer):
    """The session BIND configuration, plus NOTIFY to one secondary and
    transfers to loopback."""

    def configure(self):
        cmd = super().configure()
        conf = open(self.path("named.conf")).read()
        conf = conf.replace("    notify no;\n", "")
        conf = conf.replace(
            '    type primary;\n',
            '    type primary;\n'
            '    notify explicit;\n'
            '    notify-delay 0;\n'
            '    also-notify { 127.0.0.1 port %d; };\n'
            '    allow-transfer { 127.0.0.0/8; };\n' % self.notify_port)
        self.write("named.conf", conf)
        return cmd


class KnotSecondary(FixedPort, KnotServer):
    def configure(self):
        d = self.tmpdir
        for sub in ("run", "db", "zones"):
            os.makedirs(self.path(sub), exist_ok=True)
        self.write("knot.conf", knot_head(d, self.port) + f"""\
remote:
  - id: primary
    address: 127.0.0.1@{self.primary_port}
acl:
  - id: notify-from-primary
    address: 127.0.0.0/8
    action: notify
zone:
  - domain: example.test
    storage: "{d}/zones"
    master: primary
    acl: [ notify-from-primary ]
    zonefile-sync: -1
""")
        return ["knotd", "-c", self.path("knot.conf")]


class LaggingBind(FixedPort, BindServer):
    """A BIND secondary that hears no NOTIFY: it transfers at start, then
    only every SOA refresh (3600 s)."""

    def configure(self):
        d = self.tmpdir
        self.write("named.conf", named_options(d, self.port) + f"""\
zone "example.test" {{
    type secondary;
    primaries {{ 127.0.0.1 port {self.primary_port}; }};
    file "example.test.sec";
}};
""")
        return ["named", "-g", "-n", "1", "-c", self.path("named.conf")]


@pytest.fixture(scope="module")
def trio():
    """(primary, knot secondary with NOTIFY, lagging bind secondary)."""
    assert "3600" in ZONE_FILE  # the lag below depends on the refresh
    pport, kport, lport = free_port(), free_port(), free_port()
    while len({pport, kport, lport}) < 3:
        kport, lport = free_port(), free_port()
    servers = []
    try:
        servers.append(NotifyingPrimary(pport, notify_port=kport).start())
        servers.append(KnotSecondary(kport, primary_port=pport).start())
        servers.append(LaggingBind(lport, primary_port=pport).start())
        yield tuple(servers)
    finally:
        for s in reversed(servers):
            s.stop()


def auth_args(*servers):
    args = []
    for s in servers:
        args += ["--authoritative", s.addr]
    return args


def test_present_wait_notify_secondary(trio, tmp_path):
    primary, knot, _lag = trio
    fqdn = unique_fqdn("wait")
    r = run("present", "--nameserver", primary.addr, "--zone",
            primary.zone, "--fqdn", fqdn, "--value", "everywhere",
            "--wait", "5s", *auth_args(primary, knot),
            *key_args(tmp_path, primary.keys["acme256"], "bind"))
    assert r.rc == 0, "%r\n%s" % (r, knot.log()[-2000:])
    assert "%s: serial " % knot.addr in r.out, r
    assert r.out.count("serves the value after") == 2, r
    assert knot.txt(fqdn) == ["everywhere"]
    run("cleanup", "--nameserver", primary.addr, "--zone", primary.zone,
        "--fqdn", fqdn, "--value", "everywhere",
        *key_args(tmp_path, primary.keys["acme256"], "bind"))


def test_present_wait_names_lagging_secondary(trio, tmp_path):
    primary, knot, lag = trio
    fqdn = unique_fqdn("lag")
    keys = key_args(tmp_path, primary.keys["acme256"], "bind")
    r = run("present", "--nameserver", primary.addr, "--zone",
            primary.zone, "--fqdn", fqdn, "--value", "slow", "--wait", "3s",
            *auth_args(primary, knot, lag), *keys)
    assert r.rc == 1, r
    assert "1 of 3 authoritative servers of example.test. do not serve " \
        "the value" in r.err, r
    lag_line = [ln for ln in r.err.splitlines() if lag.addr in ln]
    assert lag_line and "behind the primary's" in lag_line[0] and \
        "does NOT serve the value" in lag_line[0], r
    assert "refresh 3600" in r.err and "NOTIFY" in r.err, r
    assert lag.txt(fqdn) == []
    assert knot.txt(fqdn) == ["slow"]
    run("cleanup", "--nameserver", primary.addr, "--zone", primary.zone,
        "--fqdn", fqdn, "--value", "slow", *keys)


def test_check_lists_servers_serials_and_timers(trio, tmp_path):
    primary, knot, lag = trio
    fqdn = unique_fqdn("chk")
    r = run("check", "--nameserver", primary.addr, "--zone", primary.zone,
            "--fqdn", fqdn, "--wait", "2", *auth_args(primary, knot, lag),
            *key_args(tmp_path, primary.keys["acme256"], "bind"))
    assert r.rc == 1, r
    assert "FAIL  7. 2 of 3 authoritative servers serve the test value" \
        in r.out, r
    assert "SOA refresh 3600 s, retry 600 s, expire 86400 s" in r.out, r
    for s in (primary, knot):
        assert [ln for ln in r.out.splitlines()
                if ln.strip().startswith("ok") and s.addr in ln], r
    lag_lines = [ln for ln in r.out.splitlines() if "LAG" in ln]
    assert len(lag_lines) == 1 and lag.addr in lag_lines[0], r
    assert "behind the primary's" in lag_lines[0], r
    assert "also-notify" in r.err, r
    # The test value was deleted again everywhere it landed.
    assert primary.txt(fqdn) == []


def test_check_passes_with_notify_secondary(trio, tmp_path):
    primary, knot, _lag = trio
    fqdn = unique_fqdn("chk2")
    r = run("check", "--nameserver", primary.addr, "--zone", primary.zone,
            "--fqdn", fqdn, *auth_args(primary, knot),
            *key_args(tmp_path, primary.keys["acme256"], "bind"))
    assert r.rc == 0, r
    assert "ok    7. 2 of 2 authoritative servers serve the test value" \
        in r.out, r
    assert "ok    10. 2 of 2 authoritative servers no longer serve it" \
        in r.out, r
    assert "all 10 steps passed" in r.out, r
    assert knot.txt(fqdn) == []


def test_check_lame_and_unreachable_are_warnings(trio, tmp_path, rcode_dns):
    """A listed server that refuses the zone (a lame delegation) and one
    where nothing listens are listed with a warning and the firewall hint,
    never waited for; the check passes on the servers that serve it."""
    primary, knot, _lag = trio
    lame = rcode_dns(5)  # REFUSED to everything
    dead = "127.0.0.1:%d" % free_port()
    fqdn = unique_fqdn("lame")
    r = run("check", "--nameserver", primary.addr, "--zone", primary.zone,
            "--fqdn", fqdn, "--authoritative", primary.addr,
            "--authoritative", knot.addr, "--authoritative", lame.addr,
            "--authoritative", dead,
            *key_args(tmp_path, primary.keys["acme256"], "bind"))
    assert r.rc == 0, r
    assert "ok    7. 2 of 2 authoritative servers serve the test value" \
        in r.out, r
    warn = [ln for ln in r.out.splitlines() if ln.strip().startswith("warn")]
    assert len(warn) == 4, r  # two servers, after the add and the delete
    assert any(lame.addr in ln and "not authoritative" in ln
               for ln in warn), r
    assert any(dead in ln and "unreachable" in ln for ln in warn), r
    assert "kubectl run" in r.out, r
    # Given up after one probe each phase: no 5 s wait for them.
    assert len(lame.udp_queries) <= 4, r
