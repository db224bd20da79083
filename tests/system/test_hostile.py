"""The webhook under hostile load (issue 15), each attack bounded in count
and time, each test asserting what must still hold meanwhile and after:

- an idle-connection flood from one client address: kubelet's probes and
  kube-apiserver (other addresses) are still answered within 1 s, the
  process holds no more than --max-connections-per-client of the flood,
  and its descriptors come back to their level;
- a TLS handshake dripped a byte at a time, and a finished handshake with
  no request: closed by --tls-handshake-timeout and
  --first-request-timeout, not by the 30 s idle timeout;
- 24 silent Presents from one namespace whose clients hang up after 2 s:
  another namespace's Present is served in its normal time, a discovery
  that needs a SubjectAccessReview is answered within 1 s, the namespace
  beyond its share is told "too many concurrent challenges from namespace
  X", and the descriptors come back to their level once the abandoned
  calls reach their next step;
- metric label flooding (distinct closed ports, forged RCODE and TSIG
  error): one namespace makes at most 8 label sets, no forged number
  becomes a label value, another namespace keeps its own, unused sets
  expire (--metrics-label-ttl);
- Expect: 100-continue without credentials gets the 401 directly;
- unauthenticated requests are logged only from --v 2 and counted always;
- core dumps are off unless --allow-core-dumps.

Source addresses: the loopback is 127.0.0.0/8, so a client socket bound to
127.0.0.2 is another client address for the server's per-address limit.

Fixtures: pki, start_webhook, challenge (webhook.py), kube (kube.py),
blackhole_dns, rcode_dns, proxy_dns (fakedns.py).
"""
import http.client
import json
import os
import re
import select
import socket
import ssl
import threading
import time

import pytest

from fakedns import FakeDns, fake_answer, fake_signed_answer
from webhook import DEFAULT_GROUP, WebhookStartError, challenge, start_webhook

DISCOVERY = "/apis/%s/v1alpha1" % DEFAULT_GROUP
SOLVER = DISCOVERY + "/rfc2136"
FLOOD_ADDR = "127.0.0.2"
PER_CLIENT = 64  # --max-connections-per-client default
ZONE = "example.test."
# The webhook is not dumpable (against core dumps), which keeps its
# /proc/PID/fd from every user but root: as another user, let it be.
FD_READABLE = [] if os.geteuid() == 0 else ["--allow-core-dumps"]


def fd_count(w):
    return len(os.listdir("/proc/%d/fd" % w.proc.pid))


def port_fds(w):
    """How many of the process's descriptors are connections to its
    secure port (from /proc/PID/fd and /proc/net/tcp*, the listening
    socket left out)."""
    inodes = set()
    d = "/proc/%d/fd" % w.proc.pid
    for name in os.listdir(d):
        try:
            link = os.readlink(os.path.join(d, name))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                port = int(fields[1].rsplit(":", 1)[1], 16)
                if port == w.port and fields[3] != "0A" and \
                        fields[9] in inodes:
                    n += 1
    return n


def wait_fds(w, level, timeout, count=fd_count):
    """Wait until count(w) is at most @level."""
    deadline = time.monotonic() + timeout
    while True:
        n = count(w)
        if n <= level:
            return n
        assert time.monotonic() < deadline, \
            "descriptors stay at %d, above %d" % (n, level)
        time.sleep(0.1)


def connect_from(src, port, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def probe(w, path="/healthz"):
    """One kubelet-style probe (no certificate, 1 s timeout); seconds."""
    start = time.monotonic()
    status, _, _ = w.request("GET", path, cert=None, user=None, groups=(),
                             timeout=1)
    assert status == 200
    return time.monotonic() - start


def timed(fn, *args, **kw):
    start = time.monotonic()
    result = fn(*args, **kw)
    return result, time.monotonic() - start


def client_hello():
    """The bytes of a real TLS ClientHello."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def closed_by_server(s, timeout):
    """Seconds until the server closes @s (reads EOF or an error)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        r, _, _ = select.select([s], [], [], 0.1)
        if r:
            try:
                if s.recv(4096) == b"":
                    return time.monotonic() - start
            except OSError:
                return time.monotonic() - start
    return None


# ------------------------------------------------------------- connections

def test_idle_connection_flood_from_one_address(tmp_path, pki):
    """300 idle connections from one address, held and reopened for 8 s
    as the server drops them: probes and kube-apiserver are answered
    within 1 s throughout, the flood holds at most its per-client share,
    and the descriptors come back to their level."""
    w = start_webhook(tmp_path, pki, args=FD_READABLE)
    base = fd_count(w)
    stop = threading.Event()
    held = []
    opened = [0]

    def flood():
        while not stop.is_set():
            while len(held) < 300 and not stop.is_set():
                try:
                    held.append(connect_from(FLOOD_ADDR, w.port, 2))
                    opened[0] += 1
                except OSError:
                    break
            # Reconnect what the server closed, as the attack did.
            r, _, _ = select.select(held, [], [], 0.1) if held else \
                ([], [], [])
            for s in r:
                try:
                    s.recv(1)
                except OSError:
                    pass
                s.close()
                held.remove(s)

    t = threading.Thread(target=flood)
    t.start()
    try:
        worst = 0.0
        end = time.monotonic() + 8
        while time.monotonic() < end:
            worst = max(worst, probe(w), probe(w, "/readyz"))
            status, secs = timed(lambda: w.request("GET", DISCOVERY,
                                                   timeout=1)[0])
            assert status == 200
            worst = max(worst, secs)
            assert fd_count(w) <= base + PER_CLIENT + 8
            time.sleep(0.2)
        assert worst < 1.0, worst
    finally:
        stop.set()
        t.join(30)
        for s in held:
            s.close()
    assert opened[0] > 300  # the server did close and the flood reopen
    wait_fds(w, base + 2, 10)
    w.stop()


def test_handshake_drip_dropped_by_the_handshake_deadline(tmp_path, pki):
    """8 ClientHellos dripped a byte every 0.2 s from one address (each
    would take over a minute): all closed by the 5 s default handshake
    deadline, while probes from elsewhere are answered."""
    w = start_webhook(tmp_path, pki, args=["--v", "2"])
    hello = client_hello()
    assert len(hello) > 100
    results = []

    def drip():
        s = connect_from("127.0.0.3", w.port)
        start = time.monotonic()
        try:
            for i in range(len(hello)):
                try:
                    s.sendall(hello[i:i + 1])
                except OSError:
                    break
                if closed_by_server(s, 0.2) is not None:
                    break
            results.append(time.monotonic() - start)
        finally:
            s.close()

    threads = [threading.Thread(target=drip) for _ in range(8)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        assert probe(w) < 1.0
        time.sleep(0.2)
    for t in threads:
        t.join()
    assert len(results) == 8
    for secs in results:
        assert 4.0 < secs < 7.5, results
    assert "the TLS handshake was not done in time" in w.log()
    w.stop()


def test_first_request_deadline(tmp_path, pki):
    """With --tls-handshake-timeout 1s --first-request-timeout 3s: a
    finished handshake is not cut at 1 s, and a connection that sends no
    request after it is closed about 3 s after the accept."""
    w = start_webhook(tmp_path, pki, args=[
        "--tls-handshake-timeout", "1s", "--first-request-timeout", "3s",
        "--v", "2"])
    raw = socket.create_connection(("127.0.0.1", w.port), timeout=10)
    start = time.monotonic()
    s = w.context().wrap_socket(raw, server_hostname="127.0.0.1")
    try:
        # TLS 1.3 session tickets may come first: read until EOF.
        while True:
            try:
                if s.recv(4096) == b"":
                    break
            except (ssl.SSLError, ConnectionError):
                break
        secs = time.monotonic() - start
    finally:
        s.close()
    assert 2.5 < secs < 5.0, secs
    log = w.wait_log(lambda t: "no request arrived in time" in t)
    assert "flag=--first-request-timeout" in log


@pytest.mark.parametrize("args,text", [
    (["--max-connections-per-client", "256"], "must be below"),
    (["--max-connections", "64", "--max-connections-per-client", "64"],
     "must be below"),
    (["--max-connections", "two"], "--max-connections"),
    (["--tls-handshake-timeout", "never"], "--tls-handshake-timeout"),
    (["--tls-handshake-timeout", "8s", "--first-request-timeout", "4s"],
     "must not be shorter"),
    (["--max-challenges-per-namespace", "0"],
     "--max-challenges-per-namespace"),
    (["--metrics-label-ttl", "0s"], "--metrics-label-ttl"),
])
def test_limit_flags_checked(tmp_path, pki, args, text):
    with pytest.raises(WebhookStartError) as e:
        start_webhook(tmp_path, pki, args=args)
    assert e.value.returncode == 2
    assert text in e.value.log, e.value.log


# --------------------------------------------------------------- isolation

def raw_present(w, body, hang_up_after):
    """POST @body and hang up after @hang_up_after s without an answer;
    returns the answer's JSON if one came first, else None."""
    conn = http.client.HTTPSConnection("127.0.0.1", w.port,
                                       context=w.context(),
                                       timeout=hang_up_after)
    data = json.dumps(body).encode()
    try:
        conn.request("POST", SOLVER, body=data, headers={
            "Content-Type": "application/json",
            "X-Remote-User": "system:serviceaccount:cert-manager:x"})
        resp = conn.getresponse()
        return json.loads(resp.read())
    except (socket.timeout, TimeoutError):
        return None
    finally:
        conn.close()


def test_silent_presents_from_one_namespace(tmp_path, pki, kube,
                                            blackhole_dns, rcode_dns):
    """24 Presents from namespace tenant-a to a silent nameserver (8 s per
    attempt), their clients hanging up after 2 s.  Meanwhile tenant-b's
    Present to a working server succeeds in its normal time, and a
    discovery that needs a SubjectAccessReview (a user never seen) is
    answered within 1 s; tenant-a beyond its share is told so at once;
    after the hang-ups the descriptors come back to their level by the
    abandoned calls' next step."""
    # --coalesce-window 0: each running call holds its own socket to the
    # silent server, which the descriptor counts below rely on (with
    # coalescing, the calls after the first would share one message).
    w = start_webhook(tmp_path, pki, args=[
        "--kubeconfig", kube.kubeconfig(tmp_path / "kubeconfig"),
        "--authorization-mode", "SubjectAccessReview", "--v", "2",
        "--coalesce-window", "0", "--max-challenges-per-namespace", "4"] +
        FD_READABLE)
    # A fake that answers NOERROR and serves nothing: verify: False.
    working = rcode_dns(0)
    # Reviews of the cert-manager user are cached from here on.
    assert w.request("GET", DISCOVERY)[0] == 200
    base = port_fds(w)
    silent = {"nameserver": blackhole_dns.addr, "timeout": "8s"}
    answers = []
    threads = [threading.Thread(target=lambda i=i: answers.append(
        raw_present(w, challenge("Present", "_acme-challenge.a%d.%s" %
                                 (i, ZONE), ZONE, "v%d" % i,
                                 config=silent, ns="tenant-a"), 2)))
        for i in range(24)]
    for t in threads:
        t.start()
    try:
        # The four running calls are at the silent server.
        deadline = time.monotonic() + 5
        while len(blackhole_dns.udp_queries) < 4:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert port_fds(w) >= 4  # the measure below sees them
        for i in range(3):
            status, secs = timed(lambda: w.request(
                "GET", DISCOVERY, user="system:kube-aggregator-%d" % i,
                timeout=5)[0])
            assert status == 200
            assert secs < 1.0, secs
        body = challenge("Present", "_acme-challenge.b." + ZONE, ZONE, "vb",
                         config={"nameserver": working.addr, "verify": False}, ns="tenant-b")
        (status, _, raw), secs = timed(w.request, "POST", SOLVER, body=body,
                                       timeout=10)
        assert status == 201
        assert json.loads(raw)["response"]["success"], raw
        assert secs < 2.0, secs
    finally:
        for t in threads:
            t.join(30)
    refused = [a for a in answers if a is not None]
    assert refused, "no Present of tenant-a was refused at once"
    for a in refused:
        msg = a["response"]["status"]["message"]
        assert "too many concurrent challenges from namespace tenant-a" \
            in msg, msg
    assert len(blackhole_dns.udp_queries) <= 8  # only the share ran
    # Abandoned: every worker is free by the end of its 8 s attempt, and
    # the connections of the clients that hung up are closed.  (The
    # review workers' own API connections are theirs to keep.)
    assert base == 0
    wait_fds(w, 0, 12, count=port_fds)
    assert "request abandoned: the client hung up" in w.log()
    # And the pool serves again, tenant-a included.
    body = challenge("Present", "_acme-challenge.a." + ZONE, ZONE, "va",
                     config={"nameserver": working.addr, "verify": False}, ns="tenant-a")
    status, _, raw = w.request("POST", SOLVER, body=body, timeout=10)
    assert status == 201 and json.loads(raw)["response"]["success"], raw
    w.stop()


# ----------------------------------------------------------------- metrics

def scrape(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        assert resp.status == 200
        return resp.read().decode()
    finally:
        conn.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_udp_ports(n):
    """@n loopback ports where nothing listens (bound, then closed)."""
    ports = []
    for _ in range(n):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    return ports


def test_metric_label_flooding(tmp_path, pki, rcode_dns):
    """tenant-a sends Presents to 15 closed ports and to a server that
    forges RCODE 12 and TSIG error 28160: at most 8 label sets are its,
    no forged number is a label value, tenant-b's nameserver keeps a
    series of its own; unused series expire after --metrics-label-ttl."""
    secrets = tmp_path / "secrets"
    (secrets / "tenant-a" / "tsig").mkdir(parents=True)
    (secrets / "tenant-a" / "tsig" / "secret").write_text(
        "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=")
    mport = free_port()
    w = start_webhook(tmp_path, pki, args=[
        "--secrets-dir", str(secrets),
        "--metrics-bind-address", "127.0.0.1:%d" % mport,
        "--metrics-label-ttl", "3s"])
    forger = FakeDns(lambda msg, tcp: fake_signed_answer(
        msg, "k.", rcode=9, error=28160))
    forger12 = FakeDns(lambda msg, tcp: fake_answer(msg, 12))
    try:
        signed = {"tsigKeyName": "k.", "tsigAlgorithm": "hmac-sha256",
                  "tsigSecretSecretRef": {"name": "tsig", "key": "secret"}}
        targets = ["127.0.0.1:%d" % p for p in closed_udp_ports(15)]
        targets += [forger.addr, forger12.addr]
        for i, ns in enumerate(targets):
            body = challenge("Present", "_acme-challenge.m%d.%s" % (i, ZONE),
                             ZONE, "v", config=dict(signed, nameserver=ns),
                             ns="tenant-a")
            status, _, raw = w.request("POST", SOLVER, body=body, timeout=30)
            assert status == 201
            assert not json.loads(raw)["response"]["success"]
        # NOERROR, serves nothing: verify: False.
        good = rcode_dns(0)
        body = challenge("Present", "_acme-challenge.b." + ZONE, ZONE, "v",
                         config={"nameserver": good.addr, "verify": False}, ns="tenant-b")
        status, _, raw = w.request("POST", SOLVER, body=body)
        assert json.loads(raw)["response"]["success"], raw
        text = scrape(mport)
    finally:
        forger.close()
        forger12.close()
    series = re.findall(r'^rfc2136_webhook_dns_updates_total\{([^}]*)\}',
                        text, re.M)
    mine = [s for s in series if 'server="127.0.0.1:' in s and
            good.addr not in s]
    assert 0 < len(mine) <= 8, series
    assert any(good.addr in s for s in series), series
    assert any('server="other"' in s for s in series), series
    for s in series:
        for value in re.findall(r'(?:rcode|tsig_error)="([^"]*)"', s):
            assert not value.isdigit(), s
    assert "28160" not in text
    # Unused for the TTL: the series end.
    deadline = time.monotonic() + 10
    while any(t in scrape(mport) for t in targets + [good.addr]):
        assert time.monotonic() < deadline, scrape(mport)
        time.sleep(0.5)
    w.stop()


# ---------------------------------------------------- authentication edges

def raw_tls(w, cert):
    raw = socket.create_connection(("127.0.0.1", w.port), timeout=10)
    return w.context(cert).wrap_socket(raw, server_hostname="127.0.0.1")


def first_status_line(s):
    buf = b""
    while b"\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf.split(b"\r\n", 1)[0].decode()


EXPECT = (b"POST " + SOLVER.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          b"X-Remote-User: u\r\nContent-Type: application/json\r\n"
          b"Content-Length: 2\r\nExpect: 100-continue\r\n\r\n")


@pytest.mark.parametrize("cert,status", [
    (None, "401"),           # no credentials: the refusal, no 100
    ("front-proxy", "100"),  # authenticated: go ahead
])
def test_expect_100_continue(tmp_path, pki, cert, status):
    w = start_webhook(tmp_path, pki)
    s = raw_tls(w, cert)
    try:
        s.sendall(EXPECT)
        line = first_status_line(s)
    finally:
        s.close()
    assert line.split(" ")[1] == status, line


@pytest.mark.parametrize("verbosity,logged", [("0", False), ("2", True)])
def test_unauthenticated_logged_from_v2_counted_always(tmp_path, pki,
                                                       verbosity, logged):
    mport = free_port()
    w = start_webhook(tmp_path, pki, args=[
        "--v", verbosity, "--metrics-bind-address", "127.0.0.1:%d" % mport])
    for _ in range(5):
        assert w.request("GET", DISCOVERY, cert=None)[0] == 401
    text = scrape(mport)
    assert re.search(r'^rfc2136_webhook_authentication_denials_total'
                     r'\{reason="no_certificate"\} 5$', text, re.M), text
    log = w.log()
    assert ("status=401" in log) == logged, log
    assert ("authentication failed" in log) == logged, log


# ------------------------------------------------------------- core dumps

def core_limit(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max core file size"):
                return line.split()[4]
    raise AssertionError("no core limit in /proc/%d/limits" % pid)


def hard_core_limit():
    with open("/proc/self/limits") as f:
        for line in f:
            if line.startswith("Max core file size"):
                return line.split()[5]
    raise AssertionError("no core limit")


def test_core_dumps_off_unless_asked(tmp_path, pki):
    w = start_webhook(tmp_path, pki)
    assert core_limit(w.proc.pid) == "0"
    w.stop()
    w = start_webhook(tmp_path, pki, args=["--allow-core-dumps"])
    assert core_limit(w.proc.pid) == hard_core_limit()
    assert "core dumps are on" in w.log()


def test_expect_100_continue_denied_by_review(tmp_path, pki, kube):
    """A refusal that needs a SubjectAccessReview (the connection waits
    for a worker) is sent instead of a 100 Continue as well."""
    kube.sar_policy = lambda spec: (False, "not this one")
    w = start_webhook(tmp_path, pki, args=[
        "--kubeconfig", kube.kubeconfig(tmp_path / "kubeconfig"),
        "--authorization-mode", "SubjectAccessReview"])
    s = raw_tls(w, "front-proxy")
    try:
        s.sendall(EXPECT)
        line = first_status_line(s)
    finally:
        s.close()
    assert line.split(" ")[1] == "403", line
