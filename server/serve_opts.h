/*
 * serve_opts.h - the flags of `rfc2136-webhook serve` (internal to
 * server/).
 *
 * Flags follow Kubernetes' extension API servers (--secure-port,
 * --tls-cert-file, --requestheader-*, --authorization-mode, --v), so the
 * Deployment of a Go webhook carries over.  Everything that can be wrong
 * with the flags themselves is found here, before anything starts, and
 * reported naming the flag (exit status 2).
 */
#ifndef RFC2136_SERVE_OPTS_H
#define RFC2136_SERVE_OPTS_H

#include <stdbool.h>

#include "server/auth.h"
#include "server/config.h"
#include "server/log.h"

#define SHUTDOWN_GRACE_MS 25000 /* below the 30 s terminationGracePeriod */

/* The daemon's settings, from the flags.  Strings point into argv. */
struct serve_config {
	unsigned port;
	const char *bind_address;
	const char *cert_file, *key_file;
	const char *group, *solver_name;
	const char *kubeconfig, *secrets_dir;
	struct authn_opts authn;
	enum authz_mode authz_mode;
	enum log_format log_format;
	unsigned verbosity; /* --v, 0-10 */
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

/*
 * Parse the flags of `serve` (@argv[0] is the command) into @c, defaults
 * first, and check them together.  Returns 0; -1 when --help printed the
 * usage (exit 0); or 2 after a usage error was printed on stderr.
 * --krb5-config sets KRB5_CONFIG in the environment.
 */
int serve_config_parse(int argc, char **argv, struct serve_config *c);

#endif /* RFC2136_SERVE_OPTS_H */
