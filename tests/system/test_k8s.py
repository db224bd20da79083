"""System tests of the k8s/ module through tests/tools/k8s_get against the
stand-in Kubernetes API (kube.py) and secret directories."""
import base64
import json
import os
import subprocess

import pytest

from kube import Kube

TOOLS = os.environ.get("RFC2136_TOOLS", "")
NS = "cert-manager"
SECRET = "tsig-secret"
TSIG = b"c2VjcmV0LWluLWJhc2U2NC1hcy1wcmludGVkLWJ5LXRzaWcta2V5Z2Vu"
BINARY = bytes(range(256))
SAR_RESOURCE = "create,acme.example.org,v1alpha1,rfc2136"


def k8s_get(*args, env=None, timeout=30):
    tool = os.path.join(TOOLS, "k8s_get")
    if not os.access(tool, os.X_OK):
        pytest.fail("k8s_get not built: set RFC2136_TOOLS (%s)" % tool)
    return subprocess.run([tool, *map(str, args)], capture_output=True,
                          env=env, timeout=timeout)


def ok(p):
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p.stdout


def fails(p, code, *texts):
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 1, (p.returncode, p.stdout, err)
    assert ("k8s_get: %s: " % code) in err, err
    for t in texts:
        assert t in err, (t, err)
    return err


@pytest.fixture
def kc(kube, tmp_path):
    kube.add_secret(NS, SECRET, {"secret": TSIG, "binary": BINARY})
    return kube.kubeconfig(tmp_path / "kube" / "config")


# --- kubeconfig variants: every credential and CA form reads the secret ----
VARIANTS = [
    # (kubeconfig arguments, how the stand-in must see the caller)
    ({}, "token"),
    ({"token_file": True}, "token"),
    ({"token_file": True, "relative": True}, "token"),
    ({"ca_data": True}, "token"),
    ({"relative": True}, "token"),
    ({"insecure": True}, "token"),
    ({"client_cert": True}, "cert"),
    ({"client_cert": True, "relative": True}, "cert"),
    ({"client_cert": "data"}, "cert"),
    ({"client_cert": "data", "ca_data": True}, "cert"),
    ({"decoys": False}, "token"),
]


@pytest.mark.parametrize("variant,auth", VARIANTS,
                         ids=[repr(v[0]) for v in VARIANTS])
def test_kubeconfig_variants(kube, tmp_path, variant, auth):
    kube.add_secret(NS, SECRET, {"secret": TSIG, "binary": BINARY})
    cfg = kube.kubeconfig(tmp_path / "kc" / "config", **variant)
    assert ok(k8s_get("--kubeconfig", cfg, "secret", NS, SECRET,
                      "binary")) == BINARY
    req = kube.requests[-1]
    assert req.method == "GET"
    assert req.path == "/api/v1/namespaces/%s/secrets/%s" % (NS, SECRET)
    assert req.headers.get("Accept") == "application/json"
    if auth == "token":
        assert req.headers.get("Authorization") == "Bearer " + kube.token
    else:
        assert req.headers.get("Authorization") is None
        assert req.user == "system:serviceaccount:cert-manager:webhook"


# --- secret errors ---------------------------------------------------------
def _setup_none(kube):
    pass


SECRET_ERRORS = [
    # (id, setup(kube), key, extra args, code, texts in stderr)
    ("missing-secret", lambda k: None, "secret", [], "K8S_ENOTFOUND",
     ["Secret cert-manager/tsig-secret not found"]),
    ("missing-key", lambda k: k.add_secret(NS, SECRET, {"tsig.key": b"x"}),
     "secret", [], "K8S_ENOKEY",
     ["Secret cert-manager/tsig-secret has no key 'secret' (keys: tsig.key)"]),
    ("empty-secret", lambda k: k.add_secret(NS, SECRET, {}), "secret", [],
     "K8S_ENOKEY", ["has no key 'secret' (keys: none)"]),
    ("forbidden", lambda k: (k.add_secret(NS, SECRET, {"secret": TSIG}),
                             k.forbid("secrets", NS)),
     "secret", [], "K8S_EFORBIDDEN",
     ['reading Secret cert-manager/tsig-secret is forbidden: secrets '
      '"tsig-secret" is forbidden: User "system:serviceaccount:cert-manager'
      ':webhook" cannot get resource "secrets"',
      "; grant the webhook's service account get on secrets in "
      "cert-manager"]),
    ("wrong-token", lambda k: (k.add_secret(NS, SECRET, {"secret": TSIG}),
                               k.set_token("another-token-123")),
     "secret", [], "K8S_EUNAUTHORIZED",
     ["reading Secret cert-manager/tsig-secret", "401 Unauthorized"]),
    ("http-500", lambda k: k.set_behavior("/secrets/", status=500),
     "secret", [], "K8S_EHTTP", ["HTTP 500", "injected 500"]),
    ("http-404-path", lambda k: k.set_behavior("/secrets/", status=404),
     "secret", [], "K8S_ENOTFOUND", ["not found"]),
    ("garbage-json", lambda k: k.set_behavior("/secrets/", body=b"{]nope"),
     "secret", [], "K8S_ERESPONSE", ["not valid JSON"]),
    ("duplicate-keys", lambda k: k.set_behavior(
        "/secrets/", body=b'{"kind":"Secret","data":{"secret":"eA==",'
                          b'"secret":"eQ=="}}'),
     "secret", [], "K8S_ERESPONSE", ["not valid JSON"]),
    ("json-array", lambda k: k.set_behavior("/secrets/", body=b"[1,2]"),
     "secret", [], "K8S_ERESPONSE", ["not a JSON object"]),
    ("not-a-secret", lambda k: k.set_behavior(
        "/secrets/", body={"kind": "ConfigMap", "data": {"secret": "eA=="}}),
     "secret", [], "K8S_ERESPONSE", ["is not a Secret but a ConfigMap"]),
    ("bad-base64", lambda k: k.set_behavior(
        "/secrets/", body={"kind": "Secret", "data": {"secret": "e!=="}}),
     "secret", [], "K8S_ERESPONSE", ["data.secret is not valid base64"]),
    ("value-not-string", lambda k: k.set_behavior(
        "/secrets/", body={"kind": "Secret", "data": {"secret": 5}}),
     "secret", [], "K8S_ERESPONSE", ["data.secret is not a string"]),
    ("huge-body", lambda k: k.set_behavior(
        "/secrets/", body=b" " * (2 * 1024 * 1024) + b"{}"),
     "secret", [], "K8S_ETOOBIG", ["larger than 1048576 bytes"]),
    ("huge-body-chunked", lambda k: k.set_behavior(
        "/secrets/", body=b" " * (2 * 1024 * 1024) + b"{}", chunked=True),
     "secret", [], "K8S_ETOOBIG", ["larger than 1048576 bytes"]),
    ("slow", lambda k: k.set_behavior("/secrets/", delay=3),
     "secret", ["--timeout", "400"], "K8S_ETRANSPORT",
     ["no answer within 400 ms"]),
    ("bad-name", lambda k: None, "secret", [], "EINVAL",
     ["not a valid namespace, name or key"]),
]


@pytest.mark.parametrize("case", SECRET_ERRORS, ids=[c[0] for c in
                                                     SECRET_ERRORS])
def test_secret_errors(kube, tmp_path, case):
    cid, setup, key, extra, code, texts = case
    cfg = kube.kubeconfig(tmp_path / "config")
    token = kube.token
    setup(kube)
    name = "../x" if cid == "bad-name" else SECRET
    err = fails(k8s_get("--kubeconfig", cfg, *extra, "secret", NS, name,
                        key), code, *texts)
    assert token not in err and kube.token not in err
    assert TSIG.decode() not in err


def test_huge_but_allowed_body(kube, tmp_path):
    """A value just under the cap is read in full."""
    big = os.urandom(700 * 1024)  # base64: ~933 KiB < 1 MiB
    kube.add_secret(NS, SECRET, {"secret": big})
    cfg = kube.kubeconfig(tmp_path / "config")
    assert ok(k8s_get("--kubeconfig", cfg, "secret", NS, SECRET,
                      "secret")) == big


# --- TLS verification ------------------------------------------------------
TLS_CASES = [
    # (kubeconfig arguments, expected: None = success, else stderr text)
    ({"ca_file": "other"}, "SSL certificate problem"),
    ({"ca_file": "other", "ca_data": True}, "SSL certificate problem"),
    ({"ca_file": "other", "insecure": True}, None),
    ({"server": "localhost"}, None),
]


@pytest.mark.parametrize("variant,expect", TLS_CASES,
                         ids=[repr(c[0]) for c in TLS_CASES])
def test_tls_verification(kube, kube_pki, tmp_path, variant, expect):
    kube.add_secret(NS, SECRET, {"secret": TSIG})
    args = dict(variant)
    if args.get("ca_file") == "other":
        args["ca_file"] = kube_pki.other_ca_file
    if args.get("server") == "localhost":
        args["server"] = "https://localhost:%d" % kube.port
    cfg = kube.kubeconfig(tmp_path / "config", **args)
    p = k8s_get("--kubeconfig", cfg, "secret", NS, SECRET, "secret")
    if expect is None:
        assert ok(p) == TSIG
    else:
        fails(p, "K8S_ETRANSPORT", expect)
        # Verification failed before any request was sent.
        assert kube.requests == []


# --- configuration errors --------------------------------------------------
def test_config_errors(kube, tmp_path):
    missing = tmp_path / "nope" / "config"
    fails(k8s_get("--kubeconfig", missing, "secret", NS, SECRET, "s"),
          "K8S_ECONFIG", "cannot read kubeconfig %s" % missing)
    bad = tmp_path / "bad.yaml"
    bad.write_text("clusters: [\n")
    fails(k8s_get("--kubeconfig", bad, "secret", NS, SECRET, "s"),
          "K8S_ECONFIG", "kubeconfig %s: malformed YAML" % bad)
    cfg = kube.kubeconfig(tmp_path / "kc" / "config", relative=True)
    os.unlink(tmp_path / "kc" / "kube-ca.crt")
    fails(k8s_get("--kubeconfig", cfg, "secret", NS, SECRET, "s"),
          "K8S_ECONFIG", "certificate-authority %s" %
          (tmp_path / "kc" / "kube-ca.crt"), "No such file")


# --- token rotation --------------------------------------------------------
def _session(*args, env=None):
    tool = os.path.join(TOOLS, "k8s_get")
    return subprocess.Popen([tool, *map(str, args), "-i"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _ask(proc, line):
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


def _rotation(kube, token_path, conn_args, env=None):
    kube.add_secret(NS, SECRET, {"secret": TSIG})
    want = "ok " + TSIG.hex()
    cmd = "secret %s %s secret" % (NS, SECRET)
    proc = _session(*conn_args, env=env)
    try:
        assert _ask(proc, cmd) == want
        kube.set_token("rotated-token-2")
        assert _ask(proc, cmd).startswith("err K8S_EUNAUTHORIZED ")
        # The kubelet swaps the file; the same client picks it up.
        tmp = str(token_path) + ".new"
        with open(tmp, "w") as f:
            f.write("rotated-token-2\n")
        os.replace(tmp, token_path)
        assert _ask(proc, cmd) == want
        assert kube.requests[-1].headers.get("Authorization") == \
            "Bearer rotated-token-2"
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    assert "rotated-token-2" not in err


def test_token_file_rotation(kube, tmp_path):
    cfg = kube.kubeconfig(tmp_path / "config", token_file=True)
    _rotation(kube, tmp_path / "kube-token", ["--kubeconfig", cfg])


def test_incluster_token_rotation(kube, tmp_path):
    sa = kube.serviceaccount_dir(tmp_path / "sa")
    _rotation(kube, tmp_path / "sa" / "token", [],
              env=kube.incluster_env(sa))


# --- in-cluster configuration ----------------------------------------------
def test_incluster(kube, tmp_path):
    kube.add_secret(NS, SECRET, {"secret": TSIG})
    sa = kube.serviceaccount_dir(tmp_path / "sa")
    env = kube.incluster_env(sa)
    assert ok(k8s_get("secret", NS, SECRET, "secret", env=env)) == TSIG
    assert kube.requests[-1].headers.get("Authorization") == \
        "Bearer " + kube.token


def test_incluster_ipv6(kube_pki, tmp_path):
    k6 = Kube(kube_pki, tmp_path, host="::1")
    try:
        k6.add_secret(NS, SECRET, {"secret": TSIG})
        env = k6.incluster_env(k6.serviceaccount_dir(tmp_path / "sa"))
        assert ok(k8s_get("secret", NS, SECRET, "secret", env=env)) == TSIG
    finally:
        k6.stop()


INCLUSTER_ERRORS = [
    # (id, env changes (None: unset), files to delete, stderr texts)
    ("no-host", {"KUBERNETES_SERVICE_HOST": None}, [],
     ["KUBERNETES_SERVICE_HOST is not set", "--kubeconfig"]),
    ("no-port", {"KUBERNETES_SERVICE_PORT": None}, [],
     ["KUBERNETES_SERVICE_PORT is not set"]),
    ("bad-port", {"KUBERNETES_SERVICE_PORT": "443x"}, [],
     ["KUBERNETES_SERVICE_PORT '443x' is not a port number"]),
    ("port-0", {"KUBERNETES_SERVICE_PORT": "0"}, [], ["is not a port"]),
    ("no-token", {}, ["token"], ["tokenFile", "/token: No such file"]),
    ("no-ca", {}, ["ca.crt"], ["certificate-authority", "/ca.crt"]),
]


@pytest.mark.parametrize("case", INCLUSTER_ERRORS,
                         ids=[c[0] for c in INCLUSTER_ERRORS])
def test_incluster_errors(kube, tmp_path, case):
    _, changes, delete, texts = case
    sa = kube.serviceaccount_dir(tmp_path / "sa")
    env = kube.incluster_env(sa)
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    for f in delete:
        os.unlink(os.path.join(sa, f))
    fails(k8s_get("secret", NS, SECRET, "secret", env=env), "K8S_ECONFIG",
          *texts)
    assert kube.requests == []


def test_incluster_empty_token(kube, tmp_path):
    sa = kube.serviceaccount_dir(tmp_path / "sa", token="\n")
    fails(k8s_get("secret", NS, SECRET, "secret",
                  env=kube.incluster_env(sa)),
          "K8S_ECONFIG", "is empty or not text")
    assert kube.requests == []


# --- configmaps ------------------------------------------------------------
EXT_AUTH = "extension-apiserver-authentication"
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

CONFIGMAP_CASES = [
    # (id, setup, name, key, code (None: ok), expected stdout or texts)
    ("found", None, EXT_AUTH, "requestheader-client-ca-file", None, PEM),
    ("json-array-string", None, EXT_AUTH, "requestheader-allowed-names",
     None, '["front-proxy-client"]'),
    ("missing-key", None, EXT_AUTH, "nope", "K8S_ENOKEY",
     ["ConfigMap kube-system/extension-apiserver-authentication has no key "
      "'nope' (keys: client-ca-file, requestheader-client-ca-file, "
      "requestheader-allowed-names)"]),
    ("not-found", None, "other", "x", "K8S_ENOTFOUND",
     ["ConfigMap kube-system/other not found"]),
    ("forbidden", lambda k: k.forbid("configmaps", "kube-system"), EXT_AUTH,
     "client-ca-file", "K8S_EFORBIDDEN",
     ["reading ConfigMap kube-system/extension-apiserver-authentication is "
      "forbidden: configmaps", "extension-apiserver-authentication-reader"]),
    ("garbage", lambda k: k.set_behavior("/configmaps/", body=b"\x00\xff"),
     EXT_AUTH, "client-ca-file", "K8S_ERESPONSE", ["not valid JSON"]),
]


@pytest.mark.parametrize("case", CONFIGMAP_CASES,
                         ids=[c[0] for c in CONFIGMAP_CASES])
def test_configmap(kube, tmp_path, case):
    _, setup, name, key, code, expect = case
    kube.add_configmap("kube-system", EXT_AUTH, {
        "client-ca-file": PEM, "requestheader-client-ca-file": PEM,
        "requestheader-allowed-names": '["front-proxy-client"]'})
    if setup:
        setup(kube)
    cfg = kube.kubeconfig(tmp_path / "config")
    p = k8s_get("--kubeconfig", cfg, "configmap", "kube-system", name, key)
    if code is None:
        assert ok(p).decode() == expect
    else:
        fails(p, code, *expect)


CA_KEY = "requestheader-client-ca-file"
NAMES_KEY = "requestheader-allowed-names"
CONFIGMAP_KEYS_CASES = [
    # (id, setup, name, keys, code (None: ok), {key: value or None} or texts)
    ("all-present", None, EXT_AUTH, [CA_KEY, NAMES_KEY], None,
     {CA_KEY: PEM, NAMES_KEY: '["front-proxy-client"]'}),
    ("some-absent", None, EXT_AUTH,
     ["nope", CA_KEY, "requestheader-group-headers"], None,
     {"nope": None, CA_KEY: PEM, "requestheader-group-headers": None}),
    ("one-key", None, EXT_AUTH, ["client-ca-file"], None,
     {"client-ca-file": PEM}),
    ("not-a-string", None, EXT_AUTH, [CA_KEY, "count"], "K8S_ERESPONSE",
     ["ConfigMap kube-system/extension-apiserver-authentication: "
      "data.count is not a string"]),
    ("not-found", None, "other", [CA_KEY], "K8S_ENOTFOUND",
     ["ConfigMap kube-system/other not found"]),
    ("forbidden", lambda k: k.forbid("configmaps", "kube-system"), EXT_AUTH,
     [CA_KEY, NAMES_KEY], "K8S_EFORBIDDEN",
     ["reading ConfigMap kube-system/extension-apiserver-authentication is "
      "forbidden: configmaps", "extension-apiserver-authentication-reader"]),
    ("garbage", lambda k: k.set_behavior("/configmaps/", body=b"\x00\xff"),
     EXT_AUTH, [CA_KEY], "K8S_ERESPONSE", ["not valid JSON"]),
    ("empty-key", None, EXT_AUTH, [CA_KEY, ""], "EINVAL",
     ["not a valid namespace, name or key"]),
]


@pytest.mark.parametrize("case", CONFIGMAP_KEYS_CASES,
                         ids=[c[0] for c in CONFIGMAP_KEYS_CASES])
def test_configmap_keys(kube, tmp_path, case):
    """Several keys of one ConfigMap in a single GET."""
    _, setup, name, keys, code, expect = case
    kube.add_configmap("kube-system", EXT_AUTH, {
        "client-ca-file": PEM, CA_KEY: PEM,
        NAMES_KEY: '["front-proxy-client"]', "count": 3})
    if setup:
        setup(kube)
    cfg = kube.kubeconfig(tmp_path / "config")
    p = k8s_get("--kubeconfig", cfg, "configmap-keys", "kube-system", name,
                *keys)
    gets = kube.count("GET", r"/configmaps/")
    if code is None:
        got = {}
        for line in ok(p).decode().splitlines():
            k, v = line.split(" ")
            got[k] = None if v == "-" else bytes.fromhex(v).decode()
        assert got == expect
        assert list(got) == keys
        assert gets == 1
    else:
        fails(p, code, *expect)
        assert gets == (0 if code == "EINVAL" else 1)


# --- SubjectAccessReview ---------------------------------------------------
def test_review_request_shape(kube, tmp_path):
    """The body matches contract/subjectaccessreview-request.json."""
    cfg = kube.kubeconfig(tmp_path / "config")
    out = ok(k8s_get("--kubeconfig", cfg, "review",
                     "system:serviceaccount:cert-manager:cert-manager",
                     "system:serviceaccounts",
                     "system:serviceaccounts:cert-manager",
                     "system:authenticated", "--resource", SAR_RESOURCE,
                     "--uid", "0b6e6a52",
                     "--extra",
                     "authentication.kubernetes.io/pod-name=cm-6d5c9f7b8",
                     "--extra", "scopes=a", "--extra", "scopes=b"))
    assert out == b"allowed allowed by the stand-in\n"
    req = kube.requests[-1]
    assert req.method == "POST"
    assert req.path == "/apis/authorization.k8s.io/v1/subjectaccessreviews"
    assert req.headers.get("Content-Type") == "application/json"
    assert req.json == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "resourceAttributes": {"verb": "create",
                                   "group": "acme.example.org",
                                   "version": "v1alpha1",
                                   "resource": "rfc2136"},
            "user": "system:serviceaccount:cert-manager:cert-manager",
            "uid": "0b6e6a52",
            "groups": ["system:serviceaccounts",
                       "system:serviceaccounts:cert-manager",
                       "system:authenticated"],
            "extra": {"authentication.kubernetes.io/pod-name":
                      ["cm-6d5c9f7b8"], "scopes": ["a", "b"]}}}


def test_review_nonresource_shape(kube, tmp_path):
    cfg = kube.kubeconfig(tmp_path / "config")
    ok(k8s_get("--kubeconfig", cfg, "review", "system:kube-aggregator",
               "--path", "get,/apis/acme.example.org/v1alpha1"))
    assert kube.requests[-1].json["spec"] == {
        "nonResourceAttributes": {"verb": "get",
                                  "path": "/apis/acme.example.org/v1alpha1"},
        "user": "system:kube-aggregator", "groups": []}


def _policy_by_user(spec):
    if spec["user"] == "alice":
        return (True, 'RBAC: allowed by ClusterRoleBinding "solver"')
    return (False, "no RBAC policy matched")


REVIEW_CASES = [
    # (id, user, setup, code (None: verdict), expected stdout or texts)
    ("allowed", "alice", None, None,
     b'allowed RBAC: allowed by ClusterRoleBinding "solver"\n'),
    ("denied", "mallory", None, None, b"denied no RBAC policy matched\n"),
    ("denied-firmly", "alice", lambda k: setattr(
        k, "sar_policy", lambda s: {"allowed": True, "denied": True,
                                    "reason": "explicit deny"}),
     None, b"denied explicit deny\n"),
    ("evaluation-error", "alice", lambda k: setattr(
        k, "sar_policy", lambda s: {"allowed": False,
                                    "evaluationError": "webhook down"}),
     None, b"denied webhook down\n"),
    ("no-allowed", "alice", lambda k: setattr(
        k, "sar_policy", lambda s: {"reason": "?"}), "K8S_ERESPONSE",
     ["no boolean status.allowed"]),
    ("allowed-not-bool", "alice", lambda k: setattr(
        k, "sar_policy", lambda s: {"allowed": "true"}), "K8S_ERESPONSE",
     ["no boolean status.allowed"]),
    ("http-500", "alice", lambda k: k.set_behavior("subjectaccessreviews",
                                                    status=500),
     "K8S_EHTTP", ["creating a SubjectAccessReview: HTTP 500"]),
    ("forbidden", "alice", lambda k: k.forbid("subjectaccessreviews",
                                              verb="create"),
     "K8S_EFORBIDDEN", ["system:auth-delegator"]),
    ("garbage", "alice", lambda k: k.set_behavior(
        "subjectaccessreviews", status=201, body=b"<html>oops</html>"),
     "K8S_ERESPONSE", ["SubjectAccessReview: the API's answer is not valid "
                       "JSON"]),
    ("wrong-kind", "alice", lambda k: k.set_behavior(
        "subjectaccessreviews", status=201,
        body={"kind": "Status", "status": {"allowed": True}}),
     "K8S_ERESPONSE", ["not a SubjectAccessReview"]),
    ("timeout", "alice", lambda k: k.set_behavior("subjectaccessreviews",
                                                   delay=3),
     "K8S_ETRANSPORT", ["no answer within 400 ms"]),
    ("unauthorized", "alice", lambda k: k.set_token("other"),
     "K8S_EUNAUTHORIZED", ["401"]),
]


@pytest.mark.parametrize("case", REVIEW_CASES,
                         ids=[c[0] for c in REVIEW_CASES])
def test_review(kube, tmp_path, case):
    _, user, setup, code, expect = case
    kube.sar_policy = _policy_by_user
    cfg = kube.kubeconfig(tmp_path / "config")
    if setup:
        setup(kube)
    p = k8s_get("--kubeconfig", cfg, "--timeout", "400", "review", user,
                "system:authenticated", "--resource", SAR_RESOURCE)
    if code is None:
        assert ok(p) == expect
    else:
        fails(p, code, *expect)
        assert p.stdout == b""  # never a verdict on failure


# --- concurrency -----------------------------------------------------------
def test_parallel_calls(kc, kube):
    """16 threads share one client (ASan/TSan builds check the rest)."""
    assert ok(k8s_get("--kubeconfig", kc, "--parallel", "16", "secret", NS,
                      SECRET, "binary")) == BINARY
    assert kube.count("GET", "/secrets/") == 1 + 16 * 10


def test_connection_reuse(kc, kube):
    """Calls of one client share a kept-alive connection (no TLS handshake
    per call)."""
    proc = _session("--kubeconfig", kc)
    try:
        for _ in range(5):
            assert _ask(proc, "secret %s %s binary" % (NS, SECRET)) == \
                "ok " + BINARY.hex()
        assert _ask(proc, "review alice --path get,/healthz") == \
            "ok allowed allowed by the stand-in"
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()
        proc.stderr.close()
    assert kube.count() == 6
    assert kube.connections == 1


# --- the secrets directory -------------------------------------------------
def _volume(root, ns, name, files):
    """A Secret volume as the kubelet mounts it: ..data -> timestamped dir,
    each key a symlink through ..data."""
    d = os.path.join(root, ns, name)
    ts = os.path.join(d, "..2024_01_01_00_00_00.1")
    os.makedirs(ts)
    for k, v in files.items():
        with open(os.path.join(ts, k), "wb") as f:
            f.write(v)
    os.symlink(os.path.basename(ts), os.path.join(d, "..data"))
    for k in files:
        os.symlink(os.path.join("..data", k), os.path.join(d, k))


DIR_CASES = [
    # (id, ns, name, key, code (None: ok), expected bytes or texts)
    ("found", NS, SECRET, "secret", None, TSIG),
    ("binary", NS, SECRET, "binary", None, BINARY),
    ("empty-value", NS, SECRET, "empty", None, b""),
    ("exactly-1MiB", NS, SECRET, "max", None, b"m" * (1024 * 1024)),
    ("too-big", NS, SECRET, "big", "K8S_ETOOBIG",
     ["Secret cert-manager/tsig-secret key 'big'",
      "larger than 1048576 bytes"]),
    ("missing-secret", NS, "nope", "secret", "K8S_ENOTFOUND",
     ["Secret cert-manager/nope not found"]),
    ("missing-ns", "other", SECRET, "secret", "K8S_ENOTFOUND",
     ["Secret other/tsig-secret not found"]),
    ("missing-key", NS, SECRET, "tsig.key", "K8S_ENOKEY",
     ["Secret cert-manager/tsig-secret has no key 'tsig.key' (keys: big, "
      "binary, empty, max, secret)"]),
    ("key-is-dir", NS, SECRET, "sub", "K8S_ENOKEY", ["has no key 'sub'"]),
    ("dotdot-ns", "..", SECRET, "secret", "EINVAL", ["must not"]),
    ("slash-name", NS, "a/b", "secret", "EINVAL", ["must not"]),
    ("dot-key", NS, SECRET, "..data", "EINVAL", ["must not"]),
    ("empty-key", NS, SECRET, "", "EINVAL", ["must not"]),
]


@pytest.mark.parametrize("case", DIR_CASES, ids=[c[0] for c in DIR_CASES])
def test_secrets_dir(tmp_path, case):
    _, ns, name, key, code, expect = case
    root = tmp_path / "secrets"
    _volume(str(root), NS, SECRET, {
        "secret": TSIG, "binary": BINARY, "empty": b"",
        "max": b"m" * (1024 * 1024), "big": b"b" * (1024 * 1024 + 1)})
    os.makedirs(root / NS / SECRET / "..data" / "sub")
    os.symlink("..data/sub", root / NS / SECRET / "sub")
    p = k8s_get("--secrets-dir", root, "secret", ns, name, key)
    if code is None:
        assert ok(p) == expect
    else:
        fails(p, code, *expect)


def test_secrets_dir_plain_files_and_limits(tmp_path):
    root = tmp_path / "s"
    os.makedirs(root / NS / SECRET)
    (root / NS / SECRET / "secret").write_bytes(TSIG)
    assert ok(k8s_get("--secrets-dir", root, "secret", NS, SECRET,
                      "secret")) == TSIG
    fails(k8s_get("--secrets-dir", root, "configmap", "kube-system",
                  EXT_AUTH, "x"), "K8S_ECONFIG", "needs a Kubernetes API")
    fails(k8s_get("--secrets-dir", root, "review", "u", "--path", "get,/"),
          "K8S_ECONFIG", "needs a Kubernetes API")
    fails(k8s_get("--secrets-dir", tmp_path / "absent", "secret", NS,
                  SECRET, "secret"), "K8S_ECONFIG",
          "secrets directory %s: No such file" % (tmp_path / "absent"))
