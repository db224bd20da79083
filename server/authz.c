/*
 * authz.c - authorization (see auth.h): a SubjectAccessReview through the
 * Kubernetes API per question, its verdict cached for a few seconds, or,
 * in AllowAuthenticated mode, every authenticated user let through; and
 * Kubernetes' wording of a denial.
 *
 * The model is k8s.io/apiserver's delegated authorizer
 * (pkg/authorization/authorizerfactory): it asks the API with a
 * SubjectAccessReview and caches allow and deny verdicts for a short while.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "k8s/k8s.h"
#include "server/auth.h"
#include "server/auth_internal.h"
#include "server/status.h"

/* Verdicts kept at most. */
#define CACHE_MAX 4096

struct verdict {
	char *key; /* everything the review depends on */
	size_t keylen;
	uint64_t expires_ms;
	bool allowed;
	char reason[256];
};

#define AUTHZ_PENDING_MAX 8

struct authz {
	enum authz_mode mode;
	struct k8s_client *api;
	unsigned ttl_ms;
	pthread_mutex_t lock; /* guards the cache and pending */
	struct verdict *cache;
	size_t ncache;
	atomic_ulong reviews;
	/* Reviews in flight (copies of their cache keys): a call that
	 * misses the cache for one of them waits for it instead. */
	struct {
		char *key;
		size_t len;
	} pending[AUTHZ_PENDING_MAX];
	pthread_cond_t reviewed; /* one of them is done */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int authz_new(struct authz **out, enum authz_mode mode, struct k8s_client *api,
	      unsigned ttl_ms)
{
	struct authz *z;

	*out = NULL;
	if (mode == AUTHZ_SUBJECT_ACCESS_REVIEW && api == NULL)
		return -EINVAL;
	z = calloc(1, sizeof(*z));
	if (z == NULL)
		return -ENOMEM;
	z->mode = mode;
	z->api = api;
	z->ttl_ms = ttl_ms != 0 ? ttl_ms : 10000;
	pthread_mutex_init(&z->lock, NULL);
	pthread_cond_init(&z->reviewed, NULL);
	*out = z;
	return 0;
}

static void cache_clear(struct authz *z)
{
	for (size_t i = 0; i < z->ncache; i++)
		free(z->cache[i].key);
	free(z->cache);
	z->cache = NULL;
	z->ncache = 0;
}

void authz_free(struct authz *authz)
{
	if (authz == NULL)
		return;
	cache_clear(authz);
	pthread_cond_destroy(&authz->reviewed);
	pthread_mutex_destroy(&authz->lock);
	free(authz);
}

unsigned long authz_reviews(struct authz *authz)
{
	return atomic_load(&authz->reviews);
}

static int review_key(const struct auth_user *u, const struct authz_attrs *a,
		      char **key, size_t *len)
{
	int ret = 0;

	*key = NULL;
	*len = 0;
	char count[48];

	/* Counts first: no list can borrow a field of the next one. */
	snprintf(count, sizeof(count), "%zu,%zu", u->ngroups, u->nextra);
	ret |= auth_key_add(key, len, count);
	ret |= auth_key_add(key, len, u->name);
	ret |= auth_key_add(key, len, u->uid);
	for (size_t i = 0; i < u->ngroups; i++)
		ret |= auth_key_add(key, len, u->groups[i]);
	for (size_t i = 0; i < u->nextra; i++) {
		ret |= auth_key_add(key, len, u->extra_keys[i]);
		ret |= auth_key_add(key, len, u->extra_values[i]);
	}
	ret |= auth_key_add(key, len, a->verb);
	ret |= auth_key_add(key, len, a->group);
	ret |= auth_key_add(key, len, a->version);
	ret |= auth_key_add(key, len, a->resource);
	ret |= auth_key_add(key, len, a->resource != NULL ? NULL : a->path);
	if (ret != 0) {
		free(*key);
		*key = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* A cached verdict for @key: 1 allowed, 0 denied, -1 none. */
static int cache_get(struct authz *z, const char *key, size_t len, char *reason,
		     size_t reasonlen)
{
	int ret = -1;
	uint64_t now = now_ms();

	pthread_mutex_lock(&z->lock);
	for (size_t i = 0; i < z->ncache; i++) {
		struct verdict *v = &z->cache[i];
		if (v->keylen != len || memcmp(v->key, key, len) != 0)
			continue;
		if (v->expires_ms > now) {
			ret = v->allowed;
			snprintf(reason, reasonlen, "%s", v->reason);
		}
		break;
	}
	pthread_mutex_unlock(&z->lock);
	return ret;
}

static void cache_put(struct authz *z, char *key, size_t len, bool allowed,
		      const char *reason)
{
	uint64_t now = now_ms();
	size_t j = 0;

	pthread_mutex_lock(&z->lock);
	/* Drop expired verdicts and an older one for the same key. */
	for (size_t i = 0; i < z->ncache; i++) {
		struct verdict *v = &z->cache[i];
		if (v->expires_ms <= now ||
		    (v->keylen == len && memcmp(v->key, key, len) == 0)) {
			free(v->key);
			continue;
		}
		z->cache[j++] = *v;
	}
	z->ncache = j;
	if (z->ncache >= CACHE_MAX)
		cache_clear(z);
	struct verdict *grown =
	    realloc(z->cache, (z->ncache + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(key);
		goto out;
	}
	z->cache = grown;
	struct verdict *v = &z->cache[z->ncache++];
	v->key = key;
	v->keylen = len;
	v->expires_ms = now + z->ttl_ms;
	v->allowed = allowed;
	snprintf(v->reason, sizeof(v->reason), "%s", reason);
out:
	pthread_mutex_unlock(&z->lock);
}

/*
 * What to look at when a review could not be made.  The k8s errors for
 * 401 and 403 carry their own advice (the token, the ClusterRole).
 */
static const char *review_hint(int code)
{
	switch (code) {
	case K8S_EUNAUTHORIZED:
	case K8S_EFORBIDDEN:
		return "";
	case K8S_ETRANSPORT:
		return "; check that the webhook can reach the Kubernetes API "
		       "(address, network policy, CA); the request can be "
		       "retried";
	default:
		return "; check the health of the Kubernetes API and the "
		       "webhook's access to it (ClusterRole "
		       "system:auth-delegator); the request can be retried";
	}
}

/*
 * The verdict for @user and @attrs; with @may_block false, -EWOULDBLOCK
 * when it takes a review (a call to the API).
 */
/*
 * One review per question at a time: when a verdict expires under load,
 * every request in flight misses it at once and each would ask the API
 * server (16 workers: 16 reviews).  The first asks; the others wait for
 * its verdict.  Returns the slot to release with review_end() (-1: none
 * free, ask anyway), or -2 after waiting (look in the cache again).
 */
static int review_begin(struct authz *z, const char *key, size_t len)
{
	bool waited = false;
	int slot = -1;

	pthread_mutex_lock(&z->lock);
	for (;;) {
		bool busy = false;

		slot = -1;
		for (int i = 0; i < AUTHZ_PENDING_MAX; i++) {
			if (z->pending[i].key == NULL) {
				if (slot < 0)
					slot = i;
			} else if (z->pending[i].len == len &&
				   memcmp(z->pending[i].key, key, len) == 0) {
				busy = true;
			}
		}
		if (!busy)
			break;
		pthread_cond_wait(&z->reviewed, &z->lock);
		waited = true;
	}
	if (waited) {
		slot = -2;
	} else if (slot >= 0) {
		z->pending[slot].key = malloc(len);
		if (z->pending[slot].key == NULL) {
			slot = -1;
		} else {
			memcpy(z->pending[slot].key, key, len);
			z->pending[slot].len = len;
		}
	}
	pthread_mutex_unlock(&z->lock);
	return slot;
}

static void review_end(struct authz *z, int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&z->lock);
	free(z->pending[slot].key);
	z->pending[slot].key = NULL;
	pthread_cond_broadcast(&z->reviewed);
	pthread_mutex_unlock(&z->lock);
}

static int authz_decide(struct authz *authz, const struct auth_user *user,
			const struct authz_attrs *attrs, char *reason,
			size_t reasonlen, bool may_block)
{
	const char **groups = NULL;
	char *key = NULL, err[256];
	size_t keylen = 0, ngroups = 0;
	bool allowed = false, has_authenticated = false;
	int slot = -1;
	int ret;

	reason[0] = '\0';
	if (authz->mode == AUTHZ_ALLOW_AUTHENTICATED)
		return 1;
	for (size_t i = 0; i < user->ngroups; i++) {
		/* k8s.io/apiserver: system:masters skips the review. */
		if (strcmp(user->groups[i], "system:masters") == 0)
			return 1;
		if (strcmp(user->groups[i], "system:authenticated") == 0)
			has_authenticated = true;
	}
	ret = review_key(user, attrs, &key, &keylen);
	if (ret < 0) {
		snprintf(reason, reasonlen,
			 "the authorization review failed: out of memory");
		goto out;
	}
	ret = cache_get(authz, key, keylen, reason, reasonlen);
	if (ret >= 0)
		goto out;
	if (!may_block) {
		ret = -EWOULDBLOCK;
		goto out;
	}
	slot = review_begin(authz, key, keylen);
	if (slot == -2) {
		/* Another request's review ended: its verdict, or ask. */
		slot = -1;
		ret = cache_get(authz, key, keylen, reason, reasonlen);
		if (ret >= 0)
			goto out;
	}

	groups = calloc(user->ngroups + 1, sizeof(*groups));
	if (groups == NULL) {
		snprintf(reason, reasonlen,
			 "the authorization review failed: out of memory");
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < user->ngroups; i++)
		groups[ngroups++] = user->groups[i];
	if (!has_authenticated)
		groups[ngroups++] = "system:authenticated";

	struct k8s_review review = {
	    .user = user->name,
	    .uid = user->uid,
	    .groups = groups,
	    .ngroups = ngroups,
	    .extra_keys = (const char *const *)user->extra_keys,
	    .extra_values = (const char *const *)user->extra_values,
	    .nextra = user->nextra,
	    .verb = attrs->verb,
	    .group = attrs->group,
	    .version = attrs->version,
	    .resource = attrs->resource,
	    .path = attrs->path,
	};
	atomic_fetch_add(&authz->reviews, 1);
	ret = k8s_access_review(authz->api, &review, &allowed, reason,
				reasonlen, err, sizeof(err));
	if (ret < 0) {
		/*
		 * No verdict: not cached, so the next call asks again.  The
		 * text goes to the caller (kube-apiserver answers 500 with
		 * it), so it says what failed and what to look at; the k8s
		 * errors name the API's address, never its credentials.
		 */
		snprintf(reason, reasonlen,
			 "the authorization review failed: %s%s", err,
			 review_hint(ret));
		goto out;
	}
	cache_put(authz, key, keylen, allowed, reason);
	key = NULL;
	ret = allowed ? 1 : 0;
out:
	review_end(authz, slot);
	free(groups);
	free(key);
	return ret;
}

int authz_check(struct authz *authz, const struct auth_user *user,
		const struct authz_attrs *attrs, char *reason, size_t reasonlen)
{
	return authz_decide(authz, user, attrs, reason, reasonlen, true);
}

int authz_peek(struct authz *authz, const struct auth_user *user,
	       const struct authz_attrs *attrs, char *reason, size_t reasonlen)
{
	return authz_decide(authz, user, attrs, reason, reasonlen, false);
}

const char *authz_forbidden_message(const struct auth_user *user,
				    const struct authz_attrs *attrs,
				    const char *reason, char *buf,
				    size_t buflen)
{
	const char *name = user != NULL && user->name != NULL ? user->name : "";
	int n;

	/* k8s.io/apiserver/pkg/endpoints/handlers/responsewriters.forbiddenMessage
	 */
	if (attrs->resource != NULL)
		n = snprintf(buf, buflen,
			     "%s.%s is forbidden: User \"%s\" cannot %s "
			     "resource \"%s\" in API group \"%s\" at the "
			     "cluster scope",
			     attrs->resource, attrs->group, name, attrs->verb,
			     attrs->resource, attrs->group);
	else
		n = snprintf(buf, buflen,
			     "forbidden: User \"%s\" cannot %s path \"%s\"",
			     name, attrs->verb, attrs->path);
	if (reason != NULL && reason[0] != '\0' && n > 0 && (size_t)n < buflen)
		snprintf(buf + n, buflen - (size_t)n, ": %s", reason);
	return buf;
}

char *authz_error_body(const char *cause, size_t *len)
{
	return status_internal_error(cause, len);
}
