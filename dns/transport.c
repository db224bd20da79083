/*
 * transport.c - one attempt at one address: sending a message and getting
 * its answer over UDP on a connected socket (RFC 1035 4.2.1), TCP with the
 * two-byte length prefix (4.2.2, RFC 7766) when asked or when the UDP
 * answer is truncated, or GSS-TSIG on a helper thread, within the
 * attempt's share of the call's deadline.  update.c and query.c run the
 * attempts over every address of every server (failover).
 *
 * One deadline per call (STYLE.md 16): name resolution (resolve.c), each
 * address, the TCP retry and the Kerberos steps of GSS-TSIG get only what
 * is left of dns_opts.deadline_ms.  The Kerberos library has no timeout of
 * its own, so it runs on a helper thread (helper.c) the caller stops
 * waiting for at the deadline.
 *
 * Every attempt builds and signs a fresh message with a random ID: a
 * retried TSIG message must not reuse a MAC (RFC 8945 5.2.2 lets servers
 * reject replays) and an ID per attempt keeps late answers apart.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dns/gss_internal.h"
#include "dns/msg_internal.h"
#include "dns/net_internal.h"
#include "dns/transport_internal.h"
#include "util/random.h"

/* A helper still running at the deadline gets this long to finish. */
#define HELPER_GRACE_MS 50

int dns_spec_build(const struct msg_spec *spec, const struct dns_key *key,
		   struct exchange *x, char *err, size_t errlen)
{
	uint16_t id;
	int ret = util_random(&id, sizeof(id));

	if (ret != 0)
		return ret;
	x->maclen = 0;
	if (spec->query)
		ret = dns_msg_query(x->query, &x->qlen, DNS_MSG_MAX, id,
				    spec->name, spec->qtype, err, errlen);
	else if (spec->nchanges > 1)
		ret = dns_msg_update_many(x->query, &x->qlen, DNS_MSG_MAX, id,
					  spec->changes, spec->nchanges, err,
					  errlen);
	else
		ret = dns_msg_update(x->query, &x->qlen, DNS_MSG_MAX, id,
				     spec->changes, err, errlen);
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
	return dns_spec_build(a->spec, NULL, a->x, NULL, 0);
}

int dns_exchange_init(struct exchange *x)
{
	memset(x, 0, sizeof(*x));
	x->query = malloc(DNS_MSG_MAX);
	x->ans = malloc(DNS_MSG_MAX);
	return x->query != NULL && x->ans != NULL ? 0 : -ENOMEM;
}

void dns_exchange_release(struct exchange *x)
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
	struct dns_helper h;
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
	dns_exchange_release(&j->x);
	free(j->copy);
	dns_gss_free(j->gss, 0); /* our reference */
	dns_helper_release(&j->h);
	free(j);
}

static void *gss_job_run(void *arg)
{
	struct gss_job *j = arg;
	struct gss_build_arg b = {.spec = &j->spec, .x = &j->x};

	j->ret = dns_gss_attempt(j->gss, (struct sockaddr *)&j->sa, j->salen,
				 j->timeout_ms, gss_build, &b, j->x.query,
				 &j->x.qlen, j->x.ans, &j->x.alen, &j->o);
	if (dns_helper_finish(&j->h))
		gss_job_free(j);
	dns_helper_exit();
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
	if (dns_helper_init(&j->h) != 0) {
		free(j);
		return o->code = -ENOMEM;
	}
	dns_gss_hold(opts->gss);
	j->gss = opts->gss;
	memcpy(&j->sa, sa, salen);
	j->salen = salen;
	j->timeout_ms = timeout;
	j->o = *o;
	ret = dns_exchange_init(&j->x);
	if (ret == 0)
		ret = spec_copy(&j->spec, spec, &j->copy);
	if (ret == 0)
		ret = dns_helper_start(gss_job_run, j);
	if (ret != 0) {
		gss_job_free(j);
		if (ret == DNS_EBUSY)
			snprintf(o->detail, sizeof(o->detail),
				 "%u name lookups or Kerberos steps are still "
				 "pending",
				 HELPERS_MAX);
		return o->code = ret;
	}
	if (dns_helper_wait(&j->h, end + HELPER_GRACE_MS) != 0) {
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

/* A GSS-TSIG attempt, traced after the fact. */
static int attempt_gss(const struct sockaddr *sa, socklen_t salen,
		       const struct dns_opts *opts, unsigned timeout,
		       const struct msg_spec *spec, struct exchange *x,
		       struct dns_outcome *o)
{
	int64_t start = dns_now_ms();
	int ret;

	/* RFC 3645: always TCP, on the context's kept connection. */
	x->qlen = x->alen = 0;
	ret = gss_attempt_bounded(sa, salen, opts, timeout, spec, x, o);
	o->ms = (unsigned)(dns_now_ms() - start);
	/* The last message signed and its answer, after the fact. */
	if (opts->trace != NULL && x->qlen > 0)
		opts->trace(opts->trace_arg, "send", "tcp", o->server, x->query,
			    x->qlen);
	if (opts->trace != NULL && o->answered && x->alen > 0)
		opts->trace(opts->trace_arg, "receive", "tcp", o->server,
			    x->ans, x->alen);
	return ret;
}

/* What a wait cut short by the call's deadline was waiting for. */
static const char *cut_detail(bool retry, bool tcp)
{
	if (retry)
		return "while waiting for an answer over TCP (the retry after "
		       "a truncated UDP answer)";
	return tcp ? "while waiting for an answer over TCP"
		   : "while waiting for an answer over UDP";
}

int dns_attempt(const struct sockaddr *sa, socklen_t salen,
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
	if (opts->gss != NULL)
		return attempt_gss(sa, salen, opts, timeout, spec, x, o);
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
		ret = dns_spec_build(spec, opts->key, x, o->detail,
				     sizeof(o->detail));
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
				 cut_detail(retry, tcp));
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

int dns_attempt_alt(const struct sockaddr *sa, socklen_t salen,
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
	ret = dns_attempt(sa, salen, &ao, timeout, spec, x, o);
	o->key_alt = true;
	explicit_bzero(&alt, sizeof(alt));
	return ret;
}

bool dns_alt_wanted(const struct dns_opts *opts, const struct dns_outcome *o,
		    bool query)
{
	if (opts->gss != NULL || opts->key == NULL ||
	    opts->key->alt_secret == NULL)
		return false;
	if (query && o->answered && o->rcode == 9 && !o->tsig_present)
		return true;
	return dns_outcome_key_rejected(o);
}
