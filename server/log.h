/*
 * log.h - the server's small logging API (internal to server/).
 *
 * One line per event: a timestamp, the level and key=value fields in text
 * format, or one JSON object per line with --logging-format=json (keys as
 * Kubernetes' structured logging: ts, level, v, msg, then the fields).
 * The level gate is checked before the arguments are evaluated.  Secrets,
 * tokens and key material never go into a log line, at any verbosity.
 *
 *	log_info("present done", "fqdn", fqdn, "zone", zone, "ms", ms_text);
 *
 * Fields are given as a NULL-terminated list of key, value string pairs;
 * a NULL value is written as an empty string.
 */
#ifndef RFC2136_LOG_H
#define RFC2136_LOG_H

#include <stdatomic.h>
#include <stdbool.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG
};
enum log_format {
	LOG_TEXT = 0,
	LOG_JSON
};

/* Verbosity (--v): debug lines with v <= this are written. */
extern atomic_int log_verbosity;

/* Choose the format; call once at start (default text on stderr). */
void log_init(enum log_format format);

/* Write one line.  @v is the verbosity of a debug line (0 otherwise). */
void log_emit(enum log_level level, int v, const char *msg, ...)
    __attribute__((sentinel));

#define log_error(...) log_emit(LOG_ERROR, 0, __VA_ARGS__, (char *)NULL)
#define log_warn(...)  log_emit(LOG_WARN, 0, __VA_ARGS__, (char *)NULL)
#define log_info(...)  log_emit(LOG_INFO, 0, __VA_ARGS__, (char *)NULL)
#define log_debug(V, ...)                                                      \
	do {                                                                   \
		if ((V) <= atomic_load_explicit(&log_verbosity,                \
						memory_order_relaxed))         \
			log_emit(LOG_DEBUG, (V), __VA_ARGS__, (char *)NULL);   \
	} while (0)

#endif /* RFC2136_LOG_H */
