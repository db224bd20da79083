/*
 * load.c - the webhook's load client: Present/CleanUp pairs POSTed to the
 * solver path the way kube-apiserver proxies them (HTTPS with the front
 * proxy's client certificate, X-Remote-User/-Group, kept-alive
 * connections), from C threads with one libcurl easy handle (so one
 * connection) each.
 *
 *   load --url https://127.0.0.1:PORT/apis/GROUP/v1alpha1/rfc2136
 *        --cacert CA --cert CRT --key KEY --config JSON
 *        [--zone ZONE] [--namespace NS] [--pairs N] [--concurrency C]
 *        [--prefix P] [--progress CALLS] [--raw FILE] [--expect-failure]
 *   load --wait-ready https://127.0.0.1:PORT/readyz --cacert CA
 *
 * Thread t uses the name _acme-challenge.P-t.ZONE, a key (TXT value)
 * unique per pair, and sends Present then CleanUp of that value.  A call
 * counts as failed unless the answer is 200 (201 for a Present) with
 * response.success true.  Each thread opens its connection before the
 * clock starts (see worker_connect()).  Prints "progress CALLS ERRORS"
 * lines every --progress calls (for the soak to sample the server's memory
 * against calls made) and one JSON result line (stats.h) with
 * "new_connections": connections opened after the clock started, 0 when
 * every connection was kept alive.  --raw FILE: every call's latency too
 * (stats.h).
 *
 * --expect-failure: the driver sends a config the webhook must reject
 * before any I/O (an unknown TSIG algorithm); a call then counts as failed
 * unless the answer is 200 or 201 with response.success false (the
 * solver's errors travel in the body, as cert-manager's webhooks do).  Timed like the
 * real calls, it is the webhook's whole path without the DNS exchange.
 *
 * --wait-ready polls the URL every millisecond until it answers 200 and
 * prints {"ready_ns": CLOCK_MONOTONIC at that moment}; the driver starts
 * the webhook after this client says "polling", and subtracts.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "bench/stats.h"

#define BODY_MAX   8192
#define ANSWER_MAX 65536

struct load {
	const char *url, *cacert, *cert, *key, *config, *zone, *ns, *prefix;
	unsigned long pairs, progress;
	bool expect_failure; /* answers must say response.success false */
	atomic_ulong next;   /* next pair to run */
	atomic_ulong done;   /* calls finished */
	atomic_ulong failed; /* calls failed */
	atomic_ulong connects;
	struct bench_stats st;
	pthread_mutex_t lock; /* stdout and stderr lines */
};

struct answer {
	char buf[ANSWER_MAX];
	size_t len;
};

struct worker {
	struct load *l;
	unsigned id;
	pthread_t thread;
	CURL *h;
	struct curl_slist *headers;
	struct answer ans;
	char body[BODY_MAX];
};

static size_t answer_write(char *data, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t len = size * n;

	if (len > sizeof(a->buf) - 1 - a->len)
		return 0; /* too big: curl fails the call */
	memcpy(a->buf + a->len, data, len);
	a->len += len;
	return len;
}

/* Options every handle shares: TLS with the front proxy's certificate. */
static void handle_setup(CURL *h, const struct load *l, const char *url)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_CAINFO, l->cacert);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (l->cert != NULL) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, l->cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, l->key);
	}
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
}

static void complain(struct load *l, const char *fmt, const char *a,
		     const char *b)
{
	if (atomic_fetch_add(&l->failed, 1) >= 5)
		return;
	pthread_mutex_lock(&l->lock);
	fprintf(stderr, "load: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	pthread_mutex_unlock(&l->lock);
}

/*
 * Did the webhook answer 200 (201 for a Present) with response.success
 * true (false with --expect-failure)?
 */
static void answer_check(struct load *l, struct worker *w, CURLcode rc,
			 const char *action)
{
	long status = 0;
	json_t *root, *resp;
	char what[64];

	if (rc != CURLE_OK) {
		complain(l, "%s: %s", action, curl_easy_strerror(rc));
		return;
	}
	curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &status);
	w->ans.buf[w->ans.len] = '\0';
	if (status != 200 && status != 201) { /* 201: Present created */
		snprintf(what, sizeof(what), "%s: HTTP %ld", action, status);
		complain(l, "%s: %s", what, w->ans.buf);
		return;
	}
	root = json_loadb(w->ans.buf, w->ans.len, 0, NULL);
	resp = json_object_get(root, "response");
	if (l->expect_failure ? !json_is_false(json_object_get(resp, "success"))
			      : !json_is_true(json_object_get(resp, "success")))
		complain(l, "%s: unexpected answer: %s", action, w->ans.buf);
	json_decref(root);
}

static void call(struct load *l, struct worker *w, const char *action,
		 const char *fqdn, const char *value, unsigned long i,
		 unsigned long slot)
{
	size_t flen = strlen(fqdn);
	const char *dns_name = fqdn + strlen("_acme-challenge.");
	int len;
	uint64_t t0;
	long connects = 0;
	CURLcode rc;

	len = snprintf(
	    w->body, sizeof(w->body),
	    "{\"apiVersion\":\"webhook.acme.cert-manager.io/v1alpha1\","
	    "\"kind\":\"ChallengePayload\",\"request\":{"
	    "\"uid\":\"%s-%lu-%c\",\"action\":\"%s\",\"type\":\"dns-01\","
	    "\"dnsName\":\"%.*s\",\"key\":\"%s\","
	    "\"resourceNamespace\":\"%s\",\"resolvedFQDN\":\"%s\","
	    "\"resolvedZone\":\"%s\",\"allowAmbientCredentials\":false,"
	    "\"config\":%s}}",
	    l->prefix, i, action[0], action, (int)(flen - 16 - 1), dns_name,
	    value, l->ns, fqdn, l->zone, l->config);
	if (len < 0 || (size_t)len >= sizeof(w->body)) {
		fprintf(stderr, "load: request body too long\n");
		exit(1);
	}
	curl_easy_setopt(w->h, CURLOPT_POSTFIELDS, w->body);
	curl_easy_setopt(w->h, CURLOPT_POSTFIELDSIZE, (long)len);
	w->ans.len = 0;
	t0 = bench_now_ns();
	rc = curl_easy_perform(w->h);
	l->st.lat[slot] = bench_now_ns() - t0;
	answer_check(l, w, rc, action);
	curl_easy_getinfo(w->h, CURLINFO_NUM_CONNECTS, &connects);
	atomic_fetch_add(&l->connects, (unsigned long)connects);
	if (l->progress != 0) {
		unsigned long d = atomic_fetch_add(&l->done, 1) + 1;

		if (d % l->progress == 0) {
			pthread_mutex_lock(&l->lock);
			printf("progress %lu %lu\n", d,
			       atomic_load(&l->failed));
			fflush(stdout);
			pthread_mutex_unlock(&l->lock);
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct load *l = w->l;
	char fqdn[300], value[64];
	unsigned long i;

	snprintf(fqdn, sizeof(fqdn), "_acme-challenge.%s-%u.%s", l->prefix,
		 w->id, l->zone);
	while ((i = atomic_fetch_add(&l->next, 1)) < l->pairs) {
		/* As long as an ACME key authorization digest. */
		snprintf(value, sizeof(value), "%.16s-%026lu", l->prefix, i);
		call(l, w, "Present", fqdn, value, i, 2 * i);
		call(l, w, "CleanUp", fqdn, value, i, 2 * i + 1);
	}
	return NULL;
}

static int worker_init(struct worker *w, struct load *l, unsigned id)
{
	w->l = l;
	w->id = id;
	w->h = curl_easy_init();
	if (w->h == NULL)
		return -ENOMEM;
	handle_setup(w->h, l, l->url);
	w->headers = curl_slist_append(NULL, "Content-Type: application/json");
	w->headers = curl_slist_append(
	    w->headers,
	    "X-Remote-User: system:serviceaccount:cert-manager:cert-manager");
	w->headers = curl_slist_append(
	    w->headers, "X-Remote-Group: system:serviceaccounts");
	w->headers = curl_slist_append(
	    w->headers, "X-Remote-Group: system:serviceaccounts:cert-manager");
	w->headers = curl_slist_append(w->headers,
				       "X-Remote-Group: system:authenticated");
	w->headers = curl_slist_append(w->headers, "Expect:");
	if (w->headers == NULL)
		return -ENOMEM;
	curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, answer_write);
	curl_easy_setopt(w->h, CURLOPT_WRITEDATA, &w->ans);
	return 0;
}

/*
 * Open the worker's connection before the clock starts: a GET of
 * /healthz on the same host and port, so the TLS handshake is not counted
 * as a call (every call after it reuses the connection).
 */
static int worker_connect(struct worker *w, const char *health_url)
{
	CURLcode rc;

	curl_easy_setopt(w->h, CURLOPT_URL, health_url);
	rc = curl_easy_perform(w->h);
	w->ans.len = 0;
	curl_easy_setopt(w->h, CURLOPT_URL, w->l->url);
	curl_easy_setopt(w->h, CURLOPT_HTTPHEADER, w->headers);
	curl_easy_setopt(w->h, CURLOPT_POST, 1L);
	if (rc != CURLE_OK) {
		fprintf(stderr, "load: %s: %s\n", health_url,
			curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

static void worker_release(struct worker *w)
{
	curl_easy_cleanup(w->h);
	curl_slist_free_all(w->headers);
}

/* Poll @url until it answers 200; print when, in CLOCK_MONOTONIC. */
static int wait_ready(struct load *l, const char *url)
{
	struct answer *a = calloc(1, sizeof(*a));
	CURL *h = curl_easy_init();
	uint64_t deadline = bench_now_ns() + 10000000000ull;
	const struct timespec ms = {0, 1000000};
	unsigned long attempts = 0;
	int ret = 1;

	if (a == NULL || h == NULL)
		goto out;
	handle_setup(h, l, url);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, answer_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	printf("polling\n");
	fflush(stdout);
	while (bench_now_ns() < deadline) {
		long status = 0;

		a->len = 0;
		attempts++;
		if (curl_easy_perform(h) == CURLE_OK) {
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
			if (status == 200) {
				printf(
				    "{\"ready_ns\": %llu, \"attempts\": %lu}\n",
				    (unsigned long long)bench_now_ns(),
				    attempts);
				ret = 0;
				goto out;
			}
		}
		nanosleep(&ms, NULL);
	}
	fprintf(stderr, "load: %s not ready within 10 s\n", url);
out:
	curl_easy_cleanup(h);
	free(a);
	return ret;
}

static const struct option options[] = {
    {"url", required_argument, NULL, 'u'},
    {"wait-ready", required_argument, NULL, 'w'},
    {"cacert", required_argument, NULL, 'a'},
    {"cert", required_argument, NULL, 'c'},
    {"key", required_argument, NULL, 'k'},
    {"config", required_argument, NULL, 'f'},
    {"zone", required_argument, NULL, 'z'},
    {"namespace", required_argument, NULL, 's'},
    {"prefix", required_argument, NULL, 'p'},
    {"pairs", required_argument, NULL, 'n'},
    {"concurrency", required_argument, NULL, 'C'},
    {"progress", required_argument, NULL, 'P'},
    {"raw", required_argument, NULL, 'r'},
    {"expect-failure", no_argument, NULL, 'x'},
    {NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	static struct load l;
	struct worker *workers = NULL;
	const char *ready_url = NULL, *path, *raw = NULL;
	char health_url[512];
	unsigned long conc = 1, started = 0;
	char extra[64];
	uint64_t t0;
	int opt, ret = 1;

	l.zone = "example.test.";
	l.ns = "cert-manager";
	l.prefix = "load";
	l.pairs = 1000;
	pthread_mutex_init(&l.lock, NULL);
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'u':
			l.url = optarg;
			break;
		case 'w':
			ready_url = optarg;
			break;
		case 'a':
			l.cacert = optarg;
			break;
		case 'c':
			l.cert = optarg;
			break;
		case 'k':
			l.key = optarg;
			break;
		case 'f':
			l.config = optarg;
			break;
		case 'z':
			l.zone = optarg;
			break;
		case 's':
			l.ns = optarg;
			break;
		case 'p':
			l.prefix = optarg;
			break;
		case 'n':
			l.pairs =
			    bench_parse_count("--pairs", optarg, 10000000);
			break;
		case 'C':
			conc = bench_parse_count("--concurrency", optarg, 1024);
			break;
		case 'P':
			l.progress =
			    bench_parse_count("--progress", optarg, 100000000);
			break;
		case 'r':
			raw = optarg;
			break;
		case 'x':
			l.expect_failure = true;
			break;
		default:
			return 2;
		}
	}
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
		fprintf(stderr, "load: curl_global_init failed\n");
		return 1;
	}
	if (ready_url != NULL && l.cacert != NULL) {
		ret = wait_ready(&l, ready_url);
		goto out;
	}
	if (l.url == NULL || l.cacert == NULL || l.cert == NULL ||
	    l.key == NULL || l.config == NULL) {
		fprintf(
		    stderr,
		    "usage: load --url URL --cacert CA --cert CRT --key KEY "
		    "--config JSON [--zone Z] [--namespace NS] [--pairs N] "
		    "[--concurrency C] [--prefix P] [--progress CALLS] "
		    "[--raw FILE] [--expect-failure]\n"
		    "       load --wait-ready URL --cacert CA\n");
		ret = 2;
		goto out;
	}
	if (bench_stats_init(&l.st, 2 * l.pairs) < 0 ||
	    (workers = calloc(conc, sizeof(*workers))) == NULL) {
		fprintf(stderr, "load: out of memory\n");
		goto out;
	}
	l.st.raw = raw;
	/* https://HOST:PORT/healthz: the URL up to its path. */
	path = strstr(l.url, "://");
	path = path != NULL ? strchr(path + 3, '/') : NULL;
	snprintf(health_url, sizeof(health_url), "%.*s/healthz",
		 path != NULL ? (int)(path - l.url) : (int)strlen(l.url),
		 l.url);
	for (unsigned long i = 0; i < conc; i++) {
		if (worker_init(&workers[i], &l, (unsigned)i) < 0) {
			fprintf(stderr, "load: out of memory\n");
			goto out;
		}
		if (worker_connect(&workers[i], health_url) < 0)
			goto out;
	}
	t0 = bench_now_ns();
	for (; started < conc; started++) {
		if (pthread_create(&workers[started].thread, NULL, worker_main,
				   &workers[started]) != 0) {
			fprintf(stderr, "load: pthread_create failed\n");
			break;
		}
	}
	for (unsigned long i = 0; i < started; i++)
		pthread_join(workers[i].thread, NULL);
	if (started < conc)
		goto out;
	l.st.wall_ns = bench_now_ns() - t0;
	l.st.ncalls = 2 * l.pairs;
	l.st.nerrors = atomic_load(&l.failed);
	snprintf(extra, sizeof(extra),
		 "\"new_connections\": %lu, \"concurrency\": %lu",
		 atomic_load(&l.connects), conc);
	if (bench_stats_print(&l.st, stdout, extra) == 0)
		ret = l.st.nerrors == 0 ? 0 : 1;
out:
	if (workers != NULL) {
		for (unsigned long i = 0; i < conc; i++)
			worker_release(&workers[i]);
	}
	free(workers);
	bench_stats_release(&l.st);
	curl_global_cleanup();
	return ret;
}
