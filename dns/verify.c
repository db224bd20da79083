/*
 * verify.c - after an UPDATE answered NOERROR, ask the same server whether
 * it serves the change.  A NOERROR is not always the truth: PowerDNS with a
 * Lua update policy answers NOERROR to an update the policy refuses and
 * stores nothing; Knot takes an update addressed to a parent zone for a
 * name inside a sub-zone it also serves and never serves the record; a
 * secondary that forwards an update serves it only after the transfer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dns/dns.h"
#include "dns/net_internal.h"

#define QTYPE_TXT     16
#define PAUSE_FIRST   50  /* ms before the second query */
#define PAUSE_MAX     500 /* the pause doubles up to this */
#define SERVED_QUOTED 300 /* a value's share of the served list */

static void pause_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The values served, quoted and shortened, for the message. */
static void served_text(const struct dns_reply *r, struct dns_verify *v)
{
	size_t used = 0;

	v->served[0] = '\0';
	v->nserved = r->ntxt;
	if (r->ntxt == 0) {
		snprintf(v->served, sizeof(v->served), "none");
		return;
	}
	for (size_t i = 0; i < r->ntxt && used < sizeof(v->served); i++) {
		int n = snprintf(
		    v->served + used, sizeof(v->served) - used, "%s\"%.*s%s\"",
		    i ? ", " : "", SERVED_QUOTED, r->txt[i],
		    strlen(r->txt[i]) > SERVED_QUOTED ? "..." : "");
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static bool value_served(const struct dns_reply *r, const char *value)
{
	for (size_t i = 0; i < r->ntxt; i++)
		if (strcmp(r->txt[i], value) == 0)
			return true;
	return false;
}

int dns_verify(const struct dns_addr *server, const struct dns_opts *opts,
	       const char *fqdn, const char *value, bool present,
	       unsigned wait_ms, struct dns_verify *v)
{
	struct dns_opts o;
	struct dns_reply reply;
	int64_t start = dns_now_ms(), deadline = start + wait_ms;
	int64_t pause = PAUSE_FIRST;
	int ret;

	if (v == NULL)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	if (server == NULL || opts == NULL || fqdn == NULL || value == NULL)
		return -EINVAL;
	/* TCP: the RRset may exceed a datagram, and no TC round trip. */
	o = *opts;
	o.proto = DNS_PROTO_TCP;
	for (;;) {
		ret = dns_query(server, &o, fqdn, QTYPE_TXT, &reply);
		v->tries++;
		v->outcome = reply.outcome;
		if (ret == 0) {
			served_text(&reply, v);
			v->ok = value_served(&reply, value) == present;
		}
		dns_reply_release(&reply);
		if (ret != 0 || v->ok)
			break;
		int64_t now = dns_now_ms();
		if (now + pause > deadline) {
			ret = DNS_EVERIFY;
			break;
		}
		pause_ms(pause);
		if (pause < PAUSE_MAX)
			pause *= 2;
	}
	v->ms = (unsigned)(dns_now_ms() - start);
	return ret;
}
