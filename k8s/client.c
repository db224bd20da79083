/*
 * client.c - the Kubernetes API client: libcurl (OpenSSL) over HTTPS with
 * a bearer token or a client certificate, bounded in time and size, and a
 * directory-backed secret source for use without a cluster.
 *
 * Threads: the client is immutable after creation except for a small pool
 * of idle curl easy handles under one mutex.  Each call takes a handle (or
 * makes one), so calls run in parallel; returning it to the pool keeps its
 * connection alive for the next call (no TLS handshake per request).
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "k8s/k8s_internal.h"

#ifndef VERSION
#define VERSION "dev"
#endif

#define K8S_POOL	    8
#define K8S_DEFAULT_TIMEOUT 10000

struct k8s_client {
	char *describe;
	char *dir; /* directory mode when non-NULL */
	struct k8s_config cfg;
	unsigned timeout_ms;
	pthread_mutex_t lock; /* guards idle[] and nidle */
	CURL *idle[K8S_POOL];
	size_t nidle;
	k8s_observer_fn *observer; /* set before the client is shared */
	void *observer_arg;
};

/* A response body, capped at K8S_MAX_BODY (curl DYNBUF's "toobig"). */
struct k8s_resp {
	char *data;
	size_t len;
	size_t cap;
	bool toobig;
	long status;
};

/* The deadline of the request this thread serves, 0: none. */
static _Thread_local uint64_t k8s_deadline;

void k8s_deadline_set(uint64_t deadline_ms)
{
	k8s_deadline = deadline_ms;
}

/*
 * What this call may wait: the client's timeout cut to the thread's
 * deadline; 0 when the deadline has passed.
 */
static unsigned k8s_wait_ms(const struct k8s_client *c)
{
	struct timespec now;
	uint64_t ms;

	if (k8s_deadline == 0)
		return c->timeout_ms;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
	if (ms >= k8s_deadline)
		return 0;
	return k8s_deadline - ms < c->timeout_ms ? (unsigned)(k8s_deadline - ms)
						 : c->timeout_ms;
}

static pthread_once_t k8s_curl_once = PTHREAD_ONCE_INIT;
static CURLcode k8s_curl_init_ret = CURLE_FAILED_INIT;

/* curl_global_init is not thread-safe: run it exactly once. */
static void k8s_curl_init(void)
{
	k8s_curl_init_ret = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int k8s_global_init(char *err, size_t errlen)
{
	pthread_once(&k8s_curl_once, k8s_curl_init);
	if (k8s_curl_init_ret != CURLE_OK) {
		snprintf(err, errlen, "libcurl initialisation failed: %s",
			 curl_easy_strerror(k8s_curl_init_ret));
		return -ENOMEM;
	}
	return 0;
}

static struct k8s_client *k8s_client_alloc(void)
{
	struct k8s_client *c = calloc(1, sizeof(*c));

	if (c != NULL && pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c);
		c = NULL;
	}
	return c;
}

int k8s_client_new(struct k8s_client **client, const char *kubeconfig,
		   unsigned timeout_ms, char *err, size_t errlen)
{
	struct k8s_client *c = NULL;
	int ret;

	*client = NULL;
	ret = k8s_global_init(err, errlen);
	if (ret != 0) {
		return ret;
	}
	c = k8s_client_alloc();
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->timeout_ms = timeout_ms != 0 ? timeout_ms : K8S_DEFAULT_TIMEOUT;
	if (kubeconfig != NULL) {
		ret = k8s_kubeconfig_load(&c->cfg, kubeconfig, err, errlen);
	} else {
		ret = k8s_incluster_load(&c->cfg, err, errlen);
	}
	if (ret != 0) {
		goto out;
	}
	c->describe = strdup(c->cfg.server);
	if (c->describe == NULL) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	*client = c;
	c = NULL;
out:
	k8s_client_free(c);
	return ret;
}

int k8s_client_new_dir(struct k8s_client **client, const char *dir, char *err,
		       size_t errlen)
{
	struct k8s_client *c = NULL;
	struct stat st;
	int ret;

	*client = NULL;
	if (dir == NULL || dir[0] == '\0') {
		snprintf(err, errlen, "secrets directory: no path given");
		return K8S_ECONFIG;
	}
	if (stat(dir, &st) != 0) {
		snprintf(err, errlen, "secrets directory %s: %s", dir,
			 strerror(errno));
		return K8S_ECONFIG;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "secrets directory %s: not a directory",
			 dir);
		return K8S_ECONFIG;
	}
	c = k8s_client_alloc();
	if (c == NULL || (c->dir = strdup(dir)) == NULL ||
	    asprintf(&c->describe, "dir:%s", dir) < 0) {
		if (c != NULL) {
			c->describe = NULL;
		}
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	*client = c;
	c = NULL;
	ret = 0;
out:
	k8s_client_free(c);
	return ret;
}

void k8s_client_free(struct k8s_client *c)
{
	if (c == NULL) {
		return;
	}
	/* Handles reference the config's PEM blobs: free them first. */
	for (size_t i = 0; i < c->nidle; i++) {
		curl_easy_cleanup(c->idle[i]);
	}
	k8s_config_release(&c->cfg);
	pthread_mutex_destroy(&c->lock);
	free(c->describe);
	free(c->dir);
	free(c);
}

void k8s_client_set_observer(struct k8s_client *c, k8s_observer_fn *fn,
			     void *arg)
{
	if (c == NULL) {
		return;
	}
	c->observer = fn;
	c->observer_arg = arg;
}

/* What kind of call @method @path is, for metrics labels. */
static const char *k8s_call_kind(const char *method, const char *path)
{
	if (strcmp(method, "GET") == 0 && strstr(path, "/secrets/") != NULL) {
		return "get_secret";
	}
	if (strcmp(method, "GET") == 0 &&
	    strstr(path, "/configmaps/") != NULL) {
		return "get_configmap";
	}
	if (strcmp(method, "POST") == 0 &&
	    strstr(path, "/subjectaccessreviews") != NULL) {
		return "create_subjectaccessreview";
	}
	return "other";
}

static long k8s_ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)((now.tv_sec - start->tv_sec) * 1000 +
		      (now.tv_nsec - start->tv_nsec) / 1000000);
}

const char *k8s_client_describe(const struct k8s_client *c)
{
	return c != NULL && c->describe != NULL ? c->describe : "(none)";
}

bool k8s_client_forbidden_hinted(const struct k8s_client *c)
{
	/* object_get() adds the hint to every 403 of the API (secrets). */
	return c != NULL && c->dir == NULL;
}

static CURL *k8s_handle_get(struct k8s_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->nidle > 0) {
		h = c->idle[--c->nidle];
	}
	pthread_mutex_unlock(&c->lock);
	if (h == NULL) {
		return curl_easy_init();
	}
	/* Options go, live connections and TLS sessions stay. */
	curl_easy_reset(h);
	return h;
}

static void k8s_handle_put(struct k8s_client *c, CURL *h)
{
	if (h == NULL) {
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (c->nidle < K8S_POOL) {
		c->idle[c->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (h != NULL) {
		curl_easy_cleanup(h);
	}
}

static size_t k8s_write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct k8s_resp *r = ud;
	size_t n = size * nmemb;

	if (n > K8S_MAX_BODY - r->len) {
		r->toobig = true;
		return 0; /* curl aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (r->len + n + 1 > r->cap) {
		size_t ncap = r->cap != 0 ? r->cap : 4096;
		char *nd;

		while (ncap < r->len + n + 1) {
			ncap *= 2;
		}
		/* Bodies may carry secret data: copy and wipe, no realloc. */
		nd = malloc(ncap);
		if (nd == NULL) {
			return 0;
		}
		if (r->len > 0) {
			memcpy(nd, r->data, r->len);
		}
		k8s_wipe_free(r->data, r->cap);
		r->data = nd;
		r->cap = ncap;
	}
	memcpy(r->data + r->len, ptr, n);
	r->len += n;
	r->data[r->len] = '\0';
	return n;
}

static void k8s_resp_release(struct k8s_resp *r)
{
	k8s_wipe_free(r->data, r->cap);
	memset(r, 0, sizeof(*r));
}

/* Wipe the header texts (the bearer token) before curl frees them. */
static void k8s_headers_free(struct curl_slist *h)
{
	for (struct curl_slist *n = h; n != NULL; n = n->next) {
		explicit_bzero(n->data, strlen(n->data));
	}
	curl_slist_free_all(h);
}

/*
 * Add "Authorization: Bearer <token>" to @hdrs.  A token file is re-read
 * on every call: a projected service account token rotates (by default
 * hourly) and the read costs microseconds.  The token is never quoted in
 * @err.
 */
static int k8s_auth_header(const struct k8s_client *c, struct curl_slist **hdrs,
			   char *err, size_t errlen)
{
	static const char prefix[] = "Authorization: Bearer ";
	uint8_t *filetok = NULL;
	size_t filelen = 0;
	const char *tok = c->cfg.token;
	size_t toklen;
	char *line = NULL;
	size_t linelen = 0;
	struct curl_slist *n;
	int ret;

	if (c->cfg.token_file != NULL) {
		ret = k8s_file_read(c->cfg.token_file, K8S_MAX_TOKEN, &filetok,
				    &filelen);
		if (ret != 0) {
			snprintf(err, errlen, "cannot read token file %s: %s",
				 c->cfg.token_file,
				 ret == K8S_ETOOBIG ? "too big"
						    : strerror(-ret));
			ret = K8S_ECONFIG;
			goto out;
		}
		tok = (const char *)filetok;
	}
	if (tok == NULL) {
		return 0; /* client certificate or anonymous */
	}
	toklen = strlen(tok);
	while (toklen > 0 &&
	       (tok[toklen - 1] == '\n' || tok[toklen - 1] == '\r' ||
		tok[toklen - 1] == ' ' || tok[toklen - 1] == '\t')) {
		toklen--;
	}
	/* Empty, or a NUL inside the file cut the token short. */
	if (toklen == 0 ||
	    (filetok != NULL && strlen((const char *)filetok) != filelen)) {
		snprintf(err, errlen,
			 "the bearer token%s%s is empty or not text",
			 c->cfg.token_file != NULL ? " in " : "",
			 c->cfg.token_file != NULL ? c->cfg.token_file : "");
		ret = K8S_ECONFIG;
		goto out;
	}
	for (size_t i = 0; i < toklen; i++) {
		/* A control character would split the HTTP header. */
		if ((unsigned char)tok[i] < 0x21 ||
		    (unsigned char)tok[i] == 0x7f) {
			snprintf(err, errlen,
				 "the bearer token%s%s contains a space or "
				 "control character",
				 c->cfg.token_file != NULL ? " in " : "",
				 c->cfg.token_file != NULL ? c->cfg.token_file
							   : "");
			ret = K8S_ECONFIG;
			goto out;
		}
	}
	linelen = sizeof(prefix) + toklen;
	line = malloc(linelen);
	if (line == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(line, prefix, sizeof(prefix) - 1);
	memcpy(line + sizeof(prefix) - 1, tok, toklen);
	line[linelen - 1] = '\0';
	n = curl_slist_append(*hdrs, line);
	if (n == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	*hdrs = n;
	ret = 0;
out:
	k8s_wipe_free(line, linelen);
	k8s_wipe_free(filetok, filelen);
	return ret;
}

/* TLS and client credentials from the configuration. */
static void k8s_setopt_tls(const struct k8s_client *c, CURL *h)
{
	const struct k8s_config *cfg = &c->cfg;

	curl_easy_setopt(h, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
	if (cfg->insecure) {
		/* Only when the kubeconfig says insecure-skip-tls-verify. */
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (cfg->ca_data != NULL) {
		/* certificate-authority-data wins over the file (clientcmd) */
		struct curl_blob b = {.data = cfg->ca_data,
				      .len = cfg->ca_len,
				      .flags = CURL_BLOB_NOCOPY};

		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
	} else if (cfg->ca_file != NULL) {
		curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
	}
	/* else: the system's CA store, verification still on. */
	if (cfg->cert_data != NULL) {
		struct curl_blob b = {.data = cfg->cert_data,
				      .len = cfg->cert_len,
				      .flags = CURL_BLOB_NOCOPY};

		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (cfg->cert_file != NULL) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->cert_file);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (cfg->key_data != NULL) {
		/* NOCOPY: curl keeps no copy of the key that we cannot wipe */
		struct curl_blob b = {.data = cfg->key_data,
				      .len = cfg->key_len,
				      .flags = CURL_BLOB_NOCOPY};

		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (cfg->key_file != NULL) {
		curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->key_file);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
}

/*
 * One HTTP exchange: @method @path (below the server URL) with an optional
 * JSON @body.  0 when an HTTP answer arrived (any status, in @resp);
 * K8S_ETRANSPORT, K8S_ETOOBIG, K8S_ECONFIG or -ENOMEM otherwise.  @what
 * starts every error text ("reading Secret ns/name").
 */
static int k8s_call(struct k8s_client *c, const char *method, const char *path,
		    const char *body, struct k8s_resp *resp, const char *what,
		    char *err, size_t errlen)
{
	char curlerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	struct curl_slist *n;
	char *url = NULL;
	CURL *h = NULL;
	CURLcode rc;
	struct timespec start;
	unsigned wait = k8s_wait_ms(c);
	int ret;

	memset(resp, 0, sizeof(*resp));
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (wait == 0) {
		snprintf(err, errlen,
			 "%s: the call's deadline passed before the Kubernetes "
			 "API was asked",
			 what);
		ret = K8S_ETRANSPORT;
		goto out;
	}
	if (asprintf(&url, "%s%s", c->cfg.server, path) < 0) {
		url = NULL;
		ret = -ENOMEM;
		goto out;
	}
	ret = k8s_auth_header(c, &hdrs, err, errlen);
	if (ret != 0) {
		goto out;
	}
	n = curl_slist_append(hdrs, "Accept: application/json");
	if (n != NULL) {
		hdrs = n;
		if (body != NULL) {
			n = curl_slist_append(hdrs,
					      "Content-Type: application/json");
			hdrs = n != NULL ? n : hdrs;
		}
	}
	h = k8s_handle_get(c);
	if (h == NULL || n == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* we run in threads */
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)wait);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)wait);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)K8S_MAX_BODY);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, k8s_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curlerr);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "rfc2136-webhook/" VERSION);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	k8s_setopt_tls(c, h);
	if (body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)strlen(body));
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	rc = curl_easy_perform(h);
	/* The header list is referenced by the handle until the next reset. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	if (resp->toobig || rc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(err, errlen,
			 "%s: the answer of %s %s is larger than %d bytes",
			 what, method, url, K8S_MAX_BODY);
		ret = K8S_ETOOBIG;
		goto out;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(err, errlen, "%s: %s %s: no answer within %u ms%s",
			 what, method, url, wait,
			 wait < c->timeout_ms ? " (the call's deadline)" : "");
		ret = K8S_ETRANSPORT;
		goto out;
	}
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s: %s %s: %s", what, method, url,
			 curlerr[0] != '\0' ? curlerr : curl_easy_strerror(rc));
		ret = rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : K8S_ETRANSPORT;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (resp->data == NULL) {
		resp->data = calloc(1, 1);
		resp->cap = 1;
		if (resp->data == NULL) {
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = 0;
out:
	if (ret == -ENOMEM && errlen > 0 && err[0] == '\0') {
		snprintf(err, errlen, "%s: out of memory", what);
	}
	k8s_handle_put(c, h);
	k8s_headers_free(hdrs);
	free(url);
	if (c->observer != NULL) {
		struct k8s_call_info info = {
		    .call = k8s_call_kind(method, path),
		    .method = method,
		    .path = path,
		    .status = ret == 0 ? resp->status : 0,
		    .code = ret,
		    .ms = (unsigned)k8s_ms_since(&start),
		};
		c->observer(c->observer_arg, &info);
	}
	if (ret != 0) {
		k8s_resp_release(resp);
	}
	return ret;
}

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
			 what, c->describe,
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
			 r->status, c->describe, msg[0] != '\0' ? ": " : "",
			 msg);
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

/* A path component of the secrets directory: no '/', no dot files. */
static bool k8s_component_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && s[0] != '.' &&
	       strchr(s, '/') == NULL && strlen(s) <= 253;
}

static int k8s_strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "(keys: a, b)" of a secret directory: its files without dot files. */
static void k8s_dir_keys(const char *path, char *out, size_t outlen)
{
	char *names[64];
	size_t nnames = 0;
	size_t off = 0;
	struct dirent *e;
	DIR *d = opendir(path);

	out[0] = '\0';
	if (d == NULL) {
		return;
	}
	while ((e = readdir(d)) != NULL && nnames < 64) {
		struct stat st;

		/* Mounted Secret volumes hold ..data and ..<timestamp>. */
		if (e->d_name[0] == '.' ||
		    fstatat(dirfd(d), e->d_name, &st, 0) != 0 ||
		    !S_ISREG(st.st_mode)) {
			continue;
		}
		names[nnames] = strdup(e->d_name);
		if (names[nnames] != NULL) {
			nnames++;
		}
	}
	closedir(d);
	qsort(names, nnames, sizeof(names[0]), k8s_strcmp_p);
	for (size_t i = 0; i < nnames; i++) {
		int w = snprintf(out + off, outlen - off, "%s%.100s",
				 i > 0 ? ", " : "", names[i]);

		if (w > 0 && (size_t)w < outlen - off) {
			off += (size_t)w;
		}
		free(names[i]);
	}
	if (nnames == 0) {
		snprintf(out, outlen, "none");
	}
}

static int k8s_dir_secret_get(struct k8s_client *c, const char *ns,
			      const char *name, const char *key,
			      uint8_t **value, size_t *len, char *err,
			      size_t errlen)
{
	char *secdir = NULL;
	char *file = NULL;
	char keys[512];
	struct stat st;
	int ret;

	if (asprintf(&secdir, "%s/%s/%s", c->dir, ns, name) < 0) {
		secdir = NULL;
		ret = -ENOMEM;
		goto out;
	}
	if (stat(secdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen,
			 "Secret %s/%s not found (no directory %s)", ns, name,
			 secdir);
		ret = K8S_ENOTFOUND;
		goto out;
	}
	if (asprintf(&file, "%s/%s", secdir, key) < 0) {
		file = NULL;
		ret = -ENOMEM;
		goto out;
	}
	ret = k8s_file_read_regular(file, K8S_MAX_BODY, value, len);
	switch (ret) {
	case 0:
		break;
	case -ENOENT:
	case -EISDIR:
		k8s_dir_keys(secdir, keys, sizeof(keys));
		snprintf(err, errlen, "Secret %s/%s has no key '%s' (keys: %s)",
			 ns, name, key, keys);
		ret = K8S_ENOKEY;
		break;
	case K8S_ETOOBIG:
		snprintf(err, errlen,
			 "Secret %s/%s key '%s': %s is larger than %d bytes",
			 ns, name, key, file, K8S_MAX_BODY);
		break;
	case K8S_ENOTREG:
		snprintf(err, errlen,
			 "Secret %s/%s key '%s': %s is not a regular file (a "
			 "FIFO, socket or device); store the value in a "
			 "regular file",
			 ns, name, key, file);
		break;
	case -EACCES:
	case -EPERM:
		snprintf(err, errlen,
			 "reading Secret %s/%s key '%s' is "
			 "forbidden: %s: %s",
			 ns, name, key, file, strerror(-ret));
		ret = K8S_EFORBIDDEN;
		break;
	default:
		snprintf(err, errlen, "reading Secret %s/%s key '%s': %s: %s",
			 ns, name, key, file, strerror(-ret));
		break;
	}
out:
	if (ret == -ENOMEM) {
		snprintf(err, errlen, "out of memory");
	}
	free(file);
	free(secdir);
	return ret;
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
	if (c->dir != NULL) {
		if (!k8s_component_ok(ns) || !k8s_component_ok(name) ||
		    !k8s_component_ok(key)) {
			snprintf(err, errlen,
				 "Secret %.100s/%.100s key '%.100s': names "
				 "must not be empty, contain '/' or start "
				 "with '.'",
				 ns != NULL ? ns : "", name != NULL ? name : "",
				 key != NULL ? key : "");
			return -EINVAL;
		}
		return k8s_dir_secret_get(c, ns, name, key, value, len, err,
					  errlen);
	}
	if (!k8s_name_ok(ns) || !k8s_name_ok(name) || key == NULL ||
	    key[0] == '\0') {
		snprintf(err, errlen,
			 "Secret %.100s/%.100s key '%.100s': not a valid "
			 "namespace, name or key",
			 ns != NULL ? ns : "", name != NULL ? name : "",
			 key != NULL ? key : "");
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
	k8s_wipe_free(value, value != NULL ? len + 1 : 0);
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

	if (c == NULL || c->dir != NULL) {
		snprintf(err, errlen,
			 "reading ConfigMap %.100s/%.100s needs a Kubernetes "
			 "API; this client reads secrets from a directory",
			 ns != NULL ? ns : "", name != NULL ? name : "");
		return K8S_ECONFIG;
	}
	if (!k8s_name_ok(ns) || !k8s_name_ok(name) ||
	    (key != NULL && key[0] == '\0')) {
		snprintf(err, errlen,
			 "ConfigMap %.100s/%.100s key '%.100s': not a valid "
			 "namespace, name or key",
			 ns != NULL ? ns : "", name != NULL ? name : "",
			 key != NULL ? key : "");
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
	if (c == NULL || c->dir != NULL) {
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
