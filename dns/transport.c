/*
 * transport.c - sending a message and getting its answer: UDP on a
 * connected socket (RFC 1035 4.2.1), TCP with the two-byte length prefix
 * (4.2.2, RFC 7766) when asked or when the UDP answer is truncated,
 * per-attempt deadlines, and failover over every address of every server.
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

/* What to send: an UPDATE or a query, rebuilt for every attempt. */
struct msg_spec {
	bool query;
	const char *zone; /* update */
	const char *fqdn;
	enum dns_action action;
	const char *value;
	uint32_t ttl;
	const struct dns_change *changes; /* a batch, instead of fqdn... */
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
	else if (spec->nchanges > 0)
		ret = dns_msg_update_many(x->query, &x->qlen, DNS_MSG_MAX, id,
					  spec->zone, spec->changes,
					  spec->nchanges, spec->ttl, NULL, 0);
	else
		ret = dns_msg_update(x->query, &x->qlen, DNS_MSG_MAX, id,
				     spec->zone, spec->fqdn, spec->action,
				     spec->value, spec->ttl, NULL, 0);
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

/*
 * One attempt at one address: build, sign, send, check; a truncated UDP
 * answer is retried over TCP with a fresh message (RFC 1035 4.2.1,
 * RFC 7766 5).  The outcome is filled except server and detail.
 */
static int attempt(const struct sockaddr *sa, socklen_t salen,
		   const struct dns_opts *opts, const struct msg_spec *spec,
		   struct exchange *x, struct dns_outcome *o)
{
	unsigned timeout =
	    opts->timeout_ms ? opts->timeout_ms : TIMEOUT_DEFAULT_MS;
	bool tcp = opts->proto == DNS_PROTO_TCP;
	int64_t start = dns_now_ms();
	int ret;

	o->rcode = -1;
	if (opts->gss != NULL) {
		/* RFC 3645: always TCP, on the context's kept connection. */
		struct gss_build_arg arg = {.spec = spec, .x = x};

		x->qlen = x->alen = 0;
		ret = dns_gss_attempt(opts->gss, sa, salen, timeout, gss_build,
				      &arg, x->query, &x->qlen, x->ans,
				      &x->alen, o);
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
		int64_t deadline = dns_now_ms() + timeout;

		ret = msg_build(spec, opts->key, x);
		if (ret != 0)
			break;
		o->tcp = tcp;
		if (opts->trace != NULL)
			opts->trace(opts->trace_arg, "send",
				    tcp ? "tcp" : "udp", o->server, x->query,
				    x->qlen);
		if (tcp)
			ret = tcp_exchange(sa, salen, x, deadline);
		else
			ret = udp_exchange(sa, salen, x, deadline);
		if (ret != 0)
			break;
		if (opts->trace != NULL)
			opts->trace(opts->trace_arg, "receive",
				    tcp ? "tcp" : "udp", o->server, x->ans,
				    x->alen);
		if (!tcp && dns_msg_truncated(x->ans, x->alen)) {
			tcp = true;
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
		       const struct dns_opts *opts, const struct msg_spec *spec,
		       struct exchange *x, struct dns_outcome *o)
{
	struct dns_opts ao = *opts;
	struct dns_key alt = *opts->key;
	int ret;

	alt.secret = opts->key->alt_secret;
	alt.secret_len = opts->key->alt_secret_len;
	ao.key = &alt;
	ret = attempt(sa, salen, &ao, spec, x, o);
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

/*
 * Every address of @addr (A and AAAA for a host name, RFC 1123 6.1.3.4
 * says to try them all).  A resolver failure is DNS_ERESOLVE with the
 * resolver's text in @detail.
 */
static int addr_resolve(const struct dns_addr *addr, struct addrinfo **res,
			bool *literal, char *detail, size_t dlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_DGRAM,
				 .ai_flags = AI_NUMERICSERV};
	unsigned char probe[sizeof(struct in6_addr)];
	char port[8];
	int ret;

	*literal = inet_pton(AF_INET, addr->host, probe) == 1 ||
		   inet_pton(AF_INET6, addr->host, probe) == 1;
	if (*literal)
		hints.ai_flags |= AI_NUMERICHOST;
	snprintf(port, sizeof(port), "%u", addr->port);
	ret = getaddrinfo(addr->host, port, &hints, res);
	if (ret == 0)
		return 0;
	*res = NULL;
	if (ret == EAI_MEMORY)
		return -ENOMEM;
	snprintf(detail, dlen, "%s",
		 ret == EAI_SYSTEM ? dns_strerror(-errno) : gai_strerror(ret));
	return DNS_ERESOLVE;
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
		struct addrinfo *ai = NULL;
		struct dns_outcome *o;
		bool literal;
		char detail[sizeof(o->detail)] = "";

		ret = addr_resolve(&servers[i], &ai, &literal, detail,
				   sizeof(detail));
		if (ret != 0) {
			o = outcome_next(res);
			if (o == NULL)
				goto out;
			dns_addr_format(&servers[i], o->server,
					sizeof(o->server));
			memcpy(o->detail, detail, sizeof(o->detail));
			o->code = res->code = ret;
			continue;
		}
		for (struct addrinfo *p = ai; p != NULL; p = p->ai_next) {
			o = outcome_next(res);
			if (o == NULL)
				break;
			server_text(o->server, sizeof(o->server), &servers[i],
				    p->ai_addr, literal);
			res->code = attempt(p->ai_addr, p->ai_addrlen, opts,
					    spec, &x, o);
			if (res->code != 0 && alt_wanted(opts, o, false)) {
				struct dns_outcome *prev = o;

				o = outcome_next(res);
				if (o == NULL)
					break;
				memcpy(o->server, prev->server,
				       sizeof(o->server));
				res->code =
				    attempt_alt(p->ai_addr, p->ai_addrlen, opts,
						spec, &x, o);
			}
			if (res->code == 0)
				break;
		}
		freeaddrinfo(ai);
		if (res->code == 0 || res->nattempts == DNS_ATTEMPTS_MAX)
			break;
	}
out:
	exchange_release(&x);
	return res->code;
}

int dns_update(const struct dns_addr *servers, size_t nservers,
	       const struct dns_opts *opts, const char *zone, const char *fqdn,
	       enum dns_action action, const char *value, uint32_t ttl,
	       struct dns_result *res)
{
	struct msg_spec spec = {.zone = zone,
				.fqdn = fqdn,
				.action = action,
				.value = value,
				.ttl = ttl};

	return update_run(servers, nservers, opts, &spec, res);
}

int dns_update_many(const struct dns_addr *servers, size_t nservers,
		    const struct dns_opts *opts, const char *zone,
		    const struct dns_change *changes, size_t nchanges,
		    uint32_t ttl, struct dns_result *res)
{
	struct msg_spec spec = {
	    .zone = zone, .changes = changes, .nchanges = nchanges, .ttl = ttl};

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
	struct addrinfo *ai = NULL;
	struct exchange x;
	bool literal;
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
		ret = addr_resolve(server, &ai, &literal, o->detail,
				   sizeof(o->detail));
		if (ret != 0)
			dns_addr_format(server, o->server, sizeof(o->server));
	}
	if (ret != 0)
		goto out;

	/* The first address that answers at all gives the reply. */
	for (struct addrinfo *p = ai; p != NULL; p = p->ai_next) {
		server_text(o->server, sizeof(o->server), server, p->ai_addr,
			    literal);
		ret = attempt(p->ai_addr, p->ai_addrlen, opts, &spec, &x, o);
		if (ret != 0 && alt_wanted(opts, o, true)) {
			char text[sizeof(o->server)];

			memcpy(text, o->server, sizeof(text));
			memset(o, 0, sizeof(*o));
			memcpy(o->server, text, sizeof(o->server));
			ret = attempt_alt(p->ai_addr, p->ai_addrlen, opts,
					  &spec, &x, o);
		}
		if (o->answered)
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
