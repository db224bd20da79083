/*
 * k8s_internal.h - what the files of k8s/ share with each other and with
 * their unit tests.  Not part of the module's contract: other modules
 * include k8s/k8s.h only.
 */
#ifndef RFC2136_K8S_INTERNAL_H
#define RFC2136_K8S_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s/k8s.h"

/* Every Kubernetes API response, kubeconfig and secret file is capped. */
#define K8S_MAX_BODY (1024 * 1024)

/* A service account token is a JWT of a few KiB; anything bigger is wrong. */
#define K8S_MAX_TOKEN (64 * 1024)

/* Default directory of the in-cluster service account credentials. */
#define K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/*
 * How to reach one API server, from a kubeconfig or the in-cluster
 * environment.  Paths are absolute or relative to the working directory
 * (kubeconfig-relative paths are already resolved).  The *_data members
 * hold decoded PEM bytes; token and key_data are wiped on release.
 */
struct k8s_config {
	char *server; /* "https://host:port", no trailing '/' */
	char *ca_file;
	uint8_t *ca_data;
	size_t ca_len;
	bool insecure; /* insecure-skip-tls-verify */
	char *token;
	char *token_file; /* wins over token: it is re-read on each call */
	char *cert_file;
	uint8_t *cert_data;
	size_t cert_len;
	char *key_file;
	uint8_t *key_data;
	size_t key_len;
};

/*
 * Parse kubeconfig text @text (@len bytes) and fill @cfg with the cluster
 * and user of its current context (or of its only context when
 * current-context is not set).  @path names the file in error texts and
 * anchors relative file paths (it may be NULL: paths stay as written).
 * Returns 0 or K8S_ECONFIG (-ENOMEM) with @err naming the file and field.
 * Credentials never appear in @err.
 */
int k8s_kubeconfig_parse(struct k8s_config *cfg, const char *text, size_t len,
			 const char *path, char *err, size_t errlen);

/* Read the kubeconfig file @path and parse it as above. */
int k8s_kubeconfig_load(struct k8s_config *cfg, const char *path, char *err,
			size_t errlen);

/*
 * Fill @cfg from the in-cluster environment: KUBERNETES_SERVICE_HOST and
 * KUBERNETES_SERVICE_PORT, the token and ca.crt of the service account
 * directory (RFC2136_SERVICEACCOUNT_DIR overrides K8S_SA_DIR, for tests).
 */
int k8s_incluster_load(struct k8s_config *cfg, char *err, size_t errlen);

/* Wipe what is secret, free everything, leave @cfg zeroed.  NULL-safe. */
void k8s_config_release(struct k8s_config *cfg);

/*
 * Decode standard, padded base64 (RFC 4648 section 4) as the API server
 * writes Secret data.  *@out is NUL-terminated, malloc'ed; 0, -EINVAL for
 * anything that is not strict base64, or -ENOMEM.
 */
int k8s_base64_decode(const char *in, size_t inlen, uint8_t **out,
		      size_t *outlen);

/*
 * Read at most @max bytes of file @path into a NUL-terminated malloc'ed
 * buffer (util_file_read()).  0, -errno, or K8S_ETOOBIG when the file is
 * larger.  Any file
 * but a directory: a kubeconfig may come through a pipe (<(...)).
 */
int k8s_file_read(const char *path, size_t max, uint8_t **out, size_t *len);

/*
 * k8s_file_read() for files a tenant may have a hand in (--secrets-dir):
 * opened without blocking, and K8S_ENOTREG unless a regular file, so a
 * FIFO never holds the caller.
 */
int k8s_file_read_regular(const char *path, size_t max, uint8_t **out,
			  size_t *len);

/*
 * Decode a GET Secret response body and extract data key @key (decoded).
 * Errors: K8S_ERESPONSE (not a Secret), K8S_ENOKEY (listing the keys).
 */
int k8s_secret_parse(const char *body, size_t len, const char *ns,
		     const char *name, const char *key, uint8_t **value,
		     size_t *vlen, char *err, size_t errlen);

/* The same for a ConfigMap's data key; *@value is malloc'ed. */
int k8s_configmap_parse(const char *body, size_t len, const char *ns,
			const char *name, const char *key, char **value,
			char *err, size_t errlen);

/*
 * The ConfigMap's data keys @keys: @values[i] malloc'ed, NULL when the key
 * is absent.  On error (K8S_ERESPONSE, -ENOMEM) every value is NULL.
 */
int k8s_configmap_parse_keys(const char *body, size_t len, const char *ns,
			     const char *name, const char *const *keys,
			     size_t nkeys, char **values, char *err,
			     size_t errlen);

/*
 * The JSON body of a SubjectAccessReview for @review (malloc'ed text), or
 * NULL with @err filled when @review is incomplete or memory runs out.
 */
char *k8s_review_body(const struct k8s_review *review, char *err,
		      size_t errlen);

/* Decode a SubjectAccessReview answer: status.allowed/denied/reason. */
int k8s_review_parse(const char *body, size_t len, bool *allowed, char *reason,
		     size_t reasonlen, char *err, size_t errlen);

/*
 * The "message" of a Kubernetes Status body, sanitised to printable ASCII
 * and shortened, into @out; "" when @body is not a Status.
 */
void k8s_status_message(const char *body, size_t len, char *out, size_t outlen);

/* A response body, capped at K8S_MAX_BODY (curl DYNBUF's "toobig"). */
struct k8s_resp {
	char *data;
	size_t len;
	size_t cap;
	bool toobig;
	long status;
};

/*
 * One HTTP exchange (client.c): @method @path (below the server URL) with
 * an optional JSON @body.  0 when an HTTP answer arrived (any status, in
 * @resp, which the caller releases); K8S_ETRANSPORT, K8S_ETOOBIG,
 * K8S_ECONFIG or -ENOMEM otherwise.  @what starts every error text
 * ("reading Secret ns/name").  The client's observer sees every call.
 */
int k8s_call(struct k8s_client *c, const char *method, const char *path,
	     const char *body, struct k8s_resp *resp, const char *what,
	     char *err, size_t errlen);

/* Wipe and free @r's body, leave @r zeroed. */
void k8s_resp_release(struct k8s_resp *r);

/* The secrets directory of a client made by k8s_client_new_dir(), or NULL. */
const char *k8s_client_dir(const struct k8s_client *c);

/*
 * Key @key of Secret @ns/@name from the directory source (secretdir.c):
 * the file @dir/@ns/@name/@key, as k8s_secret_get() returns it.  -EINVAL
 * for names that are empty, hold '/' or start with '.'; K8S_ENOTFOUND,
 * K8S_ENOKEY (listing the keys), K8S_ETOOBIG, K8S_ENOTREG, K8S_EFORBIDDEN.
 */
int k8s_secretdir_get(const char *dir, const char *ns, const char *name,
		      const char *key, uint8_t **value, size_t *len, char *err,
		      size_t errlen);

#endif /* RFC2136_K8S_INTERNAL_H */
