"""The test rig itself works: real servers answer and take updates signed
with the session's keys (by the real nsupdate/knsupdate, independent of our
code), and the stand-in servers misbehave exactly as documented."""
import os
import socket
import subprocess
import sys

import pytest

from dnsservers import (RESTRICTED_FQDN, ZONE, BindServer, KnotServer,
                        PdnsServer, dns_query, unique_fqdn)


@pytest.mark.parametrize("ipv6", [False, True], ids=["v4", "v6"])
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_server_answers_soa(dns_server, tcp, ipv6):
    ans = dns_server.query(ZONE, "SOA", tcp=tcp, ipv6=ipv6)
    assert (ans.rcode, ans.aa, [rr.type for rr in ans.answers]) == \
        (0, True, [6]), dns_server.log()[-2000:]


def test_server_attributes(dns_server):
    s = dns_server
    assert s.kind in ("knot", "bind", "pdns")
    assert (s.host, s.zone) == ("127.0.0.1", "example.test.")
    assert s.addr == "127.0.0.1:%d" % s.port
    assert s.addr6 == "[::1]:%d" % s.port
    assert os.path.isdir(s.tmpdir)
    assert {k: v.algorithm for k, v in s.keys.items()
            if k != "restricted"} == {"acme256": "hmac-sha256",
                                      "acme512": "hmac-sha512"}
    assert ("restricted" in s.keys) == (s.kind != "pdns")


def nsupdate(server, key, script):
    """Run BIND's nsupdate with -y alg:name:secret; returns (rc, output)."""
    lines = ["server %s %d" % (server.host, server.port),
             "zone %s" % server.zone] + script + ["send", ""]
    p = subprocess.run(
        ["nsupdate", "-t", "3", "-y",
         "%s:%s:%s" % (key.algorithm, key.name, key.secret)],
        input="\n".join(lines), capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout + p.stderr


@pytest.mark.parametrize("keyname", ["acme256", "acme512"])
def test_nsupdate_adds_and_deletes_txt(dns_server, keyname):
    fqdn = unique_fqdn("harness")
    key = dns_server.keys[keyname]
    rc, out = nsupdate(dns_server, key,
                       ["update add %s 60 TXT \"one\"" % fqdn,
                        "update add %s 60 TXT \"two\"" % fqdn])
    assert rc == 0, out + dns_server.log()[-2000:]
    assert sorted(dns_server.txt(fqdn)) == ["one", "two"]
    rc, out = nsupdate(dns_server, key,
                       ["update delete %s TXT \"one\"" % fqdn])
    assert rc == 0, out
    assert dns_server.txt(fqdn) == ["two"]


def test_knsupdate_adds_txt(knot):
    fqdn = unique_fqdn("harness")
    key = knot.keys["acme256"]
    script = "server %s %d\nzone %s\nupdate add %s 60 TXT knsupdate\nsend\n" \
        % (knot.host, knot.port, knot.zone, fqdn)
    p = subprocess.run(
        ["knsupdate", "-t", "3", "-y",
         "%s:%s:%s" % (key.algorithm, key.name, key.secret)],
        input=script, capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stdout + p.stderr
    assert knot.txt(fqdn) == ["knsupdate"]


# The restricted key: allowed at exactly one name, refused elsewhere.
@pytest.mark.parametrize("server", ["knot", "bind"])
@pytest.mark.parametrize("where,allowed", [("restricted", True),
                                           ("elsewhere", False)])
def test_restricted_key_policy(request, server, where, allowed):
    srv = request.getfixturevalue(server)
    fqdn = RESTRICTED_FQDN if where == "restricted" else unique_fqdn()
    value = "r-" + os.urandom(4).hex()
    rc, out = nsupdate(srv, srv.keys["restricted"],
                       ["update add %s 60 TXT %s" % (fqdn, value)])
    assert (rc == 0) == allowed, out
    assert (value in srv.txt(fqdn)) == allowed
    if allowed:
        rc, out = nsupdate(srv, srv.keys["restricted"],
                           ["update delete %s TXT %s" % (fqdn, value)])
        assert rc == 0, out
        assert value not in srv.txt(fqdn)


def test_unique_fqdn():
    names = {unique_fqdn("x") for _ in range(100)}
    assert len(names) == 100
    for n in names:
        assert n.startswith("_acme-challenge.x-") and n.endswith("." + ZONE)


@pytest.mark.parametrize("cls", [KnotServer, BindServer, PdnsServer],
                         ids=["knot", "bind", "pdns"])
def test_server_stops_by_pid_and_cleans_up(cls):
    srv = cls().start()
    pid, tmpdir = srv.pid, srv.tmpdir
    assert dns_query(srv.host, srv.port, ZONE, "SOA").rcode == 0
    srv.stop()
    assert not os.path.exists(tmpdir)
    assert not os.path.exists("/proc/%d" % pid)
    assert srv.log() != ""
    with pytest.raises(OSError):
        dns_query(srv.host, srv.port, ZONE, "SOA", tcp=True, timeout=0.5)


# ---------------------------------------------------------- stand-ins

def test_truncating_answers_tc_over_udp_and_forwards_tcp(truncating_dns,
                                                         bind):
    fake = truncating_dns(upstream=bind)
    ans = dns_query(fake.host, fake.port, ZONE, "SOA")
    assert (ans.tc, ans.answers) == (True, [])
    ans = dns_query(fake.host, fake.port, ZONE, "SOA", tcp=True)
    assert (ans.tc, ans.rcode, [rr.type for rr in ans.answers]) == \
        (False, 0, [6])
    assert (len(fake.udp_queries), len(fake.tcp_queries)) == (1, 1)


def test_truncating_without_upstream_answers_noerror(truncating_dns):
    fake = truncating_dns()
    ans = dns_query(fake.host, fake.port, ZONE, "SOA", tcp=True)
    assert (ans.tc, ans.rcode, ans.answers) == (False, 0, [])


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_blackhole_never_answers(blackhole_dns, tcp):
    with pytest.raises(socket.timeout):
        dns_query(blackhole_dns.host, blackhole_dns.port, ZONE, "SOA",
                  tcp=tcp, timeout=0.3)
    if not tcp:
        assert len(blackhole_dns.udp_queries) == 1


@pytest.mark.parametrize("rcode", [2, 5, 9])
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_rcode_server(rcode_dns, rcode, tcp):
    fake = rcode_dns(rcode)
    ans = dns_query(fake.host, fake.port, ZONE, "SOA", tcp=tcp)
    assert (ans.rcode, ans.answers) == (rcode, [])


def test_proxy_forwards_and_applies_rules(proxy_dns, bind):
    from fakedns import fake_answer, msg_qtype
    fake = proxy_dns(bind, lambda msg, tcp, n:
                     fake_answer(msg, rcode=3) if msg_qtype(msg) == 16
                     else "lose" if n == 1 else None)
    ans = dns_query(fake.host, fake.port, ZONE, "SOA")
    assert (ans.rcode, [rr.type for rr in ans.answers]) == (0, [6])
    with pytest.raises(socket.timeout):  # second message: answer lost
        dns_query(fake.host, fake.port, ZONE, "SOA", timeout=0.5)
    ans = dns_query(fake.host, fake.port, ZONE, "TXT", tcp=True)
    assert ans.rcode == 3
    assert (len(fake.udp_queries), len(fake.tcp_queries)) == (2, 1)


def test_valgrind_list_names_existing_tests():
    """Every node id `make valgrind` runs (tests/valgrind/system-tests.txt)
    names a test that exists: a renamed test must not surface only at the
    end of CI, as pytest's usage error there."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    with open(os.path.join(root, "tests", "valgrind",
                           "system-tests.txt")) as f:
        ids = [line.split("#")[0].strip() for line in f]
    ids = [i for i in ids if i]
    assert len(ids) >= 40
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--collect-only"] + ids,
        cwd=root, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
