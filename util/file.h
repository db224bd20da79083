/*
 * file.h - reading a whole file with a size cap, and wiping what held a
 * secret.
 *
 * Key files, Secrets under --secrets-dir, kubeconfigs, CA bundles and
 * certificates are all read through util_file_read(), so every reader
 * bounds its input the same way and says "too big" with one code.
 */
#ifndef RFC2136_UTIL_FILE_H
#define RFC2136_UTIL_FILE_H

#include <stddef.h>
#include <stdint.h>

/* This module's codes; errno values are returned as negative errno. */
enum {
	UTIL_ETOOBIG = -3000, /* the file is larger than the cap */
	UTIL_ENOTREG,	      /* not a regular file (a FIFO, a device) */
	UTIL_ELAST
};

/*
 * With this flag the file is opened without blocking and anything but a
 * regular file is refused (a FIFO planted among Secrets must not hold a
 * worker until someone writes to it).
 */
#define UTIL_FILE_REGULAR 1u

/*
 * Read all of @path, at most @max bytes, into a malloc'ed buffer with a
 * NUL after the last byte (*@out, *@len; the caller frees, with
 * util_wipe_free() when it may hold a secret).  Returns 0, UTIL_ETOOBIG,
 * UTIL_ENOTREG, -EISDIR or another negative errno.  On failure nothing is
 * allocated and what was read has been wiped.
 */
int util_file_read(const char *path, size_t max, unsigned flags, uint8_t **out,
		   size_t *len);

/* Text for a UTIL_E* code or a negative errno. */
const char *util_strerror(int code);

/* Overwrite @len bytes at @p with zeros, then free @p.  NULL-safe. */
void util_wipe_free(void *p, size_t len);

#endif /* RFC2136_UTIL_FILE_H */
