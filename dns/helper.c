/*
 * helper.c - helper threads the caller may stop waiting for: getaddrinfo()
 * and the Kerberos library have no timeout of their own, so they run on a
 * detached thread and the caller waits only until its deadline.  Whichever
 * of the two leaves last frees what they share (nothing leaks, nothing
 * blocks the caller), and at most HELPERS_MAX run at once: a flood of
 * lookups that never answer fails fast instead of piling up.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "dns/dns.h"

#include "dns/transport_internal.h"
#include "util/clock.h"

static atomic_uint helpers_running;

int dns_helper_init(struct dns_helper *h)
{
	if (util_cond_init(&h->cond) != 0)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	h->done = h->abandoned = false;
	return 0;
}

void dns_helper_release(struct dns_helper *h)
{
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
}

int dns_helper_start(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t tid;
	int ret;

	if (atomic_fetch_add(&helpers_running, 1) >= HELPERS_MAX) {
		atomic_fetch_sub(&helpers_running, 1);
		return DNS_EBUSY;
	}
	if (pthread_attr_init(&attr) != 0) {
		atomic_fetch_sub(&helpers_running, 1);
		return -ENOMEM;
	}
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ret = pthread_create(&tid, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (ret != 0) {
		atomic_fetch_sub(&helpers_running, 1);
		return -ret;
	}
	return 0;
}

bool dns_helper_finish(struct dns_helper *h)
{
	bool abandoned;

	pthread_mutex_lock(&h->lock);
	h->done = true;
	abandoned = h->abandoned;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	return abandoned;
}

void dns_helper_exit(void)
{
	atomic_fetch_sub(&helpers_running, 1);
}

int dns_helper_wait(struct dns_helper *h, int64_t deadline)
{
	struct timespec ts = {.tv_sec = deadline / 1000,
			      .tv_nsec = (deadline % 1000) * 1000000};
	int ret = 0;

	pthread_mutex_lock(&h->lock);
	while (!h->done && ret != ETIMEDOUT) {
		if (deadline == 0)
			ret = pthread_cond_wait(&h->cond, &h->lock);
		else
			ret = pthread_cond_timedwait(&h->cond, &h->lock, &ts);
	}
	if (!h->done)
		h->abandoned = true;
	ret = h->done ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&h->lock);
	return ret;
}
