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
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/k8s.h"
#include "server/auth.h"
#include "server/auth_internal.h"
#include "server/status.h"
#include "util/cache.h"

/* Verdicts kept at most. */
#define CACHE_MAX 4096
/* Verdicts live this long unless authz_new() is told otherwise. */
#define CACHE_TTL_MS 10000
/* The longest reviewer's reason a cached verdict keeps. */
#define VERDICT_REASON_MAX 255

struct authz {
	enum authz_mode mode;
	struct k8s_client *api;
	/* review_key() -> a verdict: '1' allowed or '0' denied, then the
	 * reviewer's reason; one lock, the TTL, one review per key. */
	struct util_cache *verdicts;
	atomic_ulong reviews;
};

int authz_new(struct authz **out, enum authz_mode mode, struct k8s_client *api,
	      unsigned ttl_ms)
{
	struct authz *z;
	int ret;

	*out = NULL;
	if (mode == AUTHZ_SUBJECT_ACCESS_REVIEW && api == NULL)
		return -EINVAL;
	z = calloc(1, sizeof(*z));
	if (z == NULL)
		return -ENOMEM;
	z->mode = mode;
	z->api = api;
	ret = util_cache_new(&z->verdicts, CACHE_MAX,
			     ttl_ms != 0 ? ttl_ms : CACHE_TTL_MS);
	if (ret < 0) {
		free(z);
		return ret;
	}
	*out = z;
	return 0;
}

void authz_free(struct authz *authz)
{
	if (authz == NULL)
		return;
	util_cache_free(authz->verdicts);
	free(authz);
}

unsigned long authz_reviews(struct authz *authz)
{
	return atomic_load(&authz->reviews);
}

/* Everything a review depends on, as one key of length-prefixed fields. */
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

/* The verdict in the cache value @value: 1 allowed, 0 denied. */
static int verdict_decode(const uint8_t *value, char *reason, size_t reasonlen)
{
	snprintf(reason, reasonlen, "%s", (const char *)value + 1);
	return value[0] == '1';
}

/* Cache a verdict (not cached when out of memory: the next call asks). */
static void verdict_store(struct authz *z, const char *key, size_t keylen,
			  bool allowed, const char *reason)
{
	char value[1 + VERDICT_REASON_MAX + 1];

	snprintf(value, sizeof(value), "%c%.*s", allowed ? '1' : '0',
		 VERDICT_REASON_MAX, reason);
	(void)util_cache_put(z->verdicts, key, keylen, value, strlen(value));
}

/* The cached verdict for @key, or -EWOULDBLOCK when it takes a review. */
static int verdict_cached(struct authz *z, const char *key, size_t keylen,
			  char *reason, size_t reasonlen)
{
	uint8_t *value = NULL;
	size_t len = 0;
	int ret;

	if (util_cache_get(z->verdicts, key, keylen, &value, &len) < 0)
		return -EWOULDBLOCK;
	ret = verdict_decode(value, reason, reasonlen);
	free(value);
	return ret;
}

/*
 * Ask the API with a SubjectAccessReview: 1 allowed, 0 denied (@reason may
 * hold the reviewer's reason), or a negative code with what failed and
 * what to look at in @reason.  system:authenticated is added to the groups
 * sent, as kube-apiserver does.
 */
static int review_ask(struct authz *z, const struct auth_user *user,
		      const struct authz_attrs *attrs, char *reason,
		      size_t reasonlen)
{
	const char **groups = NULL;
	size_t ngroups = 0;
	bool allowed = false, has_authenticated = false;
	char err[256];
	int ret = -ENOMEM;

	groups = calloc(user->ngroups + 1, sizeof(*groups));
	if (groups == NULL) {
		snprintf(reason, reasonlen,
			 "the authorization review failed: out of memory");
		goto out;
	}
	for (size_t i = 0; i < user->ngroups; i++) {
		groups[ngroups++] = user->groups[i];
		if (strcmp(user->groups[i], "system:authenticated") == 0)
			has_authenticated = true;
	}
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
	atomic_fetch_add(&z->reviews, 1);
	ret = k8s_access_review(z->api, &review, &allowed, reason, reasonlen,
				err, sizeof(err));
	if (ret < 0) {
		/*
		 * The text goes to the caller (kube-apiserver answers 500
		 * with it), so it says what failed and what to look at; the
		 * k8s errors name the API's address, never its credentials.
		 */
		snprintf(reason, reasonlen,
			 "the authorization review failed: %s%s", err,
			 review_hint(ret));
		goto out;
	}
	ret = allowed ? 1 : 0;
out:
	free(groups);
	return ret;
}

/*
 * The verdict for @key from the cache, or from a review.  One review per
 * question at a time: when a verdict expires under load, every request in
 * flight misses it at once and each would ask the API server (16 workers:
 * 16 reviews); the first asks, the others wait for its verdict.  No
 * verdict (a failed review) is not cached, so the next call asks again.
 */
static int verdict_fetch(struct authz *z, const struct auth_user *user,
			 const struct authz_attrs *attrs, const char *key,
			 size_t keylen, char *reason, size_t reasonlen)
{
	uint8_t *value = NULL;
	size_t len = 0;
	int ticket = -1, ret;

	ret = util_cache_fetch(z->verdicts, key, keylen, &value, &len, &ticket);
	if (ret == 0) {
		ret = verdict_decode(value, reason, reasonlen);
		free(value);
		return ret;
	}
	/* -ENOENT: ours to ask; -ENOMEM: ask anyway (ticket -1, a no-op). */
	ret = review_ask(z, user, attrs, reason, reasonlen);
	if (ret >= 0)
		verdict_store(z, key, keylen, ret == 1, reason);
	util_cache_done(z->verdicts, ticket);
	return ret;
}

/*
 * Whether @user is let through without a review: every authenticated user
 * in AllowAuthenticated mode, and (k8s.io/apiserver) system:masters.
 */
static bool review_skipped(const struct authz *z, const struct auth_user *user)
{
	if (z->mode == AUTHZ_ALLOW_AUTHENTICATED)
		return true;
	for (size_t i = 0; i < user->ngroups; i++)
		if (strcmp(user->groups[i], "system:masters") == 0)
			return true;
	return false;
}

/*
 * The verdict for @user and @attrs; with @may_block false, -EWOULDBLOCK
 * when it takes a review (a call to the API).
 */
static int authz_decide(struct authz *authz, const struct auth_user *user,
			const struct authz_attrs *attrs, char *reason,
			size_t reasonlen, bool may_block)
{
	char *key = NULL;
	size_t keylen = 0;
	int ret;

	reason[0] = '\0';
	if (review_skipped(authz, user))
		return 1;
	ret = review_key(user, attrs, &key, &keylen);
	if (ret < 0) {
		snprintf(reason, reasonlen,
			 "the authorization review failed: out of memory");
		return ret;
	}
	if (may_block)
		ret = verdict_fetch(authz, user, attrs, key, keylen, reason,
				    reasonlen);
	else
		ret = verdict_cached(authz, key, keylen, reason, reasonlen);
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
