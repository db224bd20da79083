/*
 * codec.c - decode cert-manager's ChallengePayload and encode the answers.
 *
 * The field names and types are those of cert-manager's
 * pkg/acme/webhook/apis/acme/v1alpha1 ChallengeRequest/ChallengeResponse;
 * the Status body is Kubernetes' metav1.Status.  Nothing here does I/O or
 * logs: every problem is a sentence in the caller's buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/codec.h"
#include "server/status.h"

/* Bounds of the strings we keep, in bytes (the key is a TXT value). */
#define UID_MAX	     256
#define NAME_MAX_LEN 1024
#define KEY_MAX	     4096
#define NS_MAX	     253
#define FQDN_MAX     255

/* How one request string field is read. */
struct str_field {
	const char *name; /* JSON name */
	size_t off;	  /* offset of the char * in struct challenge */
	bool required;
	bool nonempty; /* "" is an error too */
	size_t max;
};

static const struct str_field str_fields[] = {
    {"uid", offsetof(struct challenge, uid), false, false, UID_MAX},
    {"type", offsetof(struct challenge, type), false, false, 64},
    {"dnsName", offsetof(struct challenge, dns_name), false, false,
     NAME_MAX_LEN},
    {"key", offsetof(struct challenge, key), true, true, KEY_MAX},
    {"resourceNamespace", offsetof(struct challenge, resource_namespace), true,
     true, NS_MAX},
    {"resolvedFQDN", offsetof(struct challenge, resolved_fqdn), true, true,
     FQDN_MAX},
    {"resolvedZone", offsetof(struct challenge, resolved_zone), false, false,
     FQDN_MAX},
};

const char *challenge_action_text(enum challenge_action action)
{
	return action == CHALLENGE_CLEANUP ? "CleanUp" : "Present";
}

const char *codec_json_type(const json_t *v)
{
	if (v == NULL)
		return "nothing";
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

/*
 * Check the nesting depth before jansson builds a tree: its own limit
 * (2048) is far above anything a ChallengePayload needs, and a deep body is
 * cheap to send and costly to free.  Brackets inside strings do not count.
 */
static int depth_check(const char *body, size_t len, char *err, size_t errlen)
{
	bool in_str = false;
	bool esc = false;
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		char c = body[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > CODEC_DEPTH_MAX) {
				snprintf(err, errlen,
					 "the body nests JSON deeper than %d "
					 "levels",
					 CODEC_DEPTH_MAX);
				return -EINVAL;
			}
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return 0;
}

/* Copy a kept string out of the tree, so the tree can be freed. */
static int str_copy(char **dst, const char *src, size_t len)
{
	*dst = malloc(len + 1);
	if (*dst == NULL)
		return -ENOMEM;
	memcpy(*dst, src, len);
	(*dst)[len] = '\0';
	return 0;
}

/* kind and apiVersion are optional; when present they must be ours. */
static int header_check(const json_t *root, const char *field, const char *want,
			char *err, size_t errlen)
{
	const json_t *v = json_object_get(root, field);

	if (v == NULL)
		return 0;
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s must be a string, got %s", field,
			 codec_json_type(v));
		return -EINVAL;
	}
	if (strcmp(json_string_value(v), want) != 0) {
		snprintf(err, errlen, "%s must be %s, got \"%.64s\"", field,
			 want, json_string_value(v));
		return -EINVAL;
	}
	return 0;
}

static int str_field_read(struct challenge *ch, const json_t *req,
			  const struct str_field *f, char *err, size_t errlen)
{
	const json_t *v = json_object_get(req, f->name);
	char **dst = (char **)((char *)ch + f->off);
	size_t len;

	if (v == NULL || json_is_null(v)) {
		if (f->required) {
			snprintf(err, errlen, "request.%s is missing", f->name);
			return -EINVAL;
		}
		return str_copy(dst, "", 0);
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "request.%s must be a string, got %s",
			 f->name, codec_json_type(v));
		return -EINVAL;
	}
	len = json_string_length(v);
	if (len == 0 && f->nonempty) {
		snprintf(err, errlen, "request.%s must not be empty", f->name);
		return -EINVAL;
	}
	if (len > f->max) {
		snprintf(err, errlen,
			 "request.%s is too long (%zu bytes, at most %zu)",
			 f->name, len, f->max);
		return -EINVAL;
	}
	return str_copy(dst, json_string_value(v), len);
}

static int request_read(struct challenge *ch, const json_t *req, char *err,
			size_t errlen)
{
	const json_t *v;
	int ret;

	v = json_object_get(req, "action");
	if (v == NULL) {
		snprintf(err, errlen, "request.action is missing");
		return -EINVAL;
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "request.action must be a string, got %s",
			 codec_json_type(v));
		return -EINVAL;
	}
	/* Go's ChallengeAction values, compared exactly as cert-manager. */
	if (strcmp(json_string_value(v), "Present") == 0) {
		ch->action = CHALLENGE_PRESENT;
	} else if (strcmp(json_string_value(v), "CleanUp") == 0) {
		ch->action = CHALLENGE_CLEANUP;
	} else {
		snprintf(err, errlen,
			 "request.action must be Present or CleanUp, got "
			 "\"%.64s\"",
			 json_string_value(v));
		return -EINVAL;
	}

	for (size_t i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]);
	     i++) {
		ret = str_field_read(ch, req, &str_fields[i], err, errlen);
		if (ret < 0)
			return ret;
	}
	if (ch->type[0] != '\0' && strcmp(ch->type, "dns-01") != 0) {
		snprintf(err, errlen,
			 "request.type must be dns-01, got \"%.64s\"",
			 ch->type);
		return -EINVAL;
	}

	v = json_object_get(req, "allowAmbientCredentials");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_boolean(v)) {
			snprintf(err, errlen,
				 "request.allowAmbientCredentials must be a "
				 "boolean, got %s",
				 codec_json_type(v));
			return -EINVAL;
		}
		ch->allow_ambient_credentials = json_is_true(v);
	}

	/* apiextensionsv1.JSON: any object; absent and null mean none. */
	v = json_object_get(req, "config");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_object(v)) {
			snprintf(err, errlen,
				 "request.config must be an object, got %s",
				 codec_json_type(v));
			return -EINVAL;
		}
		ch->config = json_incref((json_t *)v);
	}
	return 0;
}

int challenge_decode(struct challenge *ch, const char *body, size_t len,
		     char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = NULL;
	const json_t *req;
	int ret = -EINVAL;

	memset(ch, 0, sizeof(*ch));
	if (body == NULL || len == 0) {
		snprintf(err, errlen, "the body is empty");
		goto out;
	}
	if (len > CODEC_BODY_MAX) {
		snprintf(err, errlen,
			 "the body is too large (%zu bytes, at most %d)", len,
			 CODEC_BODY_MAX);
		goto out;
	}
	ret = depth_check(body, len, err, errlen);
	if (ret < 0)
		goto out;
	ret = -EINVAL;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			  &jerr);
	if (root == NULL) {
		snprintf(err, errlen,
			 "the body is not valid JSON: %s (line %d, column %d)",
			 jerr.text, jerr.line, jerr.column);
		goto out;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "the body must be a JSON object, got %s",
			 codec_json_type(root));
		goto out;
	}
	ret = header_check(root, "kind", CHALLENGE_KIND, err, errlen);
	if (ret == 0)
		ret = header_check(root, "apiVersion", CHALLENGE_API_VERSION,
				   err, errlen);
	if (ret < 0)
		goto out;
	ret = -EINVAL;
	req = json_object_get(root, "request");
	if (req == NULL || json_is_null(req)) {
		snprintf(err, errlen, "request is missing");
		goto out;
	}
	if (!json_is_object(req)) {
		snprintf(err, errlen, "request must be an object, got %s",
			 codec_json_type(req));
		goto out;
	}
	ret = request_read(ch, req, err, errlen);
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory");
out:
	json_decref(root);
	if (ret < 0)
		challenge_release(ch);
	return ret;
}

void challenge_release(struct challenge *ch)
{
	if (ch == NULL)
		return;
	free(ch->uid);
	free(ch->type);
	free(ch->dns_name);
	free(ch->key);
	free(ch->resource_namespace);
	free(ch->resolved_fqdn);
	free(ch->resolved_zone);
	json_decref(ch->config);
	memset(ch, 0, sizeof(*ch));
}

/* Serialise @root into *@out and free it; -ENOMEM when anything failed. */
static int dump(json_t *root, bool built, char **out, size_t *outlen)
{
	int ret = -ENOMEM;

	*out = NULL;
	*outlen = 0;
	if (root == NULL || !built)
		goto out;
	*out = json_dumps(root, JSON_COMPACT);
	if (*out == NULL)
		goto out;
	*outlen = strlen(*out);
	ret = 0;
out:
	json_decref(root);
	return ret;
}

int challenge_encode(const struct challenge *ch, bool success,
		     const char *message, char **out, size_t *outlen)
{
	json_t *root = json_object();
	json_t *req = json_object();
	json_t *resp = json_object();
	bool ok = root != NULL && req != NULL && resp != NULL;

	/* The echoed request, in cert-manager's field order. */
	ok = ok &&
	     json_object_set_new(req, "uid", status_text_new(ch->uid)) == 0;
	ok = ok && json_object_set_new(
		       req, "action",
		       json_string(challenge_action_text(ch->action))) == 0;
	ok = ok &&
	     json_object_set_new(req, "type", status_text_new(ch->type)) == 0;
	ok = ok && json_object_set_new(req, "dnsName",
				       status_text_new(ch->dns_name)) == 0;
	ok = ok &&
	     json_object_set_new(req, "key", status_text_new(ch->key)) == 0;
	ok = ok &&
	     json_object_set_new(req, "resourceNamespace",
				 status_text_new(ch->resource_namespace)) == 0;
	ok = ok && json_object_set_new(req, "resolvedFQDN",
				       status_text_new(ch->resolved_fqdn)) == 0;
	ok = ok && json_object_set_new(req, "resolvedZone",
				       status_text_new(ch->resolved_zone)) == 0;
	ok = ok && json_object_set_new(
		       req, "allowAmbientCredentials",
		       json_boolean(ch->allow_ambient_credentials)) == 0;

	ok = ok &&
	     json_object_set_new(resp, "uid", status_text_new(ch->uid)) == 0;
	ok = ok &&
	     json_object_set_new(resp, "success", json_boolean(success)) == 0;
	if (ok && !success) {
		/* cert-manager reads an empty message as success. */
		if (message == NULL || message[0] == '\0')
			message = "the solver failed without saying why; "
				  "see the webhook's log";
		ok = json_object_set_new(
			 resp, "status",
			 json_pack("{s:{}, s:s, s:o}", "metadata", "status",
				   "Failure", "message",
				   status_text_new(message))) == 0;
	}

	ok = ok && json_object_set_new(root, "kind",
				       json_string(CHALLENGE_KIND)) == 0;
	ok = ok && json_object_set_new(root, "apiVersion",
				       json_string(CHALLENGE_API_VERSION)) == 0;
	ok = ok && json_object_set(root, "request", req) == 0;
	ok = ok && json_object_set(root, "response", resp) == 0;
	json_decref(req);
	json_decref(resp);
	return dump(root, ok, out, outlen);
}

int codec_status_encode(int code, const char *message, char **out,
			size_t *outlen)
{
	*out = status_body(code, message, NULL, outlen);
	return *out != NULL ? 0 : -ENOMEM;
}
