/*
 * error.c - the k8s/ module's error texts, one table (STYLE.md 3).
 */
#include <string.h>

#include "k8s/k8s.h"

static const char *const k8s_errors[] = {
    [0] = "no usable Kubernetes configuration",
    [1] = "object not found",
    [2] = "object has no such key",
    [3] = "Kubernetes API rejected the credentials",
    [4] = "forbidden by Kubernetes RBAC",
    [5] = "Kubernetes API HTTP error",
    [6] = "malformed Kubernetes API response",
    [7] = "Kubernetes API response too big",
    [8] = "cannot reach the Kubernetes API",
    [9] = "not a regular file",
};

_Static_assert(sizeof(k8s_errors) / sizeof(k8s_errors[0]) ==
		   K8S_ELAST - K8S_ECONFIG,
	       "every K8S_E* code needs a text");

const char *k8s_strerror(int code)
{
	if (code == 0) {
		return "success";
	}
	if (code >= K8S_ECONFIG && code < K8S_ELAST) {
		return k8s_errors[code - K8S_ECONFIG];
	}
	/* errno values are small; K8S_E* start at -2000 */
	if (code < 0 && code > -1000) {
		return strerror(-code);
	}
	return "unknown error";
}
