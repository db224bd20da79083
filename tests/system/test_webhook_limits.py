"""Bounded inputs and TLS settings of the webhook server: body and header
caps, slow clients (slowloris: a handshake, headers or a body dribbled a
byte at a time) dropped within --request-read-timeout while others are
served, the connection cap, malformed requests of every kind answered with
a clear 4xx (never a crash or a hang), and --tls-min-version /
--tls-cipher-suites in Kubernetes' spelling."""
import json
import os
import select
import socket
import ssl
import threading
import time

import pytest

from webhook import DEFAULT_GROUP, WebhookStartError, challenge, start_webhook

DISCOVERY = "/apis/%s/v1alpha1" % DEFAULT_GROUP
SOLVER = DISCOVERY + "/rfc2136"
READ_TIMEOUT = 2  # seconds, for the slow-client cases


# A process that is not dumpable (the webhook's default, against core
# dumps) keeps /proc/PID/fd from other users but root: let a test run by
# another user count its descriptors.
FD_READABLE = [] if os.geteuid() == 0 else ["--allow-core-dumps"]


@pytest.fixture
def hook(tmp_path, pki):
    return start_webhook(tmp_path, pki, args=[
        "--request-read-timeout", "%ds" % READ_TIMEOUT] + FD_READABLE)


def present_body():
    return challenge("Present", "_acme-challenge.example.test.",
                     "example.test.", "k" * 43,
                     config={"nameserver": "127.0.0.1:9"})


def padded(size):
    """A JSON payload of exactly @size bytes."""
    base = json.dumps(present_body())
    pad = size - len(base) - len(',"pad":""')
    return (base[:-1] + ',"pad":"' + "x" * pad + '"}').encode()


def tls_socket(w, cert="front-proxy", timeout=10):
    raw = socket.create_connection(("127.0.0.1", w.port), timeout=timeout)
    return w.context(cert).wrap_socket(raw, server_hostname="127.0.0.1")


def raw_exchange(w, data, timeout=10):
    """Send @data as is over TLS (with the proxy's certificate) and read
    until the server closes or answers; returns the status code or None
    when the connection closed without an answer.  The server may answer
    and close before all of @data went out (a header over its limit): the
    send then fails, and what it answered is still read."""
    s = tls_socket(w, timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (ssl.SSLError, ConnectionError):
            pass
        buf = b""
        while b"\r\n" not in buf:
            try:
                chunk = s.recv(4096)
            except (ssl.SSLError, ConnectionError):
                break
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    if not buf.startswith(b"HTTP/1."):
        return None
    return int(buf.split(b" ", 2)[1])


def head(method, path, extra=b"", user=b"u"):
    return (b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Remote-User: %s\r\n"
            % (method.encode(), path.encode(), user) + extra)


def serves(w):
    return w.request("GET", DISCOVERY)[0] == 200


# ------------------------------------------------------------ body, headers

@pytest.mark.parametrize("size,status", [
    (64 * 1024, None),          # at the cap: goes to the solver
    (64 * 1024 + 1, 413),
    (512 * 1024, 413),
])
def test_body_cap_64k(hook, size, status):
    got, _, raw = hook.request("POST", SOLVER, body=padded(size))
    if status is None:
        assert got in (200, 201, 400), got
    else:
        assert got == status
        doc = json.loads(raw)
        assert doc["reason"] == "RequestEntityTooLarge"
        assert "65536" in doc["message"]
    assert serves(hook)


@pytest.mark.parametrize("case,headers", [
    ("one huge header", {"X-Big": "x" * 70000}),
    ("many headers", {"X-H%d" % i: "y" * 100 for i in range(800)}),
    ("huge user header", {"X-Remote-Extra-Big": "z" * 70000}),
])
def test_header_cap(hook, case, headers):
    try:
        status = hook.request("GET", DISCOVERY, headers=headers)[0]
        assert status in (400, 413, 431), (case, status)
    except (ConnectionError, ssl.SSLError):
        pass  # cut off while still sending: as good
    assert serves(hook)


def test_long_url(hook):
    status = raw_exchange(hook, head("GET", "/" + "a" * 70000) + b"\r\n")
    assert status in (None, 400, 414, 431)
    assert serves(hook)


# -------------------------------------------------------------- slow clients

def dribble(w, data, interval=0.05, cert="front-proxy"):
    """Send @data a byte at a time; returns ("dropped", seconds) when the
    server closed the connection first, ("completed", seconds) when all of
    it went out (then the answer is read)."""
    start = time.monotonic()
    s = tls_socket(w, cert=cert, timeout=30)
    try:
        for i in range(len(data)):
            try:
                s.sendall(data[i:i + 1])
                r, _, _ = select.select([s], [], [], 0)
                if r and not s.recv(1):
                    return "dropped", time.monotonic() - start
            except (OSError, ssl.SSLError):
                return "dropped", time.monotonic() - start
            time.sleep(interval)
        return "completed", time.monotonic() - start
    finally:
        s.close()


SLOW = [
    # (case, bytes dribbled: each would take 300 * 0.05 = 15 s)
    ("headers", head("GET", DISCOVERY) + b"X-Pad: " + b"a" * 300),
    ("body", head("POST", SOLVER, b"Content-Type: application/json\r\n"
                  b"Content-Length: 400\r\n\r\n") + b'{"request":' +
     b" " * 300),
    ("chunked body", head("POST", SOLVER, b"Content-Type: application/json"
                          b"\r\nTransfer-Encoding: chunked\r\n\r\n") +
     b"1\r\n \r\n" * 60),
]


@pytest.mark.parametrize("case,data", SLOW, ids=[c[0] for c in SLOW])
def test_slow_client_dropped_while_others_served(hook, case, data):
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        dribble(hook, data))) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        # Meanwhile the others are served, by the same workers.
        served = 0
        while any(t.is_alive() for t in threads) and served < 200:
            assert serves(hook)
            assert hook.request("POST", SOLVER, body=present_body())[0] \
                in (200, 201, 400)
            served += 1
    finally:
        for t in threads:
            t.join(60)
    assert served > 0
    assert len(results) == 8
    for outcome, seconds in results:
        # Dropped before it could finish (15 s), i.e. by the read limit
        # and not by the 30 s idle timeout, which a dribble never meets.
        assert outcome == "dropped", (case, outcome, seconds)
    assert serves(hook)


def test_silent_connections_dropped(hook):
    """A TCP connection that never starts its TLS handshake, and a TLS
    connection that never sends a request: both closed by the server."""
    plain = socket.create_connection(("127.0.0.1", hook.port), timeout=20)
    tls = tls_socket(hook, timeout=20)
    try:
        assert plain.recv(1) == b""
        try:
            assert tls.recv(1) == b""
        except (ssl.SSLError, ConnectionError):
            pass
    finally:
        plain.close()
        tls.close()
    assert serves(hook)


def test_keepalive_connection_gets_a_fresh_window(hook):
    """The limit is per request: a kept-alive connection that sends one
    request at a normal pace now and then stays usable past the limit."""
    conn = hook.connection()
    try:
        for _ in range(3):
            assert hook.request("GET", DISCOVERY, conn=conn)[0] == 200
            time.sleep(READ_TIMEOUT * 0.6)
    finally:
        conn.close()


def test_connection_cap_and_recovery(hook):
    """Far more connections than the cap (256): the process holds no more
    sockets than that, and serves again once the idle ones are dropped."""
    socks = []
    try:
        for _ in range(400):
            try:
                socks.append(socket.create_connection(
                    ("127.0.0.1", hook.port), timeout=5))
            except OSError:
                break
        time.sleep(0.5)
        fds = len(os.listdir("/proc/%d/fd" % hook.proc.pid))
        assert fds < 256 + 64, fds
    finally:
        for s in socks:
            s.close()
    deadline = time.monotonic() + 30
    while True:
        try:
            if serves(hook):
                break
        except (OSError, ssl.SSLError):
            pass
        assert time.monotonic() < deadline, "not serving after the flood"
        time.sleep(0.2)
    assert hook.proc.poll() is None


# ------------------------------------------------------ malformed requests

RAW_MALFORMED = [
    # (case, raw request, acceptable statuses; None: closed, no answer)
    ("garbage request line", b"GARBAGE\r\n\r\n", {400, None}),
    ("unknown HTTP version", b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
     {400, 505, None}),
    ("header without a colon", head("GET", DISCOVERY, b"NoColonHere\r\n\r\n"),
     {400}),
    ("Content-Length not a number",
     head("POST", SOLVER, b"Content-Type: application/json\r\n"
          b"Content-Length: abc\r\n\r\n"), {400, 413}),
    ("negative Content-Length",
     head("POST", SOLVER, b"Content-Type: application/json\r\n"
          b"Content-Length: -5\r\n\r\n"), {400, 413}),
    ("huge Content-Length",
     head("POST", SOLVER, b"Content-Type: application/json\r\n"
          b"Content-Length: 99999999999999999999999\r\n\r\n"), {400, 413}),
    ("bad chunk size",
     head("POST", SOLVER, b"Content-Type: application/json\r\n"
          b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
     {400, None}),
    ("NUL in a header", head("GET", DISCOVERY, b"X-A: a\x00b\r\n\r\n"),
     {400, 200}),
    ("no Host on HTTP/1.1",
     b"GET /healthz HTTP/1.1\r\nX-Remote-User: u\r\n\r\n", {400}),
    ("absolute URI elsewhere",
     b"GET http://elsewhere.example/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
     {200, 400, 401, 404}),
]


@pytest.mark.parametrize("case,data,ok", RAW_MALFORMED,
                         ids=[c[0] for c in RAW_MALFORMED])
def test_malformed_raw_requests(hook, case, data, ok):
    status = raw_exchange(hook, data)
    assert status in ok, (case, status)
    assert serves(hook)
    assert hook.proc.poll() is None


BODIES = [
    ("empty", b""),
    ("not JSON", b"{nope"),
    ("JSON, not an object", b"[1, 2, 3]"),
    ("deep nesting", b"[" * 30000 + b"]" * 30000),
    ("deep objects", b'{"a":' * 10000 + b"1" + b"}" * 10000),
    ("invalid UTF-8", b'{"request": {"uid": "\xff\xfe"}}'),
    ("NUL escaped", b'{"request": {"uid": "a\\u0000b"}}'),
    ("raw NUL", b'{"request": {"uid": "a\x00b"}}'),
    ("duplicate keys", b'{"request": {}, "request": {}}'),
    ("trailing garbage", json.dumps(present_body()).encode() + b"}}"),
    ("number overflow", b'{"request": {"uid": 1e999999}}'),
    ("lone surrogate", b'{"request": {"uid": "\\ud800"}}'),
]


@pytest.mark.parametrize("case,body", BODIES, ids=[c[0] for c in BODIES])
def test_malformed_bodies_are_400(hook, case, body):
    status, _, raw = hook.request("POST", SOLVER, body=body)
    assert status == 400, (case, status, raw[:200])
    doc = json.loads(raw)
    assert doc["kind"] == "Status" and doc["reason"] == "BadRequest"
    assert doc["message"]
    assert serves(hook)


# --------------------------------------------------------------------- TLS

def handshake(w, **kw):
    """Handshake with an ssl context built from @kw; the negotiated
    (version, cipher) or None when refused."""
    ctx = w.context(cert=None)
    if "minimum" in kw:
        ctx.minimum_version = kw["minimum"]
    if "maximum" in kw:
        ctx.maximum_version = kw["maximum"]
    if "ciphers" in kw:
        ctx.set_ciphers(kw["ciphers"])
    try:
        with socket.create_connection(("127.0.0.1", w.port), timeout=10) \
                as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                return s.version(), s.cipher()[0]
    except (ssl.SSLError, ConnectionError):
        return None


TLS12 = dict(minimum=ssl.TLSVersion.TLSv1_2, maximum=ssl.TLSVersion.TLSv1_2)
TLS13 = dict(minimum=ssl.TLSVersion.TLSv1_3, maximum=ssl.TLSVersion.TLSv1_3)

TLS_CASES = [
    # (flags, client settings, negotiated version or None: refused)
    ([], dict(TLS12), "TLSv1.2"),
    ([], dict(TLS13), "TLSv1.3"),
    ([], dict(TLS12, ciphers="ECDHE-ECDSA-AES128-SHA"), None),  # CBC
    (["--tls-min-version", "VersionTLS13"], dict(TLS12), None),
    (["--tls-min-version", "VersionTLS13"], dict(TLS13), "TLSv1.3"),
    (["--tls-min-version", "VersionTLS12"], dict(TLS12), "TLSv1.2"),
    (["--tls-cipher-suites", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
     dict(TLS12, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256"), "TLSv1.2"),
    (["--tls-cipher-suites", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
     dict(TLS12, ciphers="ECDHE-ECDSA-AES256-GCM-SHA384"), None),
    (["--tls-cipher-suites", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
     dict(TLS12, ciphers="ECDHE-ECDSA-CHACHA20-POLY1305"), None),
    (["--tls-cipher-suites", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
     dict(TLS13), "TLSv1.3"),
    (["--tls-cipher-suites",
      " TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"
      "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305 ,TLS_AES_128_GCM_SHA256"],
     dict(TLS12, ciphers="ECDHE-ECDSA-CHACHA20-POLY1305"), "TLSv1.2"),
]


@pytest.mark.parametrize("flags,client,version", TLS_CASES)
def test_tls_settings(tmp_path, pki, flags, client, version):
    w = start_webhook(tmp_path, pki, args=flags)
    got = handshake(w, **client)
    if version is None:
        assert got is None, got
    else:
        assert got is not None and got[0] == version, got
    w.stop()


TLS_FLAG_ERRORS = [
    # (flags, every text the error must contain)
    (["--tls-cipher-suites", "TLS_FOO,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
      "BAR_BAZ"], ["unknown cipher suite", "'TLS_FOO'", "'BAR_BAZ'"]),
    (["--tls-cipher-suites", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,"
      "TLS_RSA_WITH_AES_128_GCM_SHA256"],
     ["'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'",
      "'TLS_RSA_WITH_AES_128_GCM_SHA256'", "not offered"]),
    (["--tls-cipher-suites", "TLS_AES_128_GCM_SHA256"],
     ["no TLS 1.2 suite"]),
    (["--tls-min-version", "VersionTLS11"], ["below TLS 1.2"]),
    (["--tls-min-version", "VersionTLS10"], ["below TLS 1.2"]),
    (["--tls-min-version", "TLS12"], ["'TLS12'", "VersionTLS12"]),
]


@pytest.mark.parametrize("flags,texts", TLS_FLAG_ERRORS)
def test_tls_flag_errors_stop_at_start(tmp_path, pki, flags, texts):
    with pytest.raises(WebhookStartError) as e:
        start_webhook(tmp_path, pki, args=flags)
    assert e.value.returncode == 2
    for t in texts:
        assert t in e.value.log, (t, e.value.log)


@pytest.mark.parametrize("flag,value", [
    ("--request-read-timeout", "soon"),
    ("--request-read-timeout", "0s"),
    ("--requestheader-reload-interval", "-1m"),
])
def test_limit_flag_errors(tmp_path, pki, flag, value):
    with pytest.raises(WebhookStartError) as e:
        start_webhook(tmp_path, pki, args=[flag, value])
    assert e.value.returncode == 2
    assert flag in e.value.log
