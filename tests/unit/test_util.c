/*
 * test_util.c - util/: the capped file read (sizes around the cap, a
 * FIFO, a directory, a missing file), the monotonic clock and its timed
 * waits, random bytes, and the TTL cache with single flight (expiry,
 * replacement, eviction of the oldest, one fetch while others wait).
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

#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/cache.h"
#include "util/clock.h"
#include "util/file.h"
#include "util/random.h"

/* --------------------------------------------------------------- file */

struct read_case {
	size_t size, max;
	unsigned flags;
	int expect;
};

static const struct read_case read_cases[] = {
    {0, 16, 0, 0},
    {1, 16, 0, 0},
    {15, 16, 0, 0},
    /* Exactly the cap is allowed; one byte more is too big. */
    {16, 16, 0, 0},
    {17, 16, 0, UTIL_ETOOBIG},
    {4096, 4095, 0, UTIL_ETOOBIG},
    /* Larger than the first buffer: the buffer grows. */
    {100000, 1 << 20, UTIL_FILE_REGULAR, 0},
    {100001, 100000, UTIL_FILE_REGULAR, UTIL_ETOOBIG},
};

static void write_file(const char *path, size_t size)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		fputc('a' + (int)(i % 26), f);
	assert_int_equal(fclose(f), 0);
}

static void test_file_read(void **state)
{
	char dir[] = "/tmp/test_util.XXXXXX";
	char path[64];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	for (size_t i = 0; i < sizeof(read_cases) / sizeof(read_cases[0]);
	     i++) {
		const struct read_case *c = &read_cases[i];
		uint8_t *buf = (uint8_t *)"unchanged";
		size_t len = 99;
		int ret;

		printf("read row %zu\n", i);
		write_file(path, c->size);
		ret = util_file_read(path, c->max, c->flags, &buf, &len);
		assert_int_equal(ret, c->expect);
		if (ret == 0) {
			assert_int_equal(len, c->size);
			assert_int_equal(buf[len], '\0');
			for (size_t j = 0; j < len; j++)
				assert_int_equal(buf[j], 'a' + (int)(j % 26));
			util_wipe_free(buf, len);
		} else {
			assert_null(buf);
			assert_int_equal(len, 0);
		}
	}
	unlink(path);
	/* Not there, a directory, a FIFO (refused without blocking). */
	uint8_t *buf;
	size_t len;

	assert_int_equal(util_file_read(path, 16, 0, &buf, &len), -ENOENT);
	assert_int_equal(util_file_read(dir, 16, 0, &buf, &len), -EISDIR);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(
	    util_file_read(path, 16, UTIL_FILE_REGULAR, &buf, &len),
	    UTIL_ENOTREG);
	unlink(path);
	rmdir(dir);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(util_strerror(UTIL_ETOOBIG), "the file is too big");
	assert_string_equal(util_strerror(UTIL_ENOTREG), "not a regular file");
	assert_string_equal(util_strerror(-ENOENT), strerror(ENOENT));
	util_wipe_free(NULL, 10);
}

/* ---------------------------------------------------- clock, random */

static void test_clock(void **state)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond;
	struct timespec until;
	uint64_t before, after;

	(void)state;
	assert_int_equal(util_cond_init(&cond), 0);
	before = util_now_ms();
	until = util_deadline_in(30);
	assert_true(until.tv_nsec >= 0 && until.tv_nsec < 1000000000);
	pthread_mutex_lock(&lock);
	while (pthread_cond_timedwait(&cond, &lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&lock);
	after = util_now_ms();
	/* The wait ended at the deadline on the same clock, not before. */
	assert_true(after >= before + 29);
	pthread_cond_destroy(&cond);
}

static void test_random(void **state)
{
	uint8_t a[64] = {0}, b[64] = {0};

	(void)state;
	assert_int_equal(util_random(a, sizeof(a)), 0);
	assert_int_equal(util_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(util_random(a, 0), 0);
}

/* -------------------------------------------------------------- cache */

static void cached_is(struct util_cache *c, const char *key, const char *value)
{
	uint8_t *v = NULL;
	size_t len = 0;
	int ret = util_cache_get(c, key, strlen(key), &v, &len);

	if (value == NULL) {
		assert_int_equal(ret, -ENOENT);
		return;
	}
	assert_int_equal(ret, 0);
	assert_int_equal(len, strlen(value));
	assert_string_equal((char *)v, value);
	util_wipe_free(v, len);
}

static void test_cache(void **state)
{
	struct util_cache *c;

	(void)state;
	assert_int_equal(util_cache_new(&c, 0, 1000), -EINVAL);
	assert_int_equal(util_cache_new(&c, 3, 60000), 0);
	cached_is(c, "a", NULL);
	assert_int_equal(util_cache_put(c, "a", 1, "one", 3), 0);
	assert_int_equal(util_cache_put(c, "b", 1, "two", 3), 0);
	cached_is(c, "a", "one");
	/* A key is its bytes and length: "a" and "a\0" differ. */
	assert_int_equal(util_cache_put(c, "a\0", 2, "zero", 4), 0);
	cached_is(c, "a", "one");
	/* Replacing keeps one entry for the key. */
	assert_int_equal(util_cache_put(c, "a", 1, "uno", 3), 0);
	cached_is(c, "a", "uno");
	/* Full (3): the oldest ("b") goes. */
	assert_int_equal(util_cache_put(c, "c", 1, "", 0), 0);
	cached_is(c, "b", NULL);
	cached_is(c, "c", "");
	cached_is(c, "a", "uno");
	util_cache_free(c);
	util_cache_free(NULL);

	/* Expiry. */
	assert_int_equal(util_cache_new(&c, 8, 300), 0);
	assert_int_equal(util_cache_put(c, "k", 1, "v", 1), 0);
	cached_is(c, "k", "v");
	usleep(350 * 1000);
	cached_is(c, "k", NULL);
	util_cache_free(c);
}

struct flight_arg {
	struct util_cache *c;
	int ret;
	char got[16];
};

static void *flight_waiter(void *p)
{
	struct flight_arg *a = p;
	uint8_t *v = NULL;
	size_t len;
	int ticket;

	a->ret = util_cache_fetch(a->c, "s", 1, &v, &len, &ticket);
	if (a->ret == 0)
		snprintf(a->got, sizeof(a->got), "%s", (char *)v);
	util_cache_done(a->c, ticket);
	util_wipe_free(v, len);
	return NULL;
}

static void test_cache_flight(void **state)
{
	struct util_cache *c;
	struct flight_arg args[4];
	pthread_t th[4];
	uint8_t *v = NULL;
	size_t len;
	int ticket;

	(void)state;
	assert_int_equal(util_cache_new(&c, 8, 60000), 0);
	/* The first caller misses and holds the fetch. */
	assert_int_equal(util_cache_fetch(c, "s", 1, &v, &len, &ticket),
			 -ENOENT);
	assert_true(ticket >= 0);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct flight_arg){.c = c, .ret = 1};
		assert_int_equal(
		    pthread_create(&th[i], NULL, flight_waiter, &args[i]), 0);
	}
	/* The others wait while the fetch is in flight... */
	usleep(50 * 1000);
	for (int i = 0; i < 4; i++)
		assert_int_equal(args[i].ret, 1);
	/* ...and take what it stored. */
	assert_int_equal(util_cache_put(c, "s", 1, "secret", 6), 0);
	util_cache_done(c, ticket);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].ret, 0);
		assert_string_equal(args[i].got, "secret");
	}
	/* A fetch that stores nothing: the waiter returns a miss. */
	assert_int_equal(util_cache_fetch(c, "t", 1, &v, &len, &ticket),
			 -ENOENT);
	util_cache_done(c, ticket);
	util_cache_done(c, -1);
	util_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_file_read),
	    cmocka_unit_test(test_strerror),
	    cmocka_unit_test(test_clock),
	    cmocka_unit_test(test_random),
	    cmocka_unit_test(test_cache),
	    cmocka_unit_test(test_cache_flight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
