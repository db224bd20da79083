/*
 * fuzz_codec.c - cert-manager's ChallengePayload codec (server/codec.h).
 *
 * Any body is decoded; a decoded challenge is encoded back, as a success
 * and as a failure, and the answer must be JSON that names the request's
 * uid and, on failure, carries a non-empty message (cert-manager reads an
 * empty one as success).
 */
#include <errno.h>
#include <stdbool.h>

#include <jansson.h>

#include "server/codec.h"
#include "tests/fuzz/fuzz.h"

/* The encoded answer parses and says what it must. */
static void check_answer(const struct challenge *ch, const char *out,
			 size_t outlen, bool success)
{
	json_error_t jerr;
	json_t *root = json_loadb(out, outlen, 0, &jerr);
	json_t *resp, *status;

	fuzz_check(root != NULL);
	fuzz_check(strlen(out) == outlen);
	resp = json_object_get(root, "response");
	fuzz_check(json_is_object(resp));
	fuzz_check(json_is_string(json_object_get(resp, "uid")));
	fuzz_check(strcmp(json_string_value(json_object_get(resp, "uid")),
			  ch->uid) == 0);
	fuzz_check(json_is_boolean(json_object_get(resp, "success")));
	fuzz_check(json_boolean_value(json_object_get(resp, "success")) ==
		   success);
	if (!success) {
		status = json_object_get(resp, "status");
		fuzz_check(json_is_object(status));
		fuzz_check(
		    json_string_length(json_object_get(status, "message")) > 0);
	}
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct challenge ch;
	char err[512];
	char *out = NULL;
	size_t outlen = 0;
	int ret;

	err[0] = '\0';
	ret = challenge_decode(&ch, (const char *)data, size, err, sizeof(err));
	fuzz_check_text(err, sizeof(err));
	if (ret != 0) {
		fuzz_check(ret == -EINVAL || ret == -ENOMEM);
		fuzz_check(err[0] != '\0');
		fuzz_check(ch.uid == NULL && ch.config == NULL);
		return 0;
	}
	fuzz_check(ch.uid != NULL && ch.type != NULL && ch.dns_name != NULL &&
		   ch.key != NULL && ch.resource_namespace != NULL &&
		   ch.resolved_fqdn != NULL && ch.resolved_zone != NULL);
	fuzz_check(strcmp(challenge_action_text(ch.action), "Present") == 0 ||
		   strcmp(challenge_action_text(ch.action), "CleanUp") == 0);

	if (challenge_encode(&ch, true, NULL, &out, &outlen) == 0) {
		check_answer(&ch, out, outlen, true);
		free(out);
	}
	out = NULL;
	/* The empty message must be replaced, never sent. */
	if (challenge_encode(&ch, false, size & 1 ? "" : ch.key, &out,
			     &outlen) == 0) {
		check_answer(&ch, out, outlen, false);
		free(out);
	}
	out = NULL;
	if (codec_status_encode(400, ch.dns_name, &out, &outlen) == 0) {
		json_t *root = json_loadb(out, outlen, 0, NULL);

		fuzz_check(root != NULL);
		json_decref(root);
		free(out);
	}
	challenge_release(&ch);
	fuzz_check(ch.uid == NULL && ch.config == NULL);
	return 0;
}
