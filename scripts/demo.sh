#!/bin/sh
# make demo: a DNS-01 challenge published and removed end to end, as
# cert-manager would do it through kube-apiserver, on this machine only.
#
#   1. a Knot DNS server on a free loopback port with a TSIG key and a
#      dynamic zone example.test.
#   2. a throw-away CA, the webhook's serving certificate and the front
#      proxy's client certificate (what kube-apiserver presents).
#   3. the webhook, with the TSIG secret in a --secrets-dir laid out like a
#      mounted Secret, and --authorization-mode AllowAuthenticated (there
#      is no Kubernetes API here to ask).
#   4. Present, the TXT record served, CleanUp, the record gone.
#   5. A real certificate: Let's Encrypt's test CA (pebble) validates DNS-01
#      at Knot while lego orders demo.example.test and its wildcard; lego's
#      exec hook sends each ChallengePayload to the webhook as cert-manager
#      does through kube-apiserver.  Then what a failure looks like.
#
# Everything lives in one temporary directory; every process started here is
# stopped on exit.  Exits non-zero when any step fails.
#
# Environment: RFC2136_WEBHOOK (default build/rfc2136-webhook).
set -eu

WEBHOOK=${RFC2136_WEBHOOK:-build/rfc2136-webhook}
GROUP=acme.example.org
ZONE=example.test
FQDN=_acme-challenge.demo.$ZONE.
KEYNAME=acme-demo
TOKEN=demo-token-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')

dir=$(mktemp -d "${TMPDIR:-/tmp}/rfc2136-demo.XXXXXX")
knot_pid=
hook_pid=
pebble_pid=

cleanup() {
	status=$?
	[ -n "$hook_pid" ] && kill "$hook_pid" 2>/dev/null && wait "$hook_pid" 2>/dev/null
	[ -n "$pebble_pid" ] && kill "$pebble_pid" 2>/dev/null && { wait "$pebble_pid" 2>/dev/null || :; }
	[ -n "$knot_pid" ] && kill "$knot_pid" 2>/dev/null && wait "$knot_pid" 2>/dev/null
	rm -rf "$dir"
	if [ "$status" -ne 0 ]; then
		echo
		echo "demo: FAILED (exit $status)" >&2
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step() {
	echo
	echo "==> $*"
}

show() {
	# Print a command as the reader would type it, then run it.
	echo "\$ $*" | sed "s|$dir|\$DEMO|g"
	"$@"
}

fail() {
	echo "demo: $*" >&2
	if [ -f "$dir/webhook.log" ]; then
		echo "--- webhook log" >&2
		cat "$dir/webhook.log" >&2
	fi
	exit 1
}

# A port no socket uses (TCP or UDP, any state), in 20000-31999: below the
# kernel's ephemeral range (32768-60999), where outgoing connections of a
# busy machine would make a later bind fail.
free_port() {
	while :; do
		n=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		port=$((20000 + n % 12000))
		if command -v ss >/dev/null 2>&1 &&
			ss -Htuan 2>/dev/null | awk '{print $5}' | grep -q ":$port\$"; then
			continue
		fi
		echo "$port"
		return
	done
}

[ -x "$WEBHOOK" ] || fail "$WEBHOOK is not built (run make)"
for tool in knotd kdig openssl curl pebble lego; do
	command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (scripts/deps.sh demo installs it)"
done

# ---------------------------------------------------------------------------
step "1. Knot DNS: zone $ZONE with dynamic updates allowed for TSIG key '$KEYNAME'"
DNS_PORT=$(free_port)
SECRET=$(openssl rand -base64 32)
mkdir -p "$dir/knot/run" "$dir/knot/db" "$dir/knot/zones"
cat >"$dir/knot/zones/$ZONE.zone" <<EOF
\$ORIGIN $ZONE.
\$TTL 300
@       SOA ns1.$ZONE. hostmaster.$ZONE. 1 3600 600 86400 60
@       NS  ns1.$ZONE.
ns1     A   127.0.0.1
EOF
cat >"$dir/knot/knot.conf" <<EOF
server:
    rundir: "$dir/knot/run"
    listen: 127.0.0.1@$DNS_PORT
log:
  - target: stderr
    any: info
database:
    storage: "$dir/knot/db"
control:
    listen: "$dir/knot/run/knot.sock"
key:
  - id: $KEYNAME
    algorithm: hmac-sha256
    secret: $SECRET
acl:
  - id: acme_update
    key: $KEYNAME
    action: update
    update-type: [TXT]
zone:
  - domain: $ZONE
    storage: "$dir/knot/zones"
    file: "$ZONE.zone"
    zonefile-sync: -1
    acl: [acme_update]
EOF
knotd -c "$dir/knot/knot.conf" >"$dir/knot.log" 2>&1 &
knot_pid=$!
tries=0
until kdig @127.0.0.1 -p "$DNS_PORT" +short +time=1 +retry=0 SOA "$ZONE." 2>/dev/null | grep -q ns1; do
	tries=$((tries + 1))
	[ "$tries" -lt 100 ] || { cat "$dir/knot.log" >&2; fail "knotd did not answer on 127.0.0.1:$DNS_PORT"; }
	kill -0 "$knot_pid" 2>/dev/null || { cat "$dir/knot.log" >&2; fail "knotd exited"; }
	sleep 0.1
done
echo "knotd (pid $knot_pid) serves $ZONE. on 127.0.0.1:$DNS_PORT"
show kdig @127.0.0.1 -p "$DNS_PORT" +short SOA "$ZONE."

# ---------------------------------------------------------------------------
step "2. Certificates: a throw-away CA, the webhook's serving certificate, and the front proxy's client certificate"
pki=$dir/pki
mkdir -p "$pki"
cat >"$pki/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[serving]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
EOF
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
for ca in serving-ca front-proxy-ca; do
	# shellcheck disable=SC2086
	openssl req -x509 -config "$pki/openssl.cnf" -extensions ca $ec \
		-keyout "$pki/$ca.key" -out "$pki/$ca.crt" -days 1 \
		-subj "/CN=demo-$ca" 2>/dev/null || fail "openssl: cannot make $ca"
done
issue() { # name CN ca extensions
	# shellcheck disable=SC2086
	openssl req -new -config "$pki/openssl.cnf" $ec -keyout "$pki/$1.key" \
		-out "$pki/$1.csr" -subj "/CN=$2" 2>/dev/null &&
		openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$3.crt" \
			-CAkey "$pki/$3.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
			-days 1 -extfile "$pki/openssl.cnf" -extensions "$4" \
			-out "$pki/$1.crt" 2>/dev/null || fail "openssl: cannot issue $1"
}
issue serving rfc2136-webhook serving-ca serving
issue front-proxy front-proxy-client front-proxy-ca client
echo "serving certificate:   $(openssl x509 -in "$pki/serving.crt" -noout -subject) (for 127.0.0.1)"
echo "front-proxy client:    $(openssl x509 -in "$pki/front-proxy.crt" -noout -subject) (clientAuth)"

# ---------------------------------------------------------------------------
step "3. The webhook: TSIG secret in a secrets dir, front-proxy CA trusted, no Kubernetes API"
mkdir -p "$dir/secrets/cert-manager/tsig-secret"
printf '%s' "$SECRET" >"$dir/secrets/cert-manager/tsig-secret/secret"
openssl rand -base64 32 | tr -d '\n' >"$dir/secrets/cert-manager/tsig-secret/wrong"
echo "secret stored as a mounted Secret would hold it: \$DEMO/secrets/cert-manager/tsig-secret/secret"
HOOK_PORT=$(free_port)
set -- "$WEBHOOK" serve --secure-port "$HOOK_PORT" --bind-address 127.0.0.1 \
	--tls-cert-file "$pki/serving.crt" --tls-private-key-file "$pki/serving.key" \
	--group-name "$GROUP" \
	--requestheader-client-ca-file "$pki/front-proxy-ca.crt" \
	--requestheader-allowed-names front-proxy-client \
	--secrets-dir "$dir/secrets" --authorization-mode AllowAuthenticated \
	--dns-timeout 3s
echo "\$ $*" | sed "s|$dir|\$DEMO|g"
"$@" >"$dir/webhook.log" 2>&1 &
hook_pid=$!
BASE=https://127.0.0.1:$HOOK_PORT
tries=0
until curl -sf --cacert "$pki/serving-ca.crt" "$BASE/healthz" >/dev/null 2>&1; do
	tries=$((tries + 1))
	[ "$tries" -lt 100 ] || fail "the webhook did not answer on $BASE"
	kill -0 "$hook_pid" 2>/dev/null || { hook_pid=; fail "the webhook exited at start"; }
	sleep 0.1
done
echo "webhook (pid $hook_pid) serves $BASE; its first log lines:"
sed 's/^/    /' "$dir/webhook.log"
show curl -sS --cacert "$pki/serving-ca.crt" "$BASE/readyz"
echo

# kube-apiserver proxies cert-manager's call with its front-proxy client
# certificate and the caller in X-Remote-* headers.
call() { # body-file
	curl -sS --fail-with-body --cacert "$pki/serving-ca.crt" \
		--cert "$pki/front-proxy.crt" --key "$pki/front-proxy.key" \
		-H 'Content-Type: application/json' \
		-H 'X-Remote-User: system:serviceaccount:cert-manager:cert-manager' \
		-H 'X-Remote-Group: system:serviceaccounts' \
		-H 'X-Remote-Group: system:serviceaccounts:cert-manager' \
		-H 'X-Remote-Group: system:authenticated' \
		--data-binary "@$1" "$BASE/apis/$GROUP/v1alpha1/rfc2136"
}

payload() { # action secret-key file
	cat >"$3" <<EOF
{
  "request": {
    "uid": "2f0e4c1a-demo-$1",
    "action": "$1",
    "type": "dns-01",
    "dnsName": "demo.$ZONE",
    "key": "$TOKEN",
    "resourceNamespace": "cert-manager",
    "resolvedFQDN": "$FQDN",
    "resolvedZone": "$ZONE.",
    "allowAmbientCredentials": false,
    "config": {
      "nameserver": "127.0.0.1:$DNS_PORT",
      "tsigKeyName": "$KEYNAME",
      "tsigAlgorithm": "HMACSHA256",
      "tsigSecretSecretRef": {"name": "tsig-secret", "key": "$2"}
    }
  }
}
EOF
}


# ---------------------------------------------------------------------------
step "4. Present, as kube-apiserver forwards it: POST /apis/$GROUP/v1alpha1/rfc2136"
payload Present secret "$dir/present.json"
sed 's/^/    /' "$dir/present.json"
echo "answer:"
answer=$(call "$dir/present.json") || fail "Present: HTTP error: $answer"
echo "    $answer"
case $answer in
*'"success":true'* | *'"success": true'*) ;;
*) fail "Present did not succeed" ;;
esac

step "5. The TXT record is served"
show kdig @127.0.0.1 -p "$DNS_PORT" +short +time=2 +retry=1 TXT "$FQDN" | tee "$dir/txt1"
grep -q "$TOKEN" "$dir/txt1" || fail "the TXT record is not served"

step "6. CleanUp: delete exactly that value"
payload CleanUp secret "$dir/cleanup.json"
answer=$(call "$dir/cleanup.json") || fail "CleanUp: HTTP error: $answer"
echo "    $answer"
case $answer in
*'"success":true'* | *'"success": true'*) ;;
*) fail "CleanUp did not succeed" ;;
esac

step "7. The TXT record is gone"
show kdig @127.0.0.1 -p "$DNS_PORT" +short +time=2 +retry=1 TXT "$FQDN" | tee "$dir/txt2"
if grep -q "$TOKEN" "$dir/txt2"; then
	fail "the TXT record is still served"
fi
echo "(no TXT record left at $FQDN)"

# ---------------------------------------------------------------------------
step "8. A real certificate: pebble (Let's Encrypt's test CA) validates DNS-01 at Knot; lego orders demo.$ZONE and *.demo.$ZONE"
# lego's exec provider runs "HOOK present|cleanup FQDN VALUE".  This hook
# stands in for cert-manager: it sends the ChallengePayload to the webhook
# the way kube-apiserver forwards cert-manager's call.
cat >"$dir/cert-manager-hook.sh" <<EOF
#!/bin/sh
case \$1 in present) action=Present ;; cleanup) action=CleanUp ;; *) exit 0 ;; esac
fqdn=\$2
domain=\${fqdn#_acme-challenge.}
body='{"request": {"uid": "lego-'\$1'", "action": "'\$action'", "type": "dns-01",
  "dnsName": "'\${domain%.}'", "key": "'\$3'", "resourceNamespace": "cert-manager",
  "resolvedFQDN": "'\$fqdn'", "resolvedZone": "$ZONE.", "allowAmbientCredentials": false,
  "config": {"nameserver": "127.0.0.1:$DNS_PORT", "tsigKeyName": "$KEYNAME",
    "tsigAlgorithm": "HMACSHA256", "tsigSecretSecretRef": {"name": "tsig-secret", "key": "secret"}}}}'
answer=\$(curl -sS --fail-with-body --cacert "$pki/serving-ca.crt" \\
	--cert "$pki/front-proxy.crt" --key "$pki/front-proxy.key" \\
	-H 'Content-Type: application/json' \\
	-H 'X-Remote-User: system:serviceaccount:cert-manager:cert-manager' \\
	-H 'X-Remote-Group: system:serviceaccounts' \\
	-H 'X-Remote-Group: system:serviceaccounts:cert-manager' \\
	-H 'X-Remote-Group: system:authenticated' \\
	--data-binary "\$body" "$BASE/apis/$GROUP/v1alpha1/rfc2136") || exit 1
echo "  webhook: \$action TXT \$3 at \$fqdn: \$(echo "\$answer" | grep -o '"response":.*')"
case \$answer in *'"success":true'* | *'"success": true'*) exit 0 ;; esac
exit 1
EOF
chmod 755 "$dir/cert-manager-hook.sh"
ACME_PORT=$(free_port)
ACME_MGMT=$(free_port)
ACME_HTTP=$(free_port)
# pebble serves its ACME API with the webhook's certificate (127.0.0.1).
cat >"$dir/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$ACME_PORT", "managementListenAddress": "127.0.0.1:$ACME_MGMT",
  "certificate": "$pki/serving.crt", "privateKey": "$pki/serving.key",
  "httpPort": $ACME_HTTP, "tlsPort": $ACME_HTTP, "ocspResponderURL": "",
  "externalAccountBindingRequired": false}}
EOF
# No validation sleep, no random nonce errors, no authorization reuse.
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
	pebble -config "$dir/pebble.json" -dnsserver "127.0.0.1:$DNS_PORT" >"$dir/pebble.log" 2>&1 &
pebble_pid=$!
tries=0
until curl -sf --cacert "$pki/serving-ca.crt" "https://127.0.0.1:$ACME_PORT/dir" >/dev/null 2>&1; do
	tries=$((tries + 1))
	[ "$tries" -lt 100 ] || { cat "$dir/pebble.log" >&2; fail "pebble did not answer"; }
	kill -0 "$pebble_pid" 2>/dev/null || { pebble_pid=; cat "$dir/pebble.log" >&2; fail "pebble exited"; }
	sleep 0.1
done
echo "pebble (pid $pebble_pid) serves https://127.0.0.1:$ACME_PORT/dir and validates at 127.0.0.1:$DNS_PORT"
set -- lego --accept-tos --email demo@example.test --server "https://127.0.0.1:$ACME_PORT/dir" \
	--path "$dir/lego" --dns exec --dns.resolvers "127.0.0.1:$DNS_PORT" --dns.disable-cp \
	-d "demo.$ZONE" -d "*.demo.$ZONE" run
echo "\$ EXEC_PATH=$dir/cert-manager-hook.sh $*" | sed "s|$dir|\$DEMO|g"
EXEC_PATH="$dir/cert-manager-hook.sh" EXEC_SEQUENCE_INTERVAL=1 EXEC_POLLING_INTERVAL=1 \
	EXEC_PROPAGATION_TIMEOUT=10 LEGO_CA_CERTIFICATES="$pki/serving-ca.crt" \
	"$@" >"$dir/lego.log" 2>&1 || { cat "$dir/lego.log" >&2; fail "lego did not get a certificate"; }
grep -E 'webhook: |Server responded with a certificate' "$dir/lego.log" |
	sed 's/^[0-9][0-9/]* [0-9:]* //; s/^ *//; s/^/    /'
crt=$dir/lego/certificates/demo.$ZONE.crt
[ -s "$crt" ] || fail "lego wrote no certificate"
echo "issued certificate:"
openssl x509 -in "$crt" -noout -ext subjectAltName -issuer -enddate | sed 's/^/    /'
show kdig @127.0.0.1 -p "$DNS_PORT" +short +time=2 +retry=1 TXT "$FQDN" | tee "$dir/txt3"
if grep -q '"' "$dir/txt3"; then
	fail "TXT records left at $FQDN after the order"
fi
echo "(no TXT record left at $FQDN)"

# ---------------------------------------------------------------------------
step "9. What a failure looks like: the same Present signed with another secret (key 'wrong' of the Secret)"
payload Present wrong "$dir/wrong.json"
answer=$(call "$dir/wrong.json") || fail "Present (wrong secret): HTTP error: $answer"
echo "    $answer"
case $answer in
*'"success":false'* | *'"success": false'*) ;;
*) fail "a wrong secret was not reported as a failure" ;;
esac
case $answer in
*'"message":""'* | *'"message": ""'*) fail "the failure has no message" ;;
esac
echo "cert-manager puts that message in the Challenge's events."

step "10. Stop: SIGTERM, requests in flight finish, exit status 0"
kill "$hook_pid"
rc=0
wait "$hook_pid" || rc=$?
hook_pid=
[ "$rc" -eq 0 ] || fail "the webhook exited $rc"
echo "webhook stopped (exit 0); its request log:"
grep ' request ' "$dir/webhook.log" | sed 's/^/    /' || true

echo
echo "demo: OK - a challenge was published and removed end to end, and a certificate issued."
