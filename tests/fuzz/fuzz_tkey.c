/*
 * fuzz_tkey.c - the TKEY parsers of GSS-TSIG (dns/tkey.c), which read what
 * a server sends during a negotiation: any bytes as the answer to a TKEY
 * query through tkey_answer_parse() (with the key name of the answer's own
 * question, as the negotiation looks for the name it asked about), and the
 * same bytes as a TKEY record's RDATA through tkey_rdata_parse().
 *
 * Seeds, tests/fuzz/corpus/tkey/bind-*: real answers of BIND 9 to our TKEY
 * queries (GSS-API tokens of a real MIT KDC's tickets inside; the final
 * answer of each negotiation signed with the new context; the answers to
 * the TKEY deletes at exit; an error answer for a service key named holds
 * in an older version), captured with
 *
 *   make all && python3 tests/fuzz/capture_tkey.py \
 *       build/rfc2136-webhook tests/fuzz/corpus/tkey
 *
 * which starts a KDC and named with tkey-gssapi-keytab (tests/system/
 * krb.py) and runs the CLI's present and cleanup through a TCP relay that
 * writes every answer to a TKEY query to a file as named sent it.
 *
 * Invariants: a token parsed is the length it says, within the input, and
 * none is left on failure; a TKEY query we build around that token parses
 * back to the same token and mode (our builder and parser agree).
 */
#include <libknot/libknot.h>

#include "dns/tkey_internal.h"
#include "tests/fuzz/fuzz.h"

/* The answer's question name, or a fixed one when it has none. */
static const uint8_t *question_name(const uint8_t *data, size_t size)
{
	if (size > KNOT_WIRE_HEADER_SIZE && knot_wire_get_qdcount(data) > 0 &&
	    knot_dname_wire_check(data + KNOT_WIRE_HEADER_SIZE, data + size,
				  NULL) > 0)
		return data + KNOT_WIRE_HEADER_SIZE;
	return (const uint8_t *)"\x03key\x07example";
}

/* Build a query around @t's token and parse it back. */
static void round_trip(const uint8_t *keyname, const struct tkey_answer *t)
{
	uint8_t q[65535];
	struct tkey_answer back;
	size_t qlen = 0;

	if (t->toklen > TKEY_TOKEN_MAX ||
	    tkey_query_build(q, &qlen, sizeof(q), keyname, t->mode, t->token,
			     t->toklen) != 0)
		return;
	fuzz_check(tkey_answer_parse(q, qlen, keyname, &back) == 0);
	fuzz_check(back.mode == t->mode && back.error == 0);
	fuzz_check(back.toklen == t->toklen);
	fuzz_check(t->toklen == 0 ||
		   memcmp(back.token, t->token, t->toklen) == 0);
	tkey_answer_release(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *keyname = question_name(data, size);
	struct tkey_answer t;
	int ret;

	ret = tkey_answer_parse(data, size, keyname, &t);
	fuzz_check(ret == 0 || t.token == NULL);
	fuzz_check(t.toklen <= size && (t.token != NULL) == (t.toklen > 0));
	if (ret == 0)
		round_trip(keyname, &t);
	tkey_answer_release(&t);

	ret = tkey_rdata_parse(data, size, &t);
	fuzz_check(ret == 0 || t.token == NULL);
	fuzz_check(t.toklen + 16 <= size || t.toklen == 0);
	tkey_answer_release(&t);
	return 0;
}
