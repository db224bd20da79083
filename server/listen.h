/*
 * listen.h - the addresses the secure port and the metrics port listen on,
 * read as Kubernetes' servers read --bind-address (internal to server/).
 *
 * An unspecified address ("", "0.0.0.0", "::", "[::]") means every
 * address family: one dual-stack [::] socket, which IPv4 clients reach as
 * ::ffff:a.b.c.d (RFC 4291 2.5.5.2), or IPv4 0.0.0.0 where the kernel has
 * no IPv6.  Any other address is that address and family only.
 */
#ifndef RFC2136_LISTEN_H
#define RFC2136_LISTEN_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct listen_addr {
	struct sockaddr_storage ss; /* with the port */
	bool any;		    /* unspecified: every family */
};

/*
 * Parse @host (NULL or "" for unspecified; "[::1]" as well as "::1"; an
 * IP address, never a name) with @port into @la.  Pure: no socket, no log.
 * 0, or -EINVAL when @host is not an IP address.
 */
int listen_addr_parse(struct listen_addr *la, const char *host, unsigned port);

/*
 * Where the kernel has no IPv6 at all (socket(AF_INET6) fails with
 * EAFNOSUPPORT: built without it, or booted with ipv6.disable=1), turn an
 * unspecified @la into IPv4 0.0.0.0 and log one warning naming @what
 * ("the secure port").  IPv6 only switched off by sysctl still makes the
 * socket, and a dual-stack [::] listener then serves IPv4: left alone.
 */
void listen_addr_fallback(struct listen_addr *la, const char *what);

/* libmicrohttpd's flags for @la (an IPv6 socket without
 * MHD_USE_DUAL_STACK is IPV6_V6ONLY). */
unsigned listen_addr_mhd_flags(const struct listen_addr *la);

/*
 * @la for a log line or an error: "[::] (IPv6 and IPv4)", "0.0.0.0 (IPv4
 * only)", "127.0.0.1", "[::1]"; with @port >= 0, ":PORT" after the address.
 */
void listen_addr_describe(const struct listen_addr *la, int port, char *buf,
			  size_t len);

/*
 * What libmicrohttpd says while a listener starts: MHD_start_daemon() only
 * returns NULL, the cause ("Failed to bind to port 9402: Address already
 * in use") is in its log.
 */
struct listen_mhd_log {
	atomic_bool starting; /* set around MHD_start_daemon() */
	char last[256];	      /* its last message while starting, or "" */
};

/*
 * MHD_OPTION_EXTERNAL_LOGGER with @cls a struct listen_mhd_log: every
 * message goes to the log at --v 3; while starting, the last one is kept.
 */
void listen_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Begin (clear ->last) or end a start watched by @l. */
void listen_mhd_log_starting(struct listen_mhd_log *l, bool starting);

/* The cause of a failed start: ->last, or a generic text. */
const char *listen_mhd_log_cause(const struct listen_mhd_log *l);

#endif /* RFC2136_LISTEN_H */
