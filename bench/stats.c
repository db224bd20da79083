/*
 * stats.c - latency percentiles for the bench clients (see stats.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/stats.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bench_stats_init(struct bench_stats *st, size_t n)
{
	memset(st, 0, sizeof(*st));
	st->lat = calloc(n ? n : 1, sizeof(*st->lat));
	return st->lat != NULL ? 0 : -ENOMEM;
}

void bench_stats_release(struct bench_stats *st)
{
	if (st == NULL)
		return;
	free(st->lat);
	memset(st, 0, sizeof(*st));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples, in microseconds. */
static double rank_us(const uint64_t *v, size_t n, unsigned pct)
{
	size_t k;

	if (n == 0)
		return 0.0;
	k = (n * pct + 99) / 100;
	if (k == 0)
		k = 1;
	return (double)v[k - 1] / 1000.0;
}

static int raw_write(const struct bench_stats *st)
{
	FILE *f = fopen(st->raw, "w");
	int ret = 0;

	if (f == NULL)
		return -errno;
	for (size_t i = 0; i < st->ncalls; i++) {
		if (fprintf(f, "%llu\n", (unsigned long long)st->lat[i]) < 0)
			ret = -EIO;
	}
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
	return ret;
}

int bench_stats_print(struct bench_stats *st, FILE *f, const char *extra)
{
	size_t n = st->ncalls;
	double wall = (double)st->wall_ns / 1e9;
	int ret = 0;

	qsort(st->lat, n, sizeof(*st->lat), cmp_u64);
	fprintf(f,
		"{\"calls\": %zu, \"errors\": %zu, \"p50_us\": %.1f, "
		"\"p90_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f, "
		"\"wall_s\": %.3f, \"calls_per_s\": %.1f%s%s}\n",
		n, st->nerrors, rank_us(st->lat, n, 50),
		rank_us(st->lat, n, 90), rank_us(st->lat, n, 99),
		rank_us(st->lat, n, 100), wall, wall > 0 ? (double)n / wall : 0,
		extra[0] != '\0' ? ", " : "", extra);
	fflush(f);
	if (st->raw != NULL && (ret = raw_write(st)) < 0)
		fprintf(stderr, "bench: cannot write %s: %s\n", st->raw,
			strerror(-ret));
	return ret;
}

unsigned long bench_parse_count(const char *opt, const char *text,
				unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v == 0 || v > max ||
	    text[0] == '-') {
		fprintf(stderr,
			"bench: %s wants a count from 1 to %lu, not '%s'\n",
			opt, max, text);
		exit(2);
	}
	return v;
}
