/*
 * test_solver_zone.c - the pure parts of solver_zone.c from tables:
 * --allowed-zones lists (syntax, membership, the refusal naming the list),
 * names inside zones, and the message for a resolved name outside its
 * resolved zone (a CNAME followed, a wildcard).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/solver_zone.h"

static void test_in_zone(void **state)
{
	static const struct {
		const char *name, *zone;
		bool in;
	} rows[] = {
	    {"_acme-challenge.example.com.", "example.com.", true},
	    {"_acme-challenge.example.com.", "example.com", true},
	    {"example.com.", "example.com.", true},
	    {"_acme-challenge.EXAMPLE.com.", "example.COM.", true},
	    {"_acme-challenge.badexample.com.", "example.com.", false},
	    {"example.com.", "sub.example.com.", false},
	    {"a.b.", ".", true},
	    {"a.org.", "com.", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("%s in %s\n", rows[i].name, rows[i].zone);
		assert_int_equal(solver_name_in_zone(rows[i].name, rows[i].zone),
				 rows[i].in);
	}
}

static void test_allowed(void **state)
{
	static const struct {
		const char *list, *fqdn;
		int want;
	} rows[] = {
	    {NULL, "_acme-challenge.x.test.", 0},
	    {"", "_acme-challenge.x.test.", 0},
	    {"x.test", "_acme-challenge.x.test.", 0},
	    {"a.test,x.test.", "_acme-challenge.www.x.test.", 0},
	    {"a.test, x.test", "_acme-challenge.www.x.test.", 0},
	    {"a.test", "_acme-challenge.x.test.", -EPERM},
	    {"ax.test", "_acme-challenge.x.test.", -EPERM},
	    {"sub.x.test", "_acme-challenge.x.test.", -EPERM},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char msg[512] = "";

		assert_int_equal(solver_zone_allowed(rows[i].list, rows[i].fqdn,
						     msg, sizeof(msg)),
				 rows[i].want);
		if (rows[i].want != 0) {
			assert_non_null(strstr(msg, rows[i].list));
			assert_non_null(strstr(msg, "--allowed-zones"));
			assert_non_null(strstr(msg, rows[i].fqdn));
		}
	}
}

static void test_zones_check(void **state)
{
	static const struct {
		const char *list;
		int want;
	} rows[] = {
	    {"example.com", 0},		{"example.com,example.org.", 0},
	    {"a.com, b.org", 0},	{"_x.example.com", 0},
	    {"", -EINVAL},		{",", -EINVAL},
	    {"example.com/24", -EINVAL}, {"exa mple", -EINVAL},
	    {"a.com;b.com", -EINVAL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("list '%s'\n", rows[i].list);
		assert_int_equal(solver_zones_check(rows[i].list),
				 rows[i].want);
	}
}

static void test_outside(void **state)
{
	char msg[1024];

	(void)state;
	assert_int_equal(solver_zone_outside("www.example.test",
					     "_acme-challenge.www.example.test.",
					     "example.test.", msg, sizeof(msg)),
			 0);
	/* A CNAME into another zone. */
	assert_int_equal(solver_zone_outside("www.example.test",
					     "_acme-challenge.t.other.test.",
					     "example.test.", msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "followed a CNAME from "
				    "_acme-challenge.www.example.test. to "
				    "_acme-challenge.t.other.test."));
	assert_non_null(strstr(msg, "not inside request.resolvedZone "
				    "example.test."));
	/* A wildcard order: the name is the base name's. */
	assert_int_equal(solver_zone_outside("*.example.test",
					     "_acme-challenge.t.other.test.",
					     "example.test.", msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "from _acme-challenge.example.test. to"));
	/* No CNAME: the names agree, only the zone is wrong. */
	assert_int_equal(solver_zone_outside("a.other.test",
					     "_acme-challenge.a.other.test.",
					     "example.test.", msg, sizeof(msg)),
			 -EINVAL);
	assert_null(strstr(msg, "CNAME"));
	assert_non_null(strstr(msg, "config.zone"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_in_zone),
	    cmocka_unit_test(test_allowed),
	    cmocka_unit_test(test_zones_check),
	    cmocka_unit_test(test_outside),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
