/*
 * auth_internal.h - what the files of authentication and authorization
 * share (authn.c, authn_user.c, authz.c); nothing else includes it.  The
 * contract for the rest of the daemon is auth.h.
 */
#ifndef RFC2136_AUTH_INTERNAL_H
#define RFC2136_AUTH_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>

#include <gnutls/x509.h>

#include "server/auth.h"

/* A list of trimmed, non-empty, malloc'ed strings. */
struct strlist {
	char **items;
	size_t n;
};

/* Append @s (taken) to the array *@items of *@n.  0 or -ENOMEM. */
int strlist_push(char ***items, size_t *n, char *s);

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

/* A reference to the configuration in use; give it back with _put(). */
struct authn_conf *authn_conf_get(struct authn *a);

/* Drop a reference (the last one frees).  NULL-safe. */
void authn_conf_put(struct authn_conf *c);

/*
 * Append @s to the malloc'ed byte string *@key of *@len as a
 * length-prefixed field ("3:abc"; NULL as "-:", so NULL and "" differ), so
 * that no value can imitate another in a key built of several.  0 or
 * -ENOMEM (*@key is then unchanged).
 */
int auth_key_add(char **key, size_t *len, const char *s);

#endif /* RFC2136_AUTH_INTERNAL_H */
