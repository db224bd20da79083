/*
 * present.c - the present and cleanup commands: add or delete exactly one TXT
 * value with one signed RFC 2136 UPDATE, from the command line.
 */
#include <stdio.h>
#include <string.h>

#include "dns/dns.h"
#include "cli/cli.h"

#define KEY_USAGE                                                              \
	"KEY: --key-file PATH [--tsig-key-name NAME] [--tsig-algorithm ALG]\n" \
	"     (name and algorithm are needed only when the file holds a bare " \
	"secret)\n"                                                            \
	"  or GSS-TSIG: --gss-principal NAME --gss-service-host HOST\n"        \
	"     (--gss-keytab PATH | --gss-password-file PATH) [--gss-realm "    \
	"REALM]\n"

#define OPTIONS_USAGE                                                                 \
	"\n"                                                                          \
	"options:\n"                                                                  \
	"  --nameserver ADDR    the zone's primary: 192.0.2.1, "                      \
	"192.0.2.1:5353,\n"                                                           \
	"                       2001:db8::1, [2001:db8::1]:53, "                      \
	"ns1.example.com[:port];\n"                                                   \
	"                       repeat it to try several in order "                   \
	"(failover)\n"                                                                \
	"  --zone ZONE          the zone to update (its SOA owner); optional:\n"      \
	"                       without it the zone of NAME is asked of the\n"        \
	"                       nameserver (a SOA query, signed)\n"                   \
	"  --fqdn NAME          the record's name, inside ZONE\n"                     \
	"  --value TEXT         the TXT value (the ACME key authorization "           \
	"digest)\n"                                                                   \
	"  --ttl N              TTL of the record, default 60\n"                      \
	"  --protocol udp|tcp   UDP (default; retried over TCP when "                 \
	"truncated) or TCP\n"                                                         \
	"  --timeout SECONDS    per attempt, decimals allowed (2.5), "                \
	"default 5\n"                                                                 \
	"  --key-file PATH      TSIG key: a BIND key block (tsig-keygen), a "         \
	"K*.private\n"                                                                \
	"                       file, Knot's [alg:]name:secret, or a bare "           \
	"base64 secret;\n"                                                            \
	"                       without it the update goes unsigned\n"                \
	"  --tsig-key-name NAME the key's name (for a bare secret, or to "            \
	"pick a block)\n"                                                             \
	"  --tsig-algorithm ALG hmac-sha256, HMACSHA256, sha512, ... (for a "         \
	"bare secret)\n"                                                              \
	"  --gss-principal NAME sign with GSS-TSIG (RFC 3645, Kerberos) as "          \
	"NAME\n"                                                                      \
	"                       (acme or acme@EXAMPLE.COM); always over TCP\n"        \
	"  --gss-service-host HOST the DNS server's host name in its "                \
	"principal\n"                                                                 \
	"                       DNS/HOST (not an address)\n"                          \
	"  --gss-keytab PATH    the principal's keytab (no kinit needed)\n"           \
	"  --gss-password-file PATH  or its password, first line of PATH\n"           \
	"  --gss-realm REALM    realm of both principals when not in NAME; "          \
	"the\n"                                                                       \
	"                       Kerberos configuration is KRB5_CONFIG's\n"            \
	"  --no-verify          do not ask the server afterwards whether it serves\n" \
	"                       the change (by default it must, within 2 s)\n"        \
	"  --wait DURATION      present: then poll every authoritative server\n"      \
	"                       until each serves the value, at most DURATION\n"      \
	"                       (30, 30s)\n"                                          \
	"  --authoritative ADDR the servers --wait polls (repeatable); default:\n"    \
	"                       the zone's NS records at the nameserver, port 53\n"   \
	"  --credentials FILE   certbot-dns-rfc2136's INI file: dns_rfc2136_\n"       \
	"                       server, _port, _name, _secret, _algorithm\n"          \
	"  --help               this text\n"                                          \
	"\n"                                                                          \
	"operands, for ACME clients' hooks (instead of --fqdn and --value):\n"        \
	"  FQDN VALUE           lego's exec provider (EXEC_PATH=rfc2136-webhook)\n"   \
	"  -- DOMAIN TOKEN KEYAUTH  lego's EXEC_MODE=RAW: FQDN\n"                     \
	"                       _acme-challenge.DOMAIN., VALUE the base64url\n"       \
	"                       SHA-256 of KEYAUTH\n"                                 \
	"  (none)               certbot's manual hooks: CERTBOT_DOMAIN and\n"         \
	"                       CERTBOT_VALIDATION\n"                                 \
	"\n"                                                                          \
	"Exit status: 0 done, 1 failed (the diagnosis on stderr), 2 usage "           \
	"error.\n"

static const char present_usage[] =
    "usage:\n"
    "rfc2136-webhook present --nameserver ADDR [--nameserver ADDR ...] "
    "--zone ZONE --fqdn NAME --value TEXT\n"
    "                        [--ttl N] [--protocol udp|tcp] "
    "[--timeout SECONDS] KEY\n" KEY_USAGE "\n"
    "Add one TXT record (RFC 2136 2.5.1) with one UPDATE signed with "
    "TSIG.\n"
    "Other values at the same name stay; adding a value that is "
    "already there\n"
    "succeeds.\n" OPTIONS_USAGE;

static const char cleanup_usage[] =
    "usage:\n"
    "rfc2136-webhook cleanup --nameserver ADDR [--nameserver ADDR ...] "
    "--zone ZONE --fqdn NAME --value TEXT\n"
    "                        [--ttl N] [--protocol udp|tcp] "
    "[--timeout SECONDS] KEY\n" KEY_USAGE "\n"
    "Delete exactly one TXT record, the one whose value is TEXT (RFC "
    "2136 2.5.4),\n"
    "never the whole RRset: other values at the same name stay.  "
    "Deleting a value\n"
    "that is not there succeeds.  --ttl is accepted and ignored.\n" OPTIONS_USAGE;

/* Name, opts, then the verbs for output and for dns_result_explain(). */
struct update_cmd {
	const char *name;
	const char *usage;
	enum dns_action action;
	const char *done; /* "added" */
	const char *what; /* "add" */
};

static const struct update_cmd present_cmd = {"present", present_usage, DNS_ADD,
					      "added", "add"};
static const struct update_cmd cleanup_cmd = {"cleanup", cleanup_usage,
					      DNS_DELETE, "deleted", "delete"};

/* After a success through failover: what each earlier attempt did. */
static void print_earlier_attempts(const struct dns_result *res,
				   const struct dns_key *key, const char *zone)
{
	char why[1024];

	for (size_t i = 0; i + 1 < res->nattempts; i++) {
		const struct dns_outcome *a = &res->attempts[i];

		dns_outcome_explain(a, key, zone, why, sizeof(why));
		printf("  tried first %s (%u ms): %s\n", a->server, a->ms, why);
	}
}

/*
 * Before a delete: is the value there at all?  1 yes, 0 no (the first
 * server that answers says), -1 unknown.  RFC 2136 2.5.4 makes deleting an
 * absent RR a silent no-op, so only a query can tell the user which it was.
 */
static int value_there(const struct cli_opts *o, const struct dns_opts *dopts)
{
	struct dns_verify v;

	for (size_t i = 0; i < o->nservers; i++) {
		int ret = dns_verify(&o->servers[i], dopts, o->fqdn, o->value,
				     true, 0, &v);

		if (ret == 0)
			return 1;
		if (ret == DNS_EVERIFY)
			return 0;
		if (v.outcome.answered)
			return -1;
	}
	return -1;
}

/* One present or cleanup run: what its reports need. */
struct update_run {
	const struct update_cmd *uc;
	struct cli_opts o;
	struct dns_opts dopts;
	struct dns_result res;
	char found_at[DNS_NAME_LEN + 64]; /* discovered zone: where, or "" */
	int there; /* before a delete: value_there(), -1 unknown */
	uint64_t t0;
};

/* After a NOERROR: verify (unless --no-verify), say so, then --wait. */
static int update_success(struct update_run *r)
{
	const struct update_cmd *uc = r->uc;
	struct cli_opts *o = &r->o;
	const struct dns_outcome *last = &r->res.attempts[r->res.nattempts - 1];
	char quoted[DNS_TXT_MAX * 4 + 3], zone_text[2 * DNS_NAME_LEN + 96];
	uint64_t ms = cli_now_ms() - r->t0;
	unsigned vms = 0;

	cli_quote(o->value, quoted, sizeof(quoted));
	/* A NOERROR is not always the truth: ask the server. */
	if (!o->no_verify && cli_verify(o, &r->dopts, last, o->value,
					uc->action == DNS_ADD, &vms) != 0)
		return CLI_FAIL;
	if (r->found_at[0] != '\0')
		snprintf(zone_text, sizeof(zone_text), "zone %s, found at %s",
			 o->zone, r->found_at);
	else
		snprintf(zone_text, sizeof(zone_text), "zone %s", o->zone);
	if (r->there == 0)
		printf("TXT %s at %s was not there; nothing to "
		       "delete (%s) via %s%s in %llu ms",
		       quoted, o->fqdn, zone_text, last->server,
		       last->tcp ? " over TCP" : "", (unsigned long long)ms);
	else
		printf("%s TXT %s at %s (%s) via %s%s in %llu ms", uc->done,
		       quoted, o->fqdn, zone_text, last->server,
		       last->tcp ? " over TCP" : "", (unsigned long long)ms);
	if (!o->no_verify)
		printf(", verified%s in %u ms",
		       uc->action == DNS_ADD ? "" : " gone", vms);
	printf("\n");
	print_earlier_attempts(&r->res, r->dopts.key, o->zone);
	cli_key_result(r->dopts.key, &r->res);
	if (uc->action == DNS_ADD && o->wait_ms > 0)
		return cli_propagation_wait(o, &r->dopts, o->value, o->wait_ms);
	return CLI_OK;
}

/* After a failure: the diagnosis and what to do, on stderr. */
static int update_failure(struct update_run *r, int ret)
{
	char msg[4096] = "";

	dns_result_explain(&r->res, r->uc->what, r->dopts.key, r->o.zone,
			   r->o.fqdn, msg, sizeof(msg));
	fprintf(stderr, "error: %s\n",
		msg[0] ? msg : dns_strerror(ret ? ret : r->res.code));
	cli_key_result(r->dopts.key, &r->res);
	cli_hint_update(&r->res, &r->o, r->dopts.key, r->o.fqdn);
	return CLI_FAIL;
}

static int update_main(const struct update_cmd *uc, int argc, char **argv)
{
	struct update_run r = {.uc = uc, .o = {.cmd = uc->name}, .there = -1};
	struct cli_opts *o = &r.o;
	struct dns_change change;
	struct dns_key key;
	bool is_signed = false;
	int ret;

	memset(&key, 0, sizeof(key));
	ret = cli_opts_parse(o, argc, argv, CLI_NEED_FQDN | CLI_NEED_VALUE,
			     uc->usage);
	if (ret != CLI_OK)
		return ret < 0 ? CLI_OK : ret;
	if (cli_key_load(o, &key, &is_signed) != 0)
		return CLI_FAIL;
	cli_dns_opts(o, is_signed ? &key : NULL, &r.dopts);

	r.t0 = cli_now_ms();
	if (!o->zone_given && cli_zone_discover(o, &r.dopts, r.found_at,
						sizeof(r.found_at)) != 0) {
		ret = CLI_FAIL;
		goto out;
	}
	/* --no-verify: no query besides the update's messages. */
	if (uc->action == DNS_DELETE && !o->no_verify)
		r.there = value_there(o, &r.dopts);
	change = (struct dns_change){.zone = o->zone,
				     .fqdn = o->fqdn,
				     .action = uc->action,
				     .value = o->value,
				     .ttl = o->ttl};
	ret = dns_update(o->servers, o->nservers, &r.dopts, &change, &r.res);
	if (ret == 0 && r.res.nattempts > 0)
		ret = update_success(&r);
	else
		ret = update_failure(&r, ret);
out:
	dns_key_release(&key);
	cli_release(o);
	return ret;
}

int cli_present_main(int argc, char **argv)
{
	return update_main(&present_cmd, argc, argv);
}

int cli_cleanup_main(int argc, char **argv)
{
	return update_main(&cleanup_cmd, argc, argv);
}
