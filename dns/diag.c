/*
 * diag.c - what an outcome means for a human, from one table.
 *
 * The rows encode the measured habits of the servers people run
 * (DESIGN.md section 4): Knot answers an ACL denial like an unknown key
 * (NOTAUTH + BADKEY, unsigned); BIND answers an update-policy denial with
 * a signed REFUSED; PowerDNS answers every TSIG failure with a plain
 * REFUSED that carries no TSIG record at all.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"

/* RCODE mnemonics, RFC 6895 2.3 (16-23 as TSIG/TKEY errors). */
static const char *const rcode_names[] = {
    [0] = "NOERROR", [1] = "FORMERR",	[2] = "SERVFAIL",   [3] = "NXDOMAIN",
    [4] = "NOTIMP",  [5] = "REFUSED",	[6] = "YXDOMAIN",   [7] = "YXRRSET",
    [8] = "NXRRSET", [9] = "NOTAUTH",	[10] = "NOTZONE",   [16] = "BADSIG",
    [17] = "BADKEY", [18] = "BADTIME",	[19] = "BADMODE",   [20] = "BADNAME",
    [21] = "BADALG", [22] = "BADTRUNC", [23] = "BADCOOKIE",
};

const char *dns_rcode_name(int rcode)
{
	/* Per thread, so that the function stays thread-safe. */
	static _Thread_local char other[16];

	if (rcode < 0)
		return "none";
	if ((size_t)rcode < sizeof(rcode_names) / sizeof(rcode_names[0]) &&
	    rcode_names[rcode] != NULL)
		return rcode_names[rcode];
	snprintf(other, sizeof(other), "RCODE%d", rcode);
	return other;
}

/* How the answer was signed, as the rows match it. */
enum sig {
	SIG_ANY = 0,
	SIG_OK,	  /* TSIG present and verified */
	SIG_NONE, /* no TSIG, or a BADKEY/BADSIG one (no MAC, 5.3.2) */
	SIG_BAD,  /* TSIG present with a MAC that does not verify */
	SIG_ECHO, /* GSS-TSIG: our request's MAC came back (DNS_EECHO) */
};

enum keyed {
	KEY_ANY = 0,
	KEY_YES,
	KEY_NO
};

#define ANY	(-10000) /* code, rcode or TSIG error: any value */
#define NONZERO (-10001) /* TSIG error: any error */

/*
 * One row per situation; the first match wins.  Placeholders: %K key
 * name, %Z zone, %N record name, %S server, %M milliseconds, %W skew in
 * seconds, %D detail, %E TSIG error, %R RCODE, %C the code's text.
 * Answers get a "RCODE/TSIGERR (answer signed|unsigned): " prefix.
 */
struct rule {
	int code;
	int rcode;
	int tsig_error;
	enum sig sig;
	enum keyed keyed;
	const char *text;
};

/* Rows that look at one thing; the others match anything. */
/* clang-format off */
#define ON_CODE(code, text)   {code, ANY, ANY, SIG_ANY, KEY_ANY, text}  /* outcome code */
#define ON_TSIG(error, text)  {ANY, ANY, error, SIG_ANY, KEY_ANY, text} /* TSIG error */
#define ON_RCODE(rcode, text) {ANY, rcode, ANY, SIG_ANY, KEY_ANY, text} /* RCODE */
/* clang-format on */

static const struct rule rules[] = {
    /* ------------------------------------------------ no answer */
    ON_CODE(-ETIMEDOUT,
	    "no answer from %S within %M ms: the server is down, a firewall "
	    "drops UDP/TCP 53, or the address is wrong"),
    ON_CODE(-ECONNREFUSED,
	    "%S refused the connection (ICMP port unreachable or TCP reset): "
	    "no DNS server listens on that address and port, or a firewall "
	    "rejects it"),
    ON_CODE(-ECONNRESET,
	    "%S closed the TCP connection without answering: it does not "
	    "serve DNS over TCP or limits connections"),
    ON_CODE(-ENETUNREACH,
	    "no route to %S: this machine cannot reach that network (an IPv6 "
	    "address without IPv6 connectivity?)"),
    ON_CODE(-EHOSTUNREACH,
	    "%S is unreachable: no host answers at that address"),
    ON_CODE(DNS_EDEADLINE, "the call's deadline passed at %S %D"),
    ON_CODE(DNS_ENOREPLY,
	    "%S did not answer DNS: check the address and port, and that the "
	    "server runs and is reachable from the webhook"),
    ON_CODE(DNS_EBUSY, "%S not tried: %D; try again shortly"),
    ON_CODE(DNS_ERESOLVE,
	    "the nameserver host name %S does not resolve (%D): check the "
	    "name, or give an IP address"),
    ON_CODE(DNS_EMISMATCH,
	    "%S sent only answers that do not belong to the request (wrong "
	    "ID, opcode or question): something else answers on that address"),
    ON_CODE(DNS_EFORMAT, "%S sent an answer that is not a valid DNS message"),
    ON_CODE(DNS_ETRUNC, "%S answered truncated (TC) even over TCP"),

    /* --------------------------------- TSIG errors (RFC 8945 5.3) */
    ON_TSIG(17 /* BADKEY */,
	    "the server does not know key '%K', or its ACL does not allow "
	    "this key to update %N TXT (Knot answers an ACL denial like an "
	    "unknown key); check the key name and the server's ACL"),
    ON_TSIG(16 /* BADSIG */,
	    "the server does not accept the signature of key '%K'; the "
	    "secret or the algorithm does not match the server's key"),
    ON_TSIG(18 /* BADTIME */,
	    "the clocks of this machine and the server differ by %W s, more "
	    "than the 300 s fudge; synchronise both clocks (NTP)"),
    ON_TSIG(22 /* BADTRUNC */,
	    "the server does not accept a truncated MAC for key '%K'"),
    ON_TSIG(NONZERO, "the server reports TSIG error %E for key '%K'"),
    {DNS_ETSIG, ANY, 0, SIG_BAD, KEY_YES,
     "the answer's signature does not verify against the request: it "
     "was forged or altered on the way, or signed with another secret; "
     "the result cannot be trusted"},
    {DNS_ETSIG, ANY, 0, SIG_OK, KEY_YES,
     "the answer is signed %W s away from this machine's clock, more "
     "than the fudge; synchronise both clocks (NTP)"},
    {DNS_EUNSIGNED, 0, ANY, SIG_ANY, KEY_YES,
     "a signed request got an unsigned NOERROR, which cannot be trusted "
     "(a forged answer, or something on the way strips TSIG); the "
     "change is not confirmed"},

    /* ------------------------------------------------- RCODEs */
    {ANY, 5 /* REFUSED */, 0, SIG_OK, KEY_YES,
     "the key '%K' is valid but the server's update-policy does not "
     "allow it to change %N TXT (BIND answers a policy denial this way)"},
    {ANY, 5, 0, SIG_ANY, KEY_YES,
     "the update with key '%K' was refused without a signature: "
     "PowerDNS answers this way when the key is unknown, the secret or "
     "algorithm is wrong, or the key is not in TSIG-ALLOW-DNSUPDATE; "
     "other servers when updates of zone %Z are not allowed at all"},
    {ANY, 5, 0, SIG_ANY, KEY_NO,
     "the server refused an unsigned update: configure a TSIG key "
     "(tsigSecretSecretRef) that the server allows to update zone %Z"},
    {ANY, 9 /* NOTAUTH */, 0, SIG_ANY, KEY_NO,
     "the server refused an unsigned update (Knot answers this way "
     "when no ACL allows it) or is not authoritative for zone %Z: "
     "configure a TSIG key (tsigSecretSecretRef)"},
    {ANY, 9, 0, SIG_ANY, KEY_ANY,
     "the server is not authoritative for zone %Z: check the zone name "
     "and that the nameserver is the zone's primary"},
    ON_RCODE(10 /* NOTZONE */,
	     "%N is not in zone %Z as the server sees it: check the zone "
	     "name (the zone apex, not a parent or a child zone)"),
    ON_RCODE(2 /* SERVFAIL */,
	     "the server failed to apply the change: zone %Z may not be "
	     "loaded, or its zone file or journal is not writable; see the "
	     "server's log"),
    ON_RCODE(1 /* FORMERR */,
	     "the server could not parse the request: something on the way "
	     "altered it, or the server does not understand it; see its log"),
    ON_RCODE(4 /* NOTIMP */,
	     "the server does not implement dynamic updates for zone %Z: "
	     "enable them (PowerDNS needs dnsupdate=yes)"),
    ON_RCODE(3 /* NXDOMAIN */, "the name does not exist"),
    {ANY, 0, 0, SIG_ANY, KEY_ANY, "the server accepted the request"},
    {ANY, ANY, ANY, SIG_ANY, KEY_ANY,
     "the server answered %R, which an update of a TXT record does not "
     "expect"},
};

/*
 * GSS-TSIG (RFC 3645) attempts are read against these rows first: %P is
 * the client principal, %H the service principal, %L the record name
 * relative to the zone and %Y the zone, both without the final dot (as
 * samba-tool takes them).  Kerberos failures happen before anything is
 * sent; a TKEY error means the server could not accept our ticket; Windows
 * and Samba answer denials by echoing the request's MAC instead of signing
 * (DNS_EECHO): Windows with REFUSED, Samba with SERVFAIL.
 */
static const struct rule gss_rules[] = {
    ON_CODE(DNS_EGSS_CRED,
	    "no usable Kerberos credentials for %P (%D): the keytab must "
	    "hold a current key of %P ('klist -k -t -e KEYTAB' lists it; an "
	    "account whose password or key changed needs a new keytab), or "
	    "the password is wrong"),
    ON_CODE(DNS_EGSS_KDC,
	    "the Kerberos KDC for %P cannot be reached (%D): check the "
	    "realm's kdc lines in krb5.conf (--krb5-config or KRB5_CONFIG), "
	    "that the KDC runs, and that this host reaches it on port 88 "
	    "(UDP and TCP)"),
    ON_CODE(DNS_EGSS_CLIENT,
	    "the KDC does not know the principal %P (%D): check the name and "
	    "the realm (upper case), or create the account"),
    ON_CODE(DNS_EGSS_SERVICE,
	    "the KDC does not know the service principal %H (%D): the "
	    "service host must be the DNS server's host name as registered "
	    "in its principal (DNS/<host>; for Active Directory the domain "
	    "controller's full name), not an alias or an address"),
    ON_CODE(DNS_EGSS_SKEW,
	    "the clocks of this host and the KDC differ by more than "
	    "Kerberos allows (5 minutes by default) (%D): synchronise both "
	    "with NTP"),
    ON_CODE(DNS_EGSS, "GSS-API failure for %P with %H: %D"),
    {DNS_ETKEY, ANY, 17 /* BADKEY */, SIG_ANY, KEY_ANY,
     "%S could not accept the Kerberos ticket of %P for %H (TKEY "
     "BADKEY): the server's keytab is stale (the service key changed "
     "after it was exported), has no key for %H (a wrong service host or "
     "SPN), or the server's clock is off; see the server's log"},
    ON_CODE(DNS_ETKEY,
	    "%S rejected the GSS-TSIG key negotiation (TKEY error %E): it "
	    "may not accept GSS-TSIG at all (BIND needs tkey-gssapi-keytab "
	    "or tkey-gssapi-credential)"),
    /*
     * Samba AD (source4/dns_server, measured with 4.17): an update the
     * account may not make (the name's dnsNode belongs to another account,
     * or the zone's ACL denies creating one) is answered SERVFAIL with the
     * request's TSIG echoed byte for byte.
     */
    {DNS_EECHO, 2 /* SERVFAIL */, ANY, SIG_ANY, KEY_ANY,
     "%S echoed our signature instead of signing its answer, which is "
     "how Samba AD denies an update: %P may not change %N TXT, because "
     "the name is owned by another account (the one that created it "
     "first) or the zone's ACL does not let %P create records. Check the "
     "owner (O: in the output) with 'samba-tool dsacl get "
     "--objectdn=DC=%L,DC=%Y,CN=MicrosoftDNS,DC=DomainDnsZones,<domain "
     "DN>'; delete the stale name as an administrator ('samba-tool dns "
     "delete <DC> %Y %L TXT <value> -U administrator') so that %P "
     "creates it anew, or grant %P write access to it ('samba-tool dsacl "
     "set' with --sddl='(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;<SID of %P>)')"},
    ON_CODE(DNS_EECHO,
	    "%S echoed our signature instead of signing its answer (a known "
	    "Windows DNS behaviour when it rejects a GSS-TSIG update, "
	    "typically because %P lacks permission on the secure zone): give "
	    "the account the right to create and write records in the zone, "
	    "and see the server's event log"),
    ON_TSIG(17 /* BADKEY */,
	    "%S does not know the GSS-TSIG key of %P even after a fresh "
	    "negotiation: it forgets keys at once (restarts?), or it does "
	    "not accept GSS-TSIG updates for zone %Z"),
    ON_TSIG(16 /* BADSIG */,
	    "%S does not accept the GSS-TSIG signature of %P; see the "
	    "server's log"),
    ON_TSIG(18 /* BADTIME */,
	    "the clocks of this host and the server differ by %W s, more "
	    "than the 300 s fudge; synchronise both clocks (NTP)"),
    {DNS_ETSIG, ANY, 0, SIG_BAD, KEY_ANY,
     "the answer's GSS-TSIG signature does not verify with the context "
     "negotiated for %P: it was forged or altered on the way; the result "
     "cannot be trusted"},
    {ANY, 5 /* REFUSED */, 0, SIG_OK, KEY_ANY,
     "%P authenticated (GSS-TSIG) but the server's policy does not allow "
     "it to change %N TXT: BIND: update-policy { grant \"%P\" name %N "
     "TXT; } (or zonesub TXT); Active Directory: give the account the "
     "right to create and write records in zone %Z"},
    {ANY, 5 /* REFUSED */, 0, SIG_ANY, KEY_ANY,
     "the update signed by %P was refused without a signature: the "
     "server does not allow GSS-TSIG updates of zone %Z at all (BIND: "
     "update-policy with a grant for %P)"},
};

/* Text appended to a bounded buffer, truncated silently. */
struct out {
	char *buf;
	size_t len, pos;
};

static void out_printf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->pos >= o->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
	if (o->pos >= o->len)
		o->pos = o->len - 1;
}

static enum sig sig_of(const struct dns_outcome *o)
{
	if (o->code == DNS_EECHO)
		return SIG_ECHO;
	if (o->tsig_verified)
		return SIG_OK;
	if (!o->tsig_present || o->tsig_error == 16 || o->tsig_error == 17)
		return SIG_NONE;
	return SIG_BAD;
}

static bool rule_match(const struct rule *r, const struct dns_outcome *o,
		       bool keyed)
{
	bool answered = o->answered && o->rcode >= 0;

	if (r->code != ANY && r->code != o->code)
		return false;
	/* Rows that look at the answer need one. */
	if ((r->rcode != ANY || r->tsig_error != ANY) && !answered)
		return false;
	if (r->rcode != ANY && r->rcode != o->rcode)
		return false;
	if (r->tsig_error == NONZERO
		? o->tsig_error == 0
		: r->tsig_error != ANY && r->tsig_error != o->tsig_error)
		return false;
	if (r->sig != SIG_ANY && r->sig != sig_of(o))
		return false;
	if (r->keyed != KEY_ANY && (r->keyed == KEY_YES) != keyed)
		return false;
	return true;
}

/*
 * @name without its final dot and, when it lies below @zone, without the
 * zone: what samba-tool takes ("_acme-challenge.www" in "example.com");
 * "@" for the apex, "?" when unknown.  Names compare case-insensitively.
 */
static void out_name(struct out *out, const char *name, const char *zone)
{
	size_t n, z;

	if (name == NULL || name[0] == '\0') {
		out_printf(out, "?");
		return;
	}
	n = strlen(name);
	if (n > 1 && name[n - 1] == '.')
		n--;
	z = zone != NULL ? strlen(zone) : 0;
	if (z > 1 && zone[z - 1] == '.')
		z--;
	if (zone != NULL && z == n && strncasecmp(name, zone, n) == 0) {
		out_printf(out, "@");
		return;
	}
	if (zone != NULL && strcmp(zone, ".") != 0 && z > 0 && n > z + 1 &&
	    name[n - z - 1] == '.' && strncasecmp(name + n - z, zone, z) == 0)
		n -= z + 1;
	out_printf(out, "%.*s", (int)n, name);
}

static void expand(struct out *out, const char *text,
		   const struct dns_outcome *o, const struct dns_key *key,
		   const char *zone, const char *fqdn)
{
	for (const char *p = text; *p != '\0'; p++) {
		if (*p != '%' || p[1] == '\0') {
			out_printf(out, "%c", *p);
			continue;
		}
		switch (*++p) {
		case 'K':
			out_printf(out, "%s",
				   key != NULL ? key->name : o->gss_principal);
			break;
		case 'P':
			out_printf(out, "%s", o->gss_principal);
			break;
		case 'H':
			out_printf(out, "%s", o->gss_service);
			break;
		case 'Z':
			out_printf(out, "%s", zone != NULL ? zone : "?");
			break;
		case 'Y':
			out_name(out, zone, NULL);
			break;
		case 'L':
			out_name(out, fqdn, zone);
			break;
		case 'N':
			out_printf(out, "%s", fqdn != NULL ? fqdn : "the name");
			break;
		case 'S':
			out_printf(out, "%s", o->server);
			break;
		case 'M':
			out_printf(out, "%u", o->ms);
			break;
		case 'W':
			out_printf(out, "%+lld", (long long)o->skew);
			break;
		case 'D':
			out_printf(out, "%s",
				   o->detail[0] ? o->detail : "no detail");
			break;
		case 'E':
			out_printf(out, "%s", dns_rcode_name(o->tsig_error));
			break;
		case 'R':
			out_printf(out, "%s", dns_rcode_name(o->rcode));
			break;
		case 'C':
			out_printf(out, "%s", dns_strerror(o->code));
			break;
		default:
			out_printf(out, "%%%c", *p);
		}
	}
}

/* The explanation of @o, with the record name when the caller knows it. */
static void explain(struct out *out, const struct dns_outcome *o,
		    const struct dns_key *key, const char *zone,
		    const char *fqdn)
{
	static const char *const sig_text[] = {
	    [SIG_OK] = "answer signed",
	    [SIG_NONE] = "answer unsigned",
	    [SIG_BAD] = "answer signature invalid",
	    [SIG_ECHO] = "our signature echoed",
	};
	_Static_assert(sizeof(sig_text) / sizeof(sig_text[0]) == SIG_ECHO + 1,
		       "every SIG_* state needs a text");
	bool answered = o->answered && o->rcode >= 0;
	const struct rule *r = NULL;

	for (size_t i = 0;
	     o->gss && i < sizeof(gss_rules) / sizeof(gss_rules[0]); i++) {
		if (rule_match(&gss_rules[i], o, true)) {
			r = &gss_rules[i];
			break;
		}
	}
	for (size_t i = 0; r == NULL && i < sizeof(rules) / sizeof(rules[0]);
	     i++) {
		if (rule_match(&rules[i], o, key != NULL || o->gss)) {
			r = &rules[i];
			break;
		}
	}
	if (answered) {
		out_printf(out, "%s", dns_rcode_name(o->rcode));
		if (o->tsig_error != 0)
			out_printf(out, "/%s", dns_rcode_name(o->tsig_error));
		out_printf(out, " (%s): ",
			   key == NULL && !o->gss && sig_of(o) == SIG_BAD
			       ? "answer signed, not checked"
			       : sig_text[sig_of(o)]);
	}
	if (r != NULL && (answered || r->code != ANY))
		expand(out, r->text, o, key, zone, fqdn);
	else
		expand(out, "%S: %C", o, key, zone, fqdn);
}

char *dns_outcome_explain(const struct dns_outcome *o,
			  const struct dns_key *key, const char *zone,
			  char *buf, size_t len)
{
	struct out out = {.buf = buf, .len = len};

	if (buf == NULL || len == 0)
		return buf;
	buf[0] = '\0';
	if (o != NULL)
		explain(&out, o, key, zone, NULL);
	return buf;
}

/* The reading of the secret that a key_alt attempt signed with. */
static const char *alt_label(const struct dns_key *key)
{
	if (key == NULL || key->alt_desc[0] == '\0')
		return "the secret's second reading";
	if (key->alt_swapped)
		return "the secret as nsupdate -y reads it (base64 decoded "
		       "once)";
	return key->alt_desc;
}

char *dns_result_explain(const struct dns_result *res, const char *what,
			 const struct dns_key *key, const char *zone,
			 const char *fqdn, char *buf, size_t len)
{
	struct out out = {.buf = buf, .len = len};
	size_t n, servers = 0;

	if (buf == NULL || len == 0)
		return buf;
	buf[0] = '\0';
	if (res == NULL)
		return buf;
	n = res->nattempts < DNS_ATTEMPTS_MAX ? res->nattempts
					      : DNS_ATTEMPTS_MAX;
	out_printf(&out, "%s", what != NULL ? what : "update");
	if (fqdn != NULL)
		out_printf(&out, " of %s", fqdn);
	if (zone != NULL)
		out_printf(&out, " in zone %s", zone);

	if (res->code == 0 && n > 0) {
		out_printf(&out, " succeeded at %s",
			   res->attempts[n - 1].server);
		return buf;
	}
	if (n == 0) {
		/* Failed before any server: the request itself. */
		out_printf(&out, " failed: %s", dns_strerror(res->code));
		if (res->detail[0] != '\0')
			out_printf(&out, " (%s)", res->detail);
		return buf;
	}
	/* A retry with the secret's second reading is the same server. */
	for (size_t i = 0; i < n; i++)
		servers += !res->attempts[i].key_alt;
	if (servers <= 1) {
		out_printf(&out, " at %s failed: ", res->attempts[0].server);
		explain(&out, &res->attempts[0], key, zone, fqdn);
		for (size_t i = 1; i < n; i++) {
			out_printf(&out, "; signed with %s: ", alt_label(key));
			explain(&out, &res->attempts[i], key, zone, fqdn);
		}
		return buf;
	}
	/* Every server's answer, in the order they were tried. */
	out_printf(&out, " failed at %zu servers: ", servers);
	for (size_t i = 0; i < n; i++) {
		const struct dns_outcome *a = &res->attempts[i];

		if (a->key_alt)
			out_printf(&out, "; %s signed with %s: ", a->server,
				   alt_label(key));
		else
			out_printf(&out, "%s%s: ", i > 0 ? "; " : "",
				   a->server);
		explain(&out, a, key, zone, fqdn);
	}
	return buf;
}
