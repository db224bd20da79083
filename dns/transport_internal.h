/*
 * transport_internal.h - what the files of the transport share (helper.c,
 * resolve.c, transport.c, update.c, query.c): helper threads the caller
 * may stop waiting for, a nameserver's addresses within the deadline, and
 * one attempt at one address.  Not part of the module's contract.
 */
#ifndef RFC2136_DNS_TRANSPORT_INTERNAL_H
#define RFC2136_DNS_TRANSPORT_INTERNAL_H

#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/dns.h"

#define TIMEOUT_DEFAULT_MS 5000
/* An attempt shorter than this cannot get an answer back: not started. */
#define ATTEMPT_FLOOR_MS 300
/* Helper threads (lookups, Kerberos) still running, at most. */
#define HELPERS_MAX 64

/* ------------------------------------------------------------ helper.c */

/* What a caller and its helper thread share; the last one out frees it. */
struct dns_helper {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on the monotonic clock */
	bool done;	     /* the helper's call returned */
	bool abandoned;	     /* the caller stopped waiting */
};

/* Initialise @h; 0 or -ENOMEM. */
int dns_helper_init(struct dns_helper *h);

/* Destroy @h's lock and condition. */
void dns_helper_release(struct dns_helper *h);

/*
 * Run @fn(@arg) on a detached thread, at most HELPERS_MAX at once (else
 * DNS_EBUSY).  @fn ends with dns_helper_exit().
 */
int dns_helper_start(void *(*fn)(void *), void *arg);

/*
 * The helper's end: mark done and wake the caller.  Returns true when the
 * caller is gone and the helper must free the shared state itself; then
 * the helper calls dns_helper_exit().
 */
bool dns_helper_finish(struct dns_helper *h);

/* The last call of a helper thread: it no longer counts as running. */
void dns_helper_exit(void);

/*
 * Wait for the helper until @deadline (dns_now_ms() time, 0: for ever).
 * Returns 0 when it finished (the caller frees the shared state) or
 * -ETIMEDOUT after marking it abandoned (the helper frees it).
 */
int dns_helper_wait(struct dns_helper *h, int64_t deadline);

/* ----------------------------------------------------------- resolve.c */

/*
 * Every address of @addr (A and AAAA for a host name, RFC 1123 6.1.3.4
 * says to try them all), looked up within
 * @deadline; *@literal says whether @addr was an IP literal.  A resolver
 * failure is DNS_ERESOLVE with the resolver's text in @detail; the
 * deadline passing first is DNS_EDEADLINE.
 */
int dns_addr_resolve(const struct dns_addr *addr, int64_t deadline,
		     struct addrinfo **res, bool *literal, char *detail,
		     size_t dlen);

/* How many of @ai are tried: DNS_HOST_ADDRS_MAX, with a note past it. */
size_t dns_addrs_capped(const struct addrinfo *ai, const struct dns_addr *addr,
			char *note, size_t notelen);

/* "host (addr:port)" for a host name, "addr:port" for a literal. */
void dns_server_text(char *buf, size_t len, const struct dns_addr *addr,
		     const struct sockaddr *sa, bool literal);

/* --------------------------------------------------------- transport.c */

/* What to send: an UPDATE or a query, rebuilt for every attempt. */
struct msg_spec {
	bool query;
	const struct dns_change *changes; /* update: one, or a batch */
	size_t nchanges;
	const char *name; /* query */
	uint16_t qtype;
};

/* One exchange's buffers and request MAC. */
struct exchange {
	uint8_t *query; /* DNS_MSG_MAX */
	size_t qlen;
	uint8_t *ans; /* DNS_MSG_MAX */
	size_t alen;
	uint8_t mac[DNS_MAC_MAX];
	size_t maclen;
};

/* Allocate @x's buffers: 0 or -ENOMEM (release it either way). */
int dns_exchange_init(struct exchange *x);

/* Free @x's buffers and wipe the request MAC. */
void dns_exchange_release(struct exchange *x);

/*
 * Build @spec with a random ID into @x, signed with @key when not NULL.
 * Returns 0 or the dns_msg_* error, whose text goes to @err (may be NULL).
 */
int dns_spec_build(const struct msg_spec *spec, const struct dns_key *key,
		   struct exchange *x, char *err, size_t errlen);

/*
 * One attempt at one address within @timeout (an attempt's share of the
 * call): build, sign, send, check; a truncated UDP answer is retried over
 * TCP with a fresh message (RFC 1035 4.2.1, RFC 7766 5) within what is
 * left of the same share and the call.  The outcome is filled except
 * server and detail.
 */
int dns_attempt(const struct sockaddr *sa, socklen_t salen,
		const struct dns_opts *opts, unsigned timeout,
		const struct msg_spec *spec, struct exchange *x,
		struct dns_outcome *o);

/*
 * The attempt again, signed with the key's alternate secret (dns.h,
 * struct dns_key): once, at an address that rejected the key, when the
 * secret had two readings.  The outcome is marked key_alt.
 */
int dns_attempt_alt(const struct sockaddr *sa, socklen_t salen,
		    const struct dns_opts *opts, unsigned timeout,
		    const struct msg_spec *spec, struct exchange *x,
		    struct dns_outcome *o);

/*
 * Whether @o calls for dns_attempt_alt() (@query: @o answered a query).  A
 * signed query that PowerDNS does not verify gets NOTAUTH without any TSIG
 * record (updates get REFUSED).
 */
bool dns_alt_wanted(const struct dns_opts *opts, const struct dns_outcome *o,
		    bool query);

#endif /* RFC2136_DNS_TRANSPORT_INTERNAL_H */
