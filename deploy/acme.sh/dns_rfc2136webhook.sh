#!/usr/bin/env sh
# acme.sh DNS API hook: copy to ~/.acme.sh/dnsapi/ and run
#   acme.sh --issue --dns dns_rfc2136webhook -d example.com
# with the RFC2136_* variables of lego's rfc2136 provider in the environment
# (RFC2136_NAMESERVER, RFC2136_TSIG_KEY, RFC2136_TSIG_SECRET,
# RFC2136_TSIG_ALGORITHM).  acme.sh calls NAME_add/NAME_rm FQDN VALUE.

dns_rfc2136webhook_add() {
	rfc2136-webhook present "$1" "$2"
}

dns_rfc2136webhook_rm() {
	rfc2136-webhook cleanup "$1" "$2"
}
