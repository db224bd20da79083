"""The multi-arch image made by `make images-test` (IMAGE=name:tag, a
manifest list naming IMAGE-ARCH for each of IMAGE_ARCHS): what a registry
push of it carries. There is no registry here; `podman manifest push --all`
into an OCI image layout directory writes the same index, manifests,
configs and layers a push to a registry would.
"""
import json
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def project_version():
    with open(os.path.join(ROOT, "VERSION")) as fh:
        return fh.read().strip()


IMAGE = os.environ.get("IMAGE") or f"rfc2136-webhook:{project_version()}"
ARCHS = sorted((os.environ.get("IMAGE_ARCHS") or "amd64 arm64").split())


def sh(*cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, f"{' '.join(cmd)}: {p.stderr}"
    return p.stdout


@pytest.fixture(scope="module")
def manifest_list():
    return json.loads(sh("podman", "manifest", "inspect", IMAGE))


def test_list_names_each_architecture_once(manifest_list):
    platforms = sorted((m["platform"]["os"], m["platform"]["architecture"])
                       for m in manifest_list["manifests"])
    assert platforms == [("linux", a) for a in ARCHS]


def test_list_entries_are_the_built_images(manifest_list):
    by_arch = {m["platform"]["architecture"]: m["digest"] for m in manifest_list["manifests"]}
    for arch in ARCHS:
        digest = sh("podman", "image", "inspect", "--format", "{{.Digest}}",
                    f"{IMAGE}-{arch}").strip()
        assert by_arch[arch] == digest, arch


def blob(layout, digest):
    algo, hexa = digest.split(":")
    with open(os.path.join(layout, "blobs", algo, hexa), "rb") as fh:
        return json.load(fh)


def test_push_carries_both_images(tmp_path):
    """Everything a node of each architecture pulls: the index, its
    manifest, a config for its architecture running as 65532, the layers."""
    layout = str(tmp_path / "layout")
    sh("podman", "manifest", "push", "--all", IMAGE, f"oci:{layout}:pushed")
    with open(os.path.join(layout, "index.json")) as fh:
        top = json.load(fh)
    [ref] = top["manifests"]
    assert ref["annotations"]["org.opencontainers.image.ref.name"] == "pushed"
    index = blob(layout, ref["digest"])
    seen = []
    for m in index["manifests"]:
        arch = m["platform"]["architecture"]
        manifest = blob(layout, m["digest"])
        config = blob(layout, manifest["config"]["digest"])
        assert (config["os"], config["architecture"]) == ("linux", arch)
        assert config["config"]["User"] == "65532:65532"
        assert config["config"]["Entrypoint"] == ["rfc2136-webhook"]
        assert manifest["layers"]
        for layer in manifest["layers"]:
            algo, hexa = layer["digest"].split(":")
            path = os.path.join(layout, "blobs", algo, hexa)
            assert os.path.getsize(path) == layer["size"], layer
        seen.append(arch)
    assert sorted(seen) == ARCHS
