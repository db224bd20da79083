"""Where the record must land, through the webhook's HTTPS API: a wrong
resolvedZone recovered by finding the zone at the primary (NOTAUTH from
BIND for a name in a sub-zone it also serves; a NOERROR Knot never serves),
verification after the write (PowerDNS with a Lua policy that drops one
name), --allowed-zones refusing before any Secret read or DNS traffic, and
a resolved name outside its resolved zone (a CNAME) said as such.

Servers: test_zones.py's multi-zone BIND, sub-zone Knot and Lua PowerDNS;
the stand-in Kubernetes API (kube.py) and the webhook (webhook.py).
"""
import os

from test_webhook_solver import (NS, SECRET_KEY, SECRET_NAME, failure, ok,
                                 signed_config, solve, start_for)
from test_zones import (DROPPED, luapdns, subknot, zbind)  # noqa: F401
from dnsservers import free_port
from webhook import start_webhook

PARENT = "example.test."


def sub_fqdn():
    return "_acme-challenge.%s.sub.example.test." % os.urandom(4).hex()


def test_notauth_finds_zone_with_warning(tmp_path, pki, zbind):
    """cert-manager's resolvedZone is "test." (split horizon: its
    resolvers see another zone cut); BIND answers NOTAUTH since it does not
    serve test.; the zone is found there, updated once, with a warning
    naming both zones and the config field."""
    wh = start_for(tmp_path, pki, zbind)
    fqdn, key = "_acme-challenge.%s.other.test." % os.urandom(4).hex(), "nv"
    cfg = signed_config(zbind)
    ok(wh, "Present", fqdn, key, cfg, zone="test.")
    assert zbind.query(fqdn, "TXT").txt == [key]
    log = wh.log()
    assert "the zone cert-manager found is not the server's" in log, log
    assert "resolved_zone=test." in log and "zone=other.test." in log, log
    assert "zone field" in log, log
    ok(wh, "CleanUp", fqdn, key, cfg, zone="test.")
    assert zbind.query(fqdn, "TXT").txt == []


def test_notauth_no_zone_there_names_server(tmp_path, pki, zbind):
    """NOTAUTH and no zone for the name at the server: the message says
    which names were asked."""
    wh = start_for(tmp_path, pki, zbind)
    fqdn = "_acme-challenge.www.nowhere.test."
    msg = failure(wh, "Present", fqdn, "v", signed_config(zbind),
                  zone="nowhere.test.")
    assert "NOTAUTH" in msg, msg
    assert "not authoritative for %s" % fqdn in msg, msg
    assert "nowhere.test., test." in msg, msg


def test_subzone_not_served_finds_subzone(tmp_path, pki, zbind):
    """BIND takes an update for a name in sub.example.test sent to
    example.test (NOERROR; the record sits below the zone cut, never
    served): verification catches it, the zone is found at the server and
    the update goes there, with the warning."""
    wh = start_for(tmp_path, pki, zbind)
    fqdn, key = sub_fqdn(), "value-sub"
    cfg = signed_config(zbind)
    ok(wh, "Present", fqdn, key, cfg, zone=PARENT)
    assert zbind.query(fqdn, "TXT").txt == [key]
    log = wh.log()
    assert "the zone cert-manager found is not the server's" in log, log
    assert "resolved_zone=example.test." in log, log
    assert "zone=sub.example.test." in log, log
    assert "zone field" in log, log
    ok(wh, "CleanUp", fqdn, key, cfg, zone=PARENT)
    assert zbind.query(fqdn, "TXT").txt == []


def test_explicit_zone_is_not_second_guessed(tmp_path, pki, zbind):
    """With config.zone set, a NOTAUTH is the answer: no discovery."""
    wh = start_for(tmp_path, pki, zbind)
    fqdn = sub_fqdn()
    msg = failure(wh, "Present", fqdn, "v", signed_config(zbind,
                                                          zone=PARENT))
    assert "with NOERROR, but does not serve the value" in msg, msg
    assert "serves zone" not in msg, msg
    assert "not the server's" not in wh.log()


def test_referral_named_in_message(tmp_path, pki, zbind):
    """A delegated name: NOTAUTH, and the message names the delegation."""
    wh = start_for(tmp_path, pki, zbind)
    fqdn = "_acme-challenge.www.deleg.example.test."
    msg = failure(wh, "Present", fqdn, "v", signed_config(zbind),
                  zone=PARENT)
    assert "deleg.example.test." in msg and "ns9.elsewhere.test." in msg, \
        msg


def test_knot_noerror_not_served_finds_subzone(tmp_path, pki, subknot):
    """Knot takes the update in the parent zone (NOERROR) and never serves
    it: verification catches it and the update goes to the sub-zone."""
    wh = start_for(tmp_path, pki, subknot)
    fqdn, key = sub_fqdn(), "value-knot-sub"
    cfg = signed_config(subknot)
    ok(wh, "Present", fqdn, key, cfg, zone=PARENT)
    assert key in subknot.query(fqdn, "TXT").txt
    assert "zone=sub.example.test." in wh.log()


def test_verify_catches_lua_drop(tmp_path, pki, luapdns):
    srv = luapdns
    wh = start_for(tmp_path, pki, srv)
    fqdn = "_acme-challenge.%s-%s.example.test." % (DROPPED,
                                                     os.urandom(4).hex())
    msg = failure(wh, "Present", fqdn, "dropped-value", signed_config(srv))
    assert "with NOERROR, but does not serve the value" in msg, msg
    assert "it serves: none" in msg, msg
    assert "lua-dnsupdate-policy-script" in msg, msg
    assert srv.query(fqdn, "TXT").txt == []
    # verify: false takes the NOERROR at its word.
    ok(wh, "Present", fqdn, "dropped-value", signed_config(srv,
                                                           verify=False))
    msg = failure(wh, "Present", fqdn, "v", signed_config(srv,
                                                          verify="no"))
    assert "config.verify must be true or false" in msg, msg


def test_verify_counted_in_metrics(tmp_path, pki, luapdns):
    import urllib.request
    srv = luapdns
    port = free_port()
    wh = start_for(tmp_path, pki, srv, args=[
        "--metrics-bind-address", "127.0.0.1:%d" % port])
    kept = "_acme-challenge.kept-%s.example.test." % os.urandom(4).hex()
    lost = "_acme-challenge.%s-%s.example.test." % (DROPPED,
                                                     os.urandom(4).hex())
    ok(wh, "Present", kept, "k", signed_config(srv))
    failure(wh, "Present", lost, "k", signed_config(srv))
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=5) as r:
        text = r.read().decode()
    assert 'rfc2136_webhook_verifications_total{result="served"} 1' \
        in text, text
    assert 'rfc2136_webhook_verifications_total{result="not_served"} 1' \
        in text, text
    ok(wh, "CleanUp", kept, "k", signed_config(srv))


def test_allowed_zones_refuses_before_secret_and_dns(tmp_path, pki, kube,
                                                     blackhole_dns):
    kube.add_secret(NS, SECRET_NAME, {SECRET_KEY: b"c2VjcmV0"})
    wh = start_webhook(tmp_path, pki, args=[
        "--kubeconfig", kube.kubeconfig(tmp_path / "kubeconfig"),
        "--authorization-mode", "AllowAuthenticated",
        "--allowed-zones", "other.test, corp.example"])
    cfg = {"nameserver": blackhole_dns.addr,
           "tsigSecretSecretRef": {"name": SECRET_NAME, "key": SECRET_KEY}}
    msg = failure(wh, "Present", "_acme-challenge.www.example.test.", "v",
                  cfg)
    assert "outside the zones this webhook may update" in msg, msg
    assert "--allowed-zones other.test, corp.example" in msg, msg
    assert kube.count("GET", r"/secrets/") == 0
    assert blackhole_dns.udp_queries == [] and \
        blackhole_dns.tcp_queries == []


def test_allowed_zones_bad_list_is_usage(tmp_path, pki):
    try:
        start_webhook(tmp_path, pki, args=["--allowed-zones", "a.com,b/c"],
                      timeout=5)
    except Exception as e:  # WebhookStartError
        assert "--allowed-zones" in str(e), e
    else:
        raise AssertionError("serve accepted --allowed-zones a.com,b/c")


def test_allowed_zones_lets_listed_zone_through(tmp_path, pki, zbind):
    wh = start_for(tmp_path, pki, zbind, args=["--allowed-zones",
                                               "other.test"])
    fqdn = "_acme-challenge.%s.other.test." % os.urandom(4).hex()
    ok(wh, "Present", fqdn, "in", signed_config(zbind), zone="other.test.")
    assert zbind.query(fqdn, "TXT").txt == ["in"]
    ok(wh, "CleanUp", fqdn, "in", signed_config(zbind), zone="other.test.")


def test_cname_out_of_zone_said_exactly(tmp_path, pki, blackhole_dns):
    """cert-manager followed _acme-challenge.www.example.test CNAME into
    other.test but kept the zone of the original name."""
    wh = start_webhook(tmp_path, pki, args=[
        "--secrets-dir", str(tmp_path),
        "--authorization-mode", "AllowAuthenticated"])
    resp = solve(wh, "Present", "_acme-challenge.target.other.test.", "v",
                 {"nameserver": blackhole_dns.addr}, zone=PARENT,
                 dns_name="www.example.test")
    assert not resp["success"]
    msg = resp["status"]["message"]
    assert "request.resolvedFQDN _acme-challenge.target.other.test. is " \
        "not inside request.resolvedZone example.test." in msg, msg
    assert "followed a CNAME from _acme-challenge.www.example.test. to " \
        "_acme-challenge.target.other.test." in msg, msg
    assert blackhole_dns.udp_queries == []
