/*
 * coalesce.h - bursts of challenges for one zone in one UPDATE.
 *
 * When cert-manager renews many certificates at once, many Presents (or
 * CleanUps) for the same zone, nameservers and key arrive together.  A
 * change that finds the zone idle is sent at once, alone: a lone call
 * waits for nothing.  A change that finds another update of the zone in
 * flight joins the zone's open batch; the batch's first member sends it,
 * as one message, when the update in flight has finished, the window has
 * passed or the batch is full.  RFC 2136 3.4: the server applies all of a
 * message or none, bumps the serial once and sends one NOTIFY.
 */
#ifndef SERVER_COALESCE_H
#define SERVER_COALESCE_H

#include <stddef.h>

#include "dns/dns.h"

/* How long a batch collects at most, and its size. */
#define COALESCE_WINDOW_MS 10
#define COALESCE_MAX	   64

struct coalescer;

/*
 * Send @n changes in one message; fill @res (every attempt) and *@untried
 * (nameservers not tried); return 0 or the code of the last attempt.
 */
typedef int coalesce_send_fn(void *arg, const struct dns_change *changes,
			     size_t n, struct dns_result *res, size_t *untried);

/* Create one; @window_ms 0: COALESCE_WINDOW_MS; @max 0: COALESCE_MAX. */
int coalescer_new(struct coalescer **c, unsigned window_ms, size_t max);

/* Free it (no call may be in coalesce_update()).  NULL-safe. */
void coalescer_free(struct coalescer *c);

/*
 * Send @change for the group @id (what must be equal for two changes to
 * share a message: zone, nameservers, key, protocol, TTL), alone or in a
 * batch, through @send (called with @arg by whichever member sends the
 * batch: every member of a group must be able to send every other's
 * change).  When a batch the server answered fails (one record refused
 * fails them all, RFC 2136 3.4), each member sends its own change alone,
 * so that each gets its own diagnosis.  *@batched gets the number of
 * changes in the message that carried @change (1: alone).  @c NULL: alone.
 */
int coalesce_update(struct coalescer *c, const char *id,
		    const struct dns_change *change, coalesce_send_fn *send,
		    void *arg, struct dns_result *res, size_t *untried,
		    size_t *batched);

#endif
