/*
 * metrics.h - Prometheus metrics of the webhook (internal to server/).
 *
 * One process-wide registry: counters and histograms are C11 atomics, so
 * recording never allocates.  Labels have bounded values that a caller
 * cannot forge: fixed sets (action, result, reason, call kind, RCODE and
 * TSIG error mnemonics, any other number being "other"), or, for the
 * nameserver and the Kubernetes API status, a table of at most
 * METRICS_LABELSETS_MAX label sets per metric under a mutex.  While a
 * thread serves one namespace's call (metrics_tenant_set), at most
 * METRICS_LABELSETS_PER_TENANT sets are made for that namespace; a set
 * not counted for the label TTL is dropped; what finds no room is counted
 * under the label values "other".
 *
 * metrics_render() writes the text exposition format 0.0.4; the metrics
 * server (metrics_http.c) serves it on GET /metrics over plain HTTP on its
 * own port (--metrics-bind-address).  Every name starts with METRICS_PREFIX and
 * follows Prometheus' conventions: counters end in _total, durations are
 * in seconds, times are seconds since the epoch.
 */
#ifndef RFC2136_METRICS_H
#define RFC2136_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define METRICS_PREFIX "rfc2136_webhook_"

/* Distinct label sets kept per metric with free-form labels. */
#define METRICS_LABELSETS_MAX 64
/* Of those, made while serving one namespace. */
#define METRICS_LABELSETS_PER_TENANT 8
/* An unused label set is dropped after this long (ms) by default. */
#define METRICS_LABEL_TTL_MS (15 * 60 * 1000)

enum metrics_action {
	METRICS_PRESENT = 0,
	METRICS_CLEANUP,
	METRICS_ACTION_UNKNOWN, /* the payload did not decode */
	METRICS_NACTIONS
};

enum metrics_result {
	METRICS_SUCCESS = 0,
	METRICS_FAILURE,  /* decoded, but the record could not be changed */
	METRICS_REJECTED, /* not a ChallengePayload (400) */
	METRICS_NRESULTS
};

/* One solver call: its outcome and its whole duration. */
void metrics_request(enum metrics_action action, enum metrics_result result,
		     uint64_t usec);

/*
 * One DNS exchange with a nameserver (one attempt of an update).
 * @server is the nameserver as configured ("ns1.example.com:53"),
 * @rcode the answer's RCODE (-1: no answer), @tsig_error the answer's TSIG
 * error (-1: the answer carried no TSIG), @usec the exchange's duration.
 */
void metrics_dns_update(const char *server, int rcode, int tsig_error,
			uint64_t usec);

/*
 * One Kubernetes API call of kind @call ("get_secret", ...; see
 * k8s_call_info): its duration, and when it did not answer 2xx an error
 * by @status (0: no HTTP answer at all).
 */
void metrics_k8s_call(const char *call, long status, uint64_t usec);

/*
 * The calling thread serves a solver call of namespace @ns (NULL: none,
 * as outside a call); label sets made meanwhile count against its part.
 * @ns is borrowed until the next call.
 */
void metrics_tenant_set(const char *ns);

/* Drop label sets unused for @ms (0: METRICS_LABEL_TTL_MS). */
void metrics_label_ttl_set(unsigned ms);

enum metrics_drop {
	METRICS_DROP_DEADLINE = 0, /* no handshake or request in time */
	METRICS_DROP_CLIENT_GONE,  /* hung up while its request was served */
	METRICS_NDROPS
};

/* A connection closed by the server, or abandoned by its client. */
void metrics_connection_dropped(enum metrics_drop why);

/* A solver call refused because its namespace had its share busy. */
void metrics_namespace_throttled(void);

/* A request refused (401) for the auth.h code @code (AUTH_E*). */
void metrics_authn_denial(int code);

/* A request refused: denied (403), or no verdict from the review (@error,
 * answered 500). */
void metrics_authz_denial(bool error);

/* Verification after a write (dns_verify()): what the server served. */
enum metrics_verify {
	METRICS_VERIFY_SERVED = 0, /* as the update said */
	METRICS_VERIFY_NOT_SERVED, /* NOERROR, but not served (dropped) */
	METRICS_VERIFY_ERROR,	   /* the query itself failed */
	METRICS_NVERIFY
};

/* One verification and its duration (all its queries). */
void metrics_verify(enum metrics_verify result, uint64_t usec);

/* A zone discovery after NOTAUTH: found a zone (@found) or not. */
void metrics_zone_discovery(bool found);

/* A challenge refused by --allowed-zones before any DNS traffic. */
void metrics_zone_refusal(void);

/* A serving certificate reload that succeeded or was refused. */
void metrics_tls_reload(bool ok);

/* The serving certificate's expiry time (its notAfter). */
void metrics_cert_expiry(time_t not_after);

/*
 * The whole exposition in text format 0.0.4 into a malloc'ed *@out (the
 * caller frees), *@len its length.  Returns 0 or -ENOMEM.
 */
int metrics_render(char **out, size_t *len);

/* Set every metric back to zero and forget label sets (for tests). */
void metrics_reset(void);

/* Content-Type of the exposition. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Check a --metrics-bind-address value: "HOST:PORT" with HOST an IPv4
 * address, a bracketed IPv6 address or empty, PORT 0-65535; "0" turns
 * metrics off (*@off set).  An empty or unspecified HOST (":9402",
 * "0.0.0.0:9402", "[::]:9402") means every address family, as for
 * Kubernetes' servers.  Returns 0 or -EINVAL.
 */
int metrics_address_check(const char *text, bool *off);

struct metrics_server;

/*
 * Serve GET /metrics (and HEAD) over plain HTTP on @address (as checked
 * by metrics_address_check, not "0"); any other path is 404, any other
 * method 405.  An unspecified HOST listens on one dual-stack [::] socket
 * (IPv6 and IPv4 clients), or on 0.0.0.0 with a warning where the kernel
 * has no IPv6; a given address listens on that address only.  One polling
 * thread; a scrape renders the registry.  Errors name the address and the
 * cause.  Returns 0 or a negative code.
 */
int metrics_server_start(struct metrics_server **server, const char *address,
			 char *err, size_t errlen);

/* The port served (the chosen one when asked for port 0). */
unsigned metrics_server_port(const struct metrics_server *server);

/*
 * What it listens on, for the log: "[::]:9402 (IPv6 and IPv4)",
 * "0.0.0.0:9402 (IPv4 only)" where the kernel has no IPv6, or the address
 * given ("127.0.0.1:9402", "[::1]:9402").
 */
const char *metrics_server_address(const struct metrics_server *server);

/* Stop serving and free the server.  NULL-safe. */
void metrics_server_stop(struct metrics_server *server);

#endif /* RFC2136_METRICS_H */
