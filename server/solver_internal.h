/*
 * solver_internal.h - what the solver's files share (internal to the
 * solver: solver.c, solver_secret.c, solver_gss.c, solver_key.c): the
 * solver's state, and the credential steps of a call.  Each function fills
 * @msg with the sentence the Challenge shows when it fails.
 */
#ifndef RFC2136_SOLVER_INTERNAL_H
#define RFC2136_SOLVER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"
#include "server/config.h"
#include "server/solver.h"

struct coalescer;
struct gss_entry;
struct util_cache;

#define NOTES_MAX 256 /* keys remembered for one-time notes */

struct solver {
	struct solver_opts opts;
	/* Secret values by "namespace/name/key", wiped when dropped. */
	struct util_cache *secrets;
	pthread_mutex_t lock;  /* guards gss and notes */
	struct gss_entry *gss; /* GSS-TSIG clients (solver_gss.c) */
	size_t ngss;
	struct coalescer *coalesce; /* bursts for one zone in one UPDATE */
	uint64_t notes[NOTES_MAX];  /* see key_note() */
	size_t nnotes;
};

/* ------------------------------------------------------ solver_secret.c */

/*
 * Read the Secret @cfg names in namespace @ns (the TSIG secret, or the
 * Kerberos keytab or password), from the cache while it is fresh.  Returns
 * 0 with a malloc'ed copy in *@value (free it with k8s_secret_free()), or
 * a negative code with @msg saying what is wrong and what to do, naming
 * namespace, Secret and key.
 */
int secret_get(struct solver *s, const char *ns,
	       const struct solver_config *cfg, uint8_t **value, size_t *len,
	       char *msg, size_t msglen);

/* --------------------------------------------------------- solver_gss.c */

/*
 * The GSS-TSIG client for @cfg and its Secret in namespace @ns, made on
 * first use and shared after: 0 with *@out held (gss_put() it), or a
 * negative code with @msg saying what to fix.
 */
int gss_get(struct solver *s, const char *ns, const struct solver_config *cfg,
	    struct gss_entry **out, char *msg, size_t msglen);

/* The client's handle for dns_opts.gss. */
struct dns_gss_ctx *gss_entry_ctx(const struct gss_entry *g);

/* Drop a reference taken by gss_get().  NULL-safe. */
void gss_put(struct solver *s, struct gss_entry *g);

/* Free every client (at the solver's end: no reference is held). */
void gss_free_all(struct solver *s);

/* --------------------------------------------------------- solver_key.c */

/*
 * Read the TSIG Secret and parse it as any key format into @key; log how
 * it was stored when that was a known mistake, warn once about a weak
 * algorithm, and put the reading the server took last time first.  On
 * failure @msg says what to change.  @rid is the request id for logs.
 */
int key_get(struct solver *s, const char *ns, const struct solver_config *cfg,
	    const char *rid, struct dns_key *key, char *msg, size_t msglen);

/*
 * After an update (@ret) with a secret that has two readings: say which
 * one the server took, once per key, remember it for the next requests,
 * and sign the rest of this call with it.
 */
void key_alt_outcome(struct solver *s, const char *ns,
		     const struct solver_config *cfg, struct dns_key *key,
		     const struct dns_result *res, int ret, const char *rid);

#endif /* RFC2136_SOLVER_INTERNAL_H */
