"""Every TSIG secret that works with nsupdate works here (issue 12).

nsupdate is the oracle: BIND's own reading of a bare secret (`nsupdate -y
alg:name:TEXT`: base64, white space skipped) against the same server and
key.  Secrets of every kind are generated (random key bytes of 1-128
bytes; printable passphrases with `key`, `secret`, `:`, `=` and spaces;
passphrases whose text is itself base64 of 16+ bytes; the same encoded
twice; passphrases given without encoding), each written with a trailing
newline, CRLF, spaces or without padding.  One server of each kind (BIND,
Knot, PowerDNS) holds all of their keys at once.  Wherever nsupdate
succeeds, our present and cleanup succeed; where nsupdate fails, we fail
with a message naming the cause, except for a missing padding, which we
tolerate on purpose (then nsupdate must take the padded text).  The same
secrets go as Kubernetes Secret values (the stand-in API) and through
--secrets-dir to the webhook (a sample of them); the recovered mistakes
(base64 twice, raw key bytes in a Secret's data:, a base64-encoded key
file) work with their warnings, and the issue's passphrase example works
with present, check and the webhook.
"""
import base64
import collections
import concurrent.futures
import os
import random
import string
import subprocess

import pytest

from dnsservers import (BindServer, Key, KnotServer, PdnsServer, key_text,
                        unique_fqdn)
from test_webhook_solver import NS, secrets_dir, solve
from webhook import start_webhook

BIN = os.environ.get("RFC2136_WEBHOOK", "build/rfc2136-webhook")
SEED = 20261206
WORKERS = 4
TIMEOUT = {"knot": "3", "bind": "2", "pdns": "2"}
ALGS = ["hmac-sha256", "hmac-sha512", "hmac-sha1", "hmac-md5",
        "hmac-sha224", "hmac-sha384"]
WEAK = ("hmac-md5", "hmac-sha1")

# The issue's example: printf 'my-tsig-secret-for-acme-2026' | base64
PASSPHRASE = b"my-tsig-secret-for-acme-2026"

# One generated secret: the key bytes the server holds, the text the user
# gives (to nsupdate -y and to us), and how the text was made.
Case = collections.namedtuple("Case", "name alg key text kind")

VARIANTS = [
    ("plain", lambda t: t),
    ("newline", lambda t: t + "\n"),
    ("crlf", lambda t: t + "\r\n"),
    ("spaces", lambda t: "  " + t + " \t\n"),
    ("nopad", lambda t: t.rstrip("=")),
]


def b64(data):
    return base64.b64encode(data).decode()


def passphrases(rng):
    """Printable passphrases of the kinds people use."""
    def word(n):
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))

    def alnum(n):
        return "".join(rng.choice(string.ascii_letters + string.digits)
                       for _ in range(n))

    out = [PASSPHRASE.decode(), "passwordpasswordpassword", "key", "secret",
           "key:", "a=b", "key: value", "secret = \"x\";",
           'key "x" { algorithm hmac-sha256; secret "y"; };',
           "hmac-sha256:acme:" + alnum(20), "Private-key-format: v1.3",
           "key:\n  - id: x\n    secret: y\n"]
    for i in range(40):
        out.append(rng.choice(["key", "secret", "my-key", "Secret",
                               "tsig"]) + rng.choice(["-", ":", "=", " ",
                                                      "_", ""]) +
                   word(4 + i % 24) + rng.choice(["", "=", "==", ":", "!"]))
    for n in (16, 20, 24, 28, 32, 40, 44, 48, 64, 88):
        out.append(alnum(n))  # itself valid base64 (n % 4 == 0)
    for i in range(8):
        out.append(" ".join(word(3 + i % 5) for _ in range(3 + i % 3)))
    return out


def generate():
    """All cases, deterministic for SEED."""
    rng = random.Random(SEED)
    cases = []

    def add(kind, key, text):
        n = len(cases)
        cases.append(Case("o%03d" % n, ALGS[n % len(ALGS)], key, text, kind))

    # Random key bytes of every length 1-128, then half of them again with
    # another spelling of the text.
    for n in range(1, 129):
        vname, v = VARIANTS[n % len(VARIANTS)]
        key = rng.randbytes(n)
        add("random-%d-%s" % (n, vname), key, v(b64(key)))
    for n in range(2, 129, 2):
        vname, v = VARIANTS[(n // 2 + 2) % len(VARIANTS)]
        key = rng.randbytes(n)
        add("random-%d-%s" % (n, vname), key, v(b64(key)))
    # Passphrase keys: the server holds the passphrase, the text is its
    # base64 (printf PASSPHRASE | base64).
    for i, p in enumerate(passphrases(rng)):
        vname, v = VARIANTS[i % len(VARIANTS)]
        add("passphrase-%s" % vname, p.encode(), v(b64(p.encode())))
    # Base64 of base64: the server holds the base64 text of a passphrase
    # (valid base64 again, of 16+ bytes), the text is encoded once more.
    for i, p in enumerate(["passwordpasswordpassword", PASSPHRASE.decode(),
                           "correct horse battery staple"]):
        inner = b64(p.encode())
        vname, v = VARIANTS[i % len(VARIANTS)]
        add("twice-%s" % vname, inner.encode(), v(b64(inner.encode())))
    # The passphrase itself, not encoded: nsupdate cannot take it.
    for p in [PASSPHRASE.decode(), "hunter2!", "my secret phrase",
              "user:password", "key=value", "s3cr3t-p4ss", "pass word"]:
        add("unencoded", p.encode(), p + "\n")
    return cases


CASES = generate()
EXTRA = [Key(c.name, c.alg, b64(c.key)) for c in CASES] + [
    Key("acme-pass", "hmac-sha256", b64(PASSPHRASE))]


@pytest.fixture(scope="module", params=["bind", "knot", "pdns"])
def server(request):
    cls = {"bind": BindServer, "knot": KnotServer,
           "pdns": PdnsServer}[request.param]
    srv = cls(EXTRA).start()
    try:
        yield srv
    finally:
        srv.stop()


def run(*args):
    p = subprocess.run([BIN] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def nsupdate(srv, case, text, fqdn):
    """nsupdate -y with @text: add and delete a TXT.  True when both
    were accepted."""
    script = ("server %s %d\nzone %s\nupdate add %s 60 TXT \"ns\"\nsend\n"
              "update delete %s TXT \"ns\"\nsend\n"
              % (srv.host, srv.port, srv.zone, fqdn, fqdn))
    p = subprocess.run(["nsupdate", "-t", TIMEOUT[srv.kind], "-y",
                        "%s:%s:%s" % (case.alg, case.name, text)],
                       input=script, capture_output=True, text=True,
                       timeout=60)
    return p.returncode == 0, p.stderr


def ours(srv, case, path, fqdn):
    """present, served, cleanup, gone: (ok, detail)."""
    args = ["--nameserver", srv.addr, "--zone", srv.zone, "--fqdn", fqdn,
            "--value", "ours", "--timeout", TIMEOUT[srv.kind],
            "--key-file", path, "--tsig-key-name", case.name,
            "--tsig-algorithm", case.alg]
    rc, out, err = run("present", *args)
    if rc != 0:
        return False, err
    served = srv.txt(fqdn)
    rc2, out2, err2 = run("cleanup", *args)
    if served != ["ours"] or rc2 != 0 or srv.txt(fqdn) != []:
        return None, "present ok but served %r, cleanup rc %d: %s" % (
            served, rc2, err2)
    return True, err + err2


# Words that name why a secret was refused.
CAUSES = ("not valid base64", "known format", "BADSIG", "BADKEY",
          "REFUSED", "rejected", "differs")


def oracle_one(srv, case, tmp_path):
    """Compare one case; returns a list of problems."""
    problems = []
    path = tmp_path / case.name
    path.write_bytes(case.text.encode())
    fqdn = unique_fqdn(case.name)
    ns_ok, ns_err = nsupdate(srv, case, case.text, fqdn)
    padded_ok = ns_ok
    if not ns_ok and case.kind.endswith("nopad"):
        # Our tolerance: nsupdate must take the text with its padding.
        padded_ok, ns_err = nsupdate(srv, case, b64(case.key), fqdn)
        if not padded_ok:
            problems.append("%s %s: nsupdate refuses even the padded text: "
                            "%s" % (case.name, case.kind, ns_err))
    got, detail = ours(srv, case, path, fqdn)
    if got is None:
        problems.append("%s %s: %s" % (case.name, case.kind, detail))
    elif padded_ok and not got:
        problems.append("%s %s: nsupdate succeeds, we fail: %s"
                        % (case.name, case.kind, detail))
    elif not padded_ok and got:
        problems.append("%s %s: nsupdate fails, we succeed" %
                        (case.name, case.kind))
    elif not got and not any(c in detail for c in CAUSES):
        problems.append("%s %s: failure names no cause: %s"
                        % (case.name, case.kind, detail))
    if got and case.alg in WEAK and \
            ("uses %s, a weak" % case.alg) not in detail:
        problems.append("%s: no weak-algorithm warning for %s: %s"
                        % (case.name, case.alg, detail))
    if b64(case.key) in detail or (len(case.text.strip()) >= 8 and
                                   case.text.strip() in detail):
        problems.append("%s: the secret is printed" % case.name)
    return problems, ns_ok, padded_ok


def test_oracle_cli(server, tmp_path):
    """Each generated secret as a bare secret file: present and cleanup
    succeed exactly where nsupdate does (or nsupdate takes the padded
    text), and fail with the cause where it does not."""
    problems, agree, refused = [], 0, 0
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        for p, ns_ok, padded_ok in pool.map(
                lambda c: oracle_one(server, c, tmp_path), CASES):
            problems += p
            agree += padded_ok
            refused += not padded_ok
    assert not problems, "\n".join(problems[:30])
    assert len(CASES) >= 250
    # The oracle must have said both things.
    assert agree >= 240 and refused >= 5, (agree, refused)


# ------------------------------------------------------------- webhook

SAMPLE = CASES[::4]  # every variant of every kind (5 variants)


def webhook_config(srv, case, secret):
    return {"nameserver": srv.addr, "timeout": "%ss" % TIMEOUT[srv.kind],
            "tsigSecretSecretRef": {"name": secret, "key": "secret"},
            "tsigKeyName": case.name, "tsigAlgorithm": case.alg}


def webhook_one(wh, srv, case, secret, expect_ok):
    fqdn = unique_fqdn(case.name)
    resp = solve(wh, "Present", fqdn, "wh", webhook_config(srv, case,
                                                           secret))
    if not expect_ok:
        msg = resp.get("status", {}).get("message", "")
        if resp["success"]:
            return ["%s %s: nsupdate fails, webhook succeeds"
                    % (case.name, case.kind)]
        if not any(c in msg for c in CAUSES):
            return ["%s: failure names no cause: %s" % (case.name, msg)]
        return []
    if not resp["success"]:
        return ["%s %s: Present failed: %s" % (case.name, case.kind,
                                               resp["status"]["message"])]
    served = srv.txt(fqdn)
    resp = solve(wh, "CleanUp", fqdn, "wh", webhook_config(srv, case,
                                                           secret))
    if served != ["wh"] or not resp["success"] or srv.txt(fqdn) != []:
        return ["%s: served %r, CleanUp %r" % (case.name, served, resp)]
    return []


def expected(case):
    """nsupdate's verdict, as test_oracle_cli measures it for the CLI
    (the padding tolerance included): encoded texts work."""
    return case.kind != "unencoded"


@pytest.mark.parametrize("how", ["kube", "dir"])
def test_oracle_webhook(server, tmp_path, pki, kube, how):
    """A sample of the secrets as Kubernetes Secret values (stand-in API)
    and through --secrets-dir: the same verdicts as nsupdate's."""
    names = {c.name: "s-%s" % c.name for c in SAMPLE}
    if how == "kube":
        for c in SAMPLE:
            kube.add_secret(NS, names[c.name], {"secret": c.text})
        wh = start_webhook(tmp_path, pki, args=[
            "--kubeconfig", kube.kubeconfig(tmp_path / "kubeconfig")])
        problems = sum((webhook_one(wh, server, c, names[c.name],
                                    expected(c)) for c in SAMPLE), [])
    else:
        root = secrets_dir(tmp_path, {(NS, names[c.name], "secret"): c.text
                                      for c in SAMPLE})
        wh = start_webhook(tmp_path, pki, args=["--secrets-dir", root])
        problems = sum((webhook_one(wh, server, c, names[c.name],
                                    expected(c)) for c in SAMPLE), [])
    assert len(SAMPLE) >= 50
    assert not problems, "\n".join(problems[:20])
    log = wh.log()
    for c in SAMPLE:
        assert b64(c.key) not in log, c
    assert "weak TSIG algorithm" in log


# ---------------------------------------------------- recovered mistakes

def test_recovered_mistakes(server, tmp_path, pki, kube):
    """Base64 twice (tsig-keygen's text encoded again), raw key bytes in a
    Secret's data:, a key file base64-encoded with and without the key
    name in the config: each works, with its warning, in the CLI and the
    webhook."""
    key = server.keys["acme256"]
    twice = b64(key.secret.encode())
    raw = base64.b64decode(key.secret)
    file_b64 = b64(key_text(key, "bind").encode())
    # CLI: a bare secret file with tsig-keygen's text encoded twice.
    path = tmp_path / "twice"
    path.write_text(twice + "\n")
    fqdn = unique_fqdn("twice")
    common = ["--nameserver", server.addr, "--zone", server.zone,
              "--timeout", TIMEOUT[server.kind], "--key-file", path,
              "--tsig-key-name", key.name, "--tsig-algorithm", key.algorithm]
    args = common + ["--fqdn", fqdn, "--value", "v"]
    rc, out, err = run("present", *args)
    assert rc == 0, err
    assert "warning: " in err and "twice" in err and "ambiguous" in err, err
    assert server.txt(fqdn) == ["v"]
    rc, out, err = run("cleanup", *args)
    assert rc == 0 and "twice" in err, err
    assert server.txt(fqdn) == []
    assert key.secret not in out + err and twice not in out + err
    # check takes it too: a warn line names the reading that worked.
    rc, out, err = run("check", *common, "--fqdn", unique_fqdn("twicechk"))
    assert rc == 0, out + err
    assert "all 8 steps passed" in out, out
    assert [line for line in out.splitlines()
            if line.startswith("  warn  ") and "twice" in line], out

    kube.add_secret(NS, "twice", {"secret": twice})
    kube.add_secret(NS, "raw", {"secret": raw})
    kube.add_secret(NS, "file", {"secret": file_b64})
    wh = start_webhook(tmp_path, pki, args=[
        "--kubeconfig", kube.kubeconfig(tmp_path / "kubeconfig")])
    rows = [("twice", True, "second reading"),
            ("raw", True, "raw key bytes"),
            ("file", False, "key file base64-encoded"),
            ("file", True, "key file whose secret was accepted")]
    for secret, with_name, logged in rows:
        cfg = {"nameserver": server.addr,
               "timeout": "%ss" % TIMEOUT[server.kind],
               "tsigSecretSecretRef": {"name": secret, "key": "secret"}}
        if with_name:
            cfg.update(tsigKeyName=key.name, tsigAlgorithm=key.algorithm)
        fqdn = unique_fqdn(secret)
        refused = server.log().count("invalid signature")
        resp = solve(wh, "Present", fqdn, "w", cfg)
        assert resp["success"], (secret, resp)
        assert server.txt(fqdn) == ["w"]
        resp = solve(wh, "CleanUp", fqdn, "w", cfg)
        assert resp["success"], (secret, resp)
        assert server.txt(fqdn) == []
        assert logged in wh.log(), (secret, wh.log()[-3000:])
        if server.kind == "bind" and secret == "twice":
            # The webhook remembers the reading that worked: only the
            # Present's first try was refused, the CleanUp went through.
            assert server.log().count("invalid signature") == refused + 1, \
                server.log()[-2000:]
    log = wh.log()
    for s in (key.secret, twice, file_b64):
        assert s not in log


# ------------------------------------------------ the issue's example

def test_issue_passphrase(server, tmp_path, pki):
    """printf 'my-tsig-secret-for-acme-2026' | base64, configured on the
    server as acme-pass: present, check and the webhook take it, with no
    warning (it is nsupdate's reading)."""
    text = b64(PASSPHRASE) + "\n"
    path = tmp_path / "key.txt"
    path.write_text(text)
    keyargs = ["--key-file", path, "--tsig-key-name", "acme-pass",
               "--tsig-algorithm", "hmac-sha256"]
    fqdn = unique_fqdn("pass")
    common = ["--nameserver", server.addr, "--zone", server.zone,
              "--timeout", TIMEOUT[server.kind]]
    rc, out, err = run("present", *common, "--fqdn", fqdn, "--value", "p",
                       *keyargs)
    assert rc == 0 and err == "", err
    assert server.txt(fqdn) == ["p"]
    rc, out, err = run("cleanup", *common, "--fqdn", fqdn, "--value", "p",
                       *keyargs)
    assert rc == 0 and server.txt(fqdn) == [], err
    # --authoritative: the zone's NS (ns1, port 53) is not this test's
    # server, and the propagation steps would warn about it.
    rc, out, err = run("check", *common, "--fqdn", unique_fqdn("passchk"),
                       "--authoritative", server.addr, *keyargs)
    assert rc == 0, out + err
    assert "all 10 steps passed" in out and "warn" not in out, out
    root = secrets_dir(tmp_path, {(NS, "pass", "secret"): text})
    wh = start_webhook(tmp_path, pki, args=["--secrets-dir", root])
    cfg = {"nameserver": server.addr, "timeout": "%ss" % TIMEOUT[server.kind],
           "tsigSecretSecretRef": {"name": "pass", "key": "secret"},
           "tsigKeyName": "acme-pass", "tsigAlgorithm": "hmac-sha256"}
    fqdn = unique_fqdn("passwh")
    assert solve(wh, "Present", fqdn, "w", cfg)["success"]
    assert server.txt(fqdn) == ["w"]
    assert solve(wh, "CleanUp", fqdn, "w", cfg)["success"]
    assert server.txt(fqdn) == []
    assert b64(PASSPHRASE) not in wh.log()
