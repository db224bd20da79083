/*
 * respond.c - the HTTPS server's answers (see http_internal.h): every one
 * with the same headers, errors as Kubernetes Status bodies, and the
 * refusals of a busy or shutting-down server.
 */
#include <stdio.h>
#include <stdlib.h>

#include <microhttpd.h>

#include "server/auth.h"
#include "server/http_internal.h"
#include "server/route.h"
#include "server/status.h"

enum MHD_Result respond(struct http_server *srv, struct MHD_Connection *mc,
			struct req *r, int code, char *body, size_t len,
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

enum MHD_Result respond_status(struct http_server *srv,
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
	bool with_details = code == MHD_HTTP_FORBIDDEN && r->route != NULL &&
			    (r->route->flags & ROUTE_RESOURCE);
	if (r->authz_error && code == MHD_HTTP_INTERNAL_SERVER_ERROR)
		body = authz_error_body(r->message, &len);
	else
		body = status_body(code, msg, with_details ? &forbidden : NULL,
				   &len);
	if (body == NULL)
		return MHD_NO;
	return respond(srv, mc, r, code, body, len, "application/json");
}

enum MHD_Result respond_busy(struct http_server *srv, struct MHD_Connection *mc,
			     struct req *r)
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

/*
 * Answer before the body: MHD sends "100 Continue" to a client that asks
 * for it once the header phase ends without an answer, which would invite
 * the body of a request already refused (unauthenticated, forbidden, too
 * large).  Answering now sends no 100 and closes the connection after the
 * answer (RFC 9110 10.1.1 allows either).
 */
enum MHD_Result respond_early(struct http_server *srv,
			      struct MHD_Connection *mc, struct req *r)
{
	if (r->code == MHD_HTTP_TOO_MANY_REQUESTS)
		return respond_busy(srv, mc, r);
	return respond_status(srv, mc, r, r->code);
}

/*
 * A namespace over its share: answered at once with a failure naming it.
 */
enum MHD_Result respond_throttled(struct http_server *srv,
				  struct MHD_Connection *mc, struct req *r)
{
	char *body = NULL;
	size_t len = 0;
	int code = job_throttled_answer(srv, r, 0, &body, &len);

	if (body == NULL)
		return respond_busy(srv, mc, r);
	return respond(srv, mc, r, code, body, len, "application/json");
}
