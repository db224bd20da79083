/*
 * net.c - socket helpers shared by transport.c and gss.c (see
 * net_internal.h): deadlines on the monotonic clock and DNS over TCP with
 * the two-byte length prefix (RFC 1035 4.2.2, RFC 7766).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dns/msg_internal.h"
#include "dns/net_internal.h"
#include "util/clock.h"

/* The module's deadlines are signed: differences may be negative. */
int64_t dns_now_ms(void)
{
	return (int64_t)util_now_ms();
}

int64_t dns_clock_ms(void)
{
	return dns_now_ms();
}

/*
 * STYLE.md 16: a call's deadline is computed once and every blocking step
 * gets what is left of it (curl's Curl_timeleft()).
 */
unsigned dns_budget_wait(int64_t now, int64_t deadline, unsigned want_ms)
{
	int64_t left;

	if (deadline == 0)
		return want_ms;
	left = deadline - now;
	if (left <= 0)
		return 0;
	return left < (int64_t)want_ms ? (unsigned)left : want_ms;
}

unsigned dns_budget_share(int64_t now, int64_t deadline, unsigned want_ms,
			  unsigned attempts, unsigned floor_ms)
{
	unsigned left = dns_budget_wait(now, deadline, want_ms);
	unsigned share;

	if (deadline == 0 || left == 0)
		return left;
	/* Left over the whole call, not only up to want_ms. */
	left = dns_budget_wait(now, deadline, UINT32_MAX);
	share = left / (attempts > 0 ? attempts : 1);
	if (share < floor_ms)
		share = floor_ms < left ? floor_ms : left;
	return share < want_ms ? share : want_ms;
}

int dns_wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	for (;;) {
		int64_t left = deadline - dns_now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int dns_tcp_connect(const struct sockaddr *sa, socklen_t salen,
		    int64_t deadline, int *fd)
{
	socklen_t elen = sizeof(int);
	int s, ret, soerr = 0;

	s = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		   0);
	if (s < 0)
		return -errno;
	if (connect(s, sa, salen) != 0) {
		if (errno != EINPROGRESS) {
			ret = -errno;
			goto fail;
		}
		ret = dns_wait_fd(s, POLLOUT, deadline);
		if (ret != 0)
			goto fail;
		if (getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0)
			soerr = errno;
		if (soerr != 0) {
			ret = -soerr;
			goto fail;
		}
	}
	*fd = s;
	return 0;
fail:
	close(s);
	return ret;
}

int dns_tcp_send(int fd, const uint8_t *msg, size_t len, int64_t deadline)
{
	uint8_t prefix[2] = {(uint8_t)(len >> 8), (uint8_t)len};
	size_t total = len + 2, done = 0;

	while (done < total) {
		struct iovec iov[2];
		struct msghdr mh = {.msg_iov = iov};
		ssize_t n;
		int ret;

		/* RFC 7766 8: the length and the message in one segment. */
		if (done < 2) {
			iov[0].iov_base = prefix + done;
			iov[0].iov_len = 2 - done;
			iov[1].iov_base = (void *)msg;
			iov[1].iov_len = len;
			mh.msg_iovlen = 2;
		} else {
			iov[0].iov_base = (void *)(msg + (done - 2));
			iov[0].iov_len = total - done;
			mh.msg_iovlen = 1;
		}
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				return -errno;
			ret = dns_wait_fd(fd, POLLOUT, deadline);
			if (ret != 0)
				return ret;
			continue;
		}
		done += (size_t)n;
	}
	return 0;
}

int dns_tcp_read(int fd, uint8_t *buf, size_t len, int64_t deadline,
		 size_t *got)
{
	size_t done = 0;
	int ret = 0;

	while (done < len) {
		ssize_t n = recv(fd, buf + done, len - done, 0);

		if (n == 0) {
			ret = -ECONNRESET; /* closed before the answer */
			break;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				ret = -errno;
				break;
			}
			ret = dns_wait_fd(fd, POLLIN, deadline);
			if (ret != 0)
				break;
			continue;
		}
		done += (size_t)n;
	}
	if (got != NULL)
		*got += done;
	return ret;
}

int dns_tcp_answer(int fd, const uint8_t *query, size_t qlen, uint8_t *ans,
		   size_t *alen, int64_t deadline, size_t *got)
{
	uint8_t prefix[2];

	for (;;) {
		size_t len;
		int ret;

		ret = dns_tcp_read(fd, prefix, 2, deadline, got);
		if (ret != 0)
			return ret;
		len = (size_t)prefix[0] << 8 | prefix[1];
		ret = dns_tcp_read(fd, ans, len, deadline, got);
		if (ret != 0)
			return ret;
		if (dns_msg_header_match(ans, len, query, qlen) == 0) {
			*alen = len;
			return 0;
		}
	}
}
