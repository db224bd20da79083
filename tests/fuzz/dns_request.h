/*
 * dns_request.h - the fixed request fuzz_dns_answer checks answers
 * against, shared with capture_answer.c, which sends the same request to
 * real servers so their answers seed the corpus.
 *
 * A seed or fuzz input is: one mode byte, the signing time (8 bytes, big
 * endian, seconds), then the answer as it came off the wire.  Mode bits:
 *   0  the request is signed with FUZZ_KEY_NAME (hmac-sha256, FUZZ_SECRET)
 *   1  the UPDATE deletes the value (RFC 2136 2.5.4) instead of adding it
 *   2  the request is a TXT query for FUZZ_FQDN, not an UPDATE
 */
#ifndef RFC2136_FUZZ_DNS_REQUEST_H
#define RFC2136_FUZZ_DNS_REQUEST_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"

#define FUZZ_ZONE     "example.test."
#define FUZZ_FQDN     "_acme-challenge.fuzz.example.test."
#define FUZZ_VALUE    "fuzz-value"
#define FUZZ_ID	      0x4242
#define FUZZ_KEY_NAME "acme256."
/* 32 bytes 0x01..0x20; base64 for the servers' configuration. */
#define FUZZ_SECRET_B64 "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
#define FUZZ_HDR_LEN	9

enum {
	FUZZ_MODE_SIGNED = 1,
	FUZZ_MODE_DELETE = 2,
	FUZZ_MODE_QUERY = 4,
};

/* The key the fixed request is signed with; @secret holds 32 bytes. */
static inline struct dns_key fuzz_key(uint8_t *secret)
{
	struct dns_key key = {.name = FUZZ_KEY_NAME, .alg = DNS_ALG_SHA256};

	for (size_t i = 0; i < 32; i++)
		secret[i] = (uint8_t)(i + 1);
	key.secret = secret;
	key.secret_len = 32;
	return key;
}

/*
 * Build the request for @mode signed at @now with @key (when the mode says
 * signed) into @q (*@qlen); @mac gets the request MAC.  Returns 0 or the
 * dns_msg_* error.
 */
static inline int fuzz_request(unsigned mode, uint64_t now,
			       const struct dns_key *key, uint8_t *q,
			       size_t *qlen, size_t max, uint8_t *mac,
			       size_t *maclen)
{
	int ret;

	*maclen = 0;
	if (mode & FUZZ_MODE_QUERY)
		ret = dns_msg_query(q, qlen, max, FUZZ_ID, FUZZ_FQDN, 16, NULL,
				    0);
	else
		ret = dns_msg_update(
		    q, qlen, max, FUZZ_ID,
		    &(struct dns_change){FUZZ_ZONE, FUZZ_FQDN,
					 mode & FUZZ_MODE_DELETE ? DNS_DELETE
								 : DNS_ADD,
					 FUZZ_VALUE, 60},
		    NULL, 0);
	if (ret == 0 && (mode & FUZZ_MODE_SIGNED))
		ret = dns_msg_sign(q, qlen, max, key, now, mac, maclen);
	return ret;
}

#endif /* RFC2136_FUZZ_DNS_REQUEST_H */
