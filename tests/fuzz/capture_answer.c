/*
 * capture_answer.c - send the fuzzers' fixed request (dns_request.h) to a
 * real server once over UDP and write a fuzz_dns_answer input (mode byte,
 * signing time, the answer) to stdout.  capture_seeds.py drives it against
 * Knot, BIND and PowerDNS to seed tests/fuzz/corpus/dns_answer.
 *
 *   capture_answer ADDR:PORT MODE [SKEW [KEYNAME SECRET]]
 *
 * SKEW (seconds, may be negative) moves the signing time, to provoke
 * BADTIME; KEYNAME and SECRET sign with another key (BADKEY, BADSIG) while
 * the recorded input still asks the fuzzer to verify with the fixed key.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tests/fuzz/dns_request.h"

static int number(const char *text, long min, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(text, &end, 10);
	return errno != 0 || end == text || *end != '\0' || *out < min ||
		       *out > max
		   ? -1
		   : 0;
}

int main(int argc, char **argv)
{
	uint8_t secret[32], q[1024], mac[DNS_MAC_MAX], ans[65535];
	uint8_t hdr[FUZZ_HDR_LEN];
	struct dns_key key = fuzz_key(secret), other = {0};
	const struct dns_key *k = &key;
	struct dns_addr addr;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = 3};
	size_t qlen, maclen;
	char err[256];
	long mode, skew = 0;
	uint64_t now;
	ssize_t n;
	int fd = -1, ret = 1;

	if (argc != 3 && argc != 4 && argc != 6) {
		fprintf(stderr,
			"usage: %s ADDR:PORT MODE [SKEW [NAME SECRET]]\n",
			argv[0]);
		return 2;
	}
	if (dns_addr_parse(&addr, argv[1], err, sizeof(err)) != 0 ||
	    inet_pton(AF_INET, addr.host, &sin.sin_addr) != 1 ||
	    number(argv[2], 0, 255, &mode) != 0 ||
	    (argc > 3 && number(argv[3], -100000, 100000, &skew) != 0)) {
		fprintf(stderr, "capture_answer: bad arguments\n");
		return 2;
	}
	if (argc == 6) {
		if (dns_key_parse(&other, argv[5], strlen(argv[5]), "argument",
				  argv[4], "hmac-sha256", err,
				  sizeof(err)) != 0) {
			fprintf(stderr, "capture_answer: %s\n", err);
			return 2;
		}
		k = &other;
	}
	sin.sin_port = htons(addr.port);
	now = (uint64_t)((int64_t)time(NULL) + skew);
	if (fuzz_request((unsigned)mode, now, k, q, &qlen, sizeof(q), mac,
			 &maclen) != 0) {
		fprintf(stderr, "capture_answer: cannot build the request\n");
		goto out;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    send(fd, q, qlen, 0) != (ssize_t)qlen) {
		perror("capture_answer");
		goto out;
	}
	n = recv(fd, ans, sizeof(ans), 0);
	if (n <= 0) {
		perror("capture_answer: no answer");
		goto out;
	}
	hdr[0] = (uint8_t)mode;
	for (int i = 0; i < 8; i++)
		hdr[1 + i] = (uint8_t)(now >> (56 - 8 * i));
	if (fwrite(hdr, 1, sizeof(hdr), stdout) != sizeof(hdr) ||
	    fwrite(ans, 1, (size_t)n, stdout) != (size_t)n)
		goto out;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	dns_key_release(&other);
	return ret;
}
