/*
 * test_zone.c - dns_zone_answer_parse() over answers as BIND, Knot and
 * PowerDNS give them to a SOA query: the apex (SOA in the answer), a name
 * below it (NXDOMAIN or NODATA, SOA in the authority section), a referral
 * (NS without AA), refusals, an upward referral to the root, a SOA of an
 * unrelated zone; and dns_outcome_addr().
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <libknot/libknot.h>

#include "dns/dns.h"

enum rr_kind {
	RR_NONE,
	RR_SOA,
	RR_NS
};

struct zone_case {
	const char *what;
	const char *qname;
	bool aa;
	int rcode;
	knot_section_t section; /* where the RR goes */
	enum rr_kind rr;
	const char *owner;
	enum dns_zone_kind want;
	const char *want_name; /* zone (FOUND) or delegation (REFERRAL) */
};

static const struct zone_case cases[] = {
    {"apex: SOA in the answer", "example.test.", true, KNOT_RCODE_NOERROR,
     KNOT_ANSWER, RR_SOA, "example.test.", DNS_ZONE_FOUND, "example.test."},
    {"NXDOMAIN below the apex", "_acme-challenge.www.example.test.", true,
     KNOT_RCODE_NXDOMAIN, KNOT_AUTHORITY, RR_SOA, "example.test.",
     DNS_ZONE_FOUND, "example.test."},
    {"NODATA, owner in upper case", "www.Example.TEST.", true,
     KNOT_RCODE_NOERROR, KNOT_AUTHORITY, RR_SOA, "EXAMPLE.test.",
     DNS_ZONE_FOUND, "example.test."},
    {"sub-zone served by the same server", "_acme-challenge.sub.example.test.",
     true, KNOT_RCODE_NXDOMAIN, KNOT_AUTHORITY, RR_SOA, "sub.example.test.",
     DNS_ZONE_FOUND, "sub.example.test."},
    {"referral: NS without AA", "_acme-challenge.deleg.example.test.", false,
     KNOT_RCODE_NOERROR, KNOT_AUTHORITY, RR_NS, "deleg.example.test.",
     DNS_ZONE_REFERRAL, "deleg.example.test."},
    {"upward referral to the root", "www.other.test.", false,
     KNOT_RCODE_NOERROR, KNOT_AUTHORITY, RR_NS, ".", DNS_ZONE_NOTHERE, ""},
    {"REFUSED", "www.other.test.", false, KNOT_RCODE_REFUSED, KNOT_ANSWER,
     RR_NONE, "", DNS_ZONE_NOTHERE, ""},
    {"NOTAUTH", "www.other.test.", false, KNOT_RCODE_NOTAUTH, KNOT_ANSWER,
     RR_NONE, "", DNS_ZONE_NOTHERE, ""},
    {"SOA of a zone that does not hold the name", "www.other.test.", true,
     KNOT_RCODE_NXDOMAIN, KNOT_AUTHORITY, RR_SOA, "example.test.",
     DNS_ZONE_NOTHERE, ""},
    {"a resolver's answer: SOA without AA", "www.example.test.", false,
     KNOT_RCODE_NOERROR, KNOT_AUTHORITY, RR_SOA, "example.test.",
     DNS_ZONE_NOTHERE, ""},
    {"authoritative but no SOA (a CNAME)", "www.example.test.", true,
     KNOT_RCODE_NOERROR, KNOT_ANSWER, RR_NONE, "", DNS_ZONE_NOTHERE, ""},
};

/* SOA RDATA (RFC 1035 3.3.13): two names, then five 32-bit numbers. */
static uint16_t soa_rdata(uint8_t *p)
{
	static const uint8_t names[] = {3,   'n', 's', '1', 0, 4,
					'r', 'o', 'o', 't', 0};
	static const uint32_t nums[] = {2026120601, 3600, 600, 86400, 60};
	uint16_t n = sizeof(names);

	memcpy(p, names, sizeof(names));
	for (size_t i = 0; i < 5; i++, n += 4)
		knot_wire_write_u32(p + n, nums[i]);
	return n;
}

static size_t answer_build(const struct zone_case *c, uint8_t *buf)
{
	uint8_t q[KNOT_DNAME_MAXLEN], owner[KNOT_DNAME_MAXLEN], rdata[128];
	knot_pkt_t *pkt = knot_pkt_new(NULL, 4096, NULL);
	knot_rrset_t rr;
	size_t len;

	assert_non_null(pkt);
	assert_non_null(knot_dname_from_str(q, c->qname, sizeof(q)));
	knot_wire_set_qr(pkt->wire);
	assert_int_equal(
	    knot_pkt_put_question(pkt, q, KNOT_CLASS_IN, KNOT_RRTYPE_SOA),
	    KNOT_EOK);
	if (c->aa)
		knot_wire_set_aa(pkt->wire);
	knot_wire_set_rcode(pkt->wire, (uint8_t)c->rcode);
	assert_int_equal(knot_pkt_begin(pkt, c->section), KNOT_EOK);
	if (c->rr != RR_NONE) {
		uint16_t rlen;

		assert_non_null(
		    knot_dname_from_str(owner, c->owner, sizeof(owner)));
		if (c->rr == RR_SOA) {
			rlen = soa_rdata(rdata);
		} else {
			static const uint8_t ns[] = {3,	  'n', 's', '9', 5, 'o',
						     't', 'h', 'e', 'r', 0};
			memcpy(rdata, ns, sizeof(ns));
			rlen = sizeof(ns);
		}
		knot_rrset_init(&rr, owner,
				c->rr == RR_SOA ? KNOT_RRTYPE_SOA
						: KNOT_RRTYPE_NS,
				KNOT_CLASS_IN, 300);
		assert_int_equal(knot_rrset_add_rdata(&rr, rdata, rlen, NULL),
				 KNOT_EOK);
		assert_int_equal(
		    knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, &rr, 0), KNOT_EOK);
		knot_rdataset_clear(&rr.rrs, NULL);
	}
	len = pkt->size;
	memcpy(buf, pkt->wire, len);
	knot_pkt_free(pkt);
	return len;
}

static void test_zone_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct zone_case *c = &cases[i];
		struct dns_zone_answer za;
		uint8_t wire[4096];
		size_t len = answer_build(c, wire);

		print_message("case: %s\n", c->what);
		assert_int_equal(
		    dns_zone_answer_parse(wire, len, c->qname, &za), 0);
		assert_int_equal(za.kind, c->want);
		if (c->want == DNS_ZONE_FOUND) {
			assert_string_equal(za.soa.zone, c->want_name);
			assert_int_equal(za.soa.serial, 2026120601);
			assert_int_equal(za.soa.refresh, 3600);
			assert_int_equal(za.soa.retry, 600);
			assert_int_equal(za.soa.expire, 86400);
			assert_int_equal(za.soa.minimum, 60);
		}
		if (c->want == DNS_ZONE_REFERRAL) {
			assert_string_equal(za.delegation, c->want_name);
			assert_int_equal(za.nns, 1);
			assert_string_equal(za.ns[0], "ns9.other.");
		}
	}
}

static void test_zone_garbage(void **state)
{
	static const uint8_t shortmsg[] = {1, 2, 3};
	struct dns_zone_answer za;

	(void)state;
	assert_int_equal(dns_zone_answer_parse(shortmsg, sizeof(shortmsg),
					       "example.test.", &za),
			 DNS_EFORMAT);
	assert_int_equal(
	    dns_zone_answer_parse(shortmsg, sizeof(shortmsg), NULL, &za),
	    -EINVAL);
}

static void test_outcome_addr(void **state)
{
	static const struct {
		const char *server, *host;
		uint16_t port;
	} rows[] = {
	    {"127.0.0.1:5353", "127.0.0.1", 5353},
	    {"ns1.example.test (192.0.2.1:53)", "192.0.2.1", 53},
	    {"[2001:db8::1]:53", "2001:db8::1", 53},
	    {"ns1 ([2001:db8::2]:5300)", "2001:db8::2", 5300},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct dns_outcome o;
		struct dns_addr a;

		memset(&o, 0, sizeof(o));
		snprintf(o.server, sizeof(o.server), "%s", rows[i].server);
		assert_int_equal(dns_outcome_addr(&o, &a), 0);
		assert_string_equal(a.host, rows[i].host);
		assert_int_equal(a.port, rows[i].port);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_zone_table),
	    cmocka_unit_test(test_zone_garbage),
	    cmocka_unit_test(test_outcome_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
