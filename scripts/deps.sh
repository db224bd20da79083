#!/bin/sh
# Install what a group of make targets needs on Debian 12, only what is
# missing.  Usage: scripts/deps.sh build|test|bench|demo|image|image-cross|chart|fuzz|lint ...
# As root it runs apt-get; otherwise it prints the command to run.
set -eu

pkgs_build="make gcc pkg-config libknot-dev libmicrohttpd-dev libjansson-dev
libcurl4-openssl-dev libyaml-dev libssl-dev libgnutls28-dev libkrb5-dev"
pkgs_test="libcmocka-dev python3 python3-pytest python3-yaml openssl
knot knot-dnsutils bind9 bind9-utils bind9-dnsutils pdns-server
pdns-backend-sqlite3 sqlite3 curl clang libclang-rt-14-dev valgrind
krb5-kdc krb5-admin-server krb5-user
samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind python3-samba
pebble lego certbot python3-certbot-dns-rfc2136"
pkgs_demo="knot knot-dnsutils openssl curl pebble lego"
pkgs_image="podman buildah debootstrap"
# Another architecture's image (make image ARCH=arm64): its unit tests in the
# build and its binary in the image test run under qemu-user-static. The
# cross compiler and the target's -dev packages (multiarch) are installed in
# the image's build container, not here: libknot-dev and libknot13 are not
# Multi-Arch: same, so libknot-dev:arm64 would replace this machine's.
pkgs_image_cross="qemu-user-static"
pkgs_chart="golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev yamllint
python3-jsonschema"
# make bench: its Go webhook (bench/gowebhook).
pkgs_bench="golang-go golang-github-miekg-dns-dev"
pkgs_fuzz="clang libclang-rt-14-dev"
pkgs_lint="clang-format"

want=""
for group in "$@"; do
	eval "want=\"\$want \$pkgs_$(echo "$group" | tr - _)\""
done

missing=""
for p in $want; do
	# dpkg-query reports "install ok installed" only for a complete install.
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		case " $missing " in *" $p "*) ;; *) missing="$missing $p" ;; esac
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: not root; run as root: apt-get install -y$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The package lists may be missing on a fresh machine or stale.
apt-get update -qq >/dev/null || apt-get update
# Debian's server packages start their daemons from maintainer scripts where
# an init system runs; the tests start their own, so keep them from starting.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.rfc2136
chmod 755 /usr/sbin/policy-rc.d.rfc2136
if [ ! -e /usr/sbin/policy-rc.d ]; then
	cp /usr/sbin/policy-rc.d.rfc2136 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
rm -f /usr/sbin/policy-rc.d.rfc2136
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
