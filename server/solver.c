/*
 * solver.c - one ChallengePayload in, one TSIG-signed RFC 2136 update out.
 *
 * The order of a call: decode the body (codec.c), validate request.config
 * (config.c), read the TSIG secret from request.resourceNamespace (through a
 * short cache), parse it as whatever key format it holds, send the update
 * to each nameserver in turn within the call's deadline, and turn the
 * outcome into one sentence for the Challenge's events.  This file is the
 * one place where a DNS or Kubernetes error code becomes what the user
 * reads.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/dns.h"
#include "k8s/k8s.h"
#include "server/coalesce.h"
#include "server/codec.h"
#include "server/config.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/solver.h"
#include "server/solver_zone.h"
#include "server/trace.h"

#define DNS_TIMEOUT_DEFAULT 5000
#define DEADLINE_DEFAULT    25000
/* cert-manager's client gives up at 34 s; answer by 30 s whatever comes. */
#define DEADLINE_MAX	     28000
#define SECRET_CACHE_DEFAULT 5000
#define CACHE_ENTRIES_MAX    64
/* Below this, another attempt cannot get an answer back in time. */
#define ATTEMPT_MIN_MS 100
#define MESSAGE_MAX    4096

/* One cached Secret value, keyed by namespace/name/key. */
struct cache_entry {
	char id[3 * SOLVER_REF_MAX];
	uint8_t *value;
	size_t len;
	uint64_t expires; /* monotonic ms */
	struct cache_entry *next;
};

/*
 * One GSS-TSIG client per (namespace, Secret, principal, service host,
 * realm), kept for the solver's life so that one negotiated context serves
 * many challenges (RFC 3645 contexts are meant to be reused).  A changed
 * Secret value (a new keytab) replaces the entry; users hold a reference.
 */
struct gss_entry {
	char id[3 * SOLVER_REF_MAX + 512];
	uint8_t *value; /* the Secret value it was made from */
	size_t len;
	struct dns_gss_ctx *ctx;
	unsigned refs;
	bool dropped; /* no longer in the list: free at the last release */
	struct gss_entry *next;
};

#define GSS_ENTRIES_MAX 32
/* Secret reads in flight that others wait for instead of reading too. */
#define FETCHING_MAX 16
#define NOTES_MAX    256 /* keys remembered for one-time notes */

struct solver {
	struct solver_opts opts;
	pthread_mutex_t lock; /* guards cache and gss */
	struct cache_entry *cache;
	size_t ncache;
	struct gss_entry *gss;
	size_t ngss;
	struct coalescer *coalesce; /* bursts for one zone in one UPDATE */
	/* Secrets being read from the API now (ids), guarded by lock. */
	char fetching[FETCHING_MAX][3 * SOLVER_REF_MAX];
	pthread_cond_t fetched;	   /* one of them is done */
	uint64_t notes[NOTES_MAX]; /* see key_note(); guarded by lock */
	size_t nnotes;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void entry_free(struct cache_entry *e)
{
	if (e == NULL)
		return;
	if (e->value != NULL) {
		explicit_bzero(e->value, e->len);
		free(e->value);
	}
	free(e);
}

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
	    coalescer_new(&s->coalesce, s->opts.coalesce_window_ms, 0) != 0) {
		free(s);
		return -ENOMEM;
	}
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		coalescer_free(s->coalesce);
		free(s);
		return -ENOMEM;
	}
	if (pthread_cond_init(&s->fetched, NULL) != 0) {
		pthread_mutex_destroy(&s->lock);
		coalescer_free(s->coalesce);
		free(s);
		return -ENOMEM;
	}
	*solver = s;
	return 0;
}

static void gss_entry_free(struct gss_entry *g)
{
	if (g == NULL)
		return;
	/* RFC 2930 4.2: delete our key on the server, then forget it. */
	dns_gss_free(g->ctx, 2000);
	if (g->value != NULL) {
		explicit_bzero(g->value, g->len);
		free(g->value);
	}
	free(g);
}

void solver_free(struct solver *solver)
{
	struct cache_entry *e;
	struct gss_entry *g;

	if (solver == NULL)
		return;
	while ((g = solver->gss) != NULL) {
		solver->gss = g->next;
		gss_entry_free(g);
	}
	while ((e = solver->cache) != NULL) {
		solver->cache = e->next;
		entry_free(e);
	}
	coalescer_free(solver->coalesce);
	pthread_cond_destroy(&solver->fetched);
	pthread_mutex_destroy(&solver->lock);
	free(solver);
}

/* Drop expired entries; the caller holds the lock. */
static void cache_evict(struct solver *s, uint64_t now)
{
	struct cache_entry **pp = &s->cache;

	while (*pp != NULL) {
		struct cache_entry *e = *pp;

		if (e->expires <= now) {
			*pp = e->next;
			entry_free(e);
			s->ncache--;
		} else {
			pp = &e->next;
		}
	}
}

/* A copy of the cached value of @id, or -ENOENT. */
static int cache_get(struct solver *s, const char *id, uint8_t **value,
		     size_t *len)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&s->lock);
	cache_evict(s, now_ms());
	for (struct cache_entry *e = s->cache; e != NULL; e = e->next) {
		if (strcmp(e->id, id) != 0)
			continue;
		*value = malloc(e->len + 1);
		if (*value == NULL) {
			ret = -ENOMEM;
			break;
		}
		memcpy(*value, e->value, e->len);
		(*value)[e->len] = '\0';
		*len = e->len;
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* Remember a copy of @value under @id (best effort: no error on ENOMEM). */
static void cache_put(struct solver *s, const char *id, const uint8_t *value,
		      size_t len)
{
	struct cache_entry *e = calloc(1, sizeof(*e));
	struct cache_entry **pp;

	if (e == NULL)
		return;
	e->value = malloc(len + 1);
	if (e->value == NULL) {
		free(e);
		return;
	}
	memcpy(e->value, value, len);
	e->len = len;
	snprintf(e->id, sizeof(e->id), "%s", id);

	pthread_mutex_lock(&s->lock);
	e->expires = now_ms() + s->opts.secret_cache_ms;
	cache_evict(s, now_ms());
	/* A parallel call may have fetched the same Secret: replace it. */
	for (pp = &s->cache; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->id, id) == 0) {
			struct cache_entry *old = *pp;

			*pp = old->next;
			entry_free(old);
			s->ncache--;
			break;
		}
	}
	/* Full: drop the oldest, which is the last (we insert in front). */
	if (s->ncache >= CACHE_ENTRIES_MAX) {
		for (pp = &s->cache; (*pp)->next != NULL; pp = &(*pp)->next)
			;
		entry_free(*pp);
		*pp = NULL;
		s->ncache--;
	}
	e->next = s->cache;
	s->cache = e;
	s->ncache++;
	pthread_mutex_unlock(&s->lock);
}

/*
 * One read of a Secret at a time: when the cached value expires under
 * load, every call in flight misses it at once, and each would read the
 * Secret from the API (16 workers: 16 GETs, queued behind each other at
 * the API server).  The first reads it; the others wait for that read and
 * take the value it cached.  Returns -1 when this call is to read it
 * (fetch_end() afterwards), else 0 after waiting (look in the cache
 * again).  Called unlocked.
 */
static int fetch_begin(struct solver *s, const char *id, int *slot)
{
	int free_slot = -1;
	bool waited = false;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		bool busy = false;

		free_slot = -1;
		for (int i = 0; i < FETCHING_MAX; i++) {
			if (s->fetching[i][0] == '\0') {
				if (free_slot < 0)
					free_slot = i;
			} else if (strcmp(s->fetching[i], id) == 0) {
				busy = true;
			}
		}
		if (!busy)
			break;
		pthread_cond_wait(&s->fetched, &s->lock);
		waited = true;
	}
	if (waited) {
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	/* No free slot: read without telling others (they read too). */
	*slot = free_slot;
	if (free_slot >= 0)
		snprintf(s->fetching[free_slot], sizeof(s->fetching[free_slot]),
			 "%s", id);
	pthread_mutex_unlock(&s->lock);
	return -1;
}

static void fetch_end(struct solver *s, int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&s->lock);
	s->fetching[slot][0] = '\0';
	pthread_cond_broadcast(&s->fetched);
	pthread_mutex_unlock(&s->lock);
}

/*
 * Read the TSIG secret, from the cache when it is fresh.  On failure @msg
 * says what is wrong and what to do, naming namespace, Secret and key.
 */
static int secret_get(struct solver *s, const char *ns,
		      const struct solver_config *cfg, uint8_t **value,
		      size_t *len, char *msg, size_t msglen)
{
	const char *name = cfg->secret_name;
	const char *key = cfg->secret_key;
	/* What the Secret holds and which field names it, for messages. */
	const char *what = !cfg->has_gss       ? "TSIG secret"
			   : cfg->gss_password ? "Kerberos password"
					       : "Kerberos keytab";
	const char *ref = !cfg->has_gss ? "config.tsigSecretSecretRef"
			  : cfg->gss_password
			      ? "config.gssTSIG.passwordSecretRef"
			      : "config.gssTSIG.keytabSecretRef";
	char id[sizeof(((struct cache_entry *)0)->id)];
	char detail[1024] = "";
	uint8_t *v = NULL;
	size_t n = 0;
	int slot = -1;
	int ret;

	snprintf(id, sizeof(id), "%s/%s/%s", ns, name, key);
	ret = cache_get(s, id, value, len);
	/* Another call's read of it ended: its value, or our own read. */
	if (ret == -ENOENT && fetch_begin(s, id, &slot) == 0)
		ret = cache_get(s, id, value, len);
	if (ret != -ENOENT)
		goto out;
	if (s->opts.secrets == NULL) {
		snprintf(msg, msglen,
			 "cannot read Secret %s/%s key %s: the webhook has no "
			 "secret source (run it in-cluster, or with "
			 "--kubeconfig or --secrets-dir)",
			 ns, name, key);
		ret = -ENOENT;
		goto out;
	}
	ret = k8s_secret_get(s->opts.secrets, ns, name, key, &v, &n, detail,
			     sizeof(detail));
	if (ret == 0) {
		cache_put(s, id, v, n);
		*value = v;
		*len = n;
		goto out;
	}
	switch (ret) {
	case K8S_ENOTFOUND:
		snprintf(msg, msglen,
			 "Secret %s/%s not found: create it in namespace %s "
			 "with the %s under key %s (for a "
			 "ClusterIssuer, in cert-manager's cluster resource "
			 "namespace), or fix %s.name",
			 ns, name, ns, what, key, ref);
		break;
	case K8S_ENOKEY:
		/* The detail lists the keys the Secret does have. */
		if (detail[0] == '\0')
			snprintf(detail, sizeof(detail),
				 "Secret %s/%s has no key %s", ns, name, key);
		snprintf(msg, msglen,
			 "%s: store the %s under key %s, or set "
			 "%s.key to the key that holds it",
			 detail, what, key, ref);
		break;
	case K8S_EFORBIDDEN:
		/* The API client's detail carries the RBAC hint already. */
		if (k8s_client_forbidden_hinted(s->opts.secrets))
			snprintf(msg, msglen, "reading Secret %s/%s key %s: %s",
				 ns, name, key, detail);
		else
			snprintf(msg, msglen,
				 "reading Secret %s/%s key %s is forbidden "
				 "(%s); grant the webhook's service account "
				 "get on secrets in namespace %s (a Role and "
				 "RoleBinding)",
				 ns, name, key,
				 detail[0] != '\0' ? detail : k8s_strerror(ret),
				 ns);
		break;
	case K8S_EUNAUTHORIZED:
		snprintf(msg, msglen,
			 "reading Secret %s/%s key %s failed: the Kubernetes "
			 "API rejected the webhook's credentials; %s",
			 ns, name, key, detail);
		break;
	default:
		snprintf(msg, msglen, "reading Secret %s/%s key %s failed: %s",
			 ns, name, key,
			 detail[0] != '\0' ? detail : k8s_strerror(ret));
		break;
	}
out:
	fetch_end(s, slot);
	if (ret == -ENOMEM)
		snprintf(msg, msglen, "out of memory reading Secret %s/%s", ns,
			 name);
	return ret;
}

enum note_op {
	NOTE_TEST = 0,
	NOTE_ADD,
	NOTE_DEL
};

/*
 * One-time facts about a key, by its Secret, name and algorithm (a hash:
 * never key material): "weak" (warned about its algorithm) and "alt" (the
 * server accepted the alternate reading of its secret).  Returns whether
 * the fact was noted before @op.  When the set is full nothing more is
 * noted: the warning then repeats, which is harmless.
 */
static bool key_note(struct solver *s, const char *what, const char *ns,
		     const struct solver_config *cfg, const struct dns_key *key,
		     enum note_op op)
{
	const char *parts[] = {what,
			       ns,
			       cfg->secret_name,
			       cfg->secret_key,
			       key->name,
			       dns_alg_to_text(key->alg)};
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */
	bool found = false;
	size_t i;

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		for (const char *p = parts[i];; p++) {
			h = (h ^ (uint8_t)*p) * 1099511628211ULL;
			if (*p == '\0')
				break;
		}
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->nnotes && !found; i++)
		found = s->notes[i] == h;
	if (found && op == NOTE_DEL)
		s->notes[i - 1] = s->notes[--s->nnotes];
	else if (!found && op == NOTE_ADD && s->nnotes < NOTES_MAX)
		s->notes[s->nnotes++] = h;
	pthread_mutex_unlock(&s->lock);
	return found;
}

/* Parse the Secret's value as any key format; explain what to change. */
static int key_get(struct solver *s, const struct challenge *ch,
		   const struct solver_config *cfg, const char *rid,
		   struct dns_key *key, char *msg, size_t msglen)
{
	const char *ns = ch->resource_namespace;
	char source[3 * SOLVER_REF_MAX + 32];
	char detail[512] = "";
	const char *hint = "";
	uint8_t *value = NULL;
	size_t len = 0;
	int ret;

	ret = secret_get(s, ns, cfg, &value, &len, msg, msglen);
	if (ret < 0)
		goto out;
	snprintf(source, sizeof(source), "Secret %s/%s key %s", ns,
		 cfg->secret_name, cfg->secret_key);
	ret = dns_key_parse(key, (const char *)value, len, source,
			    cfg->key_name[0] ? cfg->key_name : NULL,
			    cfg->alg[0] ? cfg->alg : NULL, detail,
			    sizeof(detail));
	if (ret < 0) {
		if (key->err_names_setting)
			hint = ""; /* the key parser named the field */
		else if (ret == DNS_EKEY_ALG && cfg->alg[0] == '\0')
			hint = "; set config.tsigAlgorithm to the server's "
			       "algorithm (e.g. hmac-sha256), or store a whole "
			       "key file that names it";
		else if (ret == DNS_EKEY_NAME && cfg->key_name[0] == '\0')
			hint = "; set config.tsigKeyName to the key's name on "
			       "the server, or store a whole key file that "
			       "names it";
		else if (ret == DNS_EKEY_CONFLICT)
			hint = "; config.tsigKeyName and config.tsigAlgorithm "
			       "must match the key file in the Secret (or be "
			       "left out)";
		snprintf(msg, msglen, "%s%s",
			 detail[0] != '\0' ? detail : dns_strerror(ret), hint);
		goto out;
	}
	if (key->warning[0] != '\0') {
		const struct trace_ctx *tc = trace_ctx_get();

		log_warn("TSIG secret stored in a wrong form", "namespace", ns,
			 "secret", cfg->secret_name, "key", cfg->secret_key,
			 "warning", key->warning, "request_id", rid, "action",
			 tc->action, "fqdn", tc->fqdn, "zone", tc->zone,
			 "nameserver", tc->nameserver);
	}
	if (key->weak[0] != '\0' &&
	    !key_note(s, "weak", ns, cfg, key, NOTE_ADD))
		log_warn("weak TSIG algorithm", "namespace", ns, "secret",
			 cfg->secret_name, "key", cfg->secret_key, "warning",
			 key->weak, "request_id", rid);
	/* The reading the server took last time goes first. */
	if (key->alt_secret != NULL &&
	    key_note(s, "alt", ns, cfg, key, NOTE_TEST))
		dns_key_alt_swap(key);
out:
	k8s_secret_free(value, len);
	return ret;
}

/* Drop a reference taken by gss_get(). */
static void gss_put(struct solver *s, struct gss_entry *g)
{
	bool last;

	if (g == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	last = --g->refs == 0 && g->dropped;
	pthread_mutex_unlock(&s->lock);
	if (last)
		gss_entry_free(g);
}

/* Unlink @g (the caller holds the lock); freed by its last user. */
static struct gss_entry *gss_unlink(struct solver *s, struct gss_entry **pp)
{
	struct gss_entry *g = *pp;

	*pp = g->next;
	s->ngss--;
	g->dropped = true;
	return g->refs == 0 ? g : NULL;
}

/*
 * The GSS-TSIG client for this config and Secret value, made on first use
 * and shared after.  On failure @msg says what to fix.
 */
static int gss_get(struct solver *s, const struct challenge *ch,
		   const struct solver_config *cfg, struct gss_entry **out,
		   char *msg, size_t msglen)
{
	const char *ns = ch->resource_namespace;
	struct dns_gss_config gc = {
	    .principal = cfg->gss_principal,
	    .realm = cfg->gss_realm[0] ? cfg->gss_realm : NULL,
	    .service_host = cfg->gss_service_host,
	};
	struct gss_entry *g = NULL, *stale = NULL, *evict = NULL, **pp;
	char id[sizeof(g->id)], detail[512] = "", *pw = NULL;
	uint8_t *value = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	ret = secret_get(s, ns, cfg, &value, &len, msg, msglen);
	if (ret < 0)
		return ret;
	snprintf(id, sizeof(id), "%s/%s/%s/%s/%s/%s/%c", ns, cfg->secret_name,
		 cfg->secret_key, cfg->gss_principal, cfg->gss_service_host,
		 cfg->gss_realm, cfg->gss_password ? 'p' : 'k');
	pthread_mutex_lock(&s->lock);
	for (pp = &s->gss; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->id, id) != 0)
			continue;
		if ((*pp)->len == len &&
		    memcmp((*pp)->value, value, len) == 0) {
			g = *pp;
			g->refs++;
		} else {
			stale = gss_unlink(s, pp); /* the Secret changed */
		}
		break;
	}
	pthread_mutex_unlock(&s->lock);
	gss_entry_free(stale);
	if (g != NULL)
		goto out;

	g = calloc(1, sizeof(*g));
	if (g == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	snprintf(g->id, sizeof(g->id), "%s", id);
	if (cfg->gss_password) {
		/* The first line of the value is the password. */
		pw = calloc(1, len + 1);
		if (pw == NULL) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(pw, value, len);
		pw[strcspn(pw, "\r\n")] = '\0';
		gc.password = pw;
	} else {
		gc.keytab = value;
		gc.keytab_len = len;
	}
	ret = dns_gss_new(&g->ctx, &gc, detail, sizeof(detail));
	if (ret < 0) {
		snprintf(msg, msglen, "config.gssTSIG: %s",
			 detail[0] ? detail : strerror(-ret));
		goto out;
	}
	g->value = value;
	g->len = len;
	value = NULL;
	g->refs = 1;
	pthread_mutex_lock(&s->lock);
	if (s->ngss >= GSS_ENTRIES_MAX) {
		/* Full: drop the oldest, which is the last. */
		for (pp = &s->gss; (*pp)->next != NULL; pp = &(*pp)->next)
			;
		evict = gss_unlink(s, pp);
	}
	g->next = s->gss;
	s->gss = g;
	s->ngss++;
	pthread_mutex_unlock(&s->lock);
	gss_entry_free(evict);
out:
	if (pw != NULL) {
		explicit_bzero(pw, len);
		free(pw);
	}
	if (ret < 0 && g != NULL && g->refs == 0) {
		gss_entry_free(g);
		g = NULL;
	}
	k8s_secret_free(value, len);
	*out = g;
	return ret;
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
		uint64_t now = now_ms();
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
 * After an update with a secret that has two readings: say which one the
 * server took, once per key, and remember it so that the next requests
 * use it first.  key_get() has swapped the readings when the alternate
 * was noted, so an accepted key_alt attempt then means the first one.
 */
static void key_alt_outcome(struct solver *s, const struct challenge *ch,
			    const struct solver_config *cfg,
			    struct dns_key *key, const struct dns_result *res,
			    int ret, const char *rid)
{
	const char *ns = ch->resource_namespace;
	const struct dns_outcome *last;

	if (ret != 0 || res->nattempts == 0)
		return;
	last = &res->attempts[res->nattempts - 1];
	if (!last->key_alt)
		return;
	if (key->alt_swapped) {
		key_note(s, "alt", ns, cfg, key, NOTE_DEL);
		log_info("TSIG secret accepted as nsupdate -y reads it again",
			 "namespace", ns, "secret", cfg->secret_name, "key",
			 cfg->secret_key, "request_id", rid);
	} else {
		key_note(s, "alt", ns, cfg, key, NOTE_ADD);
		log_warn("TSIG secret accepted only in its second reading",
			 "namespace", ns, "secret", cfg->secret_name, "key",
			 cfg->secret_key, "reading", key->alt_desc, "warning",
			 key->alt_warning, "request_id", rid);
	}
	/* The rest of this call (verification, a zone retry) signs with it. */
	dns_key_alt_swap(key);
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

/* The decoded call: everything after the codec, before the answer. */
static bool challenge_solve(struct solver *s, const struct challenge *ch,
			    const char *rid, uint64_t start,
			    struct solver_config *cfg, const char **zone,
			    struct trace_ctx *tc, char *msg, size_t msglen,
			    char *cause, size_t causelen)
{
	/* STYLE.md 16: one deadline, every step gets what is left. */
	uint64_t deadline = start + s->opts.deadline_ms;
	struct dns_key key;
	struct dns_opts opts;
	struct dns_result res;
	struct gss_entry *gss = NULL;
	struct dns_change change;
	struct send_ctx sctx;
	char group[2 * DNS_NAME_LEN + sizeof(cfg->servers_text) +
		   3 * SOLVER_REF_MAX + 128];
	size_t batched = 1;
	char detail[256] = "";
	size_t untried = 0;
	size_t used;
	bool ok = false;
	int ret;

	char *found = cfg->found_zone; /* outlives the call: the log's */

	memset(&key, 0, sizeof(key));
	k8s_deadline_set(deadline);
	*zone = ch->resolved_zone;
	*tc = (struct trace_ctx){
	    .request_id = rid,
	    .action = challenge_action_text(ch->action),
	    .fqdn = ch->resolved_fqdn,
	    .zone = *zone,
	};
	trace_ctx_set(tc);
	/* Defence in depth: before any Secret read or DNS traffic. */
	if (solver_zone_allowed(s->opts.allowed_zones, ch->resolved_fqdn, msg,
				msglen) < 0) {
		metrics_zone_refusal();
		goto out;
	}
	if (solver_config_parse(cfg, ch->config, detail, sizeof(detail)) < 0) {
		snprintf(msg, msglen,
			 "invalid solver config (the Issuer's webhook.config): "
			 "%s",
			 detail);
		goto out;
	}
	if (cfg->zone[0] != '\0')
		*zone = cfg->zone;
	tc->zone = *zone;
	tc->nameserver = cfg->servers_text;
	if ((*zone)[0] == '\0') {
		snprintf(msg, msglen,
			 "no zone for %s: request.resolvedZone is empty; set "
			 "config.zone to the zone that takes the update",
			 ch->resolved_fqdn);
		goto out;
	}
	if (cfg->zone[0] == '\0' &&
	    solver_zone_outside(ch->dns_name, ch->resolved_fqdn, *zone, msg,
				msglen) < 0)
		goto out;
	if (!namespace_valid(ch->resource_namespace)) {
		snprintf(msg, msglen,
			 "request.resourceNamespace \"%.64s\" is not a "
			 "namespace name",
			 ch->resource_namespace);
		goto out;
	}
	if (!servers_allowed(s, cfg, msg, msglen))
		goto out;

	if (cfg->has_gss) {
		if (gss_get(s, ch, cfg, &gss, msg, msglen) < 0)
			goto out;
	} else if (cfg->has_secret_ref) {
		if (key_get(s, ch, cfg, rid, &key, msg, msglen) < 0)
			goto out;
	} else {
		/* DESIGN.md 2: unsigned is allowed, never silently. */
		log_warn("sending an unsigned update: config has no "
			 "tsigSecretSecretRef",
			 "namespace", ch->resource_namespace, "fqdn",
			 ch->resolved_fqdn, "request_id", rid, "action",
			 tc->action, "zone", *zone, "nameserver",
			 cfg->servers_text);
	}

	if (trace_cancelled()) {
		/* The client hung up while the secret was read: stop here. */
		snprintf(msg, msglen, "abandoned: the client hung up");
		goto out;
	}
	memset(&opts, 0, sizeof(opts));
	opts.proto = cfg->proto;
	opts.timeout_ms =
	    cfg->timeout_ms ? cfg->timeout_ms : s->opts.dns_timeout_ms;
	opts.key = cfg->has_secret_ref ? &key : NULL;
	opts.gss = gss != NULL ? gss->ctx : NULL;
	if (opts.gss != NULL)
		opts.proto = DNS_PROTO_TCP; /* tickets exceed UDP sizes */
	opts.trace = trace_dns;
	opts.deadline_ms = (int64_t)deadline;
	change = (struct dns_change){
	    .zone = *zone,
	    .fqdn = ch->resolved_fqdn,
	    .action = ch->action == CHALLENGE_CLEANUP ? DNS_DELETE : DNS_ADD,
	    .value = ch->key,
	    .ttl = cfg->ttl};
	sctx =
	    (struct send_ctx){.cfg = cfg, .opts = &opts, .deadline = deadline};
	group_id(cfg, ch, *zone, group, sizeof(group));
	/* GSS-TSIG contexts are per caller's principal: never shared. */
	ret = coalesce_update(gss != NULL ? NULL : s->coalesce, group, &change,
			      send_changes, &sctx, &res, &untried, &batched);
	if (batched > 1) {
		char records[24];

		snprintf(records, sizeof(records), "%zu", batched);
		log_debug(1, "update sent in a batch", "records", records,
			  "request_id", rid, "zone", *zone);
	}
	if (res.note[0] != '\0')
		log_info("nameserver addresses capped", "note", res.note,
			 "namespace", ch->resource_namespace, "request_id",
			 rid);
	if (opts.key != NULL && key.alt_secret != NULL)
		key_alt_outcome(s, ch, cfg, &key, &res, ret, rid);
	/* Said once per server and principal: dns/ flags the attempt. */
	for (size_t i = 0; i < res.nattempts; i++)
		if (res.attempts[i].gss_samba_learned)
			log_debug(2,
				  "server signs answers without the request "
				  "MAC length: Samba's form",
				  "nameserver", res.attempts[i].server,
				  "principal", res.attempts[i].gss_principal,
				  "request_id", rid);
	if (ret == 0 && !cfg->no_verify)
		ret = solver_verify_write(
		    &opts, &res, ch->resolved_fqdn, *zone, ch->key,
		    ch->action != CHALLENGE_CLEANUP, deadline, msg, msglen);
	/*
	 * NOTAUTH, or a NOERROR that is not served, with cert-manager's
	 * zone: the server may serve another zone for the name.
	 */
	if (ret != 0 && cfg->zone[0] == '\0' &&
	    solver_zone_retry(&res, ret == DNS_EVERIFY, &opts,
			      ch->resolved_fqdn, *zone, found,
			      sizeof(cfg->found_zone), msg, msglen)) {
		msg[0] = '\0';
		log_warn("the zone cert-manager found is not the server's: "
			 "updating the zone found at the server; set the "
			 "solver config's zone field to it",
			 "resolved_zone", ch->resolved_zone, "zone", found,
			 "fqdn", ch->resolved_fqdn, "request_id", rid, "action",
			 tc->action, "nameserver", cfg->servers_text);
		*zone = found;
		tc->zone = *zone;
		change.zone = *zone;
		ret = update_send(cfg, &opts, &change, 1, deadline, &res,
				  &untried);
		if (ret == 0 && !cfg->no_verify)
			ret = solver_verify_write(
			    &opts, &res, ch->resolved_fqdn, *zone, ch->key,
			    ch->action != CHALLENGE_CLEANUP, deadline, msg,
			    msglen);
	}
	if (ret == 0) {
		ok = true;
		goto out;
	}
	if (ret == DNS_EVERIFY || msg[0] != '\0')
		goto out;
	/* The operator's log gets the whole story, the tenant less. */
	dns_result_explain(&res, "update", opts.key, *zone, ch->resolved_fqdn,
			   cause, causelen);
	result_for_tenant(&res);
	if (res.nattempts == 0 && ret == -ETIMEDOUT)
		snprintf(msg, msglen,
			 "update of %s in zone %s not sent: the solver's "
			 "%u ms deadline passed before any nameserver was "
			 "tried",
			 ch->resolved_fqdn, *zone, s->opts.deadline_ms);
	else
		dns_result_explain(&res, "update", opts.key, *zone,
				   ch->resolved_fqdn, msg, msglen);
	used = strlen(msg);
	if (*zone == found)
		snprintf(msg + used, msglen - used,
			 "; zone %s was found at the server after the "
			 "update in request.resolvedZone %s failed",
			 found, ch->resolved_zone);
	used = strlen(msg);
	if (ret == DNS_ENOTSUB || ret == DNS_ENAME)
		snprintf(msg + used, msglen - used,
			 "; request.resolvedFQDN must lie inside %s (set "
			 "config.zone to the zone that holds it)",
			 cfg->zone[0] ? "config.zone" : "request.resolvedZone");
	used = strlen(msg);
	if (untried > 0 && res.nattempts > 0)
		snprintf(msg + used, msglen - used,
			 "; %zu more nameserver(s) not tried within the "
			 "solver's %u ms deadline",
			 untried, s->opts.deadline_ms);
	used = strlen(msg);
	if (opts.key != NULL && key.alt_secret != NULL && res.nattempts > 0 &&
	    res.attempts[res.nattempts - 1].key_alt)
		snprintf(msg + used, msglen - used,
			 "; the secret has two readings and the server "
			 "rejected both: as nsupdate -y reads it (base64 "
			 "decoded once) and %s",
			 key.alt_desc);
	else if (opts.key != NULL && key.warning[0] != '\0' &&
		 res.nattempts > 0 &&
		 dns_outcome_key_rejected(&res.attempts[res.nattempts - 1]))
		snprintf(msg + used, msglen - used, "; note: %s", key.warning);
	used = strlen(msg);
	if (res.note[0] != '\0')
		snprintf(msg + used, msglen - used, "; %s", res.note);
	used = strlen(msg);
	if (opts.key == NULL && opts.gss == NULL)
		snprintf(msg + used, msglen - used,
			 "; the update was unsigned because config has no "
			 "tsigSecretSecretRef (reference a Secret with the "
			 "TSIG key if the server requires one)");
out:
	k8s_deadline_set(0);
	dns_key_release(&key);
	gss_put(s, gss);
	return ok;
}

/* A body for when even encoding failed: out of memory. */
static int answer_oom(char **out, size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	return 500;
}

int solver_handle(struct solver *solver, const char *body, size_t len,
		  const char *request_id, char **out, size_t *outlen)
{
	struct solver_config cfg;
	struct challenge ch;
	char msg[MESSAGE_MAX] = "";
	char cause[MESSAGE_MAX] = "";
	char detail[512] = "";
	char ms[32];
	const char *zone = "";
	uint64_t start = now_ms();
	struct trace_ctx tc;
	bool ok;
	int status;

	memset(&cfg, 0, sizeof(cfg));
	if (challenge_decode(&ch, body, len, detail, sizeof(detail)) < 0) {
		snprintf(msg, sizeof(msg), "invalid ChallengePayload: %s",
			 detail);
		snprintf(ms, sizeof(ms), "%llu",
			 (unsigned long long)(now_ms() - start));
		log_info("challenge rejected", "outcome", "rejected", "error",
			 msg, "ms", ms, "request_id", request_id);
		metrics_request(METRICS_ACTION_UNKNOWN, METRICS_REJECTED,
				(now_ms() - start) * 1000);
		if (codec_status_encode(400, msg, out, outlen) < 0)
			return answer_oom(out, outlen);
		return 400;
	}

	ok = challenge_solve(solver, &ch, request_id, start, &cfg, &zone, &tc,
			     msg, sizeof(msg), cause, sizeof(cause));
	trace_ctx_set(NULL);
	metrics_request(
	    ch.action == CHALLENGE_CLEANUP ? METRICS_CLEANUP : METRICS_PRESENT,
	    ok ? METRICS_SUCCESS : METRICS_FAILURE, (now_ms() - start) * 1000);
	snprintf(ms, sizeof(ms), "%llu",
		 (unsigned long long)(now_ms() - start));
	if (ok)
		log_info("challenge", "action",
			 challenge_action_text(ch.action), "fqdn",
			 ch.resolved_fqdn, "zone", zone, "nameserver",
			 cfg.servers_text, "namespace", ch.resource_namespace,
			 "outcome", "success", "ms", ms, "uid", ch.uid,
			 "request_id", request_id);
	else
		log_info(
		    "challenge", "action", challenge_action_text(ch.action),
		    "fqdn", ch.resolved_fqdn, "zone", zone, "nameserver",
		    cfg.servers_text, "namespace", ch.resource_namespace,
		    "outcome", "failure", "ms", ms, "uid", ch.uid, "request_id",
		    request_id, "error", msg,
		    /* the detail the tenant's text leaves out, if any
		     * (a NULL key ends the list) */
		    strncmp(cause, msg, strlen(cause)) != 0 ? "cause" : NULL,
		    cause);

	status = 201;
	if (challenge_encode(&ch, ok, msg, out, outlen) < 0)
		status = answer_oom(out, outlen);
	challenge_release(&ch);
	return status;
}
