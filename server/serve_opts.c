/*
 * serve_opts.c - the flags of `rfc2136-webhook serve` (see serve_opts.h):
 * the usage text, one table row a flag with the function that reads it,
 * and the checks of the flags together once all are read.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/coalesce.h"
#include "server/http.h"
#include "server/listen.h"
#include "server/metrics.h"
#include "server/serve_opts.h"
#include "server/solver_zone.h"
#include "server/tls.h"

static const char serve_usage[] =
    "usage: rfc2136-webhook serve --tls-cert-file FILE --tls-private-key-file FILE\n"
    "           --group-name GROUP [OPTIONS]\n"
    "\n"
    "Serve cert-manager's webhook solver API over HTTPS, for kube-apiserver\n"
    "to proxy POST /apis/GROUP/v1alpha1/SOLVER to.\n"
    "\n"
    "serving:\n"
    "  --secure-port PORT              HTTPS port (default 8443)\n"
    "  --bind-address ADDR             address to listen on; empty (default), 0.0.0.0\n"
    "                                  or :: mean every address family: one IPv6\n"
    "                                  socket that also takes IPv4 (IPv4 only where\n"
    "                                  the kernel has no IPv6); any other address\n"
    "                                  is that address and family only\n"
    "  --tls-cert-file FILE            serving certificate chain, PEM (required;\n"
    "                                  re-read when it changes)\n"
    "  --tls-private-key-file FILE     its private key, PEM (required)\n"
    "  --tls-min-version VERSION       VersionTLS12 (default) or VersionTLS13\n"
    "  --tls-cipher-suites LIST        TLS 1.2 suites, Go/IANA names, comma list (default:\n"
    "                                  the ECDHE AEAD suites; TLS 1.3 suites are fixed)\n"
    "  --group-name GROUP              API group of the solver (required; or env GROUP_NAME)\n"
    "  --solver-name NAME              solver name in the Issuer (default rfc2136)\n"
    "\n"
    "limits (see the README's security section):\n"
    "  --max-connections N             open connections at most (default 256)\n"
    "  --max-connections-per-client N  from one client address at most (default 64);\n"
    "                                  keep it well below --max-connections, so that\n"
    "                                  one address cannot keep kubelet's probes and\n"
    "                                  kube-apiserver out\n"
    "  --tls-handshake-timeout DURATION  a new connection must finish its TLS\n"
    "                                  handshake within this of the accept (default 5s)\n"
    "  --first-request-timeout DURATION  ... and send its first request's headers\n"
    "                                  within this of the accept (default 10s)\n"
    "  --max-challenges-per-namespace N  solver calls of one namespace run at once\n"
    "                                  (default 12 of 16; 4 times as many wait, 9 s at most;\n"
    "                                  further ones are answered at once with a\n"
    "                                  failure naming the namespace)\n"
    "  --allow-core-dumps              let a crash write a core file (off by default:\n"
    "                                  it would hold TSIG keys and the serving key)\n"
    "\n"
    "authentication and authorization:\n"
    "  --requestheader-client-ca-file FILE  CA of the front proxy's client certificate;\n"
    "                                  without it the request-header settings come from\n"
    "                                  ConfigMap kube-system/extension-apiserver-authentication\n"
    "                                  when a Kubernetes API is configured, else every API\n"
    "                                  request is refused (401)\n"
    "  --requestheader-reload-interval DURATION  how often that ConfigMap is re-read\n"
    "                                  (default 1m)\n"
    "  --requestheader-allowed-names LIST   client certificate CNs allowed (comma list;\n"
    "                                  default: any signed by the CA)\n"
    "  --requestheader-username-headers LIST  (default X-Remote-User)\n"
    "  --requestheader-group-headers LIST     (default X-Remote-Group)\n"
    "  --requestheader-extra-headers-prefix LIST  (default X-Remote-Extra-)\n"
    "  --requestheader-uid-headers LIST       (default X-Remote-Uid)\n"
    "  --authorization-mode MODE       SubjectAccessReview (default) or\n"
    "                                  AllowAuthenticated (no Kubernetes API needed;\n"
    "                                  any user the front proxy names may call)\n"
    "\n"
    "secrets (the TSIG keys Issuers refer to):\n"
    "  --kubeconfig FILE               Kubernetes API access (default: in-cluster)\n"
    "  --secrets-dir DIR               read secrets from DIR/NAMESPACE/NAME/KEY instead\n"
    "  --krb5-config FILE              Kerberos configuration for GSS-TSIG (sets\n"
    "                                  KRB5_CONFIG; default: the system's krb5.conf)\n"
    "\n"
    "other:\n"
    "  --dns-timeout DURATION          per-attempt DNS timeout, e.g. 5s (default 5s);\n"
    "                                  a call never exceeds its 25s deadline\n"
    "  --allowed-zones LIST            only names inside these zones (comma-separated)\n"
    "                                  are updated; others fail before any Secret read\n"
    "  --allowed-nameservers LIST      CIDRs and host names tenants may send to\n"
    "                                  (e.g. 10.0.0.0/8,ns1.example.com; default: any)\n"
    "  --request-read-timeout DURATION  time a client has to send a whole request\n"
    "                                  (handshake, headers, body) and to read the answer;\n"
    "                                  slower clients are disconnected (default 30s)\n"
    "  --coalesce-window DURATION      challenges for a zone that arrive while another\n"
    "                                  update of it is in flight share one UPDATE,\n"
    "                                  sent when that update is done or after this\n"
    "                                  (default 10ms; 0 sends each alone)\n"
    "  --shutdown-grace-period DURATION  wait for requests in flight on SIGTERM, then\n"
    "                                  exit without them (default 25s)\n"
    "  --metrics-bind-address HOST:PORT  serve Prometheus metrics over plain HTTP at\n"
    "                                  /metrics, e.g. :9402; HOST empty, 0.0.0.0 or\n"
    "                                  [::] means every address family (as for\n"
    "                                  --bind-address), 127.0.0.1 or [::1] that\n"
    "                                  address only (default: off; 0 turns it off)\n"
    "  --metrics-label-ttl DURATION    forget a nameserver's metric series unused\n"
    "                                  this long (default 15m)\n"
    "  --v N                           log verbosity (0: one line per challenge;\n"
    "                                  2: also unauthenticated requests)\n"
    "  --logging-format FORMAT         text (default) or json\n"
    "  --help                          this text\n";

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Print a usage error on stderr; returns the exit status 2. */
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("rfc2136-webhook serve: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(see 'rfc2136-webhook serve --help')\n", stderr);
	return 2;
}

/* A whole decimal number from @min to @max; 0 or -EINVAL. */
static int number_parse(const char *s, long min, long max, long *out)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * A Go-style duration ("500ms", "5s", "1m30s", "1h") or a bare number of
 * seconds, into milliseconds; between 1 ms and 1 hour.
 */
static int duration_flag_parse(const char *s, unsigned *ms)
{
	unsigned v;

	if (duration_parse(s, DURATION_HOURS | DURATION_BARE_SECONDS, &v) < 0 ||
	    v == 0 || v > 3600000)
		return -EINVAL;
	*ms = v;
	return 0;
}

/* DNS-1123 subdomain (the API group) or label (the solver name). */
static bool name_valid(const char *s, bool dots)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '-' || s[0] == '.' ||
	    s[n - 1] == '-' || s[n - 1] == '.')
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || (dots && *p == '.')))
			return false;
	return true;
}

/* ------------------------------------------------------------ flags */

struct flag;

/*
 * Read @arg, the value of the flag @f, into @c.  Returns 0, or the exit
 * status to leave with: 2 after a usage error, -1 after --help.
 */
typedef int (*flag_fn)(struct serve_config *c, const struct flag *f,
		       const char *arg);

/* One flag: its name, how to read it, and into which field. */
struct flag {
	const char *name;
	int has_arg; /* getopt_long's required_argument or no_argument */
	flag_fn parse;
	size_t off;	  /* the field of struct serve_config it sets */
	long min, max;	  /* a number's range */
	const char *what; /* "--NAME: 'ARG' is not WHAT" */
};

/* The field of @c that the flag @f sets. */
static void *flag_field(struct serve_config *c, const struct flag *f)
{
	return (char *)c + f->off;
}

/* The usage error for a value the flag does not take. */
static int flag_invalid(const struct flag *f, const char *arg)
{
	return usage_error("--%s: '%s' is not %s", f->name, arg, f->what);
}

/* A string kept as given (a file, an address, a header list). */
static int flag_string(struct serve_config *c, const struct flag *f,
		       const char *arg)
{
	*(const char **)flag_field(c, f) = arg;
	return 0;
}

/* A decimal number from f->min to f->max. */
static int flag_number(struct serve_config *c, const struct flag *f,
		       const char *arg)
{
	long n;

	if (number_parse(arg, f->min, f->max, &n) < 0)
		return flag_invalid(f, arg);
	*(unsigned *)flag_field(c, f) = (unsigned)n;
	return 0;
}

/* A duration of 1 ms to 1 hour, in milliseconds. */
static int flag_duration(struct serve_config *c, const struct flag *f,
			 const char *arg)
{
	if (duration_flag_parse(arg, flag_field(c, f)) < 0)
		return flag_invalid(f, arg);
	return 0;
}

/* --coalesce-window: up to 1 s, or 0 for none. */
static int flag_coalesce(struct serve_config *c, const struct flag *f,
			 const char *arg)
{
	if (strcmp(arg, "0") == 0) {
		c->coalesce_ms = 0;
		return 0;
	}
	if (duration_flag_parse(arg, &c->coalesce_ms) < 0 ||
	    c->coalesce_ms > 1000)
		return flag_invalid(f, arg);
	return 0;
}

/* --authorization-mode; Webhook is Kubernetes' name for the default. */
static int flag_authz_mode(struct serve_config *c, const struct flag *f,
			   const char *arg)
{
	if (strcmp(arg, "SubjectAccessReview") == 0 ||
	    strcmp(arg, "Webhook") == 0)
		c->authz_mode = AUTHZ_SUBJECT_ACCESS_REVIEW;
	else if (strcmp(arg, "AllowAuthenticated") == 0)
		c->authz_mode = AUTHZ_ALLOW_AUTHENTICATED;
	else
		return flag_invalid(f, arg);
	return 0;
}

static int flag_log_format(struct serve_config *c, const struct flag *f,
			   const char *arg)
{
	if (strcmp(arg, "text") == 0)
		c->log_format = LOG_TEXT;
	else if (strcmp(arg, "json") == 0)
		c->log_format = LOG_JSON;
	else
		return flag_invalid(f, arg);
	return 0;
}

static int flag_allowed_zones(struct serve_config *c, const struct flag *f,
			      const char *arg)
{
	if (solver_zones_check(arg) < 0)
		return flag_invalid(f, arg);
	c->allowed_zones = arg;
	return 0;
}

static int flag_allowed_ns(struct serve_config *c, const struct flag *f,
			   const char *arg)
{
	char err[512];

	(void)f;
	if (solver_allow_parse(&c->allow, arg, err, sizeof(err)) < 0)
		return usage_error("%s", err);
	return 0;
}

static int flag_krb5_config(struct serve_config *c, const struct flag *f,
			    const char *arg)
{
	(void)c;
	(void)f;
	/* Read by MIT Kerberos at each context creation; set before any
	 * thread starts. */
	if (access(arg, R_OK) != 0)
		return usage_error("--krb5-config: cannot read '%s'", arg);
	if (setenv("KRB5_CONFIG", arg, 1) != 0)
		return usage_error("--krb5-config: '%s': out of memory", arg);
	return 0;
}

/* --metrics-bind-address: HOST:PORT, or 0 for no metrics. */
static int flag_metrics(struct serve_config *c, const struct flag *f,
			const char *arg)
{
	bool off = false;

	if (metrics_address_check(arg, &off) < 0)
		return flag_invalid(f, arg);
	c->metrics_address = off ? NULL : arg;
	return 0;
}

static int flag_core_dumps(struct serve_config *c, const struct flag *f,
			   const char *arg)
{
	(void)f;
	(void)arg;
	c->allow_core_dumps = true;
	return 0;
}

static int flag_help(struct serve_config *c, const struct flag *f,
		     const char *arg)
{
	(void)c;
	(void)f;
	(void)arg;
	fputs(serve_usage, stdout);
	return -1;
}

/* Table rows by kind (clang-format breaks a braced macro body badly). */
/* clang-format off */
#define AT(field) offsetof(struct serve_config, field)
#define STRING(name, field) \
	{name, required_argument, flag_string, AT(field), 0, 0, NULL}
#define NUMBER(name, field, min, max, what) \
	{name, required_argument, flag_number, AT(field), min, max, what}
#define DURATION(name, field, example) \
	{name, required_argument, flag_duration, AT(field), 0, 0, \
	 "a duration (e.g. " example ")"}
#define OTHER(name, has_arg, fn, what) {name, has_arg, fn, 0, 0, 0, what}
/* clang-format on */

static const struct flag flags[] = {
    NUMBER("secure-port", port, 0, 65535, "a port number (0-65535)"),
    STRING("bind-address", bind_address),
    STRING("tls-cert-file", cert_file),
    STRING("tls-private-key-file", key_file),
    STRING("group-name", group),
    STRING("solver-name", solver_name),
    STRING("kubeconfig", kubeconfig),
    STRING("secrets-dir", secrets_dir),
    STRING("requestheader-client-ca-file", authn.ca_file),
    STRING("requestheader-allowed-names", authn.allowed_names),
    STRING("requestheader-username-headers", authn.username_headers),
    STRING("requestheader-group-headers", authn.group_headers),
    STRING("requestheader-extra-headers-prefix", authn.extra_prefixes),
    STRING("requestheader-uid-headers", authn.uid_headers),
    DURATION("requestheader-reload-interval", rh_reload_ms, "1m, 10s"),
    STRING("tls-min-version", tls_min_version),
    STRING("tls-cipher-suites", tls_cipher_suites),
    DURATION("request-read-timeout", read_timeout_ms, "30s"),
    OTHER("authorization-mode", required_argument, flag_authz_mode,
	  "SubjectAccessReview or AllowAuthenticated"),
    NUMBER("v", verbosity, 0, 10, "a verbosity (0-10)"),
    OTHER("logging-format", required_argument, flag_log_format, "text or json"),
    DURATION("dns-timeout", dns_timeout_ms, "5s, 500ms"),
    OTHER("krb5-config", required_argument, flag_krb5_config, NULL),
    DURATION("shutdown-grace-period", grace_ms, "25s"),
    OTHER("metrics-bind-address", required_argument, flag_metrics,
	  "HOST:PORT (e.g. 0.0.0.0:9402, [::]:9402, :9402) or 0"),
    OTHER("allowed-zones", required_argument, flag_allowed_zones,
	  "a comma-separated list of zones (e.g. example.com,example.org)"),
    OTHER("coalesce-window", required_argument, flag_coalesce,
	  "a duration up to 1s (e.g. 10ms) or 0"),
    OTHER("allowed-nameservers", required_argument, flag_allowed_ns, NULL),
    NUMBER("max-connections", max_connections, 4, 100000,
	   "a number from 4 to 100000"),
    NUMBER("max-connections-per-client", max_per_client, 1, 100000,
	   "a positive number"),
    DURATION("tls-handshake-timeout", handshake_timeout_ms, "5s"),
    DURATION("first-request-timeout", first_request_timeout_ms, "10s"),
    NUMBER("max-challenges-per-namespace", namespace_share, 1, 16,
	   "a number from 1 to 16 (the workers)"),
    OTHER("allow-core-dumps", no_argument, flag_core_dumps, NULL),
    DURATION("metrics-label-ttl", label_ttl_ms, "15m"),
    OTHER("help", no_argument, flag_help, NULL),
};

#define NFLAGS	    (sizeof(flags) / sizeof(flags[0]))
#define FLAG_VAL(i) (256 + (int)(i)) /* getopt_long's value of flags[i] */

/* The defaults, before any flag. */
static void serve_config_defaults(struct serve_config *c)
{
	memset(c, 0, sizeof(*c));
	c->port = 8443;
	c->solver_name = "rfc2136";
	c->group = getenv("GROUP_NAME");
	c->dns_timeout_ms = 5000;
	c->coalesce_ms = COALESCE_WINDOW_MS;
	c->grace_ms = SHUTDOWN_GRACE_MS;
	c->authz_mode = AUTHZ_SUBJECT_ACCESS_REVIEW;
	c->rh_reload_ms = 60000;
	c->max_connections = HTTP_MAX_CONNECTIONS;
	c->max_per_client = HTTP_MAX_PER_CLIENT;
	c->namespace_share = HTTP_NAMESPACE_SHARE;
	c->handshake_timeout_ms = HTTP_HANDSHAKE_TIMEOUT_MS;
	c->first_request_timeout_ms = HTTP_FIRST_REQUEST_TIMEOUT_MS;
	c->label_ttl_ms = METRICS_LABEL_TTL_MS;
}

/* The flag getopt_long() returned as @opt ("-v N" is "--v N"), or NULL. */
static const struct flag *flag_find(int opt)
{
	for (size_t i = 0; i < NFLAGS; i++)
		if (opt == FLAG_VAL(i) ||
		    (opt == 'v' && strcmp(flags[i].name, "v") == 0))
			return &flags[i];
	return NULL;
}

/* Read every flag in the order given; 0 or the exit status. */
static int flags_read(int argc, char **argv, struct serve_config *c)
{
	struct option longopts[NFLAGS + 1];
	int opt, ret;

	for (size_t i = 0; i < NFLAGS; i++)
		longopts[i] = (struct option){flags[i].name, flags[i].has_arg,
					      NULL, FLAG_VAL(i)};
	longopts[NFLAGS] = (struct option){NULL, 0, NULL, 0};
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":v:", longopts, NULL)) != -1) {
		const struct flag *f = flag_find(opt);

		if (opt == ':')
			return usage_error("%s needs a value",
					   argv[optind - 1]);
		if (f == NULL)
			return usage_error("unknown flag '%s'",
					   argv[optind - 1]);
		ret = f->parse(c, f, optarg);
		if (ret != 0)
			return ret;
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	return 0;
}

/* What no single flag can tell: the required ones, and limits together. */
static int serve_config_check(struct serve_config *c)
{
	struct listen_addr la;
	char why[512];

	if (c->cert_file == NULL || c->key_file == NULL)
		return usage_error("--tls-cert-file and --tls-private-key-file "
				   "are required");
	if (c->max_per_client >= c->max_connections)
		return usage_error(
		    "--max-connections-per-client must be below "
		    "--max-connections (%u), or one client address can take "
		    "every connection",
		    c->max_connections);
	if (c->first_request_timeout_ms < c->handshake_timeout_ms)
		return usage_error("--first-request-timeout must not be "
				   "shorter than --tls-handshake-timeout");
	if (c->group == NULL || c->group[0] == '\0')
		return usage_error("--group-name (or the environment variable "
				   "GROUP_NAME) is required");
	if (!name_valid(c->group, true))
		return usage_error(
		    "--group-name: '%s' is not a DNS subdomain name (lower-case "
		    "letters, digits, '-', '.')",
		    c->group);
	if (listen_addr_parse(&la, c->bind_address, 0) < 0)
		return usage_error("--bind-address: '%s' is not an IP address",
				   c->bind_address);
	if (!name_valid(c->solver_name, false))
		return usage_error("--solver-name: '%s' is not a DNS label "
				   "(lower-case letters, digits, '-')",
				   c->solver_name);
	if (tls_priorities_build(c->tls_min_version, c->tls_cipher_suites,
				 c->tls_priorities, sizeof(c->tls_priorities),
				 why, sizeof(why)) < 0)
		return usage_error("%s", why);
	return 0;
}

int serve_config_parse(int argc, char **argv, struct serve_config *c)
{
	int ret;

	serve_config_defaults(c);
	ret = flags_read(argc, argv, c);
	if (ret != 0)
		return ret;
	return serve_config_check(c);
}
