/*
 * gss_internal.h - what transport.c (and the tests) need from gss.c beyond
 * dns.h.  Not part of the module's contract.
 */
#ifndef RFC2136_DNS_GSS_INTERNAL_H
#define RFC2136_DNS_GSS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

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

#endif /* RFC2136_DNS_GSS_INTERNAL_H */
