/*
 * client.c - the Kubernetes API client and its transport: one HTTP
 * exchange (k8s_call) through libcurl (OpenSSL) over HTTPS with a bearer
 * token or a client certificate, bounded in time and size.  The objects
 * asked for are in api.c, the directory-backed secret source in
 * secretdir.c.
 *
 * Threads: the client is immutable after creation except for a small pool
 * of idle curl easy handles under one mutex.  Each call takes a handle (or
 * makes one), so calls run in parallel; returning it to the pool keeps its
 * connection alive for the next call (no TLS handshake per request).
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "k8s/k8s_internal.h"
#include "util/clock.h"
#include "util/file.h"

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
	uint64_t ms;

	if (k8s_deadline == 0)
		return c->timeout_ms;
	ms = util_now_ms();
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

const char *k8s_client_describe(const struct k8s_client *c)
{
	return c != NULL && c->describe != NULL ? c->describe : "(none)";
}

bool k8s_client_forbidden_hinted(const struct k8s_client *c)
{
	/* object_get() adds the hint to every 403 of the API (secrets). */
	return c != NULL && c->dir == NULL;
}

const char *k8s_client_dir(const struct k8s_client *c)
{
	return c != NULL ? c->dir : NULL;
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
		util_wipe_free(r->data, r->cap);
		r->data = nd;
		r->cap = ncap;
	}
	memcpy(r->data + r->len, ptr, n);
	r->len += n;
	r->data[r->len] = '\0';
	return n;
}

void k8s_resp_release(struct k8s_resp *r)
{
	util_wipe_free(r->data, r->cap);
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
 * The length of bearer token @tok without trailing white space, checked to
 * be one word of an HTTP header.  @file names the token file it was read
 * from (NULL: the kubeconfig's token) and @filelen that file's size.
 * 0 or K8S_ECONFIG.
 */
static int k8s_token_check(const char *tok, const char *file, size_t filelen,
			   size_t *toklen, char *err, size_t errlen)
{
	size_t n = strlen(tok);

	while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r' ||
			 tok[n - 1] == ' ' || tok[n - 1] == '\t')) {
		n--;
	}
	/* Empty, or a NUL inside the file cut the token short. */
	if (n == 0 || (file != NULL && strlen(tok) != filelen)) {
		snprintf(err, errlen,
			 "the bearer token%s%s is empty or not text",
			 file != NULL ? " in " : "", file != NULL ? file : "");
		return K8S_ECONFIG;
	}
	for (size_t i = 0; i < n; i++) {
		/* A control character would split the HTTP header. */
		if ((unsigned char)tok[i] < 0x21 ||
		    (unsigned char)tok[i] == 0x7f) {
			snprintf(err, errlen,
				 "the bearer token%s%s contains a space or "
				 "control character",
				 file != NULL ? " in " : "",
				 file != NULL ? file : "");
			return K8S_ECONFIG;
		}
	}
	*toklen = n;
	return 0;
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
	ret = k8s_token_check(tok, c->cfg.token_file, filelen, &toklen, err,
			      errlen);
	if (ret != 0) {
		goto out;
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
	util_wipe_free(line, linelen);
	util_wipe_free(filetok, filelen);
	return ret;
}

/*
 * A client certificate or key in PEM: the decoded bytes of the kubeconfig
 * (*-data, which win as in clientcmd) or the file.  NOCOPY: curl keeps no
 * copy of the key that we cannot wipe.
 */
static void k8s_setopt_pem(CURL *h, uint8_t *data, size_t len, const char *file,
			   CURLoption blob_opt, CURLoption file_opt,
			   CURLoption type_opt)
{
	if (data != NULL) {
		struct curl_blob b = {
		    .data = data, .len = len, .flags = CURL_BLOB_NOCOPY};

		curl_easy_setopt(h, blob_opt, &b);
		curl_easy_setopt(h, type_opt, "PEM");
	} else if (file != NULL) {
		curl_easy_setopt(h, file_opt, file);
		curl_easy_setopt(h, type_opt, "PEM");
	}
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
	k8s_setopt_pem(h, cfg->cert_data, cfg->cert_len, cfg->cert_file,
		       CURLOPT_SSLCERT_BLOB, CURLOPT_SSLCERT,
		       CURLOPT_SSLCERTTYPE);
	k8s_setopt_pem(h, cfg->key_data, cfg->key_len, cfg->key_file,
		       CURLOPT_SSLKEY_BLOB, CURLOPT_SSLKEY, CURLOPT_SSLKEYTYPE);
}

/* One exchange in flight: what the steps of k8s_call() share. */
struct k8s_xfer {
	const char *method;
	const char *path;
	const char *body; /* JSON, or NULL */
	const char *what; /* starts every error text */
	struct k8s_resp *resp;
	unsigned wait;	/* ms this call may wait */
	uint64_t start; /* util_now_ms() */
	char *url;
	struct curl_slist *hdrs;
	CURL *h;
	char curlerr[CURL_ERROR_SIZE];
};

/*
 * The request headers: the bearer token, Accept and, with a body,
 * Content-Type.  0, or the error of the token, or -ENOMEM.
 */
static int k8s_headers_make(const struct k8s_client *c, bool body,
			    struct curl_slist **hdrs, char *err, size_t errlen)
{
	struct curl_slist *n;
	int ret;

	ret = k8s_auth_header(c, hdrs, err, errlen);
	if (ret != 0) {
		return ret;
	}
	n = curl_slist_append(*hdrs, "Accept: application/json");
	if (n == NULL) {
		return -ENOMEM;
	}
	*hdrs = n;
	if (body) {
		n = curl_slist_append(*hdrs, "Content-Type: application/json");
		*hdrs = n != NULL ? n : *hdrs;
	}
	return 0;
}

/* Every option of the exchange @x on its handle. */
static void k8s_setopt_call(const struct k8s_client *c, struct k8s_xfer *x)
{
	CURL *h = x->h;

	curl_easy_setopt(h, CURLOPT_URL, x->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* we run in threads */
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)x->wait);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)x->wait);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)K8S_MAX_BODY);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, k8s_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x->resp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->curlerr);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "rfc2136-webhook/" VERSION);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	k8s_setopt_tls(c, h);
	if (x->body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)strlen(x->body));
	}
	if (strcmp(x->method, "GET") != 0 && strcmp(x->method, "POST") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, x->method);
	}
}

/*
 * Everything before the request goes out: the deadline's check, the URL,
 * the headers and a handle with its options.
 */
static int k8s_xfer_prepare(struct k8s_client *c, struct k8s_xfer *x, char *err,
			    size_t errlen)
{
	int ret;

	if (x->wait == 0) {
		snprintf(err, errlen,
			 "%s: the call's deadline passed before the Kubernetes "
			 "API was asked",
			 x->what);
		return K8S_ETRANSPORT;
	}
	if (asprintf(&x->url, "%s%s", c->cfg.server, x->path) < 0) {
		x->url = NULL;
		return -ENOMEM;
	}
	ret = k8s_headers_make(c, x->body != NULL, &x->hdrs, err, errlen);
	if (ret != 0) {
		return ret;
	}
	x->h = k8s_handle_get(c);
	if (x->h == NULL) {
		return -ENOMEM;
	}
	k8s_setopt_call(c, x);
	return 0;
}

/* Send the request and turn curl's outcome into a code and a text. */
static int k8s_xfer_perform(const struct k8s_client *c, struct k8s_xfer *x,
			    char *err, size_t errlen)
{
	struct k8s_resp *resp = x->resp;
	CURLcode rc = curl_easy_perform(x->h);

	/* The header list is referenced by the handle until the next reset. */
	curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, NULL);
	if (resp->toobig || rc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(err, errlen,
			 "%s: the answer of %s %s is larger than %d bytes",
			 x->what, x->method, x->url, K8S_MAX_BODY);
		return K8S_ETOOBIG;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(err, errlen, "%s: %s %s: no answer within %u ms%s",
			 x->what, x->method, x->url, x->wait,
			 x->wait < c->timeout_ms ? " (the call's deadline)"
						 : "");
		return K8S_ETRANSPORT;
	}
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s: %s %s: %s", x->what, x->method,
			 x->url,
			 x->curlerr[0] != '\0' ? x->curlerr
					       : curl_easy_strerror(rc));
		return rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : K8S_ETRANSPORT;
	}
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (resp->data == NULL) {
		/* An empty body is "", never NULL, for the decoders. */
		resp->data = calloc(1, 1);
		resp->cap = 1;
		if (resp->data == NULL) {
			return -ENOMEM;
		}
	}
	return 0;
}

/* Tell the client's observer (the metrics) how the call @x ended. */
static void k8s_call_observe(const struct k8s_client *c,
			     const struct k8s_xfer *x, int ret)
{
	struct k8s_call_info info = {
	    .method = x->method,
	    .path = x->path,
	    .code = ret,
	};

	if (c->observer == NULL) {
		return;
	}
	info.call = k8s_call_kind(x->method, x->path);
	info.status = ret == 0 ? x->resp->status : 0;
	info.ms = (unsigned)(util_now_ms() - x->start);
	c->observer(c->observer_arg, &info);
}

int k8s_call(struct k8s_client *c, const char *method, const char *path,
	     const char *body, struct k8s_resp *resp, const char *what,
	     char *err, size_t errlen)
{
	struct k8s_xfer x = {
	    .method = method,
	    .path = path,
	    .body = body,
	    .what = what,
	    .resp = resp,
	    .wait = k8s_wait_ms(c),
	};
	int ret;

	memset(resp, 0, sizeof(*resp));
	x.start = util_now_ms();
	ret = k8s_xfer_prepare(c, &x, err, errlen);
	if (ret == 0) {
		ret = k8s_xfer_perform(c, &x, err, errlen);
	}
	if (ret == -ENOMEM && errlen > 0 && err[0] == '\0') {
		snprintf(err, errlen, "%s: out of memory", what);
	}
	k8s_handle_put(c, x.h);
	k8s_headers_free(x.hdrs);
	free(x.url);
	k8s_call_observe(c, &x, ret);
	if (ret != 0) {
		k8s_resp_release(resp);
	}
	return ret;
}
