"""deploy/: the server-side snippets are loaded, unchanged, into the real
servers (BIND named, Knot knotd, PowerDNS pdns_server on free loopback
ports in fresh temporary directories, stopped by PID), and each row of a
table sends a TSIG-signed update with the snippet's key and checks whether
the server applied it: the least-privilege claims of deploy/README.md, and
what PowerDNS does not restrict. The example manifests are checked against
the solver's config fields and the Secret traps."""
import base64
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import yaml

from chartlib import ROOT

sys.path.insert(0, os.path.join(ROOT, "tests", "system"))
from dnsservers import free_port, knot_head  # noqa: E402  (the system tests' own)

DEPLOY = os.path.join(ROOT, "deploy")
ZONE = "example.com"
ZONEFILE = """$ORIGIN example.com.
$TTL 300
@       SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 60
@       NS  ns1.example.com.
ns1     A   127.0.0.1
"""
# The solver's config fields (DESIGN: names mirror the built-in rfc2136).
CONFIG_FIELDS = {"nameserver", "nameservers", "tsigKeyName", "tsigAlgorithm",
                 "tsigSecretSecretRef", "protocol", "ttl", "zone", "timeout"}


def dig(port, name, rtype):
    p = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), name, rtype,
                        "+short", "+time=1", "+tries=1"],
                       capture_output=True, text=True)
    return p.returncode, p.stdout.split()


class Server:
    def __init__(self, kind, cmd, tmpdir, port, key, env=None):
        self.kind, self.port, self.key, self.tmpdir = kind, port, key, tmpdir
        self.log = open(os.path.join(tmpdir, "server.log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=tmpdir, env=env)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            rc, out = dig(port, ZONE, "SOA")
            if rc == 0 and out:
                return
            time.sleep(0.05)
        self.stop()
        with open(os.path.join(tmpdir, "server.log")) as fh:
            pytest.fail(f"{kind} did not start:\n{fh.read()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def update(self, name, rtype, data, key=None):
        """One signed UPDATE with nsupdate; True when the server applied it
        (NOERROR and the record is then served)."""
        script = (f"server 127.0.0.1 {self.port}\nzone {ZONE}\n"
                  f"update add {name} 60 {rtype} {data}\nsend\n")
        p = subprocess.run(["nsupdate", "-y", key or self.key, "-t", "5", "-u", "2"],
                           input=script, capture_output=True, text=True)
        if p.returncode != 0:
            return False, p.stderr.strip()
        _, served = dig(self.port, name, rtype)
        return bool(served), "NOERROR, served" if served else "NOERROR, not served"


def snippet_secret(path, pattern):
    with open(path) as fh:
        return re.search(pattern, fh.read()).group(1)


def fresh_dir(tmp_path_factory, kind):
    d = str(tmp_path_factory.mktemp(kind))
    with open(os.path.join(d, f"{ZONE}.zone"), "w") as fh:
        fh.write(ZONEFILE)
    return d


@pytest.fixture(scope="module")
def bind(tmp_path_factory):
    d = fresh_dir(tmp_path_factory, "bind")
    port = free_port()
    snippet = os.path.join(DEPLOY, "bind", "named.conf")
    conf = os.path.join(d, "named.conf")
    with open(conf, "w") as fh:
        fh.write(f"""options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
}};
controls {{ }};
include "{snippet}";
""")
    p = subprocess.run(["named-checkconf", "-z", conf], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    secret = snippet_secret(snippet, r'secret "([^"]+)"')
    s = Server("bind", ["named", "-g", "-4", "-n", "1", "-c", conf], d, port,
               f"hmac-sha256:acme-update:{secret}")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def knot(tmp_path_factory):
    d = fresh_dir(tmp_path_factory, "knot")
    os.makedirs(os.path.join(d, "run"))
    os.makedirs(os.path.join(d, "db"))
    port = free_port()
    snippet = os.path.join(DEPLOY, "knot", "knot.conf")
    conf = os.path.join(d, "knot.conf")
    with open(conf, "w") as fh:
        fh.write(knot_head(d, port, listen="127.0.0.1@%d" % port) + f"""\
template:
  - id: default
    storage: "{d}"
    zonefile-sync: -1
include: "{snippet}"
""")
    p = subprocess.run(["knotc", "-c", conf, "conf-check"], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    secret = snippet_secret(snippet, r"secret: (\S+)")
    s = Server("knot", ["knotd", "-c", conf], d, port, f"hmac-sha256:acme-update:{secret}")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def pdns(tmp_path_factory):
    d = fresh_dir(tmp_path_factory, "pdns")
    port = free_port()
    db = os.path.join(d, "pdns.sqlite3")
    subprocess.run(["sqlite3", db], check=True, text=True,
                   stdin=open("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql"))
    with open(os.path.join(DEPLOY, "powerdns", "pdns.conf")) as fh:
        fragment = fh.read()
    with open(os.path.join(d, "pdns.conf"), "w") as fh:
        fh.write(f"""launch=gsqlite3
gsqlite3-database={db}
local-address=127.0.0.1
local-port={port}
socket-dir={d}
daemon=no
guardian=no
disable-syslog=yes
loglevel=6
security-poll-suffix=
webserver=no
api=no
{fragment}""")
    pdnsutil = f"pdnsutil --config-dir={d}"
    subprocess.run(f"{pdnsutil} load-zone {ZONE} {d}/{ZONE}.zone", shell=True, check=True,
                   capture_output=True)
    secret = base64.b64encode(os.urandom(32)).decode()
    env = dict(os.environ, PDNSUTIL=pdnsutil, ZONE=ZONE, KEY="acme-update",
               SECRET=secret, FROM="127.0.0.0/8")
    p = subprocess.run(["sh", os.path.join(DEPLOY, "powerdns", "setup.sh")], env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    s = Server("pdns", ["pdns_server", f"--config-dir={d}"], d, port,
               f"hmac-sha256:acme-update:{secret}")
    yield s
    s.stop()


WRONG_KEY = "hmac-sha256:acme-update:" + base64.b64encode(b"\x01" * 32).decode()

# (name, type, data, applied?) for the BIND and Knot snippets: TXT at the
# listed _acme-challenge names only.
LEAST_PRIVILEGE = [
    ("apex-challenge", "_acme-challenge.example.com.", "TXT", '"v1"', True),
    ("www-challenge", "_acme-challenge.www.example.com.", "TXT", '"v2"', True),
    ("unlisted-challenge", "_acme-challenge.mail.example.com.", "TXT", '"v3"', False),
    ("txt-elsewhere", "www.example.com.", "TXT", '"v4"', False),
    ("a-at-challenge", "_acme-challenge.example.com.", "A", "192.0.2.1", False),
    ("ns-at-apex", "example.com.", "NS", "evil.example.net.", False),
]


@pytest.mark.parametrize("server", ["bind", "knot"])
@pytest.mark.parametrize("name,rtype,data,applied", [r[1:] for r in LEAST_PRIVILEGE],
                         ids=[r[0] for r in LEAST_PRIVILEGE])
def test_least_privilege_policy(request, server, name, rtype, data, applied):
    s = request.getfixturevalue(server)
    ok, why = s.update(name, rtype, data)
    assert ok == applied, why


@pytest.mark.parametrize("server", ["bind", "knot", "pdns"])
def test_wrong_secret_refused(request, server):
    s = request.getfixturevalue(server)
    ok, why = s.update("_acme-challenge.example.com.", "TXT", '"nope"', key=WRONG_KEY)
    assert not ok, why


# PowerDNS: TSIG-ALLOW-DNSUPDATE grants the whole zone; these rows keep
# deploy/powerdns/setup.sh's warning honest.
PDNS = [
    ("challenge", "_acme-challenge.example.com.", "TXT", '"v1"', True),
    ("any-name-any-type", "www.example.com.", "A", "192.0.2.1", True),
]


@pytest.mark.parametrize("name,rtype,data,applied", [r[1:] for r in PDNS],
                         ids=[r[0] for r in PDNS])
def test_powerdns_grants_the_whole_zone(pdns, name, rtype, data, applied):
    ok, why = pdns.update(name, rtype, data)
    assert ok == applied, why


def load(name):
    with open(os.path.join(DEPLOY, name)) as fh:
        return yaml.safe_load(fh)


@pytest.mark.parametrize("name,kind", [("clusterissuer.yaml", "ClusterIssuer"),
                                       ("issuer.yaml", "Issuer")])
def test_issuer_examples(name, kind):
    doc = load(name)
    assert (doc["apiVersion"], doc["kind"]) == ("cert-manager.io/v1", kind)
    assert ("namespace" in doc["metadata"]) == (kind == "Issuer")
    for solver in doc["spec"]["acme"]["solvers"]:
        wh = solver["dns01"]["webhook"]
        assert wh["solverName"] == "rfc2136"
        assert "." in wh["groupName"]
        assert set(wh["config"]) <= CONFIG_FIELDS, set(wh["config"]) - CONFIG_FIELDS
        assert set(wh["config"]["tsigSecretSecretRef"]) == {"name", "key"}
        assert "nameserver" in wh["config"] or "nameservers" in wh["config"]


def test_tsig_secret_manifest_uses_stringdata():
    doc = load("tsig-secret.yaml")
    assert "data" not in doc and set(doc["stringData"]) == {"secret"}
    # The base64 text as tsig-keygen prints it: 32 bytes for hmac-sha256.
    assert len(base64.b64decode(doc["stringData"]["secret"], validate=True)) == 32
    ref = load("clusterissuer.yaml")["spec"]["acme"]["solvers"][0]["dns01"]["webhook"]
    assert ref["config"]["tsigSecretSecretRef"] == {"name": doc["metadata"]["name"],
                                                    "key": "secret"}


def test_documented_secret_extraction_matches_tsig_keygen(tmp_path):
    """The sed command of README.md/NOTES.txt takes the secret out of real
    tsig-keygen output, as --from-literal must receive it."""
    keyfile = tmp_path / "acme-update.key"
    keyfile.write_text(subprocess.run(["tsig-keygen", "-a", "hmac-sha256", "acme-update"],
                                      capture_output=True, text=True, check=True).stdout)
    with open(os.path.join(DEPLOY, "README.md")) as fh:
        readme = fh.read()
    cmd = re.search(r"--from-literal=secret=\"\$\((sed .*?acme-update\.key)\)\"", readme).group(1)
    out = subprocess.run(cmd, shell=True, cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out and out in keyfile.read_text()
    assert len(base64.b64decode(out, validate=True)) == 32

