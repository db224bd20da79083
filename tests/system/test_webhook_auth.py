"""Delegated authentication and authorization, as a Kubernetes extension
API server does them, against the stand-in Kubernetes API (kube.py):

- request-header (front-proxy) authentication with the CA and names from
  the flags or from the ConfigMap kube-system/extension-apiserver-
  authentication (read at start, re-read periodically, fail closed);
- every certificate and header case that must be 401, for both sources,
  with no review ever sent for them (never anonymous, never the CN);
- configurable header names, case-insensitive, extra keys decoded;
- SubjectAccessReview: what it carries; a denial is 403 in Kubernetes'
  words; a review that cannot be made (API 5xx, 401, 403, garbage, down,
  too slow) is 500 InternalError as kube-apiserver answers it, never an
  allow, never cached; system:masters without a review, 10 s caching of
  allow and deny observed by counting reviews;
- secret hygiene: planted secrets and the API token never reach the log,
  in any form, at --v 10, on every path.
"""
import base64
import json
import os
import re
import secrets
import signal
import socket
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


# ------------------------------- --requestheader-client-ca-file reloads

CA_LOADED = "request-header CA loaded"
CA_KEPT = "request-header CA file not reloaded, the old CA stays in use"


def replace_file(path, data):
    """Swap @path's content whole (write aside, rename), as a kubelet's
    atomic writer or `mv` does."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(data)
    os.rename(tmp, path)


def ca_kept_lines(w):
    return [line for line in w.log().splitlines() if CA_KEPT in line]


def test_ca_file_rotation_is_picked_up(tmp_path, pki, kube):
    """The front-proxy CA file is re-read when it changes, as the serving
    certificate is: a client of the new CA gets in, one of the old CA no
    longer does (a kept-alive connection included)."""
    ca_file = os.path.join(str(tmp_path), "front-proxy-ca.crt")
    replace_file(ca_file, read(pki.front_proxy_ca))
    w = start(tmp_path, pki, kube,
              args=["--requestheader-client-ca-file", ca_file])
    name = "rotated-" + secrets.token_hex(4)
    new_ca = pki.new_ca(name, "front-proxy-ca-2")
    new_cert = pki.issue("front-proxy-client", ca=name, eku="clientAuth")
    kept = w.connection()
    assert w.request("GET", DISCOVERY, conn=kept)[0] == 200
    assert w.request("GET", DISCOVERY, cert=new_cert)[0] == 401

    replace_file(ca_file, read(new_ca))
    wait_until(lambda: w.request("GET", DISCOVERY, cert=new_cert)[0] == 200,
               what="the rotated CA file was not picked up")
    assert w.request("GET", DISCOVERY)[0] == 401
    assert w.request("GET", DISCOVERY, conn=kept)[0] == 401
    kept.close()
    (line,) = [x for x in w.log().splitlines() if CA_LOADED in x]
    assert ca_file in line and "file changed" in line, line
    assert readyz(w)[0] == 200

    # A bundle of both (a rotation's overlap): both get in.
    replace_file(ca_file, read(pki.front_proxy_ca) + read(new_ca))
    wait_until(lambda: w.request("GET", DISCOVERY)[0] == 200,
               what="the CA bundle was not picked up")
    assert w.request("GET", DISCOVERY, cert=new_cert)[0] == 200
    w.stop()


def _garbage(path, pki):
    replace_file(path, "-----BEGIN CERTIFICATE-----\ngarbage\n"
                 "-----END CERTIFICATE-----\n")


def _emptied(path, pki):
    with open(path, "w"):
        pass


def _key_not_cert(path, pki):
    replace_file(path, read(pki.client_key))


def _removed(path, pki):
    os.unlink(path)


BROKEN_CA_FILES = [
    # (case, damage(path, pki), words the warning must hold)
    ("a PEM certificate block of garbage", _garbage, "no CA certificate"),
    ("emptied in place", _emptied, "no CA certificate"),
    ("a private key, no certificate", _key_not_cert, "no CA certificate"),
    ("removed", _removed, "No such file or directory"),
]


def test_broken_ca_file_keeps_the_old_ca(tmp_path, pki, kube):
    """Each broken new file is refused with one warning naming the file;
    the CA in use stays (its clients served, /readyz ok); SIGHUP re-reads
    at once; a mended file is taken."""
    ca_file = os.path.join(str(tmp_path), "front-proxy-ca.crt")
    replace_file(ca_file, read(pki.front_proxy_ca))
    w = start(tmp_path, pki, kube,
              args=["--requestheader-client-ca-file", ca_file])
    assert w.request("GET", DISCOVERY)[0] == 200
    for i, (case, damage, words) in enumerate(BROKEN_CA_FILES):
        damage(ca_file, pki)
        wait_until(lambda: len(ca_kept_lines(w)) > i,
                   what="no warning for " + case)
        line = ca_kept_lines(w)[-1]
        assert ca_file in line and words in line, (case, line)
        assert w.request("GET", DISCOVERY)[0] == 200, case
        assert readyz(w)[0] == 200, case
    # SIGHUP tries the (still missing) file again at once, and says so.
    n = len(BROKEN_CA_FILES)
    w.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: len(ca_kept_lines(w)) > n, what="SIGHUP ignored")
    assert w.request("GET", DISCOVERY)[0] == 200
    # Mended with another CA: taken.
    name = "mended-" + secrets.token_hex(4)
    new_ca = pki.new_ca(name)
    new_cert = pki.issue("front-proxy-client", ca=name, eku="clientAuth")
    replace_file(ca_file, read(new_ca))
    wait_until(lambda: w.request("GET", DISCOVERY, cert=new_cert)[0] == 200,
               what="the mended CA file was not picked up")
    assert w.request("GET", DISCOVERY)[0] == 401
    assert CA_LOADED in w.log()
    # Each refusal said once, not once a second while the file stayed.
    assert len(ca_kept_lines(w)) == n + 1, ca_kept_lines(w)
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

REVIEW_DENIALS = [
    # (case, stand-in setup, message suffix expected after the wording)
    ("denied", lambda k: setattr(k, "sar_policy",
                                 lambda spec: (False, "no RBAC rule")),
     ": no RBAC rule"),
    ("denied without reason", lambda k: setattr(k, "sar_policy",
                                                lambda spec: (False, "")),
     ""),
    # Kubernetes' webhook authorizer: not allowed is a denial, whatever
    # evaluationError says.
    ("review with evaluation error, not allowed",
     lambda k: setattr(k, "sar_policy", lambda spec: {
         "allowed": False, "evaluationError": "webhook down"}),
     ": webhook down"),
]


@pytest.mark.parametrize("case,setup,suffix", REVIEW_DENIALS,
                         ids=[c[0] for c in REVIEW_DENIALS])
def test_review_denied_is_403(tmp_path, pki, kube, case, setup, suffix):
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
    # A denial is cached like an allow: one review per request kind.
    assert w.request("GET", DISCOVERY, user=user)[0] == 403
    assert len(reviews(kube)) == 2
    assert "answering 500" not in w.log()
    w.stop()


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HINT_API = "check the health of the Kubernetes API"
HINT_REACH = "check that the webhook can reach the Kubernetes API"

REVIEW_ERRORS = [
    # (case, setup(kube) after the kubeconfig is written (-> another
    #  server address for it, or None), how the API recovers ("clear" the
    #  behaviours, the "token" back, None: it does not), words the cause
    #  must hold)
    ("API answers 500",
     lambda k: k.set_behavior(SAR_PATH, status=500), "clear",
     ["creating a SubjectAccessReview: HTTP 500 from https://127.0.0.1:",
      HINT_API]),
    ("API answers 503",
     lambda k: k.set_behavior(SAR_PATH, status=503), "clear",
     ["creating a SubjectAccessReview: HTTP 503", HINT_API]),
    ("RBAC forbids the review (403)",
     lambda k: k.set_behavior(SAR_PATH, status=403), "clear",
     ["creating a SubjectAccessReview is forbidden",
      "ClusterRole system:auth-delegator"]),
    ("API rejects the token (401)",
     lambda k: k.set_token("rotated-" + secrets.token_hex(8)), "token",
     ["rejected our credentials (401", "token"]),
    ("answer not JSON",
     lambda k: k.set_behavior(SAR_PATH, status=201, body="<html>oops"),
     "clear", ["SubjectAccessReview", "not valid JSON", HINT_API]),
    ("answer without status.allowed",
     lambda k: k.set_behavior(SAR_PATH, status=201, body={
         "kind": "SubjectAccessReview",
         "apiVersion": "authorization.k8s.io/v1", "status": {}}),
     "clear", ["no boolean status.allowed", HINT_API]),
    ("API down (connection refused)",
     lambda k: "https://127.0.0.1:%d" % closed_port(), None,
     ["127.0.0.1", HINT_REACH]),
    ("API slower than the 10 s timeout",
     lambda k: k.set_behavior(SAR_PATH, delay=15), "clear",
     ["no answer within", HINT_REACH]),
]

INTERNAL_ERROR_KEYS = ["kind", "apiVersion", "metadata", "status",
                       "message", "reason", "details", "code"]


def internal_error_cause(raw):
    """The cause of kube-apiserver's 500 (apimachinery NewInternalError),
    after checking every field and their order."""
    doc = json.loads(raw)
    assert list(doc) == INTERNAL_ERROR_KEYS, doc
    cause = doc["details"]["causes"][0]["message"]
    assert doc == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                   "status": "Failure",
                   "message": "Internal error occurred: " + cause,
                   "reason": "InternalError",
                   "details": {"causes": [{"message": cause}]},
                   "code": 500}, doc
    return cause


@pytest.mark.parametrize("case,setup,undo,words", REVIEW_ERRORS,
                         ids=[c[0] for c in REVIEW_ERRORS])
def test_review_that_cannot_be_made_is_500(tmp_path, pki, kube, case,
                                           setup, undo, words):
    """No verdict is no denial: kube-apiserver's WithAuthorization answers
    an authorizer error 500 InternalError.  The cause says what failed and
    what to check, never a credential; it is not cached, so once the API
    is well the same caller is allowed."""
    token = kube.token
    kc = os.path.join(str(tmp_path), "kubeconfig")
    kube.kubeconfig(kc)
    server = setup(kube)
    if server is not None:
        kube.kubeconfig(kc, server=server)
    w = start_webhook(tmp_path, pki, args=[
        "--kubeconfig", kc, "--authorization-mode", "SubjectAccessReview"])
    causes = []
    for method, path, body in (("POST", SOLVER, present_body()),
                               ("GET", DISCOVERY, None)):
        status, headers, raw = w.request(method, path, body=body,
                                         timeout=40)
        assert status == 500, (case, path, raw)
        assert headers["Content-Type"] == "application/json"
        cause = internal_error_cause(raw)
        assert cause.startswith("the authorization review failed: "), cause
        for word in words:
            assert word in cause, (word, cause)
        assert token not in raw.decode() and "Bearer" not in cause
        causes.append(cause)
    log = w.log()
    assert log.count("authorization review failed, answering 500") == 2
    assert token not in log
    if undo is not None:
        # Not cached: the next request asks again and is allowed.
        n = len(reviews(kube))
        if undo == "clear":
            kube.clear_behaviors()
        else:
            kube.set_token(token)
        assert w.request("GET", DISCOVERY)[0] == 200
        assert w.request("POST", SOLVER, body=present_body())[0] in \
            (200, 201)
        assert len(reviews(kube)) == n + 2
    # Health is not the API's business.
    assert w.request("GET", "/readyz", cert=None, user=None)[0] == 200
    w.stop()


def test_failure_is_not_cached_denial_is(tmp_path, pki, kube):
    """Two failures, then the API answers: every request asked anew until
    a verdict came; that verdict is cached."""
    kube.set_behavior(SAR_PATH, status=500, times=2)
    w = start(tmp_path, pki, kube)
    assert w.request("GET", DISCOVERY)[0] == 500
    assert w.request("GET", DISCOVERY)[0] == 500
    assert w.request("GET", DISCOVERY)[0] == 200
    assert w.request("GET", DISCOVERY)[0] == 200
    assert len(reviews(kube)) == 3
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
    assert w.request("GET", DISCOVERY, user="errs")[0] == 500
    kube.sar_policy = lambda spec: (False, "denied")
    assert w.request("GET", DISCOVERY, user="denied")[0] == 403
    # A token the API rejects: the review fails, the log names no token.
    kube.set_token("kube-token-rotated-" + secrets.token_hex(8))
    status, _, raw = w.request("GET", DISCOVERY, user="after-rotation")
    assert status == 500 and b"rejected our credentials" in raw, raw
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
