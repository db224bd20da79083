"""The renderer itself (tests/chart/render): each row is a template, values,
and the exact output `helm template` gives (or the error it reports), so
the chart tests rest on Helm's semantics, not on the renderer's quirks."""
import json
import os
import subprocess

import pytest
import yaml

CHART_YAML = """apiVersion: v2
name: demo
version: 1.2.3
appVersion: "4.5"
kubeVersion: ">=1.22.0-0"
"""
DEFAULTS = {"a": {"b": 1, "c": "x", "big": 1000000}, "list": [1, 2], "s": "hi",
            "empty": "", "tplText": "{{ .Release.Name }}-{{ .Values.s }}"}
HELPERS = '{{- define "demo.name" -}}{{ .Chart.Name }}-{{ .Values.s }}{{- end }}'

CASES = [
    # (id, template, user values, extra args, expected output or ("error", text))
    ("values-and-objects",
     "{{ .Values.s }} {{ .Release.Name }} {{ .Release.Namespace }} {{ .Chart.Name }} "
     "{{ .Chart.Version }} {{ .Chart.AppVersion }} {{ .Release.Service }}",
     None, [], "hi rel ns demo 1.2.3 4.5 Helm"),
    ("include-nindent",
     "x:{{ include \"demo.name\" . | nindent 2 }}", None, [], "x:\n  demo-hi"),
    ("tpl", "{{ tpl .Values.tplText . }}", None, [], "rel-hi"),
    ("toYaml-sorted-2-space-ints",
     "{{ toYaml .Values.a }}", None, [], "b: 1\nbig: 1000000\nc: x"),
    ("toYaml-list", "{{ toYaml .Values.list }}", None, [], "- 1\n- 2"),
    ("user-map-merges", "{{ toYaml .Values.a }}", {"a": {"c": "y"}}, [],
     "b: 1\nbig: 1000000\nc: y"),
    ("user-null-deletes", "{{ toYaml .Values.a }}", {"a": {"b": None}}, [],
     "big: 1000000\nc: x"),
    ("user-list-replaces", "{{ toYaml .Values.list }}", {"list": [3]}, [], "- 3"),
    ("default-on-empty", "{{ default \"d\" .Values.empty }}", None, [], "d"),
    ("numbers-are-float64", "{{ kindOf .Values.a.b }}", None, [], "float64"),
    ("required-ok", "{{ required \"need s\" .Values.s }}", None, [], "hi"),
    ("required-empty", "{{ required \"need empty\" .Values.empty }}", None, [],
     ("error", "need empty")),
    ("fail", "{{ fail \"boom\" }}", None, [], ("error", "boom")),
    ("missing-key-strict", "{{ .Values.nope }}", None, ["-strict"],
     ("error", "map has no entry for key \"nope\"")),
    ("missing-key-lenient", "[{{ .Values.nope }}]", None, [], "[]"),
    ("capabilities", "{{ .Capabilities.KubeVersion.Version }} {{ .Capabilities.KubeVersion.Minor }} "
     "{{ .Capabilities.APIVersions.Has \"policy/v1\" }} "
     "{{ .Capabilities.APIVersions.Has \"monitoring.coreos.com/v1\" }}",
     None, ["-kube-version", "1.29.4"], "v1.29.4 29 true false"),
    ("api-versions-flag", "{{ .Capabilities.APIVersions.Has \"monitoring.coreos.com/v1\" }}",
     None, ["-api-versions", "monitoring.coreos.com/v1"], "true"),
    ("kube-version-too-old", "x", None, ["-kube-version", "1.21.9"],
     ("error", "incompatible with Kubernetes v1.21.9")),
    ("template-name", "{{ .Template.Name }}", None, [], "demo/templates/t.yaml"),
    ("env-removed", "{{ env \"HOME\" }}", None, [], ("error", "function \"env\" not defined")),
    ("fromYaml-toJson", "{{ (fromYaml \"k: [1, 2]\") | toJson }}", None, [], '{"k":[1,2]}'),
    ("lookup-empty", "{{ lookup \"v1\" \"Secret\" \"ns\" \"x\" | toJson }}", None, [], "{}"),
]


def make_chart(root, template, schema=None):
    os.makedirs(os.path.join(root, "templates"))
    with open(os.path.join(root, "Chart.yaml"), "w") as fh:
        fh.write(CHART_YAML)
    with open(os.path.join(root, "values.yaml"), "w") as fh:
        yaml.safe_dump(DEFAULTS, fh)
    with open(os.path.join(root, "templates", "_helpers.tpl"), "w") as fh:
        fh.write(HELPERS)
    with open(os.path.join(root, "templates", "t.yaml"), "w") as fh:
        fh.write(template)
    if schema is not None:
        with open(os.path.join(root, "values.schema.json"), "w") as fh:
            json.dump(schema, fh)


def render(renderer, root, values=None, args=()):
    cmd = [renderer, "-chart", root, "-name", "rel", "-namespace", "ns", *args]
    if values is not None:
        f = os.path.join(root, "user.yaml")
        with open(f, "w") as fh:
            yaml.safe_dump(values, fh)
        cmd += ["-values", f]
    return subprocess.run(cmd, capture_output=True, text=True)


@pytest.mark.parametrize("template,values,args,expect", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_template_semantics(renderer, tmp_path, template, values, args, expect):
    root = str(tmp_path / "demo")
    make_chart(root, template)
    p = render(renderer, root, values, args)
    if isinstance(expect, tuple):
        assert p.returncode != 0 and expect[1] in p.stderr, p.stdout + p.stderr
        return
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"---\n# Source: demo/templates/t.yaml\n{expect}\n"


SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"a": {"type": "object", "additionalProperties": False,
                         "properties": {"b": {"type": "integer", "minimum": 0},
                                        "c": {"enum": ["x", "y"]},
                                        "big": {"type": "number"}}},
                   "s": {"type": "string", "pattern": "^h"}},
}

SCHEMA_CASES = [
    ("valid", SCHEMA, {"a": {"b": 2}}, None),
    ("integer-type", SCHEMA, {"a": {"b": 1.5}}, "a.b: Invalid type"),
    ("minimum", SCHEMA, {"a": {"b": -1}}, "a.b: Must be greater than or equal to 0"),
    ("enum", SCHEMA, {"a": {"c": "z"}}, "a.c: must be one of the following"),
    ("additional", SCHEMA, {"a": {"d": 1}}, "a.d: Additional property d is not allowed"),
    ("pattern", SCHEMA, {"s": "ho"}, None),
    ("pattern-bad", SCHEMA, {"s": "oh"}, "s: Does not match pattern"),
    ("unsupported-keyword", dict(SCHEMA, dependencies={"a": ["s"]}), None,
     "keyword \"dependencies\" is not supported"),
]


@pytest.mark.parametrize("schema,values,expect", [c[1:] for c in SCHEMA_CASES],
                         ids=[c[0] for c in SCHEMA_CASES])
def test_schema_validation(renderer, tmp_path, schema, values, expect):
    root = str(tmp_path / "demo")
    make_chart(root, "ok", schema)
    p = render(renderer, root, values)
    if expect is None:
        assert p.returncode == 0, p.stderr
    else:
        assert p.returncode != 0 and expect in p.stderr, p.stderr
