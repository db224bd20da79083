"""Real certificates: pebble (Let's Encrypt's test CA) validates DNS-01
against Knot, BIND and PowerDNS while lego and certbot, unwrapped, run
rfc2136-webhook as their hook:

  lego --dns exec with EXEC_PATH = the binary itself, settings only in
  lego's RFC2136_* variables, in both modes (FQDN VALUE, and RAW:
  -- DOMAIN TOKEN KEYAUTH);
  certbot --manual with the bare hook strings 'rfc2136-webhook present' /
  'rfc2136-webhook cleanup' (CERTBOT_DOMAIN, CERTBOT_VALIDATION), an apex
  + wildcard order (two values at one name at once), and with
  --credentials (certbot-dns-rfc2136's INI file);
  an order spanning two zones (zone discovery); a foreign value at the
  same name survives; a wrong secret fails with our diagnosis in the
  client's output and leaves nothing.

The command lines are the README's ("ACME clients without cert-manager").  Each order
checks the names in the certificate, its chain up to pebble's root, and
that no TXT value is left behind.
"""
import base64
import hashlib
import os
import secrets
import subprocess

import pytest

from acme import (Pebble, cert_names, certbot, lego,  # noqa: F401
                  pebble_for, verify_chain)
from dnsservers import ZONE, free_port
from test_cli import Result
from test_zones import zbind  # noqa: F401 (a fixture)

WEBHOOK = os.environ.get("RFC2136_WEBHOOK", "build/rfc2136-webhook")


def run(*args, env):
    """The binary with only @env's settings (plus PATH)."""
    p = subprocess.run([WEBHOOK] + [str(a) for a in args], text=True,
                       capture_output=True, timeout=60,
                       env=dict(env, PATH=os.environ.get("PATH", "")))
    return Result(p)


def label(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(4))


def lego_env(srv, key, **extra):
    """Only lego's own variables, as its rfc2136 users have them."""
    env = {"EXEC_PATH": WEBHOOK,
           "RFC2136_NAMESERVER": srv.addr,
           "RFC2136_TSIG_KEY": key.name,
           "RFC2136_TSIG_SECRET": key.secret,
           "RFC2136_TSIG_ALGORITHM": key.algorithm + "."}
    env.update(extra)
    return env


def challenge(name):
    return "_acme-challenge.%s." % name.lstrip("*.").rstrip(".")


def assert_issued(r, pebble, names, tmp_path, servers):
    assert r.rc == 0, r
    assert r.cert, r
    assert cert_names(r.cert) == sorted(names), r
    verify_chain(pebble, r.cert, tmp_path)
    # Nothing left behind.
    for srv, name in servers:
        assert srv.txt(challenge(name)) == [], (name, r)


@pytest.mark.parametrize("mode", ["default", "RAW"])
def test_lego_exec(dns_server, pebble_for, tmp_path, mode):
    srv = dns_server
    name = "%s.%s" % (label("lego"), ZONE.rstrip("."))
    env = lego_env(srv, srv.keys["acme256"])
    if mode == "RAW":
        env["EXEC_MODE"] = "RAW"
    pebble = pebble_for(srv)
    r = lego(pebble, tmp_path, [name], env, srv.addr)
    assert_issued(r, pebble, [name], tmp_path, [(srv, name)])


def test_certbot_bare_hooks_apex_and_wildcard(dns_server, pebble_for,
                                              tmp_path):
    """Both authorizations' values stand at one name at the same time."""
    srv = dns_server
    key = srv.keys["acme512"]
    name = "%s.%s" % (label("cb"), ZONE.rstrip("."))
    env = {"RFC2136_NAMESERVER": srv.addr, "RFC2136_TSIG_KEY": key.name,
           "RFC2136_TSIG_SECRET": key.secret,
           "RFC2136_TSIG_ALGORITHM": key.algorithm}
    pebble = pebble_for(srv)
    r = certbot(pebble, tmp_path, [name, "*." + name],
                WEBHOOK + " present", WEBHOOK + " cleanup", env)
    assert_issued(r, pebble, [name, "*." + name], tmp_path, [(srv, name)])


def write_credentials(tmp_path, srv, key, mode=0o600):
    path = tmp_path / "rfc2136.ini"
    host, port = srv.addr.rsplit(":", 1)
    path.write_text("# certbot-dns-rfc2136 credentials\n"
                    "dns_rfc2136_server = %s\n"
                    "dns_rfc2136_port = %s\n"
                    "dns_rfc2136_name = %s.\n"
                    "dns_rfc2136_secret = %s\n"
                    "dns_rfc2136_algorithm = %s\n"
                    % (host, port, key.name, key.secret,
                       key.algorithm.upper()))
    os.chmod(path, mode)
    return path


def test_certbot_credentials(dns_server, pebble_for, tmp_path):
    srv = dns_server
    ini = write_credentials(tmp_path, srv, srv.keys["acme256"])
    name = "%s.%s" % (label("ini"), ZONE.rstrip("."))
    pebble = pebble_for(srv)
    r = certbot(pebble, tmp_path, [name],
                "%s present --credentials %s" % (WEBHOOK, ini),
                "%s cleanup --credentials %s" % (WEBHOOK, ini), {})
    assert_issued(r, pebble, [name], tmp_path, [(srv, name)])
    assert "Unsafe permissions" not in r.text, r


def test_lego_order_across_two_zones(zbind, pebble_for, tmp_path):
    """No zone anywhere: each name's zone is found at the server."""
    a = "%s.example.test" % label("a")
    b = "%s.sub.example.test" % label("b")
    c = "%s.other.test" % label("c")
    pebble = pebble_for(zbind)
    r = lego(pebble, tmp_path, [a, b, c],
             lego_env(zbind, zbind.keys["acme256"]), zbind.addr)
    assert_issued(r, pebble, [a, b, c], tmp_path,
                  [(zbind, a), (zbind, b), (zbind, c)])
    assert "zone sub.example.test." in r.err and "zone other.test." in r.err


def test_foreign_value_survives(knot, pebble_for, tmp_path):
    srv = knot
    key = srv.keys["acme256"]
    name = "%s.%s" % (label("keep"), ZONE.rstrip("."))
    fqdn = challenge(name)
    env = lego_env(srv, key)
    r0 = run("present", fqdn, "foreign-value", env=env)
    assert r0.rc == 0, r0
    pebble = pebble_for(srv)
    r = lego(pebble, tmp_path, [name], env, srv.addr)
    assert r.rc == 0 and r.cert, r
    assert srv.txt(fqdn) == ["foreign-value"], r
    r1 = run("cleanup", fqdn, "foreign-value", env=env)
    assert r1.rc == 0 and "deleted" in r1.out, r1
    assert srv.txt(fqdn) == []


@pytest.mark.parametrize("client", ["lego", "certbot"])
def test_wrong_secret_fails_with_diagnosis(dns_server, pebble_for, tmp_path,
                                           client):
    srv = dns_server
    key = srv.keys["acme256"]
    wrong = key._replace(secret=secrets.token_bytes(32).hex()[:43] + "=")
    name = "%s.%s" % (label("wrong"), ZONE.rstrip("."))
    pebble = pebble_for(srv)
    if client == "lego":
        r = lego(pebble, tmp_path, [name], lego_env(srv, wrong), srv.addr)
    else:
        ini = write_credentials(tmp_path, srv, wrong)
        r = certbot(pebble, tmp_path, [name],
                    "%s present --credentials %s" % (WEBHOOK, ini),
                    "%s cleanup --credentials %s" % (WEBHOOK, ini), {})
    assert r.rc != 0 and r.cert is None, r
    # Our diagnosis reached the client's output, the secret did not.
    for text in {"knot": ["NOTAUTH/BADSIG", "compare the secret"],
                 "bind": ["NOTAUTH/BADSIG", "compare the secret"],
                 "pdns": ["REFUSED", "PowerDNS",
                          "TSIG-ALLOW-DNSUPDATE acme256"]}[srv.kind]:
        assert text in r.text, r
    assert wrong.secret not in r.text
    assert srv.txt(challenge(name)) == []


# ------------------------------------------------ the hook's own behaviour

def test_cleanup_absent_value_says_so(dns_server):
    srv = dns_server
    env = lego_env(srv, srv.keys["acme256"])
    fqdn = challenge(label("gone") + "." + ZONE)
    r = run("cleanup", fqdn, "never-added", env=env)
    assert r.rc == 0, r
    assert "was not there; nothing to delete" in r.out, r
    r = run("present", fqdn, "added", env=env)
    assert r.rc == 0, r
    r = run("cleanup", fqdn, "added", env=env)
    assert r.rc == 0 and r.out.startswith('deleted TXT "added"'), r
    assert "nothing to delete" not in r.out, r


def test_env_algorithm_missing_names_the_variable(knot):
    key = knot.keys["acme256"]
    env = lego_env(knot, key)
    del env["RFC2136_TSIG_ALGORITHM"]
    r = run("present", challenge(label("noalg") + "." + ZONE), "v", env=env)
    assert r.rc == 2, r
    assert "RFC2136_TSIG_ALGORITHM" in r.err and "hmac-sha1" in r.err, r
    assert key.secret not in r.out + r.err


def test_env_dnsupdate_first_flags_win_failover(knot, bind):
    """DNSUPDATE_* before RFC2136_*, --nameserver before both, and a
    comma-separated list fails over from a closed port to the server."""
    key = knot.keys["acme256"]
    fqdn = challenge(label("env") + "." + ZONE)
    closed = "127.0.0.1:%d" % free_port()
    env = {"DNSUPDATE_NAMESERVER": "%s, %s" % (closed, knot.addr),
           "RFC2136_NAMESERVER": bind.addr,
           "DNSUPDATE_TSIG_KEY": key.name,
           "DNSUPDATE_TSIG_SECRET": key.secret,
           "DNSUPDATE_TSIG_ALGORITHM": "hmac-sha256",
           "RFC2136_DNS_TIMEOUT": "1s", "RFC2136_TTL": "120",
           "RFC2136_ZONE": ZONE, "RFC2136_PROTOCOL": "tcp"}
    r = run("present", fqdn, "env-value", env=env)
    assert r.rc == 0, r
    assert "via %s over TCP" % knot.addr in r.out, r
    assert "tried first %s" % closed in r.out, r
    ans = knot.query(fqdn, "TXT")
    assert [rr.ttl for rr in ans.answers] == [120], ans
    assert bind.txt(fqdn) == []
    # A flag wins over both variables.
    r = run("cleanup", "--nameserver", knot.addr, fqdn, "env-value",
            env=dict(env, DNSUPDATE_NAMESERVER=closed))
    assert r.rc == 0 and "tried first" not in r.out, r
    assert knot.txt(fqdn) == []
    r = run("present", fqdn, "v", env=dict(env, RFC2136_DNS_TIMEOUT="soon"))
    assert r.rc == 2 and "RFC2136_DNS_TIMEOUT 'soon'" in r.err, r


def test_tsig_file_from_environment(bind, tmp_path):
    key = bind.keys["acme512"]
    path = tmp_path / "k.key"
    path.write_text('key "%s" { algorithm %s; secret "%s"; };\n'
                    % (key.name, key.algorithm, key.secret))
    fqdn = challenge(label("file") + "." + ZONE)
    env = {"RFC2136_NAMESERVER": bind.addr, "RFC2136_TSIG_FILE": str(path)}
    r = run("present", "--fqdn", fqdn, "--value", "f", env=env)
    assert r.rc == 0 and bind.txt(fqdn) == ["f"], r
    r = run("cleanup", "--fqdn", fqdn, "--value", "f", env=env)
    assert r.rc == 0 and bind.txt(fqdn) == [], r


def test_credentials_file_mode_and_missing_algorithm(knot, tmp_path):
    key = knot.keys["acme256"]
    ini = write_credentials(tmp_path, knot, key, mode=0o644)
    fqdn = challenge(label("ini") + "." + ZONE)
    r = run("present", "--credentials", ini, fqdn, "x", env={})
    assert r.rc == 0, r
    assert ("warning: Unsafe permissions on credentials configuration "
            "file: %s" % ini) in r.err, r
    r = run("cleanup", "--credentials", ini, fqdn, "x", env={})
    assert r.rc == 0 and knot.txt(fqdn) == [], r
    ini.write_text("\n".join(line for line in ini.read_text().splitlines()
                             if "algorithm" not in line) + "\n")
    os.chmod(ini, 0o600)
    r = run("present", "--credentials", ini, fqdn, "x", env={})
    assert r.rc == 2 and "dns_rfc2136_algorithm is missing" in r.err, r
    assert "HMAC-MD5" in r.err and key.secret not in r.out + r.err, r
    assert "Unsafe" not in r.err, r


def test_certbot_variables(knot):
    key = knot.keys["acme256"]
    dom = label("cbv") + "." + ZONE.rstrip(".")
    env = dict(lego_env(knot, key), CERTBOT_DOMAIN="*." + dom,
               CERTBOT_VALIDATION="cb-value")
    r = run("present", env=env)
    assert r.rc == 0 and knot.txt(challenge(dom)) == ["cb-value"], r
    r = run("cleanup", env=env)
    assert r.rc == 0 and knot.txt(challenge(dom)) == [], r


def test_raw_mode_value_is_the_digest(knot):
    """RFC 8555 8.4: base64url(SHA-256(key authorization)), unpadded."""
    keyauth = "token-abc.thumbprint-xyz"
    want = base64.urlsafe_b64encode(
        hashlib.sha256(keyauth.encode()).digest()).decode().rstrip("=")
    dom = label("raw") + "." + ZONE.rstrip(".")
    env = lego_env(knot, knot.keys["acme256"])
    r = run("present", "--", dom, "token-abc", keyauth, env=env)
    assert r.rc == 0 and knot.txt(challenge(dom)) == [want], r
    r = run("cleanup", "--", dom, "token-abc", keyauth, env=env)
    assert r.rc == 0 and knot.txt(challenge(dom)) == [], r
    r = run("present", "a", "b", "c", "d", env=env)
    assert r.rc == 2 and "4 operands" in r.err, r


@pytest.mark.parametrize("server", ["knot", "bind", "pdns"])
def test_zone_not_served_gets_only_the_zone_hint(request, server):
    srv = request.getfixturevalue(server)
    env = dict(lego_env(srv, srv.keys["acme256"]), RFC2136_ZONE="other.test")
    r = run("present", "_acme-challenge.x.other.test.", "v", env=env)
    assert r.rc == 1 and "not authoritative" in r.err, r
    assert "--zone" in r.err, r
    for snippet in ("update-policy", "acl:", "TSIG-ALLOW-DNSUPDATE"):
        assert snippet not in r.err, r


def test_acmesh_dnsapi_hook(bind):
    """deploy/acme.sh/dns_rfc2136webhook.sh, called as acme.sh does:
    sourced, then NAME_add FQDN VALUE (no final dot) and NAME_rm."""
    hook = os.path.join(os.path.dirname(__file__), "..", "..", "deploy",
                        "acme.sh", "dns_rfc2136webhook.sh")
    fqdn = "_acme-challenge.%s.%s" % (label("acmesh"), ZONE.rstrip("."))
    env = dict(lego_env(bind, bind.keys["acme256"]),
               PATH="%s:%s" % (os.path.dirname(WEBHOOK), os.environ["PATH"]))
    del env["EXEC_PATH"]
    for fn, want in (("add", ["sh-value"]), ("rm", [])):
        p = subprocess.run(["sh", "-c", '. "$0"; dns_rfc2136webhook_%s '
                            '"$1" sh-value' % fn, hook, fqdn], env=env,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p
        assert bind.txt(fqdn + ".") == want, p


def test_same_credentials_file_as_certbot_dns_rfc2136(knot, pebble_for,
                                                      tmp_path):
    """The INI file --credentials reads is the one certbot-dns-rfc2136
    itself takes: that plugin gets a certificate with it too."""
    ini = write_credentials(tmp_path, knot, knot.keys["acme256"])
    name = "%s.%s" % (label("plugin"), ZONE.rstrip("."))
    pebble = pebble_for(knot)
    d = str(tmp_path)
    env = dict(os.environ, REQUESTS_CA_BUNDLE=pebble.ca_pem)
    p = subprocess.run(
        ["certbot", "certonly", "-n", "--agree-tos",
         "--register-unsafely-without-email", "--server", pebble.directory,
         "--config-dir", d + "/cfg", "--work-dir", d + "/work",
         "--logs-dir", d + "/logs", "--dns-rfc2136",
         "--dns-rfc2136-credentials", str(ini),
         "--dns-rfc2136-propagation-seconds", "1", "--cert-name", "c",
         "-d", name], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    with open(d + "/cfg/live/c/fullchain.pem") as f:
        assert cert_names(f.read()) == [name]


def test_value_starting_with_a_dash(knot):
    """A base64url digest starts with '-' one time in 64: lego passes it as
    the second operand, and it is a value, not an option."""
    fqdn = challenge(label("dash") + "." + ZONE)
    env = lego_env(knot, knot.keys["acme256"])
    r = run("present", fqdn, "-Rx9_dash", env=env)
    assert r.rc == 0 and knot.txt(fqdn) == ["-Rx9_dash"], r
    r = run("cleanup", fqdn, "-Rx9_dash", env=env)
    assert r.rc == 0 and knot.txt(fqdn) == [], r
