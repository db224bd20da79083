/*
 * solver_key.c - the TSIG key of a call: the Secret's value parsed as any
 * key format, with what to change when it does not parse, and the one-time
 * notes the solver keeps about a key (warned about its algorithm, the
 * server took the alternate reading of its secret) so that a warning is
 * said once and the reading that works goes first.
 */
#include <stdio.h>
#include <string.h>

#include "k8s/k8s.h"
#include "server/log.h"
#include "server/solver_internal.h"
#include "server/trace.h"

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

/* What to change in the Issuer after dns_key_parse() failed with @ret. */
static const char *key_hint(const struct solver_config *cfg,
			    const struct dns_key *key, int ret)
{
	if (key->err_names_setting)
		return ""; /* the key parser named the field */
	if (ret == DNS_EKEY_ALG && cfg->alg[0] == '\0')
		return "; set config.tsigAlgorithm to the server's "
		       "algorithm (e.g. hmac-sha256), or store a whole "
		       "key file that names it";
	if (ret == DNS_EKEY_NAME && cfg->key_name[0] == '\0')
		return "; set config.tsigKeyName to the key's name on "
		       "the server, or store a whole key file that "
		       "names it";
	if (ret == DNS_EKEY_CONFLICT)
		return "; config.tsigKeyName and config.tsigAlgorithm "
		       "must match the key file in the Secret (or be "
		       "left out)";
	return "";
}

/* The warnings a parsed key carries, to the operator's log. */
static void key_warn(struct solver *s, const char *ns,
		     const struct solver_config *cfg, const struct dns_key *key,
		     const char *rid)
{
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
}

int key_get(struct solver *s, const char *ns, const struct solver_config *cfg,
	    const char *rid, struct dns_key *key, char *msg, size_t msglen)
{
	char source[3 * SOLVER_REF_MAX + 32];
	char detail[512] = "";
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
		snprintf(msg, msglen, "%s%s",
			 detail[0] != '\0' ? detail : dns_strerror(ret),
			 key_hint(cfg, key, ret));
		goto out;
	}
	key_warn(s, ns, cfg, key, rid);
	/* The reading the server took last time goes first. */
	if (key->alt_secret != NULL &&
	    key_note(s, "alt", ns, cfg, key, NOTE_TEST))
		dns_key_alt_swap(key);
out:
	k8s_secret_free(value, len);
	return ret;
}

/*
 * key_get() has swapped the readings when the alternate was noted, so an
 * accepted key_alt attempt then means the first one.
 */
void key_alt_outcome(struct solver *s, const char *ns,
		     const struct solver_config *cfg, struct dns_key *key,
		     const struct dns_result *res, int ret, const char *rid)
{
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
