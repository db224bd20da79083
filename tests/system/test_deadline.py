"""One deadline per call, and the operator's limits on tenants (issue 15).

Each attack is bounded in count and time and asserts what must hold: the
call answers before its 25 s deadline (cert-manager gives up at 34 s) with
a message that says what it was waiting for; a host name's addresses are
capped at 4; silent Kerberos KDCs cost one attempt's timeout, not the
library's own retries; a FIFO planted as a key file fails at once;
--allowed-nameservers refuses before any DNS traffic and names the list;
a tenant reads "did not answer DNS" whatever the port did, while the
webhook's log and the CLI keep the cause.

Fixtures: webhook.py (pki, start_webhook, challenge), fakedns.py
(blackhole_dns, FakeDns, fake_answer), kube.py (kube), krb.py (Kdc).

The many-address host name comes from /etc/hosts seen by the webhook
alone: `unshare -m` (`-rm` when not root) gives it a private mount
namespace where a test hosts file is bound over /etc/hosts; the machine's
file is never touched (likewise resolv.conf for a resolver that never
answers).
"""
import base64
import json
import os
import socket
import subprocess
import time

import pytest

from dnsservers import ZONE, free_port, unique_fqdn
from fakedns import FakeDns, fake_answer
from krb import PRINCIPAL, REALM, SERVICE_HOST, Kdc
from webhook import challenge, start_webhook

NS = "cert-manager"
DEADLINE = 25.0  # the solver's budget per call (s)
MARGIN = 2.0  # HTTP, TLS and scheduling on a loaded machine (s)
BINARY = os.environ.get("RFC2136_WEBHOOK", "build/rfc2136-webhook")


def solve(wh, fqdn, cfg, action="Present", value="v"):
    """One solver call; returns (response, seconds it took)."""
    t0 = time.monotonic()
    status, _, body = wh.request("POST", wh.solver_path,
                                 challenge(action, fqdn, ZONE, value, cfg),
                                 timeout=40)
    took = time.monotonic() - t0
    assert status == 201, body
    return json.loads(body)["response"], took


def failure(wh, fqdn, cfg):
    resp, took = solve(wh, fqdn, cfg)
    assert not resp["success"], resp
    return resp["status"]["message"], took


def start_dir(tmp_path, pki, files=None, args=(), env=None):
    """The webhook with a --secrets-dir tree: files maps (ns, name, key)
    to bytes, or to None for a FIFO."""
    root = tmp_path / "secrets"
    root.mkdir(exist_ok=True)
    for (ns, name, key), value in (files or {}).items():
        d = root / ns / name
        d.mkdir(parents=True, exist_ok=True)
        if value is None:
            os.mkfifo(d / key)
        else:
            (d / key).write_bytes(value)
    return start_webhook(tmp_path, pki, args=[
        "--secrets-dir", str(root)] + list(args), env=env)


# ------------------------------------------------- many-address host name

def private_file_wrapper(tmp_path, target, source):
    """A wrapper running the webhook with @source bound over @target
    (/etc/hosts, /etc/resolv.conf) in its own mount namespace: the
    machine's file is not changed.  Skips where mount namespaces are not
    available (unprivileged containers)."""
    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    probe = subprocess.run(unshare + [
        "sh", "-c", 'mount --bind "$0" "$1"', str(source), target],
        capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no private mount namespace (%s): %s" % (
            " ".join(unshare),
            probe.stderr.decode(errors="replace").strip()))
    wrapper = tmp_path / ("webhook-private-" + os.path.basename(target))
    wrapper.write_text(
        "#!/bin/sh\n"
        "exec %s sh -c 'mount --bind \"$0\" %s && exec \"$@\"' %s %s "
        "\"$@\"\n" % (" ".join(unshare), target, source,
                       os.path.abspath(BINARY)))
    wrapper.chmod(0o755)
    return str(wrapper)


def private_hosts_wrapper(tmp_path, lines):
    """The webhook with @lines added to its /etc/hosts."""
    hosts = tmp_path / "hosts"
    with open("/etc/hosts") as f:
        base = f.read()
    hosts.write_text(base.rstrip("\n") + "\n" + "\n".join(lines) + "\n")
    return private_file_wrapper(tmp_path, "/etc/hosts", hosts)


def test_lookup_that_never_answers_within_deadline(tmp_path, pki,
                                                   monkeypatch):
    """Four nameserver names whose lookup never answers (the resolver's
    server takes the query and stays silent; measured before: 30.1 s with
    resolv.conf's default retries, more with longer ones): the call ends
    within its deadline and says it waited for the name resolution."""
    if os.geteuid() != 0:
        pytest.skip("a silent resolver needs port 53 (root)")
    silent = "127.0.0.77"
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        udp.bind((silent, 53))
        tcp.bind((silent, 53))
        tcp.listen(16)
        conf = tmp_path / "resolv.conf"
        conf.write_text("nameserver %s\noptions timeout:30 attempts:5\n"
                        % silent)
        monkeypatch.setenv("RFC2136_WEBHOOK", private_file_wrapper(
            tmp_path, "/etc/resolv.conf", conf))
        wh = start_dir(tmp_path, pki)
        names = ["ns%d.never.deadline.test" % i for i in range(4)]
        msg, took = failure(wh, unique_fqdn("lookup"),
                            {"nameservers": names, "timeout": "60s"})
        assert took < DEADLINE + MARGIN, (took, msg)
        assert "while waiting for the name resolution of %s" % names[0] \
            in msg, msg
        assert "3 more nameserver(s) not tried" in msg, msg
        assert wh.stop() == 0
    finally:
        udp.close()
        tcp.close()


def silent_sockets(addrs):
    """UDP sockets bound to @addrs on one free port, never read: each
    address is silent (no ICMP port unreachable)."""
    for _ in range(20):
        port = free_port()
        socks = []
        try:
            for a in addrs:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((a, port))
            return port, socks
        except OSError:
            for s in socks:
                s.close()
    raise RuntimeError("no common free port for %d addresses" % len(addrs))


def test_many_addresses_capped_within_deadline(tmp_path, pki, monkeypatch):
    """A nameserver host name with 16 silent addresses and timeout 60s
    (measured before: 199.95 s): only the first 4 are tried, the call ends
    within its deadline, and the message notes the cap and names what the
    deadline cut short."""
    addrs = ["127.0.0.%d" % i for i in range(2, 18)]
    name = "many.deadline.test"
    monkeypatch.setenv("RFC2136_WEBHOOK", private_hosts_wrapper(
        tmp_path, ["%s %s" % (a, name) for a in addrs]))
    port, socks = silent_sockets(addrs)
    try:
        wh = start_dir(tmp_path, pki)
        msg, took = failure(wh, unique_fqdn("many"),
                            {"nameserver": "%s:%d" % (name, port),
                             "timeout": "60s"})
        assert took < DEADLINE + MARGIN, (took, msg)
        assert "%s has 16 addresses; only the first 4 were tried" % name \
            in msg, msg
        assert "the call's deadline passed at %s (" % name in msg, msg
        assert "while waiting for an answer over UDP" in msg, msg
        # Exactly four addresses saw a query.
        asked = 0
        for s in socks:
            s.setblocking(False)
            try:
                s.recv(4096)
                asked += 1
            except BlockingIOError:
                pass
        assert asked == 4, asked
        assert "nameserver addresses capped" in wh.log()
        assert wh.stop() == 0
    finally:
        for s in socks:
            s.close()


# --------------------------------------------- truncated, then silent TCP

def test_truncated_at_end_of_budget_then_silent_tcp(tmp_path, pki):
    """UDP answers TC=1 just before the deadline, TCP never answers
    (measured before: 49.0 s, the retry had a fresh timeout): the retry
    gets what is left, and the message says the TCP retry was cut."""
    def handle(msg, tcp):
        if tcp:
            return None
        time.sleep(DEADLINE - 2.0)
        return fake_answer(msg, tc=True)

    fake = FakeDns(handle)
    try:
        wh = start_dir(tmp_path, pki)
        msg, took = failure(wh, unique_fqdn("tc-late"),
                            {"nameserver": fake.addr, "timeout": "60s"})
        assert took < DEADLINE + MARGIN, (took, msg)
        assert fake.udp_queries
        assert "the call's deadline passed at %s while waiting for an " \
            "answer over TCP (the retry after a truncated UDP answer)" \
            % fake.addr in msg, msg
        assert wh.stop() == 0
    finally:
        fake.close()


# ------------------------------------------------------------ the CLI

def test_cli_present_within_deadline(blackhole_dns):
    """The CLI has the same budget: eight silent nameservers at the
    default 5 s per attempt (40 s before) end within 25 s, the last wait
    named, with the hint for a command out of budget."""
    args = [BINARY, "present", "--zone", ZONE,
            "--fqdn", "_acme-challenge." + ZONE, "--value", "v"]
    for _ in range(8):
        args += ["--nameserver", blackhole_dns.addr]
    t0 = time.monotonic()
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    took = time.monotonic() - t0
    assert took < DEADLINE + MARGIN, (took, r.stderr)
    assert r.returncode == 1, r
    assert "the call's deadline passed at %s while waiting for an answer " \
        "over UDP" % blackhole_dns.addr in r.stderr, r.stderr
    assert "hint: the whole command may take 25000 ms" in r.stderr, r.stderr
    assert len(blackhole_dns.udp_queries) == 8


# ------------------------------------------- the Kubernetes API's share

def test_slow_secret_read_counts_toward_the_deadline(tmp_path, pki, kube,
                                                     blackhole_dns):
    """A Secret read that takes 8 s, then a silent nameserver with timeout
    60s: the DNS wait gets only what the API call left, so the call still
    ends within its deadline."""
    kube.add_secret(NS, "tsig", {"secret": base64.b64encode(os.urandom(32))})
    kube.set_behavior(r"/secrets/tsig$", delay=8)
    wh = start_webhook(tmp_path, pki, args=[
        "--kubeconfig", kube.kubeconfig(tmp_path / "kubeconfig"),
        "--authorization-mode", "AllowAuthenticated"])
    msg, took = failure(wh, unique_fqdn("slowapi"), {
        "nameserver": blackhole_dns.addr, "timeout": "60s",
        "tsigKeyName": "k", "tsigAlgorithm": "hmac-sha256",
        "tsigSecretSecretRef": {"name": "tsig", "key": "secret"}})
    assert 8.0 <= took < DEADLINE + MARGIN, (took, msg)
    assert "the call's deadline passed at %s while waiting for an answer " \
        "over UDP" % blackhole_dns.addr in msg, msg
    assert blackhole_dns.udp_queries
    assert wh.stop() == 0


# ---------------------------------------------------------- silent KDCs

@pytest.fixture(scope="module")
def keytab_realm():
    """A realm database only for the client's keytab; its KDC never
    runs: the webhook's krb5.conf points at a silent port instead."""
    k = Kdc()
    try:
        k.add_principal(PRINCIPAL)
        k.acme_keytab = k.keytab(PRINCIPAL)
        yield k
    finally:
        k.destroy()


def test_silent_kdc_costs_one_attempt(tmp_path, pki, keytab_realm,
                                      blackhole_dns):
    """GSS-TSIG whose KDC takes UDP and TCP but never answers, with
    timeout 2s (measured before: 53.2 s): each call fails within the
    attempt's time, naming the KDC, and the webhook still serves."""
    conf = keytab_realm.write_krb5_conf(
        blackhole_dns.port, path=str(tmp_path / "silent-krb5.conf"))
    with open(keytab_realm.acme_keytab, "rb") as f:
        keytab = f.read()
    env = {"KRB5_CONFIG": "", "KRB5_KDC_PROFILE": "",
           "KRB5CCNAME": "MEMORY:none",
           "KRB5RCACHEDIR": str(tmp_path)}
    wh = start_dir(tmp_path, pki, {(NS, "acme-keytab", "keytab"): keytab},
                   args=["--krb5-config", conf], env=env)
    cfg = {"nameserver": blackhole_dns.addr, "timeout": "2s",
           "gssTSIG": {"principal": "acme", "realm": REALM,
                       "serviceHost": SERVICE_HOST,
                       "keytabSecretRef": {"name": "acme-keytab",
                                           "key": "keytab"}}}
    # The second call finds the first one's Kerberos step still stuck.
    for i in range(2):
        msg, took = failure(wh, unique_fqdn("kdc%d" % i), cfg)
        assert took < 2.0 + MARGIN + 2.0, (took, msg)
        assert "the Kerberos KDC for %s cannot be reached" % PRINCIPAL \
            in msg, msg
        assert "no answer from the KDC within the attempt's 2000 ms" \
            in msg, msg
    # No DNS message was sent: the KDC never gave a ticket.
    assert blackhole_dns.tcp_queries == []
    status, _, _ = wh.request("GET", "/healthz", cert=None, user=None)
    assert status == 200
    assert wh.stop() == 0


# ----------------------------------------------------------- FIFO files

def test_fifo_key_file_fails_fast(tmp_path, pki, blackhole_dns):
    """A FIFO as a Secret's key in --secrets-dir: the call fails at once
    with a clear message (the worker is not stuck until someone writes),
    and the next call is served."""
    wh = start_dir(tmp_path, pki, {(NS, "fifo", "secret"): None})
    cfg = {"nameserver": blackhole_dns.addr, "tsigKeyName": "k",
           "tsigAlgorithm": "hmac-sha256",
           "tsigSecretSecretRef": {"name": "fifo", "key": "secret"}}
    for _ in range(3):
        msg, took = failure(wh, unique_fqdn("fifo"), cfg)
        assert took < MARGIN, (took, msg)
        assert "Secret %s/fifo key 'secret'" % NS in msg, msg
        assert "is not a regular file" in msg, msg
    assert blackhole_dns.udp_queries == []
    status, _, _ = wh.request("GET", "/healthz", cert=None, user=None)
    assert status == 200
    assert wh.stop() == 0


def test_fifo_key_file_cli(tmp_path, blackhole_dns):
    """The same for the CLI's --key-file."""
    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    r = subprocess.run([BINARY, "present", "--nameserver", blackhole_dns.addr,
                        "--zone", ZONE, "--fqdn", "_acme-challenge." + ZONE,
                        "--value", "v", "--key-file", str(fifo),
                        "--tsig-key-name", "k", "--tsig-algorithm",
                        "hmac-sha256"],
                       capture_output=True, text=True, timeout=20)
    assert time.monotonic() - t0 < MARGIN
    assert r.returncode == 1, r
    assert "%s is not a regular file" % fifo in r.stderr, r.stderr
    assert blackhole_dns.udp_queries == []


# ----------------------------------------------------- allowed nameservers

ALLOWED = "10.0.0.0/8, ns1.allowed.test,2001:db8::/32"


def test_allowed_nameservers_refuse_before_dns(tmp_path, pki,
                                               blackhole_dns):
    """--allowed-nameservers: a literal outside the CIDRs, or a host name
    the list does not name, is refused before any DNS traffic, and the
    message names the list."""
    wh = start_dir(tmp_path, pki, args=["--allowed-nameservers", ALLOWED])
    for ns in (blackhole_dns.addr, "localhost:%d" % blackhole_dns.port,
               "[::ffff:127.0.0.1]:%d" % blackhole_dns.port):
        msg, took = failure(wh, unique_fqdn("deny"), {"nameserver": ns})
        assert took < MARGIN, (took, msg)
        assert "is not allowed" in msg, msg
        assert "(--allowed-nameservers %s)" % ALLOWED in msg, msg
    assert blackhole_dns.udp_queries == []
    assert blackhole_dns.tcp_queries == []
    assert wh.stop() == 0


def test_allowed_nameservers_let_listed_through(tmp_path, pki,
                                                blackhole_dns):
    """A literal inside a CIDR and a host name the list names are used
    (and then every address the name resolves to)."""
    wh = start_dir(tmp_path, pki, args=[
        "--allowed-nameservers", "127.0.0.0/8,LOCALHOST."])
    for ns in (blackhole_dns.addr, "localhost:%d" % blackhole_dns.port):
        msg, _ = failure(wh, unique_fqdn("allow"),
                         {"nameserver": ns, "timeout": "500ms"})
        assert "is not allowed" not in msg, msg
        assert "did not answer DNS" in msg, msg
    assert blackhole_dns.udp_queries
    assert wh.stop() == 0


@pytest.mark.parametrize("bad, why", [
    ("10.0.0.0/33", "the prefix length must be 0 to 32"),
    ("ns1.example.test:53", "no port"),
    ("", "the list is empty"),
    ("bad_name", "not a CIDR, an address or a host name"),
])
def test_allowed_nameservers_bad_flag(tmp_path, pki, bad, why):
    """A malformed list stops serve at start with the entry and why."""
    r = subprocess.run([BINARY, "serve", "--allowed-nameservers", bad],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2, r
    assert "--allowed-nameservers" in r.stderr and why in r.stderr, r.stderr


# ------------------------------------------------------ tenant's message

def test_tenant_reads_no_port_scan_oracle(tmp_path, pki, blackhole_dns):
    """Refused (nothing listens), never accepted (TCP black hole) and
    silent (UDP black hole): the tenant reads the same "did not answer
    DNS" for each; the webhook's log and the CLI keep the cause."""
    closed = "127.0.0.1:%d" % free_port()
    wh = start_dir(tmp_path, pki)
    cases = [({"nameserver": closed}, "refused the connection"),
             ({"nameserver": closed, "protocol": "TCP"},
              "refused the connection"),
             ({"nameserver": blackhole_dns.addr, "timeout": "500ms"},
              "no answer from")]
    for cfg, cause in cases:
        msg, _ = failure(wh, unique_fqdn("oracle"), cfg)
        assert "%s did not answer DNS" % cfg["nameserver"] in msg, msg
        for word in ("refused", "reset", "closed", "no answer within",
                     "unreachable"):
            assert word not in msg, (word, msg)
        assert cause in wh.log()
    assert wh.stop() == 0
    r = subprocess.run([BINARY, "present", "--nameserver", closed,
                        "--zone", ZONE, "--fqdn", "_acme-challenge." + ZONE,
                        "--value", "v"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "refused the connection" in r.stderr, r.stderr
