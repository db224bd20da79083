/*
 * codec.h - cert-manager's ChallengePayload and Kubernetes Status bodies
 * (internal to server/).
 *
 * A pure codec: no I/O, no logging, no global state, so it can be tested
 * from tables and fuzzed as is.  The decoder bounds the body (size, JSON
 * nesting depth, every string it keeps), rejects duplicate keys and ignores
 * unknown fields, as cert-manager's Go types do
 * (pkg/acme/webhook/apis/acme/v1alpha1).
 */
#ifndef RFC2136_CODEC_H
#define RFC2136_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define CODEC_BODY_MAX	(1024 * 1024) /* largest body decoded, in bytes */
#define CODEC_DEPTH_MAX 32	      /* deepest JSON nesting accepted */

#define CHALLENGE_KIND	      "ChallengePayload"
#define CHALLENGE_API_VERSION "webhook.acme.cert-manager.io/v1alpha1"

enum challenge_action {
	CHALLENGE_PRESENT = 0,
	CHALLENGE_CLEANUP
};

/*
 * One decoded request.  Caller-owned; challenge_release() frees it.  String
 * fields are never NULL after a successful decode (an absent optional field
 * is "").
 */
struct challenge {
	char *uid;
	enum challenge_action action;
	char *type; /* "dns-01" */
	char *dns_name;
	char *key; /* the TXT value */
	char *resource_namespace;
	char *resolved_fqdn;
	char *resolved_zone;
	bool allow_ambient_credentials;
	/* request.config, or NULL when absent or null; a reference we own. */
	json_t *config;
};

/* "Present" or "CleanUp". */
const char *challenge_action_text(enum challenge_action action);

/*
 * Decode the POST body @body (@len bytes, need not be NUL-terminated) into
 * @ch.  Returns 0, or -EINVAL with a sentence in @err naming the field and
 * the problem ("request.action must be Present or CleanUp, got
 * \"Delete\""), -ENOMEM when out of memory.  @ch is zeroed on failure.
 */
int challenge_decode(struct challenge *ch, const char *body, size_t len,
		     char *err, size_t errlen);

/* Free the strings and the config reference and zero @ch.  NULL-safe. */
void challenge_release(struct challenge *ch);

/*
 * Encode the answer to @ch: the ChallengePayload with the request echoed
 * (without its config, which may be large and is the caller's own) and
 * "response": {"uid", "success"} plus, when @success is false, "status":
 * {"metadata": {}, "status": "Failure", "message": @message}.  A failure
 * always carries a non-empty message (cert-manager reads an empty one as
 * success), so a NULL or empty @message is replaced by a generic one.
 * *@out gets a malloc'ed NUL-terminated body, *@outlen its length.  Returns
 * 0 or -ENOMEM.
 */
int challenge_encode(const struct challenge *ch, bool success,
		     const char *message, char **out, size_t *outlen);

/*
 * Encode a Kubernetes Status body for an HTTP error with status_body()
 * (server/status.h): kind Status, apiVersion v1, metadata {}, status
 * Failure, @message, the reason of @code ("BadRequest" for 400, "NotFound"
 * for 404, ...) and code @code.  *@out and *@outlen as above.  Returns 0
 * or -ENOMEM.
 */
int codec_status_encode(int code, const char *message, char **out,
			size_t *outlen);

/*
 * The JSON type of @v in words for error messages: "a string", "an
 * integer", "a number", "a boolean", "null", "an object", "a list";
 * "nothing" for NULL.
 */
const char *codec_json_type(const json_t *v);

#endif /* RFC2136_CODEC_H */
