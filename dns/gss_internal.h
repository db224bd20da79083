/*
 * gss_internal.h - what transport.c (and the tests) need from gss.c beyond
 * dns.h, and what gss.c (the contexts with the servers) and gss_cred.c
 * (our Kerberos identity) share.  Not part of the module's contract.
 */
#ifndef RFC2136_DNS_GSS_INTERNAL_H
#define RFC2136_DNS_GSS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include <gssapi/gssapi.h>

#include "dns/dns.h"

/* Build a fresh unsigned message (new random ID) into @buf. */
typedef int dns_gss_build_fn(void *arg, uint8_t *buf, size_t *len);

/*
 * One attempt at one server address with GSS-TSIG, over TCP: negotiate
 * (or reuse) the context for @sa, build the message with @build, sign it,
 * send it on a kept-alive connection (a fresh one when the server closed
 * the idle one), read and verify the answer.  A BADKEY answer renegotiates
 * once and resends a freshly built and signed message.  The answer is left
 * in @ans (@alen) for dns_msg_reply_parse(); @o is filled like
 * dns_msg_check() does, plus the gss fields.  Returns o->code.
 */
int dns_gss_attempt(struct dns_gss_ctx *ctx, const struct sockaddr *sa,
		    socklen_t salen, unsigned timeout_ms,
		    dns_gss_build_fn *build, void *arg, uint8_t *query,
		    size_t *qlen, uint8_t *ans, size_t *alen,
		    struct dns_outcome *o);

/*
 * Take one more reference on @ctx, for a thread that may outlive its
 * caller (a Kerberos step cut off by the call's deadline); dns_gss_free()
 * drops one and frees at the last.
 */
void dns_gss_hold(struct dns_gss_ctx *ctx);

/*
 * Delete the negotiated keys on their servers (TKEY mode 5) but keep the
 * local contexts, as if the server had forgotten them: the next message
 * gets BADKEY and renegotiates.  Returns how many deletes the servers
 * confirmed.  For tests; dns_gss_free() does this before releasing.
 */
int dns_gss_keys_delete(struct dns_gss_ctx *ctx, unsigned timeout_ms);

/* ------------------------------------------- between gss.c and gss_cred.c */

struct gss_session; /* one server address and its context (gss.c) */

struct dns_gss_ctx {
	pthread_mutex_t lock;	  /* sessions list, idle connections */
	pthread_mutex_t neg_lock; /* negotiations, cred */
	char principal[256];
	char service[DNS_NAME_LEN + 64]; /* DNS/host@REALM */
	char host[DNS_NAME_LEN];
	char ktname[64 + 4096];
	int kt_fd; /* memory file holding keytab bytes, -1: none */
	char *password;
	size_t pwlen;
	char ccache[64]; /* MEMORY:rfc2136-<random> */
	gss_name_t client;
	gss_name_t target;
	gss_cred_id_t cred;
	struct gss_session *sessions;
	atomic_ulong negotiations;
	atomic_uint refs; /* dns_gss_hold(); freed by the last dns_gss_free() */
};

/*
 * A GSS-API failure as our code (DNS_EGSS_KDC, _CLIENT, _SERVICE, _SKEW,
 * _CRED or DNS_EGSS, from the Kerberos error behind it), with "@what: "
 * and the Kerberos reason (GSS-API's when there is none) in o->detail.
 */
int dns_gss_fail(OM_uint32 maj, OM_uint32 min, const char *what,
		 struct dns_outcome *o);

/*
 * Acquire the credentials from the keytab or password into our memory
 * cache, unless held already.  0 or dns_gss_fail()'s code.  The caller
 * holds c->neg_lock.
 */
int dns_gss_cred_acquire(struct dns_gss_ctx *c, struct dns_outcome *o);

/* Drop the credentials (the next acquisition gets fresh ones). */
void dns_gss_cred_release(struct dns_gss_ctx *c);

/*
 * Release what dns_gss_new() made (credentials, memory cache, names,
 * keytab file, password: wiped) and free @c.  The sessions are gone.
 */
void dns_gss_ctx_destroy(struct dns_gss_ctx *c);

#endif /* RFC2136_DNS_GSS_INTERNAL_H */
