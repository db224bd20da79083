/*
 * fuzz_dns_answer.c - the DNS answer parser and its diagnosis: any bytes
 * as the answer to a fixed request (dns_request.h), through
 * dns_msg_check(), the TXT reply parser for queries, and the sentences a
 * user reads (dns_outcome_explain, dns_result_explain), and the zone
 * discovery's reading of it (dns_zone_answer_parse).
 *
 * Invariants: only a NOERROR answer passes the check, and when the
 * request was signed only one whose TSIG verified (DESIGN.md section 4:
 * never accept a NOERROR whose TSIG does not verify).
 */
#include "dns/msg_internal.h"
#include "tests/fuzz/dns_request.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t secret[32], q[1024], mac[DNS_MAC_MAX];
	struct dns_key key = fuzz_key(secret);
	const struct dns_key *k;
	struct dns_result res;
	struct dns_outcome *o = &res.attempts[0];
	size_t qlen = 0, maclen = 0;
	char buf[1024];
	uint64_t now = 0;
	unsigned mode;
	int ret;

	if (size < FUZZ_HDR_LEN)
		return 0;
	mode = data[0];
	for (size_t i = 1; i < FUZZ_HDR_LEN; i++)
		now = now << 8 | data[i];
	/*
	 * @now is our clock, not input from the wire: keep it within TSIG's
	 * 48-bit Time Signed field (RFC 8945 4.2), as time(NULL) is.
	 */
	now &= 0xffffffffffffULL;
	data += FUZZ_HDR_LEN;
	size -= FUZZ_HDR_LEN;
	k = mode & FUZZ_MODE_SIGNED ? &key : NULL;
	if (fuzz_request(mode, now, k, q, &qlen, sizeof(q), mac, &maclen) != 0)
		return 0;

	memset(&res, 0, sizeof(res));
	snprintf(o->server, sizeof(o->server), "127.0.0.1:53");
	(void)dns_msg_truncated(data, size);
	ret = dns_msg_check(data, size, q, qlen, k, mac, maclen, now, o);
	o->code = ret;
	if (ret == 0) {
		fuzz_check(o->answered && o->rcode == 0);
		fuzz_check(k == NULL || (o->tsig_present && o->tsig_verified));
	}
	if (ret == 0 && (mode & FUZZ_MODE_QUERY)) {
		struct dns_reply reply;

		memset(&reply, 0, sizeof(reply));
		if (dns_msg_reply_parse(data, size, 16, &reply) == 0) {
			fuzz_check(reply.ntxt <= DNS_REPLY_TXT_MAX);
			for (size_t i = 0; i < reply.ntxt; i++)
				fuzz_check(reply.txt[i] != NULL);
		}
		dns_reply_release(&reply);
	}
	/* Zone discovery reads any answer to a SOA query (dns/zone.c). */
	{
		struct dns_zone_answer za;

		if (dns_zone_answer_parse(data, size, FUZZ_FQDN, &za) == 0) {
			fuzz_check(za.nns <= DNS_ZONE_NS_MAX);
			fuzz_check(za.kind != DNS_ZONE_FOUND ||
				   za.soa.zone[0] != '\0');
			fuzz_check(za.kind != DNS_ZONE_REFERRAL ||
				   za.delegation[0] != '\0');
		}
	}
	fuzz_check(dns_outcome_explain(o, k, FUZZ_ZONE, buf, sizeof(buf)) ==
		   buf);
	fuzz_check_text(buf, sizeof(buf));
	fuzz_check(buf[0] != '\0');
	res.code = ret;
	res.nattempts = 1 + (mode >> 3) % 3;
	for (size_t i = 1; i < res.nattempts; i++)
		res.attempts[i] = *o;
	fuzz_check(dns_result_explain(&res, "update", k, FUZZ_ZONE, FUZZ_FQDN,
				      buf, sizeof(buf)) == buf);
	fuzz_check_text(buf, sizeof(buf));
	return 0;
}
