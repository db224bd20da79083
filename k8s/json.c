/*
 * json.c - pure codecs of the Kubernetes objects this module reads and
 * writes (Secret, ConfigMap, SubjectAccessReview, Status).  No I/O, so the
 * unit tests feed them tables of bodies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "k8s/k8s_internal.h"

/* Deeper JSON than the API ever sends is refused by jansson at 2048. */
static json_t *k8s_json_load(const char *body, size_t len, const char *what,
			     char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root;

	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errlen,
			 "%s: the API's answer is not valid JSON (line %d: "
			 "%.120s)",
			 what, jerr.line, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen,
			 "%s: the API's answer is not a JSON object", what);
		json_decref(root);
		return NULL;
	}
	return root;
}

/* "kind" must be @kind when present (the API always sends it). */
static int k8s_json_kind(json_t *root, const char *kind, const char *what,
			 char *err, size_t errlen)
{
	json_t *k = json_object_get(root, "kind");

	if (k == NULL) {
		return 0;
	}
	if (!json_is_string(k) || strcmp(json_string_value(k), kind) != 0) {
		snprintf(err, errlen, "%s: the API's answer is not a %s%s%.60s",
			 what, kind, json_is_string(k) ? " but a " : "",
			 json_is_string(k) ? json_string_value(k) : "");
		return K8S_ERESPONSE;
	}
	return 0;
}

/* The data map of a Secret or ConfigMap; an absent one is empty. */
static int k8s_json_data(json_t *root, json_t **data, const char *what,
			 char *err, size_t errlen)
{
	*data = json_object_get(root, "data");
	if (*data != NULL && !json_is_object(*data) && !json_is_null(*data)) {
		snprintf(err, errlen,
			 "%s: the API's answer has a data field that is not "
			 "an object",
			 what);
		return K8S_ERESPONSE;
	}
	return 0;
}

/* "Secret ns/name has no key 'k' (keys: a, b)": the names are not secret. */
static int k8s_json_nokey(json_t *data, const char *what, const char *key,
			  char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	size_t off;
	int n;

	n = snprintf(err, errlen, "%s has no key '%.100s' (keys: ", what, key);
	off = n > 0 ? (size_t)n : 0;
	if (data == NULL || json_object_size(data) == 0) {
		n = snprintf(err + (off < errlen ? off : errlen),
			     off < errlen ? errlen - off : 0, "none");
		off += n > 0 ? (size_t)n : 0;
	} else {
		bool first = true;

		json_object_foreach(data, k, v)
		{
			(void)v;
			n = snprintf(err + (off < errlen ? off : errlen),
				     off < errlen ? errlen - off : 0,
				     "%s%.100s", first ? "" : ", ", k);
			off += n > 0 ? (size_t)n : 0;
			first = false;
		}
	}
	if (off < errlen) {
		snprintf(err + off, errlen - off, ")");
	}
	return K8S_ENOKEY;
}

/*
 * Load a GET answer for the @kind @ns/@name: its root (the caller drops
 * it) and data map (NULL when absent); @what gets "Kind ns/name".
 */
static int object_load(const char *body, size_t len, const char *kind,
		       const char *ns, const char *name, json_t **root,
		       json_t **data, char *what, size_t whatlen, char *err,
		       size_t errlen)
{
	int ret;

	*data = NULL;
	snprintf(what, whatlen, "%s %.100s/%.100s", kind, ns, name);
	*root = k8s_json_load(body, len, what, err, errlen);
	if (*root == NULL) {
		return K8S_ERESPONSE;
	}
	ret = k8s_json_kind(*root, kind, what, err, errlen);
	if (ret == 0) {
		ret = k8s_json_data(*root, data, what, err, errlen);
	}
	return ret;
}

/*
 * The string at data key @key: NULL with 0 when absent and not @required,
 * NULL with an error (K8S_ENOKEY, K8S_ERESPONSE) otherwise.
 */
static json_t *data_string(json_t *data, const char *what, const char *key,
			   bool required, int *ret, char *err, size_t errlen)
{
	json_t *v = json_is_object(data) ? json_object_get(data, key) : NULL;

	*ret = 0;
	if (v == NULL) {
		if (required) {
			*ret = k8s_json_nokey(data, what, key, err, errlen);
		}
		return NULL;
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s: data.%.100s is not a string", what,
			 key);
		*ret = K8S_ERESPONSE;
		return NULL;
	}
	return v;
}

int k8s_secret_parse(const char *body, size_t len, const char *ns,
		     const char *name, const char *key, uint8_t **value,
		     size_t *vlen, char *err, size_t errlen)
{
	char what[300];
	json_t *root;
	json_t *data;
	json_t *v;
	int ret;

	*value = NULL;
	*vlen = 0;
	ret = object_load(body, len, "Secret", ns, name, &root, &data, what,
			  sizeof(what), err, errlen);
	if (ret != 0) {
		goto out;
	}
	v = data_string(data, what, key, true, &ret, err, errlen);
	if (v == NULL) {
		goto out;
	}
	ret = k8s_base64_decode(json_string_value(v), json_string_length(v),
				value, vlen);
	if (ret == -EINVAL) {
		snprintf(err, errlen, "%s: data.%.100s is not valid base64",
			 what, key);
		ret = K8S_ERESPONSE;
	}
out:
	/*
	 * jansson's copy of the base64 text is freed unwiped; it is what
	 * travelled over the wire, the decoded copy is the one we control.
	 */
	json_decref(root);
	return ret;
}

/* Keys @keys of a ConfigMap; absent ones NULL unless @required. */
static int configmap_parse(const char *body, size_t len, const char *ns,
			   const char *name, const char *const *keys,
			   size_t nkeys, char **values, bool required,
			   char *err, size_t errlen)
{
	char what[300];
	json_t *root;
	json_t *data;
	int ret;

	for (size_t i = 0; i < nkeys; i++) {
		values[i] = NULL;
	}
	ret = object_load(body, len, "ConfigMap", ns, name, &root, &data, what,
			  sizeof(what), err, errlen);
	for (size_t i = 0; i < nkeys && ret == 0; i++) {
		json_t *v = data_string(data, what, keys[i], required, &ret,
					err, errlen);

		if (v != NULL) {
			values[i] = strndup(json_string_value(v),
					    json_string_length(v));
			if (values[i] == NULL) {
				snprintf(err, errlen, "out of memory");
				ret = -ENOMEM;
			}
		}
	}
	if (ret != 0) {
		for (size_t i = 0; i < nkeys; i++) {
			free(values[i]);
			values[i] = NULL;
		}
	}
	json_decref(root);
	return ret;
}

int k8s_configmap_parse(const char *body, size_t len, const char *ns,
			const char *name, const char *key, char **value,
			char *err, size_t errlen)
{
	return configmap_parse(body, len, ns, name, &key, 1, value, true, err,
			       errlen);
}

int k8s_configmap_parse_keys(const char *body, size_t len, const char *ns,
			     const char *name, const char *const *keys,
			     size_t nkeys, char **values, char *err,
			     size_t errlen)
{
	return configmap_parse(body, len, ns, name, keys, nkeys, values, false,
			       err, errlen);
}

/* Set @key to string @value in @obj; false when memory runs out. */
static bool k8s_json_set_str(json_t *obj, const char *key, const char *value)
{
	return json_object_set_new(obj, key, json_string(value)) == 0;
}

/* extra: the pairs grouped as key -> [values] (authentication.k8s.io). */
static json_t *k8s_review_extra(const struct k8s_review *r)
{
	json_t *extra = json_object();

	if (extra == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < r->nextra; i++) {
		json_t *list = json_object_get(extra, r->extra_keys[i]);

		if (list == NULL) {
			list = json_array();
			if (json_object_set_new(extra, r->extra_keys[i],
						list) != 0) {
				json_decref(extra);
				return NULL;
			}
		}
		if (json_array_append_new(
			list, json_string(r->extra_values[i])) != 0) {
			json_decref(extra);
			return NULL;
		}
	}
	return extra;
}

/* Whether @r has what a SubjectAccessReview needs; else why, in @err. */
static bool k8s_review_complete(const struct k8s_review *r, char *err,
				size_t errlen)
{
	bool ok = true;

	if (r == NULL || r->user == NULL || r->verb == NULL ||
	    (r->resource == NULL && r->path == NULL) ||
	    (r->ngroups > 0 && r->groups == NULL) ||
	    (r->nextra > 0 &&
	     (r->extra_keys == NULL || r->extra_values == NULL))) {
		snprintf(err, errlen,
			 "SubjectAccessReview needs a user, a verb and a "
			 "resource or a path");
		return false;
	}
	for (size_t i = 0; i < r->ngroups; i++) {
		ok = ok && r->groups[i] != NULL;
	}
	for (size_t i = 0; i < r->nextra; i++) {
		ok = ok && r->extra_keys[i] != NULL &&
		     r->extra_values[i] != NULL;
	}
	if (!ok) {
		snprintf(err, errlen,
			 "SubjectAccessReview: a group or extra is NULL");
	}
	return ok;
}

/* The verb and the resource (or non-resource path) into @attrs. */
static bool k8s_review_attrs(json_t *attrs, const struct k8s_review *r)
{
	bool ok = k8s_json_set_str(attrs, "verb", r->verb);

	if (r->resource != NULL) {
		ok = ok &&
		     k8s_json_set_str(attrs, "group",
				      r->group != NULL ? r->group : "") &&
		     k8s_json_set_str(attrs, "version",
				      r->version != NULL ? r->version : "") &&
		     k8s_json_set_str(attrs, "resource", r->resource);
	} else {
		ok = ok && k8s_json_set_str(attrs, "path", r->path);
	}
	return ok;
}

/* Who asks: user, uid, @groups (already in @spec) and extra. */
static bool k8s_review_user(json_t *spec, json_t *groups,
			    const struct k8s_review *r)
{
	bool ok = k8s_json_set_str(spec, "user", r->user);

	if (r->uid != NULL && r->uid[0] != '\0') {
		ok = ok && k8s_json_set_str(spec, "uid", r->uid);
	}
	for (size_t i = 0; i < r->ngroups; i++) {
		ok = ok && json_array_append_new(
			       groups, json_string(r->groups[i])) == 0;
	}
	if (ok && r->nextra > 0) {
		json_t *extra = k8s_review_extra(r);

		ok = extra != NULL &&
		     json_object_set_new(spec, "extra", extra) == 0;
	}
	return ok;
}

char *k8s_review_body(const struct k8s_review *r, char *err, size_t errlen)
{
	json_t *root = NULL;
	json_t *spec;
	json_t *attrs;
	json_t *groups;
	char *text = NULL;

	if (!k8s_review_complete(r, err, errlen)) {
		return NULL;
	}
	/*
	 * Attach every container as soon as it exists: json_object_set_new
	 * steals the reference even when it fails, so one decref of root
	 * frees everything on any path.  The keys keep this order in the
	 * text.
	 */
	root = json_object();
	if (root == NULL) {
		goto out;
	}
	spec = json_object();
	if (json_object_set_new(root, "spec", spec) != 0) {
		goto out;
	}
	attrs = json_object();
	if (json_object_set_new(spec,
				r->resource != NULL ? "resourceAttributes"
						    : "nonResourceAttributes",
				attrs) != 0) {
		goto out;
	}
	groups = json_array();
	if (json_object_set_new(spec, "groups", groups) != 0) {
		goto out;
	}
	if (k8s_json_set_str(root, "apiVersion", "authorization.k8s.io/v1") &&
	    k8s_json_set_str(root, "kind", "SubjectAccessReview") &&
	    k8s_review_attrs(attrs, r) && k8s_review_user(spec, groups, r)) {
		text = json_dumps(root, JSON_COMPACT);
	}
out:
	json_decref(root);
	if (text == NULL) {
		snprintf(err, errlen,
			 "SubjectAccessReview: cannot encode the request "
			 "(invalid UTF-8 or out of memory)");
	}
	return text;
}

int k8s_review_parse(const char *body, size_t len, bool *allowed, char *reason,
		     size_t reasonlen, char *err, size_t errlen)
{
	static const char what[] = "SubjectAccessReview";
	json_t *root;
	json_t *status;
	json_t *a;
	json_t *d;
	const char *why;
	int ret;

	*allowed = false;
	if (reason != NULL && reasonlen > 0) {
		reason[0] = '\0';
	}
	root = k8s_json_load(body, len, what, err, errlen);
	if (root == NULL) {
		return K8S_ERESPONSE;
	}
	ret = k8s_json_kind(root, what, what, err, errlen);
	if (ret != 0) {
		goto out;
	}
	status = json_object_get(root, "status");
	a = json_object_get(status, "allowed");
	d = json_object_get(status, "denied");
	/* status.allowed is required; a verdict cannot be guessed. */
	if (!json_is_object(status) || !json_is_boolean(a) ||
	    (d != NULL && !json_is_boolean(d))) {
		snprintf(err, errlen,
			 "%s: the API's answer has no boolean status.allowed",
			 what);
		ret = K8S_ERESPONSE;
		goto out;
	}
	/* denied wins: "allowed: false, denied: true" is a firm no. */
	*allowed = json_is_true(a) && !json_is_true(d);
	why = json_string_value(json_object_get(status, "reason"));
	if (why == NULL || why[0] == '\0') {
		why = json_string_value(
		    json_object_get(status, "evaluationError"));
	}
	if (why != NULL && reason != NULL && reasonlen > 0) {
		snprintf(reason, reasonlen, "%s", why);
	}
out:
	json_decref(root);
	return ret;
}

void k8s_status_message(const char *body, size_t len, char *out, size_t outlen)
{
	json_t *root;
	const char *msg;
	size_t n = 0;

	if (outlen == 0) {
		return;
	}
	out[0] = '\0';
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (root == NULL) {
		return;
	}
	msg = json_string_value(json_object_get(root, "message"));
	if (msg != NULL && json_is_string(json_object_get(root, "kind")) &&
	    strcmp(json_string_value(json_object_get(root, "kind")),
		   "Status") == 0) {
		/* The text goes into our errors: printable ASCII only. */
		for (; *msg != '\0' && n + 1 < outlen && n < 400; msg++) {
			unsigned char c = (unsigned char)*msg;

			out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
		out[n] = '\0';
	}
	json_decref(root);
}
