/*
 * solver_zone.c - where the record must land, for the solver: see
 * solver_zone.h.  The most reported failure with cert-manager's RFC 2136
 * solver is the wrong zone (the zone found through recursive resolvers is
 * not the one the primary serves: split horizon, a delegated sub-zone);
 * the second is a NOERROR that stored nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"
#include "server/metrics.h"
#include "server/solver_zone.h"
#include "util/clock.h"

bool solver_name_in_zone(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);

	/* Both absolute; compare without a final dot on either. */
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (z > 0 && zone[z - 1] == '.')
		z--;
	if (z == 0)
		return true; /* the root */
	if (n < z || strncasecmp(name + n - z, zone, z) != 0)
		return false;
	return n == z || name[n - z - 1] == '.';
}

int solver_zones_check(const char *list)
{
	size_t label = 0, names = 0;
	bool trailing = false; /* a space after the name: only ',' may follow */

	for (const char *p = list;; p++) {
		char c = *p;

		if (c == ',' || c == '\0') {
			names += label > 0;
			if (c == '\0')
				break;
			label = 0;
			trailing = false;
			continue;
		}
		if (c == ' ') {
			trailing = label > 0;
			continue;
		}
		if (trailing ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return -EINVAL;
		label++;
	}
	return names > 0 ? 0 : -EINVAL;
}

int solver_zone_allowed(const char *allowed, const char *fqdn, char *msg,
			size_t msglen)
{
	const char *p = allowed;

	if (allowed == NULL || allowed[0] == '\0')
		return 0;
	while (*p != '\0') {
		char zone[DNS_NAME_LEN];
		size_t len = strcspn(p, ",");

		/* Entries are trimmed of spaces: "a.com, b.org". */
		while (len > 0 && *p == ' ') {
			p++;
			len--;
		}
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len > 0 && len < sizeof(zone)) {
			memcpy(zone, p, len);
			zone[len] = '\0';
			if (solver_name_in_zone(fqdn, zone))
				return 0;
		}
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	snprintf(msg, msglen,
		 "%s is outside the zones this webhook may update "
		 "(--allowed-zones %s, the chart's allowedZones): nothing was "
		 "sent; ask the webhook's operator to add its zone, or use an "
		 "Issuer for a listed zone",
		 fqdn, allowed);
	return -EPERM;
}

int solver_zone_outside(const char *dns_name, const char *fqdn,
			const char *zone, char *msg, size_t msglen)
{
	char expect[DNS_NAME_LEN + 32];
	const char *name = dns_name;
	size_t n;

	if (solver_name_in_zone(fqdn, zone))
		return 0;
	/* What cert-manager would have asked without a CNAME. */
	if (name != NULL && strncmp(name, "*.", 2) == 0)
		name += 2;
	n = name != NULL ? strlen(name) : 0;
	snprintf(expect, sizeof(expect), "_acme-challenge.%s%s",
		 n > 0 ? name : "", n > 0 && name[n - 1] == '.' ? "" : ".");
	if (n > 0 && strcasecmp(expect, fqdn) != 0)
		snprintf(msg, msglen,
			 "request.resolvedFQDN %s is not inside "
			 "request.resolvedZone %s: cert-manager followed a "
			 "CNAME from %s to %s (or a wildcard CNAME in the "
			 "zone of %s caught _acme-challenge); update the "
			 "zone of %s (set config.zone to it, with its "
			 "primary as nameserver), or remove the CNAME",
			 fqdn, zone, expect, fqdn, name, fqdn);
	else
		snprintf(msg, msglen,
			 "request.resolvedFQDN %s is not inside "
			 "request.resolvedZone %s; set config.zone to the zone "
			 "that holds it",
			 fqdn, zone);
	return -EINVAL;
}

int solver_answered_addr(const struct dns_result *res, struct dns_addr *addr)
{
	for (size_t i = res->nattempts; i-- > 0;)
		if (res->attempts[i].answered)
			return dns_outcome_addr(&res->attempts[i], addr);
	return DNS_EADDR;
}

int solver_zone_find(const struct dns_addr *server, const struct dns_opts *opts,
		     const char *fqdn, const char *zone, char *found,
		     size_t foundlen, char *msg, size_t msglen)
{
	struct dns_zone z;
	char err[1024];
	int ret;

	ret = dns_zone_find(server, opts, fqdn, &z, err, sizeof(err));
	metrics_zone_discovery(ret == 0);
	if (ret != 0) {
		snprintf(msg, msglen, "%s", err[0] ? err : dns_strerror(ret));
		return ret;
	}
	snprintf(found, foundlen, "%s", z.soa.zone);
	if (solver_name_in_zone(zone, z.soa.zone) &&
	    solver_name_in_zone(z.soa.zone, zone))
		return -ENOENT;
	return 0;
}

int solver_verify(const struct dns_addr *server, const struct dns_opts *opts,
		  const char *fqdn, const char *zone, const char *value,
		  bool present, unsigned wait_ms, char *msg, size_t msglen)
{
	struct dns_verify v;
	char where[DNS_NAME_LEN + 16], why[512];
	int ret;

	ret = dns_verify(server, opts, fqdn, value, present, wait_ms, &v);
	metrics_verify(ret == 0		    ? METRICS_VERIFY_SERVED
		       : ret == DNS_EVERIFY ? METRICS_VERIFY_NOT_SERVED
					    : METRICS_VERIFY_ERROR,
		       (uint64_t)v.ms * 1000);
	if (ret == 0)
		return 0;
	dns_addr_format(server, where, sizeof(where));
	if (ret != DNS_EVERIFY)
		snprintf(msg, msglen,
			 "the %s of %s in zone %s was accepted by %s, but "
			 "the TXT query over TCP to verify it failed: %s "
			 "(set verify: false in the solver config to skip "
			 "this check)",
			 present ? "add" : "delete", fqdn, zone, where,
			 dns_outcome_explain(&v.outcome, opts->key, zone, why,
					     sizeof(why)));
	else
		snprintf(msg, msglen,
			 "%s answered the %s of TXT at %s in zone %s with "
			 "NOERROR, but %s the value after %u ms (%u queries); "
			 "it serves: %s. Likely causes: an update policy that "
			 "drops changes silently (PowerDNS with "
			 "lua-dnsupdate-policy-script answers NOERROR and "
			 "stores nothing: its log says 'Not permitted by "
			 "policy'); an update forwarded to a primary that did "
			 "not apply it; the name inside a sub-zone the server "
			 "also serves (Knot accepts the update in the parent "
			 "zone and never serves it: set config.zone)",
			 where, present ? "add" : "delete", fqdn, zone,
			 present ? "does not serve" : "still serves", v.ms,
			 v.tries, v.served);
	return ret;
}

bool solver_zone_retry(const struct dns_result *res, bool not_served,
		       const struct dns_opts *opts, const char *fqdn,
		       const char *zone, char *found, size_t foundlen,
		       char *msg, size_t msglen)
{
	const struct dns_outcome *last = NULL;
	struct dns_addr server;
	char detail[1024] = "";
	char explain[2048];
	size_t used;
	int ret;

	for (size_t i = res->nattempts; i-- > 0;)
		if (res->attempts[i].answered) {
			last = &res->attempts[i];
			break;
		}
	if (last == NULL || (!not_served && last->rcode != 9 /* NOTAUTH */) ||
	    last->tsig_error != 0 || dns_outcome_addr(last, &server) != 0)
		return false;
	found[0] = '\0';
	ret = solver_zone_find(&server, opts, fqdn, zone, found, foundlen,
			       detail, sizeof(detail));
	if (ret == 0 && solver_name_in_zone(fqdn, found))
		return true;
	if (not_served) {
		/* Keep the verification's diagnosis; add what was found. */
		used = strlen(msg);
		if (ret == 0 || ret == -ENOENT)
			snprintf(msg + used, msglen - used,
				 "; %s serves zone %s for %s", last->server,
				 found, fqdn);
		else
			snprintf(msg + used, msglen - used,
				 "; looking for the zone there: %s", detail);
		return false;
	}
	/* The update's own diagnosis, then what discovery found. */
	dns_result_explain(res, "update", opts->key, zone, fqdn, explain,
			   sizeof(explain));
	if (ret == -ENOENT)
		snprintf(msg, msglen,
			 "%s; %s serves zone %s for %s, so the zone is right: "
			 "the server refuses the update (its policy or key)",
			 explain, last->server, found, fqdn);
	else
		snprintf(msg, msglen, "%s; looking for the zone there: %s",
			 explain, detail);
	return false;
}

int solver_verify_write(const struct dns_opts *opts,
			const struct dns_result *res, const char *fqdn,
			const char *zone, const char *value, bool present,
			uint64_t deadline, char *msg, size_t msglen)
{
	struct dns_addr server;
	unsigned wait = SOLVER_VERIFY_WAIT_MS;
	uint64_t now;

	if (solver_answered_addr(res, &server) != 0)
		return 0; /* nothing answered: nothing to verify */
	/* The solver's clock: its deadline is on it. */
	now = util_now_ms();
	if (now + wait > deadline)
		wait = now < deadline ? (unsigned)(deadline - now) : 0;
	return solver_verify(&server, opts, fqdn, zone, value, present, wait,
			     msg, msglen);
}
