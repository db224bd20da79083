/*
 * transport.c - sending a message and getting its answer: UDP on a
 * connected socket (RFC 1035 4.2.1), TCP with the two-byte length prefix
 * (4.2.2, RFC 7766) when asked or when the UDP answer is truncated,
 * per-attempt deadlines, and failover over every address of every server.
 *
 * One deadline per call (STYLE.md 16): name resolution, each address, the
 * TCP retry and the Kerberos steps of GSS-TSIG get only what is left of
 * dns_opts.deadline_ms.  getaddrinfo() and the Kerberos library have no
 * timeout of their own, so they run on a helper thread the caller stops
 * waiting for at the deadline; the thread then frees what it holds when
 * its call returns (nothing leaks, nothing blocks the caller).
 *
 * Every attempt builds and signs a fresh message with a random ID: a
 * retried TSIG message must not reuse a MAC (RFC 8945 5.2.2 lets servers
 * reject replays) and an ID per attempt keeps late answers apart.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dns/gss_internal.h"
#include "dns/msg_internal.h"
#include "dns/net_internal.h"

#define TIMEOUT_DEFAULT_MS 5000
/* An attempt shorter than this cannot get an answer back: not started. */
#define ATTEMPT_FLOOR_MS 300
/* Helper threads (lookups, Kerberos) still running, at most. */
#define HELPERS_MAX 64
/* A helper still running at the deadline gets this long to finish. */
#define HELPER_GRACE_MS 50

static atomic_uint helpers_running;

/* ------------------------------------------------------ helper threads */

/* What a caller and its helper thread share; the last one out frees it. */
struct helper {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on the monotonic clock */
	bool done;	     /* the helper's call returned */
	bool abandoned;	     /* the caller stopped waiting */
};

static int helper_init(struct helper *h)
{
	pthread_condattr_t attr;
	int ret;

	if (pthread_condattr_init(&attr) != 0)
		return -ENOMEM;
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	ret = pthread_cond_init(&h->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (ret != 0)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	h->done = h->abandoned = false;
	return 0;
}

static void helper_release(struct helper *h)
{
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
}

/*
 * Run @fn(@arg) on a detached thread, at most HELPERS_MAX at once: a
 * flood of lookups that never answer fails fast instead of piling up.
 */
static int helper_start(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t tid;
	int ret;

	if (atomic_fetch_add(&helpers_running, 1) >= HELPERS_MAX) {
		atomic_fetch_sub(&helpers_running, 1);
		return DNS_EBUSY;
	}
	if (pthread_attr_init(&attr) != 0) {
		atomic_fetch_sub(&helpers_running, 1);
		return -ENOMEM;
	}
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ret = pthread_create(&tid, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	if (ret != 0) {
		atomic_fetch_sub(&helpers_running, 1);
		return -ret;
	}
	return 0;
}

/*
 * The helper's end: mark done and wake the caller.  Returns true when the
 * caller is gone and the helper must free the shared state itself.
 */
static bool helper_finish(struct helper *h)
{
	bool abandoned;

	pthread_mutex_lock(&h->lock);
	h->done = true;
	abandoned = h->abandoned;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	return abandoned;
}

/*
 * Wait for the helper until @deadline (dns_now_ms() time, 0: for ever).
 * Returns 0 when it finished (the caller frees the shared state) or
 * -ETIMEDOUT after marking it abandoned (the helper frees it).
 */
static int helper_wait(struct helper *h, int64_t deadline)
{
	struct timespec ts = {.tv_sec = deadline / 1000,
			      .tv_nsec = (deadline % 1000) * 1000000};
	int ret = 0;

	pthread_mutex_lock(&h->lock);
	while (!h->done && ret != ETIMEDOUT) {
		if (deadline == 0)
			ret = pthread_cond_wait(&h->cond, &h->lock);
		else
			ret = pthread_cond_timedwait(&h->cond, &h->lock, &ts);
	}
	if (!h->done)
		h->abandoned = true;
	ret = h->done ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&h->lock);
	return ret;
}

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

static int random_id(uint16_t *id)
{
	/* getrandom() with no flags only blocks before the pool is ready. */
	ssize_t n;

	do {
		n = getrandom(id, sizeof(*id), 0);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*id) ? 0 : -EIO;
}

static int msg_build(const struct msg_spec *spec, const struct dns_key *key,
		     struct exchange *x)
{
	uint16_t id;
	int ret = random_id(&id);

	if (ret != 0)
		return ret;
	x->maclen = 0;
	if (spec->query)
		ret = dns_msg_query(x->query, &x->qlen, DNS_MSG_MAX, id,
				    spec->name, spec->qtype, NULL, 0);
	else if (spec->nchanges > 1)
		ret =
		    dns_msg_update_many(x->query, &x->qlen, DNS_MSG_MAX, id,
					spec->changes, spec->nchanges, NULL, 0);
	else
		ret = dns_msg_update(x->query, &x->qlen, DNS_MSG_MAX, id,
				     spec->changes, NULL, 0);
	if (ret == 0 && key != NULL)
		ret = dns_msg_sign(x->query, &x->qlen, DNS_MSG_MAX, key,
				   (uint64_t)time(NULL), x->mac, &x->maclen);
	return ret;
}

/*
 * UDP on a connected socket: the kernel drops datagrams from other
 * sources and reports ICMP port unreachable as ECONNREFUSED.  Answers
 * with another ID (late answers, spoofing attempts) are ignored until the
 * deadline.
 */
static int udp_exchange(const struct sockaddr *sa, socklen_t salen,
			struct exchange *x, int64_t deadline)
{
	bool mismatch = false;
	ssize_t n;
	int ret, fd;

	fd =
	    socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, sa, salen) != 0 ||
	    send(fd, x->query, x->qlen, 0) != (ssize_t)x->qlen) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		ret = dns_wait_fd(fd, POLLIN, deadline);
		if (ret != 0) {
			if (ret == -ETIMEDOUT && mismatch)
				ret = DNS_EMISMATCH;
			goto out;
		}
		n = recv(fd, x->ans, DNS_MSG_MAX, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		if (dns_msg_header_match(x->ans, (size_t)n, x->query,
					 x->qlen) != 0) {
			mismatch = true;
			continue;
		}
		x->alen = (size_t)n;
		ret = 0;
		goto out;
	}
out:
	close(fd);
	return ret;
}

static int tcp_exchange(const struct sockaddr *sa, socklen_t salen,
			struct exchange *x, int64_t deadline)
{
	int ret, fd;

	ret = dns_tcp_connect(sa, salen, deadline, &fd);
	if (ret != 0)
		return ret;
	ret = dns_tcp_send(fd, x->query, x->qlen, deadline);
	/* Messages that are not ours are skipped, like over UDP. */
	if (ret == 0)
		ret = dns_tcp_answer(fd, x->query, x->qlen, x->ans, &x->alen,
				     deadline, NULL);
	close(fd);
	return ret;
}

/* GSS-TSIG builds each message itself, to sign it with its context. */
struct gss_build_arg {
	const struct msg_spec *spec;
	struct exchange *x;
};

static int gss_build(void *arg, uint8_t *buf, size_t *len)
{
	struct gss_build_arg *a = arg;

	(void)buf; /* a->x->query */
	(void)len; /* a->x->qlen */
	return msg_build(a->spec, NULL, a->x);
}

static int exchange_init(struct exchange *x)
{
	memset(x, 0, sizeof(*x));
	x->query = malloc(DNS_MSG_MAX);
	x->ans = malloc(DNS_MSG_MAX);
	return x->query != NULL && x->ans != NULL ? 0 : -ENOMEM;
}

static void exchange_release(struct exchange *x)
{
	free(x->query);
	free(x->ans);
	explicit_bzero(x->mac, sizeof(x->mac));
}

/*
 * One GSS-TSIG attempt on a helper thread, which owns copies of all it
 * uses and a reference on the context: the Kerberos library's KDC contact
 * (AS and TGS requests, SRV lookups) has no deadline of its own.
 */
struct gss_job {
	struct helper h;
	struct dns_gss_ctx *gss;
	struct sockaddr_storage sa;
	socklen_t salen;
	unsigned timeout_ms;
	struct msg_spec spec;
	void *copy; /* the spec's changes and strings (spec_copy()) */
	struct exchange x;
	struct dns_outcome o;
	int ret;
};

static void gss_job_free(struct gss_job *j)
{
	exchange_release(&j->x);
	free(j->copy);
	dns_gss_free(j->gss, 0); /* our reference */
	helper_release(&j->h);
	free(j);
}

static void *gss_job_run(void *arg)
{
	struct gss_job *j = arg;
	struct gss_build_arg b = {.spec = &j->spec, .x = &j->x};

	j->ret = dns_gss_attempt(j->gss, (struct sockaddr *)&j->sa, j->salen,
				 j->timeout_ms, gss_build, &b, j->x.query,
				 &j->x.qlen, j->x.ans, &j->x.alen, &j->o);
	if (helper_finish(&j->h))
		gss_job_free(j);
	atomic_fetch_sub(&helpers_running, 1);
	return NULL;
}

/* Copy @s (NULL stays NULL) to *@p and move *@p past it. */
static const char *str_put(char **p, const char *s)
{
	size_t n;
	char *d = *p;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	memcpy(d, s, n);
	*p += n;
	return d;
}

static size_t str_size(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

/*
 * @src with its changes and strings copied into one allocation (*@block,
 * freed by the caller), for a helper that may outlive the caller's.
 */
static int spec_copy(struct msg_spec *dst, const struct msg_spec *src,
		     void **block)
{
	size_t size = src->nchanges * sizeof(struct dns_change) + 1;
	struct dns_change *c;
	char *p;

	for (size_t i = 0; i < src->nchanges; i++)
		size += str_size(src->changes[i].zone) +
			str_size(src->changes[i].fqdn) +
			str_size(src->changes[i].value);
	size += str_size(src->name);
	*block = malloc(size);
	if (*block == NULL)
		return -ENOMEM;
	c = *block;
	p = (char *)(c + src->nchanges);
	*dst = *src;
	for (size_t i = 0; i < src->nchanges; i++) {
		c[i] = src->changes[i];
		c[i].zone = str_put(&p, src->changes[i].zone);
		c[i].fqdn = str_put(&p, src->changes[i].fqdn);
		c[i].value = str_put(&p, src->changes[i].value);
	}
	dst->changes = src->nchanges > 0 ? c : NULL;
	dst->name = str_put(&p, src->name);
	return 0;
}

/*
 * dns_gss_attempt() bounded by @timeout, the attempt's share (already cut
 * to the call's deadline): the Kerberos steps count toward the attempt,
 * as its TKEY exchange does.  The helper's socket waits end within the
 * same time, so a helper still running after it waits for the KDC.
 */
static int gss_attempt_bounded(const struct sockaddr *sa, socklen_t salen,
			       const struct dns_opts *opts, unsigned timeout,
			       const struct msg_spec *spec, struct exchange *x,
			       struct dns_outcome *o)
{
	struct gss_build_arg b = {.spec = spec, .x = x};
	int64_t end = dns_now_ms() + timeout;
	struct gss_job *j;
	uint8_t *tmp;
	int ret;

	if (opts->deadline_ms == 0)
		return dns_gss_attempt(opts->gss, sa, salen, timeout, gss_build,
				       &b, x->query, &x->qlen, x->ans, &x->alen,
				       o);
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return o->code = -ENOMEM;
	if (helper_init(&j->h) != 0) {
		free(j);
		return o->code = -ENOMEM;
	}
	dns_gss_hold(opts->gss);
	j->gss = opts->gss;
	memcpy(&j->sa, sa, salen);
	j->salen = salen;
	j->timeout_ms = timeout;
	j->o = *o;
	ret = exchange_init(&j->x);
	if (ret == 0)
		ret = spec_copy(&j->spec, spec, &j->copy);
	if (ret == 0)
		ret = helper_start(gss_job_run, j);
	if (ret != 0) {
		gss_job_free(j);
		if (ret == DNS_EBUSY)
			snprintf(o->detail, sizeof(o->detail),
				 "%u name lookups or Kerberos steps are still "
				 "pending",
				 HELPERS_MAX);
		return o->code = ret;
	}
	if (helper_wait(&j->h, end + HELPER_GRACE_MS) != 0) {
		/* The helper frees @j when the Kerberos library returns.  Its
		 * socket waits end at @end, so it waits for the KDC. */
		o->gss = true;
		o->tcp = true;
		snprintf(o->gss_principal, sizeof(o->gss_principal), "%.127s",
			 dns_gss_principal(opts->gss));
		if (end >= opts->deadline_ms) {
			snprintf(o->detail, sizeof(o->detail),
				 "while waiting for Kerberos (the KDC, for a "
				 "ticket to the DNS server)");
			return o->code = DNS_EDEADLINE;
		}
		snprintf(o->detail, sizeof(o->detail),
			 "no answer from the KDC within the attempt's %u ms",
			 timeout);
		return o->code = DNS_EGSS_KDC;
	}
	*o = j->o;
	/* Hand the answer over by swapping buffers. */
	tmp = x->query;
	x->query = j->x.query;
	j->x.query = tmp;
	tmp = x->ans;
	x->ans = j->x.ans;
	j->x.ans = tmp;
	x->qlen = j->x.qlen;
	x->alen = j->x.alen;
	ret = j->ret;
	gss_job_free(j);
	return ret;
}

/*
 * One attempt at one address within @timeout (an attempt's share of the
 * call): build, sign, send, check; a truncated UDP answer is retried over
 * TCP with a fresh message (RFC 1035 4.2.1, RFC 7766 5) within what is
 * left of the same share and the call.  The outcome is filled except
 * server and detail.
 */
static int attempt(const struct sockaddr *sa, socklen_t salen,
		   const struct dns_opts *opts, unsigned timeout,
		   const struct msg_spec *spec, struct exchange *x,
		   struct dns_outcome *o)
{
	bool tcp = opts->proto == DNS_PROTO_TCP;
	bool retry = false;
	int64_t start = dns_now_ms();
	int64_t end = start + timeout;
	int ret;

	o->rcode = -1;
	if (opts->gss != NULL) {
		/* RFC 3645: always TCP, on the context's kept connection. */
		x->qlen = x->alen = 0;
		ret = gss_attempt_bounded(sa, salen, opts, timeout, spec, x, o);
		o->ms = (unsigned)(dns_now_ms() - start);
		/* The last message signed and its answer, after the fact. */
		if (opts->trace != NULL && x->qlen > 0)
			opts->trace(opts->trace_arg, "send", "tcp", o->server,
				    x->query, x->qlen);
		if (opts->trace != NULL && o->answered && x->alen > 0)
			opts->trace(opts->trace_arg, "receive", "tcp",
				    o->server, x->ans, x->alen);
		return ret;
	}
	for (;;) {
		int64_t now = dns_now_ms();
		/* The TCP retry gets what is left, never a fresh timeout. */
		unsigned wait = dns_budget_wait(
		    now, opts->deadline_ms,
		    retry ? (end > now ? (unsigned)(end - now) : 0) : timeout);
		bool cut;

		if (retry && wait < ATTEMPT_FLOOR_MS)
			wait = dns_budget_wait(now, opts->deadline_ms,
					       ATTEMPT_FLOOR_MS);
		if (wait == 0) {
			ret = DNS_EDEADLINE;
			snprintf(o->detail, sizeof(o->detail), "%s",
				 retry ? "before the TCP retry after a "
					 "truncated UDP answer"
				       : "before this address was tried");
			break;
		}
		cut = opts->deadline_ms != 0 && now + wait >= opts->deadline_ms;
		ret = msg_build(spec, opts->key, x);
		if (ret != 0)
			break;
		o->tcp = tcp;
		if (opts->trace != NULL)
			opts->trace(opts->trace_arg, "send",
				    tcp ? "tcp" : "udp", o->server, x->query,
				    x->qlen);
		if (tcp)
			ret = tcp_exchange(sa, salen, x, now + wait);
		else
			ret = udp_exchange(sa, salen, x, now + wait);
		if (ret == -ETIMEDOUT && cut) {
			ret = DNS_EDEADLINE;
			snprintf(o->detail, sizeof(o->detail), "%s",
				 retry ? "while waiting for an answer over "
					 "TCP (the retry after a truncated "
					 "UDP answer)"
				 : tcp ? "while waiting for an answer over TCP"
				       : "while waiting for an answer over "
					 "UDP");
		}
		if (ret != 0)
			break;
		if (opts->trace != NULL)
			opts->trace(opts->trace_arg, "receive",
				    tcp ? "tcp" : "udp", o->server, x->ans,
				    x->alen);
		if (!tcp && dns_msg_truncated(x->ans, x->alen)) {
			tcp = true;
			retry = true;
			continue;
		}
		ret =
		    dns_msg_check(x->ans, x->alen, x->query, x->qlen, opts->key,
				  x->mac, x->maclen, (uint64_t)time(NULL), o);
		break;
	}
	o->code = ret;
	o->ms = (unsigned)(dns_now_ms() - start);
	return ret;
}

bool dns_outcome_key_rejected(const struct dns_outcome *o)
{
	if (o == NULL || !o->answered || o->tsig_verified)
		return false;
	/* RFC 8945 5.2: BADSIG/BADKEY answers are unsigned, rcode NOTAUTH. */
	if (o->tsig_error == 16 || o->tsig_error == 17)
		return true;
	/* PowerDNS: REFUSED, no TSIG record, for every TSIG failure. */
	return o->rcode == 5 && !o->tsig_present;
}

/*
 * The attempt again, signed with the key's alternate secret (dns.h,
 * struct dns_key): once, at an address that rejected the key, when the
 * secret had two readings.  The outcome is marked key_alt.
 */
static int attempt_alt(const struct sockaddr *sa, socklen_t salen,
		       const struct dns_opts *opts, unsigned timeout,
		       const struct msg_spec *spec, struct exchange *x,
		       struct dns_outcome *o)
{
	struct dns_opts ao = *opts;
	struct dns_key alt = *opts->key;
	int ret;

	alt.secret = opts->key->alt_secret;
	alt.secret_len = opts->key->alt_secret_len;
	ao.key = &alt;
	ret = attempt(sa, salen, &ao, timeout, spec, x, o);
	o->key_alt = true;
	explicit_bzero(&alt, sizeof(alt));
	return ret;
}

/*
 * Whether @o calls for attempt_alt().  A signed query that PowerDNS does
 * not verify gets NOTAUTH without any TSIG record (updates get REFUSED).
 */
static bool alt_wanted(const struct dns_opts *opts, const struct dns_outcome *o,
		       bool query)
{
	if (opts->gss != NULL || opts->key == NULL ||
	    opts->key->alt_secret == NULL)
		return false;
	if (query && o->answered && o->rcode == 9 && !o->tsig_present)
		return true;
	return dns_outcome_key_rejected(o);
}

/* "host (addr:port)" for a host name, "addr:port" for a literal. */
static void server_text(char *buf, size_t len, const struct dns_addr *addr,
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
	struct helper h;
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
	helper_release(&l->h);
	free(l);
}

static void *lookup_run(void *arg)
{
	struct lookup *l = arg;

	l->ret = getaddrinfo(l->host, l->port, &l->hints, &l->res);
	l->err = errno;
	if (helper_finish(&l->h))
		lookup_free(l);
	atomic_fetch_sub(&helpers_running, 1);
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
	if (helper_init(&l->h) != 0) {
		free(l);
		return EAI_MEMORY;
	}
	snprintf(l->host, sizeof(l->host), "%s", host);
	snprintf(l->port, sizeof(l->port), "%s", port);
	l->hints = *hints;
	ret = helper_start(lookup_run, l);
	if (ret != 0) {
		lookup_free(l);
		errno = ret == DNS_EBUSY ? EBUSY : -ret;
		return EAI_SYSTEM;
	}
	if (helper_wait(&l->h, deadline) != 0) {
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

/*
 * Every address of @addr (A and AAAA for a host name, RFC 1123 6.1.3.4
 * says to try them all), looked up within @deadline.  A resolver failure
 * is DNS_ERESOLVE with the resolver's text in @detail; the deadline
 * passing first is DNS_EDEADLINE.
 */
static int addr_resolve(const struct dns_addr *addr, int64_t deadline,
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

/* How many of @ai are tried: DNS_HOST_ADDRS_MAX, with a note past it. */
static size_t addrs_capped(const struct addrinfo *ai,
			   const struct dns_addr *addr, char *note,
			   size_t notelen)
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

/* The next outcome slot, blank; NULL when the result is full. */
static struct dns_outcome *outcome_next(struct dns_result *res)
{
	struct dns_outcome *o;

	if (res->nattempts == DNS_ATTEMPTS_MAX)
		return NULL;
	o = &res->attempts[res->nattempts++];
	memset(o, 0, sizeof(*o));
	o->rcode = -1;
	return o;
}

/* dns_update() and dns_update_many(): @spec to each server in turn. */
static int update_run(const struct dns_addr *servers, size_t nservers,
		      const struct dns_opts *opts, const struct msg_spec *spec,
		      struct dns_result *res)
{
	struct dns_opts big;
	struct exchange x;
	int ret;

	if (res == NULL)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	res->code = -EINVAL;
	if (servers == NULL || nservers == 0 || opts == NULL)
		return res->code;
	ret = exchange_init(&x);
	if (ret == 0) {
		/* A message we cannot build fails before any server. */
		ret = msg_build(spec, NULL, &x);
	}
	res->code = ret;
	if (ret != 0)
		goto out;
	if (x.qlen > DNS_UDP_UPDATE_MAX && opts->proto != DNS_PROTO_TCP) {
		big = *opts;
		big.proto = DNS_PROTO_TCP;
		opts = &big;
	}

	for (size_t i = 0; i < nservers; i++) {
		unsigned timeout =
		    opts->timeout_ms ? opts->timeout_ms : TIMEOUT_DEFAULT_MS;
		struct addrinfo *ai = NULL, *p;
		struct dns_outcome *o;
		bool literal;
		char detail[sizeof(o->detail)] = "";
		size_t n;

		ret = addr_resolve(&servers[i], opts->deadline_ms, &ai,
				   &literal, detail, sizeof(detail));
		if (ret != 0) {
			o = outcome_next(res);
			if (o == NULL)
				goto out;
			dns_addr_format(&servers[i], o->server,
					sizeof(o->server));
			memcpy(o->detail, detail, sizeof(o->detail));
			o->code = res->code = ret;
			if (ret == DNS_EDEADLINE)
				break;
			continue;
		}
		n = addrs_capped(ai, &servers[i], res->note, sizeof(res->note));
		p = ai;
		for (size_t j = 0; j < n; j++, p = p->ai_next) {
			/* Each address and each server still to come gets
			 * its share of what is left of the call. */
			unsigned share = dns_budget_share(
			    dns_now_ms(), opts->deadline_ms, timeout,
			    (unsigned)(n - j + (nservers - i - 1)),
			    ATTEMPT_FLOOR_MS);

			o = outcome_next(res);
			if (o == NULL)
				break;
			server_text(o->server, sizeof(o->server), &servers[i],
				    p->ai_addr, literal);
			res->code = attempt(p->ai_addr, p->ai_addrlen, opts,
					    share, spec, &x, o);
			if (res->code != 0 && res->code != DNS_EDEADLINE &&
			    alt_wanted(opts, o, false)) {
				struct dns_outcome *prev = o;

				o = outcome_next(res);
				if (o == NULL)
					break;
				memcpy(o->server, prev->server,
				       sizeof(o->server));
				res->code =
				    attempt_alt(p->ai_addr, p->ai_addrlen, opts,
						share, spec, &x, o);
			}
			if (res->code == 0 || res->code == DNS_EDEADLINE)
				break;
		}
		freeaddrinfo(ai);
		if (res->code == 0 || res->code == DNS_EDEADLINE ||
		    res->nattempts == DNS_ATTEMPTS_MAX)
			break;
	}
out:
	exchange_release(&x);
	return res->code;
}

int dns_update(const struct dns_addr *servers, size_t nservers,
	       const struct dns_opts *opts, const struct dns_change *change,
	       struct dns_result *res)
{
	struct msg_spec spec = {.changes = change, .nchanges = 1};

	return update_run(servers, nservers, opts, &spec, res);
}

int dns_update_many(const struct dns_addr *servers, size_t nservers,
		    const struct dns_opts *opts,
		    const struct dns_change *changes, size_t nchanges,
		    struct dns_result *res)
{
	struct msg_spec spec = {.changes = changes, .nchanges = nchanges};

	if (changes == NULL || nchanges == 0) {
		if (res != NULL) {
			memset(res, 0, sizeof(*res));
			res->code = -EINVAL;
		}
		return -EINVAL;
	}
	return update_run(servers, nservers, opts, &spec, res);
}

int dns_query(const struct dns_addr *server, const struct dns_opts *opts,
	      const char *name, uint16_t qtype, struct dns_reply *reply)
{
	struct msg_spec spec = {.query = true, .name = name, .qtype = qtype};
	struct dns_outcome *o;
	struct addrinfo *ai = NULL, *p;
	struct exchange x;
	bool literal;
	size_t n;
	int ret;

	if (reply == NULL)
		return -EINVAL;
	memset(reply, 0, sizeof(*reply));
	o = &reply->outcome;
	o->rcode = -1;
	if (server == NULL || opts == NULL)
		return o->code = -EINVAL;
	ret = exchange_init(&x);
	if (ret == 0)
		ret = dns_msg_query(x.query, &x.qlen, DNS_MSG_MAX, 0, name,
				    qtype, NULL, 0);
	if (ret == 0) {
		ret = addr_resolve(server, opts->deadline_ms, &ai, &literal,
				   o->detail, sizeof(o->detail));
		if (ret != 0)
			dns_addr_format(server, o->server, sizeof(o->server));
	}
	if (ret != 0)
		goto out;

	/* The first address that answers at all gives the reply. */
	n = addrs_capped(ai, server, reply->note, sizeof(reply->note));
	p = ai;
	for (size_t j = 0; j < n; j++, p = p->ai_next) {
		unsigned share = dns_budget_share(
		    dns_now_ms(), opts->deadline_ms,
		    opts->timeout_ms ? opts->timeout_ms : TIMEOUT_DEFAULT_MS,
		    (unsigned)(n - j), ATTEMPT_FLOOR_MS);

		o->detail[0] = '\0';
		server_text(o->server, sizeof(o->server), server, p->ai_addr,
			    literal);
		ret = attempt(p->ai_addr, p->ai_addrlen, opts, share, &spec, &x,
			      o);
		if (ret != 0 && ret != DNS_EDEADLINE &&
		    alt_wanted(opts, o, true)) {
			char text[sizeof(o->server)];

			memcpy(text, o->server, sizeof(text));
			memset(o, 0, sizeof(*o));
			memcpy(o->server, text, sizeof(o->server));
			ret = attempt_alt(p->ai_addr, p->ai_addrlen, opts,
					  share, &spec, &x, o);
		}
		if (o->answered || ret == DNS_EDEADLINE)
			break;
	}
	/* NXDOMAIN is an answer to a query, not a failure (RFC 2308). */
	if (ret == DNS_ERCODE && o->rcode == 3 &&
	    (opts->key == NULL || o->tsig_verified))
		ret = o->code = 0;
	if (ret == 0)
		ret = dns_msg_reply_parse(x.ans, x.alen, qtype, reply);
	if (ret == 0) {
		/* Kept for readers of other sections (dns_zone_find()). */
		reply->wire = malloc(x.alen);
		if (reply->wire == NULL)
			ret = -ENOMEM;
		else
			memcpy(reply->wire, x.ans, reply->wirelen = x.alen);
	}
	if (ret != 0) {
		for (size_t i = 0; i < reply->ntxt; i++)
			free(reply->txt[i]);
		memset(reply->txt, 0, sizeof(reply->txt));
		reply->ntxt = 0;
	}
out:
	o->code = ret;
	if (ai != NULL)
		freeaddrinfo(ai);
	exchange_release(&x);
	return ret;
}

void dns_reply_release(struct dns_reply *reply)
{
	if (reply == NULL)
		return;
	for (size_t i = 0; i < reply->ntxt && i < DNS_REPLY_TXT_MAX; i++)
		free(reply->txt[i]);
	free(reply->wire);
	memset(reply, 0, sizeof(*reply));
}
