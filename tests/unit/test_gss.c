/*
 * test_gss.c - GSS-TSIG pieces that need no KDC: dns_gss_new()'s checks,
 * the diagnosis of every GSS-TSIG outcome, and the gssTSIG solver config.
 * The protocol itself runs against a real KDC and BIND in
 * tests/system/test_gss*.py.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "dns/dns.h"
#include "server/config.h"

/* ------------------------------------------------------- dns_gss_new */

static const uint8_t some_bytes[] = {5, 2, 0, 0};

#define CFG(p, r, h, k)                                                        \
	{                                                                      \
		.principal = (p), .realm = (r), .service_host = (h),           \
		.keytab_path = (k)                                             \
	}

static const struct {
	const char *name;
	struct dns_gss_config cfg;
	int ret;
	const char *err; /* substring of the error text */
} new_cases[] = {
    {"keytab path", CFG("acme", "EXAMPLE.TEST", "ns1.example.test", "/k"), 0,
     ""},
    {"keytab bytes",
     {.principal = "acme@EXAMPLE.TEST",
      .service_host = "ns1.example.test",
      .keytab = some_bytes,
      .keytab_len = sizeof(some_bytes)},
     0,
     ""},
    {"password",
     {.principal = "acme",
      .service_host = "ns1.example.test",
      .password = "pw"},
     0,
     ""},
    {"no principal", CFG("", NULL, "ns1.example.test", "/k"), -EINVAL,
     "principal is required"},
    {"no service host", CFG("acme", NULL, NULL, "/k"), -EINVAL,
     "service host must be"},
    {"service host is an IPv4 address", CFG("acme", NULL, "192.0.2.1", "/k"),
     -EINVAL, "not an IP address"},
    {"service host is an IPv6 address", CFG("acme", NULL, "2001:db8::1", "/k"),
     -EINVAL, "not an IP address"},
    {"service host with a slash", CFG("acme", NULL, "DNS/ns1", "/k"), -EINVAL,
     "service host must be"},
    {"no keytab nor password", CFG("acme", NULL, "ns1.example.test", NULL),
     -EINVAL, "needs a keytab or a password"},
    {"keytab and password",
     {.principal = "acme",
      .service_host = "ns1.example.test",
      .keytab_path = "/k",
      .password = "pw"},
     -EINVAL,
     "not both"},
    {"empty keytab bytes",
     {.principal = "acme",
      .service_host = "ns1.example.test",
      .keytab = some_bytes,
      .keytab_len = 0},
     -EINVAL,
     "keytab is empty"},
};

static void test_new(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(new_cases) / sizeof(new_cases[0]); i++) {
		struct dns_gss_ctx *ctx = NULL;
		char err[512] = "";
		int ret =
		    dns_gss_new(&ctx, &new_cases[i].cfg, err, sizeof(err));

		if (ret != new_cases[i].ret || !strstr(err, new_cases[i].err))
			fail_msg("%s: got %d '%s'", new_cases[i].name, ret,
				 err);
		assert_true((ctx != NULL) == (ret == 0));
		if (ctx != NULL) {
			assert_true(dns_gss_principal(ctx)[0] != '\0');
			assert_int_equal(dns_gss_negotiations(ctx), 0);
		}
		/* No session was made: nothing is sent at free. */
		dns_gss_free(ctx, 10);
	}
	dns_gss_free(NULL, 0);
}

static void test_principal_realm(void **state)
{
	struct dns_gss_config cfg =
	    CFG("acme", "EXAMPLE.TEST", "ns1.example.test", "/k");
	struct dns_gss_ctx *ctx;

	(void)state;
	assert_int_equal(dns_gss_new(&ctx, &cfg, NULL, 0), 0);
	assert_string_equal(dns_gss_principal(ctx), "acme@EXAMPLE.TEST");
	dns_gss_free(ctx, 10);
	cfg.principal = "acme@OTHER.TEST";
	assert_int_equal(dns_gss_new(&ctx, &cfg, NULL, 0), 0);
	assert_string_equal(dns_gss_principal(ctx), "acme@OTHER.TEST");
	dns_gss_free(ctx, 10);
}

/* --------------------------------------------------------- diagnosis */

static const struct {
	const char *name;
	int code;
	bool answered;
	int rcode, tsig_error;
	bool present, verified;
	const char *want;
} diag_cases[] = {
    {"no credentials", DNS_EGSS_CRED, false, -1, 0, false, false,
     "no usable Kerberos credentials for acme@EXAMPLE.TEST (detail)"},
    {"KDC unreachable", DNS_EGSS_KDC, false, -1, 0, false, false,
     "the Kerberos KDC for acme@EXAMPLE.TEST cannot be reached"},
    {"client unknown", DNS_EGSS_CLIENT, false, -1, 0, false, false,
     "the KDC does not know the principal acme@EXAMPLE.TEST"},
    {"service unknown", DNS_EGSS_SERVICE, false, -1, 0, false, false,
     "the KDC does not know the service principal "
     "DNS/ns1.example.test@EXAMPLE.TEST"},
    {"clock skew", DNS_EGSS_SKEW, false, -1, 0, false, false,
     "synchronise both with NTP"},
    {"other GSS failure", DNS_EGSS, false, -1, 0, false, false,
     "GSS-API failure for acme@EXAMPLE.TEST"},
    {"TKEY BADKEY", DNS_ETKEY, true, 0, 17, false, false,
     "NOERROR/BADKEY (answer unsigned): 192.0.2.1:53 could not accept the "
     "Kerberos ticket of acme@EXAMPLE.TEST"},
    {"TKEY other error", DNS_ETKEY, true, 5, 0, false, false,
     "rejected the GSS-TSIG key negotiation"},
    {"echoed signature", DNS_EECHO, true, 5, 0, true, false,
     "echoed our signature"},
    {"Windows denial: REFUSED, signature echoed", DNS_EECHO, true, 5, 0, true,
     false,
     "REFUSED (our signature echoed): 192.0.2.1:53 echoed our signature "
     "instead of signing its answer (a known Windows DNS behaviour"},
    {"Samba denial: SERVFAIL, signature echoed", DNS_EECHO, true, 2, 0, true,
     false,
     "SERVFAIL (our signature echoed): 192.0.2.1:53 echoed our signature "
     "instead of signing its answer, which is how Samba AD denies an "
     "update: acme@EXAMPLE.TEST may not change "
     "_acme-challenge.example.test. TXT, because the name is owned by "
     "another account"},
    {"Samba denial names samba-tool with the relative name", DNS_EECHO, true, 2,
     0, true, false,
     "'samba-tool dsacl get --objectdn=DC=_acme-challenge,DC=example.test,"
     "CN=MicrosoftDNS,DC=DomainDnsZones,<domain DN>'; delete the stale name "
     "as an administrator ('samba-tool dns delete <DC> example.test "
     "_acme-challenge TXT <value> -U administrator')"},
    {"policy denial, signed REFUSED", DNS_ERCODE, true, 5, 0, true, true,
     "REFUSED (answer signed): acme@EXAMPLE.TEST authenticated (GSS-TSIG) "
     "but the server's policy does not allow it to change "
     "_acme-challenge.example.test. TXT"},
    {"unsigned REFUSED", DNS_ERCODE, true, 5, 0, false, false,
     "refused without a signature"},
    {"BADKEY after renegotiation", DNS_ETSIG, true, 9, 17, true, false,
     "does not know the GSS-TSIG key of acme@EXAMPLE.TEST even after a "
     "fresh negotiation"},
    {"bad MIC", DNS_ETSIG, true, 0, 0, true, false,
     "GSS-TSIG signature does not verify"},
    {"success", 0, true, 0, 0, true, true, "succeeded at 192.0.2.1:53"},
    {"network, as for HMAC", -ECONNREFUSED, false, -1, 0, false, false,
     "refused the connection"},
};

static void test_diag(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(diag_cases) / sizeof(diag_cases[0]);
	     i++) {
		struct dns_result res;
		struct dns_outcome *o = &res.attempts[0];
		char buf[2048];

		memset(&res, 0, sizeof(res));
		res.nattempts = 1;
		res.code = diag_cases[i].code;
		snprintf(o->server, sizeof(o->server), "192.0.2.1:53");
		snprintf(o->detail, sizeof(o->detail), "detail");
		o->code = diag_cases[i].code;
		o->answered = diag_cases[i].answered;
		o->rcode = diag_cases[i].rcode;
		o->tsig_error = diag_cases[i].tsig_error;
		o->tsig_present = diag_cases[i].present;
		o->tsig_verified = diag_cases[i].verified;
		o->gss = true;
		snprintf(o->gss_principal, sizeof(o->gss_principal),
			 "acme@EXAMPLE.TEST");
		snprintf(o->gss_service, sizeof(o->gss_service),
			 "DNS/ns1.example.test@EXAMPLE.TEST");
		dns_result_explain(&res, "add", NULL, "example.test.",
				   "_acme-challenge.example.test.", buf,
				   sizeof(buf));
		if (strstr(buf, diag_cases[i].want) == NULL)
			fail_msg("%s: %s", diag_cases[i].name, buf);
		/* Never the HMAC wording about unsigned updates. */
		if (strstr(buf, "unsigned update") != NULL)
			fail_msg("%s: %s", diag_cases[i].name, buf);
	}
}

/*
 * The Samba denial names the record as samba-tool takes it: relative to
 * the zone, without the final dot, "@" at the apex.
 */
static const struct {
	const char *zone, *fqdn, *want;
} samba_name_cases[] = {
    {"ad.test.", "_acme-challenge.www.ad.test.",
     "dns delete <DC> ad.test _acme-challenge.www TXT"},
    {"ad.test", "_acme-challenge.AD.TEST",
     "dns delete <DC> ad.test _acme-challenge TXT"},
    {"ad.test.", "ad.test.", "dns delete <DC> ad.test @ TXT"},
    {"sub.ad.test.", "_acme-challenge.xsub.ad.test.",
     "dns delete <DC> sub.ad.test _acme-challenge.xsub.ad.test TXT"},
    {".", "_acme-challenge.", "dns delete <DC> . _acme-challenge TXT"},
};

static void test_samba_names(void **state)
{
	(void)state;
	for (size_t i = 0;
	     i < sizeof(samba_name_cases) / sizeof(samba_name_cases[0]); i++) {
		struct dns_result res;
		struct dns_outcome *o = &res.attempts[0];
		char buf[2048];

		memset(&res, 0, sizeof(res));
		res.nattempts = 1;
		res.code = o->code = DNS_EECHO;
		o->answered = true;
		o->rcode = 2;
		o->tsig_present = true;
		o->gss = true;
		snprintf(o->server, sizeof(o->server), "192.0.2.1:53");
		dns_result_explain(&res, "delete", NULL,
				   samba_name_cases[i].zone,
				   samba_name_cases[i].fqdn, buf, sizeof(buf));
		if (strstr(buf, samba_name_cases[i].want) == NULL)
			fail_msg("%s in %s: %s", samba_name_cases[i].fqdn,
				 samba_name_cases[i].zone, buf);
	}
}

/* ------------------------------------------------------ solver config */

static const struct {
	const char *name;
	const char *json;
	const char *err; /* NULL: valid */
} config_cases[] = {
    {"keytab",
     "{\"nameserver\":\"10.0.0.1\",\"gssTSIG\":{\"principal\":\"acme\","
     "\"realm\":\"EXAMPLE.TEST\",\"serviceHost\":\"ns1.example.test\","
     "\"keytabSecretRef\":{\"name\":\"kt\",\"key\":\"keytab\"}}}",
     NULL},
    {"password",
     "{\"nameserver\":\"10.0.0.1\",\"gssTSIG\":{\"principal\":\"acme\","
     "\"serviceHost\":\"ns1\",\"passwordSecretRef\":{\"name\":\"pw\","
     "\"key\":\"password\"}}}",
     NULL},
    {"with tsigSecretSecretRef",
     "{\"nameserver\":\"10.0.0.1\",\"tsigSecretSecretRef\":{\"name\":\"a\","
     "\"key\":\"b\"},\"gssTSIG\":{\"principal\":\"acme\",\"serviceHost\":"
     "\"ns1\",\"keytabSecretRef\":{\"name\":\"kt\",\"key\":\"k\"}}}",
     "config.gssTSIG and config.tsigSecretSecretRef exclude each other"},
    {"with tsigAlgorithm",
     "{\"nameserver\":\"10.0.0.1\",\"tsigAlgorithm\":\"hmac-sha256\","
     "\"gssTSIG\":{\"principal\":\"acme\",\"serviceHost\":\"ns1\","
     "\"keytabSecretRef\":{\"name\":\"kt\",\"key\":\"k\"}}}",
     "exclude each other"},
    {"no principal",
     "{\"nameserver\":\"10.0.0.1\",\"gssTSIG\":{\"serviceHost\":\"ns1\","
     "\"keytabSecretRef\":{\"name\":\"kt\",\"key\":\"k\"}}}",
     "config.gssTSIG.principal is missing"},
    {"no secret",
     "{\"nameserver\":\"10.0.0.1\",\"gssTSIG\":{\"principal\":\"a\","
     "\"serviceHost\":\"ns1\"}}",
     "needs keytabSecretRef"},
    {"both secrets",
     "{\"nameserver\":\"10.0.0.1\",\"gssTSIG\":{\"principal\":\"a\","
     "\"serviceHost\":\"ns1\",\"keytabSecretRef\":{\"name\":\"kt\","
     "\"key\":\"k\"},\"passwordSecretRef\":{\"name\":\"kt\",\"key\":\"k\"}"
     "}}",
     "not both"},
    {"namespace in the ref",
     "{\"nameserver\":\"10.0.0.1\",\"gssTSIG\":{\"principal\":\"a\","
     "\"serviceHost\":\"ns1\",\"keytabSecretRef\":{\"name\":\"kt\","
     "\"key\":\"k\",\"namespace\":\"x\"}}}",
     "config.gssTSIG.keytabSecretRef.namespace is not accepted"},
    {"unknown field",
     "{\"nameserver\":\"10.0.0.1\",\"gssTSIG\":{\"principal\":\"a\","
     "\"spn\":\"x\"}}",
     "config.gssTSIG.spn is not a known field"},
    {"not an object", "{\"nameserver\":\"10.0.0.1\",\"gssTSIG\":\"acme\"}",
     "config.gssTSIG must be an object, got a string"},
};

static void test_config(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(config_cases) / sizeof(config_cases[0]);
	     i++) {
		struct solver_config cfg;
		json_error_t jerr;
		json_t *j = json_loads(config_cases[i].json, 0, &jerr);
		char err[512] = "";
		int ret;

		assert_non_null(j);
		ret = solver_config_parse(&cfg, j, err, sizeof(err));
		json_decref(j);
		if (config_cases[i].err == NULL) {
			if (ret != 0 || !cfg.has_gss || cfg.has_secret_ref)
				fail_msg("%s: %d %s", config_cases[i].name, ret,
					 err);
			continue;
		}
		if (ret == 0 || strstr(err, config_cases[i].err) == NULL)
			fail_msg("%s: %d '%s'", config_cases[i].name, ret, err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new),
	    cmocka_unit_test(test_principal_realm),
	    cmocka_unit_test(test_diag),
	    cmocka_unit_test(test_samba_names),
	    cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
