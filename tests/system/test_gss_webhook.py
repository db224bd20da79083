"""GSS-TSIG through the webhook: an Issuer config with gssTSIG and a keytab
Secret (from --secrets-dir), --krb5-config, one negotiation for many
challenges, a diagnosis in the answer, config errors, keys deleted at
shutdown.  Real MIT KDC and BIND from krb.py."""
import json
import os
import shutil

import pytest

from dnsservers import ZONE, unique_fqdn
from krb import (OTHER, PRINCIPAL, REALM, SERVICE_HOST, GssBind, Kdc)
from webhook import challenge, start_webhook

NS = "cert-manager"


@pytest.fixture(scope="module")
def realm():
    k = Kdc()
    try:
        for name in (PRINCIPAL, OTHER, "DNS/%s@%s" % (SERVICE_HOST, REALM)):
            k.add_principal(name)
        k.start()
        k.server_keytab = k.keytab("DNS/%s@%s" % (SERVICE_HOST, REALM))
        k.keytabs = {p: k.keytab(p) for p in (PRINCIPAL, OTHER)}
        yield k
    finally:
        k.destroy()


@pytest.fixture
def named(realm):
    srv = GssBind(realm, realm.server_keytab)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def accepts(srv):
    return srv.log().count("gss-api source name (accept)")


def webhook(tmp_path, pki, realm):
    secrets = tmp_path / "secrets"
    for principal, name in ((PRINCIPAL, "acme-keytab"),
                            (OTHER, "other-keytab")):
        d = secrets / NS / name
        d.mkdir(parents=True)
        shutil.copy(realm.keytabs[principal], d / "keytab")
    # Only --krb5-config tells the webhook where the realm is.
    env = {k: "" for k in ("KRB5_CONFIG", "KRB5_KDC_PROFILE")}
    env.update({"KRB5CCNAME": "MEMORY:none",
                "KRB5RCACHEDIR": realm.path("rcache")})
    return start_webhook(tmp_path, pki, args=[
        "--secrets-dir", str(secrets), "--krb5-config", realm.krb5_conf],
        env=env)


def gss_config(srv, principal="acme", secret="acme-keytab", **extra):
    cfg = {"nameserver": srv.addr,
           "gssTSIG": {"principal": principal, "realm": REALM,
                       "serviceHost": SERVICE_HOST,
                       "keytabSecretRef": {"name": secret,
                                           "key": "keytab"}}}
    cfg.update(extra)
    return cfg


def solve(w, action, fqdn, value, cfg):
    status, _, body = w.request("POST", w.solver_path,
                                challenge(action, fqdn, ZONE, value, cfg))
    assert status == 201, body
    return json.loads(body)["response"]


def test_present_cleanup_one_negotiation(tmp_path, pki, realm, named):
    w = webhook(tmp_path, pki, realm)
    cfg = gss_config(named)
    fqdns = [unique_fqdn("wh") for _ in range(50)]
    for i, fqdn in enumerate(fqdns):
        r = solve(w, "Present", fqdn, "v%d" % i, cfg)
        assert r["success"], r
        assert named.txt(fqdn) == ["v%d" % i]
    for i, fqdn in enumerate(fqdns):
        r = solve(w, "CleanUp", fqdn, "v%d" % i, cfg)
        assert r["success"], r
        assert named.txt(fqdn) == []
    # 100 challenges, one TKEY negotiation.
    assert accepts(named) == 1
    assert w.stop() == 0
    # Shutdown deleted the key (TKEY mode 5): named saves none.
    named._kill()
    assert named.saved_keys() == []


# Issuer configs that must be refused with a sentence naming the field.
BAD_CONFIGS = [
    ({"tsigSecretSecretRef": {"name": "x", "key": "y"}},
     "config.gssTSIG and config.tsigSecretSecretRef exclude each other"),
    ({"tsigKeyName": "k"},
     "config.gssTSIG and config.tsigKeyName exclude each other"),
    ({"gssTSIG": {"principal": "acme", "serviceHost": SERVICE_HOST}},
     "config.gssTSIG needs keytabSecretRef"),
    ({"gssTSIG": {"principal": "acme", "keytabSecretRef":
                  {"name": "a", "key": "b"}}},
     "config.gssTSIG.serviceHost is missing"),
    ({"gssTSIG": {"principal": "acme", "serviceHost": "10.0.0.1",
                  "keytabSecretRef": {"name": "acme-keytab",
                                      "key": "keytab"}}},
     "not an IP address"),
    ({"gssTSIG": {"principal": "acme", "serviceHost": SERVICE_HOST,
                  "keytabSecretRef": {"name": "a", "key": "b"},
                  "passwordSecretRef": {"name": "a", "key": "b"}}},
     "not both"),
    ({"gssTSIG": {"principal": "acme", "serviceHost": SERVICE_HOST,
                  "keytab": "x"}},
     "config.gssTSIG.keytab is not a known field"),
    ({"gssTSIG": {"principal": "acme", "serviceHost": SERVICE_HOST,
                  "keytabSecretRef": {"name": "nope", "key": "keytab"}}},
     "Secret cert-manager/nope not found: create it in namespace "
     "cert-manager with the Kerberos keytab under key keytab"),
]


def test_config_errors_and_policy(tmp_path, pki, realm, named):
    w = webhook(tmp_path, pki, realm)
    fqdn = unique_fqdn("bad")
    for extra, want in BAD_CONFIGS:
        cfg = gss_config(named)
        cfg.update(extra)
        r = solve(w, "Present", fqdn, "x", cfg)
        assert not r["success"]
        assert want in r["status"]["message"], (extra, r)
    # Another principal: authenticated, refused by the update-policy.
    r = solve(w, "Present", fqdn, "x",
              gss_config(named, principal="other", secret="other-keytab"))
    assert not r["success"]
    assert "other@EXAMPLE.TEST authenticated (GSS-TSIG) but the server's " \
        "policy does not allow it" in r["status"]["message"], r
    assert named.txt(fqdn) == []
    # A wrong service host: the KDC does not know DNS/<host>.
    cfg = gss_config(named)
    cfg["gssTSIG"]["serviceHost"] = "nope.example.test"
    r = solve(w, "Present", fqdn, "x", cfg)
    assert not r["success"]
    assert "the KDC does not know the service principal " \
        "DNS/nope.example.test" in r["status"]["message"], r
    assert w.stop() == 0
