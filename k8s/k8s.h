/*
 * k8s.h - the whole contract of the k8s/ module: a small Kubernetes API
 * client (in-cluster configuration or a kubeconfig file) for the few calls
 * the webhook makes, and a directory-backed secret source for local use.
 *
 * k8s/ is a leaf library: it never logs and never exits.  Functions return
 * 0 or a negative code (a negated errno or K8S_E* below) and fill the
 * caller's error text buffer.  A client is safe to use from several threads
 * at once.  Secret values are wiped before their buffers are freed, and
 * neither secrets nor the bearer token ever appear in an error text.
 */
#ifndef RFC2136_K8S_H
#define RFC2136_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	K8S_ECONFIG =
	    -2000,     /* no usable configuration (kubeconfig, in-cluster) */
	K8S_ENOTFOUND, /* 404: the object does not exist */
	K8S_ENOKEY,    /* the object exists but has no such data key */
	K8S_EUNAUTHORIZED, /* 401: our credentials were rejected */
	K8S_EFORBIDDEN,	   /* 403: RBAC does not allow the call */
	K8S_EHTTP,	   /* any other HTTP error status */
	K8S_ERESPONSE,	   /* the response is not what the API returns */
	K8S_ETOOBIG,	   /* the response exceeds the size cap */
	K8S_ETRANSPORT,	   /* connection, TLS or timeout failure */
	K8S_ENOTREG,	   /* a file to read is not a regular file (FIFO) */
	K8S_ELAST
};

/* Text for any code this module returns (errno values included). */
const char *k8s_strerror(int code);

struct k8s_client;

/*
 * Create a client.  @kubeconfig: a kubeconfig path (server,
 * certificate-authority[-data], insecure-skip-tls-verify, token, tokenFile,
 * client-certificate[-data], client-key[-data], contexts, current-context),
 * or NULL for the in-cluster configuration (KUBERNETES_SERVICE_HOST/PORT,
 * the service account token, re-read as it rotates, and its CA).
 * @timeout_ms bounds each call (0: 10000).
 */
int k8s_client_new(struct k8s_client **client, const char *kubeconfig,
		   unsigned timeout_ms, char *err, size_t errlen);

/*
 * Create a client that reads secrets from a directory laid out like mounted
 * Secret volumes: @dir/<namespace>/<name>/<key> holds the stored bytes.
 * Only k8s_secret_get() works on it; the other calls return K8S_ECONFIG.
 */
int k8s_client_new_dir(struct k8s_client **client, const char *dir, char *err,
		       size_t errlen);

/* Free a client.  NULL-safe. */
void k8s_client_free(struct k8s_client *client);

/*
 * Bound every call this thread makes from now on by @deadline_ms
 * (CLOCK_MONOTONIC milliseconds; 0: only the client's own timeout), the
 * deadline of the request the thread serves (STYLE.md 16): a call gets
 * what is left (CURLOPT_TIMEOUT_MS) and fails at once, naming what it was
 * about to ask, when nothing is left.
 */
void k8s_deadline_set(uint64_t deadline_ms);

/* What one API call did, reported to the client's observer. */
struct k8s_call_info {
	const char *call;   /* "get_secret", "get_configmap",
			       "create_subjectaccessreview", "other" */
	const char *method; /* "GET", "POST" */
	const char *path;   /* below the server URL, no query */
	long status;	    /* HTTP status; 0 when no answer came */
	int code;	    /* 0 when an answer came, else K8S_E* / -errno */
	unsigned ms;	    /* duration of the exchange */
};

/*
 * Called after every API call (not for directory clients), on the calling
 * thread, with no lock held; for the caller's logs and metrics (k8s/ never
 * logs).  @info never holds a credential or a response body.
 */
typedef void k8s_observer_fn(void *arg, const struct k8s_call_info *info);

/*
 * Set (or with NULL clear) the observer of @client.  Call it before the
 * client is shared between threads.  NULL-safe.
 */
void k8s_client_set_observer(struct k8s_client *client, k8s_observer_fn *fn,
			     void *arg);

/* "https://host:port" or "dir:/path", for log lines.  Never a credential. */
const char *k8s_client_describe(const struct k8s_client *client);

/*
 * True when @client's K8S_EFORBIDDEN errors already say what to grant (an
 * API client: the Role the read needs); false for a secrets directory,
 * whose K8S_EFORBIDDEN is a file permission.  Callers add their own hint
 * only when this is false, never by reading the error text.
 */
bool k8s_client_forbidden_hinted(const struct k8s_client *client);

/*
 * Read data key @key of Secret @ns/@name: *@value gets the stored
 * (base64-decoded) bytes, NUL-terminated for convenience, *@len their
 * count.  Free with k8s_secret_free().  K8S_ENOTFOUND when the Secret does
 * not exist, K8S_ENOKEY when it lacks @key, K8S_EFORBIDDEN when RBAC
 * forbids the read; @err names the namespace, Secret and key.
 */
int k8s_secret_get(struct k8s_client *client, const char *ns, const char *name,
		   const char *key, uint8_t **value, size_t *len, char *err,
		   size_t errlen);

/* Wipe and free a value from k8s_secret_get().  NULL-safe. */
void k8s_secret_free(uint8_t *value, size_t len);

/*
 * Read data key @key of ConfigMap @ns/@name into a malloc'ed string
 * *@value (caller frees).  Errors as for k8s_secret_get().
 */
int k8s_configmap_get(struct k8s_client *client, const char *ns,
		      const char *name, const char *key, char **value,
		      char *err, size_t errlen);

/*
 * Read the data keys @keys[0..@nkeys) of ConfigMap @ns/@name in one GET:
 * @values[i] gets a malloc'ed copy of key @keys[i], or NULL when the
 * ConfigMap has no such key (caller frees each).  Errors as for
 * k8s_configmap_get() but for K8S_ENOKEY, which an absent key is not; on
 * error every value is NULL.
 */
int k8s_configmap_get_keys(struct k8s_client *client, const char *ns,
			   const char *name, const char *const *keys,
			   size_t nkeys, char **values, char *err,
			   size_t errlen);

/* One user's request to authorize, as a SubjectAccessReview spec. */
struct k8s_review {
	const char *user;
	const char *uid; /* may be NULL */
	const char *const *groups;
	size_t ngroups;
	/* extra: pairs (extra_keys[i], extra_values[i]); a key may repeat */
	const char *const *extra_keys;
	const char *const *extra_values;
	size_t nextra;
	/* resource attributes, used when resource is non-NULL ... */
	const char *verb;
	const char *group;
	const char *version;
	const char *resource;
	/* ... else non-resource attributes: verb and path */
	const char *path;
};

/*
 * POST a SubjectAccessReview for @review.  On success (0) *@allowed says
 * the verdict and @reason (may be NULL) gets status.reason or
 * status.evaluationError.  Any failure to get a verdict is an error, never
 * an allow.
 */
int k8s_access_review(struct k8s_client *client,
		      const struct k8s_review *review, bool *allowed,
		      char *reason, size_t reasonlen, char *err, size_t errlen);

#endif /* RFC2136_K8S_H */
