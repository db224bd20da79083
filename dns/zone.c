/*
 * zone.c - which zone holds a name, asked of the server that will take the
 * update: a SOA query for the name, then for each ancestor where the
 * server is not authoritative (the way lego and certbot find the zone,
 * but at the primary itself, not through recursive resolvers that may
 * see another view or a delegation the primary does not serve).
 *
 * A negative answer carries the zone's SOA in the authority section
 * (RFC 2308 3), a positive one at the apex in the answer section; a
 * delegation comes back as NS records without the AA bit (RFC 1034 4.3.2).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libknot/libknot.h>

#include "dns/dns.h"
#include "dns/msg_internal.h"

#define QTYPE_SOA 6

/* A wire name to presentation form, lower case, absolute. */
static void name_text(const uint8_t *dname, char *buf, size_t len)
{
	uint8_t lower[KNOT_DNAME_MAXLEN];

	knot_dname_copy_lower(lower, dname);
	if (knot_dname_to_str(buf, lower, len) == NULL)
		snprintf(buf, len, "?");
}

/* True when @name (wire) is @qname or lies below it. */
static bool in_bailiwick(const uint8_t *name, const uint8_t *qname)
{
	return knot_dname_in_bailiwick(qname, name) >= 0;
}

static void soa_fill(struct dns_soa *soa, const knot_rrset_t *rr)
{
	const knot_rdata_t *rd = knot_rdataset_at(&rr->rrs, 0);

	name_text(rr->owner, soa->zone, sizeof(soa->zone));
	soa->serial = knot_soa_serial(rd);
	soa->refresh = knot_soa_refresh(rd);
	soa->retry = knot_soa_retry(rd);
	soa->expire = knot_soa_expire(rd);
	soa->minimum = knot_soa_minimum(rd);
}

/* The first SOA of @sec whose owner is @qname or an ancestor of it. */
static const knot_rrset_t *soa_find(const knot_pktsection_t *sec,
				    const uint8_t *qname)
{
	for (uint16_t i = 0; i < sec->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(sec, i);

		if (rr->type == KNOT_RRTYPE_SOA && rr->rrs.count > 0 &&
		    in_bailiwick(rr->owner, qname))
			return rr;
	}
	return NULL;
}

int dns_zone_answer_parse(const uint8_t *wire, size_t len, const char *qname,
			  struct dns_zone_answer *out)
{
	uint8_t q[KNOT_DNAME_MAXLEN];
	const knot_pktsection_t *auth;
	const knot_rrset_t *soa;
	knot_pkt_t *pkt = NULL;
	int ret, rcode;

	if (out == NULL || qname == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->kind = DNS_ZONE_NOTHERE;
	if (knot_dname_from_str(q, qname, sizeof(q)) == NULL)
		return DNS_ENAME;
	knot_dname_to_lower(q);
	ret = dns_msg_answer_parse(wire, len, &pkt);
	if (ret != 0)
		return ret;
	rcode = knot_wire_get_rcode(pkt->wire);
	/* REFUSED, NOTAUTH, SERVFAIL: not this server's name. */
	if (rcode != KNOT_RCODE_NOERROR && rcode != KNOT_RCODE_NXDOMAIN)
		goto out;
	auth = knot_pkt_section(pkt, KNOT_AUTHORITY);
	if (knot_wire_get_aa(pkt->wire)) {
		/* RFC 1035 3.3.13 at the apex; RFC 2308 3 below it. */
		soa = soa_find(knot_pkt_section(pkt, KNOT_ANSWER), q);
		if (soa == NULL)
			soa = soa_find(auth, q);
		if (soa != NULL) {
			out->kind = DNS_ZONE_FOUND;
			soa_fill(&out->soa, soa);
		}
		goto out;
	}
	/*
	 * RFC 1034 4.3.2: a referral is NS records for an ancestor of the
	 * name in the authority section, without AA.  The root's NS (an
	 * "upward referral" from a server that serves nothing here) is not
	 * a delegation of this name.
	 */
	for (uint16_t i = 0; i < auth->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(auth, i);

		if (rr->type != KNOT_RRTYPE_NS || *rr->owner == '\0' ||
		    !in_bailiwick(rr->owner, q))
			continue;
		out->kind = DNS_ZONE_REFERRAL;
		name_text(rr->owner, out->delegation, sizeof(out->delegation));
		for (uint16_t j = 0;
		     j < rr->rrs.count && out->nns < DNS_ZONE_NS_MAX; j++)
			name_text(knot_ns_name(knot_rdataset_at(&rr->rrs, j)),
				  out->ns[out->nns++], DNS_NAME_LEN);
		break;
	}
out:
	dns_msg_answer_free(pkt);
	return 0;
}

/* "a.example.test." to "example.test."; false at a top-level domain. */
static bool name_parent(char *name)
{
	char *dot = strchr(name, '.');

	if (dot == NULL || dot[1] == '\0' || strchr(dot + 1, '.') == NULL ||
	    dot[2] == '\0')
		return false;
	memmove(name, dot + 1, strlen(dot + 1) + 1);
	return true;
}

/* A query's failure that says "not here" rather than "cannot ask". */
static bool not_served(const struct dns_outcome *o)
{
	/* RFC 8945 5.3.2: a TSIG error rides on NOTAUTH; that is the key. */
	if (!o->answered || o->tsig_error != 0)
		return false;
	return o->rcode == KNOT_RCODE_REFUSED ||
	       o->rcode == KNOT_RCODE_NOTAUTH ||
	       o->rcode == KNOT_RCODE_SERVFAIL;
}

static void append(char *buf, size_t len, const char *sep, const char *text)
{
	size_t used = strlen(buf);

	if (used < len)
		snprintf(buf + used, len - used, "%s%s", used ? sep : "", text);
}

/* A referral: the zone that holds the name is delegated to @za's NS. */
static int zone_referral(const struct dns_zone_answer *za, const char *fqdn,
			 struct dns_zone *zone, char *err, size_t errlen)
{
	snprintf(zone->delegation, sizeof(zone->delegation), "%s",
		 za->delegation);
	for (size_t i = 0; i < za->nns; i++)
		append(zone->ns, sizeof(zone->ns), ", ", za->ns[i]);
	if (err != NULL)
		snprintf(err, errlen,
			 "%s is in zone %s, which %s delegates to %s: send the "
			 "update to that zone's primary",
			 fqdn, zone->delegation, zone->server,
			 zone->ns[0] ? zone->ns : "(no NS named)");
	return DNS_EREFERRAL;
}

#define ZONE_ABOVE 1 /* zone_ask(): no zone here, ask for the parent */

/*
 * One SOA query for @name, @fqdn or one of its ancestors: 0 with the zone
 * in @zone, ZONE_ABOVE when the server serves no zone at @name, or an
 * error with its text in @err.
 */
static int zone_ask(const struct dns_addr *server, const struct dns_opts *opts,
		    const char *fqdn, const char *name, struct dns_zone *zone,
		    char *err, size_t errlen)
{
	char why[512];
	struct dns_zone_answer za;
	struct dns_reply reply;
	int ret;

	ret = dns_query(server, opts, name, QTYPE_SOA, &reply);
	zone->ntried++;
	zone->ms += reply.outcome.ms;
	zone->outcome = reply.outcome;
	snprintf(zone->server, sizeof(zone->server), "%s",
		 reply.outcome.server);
	if (ret != 0) {
		if (not_served(&reply.outcome))
			ret = ZONE_ABOVE;
		else if (err != NULL) /* the server cannot be asked: why */
			snprintf(err, errlen,
				 "finding the zone of %s at %s: %s", fqdn,
				 zone->server,
				 dns_outcome_explain(&reply.outcome, opts->key,
						     name, why, sizeof(why)));
		goto out;
	}
	ret = dns_zone_answer_parse(reply.wire, reply.wirelen, name, &za);
	if (ret != 0)
		goto out;
	if (za.kind == DNS_ZONE_FOUND)
		zone->soa = za.soa;
	else if (za.kind == DNS_ZONE_REFERRAL)
		ret = zone_referral(&za, fqdn, zone, err, errlen);
	else
		ret = ZONE_ABOVE;
out:
	dns_reply_release(&reply);
	return ret;
}

int dns_zone_find(const struct dns_addr *server, const struct dns_opts *opts,
		  const char *fqdn, struct dns_zone *zone, char *err,
		  size_t errlen)
{
	char name[DNS_NAME_LEN], tried[512] = "";
	size_t n;
	int ret;

	if (zone == NULL || server == NULL || opts == NULL || fqdn == NULL)
		return -EINVAL;
	memset(zone, 0, sizeof(*zone));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	n = strlen(fqdn);
	if (n == 0 || n + 2 > sizeof(name))
		return DNS_ENAME;
	snprintf(name, sizeof(name), "%s%s", fqdn,
		 fqdn[n - 1] == '.' ? "" : ".");
	do {
		append(tried, sizeof(tried), ", ", name);
		ret = zone_ask(server, opts, fqdn, name, zone, err, errlen);
		if (ret != ZONE_ABOVE)
			goto out;
	} while (name_parent(name));
	ret = DNS_ENOZONE;
	if (err != NULL)
		snprintf(err, errlen,
			 "%s is not authoritative for %s nor any zone above "
			 "it (SOA asked for %s): the nameserver is not the "
			 "primary of the zone that holds the name, or a "
			 "TSIG-keyed view does not include it",
			 zone->server, fqdn, tried);
out:
	zone->outcome.code = ret;
	return ret;
}

int dns_soa_get(const struct dns_addr *server, const struct dns_opts *opts,
		const char *zone, struct dns_soa *soa, struct dns_outcome *o)
{
	struct dns_zone_answer za;
	struct dns_reply reply;
	char name[DNS_NAME_LEN];
	size_t n = strlen(zone);
	int ret;

	memset(soa, 0, sizeof(*soa));
	if (n == 0 || n + 2 > sizeof(name))
		return DNS_ENAME;
	snprintf(name, sizeof(name), "%s%s", zone,
		 zone[n - 1] == '.' ? "" : ".");
	zone = name;
	ret = dns_query(server, opts, zone, QTYPE_SOA, &reply);
	if (o != NULL)
		*o = reply.outcome;
	if (ret == 0)
		ret =
		    dns_zone_answer_parse(reply.wire, reply.wirelen, zone, &za);
	if (ret == 0) {
		if (za.kind == DNS_ZONE_FOUND &&
		    strcasecmp(za.soa.zone, zone) == 0)
			*soa = za.soa;
		else
			ret = DNS_ENOZONE;
	} else if (not_served(&reply.outcome)) {
		ret = DNS_ENOZONE;
	}
	dns_reply_release(&reply);
	return ret;
}

int dns_outcome_addr(const struct dns_outcome *o, struct dns_addr *addr)
{
	char text[sizeof(o->server)];
	const char *open = strrchr(o->server, '(');

	/* "host (addr:port)": the address actually used. */
	snprintf(text, sizeof(text), "%s", open ? open + 1 : o->server);
	if (open != NULL)
		text[strcspn(text, ")")] = '\0';
	return dns_addr_parse(addr, text, NULL, 0);
}

/* Glue: the A and AAAA records of @ns->name in the additional section. */
static void glue_fill(const knot_pkt_t *pkt, const uint8_t *name,
		      struct dns_ns *ns)
{
	const knot_pktsection_t *add = knot_pkt_section(pkt, KNOT_ADDITIONAL);

	for (uint16_t i = 0; i < add->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(add, i);
		int af = rr->type == KNOT_RRTYPE_A	? AF_INET
			 : rr->type == KNOT_RRTYPE_AAAA ? AF_INET6
							: 0;

		if (af == 0 || !knot_dname_is_case_equal(rr->owner, name))
			continue;
		for (uint16_t j = 0; j < rr->rrs.count && ns->naddrs < 4; j++) {
			const knot_rdata_t *rd = knot_rdataset_at(&rr->rrs, j);

			if (rd->len != (af == AF_INET ? 4 : 16) ||
			    inet_ntop(af, rd->data, ns->addrs[ns->naddrs],
				      sizeof(ns->addrs[0])) == NULL)
				continue;
			ns->naddrs++;
		}
	}
}

int dns_ns_get(const struct dns_addr *server, const struct dns_opts *opts,
	       const char *zone, struct dns_ns *ns, size_t max, size_t *n,
	       struct dns_outcome *o)
{
	const knot_pktsection_t *ans;
	struct dns_reply reply;
	knot_pkt_t *pkt = NULL;
	int ret;

	*n = 0;
	ret = dns_query(server, opts, zone, KNOT_RRTYPE_NS, &reply);
	if (o != NULL)
		*o = reply.outcome;
	if (ret != 0) {
		if (not_served(&reply.outcome))
			ret = DNS_ENOZONE;
		goto out;
	}
	ret = dns_msg_answer_parse(reply.wire, reply.wirelen, &pkt);
	if (ret != 0)
		goto out;
	if (!knot_wire_get_aa(pkt->wire)) {
		ret = DNS_ENOZONE;
		goto out;
	}
	ans = knot_pkt_section(pkt, KNOT_ANSWER);
	for (uint16_t i = 0; i < ans->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(ans, i);

		if (rr->type != KNOT_RRTYPE_NS)
			continue;
		for (uint16_t j = 0; j < rr->rrs.count && *n < max; j++) {
			const knot_dname_t *name =
			    knot_ns_name(knot_rdataset_at(&rr->rrs, j));
			struct dns_ns *one = &ns[(*n)++];

			memset(one, 0, sizeof(*one));
			name_text(name, one->name, sizeof(one->name));
			glue_fill(pkt, name, one);
		}
	}
out:
	dns_msg_answer_free(pkt);
	dns_reply_release(&reply);
	return ret;
}
