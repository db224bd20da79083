"""Logs that explain (--v, --logging-format): at --v 0 and --v 6, text and
JSON, every line parses, the request id (the Audit-ID header, else a
generated UUID) ties the lines of one call together, the lines name the
action, FQDN, zone and nameserver, --v 6 shows the Kubernetes API calls and
the DNS messages in presentation format, and no secret (TSIG secret, other
Secret data, the API token) ever appears.

Fixtures: knot (dnsservers.py), kube (kube.py), pki, start_webhook,
challenge (webhook.py).
"""
import base64
import json
import re

import pytest

from dnsservers import ZONE, unique_fqdn
from webhook import challenge, start_webhook

NS = "cert-manager"
CANARY = "canary-6f1d2e-never-logged"
WRONG = "d3Jvbmd3cm9uZ3dyb25nd3Jvbmd3cm9uZ3dyb25nMTI="
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                     r"[0-9a-f]{12}$")
TEXT_HEAD = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) "
                       r"(ERROR|WARN|INFO|DEBUG) ")
TEXT_FIELD = re.compile(r' ([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|[^ "]+)')


def _unescape(v):
    if not v.startswith('"'):
        return v
    v = v[1:-1]
    return re.sub(r'\\(x[0-9a-f]{2}|.)', lambda m: {
        "n": "\n", "r": "\r", "t": "\t"}.get(
            m.group(1), chr(int(m.group(1)[1:], 16))
            if m.group(1).startswith("x") and len(m.group(1)) == 3
            else m.group(1)), v)


def parse_text(line):
    """A text line as a dict: ts, level, msg and the fields."""
    m = TEXT_HEAD.match(line)
    assert m, "not a log line: %r" % line
    rest = line[m.end():]
    first = TEXT_FIELD.search(" " + rest)
    msg_end = first.start() if first else len(rest) + 1
    out = {"ts": m.group(1), "level": m.group(2).lower(),
           "msg": rest[:max(msg_end - 1, 0)]}
    pos = msg_end
    text = " " + rest
    while pos < len(text):
        f = TEXT_FIELD.match(text, pos)
        assert f, "bad field at %r in %r" % (text[pos:], line)
        out[f.group(1)] = _unescape(f.group(2))
        pos = f.end()
    return out


def parse_json(line):
    obj = json.loads(line)
    assert isinstance(obj["ts"], (int, float)), line
    assert obj["level"] in ("error", "warn", "info", "debug"), line
    assert isinstance(obj["v"], int) and isinstance(obj["msg"], str), line
    assert all(isinstance(v, str) for k, v in obj.items()
               if k not in ("ts", "v")), line
    return obj


def parse_log(text, fmt):
    lines = [l for l in text.split("\n") if l]
    assert lines
    return [(parse_json if fmt == "json" else parse_text)(l) for l in lines]


def solve(wh, action, fqdn, key, config, audit_id=None):
    body = challenge(action, fqdn, ZONE, key, config=config, ns=NS)
    headers = {"Audit-ID": audit_id} if audit_id else None
    status, _, raw = wh.request("POST", wh.solver_path, body=body,
                                headers=headers)
    assert status == 201, (status, raw)
    return json.loads(raw)["response"]


# The lines one call writes at each verbosity: (v, msgs that must be there,
# msgs that must not).
EXPECTED = {
    0: ({"challenge", "request"},
        {"request started", "request headers", "kubernetes api call",
         "dns message sent", "dns message received"}),
    6: ({"challenge", "request", "request started", "request headers",
         "kubernetes api call", "dns message sent", "dns message received"},
        set()),
}


@pytest.mark.parametrize("v,fmt", [(0, "text"), (0, "json"), (6, "text"),
                                   (6, "json")])
def test_request_lines(tmp_path, pki, kube, knot, v, fmt):
    key = knot.keys["acme256"]
    kube.add_secret(NS, "tsig", {"secret": key.secret, "other": CANARY})
    kube.add_secret(NS, "wrong", {"secret": WRONG})
    wh = start_webhook(tmp_path, pki, args=[
        "--kubeconfig", kube.kubeconfig(tmp_path / "kubeconfig"),
        "--authorization-mode", "SubjectAccessReview",
        "--v", str(v), "--logging-format", fmt])

    def cfg(secret):
        return {"nameserver": knot.addr, "tsigKeyName": key.name,
                "tsigAlgorithm": key.algorithm,
                "tsigSecretSecretRef": {"name": secret, "key": "secret"}}

    calls = [  # (audit id, action, fqdn, value, secret, success)
        ("audit-present-1", "Present", unique_fqdn("log"), "val-1", "tsig",
         True),
        ("audit-bad-2", "Present", unique_fqdn("log"), "val-2", "wrong",
         False),
        (None, "Present", unique_fqdn("log"), "val-3", "tsig", True),
    ]
    calls.append(("audit-cleanup-4", "CleanUp", calls[0][2], "val-1", "tsig",
                  True))
    for audit, action, fqdn, value, secret, success in calls:
        assert solve(wh, action, fqdn, value, cfg(secret),
                     audit)["success"] is success
    wh.stop()
    text = wh.log()
    lines = parse_log(text, fmt)

    must, must_not = EXPECTED[v]
    for audit, action, fqdn, value, secret, success in calls:
        (chal,) = [l for l in lines if l["msg"] == "challenge" and
                   l.get("fqdn") == fqdn and l.get("action") == action]
        rid = chal["request_id"]
        if audit:
            assert rid == audit
        else:
            assert UUID_RE.match(rid), rid
        assert chal["zone"] == ZONE and chal["nameserver"] == knot.addr
        assert chal["outcome"] == ("success" if success else "failure")
        assert int(chal["ms"]) >= 0
        if not success:
            assert "BADSIG" in chal["error"], chal
        mine = [l for l in lines if l.get("request_id") == rid]
        msgs = {l["msg"] for l in mine}
        first_call = audit in ("audit-present-1", "audit-bad-2")
        want = set(must)
        if not first_call:
            # Secret and review answers are cached for a few seconds.
            want.discard("kubernetes api call")
        assert want <= msgs, (rid, msgs)
        assert not (must_not & msgs), (rid, msgs)
        # Every line that names the FQDN belongs to this call's id.
        for l in lines:
            if l.get("fqdn") == fqdn and l.get("action") == action:
                assert l["request_id"] == rid, l
        if v >= 4:
            sent = [l for l in mine if l["msg"] == "dns message sent"]
            assert sent and all(l["nameserver"] == knot.addr and
                                l["fqdn"] == fqdn and l["zone"] == ZONE and
                                l["action"] == action for l in sent)
            msg = sent[0]["message"]
            assert "opcode: UPDATE" in msg and ";; UPDATE SECTION:" in msg
            assert ";%s\t\tIN\tSOA" % ZONE in msg
            assert '"%s"' % value in msg
            assert ("\tNONE\tTXT\t" if action == "CleanUp" else
                    "\tIN\tTXT\t") in msg
            assert ";; TSIG PSEUDOSECTION:" in msg and key.name in msg
            got = [l for l in mine if l["msg"] == "dns message received"]
            assert got and "status: %s" % (
                "NOERROR" if success else "NOTAUTH") in got[0]["message"]
        if v >= 2 and first_call:
            api = [l for l in mine if l["msg"] == "kubernetes api call"]
            paths = {(l["method"], l["path"], l["status"]) for l in api}
            assert ("GET", "/api/v1/namespaces/%s/secrets/%s" % (NS, secret),
                    "200") in paths, paths
            assert all(int(l["ms"]) >= 0 for l in api)
    if v >= 2:
        # The review of the first call, under the first call's id.
        assert any(l["msg"] == "kubernetes api call" and
                   l.get("request_id") == "audit-present-1" and
                   l["call"] == "create_subjectaccessreview" and
                   l["method"] == "POST" for l in lines)
    else:
        assert not any(l.get("level") == "debug" for l in lines)

    # Never a secret, in any spelling, nor other Secret data or the token.
    raw_secret = base64.b64decode(key.secret)
    for s in (key.secret, key.secret.rstrip("="), WRONG, CANARY,
              base64.b64encode(CANARY.encode()).decode(), kube.token,
              raw_secret.hex()):
        assert s not in text, s
    assert "Bearer" not in text


def test_dns_dump_of_unsigned_update(tmp_path, pki, rcode_dns):
    """--v 4: an unsigned update refused by the server, both messages
    shown, no TSIG pseudosection; a warning says it is unsigned."""
    fake = rcode_dns(5)
    wh = start_webhook(tmp_path, pki, args=["--v", "4",
                                            "--logging-format", "json"])
    fqdn = unique_fqdn("dump")
    assert not solve(wh, "Present", fqdn, "plain", {"nameserver": fake.addr},
                     "audit-dump")["success"]
    wh.stop()
    lines = parse_log(wh.log(), "json")
    mine = [l for l in lines if l.get("request_id") == "audit-dump"]
    (sent,) = [l for l in mine if l["msg"] == "dns message sent"]
    (got,) = [l for l in mine if l["msg"] == "dns message received"]
    assert "TSIG" not in sent["message"]
    assert "status: REFUSED" in got["message"] and "Flags: qr" in \
        got["message"]
    assert sent["protocol"] == "udp" and sent["nameserver"] == fake.addr
    (warn,) = [l for l in mine if l["level"] == "warn"]
    assert "unsigned" in warn["msg"] and warn["fqdn"] == fqdn and \
        warn["zone"] == ZONE and warn["action"] == "Present"
