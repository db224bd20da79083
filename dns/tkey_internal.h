/*
 * tkey_internal.h - the TKEY exchange (RFC 2930, RFC 3645 4.1) for gss.c and
 * the fuzz target: the query that carries a GSS-API token or deletes a key,
 * and the parsers of what the server answers.  Not part of the module's
 * contract.
 */
#ifndef RFC2136_DNS_TKEY_INTERNAL_H
#define RFC2136_DNS_TKEY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define TKEY_MODE_GSSAPI 3 /* RFC 2930 2.5 */
#define TKEY_MODE_DELETE 5
#define TKEY_TOKEN_MAX	 60000

/* What a TKEY record says (RFC 2930 2). */
struct tkey_answer {
	uint32_t expiration;
	uint16_t mode;
	uint16_t error;
	uint8_t *token; /* malloc'ed, NULL when empty */
	size_t toklen;
};

/*
 * A TKEY query (RFC 2930 4, RFC 3645 4.1.1) with a random ID into @buf (at
 * most @max bytes): question <@keyname> ANY TKEY, the TKEY record (mode
 * @mode, algorithm gss-tsig, the GSS-API @token) in the additional
 * section.  @keyname is in wire form.  Returns 0, -EINVAL (a token over
 * TKEY_TOKEN_MAX, no random bytes), -ENOMEM, -EMSGSIZE.
 */
int tkey_query_build(uint8_t *buf, size_t *len, size_t max,
		     const uint8_t *keyname, uint16_t mode,
		     const uint8_t *token, size_t toklen);

/*
 * Parse the RDATA of a TKEY record (@len bytes, as a server sent it) into
 * @t: algorithm, inception, expiration, mode, error, key (the GSS-API
 * token, copied), other data.  Returns 0, DNS_EFORMAT (cut short), or
 * -ENOMEM; on failure @t holds no token.
 */
int tkey_rdata_parse(const uint8_t *rdata, size_t len, struct tkey_answer *t);

/*
 * Find the TKEY record for @keyname (wire form) in the answer or, failing
 * that, the additional section of the answer @ans (@alen bytes, as the
 * server sent it) and parse it into @t.  Returns 0, 1 when the answer has
 * no such record, DNS_EFORMAT, -ENOMEM.  Release @t with
 * tkey_answer_release() whatever it returned.
 */
int tkey_answer_parse(const uint8_t *ans, size_t alen, const uint8_t *keyname,
		      struct tkey_answer *t);

/* Free @t's token; leaves @t zeroed.  NULL-safe. */
void tkey_answer_release(struct tkey_answer *t);

#endif /* RFC2136_DNS_TKEY_INTERNAL_H */
