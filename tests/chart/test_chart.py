"""The Helm chart, rendered with default values and with a matrix of
non-default values; every render must pass the same invariants (kinds and
API versions, names and labels, APIService <-> Deployment <-> Service <->
Certificate consistency, exact RBAC), and each matrix row adds its own
expectation."""
import json
import os
import re
import subprocess

import pytest
import yaml

from chartlib import CHART, ROOT, merge

# (apiVersion, kind) -> namespaced? Served by Kubernetes 1.22 to 1.32 (the
# built-ins) and by cert-manager 1.x / Prometheus Operator (the CRDs).
KINDS = {
    ("v1", "Service"): True,
    ("v1", "ServiceAccount"): True,
    ("apps/v1", "Deployment"): True,
    ("policy/v1", "PodDisruptionBudget"): True,
    ("networking.k8s.io/v1", "NetworkPolicy"): True,
    ("rbac.authorization.k8s.io/v1", "Role"): True,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): True,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): False,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): False,
    ("apiregistration.k8s.io/v1", "APIService"): False,
    ("cert-manager.io/v1", "Issuer"): True,
    ("cert-manager.io/v1", "Certificate"): True,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): True,
}

# The flags `rfc2136-webhook serve` accepts (issue 3 and the metrics flag).
SERVE_FLAGS = {
    "secure-port", "bind-address", "tls-cert-file", "tls-private-key-file",
    "group-name", "solver-name", "kubeconfig", "secrets-dir",
    "requestheader-client-ca-file", "requestheader-allowed-names",
    "authorization-mode", "v", "logging-format", "dns-timeout",
    "metrics-bind-address", "shutdown-grace-period", "allowed-zones",
    "allowed-nameservers",
    # issue 15: the limits
    "max-connections", "max-connections-per-client", "tls-handshake-timeout",
    "first-request-timeout", "max-challenges-per-namespace",
    "allow-core-dumps", "coalesce-window",
}

# The limit flags the chart always sets, with their default values.
LIMIT_FLAGS = {
    "max-connections": "256", "max-connections-per-client": "64",
    "tls-handshake-timeout": "5s", "first-request-timeout": "10s",
    "max-challenges-per-namespace": "12",
}


def metrics_exposed(v):
    return v["metrics"]["enabled"] and \
        v["metrics"]["bindAddress"].strip("[]") not in ("127.0.0.1", "::1")

# What the built-in roles the chart may bind grant (Kubernetes' bootstrap
# policy, plugin/pkg/auth/authorizer/rbac/bootstrappolicy).
BUILTIN_CLUSTERROLES = {
    "system:auth-delegator": [
        {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"],
         "verbs": ["create"]},
        {"apiGroups": ["authorization.k8s.io"],
         "resources": ["subjectaccessreviews"], "verbs": ["create"]},
    ],
}
BUILTIN_ROLES = {
    ("kube-system", "extension-apiserver-authentication-reader"): [
        {"apiGroups": [""], "resources": ["configmaps"],
         "resourceNames": ["extension-apiserver-authentication"],
         "verbs": ["get", "list", "watch"]},
    ],
}
AUTH_CM = ("kube-system", "", "configmaps", "get",
           "extension-apiserver-authentication")
SAR = ("*", "authorization.k8s.io", "subjectaccessreviews", "create", "*")
# Granted by the built-in roles beyond what the webhook calls.
BUILTIN_EXTRA = {
    ("*", "authentication.k8s.io", "tokenreviews", "create", "*"),
    ("kube-system", "", "configmaps", "list",
     "extension-apiserver-authentication"),
    ("kube-system", "", "configmaps", "watch",
     "extension-apiserver-authentication"),
}

DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def chart_meta():
    with open(os.path.join(CHART, "Chart.yaml")) as fh:
        return yaml.safe_load(fh)


def subjects_match(subjects, kind, name, namespace):
    return any(s.get("kind") == kind and s.get("name") == name and
               s.get("namespace") == namespace for s in subjects)


def permissions(r, sa_name, sa_ns):
    """Everything the ServiceAccount may do, as (namespace|*, apiGroup,
    resource, verb, resourceName|*) tuples, through the rendered bindings
    and the built-in roles they name."""
    perms = set()

    def add(rules, ns):
        for rule in rules:
            for g in rule["apiGroups"]:
                for res in rule["resources"]:
                    for verb in rule["verbs"]:
                        for rn in rule.get("resourceNames") or ["*"]:
                            perms.add((ns, g, res, verb, rn))

    for b in r.all("ClusterRoleBinding") + r.all("RoleBinding"):
        if not subjects_match(b["subjects"], "ServiceAccount", sa_name, sa_ns):
            continue
        ref = b["roleRef"]
        assert ref["apiGroup"] == "rbac.authorization.k8s.io"
        bns = b["metadata"].get("namespace", "*")
        if ref["kind"] == "ClusterRole":
            role = r.get("ClusterRole", ref["name"])
            rules = role["rules"] if role else BUILTIN_CLUSTERROLES[ref["name"]]
        else:
            role = r.get("Role", ref["name"], bns)
            rules = role["rules"] if role else BUILTIN_ROLES[(bns, ref["name"])]
        add(rules, bns)
    return perms


def check_invariants(r):
    v = r.values
    meta = chart_meta()
    group = v["groupName"]
    ns = r.namespace

    # Kinds, API versions, scope, names, labels.
    for d in r.docs:
        key = (d["apiVersion"], d["kind"])
        assert key in KINDS, f"unexpected {key}"
        md = d["metadata"]
        if KINDS[key]:
            assert md.get("namespace"), f"{d['kind']} {md['name']} has no namespace"
        else:
            assert "namespace" not in md, f"cluster-scoped {d['kind']} with a namespace"
        if d["kind"] in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"):
            # RBAC names are path segments: no "/" or "%", not "." or "..".
            assert re.match(r"^[^/%]+$", md["name"]) and md["name"] not in (".", "..")
        else:
            assert DNS1123_SUBDOMAIN.match(md["name"]), md["name"]
            assert len(md["name"]) <= 253
        labels = md["labels"]
        assert labels["app.kubernetes.io/instance"] == r.release
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == meta["appVersion"]
        assert labels["helm.sh/chart"] == f"{meta['name']}-{meta['version']}"
        for k, val in v["commonLabels"].items():
            assert labels[k] == val
        for val in labels.values():
            assert isinstance(val, str) and len(val) <= 63 and LABEL_VALUE.match(val), val

    # Objects in the release namespace, except the RBAC ones that must live
    # elsewhere.
    for d in r.docs:
        dns = d["metadata"].get("namespace")
        if dns and d["kind"] not in ("Role", "RoleBinding"):
            assert dns == ns, f"{d['kind']} in {dns}"

    dep = r.deployment
    pod = dep["spec"]["template"]
    selector = dep["spec"]["selector"]["matchLabels"]
    assert selector == {"app.kubernetes.io/name": selector["app.kubernetes.io/name"],
                        "app.kubernetes.io/instance": r.release}
    for k, val in selector.items():
        assert pod["metadata"]["labels"][k] == val
    assert dep["spec"]["replicas"] == v["replicaCount"]

    # Service -> pods; APIService -> Service; flags agree.
    svc_name = dep["metadata"]["name"]
    assert DNS1035_LABEL.match(svc_name) and len(svc_name) <= 63, svc_name
    svc = r.one("Service", svc_name)
    assert svc["spec"]["selector"] == selector
    assert svc["spec"]["type"] == "ClusterIP"
    [sport] = svc["spec"]["ports"]
    assert sport["name"] == "https" and sport["port"] == v["service"]["port"]
    c = r.container
    cports = {p["name"]: p["containerPort"] for p in c["ports"]}
    flags = r.flags()
    assert c["args"][0] == "serve"
    assert set(flags) <= SERVE_FLAGS, set(flags) - SERVE_FLAGS
    assert cports[sport["targetPort"]] == int(flags["secure-port"]) == \
        v["webhook"]["securePort"]

    api = r.one("APIService")
    assert api["metadata"]["name"] == f"v1alpha1.{group}"
    assert api["spec"]["group"] == group == flags["group-name"]
    assert api["spec"]["version"] == "v1alpha1"
    assert api["spec"]["service"] == {"name": svc_name, "namespace": ns,
                                      "port": sport["port"]}
    assert flags["solver-name"] == v["solverName"]
    assert "caBundle" not in api["spec"] and \
        api["spec"].get("insecureSkipTLSVerify") is not True

    # PKI: selfsigned Issuer -> CA Certificate -> CA Issuer -> serving
    # Certificate, whose Secret is mounted and whose CA is injected.
    inject = api["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
    cns, _, cert_name = inject.partition("/")
    assert cns == ns
    serving = r.one("Certificate", cert_name)
    sspec = serving["spec"]
    for name in (svc_name, f"{svc_name}.{ns}", f"{svc_name}.{ns}.svc"):
        assert name in sspec["dnsNames"]
    assert "server auth" in sspec["usages"]
    assert sspec["duration"] == v["pki"]["servingCertificateDuration"]
    assert sspec["renewBefore"] == v["pki"]["servingCertificateRenewBefore"]
    assert not sspec.get("isCA")
    ca_issuer = r.one("Issuer", sspec["issuerRef"]["name"])
    assert sspec["issuerRef"]["kind"] == "Issuer"
    ca_cert = [x for x in r.all("Certificate")
               if x["spec"]["secretName"] == ca_issuer["spec"]["ca"]["secretName"]]
    assert len(ca_cert) == 1 and ca_cert[0]["spec"]["isCA"] is True
    assert ca_cert[0]["spec"]["duration"] == v["pki"]["caDuration"]
    root = r.one("Issuer", ca_cert[0]["spec"]["issuerRef"]["name"])
    assert root["spec"] == {"selfSigned": {}}
    for crt in (serving, ca_cert[0]):
        assert crt["spec"]["privateKey"]["algorithm"] == v["pki"]["privateKeyAlgorithm"]
        assert crt["spec"]["privateKey"]["size"] == v["pki"]["privateKeySize"]
    vols = {x["name"]: x for x in pod["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    tls_dir = os.path.dirname(flags["tls-cert-file"])
    assert os.path.dirname(flags["tls-private-key-file"]) == tls_dir
    tls_vol = vols[mounts[tls_dir]]
    assert tls_vol["secret"]["secretName"] == sspec["secretName"]
    assert tls_vol["secret"]["defaultMode"] == 0o440

    # Probes over HTTPS on the secure port, no auth needed.
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c[probe]["httpGet"]
        assert (get["path"], get["scheme"]) == (path, "HTTPS")
        assert cports[get["port"]] == int(flags["secure-port"])

    # Resources and security context.
    for part in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][part]), part
    # The server drains requests for its grace period on SIGTERM; the
    # kubelet must wait longer before it kills the container.
    grace = flags["shutdown-grace-period"]
    assert grace.endswith("s") and grace[:-1].isdigit(), grace
    assert int(grace[:-1]) < pod["spec"]["terminationGracePeriodSeconds"]
    psc = pod["spec"]["securityContext"]
    sc = c["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] != 0
    assert psc["seccompProfile"]["type"] == "RuntimeDefault"
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
    assert sc.get("privileged") is not True

    # ServiceAccount and RBAC: exactly what the server calls.
    sa = pod["spec"]["serviceAccountName"]
    if v["serviceAccount"]["create"]:
        assert r.one("ServiceAccount")["metadata"]["name"] == sa
    else:
        assert r.all("ServiceAccount") == []
    secret_ns = v["secrets"]["namespaces"] or [v["certManager"]["namespace"]]
    names = v["secrets"]["resourceNames"] or ["*"]
    if v["secrets"]["clusterWide"]:
        secret_perms = {("*", "", "secrets", "get", n) for n in names}
    else:
        secret_perms = {(sn, "", "secrets", "get", n) for sn in secret_ns for n in names}
    want = secret_perms | {AUTH_CM, SAR}
    if v["rbac"]["useBuiltinRoles"]:
        want |= BUILTIN_EXTRA
    assert permissions(r, sa, ns) == want

    # cert-manager's account may create the solver resource, nothing else.
    cm_sa, cm_ns = v["certManager"]["serviceAccountName"], v["certManager"]["namespace"]
    assert permissions(r, cm_sa, cm_ns) == {
        ("*", group, v["solverName"], "create", "*")}
    # No wildcard anywhere in rules the chart writes.
    for role in r.all("ClusterRole") + r.all("Role"):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], role["metadata"]["name"]

    # PodDisruptionBudget and NetworkPolicy select the pods.
    for pdb in r.all("PodDisruptionBudget"):
        assert pdb["spec"]["selector"]["matchLabels"] == selector
    for np in r.all("NetworkPolicy"):
        assert np["spec"]["podSelector"]["matchLabels"] == selector
        allowed = {p["port"] for rule in np["spec"]["ingress"] for p in rule["ports"]}
        expect = {int(flags["secure-port"])}
        if metrics_exposed(v):
            expect.add(v["metrics"]["port"])
        assert allowed == expect


def test_default_render(chart):
    r = chart.render()
    check_invariants(r)
    kinds = sorted(d["kind"] for d in r.docs)
    assert kinds == sorted([
        "APIService", "Service", "Deployment", "PodDisruptionBudget",
        "ServiceAccount", "Issuer", "Issuer", "Certificate", "Certificate",
        "ClusterRoleBinding", "RoleBinding",           # auth-delegator, auth reader
        "ClusterRole", "ClusterRoleBinding",           # domain solver
        "Role", "RoleBinding",                         # secrets in cert-manager
    ])
    d = r.deployment
    assert d["spec"]["replicas"] == 2
    aff = d["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    [term] = aff["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == \
        d["spec"]["selector"]["matchLabels"]
    assert r.container["image"] == f"rfc2136-webhook:{chart_meta()['appVersion']}"
    assert r.one("PodDisruptionBudget")["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": d["spec"]["selector"]["matchLabels"]}}
    # The domain-solver binding names cert-manager's own account.
    b = r.one("ClusterRoleBinding", "rfc2136-cert-manager-webhook-rfc2136:domain-solver")
    assert b["subjects"] == [{"kind": "ServiceAccount", "name": "cert-manager",
                              "namespace": "cert-manager"}]
    assert r.flags()["authorization-mode"] == "SubjectAccessReview"
    # Metrics are on, on the pod's loopback only (they name every
    # tenant's nameservers and need no login): no Service, no port.
    assert r.flags()["metrics-bind-address"] == "127.0.0.1:9402"
    assert [s["metadata"]["name"] for s in r.all("Service")] == \
        [d["metadata"]["name"]]
    assert all(p["name"] != "http-metrics" for p in r.container["ports"])
    # The limits (issue 15), with their safe defaults; no core dumps.
    flags = r.flags()
    assert {k: flags.get(k) for k in LIMIT_FLAGS} == LIMIT_FLAGS
    assert "allow-core-dumps" not in flags


def test_app_version_is_the_project_version():
    with open(os.path.join(ROOT, "VERSION")) as fh:
        assert chart_meta()["appVersion"] == fh.read().strip()


def tsc_has_tpl(r):
    [t] = r.deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert t["labelSelector"]["matchLabels"] == r.deployment["spec"]["selector"]["matchLabels"]


def metrics_service_and_port(flag):
    def check(r):
        assert r.flags()["metrics-bind-address"] == flag
        msvc = r.one("Service", r.deployment["metadata"]["name"] + "-metrics")
        assert msvc["spec"]["ports"][0]["targetPort"] == "http-metrics"
        assert {"name": "http-metrics", "containerPort": 9402,
                "protocol": "TCP"} in r.container["ports"]
    return check


def only_metrics_service_selected(r):
    sm = r.one("ServiceMonitor")
    sel = sm["spec"]["selector"]["matchLabels"]
    matched = [s["metadata"]["name"] for s in r.all("Service")
               if all(s["metadata"]["labels"].get(k) == x for k, x in sel.items())]
    assert matched == [r.deployment["metadata"]["name"] + "-metrics"]
    [ep] = sm["spec"]["endpoints"]
    msvc = r.one("Service", matched[0])
    assert ep["port"] == msvc["spec"]["ports"][0]["name"]
    assert r.flags()["metrics-bind-address"].endswith(":9402")
    assert sm["metadata"]["labels"]["release"] == "prom"


# One row per non-default configuration: the values, and what must hold
# beyond the invariants (a callable on the render).
MATRIX = [
    ("group-and-names",
     {"groupName": "acme.example.com", "nameOverride": "dns", "solverName": "tsig"},
     {}, lambda r: (
         r.one("APIService", "v1alpha1.acme.example.com"),
         r.one("Deployment", "rfc2136-dns"),
         r.one("ClusterRole", "rfc2136-dns:domain-solver")["rules"] == [
             {"apiGroups": ["acme.example.com"], "resources": ["tsig"], "verbs": ["create"]}]
         or pytest.fail("domain-solver rule"))),
    ("fullname-override", {"fullnameOverride": "webhook"}, {},
     lambda r: r.one("Service", "webhook")),
    ("release-contains-chart-name", {}, {"release": "cert-manager-webhook-rfc2136"},
     lambda r: r.one("Service", "cert-manager-webhook-rfc2136")),
    ("long-release-name", {}, {"release": "a" * 53},
     lambda r: len(r.deployment["metadata"]["name"]) == 63 or pytest.fail("not truncated")),
    ("other-namespace", {}, {"namespace": "dns-system"},
     lambda r: r.one("Role")["metadata"]["namespace"] == "cert-manager"
     or pytest.fail("secrets Role must stay in cert-manager's namespace")),
    ("cert-manager-elsewhere",
     {"certManager": {"namespace": "security", "serviceAccountName": "cm-cert-manager"}}, {},
     lambda r: r.one("Role")["metadata"]["namespace"] == "security"
     or pytest.fail("secrets default to cert-manager's namespace")),
    ("secret-namespaces-and-names",
     {"secrets": {"namespaces": ["team-a", "team-b"], "resourceNames": ["rfc2136-tsig"]}}, {},
     lambda r: sorted(x["metadata"]["namespace"] for x in r.all("Role")) == ["team-a", "team-b"]
     or pytest.fail("one Role per namespace")),
    ("secrets-cluster-wide", {"secrets": {"clusterWide": True}}, {},
     lambda r: r.all("Role") == [] or pytest.fail("no per-namespace Role")),
    ("minimal-rbac", {"rbac": {"useBuiltinRoles": False}}, {},
     lambda r: not any(b["roleRef"]["name"].startswith(("system:", "extension-"))
                       for b in r.all("ClusterRoleBinding") + r.all("RoleBinding"))
     or pytest.fail("built-in role bound")),
    ("three-replicas-hard-anti-affinity", {"replicaCount": 3, "podAntiAffinity": "hard"}, {},
     lambda r: r.deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
     ["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"]
     == "kubernetes.io/hostname" or pytest.fail("hard anti-affinity")),
    ("no-anti-affinity", {"podAntiAffinity": "none"}, {},
     lambda r: "affinity" not in r.deployment["spec"]["template"]["spec"]
     or pytest.fail("affinity rendered")),
    ("custom-affinity",
     {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
         "nodeSelectorTerms": [{"matchExpressions": [
             {"key": "dns", "operator": "Exists"}]}]}}}}, {},
     lambda r: list(r.deployment["spec"]["template"]["spec"]["affinity"]) == ["nodeAffinity"]
     or pytest.fail("affinity not replaced")),
    ("image-digest",
     {"image": {"repository": "registry.example.com:5000/dns/rfc2136-webhook",
                "digest": "sha256:" + "ab" * 32, "tag": "ignored"}}, {},
     lambda r: r.container["image"] == "registry.example.com:5000/dns/rfc2136-webhook@sha256:"
     + "ab" * 32 or pytest.fail(r.container["image"])),
    ("image-tag", {"image": {"tag": "0.2.0-rc1", "pullPolicy": "Always"},
                   "imagePullSecrets": [{"name": "regcred"}]}, {},
     lambda r: (r.container["image"], r.container["imagePullPolicy"]) ==
     ("rfc2136-webhook:0.2.0-rc1", "Always") or pytest.fail(r.container["image"])),
    ("network-policy-and-metrics",
     {"networkPolicy": {"enabled": True, "ingressFrom": [{"ipBlock": {"cidr": "10.0.0.0/8"}}],
                        "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]},
      "metrics": {"enabled": True, "bindAddress": ""}}, {},
     lambda r: r.one("NetworkPolicy")["spec"]["policyTypes"] == ["Ingress", "Egress"]
     or pytest.fail("egress policy type")),
    ("metrics-off", {"metrics": {"enabled": False}}, {},
     lambda r: ("metrics-bind-address" not in r.flags() and
                [s["metadata"]["name"] for s in r.all("Service")] ==
                [r.deployment["metadata"]["name"]]) or pytest.fail("metrics")),
    ("network-policy-only", {"networkPolicy": {"enabled": True}}, {},
     lambda r: r.one("NetworkPolicy")["spec"]["policyTypes"] == ["Ingress"]
     or pytest.fail("ingress only")),
    ("service-monitor",
     {"metrics": {"enabled": True, "bindAddress": "",
                  "serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}}, {},
     only_metrics_service_selected),
    ("metrics-every-address",
     {"metrics": {"bindAddress": ""}}, {}, metrics_service_and_port(":9402")),
    ("metrics-ipv6-pod-address",
     {"metrics": {"bindAddress": "fd00::5"}}, {},
     metrics_service_and_port("[fd00::5]:9402")),
    ("metrics-ipv6-loopback",
     {"metrics": {"bindAddress": "::1"}}, {},
     lambda r: (r.flags()["metrics-bind-address"] == "[::1]:9402" and
                len(r.all("Service")) == 1) or pytest.fail("::1")),
    ("limits-and-core-dumps",
     {"webhook": {"limits": {"maxConnections": 512, "maxConnectionsPerClient": 16,
                             "tlsHandshakeTimeout": "3s", "firstRequestTimeout": "8s",
                             "maxChallengesPerNamespace": 2},
                  "allowCoreDumps": True}}, {},
     lambda r: ({k: r.flags().get(k) for k in LIMIT_FLAGS} == {
         "max-connections": "512", "max-connections-per-client": "16",
         "tls-handshake-timeout": "3s", "first-request-timeout": "8s",
         "max-challenges-per-namespace": "2"} and "--allow-core-dumps" in r.container["args"])
     or pytest.fail(str(r.flags()))),
    ("pdb-min-available", {"podDisruptionBudget": {"minAvailable": "50%", "maxUnavailable": None}},
     {}, lambda r: r.one("PodDisruptionBudget")["spec"]["minAvailable"] == "50%"
     or pytest.fail("minAvailable")),
    ("pdb-disabled-one-replica", {"podDisruptionBudget": {"enabled": False}, "replicaCount": 1},
     {}, lambda r: r.all("PodDisruptionBudget") == [] or pytest.fail("PDB rendered")),
    ("existing-service-account", {"serviceAccount": {"create": False, "name": "dns-solver"}}, {},
     lambda r: r.deployment["spec"]["template"]["spec"]["serviceAccountName"] == "dns-solver"
     or pytest.fail("serviceAccountName")),
    ("rsa-pki",
     {"pki": {"privateKeyAlgorithm": "RSA", "privateKeySize": 3072, "caDuration": "87600h",
              "servingCertificateDuration": "2160h", "servingCertificateRenewBefore": "360h",
              "clusterDomain": "k8s.internal"}}, {},
     lambda r: ("key encipherment" in r.one("Certificate", r.deployment["metadata"]["name"]
                                            + "-webhook-tls")["spec"]["usages"]
                and r.deployment["metadata"]["name"] + ".cert-manager.svc.k8s.internal"
                in r.one("Certificate", r.deployment["metadata"]["name"]
                         + "-webhook-tls")["spec"]["dnsNames"])
     or pytest.fail("RSA usages / cluster domain")),
    ("server-flags",
     {"webhook": {"securePort": 9443, "bindAddress": "::", "authorizationMode":
                  "AllowAuthenticated", "logLevel": 3, "logFormat": "json", "dnsTimeout": "1500ms",
                  "coalesceWindow": "25ms",
                  "extraArgs": ["--requestheader-allowed-names=front-proxy-client"],
                  "extraEnv": [{"name": "TZ", "value": "UTC"}]},
      "service": {"port": 8443}, "networkPolicy": {"enabled": True}}, {},
     lambda r: r.flags() == {
         "secure-port": "9443", "bind-address": "::",
         "tls-cert-file": "/tls/tls.crt", "tls-private-key-file": "/tls/tls.key",
         "group-name": "acme.rfc2136-webhook.example", "solver-name": "rfc2136",
         "authorization-mode": "AllowAuthenticated", "v": "3", "logging-format": "json",
         "dns-timeout": "1500ms", "coalesce-window": "25ms",
         "requestheader-allowed-names": "front-proxy-client",
         "shutdown-grace-period": "25s", "metrics-bind-address": "127.0.0.1:9402",
         **LIMIT_FLAGS}
     or pytest.fail(str(r.flags()))),
    ("allowed-zones",
     {"allowedZones": ["example.com", "team-a.example.org."]}, {},
     lambda r: r.flags()["allowed-zones"] == "example.com,team-a.example.org."
     or pytest.fail(str(r.flags()))),
    ("allowed-nameservers",
     {"webhook": {"allowedNameservers": ["10.0.0.0/8", "ns1.example.com", "2001:db8::/32"]}},
     {},
     lambda r: r.flags().get("allowed-nameservers") == "10.0.0.0/8,ns1.example.com,2001:db8::/32"
     or pytest.fail(str(r.flags()))),
    ("allowed-nameservers-default", {}, {},
     lambda r: "allowed-nameservers" not in r.flags() or pytest.fail(str(r.flags()))),
    ("labels-annotations-scheduling",
     {"commonLabels": {"team": "dns"}, "podLabels": {"tier": "infra"},
      "podAnnotations": {"example.com/note": "x"}, "priorityClassName": "system-cluster-critical",
      "nodeSelector": {"kubernetes.io/os": "linux"},
      "tolerations": [{"key": "dns", "operator": "Exists", "effect": "NoSchedule"}],
      "serviceAccount": {"annotations": {"example.com/role": "dns"}},
      "resources": {"requests": {"cpu": "50m", "memory": "16Mi"},
                    "limits": {"cpu": "1", "memory": "128Mi"}}}, {},
     lambda r: (r.deployment["spec"]["template"]["metadata"]["labels"]["tier"],
                r.deployment["spec"]["template"]["spec"]["priorityClassName"]) ==
     ("infra", "system-cluster-critical") or pytest.fail("pod labels / priority")),
    ("topology-spread-with-tpl",
     {"topologySpreadConstraints": [{
         "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
         "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": {"matchLabels": {
             "app.kubernetes.io/name": "{{ include \"rfc2136.name\" . }}",
             "app.kubernetes.io/instance": "{{ .Release.Name }}"}}}]}, {},
     tsc_has_tpl),
    ("upgrade-on-kube-1.22", {}, {"args": ["-kube-version", "1.22.0", "-upgrade"]},
     lambda r: None),
]


@pytest.mark.parametrize("values,opts,check", [m[1:] for m in MATRIX],
                         ids=[m[0] for m in MATRIX])
def test_matrix(chart, values, opts, check):
    r = chart.render(values, **opts)
    check_invariants(r)
    check(r)


# Values the chart must refuse, with a piece of the expected error; the
# schema rejects most, the templates the rest.
BAD = [
    ("unknown-key", {"replicas": 3}, "Additional property replicas"),
    ("unknown-nested-key", {"image": {"repo": "x"}}, "Additional property repo"),
    ("replicas-string", {"replicaCount": "2"}, "replicaCount: Invalid type"),
    ("replicas-negative", {"replicaCount": -1}, "replicaCount: Must be greater"),
    ("group-one-label", {"groupName": "acme"}, "groupName: Does not match"),
    ("group-uppercase", {"groupName": "ACME.example.com"}, "groupName: Does not match"),
    ("group-empty", {"groupName": ""}, "groupName"),
    ("solver-uppercase", {"solverName": "RFC2136"}, "solverName"),
    ("digest-malformed", {"image": {"digest": "sha256:1234"}}, "image.digest"),
    ("pull-policy", {"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy"),
    ("repository-with-tag", {"image": {"repository": "rfc2136-webhook:1.0"}}, "image.repository"),
    ("log-format", {"webhook": {"logFormat": "xml"}}, "webhook.logFormat"),
    ("auth-mode", {"webhook": {"authorizationMode": "AlwaysAllow"}}, "webhook.authorizationMode"),
    ("port-range", {"webhook": {"securePort": 70000}}, "webhook.securePort"),
    ("extra-arg-not-a-flag", {"webhook": {"extraArgs": ["serve"]}}, "webhook.extraArgs.0"),
    ("dns-timeout-words", {"webhook": {"dnsTimeout": "five"}}, "webhook.dnsTimeout"),
    ("coalesce-window-too-long", {"webhook": {"coalesceWindow": "2s"}},
     "webhook.coalesceWindow"),
    ("allowed-zones-not-a-name", {"allowedZones": ["example.com/x"]}, "allowedZones.0"),
    ("allowed-zones-string", {"allowedZones": "example.com"}, "allowedZones"),
    ("allowed-nameservers-blank", {"webhook": {"allowedNameservers": ["10.0.0.0/8, ns1"]}},
     "webhook.allowedNameservers"),
    ("allowed-nameservers-string", {"webhook": {"allowedNameservers": "10.0.0.0/8"}},
     "webhook.allowedNameservers"),
    ("service-type", {"service": {"type": "LoadBalancer"}}, "service.type"),
    ("ecdsa-2048", {"pki": {"privateKeySize": 2048}}, "pki"),
    ("rsa-256", {"pki": {"privateKeyAlgorithm": "RSA"}}, "pki"),
    ("duration-days", {"pki": {"caDuration": "5y"}}, "pki.caDuration"),
    ("secret-namespace-invalid", {"secrets": {"namespaces": ["Team_A"]}}, "secrets.namespaces.0"),
    ("secret-namespace-dup", {"secrets": {"namespaces": ["a", "a"]}}, "secrets.namespaces"),
    ("cluster-wide-string", {"secrets": {"clusterWide": "yes"}}, "secrets.clusterWide"),
    ("anti-affinity", {"podAntiAffinity": "maybe"}, "podAntiAffinity"),
    ("pdb-percent-typo", {"podDisruptionBudget": {"maxUnavailable": "50 %"}},
     "podDisruptionBudget.maxUnavailable"),
    ("cert-manager-sa-missing", {"certManager": {"serviceAccountName": None}},
     "serviceAccountName is required"),
    ("labels-not-strings", {"commonLabels": {"n": 1}}, "commonLabels.n"),
    ("fullname-invalid", {"fullnameOverride": "Web_Hook"}, "fullnameOverride"),
    ("limit-per-namespace-too-high",
     {"webhook": {"limits": {"maxChallengesPerNamespace": 17}}},
     "maxChallengesPerNamespace"),
    ("limit-timeout-not-a-duration",
     {"webhook": {"limits": {"tlsHandshakeTimeout": "soon"}}}, "tlsHandshakeTimeout"),
    # The templates' own checks (the last TEMPLATE_CHECKS rows).
    ("pdb-both", {"podDisruptionBudget": {"minAvailable": 1}}, "only one of"),
    ("pdb-neither", {"podDisruptionBudget": {"maxUnavailable": None}},
     "set maxUnavailable or minAvailable"),
    ("sa-name-required", {"serviceAccount": {"create": False}}, "serviceAccount.name is required"),
    ("monitor-needs-metrics", {"metrics": {"enabled": False,
                                           "serviceMonitor": {"enabled": True}}},
     "needs metrics.enabled"),
    ("monitor-needs-reachable-metrics", {"metrics": {"serviceMonitor": {"enabled": True}}},
     "needs metrics.bindAddress other than the loopback"),

]


TEMPLATE_CHECKS = 5


@pytest.mark.parametrize("values,expect", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_values_rejected(chart, values, expect):
    err = chart.fail(values)
    assert expect in err, err


def jsonschema_errors(values):
    import jsonschema
    with open(os.path.join(CHART, "values.schema.json")) as fh:
        schema = json.load(fh)
    with open(os.path.join(CHART, "values.yaml")) as fh:

        merged = merge(yaml.safe_load(fh), values)
    v = jsonschema.Draft7Validator(schema)
    return [e.message for e in v.iter_errors(merged)]


@pytest.mark.parametrize("values", [{}] + [m[1] for m in MATRIX],
                         ids=["default"] + [m[0] for m in MATRIX])
def test_schema_accepts_per_reference_validator(values):
    """The schema itself, checked with the reference implementation
    (python3-jsonschema): what the renderer accepts, it accepts."""
    assert jsonschema_errors(values) == []


@pytest.mark.parametrize("values", [b[1] for b in BAD[:-TEMPLATE_CHECKS]],
                         ids=[b[0] for b in BAD[:-TEMPLATE_CHECKS]])
def test_schema_rejects_per_reference_validator(values):
    assert jsonschema_errors(values) != []


def test_chart_requires_supported_kubernetes(chart):
    assert "incompatible with Kubernetes v1.21.0" in chart.fail(args=["-kube-version", "1.21.0"])


def test_notes_give_a_working_issuer(chart):
    values = {"groupName": "acme.example.com", "secrets": {"namespaces": ["team-a"]}}
    text = chart.notes(values)
    snippet = text[text.index("apiVersion: cert-manager.io/v1"):]
    issuer = yaml.safe_load(snippet)
    webhook = issuer["spec"]["acme"]["solvers"][0]["dns01"]["webhook"]
    assert webhook["groupName"] == "acme.example.com"
    assert webhook["solverName"] == "rfc2136"
    assert set(webhook["config"]) >= {"nameserver", "tsigKeyName", "tsigAlgorithm",
                                      "tsigSecretSecretRef"}
    assert "kubectl get apiservice v1alpha1.acme.example.com" in text
    assert "placeholder" not in text
    assert "Secrets in: team-a" in text
    assert "placeholder" in chart.notes()


def value_keys(node, schema, prefix=""):
    """Paths of values.yaml keys that the schema describes property by
    property (neither free-form Kubernetes objects nor shared definitions
    such as the probe timings are descended into)."""
    out = []
    for k, sub in schema.get("properties", {}).items():
        path = prefix + k
        out.append(path)
        if isinstance(node.get(k), dict) and sub.get("properties"):
            out += value_keys(node[k], sub, path + ".")
    return out


def load_schema_and_values():
    with open(os.path.join(CHART, "values.schema.json")) as fh:
        schema = json.load(fh)
    with open(os.path.join(CHART, "values.yaml")) as fh:
        values = yaml.safe_load(fh)
    return schema, values


def test_values_documented_line_by_line():
    """Every key of values.yaml has a comment right above it, except inside
    free-form objects and the probe timings (named after their fields)."""
    with open(os.path.join(CHART, "values.yaml")) as fh:
        lines = fh.read().splitlines()
    schema, values = load_schema_and_values()
    assert set(values) == set(schema["properties"]), "values.yaml and schema disagree"
    documented = set(value_keys(values, schema))  # no $ref: probes excluded
    stack = []
    missing = []
    for i, line in enumerate(lines):
        m = re.match(r"^( *)([A-Za-z][\w.-]*):", line)
        if not m:
            continue
        depth = len(m.group(1)) // 2
        stack = stack[:depth] + [m.group(2)]
        path = ".".join(stack)
        if path in documented and not lines[i - 1].lstrip().startswith("#"):
            missing.append(path)
    assert missing == []


def test_readme_values_table_lists_every_value():
    schema, values = load_schema_and_values()
    with open(os.path.join(CHART, "README.md")) as fh:
        readme = fh.read()
    table = set(re.findall(r"^\| `([\w.]+)` \|", readme, re.M))
    keys = set(value_keys(values, schema))
    parents = {k for k in keys if any(x.startswith(k + ".") for x in keys)}
    assert keys - parents - table == set(), "missing from the README's table"
    assert table - keys == set(), "the README lists values that do not exist"


def test_yamllint_values_and_examples():
    files = [os.path.join(CHART, "values.yaml"), os.path.join(CHART, "Chart.yaml")]
    deploy = os.path.join(ROOT, "deploy")
    files += sorted(os.path.join(deploy, f) for f in os.listdir(deploy)
                    if f.endswith((".yaml", ".yml")))
    p = subprocess.run(["yamllint", "-s", "-c", os.path.join(os.path.dirname(__file__),
                                                              "yamllint.yaml"), *files],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
