/*
 * tls_priorities.c - Kubernetes' TLS flags (--tls-min-version,
 * --tls-cipher-suites, Go's names) in GnuTLS terms: a priority string
 * (see tls.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "server/tls.h"

enum suite_kind {
	SUITE_TLS12 = 0, /* offered: ECDHE key exchange, AEAD cipher */
	SUITE_TLS13,	 /* fixed in TLS 1.3: accepted, ignored (as Go) */
	SUITE_REFUSED,	 /* known to Go, but not forward-secret or AEAD */
};

/* Go's crypto/tls names (also IANA's) and their GnuTLS parts. */
static const struct {
	const char *name;
	enum suite_kind kind;
	const char *kx, *cipher;
} suites_known[] = {
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", SUITE_TLS12, "ECDHE-ECDSA",
     "AES-128-GCM"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", SUITE_TLS12, "ECDHE-RSA",
     "AES-128-GCM"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", SUITE_TLS12, "ECDHE-ECDSA",
     "AES-256-GCM"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", SUITE_TLS12, "ECDHE-RSA",
     "AES-256-GCM"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", SUITE_TLS12,
     "ECDHE-ECDSA", "CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", SUITE_TLS12, "ECDHE-RSA",
     "CHACHA20-POLY1305"},
    /* Go's older spellings of the two above. */
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", SUITE_TLS12, "ECDHE-ECDSA",
     "CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", SUITE_TLS12, "ECDHE-RSA",
     "CHACHA20-POLY1305"},
    {"TLS_AES_128_GCM_SHA256", SUITE_TLS13, NULL, NULL},
    {"TLS_AES_256_GCM_SHA384", SUITE_TLS13, NULL, NULL},
    {"TLS_CHACHA20_POLY1305_SHA256", SUITE_TLS13, NULL, NULL},
    {"TLS_RSA_WITH_RC4_128_SHA", SUITE_REFUSED, NULL, NULL},
    {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", SUITE_REFUSED, NULL, NULL},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", SUITE_REFUSED, NULL, NULL},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", SUITE_REFUSED, NULL, NULL},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", SUITE_REFUSED, NULL, NULL},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", SUITE_REFUSED, NULL, NULL},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", SUITE_REFUSED, NULL, NULL},
    {"TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", SUITE_REFUSED, NULL, NULL},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", SUITE_REFUSED, NULL, NULL},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", SUITE_REFUSED, NULL, NULL},
    {"TLS_ECDHE_RSA_WITH_RC4_128_SHA", SUITE_REFUSED, NULL, NULL},
    {"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", SUITE_REFUSED, NULL, NULL},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", SUITE_REFUSED, NULL, NULL},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", SUITE_REFUSED, NULL, NULL},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", SUITE_REFUSED, NULL, NULL},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", SUITE_REFUSED, NULL, NULL},
};

#define SUITES_DEFAULT                                                         \
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,"                             \
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"                               \
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,"                             \
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"                               \
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,"                       \
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"

/* Append ":+@item" to @buf unless it is there already. */
static void prio_add(char *buf, size_t buflen, const char *item)
{
	char tok[64];
	size_t have = strlen(buf);

	snprintf(tok, sizeof(tok), ":+%s:", item);
	/* The set is checked with a trailing ':' so AES-128-GCM is exact. */
	char probe[512];
	snprintf(probe, sizeof(probe), "%s:", buf);
	if (strstr(probe, tok) != NULL)
		return;
	snprintf(buf + have, buflen - have, ":+%s", item);
}

/* Append @name to a list of offending names in @list. */
static void names_add(char *list, size_t len, const char *name, size_t nlen)
{
	size_t have = strlen(list);
	snprintf(list + have, len - have, "%s'%.*s'", have > 0 ? ", " : "",
		 (int)nlen, name);
}

/* The versions from TLS 1.2 or 1.3 up, for GnuTLS; 0 or -EINVAL. */
static int versions_pick(const char *min_version, const char **vers, char *err,
			 size_t errlen)
{
	if (min_version == NULL || strcmp(min_version, "VersionTLS12") == 0) {
		*vers = "+VERS-TLS1.3:+VERS-TLS1.2";
	} else if (strcmp(min_version, "VersionTLS13") == 0) {
		*vers = "+VERS-TLS1.3";
	} else if (strcmp(min_version, "VersionTLS10") == 0 ||
		   strcmp(min_version, "VersionTLS11") == 0) {
		snprintf(err, errlen,
			 "--tls-min-version: '%s' is below TLS 1.2, the "
			 "least this server speaks (VersionTLS12 or "
			 "VersionTLS13)",
			 min_version);
		return -EINVAL;
	} else {
		snprintf(err, errlen,
			 "--tls-min-version: '%s' is not VersionTLS12 or "
			 "VersionTLS13",
			 min_version);
		return -EINVAL;
	}
	return 0;
}

#define NSUITES (sizeof(suites_known) / sizeof(suites_known[0]))

/* The row of suites_known named by @name (@len bytes), or NSUITES. */
static size_t suite_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NSUITES; i++)
		if (strlen(suites_known[i].name) == len &&
		    memcmp(suites_known[i].name, name, len) == 0)
			break;
	return i;
}

/* What the named suites amount to: GnuTLS sets, and the names refused. */
struct suites_seen {
	char kx[256], ciphers[256];	 /* ":+ECDHE-RSA...", ":+AES-..." */
	char unknown[512], refused[512]; /* "'A', 'B'" */
	int n12;			 /* TLS 1.2 suites offered */
};

/* Sort one name of the list (blanks around it trimmed) into @seen. */
static void suite_add(struct suites_seen *seen, const char *a, const char *b)
{
	while (a < b && (*a == ' ' || *a == '\t'))
		a++;
	while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
		b--;
	size_t len = (size_t)(b - a);
	size_t i = suite_find(a, len);

	if (len == 0) {
		/* an empty item ("a,,b" or a trailing comma) */
	} else if (i == NSUITES) {
		names_add(seen->unknown, sizeof(seen->unknown), a, len);
	} else if (suites_known[i].kind == SUITE_REFUSED) {
		names_add(seen->refused, sizeof(seen->refused), a, len);
	} else if (suites_known[i].kind == SUITE_TLS12) {
		prio_add(seen->kx, sizeof(seen->kx), suites_known[i].kx);
		prio_add(seen->ciphers, sizeof(seen->ciphers),
			 suites_known[i].cipher);
		seen->n12++;
	}
}

/* Read the comma list @suites (NULL or "": the default) into @seen. */
static int suites_read(const char *suites, bool tls13_only,
		       struct suites_seen *seen, char *err, size_t errlen)
{
	const char *p =
	    suites != NULL && suites[0] != '\0' ? suites : SUITES_DEFAULT;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		suite_add(seen, p, end);
		p = *end == ',' ? end + 1 : end;
	}
	if (seen->unknown[0] != '\0') {
		snprintf(err, errlen,
			 "--tls-cipher-suites: unknown cipher suite %s (Go "
			 "names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)",
			 seen->unknown);
		return -EINVAL;
	}
	if (seen->refused[0] != '\0') {
		snprintf(err, errlen,
			 "--tls-cipher-suites: %s not offered: only ECDHE "
			 "suites with AES-GCM or ChaCha20-Poly1305 are",
			 seen->refused);
		return -EINVAL;
	}
	if (seen->n12 == 0 && !tls13_only) {
		snprintf(err, errlen,
			 "--tls-cipher-suites: no TLS 1.2 suite named, so TLS "
			 "1.2 clients could not connect (name one, or give "
			 "--tls-min-version VersionTLS13)");
		return -EINVAL;
	}
	return 0;
}

/* TLS 1.3 only: its suites are fixed, the names ignored. */
static void suites_tls13(struct suites_seen *seen)
{
	seen->kx[0] = seen->ciphers[0] = '\0';
	prio_add(seen->kx, sizeof(seen->kx), "ECDHE-ECDSA");
	prio_add(seen->kx, sizeof(seen->kx), "ECDHE-RSA");
	prio_add(seen->ciphers, sizeof(seen->ciphers), "AES-256-GCM");
	prio_add(seen->ciphers, sizeof(seen->ciphers), "AES-128-GCM");
	prio_add(seen->ciphers, sizeof(seen->ciphers), "CHACHA20-POLY1305");
}

int tls_priorities_build(const char *min_version, const char *suites, char *out,
			 size_t outlen, char *err, size_t errlen)
{
	struct suites_seen seen = {.n12 = 0};
	const char *vers;

	if (versions_pick(min_version, &vers, err, errlen) < 0)
		return -EINVAL;
	bool tls13_only = strcmp(vers, "+VERS-TLS1.3") == 0;
	if (suites_read(suites, tls13_only, &seen, err, errlen) < 0)
		return -EINVAL;
	if (tls13_only)
		suites_tls13(&seen);
	int w = snprintf(out, outlen,
			 "NORMAL:-VERS-ALL:%s:-CIPHER-ALL%s:-MAC-ALL:+AEAD:"
			 "-KX-ALL%s:%%SERVER_PRECEDENCE",
			 vers, seen.ciphers, seen.kx);
	if (w < 0 || (size_t)w >= outlen) {
		snprintf(err, errlen, "TLS priority string too long");
		return -EINVAL;
	}
	return 0;
}
