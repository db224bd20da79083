/*
 * watchdog.c - the slow-client watchdog (see watchdog.h): one thread that
 * wakes every few hundred milliseconds, shuts down the sockets past their
 * deadline, marks held requests whose client hung up, and hands memory
 * freed by closed connections back to the system.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "server/log.h"
#include "server/metrics.h"
#include "server/watchdog.h"
#include "util/clock.h"

/* The watchdog looks at deadlines and hung-up clients this often at most. */
#define WATCHDOG_TICK_MS 200

struct watchdog {
	struct watchdog_opts opts;
	pthread_mutex_t lock; /* guards list, stop and trim */
	pthread_cond_t cond;
	struct watch *list; /* every open connection */
	pthread_t thread;
	bool running, stop;
	bool trim;	     /* a connection closed since the last tick */
	struct pollfd *pfds; /* the thread's: suspended sockets */
	struct watch **pwatch;
	size_t npmax;
};

static unsigned min_ms(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

/* How long after the accept a connection may be in @stage. */
static unsigned stage_limit_ms(const struct watchdog *wd, unsigned stage)
{
	const struct watchdog_opts *o = &wd->opts;

	if (stage == WATCH_HANDSHAKE)
		return min_ms(o->handshake_timeout_ms, o->read_timeout_ms);
	if (stage == WATCH_FIRST_REQUEST)
		return min_ms(o->first_request_timeout_ms, o->read_timeout_ms);
	return o->read_timeout_ms;
}

/*
 * Move a connection's deadline to @ms, unless the watchdog already shut it
 * down (0): a late handshake must not revive it.
 */
static void watch_deadline_move(struct watch *w, uint64_t ms)
{
	uint64_t d = atomic_load(&w->deadline_ms);

	while (d != 0 && !atomic_compare_exchange_weak(&w->deadline_ms, &d, ms))
		;
}

/* Enter @stage, whose deadline counts from the accept. */
static void watch_stage_enter(const struct watchdog *wd, struct watch *w,
			      unsigned stage)
{
	atomic_store(&w->stage, stage);
	watch_deadline_move(w, w->accepted_ms + stage_limit_ms(wd, stage));
}

void watch_handshake_done(const struct watchdog *wd, struct watch *w)
{
	if (w != NULL && !w->requested)
		watch_stage_enter(wd, w, WATCH_FIRST_REQUEST);
}

void watch_request_started(const struct watchdog *wd, struct watch *w)
{
	if (w == NULL || w->requested)
		return;
	w->requested = true;
	watch_stage_enter(wd, w, WATCH_REQUEST);
}

void watch_renew(const struct watchdog *wd, struct watch *w)
{
	if (w != NULL)
		atomic_store(&w->deadline_ms,
			     util_now_ms() + wd->opts.read_timeout_ms);
}

void watch_hold(struct watch *w)
{
	if (w == NULL)
		return;
	atomic_store(&w->deadline_ms, 0);
	atomic_store(&w->held, true);
}

void watch_release(const struct watchdog *wd, struct watch *w)
{
	if (w == NULL)
		return;
	atomic_store(&w->held, false);
	watch_renew(wd, w);
}

bool watch_gone(const struct watch *w)
{
	return w != NULL && atomic_load(&w->gone);
}

void watchdog_add(struct watchdog *wd, struct watch *w, int fd)
{
	w->fd = fd;
	/* First the handshake's deadline (watch_handshake_done). */
	w->accepted_ms = util_now_ms();
	atomic_store(&w->deadline_ms,
		     w->accepted_ms + stage_limit_ms(wd, WATCH_HANDSHAKE));
	pthread_mutex_lock(&wd->lock);
	w->next = wd->list;
	if (wd->list != NULL)
		wd->list->prev = w;
	wd->list = w;
	pthread_mutex_unlock(&wd->lock);
}

void watchdog_remove(struct watchdog *wd, struct watch *w)
{
	pthread_mutex_lock(&wd->lock);
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		wd->list = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	wd->trim = true;
	pthread_mutex_unlock(&wd->lock);
}

/*
 * Mark held requests whose client hung up: their socket, which MHD does
 * not poll while the connection is suspended, reads end-of-file or an
 * error.  The caller holds the lock.  Returns how many were marked.
 */
static size_t watchdog_hangups(struct watchdog *wd)
{
	size_t n = 0, marked = 0;

	for (struct watch *w = wd->list; w != NULL && n < wd->npmax;
	     w = w->next) {
		if (w->fd < 0 || !atomic_load(&w->held) ||
		    atomic_load(&w->gone))
			continue;
		wd->pfds[n] = (struct pollfd){.fd = w->fd, .events = POLLRDHUP};
		wd->pwatch[n++] = w;
	}
	if (n == 0 || poll(wd->pfds, n, 0) <= 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if ((wd->pfds[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) ==
		    0)
			continue;
		atomic_store(&wd->pwatch[i]->gone, true);
		marked++;
		metrics_connection_dropped(METRICS_DROP_CLIENT_GONE);
		log_debug(2, "client hung up while its request was being "
			     "served: abandoning it at its next step");
	}
	return marked;
}

/* Which deadline a connection missed, at --v 2. */
static void watchdog_log(const struct watchdog *wd, unsigned stage)
{
	static const struct {
		const char *msg, *flag;
	} missed[] = {
	    [WATCH_HANDSHAKE] = {"connection closed: the TLS handshake was "
				 "not done in time",
				 "--tls-handshake-timeout"},
	    [WATCH_FIRST_REQUEST] = {"connection closed: no request arrived "
				     "in time after the handshake",
				     "--first-request-timeout"},
	    [WATCH_REQUEST] = {"connection closed: the request did not "
			       "arrive in time",
			       "--request-read-timeout"},
	};
	_Static_assert(sizeof(missed) / sizeof(missed[0]) == WATCH_REQUEST + 1,
		       "one text per watch stage");
	char ms[24];

	if (stage > WATCH_REQUEST)
		stage = WATCH_REQUEST;
	snprintf(ms, sizeof(ms), "%u", stage_limit_ms(wd, stage));
	log_debug(2, missed[stage].msg, "limit_ms", ms, "flag",
		  missed[stage].flag);
}

/* Shut down the connections past their deadline; the caller locks. */
static void watchdog_expire(struct watchdog *wd, uint64_t now)
{
	for (struct watch *w = wd->list; w != NULL; w = w->next) {
		uint64_t d = atomic_load(&w->deadline_ms);
		if (d == 0 || d > now || w->fd < 0)
			continue;
		/*
		 * The list lock keeps the socket open: MHD closes it only
		 * after MHD_CONNECTION_NOTIFY_CLOSED, which takes the lock to
		 * leave the list.  The polling thread sees the shutdown and
		 * closes the connection itself.
		 */
		atomic_store(&w->deadline_ms, 0);
		shutdown(w->fd, SHUT_RDWR);
		metrics_connection_dropped(METRICS_DROP_DEADLINE);
		watchdog_log(wd, atomic_load(&w->stage));
	}
}

/* How long the thread sleeps between two looks, ms. */
static unsigned watchdog_tick_ms(const struct watchdog *wd)
{
	unsigned tick_ms =
	    min_ms(wd->opts.read_timeout_ms, wd->opts.handshake_timeout_ms) / 4;

	if (tick_ms > WATCHDOG_TICK_MS)
		tick_ms = WATCHDOG_TICK_MS;
	if (tick_ms < 20)
		tick_ms = 20;
	return tick_ms;
}

/* The thread: shut down connections past their deadline. */
static void *watchdog_main(void *arg)
{
	struct watchdog *wd = arg;
	unsigned tick_ms = watchdog_tick_ms(wd);

	pthread_mutex_lock(&wd->lock);
	while (!wd->stop) {
		uint64_t now = util_now_ms();
		if (watchdog_hangups(wd) > 0 && wd->opts.hangup != NULL) {
			/* Outside the list lock, which pools never take. */
			pthread_mutex_unlock(&wd->lock);
			wd->opts.hangup(wd->opts.arg);
			pthread_mutex_lock(&wd->lock);
		}
		watchdog_expire(wd, now);
		if (wd->trim) {
			/*
			 * A closed connection's TLS session and buffers went
			 * back to malloc's per-thread arenas, which keep them;
			 * hand the free pages back, or the memory of a burst of
			 * connections stays resident for good.
			 */
			wd->trim = false;
			pthread_mutex_unlock(&wd->lock);
			malloc_trim(0);
			pthread_mutex_lock(&wd->lock);
		}
		struct timespec until = util_deadline_in(tick_ms);
		pthread_cond_timedwait(&wd->cond, &wd->lock, &until);
	}
	pthread_mutex_unlock(&wd->lock);
	return NULL;
}

int watchdog_start(struct watchdog **out, const struct watchdog_opts *opts)
{
	struct watchdog *wd = calloc(1, sizeof(*wd));
	int ret = -ENOMEM;

	*out = NULL;
	if (wd == NULL)
		return -ENOMEM;
	wd->opts = *opts;
	pthread_mutex_init(&wd->lock, NULL);
	/*
	 * The deadlines are CLOCK_MONOTONIC; a condition variable waits on
	 * CLOCK_REALTIME unless told, and then every wait ended at once: the
	 * watchdog spun, half a core on an idle server.
	 */
	util_cond_init(&wd->cond);
	/* The thread polls at most every connection at once. */
	wd->npmax = opts->max_connections + 16;
	wd->pfds = calloc(wd->npmax, sizeof(*wd->pfds));
	wd->pwatch = calloc(wd->npmax, sizeof(*wd->pwatch));
	if (wd->pfds == NULL || wd->pwatch == NULL)
		goto out;
	if (pthread_create(&wd->thread, NULL, watchdog_main, wd) != 0) {
		ret = -EAGAIN;
		goto out;
	}
	wd->running = true;
	*out = wd;
	wd = NULL;
	ret = 0;
out:
	watchdog_free(wd);
	return ret;
}

void watchdog_stop(struct watchdog *wd)
{
	if (wd == NULL || !wd->running)
		return;
	pthread_mutex_lock(&wd->lock);
	wd->stop = true;
	pthread_cond_signal(&wd->cond);
	pthread_mutex_unlock(&wd->lock);
	pthread_join(wd->thread, NULL);
	wd->running = false;
}

void watchdog_free(struct watchdog *wd)
{
	if (wd == NULL)
		return;
	watchdog_stop(wd);
	free(wd->pfds);
	free(wd->pwatch);
	pthread_cond_destroy(&wd->cond);
	pthread_mutex_destroy(&wd->lock);
	free(wd);
}
