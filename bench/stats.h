/*
 * stats.h - what the bench clients share: a monotonic clock, latency
 * samples and their percentiles, and the one JSON line each client prints
 * for the driver (bench/bench.py) to read.
 */
#ifndef RFC2136_BENCH_STATS_H
#define RFC2136_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* CLOCK_MONOTONIC in nanoseconds (the clock Python's time.monotonic()
 * reads, so the driver can compare instants). */
uint64_t bench_now_ns(void);

/* Latencies of every call of a run, in nanoseconds. */
struct bench_stats {
	uint64_t *lat;	  /* one per call, indexed by call number */
	size_t ncalls;	  /* calls made (successful or not) */
	size_t nerrors;	  /* calls that failed */
	uint64_t wall_ns; /* first call started .. last call ended */
	const char *raw;  /* if set: bench_stats_print writes every sample
			   * here, one per line in nanoseconds, for the
			   * driver to pool runs made in rounds */
};

/* Allocate room for @n calls; 0 or -ENOMEM. */
int bench_stats_init(struct bench_stats *st, size_t n);

/* Free the samples and zero the struct.  NULL-safe. */
void bench_stats_release(struct bench_stats *st);

/*
 * Print one JSON object line to @f: calls, errors, p50/p90/p99/max in
 * microseconds (nearest rank over the recorded calls), wall seconds and
 * calls per second, then @extra (already JSON members, may be "").
 * Sorts the samples.  With st->raw set, also writes the samples there;
 * returns 0, or -errno if that file could not be written.
 */
int bench_stats_print(struct bench_stats *st, FILE *f, const char *extra);

/* Parse a positive decimal count (1 .. @max) or exit with a usage error. */
unsigned long bench_parse_count(const char *opt, const char *text,
				unsigned long max);

#endif /* RFC2136_BENCH_STATS_H */
