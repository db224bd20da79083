/*
 * bare_update.c - the physical limit the webhook is measured against: TSIG
 * signed RFC 2136 UPDATE round trips made directly with the project's own
 * dns/ (no HTTP, no TLS, no JSON), as Present/CleanUp pairs (add one TXT
 * value, delete exactly that value), sequentially or from several threads.
 *
 *   bare_update --server ADDR --zone ZONE --key FILE [--pairs N]
 *               [--concurrency C] [--prefix P] [--sign-loops N]
 *               [--raw FILE]
 *
 * Thread t uses the name _acme-challenge.P-t.ZONE and a value unique per
 * pair, like load.c does through the webhook.  Prints one JSON line (see
 * stats.h) with "sign_ns": what building and signing one UPDATE costs,
 * measured over --sign-loops messages before the run.  --raw FILE: every
 * call's latency too, one per line in nanoseconds (stats.h).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/stats.h"
#include "dns/dns.h"

struct bare {
	struct dns_addr server;
	struct dns_opts opts;
	struct dns_key key;
	const char *zone, *prefix;
	bool verify; /* --verify: each call also asks whether it is served */
	unsigned long pairs;
	atomic_ulong next; /* next pair to run */
	atomic_ulong failed;
	struct bench_stats st;
	pthread_mutex_t lock; /* the first few error texts */
};

struct worker {
	struct bare *b;
	unsigned id;
	pthread_t thread;
};

/* A value as long as an ACME key authorization digest (43 characters). */
static void value_make(char *buf, size_t len, const char *prefix,
		       unsigned long i)
{
	snprintf(buf, len, "%.16s-%026lu", prefix, i);
}

static int update_timed(struct bare *b, const char *fqdn,
			enum dns_action action, const char *value,
			unsigned long slot)
{
	struct dns_result res;
	uint64_t t0 = bench_now_ns();
	int ret = dns_update(
	    &b->server, 1, &b->opts,
	    &(struct dns_change){b->zone, fqdn, action, value, 60}, &res);

	/* What the webhook and the CLI do after a NOERROR by default. */
	if (ret == 0 && b->verify) {
		struct dns_verify v;

		ret = dns_verify(&b->server, &b->opts, fqdn, value,
				 action == DNS_ADD, 2000, &v);
		if (ret < 0 && atomic_fetch_add(&b->failed, 1) < 5)
			fprintf(stderr, "bare_update: verify %s: served %s\n",
				fqdn, v.served);
		b->st.lat[slot] = bench_now_ns() - t0;
		return ret;
	}
	b->st.lat[slot] = bench_now_ns() - t0;
	if (ret < 0 && atomic_fetch_add(&b->failed, 1) < 5) {
		char text[1024];

		dns_result_explain(&res, action == DNS_ADD ? "add" : "delete",
				   &b->key, b->zone, fqdn, text, sizeof(text));
		pthread_mutex_lock(&b->lock);
		fprintf(stderr, "bare_update: %s\n", text);
		pthread_mutex_unlock(&b->lock);
	}
	return ret;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bare *b = w->b;
	char fqdn[DNS_NAME_LEN], value[64];
	unsigned long i;

	snprintf(fqdn, sizeof(fqdn), "_acme-challenge.%s-%u.%s", b->prefix,
		 w->id, b->zone);
	while ((i = atomic_fetch_add(&b->next, 1)) < b->pairs) {
		value_make(value, sizeof(value), b->prefix, i);
		update_timed(b, fqdn, DNS_ADD, value, 2 * i);
		update_timed(b, fqdn, DNS_DELETE, value, 2 * i + 1);
	}
	return NULL;
}

/* Nanoseconds to build and sign one UPDATE (no I/O). */
static double sign_cost(struct bare *b, unsigned long loops)
{
	uint8_t msg[1024], mac[DNS_MAC_MAX];
	char value[64], err[256];
	uint64_t t0 = bench_now_ns();

	for (unsigned long i = 0; i < loops; i++) {
		size_t len, maclen;

		value_make(value, sizeof(value), b->prefix, i);
		if (dns_msg_update(msg, &len, sizeof(msg), (uint16_t)i,
				   &(struct dns_change){
				       b->zone,
				       "_acme-challenge.sign.example.test.",
				       DNS_ADD, value, 60},
				   err, sizeof(err)) < 0 ||
		    dns_msg_sign(msg, &len, sizeof(msg), &b->key, 1700000000,
				 mac, &maclen) < 0) {
			fprintf(stderr, "bare_update: build/sign: %s\n", err);
			return -1;
		}
	}
	return (double)(bench_now_ns() - t0) / (double)loops;
}

static const struct option options[] = {
    {"server", required_argument, NULL, 's'},
    {"zone", required_argument, NULL, 'z'},
    {"key", required_argument, NULL, 'k'},
    {"pairs", required_argument, NULL, 'n'},
    {"concurrency", required_argument, NULL, 'c'},
    {"prefix", required_argument, NULL, 'p'},
    {"sign-loops", required_argument, NULL, 'l'},
    {"raw", required_argument, NULL, 'r'},
    {"verify", no_argument, NULL, 'v'},
    {NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	static struct bare b;
	struct worker *workers = NULL;
	const char *server = NULL, *keyfile = NULL, *raw = NULL;
	unsigned long conc = 1, loops = 100000;
	char err[512], extra[64];
	double sign_ns;
	uint64_t t0;
	int opt, ret = 1;

	b.zone = "example.test.";
	b.prefix = "bare";
	b.pairs = 1000;
	pthread_mutex_init(&b.lock, NULL);
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			server = optarg;
			break;
		case 'z':
			b.zone = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'p':
			b.prefix = optarg;
			break;
		case 'n':
			b.pairs =
			    bench_parse_count("--pairs", optarg, 10000000);
			break;
		case 'c':
			conc = bench_parse_count("--concurrency", optarg, 1024);
			break;
		case 'l':
			loops = bench_parse_count("--sign-loops", optarg,
						  100000000);
			break;
		case 'r':
			raw = optarg;
			break;
		case 'v':
			b.verify = true;
			break;
		default:
			return 2;
		}
	}
	if (server == NULL || keyfile == NULL) {
		fprintf(stderr, "usage: bare_update --server ADDR --zone ZONE "
				"--key FILE [--pairs N] [--concurrency C] "
				"[--prefix P] [--sign-loops N] [--raw FILE] "
				"[--verify]\n");
		return 2;
	}
	if (dns_addr_parse(&b.server, server, err, sizeof(err)) < 0 ||
	    dns_key_load(&b.key, keyfile, NULL, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "bare_update: %s\n", err);
		goto out;
	}
	b.opts.proto = DNS_PROTO_UDP;
	b.opts.timeout_ms = 3000; /* Knot can stall for up to a second */
	b.opts.key = &b.key;
	if (bench_stats_init(&b.st, 2 * b.pairs) < 0 ||
	    (workers = calloc(conc, sizeof(*workers))) == NULL) {
		fprintf(stderr, "bare_update: out of memory\n");
		goto out;
	}
	b.st.raw = raw;
	sign_ns = sign_cost(&b, loops);
	if (sign_ns < 0)
		goto out;

	t0 = bench_now_ns();
	for (unsigned long i = 0; i < conc; i++) {
		workers[i].b = &b;
		workers[i].id = (unsigned)i;
		if (pthread_create(&workers[i].thread, NULL, worker_main,
				   &workers[i]) != 0) {
			fprintf(stderr, "bare_update: pthread_create failed\n");
			exit(1); /* threads already started keep running */
		}
	}
	for (unsigned long i = 0; i < conc; i++)
		pthread_join(workers[i].thread, NULL);
	b.st.wall_ns = bench_now_ns() - t0;
	b.st.ncalls = 2 * b.pairs;
	b.st.nerrors = atomic_load(&b.failed);
	snprintf(extra, sizeof(extra), "\"sign_ns\": %.0f", sign_ns);
	if (bench_stats_print(&b.st, stdout, extra) == 0)
		ret = b.st.nerrors == 0 ? 0 : 1;
out:
	free(workers);
	bench_stats_release(&b.st);
	dns_key_release(&b.key);
	return ret;
}
