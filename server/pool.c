/*
 * pool.c - worker threads and their queue, shared out by namespace (see
 * pool.h).
 *
 * Idle workers wait on their own condition variable, on a stack: a job
 * wakes the one that went idle last, whose stack and data are still in
 * the CPU's caches (a FIFO would hand each job to the coldest).  All
 * threads live as long as the pool: GnuTLS keeps every thread's random
 * generator state until the process ends, so a thread per job would grow
 * the process for good.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/pool.h"
#include "util/clock.h"

struct worker {
	pthread_t thread;
	struct pool *pool;
	pthread_cond_t cond;
	struct worker *next_idle;
	bool woken; /* under the pool's lock: taken off the idle stack */
};

/* The jobs of one namespace in a pool: running and waiting. */
struct nsload {
	char ns[POOL_NAMESPACE_MAX];
	unsigned running, waiting;
	struct nsload *next;
};

struct pool {
	const struct pool_ops *ops;
	void *arg;
	struct worker *workers;
	unsigned nworkers;
	pthread_mutex_t lock;
	struct worker *idle; /* under lock: top of the idle stack */
	struct pool_job *qhead, *qtail;
	unsigned queued, max_queued;
	bool stopping; /* under lock: workers finish and leave */
	/*
	 * 0: first come, first served.  Else a namespace runs at most this
	 * many jobs at once and has at most POOL_NAMESPACE_WAITING times as
	 * many waiting.
	 */
	unsigned share;
	struct nsload *loads; /* under lock: namespaces with jobs */
};

static struct nsload *nsload_find(struct pool *p, const char *ns)
{
	for (struct nsload *l = p->loads; l != NULL; l = l->next)
		if (strcmp(l->ns, ns) == 0)
			return l;
	return NULL;
}

/* Forget @l once nothing of its namespace is left; the caller locks. */
static void nsload_drop_idle(struct pool *p, struct nsload *l)
{
	if (l == NULL || l->running > 0 || l->waiting > 0)
		return;
	for (struct nsload **pp = &p->loads; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			free(l);
			return;
		}
	}
}

/*
 * The share @job waits under: its namespace's, made on first sight; NULL
 * with *@ret set when the namespace has as many waiting as it may (-EBUSY)
 * or there is no memory (-EAGAIN).  The caller locks.
 */
static struct nsload *nsload_get(struct pool *p, const struct pool_job *job,
				 int *ret)
{
	struct nsload *l = nsload_find(p, job->ns);

	if (l != NULL && l->waiting >= POOL_NAMESPACE_WAITING * p->share) {
		*ret = -EBUSY;
		return NULL;
	}
	if (l == NULL) {
		l = calloc(1, sizeof(*l));
		if (l == NULL) {
			*ret = -EAGAIN;
			return NULL;
		}
		snprintf(l->ns, sizeof(l->ns), "%s", job->ns);
		l->next = p->loads;
		p->loads = l;
	}
	l->waiting++;
	return l;
}

/* Take the idle worker on top of the stack and wake it; the caller locks. */
static void pool_wake_one(struct pool *p)
{
	struct worker *w = p->idle;

	if (w == NULL)
		return;
	p->idle = w->next_idle;
	w->woken = true;
	pthread_cond_signal(&w->cond);
}

/*
 * The next job a worker may take: the oldest whose namespace is below its
 * share (any, when stopping, or one nobody waits for any more).  The
 * caller holds the lock.
 */
static struct pool_job *pool_take(struct pool *p)
{
	struct pool_job *prev = NULL, *j;

	for (j = p->qhead; j != NULL; prev = j, j = j->next) {
		if (p->stopping || j->load == NULL ||
		    j->load->running < p->share ||
		    (j->gone != NULL && atomic_load(j->gone)))
			break;
	}
	if (j == NULL)
		return NULL;
	if (prev != NULL)
		prev->next = j->next;
	else
		p->qhead = j->next;
	if (p->qtail == j)
		p->qtail = prev;
	p->queued--;
	if (j->load != NULL) {
		j->load->waiting--;
		j->load->running++;
	}
	return j;
}

/* Run one job taken off the queue; called and returns with the lock. */
static void worker_run(struct pool *p, struct pool_job *job, bool stopping)
{
	pthread_mutex_unlock(&p->lock);
	p->ops->run(p->arg, job, stopping);

	pthread_mutex_lock(&p->lock);
	if (job->load != NULL) {
		job->load->running--;
		nsload_drop_idle(p, job->load);
		job->load = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	/* The last touch: from here the job is its owner's again. */
	p->ops->done(p->arg, job);
	pthread_mutex_lock(&p->lock);
}

static void *worker_main(void *arg)
{
	struct worker *self = arg;
	struct pool *p = self->pool;
	struct pool_job *job;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while ((job = pool_take(p)) == NULL && !p->stopping) {
			self->woken = false;
			self->next_idle = p->idle;
			p->idle = self;
			while (!self->woken && !p->stopping)
				pthread_cond_wait(&self->cond, &p->lock);
		}
		if (job == NULL)
			break; /* stopping and nothing left */
		worker_run(p, job, p->stopping);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int pool_submit(struct pool *p, struct pool_job *job)
{
	struct nsload *l = NULL;
	int ret = -EAGAIN;

	pthread_mutex_lock(&p->lock);
	if (p->queued >= p->max_queued || p->stopping)
		goto out;
	if (p->share > 0 && (l = nsload_get(p, job, &ret)) == NULL)
		goto out;
	job->load = l;
	job->queued_ms = util_now_ms();
	job->next = NULL;
	/* On hold before any worker can see it, so done() follows it. */
	p->ops->hold(p->arg, job);
	if (p->qtail != NULL)
		p->qtail->next = job;
	else
		p->qhead = job;
	p->qtail = job;
	p->queued++;
	pool_wake_one(p);
	ret = 0;
out:
	pthread_mutex_unlock(&p->lock);
	return ret;
}

void pool_kick(struct pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->qhead != NULL)
		pool_wake_one(p);
	pthread_mutex_unlock(&p->lock);
}

void pool_stop(struct pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	for (unsigned i = 0; i < p->nworkers; i++)
		pthread_cond_signal(&p->workers[i].cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nworkers; i++) {
		pthread_join(p->workers[i].thread, NULL);
		pthread_cond_destroy(&p->workers[i].cond);
	}
	p->nworkers = 0;
	p->idle = NULL;
}

void pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	pool_stop(p);
	while (p->loads != NULL) {
		struct nsload *l = p->loads;
		p->loads = l->next;
		free(l);
	}
	free(p->workers);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int pool_new(struct pool **out, const struct pool_ops *ops, void *arg,
	     unsigned workers, unsigned max_queued, unsigned share)
{
	struct pool *p = calloc(1, sizeof(*p));
	int ret = -ENOMEM;

	*out = NULL;
	if (p == NULL)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	p->ops = ops;
	p->arg = arg;
	p->max_queued = max_queued;
	p->share = share;
	p->workers = calloc(workers, sizeof(*p->workers));
	if (p->workers == NULL)
		goto out;
	for (; p->nworkers < workers; p->nworkers++) {
		struct worker *w = &p->workers[p->nworkers];

		w->pool = p;
		pthread_cond_init(&w->cond, NULL);
		ret = pthread_create(&w->thread, NULL, worker_main, w);
		if (ret != 0) {
			pthread_cond_destroy(&w->cond);
			ret = -ret;
			goto out;
		}
	}
	*out = p;
	p = NULL;
	ret = 0;
out:
	pool_free(p);
	return ret;
}
