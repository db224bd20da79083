"""The chart's optional krb5.conf for GSS-TSIG (webhook.krb5Config): one
row per values case, with the flag, mount and volume each must give."""
import pytest

CASES = [
    ("default: none", {}, None),
    ("configmap", {"webhook": {"krb5Config": {"configMapName": "krb5"}}},
     ("krb5", "krb5.conf")),
    ("configmap and key", {"webhook": {"krb5Config": {
        "configMapName": "realm-conf", "key": "ad.conf"}}},
     ("realm-conf", "ad.conf")),
]


@pytest.mark.parametrize("name,values,want", CASES,
                         ids=[c[0] for c in CASES])
def test_krb5_config(chart, name, values, want):
    r = chart.render(values)
    c = r.container
    spec = r.deployment["spec"]["template"]["spec"]
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    if want is None:
        assert "krb5-config" not in r.flags()
        assert "krb5-config" not in mounts and "krb5-config" not in volumes
        return
    assert r.flags()["krb5-config"] == "/etc/krb5/krb5.conf"
    assert mounts["krb5-config"] == {"name": "krb5-config",
                                     "mountPath": "/etc/krb5",
                                     "readOnly": True}
    assert volumes["krb5-config"]["configMap"] == {
        "name": want[0], "items": [{"key": want[1], "path": "krb5.conf"}]}


def test_krb5_config_bad_name_rejected(chart):
    p = chart.run({"webhook": {"krb5Config": {"configMapName": "Bad_Name"}}},
                  "rfc2136", "cert-manager", ())
    assert p.returncode != 0
    assert "krb5Config" in p.stderr
