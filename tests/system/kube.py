"""The stand-in Kubernetes API of the system tests (owner: k8s engineer).

A small HTTPS server that answers the few calls the webhook makes, in the
shapes the real kube-apiserver uses:

  GET  /api/v1/namespaces/NS/secrets/NAME      Secret, data base64-encoded
  GET  /api/v1/namespaces/NS/configmaps/NAME   ConfigMap
  POST /apis/authorization.k8s.io/v1/subjectaccessreviews
                                               the review echoed with status
  GET  /version, /api                          small discovery answers

Errors are `Status` bodies (kind Status, code, reason NotFound, Forbidden,
Unauthorized...).  Every call needs `Authorization: Bearer <token>` or a
client certificate issued by the test CA; otherwise 401.

Fixtures:
  kube_pki (session)  CA, serving certificate for 127.0.0.1/::1/localhost,
                      a client certificate, and an unrelated CA
  kube                a fresh stand-in per test, stopped at its end

`kube` attributes and methods (see Kube below): url, host, port, ca_file,
token, set_token(t), add_secret(ns, name, {key: bytes}),
add_configmap(ns, name, {key: str}), forbid(resource, ns),
kubeconfig(path, **variants) -> path, serviceaccount_dir(path) -> path,
requests (list of Request: method, path, headers, json, user),
connections (count of accepted TCP connections),
sar_policy (callable(spec) -> (allowed, reason) or a status dict),
set_behavior(path_regex, status=None, delay=None, body=None, ...).
"""
import base64
import json
import os
import re
import secrets as _secrets
import socket
import socketserver
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

__all__ = ["kube", "kube_pki", "Kube", "KubePKI", "KubeRequest",
           "status_body"]

MAX_REQUEST_BODY = 1024 * 1024


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class KubePKI:
    """Certificates made with the openssl CLI in @directory."""

    def __init__(self, directory):
        self.dir = str(directory)
        d = self.dir
        self.ca_file = os.path.join(d, "ca.crt")
        self.ca_key = os.path.join(d, "ca.key")
        self.server_cert = os.path.join(d, "server.crt")
        self.server_key = os.path.join(d, "server.key")
        self.client_cert = os.path.join(d, "client.crt")
        self.client_key = os.path.join(d, "client.key")
        self.other_ca_file = os.path.join(d, "other-ca.crt")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-nodes"]
        for name, cn in (("ca", "kube-test-ca"),
                         ("other-ca", "unrelated-ca")):
            _openssl("req", "-x509", *ec, "-keyout", name + ".key",
                     "-out", name + ".crt", "-days", "3", "-subj",
                     "/CN=" + cn, "-addext",
                     "basicConstraints=critical,CA:TRUE", "-addext",
                     "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        self._issue("server", "kube-apiserver",
                    "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n"
                    "extendedKeyUsage=serverAuth\n")
        self._issue("client", "system:serviceaccount:cert-manager:webhook",
                    "extendedKeyUsage=clientAuth\n")

    def _issue(self, name, cn, ext):
        d = self.dir
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\n" + ext)
        _openssl("req", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn,
                 cwd=d)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt",
                 "-CAkey", "ca.key", "-CAcreateserial", "-out",
                 name + ".crt", "-days", "3", "-extfile", name + ".ext",
                 cwd=d)


class KubeRequest:
    """One request as the stand-in saw it."""

    def __init__(self, method, path, headers, body, user):
        self.method = method
        self.path = path
        self.headers = headers  # case-insensitive .get()
        self.body = body        # raw bytes
        self.user = user        # authenticated user or None
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "KubeRequest(%s %s user=%s)" % (self.method, self.path,
                                               self.user)


def status_body(code, reason, message, details=None):
    """A Kubernetes Status body (contract/status-error.json)."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason,
            "code": code}
    if details is not None:
        body["details"] = details
    return body


_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden",
            404: "NotFound", 405: "MethodNotAllowed", 409: "AlreadyExists",
            413: "RequestEntityTooLarge", 422: "Invalid",
            429: "TooManyRequests", 500: "InternalError",
            503: "ServiceUnavailable", 504: "Timeout"}


class _Behavior:
    def __init__(self, regex, status, delay, body, method, chunked,
                 times):
        self.regex = re.compile(regex)
        self.status = status
        self.delay = delay
        self.body = body
        self.method = method
        self.chunked = chunked
        self.times = times  # None: forever


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-standin/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_GET(self):
        self.server.kube._handle(self, "GET")

    def do_POST(self):
        self.server.kube._handle(self, "POST")

    def do_PUT(self):
        self.server.kube._handle(self, "PUT")

    def do_DELETE(self):
        self.server.kube._handle(self, "DELETE")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, kube, ctx, family):
        self.address_family = family
        self.kube = kube
        self.ctx = ctx
        super().__init__(addr, _Handler)

    def server_bind(self):
        # Skip HTTPServer's getfqdn(): a reverse lookup can stall.
        socketserver.TCPServer.server_bind(self)
        self.server_name = self.server_address[0]
        self.server_port = self.server_address[1]

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the connection's thread, so one
        # stalled client cannot block the accept loop.
        request.settimeout(30)
        # As kube-apiserver (Go sets TCP_NODELAY): a status line and a
        # body written apart must not wait for a delayed ACK (40 ms).
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.kube._lock:
            self.kube.connections += 1
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass  # a client hanging up is not a test failure


class Kube:
    """The stand-in Kubernetes API (see the module docstring)."""

    def __init__(self, pki, tmpdir, host="127.0.0.1"):
        self.pki = pki
        self.tmpdir = str(tmpdir)
        self.ca_file = pki.ca_file
        self.host = host
        self.token = "kube-token-" + _secrets.token_hex(16)
        self.requests = []
        self.connections = 0  # TCP connections accepted
        self.sar_policy = lambda spec: (True, "allowed by the stand-in")
        self._secrets = {}
        self._configmaps = {}
        self._forbidden = set()
        self._behaviors = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(pki.server_cert, pki.server_key)
        # Requested, not required: token clients send no certificate.
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(pki.ca_file)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._server = _Server((host, 0), self, ctx, family)
        self.port = self._server.server_address[1]
        hostpart = "[%s]" % host if ":" in host else host
        self.url = "https://%s:%d" % (hostpart, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    # --- state -----------------------------------------------------------
    def add_secret(self, ns, name, data):
        """Secret ns/name; data: dict key -> bytes (or str, UTF-8)."""
        with self._lock:
            self._secrets[(ns, name)] = {
                k: (v.encode() if isinstance(v, str) else bytes(v))
                for k, v in data.items()}

    def add_configmap(self, ns, name, data):
        with self._lock:
            self._configmaps[(ns, name)] = dict(data)

    def set_token(self, token):
        """Rotate the accepted bearer token (the old one stops working)."""
        with self._lock:
            self.token = token

    def forbid(self, resource, ns=None, verb="get"):
        """RBAC: deny @verb on @resource ("secrets", "configmaps",
        "subjectaccessreviews") in @ns (None: everywhere) with a 403."""
        with self._lock:
            self._forbidden.add((verb, resource, ns))

    def set_behavior(self, path_regex, status=None, delay=None, body=None,
                     method=None, chunked=False, times=None):
        """Fault injection for requests whose path matches @path_regex
        (re.search) and @method (None: any).  @delay: seconds to wait
        first; @status without @body: answer a Status body with that
        code; @body (bytes/str/dict): answer it raw with @status or 200,
        chunked when asked.  Only @delay: then answer normally.  @times:
        apply to that many requests only.  Latest behavior wins."""
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        with self._lock:
            self._behaviors.insert(0, _Behavior(path_regex, status, delay,
                                                body, method, chunked,
                                                times))

    def clear_behaviors(self):
        with self._lock:
            self._behaviors.clear()

    def count(self, method=None, path_regex=None):
        """Number of recorded requests matching @method and @path_regex."""
        return sum(1 for r in list(self.requests)
                   if (method is None or r.method == method) and
                   (path_regex is None or re.search(path_regex, r.path)))

    # --- client configuration ---------------------------------------------
    def kubeconfig(self, path, token=True, token_file=False, ca_data=False,
                   ca_file=None, insecure=False, client_cert=False,
                   server=None, relative=False, decoys=True):
        """Write a kubeconfig for this server at @path and return @path.

        token: True (this server's token), a string, or False/None;
        token_file: write the token to a file and use tokenFile;
        ca_data: certificate-authority-data instead of a file;
        ca_file: another CA file (e.g. kube_pki.other_ca_file);
        insecure: insecure-skip-tls-verify and no CA;
        client_cert: True (files) or "data" (-data forms), without a
        token unless @token is a string; relative: files copied next to
        the kubeconfig and named relatively; decoys: other contexts,
        clusters and users that current-context must not pick."""
        path = str(path)
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)

        def place(src, name):
            if not relative:
                return src
            with open(src, "rb") as fi, open(os.path.join(d, name),
                                             "wb") as fo:
                fo.write(fi.read())
            return name

        def b64file(p):
            with open(p, "rb") as f:
                return base64.b64encode(f.read()).decode()

        q = json.dumps  # a JSON string is a YAML double-quoted scalar
        cluster = ["    server: " + q(server or self.url)]
        if insecure:
            cluster.append("    insecure-skip-tls-verify: true")
        elif ca_data:
            cluster.append("    certificate-authority-data: " +
                           q(b64file(ca_file or self.ca_file)))
        else:
            cluster.append("    certificate-authority: " +
                           q(place(ca_file or self.ca_file, "kube-ca.crt")))
        user = []
        if client_cert == "data":
            user.append("    client-certificate-data: " +
                        q(b64file(self.pki.client_cert)))
            user.append("    client-key-data: " +
                        q(b64file(self.pki.client_key)))
        elif client_cert:
            user.append("    client-certificate: " +
                        q(place(self.pki.client_cert, "kube-client.crt")))
            user.append("    client-key: " +
                        q(place(self.pki.client_key, "kube-client.key")))
        tok = self.token if token is True else token
        if client_cert and token is True:
            tok = None
        if tok:
            if token_file:
                tf = os.path.join(d, "kube-token")
                with open(tf, "w") as f:
                    f.write(tok + "\n")
                user.append("    tokenFile: " +
                            q("kube-token" if relative else tf))
            else:
                user.append("    token: " + q(tok))
        if not user:
            user.append("    {}")
        lines = ["apiVersion: v1", "kind: Config", "preferences: {}",
                 "clusters:"]
        if decoys:
            lines += ["- name: decoy", "  cluster:",
                      "    server: https://127.0.0.1:1"]
        lines += ["- name: stand-in", "  cluster:"] + cluster
        lines += ["users:"]
        if decoys:
            lines += ["- name: decoy", "  user:", "    token: decoy-token"]
        lines += ["- name: stand-in-user", "  user:"] + user
        lines += ["contexts:"]
        if decoys:
            lines += ["- name: decoy", "  context:", "    cluster: decoy",
                      "    user: decoy"]
        lines += ["- name: stand-in", "  context:", "    cluster: stand-in",
                  "    user: stand-in-user", "    namespace: cert-manager",
                  "current-context: stand-in", ""]
        with open(path, "w") as f:
            f.write("\n".join(lines))
        return path

    def serviceaccount_dir(self, path, token=None):
        """Write token and ca.crt as a pod's service account mount has
        them; returns @path (use as RFC2136_SERVICEACCOUNT_DIR)."""
        path = str(path)
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "token"), "w") as f:
            f.write(token or self.token)
        with open(self.ca_file, "rb") as fi, \
                open(os.path.join(path, "ca.crt"), "wb") as fo:
            fo.write(fi.read())
        with open(os.path.join(path, "namespace"), "w") as f:
            f.write("cert-manager")
        return path

    def incluster_env(self, sa_dir):
        """Environment variables of the in-cluster configuration."""
        env = dict(os.environ)
        env["KUBERNETES_SERVICE_HOST"] = self.host
        env["KUBERNETES_SERVICE_PORT"] = str(self.port)
        env["RFC2136_SERVICEACCOUNT_DIR"] = str(sa_dir)
        return env

    def stop(self):
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- request handling ---------------------------------------------------
    def _send(self, h, code, body, chunked=False, ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        if chunked:
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            for i in range(0, len(body), 65536):
                part = body[i:i + 65536]
                h.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            h.wfile.write(b"0\r\n\r\n")
        else:
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)

    def _status(self, h, code, message, details=None):
        self._send(h, code, status_body(code, _REASONS.get(code, "Unknown"),
                                        message, details))

    def _behavior(self, method, path):
        with self._lock:
            for b in self._behaviors:
                if b.method not in (None, method) or \
                        not b.regex.search(path):
                    continue
                if b.times is not None:
                    if b.times <= 0:
                        continue
                    b.times -= 1
                return b
        return None

    def _authenticate(self, h):
        auth = h.headers.get("Authorization", "")
        with self._lock:
            token = self.token
        if auth == "Bearer " + token:
            return "system:serviceaccount:cert-manager:webhook"
        if auth:
            return None  # a wrong token is never a fallback to the cert
        cert = h.connection.getpeercert()
        if cert:
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        return v
        return None

    def _handle(self, h, method):
        length = int(h.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BODY:
            self._status(h, 413, "request entity too large")
            return
        body = h.rfile.read(length) if length else b""
        path = h.path.split("?", 1)[0]
        user = self._authenticate(h)
        self.requests.append(KubeRequest(method, path, h.headers, body,
                                         user))
        b = self._behavior(method, path)
        if b is not None and b.delay:
            if self._stopping.wait(b.delay):
                h.close_connection = True
                return
        if b is not None and (b.status is not None or b.body is not None):
            if b.body is not None:
                self._send(h, b.status or 200, b.body, chunked=b.chunked)
            else:
                self._status(h, b.status, "injected %d" % b.status)
            return
        if user is None:
            self._status(h, 401, "Unauthorized")
            return
        self._route(h, method, path, body, user)

    def _forbid_check(self, verb, resource, ns):
        with self._lock:
            return ((verb, resource, ns) in self._forbidden or
                    (verb, resource, None) in self._forbidden)

    def _route(self, h, method, path, body, user):
        m = re.fullmatch(r"/api/v1/namespaces/([^/]+)/(secrets|configmaps)"
                         r"/([^/]+)", path)
        if m and method == "GET":
            ns, resource, name = m.groups()
            if self._forbid_check("get", resource, ns):
                self._status(h, 403, '%s "%s" is forbidden: User "%s" '
                             'cannot get resource "%s" in API group "" in '
                             'the namespace "%s"' % (resource, name, user,
                                                     resource, ns),
                             {"name": name, "kind": resource})
                return
            with self._lock:
                store = (self._secrets if resource == "secrets"
                         else self._configmaps)
                data = store.get((ns, name))
            if data is None:
                self._status(h, 404, '%s "%s" not found' % (resource, name),
                             {"name": name, "kind": resource})
                return
            obj = {"apiVersion": "v1",
                   "metadata": {"name": name, "namespace": ns,
                                "uid": "00000000-0000-0000-0000-000000000001",
                                "resourceVersion": "1"}}
            if resource == "secrets":
                obj["kind"] = "Secret"
                obj["type"] = "Opaque"
                obj["data"] = {k: base64.b64encode(v).decode()
                               for k, v in data.items()}
            else:
                obj["kind"] = "ConfigMap"
                obj["data"] = data
            self._send(h, 200, obj)
            return
        if path == "/apis/authorization.k8s.io/v1/subjectaccessreviews":
            if method != "POST":
                self._status(h, 405, "method not allowed")
                return
            self._review(h, body, user)
            return
        if path == "/version" and method == "GET":
            self._send(h, 200, {"major": "1", "minor": "30",
                                "gitVersion": "v1.30.0-standin"})
            return
        if path == "/api" and method == "GET":
            self._send(h, 200, {"kind": "APIVersions", "versions": ["v1"]})
            return
        self._status(h, 404, "the server could not find the requested "
                     "resource")

    def _review(self, h, body, user):
        if self._forbid_check("create", "subjectaccessreviews", None):
            self._status(h, 403, 'subjectaccessreviews.authorization.k8s.io'
                         ' is forbidden: User "%s" cannot create resource '
                         '"subjectaccessreviews" in API group '
                         '"authorization.k8s.io" at the cluster scope' %
                         user, {"group": "authorization.k8s.io",
                                "kind": "subjectaccessreviews"})
            return
        try:
            sar = json.loads(body)
        except ValueError:
            self._status(h, 400, "the body is not JSON")
            return
        spec = sar.get("spec") if isinstance(sar, dict) else None
        if (not isinstance(spec, dict) or
                sar.get("kind") != "SubjectAccessReview" or
                sar.get("apiVersion") != "authorization.k8s.io/v1"):
            self._status(h, 400, "not an authorization.k8s.io/v1 "
                         "SubjectAccessReview")
            return
        if ("resourceAttributes" in spec) == \
                ("nonResourceAttributes" in spec):
            self._status(h, 422, "SubjectAccessReview.authorization.k8s.io"
                         ' "" is invalid: spec: exactly one of '
                         "nonResourceAttributes or resourceAttributes must "
                         "be specified")
            return
        verdict = self.sar_policy(spec)
        if isinstance(verdict, dict):
            status = verdict
        else:
            allowed, reason = verdict
            status = {"allowed": bool(allowed)}
            if reason:
                status["reason"] = reason
        answer = {"kind": "SubjectAccessReview",
                  "apiVersion": "authorization.k8s.io/v1",
                  "metadata": {"creationTimestamp": None},
                  "spec": spec, "status": status}
        self._send(h, 201, answer)


@pytest.fixture(scope="session")
def kube_pki(tmp_path_factory):
    """CA, serving and client certificates of the stand-in API."""
    return KubePKI(tmp_path_factory.mktemp("kube-pki"))


@pytest.fixture
def kube(kube_pki, tmp_path):
    """A fresh stand-in Kubernetes API on 127.0.0.1, stopped after the
    test."""
    k = Kube(kube_pki, tmp_path)
    try:
        yield k
    finally:
        k.stop()
