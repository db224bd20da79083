/*
 * test_key.c - TSIG keys (dns/key.c): every format x algorithm spelling x
 * malformed variant, conflicts, names, double base64, raw bytes, binary
 * garbage, several keys, the real files of tests/data/keys/, and that no
 * error text ever quotes a secret.
 *
 * Expected secrets are written as base64 and decoded here with libdnssec,
 * an implementation independent of dns/key.c's decoder.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libdnssec/binary.h>

#include "dns/dns.h"

#define DATA "tests/data/keys/"

/* Table rows leave their trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* One secret per algorithm, as long as its hash (tsig-keygen's choice). */
static const struct {
	int alg;
	const char *canon; /* "hmac-sha256" */
	const char *upper; /* "SHA256" */
	const char *num;   /* DNSSEC number of dnssec-keygen */
	const char *secret;
} A[] = {
    {DNS_ALG_MD5, "hmac-md5", "MD5", "157", "vSbvBHAb3PrDiVEPfawpXg=="},
    {DNS_ALG_SHA1, "hmac-sha1", "SHA1", "161", "VEP4+sEWv7t59rUgNGcdU/6cxAA="},
    {DNS_ALG_SHA224, "hmac-sha224", "SHA224", "162",
     "B0gOukBAsjQIjhP8Kcz+Y1cO9agw6vU90mH8Ng=="},
    {DNS_ALG_SHA256, "hmac-sha256", "SHA256", "163",
     "3ZM2i1smWWFyb0eK3ltQ3jmhXbsgrJI8gfckHSh/RNE="},
    {DNS_ALG_SHA384, "hmac-sha384", "SHA384", "164",
     "rNGNHUK5Ma0C1IJ+syuh0hnVcWj/dYkbnEeyjOWP7k5CWK3i/nOhSlCPys0lcM5b"},
    {DNS_ALG_SHA512, "hmac-sha512", "SHA512", "165",
     "svudozC8LjYZnipLNBbalcVihflxqEA2LYLCyq8AZRaSNGOZgj2OaUijZcQRn2mEuv"
     "ROGtVeFlU6CSP7SLW6Jg=="},
};
#define NALG (sizeof(A) / sizeof(A[0]))

#define S256 "3ZM2i1smWWFyb0eK3ltQ3jmhXbsgrJI8gfckHSh/RNE="
#define S512                                                                   \
	"svudozC8LjYZnipLNBbalcVihflxqEA2LYLCyq8AZRaSNGOZgj2OaUijZcQRn2mEuv"   \
	"ROGtVeFlU6CSP7SLW6Jg=="
#define S384 "rNGNHUK5Ma0C1IJ+syuh0hnVcWj/dYkbnEeyjOWP7k5CWK3i/nOhSlCPys0lcM5b"
/* printf %s | base64 of S256, and echo | base64 (wrapped) of S512. */
#define S256_TWICE                                                             \
	"M1pNMmkxc21XV0Z5YjBlSzNsdFEzam1oWGJzZ3JKSThnZmNrSFNoL1JORT0="
#define S512_TWICE_NL                                                          \
	"c3Z1ZG96QzhMallabmlwTE5CYmFsY1ZpaGZseHFFQTJMWUxDeXE4QVpSYVNOR09aZ2o"  \
	"yT2FVaWpa\n"                                                          \
	"Y1FSbjJtRXV2Uk9HdFZlRmxVNkNTUDdTTFc2Smc9PQo=\n"

/* base64 -w0 of whole key files (the second one malformed). */
#define B64_FILE                                                               \
	"a2V5ICJmaWxlLWtleSIgewoJYWxnb3JpdGhtIGhtYWMtc2hhMjU2OwoJc2VjcmV0ICIz" \
	"Wk0yaTFzbVdXRnliMGVLM2x0UTNqbWhYYnNnckpJOGdmY2tIU2gvUk5FPSI7Cn07Cg=="
#define B64_LINE                                                               \
	"aG1hYy1zaGEyNTY6bGluZS1rZXk6M1pNMmkxc21XV0Z5YjBlSzNsdFEzam1oWGJzZ3JK" \
	"SThnZmNrSFNoL1JORT0K"
#define B64_BADFILE                                                            \
	"a2V5ICJmaWxlLWtleSIgewoJYWxnb3JpdGhtIGhtYWMtc2hhMjU2OwoJc2VjcmV0ICIz" \
	"Wk0yaTFzbVdXRnliMGVLM2x0UTNqbWhYYnNnckpJOGdmY2tIU2gvUk5FPSEiOwp9Owo="

/* printf 'my-tsig-secret-for-acme-2026' | base64, the example. */
#define PASS	 "my-tsig-secret-for-acme-2026"
#define PASS_B64 "bXktdHNpZy1zZWNyZXQtZm9yLWFjbWUtMjAyNg=="

/* Raw key bytes as a Secret's data: field gives them (NULs included). */
static const char RAW32[] = "\x9f\x9b\xff\xdd\x81\x05\x63\x6f\xa8\x96\xf5"
			    "\x3b\xf8\xe8\xb7\x96\x32\xe7\x69\x46\x00\x0a"
			    "\x47\x0f\x62\xc0\x90\xd0\xa5\x7b\xde\xe6";
static const char RAW_WS[] = " \x01\xfe\xff\x80just-bytes\x00\x02raw\n";

static int failures;

__attribute__((format(printf, 1, 2))) static void report(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failures++;
}

/* Decode base64 with libdnssec; *len = 0 and NULL when it is not base64. */
static uint8_t *b64(const char *text, size_t *len)
{
	dnssec_binary_t in = {strlen(text), (uint8_t *)text}, out = {0};

	*len = 0;
	if (dnssec_binary_from_base64(&in, &out) != 0)
		return NULL;
	*len = out.size;
	return out.data;
}

/* Whether @err holds any 8-byte window of @s (a secret, text or raw). */
static bool leaks(const char *err, const char *s, size_t len)
{
	size_t elen = strlen(err);

	if (len < 8)
		return len > 0 && memmem(err, elen, s, len) != NULL;
	for (size_t i = 0; i + 8 <= len; i++)
		if (memmem(err, elen, s + i, 8) != NULL)
			return true;
	return false;
}

/* ------------------------------------------------------------ rows */

struct row {
	const char *desc;
	const char *text;
	size_t len; /* 0: strlen(text) */
	const char *source, *name, *alg;
	int ret;
	const char *exp_name;
	int exp_alg;
	const char *exp_b64; /* expected secret as base64 ... */
	const char *exp_raw; /* ... or as raw bytes */
	size_t exp_raw_len;
	const char *err_has[3]; /* substrings of the error text */
	const char *warn_has;	/* substring of the warning, NULL: none */
	const char *secrets[3]; /* must never appear in the error text */
	const char *alt_b64;	/* the alternate secret as base64, NULL: none */
	const char *alt_has;	/* substring of the alternate's warning */
	const char *weak_has;	/* substring of the weak-algorithm warning */
};

/* Parse one row and compare; failures are reported and counted. */
static void row_check(const struct row *r, size_t idx)
{
	struct dns_key key;
	char err[1024];
	size_t len = r->len ? r->len : (r->text ? strlen(r->text) : 0);
	const char *src = r->source ? r->source : "test";
	int ret;

	memset(err, 'x', sizeof(err));
	memset(&key, 0xa5, sizeof(key));
	ret = dns_key_parse(&key, r->text, len, src, r->name, r->alg, err,
			    sizeof(err));
	if (ret != r->ret) {
		report("row %zu (%s): ret %d, want %d; err: %s", idx, r->desc,
		       ret, r->ret, ret ? err : "");
		goto out;
	}
	if (ret < 0) {
		if (err[0] == '\0' || strstr(err, src) == NULL)
			report("row %zu (%s): error text '%s' does not name "
			       "the source",
			       idx, r->desc, err);
		for (size_t i = 0; i < 3 && r->err_has[i]; i++)
			if (strstr(err, r->err_has[i]) == NULL)
				report("row %zu (%s): error '%s' lacks '%s'",
				       idx, r->desc, err, r->err_has[i]);
		/* A failed parse leaves nothing behind. */
		if (key.secret != NULL || key.secret_len != 0 ||
		    key.name[0] != '\0')
			report("row %zu (%s): key not zeroed after error", idx,
			       r->desc);
	} else {
		if (r->exp_name && strcmp(key.name, r->exp_name) != 0)
			report("row %zu (%s): name '%s', want '%s'", idx,
			       r->desc, key.name, r->exp_name);
		if (r->exp_alg && (int)key.alg != r->exp_alg)
			report("row %zu (%s): alg %s, want %s", idx, r->desc,
			       dns_alg_to_text(key.alg),
			       dns_alg_to_text(r->exp_alg));
		if (r->exp_b64) {
			size_t want_len;
			uint8_t *want = b64(r->exp_b64, &want_len);

			if (want == NULL || key.secret_len != want_len ||
			    memcmp(key.secret, want, want_len) != 0)
				report("row %zu (%s): wrong secret (%zu bytes, "
				       "want %zu)",
				       idx, r->desc, key.secret_len, want_len);
			free(want);
		}
		if (r->exp_raw &&
		    (key.secret_len != r->exp_raw_len ||
		     memcmp(key.secret, r->exp_raw, r->exp_raw_len) != 0))
			report("row %zu (%s): wrong raw secret", idx, r->desc);
		if (r->warn_has ? strstr(key.warning, r->warn_has) == NULL
				: key.warning[0] != '\0')
			report("row %zu (%s): warning '%s', want '%s'", idx,
			       r->desc, key.warning,
			       r->warn_has ? r->warn_has : "");
		if (r->warn_has && strstr(key.warning, src) == NULL)
			report("row %zu (%s): warning does not name %s", idx,
			       r->desc, src);
		if (r->alt_b64) {
			size_t want_len;
			uint8_t *want = b64(r->alt_b64, &want_len);

			if (want == NULL || key.alt_secret == NULL ||
			    key.alt_secret_len != want_len ||
			    memcmp(key.alt_secret, want, want_len) != 0)
				report("row %zu (%s): wrong alternate secret "
				       "(%zu bytes, want %zu)",
				       idx, r->desc, key.alt_secret_len,
				       want_len);
			free(want);
			if (key.alt_desc[0] == '\0' ||
			    strstr(key.alt_warning, src) == NULL)
				report("row %zu (%s): alternate without a "
				       "description or warning naming %s",
				       idx, r->desc, src);
		} else if (key.alt_secret != NULL || key.alt_secret_len != 0 ||
			   key.alt_warning[0] != '\0') {
			report("row %zu (%s): unexpected alternate secret "
			       "(%s)",
			       idx, r->desc, key.alt_desc);
		}
		if (r->alt_has && strstr(key.alt_warning, r->alt_has) == NULL)
			report("row %zu (%s): alternate warning '%s' lacks "
			       "'%s'",
			       idx, r->desc, key.alt_warning, r->alt_has);
		if (r->weak_has && strstr(key.weak, r->weak_has) == NULL)
			report("row %zu (%s): weak warning '%s' lacks '%s'",
			       idx, r->desc, key.weak, r->weak_has);
		if (!r->weak_has && key.alg != DNS_ALG_MD5 &&
		    key.alg != DNS_ALG_SHA1 && key.weak[0] != '\0')
			report("row %zu (%s): weak warning for %s", idx,
			       r->desc, dns_alg_to_text(key.alg));
	}
	/* No message ever quotes secret material. */
	for (size_t i = 0; i < 3 && r->secrets[i]; i++) {
		const char *s = r->secrets[i];
		size_t slen = s == RAW32    ? sizeof(RAW32) - 1
			      : s == RAW_WS ? sizeof(RAW_WS) - 1
					    : strlen(s);

		if (ret < 0 && leaks(err, s, slen))
			report("row %zu (%s): error text quotes the secret: %s",
			       idx, r->desc, err);
		if (leaks(key.warning, s, slen) ||
		    leaks(key.alt_warning, s, slen) ||
		    leaks(key.alt_desc, s, slen) || leaks(key.weak, s, slen))
			report("row %zu (%s): warning quotes the secret", idx,
			       r->desc);
	}
out:
	dns_key_release(&key);
}

#define SECRETS(...) .secrets = {__VA_ARGS__}
#define ERR(...)     .err_has = {__VA_ARGS__}

static const char DDNS_CONFGEN[] =
    "# To activate this key, place the following in named.conf, and\n"
    "# in a separate keyfile on the system or systems from which "
    "nsupdate\n"
    "# will be run:\n"
    "key \"ddns-key\" {\n"
    "\talgorithm hmac-sha512;\n"
    "\tsecret \"" S512 "\";\n"
    "};\n"
    "\n"
    "# Then, in the \"zone\" definition statement for \"example.test\",\n"
    "# place an \"update-policy\" statement like this one, adjusted as \n"
    "# needed for your preferred permissions:\n"
    "update-policy {\n"
    "\t  grant ddns-key zonesub ANY;\n"
    "};\n"
    "\n"
    "# After the keyfile has been placed, the following command will\n"
    "# execute nsupdate using this key:\n"
    "nsupdate -k <keyfile>\n";

static const char KEYMGR[] = "# hmac-sha384:knot-key:" S384 "\n"
			     "key:\n"
			     "  - id: knot-key\n"
			     "    algorithm: hmac-sha384\n"
			     "    secret: " S384 "\n";

#define TWO_BLOCKS                                                             \
	"key \"a-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"" S256          \
	"\";\n};\n"                                                            \
	"// the second one\n"                                                  \
	"key \"b-key\" {\n\talgorithm hmac-sha512;\n\tsecret \"" S512          \
	"\";\n};\n"

#define KPRIV(alg, key)                                                        \
	"Private-key-format: v1.3\nAlgorithm: " alg "\nKey: " key              \
	"\nBits: AAA=\nCreated: 20190101000000\nPublish: "                     \
	"20190101000000\nActivate: 20190101000000\n"

static const struct row rows[] = {
    /* Whole outputs of the tools. */
    {"ddns-confgen output", DDNS_CONFGEN, 0, NULL, NULL, NULL, 0, "ddns-key.",
     DNS_ALG_SHA512, S512},
    {"ddns-confgen, name in other case", DDNS_CONFGEN, 0, NULL, "DDNS-Key.",
     "HMACSHA512", 0, "ddns-key.", DNS_ALG_SHA512, S512},
    {"ddns-confgen, other name", DDNS_CONFGEN, 0, "conf", "other", NULL,
     DNS_EKEY_CONFLICT, ERR("other.", "ddns-key", "line 4"), SECRETS(S512)},
    {"ddns-confgen, other algorithm", DDNS_CONFGEN, 0, "conf", NULL, "sha256",
     DNS_EKEY_CONFLICT, ERR("hmac-sha256", "hmac-sha512", "line 5"),
     SECRETS(S512)},
    {"keymgr output", KEYMGR, 0, NULL, NULL, NULL, 0, "knot-key.",
     DNS_ALG_SHA384, S384},
    {"keymgr output, CRLF",
     "# hmac-sha384:knot-key:" S384 "\r\nkey:\r\n  - id: knot-key\r\n"
     "    algorithm: hmac-sha384\r\n    secret: " S384 "\r\n",
     0, NULL, "knot-key", NULL, 0, "knot-key.", DNS_ALG_SHA384, S384},
    {"keymgr output, other name", KEYMGR, 0, "km", "nope", NULL,
     DNS_EKEY_CONFLICT, ERR("nope.", "knot-key"), SECRETS(S384)},

    /* Several keys. */
    {"two blocks, no name", TWO_BLOCKS, 0, "two.conf", NULL, NULL,
     DNS_EKEY_NOTFOUND, ERR("a-key.", "b-key.", "--tsig-key-name"),
     SECRETS(S256, S512)},
    {"two blocks, second by name", TWO_BLOCKS, 0, NULL, "B-Key", NULL, 0,
     "b-key.", DNS_ALG_SHA512, S512},
    {"two blocks, first by name", TWO_BLOCKS, 0, NULL, "a-key.", NULL, 0,
     "a-key.", DNS_ALG_SHA256, S256},
    {"two blocks, unknown name", TWO_BLOCKS, 0, "two.conf", "c-key", NULL,
     DNS_EKEY_NOTFOUND, ERR("c-key.", "a-key., b-key."), SECRETS(S256, S512)},
    {"two blocks on one line",
     "key a-key{algorithm hmac-sha256;secret \"" S256
     "\";};key b-key{algorithm hmac-sha512;secret \"" S512 "\";};",
     0, NULL, "b-key", NULL, 0, "b-key.", DNS_ALG_SHA512, S512},
    {"two YAML keys, by name",
     "key:\n  - id: a-key\n    algorithm: hmac-sha256\n    secret: " S256
     "\n  - id: b-key\n    algorithm: hmac-sha512\n    secret: " S512 "\n",
     0, NULL, "b-key", NULL, 0, "b-key.", DNS_ALG_SHA512, S512},
    {"two YAML keys, no name",
     "key:\n  - id: a-key\n    algorithm: hmac-sha256\n    secret: " S256
     "\n  - id: b-key\n    algorithm: hmac-sha512\n    secret: " S512 "\n",
     0, "y", NULL, NULL, DNS_EKEY_NOTFOUND, ERR("a-key.", "b-key."),
     SECRETS(S256, S512)},
    {"two Knot lines, by name",
     "hmac-sha256:a-key:" S256 "\nhmac-sha512:b-key:" S512 "\n", 0, NULL,
     "A-KEY.", NULL, 0, "a-key.", DNS_ALG_SHA256, S256},
    {"named.conf excerpt around the key",
     "options {\n\tdirectory \"/var/cache/bind\";\n};\n"
     "server 10.0.0.1 { keys { a-key; }; };\n"
     "key \"a-key\" { algorithm hmac-sha256; secret \"" S256 "\"; };\n"
     "zone \"example.test\" { type primary; file \"x\"; "
     "update-policy { grant a-key zonesub TXT; }; };\n",
     0, NULL, NULL, NULL, 0, "a-key.", DNS_ALG_SHA256, S256},

    /* Conflicts and defaults. */
    {"BIND, algorithm agrees in another spelling",
     "key x { algorithm hmac-sha256; secret \"" S256 "\"; };", 0, NULL, "X",
     "HMACSHA256", 0, "x.", DNS_ALG_SHA256, S256},
    {"BIND, algorithm conflict",
     "key x {\n algorithm hmac-sha256;\n secret \"" S256 "\";\n};", 0, "f",
     NULL, "hmac-sha512.", DNS_EKEY_CONFLICT,
     ERR("hmac-sha512", "hmac-sha256", "line 2"), SECRETS(S256)},
    {"BIND, no algorithm, none given", "key x {\n secret \"" S256 "\";\n};", 0,
     "f", NULL, NULL, DNS_EKEY_ALG, ERR("--tsig-algorithm", "x."),
     SECRETS(S256)},
    {"BIND, no algorithm, given", "key x {\n secret \"" S256 "\";\n};", 0, NULL,
     NULL, "sha256", 0, "x.", DNS_ALG_SHA256, S256},
    {"Knot name:secret, default hmac-sha256", "kn:" S256 "\n", 0, NULL, NULL,
     NULL, 0, "kn.", DNS_ALG_SHA256, S256},
    {"Knot name:secret, algorithm given", "kn:" S512 "\n", 0, NULL, NULL,
     "HMAC-SHA512", 0, "kn.", DNS_ALG_SHA512, S512},
    {"Knot alg:name:secret, algorithm conflict", "hmac-sha256:kn:" S256 "\n", 0,
     "k", NULL, "hmac-md5", DNS_EKEY_CONFLICT,
     ERR("hmac-md5", "hmac-sha256", "line 1"), SECRETS(S256)},
    {"Knot, name conflict", "hmac-sha256:kn:" S256 "\n", 0, "k", "other", NULL,
     DNS_EKEY_CONFLICT, ERR("other.", "kn"), SECRETS(S256)},
    {"Knot, fields swapped and a name given", "hmac-sha256:" S256 ":abcd\n", 0,
     "k", "other", NULL, DNS_EKEY_CONFLICT, ERR("other.", "not shown"),
     SECRETS(S256)},
    {"Knot, secret where the name goes", "hmac-sha256:" S256 ":a-b\n", 0, "k",
     NULL, NULL, DNS_EKEY_SYNTAX, ERR("base64", "line 1"), SECRETS(S256)},
    {"Knot, spaces around fields", "  hmac-sha256 : kn : " S256 "  \n", 0, NULL,
     NULL, NULL, 0, "kn.", DNS_ALG_SHA256, S256},
    {"Knot, four fields", "hmac-sha256:kn:" S256 ":x\n", 0, "k", NULL, NULL,
     DNS_EKEY_SYNTAX, ERR("line 1", "[algorithm:]name:secret"), SECRETS(S256)},
    {"Knot, algorithm:name without secret", "hmac-sha256:acme\n", 0, "k", NULL,
     NULL, DNS_EKEY_SYNTAX, ERR("line 1", "missing")},
    {"Knot, empty name", "hmac-sha256::" S256 "\n", 0, "k", NULL, NULL,
     DNS_EKEY_NAME, ERR("line 1", "empty"), SECRETS(S256)},
    {"Knot line after comments", "# my key\n\n# more\nkn:" S256 "\n", 0, NULL,
     NULL, NULL, 0, "kn.", DNS_ALG_SHA256, S256},
    {"Knot line and a stray line", "kn:" S256 "\nhello\n", 0, "k", NULL, NULL,
     DNS_EKEY_SYNTAX, ERR("line 2"), SECRETS(S256)},

    /* K*.private files. */
    {"K-file, name from the file name", KPRIV("163 (HMAC_SHA256)", S256), 0,
     "Kexample-key.+163+12345.private", NULL, NULL, 0, "example-key.",
     DNS_ALG_SHA256, S256},
    {"K-file, name from a path", KPRIV("165 (HMAC_SHA512)", S512), 0,
     "/etc/bind/KExample.Com.+165+00001.private", NULL, NULL, 0, "example.com.",
     DNS_ALG_SHA512, S512},
    {"K-file, name given wins", KPRIV("163 (HMAC_SHA256)", S256), 0,
     "Kexample-key.+163+12345.private", "other", NULL, 0, "other.",
     DNS_ALG_SHA256, S256},
    {"K-file, no name anywhere", KPRIV("163 (HMAC_SHA256)", S256), 0,
     "tsig.private", NULL, NULL, DNS_EKEY_NAME,
     ERR("--tsig-key-name", "K<name>"), SECRETS(S256)},
    {"K-file, file name without the ids", KPRIV("163 (HMAC_SHA256)", S256), 0,
     "Kexample.private", NULL, NULL, DNS_EKEY_NAME, ERR("--tsig-key-name"),
     SECRETS(S256)},
    {"K-file, algorithm conflict", KPRIV("163 (HMAC_SHA256)", S256), 0,
     "Kx.+163+1.private", NULL, "sha512", DNS_EKEY_CONFLICT,
     ERR("hmac-sha512", "hmac-sha256", "line 2"), SECRETS(S256)},
    {"K-file, CRLF",
     "Private-key-format: v1.3\r\nAlgorithm: 157 (HMAC_MD5)\r\nKey: "
     "vSbvBHAb3PrDiVEPfawpXg==\r\nBits: AAA=\r\n",
     0, "Kmd.+157+2.private", NULL, NULL, 0, "md.", DNS_ALG_MD5,
     "vSbvBHAb3PrDiVEPfawpXg=="},
    {"K-file, format v2",
     "Private-key-format: v2.0\nAlgorithm: 163\nKey: " S256 "\n", 0,
     "Kx.+163+1.private", NULL, NULL, DNS_EKEY_SYNTAX, ERR("line 1", "v1"),
     SECRETS(S256)},
    {"K-file, no Algorithm line", "Private-key-format: v1.3\nKey: " S256 "\n",
     0, "Kx.+163+1.private", NULL, NULL, DNS_EKEY_SYNTAX, ERR("Algorithm"),
     SECRETS(S256)},
    {"K-file, unknown algorithm", KPRIV("8 (RSASHA256)", S256), 0,
     "Kx.+008+1.private", NULL, NULL, DNS_EKEY_ALG, ERR("line 2", "'8'"),
     SECRETS(S256)},
    {"K-file, garbage line",
     "Private-key-format: v1.3\nAlgorithm: 163\nthis is not a field\n", 0,
     "Kx.+163+1.private", NULL, NULL, DNS_EKEY_SYNTAX, ERR("line 3")},

    /* Bare secrets. */
    {"bare, name and algorithm given", S256 "\n", 0, NULL, "bare.",
     "hmac-sha256", 0, "bare.", DNS_ALG_SHA256, S256},
    {"bare, no name", S256 "\n", 0, "Secret ns/x key secret", NULL,
     "hmac-sha256", DNS_EKEY_NAME, ERR("--tsig-key-name", "tsigKeyName"),
     SECRETS(S256)},
    {"bare, no algorithm", S256 "\n", 0, "Secret ns/x key secret", "n", NULL,
     DNS_EKEY_ALG, ERR("--tsig-algorithm", "tsigAlgorithm"), SECRETS(S256)},
    {"bare, white space and CRLF", " \t\r\n" S256 "\r\n\r\n", 0, NULL, "n",
     "sha256", 0, "n.", DNS_ALG_SHA256, S256},
    {"bare, wrapped base64",
     "svudozC8LjYZnipLNBbalcVihflxqEA2LYLCyq8AZRaSNGOZgj2OaUijZcQRn2mEu\n"
     "vROGtVeFlU6CSP7SLW6Jg==\n",
     0, NULL, "n", "sha512", 0, "n.", DNS_ALG_SHA512, S512},
    {"bare, without padding", "3ZM2i1smWWFyb0eK3ltQ3jmhXbsgrJI8gfckHSh/RNE", 0,
     NULL, "n", "sha256", 0, "n.", DNS_ALG_SHA256, S256},
    {"bare, after a comment line", "# acme key\n" S256 "\n", 0, NULL, "n",
     "sha256", 0, "n.", DNS_ALG_SHA256, S256},
    {"bare, padding in the middle", "3ZM2=i1smWWFyb0eK\n", 0, "b", "n",
     "sha256", DNS_EKEY_SYNTAX, ERR("line 1", "padding")},
    {"bare, truncated base64", "3ZM2i\n", 0, "b", "n", "sha256",
     DNS_EKEY_SYNTAX, ERR("line 1", "truncated")},
    {"bare, bad character on line 2", "\n3ZM2i1smWWF!b0eK3ltQ3jmhX\n", 0, "b",
     "n", "sha256", DNS_EKEY_SYNTAX, ERR("line 2", "alphabet")},
    {"bare, only padding", "====", 0, "b", "n", "sha256", DNS_EKEY_SYNTAX,
     ERR("padding")},
    {"public K*.key file", "example-key. IN KEY 512 3 163 " S256 "\n", 0,
     "Kexample-key.+163+12345.key", NULL, NULL, DNS_EKEY_SYNTAX,
     ERR("line 1", "known format"), SECRETS(S256)},

    /*
     * Base64 twice: nsupdate's reading (decoded once) is the key, whatever
     * the bytes; the twice-decoded reading is only the alternate.
     */
    {"bare, base64 twice", S256_TWICE, 0, "Secret ns/s key secret", "n",
     "sha256", 0, "n.", DNS_ALG_SHA256, NULL, S256, sizeof(S256) - 1,
     SECRETS(S256, S256_TWICE), .alt_b64 = S256, .alt_has = "twice"},
    {"bare, base64 twice with newline, wrapped", S512_TWICE_NL, 0, "s", "n",
     "sha512", 0, "n.", DNS_ALG_SHA512, NULL, S512 "\n", sizeof(S512),
     SECRETS(S512), .alt_b64 = S512, .alt_has = "--from-literal=secret="},
    {"BIND, base64 twice",
     "key x { algorithm hmac-sha256; secret \"" S256_TWICE "\"; };", 0, "f",
     NULL, NULL, 0, "x.", DNS_ALG_SHA256, NULL, S256, sizeof(S256) - 1,
     SECRETS(S256), .alt_b64 = S256, .alt_has = "twice"},
    {"Knot, base64 twice", "x:" S256_TWICE, 0, "f", NULL, NULL, 0, "x.",
     DNS_ALG_SHA256, NULL, S256, sizeof(S256) - 1, .alt_b64 = S256,
     .alt_has = "nsupdate"},
    {"base64 of a short base64 text stays once", "QUFBQQ==", 0, NULL, "n",
     "sha256", 0, "n.", DNS_ALG_SHA256, "QUFBQQ=="},

    /* Passphrase keys (printf PASSPHRASE | base64), as nsupdate reads them. */
    {"passphrase naming 'secret'", PASS_B64, 0, "s", "acme", "hmac-sha256", 0,
     "acme.", DNS_ALG_SHA256, NULL, PASS, sizeof(PASS) - 1},
    {"passphrase, newline", PASS_B64 "\n", 0, "s", "acme", "sha256", 0, "acme.",
     DNS_ALG_SHA256, NULL, PASS, sizeof(PASS) - 1},
    {"passphrase, CRLF and spaces", "  " PASS_B64 " \r\n", 0, "s", "acme",
     "sha256", 0, "acme.", DNS_ALG_SHA256, NULL, PASS, sizeof(PASS) - 1},
    {"passphrase, no padding", "bXktdHNpZy1zZWNyZXQtZm9yLWFjbWUtMjAyNg", 0, "s",
     "acme", "sha256", 0, "acme.", DNS_ALG_SHA256, NULL, PASS,
     sizeof(PASS) - 1},
    {"passphrase, space inside the base64",
     "bXktdHNpZy1zZWNy ZXQtZm9yLWFjbWUtMjAyNg==", 0, "s", "acme", "sha256", 0,
     "acme.", DNS_ALG_SHA256, NULL, PASS, sizeof(PASS) - 1},
    {"space inside the base64 and no padding: text, not a secret",
     "bXktdHNpZy1zZWNy ZXQtZm9yLWFjbWUtMjAyNg\n", 0, "s", "acme", "sha256",
     DNS_EKEY_SYNTAX, ERR("line 1", "known format")},
    {"words are not a secret", "not a key\n", 0, "s", "acme", "sha256",
     DNS_EKEY_SYNTAX, ERR("known format")},
    {"base64 wrapped over lines without padding",
     "3ZM2i1smWWFyb0eK3ltQ\r\n  3jmhXbsgrJI8gfckHSh/RNE\r\n", 0, "s", "n",
     "sha256", 0, "n.", DNS_ALG_SHA256, S256},
    {"passphrase, no name: the name is missing, not a key file", PASS_B64, 0,
     "Secret ns/s key secret", NULL, "sha256", DNS_EKEY_NAME,
     ERR("key name is missing", "tsigKeyName"), SECRETS(PASS_B64, PASS)},
    {"passphrase with 'key:' and '='", "a2V5OiBteSBzZWNyZXQ9MQ==", 0, "s", "n",
     "sha256", 0, "n.", DNS_ALG_SHA256, NULL, "key: my secret=1", 16},
    {"passphrase like a BIND clause", "c2VjcmV0IGtleSA9ICJ4Ijs=", 0, "s", "n",
     "sha256", 0, "n.", DNS_ALG_SHA256, NULL, "secret key = \"x\";", 17},
    {"passphrase whose text is base64 again",
     "cGFzc3dvcmRwYXNzd29yZHBhc3N3b3Jk", 0, "s", "n", "sha256", 0, "n.",
     DNS_ALG_SHA256, NULL, "passwordpasswordpassword", 24,
     .alt_b64 = "passwordpasswordpassword", .alt_has = "ambiguous"},
    {"passphrase itself, not base64", "my-tsig-secret-for-acme-2026\n", 0, "s",
     "n", "sha256", DNS_EKEY_SYNTAX,
     ERR("not valid base64", "nsupdate", "| base64"), SECRETS(PASS)},

    /* A key file base64-encoded (stringData: after base64 -w0). */
    {"base64 of a key file, no name: the file's key", B64_FILE, 0,
     "Secret ns/s key secret", NULL, NULL, 0, "file-key.", DNS_ALG_SHA256, S256,
     .warn_has = "key file", SECRETS(S256)},
    {"base64 of a Knot line, no name: the line's key", B64_LINE, 0, "s", NULL,
     NULL, 0, "line-key.", DNS_ALG_SHA256, S256, .warn_has = "--from-file"},
    {"base64 of a key file, name and algorithm given: ambiguous", B64_FILE, 0,
     "s", "file-key", "hmac-sha256", 0, "file-key.", DNS_ALG_SHA256,
     .alt_b64 = S256, .alt_has = "key file", SECRETS(S256)},
    {"base64 of a key file naming another key: bytes only", B64_FILE, 0, "s",
     "other", "hmac-sha256", 0, "other.", DNS_ALG_SHA256, SECRETS(S256)},
    {"base64 of a malformed key file is a secret", B64_BADFILE, 0, "s", "n",
     "sha256", 0, "n.", DNS_ALG_SHA256, SECRETS(S256)},
    {"base64 of a malformed key file, no name", B64_BADFILE, 0, "s", NULL,
     "sha256", DNS_EKEY_NAME, ERR("key name is missing"), SECRETS(S256)},

    /* Weak algorithms work, with a warning naming the replacement. */
    {"HMAC-MD5 warns", "vSbvBHAb3PrDiVEPfawpXg==", 0, "s", "old", "hmac-md5", 0,
     "old.", DNS_ALG_MD5, "vSbvBHAb3PrDiVEPfawpXg==", .weak_has = "hmac-md5"},
    {"HMAC-SHA1 warns",
     "key old { algorithm hmac-sha1; secret \"VEP4+sEWv7t59rUgNGcdU/6cxAA=\"; "
     "};",
     0, "s", NULL, NULL, 0, "old.", DNS_ALG_SHA1,
     "VEP4+sEWv7t59rUgNGcdU/6cxAA=",
     .weak_has = "tsig-keygen -a hmac-sha256 "
		 "old "},

    /* Raw key bytes (a Secret's data: field holding the printed key). */
    {"raw bytes with NULs", RAW32, sizeof(RAW32) - 1, "Secret ns/s key secret",
     "n", "sha256", 0, "n.", DNS_ALG_SHA256, NULL, RAW32, sizeof(RAW32) - 1,
     .warn_has = "raw key bytes", SECRETS(RAW32)},
    {"raw bytes kept exactly, white space included", RAW_WS, sizeof(RAW_WS) - 1,
     "s", "n", "md5", 0, "n.", DNS_ALG_MD5, NULL, RAW_WS, sizeof(RAW_WS) - 1,
     .warn_has = "stringData", SECRETS(RAW_WS)},
    {"raw bytes, no name", RAW32, sizeof(RAW32) - 1, "s", NULL, "sha256",
     DNS_EKEY_NAME, ERR("raw bytes", "--tsig-key-name"), SECRETS(RAW32)},
    {"raw bytes, no algorithm", RAW32, sizeof(RAW32) - 1, "s", "n", NULL,
     DNS_EKEY_ALG, ERR("--tsig-algorithm"), SECRETS(RAW32)},
    {"a single NUL byte", "\0", 1, "s", "n", "sha256", 0, "n.", DNS_ALG_SHA256,
     NULL, "\0", 1, .warn_has = "raw"},

    /* NUL bytes and binary garbage inside text formats. */
    {"NUL in a BIND block",
     "key x {\n algorithm hmac-sha256;\0\n secret \"" S256 "\";\n};", 60, "f",
     NULL, NULL, DNS_EKEY_SYNTAX, ERR("line 2", "NUL"), SECRETS(S256)},
    {"binary bytes in a K-file",
     "Private-key-format: v1.3\nAlgorithm: 163\nKey: \xff\xfe" S256 "\n", 0,
     "Kx.+163+1.private", NULL, NULL, DNS_EKEY_SYNTAX, ERR("line 3", "UTF-8"),
     SECRETS(S256)},
    {"control byte in a Knot line", "hmac-sha256:x\x01y:" S256 "\n", 0, "f",
     NULL, NULL, DNS_EKEY_SYNTAX, ERR("line 1", "control"), SECRETS(S256)},
    {"UTF-8 comment in a BIND file",
     "# clé de mise à jour\nkey x { algorithm hmac-sha256; secret \"" S256
     "\"; };",
     0, NULL, NULL, NULL, 0, "x.", DNS_ALG_SHA256, S256},

    /* BIND syntax, comments and truncation. */
    {"all comment styles, CRLF",
     "/* a\r\n * block */ # hash\r\n// slashes\r\nkey /* in */ \"x\" "
     "{ // c\r\n algorithm /**/ hmac-sha256; # c\r\n secret \"" S256
     "\";\r\n};\r\n",
     0, NULL, NULL, NULL, 0, "x.", DNS_ALG_SHA256, S256},
    {"upper case keywords",
     "KEY \"X\" { ALGORITHM HMAC-SHA256; SECRET \"" S256 "\"; };", 0, NULL,
     NULL, NULL, 0, "x.", DNS_ALG_SHA256, S256},
    {"no ';' after the block",
     "key x { algorithm hmac-sha256; secret \"" S256 "\"; }", 0, NULL, NULL,
     NULL, 0, "x.", DNS_ALG_SHA256, S256},
    {"unquoted secret", "key x { algorithm hmac-sha256; secret " S256 "; };", 0,
     NULL, NULL, NULL, 0, "x.", DNS_ALG_SHA256, S256},
    {"unterminated /* comment",
     "key x {\n algorithm hmac-sha256; /* oops\n secret \"" S256 "\";\n};", 0,
     "f", NULL, NULL, DNS_EKEY_SYNTAX, ERR("line 2", "comment"), SECRETS(S256)},
    {"unterminated string",
     "key x {\n algorithm hmac-sha256;\n secret \"" S256 ";\n};", 0, "f", NULL,
     NULL, DNS_EKEY_SYNTAX, ERR("line 3", "not closed"), SECRETS(S256)},
    {"truncated after '{'", "key \"x\" {\n algorithm hmac-sha256;\n", 0, "f",
     NULL, NULL, DNS_EKEY_SYNTAX, ERR("not closed", "'x'")},
    {"truncated after the secret",
     "key \"x\" {\n algorithm hmac-sha256;\n secret \"" S256 "\"", 0, "f", NULL,
     NULL, DNS_EKEY_SYNTAX, ERR("';'", "line 3"), SECRETS(S256)},
    {"only 'key' and a comment", "key # cut", 0, "f", NULL, NULL,
     DNS_EKEY_SYNTAX, ERR("end of the file")},
    {"only 'key' is valid base64: a bare secret", "key", 0, "f", NULL, NULL,
     DNS_EKEY_NAME, ERR("key name is missing")},
    {"no '{'", "key x algorithm hmac-sha256;", 0, "f", NULL, NULL,
     DNS_EKEY_SYNTAX, ERR("'{'")},
    {"missing ';' after the algorithm",
     "key x {\n algorithm hmac-sha256\n secret \"" S256 "\";\n};", 0, "f", NULL,
     NULL, DNS_EKEY_SYNTAX, ERR("';'", "line 3"), SECRETS(S256)},
    {"misspelled clause",
     "key x { algorithm hmac-sha256; secrett \"" S256 "\"; };", 0, "f", NULL,
     NULL, DNS_EKEY_SYNTAX, ERR("'secrett'", "line 1"), SECRETS(S256)},
    {"a bare string as a clause",
     "key x { algorithm hmac-sha256; \"" S256 "\"; };", 0, "f", NULL, NULL,
     DNS_EKEY_SYNTAX, ERR("quoted string"), SECRETS(S256)},
    {"two secrets",
     "key x { algorithm hmac-sha256; secret \"" S256 "\"; secret \"" S256
     "\"; };",
     0, "f", NULL, NULL, DNS_EKEY_SYNTAX, ERR("two 'secret'"), SECRETS(S256)},
    {"no secret", "key x {\n algorithm hmac-sha256;\n};", 0, "f", NULL, NULL,
     DNS_EKEY_SYNTAX, ERR("no secret", "line 1")},
    {"empty secret", "key x {\n algorithm hmac-sha256;\n secret \"\";\n};", 0,
     "f", NULL, NULL, DNS_EKEY_SYNTAX, ERR("empty", "line 3")},
    {"unmatched '}'", "};\nkey x { secret \"" S256 "\"; };", 0, "f", NULL, NULL,
     DNS_EKEY_SYNTAX, ERR("line 1", "'}'"), SECRETS(S256)},
    {"unclosed other block",
     "key x { algorithm hmac-sha256; secret \"" S256 "\"; };\noptions {\n", 0,
     "f", NULL, NULL, DNS_EKEY_SYNTAX, ERR("not closed"), SECRETS(S256)},
    {"unknown algorithm",
     "key x {\n algorithm hmac-sha3-256;\n secret \"" S256 "\";\n};", 0, "f",
     NULL, NULL, DNS_EKEY_ALG, ERR("line 2", "'hmac-sha3-256'"), SECRETS(S256)},
    {"algorithm that looks like a secret",
     "key x {\n algorithm " S256 ";\n secret \"" S256 "\";\n};", 0, "f", NULL,
     NULL, DNS_EKEY_ALG, ERR("not shown"), SECRETS(S256)},

    /* YAML. */
    {"YAML, quoted values",
     "key:\n  - id: \"q-key\"\n    algorithm: 'hmac-sha256'\n"
     "    secret: \"" S256 "\"\n",
     0, NULL, NULL, NULL, 0, "q-key.", DNS_ALG_SHA256, S256},
    {"YAML, comments after values and other sections",
     "server:\n  listen: 0.0.0.0@53\nkey:\n  - id: y # the key\n"
     "    algorithm: hmac-sha512 # strong\n    secret: " S512
     " # shh\nacl:\n  - id: a\n    key: y\n",
     0, NULL, NULL, NULL, 0, "y.", DNS_ALG_SHA512, S512},
    {"YAML, item without id",
     "key:\n  - algorithm: hmac-sha256\n    secret: " S256 "\n", 0, "y", NULL,
     NULL, DNS_EKEY_SYNTAX, ERR("line 2", "id"), SECRETS(S256)},
    {"YAML, field before the item", "key:\n    secret: " S256 "\n  - id: y\n",
     0, "y", NULL, NULL, DNS_EKEY_SYNTAX, ERR("line 2"), SECRETS(S256)},
    {"YAML, line without a colon",
     "key:\n  - id: y\n    garbage\n    secret: " S256 "\n", 0, "y", NULL, NULL,
     DNS_EKEY_SYNTAX, ERR("line 3"), SECRETS(S256)},

    /* Names. */
    {"name made absolute and lower case",
     "key \"Acme.Example.COM\" { algorithm hmac-sha256; secret \"" S256
     "\"; };",
     0, NULL, NULL, NULL, 0, "acme.example.com.", DNS_ALG_SHA256, S256},
    {"given name with a trailing dot, file without",
     "key acme { algorithm hmac-sha256; secret \"" S256 "\"; };", 0, NULL,
     "ACME.", NULL, 0, "acme.", DNS_ALG_SHA256, S256},
    {"given name with white space around",
     "key acme { algorithm hmac-sha256; secret \"" S256 "\"; };", 0, NULL,
     " acme \n", NULL, 0, "acme.", DNS_ALG_SHA256, S256},
    {"empty label in the file name",
     "key \"a..b\" {\n algorithm hmac-sha256;\n secret \"" S256 "\";\n};", 0,
     "f", NULL, NULL, DNS_EKEY_NAME, ERR("'a..b'", "empty label"),
     SECRETS(S256)},
    {"space in the file name",
     "key \"a b\" { algorithm hmac-sha256; secret \"" S256 "\"; };", 0, "f",
     NULL, NULL, DNS_EKEY_NAME, ERR("space"), SECRETS(S256)},
    {"root as key name",
     "key \".\" { algorithm hmac-sha256; secret \"" S256 "\"; };", 0, "f", NULL,
     NULL, DNS_EKEY_NAME, ERR("root"), SECRETS(S256)},
    {"label of 64 characters",
     "key \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "\" { algorithm hmac-sha256; secret \"" S256 "\"; };",
     0, "f", NULL, NULL, DNS_EKEY_NAME, ERR("63"), SECRETS(S256)},
    {"label of 63 characters",
     "key \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "\" { algorithm hmac-sha256; secret \"" S256 "\"; };",
     0, NULL, NULL, NULL, 0,
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.",
     DNS_ALG_SHA256, S256},
    {"given name invalid", S256, 0, "f", "bad name", "sha256", DNS_EKEY_NAME,
     ERR("'bad name'", "given"), SECRETS(S256)},
    {"given name empty label", S256, 0, "f", "a..", "sha256", DNS_EKEY_NAME,
     ERR("empty label"), SECRETS(S256)},
    {"given algorithm unknown", S256, 0, "f", "n", "hmac-sha3", DNS_EKEY_ALG,
     ERR("'hmac-sha3'", "hmac-sha512"), SECRETS(S256)},

    /* Empty, white, too large. */
    {"empty text", "", 0, "f", "n", "sha256", DNS_EKEY_SYNTAX, ERR("empty")},
    {"NULL text", NULL, 0, "f", "n", "sha256", DNS_EKEY_SYNTAX, ERR("empty")},
    {"white space only", " \r\n\t\n", 0, "f", "n", "sha256", DNS_EKEY_SYNTAX,
     ERR("white space")},
    {"comments only", "# nothing here\n", 0, "f", "n", "sha256",
     DNS_EKEY_SYNTAX, ERR("only comments")},
    {"no source named", "key x {", 0, NULL, NULL, NULL, DNS_EKEY_SYNTAX,
     ERR("not closed")},
};

static void test_rows(void **state)
{
	(void)state;
	failures = 0;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		row_check(&rows[i], i);
	assert_int_equal(failures, 0);
}

/* --------------------------------------------- format x algorithm matrix */

enum fmt {
	F_BIND,	     /* tsig-keygen, multi-line */
	F_BIND_LINE, /* one line, unquoted name */
	F_BIND_CONF, /* CRLF, comments, ddns-confgen's surroundings */
	F_KFILE,     /* K*.private, name from the file name */
	F_KNOT,	     /* alg:name:secret */
	F_KNOT2,     /* name:secret, algorithm given by the caller */
	F_YAML,	     /* keymgr's output */
	F_BARE,	     /* bare secret, name and algorithm given */
	F_NFMT
};

static const char *const fmt_names[] = {
    "BIND", "BIND one line",	"BIND conf CRLF", "K-file",
    "Knot", "Knot name:secret", "Knot YAML",	  "bare",
};

enum variant {
	V_GOOD,
	V_BADCHAR,
	V_EMPTY,
	V_TRUNC,
	V_BADALG,
	V_N
};

static const char *const variant_names[] = {
    "good", "bad base64", "empty secret", "truncated", "unknown alg",
};

/* What each malformed variant returns and says, per format. */
struct expect {
	int ret;
	const char *has;
};

static struct expect expect_of(enum fmt f, enum variant v)
{
	switch (v) {
	case V_GOOD:
		return (struct expect){0, NULL};
	case V_BADCHAR:
		return (struct expect){DNS_EKEY_SYNTAX, "not valid base64"};
	case V_EMPTY:
		if (f == F_BARE)
			return (struct expect){DNS_EKEY_SYNTAX, "empty"};
		return (struct expect){DNS_EKEY_SYNTAX, "the secret is empty"};
	case V_TRUNC:
		switch (f) {
		case F_BIND:
		case F_BIND_LINE:
			return (struct expect){DNS_EKEY_SYNTAX, "not closed"};
		case F_BIND_CONF: /* the next statement is read as a clause */
			return (struct expect){DNS_EKEY_SYNTAX, "'};'"};
		case F_KFILE:
			return (struct expect){DNS_EKEY_SYNTAX, "'Key:'"};
		case F_KNOT:
			return (struct expect){DNS_EKEY_SYNTAX, "missing"};
		case F_KNOT2:
			return (struct expect){DNS_EKEY_SYNTAX, "base64"};
		case F_YAML:
			return (struct expect){DNS_EKEY_SYNTAX, "no secret"};
		default:
			return (struct expect){DNS_EKEY_SYNTAX, "truncated"};
		}
	default:
		return (struct expect){DNS_EKEY_ALG, "hmac-sha999"};
	}
}

/*
 * Build the text of format @f for key "mx-key" with algorithm spelling
 * @alg and secret @sec.  Sets the source, name and algorithm arguments.
 */
static void fmt_build(enum fmt f, enum variant v, const char *alg,
		      const char *upper, const char *num, const char *sec,
		      char *buf, size_t size, char *source, size_t srclen,
		      const char **name, const char **galg)
{
	*name = NULL;
	*galg = NULL;
	snprintf(source, srclen, "matrix-%d", (int)f);
	switch (f) {
	case F_BIND:
		snprintf(buf, size,
			 "key \"mx-key\" {\n\talgorithm %s;\n\tsecret "
			 "\"%s\";\n%s",
			 alg, sec, v == V_TRUNC ? "" : "};\n");
		break;
	case F_BIND_LINE:
		snprintf(buf, size,
			 "key mx-key { algorithm %s; secret \"%s\"; %s", alg,
			 sec, v == V_TRUNC ? "" : "};");
		break;
	case F_BIND_CONF:
		snprintf(buf, size,
			 "# To activate this key, place the following\r\n"
			 "/* generated */ key \"MX-Key.\" {\r\n"
			 "\talgorithm %s; // spelled\r\n"
			 "\tsecret \"%s\";\r\n%s\r\n"
			 "update-policy {\r\n\t  grant mx-key zonesub ANY;\r\n"
			 "};\r\nnsupdate -k <keyfile>\r\n",
			 alg, sec, v == V_TRUNC ? "" : "};");
		break;
	case F_KFILE:
		snprintf(source, srclen, "/etc/Kmx-key.+%s+04242.private", num);
		snprintf(buf, size,
			 "Private-key-format: v1.3\nAlgorithm: %s "
			 "(HMAC_%s)\n%s%s%sBits: AAA=\nCreated: "
			 "20190101000000\n",
			 alg, upper,
			 v == V_TRUNC ? "" : "Key: ", v == V_TRUNC ? "" : sec,
			 v == V_TRUNC ? "" : "\n");
		break;
	case F_KNOT:
		if (v == V_TRUNC)
			snprintf(buf, size, "%s:mx-key\n", alg);
		else
			snprintf(buf, size, "%s:mx-key:%s\n", alg, sec);
		break;
	case F_KNOT2:
		*galg = alg;
		if (v == V_TRUNC)
			snprintf(buf, size, "mx-key\n");
		else
			snprintf(buf, size, "mx-key:%s\n", sec);
		break;
	case F_YAML:
		snprintf(buf, size,
			 "# %.47s:mx-key:%s\nkey:\n  - id: mx-key\n    "
			 "algorithm: %.47s\n%s%s\n",
			 alg, sec, alg, v == V_TRUNC ? "" : "    secret: ",
			 v == V_TRUNC ? "" : sec);
		break;
	default:
		*name = "mx-key";
		*galg = alg;
		if (v == V_TRUNC) /* 4n + 1 base64 digits */
			snprintf(buf, size, "%.5s\n", sec);
		else
			snprintf(buf, size, "  %s\r\n", sec);
		break;
	}
}

/* The spellings of algorithm @a people use. */
static size_t spellings(size_t a, char out[][48])
{
	size_t n = 0;
	char lower[16];

	for (size_t i = 0; i <= strlen(A[a].upper); i++)
		lower[i] = (char)(A[a].upper[i] | (A[a].upper[i] ? 0x20 : 0));
	snprintf(out[n++], 48, "%s", A[a].canon);
	snprintf(out[n++], 48, "HMAC-%s", A[a].upper);
	snprintf(out[n++], 48, "HMAC%s", A[a].upper);
	snprintf(out[n++], 48, "%s.", A[a].canon);
	snprintf(out[n++], 48, "%s", lower);
	snprintf(out[n++], 48, "HMAC_%s", A[a].upper);
	snprintf(out[n++], 48, "%s", A[a].num);
	snprintf(out[n++], 48, "Hmac-%s.", lower);
	if (A[a].alg == DNS_ALG_MD5) {
		snprintf(out[n++], 48, "hmac-md5.sig-alg.reg.int");
		snprintf(out[n++], 48, "HMAC-MD5.SIG-ALG.REG.INT.");
	}
	return n;
}

static size_t matrix_rows;

static void test_matrix(void **state)
{
	static char text[1024], source[128];
	char spell[12][48], bad[128];
	const char *name, *galg;

	(void)state;
	failures = 0;
	matrix_rows = 0;
	for (int f = 0; f < F_NFMT; f++) {
		for (size_t a = 0; a < NALG; a++) {
			size_t ns = spellings(a, spell);

			for (int v = 0; v < V_N; v++) {
				/* Every spelling when good, one otherwise. */
				size_t nrun = v == V_GOOD ? ns : 1;

				for (size_t s = 0; s < nrun; s++) {
					struct expect e = expect_of(f, v);
					const char *sec = A[a].secret;
					const char *alg = spell[s];
					char desc[160];
					struct row r;

					if (v == V_BADCHAR) {
						/* A '!' in the middle. */
						snprintf(bad, sizeof(bad), "%s",
							 sec);
						bad[strlen(bad) / 2] = '!';
						sec = bad;
					} else if (v == V_EMPTY) {
						sec = "";
					} else if (v == V_BADALG) {
						alg = "hmac-sha999";
					}
					fmt_build(f, v, alg, A[a].upper,
						  A[a].num, sec, text,
						  sizeof(text), source,
						  sizeof(source), &name, &galg);
					snprintf(desc, sizeof(desc),
						 "%s / %.47s / %s",
						 fmt_names[f], alg,
						 variant_names[v]);
					memset(&r, 0, sizeof(r));
					r.desc = desc;
					r.text = text;
					r.source = source;
					r.name = name;
					r.alg = galg;
					r.ret = e.ret;
					r.err_has[0] = e.has;
					r.exp_name = "mx-key.";
					r.exp_alg = A[a].alg;
					r.exp_b64 = A[a].secret;
					r.secrets[0] = A[a].secret;
					if (v == V_BADCHAR)
						r.secrets[1] = bad;
					/* Errors inside a line say which. */
					if (v == V_BADCHAR ||
					    (v == V_BADALG && galg == NULL))
						r.err_has[1] = "line ";
					if (v == V_BADALG && galg != NULL)
						r.err_has[1] = "given";
					row_check(&r, matrix_rows++);
				}
			}
		}
	}
	print_message("matrix: %zu rows\n", matrix_rows);
	assert_true(matrix_rows > 300);
	assert_int_equal(failures, 0);
}

/* ------------------------------------------------------ algorithm names */

static const struct {
	const char *text;
	int want;
} alg_rows[] = {
    {"hmac-md5", DNS_ALG_MD5},
    {"HMAC-MD5", DNS_ALG_MD5},
    {"HMACMD5", DNS_ALG_MD5},
    {"hmac-md5.", DNS_ALG_MD5},
    {"md5", DNS_ALG_MD5},
    {"HMAC_MD5", DNS_ALG_MD5},
    {"157", DNS_ALG_MD5},
    {"hmac-md5.sig-alg.reg.int", DNS_ALG_MD5},
    {"hmac-md5.sig-alg.reg.int.", DNS_ALG_MD5},
    {"HMAC-MD5.SIG-ALG.REG.INT", DNS_ALG_MD5},
    {"hmac-sha1", DNS_ALG_SHA1},
    {"HMAC-SHA1", DNS_ALG_SHA1},
    {"HMACSHA1", DNS_ALG_SHA1},
    {"hmac-sha1.", DNS_ALG_SHA1},
    {"sha1", DNS_ALG_SHA1},
    {"161", DNS_ALG_SHA1},
    {"hmac-sha224", DNS_ALG_SHA224},
    {"HMACSHA224", DNS_ALG_SHA224},
    {"SHA224", DNS_ALG_SHA224},
    {"162", DNS_ALG_SHA224},
    {"hmac-sha256", DNS_ALG_SHA256},
    {"HMAC-SHA256", DNS_ALG_SHA256},
    {"HMACSHA256", DNS_ALG_SHA256},
    {"hmac-sha256.", DNS_ALG_SHA256},
    {"sha256", DNS_ALG_SHA256},
    {"HMAC_SHA256", DNS_ALG_SHA256},
    {"hmac_sha256", DNS_ALG_SHA256},
    {"163", DNS_ALG_SHA256},
    {" hmac-sha256 ", DNS_ALG_SHA256},
    {"hmac-sha384", DNS_ALG_SHA384},
    {"HMACSHA384", DNS_ALG_SHA384},
    {"164", DNS_ALG_SHA384},
    {"hmac-sha512", DNS_ALG_SHA512},
    {"HMAC-SHA512.", DNS_ALG_SHA512},
    {"Sha512", DNS_ALG_SHA512},
    {"165", DNS_ALG_SHA512},
    {"", DNS_EKEY_ALG},
    {NULL, DNS_EKEY_ALG},
    {"hmac-sha999", DNS_EKEY_ALG},
    {"hmac-", DNS_EKEY_ALG},
    {"hmac", DNS_EKEY_ALG},
    {"sha", DNS_EKEY_ALG},
    {"md4", DNS_EKEY_ALG},
    {"hmac-sha256..", DNS_EKEY_ALG},
    {".", DNS_EKEY_ALG},
    {"hmac--sha256", DNS_EKEY_ALG},
    {"hmac-sha3-256", DNS_EKEY_ALG},
    {"gss-tsig", DNS_EKEY_ALG},
    {"8", DNS_EKEY_ALG},
    {"160", DNS_EKEY_ALG},
    {"1630", DNS_EKEY_ALG},
    {"hmac-sha256\x01", DNS_EKEY_ALG},
    {"a-very-long-algorithm-name-that-does-not-fit-anything-at-all",
     DNS_EKEY_ALG},
};

static void test_alg_from_text(void **state)
{
	(void)state;
	failures = 0;
	for (size_t i = 0; i < sizeof(alg_rows) / sizeof(alg_rows[0]); i++) {
		int got = dns_alg_from_text(alg_rows[i].text);

		if (got != alg_rows[i].want)
			report("alg row %zu ('%s'): %d, want %d", i,
			       alg_rows[i].text ? alg_rows[i].text : "NULL",
			       got, alg_rows[i].want);
	}
	assert_int_equal(failures, 0);
}

static void test_alg_to_text(void **state)
{
	(void)state;
	for (size_t a = 0; a < NALG; a++) {
		assert_string_equal(dns_alg_to_text(A[a].alg), A[a].canon);
		/* Canonical names read back to themselves. */
		assert_int_equal(dns_alg_from_text(A[a].canon), A[a].alg);
	}
	assert_string_equal(dns_alg_to_text(DNS_ALG_NONE), "");
	assert_string_equal(dns_alg_to_text((enum dns_alg)42), "");
	assert_string_equal(dns_alg_to_text((enum dns_alg) - 1), "");
}

/* ----------------------------------------------------- the real files */

/*
 * The base64 of @path as the tool wrote it: after the last @marker up to a
 * quote, a newline or the end.  Independent of dns/key.c's parser.
 */
static char *file_b64(const char *path, const char *marker)
{
	static char text[65536];
	char *p = NULL, *end;
	size_t n;
	FILE *fp = fopen(path, "r");

	if (fp == NULL)
		return NULL;
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	if (marker[0] == '\0')
		p = text; /* a bare secret: the whole first line */
	for (char *q = text; marker[0] && (q = strstr(q, marker)) != NULL; q++)
		p = q + strlen(marker);
	if (p == NULL)
		return NULL;
	end = p + strcspn(p, "\"\r\n");
	return strndup(p, (size_t)(end - p));
}

static const struct {
	const char *file, *marker, *name, *alg;
	const char *want_name;
	int want_alg;
} file_rows[] = {
    {"tsig-keygen-md5.conf", "secret \"", NULL, NULL, "md5-key.", DNS_ALG_MD5},
    {"tsig-keygen-sha1.conf", "secret \"", NULL, NULL, "sha1-key.",
     DNS_ALG_SHA1},
    {"tsig-keygen-sha224.conf", "secret \"", NULL, NULL, "sha224-key.",
     DNS_ALG_SHA224},
    {"tsig-keygen-sha256.conf", "secret \"", NULL, NULL, "example-key.",
     DNS_ALG_SHA256},
    {"tsig-keygen-sha256.conf", "secret \"", "EXAMPLE-KEY.", "HMACSHA256",
     "example-key.", DNS_ALG_SHA256},
    {"tsig-keygen-sha384.conf", "secret \"", NULL, NULL, "sha384-key.",
     DNS_ALG_SHA384},
    {"tsig-keygen-sha512.conf", "secret \"", NULL, "hmac-sha512.", "acme512.",
     DNS_ALG_SHA512},
    {"ddns-confgen-sha512.conf", "secret \"", NULL, NULL, "ddns-key.",
     DNS_ALG_SHA512},
    {"ddns-confgen-sha512.conf", "secret \"", "ddns-key", NULL, "ddns-key.",
     DNS_ALG_SHA512},
    {"keymgr-sha384.conf", "secret: ", NULL, NULL, "knot-key.", DNS_ALG_SHA384},
    {"keymgr-sha256.conf", "secret: ", "knot256", "sha256", "knot256.",
     DNS_ALG_SHA256},
    {"Kexample-key.+163+12345.private", "Key: ", NULL, NULL, "example-key.",
     DNS_ALG_SHA256},
    {"Kacme512.+165+54321.private", "Key: ", NULL, NULL, "acme512.",
     DNS_ALG_SHA512},
    {"Kacme512.+165+54321.private", "Key: ", "other-name", "HMAC-SHA512",
     "other-name.", DNS_ALG_SHA512},
    {"knot-sha256.key", ":", NULL, NULL, "example-key.", DNS_ALG_SHA256},
    {"knot-sha512.key", ":", NULL, NULL, "acme512.", DNS_ALG_SHA512},
    {"knot-noalg.key", ":", NULL, NULL, "knotdefault.", DNS_ALG_SHA256},
    {"bare-secret.txt", "", "bare-key", "hmac-sha256", "bare-key.",
     DNS_ALG_SHA256},
};

static void test_files(void **state)
{
	(void)state;
	failures = 0;
	for (size_t i = 0; i < sizeof(file_rows) / sizeof(file_rows[0]); i++) {
		char path[256], err[512];
		struct dns_key key;
		size_t want_len;
		uint8_t *want;
		char *sec;
		int ret;

		snprintf(path, sizeof(path), DATA "%s", file_rows[i].file);
		sec = file_b64(path, file_rows[i].marker);
		if (sec == NULL) {
			report("file %s: no secret found by the test", path);
			continue;
		}
		want = b64(sec, &want_len);
		ret = dns_key_load(&key, path, file_rows[i].name,
				   file_rows[i].alg, err, sizeof(err));
		if (ret != 0) {
			report("file %s: %d %s", path, ret, err);
		} else {
			if (strcmp(key.name, file_rows[i].want_name) != 0)
				report("file %s: name %s", path, key.name);
			if ((int)key.alg != file_rows[i].want_alg)
				report("file %s: alg %s", path,
				       dns_alg_to_text(key.alg));
			if (want == NULL || want_len < 16 ||
			    key.secret_len != want_len ||
			    memcmp(key.secret, want, want_len) != 0)
				report("file %s: wrong secret", path);
			if (key.warning[0] != '\0')
				report("file %s: warning %s", path,
				       key.warning);
		}
		dns_key_release(&key);
		free(want);
		free(sec);
	}
	assert_int_equal(failures, 0);
}

/* A file name written to a fresh temporary directory. */
static char tmpdir[64];

static int tmp_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_key.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int tmp_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, size_t size, const char *head)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(head, fp);
	for (size_t n = strlen(head); n < size; n++)
		fputc(n + 1 == size ? '\n' : ' ', fp);
	fclose(fp);
}

static void test_load_errors(void **state)
{
	char path[128], err[512];
	struct dns_key key;
	int ret;

	(void)state;
	/* Missing file: the path and the errno text. */
	ret = dns_key_load(&key, DATA "no-such-file", NULL, NULL, err,
			   sizeof(err));
	assert_int_equal(ret, -ENOENT);
	assert_non_null(strstr(err, DATA "no-such-file"));
	assert_non_null(strstr(err, strerror(ENOENT)));
	assert_null(key.secret);

	/* A directory. */
	ret = dns_key_load(&key, DATA, NULL, NULL, err, sizeof(err));
	assert_int_equal(ret, -EISDIR);
	assert_non_null(strstr(err, DATA));
	assert_non_null(strstr(err, strerror(EISDIR)));

	/* 64 KiB exactly is read; one byte more is refused. */
	snprintf(path, sizeof(path), "%s/big.key", tmpdir);
	write_file(path, 64 * 1024, "hmac-sha256:big:" S256 "\n");
	ret = dns_key_load(&key, path, NULL, NULL, err, sizeof(err));
	assert_int_equal(ret, 0);
	assert_string_equal(key.name, "big.");
	dns_key_release(&key);
	write_file(path, 64 * 1024 + 1, "hmac-sha256:big:" S256 "\n");
	ret = dns_key_load(&key, path, NULL, NULL, err, sizeof(err));
	assert_int_equal(ret, DNS_EKEY_SYNTAX);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "64 KiB"));
	assert_null(strstr(err, S256));

	/* Parse errors through load name the path and the line. */
	snprintf(path, sizeof(path), "%s/bad.conf", tmpdir);
	write_file(path, 0,
		   "key x {\n algorithm hmac-sha256;\n secret \"" S256
		   "!\";\n};\n");
	ret = dns_key_load(&key, path, NULL, NULL, err, sizeof(err));
	assert_int_equal(ret, DNS_EKEY_SYNTAX);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "line 3"));
	assert_false(leaks(err, S256, strlen(S256)));

	/* An empty file. */
	snprintf(path, sizeof(path), "%s/empty", tmpdir);
	write_file(path, 0, "");
	ret = dns_key_load(&key, path, "n", "sha256", err, sizeof(err));
	assert_int_equal(ret, DNS_EKEY_SYNTAX);
	assert_non_null(strstr(err, "empty"));

	/* NULL path and key. */
	assert_int_equal(dns_key_load(NULL, path, NULL, NULL, err, 8), -EINVAL);
	assert_int_equal(dns_key_load(&key, NULL, NULL, NULL, NULL, 0),
			 -EINVAL);
}

static void test_oversized_parse(void **state)
{
	size_t len = 64 * 1024 + 1;
	char *big = malloc(len), err[256];
	struct dns_key key;

	(void)state;
	assert_non_null(big);
	memset(big, 'A', len);
	assert_int_equal(dns_key_parse(&key, big, len, "Secret a/b", "n",
				       "sha256", err, sizeof(err)),
			 DNS_EKEY_SYNTAX);
	assert_non_null(strstr(err, "Secret a/b"));
	assert_non_null(strstr(err, "64 KiB"));
	assert_null(strstr(err, "AAAAAAAA"));
	/* 64 KiB of base64 is accepted as a (long) key. */
	assert_int_equal(dns_key_parse(&key, big, len - 1, "s", "n", "sha256",
				       err, sizeof(err)),
			 0);
	assert_int_equal(key.secret_len, 48 * 1024);
	dns_key_release(&key);
	free(big);
}

/* --------------------------------------------------------- lifecycle */

static void test_release(void **state)
{
	static const struct dns_key zero;
	struct dns_key key;
	char err[8];

	(void)state;
	assert_int_equal(dns_key_parse(&key, "x:" S256_TWICE, 2 + 60, "s", NULL,
				       NULL, err, sizeof(err)),
			 0);
	assert_non_null(key.secret);
	assert_non_null(key.alt_secret);
	assert_true(key.alt_warning[0] != '\0');
	dns_key_release(&key);
	assert_memory_equal(&key, &zero, sizeof(key));
	dns_key_release(&key); /* twice is harmless */
	dns_key_release(NULL);
	assert_memory_equal(&key, &zero, sizeof(key));

	/* A small or absent error buffer is safe; the key stays zeroed. */
	assert_int_equal(dns_key_parse(&key, "key x {", 7, "a-long-source",
				       NULL, NULL, err, sizeof(err)),
			 DNS_EKEY_SYNTAX);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_memory_equal(&key, &zero, sizeof(key));
	assert_int_equal(
	    dns_key_parse(&key, "key x {", 7, NULL, NULL, NULL, NULL, 0),
	    DNS_EKEY_SYNTAX);
	assert_int_equal(
	    dns_key_parse(NULL, "x", 1, NULL, NULL, NULL, err, sizeof(err)),
	    -EINVAL);
}

/*
 * Random key bytes of every length 1-128, their base64 (libdnssec's
 * encoder) written five ways: as is, with a newline, CRLF, spaces around,
 * without padding.  Each is read back as exactly those bytes, as nsupdate
 * -y reads it, with no warning.
 */
static void test_random_secrets(void **state)
{
	static const char *const fmt[] = {"%s", "%s\n", "%s\r\n", "  %s \t\n",
					  "%s"};
	unsigned seed = 20261206;

	(void)state;
	failures = 0;
	for (size_t len = 1; len <= 128; len++) {
		uint8_t bytes[128];
		dnssec_binary_t bin = {len, bytes}, text = {0};

		for (size_t i = 0; i < len; i++)
			bytes[i] = (uint8_t)rand_r(&seed);
		assert_int_equal(dnssec_binary_to_base64(&bin, &text), 0);
		for (size_t v = 0; v < sizeof(fmt) / sizeof(fmt[0]); v++) {
			char buf[256], b64text[200], err[512];
			struct dns_key key;
			size_t n = text.size;

			memcpy(b64text, text.data, n);
			while (v == 4 && n > 0 && b64text[n - 1] == '=')
				n--; /* without padding */
			b64text[n] = '\0';
			/* fmt[v] is one of the literal forms above. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
			snprintf(buf, sizeof(buf), fmt[v], b64text);
#pragma GCC diagnostic pop
			if (dns_key_parse(&key, buf, strlen(buf), "s", "n",
					  "sha256", err, sizeof(err)) != 0)
				report("%zu bytes, form %zu: %s", len, v, err);
			else if (key.secret_len != len ||
				 memcmp(key.secret, bytes, len) != 0 ||
				 key.warning[0] != '\0')
				report("%zu bytes, form %zu: wrong secret", len,
				       v);
			dns_key_release(&key);
		}
		dnssec_binary_free(&text);
	}
	assert_int_equal(failures, 0);
}

/* The alternate reading becomes the secret and back; no alternate: no-op. */
static void test_alt_swap(void **state)
{
	struct dns_key key;
	char err[256];
	size_t len1, len2;
	uint8_t *once = b64(S256_TWICE, &len1), *twice = b64(S256, &len2);

	(void)state;
	assert_int_equal(dns_key_parse(&key, S256_TWICE, strlen(S256_TWICE),
				       "s", "n", "sha256", err, sizeof(err)),
			 0);
	dns_key_alt_swap(&key);
	assert_int_equal(key.secret_len, len2);
	assert_memory_equal(key.secret, twice, len2);
	assert_int_equal(key.alt_secret_len, len1);
	assert_memory_equal(key.alt_secret, once, len1);
	dns_key_alt_swap(&key);
	assert_memory_equal(key.secret, once, len1);
	dns_key_release(&key);
	assert_null(key.alt_secret);
	assert_int_equal(dns_key_parse(&key, S256, strlen(S256), "s", "n",
				       "sha256", err, sizeof(err)),
			 0);
	assert_null(key.alt_secret);
	dns_key_alt_swap(&key);
	assert_int_equal(key.secret_len, 32);
	dns_key_release(&key);
	dns_key_alt_swap(NULL);
	free(once);
	free(twice);
}

/* Which answers reject the key itself (and so call for the alternate). */
static void test_key_rejected(void **state)
{
	static const struct {
		const char *desc;
		bool answered, present, verified;
		int rcode, tsig_error;
		bool want;
	} rej[] = {
	    {"BIND/Knot NOTAUTH+BADSIG", true, true, false, 9, 16, true},
	    {"BIND/Knot NOTAUTH+BADKEY", true, true, false, 9, 17, true},
	    {"PowerDNS REFUSED without TSIG", true, false, false, 5, 0, true},
	    {"BIND policy denial: signed REFUSED", true, true, true, 5, 0,
	     false},
	    {"BADTIME is the clock, not the key", true, true, false, 9, 18,
	     false},
	    {"NOTAUTH without TSIG (zone not served)", true, false, false, 9, 0,
	     false},
	    {"NOERROR", true, true, true, 0, 0, false},
	    {"no answer", false, false, false, -1, 0, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rej) / sizeof(rej[0]); i++) {
		struct dns_outcome o;

		memset(&o, 0, sizeof(o));
		o.answered = rej[i].answered;
		o.tsig_present = rej[i].present;
		o.tsig_verified = rej[i].verified;
		o.rcode = rej[i].rcode;
		o.tsig_error = rej[i].tsig_error;
		if (dns_outcome_key_rejected(&o) != rej[i].want)
			fail_msg("%s: want %d", rej[i].desc, rej[i].want);
	}
	assert_false(dns_outcome_key_rejected(NULL));
}

/*
 * Mutated key files (bytes flipped, cut, NULs inserted) from a fixed seed:
 * never a crash (the sanitizer build watches memory), and every outcome is
 * either a complete key or an error with a text.
 */
static void test_garbage(void **state)
{
	static const char *const seeds[] = {
	    DDNS_CONFGEN,
	    KEYMGR,
	    TWO_BLOCKS,
	    KPRIV("163 (HMAC_SHA256)", S256),
	    "hmac-sha256:kn:" S256 "\n",
	    S512_TWICE_NL,
	    "/* c */ key \"x\" { algorithm hmac-sha256; secret \"" S256
	    "\"; };",
	};
	unsigned seed = 20240607;
	char buf[2048], err[512];
	size_t ok = 0, bad = 0;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		const char *s = seeds[(unsigned)round % 7];
		size_t len = strlen(s);
		struct dns_key key;
		int ret, flips = 1 + rand_r(&seed) % 4;

		memcpy(buf, s, len);
		for (int i = 0; i < flips; i++) {
			size_t at = (size_t)rand_r(&seed) % len;

			switch (rand_r(&seed) % 4) {
			case 0:
				buf[at] = (char)rand_r(&seed);
				break;
			case 1:
				buf[at] = '\0';
				break;
			case 2:
				len = at + 1; /* cut */
				break;
			default:
				buf[at] = "{};\"#/*:=\n "[rand_r(&seed) % 12];
				break;
			}
		}
		ret = dns_key_parse(
		    &key, buf, len, "fuzz", round % 3 ? NULL : "x",
		    round % 5 ? NULL : "sha256", err, sizeof(err));
		if (ret == 0) {
			assert_non_null(key.secret);
			assert_true(key.secret_len > 0);
			assert_true(key.name[strlen(key.name) - 1] == '.');
			assert_true(key.alg >= DNS_ALG_MD5 &&
				    key.alg <= DNS_ALG_SHA512);
			ok++;
		} else {
			assert_true(ret >= DNS_EKEY_SYNTAX &&
				    ret <= DNS_EKEY_CONFLICT);
			assert_non_null(strstr(err, "fuzz"));
			bad++;
		}
		dns_key_release(&key);
	}
	print_message("garbage: %zu parsed, %zu refused\n", ok, bad);
	assert_true(ok > 0 && bad > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alg_from_text),
	    cmocka_unit_test(test_alg_to_text),
	    cmocka_unit_test(test_rows),
	    cmocka_unit_test(test_matrix),
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_oversized_parse),
	    cmocka_unit_test(test_release),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_random_secrets),
	    cmocka_unit_test(test_alt_swap),
	    cmocka_unit_test(test_key_rejected),
	};

	return cmocka_run_group_tests_name("key", tests, tmp_setup,
					   tmp_teardown);
}
