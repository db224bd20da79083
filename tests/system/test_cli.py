"""System tests of `rfc2136-webhook present` and `cleanup` against real Knot,
BIND and PowerDNS (dnsservers.py) and misbehaving stand-ins (fakedns.py).

Every test uses its own record name (unique_fqdn), so the session's shared
servers never see two tests collide, and asserts what the server serves
(txt()) after each step.  Helpers here (run, key_args, TIMEOUT) are reused
by test_check.py.
"""
import base64
import os
import re
import subprocess

import pytest

from dnsservers import (RESTRICTED_FQDN, Key, key_text, private_file_name,
                        unique_fqdn)

BIN = os.environ.get("RFC2136_WEBHOOK", "")

# Knot can stall up to a second: give it 3 s per attempt, the others 2 s.
TIMEOUT = {"knot": "3", "bind": "2", "pdns": "2"}

# Every secret a test handed to the binary: none may appear in its output.
SECRETS = set()


class Result:
    def __init__(self, p):
        self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr

    def __repr__(self):
        return "rc=%d\n--- stdout\n%s--- stderr\n%s" % (self.rc, self.out,
                                                        self.err)


def run(*args, timeout=60):
    """Run the binary; assert that no known secret leaks into its output."""
    assert BIN and os.access(BIN, os.X_OK), \
        "RFC2136_WEBHOOK must name the built rfc2136-webhook binary"
    p = subprocess.run([BIN] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=timeout)
    r = Result(p)
    for s in SECRETS:
        assert s not in r.out + r.err, "secret printed:\n%r" % r
    return r


def key_args(tmp_path, key, fmt, spelling=None):
    """Write @key in format @fmt and return the KEY options for it.

    fmt: "bind" (tsig-keygen block), "private" (K*.private), "knot"
    (alg:name:secret; spelling "" leaves the algorithm out), "bare"
    (the secret alone, name and algorithm as flags).  spelling: how the
    algorithm is written (default: canonical).
    """
    SECRETS.add(key.secret)
    alg = key.algorithm if spelling is None else spelling
    if fmt == "private":
        path = tmp_path / private_file_name(key)
        path.write_text(key_text(key, "private"))
        return ["--key-file", path]
    path = tmp_path / ("key-%s-%s" % (fmt, os.urandom(3).hex()))
    if fmt == "knot" and alg == "":
        path.write_text("%s:%s\n" % (key.name, key.secret))
    else:
        path.write_text(key_text(Key(key.name, alg, key.secret), fmt))
    if fmt == "bare":
        return ["--key-file", path, "--tsig-key-name", key.name,
                "--tsig-algorithm", alg]
    return ["--key-file", path]


def update(cmd, srv, fqdn, value, keyargs, *extra, nameservers=None):
    ns = []
    for addr in nameservers or [srv.addr]:
        ns += ["--nameserver", addr]
    return run(cmd, *ns, "--zone", srv.zone, "--fqdn", fqdn,
               "--value", value, "--timeout", TIMEOUT[srv.kind],
               *keyargs, *extra)


def ok(r, srv=None):
    """Assert success; include the server's log tail on failure."""
    assert r.rc == 0, "%r\n%s" % (r, srv.log()[-2000:] if srv else "")
    return r


# ------------------------------------------------- key formats x algorithms

# (format, spelling): every format people have, algorithm spellings in use.
FORMATS = [
    ("bind", None), ("bind", "upper"), ("private", None), ("knot", None),
    ("knot", "dotted"), ("bare", None), ("bare", "bindnum"),
    ("bare", "dotted"), ("bare", "short"),
]


def spell(alg, how):
    bits = alg.split("sha")[1]
    return {None: None, "upper": alg.upper(),
            "bindnum": "HMACSHA" + bits, "dotted": alg + ".",
            "short": "sha" + bits}[how]


@pytest.mark.parametrize("fmt,how", FORMATS,
                         ids=["%s-%s" % (f, h or "canon") for f, h in FORMATS])
@pytest.mark.parametrize("keyname", ["acme256", "acme512"])
def test_present_cleanup_every_key_format(dns_server, tmp_path, keyname, fmt,
                                          how):
    srv, key = dns_server, dns_server.keys[keyname]
    args = key_args(tmp_path, key, fmt, spell(key.algorithm, how))
    fqdn, value = unique_fqdn("fmt"), "v-" + os.urandom(6).hex()
    r = ok(update("present", srv, fqdn, value, args), srv)
    assert r.out.startswith('added TXT "%s" at %s (zone %s) via %s'
                            % (value, fqdn, srv.zone, srv.addr)), r
    assert srv.txt(fqdn) == [value]
    r = ok(update("cleanup", srv, fqdn, value, args), srv)
    assert r.out.startswith('deleted TXT "%s" at %s' % (value, fqdn)), r
    assert srv.txt(fqdn) == []


def test_knot_file_without_algorithm_is_sha256(dns_server, tmp_path):
    srv = dns_server
    args = key_args(tmp_path, srv.keys["acme256"], "knot", "")
    fqdn = unique_fqdn("noalg")
    ok(update("present", srv, fqdn, "noalg", args), srv)
    assert srv.txt(fqdn) == ["noalg"]
    ok(update("cleanup", srv, fqdn, "noalg", args), srv)
    assert srv.txt(fqdn) == []


# ------------------------------------------------------ exact-RR semantics

def test_cleanup_of_one_value_keeps_the_other(dns_server, tmp_path):
    srv = dns_server
    args = key_args(tmp_path, srv.keys["acme256"], "bind")
    fqdn = unique_fqdn("two")
    ok(update("present", srv, fqdn, "first", args), srv)
    assert srv.txt(fqdn) == ["first"]
    ok(update("present", srv, fqdn, "second", args), srv)
    assert sorted(srv.txt(fqdn)) == ["first", "second"]
    ok(update("cleanup", srv, fqdn, "first", args), srv)
    assert srv.txt(fqdn) == ["second"]
    ok(update("cleanup", srv, fqdn, "second", args), srv)
    assert srv.txt(fqdn) == []


def test_repeated_present_and_absent_cleanup_succeed(dns_server, tmp_path):
    srv = dns_server
    args = key_args(tmp_path, srv.keys["acme512"], "knot")
    fqdn = unique_fqdn("again")
    ok(update("cleanup", srv, fqdn, "never-there", args), srv)
    assert srv.txt(fqdn) == []
    for _ in range(2):
        ok(update("present", srv, fqdn, "same", args), srv)
        assert srv.txt(fqdn) == ["same"]
    for _ in range(2):
        ok(update("cleanup", srv, fqdn, "same", args), srv)
        assert srv.txt(fqdn) == []


def test_ttl_and_long_value(dns_server, tmp_path):
    """--ttl is the record's TTL; a value over 255 bytes is split into
    character-strings and served whole."""
    srv = dns_server
    args = key_args(tmp_path, srv.keys["acme256"], "bind")
    fqdn, value = unique_fqdn("ttl"), "x" * 300 + "-end"
    ok(update("present", srv, fqdn, value, args, "--ttl", "120"), srv)
    ans = srv.query(fqdn, "TXT")
    assert (ans.txt, [rr.ttl for rr in ans.answers]) == ([value], [120])
    ok(update("cleanup", srv, fqdn, value, args), srv)
    assert srv.txt(fqdn) == []


# ---------------------------------------------------------------- refusals

def wrong_secret(srv):
    return Key("acme256", "hmac-sha256",
               base64.b64encode(os.urandom(32)).decode())


def unknown_key(srv):
    return Key("nosuch", "hmac-sha256", srv.keys["acme256"].secret)


def wrong_algorithm(srv):
    return Key("acme256", "hmac-sha512", srv.keys["acme256"].secret)


def restricted(srv):
    return srv.keys["restricted"]


# (server, case, zone, texts the diagnosis must contain, hint text).
# What each server's answer supports (measured): Knot answers every key
# problem and an ACL denial NOTAUTH + TSIG error, unsigned; BIND answers a
# policy denial with a signed REFUSED; PowerDNS answers any TSIG failure
# with a plain, unsigned REFUSED.
REFUSALS = [
    ("knot", wrong_secret, None, ["NOTAUTH/BADSIG", "answer unsigned",
                                  "secret"], "compare the secret"),
    ("knot", unknown_key, None, ["NOTAUTH/BADKEY", "answer unsigned",
                                 "'nosuch.'"], 'key "nosuch"'),
    ("knot", wrong_algorithm, None, ["NOTAUTH/BADKEY", "answer unsigned"],
     "algorithm hmac-sha512"),
    ("knot", restricted, None, ["NOTAUTH/BADKEY", "ACL"],
     "update-owner-name: [_acme-challenge.name-"),
    ("knot", None, "other.test.", ["NOTAUTH", "not authoritative",
                                   "other.test."], "--zone"),
    ("bind", wrong_secret, None, ["NOTAUTH/BADSIG", "answer unsigned"],
     "compare the secret"),
    ("bind", unknown_key, None, ["NOTAUTH/BADKEY", "answer unsigned",
                                 "'nosuch.'"], 'key "nosuch"'),
    ("bind", wrong_algorithm, None, ["NOTAUTH/BADKEY", "answer unsigned"],
     "algorithm hmac-sha512"),
    ("bind", restricted, None, ["REFUSED", "answer signed",
                                "update-policy"],
     "update-policy { grant restricted name _acme-challenge.name-"),
    ("bind", None, "other.test.", ["NOTAUTH", "not authoritative",
                                   "other.test."], "--zone"),
    ("pdns", wrong_secret, None, ["REFUSED", "answer unsigned", "PowerDNS"],
     "TSIG-ALLOW-DNSUPDATE acme256"),
    ("pdns", unknown_key, None, ["REFUSED", "answer unsigned", "PowerDNS"],
     "TSIG-ALLOW-DNSUPDATE nosuch"),
    ("pdns", wrong_algorithm, None, ["REFUSED", "answer unsigned",
                                     "PowerDNS"], "import-tsig-key"),
    ("pdns", None, "other.test.", ["NOTAUTH", "not authoritative",
                                   "other.test."], "--zone"),
]


@pytest.mark.parametrize(
    "server,make_key,zone,texts,hint", REFUSALS,
    ids=["%s-%s" % (r[0], r[1].__name__ if r[1] else "zone-not-served")
         for r in REFUSALS])
def test_refusal_diagnosis(request, tmp_path, server, make_key, zone, texts,
                           hint):
    srv = request.getfixturevalue(server)
    key = make_key(srv) if make_key else srv.keys["acme256"]
    zone = zone or srv.zone
    fqdn = "_acme-challenge.name-%s.%s" % (os.urandom(4).hex(), zone)
    ns = ["--nameserver", srv.addr]
    r = run("present", *ns, "--zone", zone, "--fqdn", fqdn, "--value",
            "refused", "--timeout", TIMEOUT[server],
            *key_args(tmp_path, key, "bind"))
    assert r.rc == 1, r
    error = [line for line in r.err.splitlines()
             if line.startswith("error: ")]
    assert len(error) == 1, r
    assert error[0].startswith("error: add of %s in zone %s at %s failed: "
                               % (fqdn, zone, srv.addr)), r
    for text in texts:
        assert text in error[0], r
    assert hint in r.err, r
    assert r.out == ""
    if zone == srv.zone:
        assert srv.txt(fqdn) == []


def test_restricted_key_allowed_name(request, tmp_path):
    """The restricted key works where it is allowed (Knot and BIND)."""
    for name in ("knot", "bind"):
        srv = request.getfixturevalue(name)
        args = key_args(tmp_path, srv.keys["restricted"], "bind")
        value = "r-" + os.urandom(4).hex()
        ok(update("present", srv, RESTRICTED_FQDN, value, args), srv)
        assert value in srv.txt(RESTRICTED_FQDN)
        ok(update("cleanup", srv, RESTRICTED_FQDN, value, args), srv)
        assert value not in srv.txt(RESTRICTED_FQDN)


@pytest.mark.parametrize("server,texts", [
    ("knot", ["NOTAUTH", "answer unsigned", "unsigned update"]),
    ("bind", ["REFUSED", "answer unsigned", "unsigned update"]),
    ("pdns", ["REFUSED", "answer unsigned", "unsigned update"]),
])
def test_unsigned_update_refused(request, server, texts):
    srv = request.getfixturevalue(server)
    fqdn = unique_fqdn("unsigned")
    r = update("present", srv, fqdn, "unsigned", [])
    assert r.rc == 1, r
    assert r.err.startswith("warning: no --key-file: the messages go "
                            "unsigned"), r
    for text in texts:
        assert text in r.err, r
    assert "allow-update" in r.err, r  # the hint for address-based policy
    assert srv.txt(fqdn) == []


def test_malformed_key_file(bind, tmp_path):
    path = tmp_path / "garbage.key"
    path.write_text("this is not a key\n")
    r = update("present", bind, unique_fqdn(), "x", ["--key-file", path])
    assert r.rc == 1, r
    assert r.err.startswith("error: ") and str(path) in r.err, r


@pytest.mark.parametrize("mistake", ["double-base64", "raw-bytes"])
def test_recovered_secret_works_with_warning(dns_server, tmp_path, mistake):
    srv, key = dns_server, dns_server.keys["acme256"]
    SECRETS.add(key.secret)
    path = tmp_path / mistake
    if mistake == "double-base64":
        twice = base64.b64encode(key.secret.encode()).decode()
        SECRETS.add(twice)
        path.write_text(key_text(Key(key.name, key.algorithm, twice),
                                 "bind"))
        args = ["--key-file", path]
    else:
        path.write_bytes(base64.b64decode(key.secret))
        args = ["--key-file", path, "--tsig-key-name", key.name,
                "--tsig-algorithm", key.algorithm]
    fqdn = unique_fqdn("recover")
    r = ok(update("present", srv, fqdn, "recovered", args), srv)
    warnings = [line for line in r.err.splitlines()
                if line.startswith("warning: ")]
    assert len(warnings) == 1, r
    assert ("twice" if mistake == "double-base64" else "raw") in warnings[0]
    assert srv.txt(fqdn) == ["recovered"]
    ok(update("cleanup", srv, fqdn, "recovered", args), srv)
    assert srv.txt(fqdn) == []


# --------------------------------------------------------------- transport

def test_ipv6_nameserver(dns_server, tmp_path):
    srv = dns_server
    args = key_args(tmp_path, srv.keys["acme256"], "bind")
    fqdn = unique_fqdn("v6")
    r = ok(update("present", srv, fqdn, "six", args, nameservers=[srv.addr6]),
           srv)
    assert "via %s" % srv.addr6 in r.out, r
    assert srv.txt(fqdn) == ["six"]
    ok(update("cleanup", srv, fqdn, "six", args, nameservers=[srv.addr6]),
       srv)
    assert srv.txt(fqdn) == []


def test_host_name_nameserver(bind, tmp_path):
    """A host name is resolved (localhost: 127.0.0.1 and/or ::1, where the
    server listens on the same port)."""
    args = key_args(tmp_path, bind.keys["acme256"], "bind")
    fqdn = unique_fqdn("host")
    r = ok(update("present", bind, fqdn, "byname", args,
                  nameservers=["localhost:%d" % bind.port]), bind)
    assert "via localhost" in r.out, r
    assert bind.txt(fqdn) == ["byname"]
    ok(update("cleanup", bind, fqdn, "byname", args,
              nameservers=["localhost:%d" % bind.port]), bind)
    assert bind.txt(fqdn) == []


def test_bare_ipv6_nameserver_means_port_53(bind, tmp_path):
    """'::1' is an IPv6 address (port 53, where nothing listens here), not
    host ':' port."""
    args = key_args(tmp_path, bind.keys["acme256"], "bind")
    r = update("present", bind, unique_fqdn(), "x", args,
               nameservers=["::1"])
    assert r.rc == 1, r
    assert "[::1]:53" in r.err, r


def test_protocol_tcp(dns_server, truncating_dns, tmp_path):
    """--protocol tcp sends nothing over UDP (the stand-in would truncate
    it) and the update lands at the real server."""
    srv = dns_server
    fake = truncating_dns(upstream=srv)
    args = key_args(tmp_path, srv.keys["acme512"], "bind")
    fqdn = unique_fqdn("tcp")
    # --no-verify: the counts below are of the update's messages alone.
    args = args + ["--no-verify"]
    r = ok(update("present", srv, fqdn, "tcp", args, "--protocol", "tcp",
                  nameservers=[fake.addr]), srv)
    assert "over TCP" in r.out, r
    assert (fake.udp_queries, len(fake.tcp_queries)) == ([], 1)
    assert srv.txt(fqdn) == ["tcp"]
    ok(update("cleanup", srv, fqdn, "tcp", args, "--protocol", "TCP",
              nameservers=[fake.addr]), srv)
    assert srv.txt(fqdn) == []


def test_truncated_udp_answer_retries_over_tcp(dns_server, truncating_dns,
                                               tmp_path):
    srv = dns_server
    fake = truncating_dns(upstream=srv)
    # --no-verify: the counts below are of the update's messages alone.
    args = key_args(tmp_path, srv.keys["acme256"], "knot") + ["--no-verify"]
    fqdn = unique_fqdn("tc")
    r = ok(update("present", srv, fqdn, "retried", args,
                  nameservers=[fake.addr]), srv)
    assert "via %s over TCP" % fake.addr in r.out, r
    assert (len(fake.udp_queries), len(fake.tcp_queries)) == (1, 1)
    assert srv.txt(fqdn) == ["retried"]
    ok(update("cleanup", srv, fqdn, "retried", args,
              nameservers=[fake.addr]), srv)
    assert (len(fake.udp_queries), len(fake.tcp_queries)) == (2, 2)
    assert srv.txt(fqdn) == []


def test_blackholed_first_nameserver_fails_over(dns_server, blackhole_dns,
                                                tmp_path):
    """The first nameserver never answers: it is given up after --timeout,
    the second one takes the update, and the output says what the first
    did."""
    srv = dns_server
    args = key_args(tmp_path, srv.keys["acme256"], "bind")
    fqdn = unique_fqdn("failover")
    timeout_ms = int(float(TIMEOUT[srv.kind]) * 1000)
    r = ok(update("present", srv, fqdn, "second", args,
                  nameservers=[blackhole_dns.addr, srv.addr]), srv)
    assert "via %s" % srv.addr in r.out, r
    m = re.search(r"tried first %s \((\d+) ms\): no answer"
                  % re.escape(blackhole_dns.addr), r.out)
    assert m, r
    # Given up at the per-attempt limit, not the default 5 s.
    assert timeout_ms <= int(m.group(1)) < timeout_ms + 1000, r
    assert blackhole_dns.udp_queries
    assert srv.txt(fqdn) == ["second"]
    ok(update("cleanup", srv, fqdn, "second", args), srv)
    assert srv.txt(fqdn) == []


def test_refusing_first_nameserver_fails_over(bind, rcode_dns, tmp_path):
    fake = rcode_dns(5)
    args = key_args(tmp_path, bind.keys["acme256"], "bind")
    fqdn = unique_fqdn("refused")
    r = ok(update("present", bind, fqdn, "next", args,
                  nameservers=[fake.addr, bind.addr]), bind)
    assert re.search(r"tried first %s \(\d+ ms\): .*REFUSED"
                     % re.escape(fake.addr), r.out), r
    assert bind.txt(fqdn) == ["next"]
    ok(update("cleanup", bind, fqdn, "next", args), bind)
    assert bind.txt(fqdn) == []


def test_all_nameservers_fail_says_what_each_did(bind, rcode_dns,
                                                 blackhole_dns, tmp_path):
    servfail = rcode_dns(2)
    args = key_args(tmp_path, bind.keys["acme256"], "bind")
    fqdn = unique_fqdn("allfail")
    r = run("present", "--nameserver", blackhole_dns.addr, "--nameserver",
            servfail.addr, "--zone", bind.zone, "--fqdn", fqdn, "--value",
            "x", "--timeout", "1", *args)
    assert r.rc == 1, r
    assert blackhole_dns.addr in r.err and servfail.addr in r.err, r
    assert "SERVFAIL" in r.err, r


# ------------------------------------------------------------------ usage

BASE = ["--nameserver", "127.0.0.1:5353", "--zone", "example.test",
        "--fqdn", "_acme-challenge.example.test", "--value", "v"]


def without(args, flag):
    i = args.index(flag)
    return args[:i] + args[i + 2:]


# (argv, text the message must contain: the bad flag)
USAGE_ERRORS = [
    (["present"] + without(BASE, "--nameserver"), "missing --nameserver"),
    # --zone is optional with --fqdn (the zone is found at the server):
    # only check without both is a usage error.
    (["check"] + without(without(without(BASE, "--zone"), "--fqdn"),
                         "--value"), "missing --zone"),
    (["present"] + without(BASE, "--fqdn"), "missing --fqdn"),
    (["cleanup"] + without(BASE, "--value"), "missing --value"),
    (["present"] + BASE + ["--ttl", "abc"], "--ttl 'abc'"),
    (["present"] + BASE + ["--ttl", "-1"], "--ttl '-1'"),
    (["present"] + BASE + ["--ttl", "2147483648"], "--ttl '2147483648'"),
    (["present"] + BASE + ["--protocol", "sctp"], "--protocol 'sctp'"),
    (["present"] + BASE + ["--timeout", "0"], "--timeout '0'"),
    (["present"] + BASE + ["--timeout", "abc"], "--timeout 'abc'"),
    (["present"] + BASE + ["--timeout", "-2"], "--timeout '-2'"),
    (["present"] + BASE + ["--timeout", "2x"], "--timeout '2x'"),
    (["present"] + BASE + ["--bogus"], "unknown option '--bogus'"),
    (["present"] + BASE + ["-x"], "unknown option '-x'"),
    (["present"] + BASE + ["extra"], "unexpected argument 'extra'"),
    (["present"] + BASE + ["--zone"], "'--zone' needs a value"),
    (["present"] + BASE + ["--nameserver", "1.2.3.4:99999"],
     "--nameserver '1.2.3.4:99999'"),
    (["present"] + BASE + ["--nameserver", "[::1"], "--nameserver '[::1'"),
    (["present"] + BASE + ["--fqdn", "_acme-challenge.other.test"],
     "is not inside --zone"),
    (["present"] + BASE + ["--value", ""], "--value"),
    (["present"] + BASE + ["--key-file", "/dev/null", "--tsig-algorithm",
                           "hmac-sha999"], "--tsig-algorithm 'hmac-sha999'"),
    (["present"] + BASE + ["--tsig-key-name", "k"],
     "--tsig-key-name needs --key-file"),
    (["check"] + without(BASE, "--fqdn"), "check does not take --value"),
    (["check", "--zone", "example.test"], "missing --nameserver"),
]


@pytest.mark.parametrize("argv,text", USAGE_ERRORS,
                         ids=[t for _, t in USAGE_ERRORS])
def test_usage_error(argv, text):
    r = run(*argv)
    assert r.rc == 2, r
    assert text in r.err, r
    assert "Try 'rfc2136-webhook %s --help'" % argv[0] in r.err, r
    assert r.out == ""


@pytest.mark.parametrize("cmd,synopsis", [
    ("present", "rfc2136-webhook present --nameserver ADDR [--nameserver "
     "ADDR ...] --zone ZONE --fqdn NAME --value TEXT"),
    ("cleanup", "rfc2136-webhook cleanup --nameserver ADDR [--nameserver "
     "ADDR ...] --zone ZONE --fqdn NAME --value TEXT"),
    ("check", "rfc2136-webhook check   --nameserver ADDR ... --zone ZONE "
     "[--fqdn NAME] [--protocol ...] [--timeout ...] KEY"),
])
def test_help(cmd, synopsis):
    r = run(cmd, "--help")
    assert (r.rc, r.err) == (0, ""), r
    assert synopsis in r.out
    assert "KEY: --key-file PATH [--tsig-key-name NAME] [--tsig-algorithm " \
        "ALG]" in r.out
    assert run(cmd, "-h").out == r.out
