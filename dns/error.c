/*
 * error.c - dns_strerror(): one table for the module's codes, the C
 * library's thread-safe description for negated errno values.
 */
#include <string.h>

#include "dns/dns.h"

/* Indexed by code - DNS_EKEY_SYNTAX; every DNS_E* has its row. */
static const char *const dns_errors[] = {
    [DNS_EKEY_SYNTAX - DNS_EKEY_SYNTAX] = "malformed TSIG key",
    [DNS_EKEY_ALG - DNS_EKEY_SYNTAX] = "unknown or missing TSIG algorithm",
    [DNS_EKEY_NAME - DNS_EKEY_SYNTAX] = "missing or invalid TSIG key name",
    [DNS_EKEY_NOTFOUND - DNS_EKEY_SYNTAX] = "no TSIG key with that name",
    [DNS_EKEY_CONFLICT - DNS_EKEY_SYNTAX] =
	"the given key name or algorithm contradicts the key file",
    [DNS_EADDR - DNS_EKEY_SYNTAX] = "malformed nameserver address",
    [DNS_ERESOLVE - DNS_EKEY_SYNTAX] =
	"the nameserver host name does not resolve",
    [DNS_ENAME - DNS_EKEY_SYNTAX] = "malformed domain name",
    [DNS_ENOTSUB - DNS_EKEY_SYNTAX] = "the record name is not in the zone",
    [DNS_EVALUE - DNS_EKEY_SYNTAX] = "TXT value empty or too long",
    [DNS_ERCODE - DNS_EKEY_SYNTAX] = "the server answered with an error",
    [DNS_ETSIG - DNS_EKEY_SYNTAX] =
	"TSIG error in the answer, or its signature does not verify",
    [DNS_EUNSIGNED - DNS_EKEY_SYNTAX] = "unsigned answer to a signed request",
    [DNS_EFORMAT - DNS_EKEY_SYNTAX] = "the answer is not a valid DNS message",
    [DNS_EMISMATCH - DNS_EKEY_SYNTAX] =
	"the answer does not belong to the request",
    [DNS_ETRUNC - DNS_EKEY_SYNTAX] = "the answer is truncated even over TCP",
    [DNS_EGSS_CRED - DNS_EKEY_SYNTAX] = "no usable Kerberos credentials",
    [DNS_EGSS_KDC - DNS_EKEY_SYNTAX] = "the Kerberos KDC cannot be reached",
    [DNS_EGSS_CLIENT - DNS_EKEY_SYNTAX] =
	"the KDC does not know the client principal",
    [DNS_EGSS_SERVICE - DNS_EKEY_SYNTAX] =
	"the KDC does not know the DNS service principal",
    [DNS_EGSS_SKEW - DNS_EKEY_SYNTAX] = "clock skew too great for Kerberos",
    [DNS_EGSS - DNS_EKEY_SYNTAX] = "GSS-API failure",
    [DNS_ETKEY - DNS_EKEY_SYNTAX] =
	"the server rejected the GSS-TSIG key negotiation (TKEY)",
    [DNS_EECHO - DNS_EKEY_SYNTAX] =
	"the answer's signature is our request's, echoed",
    [DNS_ENOZONE - DNS_EKEY_SYNTAX] =
	"the server serves no zone that holds the name",
    [DNS_EREFERRAL - DNS_EKEY_SYNTAX] =
	"the name is delegated to other nameservers",
    [DNS_EVERIFY - DNS_EKEY_SYNTAX] =
	"the server accepted the update but does not serve it",
    [DNS_EDEADLINE - DNS_EKEY_SYNTAX] = "the call's deadline passed",
    [DNS_ENOREPLY - DNS_EKEY_SYNTAX] = "the nameserver did not answer DNS",
    [DNS_EBUSY - DNS_EKEY_SYNTAX] =
	"too many name lookups or Kerberos steps still pending",
};

_Static_assert(sizeof(dns_errors) / sizeof(dns_errors[0]) ==
		   DNS_ELAST - DNS_EKEY_SYNTAX,
	       "every DNS_E* code needs a text");

const char *dns_strerror(int code)
{
	if (code == 0)
		return "success";
	if (code >= DNS_EKEY_SYNTAX && code < DNS_ELAST)
		return dns_errors[code - DNS_EKEY_SYNTAX];
	if (code < 0 && code > DNS_EKEY_SYNTAX) {
		/* strerrordesc_np() is thread-safe, unlike strerror(). */
		const char *text = strerrordesc_np(-code);
		if (text != NULL)
			return text;
	}
	return "unknown error";
}
