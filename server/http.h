/*
 * http.h - the webhook's HTTPS server (internal to server/): TLS through
 * libmicrohttpd and GnuTLS, request-header authentication, authorization,
 * routing to the health checks, API discovery and the solver.
 *
 * Routes:
 *   GET /healthz /livez /readyz          200 "ok", no authentication
 *   GET /apis/<group>/v1alpha1[/]        APIResourceList (authenticated)
 *   POST /apis/<group>/v1alpha1/<solver> solver_handle() (authenticated)
 *   anything else                        a Kubernetes Status body
 */
#ifndef RFC2136_HTTP_H
#define RFC2136_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct authn;
struct authz;
struct MHD_Daemon;
struct solver;
struct tls_store;

/* TLS 1.2 and 1.3 only, forward-secret AEAD suites only (GnuTLS syntax). */
#define HTTP_TLS_PRIORITIES                                                    \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:"              \
	"+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:"         \
	"-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

struct http_opts {
	const char *bind_address; /* NULL/""/0.0.0.0/"::": every family */
	unsigned port;		  /* 0: any free port (see http_server_port) */
	const char *group;	  /* API group, e.g. acme.example.org */
	const char *solver_name;  /* e.g. rfc2136 */
	struct tls_store *tls;	  /* serving certificate; borrowed */
	struct authn *authn;	  /* borrowed */
	struct authz *authz;	  /* borrowed */
	struct solver *solver;	  /* borrowed */
	const char *tls_priorities;    /* NULL: HTTP_TLS_PRIORITIES */
	unsigned max_connections;      /* 0: 256 */
	unsigned max_per_client;       /* from one client address; 0: 64 */
	unsigned connection_timeout_s; /* idle timeout; 0: 30 */
	unsigned handshake_timeout_ms; /* TLS handshake done by then after the
					  accept; 0: 5000 */
	unsigned first_request_timeout_ms; /* first request's headers in by
					      then after the accept; 0: 10000 */
	unsigned read_timeout_ms;	   /* a request (from the accept or the
					      last answer) must be in by then;
					      0: 30000 */
	size_t body_max;		   /* 0: 64 KiB */
	unsigned workers;		   /* threads for solver calls; 0: 16 */
	unsigned review_workers;  /* threads for authorization reviews; 0: 4 */
	unsigned max_queued;	  /* requests waiting for a worker; 0: 256 */
	unsigned namespace_share; /* solver calls of one namespace running at
				     once (4 times as many may wait); 0: 4 */
};

/* Defaults of the limits above, for the flags' help. */
#define HTTP_MAX_CONNECTIONS	      256
#define HTTP_MAX_PER_CLIENT	      64
#define HTTP_HANDSHAKE_TIMEOUT_MS     5000
#define HTTP_FIRST_REQUEST_TIMEOUT_MS 10000
/*
 * 12 of the 16 workers: a ClusterIssuer's challenges all come from
 * cert-manager's namespace, and a renewal burst should use most of the
 * pool; the other 4 stay free for every other namespace.
 */
#define HTTP_NAMESPACE_SHARE 12

struct http_server;

/*
 * Start serving: a few polling threads for TLS, HTTP and what answers at
 * once (health, discovery), a pool of workers for authorization reviews
 * and another for solver calls, so that neither waits behind the other;
 * one namespace's solver calls get at most @namespace_share of them.  The
 * options' borrowed objects must outlive the server.  Errors name the
 * address and the cause.  Returns 0 or a negative code.
 */
int http_server_start(struct http_server **server, const struct http_opts *opts,
		      char *err, size_t errlen);

/*
 * The port a started libmicrohttpd daemon listens on, @asked when it
 * cannot tell (for both of the webhook's listeners: this one and the
 * metrics server's).
 */
unsigned http_daemon_port(struct MHD_Daemon *daemon, unsigned asked);

/* The port the server listens on (the chosen one when asked for 0). */
unsigned http_server_port(const struct http_server *server);

/*
 * The address it listens on, for the log: "[::] (IPv6 and IPv4)" for an
 * unspecified --bind-address, "0.0.0.0 (IPv4 only)" there when the kernel
 * has no IPv6, else the address given ("127.0.0.1", "[::1]").
 */
const char *http_server_address(const struct http_server *server);

/*
 * Stop accepting connections: the listening socket is closed, /readyz
 * fails from now on, and answers ask clients to close their connection.
 * Requests in flight go on.
 */
void http_server_quiesce(struct http_server *server);

/*
 * Wait until no request is in flight, at most @grace_ms.  Returns how
 * many are still in flight: 0 when none is left.
 */
unsigned http_server_drain(struct http_server *server, unsigned grace_ms);

/*
 * Stop the server and free it: requests waiting for a worker are answered
 * 503, requests a worker is on are finished, then what connections are
 * left are closed.
 */
void http_server_stop(struct http_server *server);

#endif /* RFC2136_HTTP_H */
