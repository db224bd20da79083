/*
 * auth.c - request-header authentication and SubjectAccessReview
 * authorization (see auth.h).
 *
 * The model is k8s.io/apiserver's delegated authentication: the
 * request-header authenticator (pkg/authentication/request/headerrequest)
 * checks the proxy's client certificate against the request-header CA with
 * the client-auth key usage and an optional CN allow list, and only then
 * reads the user from headers; the delegated authorizer
 * (pkg/authorization/authorizerfactory) asks the API with a
 * SubjectAccessReview and caches allow and deny verdicts for a short while.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/x509.h>
#include <jansson.h>

#include "k8s/k8s.h"
#include "server/auth.h"
#include "server/status.h"
#include "server/tls.h"

/* A CA bundle larger than this is not a CA bundle. */
#define CA_FILE_MAX (1024 * 1024)
/* Longest peer chain looked at. */
#define CHAIN_MAX 16
/* Verdicts kept at most. */
#define CACHE_MAX 4096

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

/* A list of trimmed, non-empty, malloc'ed strings. */
struct strlist {
	char **items;
	size_t n;
};

static void strlist_release(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

static int strlist_push(char ***items, size_t *n, char *s)
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

/*
 * One request-header configuration: built whole, then published, never
 * changed.  A request takes a reference for as long as it reads it, so a
 * re-read ConfigMap replaces it without a lock held across verification.
 */
struct authn_conf {
	atomic_int refs;
	gnutls_x509_trust_list_t tl; /* NULL: no CA, nobody is trusted */
	struct strlist lists[AUTHN_NLISTS];
	char *source; /* the inputs it came from, to spot a re-read no-op */
	size_t source_len;
};

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

static void conf_put(struct authn_conf *c)
{
	if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1)
		conf_free(c);
}

static struct authn_conf *conf_get(struct authn *a)
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
	conf_put(old);
}

void auth_user_release(struct auth_user *user)
{
	if (user == NULL)
		return;
	free(user->name);
	free(user->uid);
	for (size_t i = 0; i < user->ngroups; i++)
		free(user->groups[i]);
	free(user->groups);
	for (size_t i = 0; i < user->nextra; i++) {
		free(user->extra_keys[i]);
		free(user->extra_values[i]);
	}
	free(user->extra_keys);
	free(user->extra_values);
	memset(user, 0, sizeof(*user));
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
	cur = conf_get(authn);
	for (int i = 0; i < AUTHN_NLISTS; i++) {
		ret = strlist_copy(&c->lists[i], &cur->lists[i]);
		if (ret < 0)
			goto out;
	}
	conf_publish(authn, c);
	c = NULL;
out:
	conf_put(cur);
	conf_free(c);
	return ret;
}

/* Read authn->ca_file and publish its CA; errors name the file. */
static int ca_file_load(struct authn *a, char *err, size_t errlen)
{
	char *pem = NULL, detail[256] = "out of memory";
	size_t len = 0;
	int ret;

	ret = tls_file_read(a->ca_file, CA_FILE_MAX, &pem, &len);
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", a->ca_file,
			 ret == -EFBIG ? "larger than 1 MiB" : strerror(-ret));
		goto out;
	}
	ret = authn_set_ca(a, pem, len, detail, sizeof(detail));
	if (ret < 0)
		snprintf(err, errlen, "%s: %s", a->ca_file, detail);
out:
	free(pem);
	return ret;
}

/* Append a length-prefixed field, so no value can imitate another. */
static int key_add(char **key, size_t *len, const char *s)
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
	ret = key_add(&c->source, &c->source_len, pem != NULL ? "" : NULL);
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
		ret = key_add(&c->source, &c->source_len, json[i]);
	if (ret < 0)
		goto out;
	cur = conf_get(authn);
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
	conf_put(cur);
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
	conf_put(authn->conf);
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

int authn_verify_chain(struct authn *authn, const gnutls_datum_t *certs,
		       unsigned ncerts, char *why, size_t whylen)
{
	gnutls_x509_crt_t chain[CHAIN_MAX] = {NULL};
	struct authn_conf *conf = NULL;
	unsigned n = 0, status = 0;
	char cn[256];
	int ret;

	why[0] = '\0';
	if (certs == NULL || ncerts == 0)
		return AUTH_ENOCERT;
	if (ncerts > CHAIN_MAX)
		ncerts = CHAIN_MAX;
	for (n = 0; n < ncerts; n++) {
		if (gnutls_x509_crt_init(&chain[n]) < 0 ||
		    gnutls_x509_crt_import(chain[n], &certs[n],
					   GNUTLS_X509_FMT_DER) < 0) {
			n++;
			ret = AUTH_EBADCERT;
			goto out;
		}
	}
	leaf_cn(chain[0], cn, sizeof(cn));

	/*
	 * RFC 5280 4.2.1.12: the purpose is checked along the chain; a
	 * certificate without extended key usage is good for any purpose
	 * (Go's x509.Verify, which Kubernetes uses, reads it the same way).
	 */
	gnutls_typed_vdata_st purpose = {
	    .type = GNUTLS_DT_KEY_PURPOSE_OID,
	    .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
	};
	conf = conf_get(authn);
	if (conf->tl == NULL) {
		ret = AUTH_ENOCA;
		goto out;
	}
	ret = gnutls_x509_trust_list_verify_crt2(conf->tl, chain, n, &purpose,
						 1, 0, &status, NULL);
	if (ret < 0) {
		snprintf(why, whylen, "CN \"%s\": %s", cn,
			 gnutls_strerror(ret));
		ret = AUTH_EUNTRUSTED;
		goto out;
	}
	if (status != 0) {
		gnutls_datum_t text = {NULL, 0};
		gnutls_certificate_verification_status_print(
		    status, GNUTLS_CRT_X509, &text, 0);
		snprintf(why, whylen, "CN \"%s\": %s", cn,
			 text.data != NULL ? (char *)text.data : "not trusted");
		gnutls_free(text.data);
		/* Only a pure purpose mismatch is reported as such. */
		ret = (status & ~(GNUTLS_CERT_INVALID |
				  GNUTLS_CERT_PURPOSE_MISMATCH)) == 0 &&
			      (status & GNUTLS_CERT_PURPOSE_MISMATCH)
			  ? AUTH_EPURPOSE
			  : AUTH_EUNTRUSTED;
		goto out;
	}
	const struct strlist *allowed = &conf->lists[AUTHN_ALLOWED_NAMES];
	if (allowed->n > 0) {
		bool ok = false;
		for (size_t i = 0; i < allowed->n && !ok; i++)
			ok = strcmp(allowed->items[i], cn) == 0;
		if (!ok) {
			snprintf(why, whylen,
				 "CN \"%s\" is not one of the allowed names",
				 cn);
			ret = AUTH_ENAME;
			goto out;
		}
	}
	snprintf(why, whylen, "%s", cn);
	ret = 0;
out:
	conf_put(conf);
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

static bool in_list(const struct strlist *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->items[i], name) == 0)
			return true;
	return false;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Kubernetes' extra key: lower-cased, then percent-decoded (url.PathUnescape);
 * a key that does not decode is kept as it is.
 */
static char *extra_key(const char *raw)
{
	size_t len = strlen(raw);
	char *lower = malloc(len + 1), *dec = malloc(len + 1);
	size_t j = 0;

	if (lower == NULL || dec == NULL)
		goto fail;
	for (size_t i = 0; i <= len; i++)
		lower[i] =
		    (raw[i] >= 'A' && raw[i] <= 'Z') ? raw[i] + 32 : raw[i];
	for (size_t i = 0; i < len; i++) {
		if (lower[i] != '%') {
			dec[j++] = lower[i];
			continue;
		}
		/* Never past the NUL: a bad first digit stops the reading. */
		int hi = hexval(lower[i + 1]);
		int lo = hi >= 0 ? hexval(lower[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(dec);
			return lower; /* not decodable: as sent */
		}
		dec[j++] = (char)(hi << 4 | lo);
		i += 2;
	}
	dec[j] = '\0';
	free(lower);
	return dec;
fail:
	free(lower);
	free(dec);
	return NULL;
}

int authn_header(struct authn *authn, struct auth_user *user, const char *name,
		 const char *value)
{
	struct authn_conf *conf;
	char *v = NULL, *k = NULL;
	int ret = 0;

	if (name == NULL || value == NULL)
		return 0;
	conf = conf_get(authn);
	if (in_list(&conf->lists[AUTHN_USERNAME_HEADERS], name)) {
		if (user->name == NULL && (user->name = strdup(value)) == NULL)
			ret = -ENOMEM;
		goto out;
	}
	if (in_list(&conf->lists[AUTHN_UID_HEADERS], name)) {
		if (user->uid == NULL && (user->uid = strdup(value)) == NULL)
			ret = -ENOMEM;
		goto out;
	}
	if (in_list(&conf->lists[AUTHN_GROUP_HEADERS], name)) {
		v = strdup(value);
		if (v == NULL || strlist_push(&user->groups, &user->ngroups, v))
			goto nomem;
		v = NULL;
		goto out;
	}
	const struct strlist *prefixes = &conf->lists[AUTHN_EXTRA_PREFIXES];
	for (size_t i = 0; i < prefixes->n; i++) {
		const char *prefix = prefixes->items[i];
		size_t plen = strlen(prefix);
		if (strncasecmp(name, prefix, plen) != 0 || name[plen] == '\0')
			continue;
		k = extra_key(name + plen);
		v = strdup(value);
		if (k == NULL || v == NULL)
			goto nomem;
		size_t n = user->nextra;
		if (strlist_push(&user->extra_keys, &n, k))
			goto nomem;
		k = NULL;
		n = user->nextra;
		if (strlist_push(&user->extra_values, &n, v)) {
			/* keep keys and values paired */
			free(user->extra_keys[user->nextra]);
			goto nomem;
		}
		v = NULL;
		user->nextra++;
		goto out;
	}
	goto out;
nomem:
	ret = -ENOMEM;
out:
	conf_put(conf);
	free(k);
	free(v);
	return ret;
}

int auth_user_check(const struct auth_user *user)
{
	return user->name == NULL || user->name[0] == '\0' ? AUTH_ENOUSER : 0;
}

/* ------------------------------------------------------------------ */
/* Authorization                                                      */
/* ------------------------------------------------------------------ */

struct verdict {
	char *key; /* everything the review depends on */
	size_t keylen;
	uint64_t expires_ms;
	bool allowed;
	char reason[256];
};

#define AUTHZ_PENDING_MAX 8

struct authz {
	enum authz_mode mode;
	struct k8s_client *api;
	unsigned ttl_ms;
	pthread_mutex_t lock; /* guards the cache and pending */
	struct verdict *cache;
	size_t ncache;
	atomic_ulong reviews;
	/* Reviews in flight (copies of their cache keys): a call that
	 * misses the cache for one of them waits for it instead. */
	struct {
		char *key;
		size_t len;
	} pending[AUTHZ_PENDING_MAX];
	pthread_cond_t reviewed; /* one of them is done */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int authz_new(struct authz **out, enum authz_mode mode, struct k8s_client *api,
	      unsigned ttl_ms)
{
	struct authz *z;

	*out = NULL;
	if (mode == AUTHZ_SUBJECT_ACCESS_REVIEW && api == NULL)
		return -EINVAL;
	z = calloc(1, sizeof(*z));
	if (z == NULL)
		return -ENOMEM;
	z->mode = mode;
	z->api = api;
	z->ttl_ms = ttl_ms != 0 ? ttl_ms : 10000;
	pthread_mutex_init(&z->lock, NULL);
	pthread_cond_init(&z->reviewed, NULL);
	*out = z;
	return 0;
}

static void cache_clear(struct authz *z)
{
	for (size_t i = 0; i < z->ncache; i++)
		free(z->cache[i].key);
	free(z->cache);
	z->cache = NULL;
	z->ncache = 0;
}

void authz_free(struct authz *authz)
{
	if (authz == NULL)
		return;
	cache_clear(authz);
	pthread_cond_destroy(&authz->reviewed);
	pthread_mutex_destroy(&authz->lock);
	free(authz);
}

unsigned long authz_reviews(struct authz *authz)
{
	return atomic_load(&authz->reviews);
}

static int review_key(const struct auth_user *u, const struct authz_attrs *a,
		      char **key, size_t *len)
{
	int ret = 0;

	*key = NULL;
	*len = 0;
	char count[48];

	/* Counts first: no list can borrow a field of the next one. */
	snprintf(count, sizeof(count), "%zu,%zu", u->ngroups, u->nextra);
	ret |= key_add(key, len, count);
	ret |= key_add(key, len, u->name);
	ret |= key_add(key, len, u->uid);
	for (size_t i = 0; i < u->ngroups; i++)
		ret |= key_add(key, len, u->groups[i]);
	for (size_t i = 0; i < u->nextra; i++) {
		ret |= key_add(key, len, u->extra_keys[i]);
		ret |= key_add(key, len, u->extra_values[i]);
	}
	ret |= key_add(key, len, a->verb);
	ret |= key_add(key, len, a->group);
	ret |= key_add(key, len, a->version);
	ret |= key_add(key, len, a->resource);
	ret |= key_add(key, len, a->resource != NULL ? NULL : a->path);
	if (ret != 0) {
		free(*key);
		*key = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* A cached verdict for @key: 1 allowed, 0 denied, -1 none. */
static int cache_get(struct authz *z, const char *key, size_t len, char *reason,
		     size_t reasonlen)
{
	int ret = -1;
	uint64_t now = now_ms();

	pthread_mutex_lock(&z->lock);
	for (size_t i = 0; i < z->ncache; i++) {
		struct verdict *v = &z->cache[i];
		if (v->keylen != len || memcmp(v->key, key, len) != 0)
			continue;
		if (v->expires_ms > now) {
			ret = v->allowed;
			snprintf(reason, reasonlen, "%s", v->reason);
		}
		break;
	}
	pthread_mutex_unlock(&z->lock);
	return ret;
}

static void cache_put(struct authz *z, char *key, size_t len, bool allowed,
		      const char *reason)
{
	uint64_t now = now_ms();
	size_t j = 0;

	pthread_mutex_lock(&z->lock);
	/* Drop expired verdicts and an older one for the same key. */
	for (size_t i = 0; i < z->ncache; i++) {
		struct verdict *v = &z->cache[i];
		if (v->expires_ms <= now ||
		    (v->keylen == len && memcmp(v->key, key, len) == 0)) {
			free(v->key);
			continue;
		}
		z->cache[j++] = *v;
	}
	z->ncache = j;
	if (z->ncache >= CACHE_MAX)
		cache_clear(z);
	struct verdict *grown =
	    realloc(z->cache, (z->ncache + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(key);
		goto out;
	}
	z->cache = grown;
	struct verdict *v = &z->cache[z->ncache++];
	v->key = key;
	v->keylen = len;
	v->expires_ms = now + z->ttl_ms;
	v->allowed = allowed;
	snprintf(v->reason, sizeof(v->reason), "%s", reason);
out:
	pthread_mutex_unlock(&z->lock);
}

/*
 * What to look at when a review could not be made.  The k8s errors for
 * 401 and 403 carry their own advice (the token, the ClusterRole).
 */
static const char *review_hint(int code)
{
	switch (code) {
	case K8S_EUNAUTHORIZED:
	case K8S_EFORBIDDEN:
		return "";
	case K8S_ETRANSPORT:
		return "; check that the webhook can reach the Kubernetes API "
		       "(address, network policy, CA); the request can be "
		       "retried";
	default:
		return "; check the health of the Kubernetes API and the "
		       "webhook's access to it (ClusterRole "
		       "system:auth-delegator); the request can be retried";
	}
}

/*
 * The verdict for @user and @attrs; with @may_block false, -EWOULDBLOCK
 * when it takes a review (a call to the API).
 */
/*
 * One review per question at a time: when a verdict expires under load,
 * every request in flight misses it at once and each would ask the API
 * server (16 workers: 16 reviews).  The first asks; the others wait for
 * its verdict.  Returns the slot to release with review_end() (-1: none
 * free, ask anyway), or -2 after waiting (look in the cache again).
 */
static int review_begin(struct authz *z, const char *key, size_t len)
{
	bool waited = false;
	int slot = -1;

	pthread_mutex_lock(&z->lock);
	for (;;) {
		bool busy = false;

		slot = -1;
		for (int i = 0; i < AUTHZ_PENDING_MAX; i++) {
			if (z->pending[i].key == NULL) {
				if (slot < 0)
					slot = i;
			} else if (z->pending[i].len == len &&
				   memcmp(z->pending[i].key, key, len) == 0) {
				busy = true;
			}
		}
		if (!busy)
			break;
		pthread_cond_wait(&z->reviewed, &z->lock);
		waited = true;
	}
	if (waited) {
		slot = -2;
	} else if (slot >= 0) {
		z->pending[slot].key = malloc(len);
		if (z->pending[slot].key == NULL) {
			slot = -1;
		} else {
			memcpy(z->pending[slot].key, key, len);
			z->pending[slot].len = len;
		}
	}
	pthread_mutex_unlock(&z->lock);
	return slot;
}

static void review_end(struct authz *z, int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&z->lock);
	free(z->pending[slot].key);
	z->pending[slot].key = NULL;
	pthread_cond_broadcast(&z->reviewed);
	pthread_mutex_unlock(&z->lock);
}

static int authz_decide(struct authz *authz, const struct auth_user *user,
			const struct authz_attrs *attrs, char *reason,
			size_t reasonlen, bool may_block)
{
	const char **groups = NULL;
	char *key = NULL, err[256];
	size_t keylen = 0, ngroups = 0;
	bool allowed = false, has_authenticated = false;
	int slot = -1;
	int ret;

	reason[0] = '\0';
	if (authz->mode == AUTHZ_ALLOW_AUTHENTICATED)
		return 1;
	for (size_t i = 0; i < user->ngroups; i++) {
		/* k8s.io/apiserver: system:masters skips the review. */
		if (strcmp(user->groups[i], "system:masters") == 0)
			return 1;
		if (strcmp(user->groups[i], "system:authenticated") == 0)
			has_authenticated = true;
	}
	ret = review_key(user, attrs, &key, &keylen);
	if (ret < 0) {
		snprintf(reason, reasonlen,
			 "the authorization review failed: out of memory");
		goto out;
	}
	ret = cache_get(authz, key, keylen, reason, reasonlen);
	if (ret >= 0)
		goto out;
	if (!may_block) {
		ret = -EWOULDBLOCK;
		goto out;
	}
	slot = review_begin(authz, key, keylen);
	if (slot == -2) {
		/* Another request's review ended: its verdict, or ask. */
		slot = -1;
		ret = cache_get(authz, key, keylen, reason, reasonlen);
		if (ret >= 0)
			goto out;
	}

	groups = calloc(user->ngroups + 1, sizeof(*groups));
	if (groups == NULL) {
		snprintf(reason, reasonlen,
			 "the authorization review failed: out of memory");
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < user->ngroups; i++)
		groups[ngroups++] = user->groups[i];
	if (!has_authenticated)
		groups[ngroups++] = "system:authenticated";

	struct k8s_review review = {
	    .user = user->name,
	    .uid = user->uid,
	    .groups = groups,
	    .ngroups = ngroups,
	    .extra_keys = (const char *const *)user->extra_keys,
	    .extra_values = (const char *const *)user->extra_values,
	    .nextra = user->nextra,
	    .verb = attrs->verb,
	    .group = attrs->group,
	    .version = attrs->version,
	    .resource = attrs->resource,
	    .path = attrs->path,
	};
	atomic_fetch_add(&authz->reviews, 1);
	ret = k8s_access_review(authz->api, &review, &allowed, reason,
				reasonlen, err, sizeof(err));
	if (ret < 0) {
		/*
		 * No verdict: not cached, so the next call asks again.  The
		 * text goes to the caller (kube-apiserver answers 500 with
		 * it), so it says what failed and what to look at; the k8s
		 * errors name the API's address, never its credentials.
		 */
		snprintf(reason, reasonlen,
			 "the authorization review failed: %s%s", err,
			 review_hint(ret));
		goto out;
	}
	cache_put(authz, key, keylen, allowed, reason);
	key = NULL;
	ret = allowed ? 1 : 0;
out:
	review_end(authz, slot);
	free(groups);
	free(key);
	return ret;
}

int authz_check(struct authz *authz, const struct auth_user *user,
		const struct authz_attrs *attrs, char *reason, size_t reasonlen)
{
	return authz_decide(authz, user, attrs, reason, reasonlen, true);
}

int authz_peek(struct authz *authz, const struct auth_user *user,
	       const struct authz_attrs *attrs, char *reason, size_t reasonlen)
{
	return authz_decide(authz, user, attrs, reason, reasonlen, false);
}

const char *authz_forbidden_message(const struct auth_user *user,
				    const struct authz_attrs *attrs,
				    const char *reason, char *buf,
				    size_t buflen)
{
	const char *name = user != NULL && user->name != NULL ? user->name : "";
	int n;

	/* k8s.io/apiserver/pkg/endpoints/handlers/responsewriters.forbiddenMessage
	 */
	if (attrs->resource != NULL)
		n = snprintf(buf, buflen,
			     "%s.%s is forbidden: User \"%s\" cannot %s "
			     "resource \"%s\" in API group \"%s\" at the "
			     "cluster scope",
			     attrs->resource, attrs->group, name, attrs->verb,
			     attrs->resource, attrs->group);
	else
		n = snprintf(buf, buflen,
			     "forbidden: User \"%s\" cannot %s path \"%s\"",
			     name, attrs->verb, attrs->path);
	if (reason != NULL && reason[0] != '\0' && n > 0 && (size_t)n < buflen)
		snprintf(buf + n, buflen - (size_t)n, ": %s", reason);
	return buf;
}

char *authz_error_body(const char *cause, size_t *len)
{
	const struct status_details details = {.cause = cause ? cause : ""};
	char *msg = NULL, *out;

	*len = 0;
	/* k8s.io/apimachinery/pkg/api/errors.NewInternalError */
	if (asprintf(&msg, "Internal error occurred: %s", details.cause) < 0)
		return NULL;
	out = status_body(500, msg, &details, len);
	free(msg);
	return out;
}
