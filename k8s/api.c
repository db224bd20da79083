/*
 * api.c - the API objects the webhook reads and creates: Secrets and
 * ConfigMaps (GET), SubjectAccessReviews (POST), each one k8s_call() of
 * client.c; an answer other than success becomes a code and a text that
 * says what to grant.  A client made for a secrets directory reads its
 * Secrets from there (secretdir.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/k8s_internal.h"
#include "util/file.h"

/*
 * An HTTP error status as a code and a text.  401/403/404 get their own
 * codes; the API's Status message is quoted (it names the user and the
 * verb, never a credential).
 */
static int k8s_http_error(const struct k8s_client *c, const struct k8s_resp *r,
			  const char *what, const char *hint, char *err,
			  size_t errlen)
{
	char msg[512];

	k8s_status_message(r->data, r->len, msg, sizeof(msg));
	switch (r->status) {
	case 401:
		snprintf(err, errlen,
			 "%s: the Kubernetes API at %s rejected our "
			 "credentials (401 %s); the token or client "
			 "certificate is invalid or expired",
			 what, k8s_client_describe(c),
			 msg[0] != '\0' ? msg : "Unauthorized");
		return K8S_EUNAUTHORIZED;
	case 403:
		snprintf(err, errlen, "%s is forbidden: %s%s", what,
			 msg[0] != '\0' ? msg : "403 Forbidden",
			 hint != NULL ? hint : "");
		return K8S_EFORBIDDEN;
	case 404:
		snprintf(err, errlen, "%s: not found (404)%s%s", what,
			 msg[0] != '\0' ? ": " : "", msg);
		return K8S_ENOTFOUND;
	default:
		snprintf(err, errlen, "%s: HTTP %ld from %s%s%s", what,
			 r->status, k8s_client_describe(c),
			 msg[0] != '\0' ? ": " : "", msg);
		return K8S_EHTTP;
	}
}

/*
 * Names that go into a URL path: Kubernetes names are DNS subdomains; the
 * check is looser but keeps every byte URL-safe and refuses "." and "..".
 */
static bool k8s_name_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > 253 || s[0] == '.') {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		      ch == '_')) {
			return false;
		}
	}
	return true;
}
/*
 * Whether namespace @ns and @name of a @kind fit a URL path and the key
 * is valid (@key_ok); else false with the three in @err.
 */
static bool k8s_names_ok(const char *kind, const char *ns, const char *name,
			 const char *key, bool key_ok, char *err, size_t errlen)
{
	if (k8s_name_ok(ns) && k8s_name_ok(name) && key_ok) {
		return true;
	}
	snprintf(err, errlen,
		 "%s %.100s/%.100s key '%.100s': not a valid namespace, name "
		 "or key",
		 kind, ns != NULL ? ns : "", name != NULL ? name : "",
		 key != NULL ? key : "");
	return false;
}

/*
 * GET the @kind ("Secret", "ConfigMap") @ns/@name at
 * /api/v1/namespaces/@ns/@resource/@name into @resp (the caller releases
 * it): 0 with a 200 answer, K8S_ENOTFOUND for a 404, or the error of
 * another answer with @hint (what to grant) added.
 */
static int object_get(struct k8s_client *c, const char *kind,
		      const char *resource, const char *ns, const char *name,
		      const char *hint, struct k8s_resp *resp, char *err,
		      size_t errlen)
{
	char what[300];
	char *path = NULL;
	int ret;

	snprintf(what, sizeof(what), "reading %s %s/%s", kind, ns, name);
	if (asprintf(&path, "/api/v1/namespaces/%s/%s/%s", ns, resource, name) <
	    0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = k8s_call(c, "GET", path, NULL, resp, what, err, errlen);
	if (ret == 0 && resp->status == 404) {
		snprintf(err, errlen, "%s %s/%s not found", kind, ns, name);
		ret = K8S_ENOTFOUND;
	} else if (ret == 0 && resp->status != 200) {
		ret = k8s_http_error(c, resp, what, hint, err, errlen);
	}
	free(path);
	return ret;
}

int k8s_secret_get(struct k8s_client *c, const char *ns, const char *name,
		   const char *key, uint8_t **value, size_t *len, char *err,
		   size_t errlen)
{
	struct k8s_resp resp = {0};
	char hint[200];
	int ret;

	*value = NULL;
	*len = 0;
	if (errlen > 0) {
		err[0] = '\0';
	}
	if (c == NULL) {
		snprintf(err, errlen, "no Kubernetes client");
		return K8S_ECONFIG;
	}
	if (k8s_client_dir(c) != NULL) {
		return k8s_secretdir_get(k8s_client_dir(c), ns, name, key,
					 value, len, err, errlen);
	}
	if (!k8s_names_ok("Secret", ns, name, key,
			  key != NULL && key[0] != '\0', err, errlen)) {
		return -EINVAL;
	}
	snprintf(hint, sizeof(hint),
		 "; grant the webhook's service account get on secrets in %s",
		 ns);
	ret = object_get(c, "Secret", "secrets", ns, name, hint, &resp, err,
			 errlen);
	if (ret != 0) {
		goto out;
	}
	ret = k8s_secret_parse(resp.data, resp.len, ns, name, key, value, len,
			       err, errlen);
out:
	k8s_resp_release(&resp);
	return ret;
}

void k8s_secret_free(uint8_t *value, size_t len)
{
	/* +1: the NUL terminator k8s_secret_get adds. */
	util_wipe_free(value, value != NULL ? len + 1 : 0);
}

/*
 * GET ConfigMap @ns/@name into @resp; @key, when not NULL, names the key
 * asked for in the error of invalid arguments.
 */
static int configmap_fetch(struct k8s_client *c, const char *ns,
			   const char *name, const char *key,
			   struct k8s_resp *resp, char *err, size_t errlen)
{
	char hint[200];

	if (c == NULL || k8s_client_dir(c) != NULL) {
		snprintf(err, errlen,
			 "reading ConfigMap %.100s/%.100s needs a Kubernetes "
			 "API; this client reads secrets from a directory",
			 ns != NULL ? ns : "", name != NULL ? name : "");
		return K8S_ECONFIG;
	}
	if (!k8s_names_ok("ConfigMap", ns, name, key,
			  key == NULL || key[0] != '\0', err, errlen)) {
		return -EINVAL;
	}
	/* kube-system/extension-apiserver-authentication has a role */
	if (strcmp(name, "extension-apiserver-authentication") == 0) {
		snprintf(hint, sizeof(hint),
			 "; bind the webhook's service account to the Role "
			 "%s/extension-apiserver-authentication-reader",
			 ns);
	} else {
		snprintf(hint, sizeof(hint),
			 "; grant the webhook's service account get on "
			 "configmaps in %s",
			 ns);
	}
	return object_get(c, "ConfigMap", "configmaps", ns, name, hint, resp,
			  err, errlen);
}

int k8s_configmap_get(struct k8s_client *c, const char *ns, const char *name,
		      const char *key, char **value, char *err, size_t errlen)
{
	struct k8s_resp resp = {0};
	int ret;

	*value = NULL;
	if (errlen > 0) {
		err[0] = '\0';
	}
	ret = configmap_fetch(c, ns, name, key != NULL ? key : "", &resp, err,
			      errlen);
	if (ret == 0) {
		ret = k8s_configmap_parse(resp.data, resp.len, ns, name, key,
					  value, err, errlen);
	}
	k8s_resp_release(&resp);
	return ret;
}

int k8s_configmap_get_keys(struct k8s_client *c, const char *ns,
			   const char *name, const char *const *keys,
			   size_t nkeys, char **values, char *err,
			   size_t errlen)
{
	struct k8s_resp resp = {0};
	const char *bad = NULL;
	int ret;

	for (size_t i = 0; i < nkeys; i++) {
		values[i] = NULL;
		if (bad == NULL && (keys[i] == NULL || keys[i][0] == '\0'))
			bad = "";
	}
	if (errlen > 0) {
		err[0] = '\0';
	}
	ret = configmap_fetch(c, ns, name, bad, &resp, err, errlen);
	if (ret == 0) {
		ret =
		    k8s_configmap_parse_keys(resp.data, resp.len, ns, name,
					     keys, nkeys, values, err, errlen);
	}
	k8s_resp_release(&resp);
	return ret;
}

int k8s_access_review(struct k8s_client *c, const struct k8s_review *review,
		      bool *allowed, char *reason, size_t reasonlen, char *err,
		      size_t errlen)
{
	static const char what[] = "SubjectAccessReview";
	struct k8s_resp resp = {0};
	char *body = NULL;
	int ret;

	*allowed = false;
	if (reason != NULL && reasonlen > 0) {
		reason[0] = '\0';
	}
	if (errlen > 0) {
		err[0] = '\0';
	}
	if (c == NULL || k8s_client_dir(c) != NULL) {
		snprintf(err, errlen,
			 "SubjectAccessReview needs a Kubernetes API; this "
			 "client reads secrets from a directory");
		return K8S_ECONFIG;
	}
	body = k8s_review_body(review, err, errlen);
	if (body == NULL) {
		return -EINVAL;
	}
	ret = k8s_call(c, "POST",
		       "/apis/authorization.k8s.io/v1/subjectaccessreviews",
		       body, &resp, what, err, errlen);
	if (ret != 0) {
		goto out;
	}
	/* create answers 201; some proxies and old servers say 200 */
	if (resp.status != 201 && resp.status != 200) {
		ret = k8s_http_error(
		    c, &resp, "creating a SubjectAccessReview",
		    "; grant the webhook's service account create on "
		    "subjectaccessreviews.authorization.k8s.io (ClusterRole "
		    "system:auth-delegator)",
		    err, errlen);
		goto out;
	}
	ret = k8s_review_parse(resp.data, resp.len, allowed, reason, reasonlen,
			       err, errlen);
out:
	if (ret != 0) {
		*allowed = false; /* never an allow on failure */
	}
	k8s_resp_release(&resp);
	free(body);
	return ret;
}
