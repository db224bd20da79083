/*
 * hints.c - what to do after a diagnosis: the key definition and update
 * policy for BIND, Knot and PowerDNS, how to reach the server, and the
 * GSS-TSIG causes.  Shared by the present, cleanup and check commands;
 * the secret is never printed.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

/* A key name for configuration files: without the final dot. */
static void key_display(const struct dns_key *key, char *buf, size_t len)
{
	size_t n = strlen(key->name);

	if (n > 1 && key->name[n - 1] == '.')
		n--;
	snprintf(buf, len, "%.*s", (int)n, key->name);
}

/* The zone as BIND/Knot/pdnsutil write it: no final dot. */
static void zone_display(const char *zone, char *buf, size_t len)
{
	size_t n = strlen(zone);

	if (n > 1 && zone[n - 1] == '.')
		n--;
	snprintf(buf, len, "%.*s", (int)n, zone);
}

/* How to define the key on each server (the secret never printed). */
static void hint_key_definition(const struct dns_key *key)
{
	char name[DNS_NAME_LEN];
	const char *alg = dns_alg_to_text(key->alg);

	key_display(key, name, sizeof(name));
	fprintf(stderr,
		"hint: the server must know key '%s' with algorithm %s and "
		"the same secret as --key-file:\n"
		"  BIND (named.conf):\n"
		"    key \"%s\" { algorithm %s; secret \"<the secret>\"; };\n"
		"  Knot (knot.conf):\n"
		"    key:\n"
		"      - id: %s\n"
		"        algorithm: %s\n"
		"        secret: <the secret>\n"
		"  PowerDNS:\n"
		"    pdnsutil import-tsig-key %s %s '<the secret>'\n",
		name, alg, name, alg, name, alg, name, alg);
}

/* How to allow the key (or this host, unsigned) to update TXT at fqdn. */
static void hint_update_policy(const struct cli_opts *opts,
			       const struct dns_key *key, const char *fqdn)
{
	char name[DNS_NAME_LEN], zone[DNS_NAME_LEN];

	zone_display(opts->zone, zone, sizeof(zone));
	if (key == NULL) {
		fprintf(stderr,
			"hint: the update was unsigned; allow this host's "
			"address to update zone %s, or better, use a TSIG "
			"key (--key-file):\n"
			"  BIND (zone \"%s\" in named.conf):\n"
			"    allow-update { <this host's address>; };\n"
			"  Knot (knot.conf):\n"
			"    acl:\n"
			"      - id: acme\n"
			"        address: <this host's address>\n"
			"        action: update\n"
			"        update-type: [TXT]\n"
			"    and 'acl: [acme]' in zone %s\n"
			"  PowerDNS (pdns.conf):\n"
			"    dnsupdate=yes\n"
			"    allow-dnsupdate-from=<this host's address>\n",
			opts->zone, zone, zone);
		return;
	}
	key_display(key, name, sizeof(name));
	fprintf(stderr,
		"hint: allow key '%s' to update TXT at %s:\n"
		"  BIND (zone \"%s\" in named.conf):\n"
		"    update-policy { grant %s name %s TXT; };\n"
		"  Knot (knot.conf):\n"
		"    acl:\n"
		"      - id: acme\n"
		"        key: %s\n"
		"        action: update\n"
		"        update-type: [TXT]\n"
		"        update-owner: name\n"
		"        update-owner-name: [%s]\n"
		"    and 'acl: [acme]' in zone %s\n"
		"  PowerDNS (dnsupdate=yes in pdns.conf; the key grants the "
		"whole zone):\n"
		"    pdnsutil set-meta %s TSIG-ALLOW-DNSUPDATE %s\n"
		"    pdnsutil import-tsig-key %s %s '<the secret>'   "
		"(if the server does not know the key yet)\n",
		name, fqdn, zone, name, fqdn, name, fqdn, zone, zone, name,
		name, dns_alg_to_text(key->alg));
}

static void hint_reach(const struct dns_outcome *o, const struct cli_opts *opts)
{
	if (o->code == DNS_EDEADLINE) {
		/* STYLE.md 16: the command's budget, not one attempt's. */
		fprintf(stderr,
			"hint: the whole command may take %u ms (the "
			"webhook's 25 s, or --timeout when longer); a "
			"nameserver that does not answer within it is down "
			"or filtered: 'dig @<address> -p <port> %s SOA' must "
			"answer\n",
			opts->timeout_ms > CLI_DEADLINE_DEFAULT_MS
			    ? opts->timeout_ms
			    : CLI_DEADLINE_DEFAULT_MS,
			opts->zone);
		return;
	}
	fprintf(stderr,
		"hint: check the nameserver address and port (%s), that the "
		"server runs and that no firewall drops DNS over UDP and "
		"TCP; 'dig @<address> -p <port> %s SOA' must answer; "
		"a slow server needs a longer --timeout (now %u ms)\n",
		o->server, opts->zone, opts->timeout_ms);
}

static void hint_zone(const struct dns_outcome *o, const struct cli_opts *opts,
		      const char *fqdn)
{
	fprintf(stderr,
		"hint: %s does not answer as the primary of zone %s: pass "
		"the zone that contains %s as --zone ('dig %s SOA' shows "
		"the enclosing zone) and the zone's primary as --nameserver, "
		"or add the zone to the server\n",
		o->server, opts->zone, fqdn, fqdn);
}

void cli_hint(const struct dns_outcome *o, enum cli_stage stage,
	      const struct cli_opts *opts, const struct dns_key *key,
	      const char *fqdn)
{
	switch (stage) {
	case CLI_STAGE_REACH:
		hint_reach(o, opts);
		return;
	case CLI_STAGE_ZONE:
		hint_zone(o, opts, fqdn);
		return;
	case CLI_STAGE_KEY:
		if (key == NULL)
			return;
		if (o->tsig_error == 18) {
			/* RFC 8945 5.2.3: BADTIME, outside the fudge. */
			fprintf(stderr,
				"hint: the clocks of this host and the "
				"server differ by %lld s, more than the 300 s "
				"TSIG allows: synchronise both with NTP\n",
				(long long)o->skew);
			return;
		}
		if (o->tsig_error == 16) {
			fprintf(stderr,
				"hint: the server knows key '%s' but the "
				"signature does not verify: compare the "
				"secret and algorithm with the server's key "
				"(a secret base64-encoded twice, or a wrong "
				"--tsig-algorithm, does this)\n",
				key->name);
			return;
		}
		hint_key_definition(key);
		if (o->tsig_error == 17)
			/* Knot answers an ACL denial like an unknown key. */
			fprintf(stderr, "hint: Knot answers BADKEY also when "
					"its ACL does not allow the key; see "
					"the acl below\n");
		/* The policy is the other likely cause. */
		hint_update_policy(opts, key, fqdn);
		return;
	case CLI_STAGE_UPDATE:
		hint_update_policy(opts, key, fqdn);
		return;
	case CLI_STAGE_SERVE:
		fprintf(stderr,
			"hint: the server accepted the update but does not "
			"serve the value: the name may be delegated to "
			"another zone below %s, the server may answer from "
			"another view, or (PowerDNS with a Lua update "
			"policy) a denied record is dropped silently\n",
			opts->zone);
		return;
	}
}

/* The hint for a GSS-TSIG attempt: what to run to see the cause. */
static void hint_gss(const struct dns_outcome *o, const struct cli_opts *opts,
		     const char *fqdn)
{
	const char *p = opts->gss_principal;
	char zone[DNS_NAME_LEN];

	zone_display(opts->zone, zone, sizeof(zone));
	switch (o->code) {
	case DNS_EGSS_CRED:
	case DNS_EGSS_CLIENT:
		fprintf(stderr,
			"hint: try the credentials by hand: 'kinit -k -t %s "
			"%s' (or kinit with the password); 'klist -k -t -e "
			"KEYTAB' lists the keytab's principals and key "
			"versions\n",
			opts->gss_keytab ? opts->gss_keytab : "KEYTAB", p);
		return;
	case DNS_EGSS_KDC:
		fprintf(stderr,
			"hint: krb5.conf (KRB5_CONFIG, or --krb5-config for "
			"serve) must name the realm's KDC: [realms] REALM = "
			"{ kdc = kdc.example.com }\n");
		return;
	case DNS_EGSS_SERVICE:
	case DNS_ETKEY:
		fprintf(stderr,
			"hint: after kinit, 'kvno %s' shows whether the KDC "
			"knows the service and its key version; on the DNS "
			"server 'klist -k -t -e <its keytab>' must list the "
			"same principal and version (Active Directory: "
			"'setspn -L <domain controller>' lists its DNS/ "
			"names)\n",
			o->gss_service);
		return;
	case DNS_EGSS_SKEW:
		fprintf(stderr, "hint: synchronise the clocks of this host, "
				"the KDC and the DNS server (NTP)\n");
		return;
	default:
		break;
	}
	if (o->code == DNS_EECHO && o->rcode == 2) {
		/* Samba AD's denial (see dns/diag.c). */
		fprintf(stderr,
			"hint: in Samba AD a name belongs to the account that "
			"created it first; once the stale name is deleted by "
			"an administrator, %s creates and removes its own "
			"records at %s; see deploy/gss-tsig.md (Samba AD)\n",
			p, fqdn);
		return;
	}
	if (o->rcode == 5 || o->rcode == 9 || o->code == DNS_EECHO) {
		fprintf(stderr,
			"hint: allow %s to update TXT at %s:\n"
			"  BIND (zone \"%s\" in named.conf; exact principal, "
			"no wildcard):\n"
			"    update-policy { grant \"%s\" name %s TXT; };\n"
			"  Active Directory: give the account 'Create all "
			"child objects' on the zone (DNS Manager, zone "
			"properties, Security); see deploy/gss-tsig.md\n",
			p, fqdn, zone, o->gss_principal, fqdn);
		return;
	}
	fprintf(stderr, "hint: run 'rfc2136-webhook check' with the same "
			"options to test the setup step by step\n");
}

/*
 * After a NOTAUTH: does the server that said it serve opts->zone at all
 * (its SOA, authoritative)?  An unknown answer counts as served, which
 * keeps the update-policy hint.
 */
static bool zone_served(const struct dns_outcome *o,
			const struct cli_opts *opts, const struct dns_key *key)
{
	struct dns_opts dopts;
	struct dns_addr addr;
	struct dns_zone z;
	char err[512];
	int ret;

	if (dns_outcome_addr(o, &addr) != 0)
		return true;
	cli_dns_opts(opts, key, &dopts);
	memset(&z, 0, sizeof(z));
	ret = dns_zone_find(&addr, &dopts, opts->zone, &z, err, sizeof(err));
	if (ret == 0)
		return strcasecmp(z.soa.zone, opts->zone) == 0;
	return !(ret == DNS_ENOZONE || ret == DNS_EREFERRAL);
}

void cli_hint_update(const struct dns_result *res, const struct cli_opts *opts,
		     const struct dns_key *key, const char *fqdn)
{
	const struct dns_outcome *o = NULL;

	if (res->nattempts == 0)
		return;
	if (opts->gss != NULL) {
		const struct dns_outcome *last =
		    &res->attempts[res->nattempts - 1];

		/* Kerberos and TKEY failures have their own codes. */
		if (last->answered ||
		    (last->code >= DNS_EGSS_CRED && last->code < DNS_ELAST))
			hint_gss(last, opts, fqdn);
		else
			cli_hint(last, CLI_STAGE_REACH, opts, key, fqdn);
		return;
	}
	/* The most telling attempt: the last one that got an answer. */
	for (size_t i = res->nattempts; i-- > 0;) {
		if (res->attempts[i].answered) {
			o = &res->attempts[i];
			break;
		}
	}
	if (o == NULL) {
		cli_hint(&res->attempts[res->nattempts - 1], CLI_STAGE_REACH,
			 opts, key, fqdn);
		return;
	}
	if (o->tsig_error != 0 || o->code == DNS_EUNSIGNED ||
	    o->code == DNS_ETSIG)
		cli_hint(o, CLI_STAGE_KEY, opts, key, fqdn);
	else if (o->rcode == 9 /* NOTAUTH */ || o->rcode == 5 /* REFUSED */) {
		/*
		 * NOTAUTH: the zone is not served here (RFC 2136 3.1.1), or
		 * (Knot) no ACL allows an unsigned update; REFUSED: a policy
		 * denial (BIND), or any TSIG failure (PowerDNS).  Both hints,
		 * the diagnosis says which.
		 */
		if (o->rcode == 9) {
			cli_hint(o, CLI_STAGE_ZONE, opts, key, fqdn);
			/* Not the primary of the zone: policy is beside it. */
			if (!zone_served(o, opts, key))
				return;
		}
		cli_hint(o, CLI_STAGE_UPDATE, opts, key, fqdn);
	} else {
		fprintf(stderr,
			"hint: run 'rfc2136-webhook check' with the same "
			"options to test the setup step by step\n");
	}
}
