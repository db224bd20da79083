/*
 * coalesce.c - bursts of challenges for one zone in one UPDATE (see
 * coalesce.h).
 *
 * Per group (zone, nameservers, key...) the coalescer counts the updates
 * in flight and holds at most one open batch.  The open batch's first
 * member (its leader) waits on the condition variable until the updates
 * in flight are done, the window has passed or the batch is full, closes
 * it, sends it without the lock, and hands every member the result.  The
 * members wait on their stacks meanwhile, so the batch can point at their
 * changes and results; the last one to leave frees the batch.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/coalesce.h"
#include "server/log.h"
#include "util/clock.h"

struct member {
	struct dns_result *res;
	size_t *untried;
};

struct batch {
	struct dns_change *changes; /* [max] */
	struct member *members;	    /* [max] */
	size_t n;
	size_t refs;   /* members still to leave */
	bool sent;     /* the result is in every member's res */
	int ret;       /* the batch's code */
	bool answered; /* a server answered (a refusal, not silence) */
};

struct group {
	char *id;
	unsigned inflight;  /* updates of this group being sent */
	struct batch *open; /* collecting members; NULL: none */
	unsigned users;	    /* calls inside coalesce_update() */
	struct group *next;
};

struct coalescer {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a batch closed or sent, an update done */
	struct group *groups;
	unsigned window_ms;
	size_t max;
};

int coalescer_new(struct coalescer **out, unsigned window_ms, size_t max)
{
	struct coalescer *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c == NULL)
		return -ENOMEM;
	c->window_ms = window_ms ? window_ms : COALESCE_WINDOW_MS;
	c->max = max ? max : COALESCE_MAX;
	if (pthread_mutex_init(&c->lock, NULL) != 0)
		goto fail;
	/* Timed waits on the monotonic clock: a clock step changes nothing */
	if (util_cond_init(&c->cond) != 0) {
		pthread_mutex_destroy(&c->lock);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	free(c);
	return -ENOMEM;
}

void coalescer_free(struct coalescer *c)
{
	struct group *g;

	if (c == NULL)
		return;
	while ((g = c->groups) != NULL) {
		c->groups = g->next;
		free(g->id);
		free(g);
	}
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The group @id, created when absent; NULL when out of memory. Locked. */
static struct group *group_get(struct coalescer *c, const char *id)
{
	struct group *g;

	for (g = c->groups; g != NULL; g = g->next)
		if (strcmp(g->id, id) == 0)
			return g;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	g->id = strdup(id);
	if (g->id == NULL) {
		free(g);
		return NULL;
	}
	g->next = c->groups;
	c->groups = g;
	return g;
}

/* Drop the group when nobody uses it any more.  Locked. */
static void group_put(struct coalescer *c, struct group *g)
{
	struct group **pp;

	if (--g->users > 0 || g->inflight > 0 || g->open != NULL)
		return;
	for (pp = &c->groups; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	free(g->id);
	free(g);
}

static void batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	free(b->changes);
	free(b->members);
	free(b);
}

static struct batch *batch_new(size_t max)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->changes = calloc(max, sizeof(*b->changes));
	b->members = calloc(max, sizeof(*b->members));
	if (b->changes == NULL || b->members == NULL) {
		batch_free(b);
		return NULL;
	}
	return b;
}

static bool answered(const struct dns_result *res)
{
	for (size_t i = 0; i < res->nattempts; i++)
		if (res->attempts[i].answered)
			return true;
	return false;
}

/*
 * The leader's part, called locked with @b closed or about to be: wait for
 * the group, close the batch, send it, hand out the result.
 */
static void batch_lead(struct coalescer *c, struct group *g, struct batch *b,
		       coalesce_send_fn *send, void *arg)
{
	struct timespec until = util_deadline_in(c->window_ms);
	struct dns_result *res = b->members[0].res;
	size_t untried = 0;
	int ret = 0;

	while (g->open == b && g->inflight > 0 && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&c->cond, &c->lock, &until);
	if (g->open == b)
		g->open = NULL;
	g->inflight++;
	pthread_mutex_unlock(&c->lock);

	b->ret = send(arg, b->changes, b->n, res, &untried);
	b->answered = answered(res);

	pthread_mutex_lock(&c->lock);
	*b->members[0].untried = untried;
	for (size_t i = 1; i < b->n; i++) {
		*b->members[i].res = *res;
		*b->members[i].untried = untried;
	}
	b->sent = true;
	g->inflight--;
	pthread_cond_broadcast(&c->cond);
}

/*
 * The group is idle (called locked, returns unlocked): no window, no wait,
 * the change goes alone at once.
 */
static int send_idle(struct coalescer *c, struct group *g,
		     const struct dns_change *change, coalesce_send_fn *send,
		     void *arg, struct dns_result *res, size_t *untried)
{
	int ret;

	g->inflight++;
	pthread_mutex_unlock(&c->lock);
	ret = send(arg, change, 1, res, untried);
	pthread_mutex_lock(&c->lock);
	g->inflight--;
	pthread_cond_broadcast(&c->cond);
	group_put(c, g);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

/*
 * Join the group's open batch, or open one and lead it (*@lead); called
 * locked.  NULL when out of memory (the group is then released).
 */
static struct batch *batch_join(struct coalescer *c, struct group *g,
				const struct dns_change *change,
				const struct member *m, bool *lead)
{
	struct batch *b;

	*lead = false;
	if (g->open == NULL) {
		g->open = batch_new(c->max);
		if (g->open == NULL) {
			group_put(c, g);
			return NULL;
		}
		*lead = true;
	}
	b = g->open;
	b->changes[b->n] = *change;
	b->members[b->n] = *m;
	b->n++;
	b->refs++;
	if (b->n == c->max) {
		/* Full: closed now, the leader sends it. */
		g->open = NULL;
		pthread_cond_broadcast(&c->cond);
	}
	return b;
}

/*
 * Wait until @b was sent, leave it (the last one out frees it) and the
 * group; called locked, returns unlocked.  *@n gets the batch's size;
 * returns its code.
 */
static int batch_leave(struct coalescer *c, struct group *g, struct batch *b,
		       bool lead, const struct dns_result *res, size_t *n)
{
	int ret;

	while (!b->sent)
		pthread_cond_wait(&c->cond, &c->lock);
	ret = b->ret;
	*n = b->n;
	if (*n > 1 && ret != 0 && (b->answered || res->nattempts == 0) &&
	    lead) {
		char records[24];

		snprintf(records, sizeof(records), "%zu", *n);
		log_info("a batched update failed; each of its records "
			 "is sent alone for its own diagnosis",
			 "records", records, "group", g->id);
	}
	if (--b->refs == 0)
		batch_free(b);
	group_put(c, g);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int coalesce_update(struct coalescer *c, const char *id,
		    const struct dns_change *change, coalesce_send_fn *send,
		    void *arg, struct dns_result *res, size_t *untried,
		    size_t *batched)
{
	const struct member m = {.res = res, .untried = untried};
	struct group *g = NULL;
	struct batch *b = NULL;
	size_t n = 0;
	bool lead = false;
	int ret;

	*batched = 1;
	if (c == NULL)
		goto alone;
	pthread_mutex_lock(&c->lock);
	g = group_get(c, id);
	if (g == NULL) {
		pthread_mutex_unlock(&c->lock);
		goto alone;
	}
	g->users++;
	if (g->inflight == 0 && g->open == NULL)
		return send_idle(c, g, change, send, arg, res, untried);
	b = batch_join(c, g, change, &m, &lead);
	if (b == NULL) {
		pthread_mutex_unlock(&c->lock);
		goto alone;
	}
	if (lead)
		batch_lead(c, g, b, send, arg);
	ret = batch_leave(c, g, b, lead, res, &n);
	*batched = n;
	if (ret == 0 || n == 1)
		return ret;
	/*
	 * RFC 2136 3.4: one refused record refused them all, and one record
	 * the message could not take (nothing sent) stopped them all: each
	 * alone.  Silence or a network error is everyone's answer.
	 */
	if (!answered(res) && res->nattempts > 0)
		return ret;
	*batched = 1;
alone:
	return send(arg, change, 1, res, untried);
}
