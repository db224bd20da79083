/*
 * config.c - validate the Issuer's webhook.config for the solver.
 *
 * Every problem is one sentence that names the field as the user wrote it
 * in the Issuer ("config.ttl must be an integer, got a string"), because it
 * ends up in the Challenge's events, far from this code.  The Go-style
 * durations of the config and of the flags are read here too; the
 * operator's --allowed-nameservers list is in config_allow.c.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/codec.h"
#include "server/config.h"

typedef int (*field_fn)(struct solver_config *cfg, const char *field,
			const json_t *v, char *err, size_t errlen);

/* One known config field and how to read it. */
struct field {
	const char *name;
	json_type type; /* the JSON type it must have */
	field_fn parse;
};

static int wrong_type(const char *field, const char *want, const json_t *v,
		      char *err, size_t errlen)
{
	snprintf(err, errlen, "%s must be %s, got %s", field, want,
		 codec_json_type(v));
	return -EINVAL;
}

static int server_add(struct solver_config *cfg, const char *field,
		      const char *text, char *err, size_t errlen)
{
	char detail[256] = "";
	struct dns_addr *a;
	size_t used;

	if (cfg->nservers == SOLVER_NS_MAX) {
		snprintf(err, errlen,
			 "%s: too many nameservers (at most %d in nameserver "
			 "and nameservers together)",
			 field, SOLVER_NS_MAX);
		return -EINVAL;
	}
	a = &cfg->servers[cfg->nservers];
	if (dns_addr_parse(a, text, detail, sizeof(detail)) < 0) {
		snprintf(err, errlen,
			 "%s \"%.80s\" is not a nameserver address: %s (write "
			 "host, host:port, [IPv6]:port or a bare IPv6 "
			 "address)",
			 field, text,
			 detail[0] != '\0' ? detail : "malformed address");
		return -EINVAL;
	}
	used = strlen(cfg->servers_text);
	snprintf(cfg->servers_text + used, sizeof(cfg->servers_text) - used,
		 "%s", used > 0 ? "," : "");
	used = strlen(cfg->servers_text);
	dns_addr_format(a, cfg->servers_text + used,
			sizeof(cfg->servers_text) - used);
	cfg->nservers++;
	return 0;
}

static int f_nameserver(struct solver_config *cfg, const char *field,
			const json_t *v, char *err, size_t errlen)
{
	return server_add(cfg, field, json_string_value(v), err, errlen);
}

static int f_nameservers(struct solver_config *cfg, const char *field,
			 const json_t *v, char *err, size_t errlen)
{
	char name[64];
	size_t i;
	json_t *item;
	int ret;

	if (json_array_size(v) == 0) {
		snprintf(err, errlen, "%s must list at least one nameserver",
			 field);
		return -EINVAL;
	}
	json_array_foreach(v, i, item)
	{
		snprintf(name, sizeof(name), "%s[%zu]", field, i);
		if (!json_is_string(item))
			return wrong_type(name, "a string", item, err, errlen);
		ret =
		    server_add(cfg, name, json_string_value(item), err, errlen);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int f_key_name(struct solver_config *cfg, const char *field,
		      const json_t *v, char *err, size_t errlen)
{
	size_t len = json_string_length(v);

	if (len == 0 || len >= sizeof(cfg->key_name)) {
		snprintf(err, errlen, "%s must be a key name of 1 to %zu bytes",
			 field, sizeof(cfg->key_name) - 1);
		return -EINVAL;
	}
	memcpy(cfg->key_name, json_string_value(v), len + 1);
	return 0;
}

static int f_alg(struct solver_config *cfg, const char *field, const json_t *v,
		 char *err, size_t errlen)
{
	const char *text = json_string_value(v);
	size_t len = json_string_length(v);

	if (len == 0 || len >= sizeof(cfg->alg) ||
	    dns_alg_from_text(text) <= 0) {
		snprintf(err, errlen,
			 "%s \"%.64s\" is not a TSIG algorithm (use one of "
			 "hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, "
			 "hmac-sha384, hmac-sha512, in any spelling such as "
			 "HMACSHA256)",
			 field, text);
		return -EINVAL;
	}
	memcpy(cfg->alg, text, len + 1);
	return 0;
}

/* RFC 1123 subdomain, as Kubernetes requires of a Secret's name. */
static bool k8s_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > 253 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(islower((unsigned char)s[i]) ||
		      isdigit((unsigned char)s[i]) || s[i] == '-' ||
		      s[i] == '.'))
			return false;
	return true;
}

/* A Secret data key: [-._a-zA-Z0-9]+, never "." or ".." (IsConfigMapKey). */
static bool k8s_key_valid(const char *s, size_t len)
{
	if (len == 0 || len > 253 || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0 || strncmp(s, "..", 2) == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '-' ||
		      s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

static int f_secret_ref(struct solver_config *cfg, const char *field,
			const json_t *v, char *err, size_t errlen)
{
	const char *k;
	const json_t *item;
	const json_t *name = NULL;
	const json_t *key = NULL;

	json_object_foreach((json_t *)v, k, item)
	{
		if (strcmp(k, "name") == 0) {
			name = item;
		} else if (strcmp(k, "key") == 0) {
			key = item;
		} else if (strcmp(k, "namespace") == 0) {
			/* DESIGN.md 2: no config field may name a namespace. */
			snprintf(err, errlen,
				 "%s.namespace is not accepted: the Secret is "
				 "always read from the challenge's namespace "
				 "(the Issuer's, or cert-manager's cluster "
				 "resource namespace for a ClusterIssuer)",
				 field);
			return -EINVAL;
		} else {
			snprintf(err, errlen,
				 "%s.%.64s is not a known field (known: name, "
				 "key)",
				 field, k);
			return -EINVAL;
		}
	}
	if (name == NULL || json_is_null(name)) {
		snprintf(err, errlen, "%s.name is missing", field);
		return -EINVAL;
	}
	if (!json_is_string(name)) {
		snprintf(err, errlen, "%s.name must be a string, got %s", field,
			 codec_json_type(name));
		return -EINVAL;
	}
	if (!k8s_name_valid(json_string_value(name),
			    json_string_length(name))) {
		snprintf(err, errlen,
			 "%s.name \"%.64s\" is not a valid Secret name "
			 "(lower case letters, digits, '-' and '.')",
			 field, json_string_value(name));
		return -EINVAL;
	}
	if (key == NULL || json_is_null(key)) {
		snprintf(err, errlen,
			 "%s.key is missing: name the Secret's data key that "
			 "holds the TSIG secret",
			 field);
		return -EINVAL;
	}
	if (!json_is_string(key)) {
		snprintf(err, errlen, "%s.key must be a string, got %s", field,
			 codec_json_type(key));
		return -EINVAL;
	}
	if (!k8s_key_valid(json_string_value(key), json_string_length(key))) {
		snprintf(err, errlen,
			 "%s.key \"%.64s\" is not a valid Secret data key "
			 "(letters, digits, '-', '_' and '.')",
			 field, json_string_value(key));
		return -EINVAL;
	}
	memcpy(cfg->secret_name, json_string_value(name),
	       json_string_length(name) + 1);
	memcpy(cfg->secret_key, json_string_value(key),
	       json_string_length(key) + 1);
	cfg->has_secret_ref = true;
	return 0;
}

static int f_protocol(struct solver_config *cfg, const char *field,
		      const json_t *v, char *err, size_t errlen)
{
	const char *text = json_string_value(v);

	if (strcasecmp(text, "UDP") == 0) {
		cfg->proto = DNS_PROTO_UDP;
	} else if (strcasecmp(text, "TCP") == 0) {
		cfg->proto = DNS_PROTO_TCP;
	} else {
		snprintf(err, errlen, "%s must be UDP or TCP, got \"%.64s\"",
			 field, text);
		return -EINVAL;
	}
	return 0;
}

static int f_ttl(struct solver_config *cfg, const char *field, const json_t *v,
		 char *err, size_t errlen)
{
	json_int_t ttl = json_integer_value(v);

	/* RFC 2181 8: a TTL is an unsigned 31-bit value; 0 is never cached
	 * but also never useful for a challenge the CA must see. */
	if (ttl < 1 || ttl > INT32_MAX) {
		snprintf(err, errlen,
			 "%s must be between 1 and 2147483647 seconds, got "
			 "%" JSON_INTEGER_FORMAT,
			 field, ttl);
		return -EINVAL;
	}
	cfg->ttl = (uint32_t)ttl;
	return 0;
}

static int f_zone(struct solver_config *cfg, const char *field, const json_t *v,
		  char *err, size_t errlen)
{
	const char *text = json_string_value(v);
	size_t len = json_string_length(v);
	bool bad = len == 0 || len > 254;

	/* Presentation form: no blanks, no empty label except the root. */
	for (size_t i = 0; !bad && i < len; i++)
		if (isspace((unsigned char)text[i]) ||
		    (text[i] == '.' && (i == 0 ? len > 1 : text[i - 1] == '.')))
			bad = true;
	if (bad) {
		snprintf(err, errlen,
			 "%s \"%.64s\" is not a domain name (write the zone "
			 "like example.org or example.org.)",
			 field, text);
		return -EINVAL;
	}
	if (text[len - 1] == '.')
		snprintf(cfg->zone, sizeof(cfg->zone), "%s", text);
	else
		snprintf(cfg->zone, sizeof(cfg->zone), "%s.", text);
	return 0;
}

int duration_parse(const char *text, unsigned forms, unsigned *ms)
{
	const char *p = text;
	double total = 0;

	if (*p == '\0')
		return -EINVAL;
	/* A bare number is the whole text: "5" is 5 s, "1m5" is an error. */
	if ((forms & DURATION_BARE_SECONDS) &&
	    strspn(text, "0123456789") == strlen(text) && strlen(text) <= 12) {
		total = strtod(text, NULL) * 1000;
		if (total > UINT_MAX)
			return -EINVAL;
		*ms = (unsigned)total;
		return 0;
	}
	/* Go's time.ParseDuration subset: [digits][.digits]unit, repeated;
	 * no sign, no exponent, at most 12 digits a number. */
	while (*p != '\0') {
		double n = 0;
		double scale = 1;
		double unit;
		int digits = 0;
		bool frac = false;

		for (; isdigit((unsigned char)*p) ||
		       (*p == '.' && !frac && (forms & DURATION_FRACTION));
		     p++) {
			if (*p == '.') {
				frac = true;
				continue;
			}
			if (++digits > 12)
				return -EINVAL;
			if (frac) {
				scale /= 10;
				n += (*p - '0') * scale;
			} else {
				n = n * 10 + (*p - '0');
			}
		}
		if (digits == 0)
			return -EINVAL;
		if (strncmp(p, "ms", 2) == 0) {
			unit = 1;
			p += 2;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else if (*p == 'm') {
			unit = 60000;
			p++;
		} else if (*p == 'h' && (forms & DURATION_HOURS)) {
			unit = 3600000;
			p++;
		} else {
			return -EINVAL;
		}
		total += n * unit;
		if (total > UINT_MAX)
			return -EINVAL;
	}
	*ms = (unsigned)total;
	return 0;
}

int solver_duration_parse(const char *text, unsigned *ms, char *err,
			  size_t errlen)
{
	if (duration_parse(text, DURATION_FRACTION, ms) == 0)
		return 0;
	snprintf(err, errlen,
		 "\"%.64s\" is not a duration (write e.g. \"5s\", \"2.5s\", "
		 "\"500ms\" or \"1m\")",
		 text);
	return -EINVAL;
}

static int f_timeout(struct solver_config *cfg, const char *field,
		     const json_t *v, char *err, size_t errlen)
{
	char detail[160];
	unsigned ms;

	if (solver_duration_parse(json_string_value(v), &ms, detail,
				  sizeof(detail)) < 0) {
		snprintf(err, errlen, "%s: %s", field, detail);
		return -EINVAL;
	}
	if (ms == 0 || ms > SOLVER_TIMEOUT_MAX) {
		snprintf(err, errlen,
			 "%s must be more than 0 and at most 60s, got "
			 "\"%.64s\"",
			 field, json_string_value(v));
		return -EINVAL;
	}
	cfg->timeout_ms = ms;
	return 0;
}

/* A non-empty string field of gssTSIG into @dst. */
static int gss_string(const char *field, const char *name, const json_t *v,
		      char *dst, size_t size, char *err, size_t errlen)
{
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s.%s must be a string, got %s", field,
			 name, codec_json_type(v));
		return -EINVAL;
	}
	if (json_string_length(v) == 0 || json_string_length(v) >= size) {
		snprintf(err, errlen, "%s.%s must be 1 to %zu bytes", field,
			 name, size - 1);
		return -EINVAL;
	}
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/*
 * One field @k of gssTSIG: a string into @cfg, or the Secret reference
 * (keytabSecretRef or passwordSecretRef, one of them) into @ref, read once
 * every field is known.
 */
static int gss_field(struct solver_config *cfg, const char *field,
		     const char *k, const json_t *item, const json_t **ref,
		     const char **refname, char *err, size_t errlen)
{
	if (strcmp(k, "principal") == 0)
		return gss_string(field, k, item, cfg->gss_principal,
				  sizeof(cfg->gss_principal), err, errlen);
	if (strcmp(k, "serviceHost") == 0)
		return gss_string(field, k, item, cfg->gss_service_host,
				  sizeof(cfg->gss_service_host), err, errlen);
	if (strcmp(k, "realm") == 0)
		return gss_string(field, k, item, cfg->gss_realm,
				  sizeof(cfg->gss_realm), err, errlen);
	if (strcmp(k, "keytabSecretRef") == 0 ||
	    strcmp(k, "passwordSecretRef") == 0) {
		if (*ref != NULL) {
			snprintf(err, errlen,
				 "%s: give keytabSecretRef or "
				 "passwordSecretRef, not both",
				 field);
			return -EINVAL;
		}
		*ref = item;
		*refname = k;
		return 0;
	}
	snprintf(err, errlen,
		 "%s.%.64s is not a known field (known: "
		 "principal, keytabSecretRef, "
		 "passwordSecretRef, serviceHost, realm)",
		 field, k);
	return -EINVAL;
}

/* What gssTSIG cannot do without: a principal, a service host, a Secret. */
static int gss_required(const struct solver_config *cfg, const char *field,
			const json_t *ref, char *err, size_t errlen)
{
	if (cfg->gss_principal[0] == '\0') {
		snprintf(err, errlen,
			 "%s.principal is missing: the Kerberos principal "
			 "that signs the updates (e.g. acme@EXAMPLE.COM)",
			 field);
		return -EINVAL;
	}
	if (cfg->gss_service_host[0] == '\0') {
		snprintf(err, errlen,
			 "%s.serviceHost is missing: the DNS server's host "
			 "name in its Kerberos principal DNS/<serviceHost> "
			 "(for Active Directory, the domain controller's "
			 "full name)",
			 field);
		return -EINVAL;
	}
	if (ref == NULL) {
		snprintf(err, errlen,
			 "%s needs keytabSecretRef (a Secret holding the "
			 "principal's keytab) or passwordSecretRef",
			 field);
		return -EINVAL;
	}
	return 0;
}

/* The keytab or password Secret reference @ref, named @refname. */
static int gss_secret_ref(struct solver_config *cfg, const char *field,
			  const char *refname, const json_t *ref, char *err,
			  size_t errlen)
{
	struct solver_config tmp;
	char sub[128];
	int ret;

	snprintf(sub, sizeof(sub), "%s.%s", field, refname);
	if (!json_is_object(ref))
		return wrong_type(sub, "an object", ref, err, errlen);
	memset(&tmp, 0, sizeof(tmp));
	ret = f_secret_ref(&tmp, sub, ref, err, errlen);
	if (ret < 0)
		return ret;
	memcpy(cfg->secret_name, tmp.secret_name, sizeof(cfg->secret_name));
	memcpy(cfg->secret_key, tmp.secret_key, sizeof(cfg->secret_key));
	cfg->gss_password = strcmp(refname, "passwordSecretRef") == 0;
	return 0;
}

/*
 * gssTSIG: {principal, keytabSecretRef | passwordSecretRef, serviceHost,
 * realm}.  The service host names the server's Kerberos principal
 * DNS/<serviceHost>; it is never taken from the nameserver's address.
 */
static int f_gss(struct solver_config *cfg, const char *field, const json_t *v,
		 char *err, size_t errlen)
{
	const json_t *item, *ref = NULL;
	const char *k, *refname = NULL;
	int ret;

	json_object_foreach((json_t *)v, k, item)
	{
		if (json_is_null(item))
			continue;
		ret =
		    gss_field(cfg, field, k, item, &ref, &refname, err, errlen);
		if (ret < 0)
			return ret;
	}
	ret = gss_required(cfg, field, ref, err, errlen);
	if (ret < 0)
		return ret;
	ret = gss_secret_ref(cfg, field, refname, ref, err, errlen);
	if (ret < 0)
		return ret;
	cfg->has_gss = true;
	return 0;
}

/* verify: false turns off the check after a write (on by default). */
static int f_verify(struct solver_config *cfg, const char *field,
		    const json_t *v, char *err, size_t errlen)
{
	(void)field;
	(void)err;
	(void)errlen;
	cfg->no_verify = json_is_false(v);
	return 0;
}

static const struct field fields[] = {
    {"nameserver", JSON_STRING, f_nameserver},
    {"nameservers", JSON_ARRAY, f_nameservers},
    {"tsigKeyName", JSON_STRING, f_key_name},
    {"tsigAlgorithm", JSON_STRING, f_alg},
    {"tsigSecretSecretRef", JSON_OBJECT, f_secret_ref},
    {"protocol", JSON_STRING, f_protocol},
    {"ttl", JSON_INTEGER, f_ttl},
    {"zone", JSON_STRING, f_zone},
    {"timeout", JSON_STRING, f_timeout},
    {"gssTSIG", JSON_OBJECT, f_gss},
    {"verify", JSON_TRUE, f_verify}, /* JSON_TRUE: true or false */
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static const char *type_words(json_type t)
{
	switch (t) {
	case JSON_STRING:
		return "a string";
	case JSON_ARRAY:
		return "a list";
	case JSON_OBJECT:
		return "an object";
	case JSON_INTEGER:
		return "an integer";
	case JSON_TRUE:
		return "true or false";
	default:
		return "something else";
	}
}

static int unknown_field(const char *k, char *err, size_t errlen)
{
	for (size_t i = 0; i < NFIELDS; i++) {
		if (strcasecmp(k, fields[i].name) == 0) {
			snprintf(err, errlen,
				 "config.%.64s is not a known field; did you "
				 "mean %s? (names are case-sensitive)",
				 k, fields[i].name);
			return -EINVAL;
		}
	}
	snprintf(err, errlen,
		 "config.%.64s is not a known field (known: nameserver, "
		 "nameservers, tsigKeyName, tsigAlgorithm, "
		 "tsigSecretSecretRef, protocol, ttl, zone, timeout, "
		 "gssTSIG, verify)",
		 k);
	return -EINVAL;
}

int solver_config_parse(struct solver_config *cfg, const json_t *config,
			char *err, size_t errlen)
{
	const json_t *v;
	char field[96];
	const char *k;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	cfg->proto = DNS_PROTO_UDP;
	cfg->ttl = SOLVER_TTL_DEFAULT;

	if (config == NULL) {
		snprintf(err, errlen,
			 "config is missing: the Issuer's webhook.config must "
			 "name at least a nameserver (and, for signed "
			 "updates, tsigKeyName, tsigAlgorithm and "
			 "tsigSecretSecretRef)");
		return -EINVAL;
	}
	if (!json_is_object(config))
		return wrong_type("config", "an object", config, err, errlen);

	/* Reject unknown names first: a typo explains the rest. */
	json_object_foreach((json_t *)config, k, v)
	{
		size_t i;

		for (i = 0; i < NFIELDS; i++)
			if (strcmp(k, fields[i].name) == 0)
				break;
		if (i == NFIELDS)
			return unknown_field(k, err, errlen);
	}

	/* In table order, so nameserver comes before nameservers. */
	for (size_t i = 0; i < NFIELDS; i++) {
		v = json_object_get(config, fields[i].name);
		if (v == NULL || json_is_null(v))
			continue;
		snprintf(field, sizeof(field), "config.%s", fields[i].name);
		if (json_typeof(v) != fields[i].type &&
		    !(fields[i].type == JSON_TRUE && json_is_boolean(v)))
			return wrong_type(field, type_words(fields[i].type), v,
					  err, errlen);
		ret = fields[i].parse(cfg, field, v, err, errlen);
		if (ret < 0)
			return ret;
	}

	if (cfg->nservers == 0) {
		snprintf(err, errlen,
			 "config.nameserver is missing: set nameserver (e.g. "
			 "\"10.0.0.53:53\") or nameservers to the primary "
			 "that takes dynamic updates");
		return -EINVAL;
	}
	if (cfg->has_gss &&
	    (cfg->has_secret_ref || cfg->key_name[0] || cfg->alg[0])) {
		snprintf(err, errlen,
			 "config.gssTSIG and config.%s exclude each other: "
			 "sign with GSS-TSIG (Kerberos) or with a TSIG key, "
			 "not both; remove one of them",
			 cfg->has_secret_ref ? "tsigSecretSecretRef"
			 : cfg->key_name[0]  ? "tsigKeyName"
					     : "tsigAlgorithm");
		return -EINVAL;
	}
	if (!cfg->has_secret_ref && (cfg->key_name[0] || cfg->alg[0])) {
		snprintf(err, errlen,
			 "config.%s is set but config.tsigSecretSecretRef is "
			 "not: name the Secret holding the TSIG secret, or "
			 "drop the TSIG fields for unsigned updates",
			 cfg->key_name[0] ? "tsigKeyName" : "tsigAlgorithm");
		return -EINVAL;
	}
	return 0;
}
