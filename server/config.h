/*
 * config.h - the solver's configuration: the Issuer's webhook.config as
 * cert-manager passes it in request.config (internal to server/).
 *
 * The field names mirror cert-manager's built-in rfc2136 solver
 * (nameserver, tsigKeyName, tsigAlgorithm, tsigSecretSecretRef) so moving
 * an Issuer over is a rename of the solver; see the README for the table.
 * Pure validation: no I/O, no logging.
 */
#ifndef RFC2136_CONFIG_H
#define RFC2136_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dns/dns.h"

#define SOLVER_NS_MAX	   8	 /* nameserver + nameservers, at most */
#define SOLVER_TIMEOUT_MAX 60000 /* config.timeout, at most (ms) */
#define SOLVER_TTL_DEFAULT 60
#define SOLVER_REF_MAX	   254 /* Secret name or data key, NUL included */

/* A validated solver config.  Plain data; nothing to release. */
struct solver_config {
	struct dns_addr servers[SOLVER_NS_MAX]; /* nameserver first */
	size_t nservers;
	/* The nameservers as written, for log lines ("10.0.0.53:53,..."). */
	char servers_text[SOLVER_NS_MAX * (DNS_NAME_LEN + 8)];
	char key_name[DNS_NAME_LEN]; /* tsigKeyName, "" when absent */
	char alg[64];		     /* tsigAlgorithm as written, "" absent */
	bool has_secret_ref;	     /* tsigSecretSecretRef given */
	char secret_name[SOLVER_REF_MAX];
	char secret_key[SOLVER_REF_MAX];
	enum dns_proto proto;	 /* protocol, UDP by default */
	uint32_t ttl;		 /* ttl, 60 by default */
	char zone[DNS_NAME_LEN]; /* zone, absolute; "" when absent */
	unsigned timeout_ms;	 /* timeout, 0 when absent */
	/*
	 * gssTSIG (RFC 3645), exclusive with the tsig* fields; its Secret
	 * reference is kept in secret_name/secret_key (has_secret_ref false).
	 */
	bool has_gss;
	bool gss_password;	 /* passwordSecretRef, else keytab */
	char gss_principal[256]; /* principal */
	char gss_service_host[DNS_NAME_LEN]; /* serviceHost */
	char gss_realm[128];		     /* realm, "" when absent */
	bool no_verify; /* verify: false (the check after a write is off) */
	/* Not config: the zone the solver found at the server, kept here
	 * because the call's log line outlives the solving. */
	char found_zone[DNS_NAME_LEN];
};

/*
 * Validate @config (request.config; NULL when absent or null, which is an
 * error: a nameserver is required) into @cfg.  Returns 0, or -EINVAL with a
 * sentence in @err naming the field ("config.ttl must be an integer, got a
 * string").  An unknown field is an error too, since a typo would
 * otherwise silently fall back to a default.
 */
int solver_config_parse(struct solver_config *cfg, const json_t *config,
			char *err, size_t errlen);

/* ------------------------------- allowed nameservers (config_allow.c) */

#define SOLVER_ALLOW_MAX 64

/* One entry of --allowed-nameservers: a host name or a CIDR. */
struct solver_allow_entry {
	bool is_name;
	char name[DNS_NAME_LEN]; /* lower case, no final dot */
	int family;		 /* AF_INET or AF_INET6 */
	uint8_t addr[16];	 /* network address, host bits cleared */
	unsigned prefix;	 /* 0-32 or 0-128 */
};

/*
 * The operator's limit on where tenants may aim updates and probes
 * (`serve --allowed-nameservers`).  Plain data; nothing to release.
 */
struct solver_allow {
	size_t n;
	struct solver_allow_entry e[SOLVER_ALLOW_MAX];
	char text[1024]; /* the list as given, for messages */
};

/*
 * Parse a comma-separated list of CIDRs ("10.0.0.0/8", "2001:db8::/32"),
 * single addresses ("10.0.0.53", the same as /32 or /128) and host names
 * ("ns1.example.com").  Returns 0, or -EINVAL with the bad entry and why
 * in @err.  No name is resolved.
 */
int solver_allow_parse(struct solver_allow *allow, const char *list, char *err,
		       size_t errlen);

/*
 * True when @server may be used: an IP literal must fall inside one of the
 * CIDRs (an IPv4-mapped IPv6 address counts as IPv4); a host name must be
 * named by the list (case and a final dot do not matter), and then every
 * address it resolves to is used.  Pure: no DNS traffic.
 */
bool solver_allow_match(const struct solver_allow *allow,
			const struct dns_addr *server);

/* What a duration may be beyond "<digits><unit>", repeated (see below). */
enum duration_forms {
	DURATION_FRACTION = 1,	   /* "2.5s" */
	DURATION_HOURS = 2,	   /* the unit h: "1h" */
	DURATION_BARE_SECONDS = 4, /* a bare number of seconds: "5" */
};

/*
 * Parse a Go-style duration ("500ms", "5s", "1m30s"): a sequence of
 * decimal numbers of at most 12 digits, each with a unit ms, s or m, plus
 * the @forms (enum duration_forms) allowed.  *@ms gets the total in
 * milliseconds, rounded down.  Returns 0 or -EINVAL (also beyond UINT_MAX
 * ms); the caller checks its own range.
 */
int duration_parse(const char *text, unsigned forms, unsigned *ms);

/*
 * Parse a duration: a sequence of decimal numbers (fraction allowed) each
 * with a unit ms, s or m, as Go writes them: "5s", "2.5s", "500ms", "1m",
 * "1m30s" (duration_parse() with DURATION_FRACTION).  *@ms gets the total
 * in milliseconds, rounded down.  Returns 0 or -EINVAL with the problem in
 * @err.
 */
int solver_duration_parse(const char *text, unsigned *ms, char *err,
			  size_t errlen);

#endif /* RFC2136_CONFIG_H */
