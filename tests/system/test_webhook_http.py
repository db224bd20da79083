"""The webhook's HTTP side: routes, statuses, authentication, limits, TLS,
certificate reload, flags and signals.  Solver outcomes are in
test_webhook_solver.py."""
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from webhook import (DEFAULT_GROUP, WebhookStartError, challenge,
                     start_webhook)

DISCOVERY = "/apis/%s/v1alpha1" % DEFAULT_GROUP
SOLVER = DISCOVERY + "/rfc2136"


@pytest.fixture
def hook(tmp_path, pki):
    return start_webhook(tmp_path, pki)


def status_of(body):
    """The Kubernetes Status body, checked for its fixed shape."""
    doc = json.loads(body)
    assert doc["kind"] == "Status" and doc["apiVersion"] == "v1"
    assert doc["status"] == "Failure" and doc["metadata"] == {}
    assert doc["message"]
    return doc


def present_body():
    return challenge("Present", "_acme-challenge.example.test.",
                     "example.test.", "k" * 43,
                     config={"nameserver": "127.0.0.1:9"})


# --- health ------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz"])
@pytest.mark.parametrize("cert", [None, "front-proxy"])
def test_health_without_authentication(hook, path, cert):
    status, headers, body = hook.request("GET", path, cert=cert, user=None,
                                         groups=())
    assert (status, body) == (200, b"ok")
    assert headers["Content-Type"].startswith("text/plain")


def test_readyz_verbose_lists_checks(hook):
    status, _, body = hook.request("GET", "/readyz?verbose", cert=None)
    assert status == 200
    text = body.decode()
    assert "[+]serving-certificate ok" in text
    assert "[+]requestheader-client-ca ok" in text
    assert text.endswith("readyz check passed\n")


def test_no_requestheader_ca_fails_closed(tmp_path, pki):
    w = start_webhook(tmp_path, pki,
                      omit=("--requestheader-client-ca-file",))
    assert "no --requestheader-client-ca-file" in w.log()
    status, _, body = w.request("GET", "/readyz?verbose", cert=None)
    assert status == 500
    assert "[-]requestheader-client-ca failed" in body.decode()
    assert w.request("GET", "/healthz", cert=None)[0] == 200
    assert w.request("GET", "/livez", cert=None)[0] == 200
    for method, path, body in (("GET", DISCOVERY, None),
                               ("POST", SOLVER, present_body()),
                               ("GET", "/openapi/v2", None)):
        status, _, answer = w.request(method, path, body=body)
        assert status == 401, (method, path)
        assert status_of(answer)["reason"] == "Unauthorized"
    w.stop()


# --- discovery and routes ----------------------------------------------------

@pytest.mark.parametrize("path", [DISCOVERY, DISCOVERY + "/"])
def test_discovery(hook, path):
    status, headers, body = hook.request("GET", path)
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": DEFAULT_GROUP + "/v1alpha1",
        "resources": [{
            "name": "rfc2136", "singularName": "ChallengePayload",
            "namespaced": False, "group": "webhook.acme.cert-manager.io",
            "version": "v1alpha1", "kind": "ChallengePayload",
            "verbs": ["create"]}]}


def test_discovery_names_our_group_and_solver(tmp_path, pki):
    w = start_webhook(tmp_path, pki, args=["--group-name=dns.corp.example",
                                           "--solver-name", "corp-dns"])
    status, _, body = w.request("GET", "/apis/dns.corp.example/v1alpha1")
    assert status == 200
    doc = json.loads(body)
    assert doc["groupVersion"] == "dns.corp.example/v1alpha1"
    assert doc["resources"][0]["name"] == "corp-dns"
    # The default solver name is not served by this one.
    status, _, _ = w.request("POST", "/apis/dns.corp.example/v1alpha1/"
                             "rfc2136", body=present_body())
    assert status == 404
    w.stop()


@pytest.mark.parametrize("path", [
    "/", "/apis", "/apis/", "/apis/" + DEFAULT_GROUP, "/openapi/v2",
    "/openapi/v3", "/api", "/apis/other.example.org/v1alpha1",
    "/apis/%s/v1beta1" % DEFAULT_GROUP, DISCOVERY + "/other-solver",
    SOLVER + "/", SOLVER + "/status", "/healthz/ping", "/metrics",
])
def test_unknown_paths_are_404(hook, path):
    status, headers, body = hook.request("GET", path)
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    doc = status_of(body)
    assert (doc["code"], doc["reason"]) == (404, "NotFound")
    assert doc["message"] == \
        "the server could not find the requested resource"


def test_unknown_solver_post_is_404(hook):
    status, _, body = hook.request("POST", DISCOVERY + "/route53",
                                   body=present_body())
    assert status == 404
    assert status_of(body)["reason"] == "NotFound"


@pytest.mark.parametrize("method,path,allow", [
    ("POST", DISCOVERY, "GET, HEAD"),
    ("PUT", DISCOVERY + "/", "GET, HEAD"),
    ("GET", SOLVER, "POST"),
    ("PUT", SOLVER, "POST"),
    ("DELETE", SOLVER, "POST"),
    ("POST", "/healthz", "GET, HEAD"),
    ("DELETE", "/readyz", "GET, HEAD"),
])
def test_wrong_method_is_405(hook, method, path, allow):
    body = present_body() if method in ("POST", "PUT") else None
    status, headers, answer = hook.request(method, path, body=body)
    assert status == 405
    assert headers["Allow"] == allow
    doc = status_of(answer)
    assert (doc["code"], doc["reason"]) == (405, "MethodNotAllowed")


def test_head_on_discovery_has_no_body(hook):
    status, headers, body = hook.request("HEAD", DISCOVERY)
    assert (status, body) == (200, b"")


def test_solver_post_reaches_the_solver(hook):
    """A well-formed POST gets the solver's answer (201 with a
    ChallengePayload, or 400 with a Status), never a protocol error of
    the HTTP layer."""
    status, headers, body = hook.request(
        "POST", SOLVER, body=present_body(),
        headers={"Audit-ID": "0b6e6a52-0000-4000-8000-000000000001"})
    assert status in (201, 400)
    assert headers["Content-Type"] == "application/json"
    assert headers["Audit-Id"] == "0b6e6a52-0000-4000-8000-000000000001"
    json.loads(body)
    assert "0b6e6a52-0000-4000-8000-000000000001" in hook.log()


def test_not_a_challenge_payload_is_400(hook):
    status, _, body = hook.request("POST", SOLVER, body=b"{not json")
    assert status == 400
    assert status_of(body)["code"] == 400


# --- authentication ----------------------------------------------------------

def _other_ca_cert(pki):
    return pki.issue("front-proxy-client", ca="other", eku="clientAuth")


def _server_auth_cert(pki):
    return pki.issue("front-proxy-client", ca="front-proxy",
                     eku="serverAuth")


def _intruder_cert(pki):
    return pki.issue("intruder", ca="front-proxy", eku="clientAuth")


UNAUTHENTICATED = [
    # (name, cert factory or None/"front-proxy", send X-Remote-User)
    ("no certificate", None, True),
    ("no certificate, no user", None, False),
    ("certificate from another CA", _other_ca_cert, True),
    ("serverAuth-only certificate", _server_auth_cert, True),
    ("CN not in the allowed names", _intruder_cert, True),
    ("valid proxy certificate without X-Remote-User", "front-proxy", False),
]


@pytest.mark.parametrize("name,make_cert,send_user", UNAUTHENTICATED,
                         ids=[c[0] for c in UNAUTHENTICATED])
def test_unauthenticated_is_401(tmp_path, pki, name, make_cert, send_user):
    # Unauthenticated requests are logged from --v 2 (issue 15: anyone
    # who reaches the port could fill the log at --v 0).
    w = start_webhook(tmp_path, pki, args=[
        "--requestheader-allowed-names", "front-proxy-client,aggregator",
        "--v", "2"])
    cert = make_cert(pki) if callable(make_cert) else make_cert
    for method, path, body in (("GET", DISCOVERY, None),
                               ("POST", SOLVER, present_body()),
                               ("GET", "/openapi/v3", None)):
        status, _, answer = w.request(
            method, path, body=body, cert=cert,
            user="system:serviceaccount:cert-manager:cert-manager"
            if send_user else None)
        assert status == 401, (name, method, path)
        doc = status_of(answer)
        assert (doc["reason"], doc["message"]) == \
            ("Unauthorized", "Unauthorized")
    # The log tells the operator why; the client is told nothing more.
    assert "status=401" in w.log()
    w.stop()


def test_empty_x_remote_user_is_401(hook):
    status, _, _ = hook.request("GET", DISCOVERY, user="")
    assert status == 401


def test_allowed_names_admit_the_listed_cn(tmp_path, pki):
    cert = pki.issue("aggregator", ca="front-proxy", eku="clientAuth")
    w = start_webhook(tmp_path, pki, args=[
        "--requestheader-allowed-names", "front-proxy-client, aggregator"])
    assert w.request("GET", DISCOVERY, cert=cert)[0] == 200
    assert w.request("GET", DISCOVERY)[0] == 200
    w.stop()


def test_certificate_without_eku_is_accepted(hook, pki):
    """RFC 5280: no extended key usage means any purpose (as Kubernetes)."""
    cert = pki.issue("front-proxy-client", ca="front-proxy", eku=None)
    assert hook.request("GET", DISCOVERY, cert=cert)[0] == 200


def test_one_connection_many_requests(hook):
    conn = hook.connection()
    try:
        for _ in range(3):
            status, _, _ = hook.request("GET", DISCOVERY, conn=conn)
            assert status == 200
        status, _, _ = hook.request("GET", DISCOVERY, conn=conn, user=None)
        assert status == 401
    finally:
        conn.close()


# --- authorization (SubjectAccessReview through the stand-in API) -----------

def _sar_hook(tmp_path, pki, kube):
    kubeconfig = kube.kubeconfig(os.path.join(str(tmp_path), "kubeconfig"))
    return start_webhook(tmp_path, pki, args=[
        "--kubeconfig", kubeconfig,
        "--authorization-mode", "SubjectAccessReview"])


def _reviews(kube):
    return [r.json for r in list(kube.requests)
            if r.path.endswith("/subjectaccessreviews")]


def test_sar_allowed_with_user_groups_extra(tmp_path, pki, kube):
    w = _sar_hook(tmp_path, pki, kube)
    status, _, _ = w.request(
        "POST", SOLVER, body=present_body(), groups=("system:serviceaccounts",),
        headers={"X-Remote-Extra-Authentication.kubernetes.io%2fpod-Name":
                 "cert-manager-6d5c9f7b8-x2x7q",
                 "X-Remote-Uid": "0b6e6a52-1"})
    assert status in (201, 400)
    (sar,) = _reviews(kube)
    spec = sar["spec"]
    assert spec["user"] == "system:serviceaccount:cert-manager:cert-manager"
    assert spec["groups"] == ["system:serviceaccounts",
                              "system:authenticated"]
    assert spec["extra"] == {"authentication.kubernetes.io/pod-name":
                             ["cert-manager-6d5c9f7b8-x2x7q"]}
    assert spec["uid"] == "0b6e6a52-1"
    assert spec["resourceAttributes"] == {
        "verb": "create", "group": DEFAULT_GROUP, "version": "v1alpha1",
        "resource": "rfc2136"}
    w.stop()


def test_sar_denied_is_403_in_kubernetes_words(tmp_path, pki, kube):
    kube.sar_policy = lambda spec: (False, "no RBAC policy matched")
    w = _sar_hook(tmp_path, pki, kube)
    status, _, body = w.request("POST", SOLVER, body=present_body(),
                                user="system:serviceaccount:default:intruder")
    assert status == 403
    doc = status_of(body)
    assert doc["reason"] == "Forbidden"
    assert doc["message"] == (
        'rfc2136.%s is forbidden: User "system:serviceaccount:default:'
        'intruder" cannot create resource "rfc2136" in API group "%s" at '
        'the cluster scope: no RBAC policy matched' %
        (DEFAULT_GROUP, DEFAULT_GROUP))
    status, _, body = w.request("GET", DISCOVERY, user="bob")
    assert status == 403
    assert status_of(body)["message"].startswith(
        'forbidden: User "bob" cannot get path "%s"' % DISCOVERY)
    (_, nonres) = _reviews(kube)
    assert nonres["spec"]["nonResourceAttributes"] == {"verb": "get",
                                                       "path": DISCOVERY}
    w.stop()


def test_sar_verdicts_are_cached(tmp_path, pki, kube):
    w = _sar_hook(tmp_path, pki, kube)
    for _ in range(3):
        assert w.request("GET", DISCOVERY)[0] == 200
    assert len(_reviews(kube)) == 1
    # Another user is another review.
    assert w.request("GET", DISCOVERY, user="alice")[0] == 200
    assert len(_reviews(kube)) == 2
    w.stop()


def test_sar_system_masters_needs_no_review(tmp_path, pki, kube):
    kube.sar_policy = lambda spec: (False, "")
    w = _sar_hook(tmp_path, pki, kube)
    status, _, _ = w.request("GET", DISCOVERY, user="system:kube-aggregator",
                             groups=("system:masters",))
    assert status == 200
    assert _reviews(kube) == []
    w.stop()


def test_sar_failure_is_500_never_allow(tmp_path, pki, kube):
    kube.set_behavior("subjectaccessreviews", status=500)
    w = _sar_hook(tmp_path, pki, kube)
    status, _, body = w.request("GET", DISCOVERY)
    assert status == 500
    assert "authorization review failed" in status_of(body)["message"]
    w.stop()


def test_pending_review_blocks_nobody_else(tmp_path, pki, kube):
    """A review the API has not answered yet holds its own request only:
    health checks, system:masters and solver calls go on meanwhile."""
    release = threading.Event()
    asked = threading.Event()

    def policy(spec):
        asked.set()
        release.wait(30)
        return True, ""

    kube.sar_policy = policy
    w = _sar_hook(tmp_path, pki, kube)
    result = []
    slow = threading.Thread(
        target=lambda: result.append(w.request("GET", DISCOVERY)[0]))
    slow.start()
    try:
        assert asked.wait(15)
        for _ in range(3):
            assert w.request("GET", "/readyz", cert=None)[0] == 200
            assert w.request("GET", DISCOVERY, user="system:admin",
                             groups=("system:masters",))[0] == 200
            status, _, _ = w.request("POST", SOLVER, body=present_body(),
                                     groups=("system:masters",))
            assert status in (201, 400)
        assert result == []  # still waiting for its review
    finally:
        release.set()
        slow.join(30)
    assert result == [200]
    w.stop()


def test_sar_mode_without_api_fails_at_start(tmp_path, pki):
    with pytest.raises(WebhookStartError) as e:
        start_webhook(tmp_path, pki, args=[
            "--authorization-mode", "SubjectAccessReview"],
            env={"KUBERNETES_SERVICE_HOST": ""})
    assert e.value.returncode == 1
    assert "no Kubernetes API" in e.value.log


# --- limits: body size, content type ----------------------------------------

def _padded(size):
    """A JSON body of exactly @size bytes."""
    base = json.dumps(present_body())
    pad = size - len(base) - len(',"pad":""')
    assert pad >= 0
    return (base[:-1] + ',"pad":"' + "x" * pad + '"}').encode()


@pytest.mark.parametrize("size,too_big", [
    (64 * 1024, False),
    (64 * 1024 + 1, True),
    (200 * 1024, True),
    (1000 * 1024, True),
])
def test_body_cap(hook, size, too_big):
    body = _padded(size)
    assert len(body) == size
    status, _, answer = hook.request("POST", SOLVER, body=body)
    if too_big:
        assert status == 413
        doc = status_of(answer)
        assert doc["reason"] == "RequestEntityTooLarge"
        assert "65536" in doc["message"]
    else:
        assert status in (201, 400)


def test_huge_body_is_cut_off(hook):
    """Beyond 1 MiB the server stops reading: a client that reads while it
    sends gets the 413, one that does not sees the connection closed."""
    body = _padded(3 * 1024 * 1024)
    try:
        status, _, answer = hook.request("POST", SOLVER, body=body)
        assert status == 413
    except (ssl.SSLError, ConnectionError):
        pass
    assert hook.request("GET", DISCOVERY)[0] == 200


def test_chunked_body_over_the_cap_is_413(hook):
    conn = hook.connection()
    try:
        conn.putrequest("POST", SOLVER)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("X-Remote-User", "u")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        chunk = b"x" * 16384
        for _ in range(5):
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        assert resp.status == 413
        status_of(resp.read())
    finally:
        conn.close()


@pytest.mark.parametrize("ctype,ok", [
    ("application/json", True),
    ("application/json; charset=utf-8", True),
    ("Application/JSON;charset=UTF-8", True),
    ("text/plain", False),
    ("application/xml", False),
    ("application/jsonx", False),
    ("application/x-www-form-urlencoded", False),
    ("", False),
    (None, False),
])
def test_content_type(hook, ctype, ok):
    status, _, body = hook.request("POST", SOLVER, body=present_body(),
                                   headers={"Content-Type": ctype})
    if ok:
        assert status in (201, 400)
    else:
        assert status == 415
        doc = status_of(body)
        assert doc["reason"] == "UnsupportedMediaType"
        assert "application/json" in doc["message"]


def test_oversized_headers_are_refused(hook):
    # The server answers 431 and closes at once; when that close finds the
    # rest of our 100 kB still unread, TCP resets the connection, and the
    # reset may reach us before the answer does.  Either way the request
    # must not be served.
    try:
        status, _, _ = hook.request("GET", DISCOVERY,
                                    headers={"X-Big": "x" * 100000})
    except (ssl.SSLError, ConnectionError, http.client.HTTPException):
        status = "reset"
    assert status in (413, 431, "reset")
    # ... and the server goes on serving.
    assert hook.request("GET", DISCOVERY)[0] == 200


def test_stalled_request_does_not_block_others(hook):
    """A client that sends half a body holds its own connection only."""
    stuck = hook.connection()
    try:
        stuck.putrequest("POST", SOLVER)
        stuck.putheader("Content-Type", "application/json")
        stuck.putheader("X-Remote-User", "u")
        stuck.putheader("Content-Length", "1000")
        stuck.endheaders(b'{"request":')
        for _ in range(5):
            assert hook.request("GET", DISCOVERY)[0] == 200
    finally:
        stuck.close()


# --- TLS ---------------------------------------------------------------------

def _handshake(port, ctx):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            return t.version(), t.getpeercert(binary_form=True)


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_tls_12_and_13_accepted(hook, version):
    v = getattr(ssl.TLSVersion, version.replace(".", "_"))
    ctx = hook.context(cert=None, minimum=v, maximum=v)
    assert _handshake(hook.port, ctx)[0] == version


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_old_tls_refused(tmp_path, pki, version):
    w = start_webhook(tmp_path, pki, args=["--v", "3"])
    v = getattr(ssl.TLSVersion, version)
    ctx = w.context(cert=None, minimum=v, maximum=v)
    # Let this client offer the old protocol at all (OpenSSL's default
    # security level forbids it on the client side already).
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    before = w.log().count("handshake")
    with pytest.raises(ssl.SSLError) as e:
        _handshake(w.port, ctx)
    # The refusal is the server's, not the client's inability to offer.
    assert "NO_PROTOCOLS_AVAILABLE" not in str(e.value)
    w.wait_log(lambda t: t.count("handshake") > before)
    assert w.request("GET", DISCOVERY)[0] == 200
    w.stop()


@pytest.mark.parametrize("ciphers,ok", [
    ("ECDHE-ECDSA-AES128-GCM-SHA256", True),
    ("ECDHE-ECDSA-CHACHA20-POLY1305", True),
    ("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA", False),  # CBC, SHA-1
    ("ECDHE-ECDSA-AES128-SHA256", False),                      # CBC
])
def test_tls12_cipher_suites(hook, ciphers, ok):
    ctx = hook.context(cert=None, maximum=ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers(ciphers)
    if ok:
        assert _handshake(hook.port, ctx)[0] == "TLSv1.2"
    else:
        with pytest.raises(ssl.SSLError):
            _handshake(hook.port, ctx)


def test_ipv6_loopback(hook):
    status, _, body = hook.request("GET", "/healthz", cert=None, host="::1")
    assert (status, body) == (200, b"ok")


# --- listen addresses --------------------------------------------------------
# As for Kubernetes' servers, an unspecified --bind-address means every
# address family: one dual-stack [::] socket; a given address is that family
# only.  Served or refused is asked of both loopbacks for every row.

def _serve_on(tmp_path, pki, args, env=None):
    """Start serve with @args (not through start_webhook, whose readiness
    probe dials 127.0.0.1) and wait for its "serving" line."""
    from dnsservers import free_port
    from webhook import Webhook, _running
    binary = os.environ.get("RFC2136_WEBHOOK", "build/rfc2136-webhook")
    port = free_port()
    full = _base(pki, tmp_path)
    full[full.index("--secure-port") + 1] = str(port)
    log_path = str(tmp_path / ("serve-%d.log" % port))
    penv = dict(os.environ)
    penv.update(env or {})
    with open(log_path, "wb") as logf:
        proc = subprocess.Popen([binary, "serve", *full, *args], stdout=logf,
                                stderr=logf, stdin=subprocess.DEVNULL,
                                env=penv)
    w = Webhook(proc, port, log_path, pki, full + list(args))
    _running.append(w)
    deadline = time.monotonic() + 15
    while "INFO serving version=" not in w.log():
        if proc.poll() is not None or time.monotonic() > deadline:
            w.stop(sig=signal.SIGKILL) if proc.poll() is None else None
            raise AssertionError("not serving:\n" + w.log())
        time.sleep(0.05)
    return w


def _answers(w, host):
    """True: /healthz answered 200 from @host; False: connection refused."""
    try:
        status, _, body = w.request("GET", "/healthz", cert=None, host=host,
                                    timeout=5)
    except ConnectionRefusedError:
        return False
    assert (status, body) == (200, b"ok")
    return True


DUAL = 'address="[::] (IPv6 and IPv4)"'

BIND_ADDRESSES = [
    # (--bind-address or None, served from 127.0.0.1, from ::1, log text)
    (None, True, True, DUAL),
    ("", True, True, DUAL),
    ("0.0.0.0", True, True, DUAL),
    ("::", True, True, DUAL),
    ("[::]", True, True, DUAL),
    ("127.0.0.1", True, False, "address=127.0.0.1 "),
    ("::1", False, True, "address=[::1] "),
    ("[::1]", False, True, "address=[::1] "),
]


@pytest.mark.parametrize("addr,v4,v6,logged", BIND_ADDRESSES,
                         ids=[repr(r[0]) for r in BIND_ADDRESSES])
def test_bind_address_families(tmp_path, pki, addr, v4, v6, logged):
    args = [] if addr is None else ["--bind-address", addr]
    w = _serve_on(tmp_path, pki, args)
    try:
        assert (_answers(w, "127.0.0.1"), _answers(w, "::1")) == (v4, v6)
        line = [l for l in w.log().splitlines()
                if "INFO serving version=" in l]
        assert len(line) == 1 and logged in line[0], w.log()
        assert "no IPv6" not in w.log()
    finally:
        w.stop()


# A kernel without IPv6 (built without it, or ipv6.disable=1): socket()
# fails with EAFNOSUPPORT for AF_INET6.  Preloaded into the webhook only.
NO_IPV6_SHIM = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int socket(int domain, int type, int protocol)
{
	if (domain == AF_INET6) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	return (int)syscall(SYS_socket, domain, type, protocol);
}
"""


@pytest.fixture
def no_ipv6_env(tmp_path):
    src = tmp_path / "noipv6.c"
    lib = tmp_path / "noipv6.so"
    src.write_text(NO_IPV6_SHIM)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(src)],
                   check=True)
    # An ASan build wants its runtime first; the shim only wraps socket().
    opts = os.environ.get("ASAN_OPTIONS", "")
    return {"LD_PRELOAD": str(lib),
            "ASAN_OPTIONS": (opts + ":" if opts else "") +
            "verify_asan_link_order=0"}


FALLBACK = [
    # (--bind-address, served from 127.0.0.1, from ::1, log text, warnings)
    ("0.0.0.0", True, False, 'address="0.0.0.0 (IPv4 only)"', 1),
    ("", True, False, 'address="0.0.0.0 (IPv4 only)"', 1),
    ("127.0.0.1", True, False, "address=127.0.0.1 ", 0),
]


@pytest.mark.parametrize("addr,v4,v6,logged,warnings", FALLBACK,
                         ids=[repr(r[0]) for r in FALLBACK])
def test_bind_address_without_ipv6(tmp_path, pki, no_ipv6_env, addr, v4,
                                   v6, logged, warnings):
    from dnsservers import free_port
    mport = free_port()
    w = _serve_on(tmp_path, pki, ["--bind-address", addr,
                                  "--metrics-bind-address", ":%d" % mport],
                  env=no_ipv6_env)
    try:
        assert (_answers(w, "127.0.0.1"), _answers(w, "::1")) == (v4, v6)
        log = w.log()
        line = [l for l in log.splitlines() if "INFO serving version=" in l]
        assert len(line) == 1 and logged in line[0], log
        warned = [l for l in log.splitlines() if "no IPv6" in l]
        assert len(warned) == warnings + 1, log  # + the metrics port
        assert all("WARN" in l and "0.0.0.0" in l and
                   "Address family not supported" in l for l in warned), log
        assert 'serving metrics address="0.0.0.0:%d (IPv4 only)"' % mport \
            in log
        conn = http.client.HTTPConnection("127.0.0.1", mport, timeout=5)
        conn.request("GET", "/metrics")
        assert conn.getresponse().status == 200
        conn.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("::1", mport), timeout=5)
    finally:
        w.stop()


TAKEN = [
    # (--bind-address, family and host of the listener already on the port,
    #  text the error must hold)
    ("0.0.0.0", socket.AF_INET, "127.0.0.1",
     "cannot serve on [::] (IPv6 and IPv4) port %d"),
    ("", socket.AF_INET6, "::1",
     "cannot serve on [::] (IPv6 and IPv4) port %d"),
    ("127.0.0.1", socket.AF_INET, "127.0.0.1",
     "cannot serve on 127.0.0.1 port %d"),
    ("::1", socket.AF_INET6, "::1", "cannot serve on [::1] port %d"),
]


@pytest.mark.parametrize("addr,family,host,text", TAKEN,
                         ids=[repr(r[0]) for r in TAKEN])
def test_bind_address_taken_says_where_and_why(pki, tmp_path, addr, family,
                                               host, text):
    s = socket.socket(family)
    s.bind((host, 0))
    s.listen(1)
    try:
        port = s.getsockname()[1]
        args = _base(pki, tmp_path)
        args[args.index("--secure-port") + 1] = str(port)
        r = _run(args + ["--bind-address", addr])
        assert r.returncode == 1, r.stderr
        assert text % port in r.stderr and \
            "Address already in use" in r.stderr, r.stderr
    finally:
        s.close()


# Not an IP address as Go's net.ParseIP reads one (what Kubernetes' servers
# take): refused before anything listens, with exit status 2.
BAD_BIND_ADDRESSES = ["localhost", "127.0.0.1:8443", "127.1", "0x7f.0.0.1",
                      "fe80::1%lo", "[::1", "[]"]


@pytest.mark.parametrize("addr", BAD_BIND_ADDRESSES)
def test_bad_bind_address_is_usage_error(pki, tmp_path, addr):
    r = _run(_base(pki, tmp_path) + ["--bind-address", addr])
    assert r.returncode == 2, r.stderr
    assert "--bind-address: '%s' is not an IP address" % addr in r.stderr, \
        r.stderr


# --- certificate reload ------------------------------------------------------

def _der(cert_path):
    with open(cert_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def _served(w):
    return _handshake(w.port, w.context(cert=None))[1]


def _wait_served(w, der, timeout=15):
    deadline = time.monotonic() + timeout
    while _served(w) != der:
        assert time.monotonic() < deadline, "new certificate not served"
        time.sleep(0.1)


def _copy(src, dst):
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data)


class SecretVolume:
    """A directory laid out as kubelet mounts a Secret: tls.crt and tls.key
    are symlinks into ..data, itself a symlink to a timestamped directory
    swapped atomically on update."""

    def __init__(self, root):
        self.root = str(root)
        os.makedirs(self.root, exist_ok=True)
        self.n = 0
        self.cert = os.path.join(self.root, "tls.crt")
        self.key = os.path.join(self.root, "tls.key")

    def update(self, cert, key):
        self.n += 1
        d = "..2026_11_28_21_00_%02d.%d" % (self.n, os.getpid())
        os.makedirs(os.path.join(self.root, d))
        _copy(cert, os.path.join(self.root, d, "tls.crt"))
        _copy(key, os.path.join(self.root, d, "tls.key"))
        tmp = os.path.join(self.root, "..data_tmp")
        os.symlink(d, tmp)
        os.rename(tmp, os.path.join(self.root, "..data"))
        for name in ("tls.crt", "tls.key"):
            link = os.path.join(self.root, name)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", name), link)


def test_reload_by_symlink_swap(tmp_path, pki):
    vol = SecretVolume(tmp_path / "tls")
    vol.update(pki.serving_cert, pki.serving_key)
    w = start_webhook(tmp_path, pki, args=["--tls-cert-file", vol.cert,
                                           "--tls-private-key-file",
                                           vol.key])
    assert _served(w) == _der(pki.serving_cert)
    kept = w.connection()
    assert w.request("GET", DISCOVERY, conn=kept)[0] == 200

    new_cert, new_key = pki.issue("rfc2136-webhook-renewed", ca="serving",
                                  eku="serverAuth")
    vol.update(new_cert, new_key)
    _wait_served(w, _der(new_cert))
    w.wait_log(lambda t: "serving certificate loaded" in t and
               "rfc2136-webhook-renewed" in t)
    # A connection made before the swap goes on working.
    assert w.request("GET", DISCOVERY, conn=kept)[0] == 200
    kept.close()
    assert w.request("GET", DISCOVERY)[0] == 200
    w.stop()


def test_reload_by_rewrite_and_broken_pairs_keep_the_old(tmp_path, pki):
    cert = str(tmp_path / "tls.crt")
    key = str(tmp_path / "tls.key")
    _copy(pki.serving_cert, cert)
    _copy(pki.serving_key, key)
    w = start_webhook(tmp_path, pki, args=["--tls-cert-file", cert,
                                           "--tls-private-key-file", key])
    assert _served(w) == _der(pki.serving_cert)

    # Plain rewrite in place: key first, then the certificate.
    c2, k2 = pki.issue("rewritten", ca="serving", eku="serverAuth")
    _copy(k2, key)
    _copy(c2, cert)
    _wait_served(w, _der(c2))

    c3, k3 = pki.issue("third", ca="serving", eku="serverAuth")
    broken = [
        ("garbage certificate", lambda: open(cert, "w").write("garbage\n")),
        ("key of another certificate", lambda: (_copy(c3, cert),
                                                 _copy(k2, key))),
        ("empty key", lambda: (_copy(c2, cert), open(key, "w").close())),
        ("missing certificate", lambda: os.unlink(cert)),
    ]
    for name, damage in broken:
        errors = w.log().count("serving certificate not reloaded")
        damage()
        w.wait_log(lambda t: t.count("serving certificate not reloaded") >
                   errors)
        assert _served(w) == _der(c2), name
        assert w.request("GET", DISCOVERY)[0] == 200, name
    # Mended: the good new pair is taken.
    _copy(k3, key)
    _copy(c3, cert)
    _wait_served(w, _der(c3))
    assert w.request("GET", DISCOVERY)[0] == 200
    w.stop()


def test_sighup_rereads_the_certificate(hook):
    before = hook.log().count("trigger=SIGHUP")
    hook.proc.send_signal(signal.SIGHUP)
    hook.wait_log(lambda t: t.count("trigger=SIGHUP") > before)
    assert hook.proc.poll() is None
    assert hook.request("GET", DISCOVERY)[0] == 200


# --- flags, logs, signals ----------------------------------------------------

def _run(args, env=None, timeout=20):
    binary = os.environ.get("RFC2136_WEBHOOK", "build/rfc2136-webhook")
    penv = dict(os.environ)
    penv.pop("GROUP_NAME", None)
    penv.update(env or {})
    return subprocess.run([binary, "serve", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=penv,
                          timeout=timeout)


def _base(pki, tmp_path):
    return ["--tls-cert-file", pki.serving_cert, "--tls-private-key-file",
            pki.serving_key, "--group-name", DEFAULT_GROUP,
            "--authorization-mode", "AllowAuthenticated",
            "--secrets-dir", str(tmp_path), "--secure-port", "1"]


FLAG_ERRORS = [
    # (extra args, replace base?, exit status, text the message must hold)
    (["--no-such-flag"], False, 2, "--no-such-flag"),
    (["--secure-port", "70000"], False, 2, "--secure-port"),
    (["--secure-port=http"], False, 2, "--secure-port"),
    (["--authorization-mode", "AlwaysAllow"], False, 2,
     "--authorization-mode"),
    (["--logging-format", "yaml"], False, 2, "--logging-format"),
    (["--v", "x"], False, 2, "--v"),
    (["--dns-timeout", "fast"], False, 2, "--dns-timeout"),
    (["--group-name", "Not_A_Group"], False, 2, "--group-name"),
    (["--solver-name", "a.b"], False, 2, "--solver-name"),
    (["--bind-address", "localhost"], False, 2, "--bind-address"),
    (["--bind-address", "[127.0.0.1]"], False, 2, "--bind-address"),
    (["stray"], False, 2, "stray"),
    (["--tls-cert-file"], False, 2, "--tls-cert-file"),
    (["--tls-private-key-file", "k", "--group-name", "g.example"], True, 2,
     "--tls-cert-file"),
    (["--tls-cert-file", "/nonexistent/tls.crt"], False, 1,
     "/nonexistent/tls.crt"),
    (["--tls-private-key-file", "/nonexistent/tls.key"], False, 1,
     "/nonexistent/tls.key"),
    (["--requestheader-client-ca-file", "/nonexistent/ca.crt"], False, 1,
     "/nonexistent/ca.crt"),
    (["--secrets-dir", "/nonexistent/secrets"], False, 1,
     "/nonexistent/secrets"),
    (["--kubeconfig", "/nonexistent/kubeconfig", "--authorization-mode",
      "SubjectAccessReview"], False, 1, "/nonexistent/kubeconfig"),
]


@pytest.mark.parametrize("extra,replace,code,text", FLAG_ERRORS,
                         ids=[" ".join(f[0]) for f in FLAG_ERRORS])
def test_bad_flags_stop_at_start(pki, tmp_path, extra, replace, code, text):
    r = _run(extra if replace else _base(pki, tmp_path) + extra)
    assert r.returncode == code, r.stderr
    assert text in r.stderr


def test_group_name_from_env_and_missing(pki, tmp_path):
    args = [a for a in _base(pki, tmp_path)]
    i = args.index("--group-name")
    del args[i:i + 2]
    r = _run(args)
    assert r.returncode == 2 and "GROUP_NAME" in r.stderr
    w = start_webhook(tmp_path, pki, omit=("--group-name",),
                      env={"GROUP_NAME": "env.example.org"})
    assert w.request("GET", "/apis/env.example.org/v1alpha1")[0] == 200
    w.stop()


def test_unreadable_certificate_content(pki, tmp_path):
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate\n")
    args = _base(pki, tmp_path)
    args[args.index("--tls-cert-file") + 1] = str(bad)
    r = _run(args)
    assert r.returncode == 1 and str(bad) in r.stderr
    other_key = pki.issue("x", ca="serving", eku="serverAuth")[1]
    args = _base(pki, tmp_path)
    args[args.index("--tls-private-key-file") + 1] = other_key
    r = _run(args)
    assert r.returncode == 1 and "does not hold the private key" in r.stderr


def test_help():
    r = _run(["--help"])
    assert r.returncode == 0
    for flag in ("--secure-port", "--tls-cert-file", "--group-name",
                 "--requestheader-client-ca-file", "--authorization-mode",
                 "--secrets-dir", "--kubeconfig", "--logging-format"):
        assert flag in r.stdout


def test_allow_authenticated_warns_loudly(hook):
    assert "AUTHORIZATION IS OFF" in hook.log()


def test_json_logs_parse(tmp_path, pki):
    w = start_webhook(tmp_path, pki, args=["--logging-format=json",
                                           "--v=4"])
    w.request("GET", "/healthz", cert=None)
    w.request("GET", DISCOVERY)
    w.request("GET", DISCOVERY, cert=None)
    w.request("POST", SOLVER, body=present_body())
    w.stop()
    lines = w.log().splitlines()
    assert len(lines) >= 5
    docs = [json.loads(line) for line in lines]
    for d in docs:
        assert set(("ts", "level", "v", "msg")) <= set(d)
        assert isinstance(d["ts"], float)
    requests = [d for d in docs if d["msg"] == "request"]
    assert {d["path"] for d in requests} >= {"/healthz", DISCOVERY, SOLVER}
    assert any(d["status"] == "401" for d in requests)


def test_v0_logs_solver_calls_only(tmp_path, pki):
    w = start_webhook(tmp_path, pki)
    w.request("GET", "/healthz", cert=None)
    w.request("GET", DISCOVERY)
    w.request("POST", SOLVER, body=present_body())
    w.stop()
    lines = [l for l in w.log().splitlines() if " request " in l]
    assert len(lines) == 1 and ("path=" + SOLVER) in lines[0]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_with_exit_0(hook, sig):
    assert hook.request("GET", DISCOVERY)[0] == 200
    assert hook.stop(sig) == 0
    assert "shutting down" in hook.log()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", hook.port), timeout=2).close()


def test_in_flight_request_finishes_on_sigterm(tmp_path, pki):
    """SIGTERM while a request's body is still coming: it is answered."""
    hook = start_webhook(tmp_path, pki, args=["--v", "5"])
    conn = hook.connection()
    try:
        body = json.dumps(present_body()).encode()
        conn.putrequest("POST", SOLVER)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("X-Remote-User", "u")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body[:10])
        # The request is in flight once the server has its headers.
        hook.wait_log(lambda t: any("request started" in line and
                                    SOLVER in line
                                    for line in t.splitlines()))
        hook.proc.send_signal(signal.SIGTERM)
        hook.wait_log(lambda t: "shutting down" in t)
        conn.send(body[10:])
        resp = conn.getresponse()
        assert resp.status in (201, 400)
        assert resp.headers["Connection"] == "close"
        resp.read()
    finally:
        conn.close()
    assert hook.stop() == 0
