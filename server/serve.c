/*
 * serve.c - `rfc2136-webhook serve`: the cert-manager webhook daemon's
 * start, run and shutdown (its flags are read in serve_opts.c).
 *
 * Everything that can be wrong with the files the flags name is found
 * here, before serving, and reported naming the flag or file (exit 1).
 *
 * The main thread serves signals: SIGTERM/SIGINT stop accepting, let
 * requests in flight finish within the grace period (those still running
 * at its end are cut off), and exit 0; SIGHUP
 * re-reads the serving certificate and the request-header CA file at once;
 * and once a second it looks whether those files changed (see tls.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "k8s/k8s.h"
#include "server/auth.h"
#include "server/authwatch.h"
#include "server/http.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/serve_opts.h"
#include "server/server.h"
#include "server/solver.h"
#include "server/tls.h"
#include "server/trace.h"

/* The daemon's parts, in the order they start; NULL where not used. */
struct daemon {
	struct k8s_client *api, *dir; /* sources of secrets and reviews */
	struct tls_store *tls;
	struct authn *authn;
	struct authz *authz;
	struct solver *solver;
	struct authn_watch *watch;
	struct metrics_server *msrv;
	struct http_server *srv;
};

/* The signals the main thread waits for in serve_loop(). */
static void signals_fill(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

/* Logging, core dumps and signals: the process before any thread. */
static void process_setup(const struct serve_config *c)
{
	sigset_t set;
	int ret;

	log_init(c->log_format);
	atomic_store(&log_verbosity, (int)c->verbosity);
	metrics_label_ttl_set(c->label_ttl_ms);
	if (c->allow_core_dumps) {
		ret = process_core_dumps(true);
		if (ret < 0)
			log_warn("--allow-core-dumps: cannot turn core dumps "
				 "on",
				 "error", strerror(-ret));
		else
			log_warn("core dumps are on (--allow-core-dumps): a "
				 "core file holds the serving key and TSIG "
				 "keys in use; keep it as secret as they are");
	}
	/*
	 * Signals go to the main thread only: block them before any thread
	 * starts (threads inherit the mask) and wait for them in serve_loop.
	 */
	signals_fill(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Open the sources of secrets and reviews; 0 or the exit status 1. */
static int clients_open(const struct serve_config *c, struct daemon *d)
{
	char err[512];
	const char *incluster = getenv("KUBERNETES_SERVICE_HOST");
	/*
	 * Without a CA flag, the request-header settings come from the
	 * cluster whenever one is configured (in-cluster or --kubeconfig).
	 */
	bool need_api = c->secrets_dir == NULL ||
			c->authz_mode == AUTHZ_SUBJECT_ACCESS_REVIEW ||
			(c->authn.ca_file == NULL &&
			 (c->kubeconfig != NULL ||
			  (incluster != NULL && incluster[0] != '\0')));

	if (c->secrets_dir != NULL &&
	    k8s_client_new_dir(&d->dir, c->secrets_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "rfc2136-webhook serve: --secrets-dir %s: %s\n",
			c->secrets_dir, err);
		return 1;
	}
	if (need_api &&
	    k8s_client_new(&d->api, c->kubeconfig, 0, err, sizeof(err)) < 0) {
		fprintf(stderr,
			"rfc2136-webhook serve: no Kubernetes API%s%s: %s\n"
			"  it is needed for %s; give --kubeconfig, run in a "
			"cluster, or use --secrets-dir with "
			"--authorization-mode AllowAuthenticated\n",
			c->kubeconfig != NULL ? " from --kubeconfig " : "",
			c->kubeconfig != NULL ? c->kubeconfig : "", err,
			c->authz_mode == AUTHZ_SUBJECT_ACCESS_REVIEW
			    ? "--authorization-mode SubjectAccessReview"
			: c->secrets_dir == NULL
			    ? "reading secrets"
			    : "the request-header settings (or give "
			      "--requestheader-client-ca-file)");
		return 1;
	}
	return 0;
}

/* The serving certificate's expiry, for the metrics. */
static void cert_expiry_publish(struct tls_store *tls)
{
	struct tls_creds *creds = tls_store_get(tls);

	if (creds != NULL)
		metrics_cert_expiry(tls_creds_not_after(creds));
	tls_creds_unref(creds);
}

/* The serving pair and the request-header CA; 0 or the exit status 1. */
static int credentials_load(const struct serve_config *c, struct daemon *d)
{
	char err[512];

	if (tls_store_new(&d->tls, c->cert_file, c->key_file, err,
			  sizeof(err)) < 0) {
		fprintf(
		    stderr,
		    "rfc2136-webhook serve: --tls-cert-file/--tls-private-key-file: %s\n",
		    err);
		return 1;
	}
	if (authn_new(&d->authn, &c->authn, err, sizeof(err)) < 0) {
		fprintf(
		    stderr,
		    "rfc2136-webhook serve: --requestheader-client-ca-file %s\n",
		    err);
		return 1;
	}
	return 0;
}

/* The authorizer and the solver; 0 or the exit status 1. */
static int services_new(const struct serve_config *c, struct daemon *d)
{
	if (authz_new(&d->authz, c->authz_mode, d->api, 10000) < 0 ||
	    solver_new(&d->solver,
		       &(struct solver_opts){
			   .secrets = d->dir != NULL ? d->dir : d->api,
			   .dns_timeout_ms = c->dns_timeout_ms,
			   .allowed_zones = c->allowed_zones,
			   .coalesce_window_ms = c->coalesce_ms,
			   .no_coalesce = c->coalesce_ms == 0,
			   .allow = c->allow.n > 0 ? &c->allow : NULL,
		       }) < 0) {
		fprintf(stderr, "rfc2136-webhook serve: out of memory\n");
		return 1;
	}
	return 0;
}

/*
 * Where the front proxy's CA comes from without the CA flag: the cluster's
 * ConfigMap, watched, or nowhere (every API request is refused).
 */
static int request_header_source(const struct serve_config *c, struct daemon *d)
{
	if (c->authn.ca_file == NULL && d->api != NULL) {
		/* The front-proxy CA and names from the cluster. */
		if (authn_watch_start(&d->watch, d->authn, d->api,
				      c->rh_reload_ms) < 0) {
			fprintf(stderr, "rfc2136-webhook serve: cannot start "
					"the request-header watch\n");
			return 1;
		}
	} else if (!authn_has_ca(d->authn)) {
		authn_set_status(d->authn, "no request-header CA: give "
					   "--requestheader-client-ca-file or "
					   "a Kubernetes API");
		log_warn("no --requestheader-client-ca-file and no Kubernetes "
			 "API: every request but the health checks is refused "
			 "(401) and /readyz fails");
	}
	return 0;
}

/* The metrics listener, when asked for; 0 or the exit status 1. */
static int metrics_start(const struct serve_config *c, struct daemon *d)
{
	char err[512], port[8];

	if (c->metrics_address == NULL)
		return 0;
	if (metrics_server_start(&d->msrv, c->metrics_address, err,
				 sizeof(err)) < 0) {
		fprintf(stderr, "rfc2136-webhook serve: %s\n", err);
		return 1;
	}
	snprintf(port, sizeof(port), "%u", metrics_server_port(d->msrv));
	log_info("serving metrics", "address", metrics_server_address(d->msrv),
		 "port", port, "path", "/metrics");
	return 0;
}

/* The HTTPS server on the secure port; 0 or the exit status 1. */
static int https_start(const struct serve_config *c, struct daemon *d)
{
	char err[512];

	if (http_server_start(
		&d->srv,
		&(struct http_opts){
		    .bind_address = c->bind_address,
		    .port = c->port,
		    .group = c->group,
		    .solver_name = c->solver_name,
		    .tls = d->tls,
		    .authn = d->authn,
		    .authz = d->authz,
		    .solver = d->solver,
		    .tls_priorities = c->tls_priorities,
		    .read_timeout_ms = c->read_timeout_ms,
		    .max_connections = c->max_connections,
		    .max_per_client = c->max_per_client,
		    .handshake_timeout_ms = c->handshake_timeout_ms,
		    .first_request_timeout_ms = c->first_request_timeout_ms,
		    .namespace_share = c->namespace_share,
		},
		err, sizeof(err)) < 0) {
		fprintf(stderr, "rfc2136-webhook serve: %s\n", err);
		return 1;
	}
	return 0;
}

/* The line that says the daemon serves, and how. */
static void serving_log(const struct serve_config *c, struct daemon *d)
{
	char desc[512], port[8];

	if (c->authz_mode == AUTHZ_ALLOW_AUTHENTICATED)
		log_warn("AUTHORIZATION IS OFF (--authorization-mode "
			 "AllowAuthenticated): any user the front proxy "
			 "names may publish TXT records in your zones; use "
			 "it only without a Kubernetes API, e.g. for local "
			 "tests");
	tls_store_describe(d->tls, desc, sizeof(desc));
	snprintf(port, sizeof(port), "%u", http_server_port(d->srv));
	log_info(
	    "serving", "version", VERSION, "address",
	    http_server_address(d->srv), "port", port, "group", c->group,
	    "solver", c->solver_name, "authorization",
	    c->authz_mode == AUTHZ_ALLOW_AUTHENTICATED ? "AllowAuthenticated"
						       : "SubjectAccessReview",
	    "secrets", k8s_client_describe(d->dir != NULL ? d->dir : d->api),
	    "certificate", desc);
}

/* Start every part in order; 0 or the exit status 1 (stop what started). */
static int daemon_start(const struct serve_config *c, struct daemon *d)
{
	if (credentials_load(c, d) != 0 || clients_open(c, d) != 0)
		return 1;
	/* Each API call: a metric, and a log line at --v 2. */
	k8s_client_set_observer(d->api, trace_k8s, NULL);
	cert_expiry_publish(d->tls);
	if (services_new(c, d) != 0 || request_header_source(c, d) != 0)
		return 1;
	/*
	 * The metrics port first: once the secure port is up /readyz says
	 * ready, so every listener must be up by then (a taken metrics port
	 * fails the start before anything was reported ready).
	 */
	if (metrics_start(c, d) != 0 || https_start(c, d) != 0)
		return 1;
	serving_log(c, d);
	return 0;
}

/* Stop and free every part, in reverse order.  NULL parts are skipped. */
static void daemon_stop(struct daemon *d)
{
	http_server_stop(d->srv);
	metrics_server_stop(d->msrv);
	authn_watch_stop(d->watch);
	solver_free(d->solver);
	authz_free(d->authz);
	k8s_client_free(d->api);
	k8s_client_free(d->dir);
	authn_free(d->authn);
	tls_store_free(d->tls);
}

/*
 * --requestheader-client-ca-file: re-read as the serving certificate is
 * (the ConfigMap source has its own watch).
 */
static void ca_file_check(struct authn *authn, bool sighup)
{
	char err[512];
	int ret = authn_reload_ca_file(authn, sighup, err, sizeof(err));

	if (ret > 0)
		log_info("request-header CA loaded", "file",
			 authn_ca_file(authn), "trigger",
			 sighup ? "SIGHUP" : "file changed");
	else if (ret < 0)
		log_warn("request-header CA file not reloaded, the old CA "
			 "stays in use",
			 "file", authn_ca_file(authn), "error", err);
}

/* The serving pair: re-read when it changed or on SIGHUP. */
static void cert_check(struct tls_store *tls, bool sighup)
{
	char err[512], desc[512];
	int ret = tls_store_check(tls, sighup, err, sizeof(err));

	if (ret != 0)
		metrics_tls_reload(ret > 0);
	if (ret > 0) {
		cert_expiry_publish(tls);
		tls_store_describe(tls, desc, sizeof(desc));
		log_info("serving certificate loaded", "certificate", desc,
			 "trigger", sighup ? "SIGHUP" : "files changed");
	} else if (ret < 0) {
		log_error("serving certificate not reloaded, the old "
			  "one stays in use",
			  "error", err);
	}
}

/* Wait for signals; look at the certificate files once a second. */
static void serve_loop(struct tls_store *tls, struct authn *authn)
{
	sigset_t set;
	struct timespec tick = {1, 0};

	signals_fill(&set);
	for (;;) {
		int sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("shutting down", "signal",
				 sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return;
		}
		ca_file_check(authn, sig == SIGHUP);
		cert_check(tls, sig == SIGHUP);
	}
}

/*
 * Stop accepting and let the requests in flight finish within the grace
 * period; leave at once (exit 0) when some are still running at its end.
 */
static void serve_drain(const struct serve_config *c, struct daemon *d)
{
	char n[16];

	http_server_quiesce(d->srv);
	unsigned left = http_server_drain(d->srv, c->grace_ms);
	if (left == 0)
		return;
	/*
	 * A worker still waiting on a nameserver or the Kubernetes API
	 * would hold the exit until its own deadline, up to 25 s more:
	 * past the grace period the flag promises and, in a pod, past
	 * the kubelet's SIGKILL.  Leave now.  The exit closes their
	 * connections, and cert-manager calls again.  Stopping the
	 * server instead would free what those workers still use.
	 */
	snprintf(n, sizeof(n), "%u", left);
	log_warn("requests still in flight at the end of the grace "
		 "period are cut off; exiting without waiting for them",
		 "requests", n);
	_exit(0);
}

int serve_main(int argc, char **argv)
{
	struct serve_config c;
	struct daemon d = {NULL};
	int ret;

	ret = serve_config_parse(argc, argv, &c);
	if (ret != 0)
		return ret < 0 ? 0 : ret;
	process_setup(&c);
	ret = daemon_start(&c, &d);
	if (ret != 0)
		goto out;
	serve_loop(d.tls, d.authn);
	serve_drain(&c, &d);
out:
	daemon_stop(&d);
	if (ret == 0)
		log_info("stopped");
	return ret;
}
