/*
 * query.c - dns_query(): one question to one server, at each of its
 * addresses until one answers, and the reply as the callers read it.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/msg_internal.h"
#include "dns/net_internal.h"
#include "dns/transport_internal.h"

/* One dns_query() call: what its attempts share. */
struct query_call {
	const struct dns_addr *server;
	const struct dns_opts *opts;
	struct msg_spec spec;
	struct exchange x;
	struct dns_reply *reply;
};

/*
 * The query at address @p within @share; when the address rejected the
 * key, the outcome is the retry's with the key's alternate secret.
 */
static int query_address(struct query_call *c, const struct addrinfo *p,
			 bool literal, unsigned share)
{
	struct dns_outcome *o = &c->reply->outcome;
	char text[sizeof(o->server)];
	int ret;

	o->detail[0] = '\0';
	dns_server_text(o->server, sizeof(o->server), c->server, p->ai_addr,
			literal);
	ret = dns_attempt(p->ai_addr, p->ai_addrlen, c->opts, share, &c->spec,
			  &c->x, o);
	if (ret != 0 && ret != DNS_EDEADLINE &&
	    dns_alt_wanted(c->opts, o, true)) {
		memcpy(text, o->server, sizeof(text));
		memset(o, 0, sizeof(*o));
		memcpy(o->server, text, sizeof(o->server));
		ret = dns_attempt_alt(p->ai_addr, p->ai_addrlen, c->opts, share,
				      &c->spec, &c->x, o);
	}
	return ret;
}

/*
 * The answer (@ret, the last attempt's code) into the reply: its TXT
 * values and its wire.  NXDOMAIN is an answer to a query, not a failure
 * (RFC 2308).
 */
static int query_reply(struct query_call *c, int ret)
{
	struct dns_reply *reply = c->reply;
	struct dns_outcome *o = &reply->outcome;

	if (ret == DNS_ERCODE && o->rcode == 3 &&
	    (c->opts->key == NULL || o->tsig_verified))
		ret = o->code = 0;
	if (ret == 0)
		ret = dns_msg_reply_parse(c->x.ans, c->x.alen, c->spec.qtype,
					  reply);
	if (ret == 0) {
		/* Kept for readers of other sections (dns_zone_find()). */
		reply->wire = malloc(c->x.alen);
		if (reply->wire == NULL)
			ret = -ENOMEM;
		else
			memcpy(reply->wire, c->x.ans,
			       reply->wirelen = c->x.alen);
	}
	if (ret != 0) {
		for (size_t i = 0; i < reply->ntxt; i++)
			free(reply->txt[i]);
		memset(reply->txt, 0, sizeof(reply->txt));
		reply->ntxt = 0;
	}
	return ret;
}

int dns_query(const struct dns_addr *server, const struct dns_opts *opts,
	      const char *name, uint16_t qtype, struct dns_reply *reply)
{
	struct query_call c = {
	    .server = server,
	    .opts = opts,
	    .spec = {.query = true, .name = name, .qtype = qtype},
	    .reply = reply};
	struct dns_outcome *o;
	struct addrinfo *ai = NULL, *p;
	bool literal;
	size_t n;
	int ret;

	if (reply == NULL)
		return -EINVAL;
	memset(reply, 0, sizeof(*reply));
	o = &reply->outcome;
	o->rcode = -1;
	if (server == NULL || opts == NULL)
		return o->code = -EINVAL;
	ret = dns_exchange_init(&c.x);
	if (ret == 0)
		ret = dns_msg_query(c.x.query, &c.x.qlen, DNS_MSG_MAX, 0, name,
				    qtype, NULL, 0);
	if (ret == 0) {
		ret = dns_addr_resolve(server, opts->deadline_ms, &ai, &literal,
				       o->detail, sizeof(o->detail));
		if (ret != 0)
			dns_addr_format(server, o->server, sizeof(o->server));
	}
	if (ret != 0)
		goto out;

	/* The first address that answers at all gives the reply. */
	n = dns_addrs_capped(ai, server, reply->note, sizeof(reply->note));
	p = ai;
	for (size_t j = 0; j < n; j++, p = p->ai_next) {
		unsigned share = dns_budget_share(
		    dns_now_ms(), opts->deadline_ms,
		    opts->timeout_ms ? opts->timeout_ms : TIMEOUT_DEFAULT_MS,
		    (unsigned)(n - j), ATTEMPT_FLOOR_MS);

		ret = query_address(&c, p, literal, share);
		if (o->answered || ret == DNS_EDEADLINE)
			break;
	}
	ret = query_reply(&c, ret);
out:
	o->code = ret;
	if (ai != NULL)
		freeaddrinfo(ai);
	dns_exchange_release(&c.x);
	return ret;
}

void dns_reply_release(struct dns_reply *reply)
{
	if (reply == NULL)
		return;
	for (size_t i = 0; i < reply->ntxt && i < DNS_REPLY_TXT_MAX; i++)
		free(reply->txt[i]);
	free(reply->wire);
	memset(reply, 0, sizeof(*reply));
}
