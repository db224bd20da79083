/*
 * update.c - dns_update() and dns_update_many(): one UPDATE to each
 * address of each server in turn until one takes it, within the call's
 * deadline, every attempt recorded in the result.
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/net_internal.h"
#include "dns/transport_internal.h"

/* The next outcome slot, blank; NULL when the result is full. */
static struct dns_outcome *outcome_next(struct dns_result *res)
{
	struct dns_outcome *o;

	if (res->nattempts == DNS_ATTEMPTS_MAX)
		return NULL;
	o = &res->attempts[res->nattempts++];
	memset(o, 0, sizeof(*o));
	o->rcode = -1;
	return o;
}

/* One dns_update() call: what its attempts share. */
struct update_call {
	const struct dns_addr *servers;
	size_t nservers;
	const struct dns_opts *opts;
	const struct msg_spec *spec;
	struct exchange x;
	struct dns_result *res;
};

/*
 * The update at address @p of server @i within @share, and once more with
 * the key's alternate secret when the address rejected the key.  True when
 * no other address is to be tried (done, the deadline, the result full).
 */
static bool update_address(struct update_call *c, size_t i,
			   const struct addrinfo *p, bool literal,
			   unsigned share)
{
	struct dns_result *res = c->res;
	struct dns_outcome *o = outcome_next(res), *prev;

	if (o == NULL)
		return true;
	dns_server_text(o->server, sizeof(o->server), &c->servers[i],
			p->ai_addr, literal);
	res->code = dns_attempt(p->ai_addr, p->ai_addrlen, c->opts, share,
				c->spec, &c->x, o);
	if (res->code != 0 && res->code != DNS_EDEADLINE &&
	    dns_alt_wanted(c->opts, o, false)) {
		prev = o;
		o = outcome_next(res);
		if (o == NULL)
			return true;
		memcpy(o->server, prev->server, sizeof(o->server));
		res->code = dns_attempt_alt(p->ai_addr, p->ai_addrlen, c->opts,
					    share, c->spec, &c->x, o);
	}
	return res->code == 0 || res->code == DNS_EDEADLINE;
}

/*
 * The update at each address of server @i in turn.  True when no other
 * server is to be tried (done, the deadline, the result full).
 */
static bool update_server(struct update_call *c, size_t i)
{
	const struct dns_opts *opts = c->opts;
	unsigned timeout =
	    opts->timeout_ms ? opts->timeout_ms : TIMEOUT_DEFAULT_MS;
	struct dns_result *res = c->res;
	struct addrinfo *ai = NULL, *p;
	struct dns_outcome *o;
	bool literal;
	char detail[sizeof(o->detail)] = "";
	size_t n;
	int ret;

	ret = dns_addr_resolve(&c->servers[i], opts->deadline_ms, &ai, &literal,
			       detail, sizeof(detail));
	if (ret != 0) {
		o = outcome_next(res);
		if (o == NULL)
			return true;
		dns_addr_format(&c->servers[i], o->server, sizeof(o->server));
		memcpy(o->detail, detail, sizeof(o->detail));
		o->code = res->code = ret;
		return ret == DNS_EDEADLINE;
	}
	n = dns_addrs_capped(ai, &c->servers[i], res->note, sizeof(res->note));
	p = ai;
	for (size_t j = 0; j < n; j++, p = p->ai_next) {
		/* Each address and each server still to come gets its share
		 * of what is left of the call. */
		unsigned share =
		    dns_budget_share(dns_now_ms(), opts->deadline_ms, timeout,
				     (unsigned)(n - j + (c->nservers - i - 1)),
				     ATTEMPT_FLOOR_MS);

		if (update_address(c, i, p, literal, share))
			break;
	}
	freeaddrinfo(ai);
	return res->code == 0 || res->code == DNS_EDEADLINE ||
	       res->nattempts == DNS_ATTEMPTS_MAX;
}

/* dns_update() and dns_update_many(): @spec to each server in turn. */
static int update_run(const struct dns_addr *servers, size_t nservers,
		      const struct dns_opts *opts, const struct msg_spec *spec,
		      struct dns_result *res)
{
	struct update_call c = {.servers = servers,
				.nservers = nservers,
				.opts = opts,
				.spec = spec,
				.res = res};
	struct dns_opts big;
	int ret;

	if (res == NULL)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	res->code = -EINVAL;
	if (servers == NULL || nservers == 0 || opts == NULL)
		return res->code;
	ret = dns_exchange_init(&c.x);
	if (ret == 0) {
		/* A message we cannot build fails before any server. */
		ret = dns_spec_build(spec, NULL, &c.x, res->detail,
				     sizeof(res->detail));
	}
	res->code = ret;
	if (ret != 0)
		goto out;
	if (c.x.qlen > DNS_UDP_UPDATE_MAX && opts->proto != DNS_PROTO_TCP) {
		big = *opts;
		big.proto = DNS_PROTO_TCP;
		c.opts = &big;
	}
	for (size_t i = 0; i < nservers; i++)
		if (update_server(&c, i))
			break;
out:
	dns_exchange_release(&c.x);
	return res->code;
}

int dns_update(const struct dns_addr *servers, size_t nservers,
	       const struct dns_opts *opts, const struct dns_change *change,
	       struct dns_result *res)
{
	struct msg_spec spec = {.changes = change, .nchanges = 1};

	return update_run(servers, nservers, opts, &spec, res);
}

int dns_update_many(const struct dns_addr *servers, size_t nservers,
		    const struct dns_opts *opts,
		    const struct dns_change *changes, size_t nchanges,
		    struct dns_result *res)
{
	struct msg_spec spec = {.changes = changes, .nchanges = nchanges};

	if (changes == NULL || nchanges == 0) {
		if (res != NULL) {
			memset(res, 0, sizeof(*res));
			res->code = -EINVAL;
		}
		return -EINVAL;
	}
	return update_run(servers, nservers, opts, &spec, res);
}
