/*
 * random.c - random bytes from the kernel.
 */
#include "util/random.h"

#include <errno.h>
#include <sys/random.h>
#include <sys/types.h>

int util_random(void *buf, size_t len)
{
	ssize_t n;

	/* getrandom() with no flags blocks only before the pool is ready;
	 * up to 256 bytes are never cut short (random(7)). */
	do {
		n = getrandom(buf, len, 0);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -EIO;
}
