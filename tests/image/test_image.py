"""The container image, as built by `make image-test` (IMAGE=name:tag,
IMAGE_ARCH=amd64|arm64).

There is no Docker engine here and `podman run` does not work; the image's
binary runs with `buildah run --isolation chroot` in a working container
made from the image, on the host's network, so it reaches a Knot DNS server
started by these tests on the host's loopback (free port, fresh temporary
directory, stopped by PID). The image's file system is inspected through
`buildah mount` of a second working container that never runs.

An image for another architecture than this machine's (arm64 here) runs
the same way: buildah run puts it in the image's own root file system, as
the image's user, with the host's qemu-ARCH-static (qemu-user-static, a
static binary) mounted in and named first, as a binfmt handler would do;
qemu finds the image's dynamic loader and libraries in that root. So an
arm64 binary talks to the amd64 Knot.
"""
import base64
import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))

from dnsservers import free_port  # noqa: E402
from webhook import PKI, challenge, start_webhook, webhook_cleanup  # noqa: E402,F401


def project_version():
    with open(os.path.join(ROOT, "VERSION")) as fh:
        return fh.read().strip()


def host_arch():
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                          text=True, check=True).stdout.strip()


VERSION = os.environ.get("VERSION") or project_version()
IMAGE = os.environ.get("IMAGE") or f"rfc2136-webhook:{VERSION}"
HOST_ARCH = host_arch()
ARCH = os.environ.get("IMAGE_ARCH") or HOST_ARCH
QEMU = {"amd64": "qemu-x86_64-static", "arm64": "qemu-aarch64-static"}
ZONE = "example.test"
# Bound on the runtime image: the binary and its libraries are about 22 MB.
MAX_IMAGE_BYTES = 64 * 1024 * 1024


def sh(*cmd, check=True, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, check=check, **kw)


class Container:
    """name: the working container the binary runs in; root: the mounted
    file system of another, pristine one (running leaves mount points)."""

    def __init__(self, name, root):
        self.name = name
        self.root = root
        self.prefix = []
        self.volumes = []
        if ARCH != HOST_ARCH:
            qemu = shutil.which(QEMU[ARCH])
            assert qemu, f"{QEMU[ARCH]} not found: scripts/deps.sh image-cross installs it"
            self.prefix = [f"/usr/bin/{QEMU[ARCH]}"]
            self.volumes = [f"{qemu}:/usr/bin/{QEMU[ARCH]}:ro"]

    def command(self, *args, volumes=()):
        cmd = ["buildah", "run", "--isolation", "chroot"]
        for v in self.volumes + list(volumes):
            cmd += ["-v", v]
        # qemu does not search PATH.
        binary = "/usr/bin/rfc2136-webhook" if self.prefix else "rfc2136-webhook"
        return cmd + [self.name, "--", *self.prefix, binary, *args]

    def run(self, *args, volumes=(), timeout=120):
        return subprocess.run(self.command(*args, volumes=volumes), capture_output=True,
                              text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image():
    p = sh("podman", "image", "inspect", IMAGE, check=False)
    assert p.returncode == 0, f"no image {IMAGE}: run `make image` first\n{p.stderr}"
    return json.loads(p.stdout)[0]


@pytest.fixture(scope="module")
def container(image):
    names = []
    try:
        for _ in range(2):
            names.append(sh("buildah", "from", "--pull-never", IMAGE)
                         .stdout.strip().splitlines()[-1])
        root = sh("buildah", "mount", names[1]).stdout.strip()
        yield Container(names[0], root)
    finally:
        for name in names:
            sh("buildah", "umount", name, check=False)
            sh("buildah", "rm", name, check=False)


def txt(port, name):
    p = sh("dig", "@127.0.0.1", "-p", str(port), name, "TXT", "+short",
           "+time=2", "+tries=1", check=False)
    return [x.strip('"') for x in p.stdout.split()]


class Knot:
    def __init__(self, tmpdir):
        self.dir = tmpdir
        self.port = free_port()
        self.keys = {"acme256": ("hmac-sha256", base64.b64encode(os.urandom(32)).decode()),
                     "acme512": ("hmac-sha512", base64.b64encode(os.urandom(64)).decode())}
        for sub in ("run", "db", "zones"):
            os.makedirs(os.path.join(tmpdir, sub))
        shutil.copy(os.path.join(HERE, "example.test.zone"), os.path.join(tmpdir, "zones"))
        with open(os.path.join(HERE, "knot.conf.in")) as fh:
            conf = fh.read()
        for k, v in {"@DIR@": tmpdir, "@PORT@": str(self.port),
                     "@KEY256@": self.keys["acme256"][1],
                     "@KEY512@": self.keys["acme512"][1]}.items():
            conf = conf.replace(k, v)
        self.conf = os.path.join(tmpdir, "knot.conf")
        with open(self.conf, "w") as fh:
            fh.write(conf)
        self.logf = open(os.path.join(tmpdir, "knot.log"), "w")
        self.proc = subprocess.Popen(["knotd", "-c", self.conf], stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.proc.poll() is None:
            p = sh("dig", "@127.0.0.1", "-p", str(self.port), ZONE, "SOA", "+short",
                   "+time=1", "+tries=1", check=False)
            if p.returncode == 0 and p.stdout.strip():
                return
            time.sleep(0.05)
        self.stop()
        pytest.fail("knotd did not start: " + open(self.logf.name).read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


@pytest.fixture(scope="module")
def knot(tmp_path_factory):
    k = Knot(str(tmp_path_factory.mktemp("knot")))
    yield k
    k.stop()


def bind_key(name, alg, secret):
    return f'key "{name}" {{\n\talgorithm {alg};\n\tsecret "{secret}";\n}};\n'


@pytest.fixture(scope="module")
def keydir(tmp_path_factory, knot):
    """Key files for `check`, mounted read-only at /keys in the container:
    the image's user (65532) owns the readable ones."""
    d = str(tmp_path_factory.mktemp("keys"))
    os.chmod(d, 0o755)
    alg256, s256 = knot.keys["acme256"]
    alg512, s512 = knot.keys["acme512"]
    files = {
        "acme256.key": (bind_key("acme256", alg256, s256), 65532),
        "acme512.knsupdate": (f"{alg512}:acme512:{s512}\n", 65532),
        "wrong.key": (bind_key("acme256", alg256, base64.b64encode(b"\0" * 32).decode()), 65532),
        "root-only.key": (bind_key("acme256", alg256, s256), 0),
    }
    for name, (text, uid) in files.items():
        path = os.path.join(d, name)
        with open(path, "w") as fh:
            fh.write(text)
        os.chown(path, uid, uid)
        os.chmod(path, 0o400)
    return d


def test_version(container):
    for args in (["--version"], ["version"]):
        p = container.run(*args)
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() == f"rfc2136-webhook {VERSION}"


def test_help(container):
    p = container.run("--help")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("usage: rfc2136-webhook COMMAND")
    for cmd in ("serve", "present", "cleanup", "check", "version"):
        assert re.search(rf"^  {cmd} ", p.stdout, re.M), p.stdout


def test_present_and_cleanup_against_knot(container, knot, keydir):
    """The CLI's present and cleanup (each one signed UPDATE) from the
    image: two values at one name, removed one at a time."""
    fqdn = f"_acme-challenge.cli-{os.getpid()}.{ZONE}."
    common = ["--nameserver", f"127.0.0.1:{knot.port}", "--zone", ZONE, "--fqdn", fqdn,
              "--key-file", "/keys/acme512.knsupdate", "--timeout", "3"]
    for cmd, value, served in (("present", "image-cli-one", ["image-cli-one"]),
                               ("present", "image-cli-two", ["image-cli-one", "image-cli-two"]),
                               ("cleanup", "image-cli-one", ["image-cli-two"]),
                               ("cleanup", "image-cli-two", [])):
        p = container.run(cmd, *common, "--value", value, volumes=[f"{keydir}:/keys:ro"])
        assert p.returncode == 0, f"{cmd} {value}: {p.stdout}{p.stderr}"
        assert sorted(txt(knot.port, fqdn)) == served, f"after {cmd} {value}"


# `check` inside the image against Knot on the host's loopback:
# (key file, extra args, exit status, text the output must contain).
CHECKS = [
    ("sha256-bind-key-file", "acme256.key", [], 0, None),
    ("sha512-knsupdate-line", "acme512.knsupdate", [], 0, None),
    ("sha256-over-tcp", "acme256.key", ["--protocol", "tcp"], 0, None),
    ("wrong-secret", "wrong.key", [], 1, "BADSIG"),
    # Root-owned 0400: only readable by root, so this proves the binary runs
    # as the image's unprivileged user.
    ("runs-unprivileged", "root-only.key", [], 1, "ermission denied"),
]


@pytest.mark.parametrize("keyfile,extra,status,expect", [c[1:] for c in CHECKS],
                         ids=[c[0] for c in CHECKS])
def test_check_against_knot(container, knot, keydir, keyfile, extra, status, expect):
    p = container.run("check", "--nameserver", f"127.0.0.1:{knot.port}", "--zone", ZONE,
                      "--key-file", f"/keys/{keyfile}", "--timeout", "3", *extra,
                      volumes=[f"{keydir}:/keys:ro"])
    out = p.stdout + p.stderr
    assert p.returncode == status, out
    if expect:
        assert expect in out, out
    # check never leaves its test record behind.
    assert txt(knot.port, f"_acme-challenge.{ZONE}.") == []


def test_image_config(image):
    assert (image["Os"], image["Architecture"]) == ("linux", ARCH)
    cfg = image["Config"]
    assert cfg["User"] == "65532:65532"
    assert cfg["Entrypoint"] == ["rfc2136-webhook"]
    assert cfg["Cmd"] == ["serve"]
    labels = cfg["Labels"]
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.title"] == "rfc2136-webhook"
    assert re.match(r"^[0-9a-f]{40}$|^unknown$", labels["org.opencontainers.image.revision"])


def test_image_size(image, capsys):
    size = image["Size"]
    with capsys.disabled():
        print(f"\nimage {IMAGE}: {size} bytes ({size / 1048576:.1f} MiB)")
    assert size < MAX_IMAGE_BYTES


# Written into the working container by `buildah run`, not part of the image.
RUNTIME_FILES = {"/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}


def walk(root):
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            path = "/" + os.path.relpath(p, root)
            if path not in RUNTIME_FILES:
                yield path, os.lstat(p)


def test_only_the_binary_is_executable(container):
    """No shell, no compiler, no package manager: the only executable
    regular files are the binary and shared libraries."""
    execs = sorted(path for path, st in walk(container.root)
                   if stat.S_ISREG(st.st_mode) and st.st_mode & 0o111)
    others = [p for p in execs if p != "/usr/bin/rfc2136-webhook" and ".so" not in p]
    assert others == []
    assert "/usr/bin/rfc2136-webhook" in execs
    for shell in ("/bin/sh", "/usr/bin/sh", "/bin/bash", "/bin/busybox"):
        assert not os.path.lexists(container.root + shell)


def test_files_root_owned_and_read_only(container):
    bad = [path for path, st in walk(container.root)
           if not stat.S_ISLNK(st.st_mode) and path != "/tmp"
           and (st.st_uid != 0 or st.st_mode & 0o022)]
    assert bad == []
    st = os.lstat(container.root + "/tmp")
    assert stat.S_IMODE(st.st_mode) == 0o1777


def test_package_records_for_every_library(container):
    """Licences and versions of what the image ships (scanners read
    /var/lib/dpkg/status.d)."""
    status = os.listdir(container.root + "/var/lib/dpkg/status.d")
    assert "libc6" in status and "libknot13" in status and "ca-certificates" in status
    for pkg in status:
        assert os.path.exists(f"{container.root}/usr/share/doc/{pkg}/copyright"), pkg
    assert os.path.getsize(container.root + "/etc/ssl/certs/ca-certificates.crt") > 100000


def readelf(flag, path):
    return sh("readelf", "-W", flag, path).stdout


# readelf -h's name of each architecture's machine.
MACHINE = {"amd64": "Advanced Micro Devices X86-64", "arm64": "AArch64"}


def test_files_for_the_image_architecture(container):
    """The binary and every shared library are ELF files for the image's
    architecture (a cross build takes none from the build machine's)."""
    elves = [path for path, st in walk(container.root)
             if stat.S_ISREG(st.st_mode) and (path.endswith("rfc2136-webhook") or ".so" in path)]
    assert len(elves) > 10, elves
    for path in elves:
        header = readelf("-h", container.root + path)
        machine = re.search(r"Machine:\s+(.*)", header)
        assert machine and machine.group(1).strip() == MACHINE[ARCH], (path, header)


def test_binary_hardening(container):
    b = container.root + "/usr/bin/rfc2136-webhook"
    assert "DYN (Position-Independent Executable" in readelf("-h", b)
    dyn = readelf("-d", b)
    assert re.search(r"\(FLAGS_1\).*\bNOW\b.*\bPIE\b", dyn), dyn
    assert re.search(r"\(FLAGS\).*\bBIND_NOW\b", dyn), dyn
    segs = readelf("-l", b)
    assert "GNU_RELRO" in segs
    stack = [line for line in segs.splitlines() if "GNU_STACK" in line]
    assert stack and "RWE" not in stack[0]
    syms = readelf("--dyn-syms", b)
    assert "__stack_chk_fail" in syms
    assert re.search(r"__\w+_chk\b", syms.replace("__stack_chk_fail", "")), \
        "no _FORTIFY_SOURCE checked function imported"
    assert ".symtab" not in readelf("-S", b), "not stripped"


@pytest.fixture
def wrapped_binary(container, tmp_path_factory, monkeypatch):
    """RFC2136_WEBHOOK for tests/system/webhook.py's start_webhook: a
    wrapper that runs the image's binary, with the test's temporary tree
    mounted read-only at the same path (made readable for 65532)."""
    base = str(tmp_path_factory.getbasetemp())
    wrapper = os.path.join(str(tmp_path_factory.mktemp("wrapper")), "rfc2136-webhook")
    cmd = container.command(volumes=[f"{base}:{base}:ro"])
    with open(wrapper, "w") as fh:
        fh.write("#!/bin/sh\n"
                 f"exec {shlex.join(cmd)} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    monkeypatch.setenv("RFC2136_WEBHOOK", wrapper)

    def share():
        for d, dirs, files in os.walk(base):
            os.chmod(d, os.stat(d).st_mode | 0o555)
            for f in files:
                p = os.path.join(d, f)
                os.chmod(p, os.stat(p).st_mode | 0o444)
    return share


def test_serve_in_the_image(knot, tmp_path, tmp_path_factory, wrapped_binary):
    """The server in the image, end to end: TLS, front-proxy
    authentication, the secret from --secrets-dir, a Present and a CleanUp
    in Knot."""
    pki = PKI(tmp_path_factory.mktemp("pki"))
    alg, secret = knot.keys["acme256"]
    sdir = tmp_path / "webhook-secrets" / "cert-manager" / "tsig"
    sdir.mkdir(parents=True)
    (sdir / "secret").write_text(secret)
    wrapped_binary()
    w = start_webhook(tmp_path, pki, timeout=60)
    assert w.proc.args[0] == os.environ["RFC2136_WEBHOOK"]  # the image's binary
    for path in ("/healthz", "/readyz"):
        status, _, body = w.request("GET", path, cert=None, user=None, groups=())
        assert (status, body.strip()) == (200, b"ok"), path
    fqdn = f"_acme-challenge.image-{os.getpid()}.{ZONE}."
    config = {"nameserver": f"127.0.0.1:{knot.port}", "tsigKeyName": "acme256",
              "tsigAlgorithm": alg, "tsigSecretSecretRef": {"name": "tsig", "key": "secret"},
              "timeout": "3s"}
    for action, served in (("Present", ["image-test-value"]), ("CleanUp", [])):
        status, _, body = w.request("POST", w.solver_path,
                                    challenge(action, fqdn, f"{ZONE}.", "image-test-value",
                                              config=config))
        answer = json.loads(body)
        assert status in (200, 201) and answer["response"]["success"] is True, body
        assert txt(knot.port, fqdn) == served
