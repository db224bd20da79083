/*
 * test_tls.c - Kubernetes' TLS flags (--tls-min-version,
 * --tls-cipher-suites) into GnuTLS priority strings, from a table: what
 * each spelling becomes, which names are refused and how the error names
 * them, and that every string built is one GnuTLS accepts and that offers
 * exactly the expected TLS 1.2 suites.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>

#include "server/tls.h"

static const struct {
	const char *min, *suites;
	int ret;
	const char *want[6];   /* substrings of the priority or the error */
	const char *absent[4]; /* substrings that must not be there */
} cases[] = {
    {NULL,
     NULL,
     0,
     {"-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:", "+AES-128-GCM", "+AES-256-GCM",
      "+CHACHA20-POLY1305", "+ECDHE-ECDSA", "+ECDHE-RSA"},
     {"CBC", "+RSA:", "SHA1"}},
    {"VersionTLS12", "", 0, {"+VERS-TLS1.2", "-MAC-ALL:+AEAD"}, {"CBC"}},
    {"VersionTLS13", NULL, 0, {"-VERS-ALL:+VERS-TLS1.3:"}, {"TLS1.2"}},
    /* TLS 1.3 only: the suites are not configurable, names ignored. */
    {"VersionTLS13",
     "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
     0,
     {"+AES-256-GCM", "+CHACHA20-POLY1305"},
     {"TLS1.2"}},
    {NULL,
     "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
     0,
     {"-CIPHER-ALL:+AES-128-GCM:", "-KX-ALL:+ECDHE-RSA:"},
     {"AES-256", "CHACHA20", "ECDSA"}},
    {NULL,
     " TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305 , "
     "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,TLS_AES_256_GCM_SHA384,",
     0,
     {"-CIPHER-ALL:+CHACHA20-POLY1305:", "-KX-ALL:+ECDHE-ECDSA:"},
     {"AES", "ECDHE-RSA"}},
    {NULL,
     "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,"
     "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
     0,
     {"+AES-256-GCM:-MAC", "+ECDHE-ECDSA:+ECDHE-RSA:"},
     {"AES-128", "CHACHA"}},
    /* Errors: every offending name, and what to do. */
    {NULL,
     "TLS_FOO,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, BAR",
     -EINVAL,
     {"unknown cipher suite", "'TLS_FOO'", "'BAR'"},
     {"'TLS_ECDHE_RSA"}},
    {NULL,
     "TLS_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,"
     "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
     -EINVAL,
     {"'TLS_RSA_WITH_AES_128_GCM_SHA256'",
      "'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'",
      "'TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA'", "not offered"},
     {NULL}},
    {NULL,
     "tls_ecdhe_rsa_with_aes_128_gcm_sha256",
     -EINVAL,
     {"unknown cipher suite"},
     {NULL}},
    {NULL,
     "TLS_AES_128_GCM_SHA256,TLS_CHACHA20_POLY1305_SHA256",
     -EINVAL,
     {"no TLS 1.2 suite"},
     {NULL}},
    {NULL, ",", -EINVAL, {"no TLS 1.2 suite"}, {NULL}},
    {"VersionTLS11",
     NULL,
     -EINVAL,
     {"'VersionTLS11'", "below TLS 1.2"},
     {NULL}},
    {"VersionTLS10", NULL, -EINVAL, {"below TLS 1.2"}, {NULL}},
    {"VersionSSL30",
     NULL,
     -EINVAL,
     {"not VersionTLS12 or VersionTLS13"},
     {NULL}},
    {"", NULL, -EINVAL, {"--tls-min-version"}, {NULL}},
    {"versiontls12", NULL, -EINVAL, {"'versiontls12'"}, {NULL}},
};

/* The TLS 1.2 suites a priority string enables, by GnuTLS name. */
static unsigned count_tls12_suites(const char *prio)
{
	gnutls_priority_t p;
	unsigned n = 0, idx;
	const char *err = NULL;

	assert_int_equal(gnutls_priority_init2(&p, prio, &err, 0), 0);
	for (unsigned i = 0;; i++) {
		unsigned char id[2];
		gnutls_kx_algorithm_t kx;
		gnutls_cipher_algorithm_t cipher;
		gnutls_mac_algorithm_t mac;
		gnutls_protocol_t min;
		int ret = gnutls_priority_get_cipher_suite_index(p, i, &idx);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (ret < 0)
			continue;
		const char *name =
		    gnutls_cipher_suite_info(idx, id, &kx, &cipher, &mac, &min);
		assert_non_null(name);
		/* Forward-secret AEAD only, whatever the flags said. */
		if (kx != GNUTLS_KX_UNKNOWN) {
			assert_true(kx == GNUTLS_KX_ECDHE_ECDSA ||
				    kx == GNUTLS_KX_ECDHE_RSA);
			n++;
		}
		assert_true(cipher == GNUTLS_CIPHER_AES_128_GCM ||
			    cipher == GNUTLS_CIPHER_AES_256_GCM ||
			    cipher == GNUTLS_CIPHER_CHACHA20_POLY1305);
	}
	gnutls_priority_deinit(p);
	return n;
}

static void test_priorities(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[1024] = "", err[512] = "";
		int ret =
		    tls_priorities_build(cases[i].min, cases[i].suites, out,
					 sizeof(out), err, sizeof(err));
		const char *text = ret == 0 ? out : err;

		print_message("case %zu: %s / %s -> %s\n", i,
			      cases[i].min ? cases[i].min : "(null)",
			      cases[i].suites ? cases[i].suites : "(null)",
			      text);
		assert_int_equal(ret, cases[i].ret);
		for (size_t j = 0; j < 6 && cases[i].want[j] != NULL; j++)
			assert_non_null(strstr(text, cases[i].want[j]));
		for (size_t j = 0; j < 4 && cases[i].absent[j] != NULL; j++)
			assert_null(strstr(text, cases[i].absent[j]));
		if (ret == 0)
			assert_true(count_tls12_suites(out) > 0 ||
				    strstr(out, "TLS1.2") == NULL);
	}
}

/* One ECDSA suite named: exactly one TLS 1.2 suite of that kind. */
static void test_exact_suite(void **state)
{
	char out[1024], err[256];

	(void)state;
	assert_int_equal(tls_priorities_build(
			     NULL, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
			     out, sizeof(out), err, sizeof(err)),
			 0);
	assert_int_equal(count_tls12_suites(out), 1);
	/* The default: 2 key exchanges x 3 AEAD ciphers. */
	assert_int_equal(tls_priorities_build(NULL, NULL, out, sizeof(out), err,
					      sizeof(err)),
			 0);
	assert_int_equal(count_tls12_suites(out), 6);
	/* A buffer too small is an error, not a cut string. */
	char tiny[16];
	assert_int_equal(tls_priorities_build(NULL, NULL, tiny, sizeof(tiny),
					      err, sizeof(err)),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_priorities),
	    cmocka_unit_test(test_exact_suite),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
