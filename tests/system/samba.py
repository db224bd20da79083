"""A real Samba Active Directory domain controller, with its internal DNS
server, for GSS-TSIG tests.

Import it directly from the test modules that need it (``from samba
import *``); conftest.py does not star-import it.

Samba is provisioned once per pytest session (``samba-tool domain
provision``, about 3 s, plus 1-2 s for the users and keytabs) into a fresh
temporary directory and started in the foreground (``samba --foreground
--no-process-group``) on a loopback address of its own, HOST
(127.0.0.10): its DNS server listens on port 53 there, its KDC on 88.  No
other test uses that address.  Port 53 needs root (the suite runs as root
in CI).  Samba runs only the services the tests need (kdc, dns), logs to
DIR/log/samba.log, and is stopped by PID at the end of the session: SIGTERM
to its root process, then SIGKILL to any child still alive.

Fixture (session scope):

  samba    SambaDc: realm AD.TEST, zone ad.test., the DNS server's
           principal DNS/dc1.ad.test@AD.TEST (it exists in every AD
           domain, no SPN to register), and two plain domain users:
             acme@AD.TEST    password ACME_PASSWORD, keytab
             other@AD.TEST   password OTHER_PASSWORD, keytab
           (a plain user may create records in the AD-integrated zone;
           a name then belongs to the account that created it).

SambaDc attributes: host, port (53), addr ("127.0.0.10"), zone, realm,
service_host ("dc1.ad.test"), tmpdir, krb5_conf (a client krb5.conf
naming the DC as the realm's KDC), env (dict: KRB5_CONFIG and empty
credential caches/keytabs for child processes), keytabs (principal ->
keytab path), passwords (principal -> password), pid.
Methods: txt(name) -> [str] (asks with dig, one string per TXT record),
samba_tool(*args) -> str, restart() (same address, every negotiated
GSS-TSIG key forgotten), stop(), log() -> str.

samba_fqdn(prefix) -> a fresh _acme-challenge name in the zone.
"""
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from dnsservers import dns_query, stop_process
from krb import krb_env

__all__ = ["HOST", "REALM", "ZONE", "DC_HOST", "PRINCIPAL", "OTHER",
           "ACME_PASSWORD", "OTHER_PASSWORD", "SambaDc", "samba",
           "samba_env", "samba_fqdn"]

HOST = "127.0.0.10"
REALM = "AD.TEST"
DOMAIN = "AD"
ZONE = "ad.test."
DC_HOST = "dc1.ad.test"
PRINCIPAL = "acme@" + REALM
OTHER = "other@" + REALM
ADMIN_PASSWORD = "Adm1n-Passw0rd!"
ACME_PASSWORD = "Acme-Passw0rd!"
OTHER_PASSWORD = "Other-Passw0rd!"
READY_TIMEOUT = 30.0
STOP_GRACE = 10.0


# os.environ (or base) plus the DC's client Kerberos configuration (dc.env).
samba_env = krb_env


def samba_fqdn(prefix="t"):
    """A fresh _acme-challenge name inside ZONE."""
    return "_acme-challenge.%s-%s.%s" % (prefix, secrets.token_hex(5), ZONE)


def _proc_start(pid):
    """The start time of @pid (field 22 of /proc/PID/stat), None if gone:
    with the pid it names one process, even after the pid is reused."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]


def _descendants(root):
    """(pid, start time) of every process below @root."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            start = _proc_start(child)
            if start is not None:
                out.append((child, start))
                todo.append(child)
    return out


class SambaDc:
    """One Samba AD DC (internal DNS) in its own temporary directory."""

    host = HOST
    port = 53
    addr = HOST
    zone = ZONE
    realm = REALM
    service_host = DC_HOST

    def __init__(self):
        if os.geteuid() != 0:
            raise RuntimeError("Samba's DNS server listens on port 53 of "
                               "%s: run the tests as root" % HOST)
        self._check_free()
        self.tmpdir = tempfile.mkdtemp(prefix="rfc2136-samba-")
        self.proc = None
        self.keytabs = {}
        self.passwords = {}
        self.krb5_conf = self.path("krb5.conf")
        self.smb_conf = self.path("etc", "smb.conf")
        self.env = {
            "KRB5_CONFIG": self.krb5_conf,
            # No credential cache or keytab of this machine leaks in.
            "KRB5CCNAME": "MEMORY:rfc2136-samba-test",
            "KRB5_KTNAME": "FILE:" + self.path("no-default.keytab"),
            "KRB5_CLIENT_KTNAME": "FILE:" + self.path("no-client.keytab"),
        }

    def path(self, *parts):
        return os.path.join(self.tmpdir, *parts)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def _check_free(self):
        """Nothing (an earlier Samba left running?) may hold HOST:53."""
        for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(socket.AF_INET, typ) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((HOST, 53))
                except OSError as e:
                    raise RuntimeError(
                        "%s port 53 is taken (%s): stop what listens there "
                        "('ss -lnp | grep %s')" % (HOST, e, HOST)) from e

    def _run(self, cmd, timeout=120):
        p = subprocess.run(cmd, env=samba_env(self), cwd=self.tmpdir,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("%s failed (%d): %s %s" % (
                " ".join(cmd[:3]), p.returncode, p.stdout[-2000:],
                p.stderr[-2000:]))
        return p.stdout + p.stderr

    def samba_tool(self, *args):
        return self._run(["samba-tool"] + list(args) + ["-s", self.smb_conf])

    def provision(self):
        self._run(["samba-tool", "domain", "provision", "--realm=" + REALM,
                   "--domain=" + DOMAIN, "--server-role=dc",
                   "--dns-backend=SAMBA_INTERNAL",
                   "--adminpass=" + ADMIN_PASSWORD, "--host-name=dc1",
                   "--host-ip=" + HOST, "--targetdir=" + self.tmpdir,
                   # The /8 lets Samba use HOST without an interface of
                   # its own: 127.0.0.0/8 is all loopback on Linux.
                   "--option=interfaces=%s/8" % HOST,
                   "--option=bind interfaces only=yes"])
        self._configure()
        return self

    def _configure(self):
        """The provisioned smb.conf, cut down to what the tests use."""
        with open(self.smb_conf) as f:
            text = f.read()
        # The share sections and the forwarder (this machine's resolver).
        text = text[:text.index("[homes]")] if "[homes]" in text else text
        lines = [line for line in text.splitlines()
                 if not re.match(r"\s*(dns forwarder|log file|server "
                                 r"services|log level)\s*=", line)]
        for d in ("run", "log", "cache"):
            os.makedirs(self.path(d), exist_ok=True)
        lines += [
            "\tlog file = %s" % self.path("log", "samba.log"),
            "\tpid directory = %s" % self.path("run"),
            "\tncalrpc dir = %s" % self.path("run", "ncalrpc"),
            "\twinbindd socket directory = %s" % self.path("run", "winbindd"),
            "\tntp signd socket directory = %s" % self.path("run",
                                                            "ntp_signd"),
            "\tlog level = 1 dns:3 auth_audit:3",
            # The KDC and the DNS server are all the tests talk to.
            "\tserver services = kdc dns",
            "\tprefork children = 2",
        ]
        with open(self.smb_conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(self.krb5_conf, "w") as f:
            f.write(f"""[libdefaults]
    default_realm = {REALM}
    dns_lookup_realm = false
    dns_lookup_kdc = false
    rdns = false
    dns_canonicalize_hostname = false
[realms]
    {REALM} = {{
        kdc = {HOST}
    }}
[domain_realm]
    .ad.test = {REALM}
    ad.test = {REALM}
""")

    def add_user(self, name, password):
        """A plain domain user with @password and a keytab of its keys."""
        principal = "%s@%s" % (name, REALM)
        self.samba_tool("user", "add", name, password)
        self.samba_tool("user", "setexpiry", name, "--noexpiry")
        keytab = self.path("%s.keytab" % name)
        self.samba_tool("domain", "exportkeytab", "--principal=" + principal,
                        keytab)
        self.keytabs[principal] = keytab
        self.passwords[principal] = password
        return principal

    def start(self):
        logf = open(self.path("log", "samba.out"), "ab")
        try:
            self.proc = subprocess.Popen(
                ["samba", "--foreground", "--no-process-group", "-s",
                 self.smb_conf], env=samba_env(self), cwd=self.tmpdir,
                stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT)
        finally:
            logf.close()
        self._wait_ready()
        return self

    def _wait_ready(self):
        """DNS answers the zone's SOA and the KDC accepts connections."""
        deadline = time.monotonic() + READY_TIMEOUT
        dns_ok = kdc_ok = False
        while not (dns_ok and kdc_ok):
            if self.proc.poll() is not None:
                raise RuntimeError("samba exited (%d): %s" % (
                    self.proc.returncode, self.log()[-3000:]))
            if time.monotonic() > deadline:
                raise RuntimeError("samba not ready after %.0f s (dns %s, "
                                   "kdc %s): %s" % (
                                       READY_TIMEOUT, dns_ok, kdc_ok,
                                       self.log()[-3000:]))
            if not dns_ok:
                try:
                    dns_ok = dns_query(HOST, 53, ZONE, "SOA",
                                       timeout=0.2).rcode == 0
                except (OSError, ValueError):
                    pass
            if dns_ok and not kdc_ok:
                try:
                    socket.create_connection((HOST, 88), timeout=0.2).close()
                    kdc_ok = True
                except OSError:
                    pass
            if not (dns_ok and kdc_ok):
                time.sleep(0.05)

    def stop(self):
        """SIGTERM to the root process, then SIGKILL to whatever of its
        process tree is left (by pid and start time)."""
        if self.proc is None:
            return
        tree = _descendants(self.proc.pid)
        stop_process(self.proc, STOP_GRACE)
        deadline = time.monotonic() + STOP_GRACE
        for pid, start in tree:
            while _proc_start(pid) == start and time.monotonic() < deadline:
                time.sleep(0.05)
            if _proc_start(pid) == start:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.proc = None

    def restart(self):
        """Stop and start again: the DNS server forgets every GSS-TSIG
        key it negotiated (Samba keeps them in memory only)."""
        self.stop()
        return self.start()

    def txt(self, name):
        """TXT values served at @name now, asked with dig."""
        p = subprocess.run(["dig", "+short", "+norecurse", "+time=2",
                            "+tries=2", "@" + HOST, name, "TXT"],
                           capture_output=True, text=True, timeout=20)
        assert p.returncode == 0, p.stdout + p.stderr
        out = []
        for line in p.stdout.splitlines():
            # "a" "b" is one record of two character-strings.
            out.append("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', line)))
        return out

    def log(self):
        out = ""
        for name in ("samba.out", "samba.log"):
            try:
                with open(self.path("log", name), errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out

    def destroy(self):
        self.stop()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


@pytest.fixture(scope="session")
def samba():
    dc = SambaDc()
    try:
        dc.provision()
        dc.add_user("acme", ACME_PASSWORD)
        dc.add_user("other", OTHER_PASSWORD)
        dc.start()
        yield dc
    finally:
        dc.destroy()
