/*
 * test_solver.c - solver_handle() end to end without Kubernetes: secrets
 * from a temporary --secrets-dir tree, DNS from a tiny in-process responder
 * that answers every UPDATE NOERROR (unsigned), from a black hole that never
 * answers, or from a closed port.  Checks the answers' shapes and the
 * messages a user reads: missing Secret, missing key, config errors, the
 * unsigned-update note, the DNS diagnosis, the secret cache, and many
 * calls at once.  The responder answers no queries, so every config
 * turns the check after a write off (verify: false); system tests cover it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "k8s/k8s.h"
#include "server/solver.h"

#define SECRET "uqXYH0bkcZUcErK5458t7rfI0QG+OR8aih0zUhEn4rE="

/* A UDP socket on 127.0.0.1 that answers UPDATEs NOERROR, or never. */
struct responder {
	int fd;
	uint16_t port;
	bool silent;
	atomic_bool stop;
	atomic_int answered;
	pthread_t thread;
};

static void *responder_run(void *arg)
{
	struct responder *r = arg;
	uint8_t buf[4096];

	while (!atomic_load(&r->stop)) {
		struct sockaddr_in from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(r->fd, buf, sizeof(buf), 0,
				     (struct sockaddr *)&from, &fromlen);
		size_t q = 12;

		if (n < 12 || r->silent)
			continue;
		/* Keep the header and the zone (question) section only. */
		while (q < (size_t)n && buf[q] != 0)
			q += buf[q] + 1;
		q += 5;
		if (q > (size_t)n)
			continue;
		buf[2] |= 0x80;	       /* QR */
		buf[3] &= 0xf0;	       /* RCODE NOERROR */
		memset(buf + 6, 0, 6); /* no prerequisites, updates, extras */
		sendto(r->fd, buf, q, 0, (struct sockaddr *)&from, fromlen);
		atomic_fetch_add(&r->answered, 1);
	}
	return NULL;
}

static void responder_start(struct responder *r, bool silent)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct timeval tv = {.tv_usec = 50000};
	socklen_t len = sizeof(sa);

	memset(r, 0, sizeof(*r));
	r->silent = silent;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(r->fd >= 0);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(r->fd, (struct sockaddr *)&sa, &len), 0);
	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	r->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&r->thread, NULL, responder_run, r), 0);
}

static void responder_stop(struct responder *r)
{
	atomic_store(&r->stop, true);
	pthread_join(r->thread, NULL);
	close(r->fd);
}

/* A port on 127.0.0.1 where nothing listens (bound, then closed). */
static uint16_t closed_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* The rig shared by the tests. */
struct rig {
	char dir[64];
	struct k8s_client *k8s;
	struct responder ok;	/* answers NOERROR */
	struct responder black; /* never answers */
	uint16_t closed;
};

static void file_write(const char *dir, const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (char *p = path + strlen(dir) + 1; *p != '\0'; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0700);
			*p = '/';
		}
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));
	char err[256];

	assert_non_null(r);
	snprintf(r->dir, sizeof(r->dir), "/tmp/test_solver.XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	file_write(r->dir, "ns1/tsig/secret", SECRET "\n");
	file_write(r->dir, "ns1/tsig/other", "not a key\n");
	file_write(r->dir, "ns1/keyfile/key",
		   "key \"acme-update\" {\n\talgorithm hmac-sha256;\n"
		   "\tsecret \"" SECRET "\";\n};\n");
	assert_int_equal(k8s_client_new_dir(&r->k8s, r->dir, err, sizeof(err)),
			 0);
	responder_start(&r->ok, false);
	responder_start(&r->black, true);
	r->closed = closed_port();
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;
	char cmd[128];

	responder_stop(&r->ok);
	responder_stop(&r->black);
	k8s_client_free(r->k8s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
	assert_int_equal(system(cmd), 0);
	free(r);
	return 0;
}

/* Which server a row's config names. */
enum target {
	T_OK,
	T_BLACK,
	T_CLOSED
};

struct solver_case {
	const char *name;
	const char *action;
	const char *ns;
	const char *config; /* JSON object text with %s for "host:port", or
			       NULL for no config */
	enum target target;
	int status;	     /* HTTP status */
	int success;	     /* 1, 0, or -1 for a Status body */
	const char *want[3]; /* substrings of the message */
};

#define REF(name, key)                                                         \
	"\"tsigSecretSecretRef\":{\"name\":\"" name "\",\"key\":\"" key "\"}"

static const struct solver_case cases[] = {
    {"unsigned present succeeds",
     "Present",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\"}",
     T_OK,
     201,
     1,
     {NULL}},
    {"unsigned cleanup succeeds",
     "CleanUp",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\"}",
     T_OK,
     201,
     1,
     {NULL}},
    {"unsigned over TCP to a UDP-only server fails",
     "Present",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\",\"protocol\":\"TCP\",\"timeout\":\"1s\"}",
     T_OK,
     201,
     0,
     {"update of _acme-challenge.a.test. in zone a.test. at 127.0.0.1:",
      "unsigned"}},
    {"failover from a closed port to a good server",
     "Present",
     "ns1",
     "{\"verify\":false,\"nameservers\":[\"%s\",\"%s\"]}",
     T_CLOSED,
     201,
     1,
     {NULL}},
    {"config absent",
     "Present",
     "ns1",
     NULL,
     T_OK,
     201,
     0,
     {"invalid solver config (the Issuer's webhook.config): config is "
      "missing"}},
    {"config field of the wrong type",
     "Present",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\",\"ttl\":\"60\"}",
     T_OK,
     201,
     0,
     {"config.ttl must be an integer, got a string"}},
    {"missing Secret",
     "Present",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\",\"tsigKeyName\":\"k\",\"tsigAlgorithm\":"
     "\"hmac-sha256\"," REF("nope", "secret") "}",
     T_OK,
     201,
     0,
     {"Secret ns1/nope not found", "create it in namespace ns1", "key secret"}},
    {"Secret in another namespace is not seen",
     "Present",
     "ns2",
     "{\"verify\":false,\"nameserver\":\"%s\",\"tsigKeyName\":\"k\",\"tsigAlgorithm\":"
     "\"hmac-sha256\"," REF("tsig", "secret") "}",
     T_OK,
     201,
     0,
     {"Secret ns2/tsig not found"}},
    {"missing key",
     "Present",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\",\"tsigKeyName\":\"k\",\"tsigAlgorithm\":"
     "\"hmac-sha256\"," REF("tsig", "tsig-secret") "}",
     T_OK,
     201,
     0,
     {"Secret ns1/tsig has no key", "tsig-secret",
      "config.tsigSecretSecretRef.key"}},
    {"bare secret without algorithm",
     "Present",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\",\"tsigKeyName\":\"k\"," REF("tsig", "secret") "}",
     T_OK,
     201,
     0,
     {"Secret ns1/tsig key secret", "tsigAlgorithm"}},
    {"bare secret without key name",
     "Present",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\",\"tsigAlgorithm\":\"hmac-sha256\"," REF(
	 "tsig", "secret") "}",
     T_OK,
     201,
     0,
     {"Secret ns1/tsig key secret", "tsigKeyName"}},
    {"malformed secret",
     "Present",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\",\"tsigKeyName\":\"k\",\"tsigAlgorithm\":"
     "\"hmac-sha256\"," REF("tsig", "other") "}",
     T_OK,
     201,
     0,
     {"Secret ns1/tsig key other"}},
    {"key file conflicting with tsigKeyName",
     "Present",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\",\"tsigKeyName\":\"other-key\"," REF("keyfile",
								 "key") "}",
     T_OK,
     201,
     0,
     {"Secret ns1/keyfile key key"}},
    /* A signed update to the unsigned responder: the answer is not
     * signed, which must never count as success (DESIGN.md 4). */
    {"signed update, unsigned answer",
     "Present",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\",\"tsigKeyName\":\"k\",\"tsigAlgorithm\":"
     "\"HMACSHA256\"," REF("tsig", "secret") "}",
     T_OK,
     201,
     0,
     {"update of _acme-challenge.a.test. in zone a.test. at 127.0.0.1:"}},
    {"key file names key and algorithm",
     "CleanUp",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\"," REF("keyfile", "key") "}",
     T_OK,
     201,
     0,
     {"update of _acme-challenge.a.test. in zone a.test. at 127.0.0.1:"}},
    {"closed port",
     "Present",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\",\"timeout\":\"1s\"}",
     T_CLOSED,
     201,
     0,
     {"update of _acme-challenge.a.test. in zone a.test. at 127.0.0.1:",
      "unsigned"}},
    {"silent server",
     "Present",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\",\"timeout\":\"300ms\"}",
     T_BLACK,
     201,
     0,
     {"update of _acme-challenge.a.test. in zone a.test. at 127.0.0.1:"}},
    {"config.zone overrides resolvedZone",
     "Present",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\",\"zone\":\"_acme-challenge.a.test\","
     "\"timeout\":\"300ms\"}",
     T_BLACK,
     201,
     0,
     {"in zone _acme-challenge.a.test. at 127.0.0.1:"}},
    {"config.zone not above the record",
     "Present",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\",\"zone\":\"other.test\"}",
     T_OK,
     201,
     0,
     {"update of _acme-challenge.a.test. in zone other.test. failed",
      "set config.zone"}},
    {"namespace with a path",
     "Present",
     "../ns1",
     "{\"verify\":false,\"nameserver\":\"%s\"}",
     T_OK,
     201,
     0,
     {"request.resourceNamespace \"../ns1\" is not a namespace name"}},
    {"secret ref namespace refused",
     "Present",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\",\"tsigSecretSecretRef\":{\"name\":\"tsig\","
     "\"key\":\"secret\",\"namespace\":\"ns2\"}}",
     T_OK,
     201,
     0,
     {"config.tsigSecretSecretRef.namespace is not accepted"}},
    {"unknown action",
     "Delete",
     "ns1",
     "{\"verify\":false,\"nameserver\":\"%s\"}",
     T_OK,
     400,
     -1,
     {"invalid ChallengePayload: request.action must be Present"}},
};

static char *body_build_ports(uint16_t port, uint16_t good_port,
			      const struct solver_case *c)
{
	char addr[64];
	char good[64];
	char config[1024] = "null";
	char *body;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	snprintf(good, sizeof(good), "127.0.0.1:%u", good_port);
	/* c->config is one of the literal templates of the table above. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (c->config != NULL)
		snprintf(config, sizeof(config), c->config, addr, good, good);
#pragma GCC diagnostic pop
	assert_true(asprintf(&body,
			     "{\"request\":{\"uid\":\"uid-%s\",\"action\":"
			     "\"%s\",\"type\":\"dns-01\",\"dnsName\":"
			     "\"a.test\",\"key\":\"value-1\","
			     "\"resourceNamespace\":\"%s\",\"resolvedFQDN\":"
			     "\"_acme-challenge.a.test.\",\"resolvedZone\":"
			     "\"a.test.\",\"allowAmbientCredentials\":false,"
			     "\"config\":%s}}",
			     c->name, c->action, c->ns, config) > 0);
	return body;
}

static char *body_build(const struct rig *r, const struct solver_case *c)
{
	uint16_t port = c->target == T_OK      ? r->ok.port
			: c->target == T_BLACK ? r->black.port
					       : r->closed;

	return body_build_ports(port, r->ok.port, c);
}

/* Check one answer against its row: status, shape, message words. */
static void answer_check(const struct solver_case *c, int status,
			 const char *out, size_t outlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(out, outlen, 0, &jerr);
	const char *msg = NULL;
	json_t *resp;

	assert_non_null(root);
	if (c->success < 0) {
		assert_string_equal(
		    json_string_value(json_object_get(root, "kind")), "Status");
		assert_int_equal(
		    json_integer_value(json_object_get(root, "code")), 400);
		assert_string_equal(
		    json_string_value(json_object_get(root, "reason")),
		    "BadRequest");
		msg = json_string_value(json_object_get(root, "message"));
	} else {
		resp = json_object_get(root, "response");
		assert_string_equal(
		    json_string_value(json_object_get(root, "kind")),
		    "ChallengePayload");
		assert_true(json_is_boolean(json_object_get(resp, "success")));
		msg = json_string_value(json_object_get(
		    json_object_get(resp, "status"), "message"));
		if (json_is_true(json_object_get(resp, "success")) !=
		    (c->success == 1)) {
			print_error("case \"%s\": got %s\n", c->name, out);
			fail();
		}
		if (c->success == 0)
			assert_true(msg != NULL && msg[0] != '\0');
		else
			assert_null(json_object_get(resp, "status"));
	}
	assert_int_equal(status, c->status);
	for (size_t i = 0; i < 3 && c->want[i] != NULL; i++) {
		if (msg == NULL || strstr(msg, c->want[i]) == NULL) {
			print_error(
			    "case \"%s\": message \"%s\" lacks \"%s\"\n",
			    c->name, msg ? msg : "(none)", c->want[i]);
			fail();
		}
	}
	/* The secret never leaks into an answer. */
	assert_null(strstr(out, SECRET));
	json_decref(root);
}

static void test_cases(void **state)
{
	struct rig *r = *state;
	struct solver_opts opts = {.secrets = r->k8s};
	struct solver *s;

	assert_int_equal(solver_new(&s, &opts), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = body_build(r, &cases[i]);
		char *out = NULL;
		size_t outlen = 0;
		int status = solver_handle(s, body, strlen(body), "req-1", &out,
					   &outlen);

		assert_non_null(out);
		answer_check(&cases[i], status, out, outlen);
		free(out);
		free(body);
	}
	solver_free(s);
}

/* Bodies that are not ChallengePayloads get a 400 Status. */
static void test_bad_bodies(void **state)
{
	static const char *const bodies[] = {"", "[]", "{", "{\"request\":1}",
					     "{\"a\":1,\"a\":2}"};
	struct rig *r = *state;
	struct solver_opts opts = {.secrets = r->k8s};
	struct solver *s;

	assert_int_equal(solver_new(&s, &opts), 0);
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char *out = NULL;
		size_t outlen = 0;
		json_t *root;

		assert_int_equal(solver_handle(s, bodies[i], strlen(bodies[i]),
					       NULL, &out, &outlen),
				 400);
		root = json_loadb(out, outlen, 0, NULL);
		assert_non_null(root);
		assert_string_equal(
		    json_string_value(json_object_get(root, "status")),
		    "Failure");
		assert_non_null(
		    strstr(json_string_value(json_object_get(root, "message")),
			   "invalid ChallengePayload: "));
		json_decref(root);
		free(out);
	}
	solver_free(s);
}

/* What a call finds: the message of a failure, "" for success. */
static char *call_body(struct solver *s, char *body)
{
	char *out = NULL;
	size_t outlen = 0;
	json_t *root;
	const char *msg;
	char *ret;

	assert_int_equal(
	    solver_handle(s, body, strlen(body), NULL, &out, &outlen), 201);
	root = json_loadb(out, outlen, 0, NULL);
	assert_non_null(root);
	msg = json_string_value(json_object_get(
	    json_object_get(json_object_get(root, "response"), "status"),
	    "message"));
	ret = strdup(msg != NULL ? msg : "");
	json_decref(root);
	free(out);
	free(body);
	return ret;
}

static char *call(struct solver *s, const struct rig *r,
		  const struct solver_case *c)
{
	return call_body(s, body_build(r, c));
}

/*
 * A Secret read is cached for secret_cache_ms: removed from the source, it
 * is still used within that time and missed after it.
 */
static void test_cache(void **state)
{
	static const struct solver_case c = {
	    "cache",
	    "Present",
	    "ns1",
	    "{\"verify\":false,\"nameserver\":\"%s\",\"tsigKeyName\":\"k\","
	    "\"tsigAlgorithm\":\"hmac-sha256\"," REF("cached", "secret") "}",
	    T_OK,
	    201,
	    0,
	    {NULL}};
	struct rig *r = *state;
	struct solver_opts long_opts = {.secrets = r->k8s,
					.secret_cache_ms = 600000};
	struct solver_opts short_opts = {.secrets = r->k8s,
					 .secret_cache_ms = 1};
	struct solver *cached;
	struct solver *brief;
	char path[256];
	char *msg;

	assert_int_equal(solver_new(&cached, &long_opts), 0);
	assert_int_equal(solver_new(&brief, &short_opts), 0);
	file_write(r->dir, "ns1/cached/secret", SECRET);

	/* Both read it: the signed update reaches the (unsigning) server. */
	msg = call(cached, r, &c);
	assert_non_null(strstr(msg, "update of "));
	free(msg);
	msg = call(brief, r, &c);
	assert_non_null(strstr(msg, "update of "));
	free(msg);

	snprintf(path, sizeof(path), "%s/ns1/cached/secret", r->dir);
	assert_int_equal(unlink(path), 0);
	usleep(20000);

	msg = call(cached, r, &c);
	assert_non_null(strstr(msg, "update of "));
	free(msg);
	msg = call(brief, r, &c);
	assert_non_null(strstr(msg, "Secret ns1/cached has no key"));
	free(msg);

	solver_free(cached);
	solver_free(brief);
}

struct worker {
	struct solver *s;
	const struct rig *r;
	int failures;
};

static void *worker_run(void *arg)
{
	static const struct solver_case pair[] = {
	    {"w",
	     "Present",
	     "ns1",
	     "{\"verify\":false,\"nameserver\":\"%s\"}",
	     T_OK,
	     201,
	     0,
	     {NULL}},
	    {"w",
	     "CleanUp",
	     "ns1",
	     "{\"verify\":false,\"nameserver\":\"%s\"}",
	     T_OK,
	     201,
	     0,
	     {NULL}},
	    {"w",
	     "Present",
	     "ns1",
	     "{\"verify\":false,\"nameserver\":\"%s\",\"tsigKeyName\":\"k\","
	     "\"tsigAlgorithm\":\"hmac-sha256\"," REF("tsig", "secret") "}",
	     T_OK,
	     201,
	     0,
	     {NULL}},
	};
	struct worker *w = arg;

	for (int i = 0; i < 20; i++) {
		const struct solver_case *c = &pair[i % 3];
		char *msg = call(w->s, w->r, c);

		/* Unsigned calls succeed; the signed one fails on the
		 * unsigned answer, with a diagnosis. */
		if ((i % 3 == 2) != (msg[0] != '\0'))
			w->failures++;
		free(msg);
	}
	return NULL;
}

/* Many calls at once share the solver and its cache safely. */
static void test_parallel(void **state)
{
	struct rig *r = *state;
	struct solver_opts opts = {.secrets = r->k8s};
	struct worker w[8];
	pthread_t t[8];
	struct solver *s;

	assert_int_equal(solver_new(&s, &opts), 0);
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){.s = s, .r = r};
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]),
				 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	solver_free(s);
}

/*
 * A deadline shorter than the attempts: the per-attempt timeout shrinks so
 * the call still answers, with a diagnosis of what was tried.
 */
static void test_deadline(void **state)
{
	static const struct solver_case c = {
	    "deadline",
	    "Present",
	    "ns1",
	    "{\"verify\":false,\"nameservers\":[\"%s\",\"%s\",\"%s\"],\"timeout\":\"60s\"}",
	    T_BLACK,
	    201,
	    0,
	    {NULL}};
	struct rig *r = *state;
	struct solver_opts opts = {.secrets = r->k8s, .deadline_ms = 600};
	struct solver *s;
	char *msg;

	assert_int_equal(solver_new(&s, &opts), 0);
	/* All three are the black hole.  The tenant reads one text for a
	 * server that did not answer (no refused/reset/silent oracle), and
	 * the last wait what the call's deadline cut short. */
	msg = call_body(s, body_build_ports(r->black.port, r->black.port, &c));
	assert_non_null(strstr(msg, "update of _acme-challenge.a.test."));
	assert_non_null(strstr(msg, "127.0.0.1:"));
	assert_non_null(strstr(msg, "did not answer DNS"));
	assert_null(strstr(msg, "no answer from"));
	assert_non_null(
	    strstr(msg, "the call's deadline passed at 127.0.0.1:"));
	assert_non_null(strstr(msg, "while waiting for an answer over UDP"));
	free(msg);
	solver_free(s);
}

static void test_lifecycle(void **state)
{
	struct solver_opts opts = {0};
	struct solver *s = NULL;
	char *out = NULL;
	size_t outlen = 0;
	static const char body[] =
	    "{\"request\":{\"action\":\"Present\",\"key\":\"k\","
	    "\"resourceNamespace\":\"ns1\",\"resolvedFQDN\":\"_a.t.\","
	    "\"resolvedZone\":\"t.\",\"config\":{\"verify\":false,\"nameserver\":"
	    "\"127.0.0.1\",\"tsigKeyName\":\"k\",\"tsigAlgorithm\":"
	    "\"hmac-sha256\",\"tsigSecretSecretRef\":{\"name\":\"a\","
	    "\"key\":\"b\"}}}}";

	(void)state;
	solver_free(NULL);
	/* No secret source: a clear failure, not a crash. */
	assert_int_equal(solver_new(&s, &opts), 0);
	assert_int_equal(
	    solver_handle(s, body, strlen(body), NULL, &out, &outlen), 201);
	assert_non_null(strstr(out, "no secret source"));
	free(out);
	solver_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),    cmocka_unit_test(test_bad_bodies),
	    cmocka_unit_test(test_cache),    cmocka_unit_test(test_parallel),
	    cmocka_unit_test(test_deadline), cmocka_unit_test(test_lifecycle),
	};

	return cmocka_run_group_tests_name("solver", tests, rig_setup,
					   rig_teardown);
}
