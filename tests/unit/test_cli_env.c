/*
 * test_cli_env.c - what ACME clients hand the CLI, from tables: durations
 * as lego writes them, operands (lego exec, its RAW mode with the RFC 8555
 * 8.4 digest, certbot's variables), the environment (DNSUPDATE_ before
 * RFC2136_, flags first, a missing algorithm) and certbot-dns-rfc2136's
 * credentials file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"

static const char *const vars[] = {
    "RFC2136_NAMESERVER",
    "DNSUPDATE_NAMESERVER",
    "RFC2136_TSIG_KEY",
    "DNSUPDATE_TSIG_KEY",
    "RFC2136_TSIG_SECRET",
    "DNSUPDATE_TSIG_SECRET",
    "RFC2136_TSIG_ALGORITHM",
    "DNSUPDATE_TSIG_ALGORITHM",
    "RFC2136_TSIG_FILE",
    "DNSUPDATE_TSIG_FILE",
    "RFC2136_TTL",
    "DNSUPDATE_TTL",
    "RFC2136_DNS_TIMEOUT",
    "DNSUPDATE_DNS_TIMEOUT",
    "RFC2136_ZONE",
    "RFC2136_PROTOCOL",
    "RFC2136_WAIT",
    "CERTBOT_DOMAIN",
    "CERTBOT_VALIDATION",
};

static int env_clear(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	return 0;
}

static void test_duration(void **state)
{
	static const struct {
		const char *text;
		int ret;
		unsigned ms;
	} rows[] = {
	    {"10", 0, 10000},	 {"2.5", 0, 2500},  {"10s", 0, 10000},
	    {"1m30s", 0, 90000}, {"500ms", 0, 500}, {"1h", 0, 3600000},
	    {"1.5m", 0, 90000},	 {"0", -1, 0},	    {"", -1, 0},
	    {"soon", -1, 0},	 {"10x", -1, 0},    {"-5s", -1, 0},
	    {"2h", -1, 0},	 {"5s10", -1, 0},   {"1m 5s", -1, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		unsigned ms = 0;

		print_message("%s\n", rows[i].text);
		assert_int_equal(cli_duration_parse(rows[i].text, &ms),
				 rows[i].ret);
		if (rows[i].ret == 0)
			assert_int_equal(ms, rows[i].ms);
	}
}

static void test_operands(void **state)
{
	struct cli_opts o;
	const char *fqdn = NULL;
	char err[512];
	char f0[] = "_acme-challenge.a.example.", v0[] = "v";
	char d1[] = "*.a.example", t1[] = "tok",
	     k1[] = "token-abc.thumbprint-xyz";
	char e2[] = "extra";
	char *lego[] = {f0, v0}, *raw[] = {d1, t1, k1}, *one[] = {e2};

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(cli_operands(&o, 2, lego, &fqdn, err, sizeof(err)), 0);
	assert_string_equal(fqdn, "_acme-challenge.a.example.");
	assert_string_equal(o.value, "v");
	/* Operands and flags at once: refused. */
	assert_int_equal(cli_operands(&o, 2, lego, &fqdn, err, sizeof(err)),
			 -1);

	/* RFC 8555 8.4: base64url(SHA-256(keyauth)), the "*." dropped. */
	memset(&o, 0, sizeof(o));
	fqdn = NULL;
	assert_int_equal(cli_operands(&o, 3, raw, &fqdn, err, sizeof(err)), 0);
	assert_string_equal(fqdn, "_acme-challenge.a.example.");
	assert_string_equal(o.value,
			    "e4poW-EBoq21JA9OrAOs8Izzml-1iB5kE5hWbN2FDkM");

	memset(&o, 0, sizeof(o));
	fqdn = NULL;
	assert_int_equal(cli_operands(&o, 1, one, &fqdn, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unexpected argument 'extra'"));

	/* certbot: only without operands and flags. */
	setenv("CERTBOT_DOMAIN", "*.b.example", 1);
	setenv("CERTBOT_VALIDATION", "cb", 1);
	memset(&o, 0, sizeof(o));
	fqdn = NULL;
	assert_int_equal(cli_operands(&o, 0, NULL, &fqdn, err, sizeof(err)), 0);
	assert_string_equal(fqdn, "_acme-challenge.b.example.");
	assert_string_equal(o.value, "cb");
	unsetenv("CERTBOT_VALIDATION");
	memset(&o, 0, sizeof(o));
	fqdn = NULL;
	assert_int_equal(cli_operands(&o, 0, NULL, &fqdn, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "CERTBOT_VALIDATION"));
}

static void test_env(void **state)
{
	struct cli_opts o;
	const char *zone = NULL;
	char err[1024];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.cmd = "present";
	setenv("DNSUPDATE_NAMESERVER", "192.0.2.1, 192.0.2.2:5353", 1);
	setenv("RFC2136_NAMESERVER", "192.0.2.9", 1);
	setenv("RFC2136_TSIG_KEY", "acme", 1);
	setenv("RFC2136_TSIG_SECRET", "c2VjcmV0", 1);
	setenv("RFC2136_TSIG_ALGORITHM", "hmac-sha256.", 1);
	setenv("RFC2136_DNS_TIMEOUT", "1m", 1);
	setenv("RFC2136_TTL", "120", 1);
	setenv("RFC2136_ZONE", "example.", 1);
	setenv("RFC2136_WAIT", "30s", 1);
	assert_int_equal(
	    cli_env_apply(&o, CLI_NEED_VALUE, &zone, err, sizeof(err)), 0);
	assert_int_equal(o.nservers, 2);
	assert_string_equal(o.server_text[1], "192.0.2.2:5353");
	assert_int_equal(o.servers[1].port, 5353);
	assert_string_equal(o.key_name, "acme");
	assert_string_equal(o.key_secret, "c2VjcmV0");
	assert_string_equal(o.key_source, "RFC2136_TSIG_SECRET");
	assert_int_equal(o.timeout_ms, 60000);
	assert_int_equal(o.ttl, 120);
	assert_int_equal(o.wait_ms, 30000);
	assert_string_equal(zone, "example.");
	cli_release(&o);
	assert_null(o.key_secret);

	/* Flags win: a given TTL and timeout stay. */
	memset(&o, 0, sizeof(o));
	o.cmd = "cleanup";
	o.ttl = 7;
	o.ttl_given = true;
	o.timeout_ms = 1000;
	o.timeout_given = true;
	zone = "flag.";
	assert_int_equal(
	    cli_env_apply(&o, CLI_NEED_VALUE, &zone, err, sizeof(err)), 0);
	assert_int_equal(o.ttl, 7);
	assert_int_equal(o.timeout_ms, 1000);
	assert_int_equal(o.wait_ms, 0); /* cleanup never waits */
	assert_string_equal(zone, "flag.");
	cli_release(&o);

	/* No silent default algorithm; the secret is never in the text. */
	unsetenv("RFC2136_TSIG_ALGORITHM");
	memset(&o, 0, sizeof(o));
	o.cmd = "present";
	assert_int_equal(
	    cli_env_apply(&o, CLI_NEED_VALUE, &zone, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "RFC2136_TSIG_ALGORITHM"));
	assert_null(strstr(err, "c2VjcmV0"));
	cli_release(&o);

	setenv("RFC2136_TSIG_ALGORITHM", "hmac-sha256", 1);
	setenv("RFC2136_PROTOCOL", "sctp", 1);
	memset(&o, 0, sizeof(o));
	o.cmd = "present";
	assert_int_equal(
	    cli_env_apply(&o, CLI_NEED_VALUE, &zone, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "RFC2136_PROTOCOL 'sctp'"));
	cli_release(&o);
	env_clear(NULL);
}

static void test_credentials(void **state)
{
	static const struct {
		const char *text;
		int ret;
		const char *what; /* in err, or the server text */
	} rows[] = {
	    {"# certbot\ndns_rfc2136_server = 192.0.2.7\n"
	     "dns_rfc2136_port = 5353\ndns_rfc2136_name = acme.\n"
	     "dns_rfc2136_secret = c2VjcmV0\n"
	     "dns_rfc2136_algorithm = HMAC-SHA512\n",
	     0, "192.0.2.7:5353"},
	    {"dns_rfc2136_server = 2001:db8::7\ndns_rfc2136_port = 53\n"
	     "dns_rfc2136_name = acme\ndns_rfc2136_secret = 'c2VjcmV0'\n"
	     "dns_rfc2136_algorithm = hmac-sha256\nother_plugin = x\n",
	     0, "[2001:db8::7]:53"},
	    {"dns_rfc2136_server = 192.0.2.7\ndns_rfc2136_name = acme\n"
	     "dns_rfc2136_secret = c2VjcmV0\n",
	     -1, "dns_rfc2136_algorithm is missing"},
	    {"dns_rfc2136_name = acme\ndns_rfc2136_secret = c2VjcmV0\n"
	     "dns_rfc2136_algorithm = HMAC-SHA256\n",
	     -1, "no dns_rfc2136_server"},
	    {"dns_rfc2136_server = 192.0.2.7\ndns_rfc2136_name = acme\n"
	     "dns_rfc2136_algorithm = HMAC-SHA256\n",
	     -1, "dns_rfc2136_secret is missing"},
	    {"dns_rfc2136_server = 192.0.2.7\ndns_rfc2136_name = acme\n"
	     "dns_rfc2136_secret = c2VjcmV0\ndns_rfc2136_algorithm = rot13\n",
	     -1, "'rot13': unknown algorithm"},
	};
	char path[] = "/tmp/test_cli_env.XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct cli_opts o;
		const char *zone = NULL;
		char err[1024] = "";
		FILE *f = fopen(path, "w");

		print_message("row %zu\n", i);
		assert_non_null(f);
		fputs(rows[i].text, f);
		fclose(f);
		memset(&o, 0, sizeof(o));
		o.cmd = "present";
		o.credentials = path;
		assert_int_equal(
		    cli_env_apply(&o, CLI_NEED_VALUE, &zone, err, sizeof(err)),
		    rows[i].ret);
		if (rows[i].ret == 0) {
			assert_string_equal(o.server_text[0], rows[i].what);
			assert_string_equal(o.key_secret, "c2VjcmV0");
			assert_non_null(o.key_alg);
		} else {
			assert_non_null(strstr(err, rows[i].what));
			assert_null(strstr(err, "c2VjcmV0"));
		}
		cli_release(&o);
	}
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test_setup(test_operands, env_clear),
	    cmocka_unit_test_setup(test_env, env_clear),
	    cmocka_unit_test_setup(test_credentials, env_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
