/*
 * test_coalesce.c - server/coalesce.c with a stand-in sender: a lone call
 * is sent at once and alone; calls arriving while the group's update is
 * in flight share one send, each getting the result; a batch the server
 * refused is sent again one change at a time; groups never mix.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/coalesce.h"

#define CALLERS 8

/* The stand-in server: counts sends, holds the first, refuses "bad". */
struct fake {
	atomic_uint sends;
	atomic_uint records;
	atomic_uint first_hold_ms;
	atomic_uint max_batch;
	atomic_bool mixed; /* a send carried changes of two groups */
};

static int fake_send(void *arg, const struct dns_change *changes, size_t n,
		     struct dns_result *res, size_t *untried)
{
	struct fake *f = arg;
	unsigned hold = atomic_exchange(&f->first_hold_ms, 0);
	bool bad = false;

	atomic_fetch_add(&f->sends, 1);
	atomic_fetch_add(&f->records, (unsigned)n);
	if (n > atomic_load(&f->max_batch))
		atomic_store(&f->max_batch, (unsigned)n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(changes[i].value, "bad") == 0)
			bad = true;
		if (changes[i].fqdn[0] != changes[0].fqdn[0])
			atomic_store(&f->mixed, true);
	}
	if (hold > 0)
		usleep(hold * 1000);
	memset(res, 0, sizeof(*res));
	res->nattempts = 1;
	res->attempts[0].answered = true;
	res->attempts[0].rcode = bad ? 5 : 0; /* REFUSED */
	res->code = bad ? DNS_ERCODE : 0;
	*untried = 0;
	return res->code;
}

struct caller {
	struct coalescer *c;
	struct fake *f;
	const char *group;
	struct dns_change change;
	struct dns_result res;
	size_t untried;
	size_t batched;
	int ret;
};

static void *caller_main(void *arg)
{
	struct caller *k = arg;

	k->ret = coalesce_update(k->c, k->group, &k->change, fake_send, k->f,
				 &k->res, &k->untried, &k->batched);
	return NULL;
}

/*
 * One call first, held 500 ms; the others while it is in flight.  The
 * hold is long enough for seven threads to start under valgrind (100 ms
 * was not: late callers made batches of their own), and shorter than the
 * tests' 1000 ms window.
 */
static void run(struct coalescer *c, struct fake *f, struct caller *k, size_t n)
{
	pthread_t t[CALLERS];
	struct timespec pause = {0, 20 * 1000000};

	atomic_store(&f->first_hold_ms, 500);
	for (size_t i = 0; i < n; i++) {
		k[i].c = c;
		k[i].f = f;
		assert_int_equal(
		    pthread_create(&t[i], NULL, caller_main, &k[i]), 0);
		if (i == 0)
			nanosleep(&pause, NULL); /* the first is in flight */
	}
	for (size_t i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

static void test_lone_call_alone(void **state)
{
	struct coalescer *c;
	struct fake f = {0};
	struct caller k = {
	    .group = "zone-a",
	    .change = {"example.test.", "a1.", DNS_ADD, "v", 60}};

	(void)state;
	assert_int_equal(coalescer_new(&c, 0, 0), 0);
	k.c = c;
	k.f = &f;
	caller_main(&k);
	assert_int_equal(k.ret, 0);
	assert_int_equal(k.batched, 1);
	assert_int_equal(atomic_load(&f.sends), 1);
	coalescer_free(c);
}

static void test_burst_shares_one_send(void **state)
{
	struct coalescer *c;
	struct fake f = {0};
	struct caller k[CALLERS];
	char names[CALLERS][16];

	(void)state;
	/* A window longer than the hold: the batch waits for the first. */
	assert_int_equal(coalescer_new(&c, 1000, 0), 0);
	memset(k, 0, sizeof(k));
	for (size_t i = 0; i < CALLERS; i++) {
		snprintf(names[i], sizeof(names[i]), "a%zu.", i);
		k[i].group = "zone-a";
		k[i].change = (struct dns_change){"example.test.", names[i],
						  DNS_ADD, "v", 60};
	}
	run(c, &f, k, CALLERS);
	/* The first alone, the other seven in one message. */
	assert_int_equal(atomic_load(&f.sends), 2);
	assert_int_equal(atomic_load(&f.records), CALLERS);
	assert_int_equal(atomic_load(&f.max_batch), CALLERS - 1);
	for (size_t i = 0; i < CALLERS; i++) {
		assert_int_equal(k[i].ret, 0);
		assert_int_equal(k[i].res.nattempts, 1);
		assert_int_equal(k[i].batched, i == 0 ? 1 : CALLERS - 1);
	}
	coalescer_free(c);
}

static void test_refused_batch_each_alone(void **state)
{
	struct coalescer *c;
	struct fake f = {0};
	struct caller k[CALLERS];
	char names[CALLERS][16];

	(void)state;
	assert_int_equal(coalescer_new(&c, 1000, 0), 0);
	memset(k, 0, sizeof(k));
	for (size_t i = 0; i < CALLERS; i++) {
		snprintf(names[i], sizeof(names[i]), "a%zu.", i);
		k[i].group = "zone-a";
		k[i].change =
		    (struct dns_change){"example.test.", names[i], DNS_ADD,
					i == 4 ? "bad" : "good", 60};
	}
	run(c, &f, k, CALLERS);
	/* The first alone, the batch of seven, then each of those alone. */
	assert_int_equal(atomic_load(&f.sends), 2 + CALLERS - 1);
	for (size_t i = 0; i < CALLERS; i++) {
		assert_int_equal(k[i].batched, 1);
		assert_int_equal(k[i].ret, i == 4 ? DNS_ERCODE : 0);
		assert_int_equal(k[i].res.attempts[0].rcode, i == 4 ? 5 : 0);
	}
	coalescer_free(c);
}

static void test_groups_never_mix(void **state)
{
	struct coalescer *c;
	struct fake f = {0};
	struct caller k[CALLERS];
	char names[CALLERS][16];

	(void)state;
	assert_int_equal(coalescer_new(&c, 1000, 0), 0);
	memset(k, 0, sizeof(k));
	for (size_t i = 0; i < CALLERS; i++) {
		/* Names start with their group's letter (see fake_send). */
		snprintf(names[i], sizeof(names[i]), "%c%zu.",
			 i % 2 ? 'b' : 'a', i);
		k[i].group = i % 2 ? "zone-b" : "zone-a";
		k[i].change = (struct dns_change){"example.test.", names[i],
						  DNS_ADD, "v", 60};
	}
	run(c, &f, k, CALLERS);
	assert_false(atomic_load(&f.mixed));
	assert_int_equal(atomic_load(&f.records), CALLERS);
	for (size_t i = 0; i < CALLERS; i++)
		assert_int_equal(k[i].ret, 0);
	coalescer_free(c);
}

static void test_batch_size_bounded(void **state)
{
	struct coalescer *c;
	struct fake f = {0};
	struct caller k[CALLERS];
	char names[CALLERS][16];

	(void)state;
	assert_int_equal(coalescer_new(&c, 1000, 3), 0);
	memset(k, 0, sizeof(k));
	for (size_t i = 0; i < CALLERS; i++) {
		snprintf(names[i], sizeof(names[i]), "a%zu.", i);
		k[i].group = "zone-a";
		k[i].change = (struct dns_change){"example.test.", names[i],
						  DNS_ADD, "v", 60};
	}
	run(c, &f, k, CALLERS);
	assert_true(atomic_load(&f.max_batch) <= 3);
	assert_int_equal(atomic_load(&f.records), CALLERS);
	for (size_t i = 0; i < CALLERS; i++)
		assert_int_equal(k[i].ret, 0);
	coalescer_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lone_call_alone),
	    cmocka_unit_test(test_burst_shares_one_send),
	    cmocka_unit_test(test_refused_batch_each_alone),
	    cmocka_unit_test(test_groups_never_mix),
	    cmocka_unit_test(test_batch_size_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
