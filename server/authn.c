/*
 * authn.c - request-header authentication (see auth.h): the front proxy's
 * configuration (CA, allowed names, header names; from flags, a CA file or
 * the ConfigMap) and the verification of its client certificate.  The user
 * it names in headers is read in authn_user.c.
 *
 * The model is k8s.io/apiserver's request-header authenticator
 * (pkg/authentication/request/headerrequest): it checks the proxy's client
 * certificate against the request-header CA with the client-auth key usage
 * and an optional CN allow list, and only then reads the user from headers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/x509.h>
#include <jansson.h>

#include "server/auth.h"
#include "server/auth_internal.h"
#include "server/tls.h"
#include "util/file.h"

/* A CA bundle larger than this is not a CA bundle. */
#define CA_FILE_MAX (1024 * 1024)
/* Longest peer chain looked at. */
#define CHAIN_MAX 16

static const char *const auth_errors[] = {
    [AUTH_ENOCA - AUTH_ENOCA] = "no request-header CA is configured",
    [AUTH_ENOCERT - AUTH_ENOCA] = "no client certificate",
    [AUTH_EBADCERT - AUTH_ENOCA] = "the client certificate cannot be parsed",
    [AUTH_EUNTRUSTED - AUTH_ENOCA] =
	"the client certificate is not signed by the request-header CA",
    [AUTH_EPURPOSE - AUTH_ENOCA] =
	"the client certificate is not valid for client authentication",
    [AUTH_ENAME - AUTH_ENOCA] =
	"the client certificate's CN is not an allowed name",
    [AUTH_ENOUSER - AUTH_ENOCA] = "no user header",
};

_Static_assert(sizeof(auth_errors) / sizeof(auth_errors[0]) ==
		   AUTH_ELAST - AUTH_ENOCA,
	       "every AUTH_E* code needs a text");

const char *auth_strerror(int code)
{
	if (code >= AUTH_ENOCA && code < AUTH_ELAST)
		return auth_errors[code - AUTH_ENOCA];
	/* errno values stay far below the module ranges (-2000, -3000). */
	if (code < 0 && code > -1000)
		return strerror(-code);
	return "unknown error";
}

/* Free the strings of @l and leave it empty. */
static void strlist_release(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

int strlist_push(char ***items, size_t *n, char *s)
{
	char **grown = realloc(*items, (*n + 1) * sizeof(**items));
	if (grown == NULL)
		return -ENOMEM;
	grown[(*n)++] = s;
	*items = grown;
	return 0;
}

/* Append [a, b) trimmed of blanks, unless that leaves nothing. */
static int strlist_add_trimmed(struct strlist *l, const char *a, const char *b)
{
	while (a < b && (*a == ' ' || *a == '\t'))
		a++;
	while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
		b--;
	if (b == a)
		return 0;
	char *item = strndup(a, (size_t)(b - a));
	if (item == NULL || strlist_push(&l->items, &l->n, item)) {
		free(item);
		return -ENOMEM;
	}
	return 0;
}

/* A comma list (the --requestheader-* flags). */
static int strlist_parse(struct strlist *l, const char *text)
{
	const char *p = text != NULL ? text : "";

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		if (strlist_add_trimmed(l, p, end) < 0) {
			strlist_release(l);
			return -ENOMEM;
		}
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

/* Append copies of the strings of @src to @dst (emptied on failure). */
static int strlist_copy(struct strlist *dst, const struct strlist *src)
{
	for (size_t i = 0; i < src->n; i++) {
		char *s = strdup(src->items[i]);
		if (s == NULL || strlist_push(&dst->items, &dst->n, s)) {
			free(s);
			strlist_release(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

int auth_json_list(const char *json, char ***items, size_t *n, char *err,
		   size_t errlen)
{
	struct strlist l = {NULL, 0};
	json_error_t jerr;
	json_t *root = NULL;
	int ret = -EINVAL;

	*items = NULL;
	*n = 0;
	if (json == NULL)
		return 0;
	/* An empty value is an empty list, as Kubernetes reads it. */
	const char *p = json;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p == '\0')
		return 0;
	if (strlen(json) > AUTH_JSON_LIST_BYTES) {
		snprintf(err, errlen, "longer than %d bytes",
			 AUTH_JSON_LIST_BYTES);
		return -EINVAL;
	}
	root = json_loads(json, JSON_DECODE_ANY, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "not JSON: %s", jerr.text);
		goto out;
	}
	if (json_is_null(root)) {
		ret = 0;
		goto out;
	}
	if (!json_is_array(root)) {
		snprintf(err, errlen, "not a JSON array of strings");
		goto out;
	}
	if (json_array_size(root) > AUTH_JSON_LIST_MAX) {
		snprintf(err, errlen, "more than %d items", AUTH_JSON_LIST_MAX);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(root); i++) {
		json_t *v = json_array_get(root, i);
		if (!json_is_string(v)) {
			snprintf(err, errlen,
				 "item %zu is not a string (a JSON array of "
				 "strings is expected)",
				 i);
			goto out;
		}
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);
		if (memchr(s, '\0', len) != NULL) {
			snprintf(err, errlen, "item %zu contains a NUL", i);
			goto out;
		}
		if (strlist_add_trimmed(&l, s, s + len) < 0) {
			snprintf(err, errlen, "out of memory");
			ret = -ENOMEM;
			goto out;
		}
	}
	*items = l.items;
	*n = l.n;
	l.items = NULL;
	l.n = 0;
	ret = 0;
out:
	strlist_release(&l);
	json_decref(root);
	return ret;
}

static const char *const list_keys[AUTHN_NLISTS] = {
    [AUTHN_ALLOWED_NAMES] = "requestheader-allowed-names",
    [AUTHN_USERNAME_HEADERS] = "requestheader-username-headers",
    [AUTHN_GROUP_HEADERS] = "requestheader-group-headers",
    [AUTHN_EXTRA_PREFIXES] = "requestheader-extra-headers-prefix",
    [AUTHN_UID_HEADERS] = "requestheader-uid-headers",
};

const char *authn_list_key(enum authn_list which)
{
	return (unsigned)which < AUTHN_NLISTS ? list_keys[which] : "";
}

struct authn {
	pthread_mutex_t lock; /* guards conf (the pointer) and status */
	struct authn_conf *conf;
	atomic_uint generation;
	struct strlist flags[AUTHN_NLISTS]; /* flag values or defaults */
	char status[256];		    /* why there is no CA */

	/* --requestheader-client-ca-file, re-read when it changes. */
	char *ca_file; /* NULL: the CA comes from elsewhere */
	struct tls_file_watch ca_watch;
};

/* Free a configuration (its last reference is gone).  NULL-safe. */
static void conf_free(struct authn_conf *c)
{
	if (c == NULL)
		return;
	if (c->tl != NULL)
		gnutls_x509_trust_list_deinit(c->tl, 1);
	for (int i = 0; i < AUTHN_NLISTS; i++)
		strlist_release(&c->lists[i]);
	free(c->source);
	free(c);
}

void authn_conf_put(struct authn_conf *c)
{
	if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1)
		conf_free(c);
}

struct authn_conf *authn_conf_get(struct authn *a)
{
	pthread_mutex_lock(&a->lock);
	struct authn_conf *c = a->conf;
	atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&a->lock);
	return c;
}

/* Publish @c (the authenticator takes the caller's reference). */
static void conf_publish(struct authn *a, struct authn_conf *c)
{
	pthread_mutex_lock(&a->lock);
	struct authn_conf *old = a->conf;
	a->conf = c;
	atomic_fetch_add(&a->generation, 1);
	pthread_mutex_unlock(&a->lock);
	authn_conf_put(old);
}

/* A trust list of the PEM bundle @pem; an error when it holds no CA. */
static int trust_list_load(gnutls_x509_trust_list_t *out, const char *pem,
			   size_t len, char *err, size_t errlen)
{
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_datum_t d = {(unsigned char *)pem, (unsigned)len};
	int ret;

	*out = NULL;
	if (len > CA_FILE_MAX) {
		snprintf(err, errlen, "CA bundle larger than %d bytes",
			 CA_FILE_MAX);
		return -EFBIG;
	}
	if (gnutls_x509_trust_list_init(&tl, 0) < 0)
		return -ENOMEM;
	ret = gnutls_x509_trust_list_add_trust_mem(tl, &d, NULL,
						   GNUTLS_X509_FMT_PEM, 0, 0);
	if (ret <= 0) {
		snprintf(err, errlen, "no CA certificate in it%s%s",
			 ret < 0 ? ": " : "",
			 ret < 0 ? gnutls_strerror(ret) : "");
		gnutls_x509_trust_list_deinit(tl, 1);
		return -EINVAL;
	}
	*out = tl;
	return 0;
}

int authn_set_ca(struct authn *authn, const char *pem, size_t len, char *err,
		 size_t errlen)
{
	struct authn_conf *c = NULL, *cur = NULL;
	int ret;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	atomic_init(&c->refs, 1);
	ret = trust_list_load(&c->tl, pem, len, err, errlen);
	if (ret < 0)
		goto out;
	cur = authn_conf_get(authn);
	for (int i = 0; i < AUTHN_NLISTS; i++) {
		ret = strlist_copy(&c->lists[i], &cur->lists[i]);
		if (ret < 0)
			goto out;
	}
	conf_publish(authn, c);
	c = NULL;
out:
	authn_conf_put(cur);
	conf_free(c);
	return ret;
}

/* Read authn->ca_file and publish its CA; errors name the file. */
static int ca_file_load(struct authn *a, char *err, size_t errlen)
{
	uint8_t *pem = NULL;
	char detail[256] = "out of memory";
	size_t len = 0;
	int ret;

	ret = util_file_read(a->ca_file, CA_FILE_MAX, 0, &pem, &len);
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", a->ca_file,
			 ret == UTIL_ETOOBIG ? "larger than 1 MiB"
					     : util_strerror(ret));
		/* A negated errno, as auth.h says (UTIL_E* would read as
		 * AUTH_E*: both modules start at -3000). */
		if (ret == UTIL_ETOOBIG)
			ret = -EFBIG;
		goto out;
	}
	ret = authn_set_ca(a, (const char *)pem, len, detail, sizeof(detail));
	if (ret < 0)
		snprintf(err, errlen, "%s: %s", a->ca_file, detail);
out:
	free(pem);
	return ret;
}

/* Append a length-prefixed field, so no value can imitate another. */
int auth_key_add(char **key, size_t *len, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;
	char *grown = realloc(*key, *len + n + 24);
	if (grown == NULL)
		return -ENOMEM;
	/* NULL and "" differ: "-:" against "0:". */
	if (s == NULL)
		*len += (size_t)snprintf(grown + *len, 24, "-:");
	else
		*len += (size_t)snprintf(grown + *len, 24, "%zu:", n);
	memcpy(grown + *len, s != NULL ? s : "", n);
	*len += n;
	*key = grown;
	return 0;
}

int authn_update(struct authn *authn, const char *pem, size_t len,
		 const char *const json[AUTHN_NLISTS], char *err, size_t errlen)
{
	struct authn_conf *c = NULL, *cur = NULL;
	char detail[256];
	int ret = -ENOMEM;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	atomic_init(&c->refs, 1);
	/* What this configuration is made of, to recognise a repeat. */
	ret = auth_key_add(&c->source, &c->source_len, pem != NULL ? "" : NULL);
	if (pem != NULL && ret == 0) {
		char *grown = realloc(c->source, c->source_len + len);
		if (grown == NULL) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(grown + c->source_len, pem, len);
		c->source = grown;
		c->source_len += len;
	}
	for (int i = 0; i < AUTHN_NLISTS && ret == 0; i++)
		ret = auth_key_add(&c->source, &c->source_len, json[i]);
	if (ret < 0)
		goto out;
	cur = authn_conf_get(authn);
	if (cur->source != NULL && cur->source_len == c->source_len &&
	    memcmp(cur->source, c->source, c->source_len) == 0) {
		ret = 0; /* the same as in use: keep it (and its verdicts) */
		goto out;
	}

	for (int i = 0; i < AUTHN_NLISTS; i++) {
		if (json[i] == NULL) {
			ret = strlist_copy(&c->lists[i], &authn->flags[i]);
		} else {
			ret = auth_json_list(json[i], &c->lists[i].items,
					     &c->lists[i].n, detail,
					     sizeof(detail));
			if (ret < 0)
				snprintf(err, errlen, "%s: %s", list_keys[i],
					 detail);
		}
		if (ret < 0)
			goto out;
	}
	if (pem != NULL) {
		ret = trust_list_load(&c->tl, pem, len, detail, sizeof(detail));
		if (ret < 0) {
			snprintf(err, errlen,
				 "requestheader-client-ca-file: %s", detail);
			goto out;
		}
	}
	conf_publish(authn, c);
	c = NULL;
	ret = 1;
out:
	authn_conf_put(cur);
	conf_free(c);
	return ret;
}

int authn_new(struct authn **out, const struct authn_opts *opts, char *err,
	      size_t errlen)
{
	struct authn *a = calloc(1, sizeof(*a));
	int ret = -ENOMEM;
	const char *flags[AUTHN_NLISTS] = {
	    [AUTHN_ALLOWED_NAMES] = opts->allowed_names,
	    [AUTHN_USERNAME_HEADERS] = opts->username_headers != NULL
					   ? opts->username_headers
					   : "X-Remote-User",
	    [AUTHN_GROUP_HEADERS] = opts->group_headers != NULL
					? opts->group_headers
					: "X-Remote-Group",
	    [AUTHN_EXTRA_PREFIXES] = opts->extra_prefixes != NULL
					 ? opts->extra_prefixes
					 : "X-Remote-Extra-",
	    [AUTHN_UID_HEADERS] =
		opts->uid_headers != NULL ? opts->uid_headers : "X-Remote-Uid",
	};

	*out = NULL;
	if (a == NULL)
		return -ENOMEM;
	pthread_mutex_init(&a->lock, NULL);
	atomic_init(&a->generation, 1);
	snprintf(a->status, sizeof(a->status),
		 "no request-header CA (give --requestheader-client-ca-file)");
	a->conf = calloc(1, sizeof(*a->conf));
	if (a->conf == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	atomic_init(&a->conf->refs, 1);
	for (int i = 0; i < AUTHN_NLISTS; i++) {
		if (strlist_parse(&a->flags[i], flags[i]) ||
		    strlist_copy(&a->conf->lists[i], &a->flags[i])) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	if (opts->ca_file != NULL) {
		a->ca_file = strdup(opts->ca_file);
		if (a->ca_file == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		tls_file_watch_init(&a->ca_watch, a->ca_file, NULL);
		tls_file_watch_look(&a->ca_watch, true);
		ret = ca_file_load(a, err, errlen);
		if (ret < 0)
			goto out;
		tls_file_watch_done(&a->ca_watch, true);
	}
	*out = a;
	a = NULL;
	ret = 0;
out:
	authn_free(a);
	return ret;
}

int authn_reload_ca_file(struct authn *authn, bool force, char *err,
			 size_t errlen)
{
	int ret;

	if (errlen > 0)
		err[0] = '\0';
	if (authn->ca_file == NULL ||
	    !tls_file_watch_look(&authn->ca_watch, force))
		return 0;
	ret = ca_file_load(authn, err, errlen);
	/* Refused, the CA in use stays: a half-written file must not lock
	 * every caller out. */
	tls_file_watch_done(&authn->ca_watch, ret >= 0);
	return ret < 0 ? ret : 1;
}

const char *authn_ca_file(const struct authn *authn)
{
	return authn->ca_file;
}

void authn_free(struct authn *authn)
{
	if (authn == NULL)
		return;
	authn_conf_put(authn->conf);
	for (int i = 0; i < AUTHN_NLISTS; i++)
		strlist_release(&authn->flags[i]);
	free(authn->ca_file);
	pthread_mutex_destroy(&authn->lock);
	free(authn);
}

bool authn_has_ca(struct authn *authn)
{
	pthread_mutex_lock(&authn->lock);
	bool has = authn->conf->tl != NULL;
	pthread_mutex_unlock(&authn->lock);
	return has;
}

void authn_set_status(struct authn *authn, const char *why)
{
	pthread_mutex_lock(&authn->lock);
	snprintf(authn->status, sizeof(authn->status), "%s",
		 why != NULL ? why : "");
	pthread_mutex_unlock(&authn->lock);
}

bool authn_status(struct authn *authn, char *buf, size_t buflen)
{
	pthread_mutex_lock(&authn->lock);
	bool has = authn->conf->tl != NULL;
	snprintf(buf, buflen, "%s", has ? "ok" : authn->status);
	pthread_mutex_unlock(&authn->lock);
	return has;
}

unsigned authn_generation(struct authn *authn)
{
	return atomic_load(&authn->generation);
}

/* The leaf's CN, as Kubernetes reads it (the first CN of the subject). */
static int leaf_cn(gnutls_x509_crt_t crt, char *cn, size_t cnlen)
{
	size_t size = cnlen;
	int ret = gnutls_x509_crt_get_dn_by_oid(
	    crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &size);
	if (ret < 0) {
		cn[0] = '\0';
		return ret;
	}
	return 0;
}

/*
 * Import the DER certificates @certs into @chain; *@n gets how many to
 * deinit (the one that failed included).  0 or AUTH_EBADCERT.
 */
static int chain_import(gnutls_x509_crt_t *chain, const gnutls_datum_t *certs,
			unsigned ncerts, unsigned *n)
{
	for (*n = 0; *n < ncerts; (*n)++) {
		if (gnutls_x509_crt_init(&chain[*n]) < 0 ||
		    gnutls_x509_crt_import(chain[*n], &certs[*n],
					   GNUTLS_X509_FMT_DER) < 0) {
			(*n)++;
			return AUTH_EBADCERT;
		}
	}
	return 0;
}

/*
 * Whether @chain (leaf @cn) chains to the CA of @conf and is valid now for
 * client authentication: 0, or AUTH_EPURPOSE or AUTH_EUNTRUSTED with the
 * reason in @why.
 */
static int chain_trusted(const struct authn_conf *conf,
			 gnutls_x509_crt_t *chain, unsigned n, const char *cn,
			 char *why, size_t whylen)
{
	unsigned status = 0;
	int ret;

	/*
	 * RFC 5280 4.2.1.12: the purpose is checked along the chain; a
	 * certificate without extended key usage is good for any purpose
	 * (Go's x509.Verify, which Kubernetes uses, reads it the same way).
	 */
	gnutls_typed_vdata_st purpose = {
	    .type = GNUTLS_DT_KEY_PURPOSE_OID,
	    .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
	};
	ret = gnutls_x509_trust_list_verify_crt2(conf->tl, chain, n, &purpose,
						 1, 0, &status, NULL);
	if (ret < 0) {
		snprintf(why, whylen, "CN \"%s\": %s", cn,
			 gnutls_strerror(ret));
		return AUTH_EUNTRUSTED;
	}
	if (status == 0)
		return 0;
	gnutls_datum_t text = {NULL, 0};
	gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509,
						     &text, 0);
	snprintf(why, whylen, "CN \"%s\": %s", cn,
		 text.data != NULL ? (char *)text.data : "not trusted");
	gnutls_free(text.data);
	/* Only a pure purpose mismatch is reported as such. */
	const unsigned purpose_only =
	    GNUTLS_CERT_INVALID | GNUTLS_CERT_PURPOSE_MISMATCH;
	if ((status & GNUTLS_CERT_PURPOSE_MISMATCH) != 0 &&
	    (status & ~purpose_only) == 0)
		return AUTH_EPURPOSE;
	return AUTH_EUNTRUSTED;
}

/* 0 when @cn is one of the allowed names of @conf (or none are set). */
static int name_allowed(const struct authn_conf *conf, const char *cn,
			char *why, size_t whylen)
{
	const struct strlist *allowed = &conf->lists[AUTHN_ALLOWED_NAMES];

	if (allowed->n == 0)
		return 0;
	for (size_t i = 0; i < allowed->n; i++)
		if (strcmp(allowed->items[i], cn) == 0)
			return 0;
	snprintf(why, whylen, "CN \"%s\" is not one of the allowed names", cn);
	return AUTH_ENAME;
}

int authn_verify_chain(struct authn *authn, const gnutls_datum_t *certs,
		       unsigned ncerts, char *why, size_t whylen)
{
	gnutls_x509_crt_t chain[CHAIN_MAX] = {NULL};
	struct authn_conf *conf = NULL;
	unsigned n = 0;
	char cn[256];
	int ret;

	why[0] = '\0';
	if (certs == NULL || ncerts == 0)
		return AUTH_ENOCERT;
	if (ncerts > CHAIN_MAX)
		ncerts = CHAIN_MAX;
	ret = chain_import(chain, certs, ncerts, &n);
	if (ret < 0)
		goto out;
	leaf_cn(chain[0], cn, sizeof(cn));
	conf = authn_conf_get(authn);
	if (conf->tl == NULL) {
		ret = AUTH_ENOCA;
		goto out;
	}
	ret = chain_trusted(conf, chain, n, cn, why, whylen);
	if (ret == 0)
		ret = name_allowed(conf, cn, why, whylen);
	if (ret == 0)
		snprintf(why, whylen, "%s", cn);
out:
	authn_conf_put(conf);
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(chain[i]);
	return ret;
}

int authn_verify_session(struct authn *authn, gnutls_session_t session,
			 char *why, size_t whylen)
{
	unsigned n = 0;
	const gnutls_datum_t *certs = NULL;

	if (session != NULL &&
	    gnutls_certificate_type_get(session) == GNUTLS_CRT_X509)
		certs = gnutls_certificate_get_peers(session, &n);
	return authn_verify_chain(authn, certs, n, why, whylen);
}
