/*
 * util.c - small helpers of the k8s/ module: strict base64, capped file
 * reads, wiping frees.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "k8s/k8s_internal.h"

void k8s_wipe_free(void *p, size_t len)
{
	if (p == NULL) {
		return;
	}
	explicit_bzero(p, len);
	free(p);
}

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
				k8s_wipe_free(buf, inlen / 4 * 3 + 1);
				return -EINVAL;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)v[2] << 6 | (uint32_t)v[3];
		/* Non-canonical encodings (bits left over) are refused. */
		if ((pad == 1 && (w & 0xff) != 0) ||
		    (pad == 2 && (w & 0xffff) != 0)) {
			k8s_wipe_free(buf, inlen / 4 * 3 + 1);
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

/*
 * Read @path; with @regular_only, open without blocking and refuse
 * anything but a regular file (a FIFO planted among Secrets must not hold
 * a worker until someone writes to it).
 */
static int file_read(const char *path, size_t max, bool regular_only,
		     uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t cap = 0;
	size_t n = 0;
	int fd;
	int ret;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
			    (regular_only ? O_NONBLOCK : 0));
	if (fd < 0) {
		return -errno;
	}
	if (fstat(fd, &st) != 0) {
		ret = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = -EISDIR;
		goto out;
	}
	if (regular_only && !S_ISREG(st.st_mode)) {
		ret = K8S_ENOTREG;
		goto out;
	}
	/*
	 * Start from the size fstat reports (0 for proc-like files) and grow;
	 * reading one byte past @max tells "exactly max" from "too big".
	 */
	cap = (st.st_size > 0 && (uint64_t)st.st_size < max
		   ? (size_t)st.st_size
		   : (st.st_size > 0 ? max : 4096)) +
	      2;
	buf = malloc(cap);
	if (buf == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 == cap) {
			/* Grow by copying, not realloc: the old copy is wiped.
			 */
			size_t ncap = cap * 2 > max + 2 ? max + 2 : cap * 2;
			uint8_t *nbuf = malloc(ncap);

			if (nbuf == NULL) {
				ret = -ENOMEM;
				goto out;
			}
			memcpy(nbuf, buf, n);
			k8s_wipe_free(buf, cap);
			buf = nbuf;
			cap = ncap;
		}
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			ret = -errno;
			goto out;
		}
		if (r == 0) {
			break;
		}
		n += (size_t)r;
		if (n > max) {
			ret = K8S_ETOOBIG;
			goto out;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	ret = 0;
out:
	/* The file may hold a secret: wipe what was read on failure. */
	k8s_wipe_free(buf, cap);
	close(fd);
	return ret;
}

int k8s_file_read(const char *path, size_t max, uint8_t **out, size_t *len)
{
	return file_read(path, max, false, out, len);
}

int k8s_file_read_regular(const char *path, size_t max, uint8_t **out,
			  size_t *len)
{
	return file_read(path, max, true, out, len);
}
