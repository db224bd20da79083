/*
 * route.h - the HTTPS server's routes (internal to server/): one table of
 * path, methods, what a caller must prove and the handler that answers,
 * looked up once per request; and the answers of the routes that need no
 * worker (health checks, API discovery).
 *
 *   GET /healthz /livez /readyz          200 "ok", no authentication
 *   GET /apis/<group>/v1alpha1[/]        APIResourceList (authenticated)
 *   POST /apis/<group>/v1alpha1/<solver> the solver (authenticated)
 *   anything else                        404 (once authenticated)
 */
#ifndef RFC2136_ROUTE_H
#define RFC2136_ROUTE_H

#include <stdbool.h>

#include <microhttpd.h>

struct authz_attrs;
struct http_server;
struct req;

/* Methods a route answers. */
#define ROUTE_GET  1u /* GET and HEAD */
#define ROUTE_POST 2u

/* What a route asks of a request. */
#define ROUTE_AUTHN 1u /* authenticated: a verified front proxy only */
#define ROUTE_AUTHZ_PATH                                                       \
	2u /* authorized to "get" its path (a non-resource URL) */
/*
 * The solver's resource: authorized to "create" it, a JSON body (with a
 * size limit), a 403 naming its group and kind.
 */
#define ROUTE_RESOURCE 4u

struct route {
	const char *path;  /* "{group}", "{solver}": the configured names */
	unsigned methods;  /* ROUTE_GET, ROUTE_POST; 0: no such path (404) */
	const char *allow; /* the Allow header of its 405 */
	unsigned flags;	   /* ROUTE_AUTHN ... */
	int log_v;	   /* its request lines are logged from this --v */
	/* The answer, once the whole request is in and nothing refused it. */
	enum MHD_Result (*respond)(struct http_server *srv,
				   struct MHD_Connection *mc, struct req *r);
};

/* The route of @url; for an unknown path, one that answers 404. */
const struct route *route_find(const struct http_server *srv, const char *url);

/*
 * Whether @route answers @method: 0, MHD_HTTP_NOT_FOUND (no such path) or
 * MHD_HTTP_METHOD_NOT_ALLOWED (*@allow set to the Allow header).
 */
int route_method_check(const struct route *route, const char *method,
		       const char **allow);

/* What @r's route asks of authorization; false for routes that need none. */
bool route_attrs(const struct http_server *srv, const struct req *r,
		 struct authz_attrs *attrs);

/*
 * Build the APIResourceList of our one resource (srv->discovery), once at
 * start.  Returns 0, -EINVAL or -ENOMEM.
 */
int route_discovery_build(struct http_server *srv);

#endif /* RFC2136_ROUTE_H */
