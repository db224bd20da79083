/*
 * tsig_internal.h - TSIG (RFC 8945) for msg.c and gss.c: the one place that
 * builds the MAC input, signs a message, and verifies and judges an
 * answer's TSIG, with the MAC itself made by a back-end: HMAC (tsig.c,
 * libdnssec) or a GSS-API MIC (gss.c, RFC 3645).  Not part of the module's
 * contract.
 */
#ifndef RFC2136_DNS_TSIG_INTERNAL_H
#define RFC2136_DNS_TSIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libknot/libknot.h>

#include "dns/dns.h"

#define TSIG_FUDGE   300  /* RFC 8945 10: recommended */
#define TSIG_MAC_MAX 1024 /* a krb5 MIC is 28 bytes (RFC 4121 4.2.6.1) */

/* "gss-tsig." in wire form (RFC 3645 2). */
#define TSIG_ALG_GSS ((const uint8_t *)"\x08gss-tsig")

/*
 * How a server puts our request's MAC into the MAC input of its answer.
 * RFC 8945 4.3.1 (and BIND, and Windows): the MAC's 2-byte length, then the
 * MAC.  Samba (4.17 as a domain controller, its internal DNS) leaves the
 * length out when it signs a GSS-TSIG answer.
 */
enum tsig_form {
	TSIG_FORM_RFC8945 = 0,
	TSIG_FORM_SAMBA, /* request MAC without its length */
};

/* A back-end: the MAC over a MAC input, made and checked. */
struct tsig_ops {
	/*
	 * The MAC of @in (@inlen bytes) into @mac (TSIG_MAC_MAX bytes of
	 * room) and its length into *@maclen.  0 or a negative code.
	 */
	int (*mac_sign)(void *arg, const uint8_t *in, size_t inlen,
			uint8_t *mac, size_t *maclen);
	/* 0 when @mac is the MAC of @in, DNS_ETSIG when not, -ENOMEM. */
	int (*mac_verify)(void *arg, const uint8_t *in, size_t inlen,
			  const uint8_t *mac, size_t maclen);
	/*
	 * GSS-TSIG: the key is the negotiated context, so an answer's key
	 * name is not compared; an answer echoing our request MAC is a
	 * denial (Windows, Samba); Samba's form is tried after RFC 8945's.
	 */
	bool gss;
};

/* A key: its name and algorithm, and the back-end that holds the secret. */
struct tsig_key {
	const uint8_t *name; /* wire form, lower case */
	const uint8_t *alg;  /* algorithm name, wire form, lower case */
	const struct tsig_ops *ops;
	void *arg; /* for @ops */
	/*
	 * GSS-TSIG only: the form tried first on an answer (the one the
	 * server was last seen to use); tsig_answer_verify() leaves in it
	 * the form that verified.
	 */
	enum tsig_form form;
};

/* An HMAC key (RFC 8945 6) for the functions below, made from ours. */
struct tsig_hmac {
	struct tsig_key key;
	knot_tsig_key_t knot; /* name allocated, secret borrowed */
};

/*
 * Make @h from @key (whose secret it borrows: @key must outlive @h).
 * Returns 0, -EINVAL (no key or secret), DNS_EKEY_ALG, DNS_EKEY_NAME.
 * Release with tsig_hmac_release().
 */
int tsig_hmac_init(struct tsig_hmac *h, const struct dns_key *key);

/* Free what tsig_hmac_init() allocated; leaves @h zeroed.  NULL-safe. */
void tsig_hmac_release(struct tsig_hmac *h);

/*
 * RFC 8945 4.2, 4.3.3: append a TSIG record (time signed @now, fudge
 * TSIG_FUDGE, the message's ID as original ID) signing the message in
 * @buf (*@len bytes, at most @max) with @k; ARCOUNT grows by one.  The MAC
 * goes into @mac (@macmax bytes of room), its length into *@maclen, for
 * verifying the answer.  Returns 0, -EMSGSIZE (no room: @buf is left as it
 * was), -ENOMEM, or the back-end's code.
 */
int tsig_sign(const struct tsig_key *k, uint8_t *buf, size_t *len, size_t max,
	      uint64_t now, uint8_t *mac, size_t macmax, size_t *maclen);

/*
 * RFC 8945 5.4: verify the TSIG of the answer parsed into @pkt (as
 * dns_msg_answer_parse() makes it: the TSIG record stripped from the
 * wire) against our request's MAC (@reqmac, none for an answer to an
 * unsigned query).  Fills o->tsig_present, tsig_error, skew (the server's
 * clock minus @now) and tsig_verified.  Returns 0 when the MAC verified
 * (its error and time are tsig_answer_check()'s to judge), 1 when the
 * answer carries no TSIG, DNS_EECHO when a GSS-TSIG answer echoes
 * @reqmac, DNS_ETSIG when it does not verify, -ENOMEM.
 */
int tsig_answer_verify(struct tsig_key *k, const knot_pkt_t *pkt,
		       const uint8_t *reqmac, size_t reqmaclen, uint64_t now,
		       struct dns_outcome *o);

/*
 * The verdict on an answer to a signed request: tsig_answer_verify(),
 * then its TSIG error and its time (RFC 8945 5.4.3).  Returns 0 when the
 * answer is signed, verified, without error and in time; DNS_ETSIG,
 * DNS_EECHO; for an answer without TSIG DNS_EUNSIGNED (NOERROR: never
 * accepted) or DNS_ERCODE (an error answer is judged by its RCODE, in
 * o->rcode).
 */
int tsig_answer_check(struct tsig_key *k, const knot_pkt_t *pkt,
		      const uint8_t *reqmac, size_t reqmaclen, uint64_t now,
		      struct dns_outcome *o);

#endif /* RFC2136_DNS_TSIG_INTERNAL_H */
