"""Delegated authentication and authorization, as a Kubernetes extension
API server does them, against the stand-in Kubernetes API (kube.py):

- request-header (front-proxy) authentication with the CA and names from
  the flags or from the ConfigMap kube-system/extension-apiserver-
  authentication (read at start, re-read periodically, fail closed);
- every certificate and header case that must be 401, for both sources,
  with no review ever sent for them (never anonymous, never the CN);
- configurable header names, case-insensitive, extra keys decoded;
- SubjectAccessReview: what it carries, deny, error and timeout (403 in
  Kubernetes' words, never an allow), system:masters without a review,
  10 s caching of allow and deny observed by counting reviews;
- secret hygiene: planted secrets and the API token never reach the log,
  in any form, at --v 10, on every path.
"""
import base64
import json
import os
import re
import secrets
import time

import pytest

from dnsservers import key_text, unique_fqdn, ZONE
from webhook import DEFAULT_GROUP, DEFAULT_USER, challenge, start_webhook

DISCOVERY = "/apis/%s/v1alpha1" % DEFAULT_GROUP
SOLVER = DISCOVERY + "/rfc2136"
NS = "cert-manager"
CM_NS, CM_NAME = "kube-system", "extension-apiserver-authentication"
SAR_PATH = r"/subjectaccessreviews$"


# ---------------------------------------------------------------- helpers

def read(path):
    with open(path) as f:
        return f.read()


def status_of(body):
    doc = json.loads(body)
    assert doc["kind"] == "Status" and doc["apiVersion"] == "v1"
    assert doc["status"] == "Failure" and doc["message"]
    return doc


def present_body():
    return challenge("Present", "_acme-challenge.example.test.",
                     "example.test.", "k" * 43,
                     config={"nameserver": "127.0.0.1:9"})


def auth_configmap(kube, pki, ca=None, names=("front-proxy-client",),
                   **lists):
    """Write the extension-apiserver-authentication ConfigMap as
    kube-apiserver does (contract: JSON-array strings).  @ca: a CA file,
    or False for no requestheader-client-ca-file key.  @lists: more keys,
    e.g. username_headers=["X-Remote-User"] (None leaves a key out)."""
    data = {"client-ca-file": read(pki.other_ca)}
    if ca is not False:
        data["requestheader-client-ca-file"] = read(ca or pki.front_proxy_ca)
    if names is not None:
        data["requestheader-allowed-names"] = json.dumps(list(names))
    defaults = {"username_headers": ["X-Remote-User"],
                "group_headers": ["X-Remote-Group"],
                "extra_headers_prefix": ["X-Remote-Extra-"],
                "uid_headers": ["X-Remote-Uid"]}
    defaults.update(lists)
    for k, v in defaults.items():
        if v is not None:
            data["requestheader-" + k.replace("_", "-")] = (
                v if isinstance(v, str) else json.dumps(v))
    kube.add_configmap(CM_NS, CM_NAME, data)


def start(tmp_path, pki, kube, source="flags", args=(), **kw):
    """The webhook in SubjectAccessReview mode through the stand-in API;
    the request-header settings from the flags or from the ConfigMap."""
    full = ["--kubeconfig", kube.kubeconfig(os.path.join(str(tmp_path),
                                                         "kubeconfig")),
            "--authorization-mode", "SubjectAccessReview"]
    omit = ()
    if source == "configmap":
        omit = ("--requestheader-client-ca-file",)
        full += ["--requestheader-reload-interval", "1s"]
    return start_webhook(tmp_path, pki, args=full + list(args), omit=omit,
                         **kw)


def reviews(kube):
    return [r.json for r in list(kube.requests)
            if re.search(SAR_PATH, r.path)]


def wait_until(cond, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def readyz(w):
    status, _, body = w.request("GET", "/readyz?verbose", cert=None,
                                user=None, groups=())
    return status, body.decode()


# ------------------------------------------------- authentication (401s)

def _other_ca(pki):
    return pki.issue("front-proxy-client", ca="other", eku="clientAuth")


def _not_allowed_cn(pki):
    return pki.issue("intruder", ca="front-proxy", eku="clientAuth")


def _server_auth_only(pki):
    return pki.issue("front-proxy-client", ca="front-proxy",
                     eku="serverAuth")


def _serving_ca(pki):
    # A certificate of a CA the server trusts for something else.
    return pki.issue("front-proxy-client", ca="serving", eku="clientAuth")


UNAUTHENTICATED = [
    # (case, certificate, X-Remote-User sent)
    ("no certificate", None, False),
    ("X-Remote-User without a certificate", None, True),
    ("certificate from another CA", _other_ca, True),
    ("certificate of the serving CA", _serving_ca, True),
    ("front-proxy CA, CN not in the allowed names", _not_allowed_cn, True),
    ("front-proxy CA, serverAuth purpose only", _server_auth_only, True),
    ("valid proxy certificate without X-Remote-User", "front-proxy", False),
]


@pytest.mark.parametrize("source", ["flags", "configmap"])
def test_unauthenticated_cases_are_401_and_never_reviewed(tmp_path, pki,
                                                          kube, source):
    auth_configmap(kube, pki)
    args = [] if source == "configmap" else [
        "--requestheader-allowed-names", "front-proxy-client"]
    w = start(tmp_path, pki, kube, source, args=args + ["--v", "2"])
    for case, make, send_user in UNAUTHENTICATED:
        cert = make(pki) if callable(make) else make
        for method, path, body in (("GET", DISCOVERY, None),
                                   ("POST", SOLVER, present_body())):
            status, _, raw = w.request(
                method, path, body=body, cert=cert,
                user=DEFAULT_USER if send_user else None,
                groups=("system:masters",))
            assert status == 401, (case, method, status, raw)
            doc = status_of(raw)
            assert (doc["reason"], doc["message"], doc["code"]) == \
                ("Unauthorized", "Unauthorized", 401), case
    # Never anonymous, never the CN as the user: nobody was reviewed,
    # and even system:masters in a header did not get through.
    assert reviews(kube) == []
    log = w.log()
    for cn in ("intruder", "front-proxy-client"):
        assert 'user=%s' % cn not in log and "user=\"%s\"" % cn not in log
    # The real proxy still gets through.
    assert w.request("GET", DISCOVERY)[0] == 200
    w.stop()


def test_empty_user_header_is_401(tmp_path, pki, kube):
    w = start(tmp_path, pki, kube)
    assert w.request("GET", DISCOVERY, user="")[0] == 401
    assert reviews(kube) == []
    w.stop()


# -------------------------------------------------- header names honoured

CUSTOM_HEADERS = {"username_headers": ["X-Proxy-User", "X-Proxy-User2"],
                  "group_headers": ["X-Proxy-Group"],
                  "extra_headers_prefix": ["X-Proxy-Extra-", "X-Ext-"],
                  "uid_headers": ["X-Proxy-Uid"]}


@pytest.mark.parametrize("source", ["flags", "configmap"])
def test_configured_header_names_are_honoured(tmp_path, pki, kube, source):
    auth_configmap(kube, pki, **CUSTOM_HEADERS)
    args = []
    if source == "flags":
        for k, v in CUSTOM_HEADERS.items():
            args += ["--requestheader-" + k.replace("_", "-"),
                     ",".join(v)]
    w = start(tmp_path, pki, kube, source, args=args)
    # The default names mean nothing now: no user.
    status, _, _ = w.request("GET", DISCOVERY)
    assert status == 401
    # Names compare case-insensitively; repeated groups all count; extra
    # keys are lower-cased, then percent-decoded; the first user wins.
    headers = {"x-proxy-user": "alice", "X-PROXY-USER2": "mallory",
               "X-Proxy-Group": "team-a", "x-proxy-group": "team-b",
               "X-Proxy-Extra-Scopes": "view",
               "x-ext-Authentication.Kubernetes.io%2FPod-Name": "pod-1",
               "X-Proxy-Uid": "uid-42"}
    hdrs = list(headers.items())
    conn = w.connection()
    try:
        conn.putrequest("GET", DISCOVERY, skip_accept_encoding=True)
        for k, v in hdrs:
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
    finally:
        conn.close()
    (sar,) = reviews(kube)
    spec = sar["spec"]
    assert spec["user"] == "alice"
    assert spec["groups"] == ["team-a", "team-b", "system:authenticated"]
    assert spec["uid"] == "uid-42"
    assert spec["extra"] == {"scopes": ["view"],
                             "authentication.kubernetes.io/pod-name":
                             ["pod-1"]}
    w.stop()


# --------------------------------------------- the ConfigMap as the source

def test_configmap_with_ca_serves(tmp_path, pki, kube):
    auth_configmap(kube, pki, names=["front-proxy-client", "aggregator"])
    w = start(tmp_path, pki, kube, "configmap")
    assert readyz(w)[0] == 200
    assert w.request("GET", DISCOVERY)[0] == 200
    agg = pki.issue("aggregator", ca="front-proxy", eku="clientAuth")
    assert w.request("GET", DISCOVERY, cert=agg)[0] == 200
    assert kube.count("GET", r"/namespaces/kube-system/configmaps/" +
                      CM_NAME + "$") >= 1
    assert "request-header configuration loaded" in w.log()
    w.stop()


def test_configmap_read_in_one_get(tmp_path, pki, kube):
    """The CA and the five lists come from one GET (one version of the
    ConfigMap); no re-read within the hour asked for."""
    auth_configmap(kube, pki, names=["front-proxy-client"])
    w = start(tmp_path, pki, kube, "configmap",
              args=["--requestheader-reload-interval", "1h"])
    assert readyz(w)[0] == 200
    assert w.request("GET", DISCOVERY)[0] == 200
    assert kube.count("GET", r"/namespaces/kube-system/configmaps/" +
                      CM_NAME + "$") == 1
    assert kube.count(path_regex="/configmaps/") == 1
    w.stop()


@pytest.mark.parametrize("state,reason", [
    ("no CA key", "has no key requestheader-client-ca-file"),
    ("no ConfigMap", "not found"),
    ("RBAC forbids it", "forbidden"),
    ("bad allowed-names", "requestheader-allowed-names"),
])
def test_configmap_without_ca_fails_closed(tmp_path, pki, kube, state,
                                           reason):
    if state == "no CA key":
        auth_configmap(kube, pki, ca=False)
    elif state == "RBAC forbids it":
        auth_configmap(kube, pki)
        kube.forbid("configmaps", CM_NS)
    elif state == "bad allowed-names":
        auth_configmap(kube, pki, names=None)
        kube.add_configmap(CM_NS, CM_NAME, {
            "requestheader-client-ca-file": read(pki.front_proxy_ca),
            "requestheader-allowed-names": '{"not": "a list"}'})
    w = start(tmp_path, pki, kube, "configmap")
    status, text = readyz(w)
    assert status == 500, text
    assert "[-]requestheader-client-ca failed: no request-header CA" in text
    assert reason in text, text
    assert "readyz check failed" in text
    for path in (DISCOVERY, SOLVER):
        assert w.request("POST" if path == SOLVER else "GET", path,
                         body=present_body() if path == SOLVER
                         else None)[0] == 401
    # Health paths stay open.
    for path in ("/healthz", "/livez"):
        assert w.request("GET", path, cert=None, user=None)[0] == 200
    assert reviews(kube) == []
    w.stop()


def test_configmap_ca_added_later_is_picked_up(tmp_path, pki, kube):
    auth_configmap(kube, pki, ca=False)
    w = start(tmp_path, pki, kube, "configmap")
    assert w.request("GET", DISCOVERY)[0] == 401
    auth_configmap(kube, pki)
    wait_until(lambda: w.request("GET", DISCOVERY)[0] == 200,
               what="the CA added to the ConfigMap was not picked up")
    assert readyz(w)[0] == 200
    w.stop()


def test_configmap_ca_rotation_is_picked_up(tmp_path, pki, kube):
    auth_configmap(kube, pki)
    w = start(tmp_path, pki, kube, "configmap")
    new_cert = pki.issue("front-proxy-client", ca="other", eku="clientAuth")
    assert w.request("GET", DISCOVERY)[0] == 200
    assert w.request("GET", DISCOVERY, cert=new_cert)[0] == 401
    # kube-apiserver rotates its front-proxy CA: the new one only.
    auth_configmap(kube, pki, ca=pki.other_ca)
    wait_until(lambda: w.request("GET", DISCOVERY, cert=new_cert)[0] == 200,
               what="the rotated CA was not picked up")
    assert w.request("GET", DISCOVERY)[0] == 401
    # A kept-alive connection is re-verified against the new CA too.
    w.stop()


def test_configmap_broken_reread_keeps_the_old(tmp_path, pki, kube):
    auth_configmap(kube, pki)
    w = start(tmp_path, pki, kube, "configmap")
    assert w.request("GET", DISCOVERY)[0] == 200
    # A CA that is not a CA, then the API failing: the old one stays.
    kube.add_configmap(CM_NS, CM_NAME, {
        "requestheader-client-ca-file": "-----BEGIN CERTIFICATE-----\n"
                                        "garbage\n-----END CERTIFICATE-----\n"})
    w.wait_log(lambda t: "not re-read, the old one stays in use" in t)
    assert w.request("GET", DISCOVERY)[0] == 200
    kube.set_behavior(r"/configmaps/", status=500)
    n = w.log().count("not re-read")
    w.wait_log(lambda t: t.count("not re-read") > n)
    assert w.request("GET", DISCOVERY)[0] == 200
    assert readyz(w)[0] == 200
    w.stop()


def test_flag_ca_never_reads_the_configmap(tmp_path, pki, kube):
    auth_configmap(kube, pki, ca=pki.other_ca)
    w = start(tmp_path, pki, kube, "flags")
    assert w.request("GET", DISCOVERY)[0] == 200
    assert kube.count(path_regex="/configmaps/") == 0
    w.stop()


# --------------------------------------------------- SubjectAccessReview

def test_review_carries_user_groups_extra_uid(tmp_path, pki, kube):
    w = start(tmp_path, pki, kube)
    status, _, _ = w.request(
        "POST", SOLVER, body=present_body(),
        groups=("system:serviceaccounts",
                "system:serviceaccounts:cert-manager"),
        headers={"X-Remote-Extra-Authentication.kubernetes.io%2Fpod-name":
                 "cert-manager-6d5c9f7b8-x2x7q",
                 "X-Remote-Uid": "8f0c2f4e-uid"})
    assert status in (200, 201), status
    (sar,) = reviews(kube)
    assert sar["apiVersion"] == "authorization.k8s.io/v1"
    assert sar["kind"] == "SubjectAccessReview"
    spec = sar["spec"]
    assert spec["user"] == DEFAULT_USER
    assert spec["groups"] == ["system:serviceaccounts",
                              "system:serviceaccounts:cert-manager",
                              "system:authenticated"]
    assert spec["extra"] == {"authentication.kubernetes.io/pod-name":
                             ["cert-manager-6d5c9f7b8-x2x7q"]}
    assert spec["uid"] == "8f0c2f4e-uid"
    assert spec["resourceAttributes"] == {
        "verb": "create", "group": DEFAULT_GROUP, "version": "v1alpha1",
        "resource": "rfc2136"}
    w.stop()


FORBIDDEN_SOLVER = (
    'rfc2136.%s is forbidden: User "%%s" cannot create resource "rfc2136" '
    'in API group "%s" at the cluster scope' % (DEFAULT_GROUP, DEFAULT_GROUP))

REVIEW_FAILURES = [
    # (case, stand-in setup, message suffix expected after the wording)
    ("denied", lambda k: setattr(k, "sar_policy",
                                 lambda spec: (False, "no RBAC rule")),
     ": no RBAC rule"),
    ("denied without reason", lambda k: setattr(k, "sar_policy",
                                                lambda spec: (False, "")),
     ""),
    ("review errors (500)",
     lambda k: k.set_behavior("subjectaccessreviews", status=500),
     ": the authorization review failed"),
    ("review RBAC-forbidden (403)",
     lambda k: k.forbid("subjectaccessreviews", verb="create"),
     ": the authorization review failed"),
    ("review answer not JSON",
     lambda k: k.set_behavior("subjectaccessreviews", status=201,
                              body="<html>"),
     ": the authorization review failed"),
    ("review with evaluation error, not allowed",
     lambda k: setattr(k, "sar_policy", lambda spec: {
         "allowed": False, "evaluationError": "webhook down"}),
     ": webhook down"),
]


@pytest.mark.parametrize("case,setup,suffix", REVIEW_FAILURES,
                         ids=[c[0] for c in REVIEW_FAILURES])
def test_review_not_allowed_is_403(tmp_path, pki, kube, case, setup, suffix):
    setup(kube)
    w = start(tmp_path, pki, kube)
    user = "system:serviceaccount:default:intruder"
    status, _, raw = w.request("POST", SOLVER, body=present_body(),
                               user=user)
    assert status == 403, (case, raw)
    doc = status_of(raw)
    assert doc["reason"] == "Forbidden" and doc["code"] == 403
    assert doc["details"] == {"group": DEFAULT_GROUP, "kind": "rfc2136"}
    assert doc["message"].startswith(FORBIDDEN_SOLVER % user + suffix), \
        doc["message"]
    if not suffix:
        assert doc["message"] == FORBIDDEN_SOLVER % user
    # Discovery: the non-resource wording.
    status, _, raw = w.request("GET", DISCOVERY, user=user)
    assert status == 403
    assert status_of(raw)["message"].startswith(
        'forbidden: User "%s" cannot get path "%s"' % (user, DISCOVERY))
    w.stop()


def test_review_timeout_is_403(tmp_path, pki, kube):
    """The API never answers within the client's 10 s: 403, not allow."""
    kube.set_behavior("subjectaccessreviews", delay=15)
    w = start(tmp_path, pki, kube)
    status, _, raw = w.request("GET", DISCOVERY, timeout=40)
    assert status == 403
    assert "the authorization review failed" in status_of(raw)["message"]
    # Meanwhile and after, health and system:masters are served.
    assert w.request("GET", "/readyz", cert=None, user=None)[0] == 200
    w.stop()


def test_system_masters_needs_no_review(tmp_path, pki, kube):
    kube.sar_policy = lambda spec: (False, "would deny")
    w = start(tmp_path, pki, kube)
    before = len(kube.requests)
    for path, method, body in ((DISCOVERY, "GET", None),
                               (SOLVER, "POST", present_body())):
        status, _, _ = w.request(method, path, body=body,
                                 user="system:kube-aggregator",
                                 groups=("system:masters",))
        assert status in (200, 201)
    # Not one request reached the API (the solver has no secret to read).
    assert len(kube.requests) == before
    assert reviews(kube) == []
    w.stop()


def test_verdicts_cached_10s_keyed_on_everything(tmp_path, pki, kube):
    kube.sar_policy = lambda spec: (spec["user"] != "mallory", "")
    w = start(tmp_path, pki, kube)
    n = lambda: len(reviews(kube))  # noqa: E731
    # Allow and deny both cached.
    for _ in range(3):
        assert w.request("GET", DISCOVERY)[0] == 200
        assert w.request("GET", DISCOVERY, user="mallory")[0] == 403
    assert n() == 2
    # Any field that the review carries is part of the key.
    variants = [
        dict(groups=("other-group",)),
        dict(headers={"X-Remote-Uid": "u1"}),
        dict(headers={"X-Remote-Extra-Scope": "a"}),
        dict(headers={"X-Remote-Extra-Scope": "b"}),
    ]
    for i, v in enumerate(variants):
        assert w.request("GET", DISCOVERY, **v)[0] == 200
        assert w.request("GET", DISCOVERY, **v)[0] == 200
        assert n() == 3 + i
    # Another verb and resource: another review.
    status, _, _ = w.request("POST", SOLVER, body=present_body())
    assert n() == 7
    # After the 10 s, asked again.
    time.sleep(10.5)
    assert w.request("GET", DISCOVERY)[0] == 200
    assert w.request("GET", DISCOVERY, user="mallory")[0] == 403
    assert n() == 9
    w.stop()


def test_failed_reviews_are_not_cached(tmp_path, pki, kube):
    kube.set_behavior("subjectaccessreviews", status=500, times=2)
    w = start(tmp_path, pki, kube)
    assert w.request("GET", DISCOVERY)[0] == 403
    assert w.request("GET", DISCOVERY)[0] == 403
    assert w.request("GET", DISCOVERY)[0] == 200
    assert len(reviews(kube)) == 3
    w.stop()


def test_allow_authenticated_says_so_loudly(tmp_path, pki):
    w = start_webhook(tmp_path, pki, args=[
        "--authorization-mode", "AllowAuthenticated"])
    assert "AUTHORIZATION IS OFF" in w.log()
    w.stop()


# ------------------------------------------------------- secret hygiene

def _forms(secret_b64=None, text=None):
    """Every spelling of a secret worth searching a log for, and windows
    of it (a log must not hold even part of it)."""
    forms = set()
    raws = []
    if secret_b64 is not None:
        forms.add(secret_b64)
        forms.add(secret_b64.rstrip("="))
        raws.append(base64.b64decode(secret_b64))
    if text is not None:
        forms.add(text)
        raws.append(text.encode())
    for raw in raws:
        forms.add(raw.hex())
        forms.add(raw.hex().upper())
        forms.add(base64.b64encode(raw).decode().rstrip("="))
        forms.add(base64.urlsafe_b64encode(raw).decode().rstrip("="))
        forms.add(base64.b64encode(base64.b64encode(raw)).decode()
                  .rstrip("="))
        try:
            forms.add(raw.decode())
        except UnicodeDecodeError:
            pass
        forms.add("".join("\\x%02x" % b for b in raw))
    windows = set()
    for f in forms:
        size = 12
        for i in range(0, max(1, len(f) - size + 1)):
            part = f[i:i + size]
            if len(part) == size:
                windows.add(part)
    return forms, windows


def _planted(tag):
    """A recognisable secret: base64 of 'PLANTED-<tag>-' + random."""
    raw = ("PLANTED-%s-" % tag).encode() + secrets.token_bytes(24)
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_secret_in_the_log_at_v10(tmp_path, pki, kube, bind, fmt):
    good = bind.keys["acme256"]
    wrong = _planted("wrong")
    in_file = _planted("file")
    kube.add_secret(NS, "good", {"secret": good.secret})
    kube.add_secret(NS, "wrong", {"secret": wrong})
    file_text = key_text(type(good)(good.name, good.algorithm, in_file),
                         "bind")
    kube.add_secret(NS, "keyfile", {"key.conf": file_text})
    auth_configmap(kube, pki)
    w = start(tmp_path, pki, kube, "configmap",
              args=["--v", "10", "--logging-format", fmt])

    def call(action, fqdn, key, config, **kw):
        body = challenge(action, fqdn, ZONE, key, config=config)
        return w.request("POST", SOLVER, body=body, **kw)

    def cfg(name, data_key="secret", fields=True):
        c = {"nameserver": bind.addr,
             "tsigSecretSecretRef": {"name": name, "key": data_key}}
        if fields:
            c.update(tsigKeyName=good.name, tsigAlgorithm=good.algorithm)
        return c

    fqdn = unique_fqdn("hyg")
    # Success, then clean up.
    for action in ("Present", "CleanUp"):
        status, _, raw = call(action, fqdn, "v1", cfg("good"))
        assert status in (200, 201)
        assert json.loads(raw)["response"]["success"], raw
    # A wrong key, a key file with a wrong key, unsigned, a missing key.
    for config in (cfg("wrong"), cfg("keyfile", "key.conf", False),
                   {"nameserver": bind.addr}, cfg("good", "nope")):
        status, _, raw = call("Present", fqdn, "v2", config)
        assert status in (200, 201)
        assert not json.loads(raw)["response"]["success"], raw
    # Malformed payloads with the secret in them.
    status, _, _ = w.request("POST", SOLVER, body=('{"request": "%s"' %
                                                   wrong).encode())
    assert status == 400
    # Authentication failures and a review that errors, then denies.
    assert w.request("GET", DISCOVERY, cert=None)[0] == 401
    assert w.request("GET", DISCOVERY, user=None)[0] == 401
    kube.set_behavior("subjectaccessreviews", status=500, times=1)
    assert w.request("GET", DISCOVERY, user="errs")[0] == 403
    kube.sar_policy = lambda spec: (False, "denied")
    assert w.request("GET", DISCOVERY, user="denied")[0] == 403
    # A token the API rejects: the review fails, the log names no token.
    kube.set_token("kube-token-rotated-" + secrets.token_hex(8))
    assert w.request("GET", DISCOVERY, user="after-rotation")[0] == 403
    w.stop()

    log = w.log()
    assert "request" in log and len(log.splitlines()) > 20  # it did log
    searched = {"good TSIG secret": _forms(good.secret),
                "wrong TSIG secret": _forms(wrong),
                "key file secret": _forms(in_file),
                "API bearer token": _forms(text=kube_token_of(w, kube))}
    for what, (forms, windows) in searched.items():
        for f in forms:
            assert f not in log, (what, f)
        leaked = [p for p in windows if p in log]
        assert not leaked, (what, leaked[:3])


def kube_token_of(w, kube):
    """The token the webhook was started with (from its kubeconfig)."""
    for i, a in enumerate(w.args):
        if a == "--kubeconfig":
            text = read(w.args[i + 1])
            m = re.search(r'token: "([^"]+)"', text)
            return m.group(1)
    raise AssertionError("no kubeconfig")
