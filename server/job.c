/*
 * job.c - what a worker does with a request (see http_internal.h): the
 * authorization review of a request whose verdict needs the Kubernetes
 * API, or the solver call; and the failure a namespace over its share
 * gets instead.
 *
 * Why workers: a solver call blocks on DNS for up to its deadline (25 s),
 * and a SubjectAccessReview on the Kubernetes API for up to its timeout.
 * Run inline on libmicrohttpd's few polling threads, one such call would
 * stall every connection sharing its thread.  So a request that must wait
 * is suspended (MHD_suspend_connection) and handed to a pool of workers
 * (pool.c), which resume it with the outcome stored in the request.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "server/codec.h"
#include "server/http_internal.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/route.h"
#include "server/solver.h"
#include "server/trace.h"
#include "util/clock.h"

/*
 * A solver call that waited this long for a worker is refused instead:
 * its own 25 s deadline would end past cert-manager's 34 s.
 */
#define JOB_QUEUE_WAIT_MS 9000

#define job_req(j) ((struct req *)((char *)(j)-offsetof(struct req, job)))

/* The failure message of a throttled solver call (see below). */
static void throttled_message(const struct http_server *srv,
			      const struct req *r, uint64_t waited_ms,
			      const char *share, char *msg, size_t len)
{
	if (waited_ms > 0)
		snprintf(msg, len,
			 "too many concurrent challenges: this one waited "
			 "%llu ms for a worker, too long to finish before "
			 "cert-manager gives up (namespace %s may run %s at "
			 "once; those running may be waiting for a nameserver "
			 "that does not answer); cert-manager will retry it",
			 (unsigned long long)waited_ms, r->job.ns, share);
	else
		snprintf(msg, len,
			 "too many concurrent challenges from namespace %s: "
			 "%s run at once and %u more wait already (they may "
			 "be waiting for a nameserver that does not answer); "
			 "cert-manager will retry this one",
			 r->job.ns, share,
			 POOL_NAMESPACE_WAITING * srv->opts.namespace_share);
}

/*
 * The answer to a solver call of a namespace over its share: a
 * ChallengePayload whose response is a failure naming the namespace, so
 * that cert-manager shows it on the Challenge and calls again later.
 * @waited_ms: how long it waited for a worker (0: refused on arrival).
 */
int job_throttled_answer(struct http_server *srv, struct req *r,
			 uint64_t waited_ms, char **out, size_t *outlen)
{
	struct challenge ch;
	char msg[512], detail[256], share[16];

	*out = NULL;
	*outlen = 0;
	snprintf(share, sizeof(share), "%u", srv->opts.namespace_share);
	log_info("challenge refused: too many concurrent challenges from its "
		 "namespace",
		 "namespace", r->job.ns, "share", share, "request_id", r->id);
	metrics_namespace_throttled();
	if (challenge_decode(&ch, r->body != NULL ? r->body : "", r->len,
			     detail, sizeof(detail)) < 0) {
		/* Not a ChallengePayload: the solver's 400 would say why. */
		snprintf(detail, sizeof(detail),
			 "too many concurrent challenges from namespace %s",
			 r->job.ns);
		return codec_status_encode(MHD_HTTP_TOO_MANY_REQUESTS, detail,
					   out, outlen) < 0
			   ? MHD_HTTP_INTERNAL_SERVER_ERROR
			   : MHD_HTTP_TOO_MANY_REQUESTS;
	}
	throttled_message(srv, r, waited_ms, share, msg, sizeof(msg));
	metrics_request(ch.action == CHALLENGE_CLEANUP ? METRICS_CLEANUP
						       : METRICS_PRESENT,
			METRICS_FAILURE, waited_ms * 1000);
	int ret = challenge_encode(&ch, false, msg, out, outlen);
	challenge_release(&ch);
	return ret < 0 ? MHD_HTTP_INTERNAL_SERVER_ERROR : 201;
}

/* Before the body: the authorization review. */
static void job_authorize(struct http_server *srv, struct req *r)
{
	struct trace_ctx tc = {.request_id = r->id};
	struct authz_attrs attrs;
	char reason[512];

	trace_ctx_set(&tc);
	route_attrs(srv, r, &attrs);
	int ret = authz_check(srv->opts.authz, &r->user, &attrs, reason,
			      sizeof(reason));
	request_authz_apply(r, &attrs, ret, reason);
	trace_ctx_set(NULL);
}

/* The solver call, unless it waited too long for a worker. */
static void job_solve(struct http_server *srv, struct req *r)
{
	uint64_t waited = util_now_ms() - r->job.queued_ms;

	if (waited > JOB_QUEUE_WAIT_MS) {
		/* What is left of cert-manager's 34 s is not enough. */
		r->answer_code = job_throttled_answer(
		    srv, r, waited, &r->answer, &r->answer_len);
		return;
	}
	trace_cancel_set(r->job.gone);
	metrics_tenant_set(r->job.ns);
	r->answer_code =
	    solver_handle(srv->opts.solver, r->body != NULL ? r->body : "",
			  r->len, r->id, &r->answer, &r->answer_len);
	metrics_tenant_set(NULL);
	trace_cancel_set(NULL);
	if (r->answer == NULL) {
		r->code = MHD_HTTP_INTERNAL_SERVER_ERROR;
		snprintf(r->message, sizeof(r->message),
			 "the solver gave no answer");
	}
}

/* Do the request's blocking part and store the outcome in it. */
static void job_do(struct http_server *srv, struct req *r, bool stopping)
{
	if (stopping) {
		/* Not started before the end of the grace period: refuse. */
		r->code = MHD_HTTP_SERVICE_UNAVAILABLE;
		snprintf(r->message, sizeof(r->message),
			 "the server is shutting down");
	} else if (r->conn != NULL && watch_gone(&r->conn->watch)) {
		/* Its client hung up while it waited: nobody to answer. */
		r->code = MHD_HTTP_SERVICE_UNAVAILABLE;
		snprintf(r->message, sizeof(r->message),
			 "the client hung up before a worker was free");
	} else if (r->kind == JOB_AUTHZ) {
		job_authorize(srv, r);
	} else {
		job_solve(srv, r);
	}
}

/* pool_ops.hold: suspend the connection; no deadline while held. */
static void job_hold(void *arg, struct pool_job *job)
{
	struct req *r = job_req(job);

	(void)arg;
	r->state = JOB_QUEUED;
	if (r->conn != NULL)
		watch_hold(&r->conn->watch);
	MHD_suspend_connection(r->mc);
}

/* pool_ops.run, on a worker. */
static void job_run(void *arg, struct pool_job *job, bool stopping)
{
	struct req *r = job_req(job);

	job_do(arg, r, stopping);
	r->state = JOB_DONE;
	if (r->conn != NULL && watch_gone(&r->conn->watch))
		log_debug(2, "request abandoned: the client hung up",
			  "request_id", r->id, "path", r->path);
}

/* pool_ops.done: hand the request back to MHD. */
static void job_done(void *arg, struct pool_job *job)
{
	struct http_server *srv = arg;
	struct req *r = job_req(job);
	struct MHD_Connection *mc = r->mc;

	/* Back to the client's pace: the rest must come in time. */
	if (r->conn != NULL)
		watch_release(srv->watchdog, &r->conn->watch);
	/* The last touch: from here the request is MHD's again. */
	MHD_resume_connection(mc);
}

const struct pool_ops job_ops = {
    .hold = job_hold,
    .run = job_run,
    .done = job_done,
};

int job_submit(struct pool *p, struct MHD_Connection *mc, struct req *r,
	       int kind)
{
	r->mc = mc;
	r->kind = kind;
	r->job.gone = r->conn != NULL ? &r->conn->watch.gone : NULL;
	return pool_submit(p, &r->job);
}

/*
 * request.resourceNamespace of a solver body into r->job.ns, "" when it
 * has none (the solver then answers 400): the key of the namespace's
 * share.
 */
void job_namespace_read(struct req *r)
{
	json_t *root, *ns;

	r->job.ns[0] = '\0';
	if (r->body == NULL)
		return;
	root = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, NULL);
	ns = json_object_get(json_object_get(root, "request"),
			     "resourceNamespace");
	if (json_is_string(ns) && json_string_length(ns) < sizeof(r->job.ns))
		snprintf(r->job.ns, sizeof(r->job.ns), "%s",
			 json_string_value(ns));
	json_decref(root);
}
