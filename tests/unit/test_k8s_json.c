/*
 * test_k8s_json.c - the k8s/ codecs from tables: strict base64, Secret and
 * ConfigMap bodies, SubjectAccessReview requests and answers, Status
 * messages, and the error texts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "k8s/k8s_internal.h"
#include "util/file.h"

struct b64_case {
	const char *in;
	int ret;
	const char *out;
	size_t outlen;
};

static const struct b64_case b64_cases[] = {
    {"", 0, "", 0},
    {"eA==", 0, "x", 1},
    {"eHk=", 0, "xy", 2},
    {"eHl6", 0, "xyz", 3},
    {"AP8A", 0, "\x00\xff\x00", 3},
    {"c2VjcmV0", 0, "secret", 6},
    {"eA", -EINVAL, NULL, 0},	    /* unpadded */
    {"eA=", -EINVAL, NULL, 0},	    /* short */
    {"e===", -EINVAL, NULL, 0},	    /* too much padding */
    {"eA==eA==", -EINVAL, NULL, 0}, /* data after padding */
    {"eB==", -EINVAL, NULL, 0},	    /* non-canonical trailing bits */
    {"e!==", -EINVAL, NULL, 0},
    {"eA-_", -EINVAL, NULL, 0}, /* URL alphabet */
    {"eA= ", -EINVAL, NULL, 0},
};

static void test_base64(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		const struct b64_case *c = &b64_cases[i];
		uint8_t *out = NULL;
		size_t len = 99;
		int ret = k8s_base64_decode(c->in, strlen(c->in), &out, &len);

		print_message("base64 '%s'\n", c->in);
		assert_int_equal(ret, c->ret);
		if (ret != 0) {
			assert_null(out);
			continue;
		}
		assert_int_equal(len, c->outlen);
		assert_memory_equal(out, c->out, len);
		assert_int_equal(out[len], 0);
		util_wipe_free(out, len);
	}
}

struct secret_case {
	const char *body;
	const char *key;
	int ret;
	const char *value; /* or err substring */
};

static const struct secret_case secret_cases[] = {
    {"{\"kind\":\"Secret\",\"data\":{\"secret\":\"c2VjcmV0\"}}", "secret", 0,
     "secret"},
    {"{\"data\":{\"k\":\"\"}}", "k", 0, ""},
    {"{\"kind\":\"Secret\",\"data\":{\"a\":\"eA==\",\"b\":\"eA==\"}}", "c",
     K8S_ENOKEY, "Secret ns/n has no key 'c' (keys: a, b)"},
    {"{\"kind\":\"Secret\"}", "c", K8S_ENOKEY, "(keys: none)"},
    {"{\"kind\":\"Secret\",\"data\":null}", "c", K8S_ENOKEY, "(keys: none)"},
    {"{\"kind\":\"Secret\",\"data\":[]}", "c", K8S_ERESPONSE,
     "data field that is not an object"},
    {"{\"kind\":\"Secret\",\"data\":{\"c\":1}}", "c", K8S_ERESPONSE,
     "data.c is not a string"},
    {"{\"kind\":\"Secret\",\"data\":{\"c\":\"c2VjcmV0c2VjcmV0!\"}}", "c",
     K8S_ERESPONSE, "data.c is not valid base64"},
    {"{\"kind\":\"Status\"}", "c", K8S_ERESPONSE, "not a Secret but a Status"},
    {"{\"kind\":5}", "c", K8S_ERESPONSE, "not a Secret"},
    {"{\"a\":1,\"a\":2}", "c", K8S_ERESPONSE, "not valid JSON"},
    {"", "c", K8S_ERESPONSE, "not valid JSON"},
    {"\"text\"", "c", K8S_ERESPONSE, "not valid JSON"},
    {"[]", "c", K8S_ERESPONSE, "not a JSON object"},
};

static void test_secret_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(secret_cases) / sizeof(secret_cases[0]);
	     i++) {
		const struct secret_case *c = &secret_cases[i];
		uint8_t *v = NULL;
		size_t len = 0;
		char err[256] = "";
		int ret;

		print_message("secret %s\n", c->body);
		ret = k8s_secret_parse(c->body, strlen(c->body), "ns", "n",
				       c->key, &v, &len, err, sizeof(err));
		assert_int_equal(ret, c->ret);
		if (ret == 0) {
			assert_int_equal(len, strlen(c->value));
			assert_memory_equal(v, c->value, len);
			k8s_secret_free(v, len);
		} else {
			assert_null(v);
			if (strstr(err, c->value) == NULL) {
				fail_msg("err '%s' lacks '%s'", err, c->value);
			}
			/* the secret's base64 text is never quoted */
			assert_null(strstr(err, "c2VjcmV0"));
		}
	}
}

static void test_configmap_parse(void **state)
{
	static const char body[] = "{\"kind\":\"ConfigMap\",\"data\":{"
				   "\"client-ca-file\":\"PEM\","
				   "\"names\":\"[\\\"a\\\"]\"}}";
	char *v = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(k8s_configmap_parse(body, strlen(body), "kube-system",
					     "x", "names", &v, err,
					     sizeof(err)),
			 0);
	assert_string_equal(v, "[\"a\"]");
	free(v);
	assert_int_equal(k8s_configmap_parse(body, strlen(body), "kube-system",
					     "x", "nope", &v, err, sizeof(err)),
			 K8S_ENOKEY);
	assert_null(v);
	assert_string_equal(err, "ConfigMap kube-system/x has no key 'nope' "
				 "(keys: client-ca-file, names)");
}

struct review_case {
	const char *body;
	int ret;
	bool allowed;
	const char *text; /* reason, or err substring */
};

static const struct review_case review_cases[] = {
    {"{\"kind\":\"SubjectAccessReview\",\"status\":{\"allowed\":true,"
     "\"reason\":\"RBAC: ok\"}}",
     0, true, "RBAC: ok"},
    {"{\"status\":{\"allowed\":false}}", 0, false, ""},
    {"{\"status\":{\"allowed\":true,\"denied\":true,\"reason\":\"no\"}}", 0,
     false, "no"},
    {"{\"status\":{\"allowed\":false,\"evaluationError\":\"boom\"}}", 0, false,
     "boom"},
    {"{\"status\":{\"allowed\":false,\"reason\":\"r\","
     "\"evaluationError\":\"e\"}}",
     0, false, "r"},
    {"{\"status\":{}}", K8S_ERESPONSE, false, "no boolean status.allowed"},
    {"{\"status\":{\"allowed\":1}}", K8S_ERESPONSE, false, "status.allowed"},
    {"{\"status\":{\"allowed\":true,\"denied\":\"x\"}}", K8S_ERESPONSE, false,
     "status.allowed"},
    {"{\"spec\":{}}", K8S_ERESPONSE, false, "status.allowed"},
    {"{\"kind\":\"Status\",\"status\":{\"allowed\":true}}", K8S_ERESPONSE,
     false, "not a SubjectAccessReview"},
    {"nope", K8S_ERESPONSE, false, "not valid JSON"},
};

static void test_review_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(review_cases) / sizeof(review_cases[0]);
	     i++) {
		const struct review_case *c = &review_cases[i];
		bool allowed = !c->allowed;
		char reason[64] = "x";
		char err[256] = "";
		int ret;

		print_message("review %s\n", c->body);
		ret =
		    k8s_review_parse(c->body, strlen(c->body), &allowed, reason,
				     sizeof(reason), err, sizeof(err));
		assert_int_equal(ret, c->ret);
		assert_int_equal(allowed, c->allowed);
		if (ret == 0) {
			assert_string_equal(reason, c->text);
		} else if (strstr(err, c->text) == NULL) {
			fail_msg("err '%s' lacks '%s'", err, c->text);
		}
	}
}

static void test_review_body(void **state)
{
	const char *groups[] = {"g1", "system:authenticated"};
	const char *keys[] = {"a/b", "scopes", "scopes"};
	const char *vals[] = {"1", "x", "y"};
	struct k8s_review r = {.user = "alice",
			       .uid = "u-1",
			       .groups = groups,
			       .ngroups = 2,
			       .extra_keys = keys,
			       .extra_values = vals,
			       .nextra = 3,
			       .verb = "create",
			       .group = "acme.example.org",
			       .version = "v1alpha1",
			       .resource = "rfc2136"};
	struct k8s_review nr = {.user = "bob", .verb = "get", .path = "/apis"};
	struct k8s_review bad = {.user = "bob", .verb = "get"};
	char err[256] = "";
	char *body;

	(void)state;
	body = k8s_review_body(&r, err, sizeof(err));
	assert_non_null(body);
	assert_string_equal(
	    body,
	    "{\"spec\":{\"resourceAttributes\":{\"verb\":\"create\","
	    "\"group\":\"acme.example.org\",\"version\":\"v1alpha1\","
	    "\"resource\":\"rfc2136\"},\"groups\":[\"g1\","
	    "\"system:authenticated\"],\"user\":\"alice\",\"uid\":\"u-1\","
	    "\"extra\":{\"a/b\":[\"1\"],\"scopes\":[\"x\",\"y\"]}},"
	    "\"apiVersion\":\"authorization.k8s.io/v1\","
	    "\"kind\":\"SubjectAccessReview\"}");
	free(body);
	body = k8s_review_body(&nr, err, sizeof(err));
	assert_non_null(body);
	assert_string_equal(body,
			    "{\"spec\":{\"nonResourceAttributes\":{\"verb\":"
			    "\"get\",\"path\":\"/apis\"},\"groups\":[],"
			    "\"user\":\"bob\"},\"apiVersion\":"
			    "\"authorization.k8s.io/v1\",\"kind\":"
			    "\"SubjectAccessReview\"}");
	free(body);
	assert_null(k8s_review_body(&bad, err, sizeof(err)));
	assert_non_null(strstr(err, "needs a user, a verb and a resource"));
	assert_null(k8s_review_body(NULL, err, sizeof(err)));
}

struct status_case {
	const char *body;
	const char *msg;
};

static const struct status_case status_cases[] = {
    {"{\"kind\":\"Status\",\"message\":\"secrets \\\"x\\\" is forbidden\","
     "\"code\":403}",
     "secrets \"x\" is forbidden"},
    {"{\"kind\":\"Status\",\"message\":\"a\\nb\\u00e9\"}", "a?b??"},
    {"{\"message\":\"not a Status\"}", ""},
    {"garbage", ""},
    {"", ""},
};

static void test_status_message(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]);
	     i++) {
		char out[128] = "x";

		k8s_status_message(status_cases[i].body,
				   strlen(status_cases[i].body), out,
				   sizeof(out));
		assert_string_equal(out, status_cases[i].msg);
	}
}

static void test_strerror(void **state)
{
	(void)state;
	for (int code = K8S_ECONFIG; code < K8S_ELAST; code++) {
		assert_non_null(k8s_strerror(code));
		assert_string_not_equal(k8s_strerror(code), "unknown error");
	}
	assert_string_equal(k8s_strerror(0), "success");
	assert_string_equal(k8s_strerror(-ENOENT), strerror(ENOENT));
	assert_string_equal(k8s_strerror(K8S_ELAST), "unknown error");
	assert_string_equal(k8s_strerror(-5000), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_secret_parse),
	    cmocka_unit_test(test_configmap_parse),
	    cmocka_unit_test(test_review_parse),
	    cmocka_unit_test(test_review_body),
	    cmocka_unit_test(test_status_message),
	    cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests_name("k8s_json", tests, NULL, NULL);
}
