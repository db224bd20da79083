/*
 * zone.c - where the record must land, for the command line: the zone
 * found at the nameserver when --zone is not given, and the check after a
 * write that the server serves what it said NOERROR to.
 */
#include <stdio.h>
#include <string.h>

#include "dns/dns.h"
#include "cli/cli.h"

/*
 * PowerDNS answers any query whose TSIG it rejects with a plain REFUSED,
 * which reads like "not authoritative here".  When the same questions
 * unsigned find the zone, go on with it: the signed update then gets the
 * key's diagnosis instead of a wrong one about the zone.
 */
static int zone_unsigned(struct cli_opts *o, const struct dns_opts *dopts,
			 const struct dns_addr *server, char *where,
			 size_t wlen)
{
	struct dns_opts u = *dopts;
	struct dns_zone z = {0};
	char err[1024];

	u.key = NULL;
	if (dns_zone_find(server, &u, o->fqdn, &z, err, sizeof(err)) != 0)
		return -1;
	fprintf(stderr,
		"warning: %s refused the signed SOA queries but unsigned ones "
		"find zone %s there: the server does not accept key '%s' "
		"(PowerDNS refuses any query whose TSIG it rejects); trying "
		"the update\n",
		z.server, z.soa.zone, dopts->key->name);
	snprintf(o->zone, sizeof(o->zone), "%s", z.soa.zone);
	snprintf(where, wlen, "%s", z.server);
	return 0;
}

int cli_zone_discover(struct cli_opts *o, const struct dns_opts *dopts,
		      char *where, size_t wlen)
{
	struct dns_zone z = {0};
	char err[1024] = "";
	int ret = -1;
	size_t i;

	for (i = 0; i < o->nservers; i++) {
		ret = dns_zone_find(&o->servers[i], dopts, o->fqdn, &z, err,
				    sizeof(err));
		if (ret == 0) {
			snprintf(o->zone, sizeof(o->zone), "%s", z.soa.zone);
			snprintf(where, wlen, "%s", z.server);
			return 0;
		}
		/* The first server that answers decides. */
		if (z.outcome.answered || ret == DNS_ENOZONE ||
		    ret == DNS_EREFERRAL || i + 1 == o->nservers)
			break;
		fprintf(stderr, "warning: %s; trying the next nameserver\n",
			err[0] ? err : dns_strerror(ret));
	}
	if (ret == DNS_ENOZONE && dopts->key != NULL && i < o->nservers &&
	    zone_unsigned(o, dopts, &o->servers[i], where, wlen) == 0)
		return 0;
	fprintf(stderr, "error: %s\n", err[0] ? err : dns_strerror(ret));
	if (ret == DNS_EREFERRAL)
		fprintf(stderr,
			"hint: pass that zone's primary as --nameserver (one "
			"of %s, or a hidden primary), or --zone %s with it\n",
			z.ns[0] ? z.ns : "its NS", z.delegation);
	else if (ret == DNS_ENOZONE)
		fprintf(stderr,
			"hint: pass the zone's primary as --nameserver, or "
			"--zone ZONE when the server answers SOA queries "
			"differently ('dig @<address> -p <port> %s SOA' shows "
			"what it says)\n",
			o->fqdn);
	else if (!z.outcome.answered)
		cli_hint(&z.outcome, CLI_STAGE_REACH, o, dopts->key, o->fqdn);
	else if (z.outcome.tsig_error != 0 || ret == DNS_ETSIG ||
		 ret == DNS_EUNSIGNED)
		cli_hint(&z.outcome, CLI_STAGE_KEY, o, dopts->key, o->fqdn);
	return CLI_FAIL;
}

int cli_verify(const struct cli_opts *o, const struct dns_opts *dopts,
	       const struct dns_outcome *last, const char *value, bool present,
	       unsigned *ms)
{
	struct dns_verify v;
	struct dns_addr addr;
	char quoted[DNS_TXT_MAX * 4 + 3], why[512];
	int ret;

	*ms = 0;
	if (dns_outcome_addr(last, &addr) != 0) {
		fprintf(stderr, "error: cannot verify: no address in '%s'\n",
			last->server);
		return CLI_FAIL;
	}
	ret = dns_verify(&addr, dopts, o->fqdn, value, present,
			 CLI_VERIFY_WAIT_MS, &v);
	*ms = v.ms;
	if (ret == 0)
		return 0;
	cli_quote(value, quoted, sizeof(quoted));
	if (ret != DNS_EVERIFY) {
		fprintf(stderr,
			"error: the %s of TXT %s at %s was accepted, but "
			"querying %s over TCP to verify it failed: %s\n",
			present ? "add" : "delete", quoted, o->fqdn,
			last->server,
			dns_outcome_explain(&v.outcome, dopts->key, o->zone,
					    why, sizeof(why)));
		fprintf(stderr, "hint: --no-verify skips this check; the "
				"server must answer TXT queries over TCP\n");
		return CLI_FAIL;
	}
	fprintf(stderr,
		"error: %s answered the %s of TXT %s at %s with NOERROR, but "
		"%s it after %u ms (%u queries over TCP); it serves: %s\n",
		last->server, present ? "add" : "delete", quoted, o->fqdn,
		present ? "does not serve" : "still serves", v.ms, v.tries,
		v.served);
	fprintf(stderr,
		"hint: likely causes: an update policy that drops changes "
		"silently (PowerDNS with lua-dnsupdate-policy-script answers "
		"NOERROR and stores nothing; its log says 'Not permitted by "
		"policy'); an update forwarded to a primary that did not "
		"apply it; %s inside a sub-zone the server also serves (Knot "
		"accepts the update in zone %s and never serves it: omit "
		"--zone to find the zone)\n",
		o->fqdn, o->zone);
	return CLI_FAIL;
}
