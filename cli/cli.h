/*
 * cli.h - the present, cleanup and check commands (cli/), and what they
 * share: option parsing (getopt_long), loading the TSIG key, the hint that
 * follows a diagnosis, and small output helpers.  cli/ uses dns/ only;
 * nothing of the daemon (server/) uses cli/.
 *
 * Everything here writes to stdout/stderr itself: it is the command line's
 * user interface.  No function ever prints key material.
 */
#ifndef RFC2136_CLI_H
#define RFC2136_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dns/dns.h"

/*
 * The commands' entry points: each takes the arguments after the command
 * name (argv[0] is the command) and returns the exit status below.
 */
/* present / cleanup: add or delete one TXT value (present.c). */
int cli_present_main(int argc, char **argv);
int cli_cleanup_main(int argc, char **argv);
/* check: prove step by step that the setup works (check.c). */
int cli_check_main(int argc, char **argv);

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
	/* Zone discovery, verification, propagation (zone.c). */
	bool zone_given;  /* --zone was given; else o->zone is discovered */
	bool no_verify;	  /* --no-verify */
	unsigned wait_ms; /* --wait DURATION (present); 0: no wait */
	struct dns_addr auth[CLI_SERVERS_MAX]; /* --authoritative */
	size_t nauth;
	/*
	 * Settings from the environment and --credentials (env.c), for
	 * lego's exec provider and certbot's manual hooks.  Flags win.
	 */
	const char *credentials; /* --credentials FILE (certbot's INI) */
	char *key_secret;	 /* a secret's text (heap, wiped on release) */
	const char *key_source;	 /* where it came from, for messages */
	const char *alg_source;	 /* where the algorithm is set ("") */
	char *env_servers;	 /* the nameserver list's copy, split */
	bool ttl_given, timeout_given, proto_given, wait_given;
	char name_buf[DNS_NAME_LEN]; /* key name read from a file */
	char alg_buf[32];	     /* key algorithm read from a file */
	char server_buf[DNS_NAME_LEN + 8];
	char fqdn_buf[DNS_NAME_LEN]; /* from operands or CERTBOT_ */
	char value_buf[64];	     /* lego RAW: the digest */
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
 * Prints the key's own warning (raw bytes, a key file base64-encoded) and
 * a weak algorithm's (HMAC-MD5, HMAC-SHA1) as "warning: ...".
 * With --gss-principal, sets up the GSS-TSIG client in o->gss instead
 * (*@signed_out stays false: there is no HMAC key).  Returns 0, or
 * CLI_FAIL after printing the error.
 */
int cli_key_load(struct cli_opts *o, struct dns_key *key, bool *signed_out);

/*
 * present/cleanup operands: "FQDN VALUE" (lego's exec provider) or, after
 * "--", "DOMAIN TOKEN KEYAUTH" (EXEC_MODE=RAW: FQDN _acme-challenge.DOMAIN.,
 * value the unpadded base64url SHA-256 of KEYAUTH, RFC 8555 8.4).  Without
 * operands, CERTBOT_DOMAIN and CERTBOT_VALIDATION (certbot's manual hooks).
 * *@fqdn and o->value are set where found.  Returns 0, or -1 with the
 * problem in @err.
 */
int cli_operands(struct cli_opts *o, int n, char **args, const char **fqdn,
		 char *err, size_t errlen);

/*
 * Fill what the flags left unset from --credentials (certbot-dns-rfc2136's
 * INI file), then from the environment as lego's rfc2136/dnsupdate provider
 * reads it (DNSUPDATE_* before RFC2136_*: NAMESERVER, TSIG_KEY, TSIG_SECRET,
 * TSIG_ALGORITHM, TSIG_FILE, TTL, DNS_TIMEOUT) and RFC2136_ZONE,
 * RFC2136_PROTOCOL, RFC2136_WAIT.  *@zone is set when still NULL.  Returns
 * 0, or -1 with the problem in @err (never a secret).
 */
int cli_env_apply(struct cli_opts *o, unsigned flags, const char **zone,
		  char *err, size_t errlen);

/* The environment variables cli_env_apply() reads, for --help. */
extern const char cli_env_usage[];

/*
 * A duration as lego and Go write it ("90s", "1m30s", "500ms") or plain
 * seconds ("10", "2.5"); more than 0 and at most an hour.  0 or -1.
 */
int cli_duration_parse(const char *text, unsigned *ms);

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

#define CLI_VERIFY_WAIT_MS 2000 /* how long a write may take to show */

/*
 * Without --zone: find the zone of o->fqdn at the first nameserver that
 * answers (dns_zone_find()) and store it in o->zone; @where gets that
 * server.  Prints the error and hint itself.  Returns 0 or CLI_FAIL.
 */
int cli_zone_discover(struct cli_opts *o, const struct dns_opts *dopts,
		      char *where, size_t wlen);

/*
 * After the update answered NOERROR at the server of @last: check that it
 * serves @value at o->fqdn (@present) or no longer does, for up to
 * CLI_VERIFY_WAIT_MS.  Prints the failure with what the server serves and
 * the likely causes; *@ms gets the time taken.  Returns 0 or CLI_FAIL.
 */
int cli_verify(const struct cli_opts *o, const struct dns_opts *dopts,
	       const struct dns_outcome *last, const char *value, bool present,
	       unsigned *ms);

/* One authoritative server of the zone, as propagation.c probes it. */
struct cli_auth {
	char name[DNS_NAME_LEN];	  /* its NS name; "" when given */
	struct dns_addr addr;		  /* glue or host name, port 53 */
	char text[2 * DNS_NAME_LEN + 24]; /* "name (addr:port)" */
	int code;			  /* last probe: 0 or a dns_ code */
	bool answered;			  /* it answered at all */
	bool has_serial;		  /* it served the zone's SOA */
	uint32_t serial;
	bool ok;	   /* serves the value (present) or no longer */
	unsigned tries;	   /* probes */
	unsigned after_ms; /* since polling began, at the last probe */
	struct dns_outcome outcome;
};

#define CLI_AUTH_MAX 16

/*
 * The zone's authoritative servers: --authoritative, or the NS RRset at
 * @primary with glue (else the host name), port 53; *@soa gets the zone's
 * SOA at @primary.  Returns 0 or a dns_ code with the reason in @err.
 */
int cli_auth_list(const struct cli_opts *o, const struct dns_opts *dopts,
		  const struct dns_addr *primary, struct cli_auth *a,
		  size_t max, size_t *n, struct dns_soa *soa, char *err,
		  size_t errlen);

/*
 * Probe every server (unsigned UDP: serial and TXT at o->fqdn) in rounds
 * with a growing pause until each serves @value (@present) or no longer
 * does, for at most @budget_ms; a server that never answers is given up
 * after its first probe.  Returns how many are not there.
 */
unsigned cli_propagation_poll(const struct cli_opts *o, struct cli_auth *a,
			      size_t n, const char *value, bool present,
			      unsigned budget_ms);

/* One line on @x: serial against @primary's, served, after how long. */
void cli_auth_line(const struct cli_auth *x, const struct dns_soa *primary,
		   bool present, char *buf, size_t len);

/* The lag (NOTIFY, refresh) and firewall hints that apply, to @f. */
void cli_auth_hint(const struct cli_auth *a, size_t n,
		   const struct dns_soa *primary, const char *nameserver,
		   FILE *f);

/*
 * present --wait: list the servers, poll them up to @wait_ms and print
 * each; exit status CLI_FAIL naming those that do not serve @value.
 */
int cli_propagation_wait(struct cli_opts *o, const struct dns_opts *dopts,
			 const char *value, unsigned wait_ms);
/*
 * After an operation with a key whose secret has two readings (struct
 * dns_key.alt_secret): when the accepted attempt used the second one,
 * print its warning ("warning: ..."); when both were rejected, say so
 * ("error: ...").  Prints nothing otherwise.  @res may hold one query.
 */
void cli_key_result(const struct dns_key *key, const struct dns_result *res);

/* @value quoted for output: "..." with \" \\ and \DDD escapes. */
char *cli_quote(const char *value, char *buf, size_t len);

/* Milliseconds on the monotonic clock. */
uint64_t cli_now_ms(void);

#endif /* RFC2136_CLI_H */
