"""A real ACME CA (pebble, Let's Encrypt's test CA) and real ACME clients
(lego, certbot) on loopback, for tests that issue certificates.

  Pebble(dns_addr).start()  pebble validating DNS-01 by asking the server
                            at dns_addr ("127.0.0.1:PORT"); .directory is
                            the ACME URL, .ca_pem the CA of its HTTPS
                            endpoint, .root() the issuing root; .stop().
  pebble_for                session fixture: pebble_for(srv) starts (once
                            per DNS server) a pebble that asks srv.
  lego(pebble, workdir, names, env, resolver) -> Result (rc, out, err,
                            cert: the PEM chain or None)
  certbot(pebble, workdir, names, auth, cleanup, env) -> Result
  cert_names(pem) -> sorted list of the certificate's DNS names
  verify_chain(pebble, pem) -> openssl verify's output (raises on failure)

pebble's settings follow what was measured on Debian 12 (pebble 2.4.0,
lego 4.9.1, certbot 2.1.0): no validation sleep, no random nonce rejection, no reuse of valid authorizations (otherwise half
of the orders never ask for DNS-01 at all).  Processes are stopped by PID.
"""
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.request

import pytest

from dnsservers import free_port, stop_process

__all__ = ["Pebble", "pebble_for", "lego", "certbot", "cert_names",
           "verify_chain", "Result"]

READY_TIMEOUT = 20.0
CLIENT_TIMEOUT = 120


class Result:
    def __init__(self, p, cert=None):
        self.rc = p.returncode
        self.out = p.stdout
        self.err = p.stderr
        self.cert = cert

    @property
    def text(self):
        return self.out + self.err

    def __repr__(self):
        return "rc=%s\n--- stdout\n%s\n--- stderr\n%s" % (
            self.rc, self.out[-4000:], self.err[-6000:])


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   capture_output=True)


def make_tls(d):
    """A P-256 CA and a leaf for localhost and 127.0.0.1 (serverAuth)."""
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                "extendedKeyUsage=serverAuth\n"
                "basicConstraints=CA:FALSE\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "2", "-subj", "/CN=pebble-test-ca", cwd=d)
    _openssl("req", "-new", *ec, "-keyout", "tls.key", "-out", "tls.csr",
             "-subj", "/CN=localhost", cwd=d)
    _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.pem", "-CAkey",
             "ca.key", "-CAcreateserial", "-days", "2", "-extfile",
             "ext.cnf", "-out", "tls.pem", cwd=d)


class Pebble:
    def __init__(self, dns_addr):
        self.dns_addr = dns_addr
        self.tmpdir = tempfile.mkdtemp(prefix="rfc2136-pebble-")
        self.proc = None
        self.port = self.mport = None
        self._logfile = os.path.join(self.tmpdir, "pebble.log")

    @property
    def directory(self):
        return "https://127.0.0.1:%d/dir" % self.port

    @property
    def ca_pem(self):
        return os.path.join(self.tmpdir, "ca.pem")

    def log(self):
        try:
            with open(self._logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _ctx(self):
        return ssl.create_default_context(cafile=self.ca_pem)

    def start(self):
        make_tls(self.tmpdir)
        self.port, self.mport, http = free_port(), free_port(), free_port()
        conf = os.path.join(self.tmpdir, "pebble.json")
        with open(conf, "w") as f:
            json.dump({"pebble": {
                "listenAddress": "127.0.0.1:%d" % self.port,
                "managementListenAddress": "127.0.0.1:%d" % self.mport,
                "certificate": os.path.join(self.tmpdir, "tls.pem"),
                "privateKey": os.path.join(self.tmpdir, "tls.key"),
                "httpPort": http, "tlsPort": http,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False}}, f)
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1",
                   PEBBLE_WFE_NONCEREJECT="0", PEBBLE_AUTHZREUSE="0")
        with open(self._logfile, "w") as log:
            self.proc = subprocess.Popen(
                ["pebble", "-config", conf, "-dnsserver", self.dns_addr],
                stdout=log, stderr=subprocess.STDOUT, env=env,
                cwd=self.tmpdir)
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                urllib.request.urlopen(self.directory, context=self._ctx(),
                                       timeout=2).read()
                return self
            except OSError:
                if self.proc.poll() is not None or \
                        time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("pebble did not start:\n" +
                                       self.log())
                time.sleep(0.05)

    def root(self):
        url = "https://127.0.0.1:%d/roots/0" % self.mport
        return urllib.request.urlopen(url, context=self._ctx(),
                                      timeout=5).read().decode()

    def stop(self):
        stop_process(self.proc)
        self.proc = None
        shutil.rmtree(self.tmpdir, ignore_errors=True)


@pytest.fixture(scope="session")
def pebble_for():
    """pebble_for(srv): one pebble per DNS server, for the session."""
    started = {}

    def get(srv):
        if srv.addr not in started:
            started[srv.addr] = Pebble(srv.addr).start()
        return started[srv.addr]

    try:
        yield get
    finally:
        for p in started.values():
            p.stop()


def _run(cmd, env, cwd):
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=CLIENT_TIMEOUT)


def _clean_env(extra):
    """The caller's environment without settings a test did not ask for."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RFC2136_", "DNSUPDATE_", "CERTBOT_",
                                "EXEC_", "LEGO_"))}
    env.update(extra)
    return env


def lego(pebble, workdir, names, env, resolver):
    """lego --dns exec: EXEC_PATH and the rest come in @env."""
    env = _clean_env(dict(env, LEGO_CA_CERTIFICATES=pebble.ca_pem,
                          EXEC_SEQUENCE_INTERVAL="1",
                          EXEC_POLLING_INTERVAL="1",
                          EXEC_PROPAGATION_TIMEOUT="10"))
    cmd = ["lego", "--accept-tos", "--email", "acme@example.test",
           "--server", pebble.directory, "--path", str(workdir),
           "--dns", "exec", "--dns.resolvers", resolver,
           "--dns.disable-cp"]
    for n in names:
        cmd += ["-d", n]
    p = _run(cmd + ["run"], env, str(workdir))
    cert = None
    path = os.path.join(str(workdir), "certificates",
                        names[0].replace("*", "_") + ".crt")
    if p.returncode == 0 and os.path.exists(path):
        with open(path) as f:
            cert = f.read()
    return Result(p, cert)


def certbot(pebble, workdir, names, auth, cleanup, env):
    """certbot certonly --manual with the hook strings @auth, @cleanup."""
    env = _clean_env(dict(env, REQUESTS_CA_BUNDLE=pebble.ca_pem))
    d = str(workdir)
    cmd = ["certbot", "certonly", "-n", "--agree-tos",
           "--register-unsafely-without-email", "--server",
           pebble.directory, "--config-dir", d + "/cfg", "--work-dir",
           d + "/work", "--logs-dir", d + "/logs", "--manual",
           "--preferred-challenges", "dns", "--manual-auth-hook", auth,
           "--manual-cleanup-hook", cleanup, "--cert-name", "c"]
    for n in names:
        cmd += ["-d", n]
    p = _run(cmd, env, d)
    cert = None
    path = d + "/cfg/live/c/fullchain.pem"
    if p.returncode == 0 and os.path.exists(path):
        with open(path) as f:
            cert = f.read()
    return Result(p, cert)


def cert_names(pem):
    """The DNS names in the first certificate of @pem."""
    p = subprocess.run(["openssl", "x509", "-noout", "-ext",
                        "subjectAltName"], input=pem, capture_output=True,
                       text=True, check=True)
    return sorted(re.findall(r"DNS:([^,\s]+)", p.stdout))


def verify_chain(pebble, pem, tmpdir):
    """openssl verify the leaf against pebble's root, the rest untrusted."""
    certs = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END "
                       r"CERTIFICATE-----\n?", pem, re.S)
    paths = {}
    for name, text in (("root.pem", pebble.root()), ("leaf.pem", certs[0]),
                       ("chain.pem", "".join(certs[1:]))):
        paths[name] = os.path.join(str(tmpdir), name)
        with open(paths[name], "w") as f:
            f.write(text)
    args = ["openssl", "verify", "-CAfile", paths["root.pem"]]
    if len(certs) > 1:
        args += ["-untrusted", paths["chain.pem"]]
    p = subprocess.run(args + [paths["leaf.pem"]], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout
