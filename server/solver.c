/*
 * solver.c - one ChallengePayload in, one TSIG-signed RFC 2136 update out.
 *
 * The order of a call: decode the body (codec.c), validate request.config
 * (config.c), read the TSIG secret from request.resourceNamespace (through a
 * short cache, solver_secret.c), parse it as whatever key format it holds
 * (solver_key.c) or take a GSS-TSIG client (solver_gss.c), send the update
 * to each nameserver in turn within the call's deadline, and turn the
 * outcome into one sentence for the Challenge's events.  This file is the
 * one place where a DNS or Kubernetes error code becomes what the user
 * reads.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "k8s/k8s.h"
#include "server/coalesce.h"
#include "server/codec.h"
#include "server/config.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/solver.h"
#include "server/solver_internal.h"
#include "server/solver_zone.h"
#include "server/trace.h"
#include "util/cache.h"
#include "util/clock.h"

#define DNS_TIMEOUT_DEFAULT 5000
#define DEADLINE_DEFAULT    25000
/* cert-manager's client gives up at 34 s; answer by 30 s whatever comes. */
#define DEADLINE_MAX	     28000
#define SECRET_CACHE_DEFAULT 5000
#define CACHE_ENTRIES_MAX    64
/* Below this, another attempt cannot get an answer back in time. */
#define ATTEMPT_MIN_MS 100
#define MESSAGE_MAX    4096

int solver_new(struct solver **solver, const struct solver_opts *opts)
{
	struct solver *s = calloc(1, sizeof(*s));

	*solver = NULL;
	if (s == NULL)
		return -ENOMEM;
	s->opts = *opts;
	if (s->opts.dns_timeout_ms == 0)
		s->opts.dns_timeout_ms = DNS_TIMEOUT_DEFAULT;
	if (s->opts.deadline_ms == 0)
		s->opts.deadline_ms = DEADLINE_DEFAULT;
	if (s->opts.deadline_ms > DEADLINE_MAX)
		s->opts.deadline_ms = DEADLINE_MAX;
	if (s->opts.secret_cache_ms == 0)
		s->opts.secret_cache_ms = SECRET_CACHE_DEFAULT;
	if (!s->opts.no_coalesce &&
	    coalescer_new(&s->coalesce, s->opts.coalesce_window_ms, 0) != 0)
		goto fail;
	if (util_cache_new(&s->secrets, CACHE_ENTRIES_MAX,
			   s->opts.secret_cache_ms) != 0)
		goto fail;
	if (pthread_mutex_init(&s->lock, NULL) != 0)
		goto fail;
	*solver = s;
	return 0;
fail:
	util_cache_free(s->secrets);
	coalescer_free(s->coalesce);
	free(s);
	return -ENOMEM;
}

void solver_free(struct solver *solver)
{
	if (solver == NULL)
		return;
	gss_free_all(solver);
	util_cache_free(solver->secrets);
	coalescer_free(solver->coalesce);
	pthread_mutex_destroy(&solver->lock);
	free(solver);
}

/* An IP literal is one address; a host name may resolve to several. */
static unsigned attempts_guess(const struct dns_addr *a)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, a->host, buf) == 1 ||
	    inet_pton(AF_INET6, a->host, buf) == 1)
		return 1;
	return 2;
}

/* Metrics of each exchange, by the nameserver as configured. */
static void attempts_count(const struct dns_addr *server,
			   const struct dns_result *one)
{
	char text[DNS_NAME_LEN + 16];

	dns_addr_format(server, text, sizeof(text));
	for (size_t k = 0; k < one->nattempts; k++) {
		const struct dns_outcome *o = &one->attempts[k];

		/* A name that does not resolve never reached a server; a
		 * call out of budget is the call's, not the server's. */
		if (o->code == DNS_ERESOLVE || o->code == DNS_EDEADLINE ||
		    o->code == DNS_EBUSY)
			continue;
		metrics_dns_update(text, o->answered ? o->rcode : -1,
				   o->tsig_present ? o->tsig_error : -1,
				   (uint64_t)o->ms * 1000);
	}
}

/*
 * Send the update to each nameserver in turn until one takes it.  The
 * per-attempt timeout shrinks so that the attempts still to come fit in
 * what is left of @deadline (monotonic ms): dns_update() itself has no
 * deadline, and cert-manager gives up on a call after 34 s.  Every attempt
 * lands in @res for the diagnosis.
 */
static int update_send(const struct solver_config *cfg,
		       const struct dns_opts *base,
		       const struct dns_change *changes, size_t nchanges,
		       uint64_t deadline, struct dns_result *res,
		       size_t *untried)
{
	struct dns_result one;
	int ret = -ETIMEDOUT;
	size_t i;

	memset(res, 0, sizeof(*res));
	res->code = -ETIMEDOUT;
	for (i = 0; i < cfg->nservers; i++) {
		struct dns_opts o = *base;
		uint64_t now = util_now_ms();
		unsigned guess = 0;
		uint64_t left;

		if (now + ATTEMPT_MIN_MS > deadline || trace_cancelled())
			break;
		left = deadline - now;
		for (size_t j = i; j < cfg->nservers; j++)
			guess += attempts_guess(&cfg->servers[j]);
		if (o.timeout_ms > left / guess)
			o.timeout_ms = (unsigned)(left / guess);
		if (o.timeout_ms < ATTEMPT_MIN_MS)
			o.timeout_ms = ATTEMPT_MIN_MS;

		if (nchanges == 1)
			ret =
			    dns_update(&cfg->servers[i], 1, &o, changes, &one);
		else
			ret = dns_update_many(&cfg->servers[i], 1, &o, changes,
					      nchanges, &one);
		attempts_count(&cfg->servers[i], &one);
		if (res->note[0] == '\0')
			memcpy(res->note, one.note, sizeof(res->note));
		for (size_t k = 0;
		     k < one.nattempts && res->nattempts < DNS_ATTEMPTS_MAX;
		     k++)
			res->attempts[res->nattempts++] = one.attempts[k];
		res->code = ret;
		if (ret == DNS_EDEADLINE) {
			i++; /* tried, cut short: the rest is untried */
			break;
		}
		if (ret == 0 || one.nattempts == 0) {
			/* Done, or the request itself is wrong (a name outside
			 * the zone): no other server would take it either. */
			i = ret == 0 ? i + 1 : cfg->nservers;
			break;
		}
	}
	*untried = ret == 0 ? 0 : cfg->nservers - i;
	return ret;
}

/* What coalesce_update() needs to send for any member of a group. */
struct send_ctx {
	const struct solver_config *cfg;
	const struct dns_opts *opts;
	uint64_t deadline;
};

static int send_changes(void *arg, const struct dns_change *changes, size_t n,
			struct dns_result *res, size_t *untried)
{
	const struct send_ctx *x = arg;

	return update_send(x->cfg, x->opts, changes, n, x->deadline, res,
			   untried);
}

/*
 * Two challenges may share an UPDATE when everything but the record is
 * the same: the zone (case-insensitively, RFC 4343), the nameservers, the
 * protocol, TTL and timeout, and the key (by its name, algorithm and the
 * Secret it comes from; never its value).
 */
static void group_id(const struct solver_config *cfg,
		     const struct challenge *ch, const char *zone, char *id,
		     size_t idlen)
{
	size_t len;

	snprintf(id, idlen, "%s|%s|%d|%u|%u|%s|%s|%s/%s/%s", zone,
		 cfg->servers_text, (int)cfg->proto, (unsigned)cfg->ttl,
		 cfg->timeout_ms, cfg->key_name, cfg->alg,
		 ch->resource_namespace, cfg->secret_name, cfg->secret_key);
	len = strlen(zone);
	for (size_t i = 0; i < len && i < idlen; i++)
		id[i] = (char)tolower((unsigned char)id[i]);
}

/*
 * --allowed-nameservers: refuse, before any DNS traffic, a config that
 * aims at a nameserver the operator did not allow, naming the list.
 */
static bool servers_allowed(const struct solver *s,
			    const struct solver_config *cfg, char *msg,
			    size_t msglen)
{
	char text[DNS_NAME_LEN + 16];

	for (size_t i = 0; i < cfg->nservers; i++) {
		if (solver_allow_match(s->opts.allow, &cfg->servers[i]))
			continue;
		dns_addr_format(&cfg->servers[i], text, sizeof(text));
		snprintf(msg, msglen,
			 "nameserver %s is not allowed: this webhook only "
			 "sends to the nameservers its operator allowed "
			 "(--allowed-nameservers %s); use one of those, or "
			 "ask the operator to add it",
			 text, s->opts.allow->text);
		return false;
	}
	return true;
}

/*
 * What a tenant reads about a nameserver that did not answer: one text
 * whether the port refused, reset or stayed silent, so that the message
 * cannot map a cluster's internal ports (the operator's log keeps the
 * detail).  Answers and the call's deadline are left as they are.
 */
static void result_for_tenant(struct dns_result *res)
{
	for (size_t i = 0; i < res->nattempts; i++) {
		struct dns_outcome *o = &res->attempts[i];

		if (o->answered || o->code == 0 || o->code == -ENOMEM)
			continue;
		/* A negated errno (refused, reset, timed out, unreachable),
		 * or something that does not speak DNS.  Answers with
		 * another ID stay: they show spoofing, not a port. */
		if ((o->code < 0 &&
		     (o->code < DNS_EKEY_SYNTAX || o->code >= DNS_ELAST)) ||
		    o->code == DNS_EFORMAT) {
			o->code = DNS_ENOREPLY;
			o->detail[0] = '\0';
		}
	}
}

/* RFC 1123 label, as Kubernetes requires of a namespace name. */
static bool namespace_valid(const char *ns)
{
	size_t len = strlen(ns);

	if (len == 0 || len > 63 || ns[0] == '-' || ns[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(islower((unsigned char)ns[i]) ||
		      isdigit((unsigned char)ns[i]) || ns[i] == '-'))
			return false;
	return true;
}

/* One call after the codec: what its steps share. */
struct solve {
	struct solver *s;
	const struct challenge *ch;
	const char *rid;
	/* STYLE.md 16: one deadline, every step gets what is left. */
	uint64_t deadline;
	struct solver_config cfg;
	const char *zone; /* the zone updated (may be cfg.found_zone) */
	struct trace_ctx tc;
	struct dns_key key;
	struct gss_entry *gss;
	struct dns_opts opts;
	struct dns_change change;
	struct dns_result res;
	size_t untried;		 /* nameservers not tried within the deadline */
	char msg[MESSAGE_MAX];	 /* what the tenant reads */
	char cause[MESSAGE_MAX]; /* the whole story, for the log */
};

/* Append to the tenant's message, cut at its size. */
__attribute__((format(printf, 2, 3))) static void
msg_append(struct solve *sv, const char *fmt, ...)
{
	size_t used = strlen(sv->msg);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sv->msg + used, sizeof(sv->msg) - used, fmt, ap);
	va_end(ap);
}

/*
 * Everything that refuses a call before any Secret read or DNS traffic:
 * --allowed-zones (defence in depth), the Issuer's config, the zone, the
 * namespace and --allowed-nameservers.  False with @sv->msg set.
 */
static bool solve_admit(struct solve *sv)
{
	const struct challenge *ch = sv->ch;
	struct solver_config *cfg = &sv->cfg;
	char detail[256] = "";

	if (solver_zone_allowed(sv->s->opts.allowed_zones, ch->resolved_fqdn,
				sv->msg, sizeof(sv->msg)) < 0) {
		metrics_zone_refusal();
		return false;
	}
	if (solver_config_parse(cfg, ch->config, detail, sizeof(detail)) < 0) {
		snprintf(sv->msg, sizeof(sv->msg),
			 "invalid solver config (the Issuer's webhook.config): "
			 "%s",
			 detail);
		return false;
	}
	if (cfg->zone[0] != '\0')
		sv->zone = cfg->zone;
	sv->tc.zone = sv->zone;
	sv->tc.nameserver = cfg->servers_text;
	if (sv->zone[0] == '\0') {
		snprintf(sv->msg, sizeof(sv->msg),
			 "no zone for %s: request.resolvedZone is empty; set "
			 "config.zone to the zone that takes the update",
			 ch->resolved_fqdn);
		return false;
	}
	if (cfg->zone[0] == '\0' &&
	    solver_zone_outside(ch->dns_name, ch->resolved_fqdn, sv->zone,
				sv->msg, sizeof(sv->msg)) < 0)
		return false;
	if (!namespace_valid(ch->resource_namespace)) {
		snprintf(sv->msg, sizeof(sv->msg),
			 "request.resourceNamespace \"%.64s\" is not a "
			 "namespace name",
			 ch->resource_namespace);
		return false;
	}
	return servers_allowed(sv->s, cfg, sv->msg, sizeof(sv->msg));
}

/* The GSS-TSIG client or the TSIG key, or none (said in the log). */
static bool solve_credentials(struct solve *sv)
{
	const char *ns = sv->ch->resource_namespace;

	if (sv->cfg.has_gss)
		return gss_get(sv->s, ns, &sv->cfg, &sv->gss, sv->msg,
			       sizeof(sv->msg)) >= 0;
	if (sv->cfg.has_secret_ref)
		return key_get(sv->s, ns, &sv->cfg, sv->rid, &sv->key, sv->msg,
			       sizeof(sv->msg)) >= 0;
	/* DESIGN.md 2: unsigned is allowed, never silently. */
	log_warn("sending an unsigned update: config has no "
		 "tsigSecretSecretRef",
		 "namespace", ns, "fqdn", sv->ch->resolved_fqdn, "request_id",
		 sv->rid, "action", sv->tc.action, "zone", sv->zone,
		 "nameserver", sv->cfg.servers_text);
	return true;
}

/* How to send (dns_opts) and what (the change). */
static void solve_prepare(struct solve *sv)
{
	const struct solver_config *cfg = &sv->cfg;
	struct dns_opts *opts = &sv->opts;

	memset(opts, 0, sizeof(*opts));
	opts->proto = cfg->proto;
	opts->timeout_ms =
	    cfg->timeout_ms ? cfg->timeout_ms : sv->s->opts.dns_timeout_ms;
	opts->key = cfg->has_secret_ref ? &sv->key : NULL;
	opts->gss = sv->gss != NULL ? gss_entry_ctx(sv->gss) : NULL;
	if (opts->gss != NULL)
		opts->proto = DNS_PROTO_TCP; /* tickets exceed UDP sizes */
	opts->trace = trace_dns;
	opts->deadline_ms = (int64_t)sv->deadline;
	sv->change = (struct dns_change){
	    .zone = sv->zone,
	    .fqdn = sv->ch->resolved_fqdn,
	    .action =
		sv->ch->action == CHALLENGE_CLEANUP ? DNS_DELETE : DNS_ADD,
	    .value = sv->ch->key,
	    .ttl = cfg->ttl};
}

/* What the operator's log says about a sent update. */
static void solve_sent_log(struct solve *sv, size_t batched)
{
	const struct dns_result *res = &sv->res;

	if (batched > 1) {
		char records[24];

		snprintf(records, sizeof(records), "%zu", batched);
		log_debug(1, "update sent in a batch", "records", records,
			  "request_id", sv->rid, "zone", sv->zone);
	}
	if (res->note[0] != '\0')
		log_info("nameserver addresses capped", "note", res->note,
			 "namespace", sv->ch->resource_namespace, "request_id",
			 sv->rid);
}

/* Said once per server and principal: dns/ flags the attempt. */
static void solve_samba_log(const struct solve *sv)
{
	for (size_t i = 0; i < sv->res.nattempts; i++)
		if (sv->res.attempts[i].gss_samba_learned)
			log_debug(2,
				  "server signs answers without the request "
				  "MAC length: Samba's form",
				  "nameserver", sv->res.attempts[i].server,
				  "principal",
				  sv->res.attempts[i].gss_principal,
				  "request_id", sv->rid);
}

/* Ask the server that took the update whether it serves it (unless not). */
static int solve_verify(struct solve *sv)
{
	if (sv->cfg.no_verify)
		return 0;
	return solver_verify_write(&sv->opts, &sv->res, sv->ch->resolved_fqdn,
				   sv->zone, sv->ch->key,
				   sv->ch->action != CHALLENGE_CLEANUP,
				   sv->deadline, sv->msg, sizeof(sv->msg));
}

/* The update, alone or in a batch of its group, then its verification. */
static int solve_send(struct solve *sv)
{
	struct send_ctx sctx = {
	    .cfg = &sv->cfg, .opts = &sv->opts, .deadline = sv->deadline};
	char group[2 * DNS_NAME_LEN + sizeof(sv->cfg.servers_text) +
		   3 * SOLVER_REF_MAX + 128];
	size_t batched = 1;
	int ret;

	group_id(&sv->cfg, sv->ch, sv->zone, group, sizeof(group));
	/* GSS-TSIG contexts are per caller's principal: never shared. */
	ret = coalesce_update(sv->gss != NULL ? NULL : sv->s->coalesce, group,
			      &sv->change, send_changes, &sctx, &sv->res,
			      &sv->untried, &batched);
	solve_sent_log(sv, batched);
	if (sv->opts.key != NULL && sv->key.alt_secret != NULL)
		key_alt_outcome(sv->s, sv->ch->resource_namespace, &sv->cfg,
				&sv->key, &sv->res, ret, sv->rid);
	solve_samba_log(sv);
	if (ret == 0)
		ret = solve_verify(sv);
	return ret;
}

/*
 * NOTAUTH, or a NOERROR that is not served, with cert-manager's zone: the
 * server may serve another zone for the name.  Update there once.  Returns
 * @ret, or the retry's code.
 */
static int solve_zone_retry(struct solve *sv, int ret)
{
	const struct challenge *ch = sv->ch;
	char *found = sv->cfg.found_zone; /* outlives the call: the log's */

	if (ret == 0 || sv->cfg.zone[0] != '\0' ||
	    !solver_zone_retry(&sv->res, ret == DNS_EVERIFY, &sv->opts,
			       ch->resolved_fqdn, sv->zone, found,
			       sizeof(sv->cfg.found_zone), sv->msg,
			       sizeof(sv->msg)))
		return ret;
	sv->msg[0] = '\0';
	log_warn("the zone cert-manager found is not the server's: "
		 "updating the zone found at the server; set the "
		 "solver config's zone field to it",
		 "resolved_zone", ch->resolved_zone, "zone", found, "fqdn",
		 ch->resolved_fqdn, "request_id", sv->rid, "action",
		 sv->tc.action, "nameserver", sv->cfg.servers_text);
	sv->zone = found;
	sv->tc.zone = sv->zone;
	sv->change.zone = sv->zone;
	ret = update_send(&sv->cfg, &sv->opts, &sv->change, 1, sv->deadline,
			  &sv->res, &sv->untried);
	if (ret == 0)
		ret = solve_verify(sv);
	return ret;
}

/* What the tenant must change, after the failure's explanation. */
static void solve_hints(struct solve *sv, int ret)
{
	const struct dns_result *res = &sv->res;
	const struct dns_key *key = &sv->key;
	bool signed_key = sv->opts.key != NULL;

	if (sv->zone == sv->cfg.found_zone)
		msg_append(sv,
			   "; zone %s was found at the server after the "
			   "update in request.resolvedZone %s failed",
			   sv->zone, sv->ch->resolved_zone);
	if (ret == DNS_ENOTSUB || ret == DNS_ENAME)
		msg_append(sv,
			   "; request.resolvedFQDN must lie inside %s (set "
			   "config.zone to the zone that holds it)",
			   sv->cfg.zone[0] ? "config.zone"
					   : "request.resolvedZone");
	if (sv->untried > 0 && res->nattempts > 0)
		msg_append(sv,
			   "; %zu more nameserver(s) not tried within the "
			   "solver's %u ms deadline",
			   sv->untried, sv->s->opts.deadline_ms);
	if (signed_key && key->alt_secret != NULL && res->nattempts > 0 &&
	    res->attempts[res->nattempts - 1].key_alt)
		msg_append(sv,
			   "; the secret has two readings and the server "
			   "rejected both: as nsupdate -y reads it (base64 "
			   "decoded once) and %s",
			   key->alt_desc);
	else if (signed_key && key->warning[0] != '\0' && res->nattempts > 0 &&
		 dns_outcome_key_rejected(&res->attempts[res->nattempts - 1]))
		msg_append(sv, "; note: %s", key->warning);
	if (res->note[0] != '\0')
		msg_append(sv, "; %s", res->note);
	if (!signed_key && sv->opts.gss == NULL)
		msg_append(sv, "; the update was unsigned because config has "
			       "no tsigSecretSecretRef (reference a Secret "
			       "with the TSIG key if the server requires "
			       "one)");
}

/* A failed update in words: the whole story to the log, less to the tenant. */
static void solve_explain(struct solve *sv, int ret)
{
	const char *fqdn = sv->ch->resolved_fqdn;

	dns_result_explain(&sv->res, "update", sv->opts.key, sv->zone, fqdn,
			   sv->cause, sizeof(sv->cause));
	result_for_tenant(&sv->res);
	if (sv->res.nattempts == 0 && ret == -ETIMEDOUT)
		snprintf(sv->msg, sizeof(sv->msg),
			 "update of %s in zone %s not sent: the solver's "
			 "%u ms deadline passed before any nameserver was "
			 "tried",
			 fqdn, sv->zone, sv->s->opts.deadline_ms);
	else
		dns_result_explain(&sv->res, "update", sv->opts.key, sv->zone,
				   fqdn, sv->msg, sizeof(sv->msg));
	solve_hints(sv, ret);
}

/* The decoded call: everything after the codec, before the answer. */
static bool challenge_solve(struct solve *sv)
{
	bool ok = false;
	int ret;

	k8s_deadline_set(sv->deadline);
	sv->zone = sv->ch->resolved_zone;
	sv->tc = (struct trace_ctx){
	    .request_id = sv->rid,
	    .action = challenge_action_text(sv->ch->action),
	    .fqdn = sv->ch->resolved_fqdn,
	    .zone = sv->zone,
	};
	trace_ctx_set(&sv->tc);
	if (!solve_admit(sv) || !solve_credentials(sv))
		goto out;
	if (trace_cancelled()) {
		/* The client hung up while the secret was read: stop here. */
		snprintf(sv->msg, sizeof(sv->msg),
			 "abandoned: the client hung up");
		goto out;
	}
	solve_prepare(sv);
	ret = solve_zone_retry(sv, solve_send(sv));
	if (ret == 0)
		ok = true;
	else if (ret != DNS_EVERIFY && sv->msg[0] == '\0')
		solve_explain(sv, ret);
out:
	k8s_deadline_set(0);
	dns_key_release(&sv->key);
	gss_put(sv->s, sv->gss);
	return ok;
}

/* A body for when even encoding failed: out of memory. */
static int answer_oom(char **out, size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	return 500;
}

/* The one log line of a call. */
static void solve_log(const struct solve *sv, bool ok, uint64_t start)
{
	const struct challenge *ch = sv->ch;
	char ms[32];

	snprintf(ms, sizeof(ms), "%llu",
		 (unsigned long long)(util_now_ms() - start));
	if (ok)
		log_info("challenge", "action",
			 challenge_action_text(ch->action), "fqdn",
			 ch->resolved_fqdn, "zone", sv->zone, "nameserver",
			 sv->cfg.servers_text, "namespace",
			 ch->resource_namespace, "outcome", "success", "ms", ms,
			 "uid", ch->uid, "request_id", sv->rid);
	else
		log_info(
		    "challenge", "action", challenge_action_text(ch->action),
		    "fqdn", ch->resolved_fqdn, "zone", sv->zone, "nameserver",
		    sv->cfg.servers_text, "namespace", ch->resource_namespace,
		    "outcome", "failure", "ms", ms, "uid", ch->uid,
		    "request_id", sv->rid, "error", sv->msg,
		    /* the detail the tenant's text leaves out, if any
		     * (a NULL key ends the list) */
		    strncmp(sv->cause, sv->msg, strlen(sv->cause)) != 0
			? "cause"
			: NULL,
		    sv->cause);
}

/* A payload that does not decode: 400 with a Status body. */
static int solver_reject(const char *detail, const char *request_id,
			 uint64_t start, char **out, size_t *outlen)
{
	char msg[MESSAGE_MAX];
	char ms[32];

	snprintf(msg, sizeof(msg), "invalid ChallengePayload: %s", detail);
	snprintf(ms, sizeof(ms), "%llu",
		 (unsigned long long)(util_now_ms() - start));
	log_info("challenge rejected", "outcome", "rejected", "error", msg,
		 "ms", ms, "request_id", request_id);
	metrics_request(METRICS_ACTION_UNKNOWN, METRICS_REJECTED,
			(util_now_ms() - start) * 1000);
	if (codec_status_encode(400, msg, out, outlen) < 0)
		return answer_oom(out, outlen);
	return 400;
}

int solver_handle(struct solver *solver, const char *body, size_t len,
		  const char *request_id, char **out, size_t *outlen)
{
	struct challenge ch;
	struct solve sv;
	char detail[512] = "";
	uint64_t start = util_now_ms();
	bool ok;
	int status;

	if (challenge_decode(&ch, body, len, detail, sizeof(detail)) < 0)
		return solver_reject(detail, request_id, start, out, outlen);
	memset(&sv, 0, sizeof(sv));
	sv.s = solver;
	sv.ch = &ch;
	sv.rid = request_id;
	sv.deadline = start + solver->opts.deadline_ms;
	ok = challenge_solve(&sv);
	trace_ctx_set(NULL);
	metrics_request(ch.action == CHALLENGE_CLEANUP ? METRICS_CLEANUP
						       : METRICS_PRESENT,
			ok ? METRICS_SUCCESS : METRICS_FAILURE,
			(util_now_ms() - start) * 1000);
	solve_log(&sv, ok, start);
	status = 201;
	if (challenge_encode(&ch, ok, sv.msg, out, outlen) < 0)
		status = answer_oom(out, outlen);
	challenge_release(&ch);
	return status;
}
