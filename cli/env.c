/*
 * env.c - what ACME clients hand the present and cleanup commands
 * besides flags: lego's exec provider passes "FQDN VALUE" (or, in RAW mode,
 * "-- DOMAIN TOKEN KEYAUTH") and its environment, where lego's rfc2136
 * users keep RFC2136_* (lego 5: DNSUPDATE_*) settings; certbot's manual
 * hooks get CERTBOT_DOMAIN and CERTBOT_VALIDATION, and certbot-dns-rfc2136
 * users have an INI credentials file.  Flags always win.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "cli/cli.h"
#include "util/file.h"

const char cli_env_usage[] =
    "environment (each used only where its flag is absent; DNSUPDATE_X is\n"
    "read before RFC2136_X, as lego does):\n"
    "  RFC2136_NAMESERVER   --nameserver; a comma-separated list for "
    "failover\n"
    "  RFC2136_TSIG_KEY     --tsig-key-name\n"
    "  RFC2136_TSIG_SECRET  the key's base64 secret (instead of "
    "--key-file)\n"
    "  RFC2136_TSIG_ALGORITHM --tsig-algorithm (required with a secret:\n"
    "                       no silent HMAC-SHA1 or HMAC-MD5 default)\n"
    "  RFC2136_TSIG_FILE    --key-file\n"
    "  RFC2136_TTL          --ttl\n"
    "  RFC2136_DNS_TIMEOUT  --timeout (10, 10s, 1m30s)\n"
    "  RFC2136_ZONE, RFC2136_PROTOCOL, RFC2136_WAIT   --zone, "
    "--protocol, --wait\n"
    "  CERTBOT_DOMAIN, CERTBOT_VALIDATION   FQDN _acme-challenge.DOMAIN. "
    "and VALUE\n"
    "                       when neither is given (certbot's manual "
    "hooks)\n";

/* The largest credentials file read: certbot's are a few lines. */
#define CRED_MAX (64 * 1024)

/* ------------------------------------------------------------ operands */

/* RFC 4648 5: base64url, without padding (RFC 8555 8.4). */
static void b64url(const unsigned char *in, size_t n, char *out, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				  "qrstuvwxyz0123456789-_";
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = tab[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = tab[v & 63];
	}
	out[o] = '\0';
}

/* _acme-challenge.DOMAIN. with a wildcard's "*." dropped (RFC 8555 8.4). */
static int challenge_name(char *buf, size_t len, const char *domain)
{
	size_t n;
	int w;

	if (strncmp(domain, "*.", 2) == 0)
		domain += 2;
	n = strlen(domain);
	if (n == 0)
		return -1;
	w = snprintf(buf, len, "_acme-challenge.%s%s", domain,
		     domain[n - 1] == '.' ? "" : ".");
	return w < 0 || (size_t)w >= len ? -1 : 0;
}

int cli_operands(struct cli_opts *o, int n, char **args, const char **fqdn,
		 char *err, size_t errlen)
{
	const char *dom, *val;

	if (n == 2) {
		/* lego exec: present FQDN VALUE (CNAMEs already followed). */
		if (*fqdn != NULL || o->value != NULL) {
			snprintf(err, errlen,
				 "FQDN and VALUE given both as operands and "
				 "as --fqdn/--value");
			return -1;
		}
		*fqdn = args[0];
		o->value = args[1];
		return 0;
	}
	if (n == 3) {
		/* lego exec RAW mode: present -- DOMAIN TOKEN KEYAUTH. */
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;

		if (*fqdn != NULL || o->value != NULL) {
			snprintf(err, errlen,
				 "DOMAIN TOKEN KEYAUTH given with "
				 "--fqdn/--value");
			return -1;
		}
		if (challenge_name(o->fqdn_buf, sizeof(o->fqdn_buf), args[0]) !=
		    0) {
			snprintf(err, errlen, "DOMAIN '%s': not a domain name",
				 args[0]);
			return -1;
		}
		if (args[2][0] == '\0' ||
		    EVP_Digest(args[2], strlen(args[2]), md, &mdlen,
			       EVP_sha256(), NULL) != 1) {
			snprintf(err, errlen,
				 "KEYAUTH: empty, or SHA-256 "
				 "failed");
			return -1;
		}
		b64url(md, mdlen, o->value_buf, sizeof(o->value_buf));
		*fqdn = o->fqdn_buf;
		o->value = o->value_buf;
		return 0;
	}
	if (n != 0) {
		snprintf(err, errlen,
			 "unexpected argument '%s' (%d operands; give FQDN "
			 "VALUE (lego exec), -- DOMAIN TOKEN KEYAUTH (lego "
			 "exec, RAW mode), or none)",
			 args[0], n);
		return -1;
	}
	if (*fqdn != NULL || o->value != NULL)
		return 0;
	/* certbot --manual-auth-hook: the wildcard's "*." is dropped. */
	dom = getenv("CERTBOT_DOMAIN");
	val = getenv("CERTBOT_VALIDATION");
	if (dom == NULL || dom[0] == '\0')
		return 0;
	if (val == NULL || val[0] == '\0') {
		snprintf(err, errlen,
			 "CERTBOT_DOMAIN is set but CERTBOT_VALIDATION is not");
		return -1;
	}
	if (challenge_name(o->fqdn_buf, sizeof(o->fqdn_buf), dom) != 0) {
		snprintf(err, errlen, "CERTBOT_DOMAIN '%s': not a domain name",
			 dom);
		return -1;
	}
	*fqdn = o->fqdn_buf;
	o->value = val;
	return 0;
}

/* ----------------------------------------------------------- durations */

int cli_duration_parse(const char *text, unsigned *ms)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {
	    {"ns", 1e-6}, {"us", 1e-3}, {"µs", 1e-3},  {"ms", 1.0},
	    {"s", 1e3},	  {"m", 60e3},	{"h", 3600e3},
	};
	const char *p = text;
	double total = 0.0;

	if (*p == '\0')
		return -1;
	while (*p != '\0') {
		char *end;
		double v;
		size_t u, best = 0, bestlen = 0;

		if ((*p < '0' || *p > '9') && *p != '.')
			return -1;
		errno = 0;
		v = strtod(p, &end);
		if (errno != 0 || end == p)
			return -1;
		p = end;
		for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
			size_t l = strlen(units[u].unit);

			if (strncmp(p, units[u].unit, l) == 0 && l > bestlen) {
				best = u;
				bestlen = l;
			}
		}
		if (bestlen == 0) {
			/* Plain seconds: lego 4's RFC2136_DNS_TIMEOUT=10. */
			if (*p != '\0' || total != 0.0)
				return -1;
			total = v * 1e3; /* a bare number: seconds */
			break;
		}
		total += v * units[best].ms;
		p += bestlen;
	}
	if (!(total > 0.0) || total > 3600e3)
		return -1;
	*ms = (unsigned)(total + 0.999);
	return 0;
}

/* ---------------------------------------------------------- credentials */

/* Trim white space (and one pair of quotes) in place. */
static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	if (e - s >= 2 && (*s == '"' || *s == '\'') && e[-1] == *s) {
		e[-1] = '\0';
		s++;
	}
	return s;
}

/* Read @path whole (bounded) into a heap string; wipe it after use. */
static char *file_read(const char *path, size_t *len, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	int ret = util_file_read(path, CRED_MAX, 0, &buf, len);

	if (ret == UTIL_ETOOBIG)
		snprintf(err, errlen,
			 "--credentials %s: larger than 64 KiB: not a "
			 "certbot credentials file",
			 path);
	else if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	else if (ret != 0)
		snprintf(err, errlen, "--credentials %s: %s", path,
			 util_strerror(ret));
	return (char *)buf;
}

/* What certbot-dns-rfc2136 reads of its INI file (NULL: absent). */
struct cred_fields {
	const char *server, *port, *name, *secret, *alg;
};

/*
 * certbot-dns-rfc2136's credentials: an INI file (configobj) of
 * "dns_rfc2136_server = 192.0.2.1" lines; other plugins' keys are ignored.
 * The values point into @text, which is cut into lines.
 */
static void credentials_parse(char *text, struct cred_fields *f)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
	    {"dns_rfc2136_server", offsetof(struct cred_fields, server)},
	    {"dns_rfc2136_port", offsetof(struct cred_fields, port)},
	    {"dns_rfc2136_name", offsetof(struct cred_fields, name)},
	    {"dns_rfc2136_secret", offsetof(struct cred_fields, secret)},
	    {"dns_rfc2136_algorithm", offsetof(struct cred_fields, alg)},
	};
	char *line, *next;

	for (line = text; line != NULL; line = next) {
		char *eq, *k, *v;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		line = trim(line);
		if (*line == '\0' || *line == '#' || *line == ';' ||
		    *line == '[')
			continue;
		eq = strchr(line, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		k = trim(line);
		v = trim(eq + 1);
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strcmp(k, keys[i].key) == 0)
				*(const char **)((char *)f + keys[i].off) = v;
	}
}

/* The nameserver from dns_rfc2136_server and _port, when no flag gave one. */
static int credentials_server(struct cli_opts *o, const char *path,
			      const struct cred_fields *f, char *err,
			      size_t errlen)
{
	const char *server = f->server, *port = f->port;
	int w;

	if (o->nservers != 0)
		return 0;
	if (server == NULL || server[0] == '\0') {
		snprintf(err, errlen,
			 "--credentials %s: no dns_rfc2136_server "
			 "(and no --nameserver)",
			 path);
		return -1;
	}
	w = snprintf(o->server_buf, sizeof(o->server_buf),
		     strchr(server, ':') && port ? "[%s]%s%s" : "%s%s%s",
		     server, port ? ":" : "", port ? port : "");
	if (w < 0 || (size_t)w >= sizeof(o->server_buf) ||
	    dns_addr_parse(&o->servers[0], o->server_buf, err, errlen) != 0) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen,
			 "--credentials %s: dns_rfc2136_server/_port "
			 "'%s': %s",
			 path, o->server_buf, why);
		return -1;
	}
	o->server_text[0] = o->server_buf;
	o->nservers = 1;
	return 0;
}

/* The TSIG key's name, algorithm and secret, unless flags name a key. */
static int credentials_key(struct cli_opts *o, const char *path,
			   const struct cred_fields *f, char *err,
			   size_t errlen)
{
	const char *name = f->name, *secret = f->secret, *alg = f->alg;

	if (o->key_file != NULL || o->gss_principal != NULL)
		return 0; /* the flags name the key */
	if (secret == NULL || secret[0] == '\0' || name == NULL ||
	    name[0] == '\0') {
		snprintf(err, errlen,
			 "--credentials %s: dns_rfc2136_%s is missing", path,
			 secret == NULL || secret[0] == '\0' ? "secret"
							     : "name");
		return -1;
	}
	if (o->key_alg == NULL && (alg == NULL || alg[0] == '\0')) {
		snprintf(err, errlen,
			 "--credentials %s: dns_rfc2136_algorithm is missing; "
			 "certbot-dns-rfc2136 would use HMAC-MD5 without "
			 "saying so: set it to the server key's algorithm "
			 "(HMAC-SHA256, HMAC-SHA512, ...)",
			 path);
		return -1;
	}
	if (o->key_alg == NULL) {
		if (dns_alg_from_text(alg) <= 0) {
			snprintf(err, errlen,
				 "--credentials %s: dns_rfc2136_algorithm "
				 "'%.40s': unknown algorithm (HMAC-SHA256, "
				 "HMAC-SHA512, ...)",
				 path, alg);
			return -1;
		}
		snprintf(o->alg_buf, sizeof(o->alg_buf), "%s", alg);
		o->key_alg = o->alg_buf;
		o->alg_source = "dns_rfc2136_algorithm in --credentials";
	}
	if (o->key_name == NULL) {
		snprintf(o->name_buf, sizeof(o->name_buf), "%s", name);
		o->key_name = o->name_buf;
	}
	o->key_secret = strdup(secret);
	if (o->key_secret == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	o->key_source = "dns_rfc2136_secret in --credentials";
	return 0;
}

/* Read --credentials and take the nameserver and key it gives. */
static int credentials_load(struct cli_opts *o, char *err, size_t errlen)
{
	const char *path = o->credentials;
	struct cred_fields f = {0};
	struct stat st;
	char *text;
	size_t len = 0;
	int ret = -1;

	text = file_read(path, &len, err, errlen);
	if (text == NULL)
		return -1;
	/* certbot's own warning, for the same file. */
	if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
		fprintf(stderr,
			"warning: Unsafe permissions on credentials "
			"configuration file: %s (readable by group or others: "
			"chmod 600 %s)\n",
			path, path);
	credentials_parse(text, &f);
	if (credentials_server(o, path, &f, err, errlen) == 0 &&
	    credentials_key(o, path, &f, err, errlen) == 0)
		ret = 0;
	util_wipe_free(text, len);
	return ret;
}

/* ---------------------------------------------------------- environment */

/* lego 5 reads DNSUPDATE_X, then RFC2136_X; *@var gets the name found. */
static const char *env_get(const char *suffix, bool dnsupdate, const char **var)
{
	static const char *const names[][2] = {
	    {"DNSUPDATE_NAMESERVER", "RFC2136_NAMESERVER"},
	    {"DNSUPDATE_TSIG_KEY", "RFC2136_TSIG_KEY"},
	    {"DNSUPDATE_TSIG_SECRET", "RFC2136_TSIG_SECRET"},
	    {"DNSUPDATE_TSIG_ALGORITHM", "RFC2136_TSIG_ALGORITHM"},
	    {"DNSUPDATE_TSIG_FILE", "RFC2136_TSIG_FILE"},
	    {"DNSUPDATE_TTL", "RFC2136_TTL"},
	    {"DNSUPDATE_DNS_TIMEOUT", "RFC2136_DNS_TIMEOUT"},
	    {"RFC2136_ZONE", "RFC2136_ZONE"},
	    {"RFC2136_PROTOCOL", "RFC2136_PROTOCOL"},
	    {"RFC2136_WAIT", "RFC2136_WAIT"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(names[i][1] + 8, suffix) != 0)
			continue;
		for (int j = dnsupdate ? 0 : 1; j < 2; j++) {
			const char *v = getenv(names[i][j]);

			if (v != NULL && v[0] != '\0') {
				*var = names[i][j];
				return v;
			}
		}
		break;
	}
	return NULL;
}

/* RFC2136_NAMESERVER=a,b: failover in that order. */
static int env_servers(struct cli_opts *o, const char *list, const char *var,
		       char *err, size_t errlen)
{
	char *p, *next, why[256];

	o->env_servers = strdup(list);
	if (o->env_servers == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (p = o->env_servers; p != NULL; p = next) {
		next = strchr(p, ',');
		if (next != NULL)
			*next++ = '\0';
		p = trim(p);
		if (*p == '\0')
			continue;
		if (o->nservers == CLI_SERVERS_MAX) {
			snprintf(err, errlen, "%s: at most %d nameservers", var,
				 CLI_SERVERS_MAX);
			return -1;
		}
		if (dns_addr_parse(&o->servers[o->nservers], p, why,
				   sizeof(why)) != 0) {
			snprintf(err, errlen, "%s '%s': %s", var, p, why);
			return -1;
		}
		o->server_text[o->nservers++] = p;
	}
	return 0;
}

/* The key: TSIG_FILE or TSIG_SECRET, with TSIG_KEY and TSIG_ALGORITHM. */
static int env_key(struct cli_opts *o, char *err, size_t errlen)
{
	const char *var = NULL, *avar = NULL, *nvar = NULL, *file, *secret;
	const char *name, *alg;

	if (o->gss_principal != NULL)
		return 0;
	if (o->key_file == NULL && o->key_secret == NULL) {
		file = env_get("TSIG_FILE", true, &var);
		secret = env_get("TSIG_SECRET", true, &var);
		if (file != NULL) {
			o->key_file = file;
		} else if (secret != NULL) {
			o->key_secret = strdup(secret);
			if (o->key_secret == NULL) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			o->key_source = var;
		} else {
			return 0; /* unsigned, as lego without a key */
		}
	}
	name = env_get("TSIG_KEY", true, &nvar);
	if (o->key_name == NULL && name != NULL)
		o->key_name = name;
	alg = env_get("TSIG_ALGORITHM", true, &avar);
	if (o->key_alg == NULL && alg != NULL) {
		if (dns_alg_from_text(alg) <= 0) {
			snprintf(err, errlen,
				 "%s '%.40s': unknown algorithm (use "
				 "hmac-sha256, hmac-sha512, ...)",
				 avar, alg);
			return -1;
		}
		o->key_alg = alg;
		o->alg_source = avar;
	}
	if (o->key_secret != NULL && o->key_alg == NULL) {
		/* lego would sign with HMAC-SHA1 without saying so. */
		snprintf(err, errlen,
			 "%s is set but RFC2136_TSIG_ALGORITHM (or "
			 "DNSUPDATE_TSIG_ALGORITHM, or --tsig-algorithm) is "
			 "not: set it to the server key's algorithm "
			 "(hmac-sha256, hmac-sha512, ...); lego's rfc2136 "
			 "provider assumes hmac-sha1 silently, which a "
			 "tsig-keygen key does not match",
			 o->key_source);
		return -1;
	}
	if (o->key_secret != NULL && o->key_name == NULL) {
		snprintf(err, errlen,
			 "%s is set but RFC2136_TSIG_KEY (or "
			 "DNSUPDATE_TSIG_KEY, or --tsig-key-name), the key's "
			 "name, is not",
			 o->key_source);
		return -1;
	}
	return 0;
}

/*
 * A duration variable (env_get(@suffix, @dnsupdate)) into *@ms when set;
 * @examples shows the forms in the error.  0 or -1.
 */
static int env_duration(const char *suffix, bool dnsupdate,
			const char *examples, unsigned *ms, char *err,
			size_t errlen)
{
	const char *var = NULL;
	const char *v = env_get(suffix, dnsupdate, &var);

	if (v != NULL && cli_duration_parse(v, ms) != 0) {
		snprintf(err, errlen,
			 "%s '%s': not a duration above 0 and at most an "
			 "hour (%s)",
			 var, v, examples);
		return -1;
	}
	return 0;
}

int cli_env_apply(struct cli_opts *o, unsigned flags, const char **zone,
		  char *err, size_t errlen)
{
	const char *v, *var = NULL;

	if (o->credentials != NULL && credentials_load(o, err, errlen) != 0)
		return -1;
	v = env_get("NAMESERVER", true, &var);
	if (o->nservers == 0 && v != NULL &&
	    env_servers(o, v, var, err, errlen) != 0)
		return -1;
	v = env_get("ZONE", false, &var);
	if (*zone == NULL && v != NULL)
		*zone = v;
	if (env_key(o, err, errlen) != 0)
		return -1;
	v = env_get("TTL", true, &var);
	if (!o->ttl_given && v != NULL && (flags & CLI_NEED_VALUE)) {
		char *end;
		unsigned long t;

		errno = 0;
		t = strtoul(v, &end, 10);
		if (v[0] < '0' || v[0] > '9' || errno != 0 || *end != '\0' ||
		    t > 2147483647UL) {
			snprintf(err, errlen, "%s '%s': not a TTL in seconds",
				 var, v);
			return -1;
		}
		o->ttl = (uint32_t)t;
	}
	if (!o->timeout_given &&
	    env_duration("DNS_TIMEOUT", true, "10, 10s, 1m30s", &o->timeout_ms,
			 err, errlen) != 0)
		return -1;
	v = env_get("PROTOCOL", false, &var);
	if (!o->proto_given && v != NULL) {
		if (strcasecmp(v, "udp") == 0)
			o->proto = DNS_PROTO_UDP;
		else if (strcasecmp(v, "tcp") == 0)
			o->proto = DNS_PROTO_TCP;
		else {
			snprintf(err, errlen, "%s '%s': use udp or tcp", var,
				 v);
			return -1;
		}
	}
	if (!o->wait_given && strcmp(o->cmd, "present") == 0 &&
	    env_duration("WAIT", false, "30, 30s", &o->wait_ms, err, errlen) !=
		0)
		return -1;
	return 0;
}
