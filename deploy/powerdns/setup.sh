#!/bin/sh
# PowerDNS Authoritative: the TSIG key and the zone's update metadata.
#
#   ZONE=example.com KEY=acme-update SECRET=<base64> FROM=10.0.0.0/8 sh setup.sh
#
# What this does NOT restrict: TSIG-ALLOW-DNSUPDATE lets the key change ANY
# record of any type anywhere in the zone (including NS and SOA), limited
# only by the source addresses in ALLOW-DNSUPDATE-FROM. PowerDNS has no
# per-name or per-type rule short of a Lua update policy
# (lua-dnsupdate-policy-script), which replaces every other check
# (TSIG-ALLOW-DNSUPDATE and ALLOW-DNSUPDATE-FROM included) and answers a
# denied record NOERROR while dropping it. For least privilege, give the
# challenges a zone of their own (README.md: CNAME delegation), so the key
# can only touch that zone.
set -eu
: "${ZONE:?}" "${KEY:?}" "${SECRET:?}" "${FROM:?}"
PDNSUTIL=${PDNSUTIL:-pdnsutil}

$PDNSUTIL import-tsig-key "$KEY" hmac-sha256 "$SECRET"
$PDNSUTIL set-meta "$ZONE" TSIG-ALLOW-DNSUPDATE "$KEY"
$PDNSUTIL set-meta "$ZONE" ALLOW-DNSUPDATE-FROM "$FROM"
# Increase the serial on each update (otherwise it jumps to a date).
$PDNSUTIL set-meta "$ZONE" SOA-EDIT-DNSUPDATE INCREASE
