/*
 * options.c - option parsing, key loading and small output helpers
 * shared by the present, cleanup and check commands (the hints after a
 * diagnosis are in hints.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "util/clock.h"
#include "util/file.h"

/* Long-option values (no short forms: every flag is spelled out). */
enum {
	OPT_NAMESERVER = 256,
	OPT_ZONE,
	OPT_FQDN,
	OPT_VALUE,
	OPT_TTL,
	OPT_PROTOCOL,
	OPT_TIMEOUT,
	OPT_KEY_FILE,
	OPT_KEY_NAME,
	OPT_KEY_ALG,
	OPT_GSS_PRINCIPAL,
	OPT_GSS_KEYTAB,
	OPT_GSS_PASSWORD_FILE,
	OPT_GSS_SERVICE_HOST,
	OPT_GSS_REALM,
	OPT_NO_VERIFY,
	OPT_WAIT,
	OPT_AUTHORITATIVE,
	OPT_CREDENTIALS,
	OPT_HELP = 'h',
};

static const struct option long_options[] = {
    {"nameserver", required_argument, NULL, OPT_NAMESERVER},
    {"zone", required_argument, NULL, OPT_ZONE},
    {"fqdn", required_argument, NULL, OPT_FQDN},
    {"value", required_argument, NULL, OPT_VALUE},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"key-file", required_argument, NULL, OPT_KEY_FILE},
    {"tsig-key-name", required_argument, NULL, OPT_KEY_NAME},
    {"tsig-algorithm", required_argument, NULL, OPT_KEY_ALG},
    {"gss-principal", required_argument, NULL, OPT_GSS_PRINCIPAL},
    {"gss-keytab", required_argument, NULL, OPT_GSS_KEYTAB},
    {"gss-password-file", required_argument, NULL, OPT_GSS_PASSWORD_FILE},
    {"gss-service-host", required_argument, NULL, OPT_GSS_SERVICE_HOST},
    {"gss-realm", required_argument, NULL, OPT_GSS_REALM},
    {"no-verify", no_argument, NULL, OPT_NO_VERIFY},
    {"wait", required_argument, NULL, OPT_WAIT},
    {"authoritative", required_argument, NULL, OPT_AUTHORITATIVE},
    {"credentials", required_argument, NULL, OPT_CREDENTIALS},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* RFC 2181 8: a TTL is at most 2^31 - 1. */
#define TTL_MAX 2147483647UL
/* A per-attempt timeout beyond an hour is certainly a typo. */
#define TIMEOUT_MAX_S 3600.0

static int usage_error(const struct cli_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const struct cli_opts *o, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "rfc2136-webhook %s: ", o->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'rfc2136-webhook %s --help'.\n", o->cmd);
	return CLI_USAGE;
}

/* Copy a domain name, made absolute.  -1 when empty or too long. */
static int name_absolute(char *dst, const char *src)
{
	size_t n = strlen(src);

	if (n == 0)
		return -1;
	if (strcmp(src, ".") == 0) {
		memcpy(dst, ".", 2);
		return 0;
	}
	/* Room for the added dot and the NUL. */
	if (n + (src[n - 1] != '.') + 1 > DNS_NAME_LEN)
		return -1;
	memcpy(dst, src, n);
	if (src[n - 1] != '.')
		dst[n++] = '.';
	dst[n] = '\0';
	return 0;
}

/* True when absolute @name equals absolute @zone or lies below it. */
static bool name_in_zone(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);

	if (strcmp(zone, ".") == 0)
		return true;
	if (n < z || strcasecmp(name + n - z, zone) != 0)
		return false;
	return n == z || name[n - z - 1] == '.';
}

static int parse_ttl(const char *text, uint32_t *ttl)
{
	char *end;
	unsigned long v;

	/* strtoul() accepts "-1" and " 5"; a TTL is plain digits. */
	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno != 0 || *end != '\0' || v > TTL_MAX)
		return -1;
	*ttl = (uint32_t)v;
	return 0;
}

/* "5", "2.5", "2.5s": seconds, more than 0 and at most an hour. */
static int parse_timeout(const char *text, unsigned *ms)
{
	char *end;
	double v;

	if ((text[0] < '0' || text[0] > '9') && text[0] != '.')
		return -1;
	errno = 0;
	v = strtod(text, &end);
	if (errno != 0 || end == text)
		return -1;
	if (*end == 's')
		end++;
	if (*end != '\0' || !(v > 0.0) || v > TIMEOUT_MAX_S)
		return -1;
	/* Round up: 0.0001 s still waits 1 ms. */
	*ms = (unsigned)(v * 1000.0 + 0.999);
	return 0;
}

/* The option as the user wrote it, for messages about unknown options. */
static const char *bad_option(char **argv, int optopt_val)
{
	static char shortopt[3];

	if (optopt_val > 0 && optopt_val < 256) {
		shortopt[0] = '-';
		shortopt[1] = (char)optopt_val;
		shortopt[2] = '\0';
		return shortopt;
	}
	return argv[optind - 1];
}

static const char *long_name(int val)
{
	for (const struct option *opt = long_options; opt->name; opt++)
		if (opt->val == val)
			return opt->name;
	return "?";
}

/* Flags that only store their text: where, in struct cli_opts. */
static const struct {
	int val;
	size_t off;
} opt_texts[] = {
    {OPT_KEY_FILE, offsetof(struct cli_opts, key_file)},
    {OPT_KEY_NAME, offsetof(struct cli_opts, key_name)},
    {OPT_GSS_PRINCIPAL, offsetof(struct cli_opts, gss_principal)},
    {OPT_GSS_KEYTAB, offsetof(struct cli_opts, gss_keytab)},
    {OPT_GSS_PASSWORD_FILE, offsetof(struct cli_opts, gss_password_file)},
    {OPT_GSS_SERVICE_HOST, offsetof(struct cli_opts, gss_service_host)},
    {OPT_GSS_REALM, offsetof(struct cli_opts, gss_realm)},
    {OPT_CREDENTIALS, offsetof(struct cli_opts, credentials)},
};

/* The --zone and --fqdn texts, checked once every source is read. */
struct opts_names {
	const char *zone;
	const char *fqdn;
};

/*
 * Store @text for option @val when it is one of opt_texts[]; false when
 * @val needs more than that.
 */
static bool opt_text(struct cli_opts *o, int val, const char *text)
{
	for (size_t i = 0; i < sizeof(opt_texts) / sizeof(opt_texts[0]); i++) {
		if (opt_texts[i].val == val) {
			*(const char **)((char *)o + opt_texts[i].off) = text;
			return true;
		}
	}
	return false;
}

/*
 * Add address @text to @list of *@n (--@flag, at most CLI_SERVERS_MAX
 * @what).  0 or CLI_USAGE.
 */
static int addr_add(const struct cli_opts *o, const char *flag,
		    const char *what, struct dns_addr *list, size_t *n,
		    const char *text)
{
	char err[1024];

	if (*n == CLI_SERVERS_MAX)
		return usage_error(o, "--%s: at most %d %s", flag,
				   CLI_SERVERS_MAX, what);
	if (dns_addr_parse(&list[*n], text, err, sizeof(err)) != 0)
		return usage_error(o, "--%s '%s': %s", flag, text, err);
	(*n)++;
	return 0;
}

/* --value and --ttl, which only present and cleanup take. */
static int opt_value(struct cli_opts *o, int c, unsigned flags,
		     const char *text)
{
	if (!(flags & CLI_NEED_VALUE))
		return usage_error(o, "%s does not take --%s", o->cmd,
				   long_name(c));
	o->ttl_given = o->ttl_given || c == OPT_TTL;
	if (c == OPT_VALUE)
		o->value = text;
	else if (parse_ttl(text, &o->ttl) != 0)
		return usage_error(o, "--ttl '%s': not a number from 0 to %lu",
				   text, TTL_MAX);
	return 0;
}

/* --@flag SECONDS (parse_timeout()) into *@ms; @examples for the error. */
static int opt_seconds(const struct cli_opts *o, const char *flag,
		       const char *examples, const char *text, bool *given,
		       unsigned *ms)
{
	*given = true;
	if (parse_timeout(text, ms) != 0)
		return usage_error(o,
				   "--%s '%s': not a number of seconds above "
				   "0 and at most %.0f (e.g. %s)",
				   flag, text, TIMEOUT_MAX_S, examples);
	return 0;
}

/* The options that are checked as they are read. */
static int opt_checked(struct cli_opts *o, int c, const char *text)
{
	switch (c) {
	case OPT_PROTOCOL:
		o->proto_given = true;
		if (strcasecmp(text, "udp") == 0)
			o->proto = DNS_PROTO_UDP;
		else if (strcasecmp(text, "tcp") == 0)
			o->proto = DNS_PROTO_TCP;
		else
			return usage_error(o, "--protocol '%s': use udp or tcp",
					   text);
		return 0;
	case OPT_TIMEOUT:
		return opt_seconds(o, "timeout", "5 or 2.5", text,
				   &o->timeout_given, &o->timeout_ms);
	case OPT_KEY_ALG:
		if (dns_alg_from_text(text) <= 0)
			return usage_error(o,
					   "--tsig-algorithm '%s': unknown "
					   "algorithm (use hmac-sha256, "
					   "hmac-sha512, ... or md5, sha1, "
					   "sha224, sha384)",
					   text);
		o->key_alg = text;
		return 0;
	default: /* OPT_WAIT */
		if (strcmp(o->cmd, "cleanup") == 0)
			return usage_error(o, "%s does not take --wait",
					   o->cmd);
		return opt_seconds(o, "wait", "30 or 30s", text, &o->wait_given,
				   &o->wait_ms);
	}
}

/*
 * Apply option @c (getopt_long's answer) with optarg.  0 to go on, else
 * what opts_parse() returns: CLI_USAGE, or -1 after --help.
 */
static int opt_apply(struct cli_opts *o, int c, unsigned flags, char **argv,
		     const char *usage, struct opts_names *names)
{
	if (opt_text(o, c, optarg))
		return 0;
	switch (c) {
	case OPT_HELP:
		fputs(usage, stdout);
		printf("\n%s", cli_env_usage);
		return -1;
	case OPT_NAMESERVER:
		if (addr_add(o, "nameserver", "nameservers", o->servers,
			     &o->nservers, optarg) != 0)
			return CLI_USAGE;
		o->server_text[o->nservers - 1] = optarg;
		return 0;
	case OPT_AUTHORITATIVE:
		return addr_add(o, "authoritative", "servers", o->auth,
				&o->nauth, optarg);
	case OPT_ZONE:
		names->zone = optarg;
		return 0;
	case OPT_FQDN:
		names->fqdn = optarg;
		return 0;
	case OPT_VALUE:
	case OPT_TTL:
		return opt_value(o, c, flags, optarg);
	case OPT_PROTOCOL:
	case OPT_TIMEOUT:
	case OPT_KEY_ALG:
	case OPT_WAIT:
		return opt_checked(o, c, optarg);
	case OPT_NO_VERIFY:
		o->no_verify = true;
		return 0;
	case ':':
		return usage_error(o, "option '%s' needs a value",
				   argv[optind - 1]);
	default:
		return usage_error(o, "unknown option '%s'",
				   bad_option(argv, optopt));
	}
}

/*
 * What the flags left open, from the operands (lego's exec provider,
 * certbot's hooks) and the environment (env.c).  0 or CLI_USAGE.
 */
static int opts_sources(struct cli_opts *o, int argc, char **argv,
			unsigned flags, struct opts_names *names)
{
	char err[1024];

	if (!(flags & CLI_NEED_VALUE) && optind < argc)
		return usage_error(o, "unexpected argument '%s'", argv[optind]);
	if ((flags & CLI_NEED_VALUE) &&
	    cli_operands(o, argc - optind, argv + optind, &names->fqdn, err,
			 sizeof(err)) != 0)
		return usage_error(o, "%s", err);
	if (cli_env_apply(o, flags, &names->zone, err, sizeof(err)) != 0)
		return usage_error(o, "%s", err);
	return 0;
}

/* Nameservers, zone, FQDN and value: present, and of the right form. */
static int opts_check_names(struct cli_opts *o, unsigned flags,
			    const char *zone, const char *fqdn)
{
	if (o->nservers == 0)
		return usage_error(o, "missing --nameserver (or "
				      "RFC2136_NAMESERVER, or --credentials)");
	/* Without --zone, the zone of --fqdn is asked of the server. */
	if (zone == NULL && fqdn == NULL)
		return usage_error(o, "missing --zone (or --fqdn, whose zone "
				      "is then found at the nameserver)");
	o->zone_given = zone != NULL;
	if (zone != NULL && name_absolute(o->zone, zone) != 0)
		return usage_error(o, "--zone '%s': not a domain name", zone);
	if (fqdn == NULL && (flags & CLI_NEED_FQDN))
		return usage_error(o, "missing --fqdn (or FQDN VALUE, or "
				      "CERTBOT_DOMAIN)");
	if (fqdn != NULL) {
		if (name_absolute(o->fqdn, fqdn) != 0)
			return usage_error(o, "--fqdn '%s': not a domain name",
					   fqdn);
		if (o->zone_given && !name_in_zone(o->fqdn, o->zone))
			return usage_error(o,
					   "--fqdn '%s' is not inside --zone "
					   "'%s'",
					   o->fqdn, o->zone);
	}
	if ((flags & CLI_NEED_VALUE) && o->value == NULL)
		return usage_error(o, "missing --value (or FQDN VALUE, or "
				      "CERTBOT_VALIDATION)");
	if (o->value != NULL &&
	    (o->value[0] == '\0' || strlen(o->value) > DNS_TXT_MAX))
		return usage_error(o, "--value: empty or longer than %d bytes",
				   DNS_TXT_MAX);
	return CLI_OK;
}

/* One way to sign: a TSIG key or GSS-TSIG, each with what it needs. */
static int opts_check_signing(const struct cli_opts *o)
{
	if (o->gss_principal != NULL && o->key_file != NULL)
		return usage_error(o, "--gss-principal (GSS-TSIG) and "
				      "--key-file (TSIG key) exclude each "
				      "other: sign with one or the other");
	if (o->gss_principal == NULL &&
	    (o->gss_keytab || o->gss_password_file || o->gss_service_host ||
	     o->gss_realm))
		return usage_error(o, "--gss-%s needs --gss-principal",
				   o->gss_keytab	  ? "keytab"
				   : o->gss_password_file ? "password-file"
				   : o->gss_service_host  ? "service-host"
							  : "realm");
	if (o->gss_principal != NULL) {
		if (o->gss_service_host == NULL)
			return usage_error(
			    o, "--gss-principal needs --gss-service-host: the "
			       "DNS server's host name in its Kerberos "
			       "principal DNS/<host>");
		if ((o->gss_keytab != NULL) == (o->gss_password_file != NULL))
			return usage_error(o, "--gss-principal needs exactly "
					      "one of --gss-keytab and "
					      "--gss-password-file");
	}
	if (o->key_file == NULL && o->key_secret == NULL &&
	    (o->key_name || o->key_alg))
		return usage_error(o, "--%s needs --key-file",
				   o->key_name ? "tsig-key-name"
					       : "tsig-algorithm");
	return CLI_OK;
}

/* The defaults, then the flags, the other sources and the checks. */
static int opts_parse(struct cli_opts *o, int argc, char **argv, unsigned flags,
		      const char *usage)
{
	const char *cmd = o->cmd;
	struct opts_names names = {NULL, NULL};
	int c, ret;

	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->ttl = CLI_TTL_DEFAULT;
	o->timeout_ms = CLI_TIMEOUT_DEFAULT_MS;
	o->proto = DNS_PROTO_UDP;

	optind = 0; /* GNU: full re-initialisation */
	opterr = 0; /* our own messages, naming the flag */
	/*
	 * "+": options end at the first operand, so lego's VALUE may start
	 * with '-' (base64url of a digest does, one time in 64).
	 */
	while ((c = getopt_long(argc, argv, "+:h", long_options, NULL)) != -1) {
		ret = opt_apply(o, c, flags, argv, usage, &names);
		if (ret != 0)
			return ret;
	}
	ret = opts_sources(o, argc, argv, flags, &names);
	if (ret == 0)
		ret = opts_check_names(o, flags, names.zone, names.fqdn);
	if (ret == 0)
		ret = opts_check_signing(o);
	return ret;
}

int cli_opts_parse(struct cli_opts *o, int argc, char **argv, unsigned flags,
		   const char *usage)
{
	int ret = opts_parse(o, argc, argv, flags, usage);

	/* The command does not run: release what parsing took. */
	if (ret != CLI_OK)
		cli_release(o);
	return ret;
}

/* A password file's first line, into @buf (wiped by the caller). */
static int password_read(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "error: --gss-password-file %s: %s\n", path,
			dns_strerror(-errno));
		return -1;
	}
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		fprintf(stderr, "error: --gss-password-file %s is empty\n",
			path);
		return -1;
	}
	return 0;
}

static int gss_load(struct cli_opts *o)
{
	struct dns_gss_config cfg = {
	    .principal = o->gss_principal,
	    .realm = o->gss_realm,
	    .service_host = o->gss_service_host,
	    .keytab_path = o->gss_keytab,
	};
	char password[1024], err[512];
	int ret;

	if (o->gss_password_file != NULL) {
		if (password_read(o->gss_password_file, password,
				  sizeof(password)) != 0) {
			explicit_bzero(password, sizeof(password));
			return CLI_FAIL;
		}
		cfg.password = password;
	}
	ret = dns_gss_new(&o->gss, &cfg, err, sizeof(err));
	explicit_bzero(password, sizeof(password));
	if (ret != 0) {
		fprintf(stderr, "error: GSS-TSIG: %s\n",
			ret == -EINVAL ? err : dns_strerror(ret));
		return CLI_FAIL;
	}
	return 0;
}

void cli_release(struct cli_opts *o)
{
	if (o == NULL)
		return;
	/* RFC 2930 4.2: delete our keys on the servers, briefly. */
	dns_gss_free(o->gss, o->timeout_ms < 2000 ? o->timeout_ms : 2000);
	o->gss = NULL;
	if (o->key_secret != NULL)
		util_wipe_free(o->key_secret, strlen(o->key_secret));
	o->key_secret = NULL;
	free(o->env_servers);
	o->env_servers = NULL;
}

int cli_key_load(struct cli_opts *o, struct dns_key *key, bool *signed_out)
{
	char err[512];
	int ret;

	memset(key, 0, sizeof(*key));
	*signed_out = false;
	if (o->gss_principal != NULL)
		return gss_load(o);
	if (o->key_file == NULL && o->key_secret == NULL) {
		fprintf(stderr,
			"warning: no --key-file: the messages go unsigned; "
			"only a server that authorises updates by address "
			"accepts them\n");
		return 0;
	}
	if (o->key_file != NULL)
		ret = dns_key_load(key, o->key_file, o->key_name, o->key_alg,
				   err, sizeof(err));
	else
		ret = dns_key_parse(key, o->key_secret, strlen(o->key_secret),
				    o->key_source, o->key_name, o->key_alg, err,
				    sizeof(err));
	if (ret != 0) {
		fprintf(stderr, "error: %s\n",
			err[0] ? err : dns_strerror(ret));
		if (ret == DNS_EKEY_ALG && o->key_alg == NULL)
			fprintf(stderr,
				"hint: from the environment, set "
				"RFC2136_TSIG_ALGORITHM (or "
				"DNSUPDATE_TSIG_ALGORITHM) to the server "
				"key's algorithm\n");
		return CLI_FAIL;
	}
	if (key->warning[0] != '\0')
		fprintf(stderr, "warning: %s\n", key->warning);
	if (key->weak[0] != '\0')
		fprintf(stderr, "warning: %s\n", key->weak);
	*signed_out = true;
	return 0;
}

void cli_key_result(const struct dns_key *key, const struct dns_result *res)
{
	const struct dns_outcome *last;

	if (key == NULL || key->alt_secret == NULL || res == NULL ||
	    res->nattempts == 0)
		return;
	last = &res->attempts[res->nattempts - 1];
	if (!last->key_alt)
		return;
	/* A key_alt attempt follows a rejection of the first reading. */
	if (res->code == 0)
		fprintf(stderr, "warning: %s\n", key->alt_warning);
	else
		fprintf(stderr,
			"error: the secret has two readings and %s refused "
			"both: as nsupdate -y reads it (base64 decoded once) "
			"and %s\n",
			last->server, key->alt_desc);
}

void cli_dns_opts(const struct cli_opts *o, const struct dns_key *key,
		  struct dns_opts *dopts)
{
	memset(dopts, 0, sizeof(*dopts));
	dopts->proto = o->proto;
	dopts->timeout_ms = o->timeout_ms;
	dopts->key = key;
	dopts->gss = o->gss;
	if (o->gss != NULL)
		dopts->proto = DNS_PROTO_TCP; /* tickets exceed UDP sizes */
	dopts->deadline_ms =
	    dns_clock_ms() + (o->timeout_ms > CLI_DEADLINE_DEFAULT_MS
				  ? o->timeout_ms
				  : CLI_DEADLINE_DEFAULT_MS);
}

char *cli_quote(const char *value, char *buf, size_t len)
{
	size_t n = 0;

	if (len < 3) {
		if (len > 0)
			buf[0] = '\0';
		return buf;
	}
	buf[n++] = '"';
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		char tmp[5];
		size_t k;

		if (*p == '"' || *p == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)*p;
			k = 2;
		} else if (*p < 0x20 || *p >= 0x7f) {
			/* RFC 1035 5.1: \DDD for a byte in decimal. */
			snprintf(tmp, sizeof(tmp), "\\%03u", *p);
			k = 4;
		} else {
			tmp[0] = (char)*p;
			k = 1;
		}
		if (n + k + 2 > len)
			break;
		memcpy(buf + n, tmp, k);
		n += k;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

uint64_t cli_now_ms(void)
{
	return util_now_ms();
}
