/*
 * cli_common.h - what the present, cleanup and check commands share:
 * option parsing (getopt_long), loading the TSIG key, the hint that follows
 * a diagnosis, and small output helpers.  Internal to server/.
 *
 * Everything here writes to stdout/stderr itself: it is the command line's
 * user interface.  No function ever prints key material.
 */
#ifndef RFC2136_CLI_COMMON_H
#define RFC2136_CLI_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"

#define CLI_SERVERS_MAX	       8
#define CLI_TTL_DEFAULT	       60
#define CLI_TIMEOUT_DEFAULT_MS 5000
/* One command's (check: one server's) whole budget, as the webhook's
 * call; a longer --timeout stretches it to one full attempt. */
#define CLI_DEADLINE_DEFAULT_MS 25000

/* Exit statuses of every command. */
enum {
	CLI_OK = 0,
	CLI_FAIL = 1,
	CLI_USAGE = 2
};

/* Which options a command takes, besides the nameserver, zone and key. */
enum {
	CLI_NEED_FQDN = 1 << 0,	 /* --fqdn required (else optional) */
	CLI_NEED_VALUE = 1 << 1, /* --value required, --ttl allowed */
};

/* The parsed command line; all strings point into argv or own buffers. */
struct cli_opts {
	const char *cmd; /* "present", "cleanup", "check" */
	struct dns_addr servers[CLI_SERVERS_MAX];
	const char *server_text[CLI_SERVERS_MAX]; /* as the user wrote it */
	size_t nservers;
	char zone[DNS_NAME_LEN]; /* absolute */
	char fqdn[DNS_NAME_LEN]; /* absolute; "" when not given */
	const char *value;
	uint32_t ttl;
	enum dns_proto proto;
	unsigned timeout_ms;
	const char *key_file;
	const char *key_name;
	const char *key_alg;
	/* GSS-TSIG (RFC 3645) instead of a TSIG key file. */
	const char *gss_principal;
	const char *gss_keytab;
	const char *gss_password_file;
	const char *gss_service_host;
	const char *gss_realm;
	struct dns_gss_ctx *gss; /* made by cli_key_load(), cli_release() */
};

/*
 * Parse @argv (argv[0] is the command name) for a command taking @flags.
 * Returns CLI_OK when the command should run, CLI_USAGE after printing a
 * message that names the bad flag (to stderr), or -1 after printing
 * @usage to stdout for --help (the command then exits 0).
 */
int cli_opts_parse(struct cli_opts *o, int argc, char **argv, unsigned flags,
		   const char *usage);

/*
 * Load the key named by the options into @key.  Without --key-file, prints
 * a warning that the messages go unsigned and sets *@signed_out false.
 * Prints the key's own warning (double base64, raw bytes) as "warning: ...".
 * With --gss-principal, sets up the GSS-TSIG client in o->gss instead
 * (*@signed_out stays false: there is no HMAC key).  Returns 0, or
 * CLI_FAIL after printing the error.
 */
int cli_key_load(struct cli_opts *o, struct dns_key *key, bool *signed_out);

/*
 * The dns_opts for a loaded key (@key NULL when unsigned) or o->gss, with
 * the deadline starting now: CLI_DEADLINE_DEFAULT_MS, or --timeout when
 * longer (STYLE.md 16).
 */
void cli_dns_opts(const struct cli_opts *o, const struct dns_key *key,
		  struct dns_opts *dopts);

/* Delete the GSS-TSIG keys on the servers and free o->gss.  NULL-safe. */
void cli_release(struct cli_opts *o);

/* What went wrong, for choosing a hint. */
enum cli_stage {
	CLI_STAGE_REACH,  /* the server does not answer at all */
	CLI_STAGE_ZONE,	  /* the server does not serve the zone */
	CLI_STAGE_KEY,	  /* the key is not accepted */
	CLI_STAGE_UPDATE, /* an update is refused */
	CLI_STAGE_SERVE,  /* the update is accepted but not served */
};

/*
 * Print (to stderr) "hint: ..." lines for a failed @o at @stage: what to
 * check, with ready-to-paste configuration for BIND, Knot and PowerDNS
 * where a server setting is the likely cause.  Never prints a secret.
 */
void cli_hint(const struct dns_outcome *o, enum cli_stage stage,
	      const struct cli_opts *opts, const struct dns_key *key,
	      const char *fqdn);

/* The hint for a failed dns_update(): picks the stage from the answer. */
void cli_hint_update(const struct dns_result *res, const struct cli_opts *opts,
		     const struct dns_key *key, const char *fqdn);

/* @value quoted for output: "..." with \" \\ and \DDD escapes. */
char *cli_quote(const char *value, char *buf, size_t len);

/* Milliseconds on the monotonic clock. */
uint64_t cli_now_ms(void);

#endif /* RFC2136_CLI_COMMON_H */
