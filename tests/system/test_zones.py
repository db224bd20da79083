"""Where the record must land, against real servers: the zone found at the
primary when --zone is not given (names in several zones on one BIND, a
sub-zone served by the same primary, a delegated name, a name served
nowhere there), verification after the write (PowerDNS with a Lua update
policy that drops one name: NOERROR, nothing stored; Knot taking an update
for a sub-zone's name in the parent zone), and propagation to secondaries
(a Knot secondary that follows the BIND primary by NOTIFY, a BIND secondary
without NOTIFY and a long refresh).

The servers here are subclasses of dnsservers.py's, with more zones.
"""
import os
import re

import pytest

from dnsservers import (BindServer, KnotServer, PdnsServer, free_port,
                        named_options, unique_fqdn)
from test_cli import TIMEOUT, key_args, run

ZONES = {
    "example.test": """$ORIGIN example.test.
$TTL 300
@       SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60
@       NS  ns1.example.test.
ns1     A   127.0.0.1
deleg   NS  ns9.elsewhere.test.
""",
    "sub.example.test": """$ORIGIN sub.example.test.
$TTL 300
@       SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60
@       NS  ns1.example.test.
""",
    "other.test": """$ORIGIN other.test.
$TTL 300
@       SOA ns1.other.test. hostmaster.other.test. 7 3600 600 86400 60
@       NS  ns1.other.test.
ns1     A   127.0.0.1
""",
}


class MultiZoneBind(BindServer):
    """BIND, primary of example.test, its sub-zone sub.example.test and
    other.test; deleg.example.test is delegated to ns9.elsewhere.test."""

    def configure(self):
        d = self.tmpdir
        zones = ""
        for name, text in ZONES.items():
            self.write(name + ".zone", text)
            jnl = self.path(name + ".zone.jnl")
            if os.path.exists(jnl):
                os.unlink(jnl)
            zones += f"""zone "{name}" {{
    type primary;
    file "{name}.zone";
    update-policy {{ grant acme256 zonesub TXT; }};
}};
"""
        keys = "".join('key "%s" { algorithm %s; secret "%s"; };\n'
                       % (k.name, k.algorithm, k.secret)
                       for k in self.keys.values())
        self.write("named.conf", keys + named_options(d, self.port) + zones)
        return ["named", "-g", "-n", "1", "-c", self.path("named.conf")]


@pytest.fixture(scope="module")
def zbind():
    srv = MultiZoneBind().start()
    try:
        yield srv
    finally:
        srv.stop()


def key(tmp_path, srv):
    return key_args(tmp_path, srv.keys["acme256"], "bind")


def txt_at(srv, name):
    ans = srv.query(name, "TXT")
    return ans.txt


# (name's zone, label below it): one server, several zones, a sub-zone.
NAMES = [("example.test.", "www"), ("sub.example.test.", "www"),
         ("other.test.", "app"), ("sub.example.test.", "")]


@pytest.mark.parametrize("zone,label", NAMES,
                         ids=["parent", "sub-zone", "other", "sub-apex"])
def test_present_cleanup_without_zone(zbind, tmp_path, zone, label):
    fqdn = "_acme-challenge.%s%s" % (label + "." if label else "", zone)
    value = "v-" + os.urandom(6).hex()
    r = run("present", "--nameserver", zbind.addr, "--fqdn", fqdn,
            "--value", value, "--timeout", TIMEOUT["bind"],
            *key(tmp_path, zbind))
    assert r.rc == 0, r
    assert r.out.startswith('added TXT "%s" at %s (zone %s, found at %s) '
                            'via %s' % (value, fqdn, zone, zbind.addr,
                                        zbind.addr)), r
    assert ", verified in " in r.out, r
    assert value in txt_at(zbind, fqdn)
    r = run("cleanup", "--nameserver", zbind.addr, "--fqdn", fqdn,
            "--value", value, *key(tmp_path, zbind))
    assert r.rc == 0, r
    assert "(zone %s, found at %s)" % (zone, zbind.addr) in r.out, r
    assert ", verified gone in " in r.out, r
    assert value not in txt_at(zbind, fqdn)


def test_delegated_name_names_the_referral(zbind, tmp_path):
    fqdn = "_acme-challenge.www.deleg.example.test."
    r = run("present", "--nameserver", zbind.addr, "--fqdn", fqdn,
            "--value", "x", *key(tmp_path, zbind))
    assert r.rc == 1, r
    assert "zone deleg.example.test." in r.err, r
    assert "ns9.elsewhere.test." in r.err, r
    assert "hint: pass that zone's primary as --nameserver" in r.err, r
    assert r.out == "", r


def test_no_zone_served_names_server_and_names(zbind, tmp_path):
    fqdn = "_acme-challenge.www.nowhere.test."
    r = run("present", "--nameserver", zbind.addr, "--fqdn", fqdn,
            "--value", "x", *key(tmp_path, zbind))
    assert r.rc == 1, r
    assert zbind.addr in r.err, r
    for name in (fqdn, "www.nowhere.test.", "nowhere.test.", "test."):
        assert name in r.err, r
    assert "not authoritative for %s" % fqdn in r.err, r


def test_no_zone_unreachable_then_next(zbind, tmp_path):
    """The first nameserver does not answer: the zone is found at the next
    and the update goes there."""
    dead = "127.0.0.1:%d" % free_port()
    fqdn = "_acme-challenge.%s.other.test." % os.urandom(4).hex()
    r = run("present", "--nameserver", dead, "--nameserver", zbind.addr,
            "--fqdn", fqdn, "--value", "v1", "--timeout", "1",
            *key(tmp_path, zbind))
    assert r.rc == 0, r
    assert "(zone other.test., found at %s)" % zbind.addr in r.out, r
    assert "warning: finding the zone of %s at %s" % (fqdn, dead) in r.err, r
    assert "trying the next nameserver" in r.err and "error" not in r.err, r
    assert "v1" in txt_at(zbind, fqdn)
    run("cleanup", "--nameserver", zbind.addr, "--fqdn", fqdn, "--value",
        "v1", *key(tmp_path, zbind))


def test_missing_zone_and_fqdn_is_usage(zbind):
    r = run("check", "--nameserver", zbind.addr)
    assert r.rc == 2, r
    assert "missing --zone (or --fqdn" in r.err, r


def test_check_without_zone(zbind, tmp_path):
    fqdn = "_acme-challenge.%s.sub.example.test." % os.urandom(4).hex()
    r = run("check", "--nameserver", zbind.addr, "--fqdn", fqdn,
            "--timeout", TIMEOUT["bind"], *key(tmp_path, zbind))
    assert r.rc == 0, r
    assert "zone sub.example.test. (found at %s)" % zbind.addr in r.out, r
    assert txt_at(zbind, fqdn) == []


# ------------------------------------------------------- verify after write

DROPPED = "dropped"  # the Lua policy refuses names with this label


class LuaPolicyPdns(PdnsServer):
    """PowerDNS whose Lua update policy refuses TXT at names starting with
    _acme-challenge.dropped: it answers NOERROR and stores nothing."""

    def configure(self):
        cmd = super().configure()
        self.write("policy.lua", """
function updatepolicy(input)
  local name = input:getQName():toString()
  if string.find(name, "^_acme%-challenge%.""" + DROPPED + """") then
    return false
  end
  return true
end
""")
        with open(self.path("pdns.conf"), "a") as f:
            f.write("lua-dnsupdate-policy-script=%s\n"
                    % self.path("policy.lua"))
        return cmd


@pytest.fixture(scope="module")
def luapdns():
    srv = LuaPolicyPdns().start()
    try:
        yield srv
    finally:
        srv.stop()


def test_verify_catches_pdns_lua_drop(luapdns, tmp_path):
    srv = luapdns
    args = key_args(tmp_path, srv.keys["acme256"], "bind")
    fqdn = "_acme-challenge.%s-%s.example.test." % (DROPPED,
                                                     os.urandom(4).hex())
    r = run("present", "--nameserver", srv.addr, "--zone", srv.zone,
            "--fqdn", fqdn, "--value", "lost", "--timeout", "2", *args)
    assert r.rc == 1, "%r\n%s" % (r, srv.log()[-2000:])
    assert "answered the add of TXT \"lost\" at %s with NOERROR, but does " \
        "not serve it" % fqdn in r.err, r
    assert "it serves: none" in r.err, r
    assert "PowerDNS with lua-dnsupdate-policy-script" in r.err, r
    assert "Not permitted by policy" in srv.log(), srv.log()[-2000:]
    assert srv.txt(fqdn) == []
    # The same with --no-verify: the NOERROR is taken at its word.
    r = run("present", "--nameserver", srv.addr, "--zone", srv.zone,
            "--fqdn", fqdn, "--value", "lost", "--no-verify", *args)
    assert r.rc == 0, r
    assert "verified" not in r.out, r


def test_verify_passes_where_policy_allows(luapdns, tmp_path):
    srv = luapdns
    args = key_args(tmp_path, srv.keys["acme256"], "bind")
    fqdn = unique_fqdn("kept")
    r = run("present", "--nameserver", srv.addr, "--fqdn", fqdn,
            "--value", "kept", *args)
    assert r.rc == 0, "%r\n%s" % (r, srv.log()[-2000:])
    assert "(zone example.test., found at %s)" % srv.addr in r.out, r
    assert ", verified in " in r.out, r
    assert srv.txt(fqdn) == ["kept"]
    r = run("cleanup", "--nameserver", srv.addr, "--fqdn", fqdn,
            "--value", "kept", *args)
    assert r.rc == 0, r
    assert srv.txt(fqdn) == []


class SubZoneKnot(KnotServer):
    """Knot serving example.test and its sub-zone sub.example.test, both
    updatable with the test keys."""

    def configure(self):
        cmd = super().configure()
        self.write("zones/sub.example.test.zone",
                   ZONES["sub.example.test"])
        with open(self.path("knot.conf"), "a") as f:
            f.write("""  - domain: sub.example.test
    storage: "%s/zones"
    file: "sub.example.test.zone"
    zonefile-sync: -1
    acl: [ acme_update ]
""" % self.tmpdir)
        return cmd


@pytest.fixture(scope="module")
def subknot():
    srv = SubZoneKnot().start()
    try:
        yield srv
    finally:
        srv.stop()


def test_verify_catches_knot_parent_zone_update(subknot, tmp_path):
    """Knot takes an update addressed to example.test for a name inside
    sub.example.test (NOERROR) and never serves it; without --zone the
    sub-zone is found and the update lands."""
    srv = subknot
    args = key_args(tmp_path, srv.keys["acme256"], "knot")
    fqdn = "_acme-challenge.%s.sub.example.test." % os.urandom(4).hex()
    r = run("present", "--nameserver", srv.addr, "--zone", "example.test",
            "--fqdn", fqdn, "--value", "hidden", "--timeout", "3", *args)
    assert r.rc == 1, r
    assert "with NOERROR, but does not serve it" in r.err, r
    assert "sub-zone" in r.err, r
    r = run("present", "--nameserver", srv.addr, "--fqdn", fqdn, "--value",
            "seen", "--timeout", "3", *args)
    assert r.rc == 0, r
    assert "(zone sub.example.test., found at %s)" % srv.addr in r.out, r
    assert "seen" in srv.txt(fqdn)
