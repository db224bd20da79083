/*
 * cache.h - a small TTL cache of byte keys to byte values, with one lock
 * and single flight.
 *
 * The solver keeps Secret values in one (they are secrets: every copy the
 * cache drops is wiped), the authorizer its SubjectAccessReview verdicts.
 * Single flight: when an entry expires under load, every call in flight
 * misses it at once, and each would ask the Kubernetes API (16 workers: 16
 * GETs or reviews queued behind each other).  util_cache_fetch() lets the
 * first caller of a key fetch it; the others wait for that fetch and take
 * what it stored.
 */
#ifndef RFC2136_UTIL_CACHE_H
#define RFC2136_UTIL_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct util_cache;

/*
 * A cache of at most @max_entries entries, each fresh for @ttl_ms after it
 * was stored.  Returns 0, -EINVAL (a zero size) or -ENOMEM.
 */
int util_cache_new(struct util_cache **out, size_t max_entries,
		   uint64_t ttl_ms);

/* Free @c and wipe every value it holds.  NULL-safe. */
void util_cache_free(struct util_cache *c);

/*
 * A copy of the fresh value stored under @key: 0 with *@value (malloc'ed,
 * NUL-terminated; the caller wipes and frees it) and *@len, -ENOENT when
 * there is none or it expired, -ENOMEM.
 */
int util_cache_get(struct util_cache *c, const void *key, size_t keylen,
		   uint8_t **value, size_t *len);

/*
 * Store a copy of @value under @key for the cache's TTL, replacing an
 * older value of @key; when the cache is full the oldest entry goes.
 * Returns 0 or -ENOMEM.
 */
int util_cache_put(struct util_cache *c, const void *key, size_t keylen,
		   const void *value, size_t len);

/*
 * util_cache_get() with single flight.  0: a hit (*@value, *@len as
 * util_cache_get()).  -ENOENT: a miss; this caller fetches the value, then
 * calls util_cache_put() if it got one and, always, util_cache_done() with
 * *@ticket.  A caller that arrives while a fetch of the same key is in
 * flight waits for it, then returns what it stored (0), or -ENOENT when it
 * stored nothing (that caller then fetches on its own; its ticket is a
 * no-op).  -ENOMEM.
 */
int util_cache_fetch(struct util_cache *c, const void *key, size_t keylen,
		     uint8_t **value, size_t *len, int *ticket);

/* The fetch of @ticket is over: wake its waiters.  A negative ticket is a
 * no-op. */
void util_cache_done(struct util_cache *c, int ticket);

#endif /* RFC2136_UTIL_CACHE_H */
