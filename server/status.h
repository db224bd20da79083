/*
 * status.h - Kubernetes Status bodies for the HTTP layer's protocol errors
 * and for a request whose authorization could not be decided (internal to
 * server/).  The shape is the one kube-apiserver answers with
 * (kind Status, apiVersion v1, status Failure, message, reason, details,
 * code), so kube-aggregator and clients show our errors as they show the
 * API server's.
 */
#ifndef RFC2136_STATUS_H
#define RFC2136_STATUS_H

#include <stddef.h>

#include <jansson.h>

/* Optional details of a Status (any member may be NULL). */
struct status_details {
	const char *name;
	const char *group;
	const char *kind;
	const char *cause; /* details.causes[0].message */
};

/*
 * The Kubernetes StatusReason for HTTP status @code ("NotFound" for 404,
 * "Unauthorized" for 401, ...); "InternalError" for a code without one.
 */
const char *status_reason(int code);

/*
 * The message Kubernetes uses for @code when a request has nothing more
 * specific to say ("the server could not find the requested resource").
 */
const char *status_default_message(int code);

/*
 * A new JSON string of @s (NULL reads as "").  Our texts may quote bytes a
 * DNS server, a client or a Secret sent us; jansson refuses invalid UTF-8,
 * so in such a text every byte >= 0x80 or < 0x20 becomes '?' rather than
 * the whole message being lost.  NULL only when out of memory.
 */
json_t *status_text_new(const char *s);

/*
 * Build the Status body for @code into a malloc'ed, NUL-terminated JSON
 * text (caller frees); *@len gets its length.  The reason is
 * status_reason(@code).  @message NULL means status_default_message(@code);
 * @details may be NULL.  Text that is not UTF-8 (message, details) has its
 * bytes replaced as status_text_new() does.  Returns NULL only when out of
 * memory.  Pure: no I/O, no logging.
 */
char *status_body(int code, const char *message,
		  const struct status_details *details, size_t *len);

/*
 * The Status body of an internal error, as k8s.io/apimachinery's
 * NewInternalError(@cause) writes it: code 500, reason "InternalError",
 * message "Internal error occurred: <cause>", details.causes[0].message
 * the cause (NULL reads as "").  Malloc'ed JSON (caller frees), length in
 * *@len; NULL when out of memory.
 */
char *status_internal_error(const char *cause, size_t *len);

#endif /* RFC2136_STATUS_H */
