/*
 * solver_gss.c - the solver's GSS-TSIG clients: one per (namespace,
 * Secret, principal, service host, realm), kept for the solver's life so
 * that one negotiated context serves many challenges (RFC 3645 contexts
 * are meant to be reused).  A changed Secret value (a new keytab) replaces
 * the entry; users hold a reference, and the last one frees a replaced
 * entry.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/k8s.h"
#include "server/solver_internal.h"
#include "util/file.h"

#define GSS_ENTRIES_MAX 32

struct gss_entry {
	char id[3 * SOLVER_REF_MAX + 512];
	uint8_t *value; /* the Secret value it was made from */
	size_t len;
	struct dns_gss_ctx *ctx;
	unsigned refs;
	bool dropped; /* no longer in the list: free at the last release */
	struct gss_entry *next;
};

struct dns_gss_ctx *gss_entry_ctx(const struct gss_entry *g)
{
	return g->ctx;
}

static void gss_entry_free(struct gss_entry *g)
{
	if (g == NULL)
		return;
	/* RFC 2930 4.2: delete our key on the server, then forget it. */
	dns_gss_free(g->ctx, 2000);
	util_wipe_free(g->value, g->len);
	free(g);
}

void gss_free_all(struct solver *s)
{
	struct gss_entry *g;

	while ((g = s->gss) != NULL) {
		s->gss = g->next;
		gss_entry_free(g);
	}
}

void gss_put(struct solver *s, struct gss_entry *g)
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
 * The entry @id made from the same Secret value, held; NULL when there is
 * none.  An entry made from another value (the Secret changed) goes.
 */
static struct gss_entry *gss_find(struct solver *s, const char *id,
				  const uint8_t *value, size_t len)
{
	struct gss_entry *g = NULL, *stale = NULL, **pp;

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
	return g;
}

/* Put @g first in the list, dropping the oldest when it is full. */
static void gss_insert(struct solver *s, struct gss_entry *g)
{
	struct gss_entry *evict = NULL, **pp;

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
}

/*
 * A GSS-TSIG client for @cfg from the Secret's @value (a keytab, or a
 * password on its first line) into @g->ctx.  On failure @msg says why.
 */
static int gss_create(struct gss_entry *g, const struct solver_config *cfg,
		      const uint8_t *value, size_t len, char *msg,
		      size_t msglen)
{
	struct dns_gss_config gc = {
	    .principal = cfg->gss_principal,
	    .realm = cfg->gss_realm[0] ? cfg->gss_realm : NULL,
	    .service_host = cfg->gss_service_host,
	};
	char detail[512] = "", *pw = NULL;
	int ret;

	if (cfg->gss_password) {
		/* The first line of the value is the password. */
		pw = calloc(1, len + 1);
		if (pw == NULL)
			return -ENOMEM;
		memcpy(pw, value, len);
		pw[strcspn(pw, "\r\n")] = '\0';
		gc.password = pw;
	} else {
		gc.keytab = value;
		gc.keytab_len = len;
	}
	ret = dns_gss_new(&g->ctx, &gc, detail, sizeof(detail));
	if (ret < 0)
		snprintf(msg, msglen, "config.gssTSIG: %s",
			 detail[0] ? detail : strerror(-ret));
	util_wipe_free(pw, pw != NULL ? len : 0);
	return ret;
}

int gss_get(struct solver *s, const char *ns, const struct solver_config *cfg,
	    struct gss_entry **out, char *msg, size_t msglen)
{
	struct gss_entry *g = NULL;
	char id[sizeof(g->id)];
	uint8_t *value = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	snprintf(id, sizeof(id), "%s/%s/%s/%s/%s/%s/%c", ns, cfg->secret_name,
		 cfg->secret_key, cfg->gss_principal, cfg->gss_service_host,
		 cfg->gss_realm, cfg->gss_password ? 'p' : 'k');
	ret = secret_get(s, ns, cfg, &value, &len, msg, msglen);
	if (ret < 0)
		return ret;
	g = gss_find(s, id, value, len);
	if (g != NULL)
		goto out;
	g = calloc(1, sizeof(*g));
	if (g == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	snprintf(g->id, sizeof(g->id), "%s", id);
	ret = gss_create(g, cfg, value, len, msg, msglen);
	if (ret < 0) {
		gss_entry_free(g);
		g = NULL;
		goto out;
	}
	g->value = value;
	g->len = len;
	value = NULL;
	g->refs = 1;
	gss_insert(s, g);
out:
	k8s_secret_free(value, len);
	*out = g;
	return ret;
}
