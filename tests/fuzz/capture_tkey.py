"""Capture real TKEY answers (RFC 2930, RFC 3645) from BIND as seeds for
fuzz_tkey: a real MIT KDC and a Kerberos-secured named (tests/system/krb.py),
and the CLI run through a TCP relay that writes every answer to a TKEY
query, as named sent it, to a file.

    python3 tests/fuzz/capture_tkey.py build/rfc2136-webhook \
        tests/fuzz/corpus/tkey

Runs `present` and `cleanup` (a negotiation each: named's final answer with
its GSS-API token, signed with the new context; and the TKEY delete at
exit), and `present` with a service principal whose key named holds in an
older version (named answers the TKEY query with an error).
"""
import os
import socket
import struct
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "system"))
from dnsservers import ZONE, unique_fqdn  # noqa: E402
from krb import PRINCIPAL, REALM, SERVICE_HOST, GssBind, Kdc, krb_env  # noqa: E402

STALE_HOST = "ns2.example.test"
TKEY = 249


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def qtype(msg):
    """The type of the first question, or None."""
    if len(msg) < 12 or struct.unpack("!H", msg[4:6])[0] == 0:
        return None
    pos = 12
    while pos < len(msg) and msg[pos] != 0:
        if msg[pos] & 0xC0:
            return None
        pos += 1 + msg[pos]
    if pos + 3 > len(msg):
        return None
    return struct.unpack("!H", msg[pos + 1:pos + 3])[0]


class Relay:
    """TCP on a loopback port to named's, keeping the answers to TKEY
    queries (DNS over TCP: each message after its 2-byte length)."""

    def __init__(self, target):
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.answers = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.sock.accept()
            server = socket.create_connection(self.target)
            threading.Thread(target=self.pipe, args=(client, server, False),
                             daemon=True).start()
            threading.Thread(target=self.pipe, args=(server, client, True),
                             daemon=True).start()

    def pipe(self, src, dst, answers):
        try:
            while True:
                head = read_exact(src, 2)
                msg = head and read_exact(src, struct.unpack("!H", head)[0])
                if not msg:
                    break
                if answers and qtype(msg) == TKEY:
                    self.answers.append(msg)
                dst.sendall(head + msg)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def main():
    tool, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    kdc = Kdc()
    named = None
    try:
        for name in (PRINCIPAL, "DNS/%s@%s" % (SERVICE_HOST, REALM),
                     "DNS/%s@%s" % (STALE_HOST, REALM)):
            kdc.add_principal(name)
        kdc.start()
        server_kt = kdc.path("named.keytab")
        for host in (SERVICE_HOST, STALE_HOST):
            kdc.kadmin("ktadd -k %s -norandkey DNS/%s@%s" % (server_kt, host,
                                                             REALM))
        # A new key at the KDC: named's copy of ns2's is stale.
        kdc.kadmin("cpw -randkey DNS/%s@%s" % (STALE_HOST, REALM))
        keytab = kdc.keytab(PRINCIPAL)
        named = GssBind(kdc, server_kt)
        named.start()
        relay = Relay(named.addr)
        fqdn = unique_fqdn("tkey")
        runs = [("present", SERVICE_HOST), ("cleanup", SERVICE_HOST),
                ("present", STALE_HOST)]
        for cmd, host in runs:
            before = len(relay.answers)
            r = subprocess.run(
                [tool, cmd, "--nameserver", relay.addr, "--zone", ZONE,
                 "--gss-principal", PRINCIPAL, "--gss-service-host", host,
                 "--gss-keytab", keytab, "--fqdn", fqdn, "--value", "v",
                 "--no-verify"], env=krb_env(kdc), capture_output=True,
                timeout=60, text=True)
            if host == SERVICE_HOST and r.returncode != 0:
                raise SystemExit("%s failed: %s" % (cmd, r.stderr))
            for i, msg in enumerate(relay.answers[before:]):
                path = os.path.join(out, "bind-%s-%s-%d" % (
                    cmd, host.split(".")[0], i))
                with open(path, "wb") as f:
                    f.write(msg)
                print("%s: %d bytes" % (path, len(msg)))
    finally:
        if named is not None:
            named.stop()
        kdc.destroy()


if __name__ == "__main__":
    main()
