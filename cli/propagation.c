/*
 * propagation.c - does every authoritative server of the zone serve the
 * value?  cert-manager's RFC 2136 guide: the solver "waits until all
 * nameservers in your domain's SOA RR respond with the same result"; an
 * ACME server that asks a secondary with stale data fails the validation.
 *
 * The servers are the zone's NS RRset at the primary, each name at the
 * addresses of its glue, else the system resolver's, port 53 (RFC 1034
 * 4.2.1); or the --authoritative list (hidden primaries, labs, tests).
 * Each is asked, unsigned over UDP as the ACME server will, for the
 * zone's SOA serial and the TXT RRset, with a growing pause between rounds.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dns/dns.h"
#include "cli/cli.h"
#include "util/clock.h"

#define QTYPE_TXT	 16
#define POLL_FIRST_MS	 100
#define POLL_MAX_MS	 1000
#define QUERY_TIMEOUT_MS 2000 /* per query: a lost datagram must not stall */

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void auth_add(struct cli_auth *a, size_t max, size_t *n,
		     const char *name, const struct dns_addr *addr)
{
	struct cli_auth *x;
	char text[DNS_NAME_LEN + 16];

	if (*n == max)
		return;
	x = &a[(*n)++];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->addr = *addr;
	dns_addr_format(addr, text, sizeof(text));
	if (name[0] != '\0' && strcmp(name, addr->host) != 0)
		snprintf(x->text, sizeof(x->text), "%s (%s)", name, text);
	else if (name[0] != '\0')
		snprintf(x->text, sizeof(x->text), "%s (no glue) port %u", name,
			 addr->port);
	else
		snprintf(x->text, sizeof(x->text), "%s", text);
}

int cli_auth_list(const struct cli_opts *o, const struct dns_opts *dopts,
		  const struct dns_addr *primary, struct cli_auth *a,
		  size_t max, size_t *n, struct dns_soa *soa, char *err,
		  size_t errlen)
{
	struct dns_ns ns[CLI_AUTH_MAX];
	struct dns_outcome out;
	char why[512];
	size_t nns = 0;
	int ret;

	*n = 0;
	err[0] = '\0';
	ret = dns_soa_get(primary, dopts, o->zone, soa, &out);
	if (ret != 0) {
		snprintf(err, errlen, "SOA of %s at %s: %s", o->zone,
			 out.server,
			 dns_outcome_explain(&out, dopts->key, o->zone, why,
					     sizeof(why)));
		return ret;
	}
	if (o->nauth > 0) {
		for (size_t i = 0; i < o->nauth; i++)
			auth_add(a, max, n, "", &o->auth[i]);
		return 0;
	}
	ret = dns_ns_get(primary, dopts, o->zone, ns, CLI_AUTH_MAX, &nns, &out);
	if (ret != 0) {
		snprintf(err, errlen, "NS of %s at %s: %s", o->zone, out.server,
			 dns_outcome_explain(&out, dopts->key, o->zone, why,
					     sizeof(why)));
		return ret;
	}
	for (size_t i = 0; i < nns; i++) {
		struct dns_addr addr = {.port = 53};

		/* No glue: the host name, resolved when it is asked. */
		if (ns[i].naddrs == 0) {
			_Static_assert(sizeof(addr.host) == sizeof(ns[i].name),
				       "a NS name fits a host");
			memcpy(addr.host, ns[i].name, sizeof(addr.host));
			auth_add(a, max, n, ns[i].name, &addr);
		}
		for (size_t k = 0; k < ns[i].naddrs; k++) {
			snprintf(addr.host, sizeof(addr.host), "%s",
				 ns[i].addrs[k]);
			auth_add(a, max, n, ns[i].name, &addr);
		}
	}
	return 0;
}

/* One look at one server: its serial and whether it serves the value. */
static void auth_probe(struct cli_auth *x, const struct dns_opts *q,
		       const char *zone, const char *fqdn, const char *value,
		       bool present)
{
	struct dns_reply r;
	struct dns_soa soa;
	bool served = false;

	x->tries++;
	x->code = dns_soa_get(&x->addr, q, zone, &soa, &x->outcome);
	if (x->code == 0) {
		x->answered = true;
		x->has_serial = true;
		x->serial = soa.serial;
	} else {
		x->answered = x->outcome.answered;
		return;
	}
	x->code = dns_query(&x->addr, q, fqdn, QTYPE_TXT, &r);
	if (x->code == 0)
		for (size_t i = 0; i < r.ntxt; i++)
			served |= strcmp(r.txt[i], value) == 0;
	else
		x->outcome = r.outcome;
	dns_reply_release(&r);
	x->ok = x->code == 0 && served == present;
}

unsigned cli_propagation_poll(const struct cli_opts *o, struct cli_auth *a,
			      size_t n, const char *value, bool present,
			      unsigned budget_ms)
{
	struct dns_opts q = {.proto = DNS_PROTO_UDP};
	uint64_t start = util_now_ms(), pause = POLL_FIRST_MS;
	unsigned left;

	/* Unsigned, as the ACME server asks; secondaries know no key. */
	q.timeout_ms =
	    o->timeout_ms < QUERY_TIMEOUT_MS ? o->timeout_ms : QUERY_TIMEOUT_MS;
	for (;;) {
		left = 0;
		for (size_t i = 0; i < n; i++) {
			struct cli_auth *x = &a[i];

			/*
			 * Unreachable, or not serving the zone (a lame
			 * delegation, a resolver) at first: waiting will not
			 * help.
			 */
			if (x->ok || (x->tries > 0 && !x->has_serial))
				continue;
			auth_probe(x, &q, o->zone, o->fqdn, value, present);
			x->after_ms = (unsigned)(util_now_ms() - start);
			if (!x->ok && x->has_serial)
				left++;
		}
		if (left == 0 || util_now_ms() + pause > start + budget_ms)
			break;
		sleep_ms(pause);
		pause = pause * 2 > POLL_MAX_MS ? POLL_MAX_MS : pause * 2;
	}
	left = 0;
	for (size_t i = 0; i < n; i++)
		left += !a[i].ok;
	return left;
}

void cli_auth_line(const struct cli_auth *x, const struct dns_soa *primary,
		   bool present, char *buf, size_t len)
{
	char why[512];

	if (!x->answered) {
		snprintf(buf, len, "%s: unreachable: %s", x->text,
			 dns_outcome_explain(&x->outcome, NULL, primary->zone,
					     why, sizeof(why)));
		return;
	}
	if (!x->has_serial) {
		snprintf(buf, len, "%s: not authoritative for %s", x->text,
			 primary->zone);
		return;
	}
	snprintf(buf, len, "%s: serial %u%s, %s after %u ms", x->text,
		 x->serial,
		 x->serial == primary->serial  ? ""
		 : x->serial < primary->serial ? " (behind the primary's)"
					       : " (not the primary's)",
		 x->ok ? (present ? "serves the value" : "the value is gone")
		       : (present ? "does NOT serve the value"
				  : "STILL serves the value"),
		 x->after_ms);
}

void cli_auth_hint(const struct cli_auth *a, size_t n,
		   const struct dns_soa *primary, const char *nameserver,
		   FILE *f)
{
	bool lag = false, unreachable = false;

	for (size_t i = 0; i < n; i++) {
		lag |= a[i].answered && !a[i].ok;
		unreachable |= !a[i].answered;
	}
	if (lag)
		fprintf(f,
			"hint: a secondary that lags gets no NOTIFY from the "
			"primary (BIND: also-notify { ADDR; }; and notify yes; "
			"Knot: notify: [remote]; or a firewall blocks it): "
			"with SOA refresh %u s it may take %u s to follow; "
			"lower the refresh while getting the first "
			"certificates\n",
			primary->refresh, primary->refresh);
	if (unreachable)
		fprintf(f,
			"hint: an unreachable server may only be unreachable "
			"from here (a firewall): test from the cluster with "
			"the image as a one-off pod: kubectl run -it --rm "
			"dnscheck --image=<the webhook image> --restart=Never "
			"-- check --nameserver %s --zone %s ... (the same "
			"options)\n",
			nameserver, primary->zone);
}

int cli_propagation_wait(struct cli_opts *o, const struct dns_opts *dopts,
			 const char *value, unsigned wait_ms)
{
	struct cli_auth a[CLI_AUTH_MAX];
	struct dns_soa soa;
	char err[1024], line[1024];
	size_t n = 0;
	unsigned left;
	int ret = -1;

	err[0] = '\0';
	for (size_t i = 0; i < o->nservers && ret != 0; i++)
		ret = cli_auth_list(o, dopts, &o->servers[i], a, CLI_AUTH_MAX,
				    &n, &soa, err, sizeof(err));
	if (ret != 0) {
		fprintf(stderr,
			"error: --wait: cannot list the authoritative "
			"servers: %s\n",
			err);
		return CLI_FAIL;
	}
	left = cli_propagation_poll(o, a, n, value, true, wait_ms);
	for (size_t i = 0; i < n; i++) {
		cli_auth_line(&a[i], &soa, true, line, sizeof(line));
		if (a[i].ok)
			printf("  %s\n", line);
		else
			fprintf(stderr, "error: %s\n", line);
	}
	if (left == 0)
		return CLI_OK;
	fprintf(stderr,
		"error: --wait %u ms: %u of %zu authoritative servers of %s "
		"do not serve the value (primary serial %u, refresh %u, "
		"retry %u, expire %u)\n",
		wait_ms, left, n, o->zone, soa.serial, soa.refresh, soa.retry,
		soa.expire);
	cli_auth_hint(a, n, &soa, o->server_text[0], stderr);
	return CLI_FAIL;
}
