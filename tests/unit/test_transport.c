/*
 * test_transport.c - dns_update() and dns_query() against tiny in-process
 * DNS responders on 127.0.0.1 (UDP and TCP on one port, a thread each):
 * timeout then failover, TC=1 forcing TCP, connection refused, answers
 * with a wrong ID ignored, a refusal moving on, signed exchanges.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <libknot/libknot.h>

#include "dns/dns.h"

#define ZONE "example.test."
#define FQDN "_acme-challenge.example.test."

enum behavior {
	B_ANSWER,	  /* NOERROR (signed when the request is) */
	B_SILENT,	  /* never answers */
	B_TRUNCATE,	  /* TC=1 over UDP, full answer over TCP */
	B_WRONG_ID_FIRST, /* a wrong-ID answer, then the right one */
	B_WRONG_ID_ONLY,  /* only wrong-ID answers */
	B_REFUSED,	  /* REFUSED, unsigned (PowerDNS style) */
	B_CLOSED,	  /* nothing listens: the port is closed */
};

struct responder {
	enum behavior behavior;
	int udp, tcp, stop[2];
	uint16_t port;
	pthread_t thread;
	atomic_int udp_count, tcp_count;
	uint16_t ids[8]; /* IDs of the requests, in order */
	atomic_int nids;
};

static uint8_t secret[32];
static struct dns_key key = {.name = "acme-update.",
			     .alg = DNS_ALG_SHA256,
			     .secret = secret,
			     .secret_len = sizeof(secret)};

/* Answer @q (@qlen bytes) into @out; 0 when nothing is to be sent. */
static size_t respond(struct responder *r, uint8_t *q, size_t qlen,
		      uint8_t *out, size_t max, bool tcp)
{
	knot_tsig_key_t kk = {.algorithm = DNSSEC_TSIG_HMAC_SHA256,
			      .secret = {.data = secret, .size = 32}};
	uint8_t reqmac[64], digest[64];
	size_t reqmaclen = 0, len, dlen = sizeof(digest);
	knot_pkt_t *query, *resp;
	knot_rrset_t *rr = NULL;
	int n = atomic_fetch_add(&r->nids, 1);
	bool sign = true;

	if (n < 8)
		r->ids[n] = knot_wire_get_id(q);
	if (r->behavior == B_SILENT)
		return 0;
	query = knot_pkt_new(q, (uint16_t)qlen, NULL);
	if (knot_pkt_parse(query, 0) != KNOT_EOK) {
		knot_pkt_free(query);
		return 0;
	}
	if (query->tsig_rr != NULL) {
		reqmaclen = knot_tsig_rdata_mac_length(query->tsig_rr);
		memcpy(reqmac, knot_tsig_rdata_mac(query->tsig_rr), reqmaclen);
	}
	resp = knot_pkt_new(NULL, (uint16_t)max, NULL);
	knot_pkt_init_response(resp, query);
	if (r->behavior == B_TRUNCATE && !tcp) {
		knot_wire_set_tc(resp->wire);
	} else if (r->behavior == B_REFUSED) {
		knot_wire_set_rcode(resp->wire, KNOT_RCODE_REFUSED);
		sign = false; /* no TSIG at all */
	} else if (knot_wire_get_opcode(q) == KNOT_OPCODE_QUERY &&
		   knot_pkt_qtype(query) == KNOT_RRTYPE_TXT) {
		/* Two TXT RRs, the second of two character-strings. */
		rr = knot_rrset_new(knot_pkt_qname(query), KNOT_RRTYPE_TXT,
				    KNOT_CLASS_IN, 60, NULL);
		knot_rrset_add_rdata(rr, (const uint8_t *)"\x03one", 4, NULL);
		knot_rrset_add_rdata(rr, (const uint8_t *)"\x03two\x05three",
				     10, NULL);
		knot_wire_set_aa(resp->wire);
		knot_pkt_begin(resp, KNOT_ANSWER);
		knot_pkt_put(resp, KNOT_COMPR_HINT_QNAME, rr, 0);
	}
	len = resp->size;
	memcpy(out, resp->wire, len);
	if (sign && query->tsig_rr != NULL) {
		kk.name = knot_dname_copy(query->tsig_rr->owner, NULL);
		knot_tsig_sign(out, &len, max, reqmac, reqmaclen, digest, &dlen,
			       &kk, 0, 0);
		knot_dname_free(kk.name, NULL);
	}
	knot_pkt_free(resp);
	knot_rrset_free(rr, NULL);
	knot_pkt_free(query);
	return len;
}

static void serve_udp(struct responder *r)
{
	uint8_t q[4096], out[4096];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	ssize_t n =
	    recvfrom(r->udp, q, sizeof(q), 0, (struct sockaddr *)&from, &flen);
	size_t len;

	if (n <= 0)
		return;
	atomic_fetch_add(&r->udp_count, 1);
	len = respond(r, q, (size_t)n, out, sizeof(out), false);
	if (len == 0)
		return;
	if (r->behavior == B_WRONG_ID_FIRST || r->behavior == B_WRONG_ID_ONLY) {
		knot_wire_set_id(out, knot_wire_get_id(out) ^ 0x5a5a);
		sendto(r->udp, out, len, 0, (struct sockaddr *)&from, flen);
		if (r->behavior == B_WRONG_ID_ONLY)
			return;
		knot_wire_set_id(out, knot_wire_get_id(out) ^ 0x5a5a);
	}
	sendto(r->udp, out, len, 0, (struct sockaddr *)&from, flen);
}

static bool read_full(int fd, uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, buf + done, len - done);
		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

static void serve_tcp(struct responder *r)
{
	uint8_t q[4096], out[4098];
	int fd = accept(r->tcp, NULL, NULL);
	size_t qlen, len;

	if (fd < 0)
		return;
	atomic_fetch_add(&r->tcp_count, 1);
	if (read_full(fd, q, 2)) {
		qlen = (size_t)q[0] << 8 | q[1];
		if (qlen <= sizeof(q) && read_full(fd, q, qlen)) {
			len =
			    respond(r, q, qlen, out + 2, sizeof(out) - 2, true);
			out[0] = (uint8_t)(len >> 8);
			out[1] = (uint8_t)len;
			if (len > 0 && write(fd, out, len + 2) < 0)
				len = 0;
		}
	}
	close(fd);
}

static void *responder_main(void *arg)
{
	struct responder *r = arg;
	struct pollfd p[3] = {{.fd = r->udp, .events = POLLIN},
			      {.fd = r->tcp, .events = POLLIN},
			      {.fd = r->stop[0], .events = POLLIN}};

	for (;;) {
		if (poll(p, 3, -1) < 0)
			continue;
		if (p[2].revents)
			break;
		if (p[0].revents)
			serve_udp(r);
		if (p[1].revents)
			serve_tcp(r);
	}
	return NULL;
}

/* UDP and TCP on one free loopback port. */
static void responder_start(struct responder *r, enum behavior b)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sa);

	memset(r, 0, sizeof(*r));
	r->behavior = b;
	for (int tries = 0; tries < 50; tries++) {
		sa.sin_port = 0;
		r->udp = socket(AF_INET, SOCK_DGRAM, 0);
		assert_true(r->udp >= 0);
		assert_int_equal(bind(r->udp, (struct sockaddr *)&sa, slen), 0);
		assert_int_equal(
		    getsockname(r->udp, (struct sockaddr *)&sa, &slen), 0);
		r->port = ntohs(sa.sin_port);
		if (b == B_CLOSED) {
			/* The port was free a moment ago; now nothing
			 * listens there (UDP: ICMP port unreachable). */
			close(r->udp);
			r->udp = r->tcp = -1;
			return;
		}
		r->tcp = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(r->tcp >= 0);
		if (bind(r->tcp, (struct sockaddr *)&sa, slen) == 0 &&
		    listen(r->tcp, 8) == 0)
			break;
		close(r->tcp);
		close(r->udp);
		r->tcp = r->udp = -1;
	}
	assert_true(r->tcp >= 0);
	assert_int_equal(pipe(r->stop), 0);
	assert_int_equal(pthread_create(&r->thread, NULL, responder_main, r),
			 0);
}

static void responder_stop(struct responder *r)
{
	if (r->udp < 0)
		return;
	assert_int_equal(write(r->stop[1], "x", 1), 1);
	pthread_join(r->thread, NULL);
	close(r->stop[0]);
	close(r->stop[1]);
	close(r->udp);
	close(r->tcp);
}

/* ---------------------------------------------------------- the table */

#define MAXSRV 3

struct expect_attempt {
	int code;
	int rcode;
	bool tcp;
};

struct transport_case {
	const char *name;
	enum behavior servers[MAXSRV];
	size_t nservers;
	enum dns_proto proto;
	bool sign;
	int ret;
	size_t nattempts;
	struct expect_attempt attempts[MAXSRV];
	int udp0, tcp0; /* requests the first responder got, -1: any */
};

static const struct transport_case cases[] = {
    {"answer over UDP",
     {B_ANSWER},
     1,
     DNS_PROTO_UDP,
     false,
     0,
     1,
     {{0, 0, false}},
     1,
     0},
    {"signed answer over UDP",
     {B_ANSWER},
     1,
     DNS_PROTO_UDP,
     true,
     0,
     1,
     {{0, 0, false}},
     1,
     0},
    {"TCP only when asked",
     {B_ANSWER},
     1,
     DNS_PROTO_TCP,
     true,
     0,
     1,
     {{0, 0, true}},
     0,
     1},
    {"timeout, then failover to the second server",
     {B_SILENT, B_ANSWER},
     2,
     DNS_PROTO_UDP,
     true,
     0,
     2,
     {{-ETIMEDOUT, -1, false}, {0, 0, false}},
     1,
     0},
    {"TC=1 forces TCP with a fresh signed message",
     {B_TRUNCATE},
     1,
     DNS_PROTO_UDP,
     true,
     0,
     1,
     {{0, 0, true}},
     1,
     1},
    {"connection refused, then the next server",
     {B_CLOSED, B_ANSWER},
     2,
     DNS_PROTO_UDP,
     false,
     0,
     2,
     {{-ECONNREFUSED, -1, false}, {0, 0, false}},
     -1,
     -1},
    {"TCP connection refused",
     {B_CLOSED},
     1,
     DNS_PROTO_TCP,
     false,
     -ECONNREFUSED,
     1,
     {{-ECONNREFUSED, -1, true}},
     -1,
     -1},
    {"wrong-ID answer ignored, the right one taken",
     {B_WRONG_ID_FIRST},
     1,
     DNS_PROTO_UDP,
     true,
     0,
     1,
     {{0, 0, false}},
     1,
     0},
    {"only wrong-ID answers: mismatch at the deadline",
     {B_WRONG_ID_ONLY, B_ANSWER},
     2,
     DNS_PROTO_UDP,
     false,
     0,
     2,
     {{DNS_EMISMATCH, -1, false}, {0, 0, false}},
     1,
     0},
    {"a refusal moves on to the next server",
     {B_REFUSED, B_ANSWER},
     2,
     DNS_PROTO_UDP,
     true,
     0,
     2,
     {{DNS_ERCODE, 5, false}, {0, 0, false}},
     1,
     0},
    {"every server fails: the last code",
     {B_SILENT, B_REFUSED},
     2,
     DNS_PROTO_UDP,
     false,
     DNS_ERCODE,
     2,
     {{-ETIMEDOUT, -1, false}, {DNS_ERCODE, 5, false}},
     1,
     0},
};

static void test_transport_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct transport_case *c = &cases[i];
		struct responder rs[MAXSRV];
		struct dns_addr addrs[MAXSRV];
		struct dns_opts opts = {.proto = c->proto,
					.timeout_ms = 300,
					.key = c->sign ? &key : NULL};
		struct dns_result res;
		int ret;

		print_message("case %zu: %s\n", i, c->name);
		for (size_t s = 0; s < c->nservers; s++) {
			responder_start(&rs[s], c->servers[s]);
			snprintf(addrs[s].host, sizeof(addrs[s].host),
				 "127.0.0.1");
			addrs[s].port = rs[s].port;
		}
		ret = dns_update(
		    addrs, c->nservers, &opts,
		    &(struct dns_change){ZONE, FQDN, DNS_ADD, "token", 60},
		    &res);
		for (size_t s = 0; s < c->nservers; s++)
			responder_stop(&rs[s]);

		assert_int_equal(ret, c->ret);
		assert_int_equal(res.code, c->ret);
		assert_int_equal(res.nattempts, c->nattempts);
		for (size_t a = 0; a < c->nattempts; a++) {
			const struct dns_outcome *o = &res.attempts[a];
			char want[64];

			snprintf(want, sizeof(want), "127.0.0.1:%u",
				 rs[a].port);
			assert_string_equal(o->server, want);
			assert_int_equal(o->code, c->attempts[a].code);
			assert_int_equal(o->rcode, c->attempts[a].rcode);
			assert_int_equal(o->tcp, c->attempts[a].tcp);
			if (o->code == 0 && c->sign)
				assert_true(o->tsig_verified);
		}
		if (c->udp0 >= 0)
			assert_int_equal(atomic_load(&rs[0].udp_count),
					 c->udp0);
		if (c->tcp0 >= 0)
			assert_int_equal(atomic_load(&rs[0].tcp_count),
					 c->tcp0);
	}
}

/* The TCP retry is a fresh message: its own ID. */
static void test_truncate_fresh_id(void **state)
{
	struct responder r;
	struct dns_addr a = {.host = "127.0.0.1"};
	struct dns_opts opts = {.timeout_ms = 1000, .key = &key};
	struct dns_result res;
	int differ = 0;

	(void)state;
	/* IDs are random: over 8 runs, equal IDs every time means reuse. */
	for (int run = 0; run < 8; run++) {
		responder_start(&r, B_TRUNCATE);
		a.port = r.port;
		assert_int_equal(
		    dns_update(&a, 1, &opts,
			       &(struct dns_change){ZONE, FQDN, DNS_DELETE,
						    "token", 60},
			       &res),
		    0);
		responder_stop(&r);
		assert_int_equal(atomic_load(&r.nids), 2);
		differ += r.ids[0] != r.ids[1];
	}
	assert_true(differ > 0);
}

/* A host name: every address of it, "name (addr)" in the outcome. */
static void test_hostname(void **state)
{
	struct responder r;
	struct dns_addr a;
	struct dns_opts opts = {.timeout_ms = 1000};
	struct dns_result res;
	char text[64];

	(void)state;
	responder_start(&r, B_ANSWER);
	snprintf(text, sizeof(text), "localhost:%u", r.port);
	assert_int_equal(dns_addr_parse(&a, text, NULL, 0), 0);
	assert_int_equal(
	    dns_update(&a, 1, &opts,
		       &(struct dns_change){ZONE, FQDN, DNS_ADD, "t", 60},
		       &res),
	    0);
	responder_stop(&r);
	snprintf(text, sizeof(text), "localhost (127.0.0.1:%u)", r.port);
	assert_string_equal(res.attempts[res.nattempts - 1].server, text);
}

/* Nothing is sent when the message cannot be built. */
static void test_bad_request(void **state)
{
	struct dns_addr a = {.host = "127.0.0.1", .port = 9};
	struct dns_opts opts = {0};
	struct dns_result res;

	(void)state;
	assert_int_equal(
	    dns_update(&a, 1, &opts,
		       &(struct dns_change){ZONE, "www.example.com.", DNS_ADD,
					    "t", 60},
		       &res),
	    DNS_ENOTSUB);
	assert_int_equal(res.nattempts, 0);
	/* The builder's own text is kept and explained. */
	assert_non_null(strstr(res.detail, "record name 'www.example.com.' "
					   "is not in zone"));
	{
		char text[512];

		dns_result_explain(&res, "add", NULL, ZONE, "www.example.com.",
				   text, sizeof(text));
		assert_non_null(strstr(text, "is not in zone"));
	}
	assert_int_equal(
	    dns_update(&a, 1, &opts,
		       &(struct dns_change){ZONE, FQDN, DNS_ADD, "", 60}, &res),
	    DNS_EVALUE);
	assert_int_equal(
	    dns_update(NULL, 0, &opts,
		       &(struct dns_change){ZONE, FQDN, DNS_ADD, "t", 60},
		       &res),
	    -EINVAL);
	assert_int_equal(
	    dns_update(&a, 1, &opts,
		       &(struct dns_change){ZONE, FQDN, DNS_ADD, "t", 60},
		       NULL),
	    -EINVAL);
}

/* dns_query: TXT strings joined, AA, signed, over UDP and TCP. */
static void test_query(void **state)
{
	static const enum dns_proto protos[] = {DNS_PROTO_UDP, DNS_PROTO_TCP};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct responder r;
		struct dns_addr a = {.host = "127.0.0.1"};
		struct dns_opts opts = {
		    .proto = protos[i], .timeout_ms = 1000, .key = &key};
		struct dns_reply reply;

		responder_start(&r, B_ANSWER);
		a.port = r.port;
		assert_int_equal(
		    dns_query(&a, &opts, FQDN, KNOT_RRTYPE_TXT, &reply), 0);
		responder_stop(&r);
		assert_true(reply.aa);
		assert_int_equal(reply.nanswers, 2);
		assert_int_equal(reply.ntxt, 2);
		assert_string_equal(reply.txt[0], "one");
		assert_string_equal(reply.txt[1], "twothree");
		assert_true(reply.outcome.tsig_verified);
		assert_int_equal(reply.outcome.tcp, protos[i] == DNS_PROTO_TCP);
		dns_reply_release(&reply);
		assert_int_equal(reply.ntxt, 0);
		assert_null(reply.txt[0]);
	}
	dns_reply_release(NULL);
}

static void test_query_failures(void **state)
{
	struct responder r;
	struct dns_addr a = {.host = "127.0.0.1"};
	struct dns_opts opts = {.timeout_ms = 200, .key = &key};
	struct dns_reply reply;

	(void)state;
	responder_start(&r, B_SILENT);
	a.port = r.port;
	assert_int_equal(dns_query(&a, &opts, ZONE, KNOT_RRTYPE_SOA, &reply),
			 -ETIMEDOUT);
	responder_stop(&r);
	assert_int_equal(reply.outcome.code, -ETIMEDOUT);
	assert_int_equal(reply.ntxt, 0);
	dns_reply_release(&reply);

	responder_start(&r, B_REFUSED);
	a.port = r.port;
	assert_int_equal(dns_query(&a, &opts, ZONE, KNOT_RRTYPE_SOA, &reply),
			 DNS_ERCODE);
	responder_stop(&r);
	assert_int_equal(reply.outcome.rcode, KNOT_RCODE_REFUSED);
	assert_false(reply.outcome.tsig_present);
	dns_reply_release(&reply);

	assert_int_equal(
	    dns_query(&a, &opts, "bad name", KNOT_RRTYPE_SOA, &reply),
	    DNS_ENAME);
	dns_reply_release(&reply);
}

static int setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(0xa0 + i);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_transport_table),
	    cmocka_unit_test(test_truncate_fresh_id),
	    cmocka_unit_test(test_hostname),
	    cmocka_unit_test(test_bad_request),
	    cmocka_unit_test(test_query),
	    cmocka_unit_test(test_query_failures),
	};
	return cmocka_run_group_tests_name("transport", tests, setup, NULL);
}
