"""Fault injection through the webhook: every failure of a DNS server, of
the Kubernetes API and of the webhook's own files gets an answer within
the call's deadline that names the cause, and the webhook keeps serving.

DNS faults use stand-ins from fakedns.py in front of, or beside, a real
BIND (fast, so per-attempt timeouts of 1 s are safe): connection refused
(UDP: ICMP port unreachable; TCP: reset), a black hole, a server that
answers after the timeout, SERVFAIL/REFUSED/NOTAUTH/FORMERR, answers with
a wrong ID, forged answers without TSIG or with a TSIG that cannot verify,
and TC=1 with TCP refused.  Each is followed by a failover to the real
server in the same call, or a healthy call, to show the webhook goes on.

Kubernetes API faults use the stand-in of kube.py: down, slow (past the
client's 10 s timeout), 403/404/500, garbage JSON and a body over the 1 MiB
cap, on the Secret read and on the SubjectAccessReview.

Files: the serving certificate and key deleted or corrupted while the
server runs (the old pair stays in use), and the request-header CA rotated
through the extension-apiserver-authentication ConfigMap.  The
--requestheader-client-ca-file file is read at start only, so rotating it
means a restart; not tested here.
"""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import time

import pytest

from dnsservers import ZONE, free_port, unique_fqdn
from fakedns import fake_answer, fake_signed_answer, msg_opcode, with_id
from webhook import challenge, start_webhook

NS = "cert-manager"
SECRET_NAME = "tsig-secret"
SECRET_KEY = "secret"
DISCOVERY = "/apis/acme.example.org/v1alpha1"
EXT_AUTH = "extension-apiserver-authentication"

# The stand-in Kubernetes API answers the Secret path; the client's own
# timeout (k8s/client.c) is 10 s.
SECRET_PATH = r"^/api/v1/namespaces/%s/secrets/" % NS
SAR_PATH = r"/subjectaccessreviews$"
K8S_TIMEOUT = 10


# ---------------------------------------------------------------- helpers

def config(srv, nameservers=None, key_name="acme256", **extra):
    """The Issuer's webhook.config for @srv's key, sent to @nameservers
    (addresses, default @srv alone)."""
    key = srv.keys[key_name]
    cfg = {"tsigKeyName": key.name, "tsigAlgorithm": key.algorithm,
           "tsigSecretSecretRef": {"name": SECRET_NAME, "key": SECRET_KEY}}
    servers = nameservers or [srv.addr]
    if len(servers) == 1:
        cfg["nameserver"] = servers[0]
    else:
        cfg["nameservers"] = list(servers)
    cfg.update(extra)
    return cfg


def start_dir(tmp_path, pki, srv, args=()):
    """The webhook with @srv's acme256 secret in a --secrets-dir."""
    d = tmp_path / "secrets" / NS / SECRET_NAME
    d.mkdir(parents=True, exist_ok=True)
    (d / SECRET_KEY).write_text(srv.keys["acme256"].secret + "\n")
    return start_webhook(tmp_path, pki, args=[
        "--secrets-dir", str(tmp_path / "secrets")] + list(args))


def start_kube(tmp_path, pki, kube, args=(), omit=()):
    """The webhook reading Secrets (and reviews) from the stand-in API."""
    return start_webhook(tmp_path, pki, args=[
        "--kubeconfig", kube.kubeconfig(tmp_path / "kubeconfig")] +
        list(args), omit=omit)


def solve(wh, action, fqdn, value, cfg, timeout=40):
    """One solver call; returns the response object after checking the
    answer's shape (a failure always has a message)."""
    body = challenge(action, fqdn, ZONE, value, config=cfg, ns=NS,
                     uid="uid-%s-%s" % (action, value))
    status, _, raw = wh.request("POST", wh.solver_path, body=body,
                                timeout=timeout)
    assert status in (200, 201), (status, raw, wh.log()[-3000:])
    resp = json.loads(raw)["response"]
    assert resp["uid"] == body["request"]["uid"]
    if not resp["success"]:
        assert resp["status"]["status"] == "Failure"
        assert resp["status"]["message"], raw
    return resp


def ok(wh, action, fqdn, value, cfg):
    resp = solve(wh, action, fqdn, value, cfg)
    assert resp["success"], (resp, wh.log()[-3000:])


def failure(wh, action, fqdn, value, cfg):
    resp = solve(wh, action, fqdn, value, cfg)
    assert not resp["success"], resp
    return resp["status"]["message"]


def healthy(wh, srv, cfg=None):
    """A Present and CleanUp that work: the webhook still serves."""
    fqdn, value = unique_fqdn("healthy"), "value-healthy"
    ok(wh, "Present", fqdn, value, cfg or config(srv))
    assert srv.txt(fqdn) == [value]
    ok(wh, "CleanUp", fqdn, value, cfg or config(srv))
    assert srv.txt(fqdn) == []


def closed_port():
    """A loopback port nothing listens on (UDP nor TCP)."""
    return free_port()


def no_answer(msg, addr, wh):
    """The timeout diagnosis for @addr: the tenant reads that it did not
    answer DNS (no refused/reset/silent oracle, issue 15); the webhook's
    log keeps the cause with the measured wait."""
    assert "%s did not answer DNS" % addr in msg, msg
    assert re.search(r"no answer from %s within \d+ ms" % re.escape(addr),
                     wh.log()), wh.log()[-3000:]


def contains_all(msg, *parts):
    for p in parts:
        assert p in msg, "%r not in %r" % (p, msg)


# ---------------------------------------------------------- DNS: refused

@pytest.mark.parametrize("proto", ["UDP", "TCP"])
def test_dns_connection_refused(tmp_path, pki, bind, proto):
    """Nothing listens: UDP gets ICMP port unreachable, TCP a reset.  The
    call fails at once with that cause; with the real server next, it
    fails over."""
    wh = start_dir(tmp_path, pki, bind)
    down = "127.0.0.1:%d" % closed_port()
    fqdn, value = unique_fqdn("refused"), "value-refused-" + proto
    msg = failure(wh, "Present", fqdn, value,
                  config(bind, [down], protocol=proto, timeout="20s"))
    contains_all(msg, "update of %s in zone %s at %s failed" %
                 (fqdn, ZONE, down), "did not answer DNS")
    # The cause is the operator's (the log), not the tenant's.
    assert "refused the connection" not in msg
    assert "refused the connection" in wh.log()
    assert bind.txt(fqdn) == []
    cfg = config(bind, [down, bind.addr], protocol=proto)
    ok(wh, "Present", fqdn, value, cfg)
    assert bind.txt(fqdn) == [value]
    ok(wh, "CleanUp", fqdn, value, cfg)
    assert bind.txt(fqdn) == []
    wh.stop()


# ------------------------------------------------- DNS: silent and slow

def test_dns_black_hole_times_out_then_fails_over(tmp_path, pki, bind,
                                                  blackhole_dns):
    """A server that never answers: the attempt times out after the
    configured timeout and the next nameserver is used."""
    wh = start_dir(tmp_path, pki, bind)
    hole = blackhole_dns.addr
    fqdn, value = unique_fqdn("hole"), "value-hole"
    msg = failure(wh, "Present", fqdn, value,
                  config(bind, [hole], timeout="1s"))
    no_answer(msg, hole, wh)
    assert blackhole_dns.udp_queries
    cfg = config(bind, [hole, bind.addr], timeout="1s")
    ok(wh, "Present", fqdn, value, cfg)
    assert bind.txt(fqdn) == [value]
    ok(wh, "CleanUp", fqdn, value, cfg)
    assert bind.txt(fqdn) == []
    # Over TCP the connection is never accepted: the same timeout.
    msg = failure(wh, "Present", fqdn, value,
                  config(bind, [hole], timeout="1s", protocol="TCP"))
    no_answer(msg, hole, wh)
    wh.stop()


def test_dns_slow_answer_after_timeout(tmp_path, pki, bind, slow_dns):
    """A server whose (genuine, signed) answer comes 2.5 s late, after a
    1 s timeout: the change is not confirmed, the call fails naming the
    timeout, and a late answer does not turn into a success."""
    slow = slow_dns(2.5, upstream=bind)
    wh = start_dir(tmp_path, pki, bind)
    fqdn, value = unique_fqdn("slow"), "value-slow"
    msg = failure(wh, "Present", fqdn, value,
                  config(bind, [slow.addr], timeout="1s"))
    no_answer(msg, slow.addr, wh)
    # The late answers arrive while the next calls run; they change
    # nothing for them.
    cfg = config(bind, [slow.addr, bind.addr], timeout="1s")
    ok(wh, "Present", fqdn, value, cfg)
    assert bind.txt(fqdn) == [value]
    ok(wh, "CleanUp", fqdn, value, cfg)
    assert bind.txt(fqdn) == []
    time.sleep(3)  # let the last late answer arrive on a closed socket
    healthy(wh, bind)
    wh.stop()


# --------------------------------------------------- DNS: error RCODEs

RCODES = [(2, "SERVFAIL"), (5, "REFUSED"), (9, "NOTAUTH"), (1, "FORMERR")]


@pytest.mark.parametrize("rcode,name", RCODES, ids=[r[1] for r in RCODES])
def test_dns_error_rcode(tmp_path, pki, bind, rcode_dns, rcode, name):
    """An unsigned error answer is the diagnosis when it is the only
    server, and the next nameserver is tried otherwise."""
    fake = rcode_dns(rcode)
    wh = start_dir(tmp_path, pki, bind)
    fqdn, value = unique_fqdn(name.lower()), "value-" + name
    msg = failure(wh, "Present", fqdn, value, config(bind, [fake.addr]))
    contains_all(msg, "update of %s in zone %s at %s failed: %s" %
                 (fqdn, ZONE, fake.addr, name), "answer unsigned")
    # CleanUp reports the same way (it must not pretend success).
    msg = failure(wh, "CleanUp", fqdn, value, config(bind, [fake.addr]))
    contains_all(msg, name)
    cfg = config(bind, [fake.addr, bind.addr])
    ok(wh, "Present", fqdn, value, cfg)
    assert bind.txt(fqdn) == [value]
    ok(wh, "CleanUp", fqdn, value, cfg)
    assert bind.txt(fqdn) == []
    wh.stop()


# ------------------------------------------- DNS: spoofed and forged answers

def test_dns_wrong_id_is_ignored(tmp_path, pki, bind, proxy_dns):
    """An answer with another ID does not belong to the request: it is
    ignored.  Alone, the attempt ends without an answer; sent before the
    genuine answer, the genuine one is taken."""
    def wrong_only(msg, tcp, n):
        if msg_opcode(msg) != 5:
            return None
        qid = (int.from_bytes(msg[:2], "big") + 1) & 0xFFFF
        return with_id(fake_answer(msg), qid)

    def wrong_first(msg, tcp, n):
        if msg_opcode(msg) != 5:
            return None
        qid = (int.from_bytes(msg[:2], "big") ^ 0x5555) & 0xFFFF
        return [with_id(fake_answer(msg), qid), "forward"]

    wh = start_dir(tmp_path, pki, bind)
    spoof = proxy_dns(bind, wrong_only)
    fqdn, value = unique_fqdn("wrongid"), "value-wrongid"
    msg = failure(wh, "Present", fqdn, value,
                  config(bind, [spoof.addr], timeout="1s"))
    contains_all(msg, spoof.addr)
    assert "no answer" in msg or "do not belong" in msg, msg
    assert bind.txt(fqdn) == []

    race = proxy_dns(bind, wrong_first)
    ok(wh, "Present", fqdn, value, config(bind, [race.addr], timeout="2s"))
    assert bind.txt(fqdn) == [value]
    ok(wh, "CleanUp", fqdn, value, config(bind, [race.addr], timeout="2s"))
    assert bind.txt(fqdn) == []
    wh.stop()


FORGERIES = [
    # (id, rule building the forged answer, words of the diagnosis)
    ("unsigned-noerror", lambda msg: fake_answer(msg, 0),
     ["unsigned NOERROR", "cannot be trusted"]),
    ("bad-mac", lambda msg: fake_signed_answer(msg, "acme256."),
     ["signature does not verify", "cannot be trusted"]),
    ("other-algorithm", lambda msg: fake_signed_answer(
        msg, "acme256.", algorithm="hmac-sha512", mac=os.urandom(64)),
     ["cannot be trusted"]),
]


@pytest.mark.parametrize("make", FORGERIES, ids=[f[0] for f in FORGERIES])
def test_dns_forged_answer_is_not_success(tmp_path, pki, bind, proxy_dns,
                                          make):
    """A NOERROR that is not signed by the server's key, in place of the
    real answer (the update never reaches the server): never a success,
    for Present nor CleanUp."""
    _, forge, words = make

    def rule(msg, tcp, n):
        return forge(msg) if msg_opcode(msg) == 5 else None

    fake = proxy_dns(bind, rule)
    wh = start_dir(tmp_path, pki, bind)
    fqdn, value = unique_fqdn("forged"), "value-forged"
    for action in ("Present", "CleanUp"):
        msg = failure(wh, action, fqdn, value, config(bind, [fake.addr]))
        contains_all(msg, fake.addr, *words)
    assert fake.udp_queries
    assert bind.txt(fqdn) == []
    # With the real server next, the forged answer only costs a failover.
    cfg = config(bind, [fake.addr, bind.addr])
    ok(wh, "Present", fqdn, value, cfg)
    assert bind.txt(fqdn) == [value]
    ok(wh, "CleanUp", fqdn, value, cfg)
    assert bind.txt(fqdn) == []
    wh.stop()


def test_dns_truncated_without_tcp(tmp_path, pki, bind, truncating_dns):
    """TC=1 over UDP and nothing on TCP: the retry over TCP is refused,
    and the message says so; the next nameserver is used."""
    fake = truncating_dns(tcp=False)
    wh = start_dir(tmp_path, pki, bind)
    fqdn, value = unique_fqdn("tc"), "value-tc"
    msg = failure(wh, "Present", fqdn, value, config(bind, [fake.addr]))
    contains_all(msg, fake.addr, "did not answer DNS")
    contains_all(wh.log(), fake.addr, "refused the connection", "TCP")
    assert fake.udp_queries
    cfg = config(bind, [fake.addr, bind.addr])
    ok(wh, "Present", fqdn, value, cfg)
    assert bind.txt(fqdn) == [value]
    ok(wh, "CleanUp", fqdn, value, cfg)
    assert bind.txt(fqdn) == []
    wh.stop()


# ------------------------------------------------- Kubernetes API faults

def add_secret(kube, srv):
    kube.add_secret(NS, SECRET_NAME,
                    {SECRET_KEY: srv.keys["acme256"].secret.encode()})


def test_kube_api_down(tmp_path, pki, kube, bind):
    """The API server is not there: the Secret read fails with the
    connection error, and with reviews on, the call is a 500 (as
    kube-apiserver answers an authorizer error) that says the review
    failed; health stays up."""
    down = "https://127.0.0.1:%d" % closed_port()
    kc = kube.kubeconfig(tmp_path / "kubeconfig", server=down)
    wh = start_webhook(tmp_path, pki, args=[
        "--kubeconfig", kc, "--authorization-mode", "AllowAuthenticated"])
    fqdn = unique_fqdn("apidown")
    msg = failure(wh, "Present", fqdn, "v", config(bind))
    contains_all(msg, "Secret %s/%s" % (NS, SECRET_NAME))
    assert "127.0.0.1" in msg and ("connect" in msg.lower() or
                                   "refused" in msg.lower()), msg
    wh.stop()

    wh = start_webhook(tmp_path, pki, args=[
        "--kubeconfig", kc, "--authorization-mode", "SubjectAccessReview"])
    status, _, raw = wh.request("POST", wh.solver_path,
                                body=challenge("Present", fqdn, ZONE, "v",
                                               config=config(bind)))
    assert status == 500, raw
    body = json.loads(raw)
    assert body["kind"] == "Status" and body["code"] == 500
    assert body["reason"] == "InternalError"
    assert "authorization review failed" in body["message"], body
    assert wh.request("GET", "/healthz", cert=None, user=None)[0] == 200
    wh.stop()


K8S_STATUS = [
    # (status, words in the message)
    (403, ["forbidden"]),
    (404, ["not found"]),
    (500, ["500"]),
]


@pytest.mark.parametrize("code,words", K8S_STATUS,
                         ids=[str(c[0]) for c in K8S_STATUS])
def test_kube_secret_error_status(tmp_path, pki, kube, bind, code, words):
    """The API answers the Secret read with an error Status: the message
    names the Secret and the error; once the API is well again, the same
    call works."""
    add_secret(kube, bind)
    kube.set_behavior(SECRET_PATH, status=code)
    wh = start_kube(tmp_path, pki, kube,
                    args=["--authorization-mode", "AllowAuthenticated"])
    fqdn = unique_fqdn("status%d" % code)
    msg = failure(wh, "Present", fqdn, "v", config(bind))
    contains_all(msg, "Secret %s/%s" % (NS, SECRET_NAME))
    for w in words:
        assert w in msg.lower(), msg
    kube.clear_behaviors()
    healthy(wh, bind)
    wh.stop()


BAD_BODIES = [
    # (id, behaviour kwargs, words in the message)
    ("garbage-json", dict(body=b"{\"kind\": \"Secret\", \"data\": {\x00"),
     ["not valid JSON"]),
    ("not-a-secret", dict(body={"kind": "Status", "items": []}),
     ["Secret %s/%s" % (NS, SECRET_NAME)]),
    ("huge", dict(body=b"{\"pad\": \"" + b"x" * (2 << 20) + b"\"}"),
     ["larger than 1048576 bytes"]),
    ("huge-chunked", dict(body=b"{\"pad\": \"" + b"x" * (2 << 20) + b"\"}",
                          chunked=True),
     ["larger than 1048576 bytes"]),
]


@pytest.mark.parametrize("case", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_kube_secret_bad_body(tmp_path, pki, kube, bind, case):
    """A 200 whose body is not JSON, not a Secret, or bigger than the
    1 MiB cap (with or without Content-Length): a clear failure, then
    the webhook goes on."""
    _, behavior, words = case
    add_secret(kube, bind)
    kube.set_behavior(SECRET_PATH, **behavior)
    wh = start_kube(tmp_path, pki, kube,
                    args=["--authorization-mode", "AllowAuthenticated"])
    msg = failure(wh, "Present", unique_fqdn("body"), "v", config(bind))
    contains_all(msg, "Secret %s/%s" % (NS, SECRET_NAME))
    for w in words:
        assert w.lower() in msg.lower(), msg
    kube.clear_behaviors()
    healthy(wh, bind)
    wh.stop()


def test_kube_secret_slow(tmp_path, pki, kube, bind):
    """An API that takes longer than the client's timeout: the call
    answers (well within cert-manager's 30 s) naming the timeout, and a
    call for a --secrets-dir webhook is unaffected meanwhile."""
    add_secret(kube, bind)
    kube.set_behavior(SECRET_PATH, delay=K8S_TIMEOUT + 5, times=1)
    wh = start_kube(tmp_path, pki, kube,
                    args=["--authorization-mode", "AllowAuthenticated"])
    msg = failure(wh, "Present", unique_fqdn("slowapi"), "v", config(bind))
    contains_all(msg, "Secret %s/%s" % (NS, SECRET_NAME))
    contains_all(msg, "no answer within %d ms" % (K8S_TIMEOUT * 1000))
    healthy(wh, bind)
    wh.stop()


SAR_FAULTS = [
    # (id, behaviour kwargs)
    ("500", dict(status=500)),
    ("403", dict(status=403)),
    ("404", dict(status=404)),
    ("garbage-json", dict(body=b"<html>oops</html>")),
    ("no-verdict", dict(body={"kind": "SubjectAccessReview",
                              "status": {}})),
    ("huge", dict(body=b"{\"pad\": \"" + b"x" * (2 << 20) + b"\"}")),
    ("slow", dict(delay=K8S_TIMEOUT + 5)),
]


@pytest.mark.parametrize("case", SAR_FAULTS, ids=[s[0] for s in SAR_FAULTS])
def test_kube_review_fault_refuses(tmp_path, pki, kube, bind, case):
    """The SubjectAccessReview fails: no verdict is never an allow (500
    InternalError naming the failure, as kube-apiserver answers it), not
    cached; once the API is well, the same caller is allowed."""
    _, behavior = case
    add_secret(kube, bind)
    kube.set_behavior(SAR_PATH, method="POST", **behavior)
    wh = start_kube(tmp_path, pki, kube,
                    args=["--authorization-mode", "SubjectAccessReview"])
    fqdn = unique_fqdn("sar")
    status, _, raw = wh.request("POST", wh.solver_path,
                                body=challenge("Present", fqdn, ZONE, "v",
                                               config=config(bind)))
    assert status == 500, raw
    body = json.loads(raw)
    assert body["kind"] == "Status" and body["code"] == 500
    assert body["reason"] == "InternalError"
    assert "authorization review failed" in body["message"], body
    assert bind.txt(fqdn) == []
    kube.clear_behaviors()
    healthy(wh, bind)
    wh.stop()


# ---------------------------------------------- the webhook's own files

def _served_der(wh):
    """The DER certificate the webhook presents now."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", wh.port), timeout=10) as s:
        with ctx.wrap_socket(s) as t:
            return t.getpeercert(binary_form=True)


def _der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


DAMAGE = [
    ("deleted", lambda cert, key: (os.unlink(cert), os.unlink(key))),
    ("emptied", lambda cert, key: (open(cert, "w").close(),
                                   open(key, "w").close())),
    ("garbage", lambda cert, key: (open(cert, "w").write("garbage\n"),
                                   open(key, "wb").write(os.urandom(300)))),
    ("truncated", lambda cert, key: open(cert, "r+").truncate(100)),
]


@pytest.mark.parametrize("damage", DAMAGE, ids=[d[0] for d in DAMAGE])
def test_certificate_files_damaged_at_runtime(tmp_path, pki, bind, damage):
    """The serving certificate files are deleted or corrupted while the
    server runs: it logs that it did not reload, keeps serving with the
    old pair (also after SIGHUP), and solver calls go on."""
    _, hurt = damage
    cert, key = str(tmp_path / "tls.crt"), str(tmp_path / "tls.key")
    shutil.copy(pki.serving_cert, cert)
    shutil.copy(pki.serving_key, key)
    wh = start_dir(tmp_path, pki, bind, args=[
        "--tls-cert-file", cert, "--tls-private-key-file", key])
    old = _served_der(wh)
    assert old == _der(pki.serving_cert)
    hurt(cert, key)
    wh.wait_log(lambda t: "serving certificate not reloaded" in t)
    assert _served_der(wh) == old
    healthy(wh, bind)
    n = wh.log().count("serving certificate not reloaded")
    wh.proc.send_signal(signal.SIGHUP)
    wh.wait_log(lambda t: t.count("serving certificate not reloaded") > n)
    assert wh.proc.poll() is None
    assert _served_der(wh) == old
    assert wh.request("GET", DISCOVERY)[0] == 200
    # Mended: a new pair is taken.
    new_cert, new_key = pki.issue("rfc2136-webhook-mended", ca="serving",
                                  eku="serverAuth")
    shutil.copy(new_key, key)
    shutil.copy(new_cert, cert)
    deadline = time.monotonic() + 15
    while _served_der(wh) != _der(new_cert):
        assert time.monotonic() < deadline, wh.log()[-3000:]
        time.sleep(0.1)
    healthy(wh, bind)
    wh.stop()


def _wait_status(wh, want, cert, timeout=20):
    """Poll the discovery path with @cert until it answers @want."""
    deadline = time.monotonic() + timeout
    while True:
        status = wh.request("GET", DISCOVERY, cert=cert)[0]
        if status == want:
            return
        assert time.monotonic() < deadline, (status, wh.log()[-3000:])
        time.sleep(0.2)


def _ext_auth(ca_file):
    with open(ca_file) as f:
        pem = f.read()
    return {"requestheader-client-ca-file": pem,
            "requestheader-allowed-names": '["front-proxy-client"]',
            "requestheader-username-headers": '["X-Remote-User"]',
            "requestheader-group-headers": '["X-Remote-Group"]',
            "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]'}


def test_requestheader_ca_rotated(tmp_path, pki, kube, bind):
    """kube-apiserver rotates its front-proxy CA in the
    extension-apiserver-authentication ConfigMap: the webhook picks the new
    CA up at its next read, a client certificate of the old CA is then
    refused (401), one of the new CA accepted; a failing read in between
    keeps the CA in use."""
    kube.add_configmap("kube-system", EXT_AUTH, _ext_auth(pki.front_proxy_ca))
    add_secret(kube, bind)
    wh = start_kube(tmp_path, pki, kube, args=[
        "--authorization-mode", "AllowAuthenticated",
        "--requestheader-reload-interval", "1s"],
        omit=("--requestheader-client-ca-file",))
    old = (pki.client_cert, pki.client_key)
    new = pki.issue("front-proxy-client", ca="other", eku="clientAuth")
    _wait_status(wh, 200, old)
    assert wh.request("GET", DISCOVERY, cert=new)[0] == 401

    # The API fails for a while: the CA in use stays.
    reads = kube.count("GET", "/configmaps/" + EXT_AUTH)
    kube.set_behavior("/configmaps/", status=500)
    deadline = time.monotonic() + 15
    while kube.count("GET", "/configmaps/" + EXT_AUTH) < reads + 2:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert wh.request("GET", DISCOVERY, cert=old)[0] == 200
    kube.clear_behaviors()

    kube.add_configmap("kube-system", EXT_AUTH, _ext_auth(pki.other_ca))
    _wait_status(wh, 200, new)
    assert wh.request("GET", DISCOVERY, cert=old)[0] == 401
    fqdn, value = unique_fqdn("rotated"), "value-rotated"
    body = challenge("Present", fqdn, ZONE, value, config=config(bind))
    status, _, raw = wh.request("POST", wh.solver_path, body=body, cert=new)
    assert status in (200, 201) and json.loads(raw)["response"]["success"]
    assert bind.txt(fqdn) == [value]
    body = challenge("CleanUp", fqdn, ZONE, value, config=config(bind))
    status, _, raw = wh.request("POST", wh.solver_path, body=body, cert=new)
    assert status in (200, 201) and json.loads(raw)["response"]["success"]
    assert bind.txt(fqdn) == []
    wh.stop()
