/*
 * fuzz_k8s_json.c - the decoders of Kubernetes API answers (k8s/json.c):
 * a Secret's data key (base64), a ConfigMap's data key, a
 * SubjectAccessReview's status, and a Status body's message.
 *
 * Input: byte 0 % 4 picks the decoder (0 Secret, 1 ConfigMap, 2 review,
 * 3 Status); the rest is the response body.
 */
#include <ctype.h>

#include "k8s/k8s_internal.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body;
	char err[512], text[256];
	int ret;

	if (size < 1)
		return 0;
	body = (const char *)data + 1;
	size--;
	err[0] = '\0';
	switch (data[0] % 4) {
	case 0: {
		uint8_t *value = NULL;
		size_t vlen = 0;

		ret =
		    k8s_secret_parse(body, size, "cert-manager", "tsig-secret",
				     "secret", &value, &vlen, err, sizeof(err));
		if (ret == 0) {
			fuzz_check(value != NULL && value[vlen] == '\0');
			k8s_secret_free(value, vlen);
		} else {
			fuzz_check(value == NULL && err[0] != '\0');
		}
		break;
	}
	case 1: {
		char *value = NULL;

		ret = k8s_configmap_parse(body, size, "kube-system",
					  "extension-apiserver-authentication",
					  "requestheader-client-ca-file",
					  &value, err, sizeof(err));
		if (ret == 0)
			fuzz_check(value != NULL);
		else
			fuzz_check(value == NULL && err[0] != '\0');
		free(value);
		break;
	}
	case 2: {
		bool allowed = true;

		text[0] = '\0';
		ret = k8s_review_parse(body, size, &allowed, text, sizeof(text),
				       err, sizeof(err));
		fuzz_check_text(text, sizeof(text));
		/* Fails closed: an undecodable answer never allows. */
		if (ret != 0)
			fuzz_check(!allowed && err[0] != '\0');
		break;
	}
	default:
		k8s_status_message(body, size, text, sizeof(text));
		fuzz_check_text(text, sizeof(text));
		for (const char *p = text; *p != '\0'; p++)
			fuzz_check(isprint((unsigned char)*p));
		break;
	}
	fuzz_check_text(err, sizeof(err));
	return 0;
}
