/*
 * authn_user.c - the user a verified front proxy names in its request
 * headers (see auth.h): the first user and uid header, every group header,
 * and the extra headers by prefix, read as k8s.io/apiserver's
 * request-header authenticator reads them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/auth.h"
#include "server/auth_internal.h"

void auth_user_release(struct auth_user *user)
{
	if (user == NULL)
		return;
	free(user->name);
	free(user->uid);
	for (size_t i = 0; i < user->ngroups; i++)
		free(user->groups[i]);
	free(user->groups);
	for (size_t i = 0; i < user->nextra; i++) {
		free(user->extra_keys[i]);
		free(user->extra_values[i]);
	}
	free(user->extra_keys);
	free(user->extra_values);
	memset(user, 0, sizeof(*user));
}

/* Whether header @name is in @l (header names compare caselessly). */
static bool in_list(const struct strlist *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->items[i], name) == 0)
			return true;
	return false;
}

/* A lower-case hex digit's value, or -1 (extra_key() lower-cases first). */
static int hexval(char c)
{
	static const char digits[] = "0123456789abcdef";
	const char *p = c != '\0' ? strchr(digits, c) : NULL;

	return p != NULL ? (int)(p - digits) : -1;
}

/*
 * Kubernetes' extra key: lower-cased, then percent-decoded (url.PathUnescape);
 * a key that does not decode is kept as it is.
 */
static char *extra_key(const char *raw)
{
	size_t len = strlen(raw);
	char *lower = malloc(len + 1), *dec = malloc(len + 1);
	size_t j = 0;

	if (lower == NULL || dec == NULL)
		goto fail;
	for (size_t i = 0; i <= len; i++)
		lower[i] =
		    (raw[i] >= 'A' && raw[i] <= 'Z') ? raw[i] + 32 : raw[i];
	for (size_t i = 0; i < len; i++) {
		if (lower[i] != '%') {
			dec[j++] = lower[i];
			continue;
		}
		/* Never past the NUL: a bad first digit stops the reading. */
		int hi = hexval(lower[i + 1]);
		int lo = hi >= 0 ? hexval(lower[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(dec);
			return lower; /* not decodable: as sent */
		}
		dec[j++] = (char)(hi << 4 | lo);
		i += 2;
	}
	dec[j] = '\0';
	free(lower);
	return dec;
fail:
	free(lower);
	free(dec);
	return NULL;
}

int authn_header(struct authn *authn, struct auth_user *user, const char *name,
		 const char *value)
{
	struct authn_conf *conf;
	char *v = NULL, *k = NULL;
	int ret = 0;

	if (name == NULL || value == NULL)
		return 0;
	conf = authn_conf_get(authn);
	if (in_list(&conf->lists[AUTHN_USERNAME_HEADERS], name)) {
		if (user->name == NULL && (user->name = strdup(value)) == NULL)
			ret = -ENOMEM;
		goto out;
	}
	if (in_list(&conf->lists[AUTHN_UID_HEADERS], name)) {
		if (user->uid == NULL && (user->uid = strdup(value)) == NULL)
			ret = -ENOMEM;
		goto out;
	}
	if (in_list(&conf->lists[AUTHN_GROUP_HEADERS], name)) {
		v = strdup(value);
		if (v == NULL || strlist_push(&user->groups, &user->ngroups, v))
			goto nomem;
		v = NULL;
		goto out;
	}
	const struct strlist *prefixes = &conf->lists[AUTHN_EXTRA_PREFIXES];
	for (size_t i = 0; i < prefixes->n; i++) {
		const char *prefix = prefixes->items[i];
		size_t plen = strlen(prefix);
		if (strncasecmp(name, prefix, plen) != 0 || name[plen] == '\0')
			continue;
		k = extra_key(name + plen);
		v = strdup(value);
		if (k == NULL || v == NULL)
			goto nomem;
		size_t n = user->nextra;
		if (strlist_push(&user->extra_keys, &n, k))
			goto nomem;
		k = NULL;
		n = user->nextra;
		if (strlist_push(&user->extra_values, &n, v)) {
			/* keep keys and values paired */
			free(user->extra_keys[user->nextra]);
			goto nomem;
		}
		v = NULL;
		user->nextra++;
		goto out;
	}
	goto out;
nomem:
	ret = -ENOMEM;
out:
	authn_conf_put(conf);
	free(k);
	free(v);
	return ret;
}

int auth_user_check(const struct auth_user *user)
{
	return user->name == NULL || user->name[0] == '\0' ? AUTH_ENOUSER : 0;
}
