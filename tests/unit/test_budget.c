/*
 * test_budget.c - the call's deadline (STYLE.md 16) and the operator's
 * --allowed-nameservers, from tables: what one wait and one attempt may
 * take of what is left, and which nameservers a list lets through.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "dns/dns.h"
#include "server/config.h"

/* ------------------------------------------------------------- budget */

struct wait_case {
	int64_t now, deadline;
	unsigned want, expect;
};

static const struct wait_case wait_cases[] = {
    /* No deadline: the wait as asked. */
    {1000, 0, 5000, 5000},
    {1000, 0, 0, 0},
    /* Plenty left: the wait as asked. */
    {1000, 26000, 5000, 5000},
    /* Less left than asked: what is left. */
    {24000, 26000, 5000, 2000},
    {25999, 26000, 60000, 1},
    /* Nothing left: 0, also past the deadline. */
    {26000, 26000, 5000, 0},
    {30000, 26000, 5000, 0},
    /* Exactly what is left. */
    {21000, 26000, 5000, 5000},
};

static void test_wait(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(wait_cases) / sizeof(wait_cases[0]);
	     i++) {
		const struct wait_case *c = &wait_cases[i];

		printf("wait row %zu\n", i);
		assert_int_equal(dns_budget_wait(c->now, c->deadline, c->want),
				 c->expect);
	}
}

struct share_case {
	int64_t now, deadline;
	unsigned want, attempts, floor, expect;
};

static const struct share_case share_cases[] = {
    /* No deadline: the per-attempt timeout, whatever comes after. */
    {0, 0, 5000, 16, 300, 5000},
    /* 25 s over 4 addresses, 60 s asked: a quarter each. */
    {0, 25000, 60000, 4, 300, 6250},
    /* The per-attempt timeout is smaller than the share. */
    {0, 25000, 2000, 4, 300, 2000},
    /* The last attempt gets all that is left, up to its timeout. */
    {18750, 25000, 60000, 1, 300, 6250},
    {18750, 25000, 5000, 1, 300, 5000},
    /* 0 attempts counts as 1. */
    {0, 25000, 60000, 0, 300, 25000},
    /* A share below the floor is raised to it while that much is left. */
    {0, 1000, 5000, 8, 300, 300},
    /* ... but never past the deadline. */
    {24900, 25000, 5000, 8, 300, 100},
    /* ... nor past the per-attempt timeout. */
    {0, 1000, 200, 8, 300, 200},
    /* Nothing left. */
    {25000, 25000, 5000, 1, 300, 0},
    {26000, 25000, 5000, 3, 300, 0},
};

static void test_share(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(share_cases) / sizeof(share_cases[0]);
	     i++) {
		const struct share_case *c = &share_cases[i];

		printf("share row %zu\n", i);
		assert_int_equal(dns_budget_share(c->now, c->deadline, c->want,
						  c->attempts, c->floor),
				 c->expect);
	}
}

static void test_clock(void **state)
{
	int64_t a = dns_clock_ms(), b = dns_clock_ms();

	(void)state;
	assert_true(a > 0);
	assert_true(b >= a);
}

/* A bound UDP socket that never reads: a silent server.  Returns fd. */
static int silent_udp(struct dns_addr *a)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	memset(a, 0, sizeof(*a));
	snprintf(a->host, sizeof(a->host), "127.0.0.1");
	a->port = ntohs(sin.sin_port);
	return fd;
}

/*
 * A per-attempt timeout of 60 s never stretches the call: the wait ends
 * at the deadline with DNS_EDEADLINE and what was awaited.
 */
static void test_update_deadline(void **state)
{
	struct dns_opts opts = {.timeout_ms = 60000};
	struct dns_result res;
	struct dns_addr servers[2];
	int fd = silent_udp(&servers[0]);
	int64_t t0;
	int ret;

	(void)state;
	servers[1] = servers[0];
	t0 = dns_clock_ms();
	opts.deadline_ms = t0 + 400;
	ret = dns_update(servers, 2, &opts,
			 &(struct dns_change){"example.test.",
					      "_acme-challenge.example.test.",
					      DNS_ADD, "v", 60},
			 &res);
	assert_int_equal(ret, DNS_EDEADLINE);
	assert_true(dns_clock_ms() - t0 < 1500);
	/* Two servers to come: the first got half of what was left. */
	assert_int_equal(res.nattempts, 2);
	assert_int_equal(res.attempts[0].code, -ETIMEDOUT);
	assert_true(res.attempts[0].ms < 350);
	assert_int_equal(res.attempts[1].code, DNS_EDEADLINE);
	assert_string_equal(res.attempts[1].detail,
			    "while waiting for an answer over UDP");
	assert_string_equal(res.note, "");

	/* Already past: not even the name is looked up. */
	snprintf(servers[0].host, sizeof(servers[0].host), "ns.invalid");
	opts.deadline_ms = dns_clock_ms() - 1;
	ret = dns_update(servers, 1, &opts,
			 &(struct dns_change){"example.test.",
					      "_acme-challenge.example.test.",
					      DNS_ADD, "v", 60},
			 &res);
	assert_int_equal(ret, DNS_EDEADLINE);
	assert_int_equal(res.nattempts, 1);
	assert_non_null(strstr(res.attempts[0].detail,
			       "before the name resolution of ns.invalid"));
	close(fd);
}

/* dns_query() keeps the same deadline. */
static void test_query_deadline(void **state)
{
	struct dns_opts opts = {.timeout_ms = 60000, .proto = DNS_PROTO_TCP};
	struct dns_reply reply;
	struct dns_addr a;
	int fd = silent_udp(&a);
	int64_t t0 = dns_clock_ms();
	int ret;

	(void)state;
	/* Nothing listens on TCP there: refused at once, no deadline. */
	opts.deadline_ms = t0 + 300;
	ret = dns_query(&a, &opts, "example.test.", 6, &reply);
	assert_int_equal(ret, -ECONNREFUSED);
	opts.proto = DNS_PROTO_UDP;
	ret = dns_query(&a, &opts, "example.test.", 6, &reply);
	assert_int_equal(ret, DNS_EDEADLINE);
	assert_true(dns_clock_ms() - t0 < 1300);
	assert_string_equal(reply.outcome.detail,
			    "while waiting for an answer over UDP");
	dns_reply_release(&reply);
	close(fd);
}

/* ------------------------------------------------- allowed nameservers */

struct allow_case {
	const char *list;
	const char *server; /* as in a config; NULL: only parse */
	int ret;	    /* of the parse */
	bool allowed;
	const char *err; /* substring of the parse error */
};

static const struct allow_case allow_cases[] = {
    /* CIDRs: inside, outside, the edges. */
    {"10.0.0.0/8", "10.1.2.3", 0, true, NULL},
    {"10.0.0.0/8", "10.255.255.255:5353", 0, true, NULL},
    {"10.0.0.0/8", "11.0.0.0", 0, false, NULL},
    {"10.0.0.0/8", "9.255.255.255", 0, false, NULL},
    {"192.168.1.128/25", "192.168.1.200", 0, true, NULL},
    {"192.168.1.128/25", "192.168.1.127", 0, false, NULL},
    /* Host bits in the network are cleared: the same as /24. */
    {"192.168.1.77/24", "192.168.1.1", 0, true, NULL},
    {"0.0.0.0/0", "203.0.113.9", 0, true, NULL},
    {"0.0.0.0/0", "2001:db8::1", 0, false, NULL},
    /* A single address is /32 or /128. */
    {"10.0.0.53", "10.0.0.53", 0, true, NULL},
    {"10.0.0.53", "10.0.0.54", 0, false, NULL},
    {"2001:db8::53", "[2001:db8::53]:53", 0, true, NULL},
    {"2001:db8::53", "2001:db8::54", 0, false, NULL},
    /* IPv6 CIDRs. */
    {"2001:db8::/32", "2001:db8:ffff::1", 0, true, NULL},
    {"2001:db8::/32", "2001:db9::1", 0, false, NULL},
    {"2001:db8::/33", "2001:db8:8000::1", 0, false, NULL},
    /* RFC 4291 2.5.5.2: an IPv4-mapped address is the IPv4 address. */
    {"10.0.0.0/8", "::ffff:10.0.0.1", 0, true, NULL},
    {"127.0.0.0/8", "[::ffff:10.0.0.1]:53", 0, false, NULL},
    /* Host names: named, case and final dot do not matter. */
    {"ns1.example.com", "ns1.example.com", 0, true, NULL},
    {"ns1.example.com", "NS1.Example.COM.:5353", 0, true, NULL},
    {"NS1.EXAMPLE.COM.", "ns1.example.com", 0, true, NULL},
    {"ns1.example.com", "ns2.example.com", 0, false, NULL},
    {"ns1.example.com", "evil.ns1.example.com", 0, false, NULL},
    {"example.com", "ns1.example.com", 0, false, NULL},
    /* A name never matches a CIDR, an address never a name. */
    {"127.0.0.0/8", "localhost", 0, false, NULL},
    {"localhost", "127.0.0.1", 0, false, NULL},
    /* Several entries, blanks around them, an empty item. */
    {"10.0.0.0/8, ns1.example.com ,,2001:db8::/32", "ns1.example.com", 0, true,
     NULL},
    {"10.0.0.0/8, ns1.example.com ,,2001:db8::/32", "2001:db8::1", 0, true,
     NULL},
    {"10.0.0.0/8, ns1.example.com ,,2001:db8::/32", "172.16.0.1", 0, false,
     NULL},
    /* Malformed lists. */
    {"", NULL, -EINVAL, false, "the list is empty"},
    {" , ", NULL, -EINVAL, false, "the list is empty"},
    {"10.0.0.0/33", NULL, -EINVAL, false, "prefix length must be 0 to 32"},
    {"2001:db8::/129", NULL, -EINVAL, false, "prefix length must be 0 to 128"},
    {"10.0.0.0/", NULL, -EINVAL, false, "prefix length"},
    {"10.0.0.0/-1", NULL, -EINVAL, false, "prefix length"},
    {"10.0.0.0/8x", NULL, -EINVAL, false, "prefix length"},
    {"ns1/8", NULL, -EINVAL, false, "not a CIDR"},
    {"ns1.example.com:53", NULL, -EINVAL, false, "no port"},
    {"bad_name", NULL, -EINVAL, false, "not a CIDR, an address or a host"},
    {"10.0.0.256", NULL, -EINVAL, false, "octet out of range"},
};

static void test_allow(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(allow_cases) / sizeof(allow_cases[0]);
	     i++) {
		const struct allow_case *c = &allow_cases[i];
		struct solver_allow allow;
		struct dns_addr a;
		char err[512] = "";

		printf("allow row %zu: [%s] %s\n", i, c->list,
		       c->server ? c->server : "-");
		assert_int_equal(
		    solver_allow_parse(&allow, c->list, err, sizeof(err)),
		    c->ret);
		if (c->err != NULL) {
			assert_non_null(strstr(err, c->err));
			assert_non_null(strstr(err, "--allowed-nameservers"));
		}
		if (c->server == NULL)
			continue;
		assert_int_equal(dns_addr_parse(&a, c->server, NULL, 0), 0);
		assert_int_equal(solver_allow_match(&allow, &a), c->allowed);
	}
}

static void test_allow_limits(void **state)
{
	struct solver_allow allow;
	struct dns_addr a;
	char list[SOLVER_ALLOW_MAX * 16 + 16] = "";
	char err[512];
	size_t used = 0;

	(void)state;
	/* No list (NULL) or an empty one allows every server. */
	assert_int_equal(dns_addr_parse(&a, "192.0.2.1", NULL, 0), 0);
	assert_true(solver_allow_match(NULL, &a));
	memset(&allow, 0, sizeof(allow));
	assert_true(solver_allow_match(&allow, &a));
	/* SOLVER_ALLOW_MAX entries are fine, one more is refused. */
	for (int i = 0; i < SOLVER_ALLOW_MAX; i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used,
					 "%s10.%d.0.0/16", i ? "," : "", i);
	assert_int_equal(solver_allow_parse(&allow, list, err, sizeof(err)), 0);
	assert_int_equal(allow.n, SOLVER_ALLOW_MAX);
	assert_string_equal(allow.text, list);
	snprintf(list + used, sizeof(list) - used, ",10.250.0.0/16");
	assert_int_equal(solver_allow_parse(&allow, list, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "at most"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wait),
	    cmocka_unit_test(test_share),
	    cmocka_unit_test(test_clock),
	    cmocka_unit_test(test_allow),
	    cmocka_unit_test(test_allow_limits),
	    cmocka_unit_test(test_update_deadline),
	    cmocka_unit_test(test_query_deadline),
	};

	return cmocka_run_group_tests_name("budget", tests, NULL, NULL);
}
