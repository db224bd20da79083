/*
 * status.c - Kubernetes Status bodies (see status.h).  Reasons and default
 * messages are those of k8s.io/apimachinery (pkg/api/errors and
 * metav1.StatusReason), so our answers read like kube-apiserver's.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server/status.h"

static const struct {
	int code;
	const char *reason;
	const char *message;
} statuses[] = {
    {400, "BadRequest",
     "the server rejected our request for an unknown reason"},
    {401, "Unauthorized", "Unauthorized"},
    {403, "Forbidden", "forbidden"},
    {404, "NotFound", "the server could not find the requested resource"},
    {405, "MethodNotAllowed",
     "the server does not allow this method on the requested resource"},
    {406, "NotAcceptable",
     "the server cannot produce a response in an acceptable media type"},
    {408, "Timeout", "the server timed out reading the request"},
    {413, "RequestEntityTooLarge", "the request is too large"},
    {415, "UnsupportedMediaType",
     "the body of the request was in an unknown format - accepted media types include: application/json"},
    {429, "TooManyRequests", "too many requests, please try again later"},
    {500, "InternalError",
     "an error on the server prevented the request from succeeding"},
    {503, "ServiceUnavailable",
     "the server is currently unable to handle the request"},
    {504, "Timeout",
     "the server was unable to return a response in the time allotted"},
};

static int status_find(int code)
{
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].code == code)
			return (int)i;
	return -1;
}

const char *status_reason(int code)
{
	int i = status_find(code);
	return i < 0 ? "InternalError" : statuses[i].reason;
}

const char *status_default_message(int code)
{
	int i = status_find(code);
	return i < 0
		   ? "an error on the server prevented the request from succeeding"
		   : statuses[i].message;
}

json_t *status_text_new(const char *s)
{
	json_t *v;
	char *copy;

	if (s == NULL)
		s = "";
	v = json_string(s);
	if (v != NULL)
		return v;
	copy = strdup(s);
	if (copy == NULL)
		return NULL;
	for (char *p = copy; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

char *status_body(int code, const char *message,
		  const struct status_details *details, size_t *len)
{
	json_t *root = NULL, *det = NULL;
	json_t *msg;
	char *out = NULL;
	bool ok;

	if (len != NULL)
		*len = 0;
	msg = status_text_new(message != NULL ? message
					      : status_default_message(code));
	if (msg == NULL)
		goto out;
	root = json_pack("{s:s, s:s, s:{}, s:s, s:o, s:s, s:i}", "kind",
			 "Status", "apiVersion", "v1", "metadata", "status",
			 "Failure", "message", msg, "reason",
			 status_reason(code), "code", code);
	if (root == NULL)
		goto out;
	if (details != NULL) {
		det = json_object();
		if (det == NULL)
			goto out;
		ok = details->name == NULL ||
		     json_object_set_new(det, "name",
					 status_text_new(details->name)) == 0;
		ok = ok &&
		     (details->group == NULL ||
		      json_object_set_new(
			  det, "group", status_text_new(details->group)) == 0);
		ok = ok &&
		     (details->kind == NULL ||
		      json_object_set_new(det, "kind",
					  status_text_new(details->kind)) == 0);
		ok = ok &&
		     (details->cause == NULL ||
		      json_object_set_new(
			  det, "causes",
			  json_pack("[{s:o}]", "message",
				    status_text_new(details->cause))) == 0);
		/* Key order as kube-apiserver writes it: details before code.
		 */
		ok = ok && json_object_del(root, "code") == 0 &&
		     json_object_set(root, "details", det) == 0 &&
		     json_object_set_new(root, "code", json_integer(code)) == 0;
		if (!ok)
			goto out;
	}
	out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (out != NULL && len != NULL)
		*len = strlen(out);
out:
	json_decref(det);
	json_decref(root);
	return out;
}

char *status_internal_error(const char *cause, size_t *len)
{
	const struct status_details details = {.cause = cause ? cause : ""};
	char *msg = NULL, *out;

	*len = 0;
	/* k8s.io/apimachinery/pkg/api/errors.NewInternalError */
	if (asprintf(&msg, "Internal error occurred: %s", details.cause) < 0)
		return NULL;
	out = status_body(500, msg, &details, len);
	free(msg);
	return out;
}
