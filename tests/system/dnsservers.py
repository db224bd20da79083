"""Real authoritative DNS servers (Knot, BIND, PowerDNS) on loopback.

This module is a contract other test modules rely on; keep the API below
stable (conftest.py star-imports it).

Fixtures (session scope, one server of each kind per pytest session, started
on first use, stopped by PID at the end of the session):

  knot        Knot DNS     ``knotd -c DIR/knot.conf``
  bind        BIND         ``named -g -n 1 -c DIR/named.conf``
  pdns        PowerDNS     ``pdns_server --config-dir=DIR`` (gsqlite3 backend)
  dns_server  parametrized over the three (test ids "knot", "bind", "pdns")

Each fixture yields a ``DnsServer``:

  kind     "knot" | "bind" | "pdns"
  host     "127.0.0.1"
  port     int: the same port on 127.0.0.1 and ::1, UDP and TCP
  addr     "127.0.0.1:PORT"
  addr6    "[::1]:PORT"
  zone     "example.test." (SOA, NS ns1, ns1 A 127.0.0.1; dynamic updates on)
  keys     dict name -> Key(name, algorithm, secret); name without the final
           dot, algorithm canonical ("hmac-sha256"), secret base64 text.
           Fresh random secrets every session:
             "acme256"    hmac-sha256, may update TXT anywhere in the zone
             "acme512"    hmac-sha512, may update TXT anywhere in the zone
             "restricted" hmac-sha256, may update TXT only at
                          RESTRICTED_FQDN ("_acme-challenge.restricted.
                          example.test."); Knot (acl update-owner: name,
                          update-owner-match: equal) and BIND (update-policy
                          grant ... name ... TXT) only.  PowerDNS can restrict
                          names only with a Lua update policy, which answers
                          a denied update NOERROR and drops the record, so
                          "restricted" is NOT in pdns.keys (and not known to
                          that server at all).
  tmpdir   the server's fresh temporary directory (removed at the end)
  pid      the server process id
  txt(name) -> list[str]
           TXT values the server serves at ``name`` now (unsigned UDP query,
           each RR's character-strings joined); [] for NXDOMAIN/NODATA.
  query(name, qtype, tcp=False, ipv6=False) -> Answer   (see dns_query)
  log() -> str
           everything the server wrote to stdout/stderr, also after it
           stopped: put ``srv.log()[-3000:]`` into assertion messages.

Functions:

  unique_fqdn(prefix="t") -> "_acme-challenge.<prefix>-<random>.example.test."
           a fresh name, so tests sharing a server never collide.
  dns_query(host, port, name, qtype, tcp=False, timeout=2.0) -> Answer
           a plain DNS query in pure Python (struct-packed, no library).
           Answer: rcode, aa, tc, flags, answers (list of RR(name, type,
           ttl, rdata bytes)), txt (list of str for TXT RRs).
  key_text(key, fmt) -> str
           the key in a file format people have: "bind" (tsig-keygen
           block), "private" (K*.private body; name it with
           private_file_name(key)), "knot" ("alg:name:secret"), "bare"
           (just the secret).
  private_file_name(key) -> "K<name>.+<alg number>+<id>.private"

Servers run as the invoking user, all state in their temporary directory,
logs to a file there (read into memory when they stop).  Readiness is an
SOA query polled until it answers, never a sleep.
"""
import base64
import collections
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import tempfile
import time

import pytest

__all__ = [
    "Key", "Answer", "RR", "DnsServer", "ZONE", "RESTRICTED_FQDN",
    "unique_fqdn", "dns_query", "key_text", "private_file_name",
    "free_port", "knot", "bind", "pdns", "dns_server",
]

ZONE = "example.test."
RESTRICTED_FQDN = "_acme-challenge.restricted.example.test."
READY_TIMEOUT = 20.0  # seconds until a server must answer SOA
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL

Key = collections.namedtuple("Key", "name algorithm secret")
RR = collections.namedtuple("RR", "name type ttl rdata")

ZONE_FILE = """$ORIGIN example.test.
$TTL 300
@       SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60
@       NS  ns1.example.test.
ns1     A   127.0.0.1
"""

# ---------------------------------------------------------------- queries

QTYPE = {"A": 1, "NS": 2, "SOA": 6, "TXT": 16, "AAAA": 28}


class Answer:
    """A parsed DNS answer (only what the tests need)."""

    def __init__(self, msg):
        (self.id, self.flags, qd, an, _ns, _ar) = struct.unpack(
            "!HHHHHH", msg[:12])
        self.rcode = self.flags & 0xF
        self.aa = bool(self.flags & 0x0400)
        self.tc = bool(self.flags & 0x0200)
        self.qr = bool(self.flags & 0x8000)
        off = 12
        for _ in range(qd):
            _, off = _read_name(msg, off)
            off += 4
        self.answers = []
        for _ in range(an):
            name, off = _read_name(msg, off)
            rtype, _cls, ttl, rdlen = struct.unpack("!HHIH",
                                                    msg[off:off + 10])
            off += 10
            self.answers.append(RR(name, rtype, ttl, msg[off:off + rdlen]))
            off += rdlen

    @property
    def txt(self):
        """Each TXT RR's character-strings joined, as text."""
        out = []
        for rr in self.answers:
            if rr.type != QTYPE["TXT"]:
                continue
            data, i, parts = rr.rdata, 0, []
            while i < len(data):
                n = data[i]
                parts.append(data[i + 1:i + 1 + n])
                i += 1 + n
            out.append(b"".join(parts).decode("utf-8", "backslashreplace"))
        return out

    def __repr__(self):
        return "Answer(rcode=%d, aa=%s, tc=%s, answers=%r)" % (
            self.rcode, self.aa, self.tc, self.answers)


def _read_name(msg, off):
    labels, jumped, end = [], False, off
    for _ in range(128):  # bounded: compression loops end here
        n = msg[off]
        if n & 0xC0 == 0xC0:
            ptr = ((n & 0x3F) << 8) | msg[off + 1]
            if not jumped:
                end = off + 2
            jumped, off = True, ptr
            continue
        if n == 0:
            if not jumped:
                end = off + 1
            return ".".join(labels) + ".", end
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    raise ValueError("name compression loop")


def encode_name(name):
    """Wire form of a domain name (absolute or not)."""
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode("ascii")
            out += bytes([len(raw)]) + raw
    return out + b"\0"


def build_query(name, qtype, qid=None):
    """An unsigned query for name/qtype with RD clear."""
    if qid is None:
        qid = secrets.randbits(16)
    if isinstance(qtype, str):
        qtype = QTYPE[qtype]
    return struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + \
        encode_name(name) + struct.pack("!HH", qtype, 1)


def dns_query(host, port, name, qtype, tcp=False, timeout=2.0):
    """Send one query to host:port and return the parsed Answer.

    Raises socket.timeout / OSError when nothing comes back.
    """
    q = build_query(name, qtype)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if tcp:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect((host, port))
            s.sendall(struct.pack("!H", len(q)) + q)
            n = struct.unpack("!H", _recv_exact(s, 2))[0]
            msg = _recv_exact(s, n)
    else:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.connect((host, port))
            s.send(q)
            while True:
                msg = s.recv(65535)
                if msg[:2] == q[:2]:
                    break
    ans = Answer(msg)
    if not ans.qr:
        raise ValueError("answer without QR from %s:%d" % (host, port))
    return ans


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed after %d of %d bytes"
                                  % (len(buf), n))
        buf += chunk
    return buf


# ------------------------------------------------------------------- keys

ALG_NUMBER = {"hmac-md5": 157, "hmac-sha1": 161, "hmac-sha224": 162,
              "hmac-sha256": 163, "hmac-sha384": 164, "hmac-sha512": 165}


def new_key(name, algorithm):
    """A fresh random key; the secret is as long as the hash output."""
    size = 64 if algorithm == "hmac-sha512" else 32
    return Key(name, algorithm,
               base64.b64encode(os.urandom(size)).decode("ascii"))


def key_text(key, fmt):
    """The key written in one of the formats people have."""
    if fmt == "bind":
        return 'key "%s" {\n\talgorithm %s;\n\tsecret "%s";\n};\n' % (
            key.name, key.algorithm, key.secret)
    if fmt == "private":
        num = ALG_NUMBER[key.algorithm]
        return ("Private-key-format: v1.3\n"
                "Algorithm: %d (%s)\n"
                "Key: %s\n"
                "Bits: AAA=\n"
                "Created: 20190101000000\n"
                "Publish: 20190101000000\n"
                "Activate: 20190101000000\n"
                % (num, key.algorithm.upper().replace("-", "_"),
                   key.secret))
    if fmt == "knot":
        return "%s:%s:%s\n" % (key.algorithm, key.name, key.secret)
    if fmt == "bare":
        return key.secret + "\n"
    raise ValueError("unknown key format %r" % fmt)


def private_file_name(key):
    return "K%s.+%03d+%05d.private" % (key.name, ALG_NUMBER[key.algorithm],
                                       12345)


def unique_fqdn(prefix="t"):
    """A fresh _acme-challenge name inside ZONE."""
    return "_acme-challenge.%s-%s.%s" % (prefix, secrets.token_hex(5), ZONE)


# ---------------------------------------------------------------- servers

def stop_process(proc, grace=STOP_GRACE):
    """SIGTERM to @proc (a Popen, or None), SIGKILL if it has not exited
    after @grace seconds; returns once it is reaped."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port():
    """A port free for UDP and TCP on both 127.0.0.1 and ::1."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        socks = []
        try:
            for fam, host in ((socket.AF_INET, "127.0.0.1"),
                              (socket.AF_INET6, "::1")):
                for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(fam, typ)
                    socks.append(s)
                    s.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port on 127.0.0.1 and ::1")


class DnsServer:
    """One authoritative server process in its own temporary directory."""

    kind = None
    zone = ZONE
    host = "127.0.0.1"

    def __init__(self, extra_keys=()):
        """extra_keys: more Key()s, each allowed to update TXT anywhere
        in the zone like acme256 (tests that need many keys on one
        server)."""
        self.tmpdir = tempfile.mkdtemp(prefix="rfc2136-%s-" % self.kind)
        self.keys = {
            "acme256": new_key("acme256", "hmac-sha256"),
            "acme512": new_key("acme512", "hmac-sha512"),
            "restricted": new_key("restricted", "hmac-sha256"),
        }
        for k in extra_keys:
            self.keys[k.name] = k
        self.proc = None
        self.port = None
        self._logfile = os.path.join(self.tmpdir, "server.log")
        self._log = ""

    # Filled by each kind: write the configuration for self.port, return
    # the command line.
    def configure(self):
        raise NotImplementedError

    @property
    def addr(self):
        return "%s:%d" % (self.host, self.port)

    @property
    def addr6(self):
        return "[::1]:%d" % self.port

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def path(self, *parts):
        return os.path.join(self.tmpdir, *parts)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)

    def log(self):
        if self.proc is not None:
            try:
                with open(self._logfile, errors="replace") as f:
                    return f.read()
            except OSError:
                pass
        return self._log

    def query(self, name, qtype, tcp=False, ipv6=False, timeout=3.0):
        return dns_query("::1" if ipv6 else self.host, self.port, name,
                         qtype, tcp=tcp, timeout=timeout)

    def txt(self, name):
        ans = self.query(name, "TXT")
        assert ans.rcode in (0, 3), "%s: TXT %s: rcode %d" % (
            self.kind, name, ans.rcode)
        return ans.txt

    def start(self):
        """Start on a free port (a few tries: the port may be taken
        between choosing and binding) and wait until SOA answers."""
        last = None
        for _ in range(3):
            self.port = free_port()
            cmd = self.configure()
            logf = open(self._logfile, "ab")
            try:
                self.proc = subprocess.Popen(
                    cmd, cwd=self.tmpdir, stdin=subprocess.DEVNULL,
                    stdout=logf, stderr=subprocess.STDOUT)
            finally:
                logf.close()
            try:
                self._wait_ready()
                return self
            except RuntimeError as e:
                last = e
                self._kill()
        self.stop()
        raise last

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        pending = [("127.0.0.1", False), ("::1", False), ("127.0.0.1", True)]
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %d before answering:\n%s"
                                   % (self.kind, self.proc.returncode,
                                      self.log()[-3000:]))
            host, tcp = pending[0]
            try:
                ans = dns_query(host, self.port, self.zone, "SOA", tcp=tcp,
                                timeout=0.2)
                if ans.rcode == 0 and ans.aa and ans.answers:
                    pending.pop(0)
                    continue
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("%s did not answer SOA on %s port %d "
                                   "within %gs:\n%s"
                                   % (self.kind, host, self.port,
                                      READY_TIMEOUT, self.log()[-3000:]))
            time.sleep(0.02)

    def _kill(self):
        """SIGTERM by PID, SIGKILL after STOP_GRACE; keep the log."""
        if self.proc is None:
            return
        stop_process(self.proc)
        self._log = self.log()
        self.proc = None

    def stop(self):
        self._kill()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __repr__(self):
        return "<%s %s>" % (self.kind, self.addr if self.port else "-")


def knot_head(d, port, server="", listen=None):
    """knot.conf's server, log, database and control sections as every
    test's knotd has them: files in @d (its run/ and db/ must exist),
    @port on 127.0.0.1 and ::1 (or @listen, the listen value), logs to
    stderr; @server (whole lines) goes into the server section."""
    if listen is None:
        listen = "[ 127.0.0.1@%d, ::1@%d ]" % (port, port)
    return f"""server:
    rundir: "{d}/run"
    listen: {listen}
{server}log:
  - target: stderr
    any: info
database:
    storage: "{d}/db"
control:
    listen: "{d}/run/knot.sock"
"""


class KnotServer(DnsServer):
    kind = "knot"

    def configure(self):
        d = self.tmpdir
        for sub in ("run", "db", "zones"):
            os.makedirs(self.path(sub), exist_ok=True)
        self.write("zones/example.test.zone", ZONE_FILE)
        k = self.keys
        keys = "\n".join("  - id: %s\n    algorithm: %s\n    secret: %s"
                         % (x.name, x.algorithm, x.secret)
                         for x in k.values())
        workers = ("    udp-workers: 2\n    tcp-workers: 2\n"
                   "    background-workers: 1\n")
        self.write("knot.conf", knot_head(d, self.port, workers) + f"""\
key:
{keys}
acl:
  - id: acme_update
    key: [ {", ".join(n for n in k if n != "restricted")} ]
    action: update
    update-type: [ TXT ]
  - id: restricted_update
    key: restricted
    action: update
    update-type: [ TXT ]
    update-owner: name
    update-owner-match: equal
    update-owner-name: [ {RESTRICTED_FQDN} ]
zone:
  - domain: example.test
    storage: "{d}/zones"
    file: "example.test.zone"
    zonefile-sync: -1
    acl: [ acme_update, restricted_update ]
""")
        return ["knotd", "-c", self.path("knot.conf")]


def named_options(d, port, extra=""):
    """named.conf's options and controls statements as every test's named
    has them: files in @d, @port on 127.0.0.1 and ::1, authoritative only,
    no NOTIFY, no rndc; @extra (whole lines) goes inside options."""
    return f"""options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 port {port} {{ ::1; }};
    recursion no;
    dnssec-validation no;
    notify no;
{extra}}};
controls {{ }};
"""


class BindServer(DnsServer):
    kind = "bind"

    def configure(self):
        d = self.tmpdir
        self.write("example.test.zone", ZONE_FILE)
        for name in ("example.test.zone.jnl",):
            if os.path.exists(self.path(name)):
                os.unlink(self.path(name))
        keys = "".join('key "%s" { algorithm %s; secret "%s"; };\n'
                       % (k.name, k.algorithm, k.secret)
                       for k in self.keys.values())
        grants = "\n        ".join("grant %s zonesub TXT;" % n
                                    for n in self.keys if n != "restricted")
        self.write("named.conf", keys + named_options(d, self.port) + f"""\
zone "example.test" {{
    type primary;
    file "example.test.zone";
    update-policy {{
        {grants}
        grant restricted name {RESTRICTED_FQDN} TXT;
    }};
}};
""")
        return ["named", "-g", "-n", "1", "-c", self.path("named.conf")]


PDNS_SCHEMA = "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql"


class PdnsServer(DnsServer):
    kind = "pdns"

    def __init__(self, extra_keys=()):
        super().__init__(extra_keys)
        # No name-restricted policy without Lua (see the module docstring).
        del self.keys["restricted"]

    def configure(self):
        d = self.tmpdir
        db = self.path("pdns.sqlite3")
        if not os.path.exists(db):
            with open(PDNS_SCHEMA) as f:
                schema = f.read()
            con = sqlite3.connect(db)
            try:
                con.executescript(schema)
                con.execute("INSERT INTO domains (id, name, type) "
                            "VALUES (1, 'example.test', 'NATIVE')")
                con.executemany(
                    "INSERT INTO records (domain_id, name, type, content, "
                    "ttl, prio, disabled, auth) "
                    "VALUES (1, ?, ?, ?, 300, 0, 0, 1)",
                    [("example.test", "SOA", "ns1.example.test "
                      "hostmaster.example.test 1 3600 600 86400 60"),
                     ("example.test", "NS", "ns1.example.test"),
                     ("ns1.example.test", "A", "127.0.0.1")])
                for k in self.keys.values():
                    con.execute("INSERT INTO tsigkeys (name, algorithm, "
                                "secret) VALUES (?, ?, ?)",
                                (k.name, k.algorithm, k.secret))
                    con.execute("INSERT INTO domainmetadata (domain_id, "
                                "kind, content) VALUES "
                                "(1, 'TSIG-ALLOW-DNSUPDATE', ?)", (k.name,))
                con.execute("INSERT INTO domainmetadata (domain_id, kind, "
                            "content) VALUES "
                            "(1, 'SOA-EDIT-DNSUPDATE', 'INCREASE')")
                con.commit()
            finally:
                con.close()
        self.write("pdns.conf", f"""launch=gsqlite3
gsqlite3-database={db}
local-address=127.0.0.1, ::1
local-port={self.port}
socket-dir={d}
daemon=no
guardian=no
disable-syslog=yes
loglevel=6
dnsupdate=yes
allow-dnsupdate-from=127.0.0.0/8,::1/128
security-poll-suffix=
webserver=no
api=no
receiver-threads=1
distributor-threads=1
""")
        return ["pdns_server", "--config-dir=" + d]


def _serve(cls):
    srv = cls().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def knot():
    yield from _serve(KnotServer)


@pytest.fixture(scope="session")
def bind():
    yield from _serve(BindServer)


@pytest.fixture(scope="session")
def pdns():
    yield from _serve(PdnsServer)


@pytest.fixture(scope="session", params=["knot", "bind", "pdns"])
def dns_server(request):
    return request.getfixturevalue(request.param)
