/*
 * http_internal.h - what the files of the HTTPS server share (internal to
 * http.c, request.c, respond.c, route.c and job.c): the server, a
 * connection's and a request's context, and the steps each file offers
 * the others.
 *
 * Each request owns a struct req from its first callback to the
 * completion callback (a worker touches it only between suspend and
 * resume); each connection owns a struct conn (the serving credentials its
 * handshake used, its cached client verdict, what the watchdog watches)
 * from MHD_CONNECTION_NOTIFY_STARTED to MHD_CONNECTION_NOTIFY_CLOSED.
 */
#ifndef RFC2136_HTTP_INTERNAL_H
#define RFC2136_HTTP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "server/auth.h"
#include "server/http.h"
#include "server/listen.h"
#include "server/pool.h"
#include "server/watchdog.h"

struct route;

struct http_server {
	struct http_opts opts; /* with the defaults filled in */
	struct MHD_Daemon *daemon;
	unsigned port;
	char *discovery; /* the APIResourceList, built once */
	size_t discovery_len;
	atomic_int in_flight; /* requests between first call and completion */
	atomic_bool quiescing;
	int quiesced_fd; /* the listening socket MHD gave back, or -1 */
	struct listen_mhd_log mhd_log; /* MHD's word while starting */
	char address[64];	       /* what it listens on, for the log */
	struct pool *reviews;	       /* authorization reviews */
	struct pool *solves; /* solver calls, shared out by namespace */
	struct watchdog *watchdog;
};

/* Per connection (MHD's socket context). */
struct conn {
	struct watch watch;	 /* its deadlines (watchdog.h) */
	struct tls_creds *creds; /* what the handshake served; one reference */
	unsigned auth_gen;	 /* authn generation of the verdict below */
	int auth_ret;
	char auth_why[256];
};

/* Per request (MHD's request context). */
struct req {
	const struct route *route; /* never NULL once routed */
	int code;		   /* error decided before the body (0: none) */
	char message[768];	   /* its Status message (empty: the default) */
	bool authz_error;  /* a 500: message is why no verdict was had */
	const char *allow; /* Allow header of a 405 */
	char *body;
	size_t len, seen;
	struct auth_user user;
	char id[64];
	uint64_t start_ms; /* monotonic ms of its first call */
	const char *method;
	char path[320]; /* fits every path routed anywhere but 404 */

	/* Work done by a worker while the connection is suspended. */
	struct MHD_Connection *mc;
	struct conn *conn;   /* its connection's context (may be NULL) */
	struct pool_job job; /* job.ns: request.resourceNamespace, or "" */
	enum {
		JOB_NONE = 0,
		JOB_QUEUED,
		JOB_DONE
	} state;
	enum {
		JOB_AUTHZ = 0,
		JOB_SOLVE
	} kind;
	int answer_code; /* its answer: status, body, content type */
	char *answer;
	size_t answer_len;
};

/* request.c: libmicrohttpd's access handler (MHD_AccessHandlerCallback). */
enum MHD_Result request_handle(void *cls, struct MHD_Connection *mc,
			       const char *url, const char *method,
			       const char *version, const char *upload_data,
			       size_t *upload_data_size, void **req_cls);

/* request.c: MHD_OPTION_NOTIFY_COMPLETED: log the request and free it. */
void request_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
		       enum MHD_RequestTerminationCode toe);

/* request.c: apply a verdict of authz_check()/authz_peek() to @r. */
void request_authz_apply(struct req *r, const struct authz_attrs *attrs,
			 int ret, const char *reason);

/* The connection's context of @mc, or NULL. */
struct conn *conn_of(struct MHD_Connection *mc);

/*
 * respond.c: queue @body (malloc'ed, always taken) with the headers every
 * answer carries.
 */
enum MHD_Result respond(struct http_server *srv, struct MHD_Connection *mc,
			struct req *r, int code, char *body, size_t len,
			const char *content_type);

/* respond.c: a Kubernetes Status body for @code, with r->message. */
enum MHD_Result respond_status(struct http_server *srv,
			       struct MHD_Connection *mc, struct req *r,
			       int code);

/* respond.c: 503 while shutting down, else 429. */
enum MHD_Result respond_busy(struct http_server *srv, struct MHD_Connection *mc,
			     struct req *r);

/* respond.c: r->code before the body (see there why). */
enum MHD_Result respond_early(struct http_server *srv,
			      struct MHD_Connection *mc, struct req *r);

/* respond.c: a namespace over its share, answered at once. */
enum MHD_Result respond_throttled(struct http_server *srv,
				  struct MHD_Connection *mc, struct req *r);

/* job.c: what the pools do with a request (@arg: the server). */
extern const struct pool_ops job_ops;

/*
 * job.c: suspend the connection and queue @r for a worker of @p to do
 * @kind.  Returns pool_submit()'s code.
 */
int job_submit(struct pool *p, struct MHD_Connection *mc, struct req *r,
	       int kind);

/*
 * job.c: the answer to a solver call of a namespace over its share (see
 * there).  Returns the HTTP status; *@out is NULL when even that failed.
 */
int job_throttled_answer(struct http_server *srv, struct req *r,
			 uint64_t waited_ms, char **out, size_t *outlen);

/* job.c: request.resourceNamespace of a solver body into r->job.ns. */
void job_namespace_read(struct req *r);

#endif /* RFC2136_HTTP_INTERNAL_H */
