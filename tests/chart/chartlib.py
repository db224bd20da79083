"""Helpers of the chart tests: paths, the renderer, and the rendered
objects (imported by conftest.py and the tests)."""
import os
import subprocess

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CHART = os.path.join(ROOT, "charts", "cert-manager-webhook-rfc2136")
GOENV = {"GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "GOFLAGS": ""}


def build_renderer(out):
    env = dict(os.environ, **GOENV)
    env.setdefault("GOCACHE", os.path.join(os.path.dirname(out), "gocache"))
    subprocess.run(["go", "build", "-o", out, "./tests/chart/render"],
                   cwd=ROOT, env=env, check=True)
    return out


class Rendered:
    """The objects of one render, with lookups the tests need."""

    def __init__(self, docs, values, release, namespace):
        self.docs = docs
        self.values = values
        self.release = release
        self.namespace = namespace

    def all(self, kind):
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind, name=None):
        found = [d for d in self.all(kind)
                 if name is None or d["metadata"]["name"] == name]
        assert len(found) == 1, f"{len(found)} {kind} named {name}: " + \
            str([d["metadata"]["name"] for d in self.all(kind)])
        return found[0]

    def get(self, kind, name, namespace=None):
        for d in self.all(kind):
            md = d["metadata"]
            if md["name"] == name and md.get("namespace") == namespace:
                return d
        return None

    @property
    def deployment(self):
        return self.one("Deployment")

    @property
    def container(self):
        return self.deployment["spec"]["template"]["spec"]["containers"][0]

    def flags(self):
        """The container's --name=value flags as a dict (args[1:])."""
        out = {}
        for a in self.container["args"][1:]:
            assert a.startswith("--"), a
            k, _, v = a[2:].partition("=")
            assert k not in out, f"flag --{k} given twice"
            out[k] = v
        return out


class Chart:
    def __init__(self, binary, tmpdir):
        self.binary = binary
        self.tmpdir = tmpdir
        self.n = 0

    def run(self, values=None, release="rfc2136", namespace="cert-manager",
            args=(), chart=CHART):
        cmd = [self.binary, "-chart", chart, "-name", release,
               "-namespace", namespace, "-strict", *args]
        if values is not None:
            self.n += 1
            f = os.path.join(self.tmpdir, f"values-{self.n}.yaml")
            with open(f, "w") as fh:
                yaml.safe_dump(values, fh)
            cmd += ["-values", f]
        return subprocess.run(cmd, capture_output=True, text=True)

    def render(self, values=None, release="rfc2136", namespace="cert-manager",
               args=()):
        p = self.run(values, release, namespace, args)
        assert p.returncode == 0, p.stderr
        docs = [d for d in yaml.safe_load_all(p.stdout) if d is not None]
        with open(os.path.join(CHART, "values.yaml")) as fh:
            merged = merge(yaml.safe_load(fh), values or {})
        return Rendered(docs, merged, release, namespace)

    def fail(self, values=None, release="rfc2136", namespace="cert-manager",
             args=()):
        p = self.run(values, release, namespace, args)
        assert p.returncode != 0, "rendered, but should have failed"
        return p.stderr

    def notes(self, values=None, release="rfc2136", namespace="cert-manager"):
        p = self.run(values, release, namespace, ["-notes"])
        assert p.returncode == 0, p.stderr
        return p.stdout


def merge(defaults, user):
    """Helm's coalescing, for the tests' own expectations."""
    out = dict(defaults)
    for k, v in user.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out
