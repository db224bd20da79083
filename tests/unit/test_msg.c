/*
 * test_msg.c - the message layer: golden wire bytes of signed UPDATEs
 * (byte-identical to what Knot's knsupdate sends for the same ID, time and
 * key), their TSIG checked with libknot's server-side verification, build
 * errors, and dns_msg_check() against answers crafted with libknot the way
 * Knot, BIND and PowerDNS answer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <libknot/libknot.h>

#include "dns/dns.h"
#include "dns/msg_internal.h"
#include "dns/tsig_internal.h"

#define GOLDEN_ID   0x1234
#define GOLDEN_TIME 1700000000ULL /* 0x6553f100 */
#define ZONE	    "example.test"
#define FQDN	    "_acme-challenge.www.example.test"

static uint8_t secret[32]; /* 00 01 02 ... 1f */

static struct dns_key test_key(enum dns_alg alg)
{
	struct dns_key k = {.name = "acme-update.",
			    .alg = alg,
			    .secret = secret,
			    .secret_len = sizeof(secret)};
	return k;
}

static knot_tsig_key_t knot_key(dnssec_tsig_algorithm_t alg, uint8_t *sec,
				size_t len)
{
	knot_tsig_key_t k = {.algorithm = alg,
			     .name = knot_dname_from_str_alloc("acme-update."),
			     .secret = {.data = sec, .size = len}};
	return k;
}

static int setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)i;
	return 0;
}

static size_t unhex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = 0;

	for (; hex[0] != '\0' && hex[1] != '\0' && n < max; hex += 2) {
		unsigned v;
		assert_int_equal(sscanf(hex, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
	}
	return n;
}

/* A 300-byte value: a..z repeated. */
static char *value300(void)
{
	static _Thread_local char v[301];

	for (int i = 0; i < 300; i++)
		v[i] = (char)('a' + i % 26);
	v[300] = '\0';
	return v;
}

/* ------------------------------------------------------------- golden */

struct golden {
	const char *name;
	enum dns_action action;
	bool big;
	uint16_t rclass;
	uint32_t ttl;
	size_t nstrings; /* character-strings in the TXT RDATA */
	const char *hex;
};

static const struct golden goldens[] = {
    {"add (RFC 2136 2.5.1: class IN, TTL)", DNS_ADD, false, KNOT_CLASS_IN, 60,
     1,
     "123428000001000000010001076578616d706c65047465737400000600010f5f"
     "61636d652d6368616c6c656e676503777777c00c001000010000003c000b0a68"
     "656c6c6f2d61636d650b61636d652d7570646174650000fa00ff00000000003d"
     "0b686d61632d7368613235360000006553f100012c0020ba57fa9c31f03cce5f"
     "1366cd103d9fff48813fb8fabc0dcea91e8fd63f3ebbdf123400000000"},
    {"delete one (RFC 2136 2.5.4: class NONE, TTL 0)", DNS_DELETE, false,
     KNOT_CLASS_NONE, 0, 1,
     "123428000001000000010001076578616d706c65047465737400000600010f5f"
     "61636d652d6368616c6c656e676503777777c00c001000fe00000000000b0a68"
     "656c6c6f2d61636d650b61636d652d7570646174650000fa00ff00000000003d"
     "0b686d61632d7368613235360000006553f100012c0020b1ea2a7cad8b96ee80"
     "5f78bef3168ff1ddc11168d28cd85bc2f1bc064895eebf123400000000"},
    {"add of 300 bytes: 255 + 45", DNS_ADD, true, KNOT_CLASS_IN, 60, 2,
     "123428000001000000010001076578616d706c65047465737400000600010f5f"
     "61636d652d6368616c6c656e676503777777c00c001000010000003c012eff61"
     "62636465666768696a6b6c6d6e6f707172737475767778797a61626364656667"
     "68696a6b6c6d6e6f707172737475767778797a6162636465666768696a6b6c6d"
     "6e6f707172737475767778797a6162636465666768696a6b6c6d6e6f70717273"
     "7475767778797a6162636465666768696a6b6c6d6e6f70717273747576777879"
     "7a6162636465666768696a6b6c6d6e6f707172737475767778797a6162636465"
     "666768696a6b6c6d6e6f707172737475767778797a6162636465666768696a6b"
     "6c6d6e6f707172737475767778797a6162636465666768696a6b6c6d6e6f7071"
     "72737475767778797a6162636465666768696a6b6c6d6e6f7071727374752d76"
     "7778797a6162636465666768696a6b6c6d6e6f707172737475767778797a6162"
     "636465666768696a6b6c6d6e0b61636d652d7570646174650000fa00ff000000"
     "00003d0b686d61632d7368613235360000006553f100012c0020919aeb6a1624"
     "f21edeeb24b652450d7a48dd04787a180a0c71b49d7243d8a0a5123400000000"},
};

static void test_golden(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		const struct golden *g = &goldens[i];
		struct dns_key key = test_key(DNS_ALG_SHA256);
		knot_tsig_key_t kk =
		    knot_key(DNSSEC_TSIG_HMAC_SHA256, secret, 32);
		uint8_t want[1024], buf[1024], mac[DNS_MAC_MAX];
		size_t wlen = unhex(g->hex, want, sizeof(want));
		size_t len = 0, maclen = 0;
		char err[256];
		knot_pkt_t *pkt;

		assert_int_equal(
		    dns_msg_update(buf, &len, sizeof(buf), GOLDEN_ID,
				   &(struct dns_change){
				       ZONE, FQDN, g->action,
				       g->big ? value300() : "hello-acme", 60},
				   err, sizeof(err)),
		    0);
		assert_int_equal(dns_msg_sign(buf, &len, sizeof(buf), &key,
					      GOLDEN_TIME, mac, &maclen),
				 0);
		assert_int_equal(len, wlen);
		assert_memory_equal(buf, want, wlen);
		assert_int_equal(maclen, 32);
		/* The request MAC is the one in the TSIG RDATA. */
		assert_memory_equal(mac, buf + len - 6 - 32, 32);

		/* What a server sees (libknot parses and strips TSIG). */
		pkt = knot_pkt_new(buf, (uint16_t)len, NULL);
		assert_int_equal(knot_pkt_parse(pkt, 0), KNOT_EOK);
		assert_int_equal(knot_wire_get_opcode(pkt->wire),
				 KNOT_OPCODE_UPDATE);
		assert_int_equal(knot_pkt_qtype(pkt), KNOT_RRTYPE_SOA);
		assert_int_equal(knot_pkt_qclass(pkt), KNOT_CLASS_IN);
		const knot_pktsection_t *ns =
		    knot_pkt_section(pkt, KNOT_AUTHORITY);
		assert_int_equal(ns->count, 1);
		const knot_rrset_t *rr = knot_pkt_rr(ns, 0);
		assert_int_equal(rr->type, KNOT_RRTYPE_TXT);
		assert_int_equal(rr->rclass, g->rclass);
		assert_int_equal(rr->ttl, g->ttl);
		const knot_rdata_t *rd = knot_rdataset_at(&rr->rrs, 0);
		size_t n = 0;
		for (size_t p = 0; p < rd->len; p += 1 + rd->data[p])
			n++;
		assert_int_equal(n, g->nstrings);
		assert_non_null(pkt->tsig_rr);
		assert_int_equal(knot_tsig_rdata_time_signed(pkt->tsig_rr),
				 GOLDEN_TIME);
		assert_int_equal(knot_tsig_rdata_fudge(pkt->tsig_rr), 300);
		/*
		 * RFC 8945 5.2: the server's verification.  The MAC is
		 * good; only the (fixed, old) time fails its clock check.
		 */
		assert_int_equal(knot_tsig_server_check(pkt->tsig_rr, pkt->wire,
							pkt->size, &kk),
				 KNOT_TSIG_EBADTIME);
		knot_pkt_free(pkt);
		knot_dname_free(kk.name, NULL);
	}
}

/* Each algorithm, signed now: the server accepts it; a wrong secret not. */
static void test_sign_algorithms(void **state)
{
	static const struct {
		enum dns_alg alg;
		dnssec_tsig_algorithm_t knot;
		size_t maclen;
	} algs[] = {
	    {DNS_ALG_MD5, DNSSEC_TSIG_HMAC_MD5, 16},
	    {DNS_ALG_SHA1, DNSSEC_TSIG_HMAC_SHA1, 20},
	    {DNS_ALG_SHA224, DNSSEC_TSIG_HMAC_SHA224, 28},
	    {DNS_ALG_SHA256, DNSSEC_TSIG_HMAC_SHA256, 32},
	    {DNS_ALG_SHA384, DNSSEC_TSIG_HMAC_SHA384, 48},
	    {DNS_ALG_SHA512, DNSSEC_TSIG_HMAC_SHA512, 64},
	};
	uint8_t other[32];

	(void)state;
	memset(other, 0x55, sizeof(other));
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		struct dns_key key = test_key(algs[i].alg);
		knot_tsig_key_t good = knot_key(algs[i].knot, secret, 32);
		knot_tsig_key_t bad = knot_key(algs[i].knot, other, 32);
		uint8_t buf[512], mac[DNS_MAC_MAX];
		size_t len, maclen;
		knot_pkt_t *pkt;

		assert_int_equal(
		    dns_msg_update(
			buf, &len, sizeof(buf), 7,
			&(struct dns_change){ZONE, FQDN, DNS_ADD, "v", 60},
			NULL, 0),
		    0);
		assert_int_equal(dns_msg_sign(buf, &len, sizeof(buf), &key,
					      (uint64_t)time(NULL), mac,
					      &maclen),
				 0);
		assert_int_equal(maclen, algs[i].maclen);
		pkt = knot_pkt_new(buf, (uint16_t)len, NULL);
		assert_int_equal(knot_pkt_parse(pkt, 0), KNOT_EOK);
		assert_int_equal(knot_tsig_server_check(pkt->tsig_rr, pkt->wire,
							pkt->size, &good),
				 KNOT_EOK);
		assert_int_equal(knot_tsig_server_check(pkt->tsig_rr, pkt->wire,
							pkt->size, &bad),
				 KNOT_TSIG_EBADSIG);
		knot_pkt_free(pkt);
		knot_dname_free(good.name, NULL);
		knot_dname_free(bad.name, NULL);
	}
}

static void test_sign_errors(void **state)
{
	struct dns_key key = test_key(DNS_ALG_SHA256);
	struct dns_key noalg = test_key(DNS_ALG_NONE);
	struct dns_key nosecret = test_key(DNS_ALG_SHA256);
	uint8_t buf[512], mac[DNS_MAC_MAX];
	size_t len, maclen, full;

	(void)state;
	nosecret.secret = NULL;
	nosecret.secret_len = 0;
	assert_int_equal(
	    dns_msg_update(buf, &len, sizeof(buf), 7,
			   &(struct dns_change){ZONE, FQDN, DNS_ADD, "v", 60},
			   NULL, 0),
	    0);
	full = len;
	assert_int_equal(
	    dns_msg_sign(buf, &len, sizeof(buf), &noalg, 1, mac, &maclen),
	    DNS_EKEY_ALG);
	assert_int_equal(
	    dns_msg_sign(buf, &len, sizeof(buf), &nosecret, 1, mac, &maclen),
	    -EINVAL);
	assert_int_equal(
	    dns_msg_sign(buf, &len, sizeof(buf), NULL, 1, mac, &maclen),
	    -EINVAL);
	/* No room for the TSIG record: the message is left as it was. */
	assert_int_equal(
	    dns_msg_sign(buf, &len, full + 20, &key, 1, mac, &maclen),
	    -EMSGSIZE);
	assert_int_equal(len, full);
	assert_int_equal(knot_wire_get_arcount(buf), 0);
}

/* -------------------------------------------------------- build errors */

struct build_case {
	const char *zone;
	const char *fqdn;
	const char *value;
	int ret;
	const char *err;
};

static void test_update_build(void **state)
{
	static char long_value[DNS_TXT_MAX + 2], max_value[DNS_TXT_MAX + 1];
	static char long_label[80], long_name[300];
	const struct build_case cases[] = {
	    {ZONE, FQDN, "v", 0, ""},
	    {"example.test.", "_acme-challenge.example.test.", "v", 0, ""},
	    {"Example.TEST", "_ACME-challenge.x.example.test", "v", 0, ""},
	    {ZONE, ZONE, "v", 0, ""}, /* the apex itself */
	    {".", "_acme-challenge.test.", "v", 0, ""},
	    {ZONE, FQDN, max_value, 0, ""},
	    {ZONE, FQDN, "", DNS_EVALUE, "empty TXT value"},
	    {ZONE, FQDN, NULL, DNS_EVALUE, "empty TXT value"},
	    {ZONE, FQDN, long_value, DNS_EVALUE, "longer than 4096"},
	    {"", FQDN, "v", DNS_ENAME, "empty zone"},
	    {NULL, FQDN, "v", DNS_ENAME, "empty zone"},
	    {ZONE, "", "v", DNS_ENAME, "empty record name"},
	    {"exa mple.test", FQDN, "v", DNS_ENAME, "invalid character"},
	    {ZONE, "_acme-challenge.www..example.test", "v", DNS_ENAME,
	     "empty label"},
	    {ZONE, ".example.test", "v", DNS_ENAME, "empty label"},
	    {ZONE, "a\\.b.example.test", "v", DNS_ENAME, "invalid character"},
	    {ZONE, long_label, "v", DNS_ENAME, "longer than 63"},
	    {ZONE, long_name, "v", DNS_ENAME, "longer than 255"},
	    {ZONE, "_acme-challenge.example.com", "v", DNS_ENOTSUB,
	     "is not in zone"},
	    {ZONE, "_acme-challenge.badexample.test", "v", DNS_ENOTSUB,
	     "is not in zone"},
	    {"www.example.test", "example.test", "v", DNS_ENOTSUB,
	     "is not in zone"},
	};

	(void)state;
	memset(long_value, 'x', DNS_TXT_MAX + 1);
	memset(max_value, 'y', DNS_TXT_MAX);
	snprintf(long_label, sizeof(long_label), "%064d.example.test",
		 0);		    /* a 64-byte label */
	for (int i = 0; i < 5; i++) /* 5 x 60 bytes */
		snprintf(long_name + i * 60, sizeof(long_name) - i * 60,
			 "%059d.", i);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct build_case *c = &cases[i];
		uint8_t buf[8192];
		size_t len = 0;
		char err[256] = "unset";
		int ret =
		    dns_msg_update(buf, &len, sizeof(buf), 1,
				   &(struct dns_change){c->zone, c->fqdn,
							DNS_ADD, c->value, 60},
				   err, sizeof(err));

		if (ret != c->ret || strstr(err, c->err) == NULL)
			print_message("case %zu: %d '%s'\n", i, ret, err);
		assert_int_equal(ret, c->ret);
		assert_non_null(strstr(err, c->err));
		if (ret == 0)
			assert_true(len > 12);
	}
}

static void test_update_small_buffer(void **state)
{
	uint8_t buf[40];
	size_t len = 0;

	(void)state;
	assert_int_equal(dns_msg_update(buf, &len, sizeof(buf), 1,
					&(struct dns_change){
					    ZONE, FQDN, DNS_ADD, "value", 60},
					NULL, 0),
			 -EMSGSIZE);
	assert_int_equal(
	    dns_msg_update(buf, &len, sizeof(buf), 1,
			   &(struct dns_change){ZONE, FQDN, (enum dns_action)7,
						"value", 60},
			   NULL, 0),
	    -EINVAL);
}

/* Several records in one UPDATE (dns_update_many, coalesced bursts). */
static void test_update_many(void **state)
{
	static uint8_t one[1024], many[2048];
	size_t onelen = 0, manylen = 0;
	char err[256];
	const struct dns_change changes[] = {
	    {ZONE, FQDN, DNS_ADD, "first", 60},
	    {ZONE, "_acme-challenge.other.example.test.", DNS_DELETE, "second",
	     60},
	    {ZONE, FQDN, DNS_ADD, "third", 60},
	};
	struct dns_change bad[] = {
	    {ZONE, FQDN, DNS_ADD, "first", 60},
	    {ZONE, "_acme-challenge.example.com.", DNS_ADD, "outside", 60},
	};

	(void)state;
	/* One record: byte for byte what dns_msg_update() builds. */
	assert_int_equal(dns_msg_update(one, &onelen, sizeof(one), 7,
					&(struct dns_change){
					    ZONE, FQDN, DNS_ADD, "first", 60},
					NULL, 0),
			 0);
	assert_int_equal(dns_msg_update_many(many, &manylen, sizeof(many), 7,
					     changes, 1, NULL, 0),
			 0);
	assert_int_equal(onelen, manylen);
	assert_memory_equal(one, many, onelen);
	/* Three: one zone (ZOCOUNT 1), three RRs in the update section. */
	assert_int_equal(dns_msg_update_many(many, &manylen, sizeof(many), 7,
					     changes, 3, NULL, 0),
			 0);
	assert_int_equal((many[4] << 8) | many[5], 1);
	assert_int_equal((many[8] << 8) | many[9], 3);
	assert_true(manylen > onelen + 2 * 10);
	/* A record outside the zone fails the whole message, named. */
	assert_int_equal(dns_msg_update_many(many, &manylen, sizeof(many), 7,
					     bad, 2, err, sizeof(err)),
			 DNS_ENOTSUB);
	assert_non_null(strstr(err, "example.com"));
	/* One message, one zone (RFC 2136 2.3). */
	bad[1].fqdn = FQDN;
	bad[1].zone = "other.test.";
	assert_int_equal(dns_msg_update_many(many, &manylen, sizeof(many), 7,
					     bad, 2, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "other.test."));
	bad[1].zone = ZONE;
	bad[1].value = "";
	assert_int_equal(dns_msg_update_many(many, &manylen, sizeof(many), 7,
					     bad, 2, err, sizeof(err)),
			 DNS_EVALUE);
	assert_int_equal(dns_msg_update_many(many, &manylen, sizeof(many), 7,
					     changes, 0, NULL, 0),
			 -EINVAL);
	/* Too small a buffer for three. */
	assert_int_equal(dns_msg_update_many(many, &manylen, onelen + 4, 7,
					     changes, 3, NULL, 0),
			 -EMSGSIZE);
}

static void test_query_golden(void **state)
{
	uint8_t want[64], buf[512];
	size_t wlen = unhex("beef000000010000000000000765786"
			    "16d706c6504746573740000060001",
			    want, sizeof(want));
	size_t len;
	char err[128];

	(void)state;
	assert_int_equal(dns_msg_query(buf, &len, sizeof(buf), 0xbeef, ZONE,
				       KNOT_RRTYPE_SOA, err, sizeof(err)),
			 0);
	assert_int_equal(len, wlen);
	assert_memory_equal(buf, want, wlen);
	assert_false(knot_wire_get_rd(buf));
	assert_int_equal(dns_msg_query(buf, &len, sizeof(buf), 1, "a b",
				       KNOT_RRTYPE_TXT, err, sizeof(err)),
			 DNS_ENAME);
	assert_non_null(strstr(err, "invalid character"));
}

/* ---------------------------------------------------- answer checking */

/* How the crafted answer is made from the request. */
enum craft {
	C_SIGNED,	 /* signed with the server's key (RFC 8945 5.3) */
	C_UNSIGNED,	 /* no TSIG record */
	C_TSIG_ERR,	 /* unsigned TSIG carrying an error (5.3.2) */
	C_BADTIME,	 /* signed BADTIME, server clock in Other Data */
	C_FORGED_MAC,	 /* signed, then one MAC byte flipped */
	C_WRONG_SECRET,	 /* signed with another secret */
	C_WRONG_REQ_MAC, /* signed over another request MAC */
	C_WRONG_ID,	 /* ID + 1 */
	C_QR0,		 /* QR clear */
	C_OPCODE,	 /* opcode QUERY instead of UPDATE */
	C_QUESTION,	 /* another zone in the question */
	C_CUT,		 /* signed, then cut in the TSIG record */
	C_SHORT,	 /* 5 bytes */
	C_TC,		 /* TC set, unsigned */
	C_NO_QUESTION,	 /* QDCOUNT 0, unsigned */
	C_BY_HAND,	 /* signed by hand: MAC length, request MAC, answer */
	C_SAMBA_FORM,	 /* by hand as Samba: no MAC length (GSS-TSIG only) */
};

struct check_case {
	const char *name;
	enum craft craft;
	bool signed_request;
	int rcode;	   /* set in the answer header */
	uint16_t tsig_err; /* for C_TSIG_ERR */
	int64_t clock;	   /* our clock minus the real one, seconds */
	int ret;
	bool answered, present, verified;
	int want_tsig_error;
	int64_t skew_min, skew_max;
};

static const struct check_case check_cases[] = {
    {"signed NOERROR", C_SIGNED, true, 0, 0, 0, 0, true, true, true, 0, -2, 2},
    {"unsigned NOERROR to unsigned request", C_UNSIGNED, false, 0, 0, 0, 0,
     true, false, false, 0, 0, 0},
    {"unsigned NOERROR to a signed request", C_UNSIGNED, true, 0, 0, 0,
     DNS_EUNSIGNED, true, false, false, 0, 0, 0},
    {"Knot ACL denial: NOTAUTH + BADKEY unsigned", C_TSIG_ERR, true, 9,
     KNOT_RCODE_BADKEY, 0, DNS_ETSIG, true, true, false, 17, -2, 2},
    {"wrong secret: NOTAUTH + BADSIG unsigned", C_TSIG_ERR, true, 9,
     KNOT_RCODE_BADSIG, 0, DNS_ETSIG, true, true, false, 16, -2, 2},
    {"our clock 1000 s slow: BADTIME signed", C_BADTIME, true, 9, 0, -1000,
     DNS_ETSIG, true, true, true, 18, 1000, 1002},
    {"BIND policy denial: signed REFUSED", C_SIGNED, true, 5, 0, 0, DNS_ERCODE,
     true, true, true, 0, -2, 2},
    {"PowerDNS: plain REFUSED", C_UNSIGNED, true, 5, 0, 0, DNS_ERCODE, true,
     false, false, 0, 0, 0},
    {"unsigned REFUSED to unsigned request", C_UNSIGNED, false, 5, 0, 0,
     DNS_ERCODE, true, false, false, 0, 0, 0},
    {"signed NOTZONE", C_SIGNED, true, 10, 0, 0, DNS_ERCODE, true, true, true,
     0, -2, 2},
    {"forged MAC on NOERROR", C_FORGED_MAC, true, 0, 0, 0, DNS_ETSIG, true,
     true, false, 0, -2, 2},
    {"forged MAC on REFUSED", C_FORGED_MAC, true, 5, 0, 0, DNS_ETSIG, true,
     true, false, 0, -2, 2},
    {"signed with another secret", C_WRONG_SECRET, true, 0, 0, 0, DNS_ETSIG,
     true, true, false, 0, -2, 2},
    {"signed over another request MAC", C_WRONG_REQ_MAC, true, 0, 0, 0,
     DNS_ETSIG, true, true, false, 0, -2, 2},
    {"signed answer 1000 s in the future", C_SIGNED, true, 0, 0, -1000,
     DNS_ETSIG, true, true, true, 0, 1000, 1002},
    {"wrong ID", C_WRONG_ID, true, 0, 0, 0, DNS_EMISMATCH, false, false, false,
     0, 0, 0},
    {"QR clear", C_QR0, true, 0, 0, 0, DNS_EMISMATCH, false, false, false, 0, 0,
     0},
    {"wrong opcode", C_OPCODE, true, 0, 0, 0, DNS_EMISMATCH, false, false,
     false, 0, 0, 0},
    {"another question", C_QUESTION, false, 0, 0, 0, DNS_EMISMATCH, false,
     false, false, 0, 0, 0},
    {"cut in the middle", C_CUT, true, 0, 0, 0, DNS_EFORMAT, false, false,
     false, 0, 0, 0},
    {"5 bytes", C_SHORT, true, 0, 0, 0, DNS_EFORMAT, false, false, false, 0, 0,
     0},
    {"TC over TCP", C_TC, false, 0, 0, 0, DNS_ETRUNC, true, false, false, 0, 0,
     0},
    {"FORMERR without question", C_NO_QUESTION, false, 1, 0, 0, DNS_ERCODE,
     true, false, false, 0, 0, 0},
    {"NOERROR without question", C_NO_QUESTION, false, 0, 0, 0, DNS_EMISMATCH,
     false, false, false, 0, 0, 0},
    {"signed by hand as RFC 8945 4.3.1 says", C_BY_HAND, true, 0, 0, 0, 0, true,
     true, true, 0, -2, 2},
    /* Samba's GSS-TSIG quirk is accepted for GSS-TSIG only (dns/tsig.c):
     * HMAC TSIG stays strict. */
    {"HMAC answer in Samba's form (no request MAC length)", C_SAMBA_FORM, true,
     0, 0, 0, DNS_ETSIG, true, true, false, 0, -2, 2},
};

/*
 * Sign the answer @out over [MAC length,] request MAC, answer, TSIG
 * variables: dns_msg_sign() over those bytes computes exactly that MAC
 * (the variables do not include the original ID), then its TSIG record,
 * with the answer's ID as original ID, goes after the answer.
 */
static size_t sign_by_hand(uint8_t *out, size_t len, size_t max,
			   const uint8_t *reqmac, size_t reqmaclen,
			   bool with_length)
{
	struct dns_key key = test_key(DNS_ALG_SHA256);
	uint8_t buf[1024], mac[DNS_MAC_MAX];
	size_t pre = 0, blen, rrlen, maclen;

	if (with_length) {
		buf[0] = (uint8_t)(reqmaclen >> 8);
		buf[1] = (uint8_t)reqmaclen;
		pre = 2;
	}
	memcpy(buf + pre, reqmac, reqmaclen);
	pre += reqmaclen;
	memcpy(buf + pre, out, len);
	blen = pre + len;
	assert_int_equal(dns_msg_sign(buf, &blen, sizeof(buf), &key,
				      (uint64_t)time(NULL), mac, &maclen),
			 0);
	rrlen = blen - pre - len;
	assert_true(len + rrlen <= max);
	memcpy(out + len, buf + pre + len, rrlen);
	/* Original ID, error, other length: the last 6 bytes. */
	knot_wire_write_u16(out + len + rrlen - 6, knot_wire_get_id(out));
	knot_wire_add_arcount(out, 1);
	return len + rrlen;
}

/* The server side, with libknot: answer @q the way @c says. */
static size_t craft_answer(const struct check_case *c, const uint8_t *q,
			   size_t qlen, const uint8_t *reqmac, size_t reqmaclen,
			   uint8_t *out, size_t max)
{
	uint8_t qcopy[1024], other[32], digest[64], fake[32];
	knot_tsig_key_t good = knot_key(DNSSEC_TSIG_HMAC_SHA256, secret, 32);
	knot_tsig_key_t bad = knot_key(DNSSEC_TSIG_HMAC_SHA256, other, 32);
	knot_pkt_t *query, *resp;
	size_t len, dlen = sizeof(digest);
	uint64_t qtime = 0;

	memset(other, 0x55, sizeof(other));
	memset(fake, 0x11, sizeof(fake));
	memcpy(qcopy, q, qlen);
	query = knot_pkt_new(qcopy, (uint16_t)qlen, NULL);
	assert_int_equal(knot_pkt_parse(query, 0), KNOT_EOK);
	if (query->tsig_rr != NULL)
		qtime = knot_tsig_rdata_time_signed(query->tsig_rr);
	resp = knot_pkt_new(NULL, (uint16_t)max, NULL);
	assert_int_equal(knot_pkt_init_response(resp, query), KNOT_EOK);
	if (c->craft == C_QUESTION) {
		uint8_t other_zone[] = "\x05other\x04test";
		knot_pkt_clear(resp);
		knot_wire_set_id(resp->wire, knot_wire_get_id(q));
		knot_wire_set_qr(resp->wire);
		knot_wire_set_opcode(resp->wire, knot_wire_get_opcode(q));
		assert_int_equal(knot_pkt_put_question(resp, other_zone,
						       KNOT_CLASS_IN,
						       KNOT_RRTYPE_SOA),
				 KNOT_EOK);
	}
	knot_wire_set_rcode(resp->wire, (short)c->rcode);
	len = resp->size;
	memcpy(out, resp->wire, len);
	knot_pkt_free(resp);
	if (c->craft == C_NO_QUESTION) {
		len = 12;
		knot_wire_set_qdcount(out, 0);
	}

	switch (c->craft) {
	case C_SIGNED:
	case C_FORGED_MAC:
	case C_CUT:
	case C_WRONG_ID:
	case C_QR0:
	case C_OPCODE:
		if (c->signed_request)
			assert_int_equal(knot_tsig_sign(out, &len, max, reqmac,
							reqmaclen, digest,
							&dlen, &good, 0, 0),
					 KNOT_EOK);
		break;
	case C_WRONG_SECRET:
		assert_int_equal(knot_tsig_sign(out, &len, max, reqmac,
						reqmaclen, digest, &dlen, &bad,
						0, 0),
				 KNOT_EOK);
		break;
	case C_WRONG_REQ_MAC:
		assert_int_equal(knot_tsig_sign(out, &len, max, fake,
						sizeof(fake), digest, &dlen,
						&good, 0, 0),
				 KNOT_EOK);
		break;
	case C_BADTIME:
		/* RFC 8945 5.2.3: signed, our time echoed, its own in
		 * Other Data. */
		assert_int_equal(knot_tsig_sign(out, &len, max, reqmac,
						reqmaclen, digest, &dlen, &good,
						KNOT_RCODE_BADTIME, qtime),
				 KNOT_EOK);
		break;
	case C_TSIG_ERR:
		assert_int_equal(
		    knot_tsig_add(out, &len, max, c->tsig_err, query->tsig_rr),
		    KNOT_EOK);
		break;
	case C_BY_HAND:
	case C_SAMBA_FORM:
		len = sign_by_hand(out, len, max, reqmac, reqmaclen,
				   c->craft == C_BY_HAND);
		break;
	default:
		break;
	}
	switch (c->craft) {
	case C_FORGED_MAC:
		out[len - 6 - 5] ^= 0x01; /* inside the MAC */
		break;
	case C_CUT:
		len -= 20;
		break;
	case C_WRONG_ID:
		knot_wire_set_id(out, knot_wire_get_id(out) + 1);
		break;
	case C_QR0:
		knot_wire_clear_qr(out);
		break;
	case C_OPCODE:
		knot_wire_set_opcode(out, KNOT_OPCODE_QUERY);
		break;
	case C_SHORT:
		len = 5;
		break;
	case C_TC:
		knot_wire_set_tc(out);
		break;
	default:
		break;
	}
	knot_pkt_free(query);
	knot_dname_free(good.name, NULL);
	knot_dname_free(bad.name, NULL);
	return len;
}

static void test_check_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]);
	     i++) {
		const struct check_case *c = &check_cases[i];
		struct dns_key key = test_key(DNS_ALG_SHA256);
		const struct dns_key *k = c->signed_request ? &key : NULL;
		uint8_t q[1024], ans[1024], mac[DNS_MAC_MAX];
		size_t qlen, alen, maclen = 0;
		int64_t now = (int64_t)time(NULL) + c->clock;
		struct dns_outcome o;
		int ret;

		memset(&o, 0xa5, sizeof(o));
		assert_int_equal(
		    dns_msg_update(
			q, &qlen, sizeof(q), 0x4242,
			&(struct dns_change){ZONE, FQDN, DNS_ADD, "v", 60},
			NULL, 0),
		    0);
		if (k != NULL)
			assert_int_equal(dns_msg_sign(q, &qlen, sizeof(q), k,
						      (uint64_t)now, mac,
						      &maclen),
					 0);
		alen = craft_answer(c, q, qlen, mac, maclen, ans, sizeof(ans));
		ret = dns_msg_check(ans, alen, q, qlen, k, mac, maclen,
				    (uint64_t)now, &o);
		if (ret != c->ret || o.answered != c->answered ||
		    o.tsig_present != c->present ||
		    o.tsig_verified != c->verified ||
		    o.tsig_error != c->want_tsig_error ||
		    o.skew < c->skew_min || o.skew > c->skew_max)
			print_message("case %zu '%s': ret %d answered %d "
				      "present %d verified %d tsig_error %d "
				      "skew %lld\n",
				      i, c->name, ret, o.answered,
				      o.tsig_present, o.tsig_verified,
				      o.tsig_error, (long long)o.skew);
		assert_int_equal(ret, c->ret);
		assert_int_equal(o.answered, c->answered);
		assert_int_equal(o.tsig_present, c->present);
		assert_int_equal(o.tsig_verified, c->verified);
		assert_int_equal(o.tsig_error, c->want_tsig_error);
		assert_true(o.skew >= c->skew_min && o.skew <= c->skew_max);
		if (c->answered)
			assert_int_equal(o.rcode, c->rcode);
		else
			assert_int_equal(o.rcode, -1);
	}
}

/* A signed query and its signed answer: the same check applies. */
static void test_check_query(void **state)
{
	struct dns_key key = test_key(DNS_ALG_SHA256);
	uint8_t q[512], mac[DNS_MAC_MAX];
	size_t qlen, maclen;
	struct dns_outcome o;

	(void)state;
	assert_int_equal(dns_msg_query(q, &qlen, sizeof(q), 9, ZONE,
				       KNOT_RRTYPE_SOA, NULL, 0),
			 0);
	assert_int_equal(dns_msg_sign(q, &qlen, sizeof(q), &key,
				      (uint64_t)time(NULL), mac, &maclen),
			 0);
	assert_int_equal(dns_msg_check(q, qlen, q, qlen, &key, mac, maclen,
				       (uint64_t)time(NULL), &o),
			 DNS_EMISMATCH); /* our own query: QR clear */
	assert_int_equal(
	    dns_msg_check(q, qlen, q, qlen, NULL, NULL, 0, 0, NULL), -EINVAL);
}

/* ------------------------------------------------------------ tsig.c */

/*
 * RFC 8945 4.3.3 by hand (Python's hmac over the message, then key name,
 * class ANY, TTL 0, algorithm, time signed, fudge 300, error 0, other
 * length 0): the MAC tsig_sign() must make for this query, key and time.
 */
static void test_tsig_known_mac(void **state)
{
	struct dns_key key = test_key(DNS_ALG_SHA256);
	struct tsig_hmac h;
	uint8_t buf[512], want[64], mac[DNS_MAC_MAX];
	size_t len, wlen, maclen = 0;

	(void)state;
	assert_int_equal(dns_msg_query(buf, &len, sizeof(buf), 0x1234, ZONE,
				       KNOT_RRTYPE_SOA, NULL, 0),
			 0);
	wlen = unhex("123400000001000000000000076578616d706c6504746573740000"
		     "060001",
		     want, sizeof(want));
	assert_int_equal(len, wlen);
	assert_memory_equal(buf, want, wlen);
	assert_int_equal(tsig_hmac_init(&h, &key), 0);
	assert_int_equal(tsig_sign(&h.key, buf, &len, sizeof(buf), GOLDEN_TIME,
				   mac, sizeof(mac), &maclen),
			 0);
	tsig_hmac_release(&h);
	wlen = unhex("b8fbdface1b99c0536bbeea7e6dca4544b8482baa1af59a5944021d7"
		     "a8201fa5",
		     want, sizeof(want));
	assert_int_equal(maclen, wlen);
	assert_memory_equal(mac, want, wlen);
	/* The record carries it: MAC, then original ID, error, other. */
	assert_memory_equal(buf + len - 6 - wlen, want, wlen);
}

/* A back-end that counts the MAC checks and hands them to HMAC. */
struct counting {
	const struct tsig_key *real;
	int calls;
};

static int counting_verify(void *arg, const uint8_t *in, size_t inlen,
			   const uint8_t *mac, size_t maclen)
{
	struct counting *c = arg;

	c->calls++;
	return c->real->ops->mac_verify(c->real->arg, in, inlen, mac, maclen);
}

enum signed_as {
	AS_RFC8945,
	AS_SAMBA,
	AS_FORGED
};

static const struct {
	const char *name;
	enum signed_as as;    /* how the server signed its answer */
	int64_t offset;	      /* its clock minus ours, seconds */
	bool gss;	      /* the GSS-TSIG rules */
	enum tsig_form first; /* the form tried first */
	int ret;
	int calls;		   /* MAC checks made */
	enum tsig_form form_after; /* k.form afterwards */
	bool verified;
} tsig_cases[] = {
    {"standard form, in time", AS_RFC8945, 0, false, TSIG_FORM_RFC8945, 0, 1,
     TSIG_FORM_RFC8945, true},
    {"299 s ahead: inside the fudge", AS_RFC8945, 299, false, TSIG_FORM_RFC8945,
     0, 1, TSIG_FORM_RFC8945, true},
    {"301 s ahead: outside the fudge (BADTIME)", AS_RFC8945, 301, false,
     TSIG_FORM_RFC8945, DNS_ETSIG, 1, TSIG_FORM_RFC8945, true},
    {"1000 s behind: outside the fudge (BADTIME)", AS_RFC8945, -1000, true,
     TSIG_FORM_RFC8945, DNS_ETSIG, 1, TSIG_FORM_RFC8945, true},
    {"GSS: Samba's form after the standard one failed", AS_SAMBA, 0, true,
     TSIG_FORM_RFC8945, 0, 2, TSIG_FORM_SAMBA, true},
    {"GSS: Samba's form first once learned", AS_SAMBA, 0, true, TSIG_FORM_SAMBA,
     0, 1, TSIG_FORM_SAMBA, true},
    {"GSS: the standard form after Samba's (server upgraded)", AS_RFC8945, 0,
     true, TSIG_FORM_SAMBA, 0, 2, TSIG_FORM_RFC8945, true},
    {"HMAC: Samba's form never tried", AS_SAMBA, 0, false, TSIG_FORM_RFC8945,
     DNS_ETSIG, 1, TSIG_FORM_RFC8945, false},
    {"GSS: forged, neither form", AS_FORGED, 0, true, TSIG_FORM_RFC8945,
     DNS_ETSIG, 2, TSIG_FORM_RFC8945, false},
};

/*
 * The server's answer to @q: QR set, signed by @k at @when over the
 * request MAC in the way @as says (tsig_sign() over [length,] request
 * MAC and answer makes that MAC; the record then follows the answer).
 */
static size_t tsig_answer(const struct tsig_key *k, const uint8_t *q,
			  size_t qlen, const uint8_t *reqmac, size_t reqmaclen,
			  enum signed_as as, uint64_t when, uint8_t *out)
{
	uint8_t buf[1024], mac[DNS_MAC_MAX];
	size_t pre = 0, blen, rrlen, maclen;

	memcpy(out, q, qlen);
	knot_wire_set_qr(out);
	knot_wire_set_arcount(out, 0); /* the request's TSIG is not copied */
	if (as != AS_SAMBA) {
		knot_wire_write_u16(buf, (uint16_t)reqmaclen);
		pre = 2;
	}
	memcpy(buf + pre, reqmac, reqmaclen);
	pre += reqmaclen;
	memcpy(buf + pre, out, qlen);
	blen = pre + qlen;
	assert_int_equal(tsig_sign(k, buf, &blen, sizeof(buf), when, mac,
				   sizeof(mac), &maclen),
			 0);
	rrlen = blen - pre - qlen;
	memcpy(out + qlen, buf + pre + qlen, rrlen);
	knot_wire_write_u16(out + qlen + rrlen - 6, knot_wire_get_id(out));
	knot_wire_add_arcount(out, 1);
	if (as == AS_FORGED)
		out[qlen + rrlen - 6 - 1] ^= 0x01; /* the MAC's last byte */
	return qlen + rrlen;
}

static void test_tsig_answer_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(tsig_cases) / sizeof(tsig_cases[0]);
	     i++) {
		struct dns_key key = test_key(DNS_ALG_SHA256);
		uint64_t now = (uint64_t)time(NULL);
		struct tsig_hmac h;
		struct counting cnt = {.real = &h.key};
		struct tsig_ops ops = {.mac_verify = counting_verify,
				       .gss = tsig_cases[i].gss};
		struct tsig_key k;
		uint8_t q[512], ans[1024], reqmac[DNS_MAC_MAX];
		size_t qlen, ulen, alen, reqmaclen;
		struct dns_outcome o;
		knot_pkt_t *pkt;
		int ret;

		assert_int_equal(tsig_hmac_init(&h, &key), 0);
		k = h.key;
		k.ops = &ops;
		k.arg = &cnt;
		k.form = tsig_cases[i].first;
		assert_int_equal(dns_msg_query(q, &qlen, sizeof(q), 77, ZONE,
					       KNOT_RRTYPE_SOA, NULL, 0),
				 0);
		/* The answer repeats the query, unsigned, then signs. */
		ulen = qlen;
		assert_int_equal(tsig_sign(&h.key, q, &qlen, sizeof(q), now,
					   reqmac, sizeof(reqmac), &reqmaclen),
				 0);
		alen = tsig_answer(&h.key, q, ulen, reqmac, reqmaclen,
				   tsig_cases[i].as,
				   now + (uint64_t)tsig_cases[i].offset, ans);
		assert_int_equal(dns_msg_answer_parse(ans, alen, &pkt), 0);
		memset(&o, 0, sizeof(o));
		ret = tsig_answer_check(&k, pkt, reqmac, reqmaclen, now, &o);
		if (ret != tsig_cases[i].ret ||
		    cnt.calls != tsig_cases[i].calls ||
		    k.form != tsig_cases[i].form_after ||
		    o.tsig_verified != tsig_cases[i].verified ||
		    o.skew != tsig_cases[i].offset)
			fail_msg("%s: ret %d calls %d form %d verified %d "
				 "skew %lld",
				 tsig_cases[i].name, ret, cnt.calls, k.form,
				 o.tsig_verified, (long long)o.skew);
		dns_msg_answer_free(pkt);
		tsig_hmac_release(&h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden),
	    cmocka_unit_test(test_sign_algorithms),
	    cmocka_unit_test(test_sign_errors),
	    cmocka_unit_test(test_update_build),
	    cmocka_unit_test(test_update_small_buffer),
	    cmocka_unit_test(test_update_many),
	    cmocka_unit_test(test_query_golden),
	    cmocka_unit_test(test_check_table),
	    cmocka_unit_test(test_check_query),
	    cmocka_unit_test(test_tsig_known_mac),
	    cmocka_unit_test(test_tsig_answer_table),
	};
	return cmocka_run_group_tests_name("msg", tests, setup, NULL);
}
