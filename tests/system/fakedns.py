"""Stand-in DNS servers that misbehave on purpose, as pytest fixtures.

This module is a contract other test modules rely on; keep the API below
stable (conftest.py star-imports it).  Each stand-in listens on 127.0.0.1
on a free port (UDP and TCP on the same port), serves from a thread, and
is closed when the test ends.

Fixtures (function scope):

  truncating_dns(upstream=None, tcp=True) -> FakeDns
      Factory.  Answers every UDP query with TC=1 (header, question
      copied, no records), which must make a client retry over TCP.  Over
      TCP it forwards each message unchanged to ``upstream`` (a DnsServer
      from dnsservers.py, or a (host, port) tuple) over TCP and returns
      the real answer, so a signed UPDATE really lands there; without an
      upstream it answers NOERROR itself (unsigned, no records).
      tcp=False: nothing listens on TCP (the retry is refused).
  blackhole_dns -> FakeDns
      A bound UDP socket that reads and never answers, and a TCP listener
      that never accepts: every attempt times out.
  rcode_dns(rcode) -> FakeDns
      Factory.  Answers every query (UDP and TCP) with ``rcode``
      (e.g. 5 REFUSED, 2 SERVFAIL), unsigned, no records.
  proxy_dns(upstream, rule=None) -> FakeDns
      Factory.  Forwards every message to ``upstream`` over the transport
      it came on and relays the answer, except where
      ``rule(msg, tcp, n)`` (n: how many messages came before) says:
        "forward"  (or None) relay as usual
        "lose"     forward, but drop the answer (the update is applied,
                   the client never hears: a lost UDP answer)
        "ignore"   neither forward nor answer
        bytes      answer with these bytes instead
      Helpers for rules: msg_opcode(msg) (0 QUERY, 5 UPDATE),
      msg_qtype(msg), fake_answer(msg, rcode=0, tc=False),
      fake_signed_answer(msg, key_name, ...), with_id(answer, id).
      A rule may also return a list: each item (bytes, or "forward" for
      the upstream's answer) is sent, in order.
  slow_dns(delay, upstream=None) -> FakeDns
      Factory.  Answers every message after ``delay`` seconds (from a
      timer, so later messages are not held up): the real answer of
      ``upstream`` (forwarded at once, so an UPDATE lands there before the
      late answer), or NOERROR itself without an upstream.

FakeDns(handle, accept=True, tcp=True): @handle(msg, tcp) returns the
answer bytes, a list of them (sent in order), or None for silence;
accept=False never accepts TCP connections (they hang); tcp=False listens
on UDP only, so a TCP connection is refused.

FakeDns attributes:
  host "127.0.0.1", port (int), addr "127.0.0.1:PORT"
  udp_queries  list of raw UDP messages received (bytes)
  tcp_queries  list of raw TCP messages received (bytes, length stripped)
  close()      stop serving (done for you at teardown)

A test proves a TCP retry happened by asserting ``fake.udp_queries`` and
``fake.tcp_queries`` are both non-empty (and, with an upstream, that the
record is now served by the real server).
"""
import os
import selectors
import socket
import struct
import threading
import time

import pytest

from dnsservers import free_port

__all__ = ["FakeDns", "truncating_dns", "blackhole_dns", "rcode_dns",
           "proxy_dns", "slow_dns", "fake_answer", "fake_signed_answer",
           "with_id", "msg_opcode", "msg_qtype"]


def _question_end(msg):
    """Offset just after the first question (zone) entry, or 12."""
    (qd,) = struct.unpack("!H", msg[4:6])
    off = 12
    if qd == 0:
        return off
    while off < len(msg):
        n = msg[off]
        if n & 0xC0 == 0xC0:
            off += 2
            break
        off += 1 + n
        if n == 0:
            break
    return min(off + 4, len(msg))


def msg_opcode(msg):
    """The OPCODE of a message (0 QUERY, 5 UPDATE)."""
    return (struct.unpack("!H", msg[2:4])[0] >> 11) & 0xF


def msg_qtype(msg):
    """The type of the first question (zone section: SOA for UPDATE)."""
    end = _question_end(msg)
    return struct.unpack("!H", msg[end - 4:end - 2])[0] if end > 16 else 0


def fake_answer(query, rcode=0, tc=False):
    """An unsigned answer to @query: same ID, opcode and first question."""
    if len(query) < 12:
        return None
    qid, qflags = struct.unpack("!HH", query[:4])
    qd = min(struct.unpack("!H", query[4:6])[0], 1)
    flags = 0x8000 | (qflags & 0x7800) | 0x0400 | (rcode & 0xF)
    if tc:
        flags |= 0x0200
    return struct.pack("!HHHHHH", qid, flags, qd, 0, 0, 0) + \
        query[12:_question_end(query)]


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def with_id(answer, qid):
    """@answer with its message ID replaced by @qid."""
    return struct.pack("!H", qid & 0xFFFF) + answer[2:]


def fake_signed_answer(query, key_name, algorithm="hmac-sha256", rcode=0,
                       mac=None, error=0, time_signed=None):
    """A forged answer to @query carrying a TSIG record (RFC 8945 4.2)
    for key @key_name whose MAC is @mac (default: 32 random bytes), so
    it looks signed but cannot verify."""
    ans = fake_answer(query, rcode)
    if ans is None:
        return None
    if mac is None:
        mac = os.urandom(32)
    if time_signed is None:
        time_signed = int(time.time())
    qid = struct.unpack("!H", query[:2])[0]
    rdata = (_encode_name(algorithm) +
             struct.pack("!HIH", time_signed >> 32,
                         time_signed & 0xFFFFFFFF, 300) +
             struct.pack("!H", len(mac)) + mac +
             struct.pack("!HHH", qid, error, 0))
    rr = (_encode_name(key_name) + struct.pack("!HHIH", 250, 255, 0,
                                               len(rdata)) + rdata)
    return ans[:10] + struct.pack("!H", 1) + ans[12:] + rr


class FakeDns:
    """A loopback UDP+TCP listener; @handle(msg, tcp) returns the answer
    bytes, a list of them, or None for silence.  @accept=False never
    accepts TCP; @tcp=False has no TCP listener at all (refused)."""

    host = "127.0.0.1"

    def __init__(self, handle, accept=True, tcp=True):
        self.handle = handle
        self.udp_queries = []
        self.tcp_queries = []
        self.port = free_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((self.host, self.port))
        self.tcp = None
        if tcp:
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.tcp.bind((self.host, self.port))
            self.tcp.listen(16)
        self.accept = accept and tcp
        self._stop = threading.Event()
        self._threads = []
        self._conns = []
        t = threading.Thread(target=self._loop, daemon=True)
        t.start()
        self._threads.append(t)

    @property
    def addr(self):
        return "%s:%d" % (self.host, self.port)

    def _loop(self):
        sel = selectors.DefaultSelector()
        sel.register(self.udp, selectors.EVENT_READ)
        if self.accept:
            sel.register(self.tcp, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                for k, _ in sel.select(0.05):
                    if k.fileobj is self.udp:
                        msg, peer = self.udp.recvfrom(65535)
                        self.udp_queries.append(msg)
                        self._udp_peer = peer
                        for ans in _answers(self.handle(msg, False)):
                            self.udp.sendto(ans, peer)
                    else:
                        conn, _ = self.tcp.accept()
                        self._conns.append(conn)
                        t = threading.Thread(target=self._tcp_conn,
                                             args=(conn,), daemon=True)
                        t.start()
                        self._threads.append(t)
        finally:
            sel.close()

    def _tcp_conn(self, conn):
        conn.settimeout(0.1)
        buf = b""
        try:
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(65535)
                except socket.timeout:
                    continue
                if not chunk:
                    return
                buf += chunk
                while len(buf) >= 2:
                    (n,) = struct.unpack("!H", buf[:2])
                    if len(buf) < 2 + n:
                        break
                    msg, buf = buf[2:2 + n], buf[2 + n:]
                    self.tcp_queries.append(msg)
                    for ans in _answers(self.handle(msg, True)):
                        conn.sendall(struct.pack("!H", len(ans)) + ans)
        except OSError:
            return
        finally:
            conn.close()

    def close(self):
        self._stop.set()
        for t in self._threads:
            t.join(2)
        for s in [self.udp, self.tcp] + self._conns:
            if s is not None:
                s.close()

    def __repr__(self):
        return "<FakeDns %s>" % self.addr


def _answers(ans):
    """What a handler returned, as a list of messages to send."""
    if ans is None:
        return []
    if isinstance(ans, (list, tuple)):
        return [a for a in ans if a is not None]
    return [ans]


def _forward_tcp(upstream, msg, timeout=5.0):
    if hasattr(upstream, "port"):
        upstream = (upstream.host, upstream.port)
    with socket.create_connection(upstream, timeout=timeout) as s:
        s.sendall(struct.pack("!H", len(msg)) + msg)
        hdr = b""
        while len(hdr) < 2:
            chunk = s.recv(2 - len(hdr))
            if not chunk:
                return None
            hdr += chunk
        (n,) = struct.unpack("!H", hdr)
        body = b""
        while len(body) < n:
            chunk = s.recv(n - len(body))
            if not chunk:
                return None
            body += chunk
        return body


def _forward_udp(upstream, msg, timeout=5.0):
    if hasattr(upstream, "port"):
        upstream = (upstream.host, upstream.port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect(upstream)
        s.send(msg)
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


class _Factory:
    def __init__(self):
        self.made = []

    def keep(self, fake):
        self.made.append(fake)
        return fake

    def close(self):
        for f in self.made:
            f.close()


@pytest.fixture
def truncating_dns():
    fac = _Factory()

    def make(upstream=None, tcp=True):
        def handle(msg, tcp):
            if not tcp:
                return fake_answer(msg, tc=True)
            if upstream is None:
                return fake_answer(msg)
            return _forward_tcp(upstream, msg)
        return fac.keep(FakeDns(handle, tcp=tcp))

    yield make
    fac.close()


@pytest.fixture
def blackhole_dns():
    fake = FakeDns(lambda msg, tcp: None, accept=False)
    yield fake
    fake.close()


@pytest.fixture
def rcode_dns():
    fac = _Factory()

    def make(rcode):
        return fac.keep(FakeDns(lambda msg, tcp: fake_answer(msg, rcode)))

    yield make
    fac.close()


@pytest.fixture
def proxy_dns():
    fac = _Factory()

    def make(upstream, rule=None):
        seen = [0]

        def handle(msg, tcp):
            n = seen[0]
            seen[0] += 1
            what = rule(msg, tcp, n) if rule else None
            if isinstance(what, (list, tuple)):
                fwd = _forward_tcp if tcp else _forward_udp
                return [fwd(upstream, msg) if w == "forward" else w
                        for w in what]
            if isinstance(what, bytes):
                return what
            if what == "ignore":
                return None
            ans = (_forward_tcp if tcp else _forward_udp)(upstream, msg)
            return None if what == "lose" else ans
        return fac.keep(FakeDns(handle))

    yield make
    fac.close()


class _SlowDns(FakeDns):
    """Answers each message @delay seconds late, from a timer."""

    def __init__(self, delay, upstream):
        self.delay = delay
        self.upstream = upstream
        self._timers = []
        super().__init__(lambda msg, tcp: None)
        self.handle = self._handle

    def _handle(self, msg, tcp):
        if self.upstream is None:
            ans = fake_answer(msg)
        else:
            ans = (_forward_tcp if tcp else _forward_udp)(self.upstream,
                                                          msg)
        if ans is None:
            return None
        if tcp:
            # The TCP thread of this connection may wait: only this
            # client is held up, as with a real slow server.
            time.sleep(self.delay)
            return ans
        peer = self._udp_peer
        t = threading.Timer(self.delay, self._send_late, (ans, peer))
        t.daemon = True
        self._timers.append(t)
        t.start()
        return None

    def _send_late(self, ans, peer):
        try:
            self.udp.sendto(ans, peer)
        except OSError:
            pass

    def close(self):
        for t in self._timers:
            t.cancel()
        super().close()


@pytest.fixture
def slow_dns():
    fac = _Factory()

    def make(delay, upstream=None):
        return fac.keep(_SlowDns(delay, upstream))

    yield make
    fac.close()
