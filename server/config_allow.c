/*
 * config_allow.c - the operator's limit on where tenants may aim updates
 * and probes: `serve --allowed-nameservers`, a list of CIDRs and host
 * names (see config.h).  Pure: no I/O, no DNS traffic.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"

/* A host name in the list's form: lower case, no final dot. */
static void name_fold(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n > 0 && src[n - 1] == '.')
		n--;
	if (n >= size)
		n = size - 1;
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[n] = '\0';
}

/* Clear the host bits beyond @prefix. */
static void prefix_mask(uint8_t *addr, size_t len, unsigned prefix)
{
	for (size_t i = 0; i < len; i++) {
		unsigned bits = prefix > i * 8 ? prefix - (unsigned)i * 8 : 0;

		if (bits < 8)
			addr[i] &= (uint8_t)(0xff00u >> bits);
	}
}

/* One entry: "10.0.0.0/8", "10.0.0.53", "2001:db8::/32", "ns1.example.com". */
static int allow_entry_parse(struct solver_allow_entry *e, const char *text,
			     char *err, size_t errlen)
{
	char host[DNS_NAME_LEN + 8];
	const char *slash = strchr(text, '/');
	size_t hlen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	struct dns_addr a;
	char detail[256];

	memset(e, 0, sizeof(*e));
	if (hlen == 0 || hlen >= sizeof(host)) {
		snprintf(err, errlen, "\"%.80s\": empty or too long", text);
		return -EINVAL;
	}
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, e->addr) == 1) {
		e->family = AF_INET;
		e->prefix = 32;
	} else if (inet_pton(AF_INET6, host, e->addr) == 1) {
		e->family = AF_INET6;
		e->prefix = 128;
	} else if (slash != NULL) {
		snprintf(err, errlen,
			 "\"%.80s\": not a CIDR (write e.g. 10.0.0.0/8 or "
			 "2001:db8::/32)",
			 text);
		return -EINVAL;
	} else {
		/* A host name: the nameserver syntax, without a port. */
		if (strchr(text, ':') != NULL ||
		    dns_addr_parse(&a, text, detail, sizeof(detail)) != 0) {
			snprintf(err, errlen,
				 "\"%.80s\": not a CIDR, an address or a host "
				 "name%s%s",
				 text, strchr(text, ':') ? "" : ": ",
				 strchr(text, ':') ? " (no port: an entry "
						     "allows every port)"
						   : detail);
			return -EINVAL;
		}
		e->is_name = true;
		name_fold(e->name, sizeof(e->name), a.host);
		return 0;
	}
	if (slash != NULL) {
		const char *p = slash + 1;
		unsigned long v;
		char *end = NULL;

		errno = 0;
		v = strtoul(p, &end, 10);
		if (*p < '0' || *p > '9' || errno != 0 || *end != '\0' ||
		    v > e->prefix) {
			snprintf(err, errlen,
				 "\"%.80s\": the prefix length must be 0 to "
				 "%u",
				 text, e->prefix);
			return -EINVAL;
		}
		e->prefix = (unsigned)v;
	}
	prefix_mask(e->addr, e->family == AF_INET ? 4 : 16, e->prefix);
	return 0;
}

int solver_allow_parse(struct solver_allow *allow, const char *list, char *err,
		       size_t errlen)
{
	const char *p = list;

	memset(allow, 0, sizeof(*allow));
	snprintf(allow->text, sizeof(allow->text), "%s", list);
	while (*p != '\0') {
		char item[DNS_NAME_LEN + 64];
		size_t n = strcspn(p, ",");
		size_t lead = 0;
		char detail[384];

		/* Blanks around entries are fine: "a, b". */
		while (lead < n && isspace((unsigned char)p[lead]))
			lead++;
		while (n > lead && isspace((unsigned char)p[n - 1]))
			n--;
		if (n - lead >= sizeof(item)) {
			snprintf(err, errlen,
				 "--allowed-nameservers: entry \"%.40s...\" "
				 "is too long",
				 p + lead);
			return -EINVAL;
		}
		memcpy(item, p + lead, n - lead);
		item[n - lead] = '\0';
		if (item[0] != '\0') {
			if (allow->n == SOLVER_ALLOW_MAX) {
				snprintf(err, errlen,
					 "--allowed-nameservers: at most %d "
					 "entries",
					 SOLVER_ALLOW_MAX);
				return -EINVAL;
			}
			if (allow_entry_parse(&allow->e[allow->n], item, detail,
					      sizeof(detail)) != 0) {
				snprintf(err, errlen,
					 "--allowed-nameservers: %s", detail);
				return -EINVAL;
			}
			allow->n++;
		}
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	if (allow->n == 0) {
		snprintf(err, errlen,
			 "--allowed-nameservers: the list is empty (name at "
			 "least one CIDR or host name)");
		return -EINVAL;
	}
	return 0;
}

static bool prefix_match(const uint8_t *addr, const uint8_t *net,
			 unsigned prefix)
{
	size_t full = prefix / 8;
	unsigned rest = prefix % 8;

	if (memcmp(addr, net, full) != 0)
		return false;
	return rest == 0 ||
	       ((addr[full] ^ net[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

bool solver_allow_match(const struct solver_allow *allow,
			const struct dns_addr *server)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
					   0, 0, 0, 0, 0xff, 0xff};
	uint8_t addr[16];
	char name[DNS_NAME_LEN];
	int family = 0;

	if (allow == NULL || allow->n == 0)
		return true;
	if (inet_pton(AF_INET, server->host, addr) == 1) {
		family = AF_INET;
	} else if (inet_pton(AF_INET6, server->host, addr) == 1) {
		family = AF_INET6;
		/* RFC 4291 2.5.5.2: ::ffff:a.b.c.d is IPv4 a.b.c.d. */
		if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
			memmove(addr, addr + 12, 4);
			family = AF_INET;
		}
	}
	name_fold(name, sizeof(name), server->host);
	for (size_t i = 0; i < allow->n; i++) {
		const struct solver_allow_entry *e = &allow->e[i];

		if (e->is_name) {
			if (family == 0 && strcmp(e->name, name) == 0)
				return true;
		} else if (family == e->family &&
			   prefix_match(addr, e->addr, e->prefix)) {
			return true;
		}
	}
	return false;
}
