"""Capture real answers from Knot, BIND and PowerDNS to the fuzzers' fixed
request (tests/fuzz/dns_request.h) as seeds for fuzz_dns_answer.

    python3 tests/fuzz/capture_seeds.py build/fuzz-tools/capture_answer \
        tests/fuzz/corpus/dns_answer

Each server starts (tests/system/dnsservers.py) with key acme256 set to the
fuzzers' fixed secret, so signed NOERROR answers verify inside the fuzzer.
Per server: signed add, a signed and an unsigned TXT query while the value
is there, signed delete, an unsigned update (refused), a wrong secret
(BADSIG), an unknown key (BADKEY) and a clock an hour off (BADTIME).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "system"))
from dnsservers import BindServer, Key, KnotServer, PdnsServer  # noqa: E402

FUZZ_SECRET = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
OTHER_SECRET = "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8="
SIGNED, DELETE, QUERY = 1, 2, 4

CASES = [  # (name, mode, extra capture_answer arguments)
    ("add-signed", SIGNED, []),
    ("query-signed", SIGNED | QUERY, []),
    ("query-unsigned", QUERY, []),
    ("delete-signed", SIGNED | DELETE, []),
    ("query-after-delete", QUERY, []),
    ("add-unsigned", 0, []),
    ("badsig", SIGNED, ["0", "acme256", OTHER_SECRET]),
    ("badkey", SIGNED, ["0", "nosuchkey", OTHER_SECRET]),
    ("badtime", SIGNED, ["-3600"]),
]


def main():
    tool, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for cls in (KnotServer, BindServer, PdnsServer):
        srv = cls()
        srv.keys["acme256"] = Key("acme256", "hmac-sha256", FUZZ_SECRET)
        srv.start()
        try:
            for name, mode, extra in CASES:
                r = subprocess.run([tool, srv.addr, str(mode)] + extra,
                                   stdout=subprocess.PIPE)
                if r.returncode != 0:
                    raise SystemExit("%s %s: capture failed" %
                                     (srv.kind, name))
                path = os.path.join(out, "%s-%s" % (srv.kind, name))
                with open(path, "wb") as f:
                    f.write(r.stdout)
                print("%s: %d bytes" % (path, len(r.stdout)))
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
