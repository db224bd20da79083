/*
 * tls.c - serving certificate store with reload on change (see tls.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gnutls/x509.h>

#include "server/tls.h"
#include "util/file.h"

/* Bounds on what is read: no real chain or key comes near these. */
#define TLS_FILE_MAX  (1024 * 1024)
#define TLS_CHAIN_MAX 16

struct tls_creds {
	atomic_int refs;
	gnutls_pcert_st pcerts[TLS_CHAIN_MAX];
	unsigned npcerts;
	gnutls_privkey_t key;
	time_t not_after;
	char subject[256];
};

struct tls_store {
	char *cert_file, *key_file;
	pthread_mutex_t lock; /* guards current and watch */
	struct tls_creds *current;
	struct tls_file_watch watch; /* of cert_file and key_file */
};

static void creds_free(struct tls_creds *c)
{
	for (unsigned i = 0; i < c->npcerts; i++)
		gnutls_pcert_deinit(&c->pcerts[i]);
	gnutls_privkey_deinit(c->key);
	free(c);
}

struct tls_creds *tls_creds_ref(struct tls_creds *creds)
{
	if (creds != NULL)
		atomic_fetch_add(&creds->refs, 1);
	return creds;
}

void tls_creds_unref(struct tls_creds *creds)
{
	if (creds != NULL && atomic_fetch_sub(&creds->refs, 1) == 1)
		creds_free(creds);
}

void tls_creds_select(struct tls_creds *creds, gnutls_pcert_st **pcert,
		      unsigned *npcert, gnutls_privkey_t *key)
{
	*pcert = creds->pcerts;
	*npcert = creds->npcerts;
	*key = creds->key;
}

time_t tls_creds_not_after(const struct tls_creds *creds)
{
	return creds->not_after;
}

static void sig_take(struct tls_file_sig *sig, const char *path)
{
	struct stat st;

	memset(sig, 0, sizeof(*sig));
	if (stat(path, &st) != 0)
		return;
	sig->dev = st.st_dev;
	sig->ino = st.st_ino;
	sig->size = st.st_size;
	sig->mtime = st.st_mtim;
	sig->ctime = st.st_ctim;
	sig->ok = true;
}

static bool sig_equal(const struct tls_file_sig *a,
		      const struct tls_file_sig *b)
{
	return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec &&
	       a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static bool sigs_equal(const struct tls_file_sig *a,
		       const struct tls_file_sig *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!sig_equal(&a[i], &b[i]))
			return false;
	return true;
}

void tls_file_watch_init(struct tls_file_watch *w, const char *path,
			 const char *path2)
{
	memset(w, 0, sizeof(*w));
	w->paths[w->n++] = path;
	if (path2 != NULL)
		w->paths[w->n++] = path2;
}

bool tls_file_watch_look(struct tls_file_watch *w, bool force)
{
	for (size_t i = 0; i < w->n; i++)
		sig_take(&w->now[i], w->paths[i]);
	if (force)
		return true;
	if (sigs_equal(w->now, w->used, w->n))
		return false;
	/* Refused already: said so once. */
	return !(w->refused && sigs_equal(w->now, w->bad, w->n));
}

void tls_file_watch_done(struct tls_file_watch *w, bool ok)
{
	if (!ok) {
		memcpy(w->bad, w->now, sizeof(w->bad));
		w->refused = true;
		return;
	}
	memcpy(w->used, w->now, sizeof(w->used));
	memset(w->bad, 0, sizeof(w->bad));
	w->refused = false;
}

/*
 * Read a whole file of at most TLS_FILE_MAX bytes; wipe-free by caller.
 * Too big is -EFBIG, whose text ("File too large") the errors carry.
 */
static int file_read(const char *path, gnutls_datum_t *out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int ret = util_file_read(path, TLS_FILE_MAX, 0, &data, &len);

	if (ret == UTIL_ETOOBIG)
		return -EFBIG;
	if (ret == 0) {
		out->data = data;
		out->size = (unsigned)len;
	}
	return ret;
}

static void datum_wipe_free(gnutls_datum_t *d)
{
	util_wipe_free(d->data, d->size);
	d->data = NULL;
	d->size = 0;
}

/* SHA-256 key id of a public key, to match a key with its certificate. */
static int pubkey_id(gnutls_pubkey_t pub, unsigned char *id, size_t *len)
{
	return gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id, len);
}

static int keys_match(gnutls_pcert_st *leaf, gnutls_privkey_t key)
{
	unsigned char a[64], b[64];
	size_t alen = sizeof(a), blen = sizeof(b);
	gnutls_pubkey_t pub = NULL;
	int ret = -1;

	if (gnutls_pubkey_init(&pub) < 0)
		return -1;
	if (gnutls_pubkey_import_privkey(pub, key, 0, 0) < 0 ||
	    pubkey_id(pub, b, &blen) < 0 ||
	    pubkey_id(leaf->pubkey, a, &alen) < 0)
		goto out;
	ret = alen == blen && memcmp(a, b, alen) == 0 ? 0 : -1;
out:
	gnutls_pubkey_deinit(pub);
	return ret;
}

/* Subject and expiry of the leaf, for log lines. */
static void leaf_info(struct tls_creds *c)
{
	gnutls_x509_crt_t crt = NULL;
	size_t size = sizeof(c->subject);

	c->subject[0] = '\0';
	if (gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &c->pcerts[0].cert,
				   GNUTLS_X509_FMT_DER) == 0) {
		c->not_after = gnutls_x509_crt_get_expiration_time(crt);
		gnutls_datum_t dn = {NULL, 0};
		if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0) {
			snprintf(c->subject, size, "%s", dn.data);
			gnutls_free(dn.data);
		}
	}
	gnutls_x509_crt_deinit(crt);
}

/* Load a pair from the files into new credentials (one reference). */
static int creds_load(const char *cert_file, const char *key_file,
		      struct tls_creds **out, char *err, size_t errlen)
{
	gnutls_datum_t cert = {NULL, 0}, key = {NULL, 0};
	struct tls_creds *c = calloc(1, sizeof(*c));
	int ret;

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&c->refs, 1);
	ret = file_read(cert_file, &cert);
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", cert_file, strerror(-ret));
		goto out;
	}
	ret = file_read(key_file, &key);
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", key_file, strerror(-ret));
		goto out;
	}
	c->npcerts = TLS_CHAIN_MAX;
	ret = gnutls_pcert_list_import_x509_raw(c->pcerts, &c->npcerts, &cert,
						GNUTLS_X509_FMT_PEM, 0);
	if (ret < 0 || c->npcerts == 0) {
		c->npcerts = 0;
		snprintf(err, errlen, "%s: no usable PEM certificate: %s",
			 cert_file,
			 ret < 0 ? gnutls_strerror(ret) : "none found");
		ret = -EINVAL;
		goto out;
	}
	if (gnutls_privkey_init(&c->key) < 0) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* The key's text is never put in an error: only gnutls' verdict. */
	ret = gnutls_privkey_import_x509_raw(c->key, &key, GNUTLS_X509_FMT_PEM,
					     NULL, 0);
	if (ret < 0) {
		snprintf(err, errlen, "%s: no usable PEM private key: %s",
			 key_file, gnutls_strerror(ret));
		ret = -EINVAL;
		goto out;
	}
	if (keys_match(&c->pcerts[0], c->key) != 0) {
		snprintf(err, errlen,
			 "%s does not hold the private key of the first "
			 "certificate in %s",
			 key_file, cert_file);
		ret = -EINVAL;
		goto out;
	}
	leaf_info(c);
	*out = c;
	c = NULL;
	ret = 0;
out:
	datum_wipe_free(&key);
	datum_wipe_free(&cert);
	if (c != NULL)
		creds_free(c);
	return ret;
}

int tls_store_new(struct tls_store **out, const char *cert_file,
		  const char *key_file, char *err, size_t errlen)
{
	struct tls_store *s = calloc(1, sizeof(*s));
	int ret;

	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->cert_file = strdup(cert_file);
	s->key_file = strdup(key_file);
	if (s->cert_file == NULL || s->key_file == NULL) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	tls_file_watch_init(&s->watch, s->cert_file, s->key_file);
	ret = tls_store_check(s, true, err, errlen);
	if (ret < 0)
		goto out;
	*out = s;
	s = NULL;
	ret = 0;
out:
	tls_store_free(s);
	return ret;
}

void tls_store_free(struct tls_store *store)
{
	if (store == NULL)
		return;
	tls_creds_unref(store->current);
	free(store->cert_file);
	free(store->key_file);
	pthread_mutex_destroy(&store->lock);
	free(store);
}

int tls_store_check(struct tls_store *s, bool force, char *err, size_t errlen)
{
	struct tls_creds *fresh = NULL, *old = NULL;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (!tls_file_watch_look(&s->watch, force))
		goto out;
	ret = creds_load(s->cert_file, s->key_file, &fresh, err, errlen);
	tls_file_watch_done(&s->watch, ret >= 0);
	if (ret < 0)
		goto out;
	old = s->current;
	s->current = fresh;
	ret = 1;
out:
	pthread_mutex_unlock(&s->lock);
	/* Connections still using the old pair keep it alive until they end. */
	tls_creds_unref(old);
	return ret;
}

struct tls_creds *tls_store_get(struct tls_store *s)
{
	pthread_mutex_lock(&s->lock);
	struct tls_creds *c = tls_creds_ref(s->current);
	pthread_mutex_unlock(&s->lock);
	return c;
}

void tls_store_describe(struct tls_store *s, char *buf, size_t buflen)
{
	struct tls_creds *c = tls_store_get(s);
	struct tm tm;
	char when[32] = "?";

	if (c == NULL) {
		snprintf(buf, buflen, "none");
		return;
	}
	if (gmtime_r(&c->not_after, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(buf, buflen, "%s, expires %s", c->subject, when);
	tls_creds_unref(c);
}
