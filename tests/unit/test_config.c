/*
 * test_config.c - the solver config (the Issuer's webhook.config) from
 * tables: every field with good values and with every kind of bad one; a
 * failure must name the field.
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

#include "server/config.h"

#define NS  "\"nameserver\":\"10.0.0.53\""
#define REF "\"tsigSecretSecretRef\":{\"name\":\"tsig\",\"key\":\"secret\"}"

struct config_case {
	const char *name;
	const char *json; /* NULL: config absent */
	int ret;
	const char *err; /* substring of the error */
	/* expectations on success; a NULL string is not checked */
	const char *servers;
	const char *key_name;
	const char *alg;
	const char *ref; /* "name/key", "" for none */
	int proto;	 /* DNS_PROTO_* + 1; 0: not checked */
	uint32_t ttl;	 /* 0: not checked */
	const char *zone;
	unsigned timeout; /* ms */
};

#define OK(n, j, ...)                                                          \
	{                                                                      \
		.name = (n), .json = (j), .ret = 0, __VA_ARGS__                \
	}
#define BAD(n, j, e)                                                           \
	{                                                                      \
		.name = (n), .json = (j), .ret = -EINVAL, .err = (e),          \
	}

static const struct config_case cases[] = {
    /* The contract's config, as cert-manager sends it. */
    OK("contract",
       "{\"nameserver\":\"10.0.0.53:53\",\"tsigKeyName\":\"acme-update\","
       "\"tsigAlgorithm\":\"HMACSHA256\",\"tsigSecretSecretRef\":{"
       "\"name\":\"tsig-secret\",\"key\":\"secret\"}}",
       .servers = "10.0.0.53:53", .key_name = "acme-update",
       .alg = "HMACSHA256", .ref = "tsig-secret/secret",
       .proto = DNS_PROTO_UDP + 1, .ttl = 60, .zone = "", .timeout = 0),
    OK("unsigned: nameserver only", "{" NS "}", .servers = "10.0.0.53:53",
       .key_name = "", .alg = "", .ref = ""),
    OK("ref without name and algorithm (key file in the Secret)",
       "{" NS "," REF "}", .ref = "tsig/secret", .key_name = "", .alg = ""),
    OK("nameservers list",
       "{\"nameservers\":[\"10.0.0.1\",\"[2001:db8::1]:5353\","
       "\"ns1.example.com:54\",\"2001:db8::2\"]}",
       .servers = "10.0.0.1:53,[2001:db8::1]:5353,ns1.example.com:54,"
		  "[2001:db8::2]:53"),
    OK("nameserver then nameservers",
       "{\"nameservers\":[\"10.0.0.2\"],\"nameserver\":\"10.0.0.1\"}",
       .servers = "10.0.0.1:53,10.0.0.2:53"),
    OK("eight nameservers",
       "{\"nameserver\":\"10.0.0.1\",\"nameservers\":[\"10.0.0.2\","
       "\"10.0.0.3\",\"10.0.0.4\",\"10.0.0.5\",\"10.0.0.6\",\"10.0.0.7\","
       "\"10.0.0.8\"]}",
       .servers = "10.0.0.1:53,10.0.0.2:53,10.0.0.3:53,10.0.0.4:53,"
		  "10.0.0.5:53,10.0.0.6:53,10.0.0.7:53,10.0.0.8:53"),
    OK("algorithm spellings",
       "{" NS "," REF ",\"tsigAlgorithm\":"
       "\"hmac-sha512.\"}",
       .alg = "hmac-sha512."),
    OK("algorithm md5 long form",
       "{" NS "," REF ",\"tsigAlgorithm\":\"hmac-md5.sig-alg.reg.int\"}",
       .alg = "hmac-md5.sig-alg.reg.int"),
    OK("protocol TCP", "{" NS ",\"protocol\":\"TCP\"}",
       .proto = DNS_PROTO_TCP + 1),
    OK("protocol tcp lower case", "{" NS ",\"protocol\":\"tcp\"}",
       .proto = DNS_PROTO_TCP + 1),
    OK("protocol Udp", "{" NS ",\"protocol\":\"Udp\"}",
       .proto = DNS_PROTO_UDP + 1),
    OK("ttl 1", "{" NS ",\"ttl\":1}", .ttl = 1),
    OK("ttl 2147483647", "{" NS ",\"ttl\":2147483647}", .ttl = 2147483647),
    OK("ttl null is the default", "{" NS ",\"ttl\":null}", .ttl = 60),
    OK("zone gets its dot", "{" NS ",\"zone\":\"example.org\"}",
       .zone = "example.org."),
    OK("zone with its dot", "{" NS ",\"zone\":\"sub.example.org.\"}",
       .zone = "sub.example.org."),
    OK("timeout 5s", "{" NS ",\"timeout\":\"5s\"}", .timeout = 5000),
    OK("timeout 2.5s", "{" NS ",\"timeout\":\"2.5s\"}", .timeout = 2500),
    OK("timeout 500ms", "{" NS ",\"timeout\":\"500ms\"}", .timeout = 500),
    OK("timeout 1m", "{" NS ",\"timeout\":\"1m\"}", .timeout = 60000),
    OK("timeout 0.5m", "{" NS ",\"timeout\":\"0.5m\"}", .timeout = 30000),
    OK("timeout 1s500ms", "{" NS ",\"timeout\":\"1s500ms\"}", .timeout = 1500),

    BAD("config absent", NULL, "config is missing"),
    BAD("config empty", "{}", "config.nameserver is missing"),
    BAD("only a ref", "{" REF "}", "config.nameserver is missing"),
    BAD("unknown field", "{" NS ",\"server\":\"x\"}",
	"config.server is not a known field"),
    BAD("wrong case of a field", "{" NS "," REF ",\"TsigKeyName\":\"k\"}",
	"config.TsigKeyName is not a known field; did you mean "
	"tsigKeyName?"),
    BAD("the built-in solver's own field name",
	"{" NS ",\"tsigSecretSecretRefs\":{}}",
	"config.tsigSecretSecretRefs is not a known field"),
    BAD("nameserver a number", "{\"nameserver\":5}",
	"config.nameserver must be a string, got an integer"),
    BAD("nameserver a list", "{\"nameserver\":[\"10.0.0.1\"]}",
	"config.nameserver must be a string, got a list"),
    BAD("nameserver bad port", "{\"nameserver\":\"10.0.0.1:99999\"}",
	"config.nameserver \"10.0.0.1:99999\" is not a nameserver address"),
    BAD("nameserver empty", "{\"nameserver\":\"\"}",
	"config.nameserver \"\" is not a nameserver address"),
    BAD("nameserver bad IPv4", "{\"nameserver\":\"10.0.0.300\"}",
	"config.nameserver \"10.0.0.300\" is not a nameserver address"),
    BAD("nameserver unclosed bracket", "{\"nameserver\":\"[::1:53\"}",
	"config.nameserver \"[::1:53\" is not a nameserver address"),
    BAD("nameservers a string", "{\"nameservers\":\"10.0.0.1\"}",
	"config.nameservers must be a list, got a string"),
    BAD("nameservers empty", "{\"nameservers\":[]}",
	"config.nameservers must list at least one nameserver"),
    BAD("nameservers item a number", "{\"nameservers\":[\"10.0.0.1\",7]}",
	"config.nameservers[1] must be a string, got an integer"),
    BAD("nameservers item bad", "{\"nameservers\":[\"a b\"]}",
	"config.nameservers[0] \"a b\" is not a nameserver address"),
    BAD("nine nameservers",
	"{\"nameserver\":\"10.0.0.1\",\"nameservers\":[\"10.0.0.2\","
	"\"10.0.0.3\",\"10.0.0.4\",\"10.0.0.5\",\"10.0.0.6\",\"10.0.0.7\","
	"\"10.0.0.8\",\"10.0.0.9\"]}",
	"config.nameservers[7]: too many nameservers (at most 8"),
    BAD("tsigKeyName empty", "{" NS "," REF ",\"tsigKeyName\":\"\"}",
	"config.tsigKeyName must be a key name of 1 to 255 bytes"),
    BAD("tsigKeyName a number", "{" NS "," REF ",\"tsigKeyName\":1}",
	"config.tsigKeyName must be a string, got an integer"),
    BAD("tsigAlgorithm unknown",
	"{" NS "," REF ",\"tsigAlgorithm\":\"hmac-sha999\"}",
	"config.tsigAlgorithm \"hmac-sha999\" is not a TSIG algorithm"),
    BAD("tsigAlgorithm empty", "{" NS "," REF ",\"tsigAlgorithm\":\"\"}",
	"config.tsigAlgorithm \"\" is not a TSIG algorithm"),
    BAD("tsigAlgorithm a boolean", "{" NS "," REF ",\"tsigAlgorithm\":true}",
	"config.tsigAlgorithm must be a string, got a boolean"),
    BAD("tsigKeyName without a ref", "{" NS ",\"tsigKeyName\":\"k\"}",
	"config.tsigKeyName is set but config.tsigSecretSecretRef is not"),
    BAD("tsigAlgorithm without a ref",
	"{" NS ",\"tsigAlgorithm\":\"hmac-sha256\"}",
	"config.tsigAlgorithm is set but config.tsigSecretSecretRef is "
	"not"),
    BAD("ref a string", "{" NS ",\"tsigSecretSecretRef\":\"tsig\"}",
	"config.tsigSecretSecretRef must be an object, got a string"),
    BAD("ref without name",
	"{" NS ",\"tsigSecretSecretRef\":{\"key\":\"secret\"}}",
	"config.tsigSecretSecretRef.name is missing"),
    BAD("ref without key",
	"{" NS ",\"tsigSecretSecretRef\":{\"name\":\"tsig\"}}",
	"config.tsigSecretSecretRef.key is missing"),
    BAD("ref with a namespace",
	"{" NS ",\"tsigSecretSecretRef\":{\"name\":\"tsig\",\"key\":\"s\","
	"\"namespace\":\"kube-system\"}}",
	"config.tsigSecretSecretRef.namespace is not accepted"),
    BAD("ref with an unknown field",
	"{" NS ",\"tsigSecretSecretRef\":{\"name\":\"tsig\",\"key\":\"s\","
	"\"optional\":true}}",
	"config.tsigSecretSecretRef.optional is not a known field"),
    BAD("ref name a number",
	"{" NS ",\"tsigSecretSecretRef\":{\"name\":1,\"key\":\"s\"}}",
	"config.tsigSecretSecretRef.name must be a string, got an integer"),
    BAD("ref key a list",
	"{" NS ",\"tsigSecretSecretRef\":{\"name\":\"t\",\"key\":[]}}",
	"config.tsigSecretSecretRef.key must be a string, got a list"),
    BAD("ref name with a path",
	"{" NS ",\"tsigSecretSecretRef\":{\"name\":\"../etc\",\"key\":"
	"\"s\"}}",
	"config.tsigSecretSecretRef.name \"../etc\" is not a valid Secret "
	"name"),
    BAD("ref name upper case",
	"{" NS ",\"tsigSecretSecretRef\":{\"name\":\"Tsig\",\"key\":"
	"\"s\"}}",
	"is not a valid Secret name"),
    BAD("ref key with a slash",
	"{" NS ",\"tsigSecretSecretRef\":{\"name\":\"t\",\"key\":"
	"\"../s\"}}",
	"config.tsigSecretSecretRef.key \"../s\" is not a valid Secret data "
	"key"),
    BAD("ref key dot dot",
	"{" NS ",\"tsigSecretSecretRef\":{\"name\":\"t\",\"key\":"
	"\"..\"}}",
	"is not a valid Secret data key"),
    BAD("ref key empty",
	"{" NS ",\"tsigSecretSecretRef\":{\"name\":\"t\",\"key\":\"\"}}",
	"is not a valid Secret data key"),
    BAD("protocol unknown", "{" NS ",\"protocol\":\"DoH\"}",
	"config.protocol must be UDP or TCP, got \"DoH\""),
    BAD("protocol a number", "{" NS ",\"protocol\":17}",
	"config.protocol must be a string, got an integer"),
    BAD("ttl a string", "{" NS ",\"ttl\":\"60\"}",
	"config.ttl must be an integer, got a string"),
    BAD("ttl a real", "{" NS ",\"ttl\":60.0}",
	"config.ttl must be an integer, got a number"),
    BAD("ttl 0", "{" NS ",\"ttl\":0}",
	"config.ttl must be between 1 and 2147483647 seconds, got 0"),
    BAD("ttl negative", "{" NS ",\"ttl\":-5}",
	"config.ttl must be between 1 and 2147483647 seconds, got -5"),
    BAD("ttl 2^31", "{" NS ",\"ttl\":2147483648}",
	"config.ttl must be between 1 and 2147483647 seconds"),
    BAD("zone empty", "{" NS ",\"zone\":\"\"}",
	"config.zone \"\" is not a domain name"),
    BAD("zone empty label", "{" NS ",\"zone\":\"a..b\"}",
	"config.zone \"a..b\" is not a domain name"),
    BAD("zone leading dot", "{" NS ",\"zone\":\".a\"}",
	"config.zone \".a\" is not a domain name"),
    BAD("zone with a blank", "{" NS ",\"zone\":\"a b\"}",
	"config.zone \"a b\" is not a domain name"),
    BAD("zone a number", "{" NS ",\"zone\":3}",
	"config.zone must be a string, got an integer"),
    BAD("timeout without unit", "{" NS ",\"timeout\":\"5\"}",
	"config.timeout: \"5\" is not a duration"),
    BAD("timeout in hours", "{" NS ",\"timeout\":\"1h\"}",
	"config.timeout: \"1h\" is not a duration"),
    BAD("timeout negative", "{" NS ",\"timeout\":\"-1s\"}",
	"config.timeout: \"-1s\" is not a duration"),
    BAD("timeout exponent", "{" NS ",\"timeout\":\"1e3ms\"}",
	"config.timeout: \"1e3ms\" is not a duration"),
    BAD("timeout empty", "{" NS ",\"timeout\":\"\"}",
	"config.timeout: \"\" is not a duration"),
    BAD("timeout zero", "{" NS ",\"timeout\":\"0s\"}",
	"config.timeout must be more than 0 and at most 60s, got \"0s\""),
    BAD("timeout 61s", "{" NS ",\"timeout\":\"61s\"}",
	"config.timeout must be more than 0 and at most 60s, got \"61s\""),
    BAD("timeout huge", "{" NS ",\"timeout\":\"999999999999m\"}",
	"config.timeout: \"999999999999m\" is not a duration"),
    BAD("timeout a number", "{" NS ",\"timeout\":5}",
	"config.timeout must be a string, got an integer"),
};

static void check_row(const struct config_case *c)
{
	struct solver_config cfg;
	char err[512] = "";
	json_error_t jerr;
	json_t *json = NULL;
	char ref[2 * SOLVER_REF_MAX];
	int ret;

	if (c->json != NULL) {
		json = json_loads(c->json, 0, &jerr);
		if (json == NULL)
			print_error("case \"%s\": bad JSON in the table: %s\n",
				    c->name, jerr.text);
		assert_non_null(json);
	}
	ret = solver_config_parse(&cfg, json, err, sizeof(err));
	json_decref(json);
	if (ret != c->ret || (c->err != NULL && strstr(err, c->err) == NULL)) {
		print_error("case \"%s\": ret %d (want %d), err \"%s\" (want "
			    "\"%s\")\n",
			    c->name, ret, c->ret, err, c->err ? c->err : "");
		fail();
	}
	if (ret < 0)
		return;
	snprintf(ref, sizeof(ref), "%s%s%s", cfg.secret_name,
		 cfg.has_secret_ref ? "/" : "", cfg.secret_key);
	if ((c->servers && strcmp(c->servers, cfg.servers_text) != 0) ||
	    (c->key_name && strcmp(c->key_name, cfg.key_name) != 0) ||
	    (c->alg && strcmp(c->alg, cfg.alg) != 0) ||
	    (c->ref && strcmp(c->ref, ref) != 0) ||
	    (c->proto && c->proto != (int)cfg.proto + 1) ||
	    (c->ttl && c->ttl != cfg.ttl) ||
	    (c->zone && strcmp(c->zone, cfg.zone) != 0) ||
	    c->timeout != cfg.timeout_ms) {
		print_error("case \"%s\": servers \"%s\" key \"%s\" alg \"%s\" "
			    "ref \"%s\" proto %d ttl %u zone \"%s\" timeout "
			    "%u\n",
			    c->name, cfg.servers_text, cfg.key_name, cfg.alg,
			    ref, (int)cfg.proto, cfg.ttl, cfg.zone,
			    cfg.timeout_ms);
		fail();
	}
	/* Defaults hold whatever the row checks. */
	assert_true(cfg.nservers >= 1 && cfg.nservers <= SOLVER_NS_MAX);
	assert_true(cfg.ttl >= 1);
}

static void test_config(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_row(&cases[i]);
}

/* A failure never leaves a half-filled config that looks usable. */
static void test_config_reset(void **state)
{
	struct solver_config cfg;
	json_t *good = json_loads("{" NS ",\"ttl\":5}", 0, NULL);
	json_t *bad = json_loads("{\"ttl\":5}", 0, NULL);
	char err[256];

	(void)state;
	assert_int_equal(solver_config_parse(&cfg, good, err, sizeof(err)), 0);
	assert_int_equal(cfg.ttl, 5);
	assert_int_equal(solver_config_parse(&cfg, bad, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(cfg.nservers, 0);
	json_decref(good);
	json_decref(bad);
}

struct duration_case {
	const char *text;
	int ret;
	unsigned ms;
};

static const struct duration_case durations[] = {
    {"5s", 0, 5000},	    {"2.5s", 0, 2500},
    {"500ms", 0, 500},	    {"1m", 0, 60000},
    {"1m30s", 0, 90000},    {".5s", 0, 500},
    {"1.s", 0, 1000},	    {"0.0015s", 0, 1},
    {"0ms", 0, 0},	    {"10ms5ms", 0, 15},
    {"", -EINVAL, 0},	    {"s", -EINVAL, 0},
    {"5", -EINVAL, 0},	    {"5 s", -EINVAL, 0},
    {"5sec", -EINVAL, 0},   {"+5s", -EINVAL, 0},
    {"1.2.3s", -EINVAL, 0}, {"5us", -EINVAL, 0},
    {"inf", -EINVAL, 0},    {"0x10s", -EINVAL, 0},
    {".s", -EINVAL, 0},	    {"1234567890123s", -EINVAL, 0},
};

static void test_duration(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		const struct duration_case *c = &durations[i];
		char err[256] = "";
		unsigned ms = 12345;
		int ret = solver_duration_parse(c->text, &ms, err, sizeof(err));

		if (ret != c->ret || (ret == 0 && ms != c->ms) ||
		    (ret < 0 && strstr(err, "is not a duration") == NULL)) {
			print_error("\"%s\": ret %d ms %u err \"%s\"\n",
				    c->text, ret, ms, err);
			fail();
		}
	}
}

/* The forms the command-line flags take: hours and bare seconds, no
 * fraction (duration_parse with DURATION_HOURS | DURATION_BARE_SECONDS). */
static const struct duration_case flag_durations[] = {
    {"5", 0, 5000},	  {"3600", 0, 3600000},	    {"1h", 0, 3600000},
    {"1m30s", 0, 90000},  {"500ms", 0, 500},	    {"0", 0, 0},
    {"2.5s", -EINVAL, 0}, {"1m5", -EINVAL, 0},	    {"5 s", -EINVAL, 0},
    {" 5s", -EINVAL, 0},  {"-1m", -EINVAL, 0},	    {"", -EINVAL, 0},
    {"1d", -EINVAL, 0},	  {"5000000h", -EINVAL, 0}, {"h", -EINVAL, 0},
};

static void test_duration_forms(void **state)
{
	(void)state;
	for (size_t i = 0;
	     i < sizeof(flag_durations) / sizeof(flag_durations[0]); i++) {
		const struct duration_case *c = &flag_durations[i];
		unsigned ms = 12345;
		int ret = duration_parse(
		    c->text, DURATION_HOURS | DURATION_BARE_SECONDS, &ms);

		if (ret != c->ret || (ret == 0 && ms != c->ms)) {
			print_error("\"%s\": ret %d ms %u\n", c->text, ret, ms);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config),
	    cmocka_unit_test(test_config_reset),
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_duration_forms),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
