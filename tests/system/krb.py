"""A real MIT Kerberos KDC and a Kerberos-secured BIND for GSS-TSIG tests.

Import it directly from the GSS test modules (``from krb import *``); it
is not star-imported by conftest.py.

Everything lives in fresh temporary directories: the realm's database is
made with ``kdb5_util create``, principals and keytabs with
``kadmin.local``; the KDC (``krb5kdc -n``) listens on a free loopback port
(UDP and TCP); configuration reaches every Kerberos program only through
KRB5_CONFIG and KRB5_KDC_PROFILE (``rdns = false``,
``dns_canonicalize_hostname = false``, no DNS lookups of KDCs or realms).
Processes are stopped by PID.

Fixtures (module scope unless said otherwise):

  kdc        Kdc: realm EXAMPLE.TEST with principals
               acme@EXAMPLE.TEST       allowed by gss_bind's update-policy
               other@EXAMPLE.TEST      not allowed (policy denial)
               DNS/ns1.example.test@EXAMPLE.TEST   the DNS server's
             and keytabs kdc.keytab("acme"), kdc.server_keytab.
             Attributes: realm, port, tmpdir, krb5_conf, env (dict with
             KRB5_CONFIG, KRB5_KDC_PROFILE, KRB5RCACHEDIR for children),
             pid.  Methods: add_principal(name, password=None,
             maxlife=None), keytab(principal, path=None, norandkey=True)
             -> path, kadmin(query) -> str, stop(), start(), log().
  gss_bind   GssBind: named with tkey-gssapi-keytab = the server keytab
             and update-policy { grant "acme@EXAMPLE.TEST" zonesub TXT; }
             on zone example.test.  Attributes as dnsservers.DnsServer
             (host, port, addr, zone, txt(name), log(), tmpdir, pid) and
             restart(lose_keys=False) (same port), tkey_count() (TKEY
             negotiations named completed, from its debug log),
             saved_keys() (negotiated keys named saved when it last
             stopped: _default.tsigkeys).

SERVICE_HOST = "ns1.example.test"; PRINCIPAL = "acme@EXAMPLE.TEST".
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from dnsservers import (ZONE, ZONE_FILE, DnsServer, dns_query, free_port,
                        named_options, stop_process)

__all__ = ["REALM", "SERVICE_HOST", "PRINCIPAL", "OTHER", "Kdc", "GssBind",
           "kdc", "gss_bind", "krb_env"]

REALM = "EXAMPLE.TEST"
SERVICE_HOST = "ns1.example.test"
PRINCIPAL = "acme@" + REALM
OTHER = "other@" + REALM
SERVICE = "DNS/%s@%s" % (SERVICE_HOST, REALM)
STOP_GRACE = 5.0
READY_TIMEOUT = 20.0


def krb_env(kdc_obj, base=None):
    """os.environ (or @base) plus the realm's Kerberos configuration."""
    env = dict(os.environ if base is None else base)
    env.update(kdc_obj.env)
    return env


class Kdc:
    """One MIT KDC with its own realm database."""

    realm = REALM

    def __init__(self, max_life="10h"):
        self.tmpdir = tempfile.mkdtemp(prefix="rfc2136-kdc-")
        self.port = free_port()
        self.proc = None
        self.max_life = max_life
        self.krb5_conf = self.path("krb5.conf")
        self.kdc_conf = self.path("kdc.conf")
        os.makedirs(self.path("rcache"), exist_ok=True)
        self.env = {
            "KRB5_CONFIG": self.krb5_conf,
            "KRB5_KDC_PROFILE": self.kdc_conf,
            "KRB5RCACHEDIR": self.path("rcache"),
            # No user ccache or keytab of this machine leaks in.
            "KRB5CCNAME": "MEMORY:rfc2136-test",
            "KRB5_KTNAME": "FILE:" + self.path("no-default.keytab"),
            "KRB5_CLIENT_KTNAME": "FILE:" + self.path("no-client.keytab"),
        }
        self.write_krb5_conf(self.port)
        with open(self.kdc_conf, "w") as f:
            f.write(f"""[kdcdefaults]
    kdc_ports = {self.port}
    kdc_tcp_ports = {self.port}
[realms]
    {REALM} = {{
        database_name = {self.path("principal")}
        key_stash_file = {self.path("stash")}
        acl_file = {self.path("kadm5.acl")}
        kdc_ports = {self.port}
        kdc_tcp_ports = {self.port}
        max_life = {max_life}
        max_renewable_life = 0
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }}
[logging]
    kdc = FILE:{self.path("kdc.log")}
    admin_server = FILE:{self.path("kadmin.log")}
    default = FILE:{self.path("krb5lib.log")}
""")
        with open(self.path("kadm5.acl"), "w") as f:
            f.write("")
        self._run(["kdb5_util", "create", "-s", "-r", REALM, "-P",
                   "master-password-not-secret"])

    def write_krb5_conf(self, port, path=None):
        """A krb5.conf naming this realm's KDC at 127.0.0.1:@port."""
        with open(path or self.krb5_conf, "w") as f:
            f.write(f"""[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    ignore_acceptor_hostname = false
    udp_preference_limit = 1
    kdc_timesync = 0
[realms]
    {REALM} = {{
        kdc = 127.0.0.1:{port}
    }}
[domain_realm]
    .example.test = {REALM}
    example.test = {REALM}
""")
        return path or self.krb5_conf

    def path(self, *parts):
        return os.path.join(self.tmpdir, *parts)

    def _run(self, cmd, check=True):
        env = krb_env(self)
        p = subprocess.run(cmd, env=env, cwd=self.tmpdir,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=30)
        if check and p.returncode != 0:
            raise RuntimeError("%s failed (%d): %s %s" % (
                " ".join(cmd[:2]), p.returncode, p.stdout, p.stderr))
        return p.stdout + p.stderr

    def kadmin(self, query):
        out = self._run(["kadmin.local", "-r", REALM, "-q", query])
        if "error" in out.lower() or "not found" in out.lower():
            raise RuntimeError("kadmin.local %r: %s" % (query, out))
        return out

    def add_principal(self, name, password=None, maxlife=None):
        opts = "-pw %s" % password if password else "-randkey"
        if maxlife:
            opts += ' -maxlife "%s"' % maxlife
        self.kadmin("addprinc %s %s" % (opts, name))

    def keytab(self, principal, path=None, norandkey=True):
        """Export @principal's keys to a fresh keytab file.  norandkey
        keeps the keys (a new key version otherwise: the old keytabs go
        stale)."""
        if path is None:
            path = self.path("%s.keytab" % re.sub(r"[^a-zA-Z0-9]+", "_",
                                                  principal))
        if os.path.exists(path):
            os.unlink(path)
        self.kadmin("ktadd -k %s %s %s" % (
            path, "-norandkey" if norandkey else "", principal))
        return path

    def start(self):
        logf = open(self.path("krb5kdc.out"), "ab")
        try:
            self.proc = subprocess.Popen(
                ["krb5kdc", "-n", "-r", REALM, "-P", self.path("kdc.pid")],
                env=krb_env(self), cwd=self.tmpdir,
                stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT)
        finally:
            logf.close()
        deadline = time.monotonic() + READY_TIMEOUT
        # Ready when a ticket for a known principal can be had.
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("krb5kdc exited: %s" % self.log())
            p = subprocess.run(
                ["kinit", "-k", "-t", self.keytab_path_for_probe(),
                 "probe@" + REALM], env=krb_env(self),
                capture_output=True, text=True, timeout=10)
            if p.returncode == 0:
                return self
            if time.monotonic() > deadline:
                raise RuntimeError("KDC not ready: %s %s" % (p.stderr,
                                                             self.log()))
            time.sleep(0.05)

    def keytab_path_for_probe(self):
        path = self.path("probe.keytab")
        if not os.path.exists(path):
            self.add_principal("probe@" + REALM)
            self.keytab("probe@" + REALM, path)
        return path

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self):
        stop_process(self.proc, STOP_GRACE)
        self.proc = None

    def log(self):
        out = ""
        for name in ("kdc.log", "krb5kdc.out"):
            try:
                with open(self.path(name), errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out[-3000:]

    def destroy(self):
        self.stop()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


class GssBind(DnsServer):
    """named accepting GSS-TSIG (tkey-gssapi-keytab) from a Kdc's realm."""

    kind = "bind"

    def __init__(self, kdc_obj, keytab, policy=None):
        super().__init__()
        self.kdc = kdc_obj
        self.server_keytab = keytab
        self.policy = policy or ['grant "%s" zonesub TXT;' % PRINCIPAL]

    def configure(self):
        d = self.tmpdir
        if not os.path.exists(self.path("example.test.zone")):
            self.write("example.test.zone", ZONE_FILE)
        policy = "\n        ".join(self.policy)
        keytab = '    tkey-gssapi-keytab "%s";\n' % self.server_keytab
        self.write("named.conf", named_options(d, self.port, keytab) + f"""\
logging {{
    channel everything {{ stderr; severity debug 3; print-category yes; }};
    category default {{ everything; }};
    category general {{ everything; }};
    category update {{ everything; }};
    category update-security {{ everything; }};
    category security {{ everything; }};
    category queries {{ null; }};
}};
zone "example.test" {{
    type primary;
    file "example.test.zone";
    update-policy {{
        {policy}
    }};
}};
""")
        return ["named", "-g", "-d", "3", "-n", "1", "-c",
                self.path("named.conf")]

    def start(self):
        # named inherits the realm's configuration (and replay cache dir).
        old = {k: os.environ.get(k) for k in self.kdc.env}
        os.environ.update(self.kdc.env)
        try:
            return super().start()
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def restart(self, lose_keys=False):
        """Stop and start again on the same port.  named saves negotiated
        keys in _default.tsigkeys at shutdown and restores them; with
        @lose_keys the file is removed in between, as a fresh server."""
        port = self.port
        self._kill()
        if lose_keys and os.path.exists(self.path("_default.tsigkeys")):
            os.unlink(self.path("_default.tsigkeys"))
        cmd = self.configure()
        old = {k: os.environ.get(k) for k in self.kdc.env}
        os.environ.update(self.kdc.env)
        try:
            logf = open(self._logfile, "ab")
            try:
                self.proc = subprocess.Popen(
                    cmd, cwd=self.tmpdir, stdin=subprocess.DEVNULL,
                    stdout=logf, stderr=subprocess.STDOUT)
            finally:
                logf.close()
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        assert self.port == port
        self._wait_ready()
        return self

    def saved_keys(self):
        """Names of the negotiated keys named saved at its last stop."""
        try:
            with open(self.path("_default.tsigkeys")) as f:
                return [line.split()[0] for line in f if line.strip()]
        except OSError:
            return []

    def tkey_count(self):
        """TKEY negotiations named completed, from its debug log."""
        return self.log().count("gss-api source name (accept)")


@pytest.fixture(scope="module")
def kdc():
    k = Kdc()
    try:
        for name in (PRINCIPAL, OTHER, SERVICE):
            k.add_principal(name)
        k.start()
        k.server_keytab = k.keytab(SERVICE)
        yield k
    finally:
        k.destroy()


@pytest.fixture(scope="module")
def gss_bind(kdc):
    srv = GssBind(kdc, kdc.server_keytab)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
