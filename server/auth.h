/*
 * auth.h - who is calling, and may they (internal to server/).
 *
 * Authentication follows Kubernetes' request-header (front-proxy) scheme
 * for extension API servers: the user named in X-Remote-User and friends is
 * believed only when the TLS peer presented a certificate that chains to
 * the request-header CA, is valid for client authentication, and whose CN
 * is one of the allowed names (when that list is not empty).  Anything else
 * is anonymous, and anonymous callers reach only the health paths.
 *
 * Authorization asks the Kubernetes API with a SubjectAccessReview, with
 * answers cached for a few seconds, or, in AllowAuthenticated mode, lets
 * every authenticated user through.
 *
 * One header for both, as the daemon uses them together and both speak of
 * the same struct auth_user: authentication is authn.c (configuration, CA,
 * certificate chain) and authn_user.c (the user from the headers),
 * authorization is authz.c; what they share is in auth_internal.h.
 */
#ifndef RFC2136_AUTH_H
#define RFC2136_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include <gnutls/gnutls.h>

struct k8s_client;

enum {
	AUTH_ENOCA = -3000, /* no request-header CA: nobody can be trusted */
	AUTH_ENOCERT,	    /* the peer presented no certificate */
	AUTH_EBADCERT,	    /* the certificate could not be parsed */
	AUTH_EUNTRUSTED,    /* it does not verify against the CA */
	AUTH_EPURPOSE,	    /* it is not valid for client authentication */
	AUTH_ENAME,	    /* its CN is not in the allowed names */
	AUTH_ENOUSER,	    /* a trusted proxy but no user header */
	AUTH_ELAST
};

/* Text for any code of this module (errno values included). */
const char *auth_strerror(int code);

/* A user as the front proxy named them; every string malloc'ed. */
struct auth_user {
	char *name;
	char *uid; /* NULL when not sent */
	char **groups;
	size_t ngroups;
	/* extra: pairs (extra_keys[i], extra_values[i]); keys may repeat */
	char **extra_keys;
	char **extra_values;
	size_t nextra;
};

/* Free what @user holds and zero it.  NULL-safe. */
void auth_user_release(struct auth_user *user);

/*
 * Request-header authentication settings.  Header lists are comma lists
 * (Kubernetes' --requestheader-* flags); NULL means Kubernetes' default.
 */
struct authn_opts {
	const char *ca_file;	      /* PEM bundle; NULL: none (yet) */
	const char *allowed_names;    /* comma list of CNs; NULL/"": any */
	const char *username_headers; /* default "X-Remote-User" */
	const char *group_headers;    /* default "X-Remote-Group" */
	const char *extra_prefixes;   /* default "X-Remote-Extra-" */
	const char *uid_headers;      /* default "X-Remote-Uid" */
};

struct authn;

/*
 * Create an authenticator.  An unreadable or empty @opts->ca_file is an
 * error naming the file.  Returns 0, -ENOMEM, -EINVAL or a negated errno.
 */
int authn_new(struct authn **authn, const struct authn_opts *opts, char *err,
	      size_t errlen);

/* Free an authenticator.  NULL-safe. */
void authn_free(struct authn *authn);

/*
 * Re-read the request-header CA file given to authn_new() if it changed
 * since the last look (device, inode, size, modification and change time,
 * following symlinks, as for the serving certificate), or always with
 * @force (SIGHUP).  The new CA replaces the old one whole.  Returns 1 when
 * a new CA is in use, 0 when nothing changed, there is no CA file, or the
 * same refused file is still there, and a negative code with @err naming
 * the file when a changed file is refused: the old CA stays in use, and the
 * same refusal is reported once.  Meant for one thread (the main loop).
 */
int authn_reload_ca_file(struct authn *authn, bool force, char *err,
			 size_t errlen);

/* The request-header CA file given to authn_new(), or NULL. */
const char *authn_ca_file(const struct authn *authn);

/*
 * Replace the request-header CA with the PEM bundle @pem, keeping the
 * names and headers.  On error the old CA is kept.
 */
int authn_set_ca(struct authn *authn, const char *pem, size_t len, char *err,
		 size_t errlen);

/* The lists of the request-header configuration. */
enum authn_list {
	AUTHN_ALLOWED_NAMES = 0,
	AUTHN_USERNAME_HEADERS,
	AUTHN_GROUP_HEADERS,
	AUTHN_EXTRA_PREFIXES,
	AUTHN_UID_HEADERS,
	AUTHN_NLISTS
};

/*
 * The key of list @which in kube-system/extension-apiserver-authentication,
 * e.g. "requestheader-allowed-names".
 */
const char *authn_list_key(enum authn_list which);

/* Bounds of one JSON list value. */
#define AUTH_JSON_LIST_BYTES 16384
#define AUTH_JSON_LIST_MAX   64

/*
 * Parse a ConfigMap list value: a JSON array of strings, e.g.
 * "[\"X-Remote-User\"]".  Items are trimmed and empty ones dropped; an empty
 * value or JSON null is an empty list.  *@items (malloc'ed strings in a
 * malloc'ed array, NULL when empty) and *@n on success; -EINVAL with the
 * reason in @err, or -ENOMEM.
 */
int auth_json_list(const char *json, char ***items, size_t *n, char *err,
		   size_t errlen);

/*
 * Replace the whole request-header configuration at once, as read from the
 * extension-apiserver-authentication ConfigMap: @pem the CA bundle (NULL:
 * none, so nobody is trusted), @json each list as a JSON array string
 * (NULL: the flag's value or Kubernetes' default).  Returns 1 when the
 * configuration changed, 0 when it is the one in use (nothing is done, so
 * connections keep their verdicts), or a negative code with @err naming
 * the key at fault, in which case the old configuration stays.
 */
int authn_update(struct authn *authn, const char *pem, size_t len,
		 const char *const json[AUTHN_NLISTS], char *err,
		 size_t errlen);

/* Whether a request-header CA is loaded (without one everything is 401). */
bool authn_has_ca(struct authn *authn);

/* Set the text authn_status() gives while there is no CA. */
void authn_set_status(struct authn *authn, const char *why);

/*
 * Whether a CA is loaded; @buf gets "ok" or why not (for /readyz).
 */
bool authn_status(struct authn *authn, char *buf, size_t buflen);

/*
 * A number that changes whenever the CA changes, so that a connection can
 * cache its verdict and re-verify after a CA change.
 */
unsigned authn_generation(struct authn *authn);

/*
 * Verify a peer's certificate chain (DER, leaf first, as TLS sends it):
 * it must chain to the request-header CA, be valid now for client
 * authentication (clientAuth in the extended key usage, or no extended key
 * usage at all, as X.509 and Kubernetes read it), and have a CN in the
 * allowed names when that list is set.  Returns 0 or an AUTH_E* code with
 * the reason in @why (no secret: names and verification flags only).
 */
int authn_verify_chain(struct authn *authn, const gnutls_datum_t *certs,
		       unsigned ncerts, char *why, size_t whylen);

/* authn_verify_chain() on the peer chain of a TLS session. */
int authn_verify_session(struct authn *authn, gnutls_session_t session,
			 char *why, size_t whylen);

/*
 * Take one request header into @user if it is one of the configured user,
 * group, uid or extra headers (names compare case-insensitively; the first
 * user and uid header win; extra keys are lower-cased, then
 * percent-decoded, as Kubernetes does).  Call it for every header, and
 * only for a request whose peer verified.  Returns 0 or -ENOMEM.
 */
int authn_header(struct authn *authn, struct auth_user *user, const char *name,
		 const char *value);

/* AUTH_ENOUSER when @user has no (or an empty) name, else 0. */
int auth_user_check(const struct auth_user *user);

/* How requests are authorized. */
enum authz_mode {
	AUTHZ_SUBJECT_ACCESS_REVIEW = 0,
	AUTHZ_ALLOW_AUTHENTICATED,
};

/*
 * What a request wants: resource attributes when @resource is set, else
 * the non-resource @verb on @path.
 */
struct authz_attrs {
	const char *verb;
	const char *group;
	const char *version;
	const char *resource;
	const char *path;
};

struct authz;

/*
 * Create an authorizer.  @api (borrowed) is needed for
 * AUTHZ_SUBJECT_ACCESS_REVIEW; verdicts are cached @ttl_ms (0: 10000).
 */
int authz_new(struct authz **authz, enum authz_mode mode,
	      struct k8s_client *api, unsigned ttl_ms);

/* Free an authorizer.  NULL-safe. */
void authz_free(struct authz *authz);

/*
 * Decide whether @user may do @attrs: 1 allowed, 0 denied (@reason may hold
 * the reviewer's reason), or a negative code when no verdict could be had
 * (@reason says what failed and what to check; never a credential).  No
 * verdict is never an allow: kube-apiserver answers it 500 InternalError
 * (see authz_error_body()), and it is not cached.  Members of
 * system:masters are allowed without a review, and system:authenticated is
 * added to the groups sent.
 */
int authz_check(struct authz *authz, const struct auth_user *user,
		const struct authz_attrs *attrs, char *reason,
		size_t reasonlen);

/*
 * authz_check() without calling the API: the verdict when it is known
 * without a review (AllowAuthenticated, system:masters, a cached verdict),
 * else -EWOULDBLOCK.  For callers that must not block.
 */
int authz_peek(struct authz *authz, const struct auth_user *user,
	       const struct authz_attrs *attrs, char *reason, size_t reasonlen);

/* How many reviews were sent to the API so far (for logs and tests). */
unsigned long authz_reviews(struct authz *authz);

/*
 * Kubernetes' wording of a denial, e.g. 'rfc2136.acme.example.org is
 * forbidden: User "u" cannot create resource "rfc2136" in API group
 * "acme.example.org" at the cluster scope: <reason>'.  Returns @buf.
 */
const char *authz_forbidden_message(const struct auth_user *user,
				    const struct authz_attrs *attrs,
				    const char *reason, char *buf,
				    size_t buflen);

/*
 * The Status body of a request whose authorization could not be decided,
 * as k8s.io/apimachinery's NewInternalError(@cause) writes it: code 500,
 * reason "InternalError", message "Internal error occurred: <cause>",
 * details.causes[0].message the cause (status_internal_error()).  Malloc'ed
 * JSON (caller frees), length in *@len; NULL when out of memory.
 */
char *authz_error_body(const char *cause, size_t *len);

#endif /* RFC2136_AUTH_H */
