/*
 * random.h - random bytes from the kernel, for DNS message IDs, TKEY
 * names and nonces.
 */
#ifndef RFC2136_UTIL_RANDOM_H
#define RFC2136_UTIL_RANDOM_H

#include <stddef.h>

/*
 * Fill @buf with @len random bytes (getrandom(2), retried when a signal
 * interrupts it).  Returns 0, or -EIO when the kernel gave fewer bytes.
 */
int util_random(void *buf, size_t len);

#endif /* RFC2136_UTIL_RANDOM_H */
