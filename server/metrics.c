/*
 * metrics.c - the registry and its exposition (see metrics.h); the server
 * that serves it is metrics_http.c.
 *
 * Every fixed-label value is an _Atomic uint64_t updated with relaxed
 * fetch-adds: a scrape may see one metric a moment ahead of another,
 * which the Prometheus data model allows, and recording stays lock-free.
 * A histogram keeps per-bucket counts (made cumulative when rendered) and
 * its sum in microseconds, so that adding is an integer fetch-add.
 *
 * Free-form label sets (the nameserver, whose name a tenant chooses) are
 * a bounded table under one lock per family: at most
 * METRICS_LABELSETS_PER_TENANT of them made while serving one namespace,
 * so one tenant cannot fill it; a set not counted for the label TTL is
 * dropped (its series ends) when room is needed and at each scrape.
 * Those are counted at most a few times per solver call, so the lock costs
 * nothing worth avoiding.
 *
 * Text format 0.0.4:
 * https://prometheus.io/docs/instrumenting/exposition_formats/ (HELP and TYPE
 * before each family, label values escaped: \\ \" \n).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/auth.h"
#include "server/metrics.h"
#include "util/clock.h"

#ifndef VERSION
#define VERSION "dev"
#endif

/* Upper bounds of the latency buckets, microseconds and as "le" text. */
static const uint64_t bucket_usec[] = {
    1000,   2500,   5000,    10000,   25000,   50000,	 100000,
    250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000,
};
static const char *const bucket_le[] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25",  "0.5",    "1",	"2.5",	"5",	 "10",	 "30",
};
#define NBUCKETS (sizeof(bucket_usec) / sizeof(bucket_usec[0]))

struct histogram {
	_Atomic uint64_t buckets[NBUCKETS + 1]; /* the last one: +Inf */
	_Atomic uint64_t sum_usec;
};

/* Label values of at most this many bytes are kept; longer ones are cut. */
#define LABEL_VALUE_MAX 128

/*
 * A counter with free-form labels, all under the family's lock.  The
 * overflow set ("other" everywhere) takes what finds no room.
 */
struct labelset {
	char key[3 * LABEL_VALUE_MAX]; /* values joined by '\n', to compare */
	char labels[4 * LABEL_VALUE_MAX + 64]; /* rendered: a="x",b="y" */
	uint64_t value;
	uint64_t used_ms; /* monotonic ms of its last count */
	char tenant[64];  /* namespace it was made for, or "" */
};

struct family {
	pthread_mutex_t lock;
	size_t n;
	struct labelset sets[METRICS_LABELSETS_MAX];
	struct labelset overflow;
	const char *const *names; /* label names, NULL-terminated */
};

/* The namespace whose solver call the calling thread serves, or NULL. */
static _Thread_local const char *tenant;
/* How long an unused label set is kept, ms. */
static _Atomic uint64_t label_ttl_ms = METRICS_LABEL_TTL_MS;

static const char *const action_names[METRICS_NACTIONS] = {"Present", "CleanUp",
							   "unknown"};
static const char *const result_names[METRICS_NRESULTS] = {"success", "failure",
							   "rejected"};

/* Kubernetes API calls by kind (k8s_call_info.call). */
static const char *const call_names[] = {"get_secret", "get_configmap",
					 "create_subjectaccessreview", "other"};
#define NCALLS (sizeof(call_names) / sizeof(call_names[0]))

/* Authentication denials by reason, from the AUTH_E* codes. */
static const char *const authn_reasons[] = {
    "no_ca",	       "no_certificate",   "bad_certificate", "untrusted",
    "not_client_auth", "name_not_allowed", "no_user",	      "other",
};
#define NAUTHN (sizeof(authn_reasons) / sizeof(authn_reasons[0]))
_Static_assert(
    NAUTHN == AUTH_ELAST - AUTH_ENOCA + 1,
    "every AUTH_E* code needs a reason, and \"other\" ends the table");

static const char *const authz_reasons[] = {"denied", "review_failed"};

static const char *const drop_reasons[METRICS_NDROPS] = {"deadline",
							 "client_gone"};

/* tls_reloads[] and discoveries[], in that order. */
static const char *const reload_results[2] = {"success", "failure"};
static const char *const discovery_results[2] = {"found", "failed"};

static const char *const dns_labels[] = {"server", "rcode", "tsig_error", NULL};
static const char *const k8s_error_labels[] = {"call", "status", NULL};

static struct {
	_Atomic uint64_t requests[METRICS_NACTIONS][METRICS_NRESULTS];
	struct histogram request_seconds[METRICS_NACTIONS];
	struct family dns_updates;
	struct histogram dns_seconds;
	struct histogram k8s_seconds[NCALLS];
	struct family k8s_errors;
	_Atomic uint64_t authn_denials[NAUTHN];
	_Atomic uint64_t authz_denials[2];
	_Atomic uint64_t drops[METRICS_NDROPS];
	_Atomic uint64_t throttled;
	_Atomic uint64_t tls_reloads[2]; /* success, failure */
	_Atomic int64_t cert_expiry;
	_Atomic uint64_t verifications[METRICS_NVERIFY];
	struct histogram verify_seconds;
	_Atomic uint64_t discoveries[2]; /* found, failed */
	_Atomic uint64_t zone_refusals;
} reg = {
    .dns_updates = {.lock = PTHREAD_MUTEX_INITIALIZER, .names = dns_labels},
    .k8s_errors = {.lock = PTHREAD_MUTEX_INITIALIZER,
		   .names = k8s_error_labels},
};

static void add(_Atomic uint64_t *v, uint64_t n)
{
	atomic_fetch_add_explicit(v, n, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void histogram_observe(struct histogram *h, uint64_t usec)
{
	size_t i = 0;

	while (i < NBUCKETS && usec > bucket_usec[i])
		i++;
	add(&h->buckets[i], 1);
	add(&h->sum_usec, usec);
}

/* Append @v to @out escaped as a label value (backslash, quote, newline). */
static size_t label_escape(char *out, size_t outlen, const char *v)
{
	size_t n = 0;

	for (size_t i = 0; v[i] != '\0' && i < LABEL_VALUE_MAX; i++) {
		const char *esc = v[i] == '\\'	 ? "\\\\"
				  : v[i] == '"'	 ? "\\\""
				  : v[i] == '\n' ? "\\n"
						 : NULL;
		size_t len = esc != NULL ? 2 : 1;

		if (n + len >= outlen)
			break;
		memcpy(out + n, esc != NULL ? esc : v + i, len);
		n += len;
	}
	out[n] = '\0';
	return n;
}

/* Render names[i]="values[i]",... into @ls. */
static void labelset_fill(struct labelset *ls, const char *const *names,
			  const char *const *values)
{
	size_t k = 0, l = 0;

	for (size_t i = 0; names[i] != NULL; i++) {
		k += (size_t)snprintf(ls->key + k, sizeof(ls->key) - k,
				      "%s%.*s", i > 0 ? "\n" : "",
				      LABEL_VALUE_MAX, values[i]);
		if (k >= sizeof(ls->key))
			k = sizeof(ls->key) - 1;
		l += (size_t)snprintf(ls->labels + l, sizeof(ls->labels) - l,
				      "%s%s=\"", i > 0 ? "," : "", names[i]);
		if (l >= sizeof(ls->labels))
			l = sizeof(ls->labels) - 1;
		l += label_escape(ls->labels + l, sizeof(ls->labels) - l - 1,
				  values[i]);
		ls->labels[l++] = '"';
		ls->labels[l] = '\0';
	}
}

static struct labelset *family_find(struct family *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->sets[i].key, key) == 0)
			return &f->sets[i];
	return NULL;
}

/* Drop the label sets not counted for the TTL; the caller locks. */
static void family_expire(struct family *f, uint64_t now)
{
	uint64_t ttl = atomic_load(&label_ttl_ms);
	size_t kept = 0;

	for (size_t i = 0; i < f->n; i++) {
		if (f->sets[i].used_ms + ttl <= now)
			continue;
		if (kept != i)
			f->sets[kept] = f->sets[i];
		kept++;
	}
	f->n = kept;
}

/* How many label sets were made for namespace @ns; the caller locks. */
static size_t family_tenant_sets(const struct family *f, const char *ns)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		n += strcmp(f->sets[i].tenant, ns) == 0;
	return n;
}

/*
 * Count @n under the label set of @values, made on first sight; "other"
 * when the table, or the calling thread's namespace's part of it, is full.
 */
static void family_add(struct family *f, const char *const *values, uint64_t n)
{
	struct labelset probe;
	struct labelset *ls;
	const char *ns = tenant != NULL ? tenant : "";
	uint64_t now = util_now_ms();

	labelset_fill(&probe, f->names, values);
	pthread_mutex_lock(&f->lock);
	ls = family_find(f, probe.key);
	if (ls == NULL) {
		if (f->n >= METRICS_LABELSETS_MAX)
			family_expire(f, now);
		/* Outside a namespace's call (no tenant) only the table's
		 * size bounds it: the operator's own configuration. */
		if (f->n < METRICS_LABELSETS_MAX &&
		    (ns[0] == '\0' || family_tenant_sets(f, ns) <
					  METRICS_LABELSETS_PER_TENANT)) {
			ls = &f->sets[f->n++];
			memcpy(ls->key, probe.key, sizeof(ls->key));
			memcpy(ls->labels, probe.labels, sizeof(ls->labels));
			snprintf(ls->tenant, sizeof(ls->tenant), "%s", ns);
			ls->value = 0;
		} else {
			ls = &f->overflow;
		}
	}
	ls->value += n;
	ls->used_ms = now;
	pthread_mutex_unlock(&f->lock);
}

static void family_reset(struct family *f)
{
	const char *other[4] = {"other", "other", "other", "other"};

	pthread_mutex_lock(&f->lock);
	f->n = 0;
	labelset_fill(&f->overflow, f->names, other);
	f->overflow.value = 0;
	pthread_mutex_unlock(&f->lock);
}

void metrics_tenant_set(const char *ns)
{
	tenant = ns;
}

void metrics_label_ttl_set(unsigned ms)
{
	atomic_store(&label_ttl_ms, ms > 0 ? ms : METRICS_LABEL_TTL_MS);
}

void metrics_request(enum metrics_action action, enum metrics_result result,
		     uint64_t usec)
{
	if ((unsigned)action >= METRICS_NACTIONS)
		action = METRICS_ACTION_UNKNOWN;
	if ((unsigned)result >= METRICS_NRESULTS)
		result = METRICS_FAILURE;
	add(&reg.requests[action][result], 1);
	histogram_observe(&reg.request_seconds[action], usec);
}

/*
 * RCODE and TSIG error mnemonics (RFC 6895 2.3).  Any other value is
 * "other": the answering server (a tenant may run it) chooses the number,
 * and each distinct one would be a label set of its own.
 */
static const char *rcode_text(int rcode)
{
	static const char *const names[] = {
	    "NOERROR", "FORMERR",  "SERVFAIL", "NXDOMAIN", "NOTIMP",
	    "REFUSED", "YXDOMAIN", "YXRRSET",  "NXRRSET",  "NOTAUTH",
	    "NOTZONE", NULL,	   NULL,       NULL,	   NULL,
	    NULL,      "BADSIG",   "BADKEY",   "BADTIME",  "BADMODE",
	    "BADNAME", "BADALG",   "BADTRUNC", "BADCOOKIE"};

	if (rcode < 0)
		return "none";
	if ((size_t)rcode < sizeof(names) / sizeof(names[0]) &&
	    names[rcode] != NULL)
		return names[rcode];
	return "other";
}

void metrics_dns_update(const char *server, int rcode, int tsig_error,
			uint64_t usec)
{
	const char *values[3] = {
	    server != NULL ? server : "",
	    rcode_text(rcode),
	    rcode_text(tsig_error),
	};

	family_add(&reg.dns_updates, values, 1);
	histogram_observe(&reg.dns_seconds, usec);
}

void metrics_k8s_call(const char *call, long status, uint64_t usec)
{
	size_t i = 0;
	char sbuf[16];

	while (i < NCALLS - 1 && (call == NULL || strcmp(call, call_names[i])))
		i++;
	histogram_observe(&reg.k8s_seconds[i], usec);
	if (status >= 200 && status < 300)
		return;
	/* An HTTP status is three digits; anything else is not one. */
	if (status >= 100 && status < 600)
		snprintf(sbuf, sizeof(sbuf), "%ld", status);
	else
		snprintf(sbuf, sizeof(sbuf), "none");
	const char *values[2] = {call_names[i], sbuf};
	family_add(&reg.k8s_errors, values, 1);
}

void metrics_verify(enum metrics_verify result, uint64_t usec)
{
	if ((unsigned)result >= METRICS_NVERIFY)
		result = METRICS_VERIFY_ERROR;
	add(&reg.verifications[result], 1);
	histogram_observe(&reg.verify_seconds, usec);
}

void metrics_zone_discovery(bool found)
{
	add(&reg.discoveries[found ? 0 : 1], 1);
}

void metrics_zone_refusal(void)
{
	add(&reg.zone_refusals, 1);
}

void metrics_authn_denial(int code)
{
	size_t i = NAUTHN - 1;

	if (code >= AUTH_ENOCA && code < AUTH_ELAST &&
	    (size_t)(code - AUTH_ENOCA) < NAUTHN - 1)
		i = (size_t)(code - AUTH_ENOCA);
	add(&reg.authn_denials[i], 1);
}

void metrics_authz_denial(bool error)
{
	add(&reg.authz_denials[error ? 1 : 0], 1);
}

void metrics_connection_dropped(enum metrics_drop why)
{
	if ((unsigned)why < METRICS_NDROPS)
		add(&reg.drops[why], 1);
}

void metrics_namespace_throttled(void)
{
	add(&reg.throttled, 1);
}

void metrics_tls_reload(bool ok)
{
	add(&reg.tls_reloads[ok ? 0 : 1], 1);
}

void metrics_cert_expiry(time_t not_after)
{
	atomic_store_explicit(&reg.cert_expiry, (int64_t)not_after,
			      memory_order_relaxed);
}

static void zero(_Atomic uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		atomic_store(&v[i], 0);
}

static void histogram_reset(struct histogram *h)
{
	zero(h->buckets, NBUCKETS + 1);
	atomic_store(&h->sum_usec, 0);
}

void metrics_reset(void)
{
	for (size_t a = 0; a < METRICS_NACTIONS; a++) {
		zero(reg.requests[a], METRICS_NRESULTS);
		histogram_reset(&reg.request_seconds[a]);
	}
	family_reset(&reg.dns_updates);
	histogram_reset(&reg.dns_seconds);
	for (size_t i = 0; i < NCALLS; i++)
		histogram_reset(&reg.k8s_seconds[i]);
	family_reset(&reg.k8s_errors);
	zero(reg.authn_denials, NAUTHN);
	zero(reg.authz_denials, 2);
	zero(reg.drops, METRICS_NDROPS);
	atomic_store(&reg.throttled, 0);
	zero(reg.tls_reloads, 2);
	atomic_store(&reg.cert_expiry, 0);
	zero(reg.verifications, METRICS_NVERIFY);
	histogram_reset(&reg.verify_seconds);
	zero(reg.discoveries, 2);
	atomic_store(&reg.zone_refusals, 0);
}

/* ---------------------------------------------------------- exposition */

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP " METRICS_PREFIX "%s %s\n", name, help);
	fprintf(f, "# TYPE " METRICS_PREFIX "%s %s\n", name, type);
}

/* @n counters, one series each: name{@label="@values[i]"} @counters[i]. */
static void counters_put(FILE *f, const char *name, const char *label,
			 const char *const *values, _Atomic uint64_t *counters,
			 size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, METRICS_PREFIX "%s{%s=\"%s\"} %llu\n", name, label,
			values[i], (unsigned long long)get(&counters[i]));
}

/* One histogram's series; @labels is "" or 'a="x",' (comma included). */
static void histogram_put(FILE *f, const char *name, const char *labels,
			  struct histogram *h)
{
	uint64_t cum = 0;
	uint64_t sum = get(&h->sum_usec);

	for (size_t i = 0; i <= NBUCKETS; i++) {
		cum += get(&h->buckets[i]);
		fprintf(f, METRICS_PREFIX "%s_bucket{%sle=\"%s\"} %llu\n", name,
			labels, i < NBUCKETS ? bucket_le[i] : "+Inf",
			(unsigned long long)cum);
	}
	/* Drop the trailing comma for _sum and _count. */
	size_t ll = strlen(labels);
	int n = ll > 0 ? (int)ll - 1 : 0;
	fprintf(f, METRICS_PREFIX "%s_sum%s%.*s%s %llu.%06llu\n", name,
		n > 0 ? "{" : "", n, labels, n > 0 ? "}" : "",
		(unsigned long long)(sum / 1000000),
		(unsigned long long)(sum % 1000000));
	fprintf(f, METRICS_PREFIX "%s_count%s%.*s%s %llu\n", name,
		n > 0 ? "{" : "", n, labels, n > 0 ? "}" : "",
		(unsigned long long)cum);
}

static void family_put(FILE *f, const char *name, struct family *fam)
{
	pthread_mutex_lock(&fam->lock);
	family_expire(fam, util_now_ms());
	for (size_t i = 0; i < fam->n; i++)
		fprintf(f, METRICS_PREFIX "%s{%s} %llu\n", name,
			fam->sets[i].labels,
			(unsigned long long)fam->sets[i].value);
	if (fam->overflow.value > 0)
		fprintf(f, METRICS_PREFIX "%s{%s} %llu\n", name,
			fam->overflow.labels,
			(unsigned long long)fam->overflow.value);
	pthread_mutex_unlock(&fam->lock);
}

static pthread_once_t overflow_once = PTHREAD_ONCE_INIT;

static void overflow_init(void)
{
	const char *other[4] = {"other", "other", "other", "other"};

	labelset_fill(&reg.dns_updates.overflow, dns_labels, other);
	labelset_fill(&reg.k8s_errors.overflow, k8s_error_labels, other);
}

/* The webhook's version, and its solver calls by action and result. */
static void render_requests(FILE *f)
{
	char labels[128];

	head(f, "build_info", "gauge",
	     "Always 1; the version of the webhook as a label.");
	fprintf(f, METRICS_PREFIX "build_info{version=\"%s\"} 1\n", VERSION);

	head(f, "requests_total", "counter",
	     "Solver calls (Present/CleanUp) by action and result.");
	for (size_t a = 0; a < METRICS_NACTIONS; a++)
		for (size_t r = 0; r < METRICS_NRESULTS; r++)
			fprintf(f,
				METRICS_PREFIX "requests_total{action=\"%s\","
					       "result=\"%s\"} %llu\n",
				action_names[a], result_names[r],
				(unsigned long long)get(&reg.requests[a][r]));

	head(f, "request_duration_seconds", "histogram",
	     "Duration of whole solver calls, by action.");
	for (size_t a = 0; a < METRICS_NACTIONS; a++) {
		snprintf(labels, sizeof(labels), "action=\"%s\",",
			 action_names[a]);
		histogram_put(f, "request_duration_seconds", labels,
			      &reg.request_seconds[a]);
	}
}

/* The exchanges with nameservers and with the Kubernetes API. */
static void render_upstreams(FILE *f)
{
	char labels[128];

	head(f, "dns_updates_total", "counter",
	     "DNS UPDATE exchanges by nameserver (as configured), RCODE and "
	     "TSIG error of the answer (none: no answer, or no TSIG; other: "
	     "a code outside the registered ones, or, for every label, a "
	     "label set beyond the table or its namespace's part of it).");
	family_put(f, "dns_updates_total", &reg.dns_updates);

	head(f, "dns_exchange_duration_seconds", "histogram",
	     "Duration of DNS UPDATE exchanges (one attempt at one server).");
	histogram_put(f, "dns_exchange_duration_seconds", "", &reg.dns_seconds);

	head(f, "kubernetes_request_duration_seconds", "histogram",
	     "Duration of Kubernetes API calls, by call.");
	for (size_t i = 0; i < NCALLS; i++) {
		snprintf(labels, sizeof(labels), "call=\"%s\",", call_names[i]);
		histogram_put(f, "kubernetes_request_duration_seconds", labels,
			      &reg.k8s_seconds[i]);
	}

	head(f, "kubernetes_request_errors_total", "counter",
	     "Kubernetes API calls that did not succeed, by call and HTTP "
	     "status (none: no answer).");
	family_put(f, "kubernetes_request_errors_total", &reg.k8s_errors);
}

/* What the server refused or cut off: denials, drops, throttling. */
static void render_refusals(FILE *f)
{
	head(f, "authentication_denials_total", "counter",
	     "Requests refused as unauthenticated (401), by reason.");
	counters_put(f, "authentication_denials_total", "reason", authn_reasons,
		     reg.authn_denials, NAUTHN);

	head(f, "authorization_denials_total", "counter",
	     "Requests refused by authorization: denied (403) or "
	     "review_failed (500).");
	counters_put(f, "authorization_denials_total", "reason", authz_reasons,
		     reg.authz_denials, 2);

	head(f, "connections_dropped_total", "counter",
	     "Connections closed by the server: deadline (no handshake or "
	     "request in time) or client_gone (the client hung up while its "
	     "request was being served; the request was abandoned).");
	counters_put(f, "connections_dropped_total", "reason", drop_reasons,
		     reg.drops, METRICS_NDROPS);

	head(f, "namespace_throttled_total", "counter",
	     "Solver calls answered at once with a failure because their "
	     "namespace had its share of the workers busy and as many "
	     "calls waiting.");
	fprintf(f, METRICS_PREFIX "namespace_throttled_total %llu\n",
		(unsigned long long)get(&reg.throttled));
}

/* The serving certificate: its reloads and its expiry. */
static void render_tls(FILE *f)
{
	head(f, "tls_certificate_reloads_total", "counter",
	     "Serving certificate reloads, by result.");
	counters_put(f, "tls_certificate_reloads_total", "result",
		     reload_results, reg.tls_reloads, 2);

	head(f, "tls_certificate_expiry_timestamp_seconds", "gauge",
	     "Expiry time (notAfter) of the serving certificate in use, "
	     "seconds since the epoch.");
	fprintf(
	    f, METRICS_PREFIX "tls_certificate_expiry_timestamp_seconds %lld\n",
	    (long long)atomic_load(&reg.cert_expiry));
}

/* The checks after a write, zone discovery and --allowed-zones. */
static void render_zones(FILE *f)
{
	static const char *const verify_results[METRICS_NVERIFY] = {
	    "served", "not_served", "error"};

	head(f, "verifications_total", "counter",
	     "Checks after a write that the server serves what the update "
	     "said: served, not_served (NOERROR but dropped), error.");
	counters_put(f, "verifications_total", "result", verify_results,
		     reg.verifications, METRICS_NVERIFY);
	head(f, "verification_duration_seconds", "histogram",
	     "Time the checks after a write took, all queries.");
	histogram_put(f, "verification_duration_seconds", "",
		      &reg.verify_seconds);
	head(f, "zone_discoveries_total", "counter",
	     "Zones looked up at the server after NOTAUTH: found or failed.");
	counters_put(f, "zone_discoveries_total", "result", discovery_results,
		     reg.discoveries, 2);
	head(f, "allowed_zones_refusals_total", "counter",
	     "Challenges refused because the name is outside --allowed-zones.");
	fprintf(f, METRICS_PREFIX "allowed_zones_refusals_total %llu\n",
		(unsigned long long)get(&reg.zone_refusals));
}

int metrics_render(char **out, size_t *len)
{
	FILE *f;

	*out = NULL;
	*len = 0;
	pthread_once(&overflow_once, overflow_init);
	f = open_memstream(out, len);
	if (f == NULL)
		return -ENOMEM;
	render_requests(f);
	render_upstreams(f);
	render_refusals(f);
	render_tls(f);
	render_zones(f);
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		*len = 0;
		return -ENOMEM;
	}
	return 0;
}
