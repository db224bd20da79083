/*
 * trace.h - what ties the log lines and metrics of one request together
 * (internal to server/).
 *
 * A request is served on one thread from the moment a worker takes it
 * (job.c) to its answer, so the request's context (its id, the action,
 * the FQDN, the zone, the nameservers) lives in a thread-local pointer:
 * the observers that dns/ and k8s/ call back (they never log themselves)
 * read it to write lines that carry the same request id as the rest.
 */
#ifndef RFC2136_TRACE_H
#define RFC2136_TRACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct k8s_call_info;

/* What is known of the request being served; NULL members: unknown. */
struct trace_ctx {
	const char *request_id;
	const char *action; /* "Present", "CleanUp" */
	const char *fqdn;
	const char *zone;
	const char *nameserver; /* as configured, e.g. "10.0.0.53:53" */
};

/*
 * Make @ctx (borrowed: it must live until replaced) the context of the
 * calling thread; NULL clears it.
 */
void trace_ctx_set(const struct trace_ctx *ctx);

/* The calling thread's context; never NULL (all members NULL if none). */
const struct trace_ctx *trace_ctx_get(void);

/*
 * Make @gone (borrowed, NULL for none) the calling thread's sign that the
 * client of the request being served hung up: job.c sets it when the
 * connection closes while a worker holds the request.
 */
void trace_cancel_set(const atomic_bool *gone);

/*
 * Whether the request being served on this thread was abandoned by its
 * client: the solver then stops at its next step, freeing the worker.
 */
bool trace_cancelled(void);

/*
 * dns_opts.trace: at --v 4 and above, one debug line per DNS message
 * sent or received, the message in presentation format (dns_msg_dump:
 * the TSIG MAC at most, never a secret).
 */
void trace_dns(void *arg, const char *event, const char *proto,
	       const char *server, const uint8_t *wire, size_t len);

/*
 * k8s observer: records the call's metrics, and at --v 2 and above writes
 * one debug line (method, path, status, ms; never a token or a body).
 */
void trace_k8s(void *arg, const struct k8s_call_info *info);

#endif /* RFC2136_TRACE_H */
