/*
 * msg.c - the message layer: RFC 2136 UPDATE and plain queries built with
 * libknot, signed with a caller-given time, and the check of an answer
 * (header, question, RCODE; its TSIG by tsig.c, RFC 8945 5.4), all pure
 * functions over buffers.
 *
 * The shape follows Knot's knsupdate (src/utils/knsupdate/knsupdate_exec.c,
 * src/utils/common/sign.c): the zone is the question, the change is in the
 * authority (update) section, the TSIG record comes last.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libknot/libknot.h>

#include "dns/dns.h"
#include "dns/msg_internal.h"
#include "dns/tsig_internal.h"

#define TXT_CHUNK   255 /* RFC 1035 3.3.14: one character-string */
#define HEADER_SIZE KNOT_WIRE_HEADER_SIZE

static void msg_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void msg_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
}

static int knot_to_errno(int ret)
{
	switch (ret) {
	case KNOT_EOK:
		return 0;
	case KNOT_ENOMEM:
		return -ENOMEM;
	case KNOT_ESPACE:
		return -EMSGSIZE;
	default:
		return -EINVAL;
	}
}

/*
 * A domain name as users write it, made absolute, to wire form in @dname
 * (KNOT_DNAME_MAXLEN bytes).  Letters, digits, '-' and '_' (RFC 8552
 * underscored names such as _acme-challenge), labels of 1-63 bytes,
 * 255 bytes in wire form at most (RFC 1035 2.3.4).  @what names the name
 * in the error text ("zone", "record name").
 */
static int name_parse(uint8_t *dname, const char *text, const char *what,
		      char *err, size_t errlen)
{
	char abs[DNS_NAME_LEN + 1];
	size_t len, label = 0;

	if (text == NULL || *text == '\0') {
		msg_err(err, errlen, "empty %s%s", what, "");
		return DNS_ENAME;
	}
	len = strlen(text);
	if (strcmp(text, ".") == 0) {
		dname[0] = '\0'; /* the root */
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (c == '.') {
			if (label == 0) {
				msg_err(err, errlen,
					"%s '%s' has an empty label", what,
					text);
				return DNS_ENAME;
			}
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_')) {
			msg_err(err, errlen,
				"%s '%s' has an invalid character (letters, "
				"digits, '-' and '_' only)",
				what, text);
			return DNS_ENAME;
		}
		if (++label > 63) {
			msg_err(err, errlen,
				"%s '%s' has a label longer than 63 bytes",
				what, text);
			return DNS_ENAME;
		}
	}
	/* Presentation length + 1 is the wire length of an absolute name. */
	if (len + (text[len - 1] == '.' ? 1 : 2) > KNOT_DNAME_MAXLEN ||
	    len >= DNS_NAME_LEN) {
		msg_err(err, errlen, "%s '%.40s...' is longer than 255 bytes",
			what, text);
		return DNS_ENAME;
	}
	memcpy(abs, text, len + 1);
	if (abs[len - 1] != '.') {
		abs[len] = '.';
		abs[len + 1] = '\0';
	}
	if (knot_dname_from_str(dname, abs, KNOT_DNAME_MAXLEN) == NULL) {
		msg_err(err, errlen, "invalid %s '%s'", what, text);
		return DNS_ENAME;
	}
	return 0;
}

/* TXT RDATA: the value cut into character-strings of 255 bytes at most. */
static size_t txt_rdata(uint8_t *rdata, const char *value, size_t vlen)
{
	size_t pos = 0;

	for (size_t off = 0; off < vlen; off += TXT_CHUNK) {
		size_t n = vlen - off > TXT_CHUNK ? TXT_CHUNK : vlen - off;
		rdata[pos++] = (uint8_t)n;
		memcpy(rdata + pos, value + off, n);
		pos += n;
	}
	return pos;
}

static uint16_t wire_max(size_t max)
{
	return max > DNS_MSG_MAX ? DNS_MSG_MAX : (uint16_t)max;
}

knot_pkt_t *dns_msg_pkt_new(size_t max, uint16_t id, uint8_t opcode)
{
	knot_pkt_t *pkt = knot_pkt_new(NULL, wire_max(max), NULL);

	if (pkt != NULL) {
		knot_wire_set_id(pkt->wire, id);
		knot_wire_set_opcode(pkt->wire, opcode);
	}
	return pkt;
}

int dns_msg_pkt_export(const knot_pkt_t *pkt, uint8_t *buf, size_t *len,
		       size_t max)
{
	if (pkt->size > max)
		return -EMSGSIZE;
	memcpy(buf, pkt->wire, pkt->size);
	*len = pkt->size;
	return 0;
}

/* Check one change against the zone; its owner name into @owner. */
static int change_check(const uint8_t *lzone, const char *zone,
			const struct dns_change *c, uint8_t *owner, char *err,
			size_t errlen)
{
	uint8_t lowner[KNOT_DNAME_MAXLEN];
	size_t vlen;
	int ret;

	if (c->action != DNS_ADD && c->action != DNS_DELETE)
		return -EINVAL;
	/* RFC 2136 2.3: one UPDATE changes one zone. */
	if (c->zone == NULL || strcasecmp(c->zone, zone) != 0) {
		msg_err(err, errlen,
			"record name '%s' names zone '%s', not '%s'", c->fqdn,
			c->zone != NULL ? c->zone : "", zone);
		return -EINVAL;
	}
	ret = name_parse(owner, c->fqdn, "record name", err, errlen);
	if (ret != 0)
		return ret;
	/* Names compare case-insensitively (RFC 4343). */
	knot_dname_copy_lower(lowner, owner);
	if (knot_dname_in_bailiwick(lowner, lzone) < 0) {
		msg_err(err, errlen, "record name '%s' is not in zone '%s'",
			c->fqdn, zone);
		return DNS_ENOTSUB;
	}
	vlen = c->value != NULL ? strlen(c->value) : 0;
	if (vlen == 0) {
		msg_err(err, errlen, "empty TXT value%s%s", "", "");
		return DNS_EVALUE;
	}
	if (vlen > DNS_TXT_MAX) {
		msg_err(err, errlen, "TXT value longer than %s bytes%s", "4096",
			"");
		return DNS_EVALUE;
	}
	return 0;
}

/* Check every change against the first one's zone; the zone into @zname. */
static int changes_check(const struct dns_change *changes, size_t nchanges,
			 uint8_t *zname, char *err, size_t errlen)
{
	const char *zone = changes[0].zone;
	uint8_t lzone[KNOT_DNAME_MAXLEN], owner[KNOT_DNAME_MAXLEN];
	int ret;

	ret = name_parse(zname, zone, "zone", err, errlen);
	if (ret != 0)
		return ret;
	knot_dname_copy_lower(lzone, zname);
	for (size_t i = 0; i < nchanges && ret == 0; i++)
		ret =
		    change_check(lzone, zone, &changes[i], owner, err, errlen);
	return ret;
}

/*
 * Put one record per change into the update section (a knot code).
 * RFC 2136 2.5.1: add to an RRset, class IN with the TTL.
 * RFC 2136 2.5.4: delete one RR from an RRset, class NONE, TTL 0, the
 * RDATA naming the value; never 2.5.2 (class ANY, the whole RRset), which
 * would remove other challenges at the same name.
 * RFC 2136 3.4.2: the server applies the records of one message in order
 * and all or none of them; one RR per record, so that a record's position
 * is its own.
 */
static int changes_put(knot_pkt_t *pkt, const struct dns_change *changes,
		       size_t nchanges)
{
	uint8_t rdata[DNS_TXT_MAX + DNS_TXT_MAX / TXT_CHUNK + 1];
	uint8_t owner[KNOT_DNAME_MAXLEN];
	knot_rrset_t rr;
	int ret = KNOT_EOK;

	for (size_t i = 0; i < nchanges && ret == KNOT_EOK; i++) {
		const struct dns_change *c = &changes[i];
		size_t vlen = strlen(c->value);

		/* Checked by changes_check(): the name parses. */
		if (name_parse(owner, c->fqdn, "record name", NULL, 0) != 0)
			return KNOT_EINVAL;
		knot_rrset_init(&rr, owner, KNOT_RRTYPE_TXT,
				c->action == DNS_ADD ? KNOT_CLASS_IN
						     : KNOT_CLASS_NONE,
				c->action == DNS_ADD ? c->ttl : 0);
		ret = knot_rrset_add_rdata(
		    &rr, rdata, txt_rdata(rdata, c->value, vlen), NULL);
		if (ret == KNOT_EOK)
			ret = knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, &rr,
					   KNOT_PF_NOTRUNC);
		knot_rdataset_clear(&rr.rrs, NULL);
	}
	return ret;
}

int dns_msg_update_many(uint8_t *buf, size_t *len, size_t max, uint16_t id,
			const struct dns_change *changes, size_t nchanges,
			char *err, size_t errlen)
{
	uint8_t zname[KNOT_DNAME_MAXLEN];
	knot_pkt_t *pkt = NULL;
	int ret;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (buf == NULL || len == NULL || changes == NULL || nchanges == 0)
		return -EINVAL;
	ret = changes_check(changes, nchanges, zname, err, errlen);
	if (ret != 0)
		return ret;

	pkt = dns_msg_pkt_new(max, id, KNOT_OPCODE_UPDATE);
	if (pkt == NULL)
		return -ENOMEM;
	/* RFC 2136 2.3: the zone section names the zone, type SOA. */
	ret = knot_pkt_put_question(pkt, zname, KNOT_CLASS_IN, KNOT_RRTYPE_SOA);
	if (ret == KNOT_EOK)
		ret = knot_pkt_begin(pkt, KNOT_AUTHORITY);
	if (ret == KNOT_EOK)
		ret = changes_put(pkt, changes, nchanges);
	ret = knot_to_errno(ret);
	if (ret == 0)
		ret = dns_msg_pkt_export(pkt, buf, len, max);
	knot_pkt_free(pkt);
	return ret;
}

int dns_msg_update(uint8_t *buf, size_t *len, size_t max, uint16_t id,
		   const struct dns_change *change, char *err, size_t errlen)
{
	if (buf == NULL || len == NULL || change == NULL ||
	    (change->action != DNS_ADD && change->action != DNS_DELETE)) {
		if (err != NULL && errlen > 0)
			err[0] = '\0';
		return -EINVAL;
	}
	return dns_msg_update_many(buf, len, max, id, change, 1, err, errlen);
}

int dns_msg_query(uint8_t *buf, size_t *len, size_t max, uint16_t id,
		  const char *name, uint16_t qtype, char *err, size_t errlen)
{
	uint8_t qname[KNOT_DNAME_MAXLEN];
	knot_pkt_t *pkt;
	int ret;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (buf == NULL || len == NULL)
		return -EINVAL;
	ret = name_parse(qname, name, "name", err, errlen);
	if (ret != 0)
		return ret;
	pkt = dns_msg_pkt_new(max, id, KNOT_OPCODE_QUERY);
	if (pkt == NULL)
		return -ENOMEM;
	/* We ask the authoritative server itself: no recursion. */
	knot_wire_clear_rd(pkt->wire);
	ret = knot_to_errno(
	    knot_pkt_put_question(pkt, qname, KNOT_CLASS_IN, qtype));
	if (ret == 0)
		ret = dns_msg_pkt_export(pkt, buf, len, max);
	knot_pkt_free(pkt);
	return ret;
}

/* ---------------------------------------------------------------- TSIG */

int dns_msg_sign(uint8_t *buf, size_t *len, size_t max,
		 const struct dns_key *key, uint64_t now, uint8_t *mac,
		 size_t *maclen)
{
	struct tsig_hmac h;
	int ret;

	if (buf == NULL || len == NULL || *len < HEADER_SIZE || *len > max ||
	    mac == NULL || maclen == NULL)
		return -EINVAL;
	ret = tsig_hmac_init(&h, key);
	if (ret == 0)
		ret = tsig_sign(&h.key, buf, len, wire_max(max), now, mac,
				DNS_MAC_MAX, maclen);
	tsig_hmac_release(&h);
	return ret;
}

/* --------------------------------------------------------------- check */

int dns_msg_header_match(const uint8_t *ans, size_t anslen,
			 const uint8_t *query, size_t querylen)
{
	if (query == NULL || querylen < HEADER_SIZE)
		return -EINVAL;
	if (ans == NULL || anslen < HEADER_SIZE)
		return DNS_EFORMAT;
	if (knot_wire_get_id(ans) != knot_wire_get_id(query) ||
	    !knot_wire_get_qr(ans) ||
	    knot_wire_get_opcode(ans) != knot_wire_get_opcode(query))
		return DNS_EMISMATCH;
	return 0;
}

int dns_msg_truncated(const uint8_t *ans, size_t anslen)
{
	return anslen >= HEADER_SIZE && knot_wire_get_tc(ans);
}

int dns_msg_answer_parse(const uint8_t *ans, size_t anslen, knot_pkt_t **out)
{
	uint8_t *copy;
	knot_pkt_t *pkt;

	*out = NULL;
	if (anslen > DNS_MSG_MAX || anslen < KNOT_WIRE_HEADER_SIZE)
		return DNS_EFORMAT;
	copy = malloc(anslen);
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, ans, anslen);
	pkt = knot_pkt_new(copy, (uint16_t)anslen, NULL);
	if (pkt == NULL) {
		free(copy);
		return -ENOMEM;
	}
	if (knot_pkt_parse(pkt, 0) != KNOT_EOK) {
		knot_pkt_free(pkt);
		free(copy);
		return DNS_EFORMAT;
	}
	*out = pkt;
	return 0;
}

void dns_msg_answer_free(knot_pkt_t *pkt)
{
	uint8_t *wire;

	if (pkt == NULL)
		return;
	wire = pkt->wire;
	knot_pkt_free(pkt);
	free(wire);
}

/* The answer repeats our question (RFC 1035 4.1.2, RFC 2136 3.8). */
static int question_match(const knot_pkt_t *pkt, const uint8_t *query,
			  size_t querylen)
{
	const uint8_t *qname = query + HEADER_SIZE;
	int n;

	if (knot_wire_get_qdcount(query) != 1)
		return 0;
	n = knot_dname_wire_check(qname, query + querylen, NULL);
	if (n <= 0 || (size_t)n + 4 > querylen - HEADER_SIZE)
		return -EINVAL;
	if (knot_wire_get_qdcount(pkt->wire) == 0) {
		/* Some servers drop the question in error answers. */
		return knot_wire_get_rcode(pkt->wire) != KNOT_RCODE_NOERROR
			   ? 0
			   : DNS_EMISMATCH;
	}
	if (knot_wire_get_qdcount(pkt->wire) != 1 ||
	    !knot_dname_is_case_equal(knot_pkt_qname(pkt), qname) ||
	    knot_pkt_qtype(pkt) != knot_wire_read_u16(qname + n) ||
	    knot_pkt_qclass(pkt) != knot_wire_read_u16(qname + n + 2))
		return DNS_EMISMATCH;
	return 0;
}

/* The fields a check fills, as for an answer not yet seen. */
static void outcome_reset(struct dns_outcome *o)
{
	o->answered = false;
	o->rcode = -1;
	o->tsig_error = 0;
	o->tsig_present = false;
	o->tsig_verified = false;
	o->skew = 0;
}

int dns_msg_check_key(const uint8_t *ans, size_t anslen, const uint8_t *query,
		      size_t querylen, struct tsig_key *key, const uint8_t *mac,
		      size_t maclen, uint64_t now, struct dns_outcome *o)
{
	knot_pkt_t *pkt = NULL;
	int ret;

	if (o == NULL)
		return -EINVAL;
	outcome_reset(o);
	ret = dns_msg_header_match(ans, anslen, query, querylen);
	if (ret != 0)
		return ret;
	if (key != NULL && (mac == NULL || maclen == 0))
		return -EINVAL;
	ret = dns_msg_answer_parse(ans, anslen, &pkt);
	if (ret != 0)
		return ret;
	ret = question_match(pkt, query, querylen);
	if (ret != 0)
		goto out;
	o->answered = true;

	/*
	 * The RCODE with its EDNS extension (RFC 6891 6.1.3); the TSIG
	 * error is kept apart in tsig_error (RFC 8945 3: TSIG errors come
	 * with RCODE NOTAUTH).
	 */
	o->rcode = knot_wire_get_rcode(pkt->wire);
	if (pkt->opt_rr != NULL)
		o->rcode = knot_edns_whole_rcode(
		    knot_edns_get_ext_rcode(pkt->opt_rr), (uint8_t)o->rcode);
	if (knot_wire_get_tc(pkt->wire)) {
		ret = DNS_ETRUNC;
		goto out;
	}

	if (key != NULL) {
		ret = tsig_answer_check(key, pkt, mac, maclen, now, o);
		if (ret != 0)
			goto out;
	} else if (pkt->tsig_rr != NULL) {
		/* Not asked for; only reported. */
		o->tsig_present = true;
		o->tsig_error = knot_tsig_rdata_error(pkt->tsig_rr);
	}
	ret = o->rcode == KNOT_RCODE_NOERROR ? 0 : DNS_ERCODE;
out:
	dns_msg_answer_free(pkt);
	return ret;
}

int dns_msg_check(const uint8_t *ans, size_t anslen, const uint8_t *query,
		  size_t querylen, const struct dns_key *key,
		  const uint8_t *mac, size_t maclen, uint64_t now,
		  struct dns_outcome *o)
{
	struct tsig_hmac h;
	int ret = 0;

	memset(&h, 0, sizeof(h));
	if (key != NULL)
		ret = tsig_hmac_init(&h, key);
	if (ret != 0 && o != NULL)
		outcome_reset(o);
	if (ret == 0)
		ret = dns_msg_check_key(ans, anslen, query, querylen,
					key != NULL ? &h.key : NULL, mac,
					maclen, now, o);
	tsig_hmac_release(&h);
	return ret;
}

/* ---------------------------------------------------------------- reply */

/* Join one TXT RR's character-strings (RFC 1035 3.3.14). */
static char *txt_join(const knot_rdata_t *rd)
{
	char *s = malloc((size_t)rd->len + 1);
	size_t pos = 0, out = 0;

	if (s == NULL)
		return NULL;
	while (pos < rd->len) {
		size_t n = rd->data[pos++];
		if (n > (size_t)rd->len - pos)
			n = (size_t)rd->len - pos;
		memcpy(s + out, rd->data + pos, n);
		out += n;
		pos += n;
	}
	s[out] = '\0';
	return s;
}

int dns_msg_reply_parse(const uint8_t *ans, size_t anslen, uint16_t qtype,
			struct dns_reply *reply)
{
	knot_pkt_t *pkt = NULL;
	const knot_pktsection_t *sec;
	int ret;

	ret = dns_msg_answer_parse(ans, anslen, &pkt);
	if (ret != 0)
		return ret;
	reply->aa = knot_wire_get_aa(pkt->wire) != 0;
	sec = knot_pkt_section(pkt, KNOT_ANSWER);
	for (uint16_t i = 0; i < sec->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(sec, i);

		if (rr->type != qtype)
			continue;
		reply->nanswers += rr->rrs.count;
		if (qtype != KNOT_RRTYPE_TXT)
			continue;
		for (uint16_t j = 0; j < rr->rrs.count; j++) {
			char *s;

			if (reply->ntxt == DNS_REPLY_TXT_MAX)
				break;
			s = txt_join(knot_rdataset_at(&rr->rrs, j));
			if (s == NULL) {
				ret = -ENOMEM;
				goto out;
			}
			reply->txt[reply->ntxt++] = s;
		}
	}
out:
	dns_msg_answer_free(pkt);
	return ret;
}
