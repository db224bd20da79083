/*
 * gss.c - GSS-TSIG (RFC 3645): TKEY negotiation of a GSS-API security
 * context with the DNS server (RFC 2930 mode 3), TSIG records whose MAC is
 * a gss_get_mic() token over the RFC 8945 4.3.3 digest input, answers
 * checked with gss_verify_mic() (also in Samba's form, which leaves the
 * request MAC's length out: enum mac_form), and TKEY delete (mode 5) at
 * the end.
 *
 * libknot builds and parses the packets; its TSIG code knows only HMAC, so
 * the MAC part is done here.  One context per (server address, principal)
 * is kept and reused by every call and thread: negotiating costs a round
 * trip to the KDC and one to the server and leaves a key on the server
 * until it expires, while a signed message on a reused context costs a
 * MIC.  Contexts are renegotiated shortly before the expiry the server
 * stated, and once when it answers BADKEY (it restarted, or dropped the
 * key).  Messages go over TCP on a kept-alive connection: Kerberos tickets
 * of Active Directory accounts exceed UDP sizes.
 *
 * Locking: ctx->neg_lock serialises negotiations and guards the
 * credentials; each session's lock guards its GSS context (MIT contexts
 * are not safe for concurrent use) and is held only around MIC calls;
 * ctx->lock guards the session list and the idle connections.  Order:
 * neg_lock, then a session lock, then ctx->lock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <libknot/libknot.h>

#include "dns/dns.h"
#include "dns/gss_internal.h"
#include "dns/msg_internal.h"
#include "dns/net_internal.h"

#define GSS_ALG		 "gss-tsig." /* RFC 3645 2 */
#define TKEY_MODE_GSSAPI 3	     /* RFC 2930 2.5 */
#define TKEY_MODE_DELETE 5
#define TSIG_FUDGE	 300
#define MIC_MAX		 1024 /* a krb5 MIC is 28 bytes (RFC 4121 4.2.6.1) */
#define TOKEN_MAX	 60000
#define ROUNDS_MAX	 8   /* GSS-API round trips before giving up */
#define RENEW_MARGIN_MAX 300 /* renegotiate this long before expiry (s) */
#define DELETE_TIMEOUT	 2000

/*
 * How a server puts our request's MAC into the MAC input of its answer.
 * RFC 8945 4.3.1 (and BIND, and Windows): the MAC's 2-byte length, then
 * the MAC.  Samba (4.17 as a domain controller, its internal DNS) leaves
 * the length out.  A session starts with the standard form; it learns
 * Samba's only when an answer fails the standard form and verifies in
 * Samba's with the negotiated context.
 */
enum mac_form {
	MAC_FORM_RFC8945 = 0,
	MAC_FORM_SAMBA, /* request MAC without its length */
};

/* One server address and its negotiated context. */
struct gss_session {
	struct gss_session *next;
	struct sockaddr_storage sa;
	socklen_t salen;
	pthread_mutex_t lock;  /* gctx, old_gctx, keyname, generation */
	gss_ctx_id_t gctx;     /* GSS_C_NO_CONTEXT: none */
	gss_ctx_id_t old_gctx; /* the previous one, for answers in flight */
	uint8_t keyname[KNOT_DNAME_MAXLEN]; /* wire form, lower case */
	uint8_t old_keyname[KNOT_DNAME_MAXLEN];
	time_t expires;	     /* wall clock */
	time_t lifetime;     /* seconds the context was granted */
	unsigned generation; /* bumped by every negotiation */
	bool stale;	     /* the server answered BADKEY */
	enum mac_form form;  /* how this server signs answers */
	int idle_fd;	     /* a kept-alive TCP connection, -1: none */
};

struct dns_gss_ctx {
	pthread_mutex_t lock;	  /* sessions list, idle connections */
	pthread_mutex_t neg_lock; /* negotiations, cred */
	char principal[256];
	char service[DNS_NAME_LEN + 64]; /* DNS/host@REALM */
	char host[DNS_NAME_LEN];
	char ktname[64 + 4096];
	int kt_fd; /* memory file holding keytab bytes, -1: none */
	char *password;
	size_t pwlen;
	char ccache[64]; /* MEMORY:rfc2136-<random> */
	gss_name_t client;
	gss_name_t target;
	gss_cred_id_t cred;
	struct gss_session *sessions;
	atomic_ulong negotiations;
	atomic_uint refs; /* dns_gss_hold(); freed by the last dns_gss_free() */
};

static void set_err(char *err, size_t errlen, const char *text)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", text);
}

static int random_bytes(void *buf, size_t len)
{
	ssize_t n;

	do {
		n = getrandom(buf, len, 0);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -EIO;
}

/* --------------------------------------------------------- GSS errors */

/* The krb5 error behind a GSS-API failure, as our code. */
static int gss_classify(OM_uint32 maj, OM_uint32 min)
{
	switch ((int32_t)min) {
	case (int32_t)KRB5_KDC_UNREACH:
	case (int32_t)KRB5_REALM_CANT_RESOLVE:
	case (int32_t)KRB5_REALM_UNKNOWN:
		return DNS_EGSS_KDC;
	case (int32_t)KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN:
		return DNS_EGSS_CLIENT;
	case (int32_t)KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN:
		return DNS_EGSS_SERVICE;
	case (int32_t)KRB5KRB_AP_ERR_SKEW:
		return DNS_EGSS_SKEW;
	case (int32_t)KRB5_KT_NOTFOUND:
	case (int32_t)KRB5_KT_END:
	case (int32_t)KRB5_KT_BADNAME:
	case (int32_t)KRB5_KT_UNKNOWN_TYPE:
	case (int32_t)KRB5_KEYTAB_BADVNO:
	case (int32_t)KRB5KDC_ERR_PREAUTH_FAILED:
	case (int32_t)KRB5KRB_AP_ERR_BAD_INTEGRITY:
	case (int32_t)KRB5_PREAUTH_FAILED:
	case (int32_t)KRB5KDC_ERR_CLIENT_REVOKED:
	case (int32_t)KRB5KDC_ERR_KEY_EXP:
	case (int32_t)KRB5_FCC_NOFILE:
	case (int32_t)KRB5_CC_NOTFOUND:
	case ENOENT:
	case EACCES:
		return DNS_EGSS_CRED;
	default:
		break;
	}
	switch (GSS_ROUTINE_ERROR(maj)) {
	case GSS_S_NO_CRED:
	case GSS_S_CREDENTIALS_EXPIRED:
	case GSS_S_DEFECTIVE_CREDENTIAL:
		return DNS_EGSS_CRED;
	default:
		return DNS_EGSS;
	}
}

/* One status code's text (the first message) into @buf. */
static void gss_status_text(OM_uint32 code, int type, const gss_OID mech,
			    char *buf, size_t len)
{
	OM_uint32 min, ctx = 0;
	gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;

	buf[0] = '\0';
	if (gss_display_status(&min, code, type, mech, &ctx, &msg) ==
	    GSS_S_COMPLETE) {
		snprintf(buf, len, "%.*s", (int)msg.length,
			 (const char *)msg.value);
		gss_release_buffer(&min, &msg);
	}
}

/* The Kerberos reason when there is one (more telling), else GSS's. */
static int gss_fail(OM_uint32 maj, OM_uint32 min, const char *what,
		    struct dns_outcome *o)
{
	char text[sizeof(o->detail)];

	text[0] = '\0';
	if (min != 0)
		gss_status_text(min, GSS_C_MECH_CODE, (gss_OID)gss_mech_krb5,
				text, sizeof(text));
	if (text[0] == '\0')
		gss_status_text(maj, GSS_C_GSS_CODE, GSS_C_NO_OID, text,
				sizeof(text));
	snprintf(o->detail, sizeof(o->detail), "%s: %s", what, text);
	return gss_classify(maj, min);
}

/* ------------------------------------------------------------- context */

static bool is_address(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	       inet_pton(AF_INET6, host, buf) == 1;
}

static int name_import(const char *text, gss_name_t *name)
{
	gss_buffer_desc buf = {.length = strlen(text), .value = (void *)text};
	OM_uint32 min;

	if (gss_import_name(&min, &buf, (gss_OID)GSS_KRB5_NT_PRINCIPAL_NAME,
			    name) != GSS_S_COMPLETE)
		return -EINVAL;
	return 0;
}

/* Keytab bytes into an anonymous memory file: nothing on any disk. */
static int keytab_memfd(struct dns_gss_ctx *c, const uint8_t *data, size_t len)
{
	size_t done = 0;

	c->kt_fd = memfd_create("rfc2136-keytab", MFD_CLOEXEC);
	if (c->kt_fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(c->kt_fd, data + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	snprintf(c->ktname, sizeof(c->ktname), "FILE:/proc/self/fd/%d",
		 c->kt_fd);
	return 0;
}

int dns_gss_new(struct dns_gss_ctx **ctx, const struct dns_gss_config *cfg,
		char *err, size_t errlen)
{
	struct dns_gss_ctx *c;
	const char *at, *realm;
	uint8_t rnd[8];
	char text[1024];
	int sources, ret = -EINVAL;

	if (ctx == NULL)
		return -EINVAL;
	*ctx = NULL;
	if (cfg == NULL || cfg->principal == NULL ||
	    cfg->principal[0] == '\0') {
		set_err(err, errlen, "a GSS-TSIG principal is required");
		return -EINVAL;
	}
	if (cfg->service_host == NULL || cfg->service_host[0] == '\0' ||
	    strpbrk(cfg->service_host, "/@ \t") != NULL ||
	    strlen(cfg->service_host) >= DNS_NAME_LEN) {
		set_err(err, errlen,
			"the GSS-TSIG service host must be the DNS server's "
			"host name as in its principal DNS/<host> (e.g. "
			"ns1.example.com)");
		return -EINVAL;
	}
	if (is_address(cfg->service_host)) {
		set_err(err, errlen,
			"the GSS-TSIG service host must be the DNS server's "
			"host name (its principal is DNS/<host name>), not an "
			"IP address");
		return -EINVAL;
	}
	sources = (cfg->keytab_path != NULL) + (cfg->keytab != NULL) +
		  (cfg->password != NULL);
	if (sources != 1) {
		set_err(err, errlen,
			sources == 0 ? "GSS-TSIG needs a keytab or a password"
				     : "give either a keytab or a password for "
				       "GSS-TSIG, not both");
		return -EINVAL;
	}
	if (cfg->keytab != NULL && cfg->keytab_len == 0) {
		set_err(err, errlen, "the GSS-TSIG keytab is empty");
		return -EINVAL;
	}

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->kt_fd = -1;
	c->client = GSS_C_NO_NAME;
	c->target = GSS_C_NO_NAME;
	c->cred = GSS_C_NO_CREDENTIAL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->neg_lock, NULL);
	atomic_init(&c->negotiations, 0);
	atomic_init(&c->refs, 1);

	realm = cfg->realm != NULL && cfg->realm[0] != '\0' ? cfg->realm : NULL;
	at = strchr(cfg->principal, '@');
	if (at == NULL && realm != NULL)
		snprintf(c->principal, sizeof(c->principal), "%s@%s",
			 cfg->principal, realm);
	else
		snprintf(c->principal, sizeof(c->principal), "%s",
			 cfg->principal);
	if (realm == NULL && at != NULL && at[1] != '\0')
		realm = at + 1;
	snprintf(c->host, sizeof(c->host), "%s", cfg->service_host);
	/* RFC 3645 3.1.1: the target is DNS/<server's host name>. */
	if (realm != NULL)
		snprintf(c->service, sizeof(c->service), "DNS/%s@%s", c->host,
			 realm);
	else
		snprintf(c->service, sizeof(c->service), "DNS/%s", c->host);
	if (name_import(c->principal, &c->client) != 0) {
		snprintf(text, sizeof(text),
			 "'%.200s' is not a Kerberos principal name",
			 c->principal);
		set_err(err, errlen, text);
		goto fail;
	}
	if (name_import(c->service, &c->target) != 0) {
		snprintf(text, sizeof(text),
			 "'%.200s' is not a Kerberos principal name",
			 c->service);
		set_err(err, errlen, text);
		goto fail;
	}

	if (cfg->keytab_path != NULL) {
		snprintf(c->ktname, sizeof(c->ktname), "FILE:%s",
			 cfg->keytab_path);
	} else if (cfg->keytab != NULL) {
		ret = keytab_memfd(c, cfg->keytab, cfg->keytab_len);
		if (ret != 0) {
			set_err(err, errlen,
				"cannot hold the keytab in memory");
			goto fail;
		}
	} else {
		c->pwlen = strlen(cfg->password);
		c->password = malloc(c->pwlen + 1);
		if (c->password == NULL) {
			ret = -ENOMEM;
			goto fail;
		}
		memcpy(c->password, cfg->password, c->pwlen + 1);
	}
	if (random_bytes(rnd, sizeof(rnd)) != 0) {
		ret = -EIO;
		goto fail;
	}
	snprintf(c->ccache, sizeof(c->ccache),
		 "MEMORY:rfc2136-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	*ctx = c;
	return 0;
fail:
	dns_gss_free(c, 0);
	return ret == 0 ? -EINVAL : ret;
}

void dns_gss_hold(struct dns_gss_ctx *ctx)
{
	atomic_fetch_add(&ctx->refs, 1);
}

unsigned long dns_gss_negotiations(const struct dns_gss_ctx *ctx)
{
	return ctx != NULL ? atomic_load(&ctx->negotiations) : 0;
}

const char *dns_gss_principal(const struct dns_gss_ctx *ctx)
{
	return ctx != NULL ? ctx->principal : "";
}

/* Credentials from the keytab or password, into our memory cache. */
static int cred_acquire(struct dns_gss_ctx *c, struct dns_outcome *o)
{
	gss_OID_set_desc mechs = {1, (gss_OID)gss_mech_krb5};
	OM_uint32 maj, min = 0;

	if (c->cred != GSS_C_NO_CREDENTIAL)
		return 0;
	if (c->password != NULL) {
		gss_buffer_desc pw = {.length = c->pwlen, .value = c->password};
		maj = gss_acquire_cred_with_password(
		    &min, c->client, &pw, GSS_C_INDEFINITE, &mechs,
		    GSS_C_INITIATE, &c->cred, NULL, NULL);
	} else {
		gss_key_value_element_desc el[2] = {
		    {"client_keytab", c->ktname},
		    {"ccache", c->ccache},
		};
		gss_key_value_set_desc store = {2, el};
		maj = gss_acquire_cred_from(&min, c->client, GSS_C_INDEFINITE,
					    &mechs, GSS_C_INITIATE, &store,
					    &c->cred, NULL, NULL);
	}
	if (GSS_ERROR(maj)) {
		c->cred = GSS_C_NO_CREDENTIAL;
		return gss_fail(maj, min, "acquiring credentials", o);
	}
	return 0;
}

static void cred_release(struct dns_gss_ctx *c)
{
	OM_uint32 min;

	if (c->cred != GSS_C_NO_CREDENTIAL)
		gss_release_cred(&min, &c->cred);
	c->cred = GSS_C_NO_CREDENTIAL;
}

/*
 * Destroy our memory credential cache: a MEMORY: cache lives in the
 * process until destroyed, not when the credential using it is released,
 * so each freed client would otherwise leave its tickets behind.
 */
static void ccache_destroy(struct dns_gss_ctx *c)
{
	krb5_context kctx = NULL;
	krb5_ccache cc = NULL;

	if (c->ccache[0] == '\0' || krb5_init_context(&kctx) != 0)
		return;
	if (krb5_cc_resolve(kctx, c->ccache, &cc) == 0)
		krb5_cc_destroy(kctx, cc);
	krb5_free_context(kctx);
}

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

/* ----------------------------------------------------------------- TSIG */

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *put48(uint8_t *p, uint64_t v)
{
	p = put16(p, (uint16_t)(v >> 32));
	p = put16(p, (uint16_t)(v >> 16));
	return put16(p, (uint16_t)v);
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	p = put16(p, (uint16_t)(v >> 16));
	return put16(p, (uint16_t)v);
}

/* Append a name in wire form, lower case (RFC 8945 4.3.3: canonical). */
static uint8_t *put_name(uint8_t *p, const uint8_t *name)
{
	size_t n = knot_dname_size(name);

	memcpy(p, name, n);
	knot_dname_to_lower(p);
	return p + n;
}

static const uint8_t *alg_wire(void)
{
	/* "gss-tsig." in wire form. */
	static const uint8_t alg[] = "\x08gss-tsig";
	return alg;
}

/*
 * The digest input of RFC 8945 4.3.3 (4.3.1 for an answer: the request MAC
 * first): [MAC length, request MAC,] message, TSIG variables.  @msg is the
 * message without its TSIG record, with the original ID.  @form
 * MAC_FORM_SAMBA leaves the request MAC's length out, as Samba does when
 * it signs an answer.  Returns a malloc'ed buffer (*len) or NULL.
 */
static uint8_t *digest_input(enum mac_form form, const uint8_t *reqmac,
			     size_t reqmaclen, const uint8_t *msg,
			     size_t msglen, const uint8_t *keyname,
			     const uint8_t *alg, uint64_t time_signed,
			     uint16_t fudge, uint16_t error,
			     const uint8_t *other, uint16_t olen, size_t *len)
{
	size_t max = 2 + reqmaclen + msglen + 2 * KNOT_DNAME_MAXLEN + 32 + olen;
	uint8_t *buf = malloc(max), *p;

	if (buf == NULL)
		return NULL;
	p = buf;
	if (reqmaclen > 0) {
		if (form == MAC_FORM_RFC8945)
			p = put16(p, (uint16_t)reqmaclen);
		memcpy(p, reqmac, reqmaclen);
		p += reqmaclen;
	}
	memcpy(p, msg, msglen);
	p += msglen;
	p = put_name(p, keyname);
	p = put16(p, KNOT_CLASS_ANY);
	p = put32(p, 0); /* TTL */
	p = put_name(p, alg);
	p = put48(p, time_signed);
	p = put16(p, fudge);
	p = put16(p, error);
	p = put16(p, olen);
	if (olen > 0)
		memcpy(p, other, olen);
	p += olen;
	*len = (size_t)(p - buf);
	return buf;
}

/*
 * Sign the message in @buf with the session's context: a TSIG record
 * whose MAC is gss_get_mic() of the digest input (RFC 3645 4.1.3).
 * @gen gets the context generation used, for verifying the answer.
 */
static int tsig_sign(struct gss_session *s, uint8_t *buf, size_t *len,
		     size_t max, uint8_t *mac, size_t *maclen, unsigned *gen,
		     struct dns_outcome *o)
{
	gss_buffer_desc in, mic = GSS_C_EMPTY_BUFFER;
	uint64_t now = (uint64_t)time(NULL);
	uint8_t keyname[KNOT_DNAME_MAXLEN];
	size_t inlen, nlen, rdlen;
	uint8_t *input, *p;
	OM_uint32 maj, min = 0;
	int ret;

	pthread_mutex_lock(&s->lock);
	memcpy(keyname, s->keyname, knot_dname_size(s->keyname));
	*gen = s->generation;
	input = digest_input(MAC_FORM_RFC8945, NULL, 0, buf, *len, keyname,
			     alg_wire(), now, TSIG_FUDGE, 0, NULL, 0, &inlen);
	if (input == NULL) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	in.length = inlen;
	in.value = input;
	maj = gss_get_mic(&min, s->gctx, GSS_C_QOP_DEFAULT, &in, &mic);
	pthread_mutex_unlock(&s->lock);
	free(input);
	if (GSS_ERROR(maj))
		return gss_fail(maj, min, "signing", o);
	if (mic.length == 0 || mic.length > MIC_MAX) {
		gss_release_buffer(&min, &mic);
		return DNS_EGSS;
	}

	/* RFC 8945 4.2: the TSIG RR, last in the additional section. */
	nlen = knot_dname_size(keyname);
	rdlen =
	    knot_dname_size(alg_wire()) + 6 + 2 + 2 + mic.length + 2 + 2 + 2;
	if (*len + nlen + 10 + rdlen > max) {
		gss_release_buffer(&min, &mic);
		return -EMSGSIZE;
	}
	p = buf + *len;
	memcpy(p, keyname, nlen);
	p += nlen;
	p = put16(p, KNOT_RRTYPE_TSIG);
	p = put16(p, KNOT_CLASS_ANY);
	p = put32(p, 0);
	p = put16(p, (uint16_t)rdlen);
	p = put_name(p, alg_wire());
	p = put48(p, now);
	p = put16(p, TSIG_FUDGE);
	p = put16(p, (uint16_t)mic.length);
	memcpy(p, mic.value, mic.length);
	p += mic.length;
	p = put16(p, knot_wire_get_id(buf)); /* original ID */
	p = put16(p, 0);		     /* error */
	p = put16(p, 0);		     /* other len */
	*len = (size_t)(p - buf);
	knot_wire_add_arcount(buf, 1);
	memcpy(mac, mic.value, mic.length);
	*maclen = mic.length;
	gss_release_buffer(&min, &mic);
	ret = 0;
	return ret;
}

/*
 * gss_verify_mic() of the answer's MAC over its digest input in @form,
 * with the context of generation @gen (or the one before, for answers to
 * messages signed just before a renegotiation).  Returns 0 when it
 * verified, DNS_ETSIG when not, -ENOMEM.
 */
static int mic_verify(struct gss_session *s, unsigned gen, enum mac_form form,
		      const uint8_t *reqmac, size_t reqmaclen,
		      const uint8_t *msg, size_t msglen,
		      const knot_rrset_t *tsig)
{
	gss_buffer_desc in, mic;
	OM_uint32 maj = GSS_S_FAILURE, min;
	uint8_t *input;
	size_t inlen;

	input = digest_input(
	    form, reqmac, reqmaclen, msg, msglen, tsig->owner,
	    knot_tsig_rdata_alg_name(tsig), knot_tsig_rdata_time_signed(tsig),
	    knot_tsig_rdata_fudge(tsig), knot_tsig_rdata_error(tsig),
	    knot_tsig_rdata_other_data(tsig),
	    knot_tsig_rdata_other_data_length(tsig), &inlen);
	if (input == NULL)
		return -ENOMEM;
	in.length = inlen;
	in.value = input;
	mic.length = knot_tsig_rdata_mac_length(tsig);
	mic.value = (void *)knot_tsig_rdata_mac(tsig);
	/*
	 * A MIC that does not verify leaves the context's replay state
	 * alone (MIT checks the checksum of an RFC 4121 4.2.6.1 token before
	 * its sequence number), so a second form may be tried.
	 */
	pthread_mutex_lock(&s->lock);
	if (gen == s->generation && s->gctx != GSS_C_NO_CONTEXT)
		maj = gss_verify_mic(&min, s->gctx, &in, &mic, NULL);
	else if (gen + 1 == s->generation && s->old_gctx != GSS_C_NO_CONTEXT)
		maj = gss_verify_mic(&min, s->old_gctx, &in, &mic, NULL);
	pthread_mutex_unlock(&s->lock);
	free(input);
	return GSS_ERROR(maj) ? DNS_ETSIG : 0;
}

/*
 * Check the answer's TSIG with the context of generation @gen (RFC 8945
 * 5.3, RFC 3645 4.1.3).  Fills the tsig fields of @o.  Returns 0 when it
 * verified, 1 when the answer carries no TSIG, DNS_EECHO when the MAC is
 * our request's (Windows and Samba do this), DNS_ETSIG otherwise.
 */
static int tsig_verify(struct gss_session *s, unsigned gen, const uint8_t *ans,
		       size_t alen, const uint8_t *reqmac, size_t reqmaclen,
		       struct dns_outcome *o)
{
	const knot_rrset_t *tsig;
	knot_pkt_t *pkt = NULL;
	enum mac_form form, other;
	uint8_t *msg = NULL;
	size_t off, maclen;
	uint64_t server_time;
	bool learned = false;
	int ret;

	ret = dns_msg_answer_parse(ans, alen, &pkt);
	if (ret != 0)
		return ret;
	tsig = pkt->tsig_rr;
	if (tsig == NULL) {
		ret = 1;
		goto out;
	}
	o->tsig_present = true;
	o->tsig_error = knot_tsig_rdata_error(tsig);
	server_time = knot_tsig_rdata_time_signed(tsig);
	o->skew = (int64_t)server_time - (int64_t)time(NULL);
	maclen = knot_tsig_rdata_mac_length(tsig);
	/* RFC 8945 5.3.2: BADKEY and BADSIG answers carry no MAC. */
	if (o->tsig_error == KNOT_RCODE_BADKEY ||
	    o->tsig_error == KNOT_RCODE_BADSIG) {
		ret = DNS_ETSIG;
		goto out;
	}
	if (reqmaclen > 0 && maclen == reqmaclen &&
	    memcmp(knot_tsig_rdata_mac(tsig), reqmac, maclen) == 0) {
		ret = DNS_EECHO;
		goto out;
	}
	if (knot_dname_is_case_equal(knot_tsig_rdata_alg_name(tsig),
				     alg_wire()) == false) {
		ret = DNS_ETSIG;
		goto out;
	}
	/* The message as signed: without the TSIG RR, the original ID. */
	off = (size_t)(pkt->tsig_wire.pos - pkt->wire);
	if (pkt->tsig_wire.pos == NULL || off > alen) {
		ret = DNS_EFORMAT;
		goto out;
	}
	msg = malloc(off);
	if (msg == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(msg, ans, off);
	knot_wire_set_arcount(msg, knot_wire_get_arcount(ans) - 1);
	knot_wire_set_id(msg, knot_tsig_rdata_orig_id(tsig));

	/* The form this server was last seen to use: RFC 8945's at first. */
	pthread_mutex_lock(&s->lock);
	form = s->form;
	pthread_mutex_unlock(&s->lock);
	ret = mic_verify(s, gen, form, reqmac, reqmaclen, msg, off, tsig);
	/*
	 * Samba's form, tried only after RFC 8945's failed and only where
	 * the two differ (an answer to a signed request); accepted only
	 * when it verifies with the negotiated context, as the standard
	 * form would.  Once learned it goes first for this server, and the
	 * standard form second (a server upgraded in place).
	 */
	if (ret == DNS_ETSIG && reqmaclen > 0) {
		other = form == MAC_FORM_RFC8945 ? MAC_FORM_SAMBA
						 : MAC_FORM_RFC8945;
		ret = mic_verify(s, gen, other, reqmac, reqmaclen, msg, off,
				 tsig);
		if (ret == 0) {
			pthread_mutex_lock(&s->lock);
			learned = s->form != other;
			s->form = other;
			pthread_mutex_unlock(&s->lock);
			form = other;
		}
	}
	if (ret != 0)
		goto out;
	o->tsig_verified = true;
	o->gss_samba_form = form == MAC_FORM_SAMBA;
	/* Said once per server: by the attempt that learned it. */
	o->gss_samba_learned = learned && form == MAC_FORM_SAMBA;
out:
	free(msg);
	dns_msg_answer_free(pkt);
	return ret;
}

/* The TSIG and RCODE verdict, as dns_msg_check() gives it for HMAC. */
static int answer_check(struct gss_session *s, unsigned gen, const uint8_t *ans,
			size_t alen, const uint8_t *query, size_t qlen,
			const uint8_t *mac, size_t maclen,
			struct dns_outcome *o)
{
	int ret, v;

	/* Header, question, RCODE; no TSIG check (key NULL). */
	ret = dns_msg_check(ans, alen, query, qlen, NULL, NULL, 0,
			    (uint64_t)time(NULL), o);
	if (ret != 0 && ret != DNS_ERCODE)
		return ret;
	o->tsig_present = false;
	o->tsig_error = 0;
	v = tsig_verify(s, gen, ans, alen, mac, maclen, o);
	if (v == 1)
		return o->rcode == KNOT_RCODE_NOERROR ? DNS_EUNSIGNED
						      : DNS_ERCODE;
	if (v != 0)
		return v;
	if (o->tsig_error != 0)
		return DNS_ETSIG;
	/* RFC 8945 5.4.3: signed outside the fudge. */
	if (o->skew > TSIG_FUDGE || o->skew < -TSIG_FUDGE)
		return DNS_ETSIG;
	return o->rcode == KNOT_RCODE_NOERROR ? 0 : DNS_ERCODE;
}

/* ----------------------------------------------------------------- TKEY */

/*
 * A TKEY query (RFC 2930 4, RFC 3645 4.1.1): question <keyname> ANY TKEY,
 * the TKEY RR in the additional section (where BIND and Windows look).
 */
static int tkey_build(uint8_t *buf, size_t *len, size_t max,
		      const uint8_t *keyname, uint16_t mode,
		      const uint8_t *token, size_t toklen)
{
	uint32_t now = (uint32_t)time(NULL);
	size_t rdlen =
	    knot_dname_size(alg_wire()) + 4 + 4 + 2 + 2 + 2 + toklen + 2;
	knot_pkt_t *pkt = NULL;
	knot_rrset_t rr;
	uint8_t *rdata = NULL, *p;
	uint16_t id;
	int ret;

	knot_rrset_init_empty(&rr);
	if (toklen > TOKEN_MAX || random_bytes(&id, sizeof(id)) != 0)
		return -EINVAL;
	rdata = malloc(rdlen);
	pkt = knot_pkt_new(
	    NULL, max > DNS_MSG_MAX ? DNS_MSG_MAX : (uint16_t)max, NULL);
	if (rdata == NULL || pkt == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	knot_wire_set_id(pkt->wire, id);
	knot_wire_set_opcode(pkt->wire, KNOT_OPCODE_QUERY);
	ret = knot_pkt_put_question(pkt, keyname, KNOT_CLASS_ANY,
				    KNOT_RRTYPE_TKEY);
	if (ret == KNOT_EOK)
		ret = knot_pkt_begin(pkt, KNOT_ADDITIONAL);
	if (ret != KNOT_EOK)
		goto knot_fail;
	p = put_name(rdata, alg_wire());
	p = put32(p, now); /* inception and expiration: as nsupdate -g */
	p = put32(p, now);
	p = put16(p, mode);
	p = put16(p, 0); /* error */
	p = put16(p, (uint16_t)toklen);
	if (toklen > 0)
		memcpy(p, token, toklen);
	p += toklen;
	put16(p, 0); /* other size */
	knot_rrset_init(&rr, (knot_dname_t *)keyname, KNOT_RRTYPE_TKEY,
			KNOT_CLASS_ANY, 0);
	ret = knot_rrset_add_rdata(&rr, rdata, (uint16_t)rdlen, NULL);
	if (ret == KNOT_EOK)
		ret = knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, &rr,
				   KNOT_PF_NOTRUNC);
	if (ret != KNOT_EOK)
		goto knot_fail;
	if (pkt->size > max) {
		ret = -EMSGSIZE;
		goto out;
	}
	memcpy(buf, pkt->wire, pkt->size);
	*len = pkt->size;
	ret = 0;
	goto out;
knot_fail:
	ret = ret == KNOT_ENOMEM ? -ENOMEM : -EMSGSIZE;
out:
	knot_rdataset_clear(&rr.rrs, NULL);
	knot_pkt_free(pkt);
	free(rdata);
	return ret;
}

/* What a TKEY answer says (RFC 2930 2). */
struct tkey_answer {
	uint32_t expiration;
	uint16_t mode;
	uint16_t error;
	uint8_t *token; /* malloc'ed */
	size_t toklen;
};

static int tkey_parse(const uint8_t *ans, size_t alen, const uint8_t *keyname,
		      struct tkey_answer *t)
{
	static const knot_section_t where[] = {KNOT_ANSWER, KNOT_ADDITIONAL};
	const knot_rdata_t *rd = NULL;
	knot_pkt_t *pkt = NULL;
	int ret;

	memset(t, 0, sizeof(*t));
	ret = dns_msg_answer_parse(ans, alen, &pkt);
	if (ret != 0)
		return ret;
	for (size_t w = 0; w < 2 && rd == NULL; w++) {
		const knot_pktsection_t *sec = knot_pkt_section(pkt, where[w]);

		for (uint16_t i = 0; i < sec->count; i++) {
			const knot_rrset_t *rr = knot_pkt_rr(sec, i);

			if (rr->type == KNOT_RRTYPE_TKEY &&
			    knot_dname_is_case_equal(rr->owner, keyname) &&
			    rr->rrs.count > 0) {
				rd = knot_rdataset_at(&rr->rrs, 0);
				break;
			}
		}
	}
	ret = 1; /* no TKEY record */
	if (rd != NULL) {
		const uint8_t *p = rd->data, *end = rd->data + rd->len;
		int n = knot_dname_wire_check(p, end, NULL);
		size_t klen;

		ret = DNS_EFORMAT;
		if (n <= 0 || end - (p + n) < 16)
			goto out;
		p += n + 4; /* algorithm, inception */
		t->expiration = knot_wire_read_u32(p);
		t->mode = knot_wire_read_u16(p + 4);
		t->error = knot_wire_read_u16(p + 6);
		klen = knot_wire_read_u16(p + 8);
		p += 10;
		if ((size_t)(end - p) < klen + 2)
			goto out;
		if (klen > 0) {
			t->token = malloc(klen);
			if (t->token == NULL) {
				ret = -ENOMEM;
				goto out;
			}
			memcpy(t->token, p, klen);
			t->toklen = klen;
		}
		ret = 0;
	}
out:
	dns_msg_answer_free(pkt);
	return ret;
}

/* A fresh key name: <random>.sig-<host>. (unique per context). */
static int keyname_make(const struct dns_gss_ctx *c, uint8_t *wire)
{
	char text[DNS_NAME_LEN + 64];
	uint8_t rnd[6];
	size_t n;

	if (random_bytes(rnd, sizeof(rnd)) != 0)
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

/*
 * Negotiate a new context with the server (RFC 3645 3.1): the
 * gss_init_sec_context() loop, each token carried by a TKEY query, the
 * final answer's TSIG verified with the new context.  Installs it in @s.
 * The caller holds c->neg_lock.
 */
static int negotiate(struct dns_gss_ctx *c, struct gss_session *s,
		     int64_t deadline, struct dns_outcome *o)
{
	const OM_uint32 flags =
	    GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_INTEG_FLAG;
	gss_buffer_desc in = GSS_C_EMPTY_BUFFER, out = GSS_C_EMPTY_BUFFER;
	gss_ctx_id_t gctx = GSS_C_NO_CONTEXT;
	struct gss_session tmp;
	struct tkey_answer t = {0};
	uint8_t keyname[KNOT_DNAME_MAXLEN];
	uint8_t *query = NULL, *ans = NULL;
	size_t qlen = 0, alen = 0;
	OM_uint32 maj = GSS_S_FAILURE, min = 0, ret_flags = 0, time_rec = 0;
	bool reacquired = false, fresh = false;
	uint32_t expiration = 0;
	int ret;

	memset(&tmp, 0, sizeof(tmp));
	pthread_mutex_init(&tmp.lock, NULL);
	query = malloc(DNS_MSG_MAX);
	ans = malloc(DNS_MSG_MAX);
	if (query == NULL || ans == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	ret = keyname_make(c, keyname);
	if (ret != 0)
		goto out;
again:
	ret = cred_acquire(c, o);
	if (ret != 0)
		goto out;
	for (int round = 0; round < ROUNDS_MAX; round++) {
		maj = gss_init_sec_context(&min, c->cred, &gctx, c->target,
					   (gss_OID)gss_mech_krb5, flags, 0,
					   GSS_C_NO_CHANNEL_BINDINGS, &in, NULL,
					   &out, &ret_flags, &time_rec);
		free(in.value);
		in.value = NULL;
		in.length = 0;
		if (GSS_ERROR(maj)) {
			if (!reacquired &&
			    (GSS_ROUTINE_ERROR(maj) ==
				 GSS_S_CREDENTIALS_EXPIRED ||
			     GSS_ROUTINE_ERROR(maj) == GSS_S_NO_CRED) &&
			    round == 0) {
				/* Password credentials do not renew. */
				reacquired = true;
				cred_release(c);
				if (gctx != GSS_C_NO_CONTEXT)
					gss_delete_sec_context(&min, &gctx,
							       NULL);
				goto again;
			}
			ret = gss_fail(maj, min,
				       "getting a ticket for the DNS "
				       "server",
				       o);
			goto out;
		}
		if (out.length == 0)
			break;
		ret = tkey_build(query, &qlen, DNS_MSG_MAX, keyname,
				 TKEY_MODE_GSSAPI, out.value, out.length);
		gss_release_buffer(&min, &out);
		if (ret != 0)
			goto out;
		for (;;) {
			ret = exchange(c, s, query, qlen, ans, &alen, deadline,
				       fresh);
			if (ret != -EAGAIN)
				break;
			fresh = true; /* unsigned: resending is fine */
		}
		if (ret != 0)
			goto out;
		ret = dns_msg_check(ans, alen, query, qlen, NULL, NULL, 0,
				    (uint64_t)time(NULL), o);
		if (ret != 0 && ret != DNS_ERCODE)
			goto out;
		free(t.token);
		ret = tkey_parse(ans, alen, keyname, &t);
		if (ret < 0)
			goto out;
		if (ret == 1 || o->rcode != 0 || t.error != 0) {
			/* RFC 2930 4.1: the TKEY error says why (BADKEY:
			 * the server could not accept our token). */
			if (ret == 0 && t.error != 0)
				o->tsig_error = t.error;
			ret = DNS_ETKEY;
			goto out;
		}
		expiration = t.expiration;
		in.value = t.token;
		in.length = t.toklen;
		t.token = NULL;
		if (maj == GSS_S_COMPLETE)
			break;
	}
	free(in.value);
	in.value = NULL;
	if (maj != GSS_S_COMPLETE || gctx == GSS_C_NO_CONTEXT) {
		snprintf(o->detail, sizeof(o->detail),
			 "the GSS-API exchange did not complete");
		ret = DNS_EGSS;
		goto out;
	}
	if ((ret_flags & GSS_C_INTEG_FLAG) == 0 ||
	    (ret_flags & GSS_C_MUTUAL_FLAG) == 0) {
		snprintf(o->detail, sizeof(o->detail),
			 "the context lacks mutual authentication or "
			 "integrity");
		ret = DNS_EGSS;
		goto out;
	}
	/*
	 * RFC 3645 4.1.3: the server signs its final answer with the new
	 * context; the query was unsigned, so no request MAC goes first.
	 */
	tmp.gctx = gctx;
	memcpy(tmp.keyname, keyname, knot_dname_size(keyname));
	ret = tsig_verify(&tmp, 0, ans, alen, NULL, 0, o);
	if (ret == 1) {
		ret = DNS_EUNSIGNED;
		goto out;
	}
	if (ret != 0)
		goto out;
	o->tsig_present = false;
	o->tsig_verified = false;

	/* Install it; the previous one stays for answers in flight. */
	pthread_mutex_lock(&s->lock);
	if (s->old_gctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &s->old_gctx, NULL);
	s->old_gctx = s->gctx;
	memcpy(s->old_keyname, s->keyname, sizeof(s->keyname));
	s->gctx = gctx;
	gctx = GSS_C_NO_CONTEXT;
	memcpy(s->keyname, keyname, knot_dname_size(keyname));
	{
		time_t now = time(NULL);
		time_t until = now + (time_t)time_rec;

		if (time_rec == GSS_C_INDEFINITE)
			until = now + 86400;
		if (expiration != 0 && (time_t)expiration > now &&
		    (time_t)expiration < until)
			until = (time_t)expiration;
		s->expires = until;
		s->lifetime = until - now;
	}
	s->generation++;
	s->stale = false;
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(&c->negotiations, 1);
	ret = 0;
out:
	free(in.value);
	free(t.token);
	if (out.length > 0)
		gss_release_buffer(&min, &out);
	if (gctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &gctx, NULL);
	pthread_mutex_destroy(&tmp.lock);
	free(query);
	free(ans);
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
	uint8_t mac[MIC_MAX];
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
			ret = tsig_sign(s, query, qlen, DNS_MSG_MAX, mac,
					&maclen, &gen, o);
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
	uint8_t mac[MIC_MAX];
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
	ret = tkey_build(query, &qlen, DNS_MSG_MAX, keyname, TKEY_MODE_DELETE,
			 NULL, 0);
	if (ret == 0)
		ret = tsig_sign(s, query, &qlen, DNS_MSG_MAX, mac, &maclen,
				&gen, &o);
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
		ret = tkey_parse(ans, alen, keyname, &t);
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
	free(t.token);
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
	cred_release(ctx);
	ccache_destroy(ctx);
	if (ctx->client != GSS_C_NO_NAME)
		gss_release_name(&min, &ctx->client);
	if (ctx->target != GSS_C_NO_NAME)
		gss_release_name(&min, &ctx->target);
	if (ctx->kt_fd >= 0)
		close(ctx->kt_fd);
	if (ctx->password != NULL) {
		explicit_bzero(ctx->password, ctx->pwlen);
		free(ctx->password);
	}
	pthread_mutex_destroy(&ctx->lock);
	pthread_mutex_destroy(&ctx->neg_lock);
	explicit_bzero(ctx, sizeof(*ctx));
	free(ctx);
}
