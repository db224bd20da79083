/*
 * metrics_http.c - the metrics server (see metrics.h): GET /metrics over
 * plain HTTP on its own port and its own libmicrohttpd daemon, apart from
 * the webhook's HTTPS server; a scrape renders the registry (metrics.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "server/http.h"
#include "server/listen.h"
#include "server/metrics.h"

struct metrics_server {
	struct MHD_Daemon *daemon;
	unsigned port;
	struct listen_mhd_log mhd_log; /* MHD's word while starting */
	char address[64];	       /* what it listens on, for the log */
};

/* Split "HOST:PORT" into @host (brackets removed) and @port. */
static int address_split(const char *text, char *host, size_t hostlen,
			 unsigned *port)
{
	const char *colon = strrchr(text, ':');
	char *end = NULL;
	size_t hl;

	if (colon == NULL || colon[1] == '\0')
		return -EINVAL;
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || p > 65535 || colon[1] == '-' ||
	    colon[1] == '+' || colon[1] == ' ')
		return -EINVAL;
	hl = (size_t)(colon - text);
	if (hl >= 2 && text[0] == '[' && text[hl - 1] == ']') {
		text++;
		hl -= 2;
	} else if (memchr(text, ':', hl) != NULL) {
		return -EINVAL; /* IPv6 without brackets is ambiguous */
	}
	if (hl >= hostlen)
		return -EINVAL;
	memcpy(host, text, hl);
	host[hl] = '\0';
	*port = (unsigned)p;
	return 0;
}

int metrics_address_check(const char *text, bool *off)
{
	struct listen_addr la;
	char host[128];
	unsigned port;

	*off = text != NULL && strcmp(text, "0") == 0;
	if (*off)
		return 0;
	if (text == NULL ||
	    address_split(text, host, sizeof(host), &port) < 0 ||
	    listen_addr_parse(&la, host, port) < 0)
		return -EINVAL;
	return 0;
}

static enum MHD_Result metrics_handle(void *cls, struct MHD_Connection *mc,
				      const char *url, const char *method,
				      const char *version,
				      const char *upload_data,
				      size_t *upload_data_size, void **req_cls)
{
	static const char not_found[] = "404 page not found\n";
	static const char not_allowed[] = "405 method not allowed\n";
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned code;
	char *body = NULL;
	size_t len = 0;

	(void)cls;
	(void)version;
	(void)upload_data;
	if (*req_cls == NULL) {
		/* First call: headers only; answer once the body is in. */
		*req_cls = (void *)1;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0; /* no body is wanted: drop it */
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") != 0) {
		code = MHD_HTTP_NOT_FOUND;
		resp = MHD_create_response_from_buffer(strlen(not_found),
						       (void *)not_found,
						       MHD_RESPMEM_PERSISTENT);
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		code = MHD_HTTP_METHOD_NOT_ALLOWED;
		resp = MHD_create_response_from_buffer(strlen(not_allowed),
						       (void *)not_allowed,
						       MHD_RESPMEM_PERSISTENT);
		if (resp != NULL)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
						"GET, HEAD");
	} else {
		if (metrics_render(&body, &len) < 0)
			return MHD_NO;
		code = MHD_HTTP_OK;
		resp = MHD_create_response_from_buffer(len, body,
						       MHD_RESPMEM_MUST_FREE);
		if (resp == NULL)
			free(body);
		else
			MHD_add_response_header(resp,
						MHD_HTTP_HEADER_CONTENT_TYPE,
						METRICS_CONTENT_TYPE);
	}
	if (resp == NULL)
		return MHD_NO;
	if (code != MHD_HTTP_OK)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"text/plain; charset=utf-8");
	ret = MHD_queue_response(mc, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

int metrics_server_start(struct metrics_server **out, const char *address,
			 char *err, size_t errlen)
{
	struct metrics_server *s = NULL;
	struct listen_addr la;
	char host[128];
	unsigned port;
	int ret = -EINVAL;

	*out = NULL;
	if (address_split(address, host, sizeof(host), &port) < 0 ||
	    listen_addr_parse(&la, host, port) < 0) {
		snprintf(err, errlen,
			 "--metrics-bind-address %s: not HOST:PORT with an "
			 "IP address",
			 address);
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	listen_addr_fallback(&la, "the metrics port");
	/*
	 * Plain HTTP, one thread: a scrape renders a few KiB from atomics.
	 * Bounded: few connections, a short idle timeout, small buffers.
	 */
	listen_mhd_log_starting(&s->mhd_log, true);
	/* clang-format off */
	s->daemon = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
		MHD_USE_ERROR_LOG | listen_addr_mhd_flags(&la),
	    (uint16_t)port, NULL, NULL, metrics_handle, NULL,
	    /* First, so that every message of MHD comes through it. */
	    MHD_OPTION_EXTERNAL_LOGGER, listen_mhd_log, &s->mhd_log,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&la.ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
	    MHD_OPTION_END);
	/* clang-format on */
	listen_mhd_log_starting(&s->mhd_log, false);
	if (s->daemon == NULL) {
		listen_addr_describe(&la, (int)port, s->address,
				     sizeof(s->address));
		snprintf(err, errlen,
			 "--metrics-bind-address %s: cannot listen on %s: %s",
			 address, s->address,
			 listen_mhd_log_cause(&s->mhd_log));
		ret = -EADDRNOTAVAIL;
		goto out;
	}
	s->port = http_daemon_port(s->daemon, port);
	listen_addr_describe(&la, (int)s->port, s->address, sizeof(s->address));
	*out = s;
	s = NULL;
	ret = 0;
out:
	metrics_server_stop(s);
	return ret;
}

unsigned metrics_server_port(const struct metrics_server *server)
{
	return server != NULL ? server->port : 0;
}

const char *metrics_server_address(const struct metrics_server *server)
{
	return server != NULL ? server->address : "";
}

void metrics_server_stop(struct metrics_server *server)
{
	if (server == NULL)
		return;
	if (server->daemon != NULL)
		MHD_stop_daemon(server->daemon);
	free(server);
}
