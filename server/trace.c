/*
 * trace.c - the request context of a thread and the observers of dns/
 * and k8s/ (see trace.h).
 */
#include <stdio.h>

#include "dns/dns.h"
#include "k8s/k8s.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/trace.h"

/* A message dump fits a log line (log.c caps lines at 4096 bytes). */
#define DUMP_MAX 3000

static _Thread_local const struct trace_ctx *current;
static const struct trace_ctx none;

void trace_ctx_set(const struct trace_ctx *ctx)
{
	current = ctx;
}

const struct trace_ctx *trace_ctx_get(void)
{
	return current != NULL ? current : &none;
}

static _Thread_local const atomic_bool *cancel;

void trace_cancel_set(const atomic_bool *gone)
{
	cancel = gone;
}

bool trace_cancelled(void)
{
	return cancel != NULL && atomic_load(cancel);
}

void trace_dns(void *arg, const char *event, const char *proto,
	       const char *server, const uint8_t *wire, size_t len)
{
	const struct trace_ctx *c = trace_ctx_get();
	char dump[DUMP_MAX], size[24];

	(void)arg;
	/* Rendering costs more than the gate: check it first. */
	if (atomic_load_explicit(&log_verbosity, memory_order_relaxed) < 4)
		return;
	dns_msg_dump(wire, len, dump, sizeof(dump));
	snprintf(size, sizeof(size), "%zu", len);
	log_debug(4,
		  event != NULL && event[0] == 's' ? "dns message sent"
						   : "dns message received",
		  "request_id", c->request_id, "action", c->action, "fqdn",
		  c->fqdn, "zone", c->zone, "nameserver", server, "protocol",
		  proto, "bytes", size, "message", dump);
}

void trace_k8s(void *arg, const struct k8s_call_info *info)
{
	const struct trace_ctx *c = trace_ctx_get();
	char status[16], ms[24];

	(void)arg;
	metrics_k8s_call(info->call, info->status, (uint64_t)info->ms * 1000);
	snprintf(status, sizeof(status), "%ld", info->status);
	snprintf(ms, sizeof(ms), "%u", info->ms);
	if (info->code != 0)
		log_debug(2, "kubernetes api call", "request_id", c->request_id,
			  "call", info->call, "method", info->method, "path",
			  info->path, "status", status, "ms", ms, "error",
			  k8s_strerror(info->code));
	else
		log_debug(2, "kubernetes api call", "request_id", c->request_id,
			  "call", info->call, "method", info->method, "path",
			  info->path, "status", status, "ms", ms);
}
