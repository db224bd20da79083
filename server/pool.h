/*
 * pool.h - a fixed pool of worker threads and its queue (internal to
 * server/).  The HTTPS server runs what may block (a SubjectAccessReview,
 * a solver call) on a worker while the request's connection is suspended;
 * it has two pools, so that neither kind waits behind the other.
 *
 * With a share, the jobs of one namespace run on at most that many
 * workers at once and at most POOL_NAMESPACE_WAITING times as many wait;
 * further ones are refused at once (-EBUSY), so one tenant whose
 * nameserver does not answer cannot hold every worker.
 */
#ifndef RFC2136_POOL_H
#define RFC2136_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* A namespace name is a DNS label (RFC 1123), at most 63 bytes. */
#define POOL_NAMESPACE_MAX 64
/* A namespace at its share may have this many times as many waiting. */
#define POOL_NAMESPACE_WAITING 4

struct nsload;

/* One job, in the caller's request; the pool links it while queued. */
struct pool_job {
	char ns[POOL_NAMESPACE_MAX]; /* the caller's: namespace, or "" */
	/*
	 * The caller's: true once nobody waits for the outcome (its client
	 * hung up); such a job is taken past the share.  NULL: never.
	 */
	const atomic_bool *gone;
	uint64_t queued_ms;    /* monotonic ms it was queued */
	struct pool_job *next; /* in the queue */
	struct nsload *load;   /* its namespace's share, in the pool */
};

/* What the pool does with a job; @arg is pool_new()'s. */
struct pool_ops {
	/*
	 * Under the pool's lock, before any worker can see the job: put it
	 * on hold (suspend its connection), so that done() follows it.
	 */
	void (*hold)(void *arg, struct pool_job *job);
	/* On a worker: do the job; @stopping: the pool stops, refuse it. */
	void (*run)(void *arg, struct pool_job *job, bool stopping);
	/* On the worker, its share given back: the last touch of the job. */
	void (*done)(void *arg, struct pool_job *job);
};

struct pool;

/*
 * Start @workers threads.  At most @max_queued jobs wait; @share: 0 for
 * first come, first served, else the jobs of one namespace running at
 * once.  @ops must outlive the pool.  Returns 0 or a negative errno.
 */
int pool_new(struct pool **out, const struct pool_ops *ops, void *arg,
	     unsigned workers, unsigned max_queued, unsigned share);

/*
 * Queue @job (hold() is called on it first).  Returns 0, -EAGAIN when the
 * queue is full or the pool stopping, -EBUSY when the job's namespace has
 * its share running and as many waiting.
 */
int pool_submit(struct pool *p, struct pool_job *job);

/* Wake an idle worker of @p if jobs wait.  NULL-safe. */
void pool_kick(struct pool *p);

/*
 * Stop the workers once the queue is empty: what waits is run with
 * @stopping set.  NULL-safe.
 */
void pool_stop(struct pool *p);

/* Stop (if running) and free a pool.  NULL-safe. */
void pool_free(struct pool *p);

#endif /* RFC2136_POOL_H */
