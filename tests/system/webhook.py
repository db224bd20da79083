"""The webhook server under test and an HTTPS client (owner: HTTP engineer).

Fixtures and helpers (conftest.py star-imports this module):

  pki (session)   certificates made with the openssl CLI:
                  pki.ca_file           CA of the serving certificate
                  pki.serving_cert/key  for 127.0.0.1, ::1 and localhost
                  pki.front_proxy_ca    request-header CA
                  pki.client_cert/key   CN front-proxy-client, clientAuth
                  pki.other_ca          an unrelated CA
                  pki.issue(cn, ca="front-proxy"|"other"|"serving",
                            eku="clientAuth"|"serverAuth"|None, san=None)
                      -> (cert, key) paths of a fresh certificate
                  pki.new_ca(name, cn=None) -> CA certificate path: one
                      more CA, which pki.issue(..., ca=name) then signs
                      with (e.g. a rotated front-proxy CA)

  start_webhook(tmp_path, pki, args=[...], env=None, omit=()) -> Webhook
      Runs `$RFC2136_WEBHOOK serve` on a free port and waits until
      /healthz answers.  Defaults, each dropped when @args gives the flag
      or @omit names it: --tls-cert-file/--tls-private-key-file (pki's
      serving pair), --group-name acme.example.org,
      --requestheader-client-ca-file (pki's front-proxy CA),
      --authorization-mode AllowAuthenticated, and --secrets-dir (an empty
      directory) unless --kubeconfig is given.  Raises WebhookStartError
      (with .returncode and .log) when it exits instead.

  Webhook: .url, .port, .proc, .group, .solver, .solver_path,
      .log() -> str, .stop(sig=SIGTERM) -> exit status (asserted 0),
      .request(method, path, body=None, headers=None, cert="front-proxy",
               user="system:serviceaccount:cert-manager:cert-manager",
               groups=(...), host="127.0.0.1", timeout=30)
          -> (status, headers, body_bytes)
        body: a dict/list (sent as JSON), bytes or str; Content-Type
        application/json unless @headers give one (None in @headers drops
        a header).  cert: "front-proxy", None, or a (cert, key) pair.
        user None sends no X-Remote-User.
      .context(cert=..., **tls) -> ssl.SSLContext for hand-made clients.

  challenge(action, fqdn, zone, key, config=None, ns="cert-manager",
            uid=...) -> dict: a ChallengePayload body as cert-manager sends.

Every webhook started is stopped (SIGTERM, then SIGKILL) at the end of the
test that started it, if the test did not stop it.
"""
import http.client
import json
import os
import secrets as _secrets
import signal
import socket
import ssl
import subprocess
import time

import pytest

__all__ = ["pki", "PKI", "start_webhook", "Webhook", "WebhookStartError",
           "challenge", "webhook_cleanup", "DEFAULT_GROUP",
           "DEFAULT_USER", "DEFAULT_GROUPS"]

DEFAULT_GROUP = "acme.example.org"
DEFAULT_USER = "system:serviceaccount:cert-manager:cert-manager"
DEFAULT_GROUPS = ("system:serviceaccounts",
                  "system:serviceaccounts:cert-manager",
                  "system:authenticated")

_OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), r.stderr))


class PKI:
    """A serving CA, a front-proxy CA and an unrelated CA, with openssl."""

    def __init__(self, directory):
        self.dir = str(directory)
        self._cnf = os.path.join(self.dir, "openssl.cnf")
        with open(self._cnf, "w") as f:
            f.write(_OPENSSL_CNF)
        self._n = 0
        self._cas = {}
        for name, cn in (("serving", "webhook-test-ca"),
                         ("front-proxy", "front-proxy-ca"),
                         ("other", "unrelated-ca")):
            self._cas[name] = self._make_ca(name, cn)
        self.ca_file = self._cas["serving"][0]
        self.front_proxy_ca = self._cas["front-proxy"][0]
        self.other_ca = self._cas["other"][0]
        self.serving_cert, self.serving_key = self.issue(
            "rfc2136-webhook", ca="serving", eku="serverAuth")
        self.client_cert, self.client_key = self.issue(
            "front-proxy-client", ca="front-proxy", eku="clientAuth")

    def _make_ca(self, name, cn):
        cert = os.path.join(self.dir, name + "-ca.crt")
        key = os.path.join(self.dir, name + "-ca.key")
        _openssl("req", "-x509", "-config", self._cnf, "-extensions", "ca",
                 "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", key, "-out", cert, "-days", "3",
                 "-subj", "/CN=" + cn, cwd=self.dir)
        return cert, key

    def new_ca(self, name, cn=None):
        """Make one more CA called @name (CN @cn, default @name) and
        return its certificate's path; issue(ca=@name) signs with it."""
        if name in self._cas:
            raise ValueError("CA %r exists" % name)
        self._cas[name] = self._make_ca(name, cn or name)
        return self._cas[name][0]

    def issue(self, cn, ca="front-proxy", eku="clientAuth", san=None,
              days=3):
        """A fresh certificate and key signed by CA @ca.  A serving
        certificate (ca="serving") gets the loopback names as SANs unless
        @san (a list of openssl SAN entries) says otherwise."""
        self._n += 1
        base = os.path.join(self.dir, "cert%d" % self._n)
        ca_cert, ca_key = self._cas[ca]
        if san is None and ca == "serving":
            san = ["IP:127.0.0.1", "IP:::1", "DNS:localhost"]
        ext = ["basicConstraints=CA:FALSE",
               "keyUsage=critical,digitalSignature",
               "authorityKeyIdentifier=keyid"]
        if eku:
            ext.append("extendedKeyUsage=" + eku)
        if san:
            ext.append("subjectAltName=" + ",".join(san))
        with open(base + ".ext", "w") as f:
            f.write("[leaf]\n" + "\n".join(ext) + "\n")
        _openssl("req", "-new", "-config", self._cnf, "-newkey", "ec",
                 "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", base + ".key", "-out", base + ".csr",
                 "-subj", "/CN=" + cn, cwd=self.dir)
        _openssl("x509", "-req", "-in", base + ".csr", "-CA", ca_cert,
                 "-CAkey", ca_key, "-set_serial",
                 "0x" + _secrets.token_hex(12), "-days", str(days),
                 "-extfile", base + ".ext", "-extensions", "leaf",
                 "-out", base + ".crt", cwd=self.dir)
        return base + ".crt", base + ".key"


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """Certificates for the webhook and its callers (see PKI)."""
    return PKI(tmp_path_factory.mktemp("webhook-pki"))


class WebhookStartError(RuntimeError):
    def __init__(self, returncode, log):
        super().__init__("webhook exited with %s at start:\n%s" %
                         (returncode, log))
        self.returncode = returncode
        self.log = log


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flag_given(args, flag):
    return any(a == flag or a.startswith(flag + "=") for a in args)


_running = []


class Webhook:
    """One running `rfc2136-webhook serve`."""

    def __init__(self, proc, port, log_path, pki, args):
        self.proc = proc
        self.port = port
        self.url = "https://127.0.0.1:%d" % port
        self.pki = pki
        self.args = args
        self._log_path = log_path
        self.group = DEFAULT_GROUP
        self.solver = "rfc2136"
        for i, a in enumerate(args):
            for flag, attr in (("--group-name", "group"),
                               ("--solver-name", "solver")):
                if a == flag and i + 1 < len(args):
                    setattr(self, attr, args[i + 1])
                elif a.startswith(flag + "="):
                    setattr(self, attr, a.split("=", 1)[1])
        self.solver_path = "/apis/%s/v1alpha1/%s" % (self.group, self.solver)

    def log(self):
        with open(self._log_path, errors="replace") as f:
            return f.read()

    def context(self, cert="front-proxy", minimum=None, maximum=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.pki.ca_file)
        if minimum is not None:
            ctx.minimum_version = minimum
        if maximum is not None:
            ctx.maximum_version = maximum
        if cert == "front-proxy":
            ctx.load_cert_chain(self.pki.client_cert, self.pki.client_key)
        elif cert is not None:
            ctx.load_cert_chain(cert[0], cert[1])
        return ctx

    def connection(self, cert="front-proxy", host="127.0.0.1", timeout=30):
        return http.client.HTTPSConnection(host, self.port,
                                           context=self.context(cert),
                                           timeout=timeout)

    def request(self, method, path, body=None, headers=None,
                cert="front-proxy", user=DEFAULT_USER,
                groups=DEFAULT_GROUPS, host="127.0.0.1", timeout=30,
                conn=None):
        """Send one request; returns (status, headers, body bytes).
        @conn: an open connection to reuse (kept open)."""
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
        hdrs = []
        if user is not None:
            hdrs.append(("X-Remote-User", user))
        for g in groups or ():
            hdrs.append(("X-Remote-Group", g))
        extra = dict(headers or {})
        if data is not None and not any(k.lower() == "content-type"
                                        for k in extra):
            extra["Content-Type"] = "application/json"
        hdrs += [(k, v) for k, v in extra.items() if v is not None]
        own = conn is None
        if own:
            conn = self.connection(cert, host, timeout)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in hdrs:
                conn.putheader(k, v)
            if data is not None:
                conn.putheader("Content-Length", str(len(data)))
            conn.endheaders(data)
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            if own:
                conn.close()

    def stop(self, sig=signal.SIGTERM, timeout=40):
        """Stop by PID and return the exit status, asserted to be 0."""
        if self in _running:
            _running.remove(self)
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("webhook did not stop within %ss:\n%s" %
                                 (timeout, self.log()))
        assert rc == 0, "webhook exited %s:\n%s" % (rc, self.log())
        return rc

    def wait_log(self, predicate, timeout=15):
        """Wait until predicate(log text) is true; returns the log."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError("log condition not met:\n" + text)
            time.sleep(0.05)


def start_webhook(tmp_path, pki, args=(), env=None, omit=(), timeout=15):
    """Start `rfc2136-webhook serve` (see the module text)."""
    binary = os.environ.get("RFC2136_WEBHOOK", "build/rfc2136-webhook")
    args = list(args)
    tmp_path = str(tmp_path)
    defaults = [("--tls-cert-file", pki.serving_cert),
                ("--tls-private-key-file", pki.serving_key),
                ("--group-name", DEFAULT_GROUP),
                ("--requestheader-client-ca-file", pki.front_proxy_ca),
                ("--authorization-mode", "AllowAuthenticated")]
    if not _flag_given(args, "--kubeconfig"):
        secrets_dir = os.path.join(tmp_path, "webhook-secrets")
        os.makedirs(secrets_dir, exist_ok=True)
        defaults.append(("--secrets-dir", secrets_dir))
    full = []
    for flag, value in defaults:
        if not _flag_given(args, flag) and flag not in omit:
            full += [flag, value]
    full += args
    penv = dict(os.environ)
    penv.pop("GROUP_NAME", None)
    penv.update(env or {})
    last = None
    for attempt in range(3):
        port = _free_port()
        cmd = [binary, "serve", "--secure-port", str(port)] + full
        if _flag_given(args, "--secure-port"):
            cmd = [binary, "serve"] + full
            port = int(_arg_value(args, "--secure-port"))
        log_path = os.path.join(tmp_path, "webhook-%d-%d.log" %
                                (port, attempt))
        with open(log_path, "wb") as logf:
            proc = subprocess.Popen(cmd, stdout=logf, stderr=logf,
                                    stdin=subprocess.DEVNULL, env=penv)
        w = Webhook(proc, port, log_path, pki, full)
        _running.append(w)
        try:
            _wait_ready(w, timeout)
            return w
        except WebhookStartError as e:
            _running.remove(w)
            last = e
            # The secure port taken in between is worth another try;
            # nothing else (a taken --metrics-bind-address is the caller's).
            if "Address already in use" not in e.log or \
                    "--metrics-bind-address" in e.log:
                raise
    raise last


def _arg_value(args, flag):
    for i, a in enumerate(args):
        if a == flag:
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def _wait_ready(w, timeout):
    deadline = time.monotonic() + timeout
    while True:
        rc = w.proc.poll()
        if rc is not None:
            raise WebhookStartError(rc, w.log())
        try:
            status, _, _ = w.request("GET", "/healthz", cert=None, user=None,
                                     groups=(), timeout=2)
            if status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            w.proc.kill()
            w.proc.wait()
            raise WebhookStartError("timeout", w.log())
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def webhook_cleanup():
    """Stop webhooks a test started and did not stop."""
    yield
    while _running:
        w = _running.pop()
        if w.proc.poll() is None:
            w.proc.send_signal(signal.SIGTERM)
            try:
                w.proc.wait(30)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()


def challenge(action, fqdn, zone, key, config=None, ns="cert-manager",
              uid="5b1c3f0e-9d2a-4c7e-8f61-2a9e3b7d4c10"):
    """A ChallengePayload as cert-manager POSTs it
    (contract/present-request.json)."""
    dns_name = fqdn.rstrip(".")
    if dns_name.startswith("_acme-challenge."):
        dns_name = dns_name[len("_acme-challenge."):]
    request = {"uid": uid, "action": action, "type": "dns-01",
               "dnsName": dns_name, "key": key, "resourceNamespace": ns,
               "resolvedFQDN": fqdn, "resolvedZone": zone,
               "allowAmbientCredentials": False}
    if config is not None:
        request["config"] = config
    return {"request": request}
