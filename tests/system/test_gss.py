"""GSS-TSIG (RFC 3645) against a real MIT KDC and a Kerberos-secured BIND:
the present/cleanup/check commands, context reuse, renegotiation (expiry,
a named restart, a deleted key), TKEY delete at exit, and a diagnosis for
every Kerberos failure.  Fixtures: krb.py (imported directly)."""
import os
import subprocess

import pytest

from dnsservers import ZONE, free_port, unique_fqdn
from krb import (OTHER, PRINCIPAL, REALM, SERVICE_HOST, GssBind, Kdc,
                 krb_env)

BIN = os.environ.get("RFC2136_WEBHOOK", "build/rfc2136-webhook")
TOOLS = os.environ.get("RFC2136_TOOLS", "build/tools")

SHORT = "short@" + REALM
PWUSER = "pwuser@" + REALM  # has a password, not in the update-policy  # a principal whose tickets live 20 s
STALE_HOST = "ns2.example.test"  # named holds an old key version of it
UNKNOWN_HOST = "ns9.example.test"  # no such principal in the KDC


@pytest.fixture(scope="module")
def realm():
    """KDC with the principals every test here needs, and their keytabs."""
    k = Kdc()
    try:
        for name in (PRINCIPAL, OTHER, "DNS/%s@%s" % (SERVICE_HOST, REALM),
                     "DNS/%s@%s" % (STALE_HOST, REALM)):
            k.add_principal(name)
        k.add_principal(SHORT, maxlife="20 seconds")
        k.add_principal(PWUSER, password="Secret-pass-1")
        k.start()
        # named's keytab: ns1 current, ns2 at version 1 ...
        server_kt = k.path("named.keytab")
        k.kadmin("ktadd -k %s -norandkey DNS/%s@%s" % (server_kt,
                                                       SERVICE_HOST, REALM))
        k.kadmin("ktadd -k %s -norandkey DNS/%s@%s" % (server_kt,
                                                       STALE_HOST, REALM))
        # ... then ns2 gets a new key at the KDC: named's copy is stale.
        k.kadmin("cpw -randkey DNS/%s@%s" % (STALE_HOST, REALM))
        k.server_keytab = server_kt
        k.keytabs = {p: k.keytab(p) for p in (PRINCIPAL, OTHER, SHORT)}
        yield k
    finally:
        k.destroy()


@pytest.fixture(scope="module")
def named(realm):
    srv = GssBind(realm, realm.server_keytab, policy=[
        'grant "%s" zonesub TXT;' % PRINCIPAL,
        'grant "%s" zonesub TXT;' % SHORT,
    ])
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def run(realm, cmd, args, env=None):
    e = krb_env(realm)
    e.update(env or {})
    return subprocess.run([BIN, cmd] + args, env=e, capture_output=True,
                          text=True, timeout=60)


def gss_args(realm, named, principal=PRINCIPAL, host=SERVICE_HOST,
             keytab=None):
    return ["--nameserver", named.addr, "--zone", ZONE,
            "--gss-principal", principal, "--gss-service-host", host,
            "--gss-keytab", keytab or realm.keytabs[principal]]


def accepts(named):
    """TKEY negotiations named completed (its debug log names each)."""
    return named.log().count("gss-api source name (accept)")


def deletes(named):
    return named.log().count("ANY TKEY -ST")


# ------------------------------------------------------------ the commands

def test_present_cleanup_check(realm, named):
    fqdn = unique_fqdn("gss")
    args = gss_args(realm, named) + ["--fqdn", fqdn, "--value", "v1"]
    before = deletes(named)
    p = run(realm, "present", args)
    assert p.returncode == 0, p.stderr
    assert "added" in p.stdout and "over TCP" in p.stdout
    assert named.txt(fqdn) == ["v1"]
    # The key negotiated for this process is deleted when it exits.
    assert deletes(named) == before + 1, named.log()[-3000:]
    p = run(realm, "cleanup", args)
    assert p.returncode == 0, p.stderr
    assert named.txt(fqdn) == []
    p = run(realm, "check", gss_args(realm, named))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "GSS-TSIG as %s with DNS/%s@%s: context negotiated" % (
        PRINCIPAL, SERVICE_HOST, REALM) in p.stdout
    assert "all 9 steps passed" in p.stdout or "steps passed" in p.stdout


def test_password_file(realm, named, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("Secret-pass-1\n")
    fqdn = unique_fqdn("pw")
    args = ["--nameserver", named.addr, "--zone", ZONE, "--gss-principal",
            "pwuser", "--gss-realm", REALM, "--gss-service-host",
            SERVICE_HOST, "--gss-password-file", str(pw), "--fqdn", fqdn,
            "--value", "v"]
    p = run(realm, "present", args)
    # other is not in the update-policy: authenticated, then refused.
    assert p.returncode == 1
    assert "pwuser@EXAMPLE.TEST authenticated (GSS-TSIG) but the " \
        "server's policy does not allow it" in p.stderr, p.stderr
    pw.write_text("wrong-password\n")
    p = run(realm, "present", args)
    assert p.returncode == 1
    assert "no usable Kerberos credentials for pwuser@EXAMPLE.TEST" \
        in p.stderr, p.stderr
    assert "Secret-pass-1" not in p.stderr + p.stdout


# One row per failure: how to provoke it, what the diagnosis must say.
FAILURES = [
    ("policy", dict(principal=OTHER),
     "other@EXAMPLE.TEST authenticated (GSS-TSIG) but the server's policy "
     "does not allow it to change"),
    ("no-credentials", dict(keytab="other-keytab"),
     "no usable Kerberos credentials for acme@EXAMPLE.TEST"),
    ("missing-keytab", dict(keytab="/nonexistent/acme.keytab"),
     "no usable Kerberos credentials for acme@EXAMPLE.TEST"),
    ("unknown-client", dict(principal="ghost@" + REALM,
                            keytab="other-keytab"),
     "no usable Kerberos credentials for ghost@EXAMPLE.TEST"),
    ("kdc-down", dict(kdc_down=True),
     "the Kerberos KDC for acme@EXAMPLE.TEST cannot be reached"),
    ("unknown-service", dict(host=UNKNOWN_HOST),
     "the KDC does not know the service principal DNS/ns9.example.test"),
    ("stale-server-keytab", dict(host=STALE_HOST),
     "could not accept the Kerberos ticket of acme@EXAMPLE.TEST for "
     "DNS/ns2.example.test@EXAMPLE.TEST (TKEY BADKEY): the server's keytab "
     "is stale"),
]


@pytest.mark.parametrize("case,how,want", FAILURES,
                         ids=[f[0] for f in FAILURES])
def test_failure_diagnosis(realm, named, tmp_path, case, how, want):
    env = {}
    keytab = how.get("keytab")
    if keytab == "other-keytab":
        keytab = realm.keytabs[OTHER]
    if how.get("kdc_down"):
        env["KRB5_CONFIG"] = realm.write_krb5_conf(
            free_port(), str(tmp_path / "krb5-down.conf"))
    fqdn = unique_fqdn("f")
    principal = how.get("principal", PRINCIPAL)
    args = gss_args(realm, named, principal=principal,
                    host=how.get("host", SERVICE_HOST),
                    keytab=keytab or realm.keytabs[principal])
    p = run(realm, "present", args + ["--fqdn", fqdn, "--value", "x"],
            env=env)
    assert p.returncode == 1, p.stdout
    assert want in p.stderr, p.stderr
    assert "hint:" in p.stderr
    assert named.txt(fqdn) == []


def test_usage_errors(realm, named):
    rows = [
        (["--gss-principal", PRINCIPAL, "--gss-keytab", "x"],
         "--gss-principal needs --gss-service-host"),
        (["--gss-principal", PRINCIPAL, "--gss-service-host", "h"],
         "exactly one of --gss-keytab and --gss-password-file"),
        (["--gss-keytab", "x"], "--gss-keytab needs --gss-principal"),
        (["--gss-principal", PRINCIPAL, "--gss-service-host", "h",
          "--gss-keytab", "x", "--key-file", "k"],
         "exclude each other"),
        (["--gss-principal", PRINCIPAL, "--gss-service-host", "127.0.0.1",
          "--gss-keytab", "x"], "not an IP address"),
    ]
    for extra, want in rows:
        p = run(realm, "present", ["--nameserver", named.addr, "--zone",
                                   ZONE, "--fqdn", "_acme-challenge." + ZONE,
                                   "--value", "v"] + extra)
        assert p.returncode in (1, 2), (extra, p.stderr)
        assert want in p.stderr, (extra, p.stderr)


# --------------------------------------------------- one context, reused

def gss_client(realm, named, steps, principal=PRINCIPAL):
    e = krb_env(realm)
    p = subprocess.run([os.path.join(TOOLS, "gss_client"), named.addr, ZONE,
                        principal, realm.keytabs[principal], SERVICE_HOST]
                       + steps, env=e, capture_output=True, text=True,
                       timeout=120)
    return p


def test_one_context_for_200_updates(realm, named):
    fqdn = unique_fqdn("reuse")
    before = accepts(named)
    p = gss_client(realm, named, ["adds:100:" + fqdn,
                                  "threads:4:10:" + fqdn])
    assert p.returncode == 0, p.stdout + p.stderr
    # 200 updates in one thread, 80 from four threads: one negotiation.
    assert p.stdout.splitlines() == ["adds ok negotiations=1",
                                     "threads ok negotiations=1"]
    assert accepts(named) == before + 1
    assert named.txt(fqdn) == []


def test_expiry_renegotiates(realm, named):
    fqdn = unique_fqdn("exp")
    p = gss_client(realm, named, ["add:%s:a" % fqdn, "add:%s:b" % fqdn,
                                  "sleep:17", "add:%s:c" % fqdn,
                                  "del:%s:a" % fqdn, "del:%s:b" % fqdn,
                                  "del:%s:c" % fqdn], principal=SHORT)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    # The 20 s context is renewed in its last quarter, before it expires.
    assert lines[1] == "add ok negotiations=1"
    assert lines[3] == "add ok negotiations=2"
    assert named.txt(fqdn) == []


def test_key_deleted_on_server(realm, named):
    """After TKEY delete the server no longer knows the key: the next
    update with the old context gets BADKEY and renegotiates once."""
    fqdn = unique_fqdn("del")
    p = gss_client(realm, named, ["add:%s:a" % fqdn, "forget",
                                  "del:%s:a" % fqdn])
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines() == ["add ok negotiations=1",
                                     "forget ok negotiations=1",
                                     "del ok negotiations=2"]
    assert "BADKEY" not in p.stdout


def test_named_restart_in_the_middle(realm, tmp_path):
    """named restarts twice under a live context: first keeping its keys
    (it saves and restores them; we reconnect), then losing them (BADKEY,
    one renegotiation, the message re-signed)."""
    srv = GssBind(realm, realm.server_keytab)
    srv.start()
    try:
        fqdn = unique_fqdn("rst")
        fifos = [str(tmp_path / "go1"), str(tmp_path / "go2")]
        for f in fifos:
            os.mkfifo(f)
        e = krb_env(realm)
        proc = subprocess.Popen(
            [os.path.join(TOOLS, "gss_client"), srv.addr, ZONE, PRINCIPAL,
             realm.keytabs[PRINCIPAL], SERVICE_HOST, "add:%s:a" % fqdn,
             "wait:" + fifos[0], "add:%s:b" % fqdn, "wait:" + fifos[1],
             "del:%s:a" % fqdn, "del:%s:b" % fqdn],
            env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = [proc.stdout.readline()]
        assert lines[0] == "add ok negotiations=1\n", proc.stderr.read()
        for fifo, lose in zip(fifos, (False, True)):
            srv.restart(lose_keys=lose)
            with open(fifo, "w") as f:
                f.write("go\n")
            lines.append(proc.stdout.readline())
            lines.append(proc.stdout.readline())
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, "".join(lines) + out + err
        assert "".join(lines) + out == "".join(
            "%s\n" % line for line in [
                "add ok negotiations=1",
                "wait ok negotiations=1",
                "add ok negotiations=1",  # same key, new connection
                "wait ok negotiations=1",
                "del ok negotiations=2",  # BADKEY: renegotiated once
                "del ok negotiations=2"])
        assert srv.txt(fqdn) == []
    finally:
        srv.stop()


def test_no_key_left_after_shutdown(realm):
    """The key a run negotiated is deleted (TKEY mode 5) when it ends:
    named has no key to save when it stops."""
    srv = GssBind(realm, realm.server_keytab)
    srv.start()
    try:
        fqdn = unique_fqdn("left")
        p = gss_client(realm, srv, ["add:%s:a" % fqdn, "del:%s:a" % fqdn])
        assert p.returncode == 0, p.stdout + p.stderr
        p = run(realm, "present", gss_args(realm, srv) + [
            "--fqdn", fqdn, "--value", "b"])
        assert p.returncode == 0, p.stderr
        assert accepts(srv) == 2
        assert deletes(srv) == 2
        srv._kill()
        assert srv.saved_keys() == []
    finally:
        srv.stop()
