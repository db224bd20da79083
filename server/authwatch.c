/*
 * authwatch.c - the request-header configuration from the
 * extension-apiserver-authentication ConfigMap (see authwatch.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "k8s/k8s.h"
#include "server/auth.h"
#include "server/authwatch.h"
#include "server/log.h"
#include "util/clock.h"

/* While no CA is known, try again at least this often. */
#define AUTHWATCH_RETRY_MS 5000

struct authn_watch {
	struct authn *authn;
	struct k8s_client *api;
	unsigned interval_ms;
	pthread_t thread;
	pthread_mutex_t lock; /* guards stop */
	pthread_cond_t cond;
	bool stop;
};

int authn_watch_read(struct authn *authn, struct k8s_client *api, char *err,
		     size_t errlen)
{
	const char *keys[1 + AUTHN_NLISTS];
	char *values[1 + AUTHN_NLISTS] = {NULL};
	char *pem, **lists = values + 1;
	char why[512], detail[512];
	int ret;

	keys[0] = AUTHWATCH_CA_KEY;
	for (int i = 0; i < AUTHN_NLISTS; i++)
		keys[1 + i] = authn_list_key(i);
	/* One GET: the CA and the lists always come from one version. */
	ret = k8s_configmap_get_keys(
	    api, AUTHWATCH_NAMESPACE, AUTHWATCH_CONFIGMAP, keys,
	    1 + AUTHN_NLISTS, values, detail, sizeof(detail));
	pem = values[0];
	if (ret < 0) {
		snprintf(err, errlen, "%s", detail);
		goto out;
	}
	ret = authn_update(authn, pem, pem != NULL ? strlen(pem) : 0,
			   (const char *const *)lists, err, errlen);
	if (ret < 0) {
		/* Name the object, so the operator knows where to look. */
		snprintf(detail, sizeof(detail), "%s", err);
		snprintf(err, errlen, "ConfigMap %s/%s: %s",
			 AUTHWATCH_NAMESPACE, AUTHWATCH_CONFIGMAP, detail);
		goto out;
	}
	if (pem == NULL) {
		snprintf(why, sizeof(why),
			 "no request-header CA: ConfigMap %s/%s has no key %s "
			 "(kube-apiserver writes it when started with "
			 "--requestheader-client-ca-file)",
			 AUTHWATCH_NAMESPACE, AUTHWATCH_CONFIGMAP,
			 AUTHWATCH_CA_KEY);
		authn_set_status(authn, why);
	}
	if (ret == 1)
		log_info("request-header configuration loaded", "configmap",
			 AUTHWATCH_NAMESPACE "/" AUTHWATCH_CONFIGMAP, "ca",
			 pem != NULL ? "present" : "absent", "allowed_names",
			 lists[AUTHN_ALLOWED_NAMES] != NULL
			     ? lists[AUTHN_ALLOWED_NAMES]
			     : "(not set)",
			 "username_headers",
			 lists[AUTHN_USERNAME_HEADERS] != NULL
			     ? lists[AUTHN_USERNAME_HEADERS]
			     : "(default)");
	else
		log_debug(4, "request-header configuration unchanged",
			  "configmap",
			  AUTHWATCH_NAMESPACE "/" AUTHWATCH_CONFIGMAP);
out:
	for (int i = 0; i < 1 + AUTHN_NLISTS; i++)
		free(values[i]);
	return ret;
}

/* Read and log what went wrong; the old configuration stays. */
static void watch_read_logged(struct authn_watch *w)
{
	char err[600], why[700];

	if (authn_watch_read(w->authn, w->api, err, sizeof(err)) >= 0)
		return;
	if (authn_has_ca(w->authn)) {
		log_error("request-header configuration not re-read, the old "
			  "one stays in use",
			  "error", err);
		return;
	}
	snprintf(why, sizeof(why), "no request-header CA: %s", err);
	authn_set_status(w->authn, why);
	log_error("request-header configuration not read: every request but "
		  "the health checks is refused (401) until it is",
		  "error", err);
}

static void *watch_main(void *arg)
{
	struct authn_watch *w = arg;
	struct timespec deadline;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		unsigned ms = w->interval_ms;
		if (!authn_has_ca(w->authn) && ms > AUTHWATCH_RETRY_MS)
			ms = AUTHWATCH_RETRY_MS;
		deadline = util_deadline_in(ms);
		int rc = 0;
		while (!w->stop && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&w->cond, &w->lock,
						    &deadline);
		if (w->stop)
			break;
		pthread_mutex_unlock(&w->lock);
		watch_read_logged(w);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int authn_watch_start(struct authn_watch **out, struct authn *authn,
		      struct k8s_client *api, unsigned interval_ms)
{
	struct authn_watch *w = calloc(1, sizeof(*w));
	int ret;

	*out = NULL;
	if (w == NULL)
		return -ENOMEM;
	w->authn = authn;
	w->api = api;
	w->interval_ms = interval_ms != 0 ? interval_ms : 60000;
	pthread_mutex_init(&w->lock, NULL);
	/* Timed waits on the monotonic clock: a clock step changes nothing. */
	ret = util_cond_init(&w->cond);
	if (ret < 0)
		goto no_cond;

	watch_read_logged(w);
	ret = -pthread_create(&w->thread, NULL, watch_main, w);
	if (ret < 0)
		goto no_thread;
	*out = w;
	return 0;
no_thread:
	pthread_cond_destroy(&w->cond);
no_cond:
	pthread_mutex_destroy(&w->lock);
	free(w);
	return ret;
}

void authn_watch_stop(struct authn_watch *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
