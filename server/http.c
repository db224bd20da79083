/*
 * http.c - the webhook's HTTPS server (see http.h): libmicrohttpd's
 * daemon, its TLS sessions and its connections.  A request's life is in
 * request.c, the routes in route.c, the answers in respond.c, what a
 * worker does in job.c; the worker pools are pool.c, the slow-client
 * watchdog watchdog.c.
 *
 * Threading: the polling threads (a fixed pool, poll()) only do TLS,
 * parsing and cheap checks; a request that must wait (an authorization
 * review, a solver call) is suspended and handed to a worker (job.c).
 *
 * Isolation (a tenant who may create Issuers controls where solver calls
 * go, and how slowly they end): health and discovery are answered on the
 * polling threads; authorization reviews have a pool of their own, so a
 * discovery from kube-apiserver never waits behind DNS work; and solver
 * calls of one namespace (request.resourceNamespace) run on at most
 * namespace_share workers, 4 times as many wait, and further ones are
 * answered at once with a failure naming the namespace.  A client that
 * hangs up while a worker holds its request is seen by the watchdog; the
 * solver stops at its next step (trace_cancelled()) and the connection is
 * closed.
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
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "server/http.h"
#include "server/http_internal.h"
#include "server/listen.h"
#include "server/route.h"
#include "server/tls.h"
#include "util/clock.h"

/*
 * Request headers and MHD's own per-connection buffers fit in this.  MHD
 * zeroes the whole pool after every request of a kept-alive connection,
 * so each open connection holds all of it resident: 64 KiB made 4 MB at
 * 64 connections (make bench).  kube-apiserver's proxied headers are far
 * below 16 KiB; larger ones are refused (431 or 413).
 */
#define HTTP_CONN_MEMORY (16 * 1024)
/* Polling threads: TLS and parsing only, so a few are plenty. */
#define HTTP_POLL_THREADS 2

/*
 * libmicrohttpd's certificate callback takes no closure, and a process
 * runs one server: the callback finds it here.
 */
static struct http_server *the_server;

struct conn *conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

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
	struct conn *c;
	struct tls_creds *creds;

	(void)req_ca_dn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	if (the_server == NULL || mc == NULL)
		return -1;
	c = conn_of(mc);
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
	struct conn *c;

	(void)htype;
	(void)when;
	(void)msg;
	if (!incoming || the_server == NULL || mc == NULL)
		return 0;
	c = conn_of(mc);
	if (c != NULL)
		watch_handshake_done(the_server->watchdog, &c->watch);
	return 0;
}

/* A connection was accepted: its context, watched from now on. */
static void conn_open(struct http_server *srv, struct MHD_Connection *mc,
		      void **socket_context)
{
	struct conn *c = calloc(1, sizeof(*c));
	const union MHD_ConnectionInfo *ci;

	*socket_context = c;
	if (c != NULL) {
		ci = MHD_get_connection_info(mc,
					     MHD_CONNECTION_INFO_CONNECTION_FD);
		watchdog_add(srv->watchdog, &c->watch,
			     ci != NULL ? ci->connect_fd : -1);
	}
	/*
	 * Ask for a client certificate but do not require one: the front
	 * proxy sends one, kubelet probes do not.  Whether it is any good is
	 * decided per request (authn.c), never by the handshake.
	 */
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci != NULL && ci->tls_session != NULL) {
		gnutls_certificate_server_set_request(ci->tls_session,
						      GNUTLS_CERT_REQUEST);
		gnutls_handshake_set_hook_function(
		    ci->tls_session, GNUTLS_HANDSHAKE_FINISHED,
		    GNUTLS_HOOK_POST, handshake_done);
	}
}

/* MHD_OPTION_NOTIFY_CONNECTION: a connection's context, open to close. */
static void notify_connection(void *cls, struct MHD_Connection *mc,
			      void **socket_context,
			      enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;
	struct conn *c = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		conn_open(srv, mc, socket_context);
		return;
	}
	if (c != NULL) {
		watchdog_remove(srv->watchdog, &c->watch);
		tls_creds_unref(c->creds);
		free(c);
	}
	*socket_context = NULL;
}

/*
 * The watchdog saw a client hang up: a request that waits for its
 * namespace's share is now free to go (pool_take): wake a worker for it.
 */
static void pools_kick(void *arg)
{
	struct http_server *srv = arg;

	pool_kick(srv->solves);
	pool_kick(srv->reviews);
}

unsigned http_daemon_port(struct MHD_Daemon *daemon, unsigned asked)
{
	const union MHD_DaemonInfo *di =
	    MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);

	return di != NULL && di->port != 0 ? di->port : asked;
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
	    flags, (uint16_t)srv->opts.port, NULL, NULL, request_handle, srv,
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

/* Fill in the defaults of the options left 0 (see http.h). */
static void opts_defaults(struct http_opts *o)
{
	if (o->tls_priorities == NULL)
		o->tls_priorities = HTTP_TLS_PRIORITIES;
	if (o->max_connections == 0)
		o->max_connections = HTTP_MAX_CONNECTIONS;
	if (o->max_per_client == 0)
		o->max_per_client = HTTP_MAX_PER_CLIENT;
	if (o->max_per_client > o->max_connections)
		o->max_per_client = o->max_connections;
	if (o->connection_timeout_s == 0)
		o->connection_timeout_s = 30;
	if (o->read_timeout_ms == 0)
		o->read_timeout_ms = 30000;
	if (o->handshake_timeout_ms == 0)
		o->handshake_timeout_ms = HTTP_HANDSHAKE_TIMEOUT_MS;
	if (o->first_request_timeout_ms == 0)
		o->first_request_timeout_ms = HTTP_FIRST_REQUEST_TIMEOUT_MS;
	if (o->body_max == 0)
		o->body_max = 64 * 1024;
	if (o->workers == 0)
		o->workers = 16;
	if (o->review_workers == 0)
		o->review_workers = 4;
	if (o->max_queued == 0)
		o->max_queued = 256;
	if (o->namespace_share == 0)
		o->namespace_share = HTTP_NAMESPACE_SHARE;
}

/* Start the watchdog, which watches every connection from its accept. */
static int server_watchdog_start(struct http_server *srv, char *err,
				 size_t errlen)
{
	struct watchdog_opts wo = {
	    .handshake_timeout_ms = srv->opts.handshake_timeout_ms,
	    .first_request_timeout_ms = srv->opts.first_request_timeout_ms,
	    .read_timeout_ms = srv->opts.read_timeout_ms,
	    .max_connections = srv->opts.max_connections,
	    .hangup = pools_kick,
	    .arg = srv,
	};
	int ret = watchdog_start(&srv->watchdog, &wo);

	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	else if (ret < 0)
		snprintf(err, errlen, "cannot start the watchdog thread");
	return ret;
}

/*
 * What serving needs before the socket: the watchdog, the discovery
 * document, a priority string that GnuTLS takes, the worker pools.
 */
static int server_prepare(struct http_server *srv, char *err, size_t errlen)
{
	gnutls_priority_t prio = NULL;
	int ret = server_watchdog_start(srv, err, errlen);

	if (ret < 0)
		return ret;
	ret = route_discovery_build(srv);
	if (ret < 0) {
		snprintf(err, errlen, "cannot build the discovery document");
		return ret;
	}
	/* A bad priority string is a start-up error, not a handshake one. */
	if (gnutls_priority_init2(&prio, srv->opts.tls_priorities, NULL, 0) <
	    0) {
		snprintf(err, errlen, "bad TLS priority string '%s'",
			 srv->opts.tls_priorities);
		return -EINVAL;
	}
	gnutls_priority_deinit(prio);
	ret = pool_new(&srv->reviews, &job_ops, srv, srv->opts.review_workers,
		       srv->opts.max_queued, 0);
	if (ret == 0)
		ret = pool_new(&srv->solves, &job_ops, srv, srv->opts.workers,
			       srv->opts.max_queued, srv->opts.namespace_share);
	if (ret < 0)
		snprintf(err, errlen, "cannot start worker threads: %s",
			 strerror(-ret));
	return ret;
}

/* Listen on --bind-address and the port: the daemon starts serving. */
static int server_listen(struct http_server *srv, char *err, size_t errlen)
{
	const char *addr = srv->opts.bind_address;
	struct listen_addr la;

	if (listen_addr_parse(&la, addr, srv->opts.port) < 0) {
		snprintf(err, errlen, "--bind-address %s: not an IP address",
			 addr);
		return -EINVAL;
	}
	listen_addr_fallback(&la, "the secure port");
	listen_addr_describe(&la, -1, srv->address, sizeof(srv->address));
	srv->daemon = daemon_start(srv, &la);
	if (srv->daemon == NULL) {
		snprintf(err, errlen, "cannot serve on %s port %u: %s",
			 srv->address, srv->opts.port,
			 listen_mhd_log_cause(&srv->mhd_log));
		return -EADDRNOTAVAIL;
	}
	srv->port = http_daemon_port(srv->daemon, srv->opts.port);
	return 0;
}

int http_server_start(struct http_server **out, const struct http_opts *opts,
		      char *err, size_t errlen)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	int ret;

	*out = NULL;
	if (srv == NULL)
		return -ENOMEM;
	srv->quiesced_fd = -1;
	srv->opts = *opts;
	opts_defaults(&srv->opts);
	ret = server_prepare(srv, err, errlen);
	if (ret == 0) {
		the_server = srv;
		ret = server_listen(srv, err, errlen);
	}
	if (ret == 0) {
		*out = srv;
		srv = NULL;
	}
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
	struct timespec tick = {0, 20 * 1000 * 1000};
	uint64_t start = util_now_ms();
	int n;

	while ((n = atomic_load(&server->in_flight)) > 0) {
		if (util_now_ms() - start >= grace_ms)
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
	watchdog_stop(server->watchdog);
	if (server->daemon != NULL)
		MHD_stop_daemon(server->daemon);
	if (server->quiesced_fd >= 0)
		close(server->quiesced_fd);
	if (the_server == server)
		the_server = NULL;
	pool_free(server->reviews);
	pool_free(server->solves);
	/* After MHD_stop_daemon(): closing connections leave its list. */
	watchdog_free(server->watchdog);
	free(server->discovery);
	free(server);
}
