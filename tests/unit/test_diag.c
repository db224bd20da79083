/*
 * test_diag.c - the diagnosis table: one outcome per row, the sentence a
 * user reads, for what Knot, BIND and PowerDNS really answer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dns/dns.h"

#define SRV "10.0.0.53:53"

enum {
	UNSIGNED_REQ = 0,
	SIGNED_REQ = 1
};

struct diag_case {
	const char *name;
	int code, rcode, tsig_error;
	bool answered, present, verified;
	int64_t skew;
	unsigned ms;
	bool keyed;
	const char *want; /* exact when it starts with '=', else a piece */
	const char *also; /* a second piece, or NULL */
};

static const struct diag_case cases[] = {
    {"Knot/BIND wrong secret", DNS_ETSIG, 9, 16, true, true, false, 0, 1,
     SIGNED_REQ,
     "=NOTAUTH/BADSIG (answer unsigned): the server does not accept the "
     "signature of key 'acme-update.'; the secret or the algorithm does "
     "not match the server's key",
     NULL},
    {"Knot ACL denial / unknown key", DNS_ETSIG, 9, 17, true, true, false, 0, 1,
     SIGNED_REQ,
     "=NOTAUTH/BADKEY (answer unsigned): the server does not know key "
     "'acme-update.', or its ACL does not allow this key to update the "
     "name TXT (Knot answers an ACL denial like an unknown key); check "
     "the key name and the server's ACL",
     NULL},
    {"clock skew", DNS_ETSIG, 9, 18, true, true, true, 3600, 1, SIGNED_REQ,
     "NOTAUTH/BADTIME (answer signed): ", "differ by +3600 s"},
    {"negative skew", DNS_ETSIG, 9, 18, true, true, true, -420, 1, SIGNED_REQ,
     "differ by -420 s", "NTP"},
    {"BADTRUNC", DNS_ETSIG, 9, 22, true, true, true, 0, 1, SIGNED_REQ,
     "NOTAUTH/BADTRUNC", "truncated MAC"},
    {"other TSIG error", DNS_ETSIG, 9, 21, true, true, true, 0, 1, SIGNED_REQ,
     "NOTAUTH/BADALG (answer signed)", "TSIG error BADALG"},
    {"BIND policy denial", DNS_ERCODE, 5, 0, true, true, true, 0, 1, SIGNED_REQ,
     "=REFUSED (answer signed): the key 'acme-update.' is valid but the "
     "server's update-policy does not allow it to change the name TXT "
     "(BIND answers a policy denial this way)",
     NULL},
    {"PowerDNS TSIG failure", DNS_ERCODE, 5, 0, true, false, false, 0, 1,
     SIGNED_REQ, "REFUSED (answer unsigned): ",
     "refused without a signature: PowerDNS answers this way when the "
     "key is unknown, the secret or algorithm is wrong, or the key is "
     "not in TSIG-ALLOW-DNSUPDATE"},
    {"unsigned update refused", DNS_ERCODE, 5, 0, true, false, false, 0, 1,
     UNSIGNED_REQ, "refused an unsigned update", "tsigSecretSecretRef"},
    {"unsigned update, Knot NOTAUTH", DNS_ERCODE, 9, 0, true, false, false, 0,
     1, UNSIGNED_REQ, "refused an unsigned update", "tsigSecretSecretRef"},
    {"not authoritative", DNS_ERCODE, 9, 0, true, false, false, 0, 1,
     SIGNED_REQ,
     "NOTAUTH (answer unsigned): ", "not authoritative for zone example.test."},
    {"not authoritative, signed", DNS_ERCODE, 9, 0, true, true, true, 0, 1,
     SIGNED_REQ, "NOTAUTH (answer signed): ", "not authoritative"},
    {"NOTZONE", DNS_ERCODE, 10, 0, true, true, true, 0, 1, SIGNED_REQ,
     "NOTZONE (answer signed): the name is not in zone example.test.", NULL},
    {"SERVFAIL", DNS_ERCODE, 2, 0, true, false, false, 0, 1, SIGNED_REQ,
     "SERVFAIL (answer unsigned): ", "server's log"},
    {"FORMERR", DNS_ERCODE, 1, 0, true, false, false, 0, 1, SIGNED_REQ,
     "FORMERR (answer unsigned): ", "could not parse"},
    {"NOTIMP", DNS_ERCODE, 4, 0, true, false, false, 0, 1, SIGNED_REQ, "NOTIMP",
     "dnsupdate=yes"},
    {"odd RCODE", DNS_ERCODE, 8, 0, true, true, true, 0, 1, SIGNED_REQ,
     "NXRRSET (answer signed): the server answered NXRRSET", NULL},
    {"unknown RCODE", DNS_ERCODE, 15, 0, true, true, true, 0, 1, SIGNED_REQ,
     "RCODE15 (answer signed)", NULL},
    {"unsigned NOERROR to signed request", DNS_EUNSIGNED, 0, 0, true, false,
     false, 0, 1, SIGNED_REQ,
     "NOERROR (answer unsigned): ", "cannot be trusted"},
    {"forged MAC", DNS_ETSIG, 0, 0, true, true, false, 0, 1, SIGNED_REQ,
     "NOERROR (answer signature invalid): ", "does not verify"},
    {"answer signed far in time", DNS_ETSIG, 0, 0, true, true, true, 900, 1,
     SIGNED_REQ, "NOERROR (answer signed): ", "+900 s"},
    {"success", 0, 0, 0, true, true, true, 0, 1, SIGNED_REQ,
     "=NOERROR (answer signed): the server accepted the request", NULL},
    {"timeout", -ETIMEDOUT, -1, 0, false, false, false, 0, 5000, SIGNED_REQ,
     "=no answer from 10.0.0.53:53 within 5000 ms: the server is down, "
     "a firewall drops UDP/TCP 53, or the address is wrong",
     NULL},
    {"connection refused", -ECONNREFUSED, -1, 0, false, false, false, 0, 1,
     SIGNED_REQ, "10.0.0.53:53 refused the connection", "no DNS server listens"},
    {"TCP reset", -ECONNRESET, -1, 0, false, false, false, 0, 1, SIGNED_REQ,
     "closed the TCP connection", NULL},
    {"no route", -ENETUNREACH, -1, 0, false, false, false, 0, 1, SIGNED_REQ,
     "no route to 10.0.0.53:53", NULL},
    {"host unreachable", -EHOSTUNREACH, -1, 0, false, false, false, 0, 1,
     SIGNED_REQ, "unreachable", NULL},
    {"resolver", DNS_ERESOLVE, -1, 0, false, false, false, 0, 1, SIGNED_REQ,
     "does not resolve (Name or service not known)", NULL},
    {"mismatch", DNS_EMISMATCH, -1, 0, false, false, false, 0, 1, SIGNED_REQ,
     "do not belong to the request", NULL},
    {"garbage", DNS_EFORMAT, -1, 0, false, false, false, 0, 1, SIGNED_REQ,
     "not a valid DNS message", NULL},
    {"truncated over TCP", DNS_ETRUNC, 0, 0, true, false, false, 0, 1,
     SIGNED_REQ, "truncated (TC) even over TCP", NULL},
    {"other errno", -EACCES, -1, 0, false, false, false, 0, 1, SIGNED_REQ,
     "=10.0.0.53:53: Permission denied", NULL},
};

static struct dns_key key = {.name = "acme-update.", .alg = DNS_ALG_SHA256};

static void outcome_from(struct dns_outcome *o, const struct diag_case *c)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->server, sizeof(o->server), "%s", SRV);
	o->code = c->code;
	o->rcode = c->rcode;
	o->tsig_error = c->tsig_error;
	o->answered = c->answered;
	o->tsig_present = c->present;
	o->tsig_verified = c->verified;
	o->skew = c->skew;
	o->ms = c->ms;
	if (c->code == DNS_ERESOLVE)
		snprintf(o->detail, sizeof(o->detail),
			 "Name or service not known");
}

static void test_diag_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct diag_case *c = &cases[i];
		struct dns_outcome o;
		char buf[1024];
		bool ok;

		outcome_from(&o, c);
		dns_outcome_explain(&o, c->keyed ? &key : NULL, "example.test.",
				    buf, sizeof(buf));
		if (c->want[0] == '=')
			ok = strcmp(buf, c->want + 1) == 0;
		else
			ok = strstr(buf, c->want) != NULL &&
			     (c->also == NULL || strstr(buf, c->also) != NULL);
		if (!ok)
			print_message("case %zu (%s): got\n  %s\n", i, c->name,
				      buf);
		assert_true(ok);
		/* Never a secret: the key has none here, but never the
		 * text "secret \"" of a key file either. */
		assert_null(strstr(buf, "secret \""));
	}
}

static void test_rcode_names(void **state)
{
	static const struct {
		int rcode;
		const char *name;
	} names[] = {
	    {0, "NOERROR"},    {1, "FORMERR"},	{2, "SERVFAIL"},
	    {3, "NXDOMAIN"},   {4, "NOTIMP"},	{5, "REFUSED"},
	    {6, "YXDOMAIN"},   {7, "YXRRSET"},	{8, "NXRRSET"},
	    {9, "NOTAUTH"},    {10, "NOTZONE"}, {16, "BADSIG"},
	    {17, "BADKEY"},    {18, "BADTIME"}, {22, "BADTRUNC"},
	    {23, "BADCOOKIE"}, {11, "RCODE11"}, {4095, "RCODE4095"},
	    {-1, "none"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_string_equal(dns_rcode_name(names[i].rcode),
				    names[i].name);
}

static void test_result_explain(void **state)
{
	struct dns_result res;
	char buf[2048];

	(void)state;
	memset(&res, 0, sizeof(res));

	/* Failed before any server. */
	res.code = DNS_ENOTSUB;
	assert_string_equal(dns_result_explain(&res, "add", &key,
					       "example.com.",
					       "_acme-challenge.example.org.",
					       buf, sizeof(buf)),
			    "add of _acme-challenge.example.org. in zone "
			    "example.com. failed: the record name is not in "
			    "the zone");

	/* One server. */
	res.nattempts = 1;
	outcome_from(&res.attempts[0], &cases[0]);
	res.code = res.attempts[0].code;
	assert_string_equal(
	    dns_result_explain(&res, "update", &key, "example.com.",
			       "_acme-challenge.example.com.", buf,
			       sizeof(buf)),
	    "update of _acme-challenge.example.com. in zone example.com. "
	    "at 10.0.0.53:53 failed: NOTAUTH/BADSIG (answer unsigned): the "
	    "server does not accept the signature of key 'acme-update.'; "
	    "the secret or the algorithm does not match the server's key");

	/* Two servers: a timeout, then a policy denial naming the record. */
	res.nattempts = 2;
	outcome_from(&res.attempts[0], &cases[22]); /* timeout */
	outcome_from(&res.attempts[1], &cases[6]);  /* BIND REFUSED */
	snprintf(res.attempts[1].server, sizeof(res.attempts[1].server),
		 "ns2.example.com (192.0.2.2:53)");
	res.code = DNS_ERCODE;
	dns_result_explain(&res, "delete", &key, "example.com.",
			   "_acme-challenge.example.com.", buf, sizeof(buf));
	assert_string_equal(
	    buf, "delete of _acme-challenge.example.com. in zone "
		 "example.com. failed at 2 servers: 10.0.0.53:53: no "
		 "answer from 10.0.0.53:53 within 5000 ms: the server is "
		 "down, a firewall drops UDP/TCP 53, or the address is "
		 "wrong; ns2.example.com (192.0.2.2:53): REFUSED (answer "
		 "signed): the key 'acme-update.' is valid but the "
		 "server's update-policy does not allow it to change "
		 "_acme-challenge.example.com. TXT (BIND answers a policy "
		 "denial this way)");

	/* Success after a failover. */
	outcome_from(&res.attempts[1], &cases[21]);
	res.code = 0;
	assert_string_equal(dns_result_explain(&res, "add", &key,
					       "example.com.", "x.example.com.",
					       buf, sizeof(buf)),
			    "add of x.example.com. in zone example.com. "
			    "succeeded at 10.0.0.53:53");

	/* A small buffer truncates, NUL-terminated. */
	res.code = DNS_ERCODE;
	outcome_from(&res.attempts[1], &cases[6]);
	dns_result_explain(&res, "add", &key, "example.com.", "x.example.com.",
			   buf, 20);
	assert_int_equal(strlen(buf), 19);
	assert_null(dns_result_explain(&res, "add", &key, "z", "f", NULL, 0));
	dns_outcome_explain(NULL, NULL, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_diag_table),
	    cmocka_unit_test(test_rcode_names),
	    cmocka_unit_test(test_result_explain),
	};
	return cmocka_run_group_tests_name("diag", tests, NULL, NULL);
}
