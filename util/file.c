/*
 * file.c - a capped whole-file read, and wiping freed secrets.
 */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const util_errors[] = {
    [UTIL_ETOOBIG - UTIL_ETOOBIG] = "the file is too big",
    [UTIL_ENOTREG - UTIL_ETOOBIG] = "not a regular file",
};
_Static_assert(sizeof(util_errors) / sizeof(util_errors[0]) ==
		   UTIL_ELAST - UTIL_ETOOBIG,
	       "one text per util code");

const char *util_strerror(int code)
{
	if (code >= UTIL_ETOOBIG && code < UTIL_ELAST)
		return util_errors[code - UTIL_ETOOBIG];
	return strerror(-code);
}

void util_wipe_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

/*
 * The first buffer size: what fstat reports (0 for proc-like files, which
 * then grow from 4 KiB), capped at @max, plus one byte to tell "exactly
 * @max" from "too big" and one for the NUL.
 */
static size_t first_cap(const struct stat *st, size_t max)
{
	size_t size = 4096;

	if (st->st_size > 0)
		size = (uint64_t)st->st_size < max ? (size_t)st->st_size : max;
	return size + 2;
}

/* Grow @buf (holding @n bytes) to twice its size, at most @max + 2. */
static int grow(uint8_t **buf, size_t *cap, size_t n, size_t max)
{
	size_t ncap = *cap * 2 > max + 2 ? max + 2 : *cap * 2;
	uint8_t *nbuf = malloc(ncap);

	if (nbuf == NULL)
		return -ENOMEM;
	/* Copy rather than realloc: the old copy is wiped, not left behind. */
	memcpy(nbuf, *buf, n);
	util_wipe_free(*buf, *cap);
	*buf = nbuf;
	*cap = ncap;
	return 0;
}

/* Open @path as @flags ask; 0 with *@fd and *@st, or a negative code. */
static int file_open(const char *path, unsigned flags, int *fd, struct stat *st)
{
	bool regular = flags & UTIL_FILE_REGULAR;

	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
			     (regular ? O_NONBLOCK : 0));
	if (*fd < 0)
		return -errno;
	if (fstat(*fd, st) != 0)
		return -errno;
	if (S_ISDIR(st->st_mode))
		return -EISDIR;
	if (regular && !S_ISREG(st->st_mode))
		return UTIL_ENOTREG;
	return 0;
}

int util_file_read(const char *path, size_t max, unsigned flags, uint8_t **out,
		   size_t *len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	int fd = -1;
	int ret;

	*out = NULL;
	*len = 0;
	ret = file_open(path, flags, &fd, &st);
	if (ret < 0)
		goto out;
	cap = first_cap(&st, max);
	buf = malloc(cap);
	if (buf == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 == cap && (ret = grow(&buf, &cap, n, max)) < 0)
			goto out;
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			ret = UTIL_ETOOBIG;
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
	util_wipe_free(buf, cap);
	if (fd >= 0)
		close(fd);
	return ret;
}
