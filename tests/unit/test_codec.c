/*
 * test_codec.c - the ChallengePayload decoder and the answer encoders,
 * from tables: the contract's literal bodies, every field missing or of the
 * wrong type, duplicate keys, deep nesting, huge inputs, and the exact
 * shapes of the answers.
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

#include "server/codec.h"

/* The contract's present-request.json, verbatim. */
static const char present_json[] =
    "{\n"
    "  \"request\": {\n"
    "    \"uid\": \"\",\n"
    "    \"action\": \"Present\",\n"
    "    \"type\": \"dns-01\",\n"
    "    \"dnsName\": \"example.org\",\n"
    "    \"key\": \"YJ9n0fX3d1vZQ0n9J0b6vV8m8m4m3K8QyN6kqk0m3Hc\",\n"
    "    \"resourceNamespace\": \"cert-manager\",\n"
    "    \"resolvedFQDN\": \"_acme-challenge.example.org.\",\n"
    "    \"resolvedZone\": \"example.org.\",\n"
    "    \"allowAmbientCredentials\": false,\n"
    "    \"config\": {\n"
    "      \"nameserver\": \"10.0.0.53:53\",\n"
    "      \"tsigKeyName\": \"acme-update\",\n"
    "      \"tsigAlgorithm\": \"HMACSHA256\",\n"
    "      \"tsigSecretSecretRef\": {\"name\": \"tsig-secret\", \"key\": "
    "\"secret\"}\n"
    "    }\n"
    "  }\n"
    "}\n";

/* The contract's response-success.json and response-failure.json. */
static const char success_json[] =
    "{\"kind\": \"ChallengePayload\", \"apiVersion\": "
    "\"webhook.acme.cert-manager.io/v1alpha1\", \"request\": {\"uid\": "
    "\"\", \"action\": \"Present\", \"type\": \"dns-01\", \"dnsName\": "
    "\"example.org\", \"key\": "
    "\"YJ9n0fX3d1vZQ0n9J0b6vV8m8m4m3K8QyN6kqk0m3Hc\", "
    "\"resourceNamespace\": \"cert-manager\", \"resolvedFQDN\": "
    "\"_acme-challenge.example.org.\", \"resolvedZone\": "
    "\"example.org.\", \"allowAmbientCredentials\": false}, "
    "\"response\": {\"uid\": \"\", \"success\": true}}";

static const char failure_message[] =
    "update of _acme-challenge.example.org. in zone example.org. at "
    "10.0.0.53:53 failed: NOTAUTH/BADSIG (answer unsigned): the server "
    "does not accept the signature of key 'acme-update.'; the secret or "
    "the algorithm does not match the server's key";

static const char failure_json[] =
    "{\"kind\": \"ChallengePayload\", \"apiVersion\": "
    "\"webhook.acme.cert-manager.io/v1alpha1\", \"request\": {\"uid\": "
    "\"\", \"action\": \"Present\", \"type\": \"dns-01\", \"dnsName\": "
    "\"example.org\", \"key\": "
    "\"YJ9n0fX3d1vZQ0n9J0b6vV8m8m4m3K8QyN6kqk0m3Hc\", "
    "\"resourceNamespace\": \"cert-manager\", \"resolvedFQDN\": "
    "\"_acme-challenge.example.org.\", \"resolvedZone\": "
    "\"example.org.\", \"allowAmbientCredentials\": false}, "
    "\"response\": {\"uid\": \"\", \"success\": false, \"status\": "
    "{\"metadata\": {}, \"status\": \"Failure\", \"message\": \"update of "
    "_acme-challenge.example.org. in zone example.org. at 10.0.0.53:53 "
    "failed: NOTAUTH/BADSIG (answer unsigned): the server does not accept "
    "the signature of key 'acme-update.'; the secret or the algorithm "
    "does not match the server's key\"}}}";

/* A minimal valid request around @extra fields ("" for none). */
#define REQ(extra)                                                             \
	"{\"request\":{\"uid\":\"u-1\",\"action\":\"Present\",\"type\":"       \
	"\"dns-01\",\"dnsName\":\"a.test\",\"key\":\"k1\","                    \
	"\"resourceNamespace\":\"ns1\",\"resolvedFQDN\":"                      \
	"\"_acme-challenge.a.test.\",\"resolvedZone\":\"a.test.\"" extra "}}"

/* The same request without the named field, for "missing" rows. */
#define REQ_WITHOUT_KEY                                                        \
	"{\"request\":{\"action\":\"Present\",\"resourceNamespace\":\"n\","    \
	"\"resolvedFQDN\":\"f.\"}}"
#define REQ_WITHOUT_ACTION                                                     \
	"{\"request\":{\"key\":\"k\",\"resourceNamespace\":\"n\","             \
	"\"resolvedFQDN\":\"f.\"}}"
#define REQ_WITHOUT_NS                                                         \
	"{\"request\":{\"action\":\"Present\",\"key\":\"k\","                  \
	"\"resolvedFQDN\":\"f.\"}}"
#define REQ_WITHOUT_FQDN                                                       \
	"{\"request\":{\"action\":\"Present\",\"key\":\"k\","                  \
	"\"resourceNamespace\":\"n\"}}"

struct decode_case {
	const char *name;
	const char *body; /* NULL: built by the test (see big_body) */
	int ret;
	const char *err; /* substring of the error, for failures */
	enum challenge_action action;
	bool has_config;
};

static const struct decode_case decode_cases[] = {
    {"contract present", present_json, 0, NULL, CHALLENGE_PRESENT, true},
    {"duplicate action", REQ(",\"action\":\"CleanUp\""), -EINVAL,
     "duplicate object key", CHALLENGE_PRESENT, false},
    {"kind and apiVersion",
     "{\"kind\":\"ChallengePayload\",\"apiVersion\":"
     "\"webhook.acme.cert-manager.io/v1alpha1\",\"request\":{\"action\":"
     "\"CleanUp\",\"key\":\"k\",\"resourceNamespace\":\"n\","
     "\"resolvedFQDN\":\"f.\"}}",
     0, NULL, CHALLENGE_CLEANUP, false},
    {"config absent", REQ(""), 0, NULL, CHALLENGE_PRESENT, false},
    {"config null", REQ(",\"config\":null"), 0, NULL, CHALLENGE_PRESENT, false},
    {"config empty object", REQ(",\"config\":{}"), 0, NULL, CHALLENGE_PRESENT,
     true},
    {"unknown fields ignored",
     "{\"extra\":[1,2],\"request\":{\"action\":\"Present\",\"key\":\"k\","
     "\"resourceNamespace\":\"n\",\"resolvedFQDN\":\"f.\",\"future\":"
     "{\"a\":1},\"options\":null}}",
     0, NULL, CHALLENGE_PRESENT, false},
    {"null optional fields",
     REQ(",\"allowAmbientCredentials\":null,\"config\":null"), 0, NULL,
     CHALLENGE_PRESENT, false},
    {"allowAmbientCredentials true",
     "{\"request\":{\"action\":\"Present\",\"key\":\"k\","
     "\"resourceNamespace\":\"n\",\"resolvedFQDN\":\"f.\","
     "\"allowAmbientCredentials\":true}}",
     0, NULL, CHALLENGE_PRESENT, false},
    {"brackets inside strings do not nest",
     "{\"request\":{\"action\":\"Present\",\"key\":\"[[[[[[[[[[[[[[[[[[[[["
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{\\\"[[[\","
     "\"resourceNamespace\":\"n\",\"resolvedFQDN\":\"f.\"}}",
     0, NULL, CHALLENGE_PRESENT, false},

    {"empty body", "", -EINVAL, "the body is empty", CHALLENGE_PRESENT, false},
    {"not JSON", "Present please", -EINVAL, "not valid JSON", CHALLENGE_PRESENT,
     false},
    {"truncated", "{\"request\":{", -EINVAL, "not valid JSON",
     CHALLENGE_PRESENT, false},
    {"trailing garbage", REQ("") " x", -EINVAL, "not valid JSON",
     CHALLENGE_PRESENT, false},
    {"list body", "[]", -EINVAL, "must be a JSON object, got a list",
     CHALLENGE_PRESENT, false},
    {"string body", "\"request\"", -EINVAL,
     "must be a JSON object, got a string", CHALLENGE_PRESENT, false},
    {"number body", "42", -EINVAL, "must be a JSON object, got an integer",
     CHALLENGE_PRESENT, false},
    {"null body", "null", -EINVAL, "must be a JSON object, got null",
     CHALLENGE_PRESENT, false},
    {"no request", "{}", -EINVAL, "request is missing", CHALLENGE_PRESENT,
     false},
    {"request null", "{\"request\":null}", -EINVAL, "request is missing",
     CHALLENGE_PRESENT, false},
    {"request a list", "{\"request\":[]}", -EINVAL,
     "request must be an object, got a list", CHALLENGE_PRESENT, false},
    {"wrong kind", "{\"kind\":\"Secret\",\"request\":{}}", -EINVAL,
     "kind must be ChallengePayload, got \"Secret\"", CHALLENGE_PRESENT, false},
    {"kind a number", "{\"kind\":1,\"request\":{}}", -EINVAL,
     "kind must be a string, got an integer", CHALLENGE_PRESENT, false},
    {"wrong apiVersion", "{\"apiVersion\":\"v1\",\"request\":{}}", -EINVAL,
     "apiVersion must be webhook.acme.cert-manager.io/v1alpha1",
     CHALLENGE_PRESENT, false},
    {"action missing", REQ_WITHOUT_ACTION, -EINVAL, "request.action is missing",
     CHALLENGE_PRESENT, false},
    {"key missing", REQ_WITHOUT_KEY, -EINVAL, "request.key is missing",
     CHALLENGE_PRESENT, false},
    {"namespace missing", REQ_WITHOUT_NS, -EINVAL,
     "request.resourceNamespace is missing", CHALLENGE_PRESENT, false},
    {"fqdn missing", REQ_WITHOUT_FQDN, -EINVAL,
     "request.resolvedFQDN is missing", CHALLENGE_PRESENT, false},
    {"action a number",
     "{\"request\":{\"action\":5,\"key\":\"k\",\"resourceNamespace\":\"n\","
     "\"resolvedFQDN\":\"f.\"}}",
     -EINVAL, "request.action must be a string, got an integer",
     CHALLENGE_PRESENT, false},
    {"action unknown",
     "{\"request\":{\"action\":\"Delete\",\"key\":\"k\","
     "\"resourceNamespace\":\"n\",\"resolvedFQDN\":\"f.\"}}",
     -EINVAL, "request.action must be Present or CleanUp, got \"Delete\"",
     CHALLENGE_PRESENT, false},
    {"action wrong case",
     "{\"request\":{\"action\":\"present\",\"key\":\"k\","
     "\"resourceNamespace\":\"n\",\"resolvedFQDN\":\"f.\"}}",
     -EINVAL, "must be Present or CleanUp", CHALLENGE_PRESENT, false},
    {"key empty",
     "{\"request\":{\"action\":\"Present\",\"key\":\"\","
     "\"resourceNamespace\":\"n\",\"resolvedFQDN\":\"f.\"}}",
     -EINVAL, "request.key must not be empty", CHALLENGE_PRESENT, false},
    {"key a list",
     "{\"request\":{\"action\":\"Present\",\"key\":[\"k\"],"
     "\"resourceNamespace\":\"n\",\"resolvedFQDN\":\"f.\"}}",
     -EINVAL, "request.key must be a string, got a list", CHALLENGE_PRESENT,
     false},
    {"fqdn a boolean",
     "{\"request\":{\"action\":\"Present\",\"key\":\"k\","
     "\"resourceNamespace\":\"n\",\"resolvedFQDN\":true}}",
     -EINVAL, "request.resolvedFQDN must be a string, got a boolean",
     CHALLENGE_PRESENT, false},
    {"zone a number",
     "{\"request\":{\"action\":\"Present\",\"key\":\"k\","
     "\"resourceNamespace\":\"n\",\"resolvedFQDN\":\"f.\","
     "\"resolvedZone\":1.5}}",
     -EINVAL, "request.resolvedZone must be a string, got a number",
     CHALLENGE_PRESENT, false},
    {"uid an object",
     "{\"request\":{\"uid\":{},\"action\":\"Present\",\"key\":\"k\","
     "\"resourceNamespace\":\"n\",\"resolvedFQDN\":\"f.\"}}",
     -EINVAL, "request.uid must be a string, got an object", CHALLENGE_PRESENT,
     false},
    {"type http-01",
     "{\"request\":{\"type\":\"http-01\",\"action\":\"Present\","
     "\"key\":\"k\",\"resourceNamespace\":\"n\",\"resolvedFQDN\":\"f.\"}}",
     -EINVAL, "request.type must be dns-01, got \"http-01\"", CHALLENGE_PRESENT,
     false},
    {"allowAmbientCredentials a string",
     "{\"request\":{\"action\":\"Present\",\"key\":\"k\","
     "\"resourceNamespace\":\"n\",\"resolvedFQDN\":\"f.\","
     "\"allowAmbientCredentials\":\"yes\"}}",
     -EINVAL,
     "request.allowAmbientCredentials must be a boolean, got a "
     "string",
     CHALLENGE_PRESENT, false},
    {"config a string",
     "{\"request\":{\"action\":\"Present\",\"key\":\"k\","
     "\"resourceNamespace\":\"n\",\"resolvedFQDN\":\"f.\",\"config\":"
     "\"nameserver=1.2.3.4\"}}",
     -EINVAL, "request.config must be an object, got a string",
     CHALLENGE_PRESENT, false},
    {"config a list",
     "{\"request\":{\"action\":\"Present\",\"key\":\"k\","
     "\"resourceNamespace\":\"n\",\"resolvedFQDN\":\"f.\",\"config\":[]}}",
     -EINVAL, "request.config must be an object, got a list", CHALLENGE_PRESENT,
     false},
    {"duplicate top-level key", "{\"request\":{},\"request\":{}}", -EINVAL,
     "duplicate", CHALLENGE_PRESENT, false},
    {"duplicate key in config",
     "{\"request\":{\"action\":\"Present\",\"key\":\"k\","
     "\"resourceNamespace\":\"n\",\"resolvedFQDN\":\"f.\",\"config\":"
     "{\"ttl\":1,\"ttl\":2}}}",
     -EINVAL, "duplicate", CHALLENGE_PRESENT, false},
    {"NUL inside a string",
     "{\"request\":{\"action\":\"Present\",\"key\":\"k\\u0000x\","
     "\"resourceNamespace\":\"n\",\"resolvedFQDN\":\"f.\"}}",
     -EINVAL, "not valid JSON", CHALLENGE_PRESENT, false},
    {"invalid UTF-8",
     "{\"request\":{\"action\":\"Present\",\"key\":\"k\xff\","
     "\"resourceNamespace\":\"n\",\"resolvedFQDN\":\"f.\"}}",
     -EINVAL, "not valid JSON", CHALLENGE_PRESENT, false},
    /* Built by the test: see big_body(). */
    {"nesting 33 deep", NULL, -EINVAL, "deeper than 32 levels",
     CHALLENGE_PRESENT, false},
    {"nesting 20000 deep", NULL, -EINVAL, "deeper than 32 levels",
     CHALLENGE_PRESENT, false},
    {"key of 4097 bytes", NULL, -EINVAL,
     "request.key is too long (4097 bytes, at most 4096)", CHALLENGE_PRESENT,
     false},
    {"key of 4096 bytes", NULL, 0, NULL, CHALLENGE_PRESENT, false},
    {"uid of 100 kB", NULL, -EINVAL, "request.uid is too long",
     CHALLENGE_PRESENT, false},
    {"body over 1 MiB", NULL, -EINVAL, "the body is too large",
     CHALLENGE_PRESENT, false},
    {"fqdn of 256 bytes", NULL, -EINVAL, "request.resolvedFQDN is too long",
     CHALLENGE_PRESENT, false},
};

/* Bodies too large to write out: the rows above whose body is NULL. */
static char *big_body(const char *name)
{
	size_t n = 0;
	const char *field = "key";
	char *body;
	char *p;

	if (strncmp(name, "nesting ", 8) == 0) {
		size_t depth = strtoul(name + 8, NULL, 10);

		/* config nests at level 2, so depth - 2 more open it. */
		body = malloc(200 + 4 * depth);
		assert_non_null(body);
		p = body + snprintf(body, 200,
				    "{\"request\":{\"action\":\"Present\","
				    "\"key\":\"k\",\"resourceNamespace\":\"n\","
				    "\"resolvedFQDN\":\"f.\",\"config\":");
		for (size_t i = 0; i < depth - 2; i++)
			*p++ = '[';
		for (size_t i = 0; i < depth - 2; i++)
			*p++ = ']';
		memcpy(p, "}}", 3);
		return body;
	}
	if (strcmp(name, "key of 4097 bytes") == 0)
		n = 4097;
	else if (strcmp(name, "key of 4096 bytes") == 0)
		n = 4096;
	else if (strcmp(name, "uid of 100 kB") == 0)
		n = 100000, field = "uid";
	else if (strcmp(name, "body over 1 MiB") == 0)
		n = CODEC_BODY_MAX, field = "dnsName";
	else if (strcmp(name, "fqdn of 256 bytes") == 0)
		n = 256, field = "resolvedFQDN";
	assert_true(n > 0);
	body = malloc(n + 300);
	assert_non_null(body);
	p = body + snprintf(body, 300, "{\"request\":{\"%s\":\"", field);
	memset(p, 'a', n);
	p += n;
	snprintf(p, 300,
		 "\",\"action\":\"Present\",\"%s\":\"k\","
		 "\"resourceNamespace\":\"n\"%s}}",
		 strcmp(field, "key") == 0 ? "uid" : "key",
		 strcmp(field, "resolvedFQDN") == 0
		     ? ""
		     : ",\"resolvedFQDN\":\"f.\"");
	return body;
}

static void test_decode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]);
	     i++) {
		const struct decode_case *c = &decode_cases[i];
		char *built = c->body == NULL ? big_body(c->name) : NULL;
		const char *body = built != NULL ? built : c->body;
		struct challenge ch;
		char err[512] = "";
		int ret;

		ret =
		    challenge_decode(&ch, body, strlen(body), err, sizeof(err));
		if (ret != c->ret ||
		    (c->err != NULL && strstr(err, c->err) == NULL)) {
			print_error("case \"%s\": ret %d (want %d), err \"%s\" "
				    "(want \"%s\")\n",
				    c->name, ret, c->ret, err,
				    c->err ? c->err : "");
			fail();
		}
		if (ret == 0) {
			assert_int_equal(ch.action, c->action);
			assert_int_equal(ch.config != NULL, c->has_config);
			assert_non_null(ch.uid);
			assert_non_null(ch.type);
			assert_non_null(ch.dns_name);
			assert_non_null(ch.resolved_zone);
			assert_true(ch.key[0] != '\0');
		} else {
			/* A failed decode leaves nothing to free. */
			assert_null(ch.key);
			assert_null(ch.config);
		}
		challenge_release(&ch);
		free(built);
	}
}

/* Field values of the contract's request land where they belong. */
static void test_decode_fields(void **state)
{
	struct challenge ch;
	char err[256];

	(void)state;
	assert_int_equal(challenge_decode(&ch, present_json,
					  strlen(present_json), err,
					  sizeof(err)),
			 0);
	assert_string_equal(ch.uid, "");
	assert_string_equal(ch.type, "dns-01");
	assert_string_equal(ch.dns_name, "example.org");
	assert_string_equal(ch.key,
			    "YJ9n0fX3d1vZQ0n9J0b6vV8m8m4m3K8QyN6kqk0m3Hc");
	assert_string_equal(ch.resource_namespace, "cert-manager");
	assert_string_equal(ch.resolved_fqdn, "_acme-challenge.example.org.");
	assert_string_equal(ch.resolved_zone, "example.org.");
	assert_false(ch.allow_ambient_credentials);
	assert_string_equal(
	    json_string_value(json_object_get(ch.config, "nameserver")),
	    "10.0.0.53:53");
	challenge_release(&ch);
	/* Release is idempotent and NULL-safe. */
	challenge_release(&ch);
	challenge_release(NULL);
}

/* A body is not NUL-terminated: only @len bytes count. */
static void test_decode_length(void **state)
{
	struct challenge ch;
	char err[256];
	char *body = malloc(sizeof(present_json) + 10);

	(void)state;
	assert_non_null(body);
	memcpy(body, present_json, strlen(present_json));
	memcpy(body + strlen(present_json), "garbage!!", 9);
	assert_int_equal(
	    challenge_decode(&ch, body, strlen(present_json), err, sizeof(err)),
	    0);
	challenge_release(&ch);
	free(body);
}

static json_t *parse(const char *text, size_t len)
{
	json_error_t jerr;
	json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);

	if (v == NULL)
		print_error("not JSON: %s\n", jerr.text);
	assert_non_null(v);
	return v;
}

struct encode_case {
	const char *name;
	bool success;
	const char *message;
	const char *want_json;	  /* whole expected body, or NULL */
	const char *want_message; /* expected status.message, or NULL */
};

static const struct encode_case encode_cases[] = {
    {"contract success", true, NULL, success_json, NULL},
    {"success ignores a message", true, "fine", success_json, NULL},
    {"contract failure", false, failure_message, failure_json, failure_message},
    {"failure without message", false, NULL, NULL,
     "the solver failed without saying why; see the webhook's log"},
    {"failure with empty message", false, "", NULL,
     "the solver failed without saying why; see the webhook's log"},
    {"failure with invalid UTF-8", false, "bad \xff\xfe bytes", NULL,
     "bad ?? bytes"},
    {"failure with quotes", false, "key \"a\"\n\\", NULL, "key \"a\"\n\\"},
};

static void test_encode(void **state)
{
	struct challenge ch;
	char err[256];

	(void)state;
	assert_int_equal(challenge_decode(&ch, present_json,
					  strlen(present_json), err,
					  sizeof(err)),
			 0);
	for (size_t i = 0; i < sizeof(encode_cases) / sizeof(encode_cases[0]);
	     i++) {
		const struct encode_case *c = &encode_cases[i];
		json_t *got;
		json_t *resp;
		json_t *status;
		char *out = NULL;
		size_t outlen = 0;

		assert_int_equal(challenge_encode(&ch, c->success, c->message,
						  &out, &outlen),
				 0);
		assert_int_equal(outlen, strlen(out));
		got = parse(out, outlen);
		if (c->want_json != NULL) {
			json_t *want =
			    parse(c->want_json, strlen(c->want_json));

			if (!json_equal(got, want)) {
				print_error("case \"%s\": got %s\n", c->name,
					    out);
				fail();
			}
			json_decref(want);
		}
		resp = json_object_get(got, "response");
		assert_true(json_is_boolean(json_object_get(resp, "success")));
		assert_int_equal(json_is_true(json_object_get(resp, "success")),
				 c->success);
		/* The config is never echoed back. */
		assert_null(
		    json_object_get(json_object_get(got, "request"), "config"));
		status = json_object_get(resp, "status");
		if (c->success) {
			assert_null(status);
		} else {
			assert_string_equal(json_string_value(json_object_get(
						status, "status")),
					    "Failure");
			assert_true(json_is_object(
			    json_object_get(status, "metadata")));
			assert_string_equal(json_string_value(json_object_get(
						status, "message")),
					    c->want_message);
		}
		json_decref(got);
		free(out);
	}
	challenge_release(&ch);
}

struct status_case {
	int code;
	const char *message;
	const char *want;
};

static const struct status_case status_cases[] = {
    {400, "invalid ChallengePayload: request is missing",
     "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
     "\"status\":\"Failure\",\"message\":\"invalid ChallengePayload: "
     "request is missing\",\"reason\":\"BadRequest\",\"code\":400}"},
    {404, "the server could not find the requested resource",
     "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
     "\"status\":\"Failure\",\"message\":\"the server could not find the "
     "requested resource\",\"reason\":\"NotFound\",\"code\":404}"},
    {500, "x\xff",
     "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
     "\"status\":\"Failure\",\"message\":\"x?\",\"reason\":"
     "\"InternalError\","
     "\"code\":500}"},
};

static void test_status(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]);
	     i++) {
		const struct status_case *c = &status_cases[i];
		char *out = NULL;
		size_t outlen = 0;
		json_t *got;
		json_t *want;

		assert_int_equal(
		    codec_status_encode(c->code, c->message, &out, &outlen), 0);
		got = parse(out, outlen);
		want = parse(c->want, strlen(c->want));
		if (!json_equal(got, want)) {
			print_error("status %d: got %s\n", c->code, out);
			fail();
		}
		json_decref(got);
		json_decref(want);
		free(out);
	}
}

/* Round trip: what we encode decodes to the same request. */
static void test_round_trip(void **state)
{
	struct challenge a;
	struct challenge b;
	char err[256];
	char *out;
	size_t outlen;

	(void)state;
	assert_int_equal(challenge_decode(&a, present_json,
					  strlen(present_json), err,
					  sizeof(err)),
			 0);
	assert_int_equal(challenge_encode(&a, true, NULL, &out, &outlen), 0);
	assert_int_equal(challenge_decode(&b, out, outlen, err, sizeof(err)),
			 0);
	assert_string_equal(a.key, b.key);
	assert_string_equal(a.resolved_fqdn, b.resolved_fqdn);
	assert_int_equal(a.action, b.action);
	free(out);
	challenge_release(&a);
	challenge_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decode),
	    cmocka_unit_test(test_decode_fields),
	    cmocka_unit_test(test_decode_length),
	    cmocka_unit_test(test_encode),
	    cmocka_unit_test(test_status),
	    cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
