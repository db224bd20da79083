/*
 * util.c - small helpers of the k8s/ module: strict base64, and capped
 * file reads (util_file_read()) with this module's codes.
 */
#include <errno.h>
#include <stdlib.h>

#include "k8s/k8s_internal.h"
#include "util/file.h"

/* RFC 4648 4: value of one base64 character, or -1. */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	if (c == '+') {
		return 62;
	}
	if (c == '/') {
		return 63;
	}
	return -1;
}

int k8s_base64_decode(const char *in, size_t inlen, uint8_t **out,
		      size_t *outlen)
{
	uint8_t *buf;
	size_t n = 0;

	*out = NULL;
	*outlen = 0;
	/* The API server (Go's encoding/base64 StdEncoding) always pads. */
	if (inlen % 4 != 0) {
		return -EINVAL;
	}
	buf = malloc(inlen / 4 * 3 + 1);
	if (buf == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < inlen; i += 4) {
		int v[4];
		int pad = 0;

		for (int j = 0; j < 4; j++) {
			unsigned char c = (unsigned char)in[i + j];

			if (c == '=' && i + 4 == inlen && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			v[j] = b64_value(c);
			/* No data after padding, no stray characters. */
			if (v[j] < 0 || pad > 0) {
				util_wipe_free(buf, inlen / 4 * 3 + 1);
				return -EINVAL;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)v[2] << 6 | (uint32_t)v[3];
		/* Non-canonical encodings (bits left over) are refused. */
		if ((pad == 1 && (w & 0xff) != 0) ||
		    (pad == 2 && (w & 0xffff) != 0)) {
			util_wipe_free(buf, inlen / 4 * 3 + 1);
			return -EINVAL;
		}
		buf[n++] = (uint8_t)(w >> 16);
		if (pad < 2) {
			buf[n++] = (uint8_t)(w >> 8);
		}
		if (pad < 1) {
			buf[n++] = (uint8_t)w;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

/* util_file_read() with its codes as this module's (k8s_strerror()). */
static int file_read(const char *path, size_t max, unsigned flags,
		     uint8_t **out, size_t *len)
{
	int ret = util_file_read(path, max, flags, out, len);

	if (ret == UTIL_ETOOBIG) {
		return K8S_ETOOBIG;
	}
	if (ret == UTIL_ENOTREG) {
		return K8S_ENOTREG;
	}
	return ret;
}

int k8s_file_read(const char *path, size_t max, uint8_t **out, size_t *len)
{
	return file_read(path, max, 0, out, len);
}

int k8s_file_read_regular(const char *path, size_t max, uint8_t **out,
			  size_t *len)
{
	return file_read(path, max, UTIL_FILE_REGULAR, out, len);
}
