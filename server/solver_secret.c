/*
 * solver_secret.c - the Secret a solver config names (the TSIG secret, or
 * the Kerberos keytab or password), read through the Kubernetes API or the
 * secrets directory and kept for a short while (util/cache.h: one read at
 * a time per Secret, values wiped when dropped), and what to do when it
 * cannot be read.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "k8s/k8s.h"
#include "server/solver_internal.h"
#include "util/cache.h"

/* A Secret reference as the messages name it. */
struct secret_ref {
	const char *ns, *name, *key;
	const char *what;  /* what it holds: "TSIG secret" */
	const char *field; /* the config field that names it */
};

/* The message for K8S_ENOTFOUND: create it, or fix the reference. */
static void msg_notfound(const struct secret_ref *r, char *msg, size_t msglen)
{
	snprintf(msg, msglen,
		 "Secret %s/%s not found: create it in namespace %s "
		 "with the %s under key %s (for a "
		 "ClusterIssuer, in cert-manager's cluster resource "
		 "namespace), or fix %s.name",
		 r->ns, r->name, r->ns, r->what, r->key, r->field);
}

/* The message for K8S_EFORBIDDEN: the RBAC to grant. */
static void msg_forbidden(const struct solver *s, const struct secret_ref *r,
			  int ret, const char *detail, char *msg, size_t msglen)
{
	/* The API client's detail carries the RBAC hint already. */
	if (k8s_client_forbidden_hinted(s->opts.secrets))
		snprintf(msg, msglen, "reading Secret %s/%s key %s: %s", r->ns,
			 r->name, r->key, detail);
	else
		snprintf(msg, msglen,
			 "reading Secret %s/%s key %s is forbidden "
			 "(%s); grant the webhook's service account "
			 "get on secrets in namespace %s (a Role and "
			 "RoleBinding)",
			 r->ns, r->name, r->key,
			 detail[0] != '\0' ? detail : k8s_strerror(ret), r->ns);
}

/* What a failed k8s_secret_get() (@ret, its @detail) means for the user. */
static void secret_error(const struct solver *s, const struct secret_ref *r,
			 int ret, char *detail, size_t detaillen, char *msg,
			 size_t msglen)
{
	switch (ret) {
	case K8S_ENOTFOUND:
		msg_notfound(r, msg, msglen);
		break;
	case K8S_ENOKEY:
		/* The detail lists the keys the Secret does have. */
		if (detail[0] == '\0')
			snprintf(detail, detaillen,
				 "Secret %s/%s has no key %s", r->ns, r->name,
				 r->key);
		snprintf(msg, msglen,
			 "%s: store the %s under key %s, or set "
			 "%s.key to the key that holds it",
			 detail, r->what, r->key, r->field);
		break;
	case K8S_EFORBIDDEN:
		msg_forbidden(s, r, ret, detail, msg, msglen);
		break;
	case K8S_EUNAUTHORIZED:
		snprintf(msg, msglen,
			 "reading Secret %s/%s key %s failed: the Kubernetes "
			 "API rejected the webhook's credentials; %s",
			 r->ns, r->name, r->key, detail);
		break;
	default:
		snprintf(msg, msglen, "reading Secret %s/%s key %s failed: %s",
			 r->ns, r->name, r->key,
			 detail[0] != '\0' ? detail : k8s_strerror(ret));
		break;
	}
}

/* The Secret @cfg names in @ns, and what it holds, for messages. */
static struct secret_ref secret_ref_of(const char *ns,
				       const struct solver_config *cfg)
{
	return (struct secret_ref){
	    .ns = ns,
	    .name = cfg->secret_name,
	    .key = cfg->secret_key,
	    .what = !cfg->has_gss	? "TSIG secret"
		    : cfg->gss_password ? "Kerberos password"
					: "Kerberos keytab",
	    .field = !cfg->has_gss	 ? "config.tsigSecretSecretRef"
		     : cfg->gss_password ? "config.gssTSIG.passwordSecretRef"
					 : "config.gssTSIG.keytabSecretRef",
	};
}

/* Read the Secret from its source (a cache miss): 0, or @msg says why. */
static int secret_read(struct solver *s, const struct secret_ref *r,
		       uint8_t **value, size_t *len, char *msg, size_t msglen)
{
	char detail[1024] = "";
	int ret;

	if (s->opts.secrets == NULL) {
		snprintf(msg, msglen,
			 "cannot read Secret %s/%s key %s: the webhook has no "
			 "secret source (run it in-cluster, or with "
			 "--kubeconfig or --secrets-dir)",
			 r->ns, r->name, r->key);
		return -ENOENT;
	}
	ret = k8s_secret_get(s->opts.secrets, r->ns, r->name, r->key, value,
			     len, detail, sizeof(detail));
	if (ret != 0)
		secret_error(s, r, ret, detail, sizeof(detail), msg, msglen);
	return ret;
}

int secret_get(struct solver *s, const char *ns,
	       const struct solver_config *cfg, uint8_t **value, size_t *len,
	       char *msg, size_t msglen)
{
	const struct secret_ref r = secret_ref_of(ns, cfg);
	char id[3 * SOLVER_REF_MAX];
	int ticket = -1;
	int ret;

	snprintf(id, sizeof(id), "%s/%s/%s", ns, r.name, r.key);
	/* A hit, or another call's read of it ended: its value. */
	ret = util_cache_fetch(s->secrets, id, strlen(id), value, len, &ticket);
	if (ret == -ENOENT) {
		ret = secret_read(s, &r, value, len, msg, msglen);
		/* Best effort: a value not cached is read again next time. */
		if (ret == 0)
			util_cache_put(s->secrets, id, strlen(id), *value,
				       *len);
	}
	util_cache_done(s->secrets, ticket);
	if (ret == -ENOMEM)
		snprintf(msg, msglen, "out of memory reading Secret %s/%s", ns,
			 r.name);
	return ret;
}
