/*
 * net_internal.h - the socket helpers transport.c and gss.c share:
 * monotonic deadlines, waits, and DNS over TCP (RFC 1035 4.2.2, RFC 7766).
 * Not part of the module's contract.
 */
#ifndef RFC2136_DNS_NET_INTERNAL_H
#define RFC2136_DNS_NET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* util_now_ms() as the signed milliseconds of this module's deadlines. */
int64_t dns_now_ms(void);

/*
 * Wait for @events (POLLIN, POLLOUT) on @fd until @deadline (dns_now_ms()
 * time).  Returns 0 when ready, -ETIMEDOUT or -errno.
 */
int dns_wait_fd(int fd, short events, int64_t deadline);

/*
 * Open a non-blocking TCP connection to @sa and wait for it to complete
 * until @deadline.  *@fd gets the socket on success.  Returns 0,
 * -ETIMEDOUT or -errno (-ECONNREFUSED, ...).
 */
int dns_tcp_connect(const struct sockaddr *sa, socklen_t salen,
		    int64_t deadline, int *fd);

/*
 * Send @msg with its two-byte length prefix on @fd, the prefix and the
 * message in one segment (RFC 7766 8), without copying it and without
 * SIGPIPE when the peer has closed.  Returns 0, -ETIMEDOUT or -errno.
 */
int dns_tcp_send(int fd, const uint8_t *msg, size_t len, int64_t deadline);

/*
 * Read exactly @len bytes from @fd into @buf.  @got (may be NULL) gets the
 * bytes read added, so callers know whether any answer byte came.
 * Returns 0, -ECONNRESET when the peer closed first, -ETIMEDOUT or -errno.
 */
int dns_tcp_read(int fd, uint8_t *buf, size_t len, int64_t deadline,
		 size_t *got);

/*
 * Read length-prefixed messages from @fd into @ans (DNS_MSG_MAX bytes)
 * until one passes dns_msg_header_match() against @query: messages that
 * are not ours (late answers, other IDs) are skipped, as over UDP.
 * *@alen gets its length; @got as for dns_tcp_read().  Returns 0 or as
 * dns_tcp_read().
 */
int dns_tcp_answer(int fd, const uint8_t *query, size_t qlen, uint8_t *ans,
		   size_t *alen, int64_t deadline, size_t *got);

#endif /* RFC2136_DNS_NET_INTERNAL_H */
