/*
 * gss.c - GSS-TSIG (RFC 3645): the Kerberos side.  Credentials from a
 * keytab or a password, a GSS-API security context negotiated with the DNS
 * server through TKEY (RFC 2930 mode 3, the messages in tkey.c), messages
 * signed and answers verified by tsig.c with this file's back-end (a
 * gss_get_mic() token as the MAC, checked with gss_verify_mic()), and TKEY
 * delete (mode 5) at the end.
 *
 * One context per (server address, principal) is kept and reused by every
 * call and thread: negotiating costs a round trip to the KDC and one to
 * the server and leaves a key on the server until it expires, while a
 * signed message on a reused context costs a MIC.  Contexts are
 * renegotiated shortly before the expiry the server stated, and once when
 * it answers BADKEY (it restarted, or dropped the key).  Messages go over
 * TCP on a kept-alive connection: Kerberos tickets of Active Directory
 * accounts exceed UDP sizes.
 *
 * Locking: ctx->neg_lock serialises negotiations and guards the
 * credentials; each session's lock guards its GSS context (MIT contexts
 * are not safe for concurrent use) and is held only around MIC calls;
 * ctx->lock guards the session list and the idle connections.  Order:
 * neg_lock, then a session lock, then ctx->lock.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <libknot/libknot.h>

#include "dns/dns.h"
#include "dns/gss_internal.h"
#include "dns/msg_internal.h"
#include "dns/net_internal.h"
#include "dns/tkey_internal.h"
#include "dns/tsig_internal.h"
#include "util/random.h"

#define ROUNDS_MAX	 8   /* GSS-API round trips before giving up */
#define RENEW_MARGIN_MAX 300 /* renegotiate this long before expiry (s) */
#define DELETE_TIMEOUT	 2000

/* One server address and its negotiated context. */
struct gss_session {
	struct gss_session *next;
	struct sockaddr_storage sa;
	socklen_t salen;
	pthread_mutex_t lock;  /* contexts, key names, generation, form */
	gss_ctx_id_t gctx;     /* GSS_C_NO_CONTEXT: none */
	gss_ctx_id_t old_gctx; /* the previous one, for answers in flight */
	uint8_t keyname[KNOT_DNAME_MAXLEN]; /* wire form, lower case */
	uint8_t old_keyname[KNOT_DNAME_MAXLEN];
	time_t expires;	     /* wall clock */
	time_t lifetime;     /* seconds the context was granted */
	unsigned generation; /* bumped by every negotiation */
	bool stale;	     /* the server answered BADKEY */
	enum tsig_form form; /* how this server signs answers (Samba's?) */
	int idle_fd;	     /* a kept-alive TCP connection, -1: none */
};

/* The session for @sa, made on first use; NULL when out of memory. */
static struct gss_session *
session_get(struct dns_gss_ctx *c, const struct sockaddr *sa, socklen_t salen)
{
	struct gss_session *s;

	pthread_mutex_lock(&c->lock);
	for (s = c->sessions; s != NULL; s = s->next)
		if (s->salen == salen && memcmp(&s->sa, sa, salen) == 0)
			goto out;
	s = calloc(1, sizeof(*s));
	if (s == NULL || salen > sizeof(s->sa)) {
		free(s);
		s = NULL;
		goto out;
	}
	memcpy(&s->sa, sa, salen);
	s->salen = salen;
	s->gctx = GSS_C_NO_CONTEXT;
	s->old_gctx = GSS_C_NO_CONTEXT;
	s->idle_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->next = c->sessions;
	c->sessions = s;
out:
	pthread_mutex_unlock(&c->lock);
	return s;
}

/* ------------------------------------------------------------------ TCP */

/* A kept-alive connection to reuse, unless the server closed it. */
static int conn_take(struct dns_gss_ctx *c, struct gss_session *s)
{
	struct pollfd pfd;
	int fd;

	pthread_mutex_lock(&c->lock);
	fd = s->idle_fd;
	s->idle_fd = -1;
	pthread_mutex_unlock(&c->lock);
	if (fd < 0)
		return -1;
	/* An idle DNS connection has nothing to read: data or EOF means
	 * the server is closing it (RFC 7766 6.2.3 idle timeouts). */
	pfd.fd = fd;
	pfd.events = POLLIN | POLLRDHUP;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void conn_put(struct dns_gss_ctx *c, struct gss_session *s, int fd)
{
	pthread_mutex_lock(&c->lock);
	if (s->idle_fd < 0) {
		s->idle_fd = fd;
		fd = -1;
	}
	pthread_mutex_unlock(&c->lock);
	if (fd >= 0)
		close(fd);
}

/*
 * Send @query and read its answer over TCP.  -EAGAIN: a reused
 * connection broke before any answer byte; the caller sends a freshly
 * signed message on a new one (never the same MAC twice).
 */
static int exchange(struct dns_gss_ctx *c, struct gss_session *s,
		    const uint8_t *query, size_t qlen, uint8_t *ans,
		    size_t *alen, int64_t deadline, bool fresh)
{
	size_t got = 0;
	int fd = fresh ? -1 : conn_take(c, s);
	bool reused = fd >= 0;
	int ret;

	if (fd < 0) {
		ret = dns_tcp_connect((const struct sockaddr *)&s->sa, s->salen,
				      deadline, &fd);
		if (ret != 0)
			return ret;
	}
	ret = dns_tcp_send(fd, query, qlen, deadline);
	/* Messages that are not ours are skipped. */
	if (ret == 0)
		ret =
		    dns_tcp_answer(fd, query, qlen, ans, alen, deadline, &got);
	if (ret == 0) {
		conn_put(c, s, fd);
		return 0;
	}
	close(fd);
	if (reused && got == 0 &&
	    (ret == -ECONNRESET || ret == -EPIPE || ret == -ENOTCONN))
		return -EAGAIN;
	return ret;
}

/* ---------------------------------------------- the MIC back-end of TSIG */

/*
 * The key tsig.c signs and verifies with: a session's context of one
 * generation, or (@s NULL) a context not yet installed, used by the
 * negotiating thread alone.
 */
struct mic_key {
	struct gss_session *s;
	unsigned gen;
	gss_ctx_id_t gctx;     /* when @s is NULL */
	struct dns_outcome *o; /* for why signing failed */
};

static void mic_lock(const struct mic_key *m)
{
	if (m->s != NULL)
		pthread_mutex_lock(&m->s->lock);
}

static void mic_unlock(const struct mic_key *m)
{
	if (m->s != NULL)
		pthread_mutex_unlock(&m->s->lock);
}

/*
 * The context of generation m->gen: the session's current one or, for
 * answers to messages signed just before a renegotiation, the one before.
 * Called under mic_lock().
 */
static gss_ctx_id_t mic_context(const struct mic_key *m)
{
	if (m->s == NULL)
		return m->gctx;
	if (m->gen == m->s->generation)
		return m->s->gctx;
	if (m->gen + 1 == m->s->generation)
		return m->s->old_gctx;
	return GSS_C_NO_CONTEXT;
}

/* RFC 3645 4.1.3: the MAC is gss_get_mic() over the MAC input. */
static int mic_sign(void *arg, const uint8_t *in, size_t inlen, uint8_t *mac,
		    size_t *maclen)
{
	const struct mic_key *m = arg;
	gss_buffer_desc msg = {.length = inlen, .value = (void *)in};
	gss_buffer_desc mic = GSS_C_EMPTY_BUFFER;
	OM_uint32 maj = GSS_S_NO_CONTEXT, min = 0;
	gss_ctx_id_t gctx;
	int ret = DNS_EGSS;

	mic_lock(m);
	gctx = mic_context(m);
	if (gctx != GSS_C_NO_CONTEXT)
		maj = gss_get_mic(&min, gctx, GSS_C_QOP_DEFAULT, &msg, &mic);
	mic_unlock(m);
	if (GSS_ERROR(maj))
		return dns_gss_fail(maj, min, "signing", m->o);
	if (mic.length > 0 && mic.length <= TSIG_MAC_MAX) {
		memcpy(mac, mic.value, mic.length);
		*maclen = mic.length;
		ret = 0;
	}
	gss_release_buffer(&min, &mic);
	return ret;
}

/*
 * gss_verify_mic() of an answer's MAC.  A MIC that does not verify leaves
 * the context's replay state alone (MIT checks the checksum of an RFC
 * 4121 4.2.6.1 token before its sequence number), so tsig.c may try a
 * second form (Samba's) after the standard one failed.
 */
static int mic_verify(void *arg, const uint8_t *in, size_t inlen,
		      const uint8_t *mac, size_t maclen)
{
	const struct mic_key *m = arg;
	gss_buffer_desc msg = {.length = inlen, .value = (void *)in};
	gss_buffer_desc mic = {.length = maclen, .value = (void *)mac};
	OM_uint32 maj = GSS_S_FAILURE, min;
	gss_ctx_id_t gctx;

	mic_lock(m);
	gctx = mic_context(m);
	if (gctx != GSS_C_NO_CONTEXT)
		maj = gss_verify_mic(&min, gctx, &msg, &mic, NULL);
	mic_unlock(m);
	return GSS_ERROR(maj) ? DNS_ETSIG : 0;
}

static const struct tsig_ops mic_ops = {
    .mac_sign = mic_sign,
    .mac_verify = mic_verify,
    .gss = true,
};

/*
 * Sign the message in @buf with the session's context (RFC 3645 4.1.3).
 * @gen gets the context generation used, for verifying the answer.
 */
static int session_sign(struct gss_session *s, uint8_t *buf, size_t *len,
			uint8_t *mac, size_t *maclen, unsigned *gen,
			struct dns_outcome *o)
{
	uint8_t keyname[KNOT_DNAME_MAXLEN];
	struct mic_key m = {.s = s, .o = o};
	struct tsig_key k = {
	    .name = keyname, .alg = TSIG_ALG_GSS, .ops = &mic_ops, .arg = &m};

	pthread_mutex_lock(&s->lock);
	memcpy(keyname, s->keyname, knot_dname_size(s->keyname));
	m.gen = *gen = s->generation;
	pthread_mutex_unlock(&s->lock);
	return tsig_sign(&k, buf, len, DNS_MSG_MAX, (uint64_t)time(NULL), mac,
			 TSIG_MAC_MAX, maclen);
}

/*
 * The TSIG and RCODE verdict on an answer, as dns_msg_check() gives it for
 * HMAC, with the context of generation @gen (RFC 3645 4.1.3).  The form
 * the server signed in is learned for the next answers, and said once.
 */
static int answer_check(struct gss_session *s, unsigned gen, const uint8_t *ans,
			size_t alen, const uint8_t *query, size_t qlen,
			const uint8_t *mac, size_t maclen,
			struct dns_outcome *o)
{
	struct mic_key m = {.s = s, .gen = gen, .o = o};
	struct tsig_key k = {.alg = TSIG_ALG_GSS, .ops = &mic_ops, .arg = &m};
	bool learned;
	int ret;

	pthread_mutex_lock(&s->lock);
	k.form = s->form;
	pthread_mutex_unlock(&s->lock);
	ret = dns_msg_check_key(ans, alen, query, qlen, &k, mac, maclen,
				(uint64_t)time(NULL), o);
	if (o->tsig_verified) {
		pthread_mutex_lock(&s->lock);
		learned = s->form != k.form;
		s->form = k.form;
		pthread_mutex_unlock(&s->lock);
		o->gss_samba_form = k.form == TSIG_FORM_SAMBA;
		/* Said once per server: by the attempt that learned it. */
		o->gss_samba_learned = learned && o->gss_samba_form;
	}
	return ret;
}

/* ---------------------------------------------------------- negotiate */

/* A fresh key name: <random>.sig-<host>. (unique per context). */
static int keyname_make(const struct dns_gss_ctx *c, uint8_t *wire)
{
	char text[DNS_NAME_LEN + 64];
	uint8_t rnd[6];
	size_t n;

	if (util_random(rnd, sizeof(rnd)) != 0)
		return -EIO;
	n = (size_t)snprintf(text, sizeof(text),
			     "%02x%02x%02x%02x%02x%02x.sig-%s", rnd[0], rnd[1],
			     rnd[2], rnd[3], rnd[4], rnd[5], c->host);
	if (n >= sizeof(text) - 1)
		return DNS_ENAME;
	if (text[n - 1] != '.') {
		text[n++] = '.';
		text[n] = '\0';
	}
	if (knot_dname_from_str(wire, text, KNOT_DNAME_MAXLEN) == NULL)
		return DNS_ENAME;
	knot_dname_to_lower(wire);
	return 0;
}

/* What one negotiation carries from step to step. */
struct negotiation {
	struct dns_gss_ctx *c;
	struct gss_session *s;
	int64_t deadline;
	struct dns_outcome *o;
	uint8_t keyname[KNOT_DNAME_MAXLEN];
	uint8_t *query, *ans; /* DNS_MSG_MAX bytes each */
	size_t qlen, alen;
	bool fresh;	     /* a new connection for the next query */
	gss_ctx_id_t gctx;   /* the context being established */
	OM_uint32 ret_flags; /* what it offers */
	OM_uint32 time_rec;  /* seconds it is valid */
	uint32_t expiration; /* the server's, from its TKEY answer */
};

/*
 * One round trip: our GSS-API token @out to the server in a TKEY query
 * (RFC 3645 4.1.1), its token back into @in (malloc'ed; RFC 3645 4.1.2).
 * A TKEY error says why the server refused it (RFC 2930 4.1; BADKEY: it
 * could not accept our token).
 */
static int token_exchange(struct negotiation *n, const gss_buffer_desc *out,
			  gss_buffer_desc *in)
{
	struct tkey_answer t = {0};
	int ret;

	ret = tkey_query_build(n->query, &n->qlen, DNS_MSG_MAX, n->keyname,
			       TKEY_MODE_GSSAPI, out->value, out->length);
	for (; ret == 0;) {
		ret = exchange(n->c, n->s, n->query, n->qlen, n->ans, &n->alen,
			       n->deadline, n->fresh);
		if (ret != -EAGAIN)
			break;
		n->fresh = true; /* unsigned: resending is fine */
		ret = 0;
	}
	if (ret != 0)
		return ret;
	ret = dns_msg_check(n->ans, n->alen, n->query, n->qlen, NULL, NULL, 0,
			    (uint64_t)time(NULL), n->o);
	if (ret != 0 && ret != DNS_ERCODE)
		return ret;
	ret = tkey_answer_parse(n->ans, n->alen, n->keyname, &t);
	if (ret >= 0 && (ret == 1 || n->o->rcode != 0 || t.error != 0)) {
		if (ret == 0 && t.error != 0)
			n->o->tsig_error = t.error;
		ret = DNS_ETKEY;
	}
	if (ret == 0) {
		n->expiration = t.expiration;
		in->value = t.token;
		in->length = t.toklen;
		t.token = NULL;
	}
	tkey_answer_release(&t);
	return ret;
}

/* Credentials that a second acquisition may cure (a password's expire). */
static bool cred_stale(OM_uint32 maj)
{
	return GSS_ROUTINE_ERROR(maj) == GSS_S_CREDENTIALS_EXPIRED ||
	       GSS_ROUTINE_ERROR(maj) == GSS_S_NO_CRED;
}

/* The context is complete, mutually authenticated and with integrity. */
static int context_complete(const struct negotiation *n, OM_uint32 maj)
{
	if (maj != GSS_S_COMPLETE || n->gctx == GSS_C_NO_CONTEXT) {
		snprintf(n->o->detail, sizeof(n->o->detail),
			 "the GSS-API exchange did not complete");
		return DNS_EGSS;
	}
	if ((n->ret_flags & GSS_C_INTEG_FLAG) == 0 ||
	    (n->ret_flags & GSS_C_MUTUAL_FLAG) == 0) {
		snprintf(n->o->detail, sizeof(n->o->detail),
			 "the context lacks mutual authentication or "
			 "integrity");
		return DNS_EGSS;
	}
	return 0;
}

/*
 * The gss_init_sec_context() loop (RFC 3645 3.1.1): each token it makes
 * goes to the server, the server's comes back in, until the context is
 * complete.  Credentials found expired in the first round are acquired
 * once more (password credentials do not renew).
 */
static int context_establish(struct negotiation *n)
{
	const OM_uint32 flags =
	    GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_INTEG_FLAG;
	gss_buffer_desc in = GSS_C_EMPTY_BUFFER, out = GSS_C_EMPTY_BUFFER;
	OM_uint32 maj = GSS_S_FAILURE, min = 0;
	bool reacquired = false;
	int ret;

again:
	ret = dns_gss_cred_acquire(n->c, n->o);
	for (int round = 0; ret == 0 && round < ROUNDS_MAX; round++) {
		maj = gss_init_sec_context(
		    &min, n->c->cred, &n->gctx, n->c->target,
		    (gss_OID)gss_mech_krb5, flags, 0, GSS_C_NO_CHANNEL_BINDINGS,
		    &in, NULL, &out, &n->ret_flags, &n->time_rec);
		free(in.value);
		in.value = NULL;
		in.length = 0;
		if (GSS_ERROR(maj) && round == 0 && !reacquired &&
		    cred_stale(maj)) {
			reacquired = true;
			dns_gss_cred_release(n->c);
			if (n->gctx != GSS_C_NO_CONTEXT)
				gss_delete_sec_context(&min, &n->gctx, NULL);
			goto again;
		}
		if (GSS_ERROR(maj)) {
			ret = dns_gss_fail(
			    maj, min, "getting a ticket for the DNS server",
			    n->o);
			break;
		}
		if (out.length == 0)
			break;
		ret = token_exchange(n, &out, &in);
		gss_release_buffer(&min, &out);
		if (maj == GSS_S_COMPLETE)
			break;
	}
	free(in.value);
	if (out.length > 0)
		gss_release_buffer(&min, &out);
	return ret != 0 ? ret : context_complete(n, maj);
}

/*
 * RFC 3645 4.1.3: the server signs its final answer with the new context;
 * the query was unsigned, so no request MAC goes first.
 */
static int final_answer_verify(struct negotiation *n)
{
	struct mic_key m = {.gctx = n->gctx, .o = n->o};
	struct tsig_key k = {.alg = TSIG_ALG_GSS, .ops = &mic_ops, .arg = &m};
	knot_pkt_t *pkt = NULL;
	int ret;

	ret = dns_msg_answer_parse(n->ans, n->alen, &pkt);
	if (ret == 0)
		ret = tsig_answer_verify(&k, pkt, NULL, 0, (uint64_t)time(NULL),
					 n->o);
	dns_msg_answer_free(pkt);
	if (ret == 1)
		return DNS_EUNSIGNED;
	if (ret == 0) {
		n->o->tsig_present = false;
		n->o->tsig_verified = false;
	}
	return ret;
}

/*
 * Install the new context in the session, valid until the earlier of its
 * Kerberos lifetime and the server's TKEY expiration; the previous one
 * stays for answers in flight.
 */
static void session_install(struct negotiation *n)
{
	struct gss_session *s = n->s;
	time_t now = time(NULL);
	time_t until = now + (time_t)n->time_rec;
	OM_uint32 min;

	if (n->time_rec == GSS_C_INDEFINITE)
		until = now + 86400;
	if (n->expiration != 0 && (time_t)n->expiration > now &&
	    (time_t)n->expiration < until)
		until = (time_t)n->expiration;
	pthread_mutex_lock(&s->lock);
	if (s->old_gctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &s->old_gctx, NULL);
	s->old_gctx = s->gctx;
	memcpy(s->old_keyname, s->keyname, sizeof(s->keyname));
	s->gctx = n->gctx;
	n->gctx = GSS_C_NO_CONTEXT;
	memcpy(s->keyname, n->keyname, knot_dname_size(n->keyname));
	s->expires = until;
	s->lifetime = until - now;
	s->generation++;
	s->stale = false;
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(&n->c->negotiations, 1);
}

/*
 * Negotiate a new context with the server (RFC 3645 3.1): the GSS-API
 * exchange carried by TKEY queries, the final answer's TSIG verified with
 * the new context, which then replaces the session's.  The caller holds
 * c->neg_lock.
 */
static int negotiate(struct dns_gss_ctx *c, struct gss_session *s,
		     int64_t deadline, struct dns_outcome *o)
{
	struct negotiation n = {.c = c,
				.s = s,
				.deadline = deadline,
				.o = o,
				.gctx = GSS_C_NO_CONTEXT};
	OM_uint32 min;
	int ret = -ENOMEM;

	n.query = malloc(DNS_MSG_MAX);
	n.ans = malloc(DNS_MSG_MAX);
	if (n.query != NULL && n.ans != NULL)
		ret = keyname_make(c, n.keyname);
	if (ret == 0)
		ret = context_establish(&n);
	if (ret == 0)
		ret = final_answer_verify(&n);
	if (ret == 0)
		session_install(&n);
	if (n.gctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &n.gctx, NULL);
	free(n.query);
	free(n.ans);
	return ret;
}

/* Renegotiate before this many seconds are left of the lifetime. */
static time_t renew_margin(const struct gss_session *s)
{
	time_t m = s->lifetime / 4;

	return m > RENEW_MARGIN_MAX ? RENEW_MARGIN_MAX : m;
}

static bool session_usable(struct gss_session *s, unsigned seen_gen, bool force)
{
	bool ok;

	pthread_mutex_lock(&s->lock);
	ok = s->gctx != GSS_C_NO_CONTEXT && !s->stale &&
	     time(NULL) + renew_margin(s) < s->expires;
	/* A forced renewal is done once some thread renewed after it. */
	if (force && s->generation == seen_gen)
		ok = false;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

/* A usable context for @s, negotiating when needed. */
static int session_ready(struct dns_gss_ctx *c, struct gss_session *s,
			 unsigned seen_gen, bool force, int64_t deadline,
			 struct dns_outcome *o)
{
	int ret = 0;

	if (session_usable(s, seen_gen, force))
		return 0;
	pthread_mutex_lock(&c->neg_lock);
	/* Another thread may have negotiated while we waited. */
	if (!session_usable(s, seen_gen, force))
		ret = negotiate(c, s, deadline, o);
	pthread_mutex_unlock(&c->neg_lock);
	return ret;
}

int dns_gss_attempt(struct dns_gss_ctx *c, const struct sockaddr *sa,
		    socklen_t salen, unsigned timeout_ms,
		    dns_gss_build_fn *build, void *arg, uint8_t *query,
		    size_t *qlen, uint8_t *ans, size_t *alen,
		    struct dns_outcome *o)
{
	int64_t deadline = dns_now_ms() + (timeout_ms ? timeout_ms : 5000);
	uint8_t mac[TSIG_MAC_MAX];
	size_t maclen = 0;
	struct gss_session *s;
	bool renewed = false, fresh = false;
	unsigned gen = 0;
	int ret;

	o->gss = true;
	o->tcp = true;
	o->rcode = -1;
	snprintf(o->gss_principal, sizeof(o->gss_principal), "%.127s",
		 c->principal);
	snprintf(o->gss_service, sizeof(o->gss_service), "%.127s", c->service);
	s = session_get(c, sa, salen);
	if (s == NULL)
		return o->code = -ENOMEM;
	for (;;) {
		ret = session_ready(c, s, gen, renewed, deadline, o);
		if (ret != 0)
			break;
		ret = build(arg, query, qlen);
		if (ret == 0)
			ret =
			    session_sign(s, query, qlen, mac, &maclen, &gen, o);
		if (ret != 0)
			break;
		ret = exchange(c, s, query, *qlen, ans, alen, deadline, fresh);
		if (ret == -EAGAIN && !fresh) {
			/* The server closed the idle connection: a new
			 * connection and a newly signed message. */
			fresh = true;
			continue;
		}
		if (ret != 0)
			break;
		ret = answer_check(s, gen, ans, *alen, query, *qlen, mac,
				   maclen, o);
		/*
		 * BADKEY: the server no longer knows the key (restarted,
		 * expired it early); once, a new context and a new MIC
		 * (BIND rejects a repeated MIC as BADSIG).
		 */
		if (o->tsig_error == KNOT_RCODE_BADKEY && !renewed) {
			pthread_mutex_lock(&s->lock);
			if (s->generation == gen)
				s->stale = true;
			pthread_mutex_unlock(&s->lock);
			renewed = true;
			continue;
		}
		break;
	}
	explicit_bzero(mac, sizeof(mac));
	return o->code = ret;
}

/* ------------------------------------------------------------- delete */

/* RFC 2930 4.2: delete the key the session negotiated, signed with it. */
static int session_delete_key(struct dns_gss_ctx *c, struct gss_session *s,
			      unsigned timeout_ms)
{
	int64_t deadline = dns_now_ms() + (timeout_ms ? timeout_ms : 2000);
	struct dns_outcome o;
	struct tkey_answer t = {0};
	uint8_t keyname[KNOT_DNAME_MAXLEN];
	uint8_t mac[TSIG_MAC_MAX];
	uint8_t *query = NULL, *ans = NULL;
	size_t qlen = 0, alen = 0, maclen = 0;
	unsigned gen;
	int ret;

	memset(&o, 0, sizeof(o));
	pthread_mutex_lock(&s->lock);
	ret = s->gctx == GSS_C_NO_CONTEXT || s->stale ? -ENOENT : 0;
	memcpy(keyname, s->keyname, sizeof(keyname));
	pthread_mutex_unlock(&s->lock);
	if (ret != 0)
		return ret;
	query = malloc(DNS_MSG_MAX);
	ans = malloc(DNS_MSG_MAX);
	if (query == NULL || ans == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	ret = tkey_query_build(query, &qlen, DNS_MSG_MAX, keyname,
			       TKEY_MODE_DELETE, NULL, 0);
	if (ret == 0)
		ret = session_sign(s, query, &qlen, mac, &maclen, &gen, &o);
	if (ret == 0)
		ret = exchange(c, s, query, qlen, ans, &alen, deadline, false);
	if (ret == -EAGAIN)
		ret = -ECONNRESET; /* not re-signed: the key is gone anyway
				      once the server closed on us */
	if (ret != 0)
		goto out;
	ret = dns_msg_check(ans, alen, query, qlen, NULL, NULL, 0,
			    (uint64_t)time(NULL), &o);
	if (ret == 0) {
		ret = tkey_answer_parse(ans, alen, keyname, &t);
		if (ret == 0 && t.error != 0)
			ret = DNS_ETKEY;
		else if (ret == 1)
			ret = 0; /* some servers answer without the RR */
	}
	if (ret == 0) {
		/* The server forgot the key: so do we. */
		pthread_mutex_lock(&s->lock);
		if (s->generation == gen)
			s->stale = true;
		pthread_mutex_unlock(&s->lock);
	}
out:
	tkey_answer_release(&t);
	free(query);
	free(ans);
	return ret;
}

int dns_gss_keys_delete(struct dns_gss_ctx *ctx, unsigned timeout_ms)
{
	struct gss_session *s;
	int n = 0;

	if (ctx == NULL)
		return 0;
	pthread_mutex_lock(&ctx->neg_lock);
	pthread_mutex_lock(&ctx->lock);
	s = ctx->sessions;
	pthread_mutex_unlock(&ctx->lock);
	/* Sessions are only ever added in front: this list is stable. */
	for (; s != NULL; s = s->next)
		if (session_delete_key(ctx, s, timeout_ms) == 0)
			n++;
	pthread_mutex_unlock(&ctx->neg_lock);
	return n;
}

void dns_gss_free(struct dns_gss_ctx *ctx, unsigned timeout_ms)
{
	struct gss_session *s;
	OM_uint32 min;

	/* A Kerberos step the caller gave up on may still hold it. */
	if (ctx == NULL || atomic_fetch_sub(&ctx->refs, 1) > 1)
		return;
	dns_gss_keys_delete(ctx, timeout_ms ? timeout_ms : DELETE_TIMEOUT);
	while ((s = ctx->sessions) != NULL) {
		ctx->sessions = s->next;
		if (s->gctx != GSS_C_NO_CONTEXT)
			gss_delete_sec_context(&min, &s->gctx, NULL);
		if (s->old_gctx != GSS_C_NO_CONTEXT)
			gss_delete_sec_context(&min, &s->old_gctx, NULL);
		if (s->idle_fd >= 0)
			close(s->idle_fd);
		pthread_mutex_destroy(&s->lock);
		free(s);
	}
	dns_gss_ctx_destroy(ctx);
}
