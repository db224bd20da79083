/*
 * clock.h - the monotonic clock every module measures time on.
 *
 * Deadlines, cache expiry and timed waits all use CLOCK_MONOTONIC, so a
 * wall-clock step (NTP, an operator's date command) changes none of them.
 */
#ifndef RFC2136_UTIL_CLOCK_H
#define RFC2136_UTIL_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC (an arbitrary origin: compare only). */
uint64_t util_now_ms(void);

/*
 * The CLOCK_MONOTONIC time @ms from now, for pthread_cond_timedwait() on a
 * condition variable made by util_cond_init().
 */
struct timespec util_deadline_in(uint64_t ms);

/*
 * Initialise @cond so that its timed waits are on CLOCK_MONOTONIC.
 * Returns 0 or a negative errno.
 */
int util_cond_init(pthread_cond_t *cond);

#endif /* RFC2136_UTIL_CLOCK_H */
