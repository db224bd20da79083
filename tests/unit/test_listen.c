/*
 * test_listen.c - listening addresses as Kubernetes reads --bind-address:
 * unspecified means every family (one dual-stack [::] socket), anything
 * else is that address and family only, names are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "server/listen.h"

struct listen_case {
	const char *host;
	int ret;
	bool any;
	int family;
	unsigned mhd_flags;
	const char *bare;      /* listen_addr_describe(port -1) */
	const char *with_port; /* listen_addr_describe(port 8443) */
};

static const struct listen_case cases[] = {
    /* ------------------------------------- every family: [::] dual stack */
    {NULL, 0, true, AF_INET6, MHD_USE_DUAL_STACK, "[::] (IPv6 and IPv4)",
     "[::]:8443 (IPv6 and IPv4)"},
    {"", 0, true, AF_INET6, MHD_USE_DUAL_STACK, "[::] (IPv6 and IPv4)",
     "[::]:8443 (IPv6 and IPv4)"},
    {"0.0.0.0", 0, true, AF_INET6, MHD_USE_DUAL_STACK, "[::] (IPv6 and IPv4)",
     "[::]:8443 (IPv6 and IPv4)"},
    {"::", 0, true, AF_INET6, MHD_USE_DUAL_STACK, "[::] (IPv6 and IPv4)",
     "[::]:8443 (IPv6 and IPv4)"},
    {"[::]", 0, true, AF_INET6, MHD_USE_DUAL_STACK, "[::] (IPv6 and IPv4)",
     "[::]:8443 (IPv6 and IPv4)"},
    {"::0", 0, true, AF_INET6, MHD_USE_DUAL_STACK, "[::] (IPv6 and IPv4)",
     "[::]:8443 (IPv6 and IPv4)"},

    /* ---------------------------------- one address, its family only */
    {"127.0.0.1", 0, false, AF_INET, 0, "127.0.0.1", "127.0.0.1:8443"},
    {"10.0.0.5", 0, false, AF_INET, 0, "10.0.0.5", "10.0.0.5:8443"},
    {"::1", 0, false, AF_INET6, MHD_USE_IPv6, "[::1]", "[::1]:8443"},
    {"[::1]", 0, false, AF_INET6, MHD_USE_IPv6, "[::1]", "[::1]:8443"},
    {"2001:db8::5", 0, false, AF_INET6, MHD_USE_IPv6, "[2001:db8::5]",
     "[2001:db8::5]:8443"},
    {"::ffff:10.0.0.5", 0, false, AF_INET6, MHD_USE_IPv6, "[::ffff:10.0.0.5]",
     "[::ffff:10.0.0.5]:8443"},

    /* ---------------------------------- not an IP address: refused */
    {"localhost", -EINVAL, false, 0, 0, NULL, NULL},
    {"webhook.example", -EINVAL, false, 0, 0, NULL, NULL},
    {"1.2.3.256", -EINVAL, false, 0, 0, NULL, NULL},
    {"127.0.0.1:8443", -EINVAL, false, 0, 0, NULL, NULL},
    {"[::1", -EINVAL, false, 0, 0, NULL, NULL},
    {"::1]", -EINVAL, false, 0, 0, NULL, NULL},
    {"[]", -EINVAL, false, 0, 0, NULL, NULL},
    {"[127.0.0.1]", -EINVAL, false, 0, 0, NULL, NULL},
    {" 127.0.0.1", -EINVAL, false, 0, 0, NULL, NULL},
    /* getaddrinfo() takes these; Go's net.ParseIP, and so Kubernetes,
     * does not. */
    {"127.1", -EINVAL, false, 0, 0, NULL, NULL},
    {"0x7f.0.0.1", -EINVAL, false, 0, 0, NULL, NULL},
    {"0177.0.0.1", -EINVAL, false, 0, 0, NULL, NULL},
    {"fe80::1%lo", -EINVAL, false, 0, 0, NULL, NULL},
    {"[fe80::1%lo]", -EINVAL, false, 0, 0, NULL, NULL},
};

static unsigned port_of(const struct listen_addr *la)
{
	if (la->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&la->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&la->ss)->sin_port);
}

static void test_listen_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct listen_case *c = &cases[i];
		struct listen_addr la;
		char text[96];

		print_message("host %s\n", c->host ? c->host : "(null)");
		assert_int_equal(listen_addr_parse(&la, c->host, 8443), c->ret);
		if (c->ret != 0)
			continue;
		assert_int_equal(la.any, c->any);
		assert_int_equal(la.ss.ss_family, c->family);
		assert_int_equal(port_of(&la), 8443);
		assert_int_equal(listen_addr_mhd_flags(&la), c->mhd_flags);
		listen_addr_describe(&la, -1, text, sizeof(text));
		assert_string_equal(text, c->bare);
		listen_addr_describe(&la, 8443, text, sizeof(text));
		assert_string_equal(text, c->with_port);
		/* This kernel has IPv6: nothing to fall back from. */
		listen_addr_fallback(&la, "the test port");
		assert_int_equal(la.ss.ss_family, c->family);
		assert_int_equal(la.any, c->any);
		assert_int_equal(port_of(&la), 8443);
	}
}

/* Port 0 (the kernel picks) and the highest port; a short buffer. */
static void test_listen_edges(void **state)
{
	struct listen_addr la;
	char text[8];

	(void)state;
	assert_int_equal(listen_addr_parse(&la, "127.0.0.1", 0), 0);
	assert_int_equal(port_of(&la), 0);
	assert_int_equal(listen_addr_parse(&la, "::", 65535), 0);
	assert_int_equal(port_of(&la), 65535);
	/* Cut, never overrun, always terminated. */
	listen_addr_describe(&la, 65535, text, sizeof(text));
	assert_int_equal(strlen(text), sizeof(text) - 1);
	assert_memory_equal(text, "[::]:65", 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_listen_parse),
	    cmocka_unit_test(test_listen_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
