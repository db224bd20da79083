/*
 * listen.c - listening addresses as Kubernetes' servers read them (see
 * listen.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "server/listen.h"
#include "server/log.h"

int listen_addr_parse(struct listen_addr *la, const char *host, unsigned port)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&la->ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&la->ss;
	char text[INET6_ADDRSTRLEN];
	size_t len = host != NULL ? strlen(host) : 0;

	memset(la, 0, sizeof(*la));
	if (len == 0) {
		host = "::";
		len = 2;
	}
	/*
	 * As Go's net.ParseIP reads it: a dotted quad or RFC 4291 text, and
	 * "[::1]" as well as "::1"; not "127.1", hex octets, "%eth0" scopes
	 * (which getaddrinfo() would take) or "[127.0.0.1]".
	 */
	bool bracketed = len >= 2 && host[0] == '[' && host[len - 1] == ']';
	if (bracketed) {
		host++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(text))
		return -EINVAL;
	memcpy(text, host, len);
	text[len] = '\0';
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		if (bracketed)
			return -EINVAL;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (s4->sin_addr.s_addr != htonl(INADDR_ANY))
			return 0;
		/* 0.0.0.0 means every address, as "" and "::" do. */
		memset(&la->ss, 0, sizeof(la->ss));
		s6->sin6_addr = in6addr_any;
	} else if (inet_pton(AF_INET6, text, &s6->sin6_addr) != 1) {
		return -EINVAL;
	}
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons((uint16_t)port);
	la->any = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
	return 0;
}

/* Other failures than "no such family" (EMFILE, ...) are left to the
 * real attempt to report. */
static bool ipv6_missing(int *why)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0) {
		close(fd);
		return false;
	}
	*why = errno;
	return errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT;
}

void listen_addr_fallback(struct listen_addr *la, const char *what)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&la->ss;
	uint16_t port = ((struct sockaddr_in6 *)&la->ss)->sin6_port;
	char msg[128];
	int why = 0;

	if (!la->any || la->ss.ss_family != AF_INET6 || !ipv6_missing(&why))
		return;
	memset(&la->ss, 0, sizeof(la->ss));
	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(INADDR_ANY);
	s4->sin_port = port;
	snprintf(msg, sizeof(msg),
		 "no IPv6 in this kernel: %s listens on IPv4 0.0.0.0 only",
		 what);
	log_warn(msg, "error", strerror(why));
}

unsigned listen_addr_mhd_flags(const struct listen_addr *la)
{
	if (la->ss.ss_family != AF_INET6)
		return 0;
	return la->any ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
}

void listen_addr_describe(const struct listen_addr *la, int port, char *buf,
			  size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?", num[16] = "";
	bool v6 = la->ss.ss_family == AF_INET6;

	if (v6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)&la->ss)->sin6_addr,
			  host, sizeof(host));
	else
		inet_ntop(AF_INET,
			  &((const struct sockaddr_in *)&la->ss)->sin_addr,
			  host, sizeof(host));
	if (port >= 0)
		snprintf(num, sizeof(num), ":%d", port);
	snprintf(buf, len, "%s%s%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "",
		 num,
		 !la->any ? ""
		 : v6	  ? " (IPv6 and IPv4)"
			  : " (IPv4 only)");
}

void listen_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct listen_mhd_log *l = cls;
	char text[256];

	vsnprintf(text, sizeof(text), fmt, ap);
	text[strcspn(text, "\n")] = '\0';
	if (atomic_load(&l->starting))
		snprintf(l->last, sizeof(l->last), "%s", text);
	log_debug(3, "libmicrohttpd", "detail", text);
}

void listen_mhd_log_starting(struct listen_mhd_log *l, bool starting)
{
	if (starting)
		l->last[0] = '\0';
	atomic_store(&l->starting, starting);
}

const char *listen_mhd_log_cause(const struct listen_mhd_log *l)
{
	return l->last[0] != '\0' ? l->last : "libmicrohttpd did not start";
}
