/*
 * test_auth.c - request-header authentication from tables: which client
 * certificates are trusted (chain, purpose, CN allow list, validity), which
 * headers name the user, and Kubernetes' wording of a denial.  The
 * certificates are made here with GnuTLS, fresh for each run.
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
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>

#include "server/auth.h"

struct cert {
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
};

static void cert_make(struct cert *c, const char *cn, const struct cert *issuer,
		      bool ca, const char *eku, time_t not_before,
		      time_t not_after)
{
	unsigned char serial[8], id[64];
	size_t idlen = sizeof(id);

	assert_int_equal(gnutls_x509_privkey_init(&c->key), 0);
	assert_int_equal(gnutls_x509_privkey_generate(
			     c->key, GNUTLS_PK_ECDSA,
			     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
			     0),
			 0);
	assert_int_equal(gnutls_x509_crt_init(&c->crt), 0);
	gnutls_x509_crt_set_version(c->crt, 3);
	assert_int_equal(gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)),
			 0);
	serial[0] &= 0x7f;
	gnutls_x509_crt_set_serial(c->crt, serial, sizeof(serial));
	assert_int_equal(
	    gnutls_x509_crt_set_dn_by_oid(c->crt, GNUTLS_OID_X520_COMMON_NAME,
					  0, cn, (unsigned)strlen(cn)),
	    0);
	assert_int_equal(gnutls_x509_crt_set_key(c->crt, c->key), 0);
	gnutls_x509_crt_set_activation_time(c->crt, not_before);
	gnutls_x509_crt_set_expiration_time(c->crt, not_after);
	gnutls_x509_crt_set_basic_constraints(c->crt, ca, -1);
	gnutls_x509_crt_set_key_usage(
	    c->crt, ca ? GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN
		       : GNUTLS_KEY_DIGITAL_SIGNATURE);
	if (eku != NULL)
		assert_int_equal(
		    gnutls_x509_crt_set_key_purpose_oid(c->crt, eku, 0), 0);
	assert_int_equal(gnutls_x509_crt_get_key_id(c->crt, 0, id, &idlen), 0);
	gnutls_x509_crt_set_subject_key_id(c->crt, id, idlen);
	if (issuer != NULL) {
		idlen = sizeof(id);
		assert_int_equal(
		    gnutls_x509_crt_get_key_id(issuer->crt, 0, id, &idlen), 0);
		gnutls_x509_crt_set_authority_key_id(c->crt, id, idlen);
	}
	assert_int_equal(gnutls_x509_crt_sign2(c->crt,
					       issuer ? issuer->crt : c->crt,
					       issuer ? issuer->key : c->key,
					       GNUTLS_DIG_SHA256, 0),
			 0);
}

static void cert_free(struct cert *c)
{
	gnutls_x509_crt_deinit(c->crt);
	gnutls_x509_privkey_deinit(c->key);
}

static gnutls_datum_t cert_export(const struct cert *c,
				  gnutls_x509_crt_fmt_t fmt)
{
	gnutls_datum_t d = {NULL, 0};
	assert_int_equal(gnutls_x509_crt_export2(c->crt, fmt, &d), 0);
	return d;
}

enum leaf {
	LEAF_CLIENT,
	LEAF_SERVER,
	LEAF_NO_EKU,
	LEAF_BOTH_EKU,
	LEAF_OTHER_CA,
	LEAF_INTRUDER,
	LEAF_EXPIRED,
	LEAF_NOT_YET,
	LEAF_VIA_INTERMEDIATE,
	LEAF_COUNT
};

static struct cert ca, other_ca, intermediate, leaves[LEAF_COUNT];

static int setup(void **state)
{
	time_t now = time(NULL);
	time_t day = 86400;

	(void)state;
	cert_make(&ca, "front-proxy-ca", NULL, true, NULL, now - day,
		  now + day);
	cert_make(&other_ca, "front-proxy-ca", NULL, true, NULL, now - day,
		  now + day);
	cert_make(&intermediate, "intermediate", &ca, true, NULL, now - day,
		  now + day);
	cert_make(&leaves[LEAF_CLIENT], "front-proxy-client", &ca, false,
		  GNUTLS_KP_TLS_WWW_CLIENT, now - day, now + day);
	cert_make(&leaves[LEAF_SERVER], "front-proxy-client", &ca, false,
		  GNUTLS_KP_TLS_WWW_SERVER, now - day, now + day);
	cert_make(&leaves[LEAF_NO_EKU], "front-proxy-client", &ca, false, NULL,
		  now - day, now + day);
	cert_make(&leaves[LEAF_BOTH_EKU], "front-proxy-client", &ca, false,
		  GNUTLS_KP_TLS_WWW_SERVER, now - day, now + day);
	assert_int_equal(
	    gnutls_x509_crt_set_key_purpose_oid(leaves[LEAF_BOTH_EKU].crt,
						GNUTLS_KP_TLS_WWW_CLIENT, 0),
	    0);
	assert_int_equal(gnutls_x509_crt_sign2(leaves[LEAF_BOTH_EKU].crt,
					       ca.crt, ca.key,
					       GNUTLS_DIG_SHA256, 0),
			 0);
	cert_make(&leaves[LEAF_OTHER_CA], "front-proxy-client", &other_ca,
		  false, GNUTLS_KP_TLS_WWW_CLIENT, now - day, now + day);
	cert_make(&leaves[LEAF_INTRUDER], "intruder", &ca, false,
		  GNUTLS_KP_TLS_WWW_CLIENT, now - day, now + day);
	cert_make(&leaves[LEAF_EXPIRED], "front-proxy-client", &ca, false,
		  GNUTLS_KP_TLS_WWW_CLIENT, now - 3 * day, now - day);
	cert_make(&leaves[LEAF_NOT_YET], "front-proxy-client", &ca, false,
		  GNUTLS_KP_TLS_WWW_CLIENT, now + day, now + 3 * day);
	cert_make(&leaves[LEAF_VIA_INTERMEDIATE], "front-proxy-client",
		  &intermediate, false, GNUTLS_KP_TLS_WWW_CLIENT, now - day,
		  now + day);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < LEAF_COUNT; i++)
		cert_free(&leaves[i]);
	cert_free(&intermediate);
	cert_free(&other_ca);
	cert_free(&ca);
	return 0;
}

static const struct {
	const char *name;
	enum leaf leaf;
	const char *allowed; /* --requestheader-allowed-names */
	bool with_ca;	     /* a CA is loaded */
	int want;
} verify_cases[] = {
    {"client cert", LEAF_CLIENT, NULL, true, 0},
    {"client cert, CN allowed", LEAF_CLIENT, "aggregator, front-proxy-client",
     true, 0},
    {"client cert, CN not allowed", LEAF_CLIENT, "aggregator", true,
     AUTH_ENAME},
    {"CN allowed names compare exactly", LEAF_CLIENT, "front-proxy", true,
     AUTH_ENAME},
    {"intruder, any name", LEAF_INTRUDER, NULL, true, 0},
    {"intruder, names set", LEAF_INTRUDER, "front-proxy-client", true,
     AUTH_ENAME},
    {"serverAuth only", LEAF_SERVER, NULL, true, AUTH_EPURPOSE},
    {"no EKU: any purpose", LEAF_NO_EKU, NULL, true, 0},
    {"serverAuth and clientAuth", LEAF_BOTH_EKU, NULL, true, 0},
    {"another CA", LEAF_OTHER_CA, NULL, true, AUTH_EUNTRUSTED},
    {"expired", LEAF_EXPIRED, NULL, true, AUTH_EUNTRUSTED},
    {"not yet valid", LEAF_NOT_YET, NULL, true, AUTH_EUNTRUSTED},
    {"via intermediate sent along", LEAF_VIA_INTERMEDIATE, NULL, true, 0},
    {"no CA loaded", LEAF_CLIENT, NULL, false, AUTH_ENOCA},
};

static void test_verify_chain(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(verify_cases) / sizeof(verify_cases[0]);
	     i++) {
		struct authn *a = NULL;
		struct authn_opts opts = {.allowed_names =
					      verify_cases[i].allowed};
		char err[256], why[256];
		gnutls_datum_t chain[2];
		unsigned n = 1;

		assert_int_equal(authn_new(&a, &opts, err, sizeof(err)), 0);
		if (verify_cases[i].with_ca) {
			gnutls_datum_t pem =
			    cert_export(&ca, GNUTLS_X509_FMT_PEM);
			assert_int_equal(authn_set_ca(a, (const char *)pem.data,
						      pem.size, err,
						      sizeof(err)),
					 0);
			gnutls_free(pem.data);
		}
		assert_int_equal(authn_has_ca(a), verify_cases[i].with_ca);
		chain[0] = cert_export(&leaves[verify_cases[i].leaf],
				       GNUTLS_X509_FMT_DER);
		if (verify_cases[i].leaf == LEAF_VIA_INTERMEDIATE) {
			chain[1] =
			    cert_export(&intermediate, GNUTLS_X509_FMT_DER);
			n = 2;
		}
		int got = authn_verify_chain(a, chain, n, why, sizeof(why));
		if (got != verify_cases[i].want)
			fail_msg("%s: got %d (%s), want %d",
				 verify_cases[i].name, got, why,
				 verify_cases[i].want);
		for (unsigned j = 0; j < n; j++)
			gnutls_free(chain[j].data);
		authn_free(a);
	}
}

static void test_verify_edge_inputs(void **state)
{
	struct authn *a = NULL;
	struct authn_opts opts = {0};
	char err[256], why[256];
	gnutls_datum_t junk = {(unsigned char *)"junk", 4};
	gnutls_datum_t pem = cert_export(&ca, GNUTLS_X509_FMT_PEM);
	unsigned gen;

	(void)state;
	assert_int_equal(authn_new(&a, &opts, err, sizeof(err)), 0);
	gen = authn_generation(a);
	assert_int_equal(
	    authn_set_ca(a, (const char *)pem.data, pem.size, err, sizeof(err)),
	    0);
	assert_true(authn_generation(a) != gen);
	assert_int_equal(authn_verify_chain(a, NULL, 0, why, sizeof(why)),
			 AUTH_ENOCERT);
	assert_int_equal(authn_verify_chain(a, &junk, 1, why, sizeof(why)),
			 AUTH_EBADCERT);
	assert_int_equal(authn_verify_session(a, NULL, why, sizeof(why)),
			 AUTH_ENOCERT);
	/* A bad new CA keeps the old one. */
	gen = authn_generation(a);
	assert_int_equal(authn_set_ca(a, "not a CA", 8, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(authn_generation(a), gen);
	assert_true(authn_has_ca(a));
	gnutls_free(pem.data);
	authn_free(a);
}

static void test_ca_file_errors(void **state)
{
	static const struct {
		const char *content; /* NULL: the file does not exist */
		int want;
		const char *text;
	} cases[] = {
	    {NULL, -ENOENT, "No such file"},
	    {"", -EINVAL, "no CA certificate"},
	    {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	     -EINVAL, "no CA certificate"},
	};
	char path[] = "/tmp/test_auth_caXXXXXX";

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct authn *a = NULL;
		char err[512];
		int fd = mkstemp(path);
		assert_true(fd >= 0);
		if (cases[i].content != NULL)
			assert_int_equal(write(fd, cases[i].content,
					       strlen(cases[i].content)),
					 (ssize_t)strlen(cases[i].content));
		close(fd);
		if (cases[i].content == NULL)
			unlink(path);
		struct authn_opts opts = {.ca_file = path};
		assert_int_equal(authn_new(&a, &opts, err, sizeof(err)),
				 cases[i].want);
		assert_null(a);
		assert_non_null(strstr(err, path));
		assert_non_null(strstr(err, cases[i].text));
		unlink(path);
		memcpy(path + strlen(path) - 6, "XXXXXX", 6);
	}

	/* Over the cap: refused before it is parsed. */
	struct authn *a = NULL;
	char err[512];
	size_t big = 1024 * 1024 + 1;
	char *junk = malloc(big);
	int fd = mkstemp(path);
	assert_non_null(junk);
	assert_true(fd >= 0);
	memset(junk, 'A', big);
	assert_int_equal(write(fd, junk, big), (ssize_t)big);
	close(fd);
	struct authn_opts opts = {.ca_file = path};
	assert_int_equal(authn_new(&a, &opts, err, sizeof(err)), -EFBIG);
	assert_null(a);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "larger than 1 MiB"));
	unlink(path);
	free(junk);
}

/* Headers in, user out.  NULL-terminated name/value pairs per case. */
static const struct {
	const char *name;
	const char *headers[16];
	const char *user, *uid;
	const char *groups[4];
	const char *extra[6]; /* key, value, ... */
	const char *opts_user, *opts_prefix;
} header_cases[] = {
    {"the contract's headers",
     {"X-Remote-User", "system:serviceaccount:cert-manager:cert-manager",
      "X-Remote-Uid", "0b6e6a52", "X-Remote-Group", "system:serviceaccounts",
      "X-Remote-Group", "system:serviceaccounts:cert-manager",
      "X-Remote-Extra-Authentication.kubernetes.io%2fpod-Name",
      "cert-manager-6d5c9f7b8-x2x7q", "Content-Type", "application/json"},
     "system:serviceaccount:cert-manager:cert-manager",
     "0b6e6a52",
     {"system:serviceaccounts", "system:serviceaccounts:cert-manager"},
     {"authentication.kubernetes.io/pod-name", "cert-manager-6d5c9f7b8-x2x7q"},
     NULL,
     NULL},
    {"names are case-insensitive, first user wins",
     {"x-remote-user", "alice", "X-REMOTE-USER", "mallory", "x-remote-group",
      "g1"},
     "alice",
     NULL,
     {"g1"},
     {NULL},
     NULL,
     NULL},
    {"extra: lower-cased then decoded; bad escapes kept; repeats kept",
     {"X-Remote-User", "u", "X-Remote-Extra-Scopes", "a",
      "X-Remote-Extra-Scopes", "b", "X-Remote-Extra-Bad%zz", "v"},
     "u",
     NULL,
     {NULL},
     {"scopes", "a", "scopes", "b", "bad%zz", "v"},
     NULL,
     NULL},
    {"escaped upper case survives decoding",
     {"X-Remote-User", "u", "X-Remote-Extra-A%41", "v"},
     "u",
     NULL,
     {NULL},
     {"aA", "v"},
     NULL,
     NULL},
    {"bare prefix is no extra",
     {"X-Remote-User", "u", "X-Remote-Extra-", "v"},
     "u",
     NULL,
     {NULL},
     {NULL},
     NULL,
     NULL},
    {"other headers ignored",
     {"X-Remote-Users", "no", "Remote-User", "no", "X-Remote-Grou", "no"},
     NULL,
     NULL,
     {NULL},
     {NULL},
     NULL,
     NULL},
    {"custom header names",
     {"X-Remote-User", "default", "X-Proxy-User", "custom",
      "X-Proxy-Extra-Team", "dns"},
     "custom",
     NULL,
     {NULL},
     {"team", "dns"},
     "X-Proxy-User, X-Other-User",
     "X-Proxy-Extra-"},
};

static size_t count(const char *const *list, size_t max)
{
	size_t n = 0;
	while (n < max && list[n] != NULL)
		n++;
	return n;
}

static void test_headers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]);
	     i++) {
		struct authn *a = NULL;
		struct authn_opts opts = {
		    .username_headers = header_cases[i].opts_user,
		    .extra_prefixes = header_cases[i].opts_prefix,
		};
		struct auth_user u = {0};
		char err[256];
		const char *const *h = header_cases[i].headers;

		assert_int_equal(authn_new(&a, &opts, err, sizeof(err)), 0);
		for (size_t j = 0; h[j] != NULL; j += 2)
			assert_int_equal(authn_header(a, &u, h[j], h[j + 1]),
					 0);
		if (header_cases[i].user == NULL) {
			assert_null(u.name);
			assert_int_equal(auth_user_check(&u), AUTH_ENOUSER);
		} else {
			assert_string_equal(u.name, header_cases[i].user);
			assert_int_equal(auth_user_check(&u), 0);
		}
		if (header_cases[i].uid == NULL)
			assert_null(u.uid);
		else
			assert_string_equal(u.uid, header_cases[i].uid);
		size_t ng = count(header_cases[i].groups, 4);
		assert_int_equal(u.ngroups, ng);
		for (size_t j = 0; j < ng; j++)
			assert_string_equal(u.groups[j],
					    header_cases[i].groups[j]);
		size_t ne = count(header_cases[i].extra, 6) / 2;
		if (u.nextra != ne)
			fail_msg("%s: %zu extra, want %zu",
				 header_cases[i].name, u.nextra, ne);
		for (size_t j = 0; j < ne; j++) {
			assert_string_equal(u.extra_keys[j],
					    header_cases[i].extra[2 * j]);
			assert_string_equal(u.extra_values[j],
					    header_cases[i].extra[2 * j + 1]);
		}
		auth_user_release(&u);
		assert_null(u.name);
		assert_int_equal(u.ngroups, 0);
		auth_user_release(&u); /* twice is fine */
		authn_free(a);
	}
	auth_user_release(NULL);
	authn_free(NULL);
}

static void test_empty_user_header(void **state)
{
	struct authn *a = NULL;
	struct authn_opts opts = {0};
	struct auth_user u = {0};
	char err[64];

	(void)state;
	assert_int_equal(authn_new(&a, &opts, err, sizeof(err)), 0);
	assert_int_equal(authn_header(a, &u, "X-Remote-User", ""), 0);
	assert_int_equal(auth_user_check(&u), AUTH_ENOUSER);
	auth_user_release(&u);
	authn_free(a);
}

static void test_allow_authenticated(void **state)
{
	struct authz *z = NULL;
	struct auth_user u = {.name = (char *)"anyone"};
	struct authz_attrs attrs = {.verb = "get", .path = "/apis"};
	char reason[64];

	(void)state;
	assert_int_equal(authz_new(&z, AUTHZ_SUBJECT_ACCESS_REVIEW, NULL, 0),
			 -EINVAL);
	assert_null(z);
	assert_int_equal(authz_new(&z, AUTHZ_ALLOW_AUTHENTICATED, NULL, 0), 0);
	assert_int_equal(authz_check(z, &u, &attrs, reason, sizeof(reason)), 1);
	assert_int_equal(authz_reviews(z), 0);
	authz_free(z);
	authz_free(NULL);
}

static void test_forbidden_message(void **state)
{
	static const struct {
		struct authz_attrs attrs;
		const char *user, *reason, *want;
	} cases[] = {
	    {{.verb = "create",
	      .group = "acme.example.org",
	      .version = "v1alpha1",
	      .resource = "rfc2136"},
	     "system:serviceaccount:default:intruder",
	     "",
	     "rfc2136.acme.example.org is forbidden: User "
	     "\"system:serviceaccount:default:intruder\" cannot create "
	     "resource \"rfc2136\" in API group \"acme.example.org\" at the "
	     "cluster scope"},
	    {{.verb = "create",
	      .group = "acme.example.org",
	      .version = "v1alpha1",
	      .resource = "rfc2136"},
	     "bob",
	     "no RBAC policy matched",
	     "rfc2136.acme.example.org is forbidden: User \"bob\" cannot "
	     "create resource \"rfc2136\" in API group \"acme.example.org\" "
	     "at the cluster scope: no RBAC policy matched"},
	    {{.verb = "get", .path = "/apis/acme.example.org/v1alpha1"},
	     "system:kube-aggregator",
	     NULL,
	     "forbidden: User \"system:kube-aggregator\" cannot get path "
	     "\"/apis/acme.example.org/v1alpha1\""},
	};
	char buf[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct auth_user u = {.name = (char *)cases[i].user};
		assert_string_equal(authz_forbidden_message(&u, &cases[i].attrs,
							    cases[i].reason,
							    buf, sizeof(buf)),
				    cases[i].want);
	}
}

static void test_strerror(void **state)
{
	(void)state;
	for (int code = AUTH_ENOCA; code < AUTH_ELAST; code++) {
		const char *text = auth_strerror(code);
		assert_non_null(text);
		assert_true(strlen(text) > 5);
		assert_string_not_equal(text, "unknown error");
	}
	assert_string_equal(auth_strerror(-ENOMEM), strerror(ENOMEM));
	assert_string_equal(auth_strerror(AUTH_ELAST), "unknown error");
}

/* ConfigMap list values: JSON arrays of strings. */
static const struct {
	const char *json;
	int ret;
	size_t n;
	const char *items[3];
	const char *err; /* part of the error text */
} json_cases[] = {
    {"[\"X-Remote-User\"]", 0, 1, {"X-Remote-User"}, NULL},
    {"[\"a\", \"b\",\"c\"]", 0, 3, {"a", "b", "c"}, NULL},
    {"[\" padded \", \"\", \"  \"]", 0, 1, {"padded"}, NULL},
    {"[]", 0, 0, {NULL}, NULL},
    {"", 0, 0, {NULL}, NULL},
    {"  \n", 0, 0, {NULL}, NULL},
    {"null", 0, 0, {NULL}, NULL},
    {NULL, 0, 0, {NULL}, NULL},
    {"[\"front-proxy-client\",\"CN, with comma\"]",
     0,
     2,
     {"front-proxy-client", "CN, with comma"},
     NULL},
    {"\"X-Remote-User\"", -EINVAL, 0, {NULL}, "not a JSON array"},
    {"{\"a\": 1}", -EINVAL, 0, {NULL}, "not a JSON array"},
    {"[1]", -EINVAL, 0, {NULL}, "item 0 is not a string"},
    {"[\"a\", [\"b\"]]", -EINVAL, 0, {NULL}, "item 1 is not a string"},
    {"[\"a\\u0000b\"]", -EINVAL, 0, {NULL}, "NUL"},
    {"[\"a\"", -EINVAL, 0, {NULL}, "not JSON"},
    {"X-Remote-User", -EINVAL, 0, {NULL}, "not JSON"},
};

static void test_json_list(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]);
	     i++) {
		char **items = NULL, err[256] = "";
		size_t n = 99;
		int ret = auth_json_list(json_cases[i].json, &items, &n, err,
					 sizeof(err));
		print_message("case %zu: %s\n", i,
			      json_cases[i].json ? json_cases[i].json : "NULL");
		assert_int_equal(ret, json_cases[i].ret);
		if (ret < 0) {
			assert_null(items);
			assert_non_null(strstr(err, json_cases[i].err));
			continue;
		}
		assert_int_equal(n, json_cases[i].n);
		for (size_t j = 0; j < n; j++) {
			assert_string_equal(items[j], json_cases[i].items[j]);
			free(items[j]);
		}
		free(items);
	}
}

static void test_json_list_bounds(void **state)
{
	char big[AUTH_JSON_LIST_BYTES + 64], many[AUTH_JSON_LIST_MAX * 8];
	char **items = NULL, err[256];
	size_t n = 0, len = 0;

	(void)state;
	/* Too long in bytes. */
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '[';
	big[1] = '"';
	big[sizeof(big) - 3] = '"';
	big[sizeof(big) - 2] = ']';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(auth_json_list(big, &items, &n, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "longer than"));
	/* One item too many. */
	many[len++] = '[';
	for (int i = 0; i <= AUTH_JSON_LIST_MAX; i++)
		len += (size_t)snprintf(many + len, sizeof(many) - len,
					"%s\"h%d\"", i ? "," : "", i % 10);
	snprintf(many + len, sizeof(many) - len, "]");
	assert_int_equal(auth_json_list(many, &items, &n, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "more than"));
	/* Deep nesting is refused, not recursed into. */
	char deep[4096];
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	assert_int_equal(auth_json_list(deep, &items, &n, err, sizeof(err)),
			 -EINVAL);
}

/* authn_update(): the whole configuration from the ConfigMap at once. */
static void test_update(void **state)
{
	struct authn *a = NULL;
	struct authn_opts opts = {.username_headers = "X-Flag-User"};
	char err[256], why[256], status[300];
	gnutls_datum_t pem = cert_export(&ca, GNUTLS_X509_FMT_PEM);
	gnutls_datum_t other = cert_export(&other_ca, GNUTLS_X509_FMT_PEM);
	gnutls_datum_t leaf =
	    cert_export(&leaves[LEAF_CLIENT], GNUTLS_X509_FMT_DER);
	gnutls_datum_t intruder =
	    cert_export(&leaves[LEAF_INTRUDER], GNUTLS_X509_FMT_DER);
	const char *lists[AUTHN_NLISTS] = {
	    [AUTHN_ALLOWED_NAMES] = "[\"front-proxy-client\"]",
	    [AUTHN_GROUP_HEADERS] = "[\"X-CM-Group\"]",
	};
	struct auth_user u = {0};
	unsigned gen;

	(void)state;
	assert_int_equal(authn_new(&a, &opts, err, sizeof(err)), 0);
	assert_false(authn_status(a, status, sizeof(status)));
	assert_non_null(strstr(status, "no request-header CA"));
	authn_set_status(a, "no request-header CA: ConfigMap has no key");
	assert_false(authn_status(a, status, sizeof(status)));
	assert_string_equal(status,
			    "no request-header CA: ConfigMap has no key");

	/* No CA in the ConfigMap: still nobody. */
	assert_int_equal(authn_update(a, NULL, 0, lists, err, sizeof(err)), 1);
	assert_int_equal(authn_verify_chain(a, &leaf, 1, why, sizeof(why)),
			 AUTH_ENOCA);
	/* With the CA: names from the ConfigMap, headers too, flags where
	 * the ConfigMap is silent. */
	assert_int_equal(authn_update(a, (const char *)pem.data, pem.size,
				      lists, err, sizeof(err)),
			 1);
	assert_true(authn_status(a, status, sizeof(status)));
	assert_string_equal(status, "ok");
	assert_int_equal(authn_verify_chain(a, &leaf, 1, why, sizeof(why)), 0);
	assert_int_equal(authn_verify_chain(a, &intruder, 1, why, sizeof(why)),
			 AUTH_ENAME);
	assert_int_equal(authn_header(a, &u, "x-flag-user", "alice"), 0);
	assert_int_equal(authn_header(a, &u, "X-Remote-Group", "ignored"), 0);
	assert_int_equal(authn_header(a, &u, "x-cm-group", "g1"), 0);
	assert_string_equal(u.name, "alice");
	assert_int_equal(u.ngroups, 1);
	assert_string_equal(u.groups[0], "g1");
	auth_user_release(&u);

	/* The same again: nothing changes, verdicts stay valid. */
	gen = authn_generation(a);
	assert_int_equal(authn_update(a, (const char *)pem.data, pem.size,
				      lists, err, sizeof(err)),
			 0);
	assert_int_equal(authn_generation(a), gen);

	/* A broken value keeps the old configuration and names the key. */
	const char *bad[AUTHN_NLISTS] = {[AUTHN_UID_HEADERS] = "{\"x\":1}"};
	assert_int_equal(authn_update(a, (const char *)pem.data, pem.size, bad,
				      err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "requestheader-uid-headers"));
	assert_int_equal(authn_update(a, "junk", 4, lists, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "requestheader-client-ca-file"));
	assert_int_equal(authn_generation(a), gen);
	assert_int_equal(authn_verify_chain(a, &leaf, 1, why, sizeof(why)), 0);

	/* A rotated CA: the old proxy certificate is out. */
	assert_int_equal(authn_update(a, (const char *)other.data, other.size,
				      lists, err, sizeof(err)),
			 1);
	assert_true(authn_generation(a) != gen);
	assert_int_equal(authn_verify_chain(a, &leaf, 1, why, sizeof(why)),
			 AUTH_EUNTRUSTED);
	/* And the CA gone from the ConfigMap: nobody again. */
	assert_int_equal(authn_update(a, NULL, 0, lists, err, sizeof(err)), 1);
	assert_false(authn_has_ca(a));
	assert_string_equal(authn_list_key(AUTHN_EXTRA_PREFIXES),
			    "requestheader-extra-headers-prefix");
	gnutls_free(pem.data);
	gnutls_free(other.data);
	gnutls_free(leaf.data);
	gnutls_free(intruder.data);
	authn_free(a);
}

/* Replace @path's content whole (write aside, rename); NULL removes it. */
static void file_replace(const char *path, const void *data, size_t len)
{
	char tmp[256];
	FILE *f;

	if (data == NULL) {
		unlink(path);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static void test_ca_file_reload(void **state)
{
	enum {
		CA,
		OTHER,
		GARBAGE,
		GONE,
		SAME
	};
	static const struct {
		const char *name;
		int write; /* what the file becomes before the look */
		bool force;
		int want;
		const char *text;  /* in the error (NULL: none) */
		int client, other; /* verdicts of the two proxies after */
	} steps[] = {
	    {"unchanged", SAME, false, 0, NULL, 0, AUTH_EUNTRUSTED},
	    {"SIGHUP re-reads", SAME, true, 1, NULL, 0, AUTH_EUNTRUSTED},
	    {"rotated", OTHER, false, 1, NULL, AUTH_EUNTRUSTED, 0},
	    {"garbage keeps the old", GARBAGE, false, -EINVAL,
	     "no CA certificate", AUTH_EUNTRUSTED, 0},
	    {"the same garbage said once", SAME, false, 0, NULL,
	     AUTH_EUNTRUSTED, 0},
	    {"SIGHUP says it again", SAME, true, -EINVAL, "no CA certificate",
	     AUTH_EUNTRUSTED, 0},
	    {"removed keeps the old", GONE, false, -ENOENT, "No such file",
	     AUTH_EUNTRUSTED, 0},
	    {"still removed: said once", SAME, false, 0, NULL, AUTH_EUNTRUSTED,
	     0},
	    {"back", CA, false, 1, NULL, 0, AUTH_EUNTRUSTED},
	};
	gnutls_datum_t pem[2] = {cert_export(&ca, GNUTLS_X509_FMT_PEM),
				 cert_export(&other_ca, GNUTLS_X509_FMT_PEM)};
	gnutls_datum_t leaf[2] = {
	    cert_export(&leaves[LEAF_CLIENT], GNUTLS_X509_FMT_DER),
	    cert_export(&leaves[LEAF_OTHER_CA], GNUTLS_X509_FMT_DER)};
	static const char garbage[] = "-----BEGIN CERTIFICATE-----\nAAAA\n"
				      "-----END CERTIFICATE-----\n";
	char dir[] = "/tmp/test_auth_reloadXXXXXX", path[128], err[512];
	char why[256];
	struct authn *a = NULL;
	struct authn_opts none = {0};

	(void)state;
	/* Without a CA file there is nothing to re-read. */
	assert_int_equal(authn_new(&a, &none, err, sizeof(err)), 0);
	assert_null(authn_ca_file(a));
	assert_int_equal(authn_reload_ca_file(a, true, err, sizeof(err)), 0);
	authn_free(a);

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	file_replace(path, pem[0].data, pem[0].size);
	struct authn_opts opts = {.ca_file = path};
	assert_int_equal(authn_new(&a, &opts, err, sizeof(err)), 0);
	assert_string_equal(authn_ca_file(a), path);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		unsigned gen = authn_generation(a);
		if (steps[i].write == CA || steps[i].write == OTHER)
			file_replace(path, pem[steps[i].write].data,
				     pem[steps[i].write].size);
		else if (steps[i].write == GARBAGE)
			file_replace(path, garbage, strlen(garbage));
		else if (steps[i].write == GONE)
			file_replace(path, NULL, 0);
		int ret =
		    authn_reload_ca_file(a, steps[i].force, err, sizeof(err));
		if (ret != steps[i].want)
			fail_msg("%s: %d, want %d (%s)", steps[i].name, ret,
				 steps[i].want, err);
		if (steps[i].text != NULL) {
			assert_non_null(strstr(err, path));
			assert_non_null(strstr(err, steps[i].text));
		} else {
			assert_string_equal(err, "");
		}
		/* Connections re-verify exactly when a CA was published. */
		assert_int_equal(authn_generation(a) != gen, ret == 1);
		assert_true(authn_has_ca(a));
		assert_int_equal(
		    authn_verify_chain(a, &leaf[0], 1, why, sizeof(why)),
		    steps[i].client);
		assert_int_equal(
		    authn_verify_chain(a, &leaf[1], 1, why, sizeof(why)),
		    steps[i].other);
	}
	authn_free(a);
	unlink(path);
	rmdir(dir);
	for (int i = 0; i < 2; i++) {
		gnutls_free(pem[i].data);
		gnutls_free(leaf[i].data);
	}
}

static void test_error_body(void **state)
{
	static const char *const causes[] = {
	    "the authorization review failed: HTTP 500",
	    "quotes \" and \\ and a newline\n",
	    "",
	    "not UTF-8: \xff\xfe",
	};
	static const char *const keys[] = {"kind",    "apiVersion", "metadata",
					   "status",  "message",    "reason",
					   "details", "code"};

	(void)state;
	for (size_t i = 0; i < sizeof(causes) / sizeof(causes[0]); i++) {
		size_t len = 0, k = 0;
		char *body = authz_error_body(causes[i], &len);
		json_error_t jerr;
		json_t *doc, *v;
		const char *key;
		char want[256];

		assert_non_null(body);
		assert_int_equal(strlen(body), len);
		doc = json_loads(body, 0, &jerr);
		assert_non_null(doc);
		/* kube-apiserver's field order: details before code. */
		json_object_foreach(doc, key, v)
		{
			assert_true(k < sizeof(keys) / sizeof(keys[0]));
			assert_string_equal(key, keys[k++]);
		}
		assert_int_equal(k, sizeof(keys) / sizeof(keys[0]));
		assert_string_equal(
		    json_string_value(json_object_get(doc, "kind")), "Status");
		assert_string_equal(
		    json_string_value(json_object_get(doc, "apiVersion")),
		    "v1");
		assert_int_equal(
		    json_object_size(json_object_get(doc, "metadata")), 0);
		assert_string_equal(
		    json_string_value(json_object_get(doc, "status")),
		    "Failure");
		assert_string_equal(
		    json_string_value(json_object_get(doc, "reason")),
		    "InternalError");
		assert_int_equal(
		    json_integer_value(json_object_get(doc, "code")), 500);
		json_t *det = json_object_get(doc, "details");
		assert_int_equal(json_object_size(det), 1);
		json_t *list = json_object_get(det, "causes");
		assert_int_equal(json_array_size(list), 1);
		json_t *cause = json_array_get(list, 0);
		assert_int_equal(json_object_size(cause), 1);
		const char *got =
		    json_string_value(json_object_get(cause, "message"));
		assert_non_null(got);
		/* Bytes that are not UTF-8 become '?', as in every Status. */
		snprintf(want, sizeof(want), "%s", causes[i]);
		for (char *p = want; *p != '\0'; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		assert_string_equal(got, want);
		snprintf(want, sizeof(want), "Internal error occurred: %s",
			 got);
		assert_string_equal(
		    json_string_value(json_object_get(doc, "message")), want);
		json_decref(doc);
		free(body);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verify_chain),
	    cmocka_unit_test(test_verify_edge_inputs),
	    cmocka_unit_test(test_ca_file_errors),
	    cmocka_unit_test(test_headers),
	    cmocka_unit_test(test_empty_user_header),
	    cmocka_unit_test(test_allow_authenticated),
	    cmocka_unit_test(test_forbidden_message),
	    cmocka_unit_test(test_strerror),
	    cmocka_unit_test(test_json_list),
	    cmocka_unit_test(test_json_list_bounds),
	    cmocka_unit_test(test_update),
	    cmocka_unit_test(test_ca_file_reload),
	    cmocka_unit_test(test_error_body),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
