/*
 * test_dump.c - dns_msg_dump() from tables: UPDATE (add and delete) and
 * query messages in presentation format as nsupdate -d / kdig show them,
 * the TSIG pseudosection with its MAC but never the secret, malformed
 * input, and cut output that still ends in a NUL.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns/dns.h"

/* 32 bytes of key, base64: the text a test looks for in the dump. */
#define SECRET_B64 "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="
#define ZONE	   "example.test."
#define FQDN	   "_acme-challenge.a.example.test."

enum kind {
	ADD,
	DELETE,
	QUERY
};

struct dump_case {
	const char *name;
	enum kind kind;
	const char *value;
	bool sign;
	const char *want; /* the whole dump; NULL: see @contains */
	const char *contains[4];
};

static const struct dump_case cases[] = {
    {"add",
     ADD,
     "token-1",
     false,
     ";; ->>HEADER<<- opcode: UPDATE; status: NOERROR; id: 4242\n"
     ";; Flags:; ZONE: 1; PREREQ: 0; UPDATE: 1; ADDITIONAL: 0\n"
     "\n"
     ";; ZONE SECTION:\n"
     ";example.test.\t\tIN\tSOA\n"
     "\n"
     ";; UPDATE SECTION:\n"
     "_acme-challenge.a.example.test.\t60\tIN\tTXT\t\"token-1\"",
     {NULL}},
    {"delete one value: class NONE, TTL 0 (RFC 2136 2.5.4)",
     DELETE,
     "token-2",
     false,
     ";; ->>HEADER<<- opcode: UPDATE; status: NOERROR; id: 4242\n"
     ";; Flags:; ZONE: 1; PREREQ: 0; UPDATE: 1; ADDITIONAL: 0\n"
     "\n"
     ";; ZONE SECTION:\n"
     ";example.test.\t\tIN\tSOA\n"
     "\n"
     ";; UPDATE SECTION:\n"
     "_acme-challenge.a.example.test.\t0\tNONE\tTXT\t\"token-2\"",
     {NULL}},
    {"quotes escaped",
     ADD,
     "a \"b\" c",
     false,
     NULL,
     {"\tIN\tTXT\t\"a \\\"b\\\" c\"", NULL}},
    {"signed: TSIG pseudosection with the MAC",
     ADD,
     "token-3",
     true,
     NULL,
     {";; Flags:; ZONE: 1; PREREQ: 0; UPDATE: 1; ADDITIONAL: 1\n",
      "\n;; TSIG PSEUDOSECTION:\nacme256.",
      "\t0\tANY\tTSIG\thmac-sha256. 1700000000 300 32 ", " 4242 NOERROR 0"}},
    {"query",
     QUERY,
     NULL,
     false,
     ";; ->>HEADER<<- opcode: QUERY; status: NOERROR; id: 4242\n"
     ";; Flags:; QUERY: 1; ANSWER: 0; AUTHORITY: 0; ADDITIONAL: 0\n"
     "\n"
     ";; QUESTION SECTION:\n"
     ";example.test.\t\tIN\tSOA",
     {NULL}},
};

static void build(const struct dump_case *c, uint8_t *buf, size_t *len)
{
	struct dns_key key;
	char err[256];
	uint8_t mac[DNS_MAC_MAX];
	size_t maclen;
	static const char text[] = "hmac-sha256:acme256:" SECRET_B64;

	if (c->kind == QUERY)
		assert_int_equal(dns_msg_query(buf, len, DNS_MSG_MAX, 4242,
					       ZONE, 6, err, sizeof(err)),
				 0);
	else
		assert_int_equal(
		    dns_msg_update(buf, len, DNS_MSG_MAX, 4242,
				   &(struct dns_change){
				       ZONE, FQDN,
				       c->kind == ADD ? DNS_ADD : DNS_DELETE,
				       c->value, 60},
				   err, sizeof(err)),
		    0);
	if (!c->sign)
		return;
	assert_int_equal(dns_key_parse(&key, text, strlen(text), "test", NULL,
				       NULL, err, sizeof(err)),
			 0);
	assert_int_equal(
	    dns_msg_sign(buf, len, DNS_MSG_MAX, &key, 1700000000, mac, &maclen),
	    0);
	dns_key_release(&key);
}

static void test_dump_table(void **state)
{
	uint8_t *wire = malloc(DNS_MSG_MAX);
	char out[4096];

	(void)state;
	assert_non_null(wire);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dump_case *c = &cases[i];
		size_t len = 0;

		build(c, wire, &len);
		int n = dns_msg_dump(wire, len, out, sizeof(out));
		assert_int_equal(n, (int)strlen(out));
		if (c->want != NULL && strcmp(out, c->want) != 0)
			fail_msg("%s:\n--- got:\n%s\n--- want:\n%s", c->name,
				 out, c->want);
		for (size_t j = 0; j < 4 && c->contains[j] != NULL; j++)
			if (strstr(out, c->contains[j]) == NULL)
				fail_msg("%s: no '%s' in:\n%s", c->name,
					 c->contains[j], out);
		/* The secret never shows, in base64 or any part of it. */
		assert_null(strstr(out, SECRET_B64));
		assert_null(strstr(out, "c2VjcmV0"));
	}
	free(wire);
}

/* Not a message: said so, no crash; tiny buffers are cut and ended. */
static void test_dump_edges(void **state)
{
	static const uint8_t garbage[] = {0x12, 0x34, 0x28, 0x00, 0x00,
					  0x05, 0x00, 0x00, 0x00, 0x00,
					  0x00, 0x00, 0x07, 'e'};
	uint8_t *wire = malloc(DNS_MSG_MAX);
	char out[4096], small[16];
	size_t len = 0;

	(void)state;
	assert_non_null(wire);
	int n = dns_msg_dump(garbage, 5, out, sizeof(out));
	assert_int_equal(n, (int)strlen(out));
	assert_string_equal(out, ";; 5 bytes: not a DNS message");
	dns_msg_dump(garbage, sizeof(garbage), out, sizeof(out));
	assert_non_null(strstr(out, ";; 14 bytes, id 4660: malformed"));
	assert_int_equal(dns_msg_dump(garbage, 5, out, 0), -EINVAL);

	build(&cases[0], wire, &len);
	n = dns_msg_dump(wire, len, small, sizeof(small));
	assert_int_equal(n, (int)strlen(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_string_equal(small + strlen(small) - 3, "...");
	free(wire);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dump_table),
	    cmocka_unit_test(test_dump_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
