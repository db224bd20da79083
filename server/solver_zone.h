/*
 * solver_zone.h - where the record must land, for the solver (internal to
 * server/): the --allowed-zones gate, names that left their zone through a
 * CNAME, the zone found at the server after NOTAUTH, and the check after a
 * write that the server serves it.  Each function fills @msg with the
 * sentence the Challenge shows when it refuses.
 */
#ifndef RFC2136_SOLVER_ZONE_H
#define RFC2136_SOLVER_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"

/* How long a write may take to show at the server it was sent to. */
#define SOLVER_VERIFY_WAIT_MS 2000

/*
 * Check @allowed (--allowed-zones: "example.com,example.org", NULL or ""
 * for no limit): 0 when @fqdn is inside one of them, -EPERM with @msg
 * naming the list otherwise.
 */
int solver_zone_allowed(const char *allowed, const char *fqdn, char *msg,
			size_t msglen);

/* 0 when @list is a comma-separated list of domain names, else -EINVAL. */
int solver_zones_check(const char *list);

/*
 * -EINVAL with @msg saying exactly why when @fqdn (request.resolvedFQDN) is
 * not inside @zone (request.resolvedZone): cert-manager followed a CNAME
 * from _acme-challenge.@dns_name (or a wildcard CNAME caught it); 0 when
 * it is inside.
 */
int solver_zone_outside(const char *dns_name, const char *fqdn,
			const char *zone, char *msg, size_t msglen);

/* True when @zone (absolute) is @name or an ancestor of it. */
bool solver_name_in_zone(const char *name, const char *zone);

/*
 * The server that answered the last attempt of @res: the one to verify
 * at and to ask for the zone.  Returns 0 or DNS_EADDR.
 */
int solver_answered_addr(const struct dns_result *res, struct dns_addr *addr);

/*
 * After a NOTAUTH: find the zone of @fqdn at @server (signed as @opts).
 * 0 with @found set when it is another zone that holds @fqdn; -ENOENT when
 * it is @zone itself; else a dns_ code with @msg saying what was found
 * (a referral, no zone).
 */
int solver_zone_find(const struct dns_addr *server, const struct dns_opts *opts,
		     const char *fqdn, const char *zone, char *found,
		     size_t foundlen, char *msg, size_t msglen);

/*
 * After a NOERROR: ask @server whether it serves @value at @fqdn (@present)
 * or no longer does, for at most @wait_ms.  Counts the result in the
 * metrics.  0, or DNS_EVERIFY / a query failure with @msg giving what the
 * server serves and the likely causes.
 */
int solver_verify(const struct dns_addr *server, const struct dns_opts *opts,
		  const char *fqdn, const char *zone, const char *value,
		  bool present, unsigned wait_ms, char *msg, size_t msglen);

/*
 * After a failed update (@not_served: a NOERROR the server does not serve,
 * else an error answer): when the answering server said NOTAUTH (RFC 2136
 * 3.1.1: it does not serve that zone) or does not serve the change, find
 * the zone of @fqdn there.  True with @found when another zone holds the
 * name (update there once); false otherwise, with @msg saying what was
 * found (appended to the verification's text when @not_served).
 */
bool solver_zone_retry(const struct dns_result *res, bool not_served,
		       const struct dns_opts *opts, const char *fqdn,
		       const char *zone, char *found, size_t foundlen,
		       char *msg, size_t msglen);

/*
 * solver_verify() at the server that answered the last attempt of @res,
 * for SOLVER_VERIFY_WAIT_MS or until @deadline (monotonic ms), whichever
 * comes first.  0 when nothing answered (nothing to verify).
 */
int solver_verify_write(const struct dns_opts *opts,
			const struct dns_result *res, const char *fqdn,
			const char *zone, const char *value, bool present,
			uint64_t deadline, char *msg, size_t msglen);

#endif /* RFC2136_SOLVER_ZONE_H */
