/*
 * addr.c - nameserver addresses as users write them: IPv4 and IPv6
 * literals (bare or in brackets), host names, an optional port.  Pure
 * syntax; host names are resolved when a message is sent (transport.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"

#define HOST_MAX  253 /* RFC 1035 2.3.4, without the trailing dot */
#define LABEL_MAX 63

static int addr_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int addr_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return DNS_EADDR;
}

/* A port: decimal 1-65535, nothing else. */
static int port_parse(const char *text, uint16_t *port, char *err,
		      size_t errlen)
{
	char *end = NULL;
	unsigned long val;

	if (*text == '\0')
		return addr_fail(err, errlen, "missing port after ':'%s", "");
	if (strspn(text, "0123456789") != strlen(text))
		return addr_fail(err, errlen, "port '%s' is not a number",
				 text);
	errno = 0;
	val = strtoul(text, &end, 10);
	if (errno != 0 || *end != '\0' || val == 0 || val > 65535)
		return addr_fail(err, errlen,
				 "port %s is out of range (1-65535)", text);
	*port = (uint16_t)val;
	return 0;
}

/*
 * Only digits and dots: the user meant an IPv4 address (no top-level
 * domain is all-numeric), so check it as one for a precise message.
 */
static int ipv4_check(const char *host, char *err, size_t errlen)
{
	struct in_addr in;
	const char *p = host;
	int octets = 0;

	for (;;) {
		size_t n = strspn(p, "0123456789");
		char octet[4] = "";

		if (n == 0)
			return addr_fail(err, errlen,
					 "IPv4 address '%s' has an empty octet",
					 host);
		/* Four digits or more are out of range whatever they are. */
		if (n <= 3)
			memcpy(octet, p, n);
		if (n > 3 || strtoul(octet, NULL, 10) > 255)
			return addr_fail(err, errlen,
					 "IPv4 address '%s' has an octet out "
					 "of range 0-255",
					 host);
		if (n > 1 && octet[0] == '0')
			return addr_fail(err, errlen,
					 "IPv4 address '%s' has an octet with "
					 "a leading zero",
					 host);
		octets++;
		p += n;
		if (*p == '\0')
			break;
		p++; /* the dot */
	}
	if (octets != 4)
		return addr_fail(err, errlen,
				 "IPv4 address '%s' does not have 4 octets",
				 host);
	if (inet_pton(AF_INET, host, &in) != 1)
		return addr_fail(err, errlen, "invalid IPv4 address '%s'",
				 host);
	return 0;
}

/* RFC 1123 2.1 host names: letters, digits, hyphens; labels 1-63. */
static int hostname_check(const char *host, char *err, size_t errlen)
{
	size_t len = strlen(host);
	const char *label = host;

	if (len > 0 && host[len - 1] == '.')
		len--;
	if (len == 0)
		return addr_fail(err, errlen, "empty host name%s", "");
	if (len > HOST_MAX)
		return addr_fail(err, errlen,
				 "host name '%.64s...' is longer than 253 "
				 "characters",
				 host);
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? host[i] : '.';
		size_t llen = (size_t)(host + i - label);

		if (c == '.') {
			if (llen == 0)
				return addr_fail(err, errlen,
						 "host name '%s' has an empty "
						 "label",
						 host);
			if (llen > LABEL_MAX)
				return addr_fail(err, errlen,
						 "host name '%s' has a label "
						 "longer than 63 characters",
						 host);
			if (label[0] == '-' || label[llen - 1] == '-')
				return addr_fail(err, errlen,
						 "host name '%s' has a label "
						 "starting or ending with '-'",
						 host);
			label = host + i + 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-')) {
			char bad[8];
			if (c >= ' ' && c < 127)
				snprintf(bad, sizeof(bad), "'%c'", c);
			else
				snprintf(bad, sizeof(bad), "0x%02x",
					 (unsigned)(unsigned char)c);
			return addr_fail(err, errlen,
					 "invalid character %s in host name",
					 bad);
		}
	}
	return 0;
}

/*
 * "[IPv6]" or "[IPv6]:port" (RFC 3986 3.2.2): the address into @host,
 * what follows ':' into *@port.
 */
static int bracket_parse(const char *text, char host[DNS_NAME_LEN],
			 const char **port, char *err, size_t errlen)
{
	const char *close = strchr(text, ']');
	struct in6_addr in6;
	size_t hlen;

	if (close == NULL)
		return addr_fail(err, errlen, "'%s': '[' without ']'", text);
	hlen = (size_t)(close - text - 1);
	if (hlen == 0)
		return addr_fail(err, errlen,
				 "'%s': empty IPv6 address in brackets", text);
	if (close[1] == ':')
		*port = close + 2;
	else if (close[1] != '\0')
		return addr_fail(err, errlen,
				 "'%s': unexpected text after ']' "
				 "(expected ':port')",
				 text);
	if (hlen >= DNS_NAME_LEN)
		return addr_fail(err, errlen, "'%.64s...': address too long",
				 text);
	memcpy(host, text + 1, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET6, host, &in6) != 1)
		return addr_fail(err, errlen,
				 "'%s' in brackets is not an IPv6 address",
				 host);
	return 0;
}

/*
 * "host" or "host:port" into @host and *@port, @colon the ':' or NULL;
 * the host an IPv4 address or a host name.
 */
static int host_parse(const char *text, const char *colon,
		      char host[DNS_NAME_LEN], const char **port, char *err,
		      size_t errlen)
{
	size_t hlen = colon != NULL ? (size_t)(colon - text) : strlen(text);

	if (colon != NULL)
		*port = colon + 1;
	if (hlen == 0)
		return addr_fail(err, errlen, "'%s': missing host before ':'",
				 text);
	if (hlen >= DNS_NAME_LEN)
		return addr_fail(err, errlen,
				 "host name '%.64s...' is longer than 253 "
				 "characters",
				 text);
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (strspn(host, "0123456789.") == hlen)
		return ipv4_check(host, err, errlen);
	return hostname_check(host, err, errlen);
}

int dns_addr_parse(struct dns_addr *addr, const char *text, char *err,
		   size_t errlen)
{
	char host[DNS_NAME_LEN];
	const char *port = NULL, *colon;
	struct in6_addr in6;
	int ret;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (addr == NULL || text == NULL || *text == '\0')
		return addr_fail(err, errlen, "empty nameserver address%s", "");
	memset(addr, 0, sizeof(*addr));
	addr->port = 53;
	colon = strchr(text, ':');
	if (text[0] == '[') {
		ret = bracket_parse(text, host, &port, err, errlen);
	} else if (colon != NULL && strchr(colon + 1, ':') != NULL) {
		/* Two colons or more: a bare IPv6 address, all of it; a port
		 * needs the brackets. */
		if (strlen(text) >= sizeof(host) ||
		    inet_pton(AF_INET6, text, &in6) != 1)
			return addr_fail(err, errlen,
					 "'%s' is not an IPv6 address (write "
					 "[address]:port to give a port)",
					 text);
		memcpy(host, text, strlen(text) + 1);
		ret = 0;
	} else {
		ret = host_parse(text, colon, host, &port, err, errlen);
	}
	if (ret == 0 && port != NULL)
		ret = port_parse(port, &addr->port, err, errlen);
	if (ret == 0)
		memcpy(addr->host, host, strlen(host) + 1);
	return ret;
}

char *dns_addr_format(const struct dns_addr *addr, char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return buf;
	if (addr == NULL) {
		buf[0] = '\0';
		return buf;
	}
	if (strchr(addr->host, ':') != NULL)
		snprintf(buf, len, "[%s]:%u", addr->host, addr->port);
	else
		snprintf(buf, len, "%s:%u", addr->host, addr->port);
	return buf;
}
