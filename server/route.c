/*
 * route.c - the route table of the HTTPS server and the answers of its
 * routes (see route.h): health and discovery are answered on the polling
 * threads, at once; the solver's route hands its request to a worker and
 * answers with what the worker left.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include "server/auth.h"
#include "server/http_internal.h"
#include "server/route.h"
#include "server/tls.h"

static enum MHD_Result respond_health(struct http_server *srv,
				      struct MHD_Connection *mc, struct req *r);
static enum MHD_Result respond_discovery(struct http_server *srv,
					 struct MHD_Connection *mc,
					 struct req *r);
static enum MHD_Result respond_solver(struct http_server *srv,
				      struct MHD_Connection *mc, struct req *r);
static enum MHD_Result respond_not_found(struct http_server *srv,
					 struct MHD_Connection *mc,
					 struct req *r);

/* Looked up in order; the first whose path is the URL's answers. */
static const struct route routes[] = {
    {"/healthz", ROUTE_GET, "GET, HEAD", 0, 4, respond_health},
    {"/livez", ROUTE_GET, "GET, HEAD", 0, 4, respond_health},
    {"/readyz", ROUTE_GET, "GET, HEAD", 0, 4, respond_health},
    {"/apis/{group}/v1alpha1", ROUTE_GET, "GET, HEAD",
     ROUTE_AUTHN | ROUTE_AUTHZ_PATH, 2, respond_discovery},
    {"/apis/{group}/v1alpha1/", ROUTE_GET, "GET, HEAD",
     ROUTE_AUTHN | ROUTE_AUTHZ_PATH, 2, respond_discovery},
    {"/apis/{group}/v1alpha1/{solver}", ROUTE_POST, "POST",
     ROUTE_AUTHN | ROUTE_RESOURCE, 0, respond_solver},
};

/* Any other path: 404, but only to whom authenticates (fail closed). */
static const struct route route_none = {"",	     0, NULL,
					ROUTE_AUTHN, 2, respond_not_found};

/* The value of the placeholder @name (@len bytes, without braces). */
static const char *placeholder(const struct http_server *srv, const char *name,
			       size_t len)
{
	if (len == strlen("group") && strncmp(name, "group", len) == 0)
		return srv->opts.group;
	return srv->opts.solver_name;
}

/* Whether @url is @pattern with its placeholders filled in. */
static bool path_match(const struct http_server *srv, const char *pattern,
		       const char *url)
{
	while (*pattern != '\0') {
		if (*pattern != '{') {
			if (*pattern++ != *url++)
				return false;
			continue;
		}
		const char *end = strchr(pattern, '}');
		const char *value =
		    placeholder(srv, pattern + 1, (size_t)(end - pattern - 1));
		size_t vlen = strlen(value);

		if (strncmp(url, value, vlen) != 0)
			return false;
		url += vlen;
		pattern = end + 1;
	}
	return *url == '\0';
}

const struct route *route_find(const struct http_server *srv, const char *url)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (path_match(srv, routes[i].path, url))
			return &routes[i];
	return &route_none;
}

int route_method_check(const struct route *route, const char *method,
		       const char **allow)
{
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
		   strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

	if (route->methods == 0)
		return MHD_HTTP_NOT_FOUND;
	if ((get && (route->methods & ROUTE_GET)) ||
	    (post && (route->methods & ROUTE_POST)))
		return 0;
	*allow = route->allow;
	return MHD_HTTP_METHOD_NOT_ALLOWED;
}

bool route_attrs(const struct http_server *srv, const struct req *r,
		 struct authz_attrs *attrs)
{
	if (r->route->flags & ROUTE_AUTHZ_PATH) {
		*attrs = (struct authz_attrs){.verb = "get", .path = r->path};
		return true;
	}
	if (r->route->flags & ROUTE_RESOURCE) {
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

/* The serving certificate's state for /readyz; false when not ready. */
static bool health_cert(struct http_server *srv, char *state, size_t len)
{
	struct tls_creds *creds = tls_store_get(srv->opts.tls);
	bool has_cert = creds != NULL;
	time_t not_after = has_cert ? tls_creds_not_after(creds) : 0;
	struct tm tm;

	tls_creds_unref(creds);
	snprintf(state, len, "ok");
	if (!has_cert) {
		snprintf(state, len, "failed: no serving certificate");
		return false;
	}
	if (not_after <= time(NULL)) {
		/* An expired certificate fails every handshake: not ready. */
		gmtime_r(&not_after, &tm);
		snprintf(state, len,
			 "failed: the serving certificate expired at "
			 "%04d-%02d-%02dT%02d:%02d:%02dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
		return false;
	}
	return true;
}

/*
 * The health text of @url (Kubernetes' format) into @text; returns
 * whether it passed.  /healthz and /livez pass while the process serves;
 * /readyz asks for a certificate, the client CA and no shutdown.
 */
static bool health_text(struct http_server *srv, const char *url, bool verbose,
			char *text, size_t len)
{
	char ca_state[300], cert_state[128];
	bool liveness = strcmp(url, "/readyz") != 0;
	bool has_cert = health_cert(srv, cert_state, sizeof(cert_state));
	bool has_ca = authn_status(srv->opts.authn, ca_state, sizeof(ca_state));
	bool up = !atomic_load(&srv->quiescing);
	bool ready = liveness || (has_cert && has_ca && up);

	if (!verbose && ready)
		snprintf(text, len, "ok");
	else if (liveness)
		snprintf(text, len, "[+]ping ok\n%s check passed\n", url + 1);
	else
		snprintf(text, len,
			 "[+]ping ok\n"
			 "[%c]serving-certificate %s\n"
			 "[%c]requestheader-client-ca %s%s\n"
			 "[%c]shutdown %s\n"
			 "readyz check %s\n",
			 has_cert ? '+' : '-', cert_state, has_ca ? '+' : '-',
			 has_ca ? "" : "failed: ", ca_state, up ? '+' : '-',
			 up ? "ok" : "failed: shutting down",
			 ready ? "passed" : "failed");
	return ready;
}

/* /healthz, /livez, /readyz. */
static enum MHD_Result respond_health(struct http_server *srv,
				      struct MHD_Connection *mc, struct req *r)
{
	/* "?verbose" has no value: ask whether the key is there at all. */
	bool verbose = MHD_lookup_connection_value_n(
			   mc, MHD_GET_ARGUMENT_KIND, "verbose",
			   strlen("verbose"), NULL, NULL) == MHD_YES;
	char text[1024];
	bool ready = health_text(srv, r->path, verbose, text, sizeof(text));
	char *body = strdup(text);

	if (body == NULL)
		return MHD_NO;
	return respond(srv, mc, r,
		       ready ? MHD_HTTP_OK : MHD_HTTP_INTERNAL_SERVER_ERROR,
		       body, strlen(body), "text/plain; charset=utf-8");
}

int route_discovery_build(struct http_server *srv)
{
	char gv[600];
	json_t *root;

	snprintf(gv, sizeof(gv), "%s/v1alpha1", srv->opts.group);
	/* The APIResourceList of our one resource, as cert-manager's. */
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

/* /apis/<group>/v1alpha1: the APIResourceList built at start. */
static enum MHD_Result respond_discovery(struct http_server *srv,
					 struct MHD_Connection *mc,
					 struct req *r)
{
	char *body = strdup(srv->discovery);

	if (body == NULL)
		return MHD_NO;
	return respond(srv, mc, r, MHD_HTTP_OK, body, srv->discovery_len,
		       "application/json");
}

/*
 * The solver: the first time, hand the request to a worker of the
 * namespace's share; when the worker is done, its answer.
 */
static enum MHD_Result respond_solver(struct http_server *srv,
				      struct MHD_Connection *mc, struct req *r)
{
	if (r->state == JOB_NONE) {
		job_namespace_read(r);
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
	return respond(srv, mc, r, r->answer_code, answer, r->answer_len,
		       "application/json");
}

static enum MHD_Result respond_not_found(struct http_server *srv,
					 struct MHD_Connection *mc,
					 struct req *r)
{
	return respond_status(srv, mc, r, MHD_HTTP_NOT_FOUND);
}
