/*
 * watchdog.h - the HTTPS server's slow-client watchdog (internal to
 * server/).
 *
 * Every connection is watched from its accept to its close, under the
 * deadline of the stage it is in: its TLS handshake, then its first
 * request, then each later request (from the previous answer).  Past it,
 * the watchdog shuts the socket down, so a client that dribbles its
 * handshake, headers or body (slowloris), which the idle timeout alone
 * never ends, holds a connection that long at most.  While a worker holds
 * a connection's request, the connection has no deadline; the watchdog
 * looks instead for the client hanging up (POLLRDHUP on the suspended
 * socket, which the HTTP library does not poll) and marks it gone.
 */
#ifndef RFC2136_WATCHDOG_H
#define RFC2136_WATCHDOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Which deadline a connection is under. */
enum watch_stage {
	WATCH_HANDSHAKE = 0, /* --tls-handshake-timeout */
	WATCH_FIRST_REQUEST, /* --first-request-timeout */
	WATCH_REQUEST,	     /* --request-read-timeout */
};

/* One connection as the watchdog sees it, in the connection's context. */
struct watch {
	/*
	 * Monotonic ms by which the client must have sent its request (from
	 * the accept or the previous answer); 0 while a worker holds the
	 * request, or once the watchdog shut the socket down.
	 */
	_Atomic uint64_t deadline_ms;
	uint64_t accepted_ms;	/* monotonic ms of the accept */
	bool requested;		/* polling thread: a request came in on it */
	_Atomic unsigned stage; /* WATCH_*: the deadline it is under */
	atomic_bool held;	/* a worker holds its request (suspended) */
	atomic_bool gone;	/* the client hung up while it was held */
	int fd;
	struct watch *prev, *next; /* on the watchdog's list */
};

struct watchdog_opts {
	unsigned handshake_timeout_ms;	   /* from the accept */
	unsigned first_request_timeout_ms; /* from the accept */
	unsigned read_timeout_ms; /* from the accept or the last answer */
	unsigned max_connections; /* how many it may watch at once */
	/*
	 * A held request's client hung up: a request that waits for its
	 * namespace's share may now go.  Called without the list's lock.
	 */
	void (*hangup)(void *arg);
	void *arg;
};

struct watchdog;

/*
 * Start the watchdog's thread.  Returns 0, -ENOMEM, or -EAGAIN when the
 * thread cannot be started.
 */
int watchdog_start(struct watchdog **out, const struct watchdog_opts *opts);

/*
 * Stop the thread (no more deadlines are enforced); connections may still
 * leave the list until watchdog_free().  NULL-safe.
 */
void watchdog_stop(struct watchdog *wd);

/* Stop (if running) and free.  NULL-safe. */
void watchdog_free(struct watchdog *wd);

/* Watch a connection accepted now on @fd (-1: none): its handshake's
 * deadline starts. */
void watchdog_add(struct watchdog *wd, struct watch *w, int fd);

/* The connection closed: stop watching it. */
void watchdog_remove(struct watchdog *wd, struct watch *w);

/* The TLS handshake is done: the first request's deadline from now on. */
void watch_handshake_done(const struct watchdog *wd, struct watch *w);

/* A request's headers came in: the first one's body has what is left of
 * the read timeout, counted from the accept.  NULL-safe. */
void watch_request_started(const struct watchdog *wd, struct watch *w);

/* A new window for the client to send its next request in.  NULL-safe. */
void watch_renew(const struct watchdog *wd, struct watch *w);

/* A worker takes the request: no deadline while it holds it.  NULL-safe. */
void watch_hold(struct watch *w);

/* The worker is done: back to the client's pace.  NULL-safe. */
void watch_release(const struct watchdog *wd, struct watch *w);

/* Whether the client hung up while its request was held.  NULL-safe. */
bool watch_gone(const struct watch *w);

#endif /* RFC2136_WATCHDOG_H */
