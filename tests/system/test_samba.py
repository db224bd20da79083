"""GSS-TSIG against a real Samba AD domain controller (its internal DNS):
check, present and cleanup with a keytab and with a password, the webhook
with keytab and password Secrets from the stand-in Kubernetes API (one
negotiation, then reuse), a Samba restart under a live context
(renegotiation), and the diagnosis when a record belongs to another
account.

Samba signs its answers over the request MAC without the MAC's 2-byte
length (RFC 8945 4.3.1 puts it there); every passing case here proves the
client accepts that form, and test_check_bad_signature that a MAC which
verifies in neither form is still refused.  Fixture: samba.py (imported
directly; one Samba per session on 127.0.0.10:53)."""
import json
import os
import struct
import subprocess

from fakedns import FakeDns, _forward_tcp, msg_opcode, msg_qtype
from samba import (ACME_PASSWORD, DC_HOST, OTHER, PRINCIPAL, REALM, ZONE,
                   samba, samba_env, samba_fqdn)  # noqa: F401 (fixture)
from webhook import challenge, start_webhook

BIN = os.environ.get("RFC2136_WEBHOOK", "build/rfc2136-webhook")
TOOLS = os.environ.get("RFC2136_TOOLS", "build/tools")
NS = "cert-manager"
SAMBA_FORM = ("server signs answers without the request MAC length: "
              "Samba's form")
QTYPE_TKEY = 249


def run(dc, cmd, args):
    return subprocess.run([BIN, cmd] + args, env=samba_env(dc),
                          capture_output=True, text=True, timeout=60)


def cred_args(dc, how, tmp_path, principal=PRINCIPAL):
    """--gss-* options for @principal with its keytab or its password."""
    args = ["--gss-principal", principal, "--gss-service-host", DC_HOST]
    if how == "keytab":
        return args + ["--gss-keytab", dc.keytabs[principal]]
    pw = tmp_path / ("%s.pw" % principal.split("@")[0])
    pw.write_text(dc.passwords[principal] + "\n")
    return args + ["--gss-password-file", str(pw)]


def server_args(dc, addr=None):
    return ["--nameserver", addr or dc.addr, "--zone", ZONE]


# --------------------------------------------------------- the commands

def test_check_keytab_and_password(samba, tmp_path):
    for how in ("keytab", "password"):
        p = run(samba, "check",
                server_args(samba) + cred_args(samba, how, tmp_path))
        assert p.returncode == 0, (how, p.stdout + p.stderr)
        assert "GSS-TSIG as %s with DNS/%s@%s: context negotiated, signed " \
            "SOA answer verified (the %s)" % (PRINCIPAL, DC_HOST, REALM,
                                             SAMBA_FORM) in p.stdout, p.stdout
        # Steps 1-3 are plain queries, as with an HMAC key.
        assert "authoritative for %s (AA bit set, SOA served)" % ZONE \
            in p.stdout
        assert "all 8 steps passed" in p.stdout, p.stdout
        assert samba.txt("_acme-challenge." + ZONE) == []


def test_present_two_cleanup_one(samba, tmp_path):
    for how in ("keytab", "password"):
        fqdn = samba_fqdn(how)
        args = server_args(samba) + cred_args(samba, how, tmp_path) + [
            "--fqdn", fqdn]
        for value in ("first", "second"):
            p = run(samba, "present", args + ["--value", value])
            assert p.returncode == 0, (how, p.stderr)
            assert "added TXT \"%s\"" % value in p.stdout
        assert sorted(samba.txt(fqdn)) == ["first", "second"]
        p = run(samba, "cleanup", args + ["--value", "first"])
        assert p.returncode == 0, (how, p.stderr)
        # Exactly one value deleted (RFC 2136 2.5.4): the other survives.
        assert samba.txt(fqdn) == ["second"]
        p = run(samba, "cleanup", args + ["--value", "second"])
        assert p.returncode == 0, (how, p.stderr)
        assert samba.txt(fqdn) == []


def test_record_owned_by_another_account(samba, tmp_path):
    """A name created by another account is that account's: Samba answers
    acme's delete and add there with SERVFAIL and our signature echoed,
    which the diagnosis explains in Samba's terms."""
    fqdn = samba_fqdn("owned")
    name = fqdn[:-len(ZONE) - 1]
    other = server_args(samba) + cred_args(samba, "keytab", tmp_path,
                                           OTHER) + ["--fqdn", fqdn]
    acme = server_args(samba) + cred_args(samba, "keytab", tmp_path) + [
        "--fqdn", fqdn]
    p = run(samba, "present", other + ["--value", "theirs"])
    assert p.returncode == 0, p.stderr
    for cmd, value in (("cleanup", "theirs"), ("present", "mine")):
        p = run(samba, cmd, acme + ["--value", value])
        assert p.returncode == 1, p.stdout
        assert "SERVFAIL (our signature echoed): %s:53 echoed our " \
            "signature instead of signing its answer, which is how Samba " \
            "AD denies an update: %s may not change %s TXT, because the " \
            "name is owned by another account" % (samba.host, PRINCIPAL,
                                                  fqdn) in p.stderr, p.stderr
        assert "samba-tool dsacl get --objectdn=DC=%s,DC=ad.test,CN=" \
            "MicrosoftDNS,DC=DomainDnsZones," % name in p.stderr, p.stderr
        assert "samba-tool dns delete <DC> ad.test %s TXT" % name \
            in p.stderr
        assert "Windows" not in p.stderr
        assert "hint: in Samba AD a name belongs to the account that " \
            "created it first" in p.stderr
        assert samba.txt(fqdn) == ["theirs"]
    p = run(samba, "cleanup", other + ["--value", "theirs"])
    assert p.returncode == 0, p.stderr
    assert samba.txt(fqdn) == []


def corrupting_proxy(dc):
    """Relays to @dc over TCP; flips a byte of the MAC in the answers to
    signed queries (opcode QUERY, type SOA), not in TKEY answers."""
    def handle(msg, tcp):
        ans = _forward_tcp(dc, msg)
        (arcount,) = struct.unpack("!H", msg[10:12])
        if (ans is not None and msg_opcode(msg) == 0 and msg_qtype(msg) == 6
                and arcount > 0 and ans[-2:] == b"\0\0"):
            # TSIG RDATA ends: MAC, original ID, error, other length 0.
            i = len(ans) - 7
            ans = ans[:i] + bytes([ans[i] ^ 0x01]) + ans[i + 1:]
        return ans
    return FakeDns(handle)


def test_check_bad_signature(samba, tmp_path):
    """A MIC that verifies in neither RFC 8945's nor Samba's form is a
    signature failure, said as one, with the answer shown unverified."""
    proxy = corrupting_proxy(samba)
    try:
        p = run(samba, "check", server_args(samba, proxy.addr) +
                cred_args(samba, "keytab", tmp_path))
    finally:
        proxy.close()
    assert p.returncode == 1, p.stdout
    assert "ok    3. authoritative for %s" % ZONE in p.stdout, p.stdout
    assert "FAIL  4. GSS-TSIG as %s" % PRINCIPAL in p.stdout, p.stdout
    assert "NOERROR (answer signature invalid): the answer's GSS-TSIG " \
        "signature does not verify with the context negotiated for %s" % \
        PRINCIPAL in p.stderr, p.stderr
    assert "the answer, NOT verified" in p.stderr, p.stderr
    # The header and the SOA record, as parsed.
    assert "status: NOERROR" in p.stderr, p.stderr
    assert "ad.test." in p.stderr and "SOA" in p.stderr
    assert "without the AA bit" not in p.stderr + p.stdout


# ---------------------------------------------------------- restart

def test_samba_restart_renegotiates(samba, tmp_path):
    """Samba keeps negotiated keys in memory: after a restart the next
    update gets BADKEY, renegotiates once and is sent again."""
    fqdn = samba_fqdn("rst")
    fifo = str(tmp_path / "go")
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [os.path.join(TOOLS, "gss_client"), samba.addr, ZONE, PRINCIPAL,
         samba.keytabs[PRINCIPAL], DC_HOST, "add:%s:a" % fqdn,
         "wait:" + fifo, "add:%s:b" % fqdn, "del:%s:a" % fqdn,
         "del:%s:b" % fqdn],
        env=samba_env(samba), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first == "add ok negotiations=1\n", proc.stderr.read()
        samba.restart()
        with open(fifo, "w") as f:
            f.write("go\n")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, first + out + err
    assert (first + out).splitlines() == [
        "add ok negotiations=1",
        "wait ok negotiations=1",
        "add ok negotiations=2",  # BADKEY: renegotiated once
        "del ok negotiations=2",
        "del ok negotiations=2"]
    assert samba.txt(fqdn) == []


# ---------------------------------------------------------- the webhook

def tkey_queries(proxy):
    """TKEY negotiation messages (mode 3, RFC 2930 2.5) the proxy relayed."""
    alg = b"\x08gss-tsig\x00"
    n = 0
    for msg in proxy.tcp_queries:
        i = msg.find(alg)
        if msg_opcode(msg) == 0 and msg_qtype(msg) == QTYPE_TKEY and i > 0:
            # algorithm, inception, expiration, then the mode
            (mode,) = struct.unpack("!H", msg[i + len(alg) + 8:
                                              i + len(alg) + 10])
            n += mode == 3
    return n


def test_webhook_keytab_and_password_secrets(samba, tmp_path, pki, kube):
    """The Secrets come from the (stand-in) Kubernetes API: the keytab's
    bytes and the password, base64 in the Secret's data."""
    with open(samba.keytabs[PRINCIPAL], "rb") as f:
        kube.add_secret(NS, "acme-keytab", {"keytab": f.read()})
    kube.add_secret(NS, "acme-password",
                    {"password": ACME_PASSWORD.encode()})
    # Every message through a proxy, to count the TKEY negotiations.
    proxy = FakeDns(lambda msg, tcp: _forward_tcp(samba, msg))
    try:
        # Only --krb5-config tells the webhook where the realm is.
        env = {k: "" for k in ("KRB5_CONFIG", "KRB5_KDC_PROFILE")}
        env["KRB5CCNAME"] = "MEMORY:none"
        w = start_webhook(tmp_path, pki, args=[
            "--kubeconfig", kube.kubeconfig(tmp_path / "kubeconfig"),
            "--krb5-config", samba.krb5_conf, "--v", "2"], env=env)
        for ref, secret, key in (
                ("keytabSecretRef", "acme-keytab", "keytab"),
                ("passwordSecretRef", "acme-password", "password")):
            before = tkey_queries(proxy)
            cfg = {"nameserver": proxy.addr,
                   "gssTSIG": {"principal": "acme", "realm": REALM,
                               "serviceHost": DC_HOST,
                               ref: {"name": secret, "key": key}}}
            fqdn = samba_fqdn("wh")
            for action, value, served in (
                    ("Present", "v1", ["v1"]),
                    ("Present", "v2", ["v1", "v2"]),
                    ("CleanUp", "v1", ["v2"]),
                    ("CleanUp", "v2", [])):
                status, _, body = w.request(
                    "POST", w.solver_path,
                    challenge(action, fqdn, ZONE, value, cfg))
                assert status == 201, body
                r = json.loads(body)["response"]
                assert r["success"], (ref, action, value, r)
                assert sorted(samba.txt(fqdn)) == served, (ref, action)
            # Four challenges, one negotiation.
            assert tkey_queries(proxy) == before + 1, ref
        assert w.stop() == 0
        log = w.log()
    finally:
        proxy.close()
    # Said once per context (keytab, password), at --v 2.
    assert log.count(SAMBA_FORM) == 2, log[-3000:]
    assert ACME_PASSWORD not in log
    assert kube.count("GET", r"^/api/v1/namespaces/%s/secrets/acme-" % NS) \
        >= 2
