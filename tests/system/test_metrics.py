"""Prometheus metrics (--metrics-bind-address): after a scripted sequence
of successful and failing calls, GET /metrics parses as the text format
0.0.4 (with the strict parser below, written for this test) and every
counter has the value the sequence implies.

Fixtures: knot (dnsservers.py), rcode_dns (fakedns.py), kube (kube.py),
pki, start_webhook, challenge (webhook.py).
"""
import http.client
import json
import math
import os
import re
import signal
import socket
import ssl

import pytest

from dnsservers import ZONE, free_port, unique_fqdn
from webhook import challenge, start_webhook

PREFIX = "rfc2136_webhook_"
NS = "cert-manager"
NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
VERSION = open(os.path.join(os.path.dirname(__file__), "..", "..",
                            "VERSION")).read().strip()


# ------------------------------------------------------ text format 0.0.4

class ParseError(AssertionError):
    pass


def _unescape(v):
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def _labels(text):
    out = {}
    pos = 0
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        if not m:
            raise ParseError("bad labels: %r" % text)
        if m.group(1) in out:
            raise ParseError("label %s twice: %r" % (m.group(1), text))
        out[m.group(1)] = _unescape(m.group(2))
        pos = m.end()
        if m.group(3) == "" and pos < len(text):
            raise ParseError("bad labels: %r" % text)
    return out


def _value(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf"))
    if not re.match(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$", text):
        raise ParseError("bad value %r" % text)
    return float(text)


def parse_exposition(text):
    """Parse Prometheus text format 0.0.4 strictly.  Returns
    {family: {"type", "help", "samples": {(name, frozenset(labels)): value}}}.
    Checks: HELP and TYPE once each and before the family's samples, a
    family's samples together, sample names that belong to the family
    (_bucket/_sum/_count for histograms), no duplicate series, lines end
    with a newline, histogram buckets cumulative up to +Inf == _count."""
    if not text.endswith("\n"):
        raise ParseError("the exposition must end with a newline")
    fams = {}
    current = None
    done = set()
    for line in text[:-1].split("\n"):
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME_RE.match(name):
                    raise ParseError("bad name %r" % name)
                if name in done:
                    raise ParseError("family %s split" % name)
                fam = fams.setdefault(name, {"type": None, "help": None,
                                             "samples": {}})
                if fam["samples"]:
                    raise ParseError("%s %s after samples" % (parts[1], name))
                key = parts[1].lower()
                if fam[key] is not None:
                    raise ParseError("%s %s twice" % (parts[1], name))
                if len(parts) < 4:
                    raise ParseError("empty %s for %s" % (parts[1], name))
                if key == "type" and parts[3] not in TYPES:
                    raise ParseError("bad type %r" % parts[3])
                fam[key] = parts[3]
                if current is not None and current != name:
                    done.add(current)
                current = name
            continue
        if not line.strip():
            raise ParseError("empty line")
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$",
                     line)
        if not m:
            raise ParseError("bad sample line %r" % line)
        name, labels, value = m.group(1), _labels(m.group(3) or ""), \
            _value(m.group(4))
        fam_name = current
        fam = fams.get(fam_name)
        if fam is None or fam["type"] is None:
            raise ParseError("sample %r without TYPE" % line)
        allowed = {fam_name}
        if fam["type"] == "histogram":
            allowed = {fam_name + s for s in ("_bucket", "_sum", "_count")}
        elif fam["type"] == "summary":
            allowed = {fam_name, fam_name + "_sum", fam_name + "_count"}
        if name not in allowed:
            raise ParseError("sample %s outside family %s" % (name, fam_name))
        key = (name, frozenset(labels.items()))
        if key in fam["samples"]:
            raise ParseError("duplicate series %r" % line)
        fam["samples"][key] = value
    for name, fam in fams.items():
        if fam["type"] == "histogram":
            _check_histogram(name, fam)
    return fams


def _check_histogram(name, fam):
    series = {}
    for (sname, labels), value in fam["samples"].items():
        d = dict(labels)
        le = d.pop("le", None)
        key = frozenset(d.items())
        s = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if sname.endswith("_bucket"):
            if le is None:
                raise ParseError("%s bucket without le" % name)
            s["buckets"].append((_value(le), value))
        elif sname.endswith("_sum"):
            s["sum"] = value
        else:
            s["count"] = value
    for key, s in series.items():
        b = sorted(s["buckets"])
        if not b or b[-1][0] != math.inf:
            raise ParseError("%s%s: no +Inf bucket" % (name, dict(key)))
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
            raise ParseError("%s%s: buckets not cumulative" % (name, dict(key)))
        if s["count"] != b[-1][1] or s["sum"] is None:
            raise ParseError("%s%s: _count != +Inf bucket" % (name, dict(key)))


def value(fams, family, sample=None, **labels):
    """The value of one series (0 when absent: a counter not yet seen)."""
    fam = fams[PREFIX + family]
    return fam["samples"].get((PREFIX + (sample or family),
                               frozenset(labels.items())), 0)


def series(fams, family, sample=None):
    fam = fams[PREFIX + family]
    name = PREFIX + (sample or family)
    return {k[1]: v for k, v in fam["samples"].items() if k[0] == name}


# Table: malformed expositions the parser must refuse (it can fail).
BAD_EXPOSITIONS = [
    ("no TYPE", "x_total 1\n"),
    ("no final newline", "# TYPE x counter\nx 1"),
    ("duplicate series", "# TYPE x counter\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n"),
    ("bad escape", "# TYPE x counter\nx{a=\"\\q\"} 1\n"),
    ("TYPE after sample", "# TYPE x counter\nx 1\n# TYPE x counter\n"),
    ("not cumulative", "# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
     "h_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n"),
    ("no +Inf", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 0\nh_count 1\n"),
    ("foreign sample", "# TYPE x counter\ny 1\n"),
    ("bad value", "# TYPE x counter\nx one\n"),
]


@pytest.mark.parametrize("why,text", BAD_EXPOSITIONS,
                         ids=[b[0] for b in BAD_EXPOSITIONS])
def test_parser_refuses(why, text):
    with pytest.raises(ParseError):
        parse_exposition(text)


# ----------------------------------------------------------------- helpers

def scrape(port, path="/metrics", method="GET", host="127.0.0.1"):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def metrics(port):
    status, headers, body = scrape(port)
    assert status == 200, body
    assert headers["Content-Type"] == \
        "text/plain; version=0.0.4; charset=utf-8"
    return parse_exposition(body.decode())


def solve(wh, action, fqdn, key, config, headers=None):
    body = challenge(action, fqdn, ZONE, key, config=config, ns=NS)
    status, _, raw = wh.request("POST", wh.solver_path, body=body,
                                headers=headers)
    assert status == 201, (status, raw)
    return json.loads(raw)["response"]


def cert_not_after(path):
    info = ssl._ssl._test_decode_cert(path)
    return int(ssl.cert_time_to_seconds(info["notAfter"]))


def start_with_metrics(tmp_path, pki, args):
    port = free_port()
    wh = start_webhook(tmp_path, pki, args=args + [
        "--metrics-bind-address", "127.0.0.1:%d" % port])
    return wh, port


# ------------------------------------------------------------------- tests

def test_counters_after_scripted_calls(tmp_path, pki, kube, knot, rcode_dns):
    """Every counter has the value the calls imply; histograms agree."""
    key = knot.keys["acme256"]
    kube.add_secret(NS, "tsig", {"secret": key.secret})
    # A secret of the right form that the server does not know, with one
    # reading only (its decoded text is not base64 again: no second try).
    kube.add_secret(NS, "wrong", {"secret": "d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmctd3JvbmctMTI="})
    kube.sar_policy = lambda spec: (
        (False, "not this one") if spec.get("user") == "mallory"
        else (True, ""))
    cert = str(tmp_path / "serving.crt")
    keyf = str(tmp_path / "serving.key")
    for src, dst in ((pki.serving_cert, cert), (pki.serving_key, keyf)):
        with open(src, "rb") as f, open(dst, "wb") as g:
            g.write(f.read())
    wh, port = start_with_metrics(tmp_path, pki, [
        "--kubeconfig", kube.kubeconfig(tmp_path / "kubeconfig"),
        "--authorization-mode", "SubjectAccessReview",
        "--tls-cert-file", cert, "--tls-private-key-file", keyf])

    def cfg(server, secret="tsig"):
        return {"nameserver": server, "tsigKeyName": key.name,
                "tsigAlgorithm": key.algorithm,
                "tsigSecretSecretRef": {"name": secret, "key": "secret"}}

    refusing = rcode_dns(5)
    fqdn = unique_fqdn("metrics")
    # 1-2: Present and CleanUp that work.
    assert solve(wh, "Present", fqdn, "v1", cfg(knot.addr))["success"]
    assert solve(wh, "CleanUp", fqdn, "v1", cfg(knot.addr))["success"]
    # 3: a server that refuses (REFUSED, unsigned answer).
    assert not solve(wh, "Present", fqdn, "v2", cfg(refusing.addr))["success"]
    # 4: the wrong secret: Knot answers NOTAUTH with TSIG error BADSIG.
    assert not solve(wh, "Present", fqdn, "v3",
                     cfg(knot.addr, "wrong"))["success"]
    # 5: a Secret that does not exist (404 from the API).
    assert not solve(wh, "CleanUp", fqdn, "v4",
                     cfg(knot.addr, "absent"))["success"]
    # 6: not a ChallengePayload.
    status, _, _ = wh.request("POST", wh.solver_path, body={"request": 5})
    assert status == 400
    # 7: no client certificate: 401; 8: a user the review denies: 403.
    status, _, _ = wh.request("POST", wh.solver_path, body={}, cert=None)
    assert status == 401
    status, _, _ = wh.request("POST", wh.solver_path, body={},
                              user="mallory")
    assert status == 403
    # 9: a certificate reload (SIGHUP) and a refused one (garbage).
    wh.proc.send_signal(signal.SIGHUP)
    wh.wait_log(lambda t: "serving certificate loaded" in t)
    with open(cert, "w") as f:
        f.write("not a certificate\n")
    wh.proc.send_signal(signal.SIGHUP)
    wh.wait_log(lambda t: "serving certificate not reloaded" in t)

    m = metrics(port)
    assert series(m, "build_info") == {frozenset({("version", VERSION)}): 1}
    expect_requests = {
        ("Present", "success"): 1, ("Present", "failure"): 2,
        ("Present", "rejected"): 0, ("CleanUp", "success"): 1,
        ("CleanUp", "failure"): 1, ("CleanUp", "rejected"): 0,
        ("unknown", "success"): 0, ("unknown", "failure"): 0,
        ("unknown", "rejected"): 1,
    }
    got = {(d["action"], d["result"]): v for d, v in
           ((dict(k), v) for k, v in series(m, "requests_total").items())}
    assert got == expect_requests
    got = {(d["server"], d["rcode"], d["tsig_error"]): v for d, v in
           ((dict(k), v) for k, v in series(m, "dns_updates_total").items())}
    assert got == {
        (knot.addr, "NOERROR", "NOERROR"): 2,
        (refusing.addr, "REFUSED", "none"): 1,
        (knot.addr, "NOTAUTH", "BADSIG"): 1,
    }
    assert value(m, "dns_exchange_duration_seconds",
                 "dns_exchange_duration_seconds_count") == 4
    for action, n in (("Present", 3), ("CleanUp", 2), ("unknown", 1)):
        assert value(m, "request_duration_seconds",
                     "request_duration_seconds_count", action=action) == n
    # The API calls, as the stand-in API recorded them.
    gets = kube.count("GET", r"/secrets/")
    reviews = kube.count("POST", r"subjectaccessreviews")
    assert gets >= 3 and reviews >= 2
    assert value(m, "kubernetes_request_duration_seconds",
                 "kubernetes_request_duration_seconds_count",
                 call="get_secret") == gets
    assert value(m, "kubernetes_request_duration_seconds",
                 "kubernetes_request_duration_seconds_count",
                 call="create_subjectaccessreview") == reviews
    got = {(d["call"], d["status"]): v for d, v in
           ((dict(k), v) for k, v in
            series(m, "kubernetes_request_errors_total").items())}
    assert got == {("get_secret", "404"): 1}
    got = {dict(k)["reason"]: v for k, v in
           series(m, "authentication_denials_total").items()}
    assert got["no_certificate"] == 1
    assert sum(got.values()) == 1
    got = {dict(k)["reason"]: v for k, v in
           series(m, "authorization_denials_total").items()}
    assert got == {"denied": 1, "review_failed": 0}
    got = {dict(k)["result"]: v for k, v in
           series(m, "tls_certificate_reloads_total").items()}
    assert got == {"success": 1, "failure": 1}
    assert value(m, "tls_certificate_expiry_timestamp_seconds") == \
        cert_not_after(pki.serving_cert)
    # Every family: HELP, TYPE, the prefix, Prometheus' name conventions.
    for name, fam in m.items():
        assert name.startswith(PREFIX) and fam["help"], name
        if fam["type"] == "counter":
            assert name.endswith("_total"), name
        if fam["type"] == "histogram":
            assert name.endswith("_seconds"), name
    wh.stop()


def test_metrics_server_routes(tmp_path, pki):
    """Only GET/HEAD /metrics; 404 elsewhere, 405 for other methods; no
    TLS on this port."""
    wh, port = start_with_metrics(tmp_path, pki, [])
    status, headers, body = scrape(port, method="HEAD")
    assert status == 200 and body == b""
    for path in ("/", "/metrics/", "/healthz", "/metricsx"):
        assert scrape(port, path)[0] == 404, path
    status, headers, _ = scrape(port, method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert "serving metrics" in wh.log()
    wh.stop()


BAD_ADDRESSES = ["9402", "localhost:9402", "1.2.3.4", "::1:9402",
                 "127.0.0.1:65536", "127.0.0.1:-1", "[::1]:x", "",
                 "127.1:9402", "[fe80::1%lo]:9402"]


@pytest.mark.parametrize("addr", BAD_ADDRESSES)
def test_bad_metrics_address_is_usage_error(tmp_path, pki, addr):
    from webhook import WebhookStartError
    with pytest.raises(WebhookStartError) as e:
        start_webhook(tmp_path, pki, args=["--metrics-bind-address", addr])
    assert e.value.returncode == 2
    assert "--metrics-bind-address" in e.value.log


def test_metrics_off_by_default(tmp_path, pki):
    for args in ([], ["--metrics-bind-address", "0"]):
        wh = start_webhook(tmp_path, pki, args=args)
        assert "serving metrics" not in wh.log()
        wh.stop()


def test_metrics_port_taken_fails_start(tmp_path, pki):
    from webhook import WebhookStartError
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        with pytest.raises(WebhookStartError) as e:
            start_webhook(tmp_path, pki, args=[
                "--metrics-bind-address",
                "127.0.0.1:%d" % s.getsockname()[1]])
        assert e.value.returncode == 1
        assert "--metrics-bind-address" in e.value.log
    finally:
        s.close()


# As for Kubernetes' servers, an unspecified host means every address family:
# one dual-stack [::] socket; a given address is that family only.
METRICS_ADDRESSES = [
    # (--metrics-bind-address with %d for the port, served from 127.0.0.1,
    #  from ::1, the address the log names, with %d for the port)
    (":%d", True, True, '"[::]:%d (IPv6 and IPv4)"'),
    ("0.0.0.0:%d", True, True, '"[::]:%d (IPv6 and IPv4)"'),
    ("[::]:%d", True, True, '"[::]:%d (IPv6 and IPv4)"'),
    ("127.0.0.1:%d", True, False, "127.0.0.1:%d "),
    ("[::1]:%d", False, True, "[::1]:%d "),
]


def _scraped(port, host):
    """True: /metrics answered 200 from @host; False: connection refused."""
    try:
        status, _, body = scrape(port, host=host)
    except ConnectionRefusedError:
        return False
    assert status == 200 and PREFIX.encode() in body
    return True


@pytest.mark.parametrize("addr,v4,v6,logged", METRICS_ADDRESSES,
                         ids=[r[0] % 9402 for r in METRICS_ADDRESSES])
def test_metrics_address_families(tmp_path, pki, addr, v4, v6, logged):
    port = free_port()
    wh = start_webhook(tmp_path, pki, args=[
        "--metrics-bind-address", addr % port])
    try:
        assert (_scraped(port, "127.0.0.1"), _scraped(port, "::1")) == \
            (v4, v6)
        lines = [l for l in wh.log().splitlines() if "serving metrics" in l]
        assert len(lines) == 1, wh.log()
        assert "address=" + logged % port in lines[0], lines[0]
        assert "no IPv6" not in wh.log()
    finally:
        wh.stop()


TAKEN = [
    # (--metrics-bind-address, family and host of the listener already on
    #  the port, where the error must say it could not listen)
    (":%d", socket.AF_INET, "127.0.0.1", "[::]:%d (IPv6 and IPv4)"),
    ("0.0.0.0:%d", socket.AF_INET6, "::1", "[::]:%d (IPv6 and IPv4)"),
    ("127.0.0.1:%d", socket.AF_INET, "127.0.0.1", "127.0.0.1:%d"),
    ("[::1]:%d", socket.AF_INET6, "::1", "[::1]:%d"),
]


@pytest.mark.parametrize("addr,family,host,where", TAKEN,
                         ids=[r[0] % 9402 for r in TAKEN])
def test_metrics_port_taken_says_where_and_why(tmp_path, pki, addr, family,
                                               host, where):
    from webhook import WebhookStartError
    s = socket.socket(family)
    s.bind((host, 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        with pytest.raises(WebhookStartError) as e:
            start_webhook(tmp_path, pki, args=[
                "--metrics-bind-address", addr % port])
        assert e.value.returncode == 1
        assert "--metrics-bind-address %s: cannot listen on %s: " % (
            addr % port, where % port) in e.value.log, e.value.log
        assert "Address already in use" in e.value.log
    finally:
        s.close()


def test_ipv6_metrics_address(tmp_path, pki):
    port = free_port()
    wh = start_webhook(tmp_path, pki, args=[
        "--metrics-bind-address", "[::1]:%d" % port])
    m = metrics_at(port, "::1")
    assert PREFIX + "requests_total" in m
    wh.stop()


def metrics_at(port, host):
    status, _, body = scrape(port, host=host)
    assert status == 200
    return parse_exposition(body.decode())
