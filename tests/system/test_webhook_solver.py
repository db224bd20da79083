"""The solver through the HTTPS API, against real Knot, BIND and PowerDNS.

cert-manager's conformance cases (a Present is served, then gone after the
CleanUp; two keys at one name, cleaning one keeps the other), repeated
calls, wildcard + apex at once, every way of storing the TSIG secret
(--secrets-dir, the stand-in Kubernetes API through --kubeconfig, a whole
key file, base64 twice), the failures a user must be able to act on
(config absent, Secret or key missing, RBAC, a wrong secret), and 50
concurrent Present/CleanUp pairs.

Fixtures come from dnsservers.py (knot, bind, pdns, dns_server), kube.py
(kube) and webhook.py (pki, start_webhook, challenge).
"""
import base64
import concurrent.futures
import json
import os

import pytest

from dnsservers import key_text, private_file_name, unique_fqdn, ZONE
from webhook import challenge, start_webhook

NS = "cert-manager"
SECRET_NAME = "tsig-secret"
SECRET_KEY = "secret"


# ---------------------------------------------------------------- helpers

def signed_config(srv, key_name="acme256", name=SECRET_NAME, data_key=SECRET_KEY,
                  with_key_fields=True, **extra):
    """The Issuer's webhook.config for @srv with key @key_name."""
    key = srv.keys[key_name]
    cfg = {"nameserver": srv.addr,
           "tsigSecretSecretRef": {"name": name, "key": data_key}}
    if with_key_fields:
        # The built-in solver's spelling of the algorithm, on purpose.
        cfg["tsigKeyName"] = key.name
        cfg["tsigAlgorithm"] = key.algorithm.upper().replace("-", "")
    cfg.update(extra)
    return cfg


def secrets_dir(tmp_path, files):
    """A --secrets-dir tree: files maps (ns, name, key) -> bytes/str."""
    root = tmp_path / "secrets"
    for (ns, name, key), value in files.items():
        d = root / ns / name
        d.mkdir(parents=True, exist_ok=True)
        (d / key).write_bytes(value.encode() if isinstance(value, str)
                              else value)
    root.mkdir(exist_ok=True)
    return str(root)


def start_dir(tmp_path, pki, files, args=()):
    """The webhook reading secrets from a directory; @args: more flags."""
    return start_webhook(tmp_path, pki, args=[
        "--secrets-dir", secrets_dir(tmp_path, files),
        "--authorization-mode", "AllowAuthenticated", *args])


def start_for(tmp_path, pki, srv, key_name="acme256", args=()):
    """The webhook with @srv's key @key_name as a bare secret in a dir;
    @args: more flags."""
    return start_dir(tmp_path, pki, {
        (NS, SECRET_NAME, SECRET_KEY): srv.keys[key_name].secret + "\n"},
        args)


def solver_path(wh):
    path = getattr(wh, "solver_path", None)
    if path is None:
        path = "/apis/%s/v1alpha1/%s" % (getattr(wh, "group"),
                                         getattr(wh, "solver", "rfc2136"))
    return path


def solve(wh, action, fqdn, key, config, ns=NS, zone=ZONE, uid=None,
          dns_name=None):
    """One solver call as kube-apiserver makes it; returns the response
    object of the answer after checking the answer's shape."""
    body = challenge(action, fqdn, zone, key, config=config, ns=ns,
                     uid=uid or "uid-%s-%s" % (action, key))
    if dns_name is not None:
        body["request"]["dnsName"] = dns_name
    status, _headers, raw = wh.request("POST", solver_path(wh),
                                       body=json.dumps(body).encode(),
                                       headers={"Content-Type":
                                                "application/json"})
    assert status in (200, 201), (status, raw, wh.log()[-3000:])
    ans = json.loads(raw)
    assert ans["kind"] == "ChallengePayload"
    assert ans["apiVersion"] == "webhook.acme.cert-manager.io/v1alpha1"
    assert ans["request"]["key"] == key
    resp = ans["response"]
    assert resp["uid"] == body["request"]["uid"]
    assert isinstance(resp["success"], bool)
    if not resp["success"]:
        # cert-manager reads an empty message as success.
        assert resp["status"]["status"] == "Failure"
        assert resp["status"]["message"], raw
    return resp


def ok(wh, action, fqdn, key, config, **kw):
    resp = solve(wh, action, fqdn, key, config, **kw)
    assert resp["success"], (resp, wh.log()[-3000:])


def failure(wh, action, fqdn, key, config, **kw):
    """The failure message of a call that must fail."""
    resp = solve(wh, action, fqdn, key, config, **kw)
    assert not resp["success"], resp
    return resp["status"]["message"]


def no_secret_in_log(wh, *secrets):
    log = wh.log()
    for s in secrets:
        assert s not in log
        # Nor its decoded bytes' base64 in another spelling.
        assert s.rstrip("=") not in log


# ------------------------------------------------------- conformance cases

def test_present_then_cleanup(tmp_path, pki, dns_server):
    """cert-manager's basic conformance case: served after Present, gone
    after CleanUp."""
    wh = start_for(tmp_path, pki, dns_server)
    fqdn, key = unique_fqdn("basic"), "value-basic-1"
    cfg = signed_config(dns_server)
    ok(wh, "Present", fqdn, key, cfg)
    assert dns_server.txt(fqdn) == [key]
    ok(wh, "CleanUp", fqdn, key, cfg)
    assert dns_server.txt(fqdn) == []
    no_secret_in_log(wh, dns_server.keys["acme256"].secret)


def test_two_keys_cleanup_keeps_other(tmp_path, pki, dns_server):
    """Two keys at one name; cleaning one up keeps the other."""
    wh = start_for(tmp_path, pki, dns_server)
    fqdn = unique_fqdn("two")
    cfg = signed_config(dns_server)
    ok(wh, "Present", fqdn, "key-one", cfg)
    ok(wh, "Present", fqdn, "key-two", cfg)
    assert sorted(dns_server.txt(fqdn)) == ["key-one", "key-two"]
    ok(wh, "CleanUp", fqdn, "key-one", cfg)
    assert dns_server.txt(fqdn) == ["key-two"]
    ok(wh, "CleanUp", fqdn, "key-two", cfg)
    assert dns_server.txt(fqdn) == []


def test_present_twice_cleanup_twice(tmp_path, pki, dns_server):
    """Present is idempotent; a CleanUp of an absent value succeeds."""
    wh = start_for(tmp_path, pki, dns_server)
    fqdn, key = unique_fqdn("twice"), "value-twice"
    cfg = signed_config(dns_server)
    ok(wh, "Present", fqdn, key, cfg)
    ok(wh, "Present", fqdn, key, cfg)
    assert dns_server.txt(fqdn) == [key]
    ok(wh, "CleanUp", fqdn, key, cfg)
    ok(wh, "CleanUp", fqdn, key, cfg)
    assert dns_server.txt(fqdn) == []


def test_wildcard_and_apex_at_once(tmp_path, pki, dns_server):
    """An order for example and *.example: two values at one name, sent
    at the same time, both served, each cleaned up alone."""
    wh = start_for(tmp_path, pki, dns_server)
    fqdn = unique_fqdn("wild")
    name = fqdn[len("_acme-challenge."):].rstrip(".")
    cfg = signed_config(dns_server)
    calls = [("apex-value", name), ("wildcard-value", "*." + name)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda c: ok(wh, "Present", fqdn, c[0], cfg,
                                   dns_name=c[1]), calls))
    assert sorted(dns_server.txt(fqdn)) == ["apex-value", "wildcard-value"]
    ok(wh, "CleanUp", fqdn, "wildcard-value", cfg, dns_name="*." + name)
    assert dns_server.txt(fqdn) == ["apex-value"]
    ok(wh, "CleanUp", fqdn, "apex-value", cfg, dns_name=name)
    assert dns_server.txt(fqdn) == []


# ---------------------------------------------------------- configuration

def test_config_absent(tmp_path, pki, knot):
    wh = start_for(tmp_path, pki, knot)
    msg = failure(wh, "Present", unique_fqdn("nocfg"), "v", None)
    assert "config is missing" in msg
    assert "nameserver" in msg


def test_config_error_names_field(tmp_path, pki, knot):
    wh = start_for(tmp_path, pki, knot)
    msg = failure(wh, "Present", unique_fqdn("badcfg"), "v",
                  signed_config(knot, ttl="60"))
    assert "config.ttl must be an integer, got a string" in msg


def test_unsigned_update_refused_says_unsigned(tmp_path, pki, knot):
    """Without tsigSecretSecretRef the update goes unsigned: a warning in
    the log on every call, and a refusal explains that it was unsigned."""
    wh = start_for(tmp_path, pki, knot)
    fqdn = unique_fqdn("unsigned")
    msg = failure(wh, "Present", fqdn, "v", {"nameserver": knot.addr,
                                             "timeout": "3s"})
    assert msg.startswith("update of %s in zone %s at %s failed:"
                          % (fqdn, ZONE, knot.addr)), msg
    assert "unsigned" in msg
    failure(wh, "CleanUp", fqdn, "v", {"nameserver": knot.addr,
                                       "timeout": "3s"})
    assert wh.log().count("unsigned update") >= 2, wh.log()[-3000:]
    assert knot.txt(fqdn) == []


def test_zone_from_config_overrides_resolved_zone(tmp_path, pki, bind):
    """config.zone wins over a wrong resolvedZone."""
    wh = start_for(tmp_path, pki, bind)
    fqdn, key = unique_fqdn("zone"), "value-zone"
    cfg = signed_config(bind, zone=ZONE.rstrip("."))
    ok(wh, "Present", fqdn, key, cfg, zone="test.")
    assert bind.txt(fqdn) == [key]
    ok(wh, "CleanUp", fqdn, key, cfg, zone="test.")
    assert bind.txt(fqdn) == []


def test_tcp_and_ipv6_and_failover(tmp_path, pki, bind):
    """protocol TCP, an IPv6 nameserver, and a dead first nameserver."""
    wh = start_for(tmp_path, pki, bind)
    fqdn, key = unique_fqdn("tcp6"), "value-tcp6"
    cfg = signed_config(bind, protocol="tcp")
    del cfg["nameserver"]
    cfg["nameservers"] = ["127.0.0.1:1", bind.addr6]
    cfg["timeout"] = "2s"
    ok(wh, "Present", fqdn, key, cfg)
    assert bind.txt(fqdn) == [key]
    ok(wh, "CleanUp", fqdn, key, cfg)
    assert bind.txt(fqdn) == []


# ------------------------------------------------------------------ secrets

def test_secrets_through_kubeconfig(tmp_path, pki, kube, knot):
    """The Secret comes from the Kubernetes API, read in the challenge's
    namespace only."""
    kube.add_secret(NS, SECRET_NAME,
                    {SECRET_KEY: knot.keys["acme256"].secret.encode()})
    kube.add_secret("other", "elsewhere",
                    {SECRET_KEY: knot.keys["acme256"].secret.encode()})
    wh = start_webhook(tmp_path, pki, args=[
        "--kubeconfig", kube.kubeconfig(tmp_path / "kubeconfig"),
        "--authorization-mode", "AllowAuthenticated"])
    fqdn, key = unique_fqdn("kube"), "value-kube"
    cfg = signed_config(knot)
    ok(wh, "Present", fqdn, key, cfg)
    assert knot.txt(fqdn) == [key]
    ok(wh, "CleanUp", fqdn, key, cfg)
    assert knot.txt(fqdn) == []
    assert kube.count("GET", r"^/api/v1/namespaces/%s/secrets/%s$"
                      % (NS, SECRET_NAME)) >= 1
    # A Secret of another namespace is never reachable.
    msg = failure(wh, "Present", fqdn, key,
                  signed_config(knot, name="elsewhere"))
    assert "Secret %s/elsewhere not found" % NS in msg
    assert kube.count("GET", r"/namespaces/other/") == 0
    no_secret_in_log(wh, knot.keys["acme256"].secret)


def test_missing_secret_and_key_through_kubeconfig(tmp_path, pki, kube,
                                                   knot):
    kube.add_secret(NS, SECRET_NAME, {"other": b"x"})
    wh = start_webhook(tmp_path, pki, args=[
        "--kubeconfig", kube.kubeconfig(tmp_path / "kubeconfig"),
        "--authorization-mode", "AllowAuthenticated"])
    fqdn = unique_fqdn("missing")
    msg = failure(wh, "Present", fqdn, "v", signed_config(knot, name="nope"))
    assert "Secret %s/nope not found" % NS in msg
    assert "create it in namespace %s" % NS in msg
    msg = failure(wh, "Present", fqdn, "v", signed_config(knot))
    assert "Secret %s/%s" % (NS, SECRET_NAME) in msg
    assert "no key" in msg and SECRET_KEY in msg
    assert "config.tsigSecretSecretRef.key" in msg


def test_forbidden_secret(tmp_path, pki, kube, knot):
    kube.add_secret(NS, SECRET_NAME,
                    {SECRET_KEY: knot.keys["acme256"].secret.encode()})
    kube.forbid("secrets", NS)
    wh = start_webhook(tmp_path, pki, args=[
        "--kubeconfig", kube.kubeconfig(tmp_path / "kubeconfig"),
        "--authorization-mode", "AllowAuthenticated"])
    msg = failure(wh, "Present", unique_fqdn("rbac"), "v",
                  signed_config(knot))
    assert "Secret %s/%s key %s" % (NS, SECRET_NAME, SECRET_KEY) in msg
    assert "forbidden" in msg.lower()
    assert "secrets" in msg


def test_missing_secret_and_key_in_dir(tmp_path, pki, knot):
    wh = start_dir(tmp_path, pki, {(NS, SECRET_NAME, "other"): "x"})
    fqdn = unique_fqdn("dirmiss")
    msg = failure(wh, "Present", fqdn, "v", signed_config(knot, name="nope"))
    assert "Secret %s/nope not found" % NS in msg
    msg = failure(wh, "Present", fqdn, "v", signed_config(knot))
    assert "Secret %s/%s has no key" % (NS, SECRET_NAME) in msg
    assert SECRET_KEY in msg


@pytest.mark.parametrize("fmt", ["bind", "knot"])
def test_secret_holds_key_file(tmp_path, pki, dns_server, fmt):
    """A whole key file in the Secret names the key and algorithm:
    tsigKeyName and tsigAlgorithm may be left out."""
    key = dns_server.keys["acme512"]
    wh = start_dir(tmp_path, pki,
                   {(NS, SECRET_NAME, SECRET_KEY): key_text(key, fmt)})
    fqdn, value = unique_fqdn("file-" + fmt), "value-file"
    cfg = signed_config(dns_server, "acme512", with_key_fields=False)
    ok(wh, "Present", fqdn, value, cfg)
    assert dns_server.txt(fqdn) == [value]
    ok(wh, "CleanUp", fqdn, value, cfg)
    assert dns_server.txt(fqdn) == []
    no_secret_in_log(wh, key.secret)


def test_secret_holds_private_file(tmp_path, pki, knot):
    """A K*.private body names the algorithm; the name comes from the
    config."""
    key = knot.keys["acme256"]
    wh = start_dir(tmp_path, pki, {
        (NS, SECRET_NAME, SECRET_KEY): key_text(key, "private")})
    assert private_file_name(key).startswith("K")
    fqdn, value = unique_fqdn("private"), "value-private"
    cfg = signed_config(knot, with_key_fields=False, tsigKeyName=key.name)
    ok(wh, "Present", fqdn, value, cfg)
    assert knot.txt(fqdn) == [value]
    ok(wh, "CleanUp", fqdn, value, cfg)


def test_key_file_conflicting_with_config(tmp_path, pki, knot):
    key = knot.keys["acme512"]
    wh = start_dir(tmp_path, pki,
                   {(NS, SECRET_NAME, SECRET_KEY): key_text(key, "bind")})
    msg = failure(wh, "Present", unique_fqdn("conflict"), "v",
                  signed_config(knot, "acme512", with_key_fields=False,
                                tsigAlgorithm="hmac-sha256"))
    assert "Secret %s/%s key %s" % (NS, SECRET_NAME, SECRET_KEY) in msg
    assert "tsigAlgorithm" in msg
    no_secret_in_log(wh, key.secret)


def test_double_base64_secret(tmp_path, pki, kube, bind):
    """A Secret whose value is base64 of the base64 text (stringData with
    an encoded value): recognised, used, and a warning says how to store
    it properly - without the secret."""
    key = bind.keys["acme256"]
    twice = base64.b64encode(key.secret.encode())
    kube.add_secret(NS, SECRET_NAME, {SECRET_KEY: twice})
    wh = start_webhook(tmp_path, pki, args=[
        "--kubeconfig", kube.kubeconfig(tmp_path / "kubeconfig"),
        "--authorization-mode", "AllowAuthenticated"])
    fqdn, value = unique_fqdn("twice64"), "value-twice64"
    ok(wh, "Present", fqdn, value, signed_config(bind))
    assert bind.txt(fqdn) == [value]
    ok(wh, "CleanUp", fqdn, value, signed_config(bind))
    log = wh.log()
    assert "base64" in log, log[-3000:]
    no_secret_in_log(wh, key.secret, twice.decode())


def test_raw_key_bytes_secret(tmp_path, pki, kube, bind):
    """A manifest with data: {secret: <base64 from the key file>} stores
    the raw HMAC key: recognised and used too."""
    key = bind.keys["acme256"]
    kube.add_secret(NS, SECRET_NAME,
                    {SECRET_KEY: base64.b64decode(key.secret)})
    wh = start_webhook(tmp_path, pki, args=[
        "--kubeconfig", kube.kubeconfig(tmp_path / "kubeconfig"),
        "--authorization-mode", "AllowAuthenticated"])
    fqdn, value = unique_fqdn("raw"), "value-raw"
    ok(wh, "Present", fqdn, value, signed_config(bind))
    assert bind.txt(fqdn) == [value]
    ok(wh, "CleanUp", fqdn, value, signed_config(bind))
    assert "raw key bytes" in wh.log(), wh.log()[-3000:]
    no_secret_in_log(wh, key.secret)


# -------------------------------------------------------------- diagnosis

def test_wrong_secret_diagnosis(tmp_path, pki, dns_server):
    """A secret that does not match the server's key: the DNS diagnosis
    reaches status.message, naming the record, zone and server."""
    key = dns_server.keys["acme256"]
    wrong = base64.b64encode(os.urandom(32)).decode()
    wh = start_dir(tmp_path, pki, {(NS, SECRET_NAME, SECRET_KEY): wrong})
    fqdn = unique_fqdn("wrong")
    msg = failure(wh, "Present", fqdn, "v", signed_config(dns_server,
                                                         timeout="3s"))
    assert msg.startswith("update of %s in zone %s at %s failed: "
                          % (fqdn, ZONE, dns_server.addr)), msg
    # Knot: NOTAUTH/BADKEY|BADSIG; BIND: NOTAUTH/BADSIG; PowerDNS: REFUSED.
    assert any(w in msg for w in ("BADSIG", "BADKEY", "REFUSED",
                                  "NOTAUTH")), msg
    assert dns_server.txt(fqdn) == []
    no_secret_in_log(wh, wrong, key.secret)


def test_wrong_algorithm_diagnosis(tmp_path, pki, bind):
    """The right secret with the wrong algorithm (the built-in solver's
    silent HMAC-MD5 trap) is diagnosed."""
    wh = start_for(tmp_path, pki, bind)
    fqdn = unique_fqdn("alg")
    msg = failure(wh, "Present", fqdn, "v",
                  signed_config(bind, tsigAlgorithm="hmac-sha512"))
    assert msg.startswith("update of %s in zone %s at %s failed: "
                          % (fqdn, ZONE, bind.addr)), msg
    assert "algorithm" in msg or "BAD" in msg, msg


def test_bad_payload_is_400(tmp_path, pki, knot):
    wh = start_for(tmp_path, pki, knot)
    status, _h, raw = wh.request("POST", solver_path(wh),
                                 body=b'{"request":{"action":"Present"}}',
                                 headers={"Content-Type":
                                          "application/json"})
    assert status == 400, raw
    st = json.loads(raw)
    assert st["kind"] == "Status" and st["code"] == 400
    assert st["reason"] == "BadRequest"
    assert "request.key is missing" in st["message"]


# ------------------------------------------------------------ concurrency

@pytest.mark.parametrize("server", ["bind", "pdns"])
def test_fifty_concurrent_pairs(tmp_path, pki, request, server):
    """50 Present/CleanUp pairs at once all succeed and leave nothing."""
    srv = request.getfixturevalue(server)
    wh = start_for(tmp_path, pki, srv)
    cfg = signed_config(srv)
    names = [unique_fqdn("par%d" % i) for i in range(50)]

    def pair(i):
        fqdn, value = names[i], "value-%d" % i
        ok(wh, "Present", fqdn, value, cfg)
        served = srv.txt(fqdn)
        ok(wh, "CleanUp", fqdn, value, cfg)
        return served

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        served = list(pool.map(pair, range(50)))
    assert served == [["value-%d" % i] for i in range(50)]
    assert all(srv.txt(n) == [] for n in names)
    # A clean exit after the load (under SANITIZE=address: no leak, no
    # error report).
    wh.stop()
    assert "Sanitizer" not in wh.log(), wh.log()[-3000:]


# ------------------------------------------------------ misbehaving servers

def test_truncated_answer_retried_over_tcp(tmp_path, pki, bind,
                                           truncating_dns):
    """UDP (the default) answered with TC=1 is retried over TCP."""
    fake = truncating_dns(upstream=bind)
    wh = start_for(tmp_path, pki, bind)
    fqdn, value = unique_fqdn("tc"), "value-tc"
    cfg = signed_config(bind, nameserver=fake.addr)
    ok(wh, "Present", fqdn, value, cfg)
    assert fake.udp_queries and fake.tcp_queries
    assert bind.txt(fqdn) == [value]
    ok(wh, "CleanUp", fqdn, value, cfg)
    assert bind.txt(fqdn) == []


def test_refused_then_failover(tmp_path, pki, bind, rcode_dns):
    """A REFUSED from the first nameserver moves on to the next; from the
    only one, it is the diagnosis."""
    refusing = rcode_dns(5)
    wh = start_for(tmp_path, pki, bind)
    fqdn, value = unique_fqdn("refused"), "value-refused"
    cfg = signed_config(bind)
    del cfg["nameserver"]
    cfg["nameservers"] = [refusing.addr, bind.addr]
    ok(wh, "Present", fqdn, value, cfg)
    assert bind.txt(fqdn) == [value]
    ok(wh, "CleanUp", fqdn, value, cfg)
    msg = failure(wh, "Present", fqdn, value,
                  signed_config(bind, nameserver=refusing.addr))
    assert msg.startswith("update of %s in zone %s at %s failed: REFUSED"
                          % (fqdn, ZONE, refusing.addr)), msg


def test_silent_servers_bounded_and_isolated(tmp_path, pki, bind,
                                             blackhole_dns):
    """Eight nameservers that never answer, each with a 60 s timeout: the
    call still answers (the client gives up at 30 s) with what was tried,
    and meanwhile calls for a working server go through."""
    wh = start_for(tmp_path, pki, bind)
    silent_cfg = signed_config(bind, timeout="60s")
    del silent_cfg["nameserver"]
    silent_cfg["nameservers"] = [blackhole_dns.addr] * 8
    slow_fqdn = unique_fqdn("silent")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow = pool.submit(failure, wh, "Present", slow_fqdn, "v",
                           silent_cfg)
        fqdn, value = unique_fqdn("beside"), "value-beside"
        ok(wh, "Present", fqdn, value, signed_config(bind))
        ok(wh, "CleanUp", fqdn, value, signed_config(bind))
        # The working server's calls completed while the silent one is
        # still being waited for.
        assert not slow.done()
        msg = slow.result()
    assert msg.startswith("update of %s in zone %s failed at" %
                          (slow_fqdn, ZONE)), msg
    # The tenant reads that they did not answer DNS (issue 15: no
    # refused/reset/silent oracle); the log keeps the cause.
    assert "%s did not answer DNS" % blackhole_dns.addr in msg
    assert "no answer from %s" % blackhole_dns.addr in wh.log()
