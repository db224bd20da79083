/*
 * http.c - the webhook's HTTPS server (see http.h).
 *
 * Threading: a solver call blocks on DNS for up to its deadline (25 s),
 * and a SubjectAccessReview on the Kubernetes API for up to its timeout.
 * Run inline on libmicrohttpd's few polling threads, one such call would
 * stall every connection sharing its thread.  So the polling threads (a
 * fixed pool, poll()) only do TLS, parsing and cheap checks; a request that
 * must wait is suspended (MHD_suspend_connection) and handed to a fixed
 * pool of workers, which resume it with the answer.  One slow nameserver
 * then holds one worker per call to it, and the others go on.
 *
 * Isolation (a tenant who may create Issuers controls where solver calls
 * go, and how slowly they end): health and discovery are answered on the
 * polling threads; authorization reviews have a pool of their own, so a
 * discovery from kube-apiserver never waits behind DNS work; and solver
 * calls of one namespace (request.resourceNamespace) run on at most
 * namespace_share workers, 4 times as many wait, and further ones are
 * answered at once with a failure naming the namespace.  A client that
 * hangs up while a worker holds its request is seen by the watchdog
 * (POLLRDHUP on the suspended socket); the solver stops at its next step
 * (trace_cancelled()) and the connection is closed.
 *
 * Connections: at most max_per_client from one address (MHD counts them),
 * and a new connection must finish its TLS handshake within
 * handshake_timeout_ms and send its first request's headers within
 * first_request_timeout_ms of the accept, so idle sockets cannot hold the
 * connection limit for the 30 s idle timeout.
 *
 * Why not a thread per connection: GnuTLS 3.7 keeps every thread's random
 * generator state on a global list until gnutls_global_deinit(), so a
 * fresh thread per connection grows the process by a few hundred bytes per
 * connection, forever.  All threads here live as long as the server.
 *
 * Each request owns a struct req from its first callback to the
 * completion callback (a worker touches it only between suspend and
 * resume); each connection owns a struct conn (the serving credentials its
 * handshake used, its cached client verdict) from
 * MHD_CONNECTION_NOTIFY_STARTED to MHD_CONNECTION_NOTIFY_CLOSED.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>

#include "server/auth.h"
#include "server/codec.h"
#include "server/http.h"
#include "server/listen.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/solver.h"
#include "server/status.h"
#include "server/tls.h"
#include "server/trace.h"

/*
 * Request headers and MHD's own per-connection buffers fit in this.  MHD
 * zeroes the whole pool after every request of a kept-alive connection,
 * so each open connection holds all of it resident: 64 KiB made 4 MB at
 * 64 connections (make bench).  kube-apiserver's proxied headers are far
 * below 16 KiB; larger ones are refused (431 or 413).
 */
#define HTTP_CONN_MEMORY (16 * 1024)
/* A body beyond the cap is read and dropped up to this, then cut off. */
#define HTTP_DISCARD_MAX (1024 * 1024)
/* Polling threads: TLS and parsing only, so a few are plenty. */
#define HTTP_POLL_THREADS 2
/* The watchdog looks at deadlines and hung-up clients this often at most. */
#define HTTP_WATCHDOG_TICK_MS 200
/* A namespace name is a DNS label (RFC 1123), at most 63 bytes. */
#define HTTP_NAMESPACE_MAX 64
/* A namespace at its share may have this many times as many waiting. */
#define HTTP_NAMESPACE_WAITING 4
/*
 * A solver call that waited this long for a worker is refused instead:
 * its own 25 s deadline would end past cert-manager's 34 s.
 */
#define HTTP_QUEUE_WAIT_MS 9000

enum route {
	ROUTE_NONE = 0,
	ROUTE_HEALTH,
	ROUTE_DISCOVERY,
	ROUTE_SOLVER,
	ROUTE_OTHER,
};

struct http_server {
	struct http_opts opts;
	struct MHD_Daemon *daemon;
	unsigned port;
	char prefix[512];      /* /apis/<group>/v1alpha1 */
	char solver_path[640]; /* prefix + "/" + solver name */
	char *discovery;       /* the APIResourceList, built once */
	size_t discovery_len;
	atomic_int in_flight; /* requests between first call and completion */
	atomic_bool quiescing;
	int quiesced_fd; /* the listening socket MHD gave back, or -1 */
	struct listen_mhd_log mhd_log; /* MHD's word while starting */
	char address[64];	       /* what it listens on, for the log */
	char read_timeout_text[24];

	struct pool *reviews; /* authorization reviews */
	struct pool *solves;  /* solver calls, shared out by namespace */

	/*
	 * The slow-client watchdog: every connection is on this list, with
	 * the time by which it must have sent its request (see conn).
	 */
	pthread_mutex_t clock; /* guards conns and watchdog_stop */
	pthread_cond_t ccond;
	struct conn *conns;
	pthread_t watchdog;
	bool watchdog_on, watchdog_stop;
	bool trim; /* a connection closed since the watchdog's last tick */
	struct pollfd *pfds; /* the watchdog's: suspended sockets */
	struct conn **pconns;
	size_t npmax;
};

/* Which deadline a connection is under. */
enum {
	CONN_HANDSHAKE = 0, /* --tls-handshake-timeout */
	CONN_FIRST_REQUEST, /* --first-request-timeout */
	CONN_REQUEST,	    /* --request-read-timeout */
};

/* Per connection (MHD's socket context). */
struct conn {
	/*
	 * Monotonic ms by which the client must have sent its request (from
	 * the accept or the previous answer); 0 while a worker holds the
	 * request.  Past it, the watchdog shuts the socket down, so a client
	 * that dribbles its handshake, headers or body (slowloris), which
	 * the idle timeout alone never ends, holds a connection that long at
	 * most.
	 */
	_Atomic uint64_t deadline_ms;
	uint64_t accepted_ms;	/* monotonic ms of the accept */
	bool requested;		/* polling thread: a request came in on it */
	_Atomic unsigned stage; /* CONN_*: the deadline it is under */
	atomic_bool held;	/* a worker holds its request (suspended) */
	atomic_bool gone;	/* the client hung up while it was held */
	int fd;
	struct conn *prev, *next; /* on http_server.conns */
	struct tls_creds *creds;  /* what the handshake served; one reference */
	unsigned auth_gen;	  /* authn generation of the verdict below */
	int auth_ret;
	char auth_why[256];
};

/* Per request (MHD's request context). */
struct req {
	enum route route;
	int code;	   /* error decided before the body (0: none) */
	char message[768]; /* its Status message (empty: the default) */
	bool authz_error;  /* a 500: message is why no verdict was had */
	const char *allow; /* Allow header of a 405 */
	char *body;
	size_t len, seen;
	struct auth_user user;
	char id[64];
	struct timespec start;
	const char *method;
	char path[320]; /* fits every path routed anywhere but 404 */

	/* Work done by a worker while the connection is suspended. */
	struct MHD_Connection *mc;
	struct conn *conn; /* its connection's context (may be NULL) */
	struct req *next;  /* in the queue */
	char ns[HTTP_NAMESPACE_MAX]; /* request.resourceNamespace, or "" */
	uint64_t queued_ms;	     /* monotonic ms it was queued */
	struct nsload *load;	     /* its namespace's share, in the pool */
	enum {
		JOB_NONE = 0,
		JOB_QUEUED,
		JOB_DONE
	} job;
	enum {
		JOB_AUTHZ = 0,
		JOB_SOLVE
	} kind;
	int answer_code; /* its answer: status, body, content type */
	char *answer;
	size_t answer_len;
};

/*
 * libmicrohttpd's certificate callback takes no closure, and a process
 * runs one server: the callback finds it here.
 */
static struct http_server *the_server;

/*
 * gnutls_certificate_retrieve_function2: serve the current pair and keep a
 * reference to it in the connection, so that a reload never frees
 * credentials a live session still points at.
 */
static int cert_retrieve(gnutls_session_t session,
			 const gnutls_datum_t *req_ca_dn, int nreqs,
			 const gnutls_pk_algorithm_t *pk_algos,
			 int pk_algos_length, gnutls_pcert_st **pcert,
			 unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	struct MHD_Connection *mc = gnutls_session_get_ptr(session);
	const union MHD_ConnectionInfo *ci;
	struct conn *c;
	struct tls_creds *creds;

	(void)req_ca_dn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	if (the_server == NULL || mc == NULL)
		return -1;
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	c = ci != NULL ? ci->socket_context : NULL;
	if (c == NULL)
		return -1; /* no place to hold a reference: refuse */
	creds = tls_store_get(the_server->opts.tls);
	if (creds == NULL)
		return -1;
	tls_creds_unref(c->creds);
	c->creds = creds;
	tls_creds_select(creds, pcert, pcert_length, pkey);
	return 0;
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A new window for the client to send its next request in. */
static void conn_deadline_renew(struct http_server *srv, struct conn *c)
{
	if (c != NULL)
		atomic_store(&c->deadline_ms,
			     monotonic_ms() + srv->opts.read_timeout_ms);
}

struct pool;
static void pool_kick(struct pool *p);

static unsigned min_ms(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

/*
 * Move a connection's deadline to @ms, unless the watchdog already shut it
 * down (0): a late handshake must not revive it.
 */
static void conn_deadline_move(struct conn *c, uint64_t ms)
{
	uint64_t d = atomic_load(&c->deadline_ms);

	while (d != 0 && !atomic_compare_exchange_weak(&c->deadline_ms, &d, ms))
		;
}

/*
 * gnutls_handshake_set_hook_function: the client's Finished came in, so
 * the handshake is done (RFC 8446 4.4.4: it is the last message of a TLS
 * 1.3 handshake; in a full TLS 1.2 one, RFC 5246 7.3, ours follows at
 * once): from now on, the first request's own deadline.
 */
static int handshake_done(gnutls_session_t session, unsigned int htype,
			  unsigned when, unsigned int incoming,
			  const gnutls_datum_t *msg)
{
	struct MHD_Connection *mc = gnutls_session_get_ptr(session);
	const union MHD_ConnectionInfo *ci;
	struct conn *c;

	(void)htype;
	(void)when;
	(void)msg;
	if (!incoming || the_server == NULL || mc == NULL)
		return 0;
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	c = ci != NULL ? ci->socket_context : NULL;
	if (c == NULL || c->requested)
		return 0;
	atomic_store(&c->stage, CONN_FIRST_REQUEST);
	conn_deadline_move(c,
			   c->accepted_ms +
			       min_ms(the_server->opts.first_request_timeout_ms,
				      the_server->opts.read_timeout_ms));
	return 0;
}

/*
 * Mark held requests whose client hung up: their socket, which MHD does
 * not poll while the connection is suspended, reads end-of-file or an
 * error.  The caller holds srv->clock.  Returns how many were marked.
 */
static size_t watchdog_hangups(struct http_server *srv)
{
	size_t n = 0, marked = 0;

	for (struct conn *c = srv->conns; c != NULL && n < srv->npmax;
	     c = c->next) {
		if (c->fd < 0 || !atomic_load(&c->held) ||
		    atomic_load(&c->gone))
			continue;
		srv->pfds[n] =
		    (struct pollfd){.fd = c->fd, .events = POLLRDHUP};
		srv->pconns[n++] = c;
	}
	if (n == 0 || poll(srv->pfds, n, 0) <= 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if ((srv->pfds[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) ==
		    0)
			continue;
		atomic_store(&srv->pconns[i]->gone, true);
		marked++;
		metrics_connection_dropped(METRICS_DROP_CLIENT_GONE);
		log_debug(2, "client hung up while its request was being "
			     "served: abandoning it at its next step");
	}
	return marked;
}

/* Which deadline a connection missed, at --v 2. */
static void watchdog_log(struct http_server *srv, unsigned stage)
{
	char ms[24];

	if (stage == CONN_HANDSHAKE) {
		snprintf(ms, sizeof(ms), "%u",
			 min_ms(srv->opts.handshake_timeout_ms,
				srv->opts.read_timeout_ms));
		log_debug(2,
			  "connection closed: the TLS handshake was not done "
			  "in time",
			  "limit_ms", ms, "flag", "--tls-handshake-timeout");
	} else if (stage == CONN_FIRST_REQUEST) {
		snprintf(ms, sizeof(ms), "%u",
			 min_ms(srv->opts.first_request_timeout_ms,
				srv->opts.read_timeout_ms));
		log_debug(2,
			  "connection closed: no request arrived in time after "
			  "the handshake",
			  "limit_ms", ms, "flag", "--first-request-timeout");
	} else {
		log_debug(2,
			  "connection closed: the request did not arrive in "
			  "time",
			  "limit_ms", srv->read_timeout_text, "flag",
			  "--request-read-timeout");
	}
}

/* The watchdog: shut down connections past their deadline. */
static void *watchdog_main(void *arg)
{
	struct http_server *srv = arg;
	unsigned tick_ms =
	    min_ms(srv->opts.read_timeout_ms, srv->opts.handshake_timeout_ms) /
	    4;
	struct timespec until;

	if (tick_ms > HTTP_WATCHDOG_TICK_MS)
		tick_ms = HTTP_WATCHDOG_TICK_MS;
	if (tick_ms < 20)
		tick_ms = 20;
	pthread_mutex_lock(&srv->clock);
	while (!srv->watchdog_stop) {
		uint64_t now = monotonic_ms();
		if (watchdog_hangups(srv) > 0) {
			/*
			 * A request that waits for its namespace's share is
			 * now free to go (pool_take): wake a worker for it.
			 * Outside the list lock, which pools never take.
			 */
			pthread_mutex_unlock(&srv->clock);
			pool_kick(srv->solves);
			pool_kick(srv->reviews);
			pthread_mutex_lock(&srv->clock);
		}
		for (struct conn *c = srv->conns; c != NULL; c = c->next) {
			uint64_t d = atomic_load(&c->deadline_ms);
			if (d == 0 || d > now || c->fd < 0)
				continue;
			/*
			 * The list lock keeps the socket open: MHD closes it
			 * only after MHD_CONNECTION_NOTIFY_CLOSED, which takes
			 * the lock to leave the list.  The polling thread sees
			 * the shutdown and closes the connection itself.
			 */
			atomic_store(&c->deadline_ms, 0);
			shutdown(c->fd, SHUT_RDWR);
			metrics_connection_dropped(METRICS_DROP_DEADLINE);
			watchdog_log(srv, atomic_load(&c->stage));
		}
		if (srv->trim) {
			/*
			 * A closed connection's TLS session and buffers went
			 * back to malloc's per-thread arenas, which keep them;
			 * hand the free pages back, or the memory of a burst of
			 * connections stays resident for good.
			 */
			srv->trim = false;
			pthread_mutex_unlock(&srv->clock);
			malloc_trim(0);
			pthread_mutex_lock(&srv->clock);
		}
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += (long)tick_ms * 1000000;
		while (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&srv->ccond, &srv->clock, &until);
	}
	pthread_mutex_unlock(&srv->clock);
	return NULL;
}

static void notify_connection(void *cls, struct MHD_Connection *mc,
			      void **socket_context,
			      enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;
	struct conn *c = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		c = calloc(1, sizeof(*c));
		*socket_context = c;
		if (c != NULL) {
			const union MHD_ConnectionInfo *fi =
			    MHD_get_connection_info(
				mc, MHD_CONNECTION_INFO_CONNECTION_FD);
			c->fd = fi != NULL ? fi->connect_fd : -1;
			/* First the handshake's deadline (handshake_done). */
			c->accepted_ms = monotonic_ms();
			atomic_store(&c->deadline_ms,
				     c->accepted_ms +
					 min_ms(srv->opts.handshake_timeout_ms,
						srv->opts.read_timeout_ms));
			pthread_mutex_lock(&srv->clock);
			c->next = srv->conns;
			if (srv->conns != NULL)
				srv->conns->prev = c;
			srv->conns = c;
			pthread_mutex_unlock(&srv->clock);
		}
		/*
		 * Ask for a client certificate but do not require one: the
		 * front proxy sends one, kubelet probes do not.  Whether it is
		 * any good is decided per request (auth.c), never by the
		 * handshake.
		 */
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		    mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		if (ci != NULL && ci->tls_session != NULL) {
			gnutls_certificate_server_set_request(
			    ci->tls_session, GNUTLS_CERT_REQUEST);
			gnutls_handshake_set_hook_function(
			    ci->tls_session, GNUTLS_HANDSHAKE_FINISHED,
			    GNUTLS_HOOK_POST, handshake_done);
		}
		return;
	}
	if (c != NULL) {
		pthread_mutex_lock(&srv->clock);
		if (c->prev != NULL)
			c->prev->next = c->next;
		else
			srv->conns = c->next;
		if (c->next != NULL)
			c->next->prev = c->prev;
		srv->trim = true;
		pthread_mutex_unlock(&srv->clock);
		tls_creds_unref(c->creds);
		free(c);
	}
	*socket_context = NULL;
}

static void req_free(struct req *r)
{
	if (r == NULL)
		return;
	auth_user_release(&r->user);
	free(r->body);
	free(r->answer);
	free(r);
}

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)((now.tv_sec - start->tv_sec) * 1000 +
		      (now.tv_nsec - start->tv_nsec) / 1000000);
}

/*
 * One line per request: solver calls at --v 0, others with more -v; a
 * refusal (403) at --v 0, but an unauthenticated request (401) only from
 * --v 2: anyone who reaches the port can make those, as many as they like
 * (authentication_denials_total counts them at any level).
 */
static void log_request(const struct req *r, int code,
			enum MHD_RequestTerminationCode toe)
{
	char status[16], ms[24];
	int v = r->route == ROUTE_SOLVER ? 0 : r->route == ROUTE_HEALTH ? 4 : 2;

	snprintf(status, sizeof(status), "%d", code);
	snprintf(ms, sizeof(ms), "%ld", elapsed_ms(&r->start));
	const char *outcome =
	    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK
		? NULL
		: "connection ended before the answer was sent";
	const char *error =
	    code >= 400 && r->message[0] != '\0' ? r->message : outcome;
	if (code == 401)
		v = 2;
	else if (code == 403)
		v = 0;
	if (v == 0 && error != NULL)
		log_info("request", "request_id", r->id, "method", r->method,
			 "path", r->path, "user", r->user.name, "status",
			 status, "ms", ms, "error", error);
	else if (v == 0)
		log_info("request", "request_id", r->id, "method", r->method,
			 "path", r->path, "user", r->user.name, "status",
			 status, "ms", ms);
	else if (error != NULL)
		log_debug(v, "request", "request_id", r->id, "method",
			  r->method, "path", r->path, "user", r->user.name,
			  "status", status, "ms", ms, "error", error);
	else
		log_debug(v, "request", "request_id", r->id, "method",
			  r->method, "path", r->path, "user", r->user.name,
			  "status", status, "ms", ms);
}

static void request_completed(void *cls, struct MHD_Connection *mc,
			      void **req_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct req *r = *req_cls;
	const union MHD_ConnectionInfo *ci;

	/* The next request on this connection gets a window of its own. */
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	conn_deadline_renew(srv, ci != NULL ? ci->socket_context : NULL);
	if (r == NULL)
		return;
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_HTTP_STATUS);
	log_request(r, ci != NULL ? (int)ci->http_status : 0, toe);
	req_free(r);
	*req_cls = NULL;
	atomic_fetch_sub(&srv->in_flight, 1);
}

/* The request id: kube-apiserver's Audit-ID when sane, else a fresh one. */
static void request_id(struct MHD_Connection *mc, char *id, size_t idlen)
{
	const char *audit =
	    MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Audit-ID");
	unsigned char rnd[16];

	if (audit != NULL && audit[0] != '\0' && strlen(audit) < idlen) {
		bool sane = true;
		for (const char *p = audit; *p && sane; p++)
			sane = (*p >= '0' && *p <= '9') ||
			       (*p >= 'a' && *p <= 'z') ||
			       (*p >= 'A' && *p <= 'Z') || *p == '-' ||
			       *p == '_' || *p == '.';
		if (sane) {
			snprintf(id, idlen, "%s", audit);
			return;
		}
	}
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	/* RFC 9562 version 4 UUID, as Kubernetes' audit IDs are. */
	rnd[6] = (rnd[6] & 0x0f) | 0x40;
	rnd[8] = (rnd[8] & 0x3f) | 0x80;
	snprintf(id, idlen,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7],
		 rnd[8], rnd[9], rnd[10], rnd[11], rnd[12], rnd[13], rnd[14],
		 rnd[15]);
}

/* The request headers as one text, credentials left out. */
struct header_text {
	char buf[2048];
	size_t len;
};

static enum MHD_Result header_append(void *cls, enum MHD_ValueKind kind,
				     const char *key, const char *value)
{
	struct header_text *h = cls;
	/* A request to us carries no credential header, but never log one. */
	bool secret = strcasecmp(key, "Authorization") == 0 ||
		      strcasecmp(key, "Proxy-Authorization") == 0 ||
		      strcasecmp(key, "Cookie") == 0;

	(void)kind;
	if (h->len < sizeof(h->buf)) {
		int n = snprintf(h->buf + h->len, sizeof(h->buf) - h->len,
				 "%s%s: %s", h->len > 0 ? "\n" : "", key,
				 secret ? "(redacted)" : value);
		if (n > 0)
			h->len += (size_t)n;
	}
	return MHD_YES;
}

/* --v 6 and above: the request headers (HTTP details). */
static void log_headers(struct MHD_Connection *mc, const struct req *r)
{
	struct header_text h = {.len = 0};

	if (atomic_load_explicit(&log_verbosity, memory_order_relaxed) < 6)
		return;
	MHD_get_connection_values(mc, MHD_HEADER_KIND, header_append, &h);
	log_debug(6, "request headers", "request_id", r->id, "method",
		  r->method, "path", r->path, "headers", h.buf);
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind,
				      const char *key, const char *value)
{
	struct req *r = cls;

	(void)kind;
	if (authn_header(the_server->opts.authn, &r->user, key, value) < 0)
		return MHD_NO;
	return MHD_YES;
}

/* Decide r->code from what the connection's peer proved and the headers. */
static bool authenticate(struct http_server *srv, struct MHD_Connection *mc,
			 struct req *r)
{
	const union MHD_ConnectionInfo *ci;
	struct conn *c;
	unsigned gen = authn_generation(srv->opts.authn);
	int ret;
	char why[256] = "";

	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	c = ci != NULL ? ci->socket_context : NULL;
	if (c != NULL && c->auth_gen == gen) {
		ret = c->auth_ret;
		snprintf(why, sizeof(why), "%s", c->auth_why);
	} else {
		ci = MHD_get_connection_info(
		    mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		ret = authn_verify_session(srv->opts.authn,
					   ci != NULL ? ci->tls_session : NULL,
					   why, sizeof(why));
		if (c != NULL) {
			c->auth_gen = gen;
			c->auth_ret = ret;
			snprintf(c->auth_why, sizeof(c->auth_why), "%s", why);
		}
	}
	if (ret == 0) {
		MHD_get_connection_values(mc, MHD_HEADER_KIND, collect_header,
					  r);
		ret = auth_user_check(&r->user);
	}
	if (ret == 0)
		return true;
	metrics_authn_denial(ret);
	/* The client reads only "Unauthorized", as from Kubernetes. */
	log_debug(2, "authentication failed", "request_id", r->id, "path",
		  r->path, "reason", auth_strerror(ret), "detail", why);
	snprintf(r->message, sizeof(r->message), "%s%s%s", auth_strerror(ret),
		 why[0] != '\0' ? ": " : "", why);
	r->code = MHD_HTTP_UNAUTHORIZED;
	auth_user_release(&r->user);
	return false;
}

/* application/json, any parameters (charset=utf-8) allowed. */
static bool content_type_json(const char *ct)
{
	static const char want[] = "application/json";

	if (ct == NULL)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, sizeof(want) - 1) != 0)
		return false;
	ct += sizeof(want) - 1;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

static bool method_is(const char *m, const char *want)
{
	return strcmp(m, want) == 0;
}

static bool is_get(const char *m)
{
	return method_is(m, MHD_HTTP_METHOD_GET) ||
	       method_is(m, MHD_HTTP_METHOD_HEAD);
}

static enum MHD_Result respond(struct http_server *srv,
			       struct MHD_Connection *mc, struct req *r,
			       int code, char *body, size_t len,
			       const char *content_type)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp =
	    MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-cache, private");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Audit-Id", r->id);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED && r->allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (atomic_load(&srv->quiescing))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
					"close");
	ret = MHD_queue_response(mc, (unsigned)code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result respond_status(struct http_server *srv,
				      struct MHD_Connection *mc, struct req *r,
				      int code)
{
	size_t len = 0;
	const char *msg = NULL;
	char *body;

	/* 401 says no more than Kubernetes does; the log has the reason. */
	if (code != MHD_HTTP_UNAUTHORIZED && r->message[0] != '\0')
		msg = r->message;
	if (code == MHD_HTTP_CONTENT_TOO_LARGE) {
		snprintf(r->message, sizeof(r->message),
			 "the request body is too large: limit is %zu bytes",
			 srv->opts.body_max);
		msg = r->message;
	} else if (code == MHD_HTTP_UNSUPPORTED_MEDIA_TYPE ||
		   code == MHD_HTTP_NOT_FOUND ||
		   code == MHD_HTTP_METHOD_NOT_ALLOWED) {
		snprintf(r->message, sizeof(r->message), "%s",
			 status_default_message(code));
	}
	/* kube-apiserver's 403 on a resource names its group and kind. */
	struct status_details forbidden = {.group = srv->opts.group,
					   .kind = srv->opts.solver_name};
	bool with_details =
	    code == MHD_HTTP_FORBIDDEN && r->route == ROUTE_SOLVER;
	if (r->authz_error && code == MHD_HTTP_INTERNAL_SERVER_ERROR)
		body = authz_error_body(r->message, &len);
	else
		body = status_body(code, msg, with_details ? &forbidden : NULL,
				   &len);
	if (body == NULL)
		return MHD_NO;
	return respond(srv, mc, r, code, body, len, "application/json");
}

/* /readyz: the server can serve the solver (Kubernetes' format). */
static enum MHD_Result respond_health(struct http_server *srv,
				      struct MHD_Connection *mc, struct req *r,
				      const char *url)
{
	/* "?verbose" has no value: ask whether the key is there at all. */
	bool verbose = MHD_lookup_connection_value_n(
			   mc, MHD_GET_ARGUMENT_KIND, "verbose",
			   strlen("verbose"), NULL, NULL) == MHD_YES;
	bool ready = strcmp(url, "/readyz") != 0;
	char text[1024];
	struct tls_creds *creds = tls_store_get(srv->opts.tls);
	char ca_state[300];
	bool has_cert = creds != NULL,
	     has_ca = authn_status(srv->opts.authn, ca_state, sizeof(ca_state));
	bool up = !atomic_load(&srv->quiescing);
	time_t not_after = creds != NULL ? tls_creds_not_after(creds) : 0;
	char cert_state[128] = "ok";
	struct tm tm;

	tls_creds_unref(creds);
	if (!has_cert) {
		snprintf(cert_state, sizeof(cert_state),
			 "failed: no serving certificate");
	} else if (not_after <= time(NULL)) {
		/* An expired certificate fails every handshake: not ready. */
		gmtime_r(&not_after, &tm);
		snprintf(cert_state, sizeof(cert_state),
			 "failed: the serving certificate expired at "
			 "%04d-%02d-%02dT%02d:%02d:%02dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
		has_cert = false;
	}
	if (!ready)
		ready = has_cert && has_ca && up;
	if (!verbose && ready) {
		snprintf(text, sizeof(text), "ok");
	} else if (strcmp(url, "/readyz") != 0) {
		snprintf(text, sizeof(text), "[+]ping ok\n%s check passed\n",
			 url + 1);
	} else {
		snprintf(text, sizeof(text),
			 "[+]ping ok\n"
			 "[%c]serving-certificate %s\n"
			 "[%c]requestheader-client-ca %s%s\n"
			 "[%c]shutdown %s\n"
			 "readyz check %s\n",
			 has_cert ? '+' : '-', cert_state, has_ca ? '+' : '-',
			 has_ca ? "" : "failed: ", ca_state, up ? '+' : '-',
			 up ? "ok" : "failed: shutting down",
			 ready ? "passed" : "failed");
	}
	char *body = strdup(text);
	if (body == NULL)
		return MHD_NO;
	return respond(srv, mc, r,
		       ready ? MHD_HTTP_OK : MHD_HTTP_INTERNAL_SERVER_ERROR,
		       body, strlen(body), "text/plain; charset=utf-8");
}

/* What a route asks of authorization; false for routes that need none. */
static bool route_attrs(struct http_server *srv, const struct req *r,
			struct authz_attrs *attrs)
{
	if (r->route == ROUTE_DISCOVERY) {
		*attrs = (struct authz_attrs){.verb = "get", .path = r->path};
		return true;
	}
	if (r->route == ROUTE_SOLVER) {
		*attrs = (struct authz_attrs){
		    .verb = "create",
		    .group = srv->opts.group,
		    .version = "v1alpha1",
		    .resource = srv->opts.solver_name,
		};
		return true;
	}
	return false;
}

/* Apply a verdict of authz_check()/authz_peek() to the request. */
static void authz_apply(struct req *r, const struct authz_attrs *attrs, int ret,
			const char *reason)
{
	char msg[768];

	if (ret == 1)
		return;
	metrics_authz_denial(ret < 0);
	if (ret < 0) {
		/*
		 * No verdict is no denial: kube-apiserver's WithAuthorization
		 * answers an authorizer error with 500, so the caller retries
		 * rather than taking it for a missing permission.
		 */
		log_warn("authorization review failed, answering 500",
			 "request_id", r->id, "user", r->user.name, "error",
			 reason);
		snprintf(r->message, sizeof(r->message), "%s", reason);
		r->authz_error = true;
		r->code = MHD_HTTP_INTERNAL_SERVER_ERROR;
		return;
	}
	authz_forbidden_message(&r->user, attrs, reason, msg, sizeof(msg));
	snprintf(r->message, sizeof(r->message), "%s", msg);
	r->code = MHD_HTTP_FORBIDDEN;
}

/* Routing, authentication and method: from the request line and headers. */
static void request_route(struct http_server *srv, struct MHD_Connection *mc,
			  struct req *r, const char *url, const char *method)
{
	size_t plen = strlen(srv->prefix);

	if (strcmp(url, "/healthz") == 0 || strcmp(url, "/livez") == 0 ||
	    strcmp(url, "/readyz") == 0) {
		r->route = ROUTE_HEALTH;
		if (!is_get(method)) {
			r->code = MHD_HTTP_METHOD_NOT_ALLOWED;
			r->allow = "GET, HEAD";
		}
		return;
	}
	if (strcmp(url, srv->prefix) == 0 ||
	    (strncmp(url, srv->prefix, plen) == 0 &&
	     strcmp(url + plen, "/") == 0))
		r->route = ROUTE_DISCOVERY;
	else if (strcmp(url, srv->solver_path) == 0)
		r->route = ROUTE_SOLVER;
	else
		r->route = ROUTE_OTHER;

	/* Fail closed: nobody but a verified front proxy gets further. */
	if (!authenticate(srv, mc, r))
		return;

	if (r->route == ROUTE_DISCOVERY && !is_get(method)) {
		r->code = MHD_HTTP_METHOD_NOT_ALLOWED;
		r->allow = "GET, HEAD";
	} else if (r->route == ROUTE_SOLVER &&
		   !method_is(method, MHD_HTTP_METHOD_POST)) {
		r->code = MHD_HTTP_METHOD_NOT_ALLOWED;
		r->allow = "POST";
	} else if (r->route == ROUTE_OTHER) {
		r->code = MHD_HTTP_NOT_FOUND;
	}
}

/* The solver's checks of the headers, once the caller is authorized. */
static void request_check_body_headers(struct http_server *srv,
				       struct MHD_Connection *mc, struct req *r)
{
	if (r->code != 0 || r->route != ROUTE_SOLVER)
		return;
	if (!content_type_json(MHD_lookup_connection_value(
		mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE))) {
		r->code = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
		return;
	}
	const char *cl = MHD_lookup_connection_value(
	    mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		char *end = NULL;
		errno = 0;
		unsigned long long n = strtoull(cl, &end, 10);
		if (errno != 0 || end == cl || n > srv->opts.body_max)
			r->code = MHD_HTTP_CONTENT_TOO_LARGE;
	}
}

/* ------------------------------------------------------------------ */
/* Workers: what may block runs here, with its connection suspended.  */
/* ------------------------------------------------------------------ */

struct worker {
	pthread_t thread;
	struct pool *pool;
	pthread_cond_t cond;
	struct worker *next_idle;
	bool woken; /* under the pool's lock: taken off the idle stack */
};

/* The solver calls of one namespace in a pool: running and waiting. */
struct nsload {
	char ns[HTTP_NAMESPACE_MAX];
	unsigned running, waiting;
	struct nsload *next;
};

/*
 * A pool of workers and its queue of suspended requests.  Idle workers
 * wait on their own condition variable, on a stack: a request wakes the
 * one that went idle last, whose stack and data are still in the CPU's
 * caches (a FIFO would hand each request to the coldest).
 */
struct pool {
	struct http_server *srv;
	struct worker *workers;
	unsigned nworkers;
	pthread_mutex_t lock;
	struct worker *idle; /* under lock: top of the idle stack */
	struct req *qhead, *qtail;
	unsigned queued, max_queued;
	bool stopping; /* under lock: workers finish and leave */
	/*
	 * 0: first come, first served.  Else a namespace runs at most this
	 * many requests at once and has at most HTTP_NAMESPACE_WAITING times
	 * as many waiting.
	 */
	unsigned share;
	struct nsload *loads; /* under lock: namespaces with requests */
};

/*
 * The answer to a solver call of a namespace over its share: a
 * ChallengePayload whose response is a failure naming the namespace, so
 * that cert-manager shows it on the Challenge and calls again later.
 * @waited_ms: how long it waited for a worker (0: refused on arrival).
 * Returns the HTTP status; *@out is NULL when even that failed.
 */
static int throttled_answer(struct http_server *srv, struct req *r,
			    uint64_t waited_ms, char **out, size_t *outlen)
{
	struct challenge ch;
	char msg[512], detail[256], share[16];

	*out = NULL;
	*outlen = 0;
	snprintf(share, sizeof(share), "%u", srv->opts.namespace_share);
	log_info("challenge refused: too many concurrent challenges from its "
		 "namespace",
		 "namespace", r->ns, "share", share, "request_id", r->id);
	metrics_namespace_throttled();
	if (challenge_decode(&ch, r->body != NULL ? r->body : "", r->len,
			     detail, sizeof(detail)) < 0) {
		/* Not a ChallengePayload: the solver's 400 would say why. */
		snprintf(detail, sizeof(detail),
			 "too many concurrent challenges from namespace %s",
			 r->ns);
		return codec_status_encode(MHD_HTTP_TOO_MANY_REQUESTS, detail,
					   out, outlen) < 0
			   ? MHD_HTTP_INTERNAL_SERVER_ERROR
			   : MHD_HTTP_TOO_MANY_REQUESTS;
	}
	if (waited_ms > 0)
		snprintf(msg, sizeof(msg),
			 "too many concurrent challenges: this one waited "
			 "%llu ms for a worker, too long to finish before "
			 "cert-manager gives up (namespace %s may run %s at "
			 "once; those running may be waiting for a nameserver "
			 "that does not answer); cert-manager will retry it",
			 (unsigned long long)waited_ms, r->ns, share);
	else
		snprintf(msg, sizeof(msg),
			 "too many concurrent challenges from namespace %s: "
			 "%s run at once and %u more wait already (they may "
			 "be waiting for a nameserver that does not answer); "
			 "cert-manager will retry this one",
			 r->ns, share,
			 HTTP_NAMESPACE_WAITING * srv->opts.namespace_share);
	metrics_request(ch.action == CHALLENGE_CLEANUP ? METRICS_CLEANUP
						       : METRICS_PRESENT,
			METRICS_FAILURE, waited_ms * 1000);
	int ret = challenge_encode(&ch, false, msg, out, outlen);
	challenge_release(&ch);
	return ret < 0 ? MHD_HTTP_INTERNAL_SERVER_ERROR : 201;
}

/* Do the request's blocking part and store the outcome in it. */
static void job_run(struct http_server *srv, struct req *r, bool stopping)
{
	struct authz_attrs attrs;
	char reason[512];

	if (stopping) {
		/* Not started before the end of the grace period: refuse. */
		r->code = MHD_HTTP_SERVICE_UNAVAILABLE;
		snprintf(r->message, sizeof(r->message),
			 "the server is shutting down");
		return;
	}
	if (r->conn != NULL && atomic_load(&r->conn->gone)) {
		/* Its client hung up while it waited: nobody to answer. */
		r->code = MHD_HTTP_SERVICE_UNAVAILABLE;
		snprintf(r->message, sizeof(r->message),
			 "the client hung up before a worker was free");
		return;
	}
	if (r->kind == JOB_AUTHZ) {
		/* Before the body: the authorization review. */
		struct trace_ctx tc = {.request_id = r->id};

		trace_ctx_set(&tc);
		route_attrs(srv, r, &attrs);
		int ret = authz_check(srv->opts.authz, &r->user, &attrs, reason,
				      sizeof(reason));
		authz_apply(r, &attrs, ret, reason);
		trace_ctx_set(NULL);
		return;
	}
	uint64_t waited = monotonic_ms() - r->queued_ms;
	if (waited > HTTP_QUEUE_WAIT_MS) {
		/* What is left of cert-manager's 34 s is not enough. */
		r->answer_code = throttled_answer(srv, r, waited, &r->answer,
						  &r->answer_len);
		return;
	}
	trace_cancel_set(r->conn != NULL ? &r->conn->gone : NULL);
	metrics_tenant_set(r->ns);
	r->answer_code =
	    solver_handle(srv->opts.solver, r->body != NULL ? r->body : "",
			  r->len, r->id, &r->answer, &r->answer_len);
	metrics_tenant_set(NULL);
	trace_cancel_set(NULL);
	if (r->answer == NULL) {
		r->code = MHD_HTTP_INTERNAL_SERVER_ERROR;
		snprintf(r->message, sizeof(r->message),
			 "the solver gave no answer");
	}
}

static struct nsload *nsload_find(struct pool *p, const char *ns)
{
	for (struct nsload *l = p->loads; l != NULL; l = l->next)
		if (strcmp(l->ns, ns) == 0)
			return l;
	return NULL;
}

/* Forget @l once nothing of its namespace is left; the caller locks. */
static void nsload_drop_idle(struct pool *p, struct nsload *l)
{
	if (l == NULL || l->running > 0 || l->waiting > 0)
		return;
	for (struct nsload **pp = &p->loads; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			free(l);
			return;
		}
	}
}

/*
 * The next request a worker may take: the oldest whose namespace is
 * below its share (any, when stopping, or for a client that is gone).
 * The caller holds the lock.
 */
static struct req *pool_take(struct pool *p)
{
	struct req *prev = NULL, *r;

	for (r = p->qhead; r != NULL; prev = r, r = r->next) {
		if (p->stopping || r->load == NULL ||
		    r->load->running < p->share ||
		    (r->conn != NULL && atomic_load(&r->conn->gone)))
			break;
	}
	if (r == NULL)
		return NULL;
	if (prev != NULL)
		prev->next = r->next;
	else
		p->qhead = r->next;
	if (p->qtail == r)
		p->qtail = prev;
	p->queued--;
	if (r->load != NULL) {
		r->load->waiting--;
		r->load->running++;
	}
	return r;
}

static void *worker_main(void *arg)
{
	struct worker *self = arg;
	struct pool *p = self->pool;
	struct http_server *srv = p->srv;
	struct req *r;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while ((r = pool_take(p)) == NULL && !p->stopping) {
			self->woken = false;
			self->next_idle = p->idle;
			p->idle = self;
			while (!self->woken && !p->stopping)
				pthread_cond_wait(&self->cond, &p->lock);
		}
		if (r == NULL)
			break; /* stopping and nothing left */
		bool stopping = p->stopping;
		pthread_mutex_unlock(&p->lock);

		struct MHD_Connection *mc = r->mc;
		job_run(srv, r, stopping);
		r->job = JOB_DONE;
		if (r->conn != NULL && atomic_load(&r->conn->gone))
			log_debug(2, "request abandoned: the client hung up",
				  "request_id", r->id, "path", r->path);

		pthread_mutex_lock(&p->lock);
		if (r->load != NULL) {
			r->load->running--;
			nsload_drop_idle(p, r->load);
			r->load = NULL;
		}
		pthread_mutex_unlock(&p->lock);
		if (r->conn != NULL)
			atomic_store(&r->conn->held, false);
		/* Back to the client's pace: the rest must come in time. */
		conn_deadline_renew(srv, r->conn);
		/* The last touch: from here the request is MHD's again. */
		MHD_resume_connection(mc);

		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/*
 * Suspend the connection and queue its request for a worker of @p.
 * Returns 0, -EAGAIN when the queue is full or the pool stopping (the
 * caller answers 429 or 503), -EBUSY when the request's namespace has its
 * share running and as many waiting.
 */
static int job_submit(struct pool *p, struct MHD_Connection *mc, struct req *r,
		      int kind)
{
	struct nsload *l = NULL;
	int ret = -EAGAIN;

	pthread_mutex_lock(&p->lock);
	if (p->queued >= p->max_queued || p->stopping)
		goto out;
	if (p->share > 0) {
		l = nsload_find(p, r->ns);
		if (l != NULL &&
		    l->waiting >= HTTP_NAMESPACE_WAITING * p->share) {
			ret = -EBUSY;
			goto out;
		}
		if (l == NULL) {
			l = calloc(1, sizeof(*l));
			if (l == NULL)
				goto out;
			snprintf(l->ns, sizeof(l->ns), "%s", r->ns);
			l->next = p->loads;
			p->loads = l;
		}
		l->waiting++;
	}
	/* Suspended before any worker can see it, so resume follows it. */
	r->load = l;
	r->queued_ms = monotonic_ms();
	r->mc = mc;
	r->kind = kind;
	r->job = JOB_QUEUED;
	r->next = NULL;
	if (r->conn != NULL) {
		atomic_store(&r->conn->deadline_ms, 0);
		atomic_store(&r->conn->held, true);
	}
	MHD_suspend_connection(mc);
	if (p->qtail != NULL)
		p->qtail->next = r;
	else
		p->qhead = r;
	p->qtail = r;
	p->queued++;
	struct worker *w = p->idle;
	if (w != NULL) {
		p->idle = w->next_idle;
		w->woken = true;
		pthread_cond_signal(&w->cond);
	}
	ret = 0;
out:
	pthread_mutex_unlock(&p->lock);
	return ret;
}

/* Wake an idle worker of @p if requests wait.  NULL-safe. */
static void pool_kick(struct pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	struct worker *w = p->qhead != NULL ? p->idle : NULL;
	if (w != NULL) {
		p->idle = w->next_idle;
		w->woken = true;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&p->lock);
}

/* Stop the workers once the queue is empty; queued work is refused. */
static void pool_stop(struct pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	for (unsigned i = 0; i < p->nworkers; i++)
		pthread_cond_signal(&p->workers[i].cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nworkers; i++) {
		pthread_join(p->workers[i].thread, NULL);
		pthread_cond_destroy(&p->workers[i].cond);
	}
	p->nworkers = 0;
	p->idle = NULL;
}

/* Stop (if running) and free a pool.  NULL-safe. */
static void pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	pool_stop(p);
	while (p->loads != NULL) {
		struct nsload *l = p->loads;
		p->loads = l->next;
		free(l);
	}
	free(p->workers);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static int pool_new(struct pool **out, struct http_server *srv, unsigned n,
		    unsigned share)
{
	struct pool *p = calloc(1, sizeof(*p));
	int ret = -ENOMEM;

	*out = NULL;
	if (p == NULL)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	p->srv = srv;
	p->max_queued = srv->opts.max_queued;
	p->share = share;
	p->workers = calloc(n, sizeof(*p->workers));
	if (p->workers == NULL)
		goto out;
	for (; p->nworkers < n; p->nworkers++) {
		struct worker *w = &p->workers[p->nworkers];

		w->pool = p;
		pthread_cond_init(&w->cond, NULL);
		ret = pthread_create(&w->thread, NULL, worker_main, w);
		if (ret != 0) {
			pthread_cond_destroy(&w->cond);
			ret = -ret;
			goto out;
		}
	}
	*out = p;
	p = NULL;
	ret = 0;
out:
	pool_free(p);
	return ret;
}

static enum MHD_Result respond_busy(struct http_server *srv,
				    struct MHD_Connection *mc, struct req *r)
{
	if (atomic_load(&srv->quiescing)) {
		snprintf(r->message, sizeof(r->message),
			 "the server is shutting down");
		return respond_status(srv, mc, r, MHD_HTTP_SERVICE_UNAVAILABLE);
	}
	snprintf(r->message, sizeof(r->message),
		 "too many requests in flight, please try again later");
	return respond_status(srv, mc, r, MHD_HTTP_TOO_MANY_REQUESTS);
}

/* Expect: 100-continue (RFC 9110 10.1.1): the client waits for a go. */
static bool expects_continue(struct MHD_Connection *mc)
{
	const char *e = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_EXPECT);

	return e != NULL && strcasecmp(e, "100-continue") == 0;
}

/*
 * Answer before the body: MHD sends "100 Continue" to a client that asks
 * for it once the header phase ends without an answer, which would invite
 * the body of a request already refused (unauthenticated, forbidden, too
 * large).  Answering now sends no 100 and closes the connection after the
 * answer (RFC 9110 10.1.1 allows either).
 */
static enum MHD_Result respond_early(struct http_server *srv,
				     struct MHD_Connection *mc, struct req *r)
{
	if (r->code == MHD_HTTP_TOO_MANY_REQUESTS)
		return respond_busy(srv, mc, r);
	return respond_status(srv, mc, r, r->code);
}

/*
 * request.resourceNamespace of a solver body into r->ns, "" when it has
 * none (the solver then answers 400): the key of the namespace's share.
 */
static void body_namespace(struct req *r)
{
	json_t *root, *ns;

	r->ns[0] = '\0';
	if (r->body == NULL)
		return;
	root = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, NULL);
	ns = json_object_get(json_object_get(root, "request"),
			     "resourceNamespace");
	if (json_is_string(ns) && json_string_length(ns) < sizeof(r->ns))
		snprintf(r->ns, sizeof(r->ns), "%s", json_string_value(ns));
	json_decref(root);
}

/*
 * A namespace over its share: answered at once with a failure naming it.
 */
static enum MHD_Result respond_throttled(struct http_server *srv,
					 struct MHD_Connection *mc,
					 struct req *r)
{
	char *body = NULL;
	size_t len = 0;
	int code = throttled_answer(srv, r, 0, &body, &len);

	if (body == NULL)
		return respond_busy(srv, mc, r);
	return respond(srv, mc, r, code, body, len, "application/json");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *mc,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct http_server *srv = cls;
	struct req *r = *req_cls;
	struct authz_attrs attrs;
	char reason[512];

	(void)version;
	if (r == NULL) {
		/* First call: the request line and headers only. */
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		atomic_fetch_add(&srv->in_flight, 1);
		*req_cls = r;
		clock_gettime(CLOCK_MONOTONIC, &r->start);
		r->method = is_get(method) || method_is(method, "POST")
				? method
				: "other";
		snprintf(r->path, sizeof(r->path), "%s", url);
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		    mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		r->conn = ci != NULL ? ci->socket_context : NULL;
		if (r->conn != NULL && !r->conn->requested) {
			/* The headers are in: the body has what is left of
			 * the read timeout, counted from the accept. */
			r->conn->requested = true;
			atomic_store(&r->conn->stage, CONN_REQUEST);
			conn_deadline_move(r->conn,
					   r->conn->accepted_ms +
					       srv->opts.read_timeout_ms);
		}
		request_id(mc, r->id, sizeof(r->id));
		log_debug(5, "request started", "request_id", r->id, "method",
			  r->method, "path", r->path);
		log_headers(mc, r);
		request_route(srv, mc, r, url, method);
		if (r->code == 0 && route_attrs(srv, r, &attrs)) {
			/*
			 * Authorize before reading a body, as Kubernetes
			 * does; a verdict that needs the API is fetched by a
			 * worker.
			 */
			int ret = authz_peek(srv->opts.authz, &r->user, &attrs,
					     reason, sizeof(reason));
			if (ret == -EWOULDBLOCK) {
				if (job_submit(srv->reviews, mc, r, JOB_AUTHZ) <
				    0)
					r->code = MHD_HTTP_TOO_MANY_REQUESTS;
				return MHD_YES;
			}
			authz_apply(r, &attrs, ret, reason);
		}
		request_check_body_headers(srv, mc, r);
		if (r->code != 0 && expects_continue(mc))
			return respond_early(srv, mc, r);
		return MHD_YES;
	}
	if (r->job == JOB_DONE && r->kind == JOB_AUTHZ) {
		/* Back from the authorization review. */
		r->job = JOB_NONE;
		request_check_body_headers(srv, mc, r);
		if (r->code != 0 && expects_continue(mc) &&
		    *upload_data_size == 0)
			return respond_early(srv, mc, r);
		/*
		 * Resumed from the first call, MHD calls again before reading
		 * the body: that call ends the header phase.  Answering now
		 * would hand the solver an empty body.
		 */
		if (*upload_data_size == 0)
			return MHD_YES;
	}

	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		r->seen += n;
		if (r->code == 0 && r->route == ROUTE_SOLVER) {
			if (r->len + n > srv->opts.body_max) {
				r->code = MHD_HTTP_CONTENT_TOO_LARGE;
				free(r->body);
				r->body = NULL;
				r->len = 0;
			} else {
				char *grown = realloc(r->body, r->len + n + 1);
				if (grown == NULL)
					return MHD_NO;
				memcpy(grown + r->len, upload_data, n);
				r->len += n;
				grown[r->len] = '\0';
				r->body = grown;
			}
		}
		/*
		 * A rejected body is read and dropped so that the client
		 * sees the answer (closing on unread data resets it), but
		 * only so far: then the answer goes out and the connection
		 * is closed.
		 */
		if (r->code != 0 && r->seen > HTTP_DISCARD_MAX)
			return respond_status(srv, mc, r, r->code);
		return MHD_YES;
	}

	/* The whole request is in. */
	if (r->code == MHD_HTTP_TOO_MANY_REQUESTS)
		return respond_busy(srv, mc, r);
	if (r->code != 0)
		return respond_status(srv, mc, r, r->code);
	switch (r->route) {
	case ROUTE_HEALTH:
		return respond_health(srv, mc, r, url);
	case ROUTE_DISCOVERY: {
		char *body = strdup(srv->discovery);
		if (body == NULL)
			return MHD_NO;
		return respond(srv, mc, r, MHD_HTTP_OK, body,
			       srv->discovery_len, "application/json");
	}
	case ROUTE_SOLVER:
		if (r->job == JOB_NONE) {
			body_namespace(r);
			int ret = job_submit(srv->solves, mc, r, JOB_SOLVE);
			if (ret == -EBUSY)
				return respond_throttled(srv, mc, r);
			if (ret < 0)
				return respond_busy(srv, mc, r);
			return MHD_YES;
		}
		/* Back from the solver. */
		char *answer = r->answer;
		r->answer = NULL;
		return respond(srv, mc, r, r->answer_code, answer,
			       r->answer_len, "application/json");
	default:
		return respond_status(srv, mc, r, MHD_HTTP_NOT_FOUND);
	}
}

/* The APIResourceList of our one resource, as cert-manager's webhook. */
static int discovery_build(struct http_server *srv)
{
	char gv[600];
	json_t *root;

	snprintf(gv, sizeof(gv), "%s/v1alpha1", srv->opts.group);
	root = json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:b, s:s, s:s, s:s, "
			 "s:[s]}]}",
			 "kind", "APIResourceList", "apiVersion", "v1",
			 "groupVersion", gv, "resources", "name",
			 srv->opts.solver_name, "singularName",
			 "ChallengePayload", "namespaced", 0, "group",
			 "webhook.acme.cert-manager.io", "version", "v1alpha1",
			 "kind", "ChallengePayload", "verbs", "create");
	if (root == NULL)
		return -EINVAL;
	srv->discovery = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (srv->discovery == NULL)
		return -ENOMEM;
	srv->discovery_len = strlen(srv->discovery);
	return 0;
}

static struct MHD_Daemon *daemon_start(struct http_server *srv,
				       const struct listen_addr *la)
{
	/*
	 * poll(), not epoll: MHD 0.9.75's MHD_quiesce_daemon() takes the
	 * listening socket out of each pool thread's epoll set while that
	 * thread may be doing the same, and whichever loses gets ENOENT,
	 * which MHD answers with MHD_PANIC (abort) in two of the three
	 * places.  With poll() a quiesce is a flag and a wake-up.  A pool of
	 * two threads watching at most a few hundred sockets costs the same
	 * either way.
	 */
	unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG | listen_addr_mhd_flags(la);

	listen_mhd_log_starting(&srv->mhd_log, true);
	/* One option and its arguments per line. */
	/* clang-format off */
	struct MHD_Daemon *d = MHD_start_daemon(
	    flags, (uint16_t)srv->opts.port, NULL, NULL, handle, srv,
	    /* First, so that every message of MHD comes through it. */
	    MHD_OPTION_EXTERNAL_LOGGER, listen_mhd_log, &srv->mhd_log,
	    MHD_OPTION_HTTPS_CERT_CALLBACK, cert_retrieve,
	    MHD_OPTION_HTTPS_PRIORITIES, srv->opts.tls_priorities,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_POLL_THREADS,
	    MHD_OPTION_CONNECTION_LIMIT, srv->opts.max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, srv->opts.max_per_client,
	    MHD_OPTION_CONNECTION_TIMEOUT, srv->opts.connection_timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
	    /* RFC 9112 3.2: an HTTP/1.1 request without Host is a 400. */
	    MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
	    MHD_OPTION_NOTIFY_CONNECTION, notify_connection, srv,
	    MHD_OPTION_NOTIFY_COMPLETED, request_completed, srv,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
	    MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&la->ss,
	    MHD_OPTION_END);
	/* clang-format on */
	listen_mhd_log_starting(&srv->mhd_log, false);
	return d;
}

int http_server_start(struct http_server **out, const struct http_opts *opts,
		      char *err, size_t errlen)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	struct listen_addr la;
	const char *addr = opts->bind_address;
	int ret = -EINVAL;

	*out = NULL;
	if (srv == NULL)
		return -ENOMEM;
	srv->quiesced_fd = -1;
	srv->opts = *opts;
	if (srv->opts.tls_priorities == NULL)
		srv->opts.tls_priorities = HTTP_TLS_PRIORITIES;
	if (srv->opts.max_connections == 0)
		srv->opts.max_connections = HTTP_MAX_CONNECTIONS;
	if (srv->opts.max_per_client == 0)
		srv->opts.max_per_client = HTTP_MAX_PER_CLIENT;
	if (srv->opts.max_per_client > srv->opts.max_connections)
		srv->opts.max_per_client = srv->opts.max_connections;
	if (srv->opts.connection_timeout_s == 0)
		srv->opts.connection_timeout_s = 30;
	if (srv->opts.read_timeout_ms == 0)
		srv->opts.read_timeout_ms = 30000;
	if (srv->opts.handshake_timeout_ms == 0)
		srv->opts.handshake_timeout_ms = HTTP_HANDSHAKE_TIMEOUT_MS;
	if (srv->opts.first_request_timeout_ms == 0)
		srv->opts.first_request_timeout_ms =
		    HTTP_FIRST_REQUEST_TIMEOUT_MS;
	snprintf(srv->read_timeout_text, sizeof(srv->read_timeout_text), "%u",
		 srv->opts.read_timeout_ms);
	if (srv->opts.body_max == 0)
		srv->opts.body_max = 64 * 1024;
	if (srv->opts.workers == 0)
		srv->opts.workers = 16;
	if (srv->opts.review_workers == 0)
		srv->opts.review_workers = 4;
	if (srv->opts.max_queued == 0)
		srv->opts.max_queued = 256;
	if (srv->opts.namespace_share == 0)
		srv->opts.namespace_share = HTTP_NAMESPACE_SHARE;
	pthread_mutex_init(&srv->clock, NULL);
	/*
	 * The watchdog's deadlines are CLOCK_MONOTONIC; a condition variable
	 * waits on CLOCK_REALTIME unless told, and then every wait ended at
	 * once: the watchdog spun, half a core on an idle server.
	 */
	pthread_condattr_t cattr;
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->ccond, &cattr);
	pthread_condattr_destroy(&cattr);
	/* The watchdog polls at most every connection at once. */
	srv->npmax = srv->opts.max_connections + 16;
	srv->pfds = calloc(srv->npmax, sizeof(*srv->pfds));
	srv->pconns = calloc(srv->npmax, sizeof(*srv->pconns));
	if (srv->pfds == NULL || srv->pconns == NULL) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	if (pthread_create(&srv->watchdog, NULL, watchdog_main, srv) != 0) {
		snprintf(err, errlen, "cannot start the watchdog thread");
		ret = -EAGAIN;
		goto out;
	}
	srv->watchdog_on = true;
	snprintf(srv->prefix, sizeof(srv->prefix), "/apis/%s/v1alpha1",
		 opts->group);
	snprintf(srv->solver_path, sizeof(srv->solver_path), "%s/%s",
		 srv->prefix, opts->solver_name);
	ret = discovery_build(srv);
	if (ret < 0) {
		snprintf(err, errlen, "cannot build the discovery document");
		goto out;
	}
	/* A bad priority string is a start-up error, not a handshake one. */
	gnutls_priority_t prio = NULL;
	if (gnutls_priority_init2(&prio, srv->opts.tls_priorities, NULL, 0) <
	    0) {
		snprintf(err, errlen, "bad TLS priority string '%s'",
			 srv->opts.tls_priorities);
		ret = -EINVAL;
		goto out;
	}
	gnutls_priority_deinit(prio);
	ret = pool_new(&srv->reviews, srv, srv->opts.review_workers, 0);
	if (ret == 0)
		ret = pool_new(&srv->solves, srv, srv->opts.workers,
			       srv->opts.namespace_share);
	if (ret < 0) {
		snprintf(err, errlen, "cannot start worker threads: %s",
			 strerror(-ret));
		goto out;
	}
	the_server = srv;
	if (listen_addr_parse(&la, addr, opts->port) < 0) {
		snprintf(err, errlen, "--bind-address %s: not an IP address",
			 addr);
		ret = -EINVAL;
		goto out;
	}
	listen_addr_fallback(&la, "the secure port");
	listen_addr_describe(&la, -1, srv->address, sizeof(srv->address));
	srv->daemon = daemon_start(srv, &la);
	if (srv->daemon == NULL) {
		snprintf(err, errlen, "cannot serve on %s port %u: %s",
			 srv->address, opts->port,
			 listen_mhd_log_cause(&srv->mhd_log));
		ret = -EADDRNOTAVAIL;
		goto out;
	}
	const union MHD_DaemonInfo *di =
	    MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di != NULL ? di->port : opts->port;
	*out = srv;
	srv = NULL;
	ret = 0;
out:
	http_server_stop(srv);
	return ret;
}

unsigned http_server_port(const struct http_server *server)
{
	return server->port;
}

const char *http_server_address(const struct http_server *server)
{
	return server->address;
}

void http_server_quiesce(struct http_server *server)
{
	if (server == NULL || atomic_exchange(&server->quiescing, true))
		return;
	MHD_socket fd = MHD_quiesce_daemon(server->daemon);
	if (fd == MHD_INVALID_SOCKET)
		return;
	/*
	 * Stop listening now, so new connections are refused during the
	 * drain, but close the descriptor only after MHD_stop_daemon(): a
	 * polling thread may still be in a poll() that holds it (MHD's rule
	 * for MHD_quiesce_daemon() with internal threads; with epoll, its
	 * epoll_ctl(DEL) got EBADF and MHD aborted).  On Linux, shutdown()
	 * of a listening socket ends the listen and resets the connections
	 * waiting in its backlog; the descriptor stays valid.  A pool thread
	 * woken by it before it sees the quiesce gets EINVAL from accept(),
	 * which MHD ignores.
	 */
	shutdown(fd, SHUT_RDWR);
	server->quiesced_fd = fd;
}

unsigned http_server_drain(struct http_server *server, unsigned grace_ms)
{
	struct timespec start, tick = {0, 20 * 1000 * 1000};
	int n;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while ((n = atomic_load(&server->in_flight)) > 0) {
		if (elapsed_ms(&start) >= (long)grace_ms)
			return (unsigned)n;
		nanosleep(&tick, NULL);
	}
	return 0;
}

void http_server_stop(struct http_server *server)
{
	if (server == NULL)
		return;
	/* Every suspended connection is resumed before MHD stops. */
	pool_stop(server->reviews);
	pool_stop(server->solves);
	if (server->watchdog_on) {
		pthread_mutex_lock(&server->clock);
		server->watchdog_stop = true;
		pthread_cond_signal(&server->ccond);
		pthread_mutex_unlock(&server->clock);
		pthread_join(server->watchdog, NULL);
	}
	if (server->daemon != NULL)
		MHD_stop_daemon(server->daemon);
	if (server->quiesced_fd >= 0)
		close(server->quiesced_fd);
	if (the_server == server)
		the_server = NULL;
	pool_free(server->reviews);
	pool_free(server->solves);
	free(server->pfds);
	free(server->pconns);
	pthread_cond_destroy(&server->ccond);
	pthread_mutex_destroy(&server->clock);
	free(server->discovery);
	free(server);
}
