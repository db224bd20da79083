"""System tests of `rfc2136-webhook check` against real Knot, BIND and
PowerDNS and misbehaving stand-ins: every step passes on a good setup, the
first failing step is named with the diagnosis and a ready-to-paste hint,
and no test value is ever left behind."""
import os
import re

import pytest

from fakedns import fake_answer, msg_opcode, msg_qtype
from dnsservers import Key, unique_fqdn
from test_cli import TIMEOUT, key_args, run, unknown_key, wrong_secret

STEPS = 8
VALUE_RE = re.compile(r'TXT "(rfc2136-webhook-check-[0-9a-f]{16})"')


def check(srv, *args, nameservers=None, fqdn=None, timeout=None):
    ns = []
    for addr in nameservers or [srv.addr]:
        ns += ["--nameserver", addr]
    extra = ["--fqdn", fqdn] if fqdn else []
    return run("check", *ns, "--zone", srv.zone, *extra, "--timeout",
               timeout or TIMEOUT[srv.kind], *args)


def step_lines(r):
    """[(status, number, text)] of the step lines."""
    return [(m.group(1), int(m.group(2)), m.group(3)) for m in re.finditer(
        r"^  (ok|FAIL|skip|-)\s+(\d+)\. (.*)  \(\d+ ms\)$", r.out, re.M)]


# (key, format, spelling) rows: both algorithms, every key format.
PASSING = [("acme256", "bind", None), ("acme512", "knot", None),
           ("acme256", "private", None), ("acme512", "bare", "sha512"),
           ("acme256", "bare", "HMACSHA256")]


@pytest.mark.parametrize("keyname,fmt,spelling", PASSING,
                         ids=["-".join(filter(None, r)) for r in PASSING])
def test_check_passes(dns_server, tmp_path, keyname, fmt, spelling):
    srv = dns_server
    fqdn = unique_fqdn("check")
    r = check(srv, *key_args(tmp_path, srv.keys[keyname], fmt, spelling),
              fqdn=fqdn)
    assert r.rc == 0, "%r\n%s" % (r, srv.log()[-2000:])
    steps = step_lines(r)
    assert [(s, n) for s, n, _ in steps] == \
        [("ok", n) for n in range(1, STEPS + 1)], r
    assert "key %s." % keyname in steps[3][2]
    assert "check %s: all %d steps passed" % (srv.addr, STEPS) in r.out
    assert r.err == ""
    value = VALUE_RE.search(r.out).group(1)
    assert value not in srv.txt(fqdn)
    assert srv.txt(fqdn) == []


def test_check_default_name_ipv6_tcp(dns_server, tmp_path):
    """Without --fqdn the test value goes to _acme-challenge.<zone>; over
    TCP only, UDP is skipped; an IPv6 nameserver."""
    srv = dns_server
    r = check(srv, "--protocol", "tcp",
              *key_args(tmp_path, srv.keys["acme256"], "bind"),
              nameservers=[srv.addr6])
    assert r.rc == 0, r
    steps = step_lines(r)
    assert [s for s, _, _ in steps] == ["skip"] + ["ok"] * (STEPS - 1), r
    assert "name _acme-challenge.example.test." in r.out
    value = VALUE_RE.search(r.out).group(1)
    assert value not in srv.txt("_acme-challenge.example.test.")


def restricted(srv):
    return srv.keys["restricted"]


def wrong_algorithm(srv):
    return Key("acme256", "hmac-sha512", srv.keys["acme256"].secret)


# (server, key maker, failing step, texts in the diagnosis, hint text)
KEY_FAILURES = [
    ("knot", wrong_secret, 4, ["NOTAUTH/BADSIG"], "compare the secret"),
    ("knot", unknown_key, 4, ["NOTAUTH/BADKEY"], 'key "nosuch"'),
    ("knot", wrong_algorithm, 4, ["NOTAUTH/BADKEY"],
     "algorithm: hmac-sha512"),
    ("knot", restricted, 5, ["NOTAUTH/BADKEY"],
     "update-owner-name: [_acme-challenge.check-"),
    ("bind", wrong_secret, 4, ["NOTAUTH/BADSIG"], "compare the secret"),
    ("bind", unknown_key, 4, ["NOTAUTH/BADKEY"], 'key "nosuch"'),
    ("bind", wrong_algorithm, 4, ["NOTAUTH/BADKEY"],
     "algorithm hmac-sha512"),
    ("bind", restricted, 5, ["REFUSED", "answer signed", "update-policy"],
     "update-policy { grant restricted name _acme-challenge.check-"),
    ("pdns", wrong_secret, 4, ["does not accept key 'acme256.'",
                               "PowerDNS"],
     "pdnsutil import-tsig-key acme256 hmac-sha256"),
    ("pdns", unknown_key, 4, ["does not accept key 'nosuch.'"],
     "TSIG-ALLOW-DNSUPDATE nosuch"),
    ("pdns", wrong_algorithm, 4, ["does not accept key 'acme256.'"],
     "pdnsutil import-tsig-key acme256 hmac-sha512"),
]


@pytest.mark.parametrize(
    "server,make_key,step,texts,hint", KEY_FAILURES,
    ids=["%s-%s" % (r[0], r[1].__name__) for r in KEY_FAILURES])
def test_check_key_failures(request, tmp_path, server, make_key, step, texts,
                            hint):
    srv = request.getfixturevalue(server)
    fqdn = unique_fqdn("check")
    r = check(srv, *key_args(tmp_path, make_key(srv), "bind"), fqdn=fqdn)
    assert r.rc == 1, r
    steps = step_lines(r)
    assert [s for s, _, _ in steps[:step]] == ["ok"] * (step - 1) + \
        ["FAIL"], r
    assert "check %s: FAILED at step %d" % (srv.addr, step) in r.out, r
    errors = [line for line in r.err.splitlines()
              if line.startswith("error: ")]
    assert len(errors) == 1, r
    for text in texts:
        assert text in errors[0], r
    assert hint in r.err, r
    if step == 5:
        # The add was refused; the clean-up delete is still attempted.
        assert steps[5][0] in ("ok", "-") and "clean up: delete" in \
            steps[5][2], r
    assert len(steps) == (step + 1 if step == 5 else step), r
    assert srv.txt(fqdn) == []


@pytest.mark.parametrize("server", ["knot", "bind", "pdns"])
def test_check_zone_not_served(request, tmp_path, server):
    srv = request.getfixturevalue(server)
    r = run("check", "--nameserver", srv.addr, "--zone", "other.test",
            "--timeout", TIMEOUT[server],
            *key_args(tmp_path, srv.keys["acme256"], "bind"))
    assert r.rc == 1, r
    assert [s for s, _, _ in step_lines(r)] == ["ok", "ok", "FAIL"], r
    assert "authoritative for other.test." in step_lines(r)[2][2]
    assert "error: " in r.err and "other.test." in r.err, r
    assert "--zone" in r.err, r  # the hint


def test_check_blackhole(blackhole_dns, bind, tmp_path):
    r = run("check", "--nameserver", blackhole_dns.addr, "--zone",
            "example.test.", "--timeout", "0.5",
            *key_args(tmp_path, bind.keys["acme256"], "bind"))
    assert r.rc == 1, r
    assert [s for s, _, _ in step_lines(r)] == ["FAIL"], r
    assert "no answer" in r.err and blackhole_dns.addr in r.err, r
    assert "firewall" in r.err, r


def test_check_refusing_server(rcode_dns, bind, tmp_path):
    fake = rcode_dns(5)
    r = run("check", "--nameserver", fake.addr, "--zone", "example.test.",
            "--timeout", "1",
            *key_args(tmp_path, bind.keys["acme256"], "bind"))
    assert r.rc == 1, r
    assert [s for s, _, _ in step_lines(r)] == ["ok", "ok", "FAIL"], r
    assert "REFUSED" in r.err, r


def test_check_each_nameserver(blackhole_dns, bind, tmp_path):
    r = check(bind, *key_args(tmp_path, bind.keys["acme512"], "bind"),
              nameservers=[blackhole_dns.addr, bind.addr], timeout="0.5",
              fqdn=unique_fqdn("each"))
    assert r.rc == 1, r
    assert "check %s: FAILED at step 1" % blackhole_dns.addr in r.out, r
    assert "check %s: all %d steps passed" % (bind.addr, STEPS) in r.out, r
    assert "check: 1 of 2 nameservers passed" in r.out, r


def test_check_unsigned(bind, tmp_path):
    fqdn = unique_fqdn("unsigned")
    r = check(bind, fqdn=fqdn)
    assert r.rc == 1, r
    assert r.err.startswith("warning: no --key-file"), r
    steps = step_lines(r)
    assert [s for s, _, _ in steps] == ["ok"] * 3 + ["skip", "FAIL", "-"], r
    assert "allow-update" in r.err, r
    assert bind.txt(fqdn) == []


def test_check_cleans_up_when_value_not_served(dns_server, proxy_dns,
                                               tmp_path):
    """The add succeeds but the server (here: a proxy hiding TXT answers)
    does not serve the value: check fails at step 6 and still deletes."""
    srv = dns_server
    fake = proxy_dns(srv, lambda msg, tcp, n:
                     fake_answer(msg) if msg_opcode(msg) == 0 and
                     msg_qtype(msg) == 16 else None)
    fqdn = unique_fqdn("hidden")
    r = check(srv, *key_args(tmp_path, srv.keys["acme256"], "bind"),
              nameservers=[fake.addr], fqdn=fqdn)
    assert r.rc == 1, r
    steps = step_lines(r)
    assert [s for s, _, _ in steps] == ["ok"] * 5 + ["FAIL", "ok"], r
    assert "clean up: delete" in steps[6][2]
    assert "does not serve the test value" in r.err, r
    assert srv.txt(fqdn) == []


def test_check_cleans_up_after_lost_add_answer(bind, proxy_dns, tmp_path):
    """The add is applied but its answer is lost: check reports the add as
    failed and deletes the value anyway."""
    fqdn = unique_fqdn("lost")
    updates, seen_before_delete = [], []

    def rule(msg, tcp, n):
        if msg_opcode(msg) != 5:
            return None
        updates.append(tcp)
        if len(updates) == 1:
            return "lose"
        seen_before_delete.append(bind.txt(fqdn))
        return None

    fake = proxy_dns(bind, rule)
    r = check(bind, *key_args(tmp_path, bind.keys["acme256"], "bind"),
              nameservers=[fake.addr], fqdn=fqdn, timeout="1")
    assert r.rc == 1, r
    steps = step_lines(r)
    assert [s for s, _, _ in steps] == ["ok"] * 4 + ["FAIL", "ok"], r
    assert "clean up: delete" in steps[5][2]
    value = VALUE_RE.search(r.out).group(1)
    assert seen_before_delete == [[value]]  # the add had landed
    assert bind.txt(fqdn) == []
    assert "may be left" not in r.err
