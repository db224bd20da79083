/*
 * cache.c - a TTL cache with one lock and single flight.
 *
 * A short list, newest first: the caches hold tens of entries (Secrets of
 * one cluster's issuers, the few identities that call us), so a walk costs
 * less than a hash table's upkeep.
 */
#include "util/cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/file.h"

/* Fetches in flight that others may wait for; beyond this, callers fetch
 * without telling the others (they fetch too). */
#define FLIGHTS_MAX 16

struct entry {
	uint8_t *key;
	size_t keylen;
	uint8_t *value;
	size_t len;
	uint64_t expires_ms;
	struct entry *next;
};

struct flight {
	uint8_t *key; /* NULL: a free slot */
	size_t keylen;
};

struct util_cache {
	pthread_mutex_t lock;  /* guards everything below */
	pthread_cond_t landed; /* a fetch in flight is done */
	struct entry *head;    /* newest first */
	size_t n, max;
	uint64_t ttl_ms;
	struct flight flights[FLIGHTS_MAX];
};

static void entry_free(struct entry *e)
{
	if (e == NULL)
		return;
	util_wipe_free(e->value, e->len);
	free(e->key);
	free(e);
}

int util_cache_new(struct util_cache **out, size_t max_entries, uint64_t ttl_ms)
{
	struct util_cache *c;

	*out = NULL;
	if (max_entries == 0)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c);
		return -ENOMEM;
	}
	if (pthread_cond_init(&c->landed, NULL) != 0) {
		pthread_mutex_destroy(&c->lock);
		free(c);
		return -ENOMEM;
	}
	c->max = max_entries;
	c->ttl_ms = ttl_ms;
	*out = c;
	return 0;
}

void util_cache_free(struct util_cache *c)
{
	struct entry *e;

	if (c == NULL)
		return;
	while ((e = c->head) != NULL) {
		c->head = e->next;
		entry_free(e);
	}
	for (size_t i = 0; i < FLIGHTS_MAX; i++)
		free(c->flights[i].key);
	pthread_cond_destroy(&c->landed);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static bool same_key(const uint8_t *a, size_t alen, const void *b, size_t blen)
{
	return a != NULL && alen == blen && memcmp(a, b, blen) == 0;
}

/* Drop expired entries, and the entry of @key if @key is not NULL; the
 * caller holds the lock. */
static void evict(struct util_cache *c, const void *key, size_t keylen)
{
	uint64_t now = util_now_ms();
	struct entry **pp = &c->head;

	while (*pp != NULL) {
		struct entry *e = *pp;

		if (e->expires_ms <= now ||
		    (key != NULL && same_key(e->key, e->keylen, key, keylen))) {
			*pp = e->next;
			entry_free(e);
			c->n--;
		} else {
			pp = &e->next;
		}
	}
}

/* Copy the fresh value of @key out; the caller holds the lock. */
static int lookup(struct util_cache *c, const void *key, size_t keylen,
		  uint8_t **value, size_t *len)
{
	evict(c, NULL, 0);
	for (struct entry *e = c->head; e != NULL; e = e->next) {
		if (!same_key(e->key, e->keylen, key, keylen))
			continue;
		*value = malloc(e->len + 1);
		if (*value == NULL)
			return -ENOMEM;
		memcpy(*value, e->value, e->len);
		(*value)[e->len] = '\0';
		*len = e->len;
		return 0;
	}
	return -ENOENT;
}

int util_cache_get(struct util_cache *c, const void *key, size_t keylen,
		   uint8_t **value, size_t *len)
{
	int ret;

	pthread_mutex_lock(&c->lock);
	ret = lookup(c, key, keylen, value, len);
	pthread_mutex_unlock(&c->lock);
	return ret;
}

/* A new entry holding copies of @key and @value. */
static struct entry *entry_new(const void *key, size_t keylen,
			       const void *value, size_t len)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->key = malloc(keylen + 1);
	e->value = malloc(len + 1);
	if (e->key == NULL || e->value == NULL) {
		free(e->value);
		e->value = NULL;
		entry_free(e);
		return NULL;
	}
	memcpy(e->key, key, keylen);
	e->keylen = keylen;
	memcpy(e->value, value, len);
	e->value[len] = '\0';
	e->len = len;
	return e;
}

int util_cache_put(struct util_cache *c, const void *key, size_t keylen,
		   const void *value, size_t len)
{
	struct entry *e = entry_new(key, keylen, value, len);
	struct entry **pp;

	if (e == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&c->lock);
	e->expires_ms = util_now_ms() + c->ttl_ms;
	/* A parallel caller may have stored the same key: replace it. */
	evict(c, key, keylen);
	/* Full: drop the oldest, which is the last (we insert in front). */
	if (c->n >= c->max) {
		for (pp = &c->head; (*pp)->next != NULL; pp = &(*pp)->next)
			;
		entry_free(*pp);
		*pp = NULL;
		c->n--;
	}
	e->next = c->head;
	c->head = e;
	c->n++;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* The slot of a fetch of @key in flight, or -1; caller holds the lock. */
static int flight_find(struct util_cache *c, const void *key, size_t keylen)
{
	for (int i = 0; i < FLIGHTS_MAX; i++)
		if (same_key(c->flights[i].key, c->flights[i].keylen, key,
			     keylen))
			return i;
	return -1;
}

/* Claim a slot for a fetch of @key: its ticket, or -1 when none is free
 * (or out of memory: the fetch then goes on untold). */
static int flight_claim(struct util_cache *c, const void *key, size_t keylen)
{
	for (int i = 0; i < FLIGHTS_MAX; i++) {
		struct flight *f = &c->flights[i];

		if (f->key != NULL)
			continue;
		f->key = malloc(keylen + 1);
		if (f->key == NULL)
			return -1;
		memcpy(f->key, key, keylen);
		f->keylen = keylen;
		return i;
	}
	return -1;
}

int util_cache_fetch(struct util_cache *c, const void *key, size_t keylen,
		     uint8_t **value, size_t *len, int *ticket)
{
	bool waited = false;
	int ret;

	*ticket = -1;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		ret = lookup(c, key, keylen, value, len);
		if (ret != -ENOENT)
			goto out;
		if (flight_find(c, key, keylen) < 0)
			break;
		pthread_cond_wait(&c->landed, &c->lock);
		waited = true;
	}
	/* After a fetch that stored nothing (the Secret was missing, the
	 * API failed), each waiter tries on its own, as it would have. */
	if (!waited)
		*ticket = flight_claim(c, key, keylen);
out:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

void util_cache_done(struct util_cache *c, int ticket)
{
	if (ticket < 0 || ticket >= FLIGHTS_MAX)
		return;
	pthread_mutex_lock(&c->lock);
	free(c->flights[ticket].key);
	c->flights[ticket].key = NULL;
	c->flights[ticket].keylen = 0;
	pthread_cond_broadcast(&c->landed);
	pthread_mutex_unlock(&c->lock);
}
