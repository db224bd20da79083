/*
 * tsig.c - TSIG (RFC 8945) in one place: the MAC input of a request and of
 * an answer, the TSIG record appended to a message, and the check of an
 * answer's TSIG (error, MAC, time with one fudge rule), for HMAC keys and
 * for GSS-TSIG (RFC 3645) alike.  The MAC itself comes from a back-end
 * (struct tsig_ops): HMAC over libdnssec here, a GSS-API MIC in gss.c,
 * as BIND's lib/dns/tsig.c signs both through one dst context.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libdnssec/error.h>
#include <libdnssec/tsig.h>
#include <libknot/libknot.h>

#include "dns/dns.h"
#include "dns/tsig_internal.h"

/* The TSIG variables of RFC 8945 4.3.3, as in a record or as we sign. */
struct tsig_vars {
	const uint8_t *name, *alg;
	uint64_t time_signed;
	uint16_t fudge, error, olen;
	const uint8_t *other;
};

/* ------------------------------------------------------------- HMAC */

static dnssec_tsig_algorithm_t alg_to_dnssec(enum dns_alg alg)
{
	static const dnssec_tsig_algorithm_t map[] = {
	    [DNS_ALG_NONE] = DNSSEC_TSIG_UNKNOWN,
	    [DNS_ALG_MD5] = DNSSEC_TSIG_HMAC_MD5,
	    [DNS_ALG_SHA1] = DNSSEC_TSIG_HMAC_SHA1,
	    [DNS_ALG_SHA224] = DNSSEC_TSIG_HMAC_SHA224,
	    [DNS_ALG_SHA256] = DNSSEC_TSIG_HMAC_SHA256,
	    [DNS_ALG_SHA384] = DNSSEC_TSIG_HMAC_SHA384,
	    [DNS_ALG_SHA512] = DNSSEC_TSIG_HMAC_SHA512,
	};
	_Static_assert(sizeof(map) / sizeof(map[0]) == DNS_ALG_SHA512 + 1,
		       "one libdnssec algorithm per dns_alg");

	if ((unsigned)alg >= sizeof(map) / sizeof(map[0]))
		return DNSSEC_TSIG_UNKNOWN;
	return map[alg];
}

/* The HMAC of @in with the key's algorithm and secret (libdnssec). */
static int hmac_sign(void *arg, const uint8_t *in, size_t inlen, uint8_t *mac,
		     size_t *maclen)
{
	const knot_tsig_key_t *k = arg;
	dnssec_binary_t part = {.data = (uint8_t *)in, .size = inlen};
	dnssec_tsig_ctx_t *ctx = NULL;

	if (dnssec_tsig_new(&ctx, k->algorithm, &k->secret) != DNSSEC_EOK)
		return -ENOMEM;
	dnssec_tsig_add(ctx, &part);
	*maclen = dnssec_tsig_size(ctx);
	dnssec_tsig_write(ctx, mac);
	dnssec_tsig_free(ctx);
	return 0;
}

/* Compare in constant time: how long a forged MAC matched stays secret. */
static bool mac_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint8_t diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* RFC 8945 5.2.2: the full HMAC, no truncation (as libknot checks it). */
static int hmac_verify(void *arg, const uint8_t *in, size_t inlen,
		       const uint8_t *mac, size_t maclen)
{
	uint8_t want[DNS_MAC_MAX];
	size_t wantlen = 0;
	int ret;

	ret = hmac_sign(arg, in, inlen, want, &wantlen);
	if (ret == 0 && (maclen != wantlen || !mac_equal(mac, want, maclen)))
		ret = DNS_ETSIG;
	explicit_bzero(want, sizeof(want));
	return ret;
}

static const struct tsig_ops hmac_ops = {
    .mac_sign = hmac_sign,
    .mac_verify = hmac_verify,
    .gss = false,
};

int tsig_hmac_init(struct tsig_hmac *h, const struct dns_key *key)
{
	knot_tsig_key_t *k = &h->knot;

	memset(h, 0, sizeof(*h));
	if (key == NULL || key->secret == NULL || key->secret_len == 0)
		return -EINVAL;
	k->algorithm = alg_to_dnssec(key->alg);
	if (k->algorithm == DNSSEC_TSIG_UNKNOWN ||
	    dnssec_tsig_algorithm_size(k->algorithm) > DNS_MAC_MAX)
		return DNS_EKEY_ALG;
	k->name = knot_dname_from_str_alloc(key->name);
	if (k->name == NULL)
		return DNS_EKEY_NAME;
	knot_dname_to_lower(k->name);
	k->secret.data = key->secret;
	k->secret.size = key->secret_len;
	h->key.name = k->name;
	h->key.alg = dnssec_tsig_algorithm_to_dname(k->algorithm);
	h->key.ops = &hmac_ops;
	h->key.arg = k;
	return 0;
}

void tsig_hmac_release(struct tsig_hmac *h)
{
	if (h == NULL)
		return;
	knot_dname_free(h->knot.name, NULL);
	memset(h, 0, sizeof(*h));
}

/* -------------------------------------------------------- MAC input */

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	knot_wire_write_u16(p, v);
	return p + 2;
}

/* A name in wire form, lower case (RFC 8945 4.3.3: canonical). */
static uint8_t *put_name(uint8_t *p, const uint8_t *name)
{
	size_t n = knot_dname_size(name);

	memcpy(p, name, n);
	knot_dname_to_lower(p);
	return p + n;
}

/*
 * RFC 8945 4.3.3: the TSIG variables that follow the message: key name
 * and algorithm in canonical form, class ANY, TTL 0, time signed (48
 * bits), fudge, error, other data.
 */
static uint8_t *put_vars(uint8_t *p, const struct tsig_vars *v)
{
	p = put_name(p, v->name);
	p = put16(p, KNOT_CLASS_ANY);
	knot_wire_write_u32(p, 0); /* TTL */
	p = put_name(p + 4, v->alg);
	knot_wire_write_u48(p, v->time_signed);
	p = put16(p + 6, v->fudge);
	p = put16(p, v->error);
	p = put16(p, v->olen);
	if (v->olen > 0)
		memcpy(p, v->other, v->olen);
	return p + v->olen;
}

/*
 * The MAC input (RFC 8945 4.3.3; 4.3.1 for an answer: our request's MAC
 * first, after its length), in @form, malloc'ed into *@out (*@len bytes):
 * [request MAC length,] [request MAC,] message, TSIG variables.  @msg is
 * the message without its TSIG record; its ID is replaced by @orig_id
 * (RFC 8945 4.3.2: the MAC covers the original ID).
 */
static int mac_input(enum tsig_form form, const uint8_t *reqmac,
		     size_t reqmaclen, const uint8_t *msg, size_t msglen,
		     uint16_t orig_id, const struct tsig_vars *v, uint8_t **out,
		     size_t *len)
{
	size_t max =
	    2 + reqmaclen + msglen + 2 * KNOT_DNAME_MAXLEN + 22 + v->olen;
	uint8_t *buf = malloc(max), *p;

	if (buf == NULL)
		return -ENOMEM;
	p = buf;
	if (reqmaclen > 0) {
		/* Samba: the request MAC without its length. */
		if (form == TSIG_FORM_RFC8945)
			p = put16(p, (uint16_t)reqmaclen);
		memcpy(p, reqmac, reqmaclen);
		p += reqmaclen;
	}
	memcpy(p, msg, msglen);
	if (msglen >= KNOT_WIRE_HEADER_SIZE)
		knot_wire_set_id(p, orig_id);
	p = put_vars(p + msglen, v);
	*out = buf;
	*len = (size_t)(p - buf);
	return 0;
}

/* ------------------------------------------------------------- sign */

/* RFC 8945 4.2: the TSIG record, last in the additional section. */
static uint8_t *put_record(uint8_t *p, const struct tsig_vars *v,
			   const uint8_t *mac, size_t maclen, uint16_t orig_id)
{
	size_t rdlen = knot_dname_size(v->alg) + 6 + 2 + 2 + maclen + 6;

	p = put_name(p, v->name);
	p = put16(p, KNOT_RRTYPE_TSIG);
	p = put16(p, KNOT_CLASS_ANY);
	knot_wire_write_u32(p, 0); /* TTL */
	p = put16(p + 4, (uint16_t)rdlen);
	p = put_name(p, v->alg);
	knot_wire_write_u48(p, v->time_signed);
	p = put16(p + 6, v->fudge);
	p = put16(p, (uint16_t)maclen);
	memcpy(p, mac, maclen);
	p = put16(p + maclen, orig_id);
	p = put16(p, 0);    /* error */
	return put16(p, 0); /* other length */
}

int tsig_sign(const struct tsig_key *k, uint8_t *buf, size_t *len, size_t max,
	      uint64_t now, uint8_t *mac, size_t macmax, size_t *maclen)
{
	struct tsig_vars v = {.name = k->name,
			      .alg = k->alg,
			      .time_signed = now,
			      .fudge = TSIG_FUDGE};
	uint8_t digest[TSIG_MAC_MAX];
	uint16_t id = knot_wire_get_id(buf);
	uint8_t *input = NULL;
	size_t inlen, dlen = 0, need;
	int ret;

	ret = mac_input(TSIG_FORM_RFC8945, NULL, 0, buf, *len, id, &v, &input,
			&inlen);
	if (ret == 0)
		ret = k->ops->mac_sign(k->arg, input, inlen, digest, &dlen);
	free(input);
	if (ret != 0)
		goto out;
	need =
	    knot_dname_size(k->name) + 10 + knot_dname_size(k->alg) + 16 + dlen;
	if (dlen == 0 || dlen > macmax || *len + need > max) {
		ret = dlen == 0 || dlen > macmax ? -EINVAL : -EMSGSIZE;
		goto out;
	}
	*len = (size_t)(put_record(buf + *len, &v, digest, dlen, id) - buf);
	knot_wire_add_arcount(buf, 1);
	memcpy(mac, digest, dlen);
	*maclen = dlen;
out:
	explicit_bzero(digest, sizeof(digest));
	return ret;
}

/* ----------------------------------------------------------- verify */

/* The variables of a received TSIG record. */
static void vars_of(const knot_rrset_t *tsig, struct tsig_vars *v)
{
	v->name = tsig->owner;
	v->alg = knot_tsig_rdata_alg_name(tsig);
	v->time_signed = knot_tsig_rdata_time_signed(tsig);
	v->fudge = knot_tsig_rdata_fudge(tsig);
	v->error = knot_tsig_rdata_error(tsig);
	v->olen = knot_tsig_rdata_other_data_length(tsig);
	v->other = knot_tsig_rdata_other_data(tsig);
}

/* The answer's MAC over its MAC input in @form, by the key's back-end. */
static int mac_check(const struct tsig_key *k, enum tsig_form form,
		     const knot_pkt_t *pkt, const uint8_t *reqmac,
		     size_t reqmaclen)
{
	const knot_rrset_t *tsig = pkt->tsig_rr;
	struct tsig_vars v;
	uint8_t *input = NULL;
	size_t inlen;
	int ret;

	vars_of(tsig, &v);
	ret = mac_input(form, reqmac, reqmaclen, pkt->wire, pkt->size,
			knot_tsig_rdata_orig_id(tsig), &v, &input, &inlen);
	if (ret == 0)
		ret = k->ops->mac_verify(k->arg, input, inlen,
					 knot_tsig_rdata_mac(tsig),
					 knot_tsig_rdata_mac_length(tsig));
	free(input);
	return ret;
}

/*
 * The MAC check: the standard form first, then, for GSS-TSIG, Samba's,
 * tried only after it failed and only where the two differ (an answer to
 * a signed request), and accepted only when it verifies with the
 * negotiated context as the standard form would.  The form a server was
 * last seen to use goes first (k->form), the other second (a server
 * upgraded in place); k->form is left at the one that verified.
 */
static int mac_check_forms(struct tsig_key *k, const knot_pkt_t *pkt,
			   const uint8_t *reqmac, size_t reqmaclen)
{
	enum tsig_form first = k->ops->gss ? k->form : TSIG_FORM_RFC8945;
	enum tsig_form other =
	    first == TSIG_FORM_RFC8945 ? TSIG_FORM_SAMBA : TSIG_FORM_RFC8945;
	int ret;

	ret = mac_check(k, first, pkt, reqmac, reqmaclen);
	if (ret == DNS_ETSIG && k->ops->gss && reqmaclen > 0) {
		ret = mac_check(k, other, pkt, reqmac, reqmaclen);
		if (ret == 0)
			first = other;
	}
	if (ret == 0)
		k->form = first;
	return ret;
}

/*
 * The server's clock: RFC 8945 5.2.3, a BADTIME answer carries it in Other
 * Data (and our time in Time Signed); otherwise Time Signed is its time.
 */
static uint64_t server_time(const knot_rrset_t *tsig)
{
	if (knot_tsig_rdata_error(tsig) == KNOT_RCODE_BADTIME &&
	    knot_tsig_rdata_other_data_length(tsig) == 6)
		return knot_wire_read_u48(knot_tsig_rdata_other_data(tsig));
	return knot_tsig_rdata_time_signed(tsig);
}

int tsig_answer_verify(struct tsig_key *k, const knot_pkt_t *pkt,
		       const uint8_t *reqmac, size_t reqmaclen, uint64_t now,
		       struct dns_outcome *o)
{
	const knot_rrset_t *tsig = pkt->tsig_rr;
	size_t maclen;

	if (tsig == NULL)
		return 1;
	o->tsig_present = true;
	o->tsig_error = knot_tsig_rdata_error(tsig);
	o->skew = (int64_t)server_time(tsig) - (int64_t)now;
	/* RFC 8945 5.3.2: BADKEY and BADSIG answers are unsigned. */
	if (o->tsig_error == KNOT_RCODE_BADKEY ||
	    o->tsig_error == KNOT_RCODE_BADSIG)
		return DNS_ETSIG;
	/*
	 * Windows and Samba deny a GSS-TSIG update by echoing our MAC instead
	 * of signing their answer: a denial, not a forgery.
	 */
	maclen = knot_tsig_rdata_mac_length(tsig);
	if (k->ops->gss && reqmaclen > 0 && maclen == reqmaclen &&
	    memcmp(knot_tsig_rdata_mac(tsig), reqmac, maclen) == 0)
		return DNS_EECHO;
	/* RFC 8945 5.4.1: the answer is signed with the request's key. */
	if (!knot_dname_is_case_equal(knot_tsig_rdata_alg_name(tsig), k->alg) ||
	    (!k->ops->gss && !knot_dname_is_case_equal(tsig->owner, k->name)))
		return DNS_ETSIG;
	if (mac_check_forms(k, pkt, reqmac, reqmaclen) != 0)
		return DNS_ETSIG;
	o->tsig_verified = true;
	return 0;
}

int tsig_answer_check(struct tsig_key *k, const knot_pkt_t *pkt,
		      const uint8_t *reqmac, size_t reqmaclen, uint64_t now,
		      struct dns_outcome *o)
{
	int64_t fudge;
	int ret;

	ret = tsig_answer_verify(k, pkt, reqmac, reqmaclen, now, o);
	if (ret == 1)
		return o->rcode == KNOT_RCODE_NOERROR ? DNS_EUNSIGNED
						      : DNS_ERCODE;
	if (ret != 0)
		return ret;
	if (o->tsig_error != 0)
		return DNS_ETSIG;
	/*
	 * RFC 8945 5.4.3: an answer signed outside the fudge is BADTIME.  The
	 * window is the one the answer states (RFC 8945 5.2.3 judges a
	 * message by its own Time Signed and Fudge, both under its MAC), for
	 * HMAC and GSS-TSIG alike; BIND, Knot, Samba and Windows all state
	 * 300 s, which gss.c assumed before.
	 */
	fudge = knot_tsig_rdata_fudge(pkt->tsig_rr);
	if (o->skew > fudge || o->skew < -fudge)
		return DNS_ETSIG;
	return 0;
}
