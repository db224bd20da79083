/*
 * test_pool.c - the worker pool: jobs are held before a worker sees them
 * and handed back after their share is returned; one namespace runs at
 * most its share and has at most POOL_NAMESPACE_WAITING times as many
 * waiting (then -EBUSY) while other namespaces go past it; a full queue
 * refuses (-EAGAIN); a job nobody waits for goes past the share; what is
 * queued when the pool stops runs with `stopping` set.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "server/pool.h"

/* A job of the tests: what happened to it. */
struct tjob {
	struct pool_job job; /* first: the pool's pointer is the tjob's */
	bool blocks;	     /* run() waits for the gate */
	atomic_bool gone;
	bool held, ran, done, stopping;
	int order; /* when run() started: 1, 2, ... */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static int started;

static void t_hold(void *arg, struct pool_job *job)
{
	(void)arg;
	((struct tjob *)job)->held = true;
}

static void t_run(void *arg, struct pool_job *job, bool stopping)
{
	struct tjob *t = (struct tjob *)job;

	(void)arg;
	pthread_mutex_lock(&lock);
	t->ran = true;
	t->stopping = stopping;
	t->order = ++started;
	pthread_cond_broadcast(&cond);
	while (t->blocks && !gate_open)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static void t_done(void *arg, struct pool_job *job)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	((struct tjob *)job)->done = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static const struct pool_ops ops = {t_hold, t_run, t_done};

static void gate(bool open)
{
	pthread_mutex_lock(&lock);
	gate_open = open;
	if (!open)
		started = 0;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

/* Wait (at most 10 s) until @t ran, or is done with @done. */
static void wait_for(struct tjob *t, bool done)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&lock);
	while (!(done ? t->done : t->ran))
		if (pthread_cond_timedwait(&cond, &lock, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&lock);
	assert_true(done ? t->done : t->ran);
}

static struct pool_job *tjob_init(struct tjob *t, const char *ns, bool blocks)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->job.ns, sizeof(t->job.ns), "%s", ns);
	t->job.gone = &t->gone;
	t->blocks = blocks;
	return &t->job;
}

/* A namespace at its share waits, then is refused; another goes past. */
static void test_pool_share(void **state)
{
	struct pool *p;
	struct tjob a[2 + POOL_NAMESPACE_WAITING], b;

	(void)state;
	gate(false);
	assert_int_equal(pool_new(&p, &ops, NULL, 2, 100, 1), 0);
	assert_int_equal(pool_submit(p, tjob_init(&a[0], "a", true)), 0);
	wait_for(&a[0], false);
	assert_true(a[0].held);
	for (int i = 1; i <= POOL_NAMESPACE_WAITING; i++)
		assert_int_equal(pool_submit(p, tjob_init(&a[i], "a", true)),
				 0);
	assert_int_equal(
	    pool_submit(p, tjob_init(&a[1 + POOL_NAMESPACE_WAITING], "a", 1)),
	    -EBUSY);
	assert_false(a[1 + POOL_NAMESPACE_WAITING].held);
	/* Namespace b is not behind a's waiting jobs. */
	assert_int_equal(pool_submit(p, tjob_init(&b, "b", false)), 0);
	wait_for(&b, true);
	assert_false(a[1].ran);
	gate(true);
	for (int i = 0; i <= POOL_NAMESPACE_WAITING; i++) {
		wait_for(&a[i], true);
		assert_false(a[i].stopping);
	}
	/* a's jobs ran one at a time, in the order they came. */
	for (int i = 1; i <= POOL_NAMESPACE_WAITING; i++)
		assert_true(a[i].order > a[i - 1].order);
	pool_free(p);
}

/* A full queue refuses at once. */
static void test_pool_full(void **state)
{
	struct pool *p;
	struct tjob t[4];

	(void)state;
	gate(false);
	assert_int_equal(pool_new(&p, &ops, NULL, 1, 2, 0), 0);
	assert_int_equal(pool_submit(p, tjob_init(&t[0], "", true)), 0);
	wait_for(&t[0], false);
	assert_int_equal(pool_submit(p, tjob_init(&t[1], "", true)), 0);
	assert_int_equal(pool_submit(p, tjob_init(&t[2], "", true)), 0);
	assert_int_equal(pool_submit(p, tjob_init(&t[3], "", true)), -EAGAIN);
	gate(true);
	for (int i = 0; i < 3; i++)
		wait_for(&t[i], true);
	assert_false(t[3].held || t[3].ran);
	pool_free(p);
}

/* A job whose client is gone is taken past its namespace's share. */
static void test_pool_gone(void **state)
{
	struct pool *p;
	struct tjob a, b;

	(void)state;
	gate(false);
	assert_int_equal(pool_new(&p, &ops, NULL, 2, 100, 1), 0);
	assert_int_equal(pool_submit(p, tjob_init(&a, "a", true)), 0);
	wait_for(&a, false);
	assert_int_equal(pool_submit(p, tjob_init(&b, "a", true)), 0);
	atomic_store(&b.gone, true);
	pool_kick(p);
	wait_for(&b, false);
	gate(true);
	wait_for(&a, true);
	wait_for(&b, true);
	pool_free(p);
}

static void *stopper(void *arg)
{
	pool_stop(arg);
	return NULL;
}

/* What waits when the pool stops runs with `stopping` set. */
static void test_pool_stop(void **state)
{
	struct pool *p;
	static struct tjob t[3], probe[5000];
	struct timespec ms = {0, 1000 * 1000};
	size_t n = 0;
	pthread_t th;

	(void)state;
	gate(false);
	assert_int_equal(pool_new(&p, &ops, NULL, 1, 100, 0), 0);
	assert_int_equal(pool_submit(p, tjob_init(&t[0], "", true)), 0);
	wait_for(&t[0], false);
	assert_int_equal(pool_submit(p, tjob_init(&t[1], "", true)), 0);
	assert_int_equal(pool_submit(p, tjob_init(&t[2], "", true)), 0);
	assert_int_equal(pthread_create(&th, NULL, stopper, p), 0);
	/* Stopping once it refuses (the queue has room). */
	while (n < 5000 &&
	       pool_submit(p, tjob_init(&probe[n], "", false)) == 0) {
		n++;
		nanosleep(&ms, NULL);
	}
	assert_true(n < 5000);
	gate(true);
	pthread_join(th, NULL);
	assert_false(t[0].stopping);
	assert_true(t[1].done && t[1].stopping);
	assert_true(t[2].done && t[2].stopping);
	for (size_t i = 0; i < n; i++)
		assert_true(probe[i].done && probe[i].stopping);
	pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pool_share),
	    cmocka_unit_test(test_pool_full),
	    cmocka_unit_test(test_pool_gone),
	    cmocka_unit_test(test_pool_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
