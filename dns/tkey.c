/*
 * tkey.c - the TKEY exchange of GSS-TSIG (RFC 2930, RFC 3645 4.1): the
 * query that carries our GSS-API token (mode 3) or deletes a negotiated
 * key (mode 5), and the parsers of the server's answer.  These parsers
 * read bytes a server sends, so they are pure functions over buffers that
 * tests/fuzz/fuzz_tkey.c calls directly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libknot/libknot.h>

#include "dns/dns.h"
#include "dns/msg_internal.h"
#include "dns/tkey_internal.h"
#include "dns/tsig_internal.h"
#include "util/random.h"

/*
 * The TKEY RDATA (RFC 2930 2): algorithm gss-tsig, inception and
 * expiration both now (as nsupdate -g sends them: the server decides the
 * lifetime), @mode, error 0, the key (our token), no other data.
 */
static size_t tkey_rdata(uint8_t *rdata, uint16_t mode, const uint8_t *token,
			 size_t toklen)
{
	uint32_t now = (uint32_t)time(NULL);
	size_t n = knot_dname_size(TSIG_ALG_GSS);
	uint8_t *p = rdata + n;

	memcpy(rdata, TSIG_ALG_GSS, n);
	knot_wire_write_u32(p, now); /* inception */
	knot_wire_write_u32(p + 4, now);
	knot_wire_write_u16(p + 8, mode);
	knot_wire_write_u16(p + 10, 0); /* error */
	knot_wire_write_u16(p + 12, (uint16_t)toklen);
	if (toklen > 0)
		memcpy(p + 14, token, toklen);
	knot_wire_write_u16(p + 14 + toklen, 0); /* other size */
	return n + 16 + toklen;
}

int tkey_query_build(uint8_t *buf, size_t *len, size_t max,
		     const uint8_t *keyname, uint16_t mode,
		     const uint8_t *token, size_t toklen)
{
	knot_pkt_t *pkt = NULL;
	knot_rrset_t rr;
	uint8_t *rdata = NULL;
	uint16_t id;
	int ret;

	knot_rrset_init_empty(&rr);
	if (toklen > TKEY_TOKEN_MAX || util_random(&id, sizeof(id)) != 0)
		return -EINVAL;
	rdata = malloc(knot_dname_size(TSIG_ALG_GSS) + 16 + toklen);
	pkt = dns_msg_pkt_new(max, id, KNOT_OPCODE_QUERY);
	if (rdata == NULL || pkt == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	/* RFC 3645 4.1.1: the TKEY RR in the additional section, where
	 * BIND and Windows look for it. */
	ret = knot_pkt_put_question(pkt, keyname, KNOT_CLASS_ANY,
				    KNOT_RRTYPE_TKEY);
	if (ret == KNOT_EOK)
		ret = knot_pkt_begin(pkt, KNOT_ADDITIONAL);
	knot_rrset_init(&rr, (knot_dname_t *)keyname, KNOT_RRTYPE_TKEY,
			KNOT_CLASS_ANY, 0);
	if (ret == KNOT_EOK)
		ret = knot_rrset_add_rdata(
		    &rr, rdata,
		    (uint16_t)tkey_rdata(rdata, mode, token, toklen), NULL);
	if (ret == KNOT_EOK)
		ret = knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, &rr,
				   KNOT_PF_NOTRUNC);
	if (ret != KNOT_EOK)
		ret = ret == KNOT_ENOMEM ? -ENOMEM : -EMSGSIZE;
	else
		ret = dns_msg_pkt_export(pkt, buf, len, max);
out:
	knot_rdataset_clear(&rr.rrs, NULL);
	knot_pkt_free(pkt);
	free(rdata);
	return ret;
}

int tkey_rdata_parse(const uint8_t *rdata, size_t len, struct tkey_answer *t)
{
	const uint8_t *p = rdata, *end = rdata + len;
	int n = knot_dname_wire_check(p, end, NULL);
	size_t klen;

	memset(t, 0, sizeof(*t));
	if (n <= 0 || end - (p + n) < 16)
		return DNS_EFORMAT;
	p += n + 4; /* algorithm, inception */
	t->expiration = knot_wire_read_u32(p);
	t->mode = knot_wire_read_u16(p + 4);
	t->error = knot_wire_read_u16(p + 6);
	klen = knot_wire_read_u16(p + 8);
	p += 10;
	/* The key, then the other data's length at least. */
	if ((size_t)(end - p) < klen + 2)
		return DNS_EFORMAT;
	if (klen > 0) {
		t->token = malloc(klen);
		if (t->token == NULL)
			return -ENOMEM;
		memcpy(t->token, p, klen);
		t->toklen = klen;
	}
	return 0;
}

/* The first record of the TKEY RRset owned by @keyname in @sec, or NULL. */
static const knot_rdata_t *tkey_find(const knot_pktsection_t *sec,
				     const uint8_t *keyname)
{
	for (uint16_t i = 0; i < sec->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(sec, i);

		if (rr->type == KNOT_RRTYPE_TKEY &&
		    knot_dname_is_case_equal(rr->owner, keyname) &&
		    rr->rrs.count > 0)
			return knot_rdataset_at(&rr->rrs, 0);
	}
	return NULL;
}

int tkey_answer_parse(const uint8_t *ans, size_t alen, const uint8_t *keyname,
		      struct tkey_answer *t)
{
	const knot_rdata_t *rd;
	knot_pkt_t *pkt = NULL;
	int ret;

	memset(t, 0, sizeof(*t));
	ret = dns_msg_answer_parse(ans, alen, &pkt);
	if (ret != 0)
		return ret;
	/* RFC 2930 4.1: in the answer section; some servers put it in the
	 * additional one, as in the query. */
	rd = tkey_find(knot_pkt_section(pkt, KNOT_ANSWER), keyname);
	if (rd == NULL)
		rd = tkey_find(knot_pkt_section(pkt, KNOT_ADDITIONAL), keyname);
	ret = rd != NULL ? tkey_rdata_parse(rd->data, rd->len, t) : 1;
	dns_msg_answer_free(pkt);
	return ret;
}

void tkey_answer_release(struct tkey_answer *t)
{
	if (t == NULL)
		return;
	free(t->token);
	memset(t, 0, sizeof(*t));
}
