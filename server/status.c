/*
 * status.c - Kubernetes Status bodies (see status.h).  Reasons and default
 * messages are those of k8s.io/apimachinery (pkg/api/errors and
 * metav1.StatusReason), so our answers read like kube-apiserver's.
 */
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

char *status_body(int code, const char *message,
		  const struct status_details *details, size_t *len)
{
	json_t *root = NULL, *det = NULL;
	char *out = NULL;

	/* json_string() refuses text that is not UTF-8: fall back then. */
	json_t *probe = message != NULL ? json_string(message) : NULL;
	if (probe == NULL)
		message = status_default_message(code);
	json_decref(probe);
	root = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind",
			 "Status", "apiVersion", "v1", "metadata", "status",
			 "Failure", "message", message, "reason",
			 status_reason(code), "code", code);
	if (root == NULL)
		goto out;
	if (details != NULL) {
		det = json_object();
		if (det == NULL)
			goto out;
		if (details->name != NULL)
			json_object_set_new(det, "name",
					    json_string(details->name));
		if (details->group != NULL)
			json_object_set_new(det, "group",
					    json_string(details->group));
		if (details->kind != NULL)
			json_object_set_new(det, "kind",
					    json_string(details->kind));
		/* Key order as kube-apiserver writes it: details before code.
		 */
		json_object_del(root, "code");
		json_object_set(root, "details", det);
		json_object_set_new(root, "code", json_integer(code));
	}
	out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (out != NULL && len != NULL)
		*len = strlen(out);
out:
	json_decref(det);
	json_decref(root);
	return out;
}
