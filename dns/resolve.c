/*
 * resolve.c - a nameserver's addresses within the call's deadline: every
 * address of a host name (A and AAAA), looked up on a helper thread (the
 * resolver has no timeout of its own), at most DNS_HOST_ADDRS_MAX tried,
 * and the text that names each address in an outcome.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/net_internal.h"
#include "dns/transport_internal.h"

void dns_server_text(char *buf, size_t len, const struct dns_addr *addr,
		     const struct sockaddr *sa, bool literal)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	char text[INET6_ADDRSTRLEN + 8];
	bool v6 = sa->sa_family == AF_INET6;
	const void *in =
	    v6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
	       : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	inet_ntop(sa->sa_family, in, ip, sizeof(ip));
	snprintf(text, sizeof(text), v6 ? "[%s]:%u" : "%s:%u", ip, addr->port);
	if (literal)
		snprintf(buf, len, "%s", text);
	else
		snprintf(buf, len, "%s (%s)", addr->host, text);
}

/* A getaddrinfo() call on a helper thread. */
struct lookup {
	struct dns_helper h;
	char host[DNS_NAME_LEN];
	char port[8];
	struct addrinfo hints;
	struct addrinfo *res;
	int ret;
	int err; /* errno for EAI_SYSTEM */
};

static void lookup_free(struct lookup *l)
{
	if (l->res != NULL)
		freeaddrinfo(l->res);
	dns_helper_release(&l->h);
	free(l);
}

static void *lookup_run(void *arg)
{
	struct lookup *l = arg;

	l->ret = getaddrinfo(l->host, l->port, &l->hints, &l->res);
	l->err = errno;
	if (dns_helper_finish(&l->h))
		lookup_free(l);
	dns_helper_exit();
	return NULL;
}

/*
 * getaddrinfo() bounded by @deadline: the resolver has no timeout of its
 * own (resolv.conf's are per query and add up over names and servers).
 * Returns getaddrinfo()'s code, or EAI_AGAIN with *@cut set when the
 * deadline passed first, or EAI_SYSTEM with errno set (DNS_EBUSY when too
 * many lookups are pending).
 */
static int lookup_bounded(const char *host, const char *port,
			  const struct addrinfo *hints, int64_t deadline,
			  struct addrinfo **res, bool *cut)
{
	struct lookup *l;
	int ret;

	*res = NULL;
	*cut = false;
	if (deadline == 0)
		return getaddrinfo(host, port, hints, res);
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return EAI_MEMORY;
	if (dns_helper_init(&l->h) != 0) {
		free(l);
		return EAI_MEMORY;
	}
	snprintf(l->host, sizeof(l->host), "%s", host);
	snprintf(l->port, sizeof(l->port), "%s", port);
	l->hints = *hints;
	ret = dns_helper_start(lookup_run, l);
	if (ret != 0) {
		lookup_free(l);
		errno = ret == DNS_EBUSY ? EBUSY : -ret;
		return EAI_SYSTEM;
	}
	if (dns_helper_wait(&l->h, deadline) != 0) {
		*cut = true; /* the helper frees @l when getaddrinfo returns */
		return EAI_AGAIN;
	}
	ret = l->ret;
	errno = l->err;
	*res = l->res;
	l->res = NULL;
	lookup_free(l);
	return ret;
}

int dns_addr_resolve(const struct dns_addr *addr, int64_t deadline,
		     struct addrinfo **res, bool *literal, char *detail,
		     size_t dlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_DGRAM,
				 .ai_flags = AI_NUMERICSERV};
	unsigned char probe[sizeof(struct in6_addr)];
	char port[8];
	bool cut = false;
	int ret;

	*literal = inet_pton(AF_INET, addr->host, probe) == 1 ||
		   inet_pton(AF_INET6, addr->host, probe) == 1;
	if (*literal)
		hints.ai_flags |= AI_NUMERICHOST;
	snprintf(port, sizeof(port), "%u", addr->port);
	if (*literal) {
		ret = getaddrinfo(addr->host, port, &hints, res);
	} else if (deadline != 0 && dns_now_ms() >= deadline) {
		snprintf(detail, dlen,
			 "before the name resolution of %.80s could start",
			 addr->host);
		return DNS_EDEADLINE;
	} else {
		ret = lookup_bounded(addr->host, port, &hints, deadline, res,
				     &cut);
	}
	if (ret == 0)
		return 0;
	*res = NULL;
	if (ret == EAI_MEMORY)
		return -ENOMEM;
	if (cut) {
		snprintf(detail, dlen,
			 "while waiting for the name resolution of %.80s",
			 addr->host);
		return DNS_EDEADLINE;
	}
	if (ret == EAI_SYSTEM && errno == EBUSY) {
		snprintf(detail, dlen,
			 "%u name lookups or Kerberos steps are still pending",
			 HELPERS_MAX);
		return DNS_EBUSY;
	}
	snprintf(detail, dlen, "%s",
		 ret == EAI_SYSTEM ? dns_strerror(-errno) : gai_strerror(ret));
	return DNS_ERESOLVE;
}

size_t dns_addrs_capped(const struct addrinfo *ai, const struct dns_addr *addr,
			char *note, size_t notelen)
{
	size_t n = 0;

	for (const struct addrinfo *p = ai; p != NULL; p = p->ai_next)
		n++;
	if (n <= DNS_HOST_ADDRS_MAX)
		return n;
	if (note[0] == '\0')
		snprintf(note, notelen,
			 "%s has %zu addresses; only the first %d were tried",
			 addr->host, n, DNS_HOST_ADDRS_MAX);
	return DNS_HOST_ADDRS_MAX;
}
