/*
 * solver.h - cert-manager's ChallengePayload in, one DNS update out
 * (internal to server/).  The HTTP layer hands a POST body to
 * solver_handle() and sends back what it returns; everything between
 * (decoding, config validation, the TSIG secret, the DNS update and the
 * diagnosis) lives behind this header.
 */
#ifndef RFC2136_SOLVER_H
#define RFC2136_SOLVER_H

#include <stddef.h>

struct k8s_client;
struct solver_allow;

struct solver_opts {
	struct k8s_client *secrets; /* API or --secrets-dir client; borrowed */
	unsigned
	    dns_timeout_ms;   /* per attempt unless config.timeout; 0: 5000 */
	unsigned deadline_ms; /* whole call, all attempts; 0: 25000 */
	unsigned secret_cache_ms; /* how long a secret is reused; 0: 5000 */
	/* --allowed-zones "a.com,b.org": names elsewhere are refused before
	 * any Secret read or DNS traffic; NULL or "": no limit.  Borrowed. */
	const char *allowed_zones;
	/* A burst for one zone in one UPDATE (coalesce.h): how long a batch
	 * waits for the update in flight; 0: COALESCE_WINDOW_MS. */
	unsigned coalesce_window_ms;
	bool no_coalesce; /* each challenge alone */
	/*
	 * --allowed-nameservers (borrowed), NULL: any.  A config naming
	 * another nameserver is refused before any DNS traffic.
	 */
	const struct solver_allow *allow;
};

struct solver;

/* Create a solver; @opts is copied.  Returns 0 or -ENOMEM. */
int solver_new(struct solver **solver, const struct solver_opts *opts);

/* Free a solver and wipe its secret cache.  NULL-safe. */
void solver_free(struct solver *solver);

/*
 * Handle one solver POST body.  *@out gets a malloc'ed JSON body the caller
 * frees, *@outlen its length; the return value is the HTTP status: 201 with
 * the ChallengePayload and its response (success, or failure with a
 * non-empty status.message) once the payload decoded, 400 with a Kubernetes
 * Status body when it is not a ChallengePayload.  @request_id is the
 * request's id for log lines (may be NULL).
 */
int solver_handle(struct solver *solver, const char *body, size_t len,
		  const char *request_id, char **out, size_t *outlen);

#endif /* RFC2136_SOLVER_H */
