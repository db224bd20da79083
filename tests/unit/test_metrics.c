/*
 * test_metrics.c - the metrics registry from tables: events in, the exact
 * exposition lines out (text format 0.0.4), histogram bucket edges and
 * sums, label escaping, the cap on label sets (per namespace too) and
 * their expiry, numbers a server chooses mapped to "other", exact counts
 * under concurrent writers, and the --metrics-bind-address syntax.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "server/auth.h"
#include "server/metrics.h"

#define P METRICS_PREFIX

static char *render(void)
{
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(metrics_render(&text, &len), 0);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_true(len > 0 && text[len - 1] == '\n');
	return text;
}

/* @line must be one whole line of @text. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static void assert_line(const char *text, const char *line)
{
	if (!has_line(text, line))
		fail_msg("missing line: %s\n--- in:\n%s", line, text);
}

/* One recorded event and lines that must then be in the exposition. */
struct event_case {
	const char *name;
	void (*record)(void);
	const char *lines[4];
};

static void rec_present_ok(void)
{
	metrics_request(METRICS_PRESENT, METRICS_SUCCESS, 1500);
}
static void rec_cleanup_fail(void)
{
	metrics_request(METRICS_CLEANUP, METRICS_FAILURE, 2000000);
}
static void rec_rejected(void)
{
	metrics_request(METRICS_ACTION_UNKNOWN, METRICS_REJECTED, 10);
}
static void rec_dns_ok(void)
{
	metrics_dns_update("10.0.0.53:53", 0, 0, 800);
}
static void rec_dns_badsig(void)
{
	metrics_dns_update("ns1.example.com:53", 9, 16, 800);
}
static void rec_dns_timeout(void)
{
	metrics_dns_update("[2001:db8::1]:53", -1, -1, 5000000);
}
static void rec_dns_odd(void)
{
	metrics_dns_update("odd\"name\\with\nnewline", 23, 99, 1);
}
static void rec_k8s_ok(void)
{
	metrics_k8s_call("get_secret", 200, 3000);
}
static void rec_k8s_404(void)
{
	metrics_k8s_call("get_secret", 404, 3000);
}
static void rec_k8s_none(void)
{
	metrics_k8s_call("create_subjectaccessreview", 0, 10000000);
}
static void rec_k8s_unknown_call(void)
{
	metrics_k8s_call("delete_everything", 500, 1);
}
static void rec_authn(void)
{
	metrics_authn_denial(AUTH_ENOCERT);
}
static void rec_authn_other(void)
{
	metrics_authn_denial(-ENOMEM);
}
static void rec_authz(void)
{
	metrics_authz_denial(false);
	metrics_authz_denial(true);
	metrics_authz_denial(true);
}
static void rec_tls(void)
{
	metrics_tls_reload(true);
	metrics_tls_reload(false);
	metrics_cert_expiry(1893456000);
}

static void rec_verify(void)
{
	metrics_verify(METRICS_VERIFY_SERVED, 400);
	metrics_verify(METRICS_VERIFY_NOT_SERVED, 2000000);
	metrics_verify((enum metrics_verify)42, 1); /* out of range: error */
}
static void rec_zones(void)
{
	metrics_zone_discovery(true);
	metrics_zone_discovery(false);
	metrics_zone_discovery(false);
	metrics_zone_refusal();
}

static const struct event_case event_cases[] = {
    {"nothing",
     NULL,
     {P "requests_total{action=\"Present\",result=\"success\"} 0",
      P "tls_certificate_expiry_timestamp_seconds 0",
      P "authorization_denials_total{reason=\"denied\"} 0",
      "# TYPE " P "dns_updates_total counter"}},
    {"present ok",
     rec_present_ok,
     {P "requests_total{action=\"Present\",result=\"success\"} 1",
      P "request_duration_seconds_bucket{action=\"Present\",le=\"0.001\"} 0",
      P "request_duration_seconds_bucket{action=\"Present\",le=\"0.0025\"} 1",
      P "request_duration_seconds_sum{action=\"Present\"} 0.001500"}},
    {"cleanup failure",
     rec_cleanup_fail,
     {P "requests_total{action=\"CleanUp\",result=\"failure\"} 1",
      P "request_duration_seconds_bucket{action=\"CleanUp\",le=\"1\"} 0",
      P "request_duration_seconds_bucket{action=\"CleanUp\",le=\"2.5\"} 1",
      P "request_duration_seconds_count{action=\"CleanUp\"} 1"}},
    {"rejected",
     rec_rejected,
     {P "requests_total{action=\"unknown\",result=\"rejected\"} 1",
      P "request_duration_seconds_bucket{action=\"unknown\",le=\"0.001\"} "
	"1"}},
    {"dns ok",
     rec_dns_ok,
     {P "dns_updates_total{server=\"10.0.0.53:53\",rcode=\"NOERROR\","
	"tsig_error=\"NOERROR\"} 1",
      P "dns_exchange_duration_seconds_bucket{le=\"0.001\"} 1",
      P "dns_exchange_duration_seconds_sum 0.000800",
      P "dns_exchange_duration_seconds_count 1"}},
    {"dns badsig",
     rec_dns_badsig,
     {P "dns_updates_total{server=\"ns1.example.com:53\",rcode=\"NOTAUTH\","
	"tsig_error=\"BADSIG\"} 1"}},
    {"dns timeout",
     rec_dns_timeout,
     {P "dns_updates_total{server=\"[2001:db8::1]:53\",rcode=\"none\","
	"tsig_error=\"none\"} 1",
      P "dns_exchange_duration_seconds_bucket{le=\"2.5\"} 0",
      P "dns_exchange_duration_seconds_bucket{le=\"5\"} 1"}},
    {"dns escapes and numbers",
     rec_dns_odd,
     {P "dns_updates_total{server=\"odd\\\"name\\\\with\\nnewline\","
	"rcode=\"BADCOOKIE\",tsig_error=\"other\"} 1"}},
    {"k8s ok: no error",
     rec_k8s_ok,
     {P "kubernetes_request_duration_seconds_count{call=\"get_secret\"} 1",
      P "kubernetes_request_duration_seconds_bucket{call=\"get_secret\","
	"le=\"0.0025\"} 0",
      P "kubernetes_request_duration_seconds_bucket{call=\"get_secret\","
	"le=\"0.005\"} 1"}},
    {"k8s 404",
     rec_k8s_404,
     {P "kubernetes_request_errors_total{call=\"get_secret\",status=\"404\"} "
	"1"}},
    {"k8s no answer",
     rec_k8s_none,
     {P "kubernetes_request_errors_total{call=\"create_subjectaccessreview\","
	"status=\"none\"} 1",
      P "kubernetes_request_duration_seconds_bucket{call=\"create_"
	"subjectaccessreview\",le=\"10\"} 1"}},
    {"k8s unknown call",
     rec_k8s_unknown_call,
     {P "kubernetes_request_errors_total{call=\"other\",status=\"500\"} 1",
      P "kubernetes_request_duration_seconds_count{call=\"other\"} 1"}},
    {"authn",
     rec_authn,
     {P "authentication_denials_total{reason=\"no_certificate\"} 1",
      P "authentication_denials_total{reason=\"other\"} 0"}},
    {"authn other",
     rec_authn_other,
     {P "authentication_denials_total{reason=\"other\"} 1"}},
    {"authz",
     rec_authz,
     {P "authorization_denials_total{reason=\"denied\"} 1",
      P "authorization_denials_total{reason=\"review_failed\"} 2"}},
    {"verify",
     rec_verify,
     {P "verifications_total{result=\"served\"} 1",
      P "verifications_total{result=\"not_served\"} 1",
      P "verifications_total{result=\"error\"} 1",
      P "verification_duration_seconds_count 3"}},
    {"zones",
     rec_zones,
     {P "zone_discoveries_total{result=\"found\"} 1",
      P "zone_discoveries_total{result=\"failed\"} 2",
      P "allowed_zones_refusals_total 1"}},
    {"tls",
     rec_tls,
     {P "tls_certificate_reloads_total{result=\"success\"} 1",
      P "tls_certificate_reloads_total{result=\"failure\"} 1",
      P "tls_certificate_expiry_timestamp_seconds 1893456000"}},
};

static void test_events(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(event_cases) / sizeof(event_cases[0]);
	     i++) {
		const struct event_case *c = &event_cases[i];

		metrics_reset();
		if (c->record != NULL)
			c->record();
		char *text = render();
		for (size_t j = 0; j < 4 && c->lines[j] != NULL; j++) {
			if (!has_line(text, c->lines[j]))
				fail_msg("%s: missing line: %s\n%s", c->name,
					 c->lines[j], text);
		}
		free(text);
	}
}

/* Every family has HELP then TYPE, and each sample follows its TYPE. */
static void test_families(void **state)
{
	static const char *const families[][2] = {
	    {"build_info", "gauge"},
	    {"requests_total", "counter"},
	    {"request_duration_seconds", "histogram"},
	    {"dns_updates_total", "counter"},
	    {"dns_exchange_duration_seconds", "histogram"},
	    {"kubernetes_request_duration_seconds", "histogram"},
	    {"kubernetes_request_errors_total", "counter"},
	    {"authentication_denials_total", "counter"},
	    {"authorization_denials_total", "counter"},
	    {"tls_certificate_reloads_total", "counter"},
	    {"tls_certificate_expiry_timestamp_seconds", "gauge"},
	    {"verifications_total", "counter"},
	    {"verification_duration_seconds", "histogram"},
	    {"zone_discoveries_total", "counter"},
	    {"allowed_zones_refusals_total", "counter"},
	};
	char line[256];

	(void)state;
	metrics_reset();
	char *text = render();
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		snprintf(line, sizeof(line), "# TYPE " P "%s %s",
			 families[i][0], families[i][1]);
		assert_line(text, line);
		snprintf(line, sizeof(line), "# HELP " P "%s ", families[i][0]);
		char *help = strstr(text, line);
		assert_non_null(help);
		/* HELP comes right before TYPE. */
		char *nl = strchr(help, '\n');
		assert_non_null(nl);
		snprintf(line, sizeof(line), "# TYPE " P "%s ", families[i][0]);
		assert_memory_equal(nl + 1, line, strlen(line));
	}
	snprintf(line, sizeof(line), P "build_info{version=\"%s\"} 1", VERSION);
	assert_line(text, line);
	/* Zero series of the fixed label sets are there from the start. */
	assert_line(text, P
		    "requests_total{action=\"unknown\",result=\"rejected\"} 0");
	assert_line(text,
		    P "request_duration_seconds_bucket{action=\"CleanUp\","
		      "le=\"+Inf\"} 0");
	free(text);
}

/* Bucket edges are inclusive upper bounds ("le"). */
static void test_bucket_edges(void **state)
{
	static const struct {
		uint64_t usec;
		const char *le;	   /* the first bucket that counts it */
		const char *below; /* the bucket before, which must not */
	} rows[] = {
	    {0, "0.001", NULL},	       {1000, "0.001", NULL},
	    {1001, "0.0025", "0.001"}, {100000, "0.1", "0.05"},
	    {30000000, "30", "10"},    {30000001, "+Inf", "30"},
	};
	char line[256];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		metrics_reset();
		metrics_dns_update("x:53", 0, -1, rows[i].usec);
		char *text = render();
		snprintf(line, sizeof(line),
			 P "dns_exchange_duration_seconds_bucket{le=\"%s\"} 1",
			 rows[i].le);
		assert_line(text, line);
		if (rows[i].below != NULL) {
			snprintf(line, sizeof(line),
				 P "dns_exchange_duration_seconds_bucket{le="
				   "\"%s\"} 0",
				 rows[i].below);
			assert_line(text, line);
		}
		snprintf(line, sizeof(line),
			 P "dns_exchange_duration_seconds_sum %llu.%06llu",
			 (unsigned long long)(rows[i].usec / 1000000),
			 (unsigned long long)(rows[i].usec % 1000000));
		assert_line(text, line);
		free(text);
	}
}

/* More label sets than kept: the rest counts as "other". */
static void test_labelset_cap(void **state)
{
	char server[32], line[256];

	(void)state;
	metrics_reset();
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < METRICS_LABELSETS_MAX + 3; i++) {
			snprintf(server, sizeof(server), "10.0.0.%d:53", i);
			metrics_dns_update(server, 0, 0, 1);
		}
	char *text = render();
	for (int i = 0; i < METRICS_LABELSETS_MAX; i++) {
		snprintf(line, sizeof(line),
			 P "dns_updates_total{server=\"10.0.0.%d:53\","
			   "rcode=\"NOERROR\",tsig_error=\"NOERROR\"} 2",
			 i);
		assert_line(text, line);
	}
	snprintf(line, sizeof(line), "10.0.0.%d:53", METRICS_LABELSETS_MAX);
	assert_null(strstr(text, line));
	assert_line(text,
		    P "dns_updates_total{server=\"other\",rcode=\"other\","
		      "tsig_error=\"other\"} 6");
	free(text);
}

/*
 * One namespace makes at most METRICS_LABELSETS_PER_TENANT label sets,
 * with any RCODE or TSIG error its server forges; another namespace still
 * gets its own; the flood's sets expire once unused for the TTL.
 */
static void test_labelset_tenant_cap_and_expiry(void **state)
{
	char server[32], line[256];

	(void)state;
	metrics_reset();
	metrics_label_ttl_set(200);
	metrics_tenant_set("attacker");
	for (int i = 0; i < 3 * METRICS_LABELSETS_MAX; i++) {
		snprintf(server, sizeof(server), "10.9.%d.1:53", i);
		/* rcode 28160 and tsig 99: no such codes, "other". */
		metrics_dns_update(server, i % 2 ? 28160 : 5, 99, 1);
	}
	metrics_tenant_set("victim");
	metrics_dns_update("ns.victim.example:53", 0, 0, 1);
	metrics_tenant_set(NULL);
	char *text = render();
	assert_line(text, P "dns_updates_total{server=\"ns.victim.example:53\","
			    "rcode=\"NOERROR\",tsig_error=\"NOERROR\"} 1");
	assert_null(strstr(text, "28160"));
	assert_null(strstr(text, "\"99\""));
	int flood = 0;
	for (const char *p = text; (p = strstr(p, "server=\"10.9.")) != NULL;
	     p++)
		flood++;
	assert_int_equal(flood, METRICS_LABELSETS_PER_TENANT);
	snprintf(line, sizeof(line),
		 P "dns_updates_total{server=\"other\",rcode=\"other\","
		   "tsig_error=\"other\"} %d",
		 3 * METRICS_LABELSETS_MAX - METRICS_LABELSETS_PER_TENANT);
	assert_line(text, line);
	free(text);

	/* Unused past the TTL: gone from the exposition. */
	struct timespec wait = {0, 300 * 1000 * 1000};
	nanosleep(&wait, NULL);
	text = render();
	assert_null(strstr(text, "server=\"10.9."));
	assert_null(strstr(text, "ns.victim.example"));
	free(text);
	metrics_label_ttl_set(0);
}

#define THREADS	   4
#define PER_THREAD 50000

static void *writer_main(void *arg)
{
	char server[32];

	snprintf(server, sizeof(server), "10.1.0.%d:53", (int)(intptr_t)arg);
	for (int i = 0; i < PER_THREAD; i++) {
		metrics_request(METRICS_PRESENT, METRICS_SUCCESS, 1);
		/* Two threads share a label set, all race to make theirs. */
		metrics_dns_update(i % 2 ? server : "shared:53", 0, 0, 1);
	}
	return NULL;
}

/* Lock-free adds lose nothing; a label set is made once. */
static void test_concurrent_counts(void **state)
{
	pthread_t t[THREADS];
	char line[256];

	(void)state;
	metrics_reset();
	for (intptr_t i = 0; i < THREADS; i++)
		assert_int_equal(
		    pthread_create(&t[i], NULL, writer_main, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	char *text = render();
	snprintf(line, sizeof(line),
		 P "requests_total{action=\"Present\",result=\"success\"} %d",
		 THREADS * PER_THREAD);
	assert_line(text, line);
	snprintf(line, sizeof(line),
		 P "request_duration_seconds_count{action=\"Present\"} %d",
		 THREADS * PER_THREAD);
	assert_line(text, line);
	snprintf(line, sizeof(line),
		 P "dns_updates_total{server=\"shared:53\",rcode=\"NOERROR\","
		   "tsig_error=\"NOERROR\"} %d",
		 THREADS * PER_THREAD / 2);
	assert_line(text, line);
	/* Exactly one series per label set. */
	const char *p = text;
	int shared = 0;
	while ((p = strstr(p, "server=\"shared:53\"")) != NULL) {
		shared++;
		p++;
	}
	assert_int_equal(shared, 1);
	free(text);
}

static void test_address_check(void **state)
{
	static const struct {
		const char *text;
		int ret;
		bool off;
	} rows[] = {
	    {"0.0.0.0:9402", 0, false},
	    {"127.0.0.1:0", 0, false},
	    {":9402", 0, false},
	    {"[::]:9402", 0, false},
	    {"[::1]:65535", 0, false},
	    {"0", 0, true},
	    {"9402", -EINVAL, false},
	    {"localhost:9402", -EINVAL, false},
	    {"::1:9402", -EINVAL, false},
	    {"127.0.0.1:65536", -EINVAL, false},
	    {"127.0.0.1:-1", -EINVAL, false},
	    {"127.0.0.1:", -EINVAL, false},
	    {"127.0.0.1: 80", -EINVAL, false},
	    {"[::1]:x", -EINVAL, false},
	    {"", -EINVAL, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		bool off = !rows[i].off;
		int ret = metrics_address_check(rows[i].text, &off);
		if (ret != rows[i].ret || off != rows[i].off)
			fail_msg("'%s': got %d off=%d", rows[i].text, ret, off);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_events),
	    cmocka_unit_test(test_families),
	    cmocka_unit_test(test_bucket_edges),
	    cmocka_unit_test(test_labelset_cap),
	    cmocka_unit_test(test_labelset_tenant_cap_and_expiry),
	    cmocka_unit_test(test_concurrent_counts),
	    cmocka_unit_test(test_address_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
