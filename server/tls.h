/*
 * tls.h - the serving certificate and key, re-read when the files change
 * (internal to server/).
 *
 * cert-manager renews the webhook's serving certificate, and in a pod the
 * files are a mounted Secret that changes by an atomic symlink swap.  The
 * store keeps the current pair as reference-counted credentials: a
 * handshake takes a reference for as long as its connection lives, a
 * reload publishes a new pair, and the old one is freed when its last
 * connection closes.  A new pair that cannot be read, parsed, or whose key
 * does not match its certificate is refused and the old pair kept.
 */
#ifndef RFC2136_TLS_H
#define RFC2136_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <sys/types.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

/*
 * What a file looked like when it was read (stat(2)): any change of
 * device, inode, size, mtime or ctime means it is to be read again; a file
 * replaced by rename (a Kubernetes Secret volume's symlink swap) changes
 * the inode.  ok is false when stat failed.
 */
struct tls_file_sig {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	bool ok;
};

/*
 * One file, or two read together (a certificate and its key), re-read when
 * they change, where a refused version is refused (and said) once:
 * tls_file_watch_look() says whether to read them, tls_file_watch_done()
 * takes the outcome of that read.  The paths are borrowed.  Not locked.
 */
struct tls_file_watch {
	const char *paths[2];
	size_t n;
	struct tls_file_sig now[2];  /* of the last look */
	struct tls_file_sig used[2]; /* of the version in use */
	struct tls_file_sig bad[2];  /* of the last refused version */
	/*
	 * bad is meaningful: a zeroed signature also describes missing
	 * files, which must be refused (and said) once.
	 */
	bool refused;
};

/* Watch @path, and @path2 with it unless NULL. */
void tls_file_watch_init(struct tls_file_watch *w, const char *path,
			 const char *path2);

/*
 * Look at the files (before reading them: a change during the read is
 * seen at the next look).  True when they are to be read: always with
 * @force, else when they are neither the version in use nor the one last
 * refused.
 */
bool tls_file_watch_look(struct tls_file_watch *w, bool force);

/* The read that tls_file_watch_look() asked for: @ok in use, or refused. */
void tls_file_watch_done(struct tls_file_watch *w, bool ok);

/* One certificate chain and its key, shared by the connections using it. */
struct tls_creds;

/* Take a reference to / release a reference on @creds.  NULL-safe. */
struct tls_creds *tls_creds_ref(struct tls_creds *creds);
void tls_creds_unref(struct tls_creds *creds);

/*
 * What a gnutls certificate retrieve callback hands back: the chain and
 * key stay valid while the caller holds its reference.
 */
void tls_creds_select(struct tls_creds *creds, gnutls_pcert_st **pcert,
		      unsigned *npcert, gnutls_privkey_t *key);

/* The leaf certificate's expiry time. */
time_t tls_creds_not_after(const struct tls_creds *creds);

struct tls_store;

/*
 * Load @cert_file (PEM chain, leaf first) and @key_file (PEM private key).
 * Errors name the file and what is wrong with it.  Returns 0, a negated
 * errno, or -EINVAL for a bad or mismatched pair.
 */
int tls_store_new(struct tls_store **store, const char *cert_file,
		  const char *key_file, char *err, size_t errlen);

/* Free the store and its current credentials' reference.  NULL-safe. */
void tls_store_free(struct tls_store *store);

/*
 * Re-read the pair if either file changed since the last look (device,
 * inode, size, modification and change time, following symlinks), or
 * always with @force.  Returns 1 when new credentials were published, 0
 * when nothing changed (or the same broken pair is still there), and a
 * negative code with @err set when a changed pair is refused (the old one
 * stays in use; the same refusal is reported once).
 */
int tls_store_check(struct tls_store *store, bool force, char *err,
		    size_t errlen);

/* The current credentials with a reference taken (tls_creds_unref it). */
struct tls_creds *tls_store_get(struct tls_store *store);

/* "CN=..., expires 2026-...", the current pair for log lines. */
void tls_store_describe(struct tls_store *store, char *buf, size_t buflen);

/*
 * (tls_priorities.c) The GnuTLS priority string of the Kubernetes flags
 * --tls-min-version
 * (@min_version: "VersionTLS12" or "VersionTLS13"; NULL: TLS 1.2) and
 * --tls-cipher-suites (@suites: a comma list of Go/IANA names such as
 * TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256; NULL or "": the default, every
 * ECDHE AEAD suite).  Only forward-secret AEAD suites are offered: a known
 * name outside them (CBC, RC4, 3DES, RSA key exchange) is refused, and so
 * is an unknown name; @err names every such name.  TLS 1.3 suites are not
 * configurable, as in Go: their names are accepted and ignored.  GnuTLS
 * enables key exchanges and ciphers as sets, so the named suites' ciphers
 * also bound TLS 1.3 (all of them are AEAD), and with both ECDSA and RSA
 * suites named each cipher goes with either; the serving key's type picks
 * one.  Returns 0 or -EINVAL.
 */
int tls_priorities_build(const char *min_version, const char *suites, char *out,
			 size_t outlen, char *err, size_t errlen);

#endif /* RFC2136_TLS_H */
