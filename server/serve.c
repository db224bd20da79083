/*
 * serve.c - `rfc2136-webhook serve`: the cert-manager webhook daemon.
 *
 * Flags follow Kubernetes' extension API servers (--secure-port,
 * --tls-cert-file, --requestheader-*, --authorization-mode, --v), so the
 * Deployment of a Go webhook carries over.  Everything that can be wrong
 * with the flags or the files they name is found here, before serving,
 * and reported naming the flag or file (exit 2 for usage, 1 for files).
 *
 * The main thread serves signals: SIGTERM/SIGINT stop accepting, let
 * requests in flight finish within the grace period (those still running
 * at its end are cut off), and exit 0; SIGHUP
 * re-reads the serving certificate and the request-header CA file at once;
 * and once a second it looks whether those files changed (see tls.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "k8s/k8s.h"
#include "server/auth.h"
#include "server/authwatch.h"
#include "server/coalesce.h"
#include "server/config.h"
#include "server/http.h"
#include "server/listen.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/server.h"
#include "server/solver.h"
#include "server/solver_zone.h"
#include "server/tls.h"
#include "server/trace.h"

#define SHUTDOWN_GRACE_MS 25000 /* below the 30 s terminationGracePeriod */

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

enum {
	OPT_SECURE_PORT = 256,
	OPT_BIND_ADDRESS,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_GROUP,
	OPT_SOLVER,
	OPT_KUBECONFIG,
	OPT_SECRETS_DIR,
	OPT_RH_CA,
	OPT_RH_NAMES,
	OPT_RH_USER,
	OPT_RH_GROUP,
	OPT_RH_EXTRA,
	OPT_RH_UID,
	OPT_RH_RELOAD,
	OPT_TLS_MIN,
	OPT_TLS_SUITES,
	OPT_READ_TIMEOUT,
	OPT_AUTHZ_MODE,
	OPT_LOG_FORMAT,
	OPT_DNS_TIMEOUT,
	OPT_KRB5_CONFIG,
	OPT_GRACE,
	OPT_METRICS,
	OPT_ALLOWED_ZONES,
	OPT_COALESCE,
	OPT_ALLOWED_NS,
	OPT_MAX_CONNS,
	OPT_MAX_PER_CLIENT,
	OPT_HANDSHAKE_TIMEOUT,
	OPT_FIRST_REQUEST_TIMEOUT,
	OPT_NS_SHARE,
	OPT_CORE_DUMPS,
	OPT_LABEL_TTL,
	OPT_HELP,
};

static const struct option serve_options[] = {
    {"secure-port", required_argument, NULL, OPT_SECURE_PORT},
    {"bind-address", required_argument, NULL, OPT_BIND_ADDRESS},
    {"tls-cert-file", required_argument, NULL, OPT_TLS_CERT},
    {"tls-private-key-file", required_argument, NULL, OPT_TLS_KEY},
    {"group-name", required_argument, NULL, OPT_GROUP},
    {"solver-name", required_argument, NULL, OPT_SOLVER},
    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
    {"secrets-dir", required_argument, NULL, OPT_SECRETS_DIR},
    {"requestheader-client-ca-file", required_argument, NULL, OPT_RH_CA},
    {"requestheader-allowed-names", required_argument, NULL, OPT_RH_NAMES},
    {"requestheader-username-headers", required_argument, NULL, OPT_RH_USER},
    {"requestheader-group-headers", required_argument, NULL, OPT_RH_GROUP},
    {"requestheader-extra-headers-prefix", required_argument, NULL,
     OPT_RH_EXTRA},
    {"requestheader-uid-headers", required_argument, NULL, OPT_RH_UID},
    {"requestheader-reload-interval", required_argument, NULL, OPT_RH_RELOAD},
    {"tls-min-version", required_argument, NULL, OPT_TLS_MIN},
    {"tls-cipher-suites", required_argument, NULL, OPT_TLS_SUITES},
    {"request-read-timeout", required_argument, NULL, OPT_READ_TIMEOUT},
    {"authorization-mode", required_argument, NULL, OPT_AUTHZ_MODE},
    {"v", required_argument, NULL, 'v'},
    {"logging-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"dns-timeout", required_argument, NULL, OPT_DNS_TIMEOUT},
    {"krb5-config", required_argument, NULL, OPT_KRB5_CONFIG},
    {"shutdown-grace-period", required_argument, NULL, OPT_GRACE},
    {"metrics-bind-address", required_argument, NULL, OPT_METRICS},
    {"allowed-zones", required_argument, NULL, OPT_ALLOWED_ZONES},
    {"coalesce-window", required_argument, NULL, OPT_COALESCE},
    {"allowed-nameservers", required_argument, NULL, OPT_ALLOWED_NS},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNS},
    {"max-connections-per-client", required_argument, NULL, OPT_MAX_PER_CLIENT},
    {"tls-handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT},
    {"first-request-timeout", required_argument, NULL,
     OPT_FIRST_REQUEST_TIMEOUT},
    {"max-challenges-per-namespace", required_argument, NULL, OPT_NS_SHARE},
    {"allow-core-dumps", no_argument, NULL, OPT_CORE_DUMPS},
    {"metrics-label-ttl", required_argument, NULL, OPT_LABEL_TTL},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

struct serve_config {
	unsigned port;
	const char *bind_address;
	const char *cert_file, *key_file;
	const char *group, *solver_name;
	const char *kubeconfig, *secrets_dir;
	struct authn_opts authn;
	enum authz_mode authz_mode;
	enum log_format log_format;
	int verbosity;
	unsigned dns_timeout_ms, grace_ms;
	const char *metrics_address; /* NULL: no metrics */
	const char *allowed_zones;   /* NULL: every zone */
	unsigned coalesce_ms;	     /* --coalesce-window; 0: off */
	unsigned rh_reload_ms, read_timeout_ms;
	unsigned max_connections, max_per_client, namespace_share;
	unsigned handshake_timeout_ms, first_request_timeout_ms, label_ttl_ms;
	bool allow_core_dumps;
	const char *tls_min_version, *tls_cipher_suites;
	char tls_priorities[1024];
	struct solver_allow allow; /* --allowed-nameservers; n 0: any */
};

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

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

/* Parse the flags into @c; returns 0, or the exit status to leave with. */
static int serve_parse(int argc, char **argv, struct serve_config *c)
{
	long n;
	int opt;

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

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":v:", serve_options, NULL)) !=
	       -1) {
		switch (opt) {
		case OPT_SECURE_PORT:
			if (number_parse(optarg, 0, 65535, &n) < 0)
				return usage_error(
				    "--secure-port: '%s' is not a port number (0-65535)",
				    optarg);
			c->port = (unsigned)n;
			break;
		case OPT_BIND_ADDRESS:
			c->bind_address = optarg;
			break;
		case OPT_TLS_CERT:
			c->cert_file = optarg;
			break;
		case OPT_TLS_KEY:
			c->key_file = optarg;
			break;
		case OPT_GROUP:
			c->group = optarg;
			break;
		case OPT_SOLVER:
			c->solver_name = optarg;
			break;
		case OPT_KUBECONFIG:
			c->kubeconfig = optarg;
			break;
		case OPT_SECRETS_DIR:
			c->secrets_dir = optarg;
			break;
		case OPT_RH_CA:
			c->authn.ca_file = optarg;
			break;
		case OPT_RH_NAMES:
			c->authn.allowed_names = optarg;
			break;
		case OPT_RH_USER:
			c->authn.username_headers = optarg;
			break;
		case OPT_RH_GROUP:
			c->authn.group_headers = optarg;
			break;
		case OPT_RH_EXTRA:
			c->authn.extra_prefixes = optarg;
			break;
		case OPT_RH_UID:
			c->authn.uid_headers = optarg;
			break;
		case OPT_RH_RELOAD:
			if (duration_flag_parse(optarg, &c->rh_reload_ms) < 0)
				return usage_error(
				    "--requestheader-reload-interval: '%s' is not a duration (e.g. 1m, 10s)",
				    optarg);
			break;
		case OPT_TLS_MIN:
			c->tls_min_version = optarg;
			break;
		case OPT_TLS_SUITES:
			c->tls_cipher_suites = optarg;
			break;
		case OPT_READ_TIMEOUT:
			if (duration_flag_parse(optarg, &c->read_timeout_ms) <
			    0)
				return usage_error(
				    "--request-read-timeout: '%s' is not a duration (e.g. 30s)",
				    optarg);
			break;
		case OPT_AUTHZ_MODE:
			if (strcmp(optarg, "SubjectAccessReview") == 0 ||
			    strcmp(optarg, "Webhook") == 0)
				c->authz_mode = AUTHZ_SUBJECT_ACCESS_REVIEW;
			else if (strcmp(optarg, "AllowAuthenticated") == 0)
				c->authz_mode = AUTHZ_ALLOW_AUTHENTICATED;
			else
				return usage_error(
				    "--authorization-mode: '%s' is not SubjectAccessReview or AllowAuthenticated",
				    optarg);
			break;
		case 'v':
			if (number_parse(optarg, 0, 10, &n) < 0)
				return usage_error(
				    "--v: '%s' is not a verbosity (0-10)",
				    optarg);
			c->verbosity = (int)n;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "text") == 0)
				c->log_format = LOG_TEXT;
			else if (strcmp(optarg, "json") == 0)
				c->log_format = LOG_JSON;
			else
				return usage_error(
				    "--logging-format: '%s' is not text or json",
				    optarg);
			break;
		case OPT_ALLOWED_ZONES:
			if (solver_zones_check(optarg) < 0)
				return usage_error(
				    "--allowed-zones: '%s' is not a comma-separated "
				    "list of zones (e.g. example.com,example.org)",
				    optarg);
			c->allowed_zones = optarg;
			break;
		case OPT_COALESCE:
			if (strcmp(optarg, "0") == 0) {
				c->coalesce_ms = 0;
				break;
			}
			if (duration_flag_parse(optarg, &c->coalesce_ms) < 0 ||
			    c->coalesce_ms > 1000)
				return usage_error(
				    "--coalesce-window: '%s' is not a duration up to 1s "
				    "(e.g. 10ms) or 0",
				    optarg);
			break;
		case OPT_ALLOWED_NS: {
			char err[512];

			if (solver_allow_parse(&c->allow, optarg, err,
					       sizeof(err)) < 0)
				return usage_error("%s%s", err, "");
			break;
		}
		case OPT_DNS_TIMEOUT:
			if (duration_flag_parse(optarg, &c->dns_timeout_ms) < 0)
				return usage_error(
				    "--dns-timeout: '%s' is not a duration (e.g. 5s, 500ms)",
				    optarg);
			break;
		case OPT_KRB5_CONFIG:
			/* Read by MIT Kerberos at each context creation;
			 * set before any thread starts. */
			if (access(optarg, R_OK) != 0)
				return usage_error(
				    "--krb5-config: cannot read '%s'", optarg);
			if (setenv("KRB5_CONFIG", optarg, 1) != 0)
				return usage_error(
				    "--krb5-config: '%s': out of "
				    "memory",
				    optarg);
			break;
		case OPT_GRACE:
			if (duration_flag_parse(optarg, &c->grace_ms) < 0)
				return usage_error(
				    "--shutdown-grace-period: '%s' is not a duration (e.g. 25s)",
				    optarg);
			break;
		case OPT_METRICS: {
			bool off = false;

			if (metrics_address_check(optarg, &off) < 0)
				return usage_error(
				    "--metrics-bind-address: '%s' is not HOST:PORT (e.g. 0.0.0.0:9402, [::]:9402, :9402) or 0%s",
				    optarg, "");
			c->metrics_address = off ? NULL : optarg;
			break;
		}
		case OPT_MAX_CONNS:
			if (number_parse(optarg, 4, 100000, &n) < 0)
				return usage_error(
				    "--max-connections: '%s' is not a number "
				    "from 4 to 100000%s",
				    optarg, "");
			c->max_connections = (unsigned)n;
			break;
		case OPT_MAX_PER_CLIENT:
			if (number_parse(optarg, 1, 100000, &n) < 0)
				return usage_error(
				    "--max-connections-per-client: '%s' is not "
				    "a positive number%s",
				    optarg, "");
			c->max_per_client = (unsigned)n;
			break;
		case OPT_HANDSHAKE_TIMEOUT:
			if (duration_flag_parse(optarg,
						&c->handshake_timeout_ms) < 0)
				return usage_error(
				    "--tls-handshake-timeout: '%s' is not a "
				    "duration (e.g. 5s)%s",
				    optarg, "");
			break;
		case OPT_FIRST_REQUEST_TIMEOUT:
			if (duration_flag_parse(
				optarg, &c->first_request_timeout_ms) < 0)
				return usage_error(
				    "--first-request-timeout: '%s' is not a "
				    "duration (e.g. 10s)%s",
				    optarg, "");
			break;
		case OPT_NS_SHARE:
			if (number_parse(optarg, 1, 16, &n) < 0)
				return usage_error(
				    "--max-challenges-per-namespace: '%s' is "
				    "not a number from 1 to 16 (the workers)%s",
				    optarg, "");
			c->namespace_share = (unsigned)n;
			break;
		case OPT_CORE_DUMPS:
			c->allow_core_dumps = true;
			break;
		case OPT_LABEL_TTL:
			if (duration_flag_parse(optarg, &c->label_ttl_ms) < 0)
				return usage_error(
				    "--metrics-label-ttl: '%s' is not a "
				    "duration (e.g. 15m)%s",
				    optarg, "");
			break;
		case OPT_HELP:
			fputs(serve_usage, stdout);
			return -1;
		case ':':
			return usage_error("%s needs a value%s",
					   argv[optind - 1], "");
		default:
			return usage_error("unknown flag '%s'%s",
					   argv[optind - 1], "");
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'%s", argv[optind],
				   "");
	if (c->cert_file == NULL || c->key_file == NULL)
		return usage_error(
		    "--tls-cert-file and --tls-private-key-file are required%s%s",
		    "", "");
	char limit[16];
	snprintf(limit, sizeof(limit), "%u", c->max_connections);
	if (c->max_per_client >= c->max_connections)
		return usage_error(
		    "--max-connections-per-client must be below "
		    "--max-connections (%s)%s, or one client address can take "
		    "every connection",
		    limit, "");
	if (c->first_request_timeout_ms < c->handshake_timeout_ms)
		return usage_error(
		    "--first-request-timeout must not be shorter than "
		    "--tls-handshake-timeout%s%s",
		    "", "");
	if (c->group == NULL || c->group[0] == '\0')
		return usage_error(
		    "--group-name (or the environment variable GROUP_NAME) is required%s%s",
		    "", "");
	if (!name_valid(c->group, true))
		return usage_error(
		    "--group-name: '%s' is not a DNS subdomain name (lower-case letters, digits, '-', '.')%s",
		    c->group, "");
	struct listen_addr la;
	if (listen_addr_parse(&la, c->bind_address, 0) < 0)
		return usage_error(
		    "--bind-address: '%s' is not an IP address%s",
		    c->bind_address, "");
	if (!name_valid(c->solver_name, false))
		return usage_error(
		    "--solver-name: '%s' is not a DNS label (lower-case letters, digits, '-')%s",
		    c->solver_name, "");
	char why[512];
	if (tls_priorities_build(c->tls_min_version, c->tls_cipher_suites,
				 c->tls_priorities, sizeof(c->tls_priorities),
				 why, sizeof(why)) < 0)
		return usage_error("%s%s", why, "");
	return 0;
}

/* Sources of secrets and reviews; NULL where not needed. */
struct clients {
	struct k8s_client *api, *dir;
};

static int clients_open(const struct serve_config *c, struct clients *k)
{
	char err[512];
	const char *incluster = getenv("KUBERNETES_SERVICE_HOST");
	/*
	 * Without a CA flag, the request-header settings come from the
	 * cluster whenever one is configured (in-cluster or --kubeconfig).
	 */
	bool need_api = c->secrets_dir == NULL ||
			c->authz_mode == AUTHZ_SUBJECT_ACCESS_REVIEW ||
			(c->authn.ca_file == NULL &&
			 (c->kubeconfig != NULL ||
			  (incluster != NULL && incluster[0] != '\0')));

	if (c->secrets_dir != NULL &&
	    k8s_client_new_dir(&k->dir, c->secrets_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "rfc2136-webhook serve: --secrets-dir %s: %s\n",
			c->secrets_dir, err);
		return 1;
	}
	if (need_api &&
	    k8s_client_new(&k->api, c->kubeconfig, 0, err, sizeof(err)) < 0) {
		fprintf(stderr,
			"rfc2136-webhook serve: no Kubernetes API%s%s: %s\n"
			"  it is needed for %s; give --kubeconfig, run in a "
			"cluster, or use --secrets-dir with "
			"--authorization-mode AllowAuthenticated\n",
			c->kubeconfig != NULL ? " from --kubeconfig " : "",
			c->kubeconfig != NULL ? c->kubeconfig : "", err,
			c->authz_mode == AUTHZ_SUBJECT_ACCESS_REVIEW
			    ? "--authorization-mode SubjectAccessReview"
			: c->secrets_dir == NULL
			    ? "reading secrets"
			    : "the request-header settings (or give "
			      "--requestheader-client-ca-file)");
		return 1;
	}
	return 0;
}

/* The serving certificate's expiry, for the metrics. */
static void cert_expiry_publish(struct tls_store *tls)
{
	struct tls_creds *creds = tls_store_get(tls);

	if (creds != NULL)
		metrics_cert_expiry(tls_creds_not_after(creds));
	tls_creds_unref(creds);
}

/*
 * --requestheader-client-ca-file: re-read as the serving certificate is
 * (the ConfigMap source has its own watch).
 */
static void ca_file_check(struct authn *authn, bool sighup)
{
	char err[512];
	int ret = authn_reload_ca_file(authn, sighup, err, sizeof(err));

	if (ret > 0)
		log_info("request-header CA loaded", "file",
			 authn_ca_file(authn), "trigger",
			 sighup ? "SIGHUP" : "file changed");
	else if (ret < 0)
		log_warn("request-header CA file not reloaded, the old CA "
			 "stays in use",
			 "file", authn_ca_file(authn), "error", err);
}

/* Wait for signals; look at the certificate files once a second. */
static void serve_loop(struct tls_store *tls, struct authn *authn)
{
	sigset_t set;
	struct timespec tick = {1, 0};
	char err[512], desc[512];

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		int sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("shutting down", "signal",
				 sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return;
		}
		ca_file_check(authn, sig == SIGHUP);
		int ret = tls_store_check(tls, sig == SIGHUP, err, sizeof(err));
		if (ret != 0)
			metrics_tls_reload(ret > 0);
		if (ret > 0) {
			cert_expiry_publish(tls);
			tls_store_describe(tls, desc, sizeof(desc));
			log_info("serving certificate loaded", "certificate",
				 desc, "trigger",
				 sig == SIGHUP ? "SIGHUP" : "files changed");
		} else if (ret < 0) {
			log_error("serving certificate not reloaded, the old "
				  "one stays in use",
				  "error", err);
		}
	}
}

int serve_main(int argc, char **argv)
{
	struct serve_config c;
	struct clients k = {NULL, NULL};
	struct tls_store *tls = NULL;
	struct authn *authn = NULL;
	struct authz *authz = NULL;
	struct authn_watch *watch = NULL;
	struct solver *solver = NULL;
	struct http_server *srv = NULL;
	struct metrics_server *msrv = NULL;
	char err[512], desc[512], port[8];
	sigset_t set;
	int ret;

	ret = serve_parse(argc, argv, &c);
	if (ret != 0)
		return ret < 0 ? 0 : ret;
	log_init(c.log_format);
	atomic_store(&log_verbosity, c.verbosity);
	metrics_label_ttl_set(c.label_ttl_ms);
	if (c.allow_core_dumps) {
		ret = process_core_dumps(true);
		if (ret < 0)
			log_warn("--allow-core-dumps: cannot turn core dumps "
				 "on",
				 "error", strerror(-ret));
		else
			log_warn("core dumps are on (--allow-core-dumps): a "
				 "core file holds the serving key and TSIG "
				 "keys in use; keep it as secret as they are");
	}

	/*
	 * Signals go to the main thread only: block them before any thread
	 * starts (threads inherit the mask) and wait for them in serve_loop.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = 1;
	if (tls_store_new(&tls, c.cert_file, c.key_file, err, sizeof(err)) <
	    0) {
		fprintf(
		    stderr,
		    "rfc2136-webhook serve: --tls-cert-file/--tls-private-key-file: %s\n",
		    err);
		goto out;
	}
	if (authn_new(&authn, &c.authn, err, sizeof(err)) < 0) {
		fprintf(
		    stderr,
		    "rfc2136-webhook serve: --requestheader-client-ca-file %s\n",
		    err);
		goto out;
	}
	if (clients_open(&c, &k) != 0)
		goto out;
	/* Each API call: a metric, and a log line at --v 2. */
	k8s_client_set_observer(k.api, trace_k8s, NULL);
	cert_expiry_publish(tls);
	if (authz_new(&authz, c.authz_mode, k.api, 10000) < 0 ||
	    solver_new(&solver, &(struct solver_opts){
				    .secrets = k.dir != NULL ? k.dir : k.api,
				    .dns_timeout_ms = c.dns_timeout_ms,
				    .allowed_zones = c.allowed_zones,
				    .coalesce_window_ms = c.coalesce_ms,
				    .no_coalesce = c.coalesce_ms == 0,
				    .allow = c.allow.n > 0 ? &c.allow : NULL,
				}) < 0) {
		fprintf(stderr, "rfc2136-webhook serve: out of memory\n");
		goto out;
	}
	if (c.authn.ca_file == NULL && k.api != NULL) {
		/* The front-proxy CA and names from the cluster. */
		if (authn_watch_start(&watch, authn, k.api, c.rh_reload_ms) <
		    0) {
			fprintf(stderr, "rfc2136-webhook serve: cannot start "
					"the request-header watch\n");
			ret = 1;
			goto out;
		}
	} else if (!authn_has_ca(authn)) {
		authn_set_status(authn, "no request-header CA: give "
					"--requestheader-client-ca-file or a "
					"Kubernetes API");
		log_warn("no --requestheader-client-ca-file and no Kubernetes "
			 "API: every request but the health checks is refused "
			 "(401) and /readyz fails");
	}
	/*
	 * The metrics port first: once the secure port is up /readyz says
	 * ready, so every listener must be up by then (a taken metrics port
	 * fails the start before anything was reported ready).
	 */
	if (c.metrics_address != NULL) {
		if (metrics_server_start(&msrv, c.metrics_address, err,
					 sizeof(err)) < 0) {
			fprintf(stderr, "rfc2136-webhook serve: %s\n", err);
			goto out;
		}
		snprintf(port, sizeof(port), "%u", metrics_server_port(msrv));
		log_info("serving metrics", "address",
			 metrics_server_address(msrv), "port", port, "path",
			 "/metrics");
	}
	if (http_server_start(
		&srv,
		&(struct http_opts){
		    .bind_address = c.bind_address,
		    .port = c.port,
		    .group = c.group,
		    .solver_name = c.solver_name,
		    .tls = tls,
		    .authn = authn,
		    .authz = authz,
		    .solver = solver,
		    .tls_priorities = c.tls_priorities,
		    .read_timeout_ms = c.read_timeout_ms,
		    .max_connections = c.max_connections,
		    .max_per_client = c.max_per_client,
		    .handshake_timeout_ms = c.handshake_timeout_ms,
		    .first_request_timeout_ms = c.first_request_timeout_ms,
		    .namespace_share = c.namespace_share,
		},
		err, sizeof(err)) < 0) {
		fprintf(stderr, "rfc2136-webhook serve: %s\n", err);
		goto out;
	}
	if (c.authz_mode == AUTHZ_ALLOW_AUTHENTICATED)
		log_warn("AUTHORIZATION IS OFF (--authorization-mode "
			 "AllowAuthenticated): any user the front proxy "
			 "names may publish TXT records in your zones; use "
			 "it only without a Kubernetes API, e.g. for local "
			 "tests");
	tls_store_describe(tls, desc, sizeof(desc));
	snprintf(port, sizeof(port), "%u", http_server_port(srv));
	log_info("serving", "version", VERSION, "address",
		 http_server_address(srv), "port", port, "group", c.group,
		 "solver", c.solver_name, "authorization",
		 c.authz_mode == AUTHZ_ALLOW_AUTHENTICATED
		     ? "AllowAuthenticated"
		     : "SubjectAccessReview",
		 "secrets", k8s_client_describe(k.dir != NULL ? k.dir : k.api),
		 "certificate", desc);

	serve_loop(tls, authn);

	http_server_quiesce(srv);
	unsigned left = http_server_drain(srv, c.grace_ms);
	if (left > 0) {
		/*
		 * A worker still waiting on a nameserver or the Kubernetes API
		 * would hold the exit until its own deadline, up to 25 s more:
		 * past the grace period the flag promises and, in a pod, past
		 * the kubelet's SIGKILL.  Leave now.  The exit closes their
		 * connections, and cert-manager calls again.  Stopping the
		 * server instead would free what those workers still use.
		 */
		char n[16];
		snprintf(n, sizeof(n), "%u", left);
		log_warn("requests still in flight at the end of the grace "
			 "period are cut off; exiting without waiting for them",
			 "requests", n);
		_exit(0);
	}
	ret = 0;
out:
	http_server_stop(srv);
	metrics_server_stop(msrv);
	authn_watch_stop(watch);
	solver_free(solver);
	authz_free(authz);
	k8s_client_free(k.api);
	k8s_client_free(k.dir);
	authn_free(authn);
	tls_store_free(tls);
	if (ret == 0)
		log_info("stopped");
	return ret;
}
