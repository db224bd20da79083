/*
 * gss_cred.c - who we are to Kerberos, for GSS-TSIG (RFC 3645): the
 * client's configuration checked, its principal and the DNS server's
 * service principal as GSS-API names, the credentials acquired from a
 * keytab (a file, or bytes held in an anonymous memory file) or a password
 * into a memory cache of our own, and GSS-API failures turned into our
 * codes with the Kerberos reason.  The contexts negotiated with the
 * servers are gss.c's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>

#include "dns/dns.h"
#include "dns/gss_internal.h"
#include "util/file.h"
#include "util/random.h"

static void set_err(char *err, size_t errlen, const char *text)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", text);
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
int dns_gss_fail(OM_uint32 maj, OM_uint32 min, const char *what,
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

/* ------------------------------------------------------------ identity */

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

/* The configuration's checks; the text says what to give instead. */
static int config_check(const struct dns_gss_config *cfg, char *err,
			size_t errlen)
{
	int sources;

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
	return 0;
}

/*
 * Our principal (in the configured realm when it names none) and the DNS
 * server's, imported as GSS-API names.
 */
static int names_init(struct dns_gss_ctx *c, const struct dns_gss_config *cfg,
		      char *err, size_t errlen)
{
	const char *at, *realm, *bad = NULL;
	char text[1024];

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
	if (name_import(c->principal, &c->client) != 0)
		bad = c->principal;
	else if (name_import(c->service, &c->target) != 0)
		bad = c->service;
	if (bad == NULL)
		return 0;
	snprintf(text, sizeof(text),
		 "'%.200s' is not a Kerberos principal name", bad);
	set_err(err, errlen, text);
	return -EINVAL;
}

/*
 * Where the credentials come from: a keytab file, keytab bytes (held in
 * memory), or a password (copied, wiped at the end).
 */
static int secret_init(struct dns_gss_ctx *c, const struct dns_gss_config *cfg,
		       char *err, size_t errlen)
{
	int ret;

	if (cfg->keytab_path != NULL) {
		snprintf(c->ktname, sizeof(c->ktname), "FILE:%s",
			 cfg->keytab_path);
		return 0;
	}
	if (cfg->keytab != NULL) {
		ret = keytab_memfd(c, cfg->keytab, cfg->keytab_len);
		if (ret != 0)
			set_err(err, errlen,
				"cannot hold the keytab in memory");
		return ret;
	}
	c->pwlen = strlen(cfg->password);
	c->password = malloc(c->pwlen + 1);
	if (c->password == NULL)
		return -ENOMEM;
	memcpy(c->password, cfg->password, c->pwlen + 1);
	return 0;
}

/* Our own memory credential cache, MEMORY:rfc2136-<random>. */
static int ccache_name(struct dns_gss_ctx *c)
{
	uint8_t rnd[8];

	if (util_random(rnd, sizeof(rnd)) != 0)
		return -EIO;
	snprintf(c->ccache, sizeof(c->ccache),
		 "MEMORY:rfc2136-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	return 0;
}

int dns_gss_new(struct dns_gss_ctx **ctx, const struct dns_gss_config *cfg,
		char *err, size_t errlen)
{
	struct dns_gss_ctx *c;
	int ret;

	if (ctx == NULL)
		return -EINVAL;
	*ctx = NULL;
	ret = config_check(cfg, err, errlen);
	if (ret != 0)
		return ret;
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
	ret = names_init(c, cfg, err, errlen);
	if (ret == 0)
		ret = secret_init(c, cfg, err, errlen);
	if (ret == 0)
		ret = ccache_name(c);
	if (ret != 0) {
		dns_gss_free(c, 0);
		return ret;
	}
	*ctx = c;
	return 0;
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
int dns_gss_cred_acquire(struct dns_gss_ctx *c, struct dns_outcome *o)
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
		return dns_gss_fail(maj, min, "acquiring credentials", o);
	}
	return 0;
}

void dns_gss_cred_release(struct dns_gss_ctx *c)
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

void dns_gss_ctx_destroy(struct dns_gss_ctx *ctx)
{
	OM_uint32 min;

	dns_gss_cred_release(ctx);
	ccache_destroy(ctx);
	if (ctx->client != GSS_C_NO_NAME)
		gss_release_name(&min, &ctx->client);
	if (ctx->target != GSS_C_NO_NAME)
		gss_release_name(&min, &ctx->target);
	if (ctx->kt_fd >= 0)
		close(ctx->kt_fd);
	util_wipe_free(ctx->password, ctx->pwlen);
	pthread_mutex_destroy(&ctx->lock);
	pthread_mutex_destroy(&ctx->neg_lock);
	explicit_bzero(ctx, sizeof(*ctx));
	free(ctx);
}
