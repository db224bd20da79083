/*
 * request.c - the life of one request on the HTTPS server (see
 * http_internal.h), from libmicrohttpd's first call to its completion.
 *
 * Begin (the request line and headers are in): give it an id, route it,
 * authenticate the front proxy and the user headers, authorize as
 * Kubernetes does before any body is read (a verdict that needs the API
 * is fetched by a worker, job.c), and check the body's headers.  Body:
 * collect the solver's body up to its limit, or read and drop a refused
 * one.  End (the whole request is in): answer the refusal, or let the
 * route answer (route.c).  Completion: one log line, and the connection's
 * next request gets a deadline of its own.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "server/auth.h"
#include "server/http_internal.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/route.h"
#include "util/clock.h"
#include "util/random.h"

/* A body beyond the cap is read and dropped up to this, then cut off. */
#define HTTP_DISCARD_MAX (1024 * 1024)

static void req_free(struct req *r)
{
	if (r == NULL)
		return;
	auth_user_release(&r->user);
	free(r->body);
	free(r->answer);
	free(r);
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
	int v = r->route != NULL ? r->route->log_v : 2;

	snprintf(status, sizeof(status), "%d", code);
	snprintf(ms, sizeof(ms), "%llu",
		 (unsigned long long)(util_now_ms() - r->start_ms));
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

void request_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
		       enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct req *r = *req_cls;
	const union MHD_ConnectionInfo *ci;
	struct conn *c = conn_of(mc);

	/* The next request on this connection gets a window of its own. */
	watch_renew(srv->watchdog, c != NULL ? &c->watch : NULL);
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
	if (util_random(rnd, sizeof(rnd)) < 0)
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

/* The user headers of a request, as authn_header() reads them. */
struct header_user {
	struct authn *authn;
	struct auth_user *user;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind,
				      const char *key, const char *value)
{
	struct header_user *hu = cls;

	(void)kind;
	if (authn_header(hu->authn, hu->user, key, value) < 0)
		return MHD_NO;
	return MHD_YES;
}

/*
 * What the connection's peer proved (its client certificate), cached in
 * the connection until the client CA changes.  Returns authn's code.
 */
static int authenticate_peer(struct http_server *srv, struct MHD_Connection *mc,
			     char *why, size_t whylen)
{
	const union MHD_ConnectionInfo *ci;
	struct conn *c = conn_of(mc);
	unsigned gen = authn_generation(srv->opts.authn);
	int ret;

	if (c != NULL && c->auth_gen == gen) {
		snprintf(why, whylen, "%s", c->auth_why);
		return c->auth_ret;
	}
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	ret = authn_verify_session(
	    srv->opts.authn, ci != NULL ? ci->tls_session : NULL, why, whylen);
	if (c != NULL) {
		c->auth_gen = gen;
		c->auth_ret = ret;
		snprintf(c->auth_why, sizeof(c->auth_why), "%s", why);
	}
	return ret;
}

/* Decide r->code from what the connection's peer proved and the headers. */
static bool authenticate(struct http_server *srv, struct MHD_Connection *mc,
			 struct req *r)
{
	char why[256] = "";
	int ret = authenticate_peer(srv, mc, why, sizeof(why));

	if (ret == 0) {
		struct header_user hu = {srv->opts.authn, &r->user};

		MHD_get_connection_values(mc, MHD_HEADER_KIND, collect_header,
					  &hu);
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

void request_authz_apply(struct req *r, const struct authz_attrs *attrs,
			 int ret, const char *reason)
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
	r->route = route_find(srv, url);
	/* Fail closed: nobody but a verified front proxy gets further. */
	if ((r->route->flags & ROUTE_AUTHN) && !authenticate(srv, mc, r))
		return;
	r->code = route_method_check(r->route, method, &r->allow);
}

/*
 * Authorize before reading a body, as Kubernetes does.  Returns true when
 * a worker fetches the verdict from the API (or none was free: r->code).
 */
static bool request_authorize(struct http_server *srv,
			      struct MHD_Connection *mc, struct req *r)
{
	struct authz_attrs attrs;
	char reason[512];

	if (r->code != 0 || !route_attrs(srv, r, &attrs))
		return false;
	int ret = authz_peek(srv->opts.authz, &r->user, &attrs, reason,
			     sizeof(reason));
	if (ret == -EWOULDBLOCK) {
		if (job_submit(srv->reviews, mc, r, JOB_AUTHZ) < 0)
			r->code = MHD_HTTP_TOO_MANY_REQUESTS;
		return true;
	}
	request_authz_apply(r, &attrs, ret, reason);
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

/* The solver's checks of the headers, once the caller is authorized. */
static void request_check_body_headers(struct http_server *srv,
				       struct MHD_Connection *mc, struct req *r)
{
	if (r->code != 0 || !(r->route->flags & ROUTE_RESOURCE))
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

/* Expect: 100-continue (RFC 9110 10.1.1): the client waits for a go. */
static bool expects_continue(struct MHD_Connection *mc)
{
	const char *e = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_EXPECT);

	return e != NULL && strcasecmp(e, "100-continue") == 0;
}

/* A new request's context, counted in flight until its completion. */
static struct req *request_new(struct http_server *srv,
			       struct MHD_Connection *mc, const char *url,
			       const char *method)
{
	struct req *r = calloc(1, sizeof(*r));
	bool known = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
		     strcmp(method, MHD_HTTP_METHOD_HEAD) == 0 ||
		     strcmp(method, MHD_HTTP_METHOD_POST) == 0;

	if (r == NULL)
		return NULL;
	atomic_fetch_add(&srv->in_flight, 1);
	r->start_ms = util_now_ms();
	r->method = known ? method : "other";
	snprintf(r->path, sizeof(r->path), "%s", url);
	r->conn = conn_of(mc);
	/* The headers are in: the body has what is left of the read
	 * timeout, counted from the accept. */
	watch_request_started(srv->watchdog,
			      r->conn != NULL ? &r->conn->watch : NULL);
	request_id(mc, r->id, sizeof(r->id));
	log_debug(5, "request started", "request_id", r->id, "method",
		  r->method, "path", r->path);
	log_headers(mc, r);
	return r;
}

/* First call: the request line and headers only. */
static enum MHD_Result request_begin(struct http_server *srv,
				     struct MHD_Connection *mc, const char *url,
				     const char *method, void **req_cls)
{
	struct req *r = request_new(srv, mc, url, method);

	if (r == NULL)
		return MHD_NO;
	*req_cls = r;
	request_route(srv, mc, r, url, method);
	if (request_authorize(srv, mc, r))
		return MHD_YES;
	request_check_body_headers(srv, mc, r);
	if (r->code != 0 && expects_continue(mc))
		return respond_early(srv, mc, r);
	return MHD_YES;
}

/*
 * Back from the authorization review: the checks of the header phase.
 * Returns true with *@ret when this call is answered so.
 */
static bool request_reviewed(struct http_server *srv, struct MHD_Connection *mc,
			     struct req *r, size_t upload_size,
			     enum MHD_Result *ret)
{
	r->state = JOB_NONE;
	request_check_body_headers(srv, mc, r);
	if (upload_size > 0)
		return false;
	if (r->code != 0 && expects_continue(mc)) {
		*ret = respond_early(srv, mc, r);
		return true;
	}
	/*
	 * Resumed from the first call, MHD calls again before reading the
	 * body: that call ends the header phase.  Answering now would hand
	 * the solver an empty body.
	 */
	*ret = MHD_YES;
	return true;
}

/* A piece of the body: kept for the solver, or read and dropped. */
static enum MHD_Result request_body(struct http_server *srv,
				    struct MHD_Connection *mc, struct req *r,
				    const char *data, size_t *size)
{
	size_t n = *size;

	*size = 0;
	r->seen += n;
	if (r->code == 0 && (r->route->flags & ROUTE_RESOURCE)) {
		if (r->len + n > srv->opts.body_max) {
			r->code = MHD_HTTP_CONTENT_TOO_LARGE;
			free(r->body);
			r->body = NULL;
			r->len = 0;
		} else {
			char *grown = realloc(r->body, r->len + n + 1);
			if (grown == NULL)
				return MHD_NO;
			memcpy(grown + r->len, data, n);
			r->len += n;
			grown[r->len] = '\0';
			r->body = grown;
		}
	}
	/*
	 * A rejected body is read and dropped so that the client sees the
	 * answer (closing on unread data resets it), but only so far: then
	 * the answer goes out and the connection is closed.
	 */
	if (r->code != 0 && r->seen > HTTP_DISCARD_MAX)
		return respond_status(srv, mc, r, r->code);
	return MHD_YES;
}

/* The whole request is in: the refusal decided before, or the route's. */
static enum MHD_Result request_end(struct http_server *srv,
				   struct MHD_Connection *mc, struct req *r)
{
	if (r->code == MHD_HTTP_TOO_MANY_REQUESTS)
		return respond_busy(srv, mc, r);
	if (r->code != 0)
		return respond_status(srv, mc, r, r->code);
	return r->route->respond(srv, mc, r);
}

enum MHD_Result request_handle(void *cls, struct MHD_Connection *mc,
			       const char *url, const char *method,
			       const char *version, const char *upload_data,
			       size_t *upload_data_size, void **req_cls)
{
	struct http_server *srv = cls;
	struct req *r = *req_cls;
	enum MHD_Result ret;

	(void)version;
	if (r == NULL)
		return request_begin(srv, mc, url, method, req_cls);
	if (r->state == JOB_DONE && r->kind == JOB_AUTHZ &&
	    request_reviewed(srv, mc, r, *upload_data_size, &ret))
		return ret;
	if (*upload_data_size > 0)
		return request_body(srv, mc, r, upload_data, upload_data_size);
	return request_end(srv, mc, r);
}
