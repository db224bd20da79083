/*
 * gss_client - drive the GSS-TSIG client of dns/ for the system tests:
 * one dns_gss_ctx shared by every step, so context reuse, renegotiation
 * and the TKEY delete can be observed from outside.
 *
 *   gss_client NAMESERVER ZONE PRINCIPAL KEYTAB SERVICE_HOST STEP...
 *
 * Steps, run in order:
 *   add:FQDN:VALUE     present one TXT value
 *   del:FQDN:VALUE     delete it
 *   adds:N:FQDN        N adds of distinct values at FQDN (then N deletes)
 *   sleep:SECONDS      wait
 *   wait:FIFO          block until a line arrives on FIFO
 *   forget             TKEY-delete the keys on the server, keep contexts
 *   threads:N:M:FQDN   N threads doing M add+delete pairs each
 * After each step a line "STEP ok|fail negotiations=K[: diagnosis]".
 * Exit 0 when every step succeeded.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dns/gss_internal.h"

static struct dns_addr server;
static struct dns_opts opts;
static const char *zone;

static int update(const char *fqdn, enum dns_action action, const char *value,
		  char *msg, size_t len)
{
	struct dns_result res;
	int ret;

	ret = dns_update(&server, 1, &opts,
			 &(struct dns_change){zone, fqdn, action, value, 60},
			 &res);
	if (ret != 0)
		dns_result_explain(&res, action == DNS_ADD ? "add" : "delete",
				   NULL, zone, fqdn, msg, len);
	return ret;
}

struct worker {
	pthread_t tid;
	int id, count;
	const char *fqdn;
	int failed;
	char msg[2048];
};

static void *work(void *arg)
{
	struct worker *w = arg;
	char value[64];

	for (int i = 0; i < w->count; i++) {
		snprintf(value, sizeof(value), "t%d-%d", w->id, i);
		if (update(w->fqdn, DNS_ADD, value, w->msg, sizeof(w->msg)) ||
		    update(w->fqdn, DNS_DELETE, value, w->msg,
			   sizeof(w->msg))) {
			w->failed++;
			break;
		}
	}
	return NULL;
}

static int step(struct dns_gss_ctx *ctx, char *spec)
{
	char msg[4096] = "";
	char *a = strchr(spec, ':'), *b = NULL;
	int ret = 0;

	if (a != NULL) {
		*a++ = '\0';
		b = strchr(a, ':');
		if (b != NULL)
			*b++ = '\0';
	}
	if (strcmp(spec, "add") == 0 && b != NULL) {
		ret = update(a, DNS_ADD, b, msg, sizeof(msg));
	} else if (strcmp(spec, "del") == 0 && b != NULL) {
		ret = update(a, DNS_DELETE, b, msg, sizeof(msg));
	} else if (strcmp(spec, "adds") == 0 && b != NULL) {
		long n = strtol(a, NULL, 10);
		char value[32];

		for (long i = 0; i < n && ret == 0; i++) {
			snprintf(value, sizeof(value), "v%ld", i);
			ret = update(b, DNS_ADD, value, msg, sizeof(msg));
		}
		for (long i = 0; i < n && ret == 0; i++) {
			snprintf(value, sizeof(value), "v%ld", i);
			ret = update(b, DNS_DELETE, value, msg, sizeof(msg));
		}
	} else if (strcmp(spec, "sleep") == 0 && a != NULL) {
		sleep((unsigned)strtoul(a, NULL, 10));
	} else if (strcmp(spec, "wait") == 0 && a != NULL) {
		/* Block until a line can be read from the FIFO at @a. */
		FILE *f = fopen(a, "r");
		char line[16];

		if (f == NULL || fgets(line, sizeof(line), f) == NULL)
			ret = -1;
		if (f != NULL)
			fclose(f);
	} else if (strcmp(spec, "forget") == 0) {
		ret = dns_gss_keys_delete(ctx, 2000) > 0 ? 0 : -1;
		if (ret != 0)
			snprintf(msg, sizeof(msg), "no key deleted");
	} else if (strcmp(spec, "threads") == 0 && b != NULL) {
		char *c = strchr(b, ':');
		struct worker w[16];
		int n = (int)strtol(a, NULL, 10);

		if (c == NULL || n < 1 || n > 16)
			return -1;
		*c++ = '\0';
		for (int i = 0; i < n; i++) {
			memset(&w[i], 0, sizeof(w[i]));
			w[i].id = i;
			w[i].count = (int)strtol(b, NULL, 10);
			w[i].fqdn = c;
			pthread_create(&w[i].tid, NULL, work, &w[i]);
		}
		for (int i = 0; i < n; i++) {
			pthread_join(w[i].tid, NULL);
			if (w[i].failed) {
				ret = -1;
				snprintf(msg, sizeof(msg), "%s", w[i].msg);
			}
		}
	} else {
		fprintf(stderr, "unknown step %s\n", spec);
		return -1;
	}
	printf("%s %s negotiations=%lu%s%s\n", spec, ret == 0 ? "ok" : "fail",
	       dns_gss_negotiations(ctx), msg[0] ? ": " : "", msg);
	fflush(stdout);
	return ret;
}

int main(int argc, char **argv)
{
	struct dns_gss_config cfg = {0};
	struct dns_gss_ctx *ctx = NULL;
	char err[512];
	int failed = 0;

	if (argc < 7) {
		fprintf(stderr, "usage: gss_client NAMESERVER ZONE PRINCIPAL "
				"KEYTAB SERVICE_HOST STEP...\n");
		return 2;
	}
	if (dns_addr_parse(&server, argv[1], err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	zone = argv[2];
	cfg.principal = argv[3];
	cfg.keytab_path = argv[4];
	cfg.service_host = argv[5];
	if (dns_gss_new(&ctx, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	opts.proto = DNS_PROTO_TCP;
	opts.timeout_ms = 5000;
	opts.gss = ctx;
	for (int i = 6; i < argc; i++)
		if (step(ctx, argv[i]) != 0)
			failed++;
	dns_gss_free(ctx, 2000);
	return failed ? 1 : 0;
}
