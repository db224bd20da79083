/*
 * test_route.c - the HTTPS server's route table from a table of requests:
 * which route a path finds (with the configured group and solver name
 * filled into its pattern), whether the method is answered or refused
 * with 404 or 405 and which Allow header, what the route asks of
 * authentication and authorization, and the verbosity of its log line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/auth.h"
#include "server/http_internal.h"
#include "server/route.h"

struct route_case {
	const char *url, *method;
	int check;	   /* route_method_check(): 0, 404 or 405 */
	const char *allow; /* its Allow header when 405 */
	unsigned flags;	   /* the route's ROUTE_AUTHN ... */
	int log_v;
	const char *verb; /* route_attrs(): NULL when none is asked */
};

#define APIS	 "/apis/acme.example.org/v1alpha1"
#define DISCOVER (ROUTE_AUTHN | ROUTE_AUTHZ_PATH)
#define SOLVE	 (ROUTE_AUTHN | ROUTE_RESOURCE)

static const struct route_case cases[] = {
    /* ---------------------------------------- health: no authentication */
    {"/healthz", "GET", 0, NULL, 0, 4, NULL},
    {"/livez", "HEAD", 0, NULL, 0, 4, NULL},
    {"/readyz", "GET", 0, NULL, 0, 4, NULL},
    {"/readyz", "POST", 405, "GET, HEAD", 0, 4, NULL},
    {"/healthz", "DELETE", 405, "GET, HEAD", 0, 4, NULL},
    /* --------------------------------------------- discovery, with "/" */
    {APIS, "GET", 0, NULL, DISCOVER, 2, "get"},
    {APIS "/", "HEAD", 0, NULL, DISCOVER, 2, "get"},
    {APIS, "POST", 405, "GET, HEAD", DISCOVER, 2, "get"},
    /* ------------------------------------------------------- the solver */
    {APIS "/rfc2136", "POST", 0, NULL, SOLVE, 0, "create"},
    {APIS "/rfc2136", "GET", 405, "POST", SOLVE, 0, "create"},
    {APIS "/rfc2136", "PUT", 405, "POST", SOLVE, 0, "create"},
    /* ------------------------------- anything else: 404, authenticated */
    {"/", "GET", 404, NULL, ROUTE_AUTHN, 2, NULL},
    {"/healthz/", "GET", 404, NULL, ROUTE_AUTHN, 2, NULL},
    {APIS "/rfc2136/", "POST", 404, NULL, ROUTE_AUTHN, 2, NULL},
    {APIS "/rfc213", "POST", 404, NULL, ROUTE_AUTHN, 2, NULL},
    {APIS "/other", "POST", 404, NULL, ROUTE_AUTHN, 2, NULL},
    {APIS "//", "GET", 404, NULL, ROUTE_AUTHN, 2, NULL},
    {"/apis/acme.example.org/v1beta1", "GET", 404, NULL, ROUTE_AUTHN, 2, NULL},
    {"/apis/acme.example.org.evil/v1alpha1", "GET", 404, NULL, ROUTE_AUTHN, 2,
     NULL},
    {"/apis/acme/v1alpha1", "GET", 404, NULL, ROUTE_AUTHN, 2, NULL},
    {"/apis/{group}/v1alpha1", "GET", 404, NULL, ROUTE_AUTHN, 2, NULL},
};

static void test_route_table(void **state)
{
	struct http_server srv = {
	    .opts = {.group = "acme.example.org", .solver_name = "rfc2136"}};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct route_case *c = &cases[i];
		struct req r = {.route = route_find(&srv, c->url)};
		struct authz_attrs attrs = {0};
		const char *allow = NULL;

		snprintf(r.path, sizeof(r.path), "%s", c->url);
		assert_non_null(r.route);
		assert_non_null(r.route->respond);
		if (route_method_check(r.route, c->method, &allow) !=
			c->check ||
		    r.route->flags != c->flags || r.route->log_v != c->log_v)
			fail_msg("case %zu: %s %s", i, c->method, c->url);
		if (c->allow != NULL)
			assert_string_equal(allow, c->allow);
		else
			assert_null(allow);
		if (c->verb == NULL) {
			assert_false(route_attrs(&srv, &r, &attrs));
			continue;
		}
		assert_true(route_attrs(&srv, &r, &attrs));
		assert_string_equal(attrs.verb, c->verb);
	}
}

/* What authorization is asked: the path, or the solver resource. */
static void test_route_attrs(void **state)
{
	struct http_server srv = {
	    .opts = {.group = "acme.example.org", .solver_name = "rfc2136"}};
	struct req r = {.route = route_find(&srv, APIS "/")};
	struct authz_attrs attrs = {0};

	(void)state;
	snprintf(r.path, sizeof(r.path), "%s", APIS "/");
	assert_true(route_attrs(&srv, &r, &attrs));
	assert_string_equal(attrs.path, APIS "/");
	assert_null(attrs.resource);

	r.route = route_find(&srv, APIS "/rfc2136");
	assert_true(route_attrs(&srv, &r, &attrs));
	assert_null(attrs.path);
	assert_string_equal(attrs.group, "acme.example.org");
	assert_string_equal(attrs.version, "v1alpha1");
	assert_string_equal(attrs.resource, "rfc2136");
}

/* The APIResourceList, byte for byte as cert-manager's webhook. */
static void test_route_discovery(void **state)
{
	struct http_server srv = {
	    .opts = {.group = "acme.example.org", .solver_name = "rfc2136"}};

	(void)state;
	assert_int_equal(route_discovery_build(&srv), 0);
	assert_string_equal(
	    srv.discovery,
	    "{\"kind\":\"APIResourceList\",\"apiVersion\":\"v1\","
	    "\"groupVersion\":\"acme.example.org/v1alpha1\",\"resources\":"
	    "[{\"name\":\"rfc2136\",\"singularName\":\"ChallengePayload\","
	    "\"namespaced\":false,\"group\":\"webhook.acme.cert-manager.io\","
	    "\"version\":\"v1alpha1\",\"kind\":\"ChallengePayload\","
	    "\"verbs\":[\"create\"]}]}");
	assert_int_equal(srv.discovery_len, strlen(srv.discovery));
	free(srv.discovery);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route_table),
	    cmocka_unit_test(test_route_attrs),
	    cmocka_unit_test(test_route_discovery),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
