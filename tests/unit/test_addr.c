/*
 * test_addr.c - nameserver address forms and their precise errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "dns/dns.h"

struct addr_case {
	const char *text;
	int ret;
	const char *host; /* expected host, or a piece of the error */
	uint16_t port;
	const char *formatted;
};

static const struct addr_case cases[] = {
    /* ------------------------------------------------------- good */
    {"1.2.3.4", 0, "1.2.3.4", 53, "1.2.3.4:53"},
    {"1.2.3.4:5353", 0, "1.2.3.4", 5353, "1.2.3.4:5353"},
    {"0.0.0.0:1", 0, "0.0.0.0", 1, "0.0.0.0:1"},
    {"255.255.255.255:65535", 0, "255.255.255.255", 65535,
     "255.255.255.255:65535"},
    {"2001:db8::1", 0, "2001:db8::1", 53, "[2001:db8::1]:53"},
    {"::1", 0, "::1", 53, "[::1]:53"},
    {"2001:db8::53:5353", 0, "2001:db8::53:5353", 53, "[2001:db8::53:5353]:53"},
    {"::ffff:192.0.2.1", 0, "::ffff:192.0.2.1", 53, "[::ffff:192.0.2.1]:53"},
    {"[2001:db8::1]", 0, "2001:db8::1", 53, "[2001:db8::1]:53"},
    {"[2001:db8::1]:53", 0, "2001:db8::1", 53, "[2001:db8::1]:53"},
    {"[::1]:10053", 0, "::1", 10053, "[::1]:10053"},
    {"ns1.example.com", 0, "ns1.example.com", 53, "ns1.example.com:53"},
    {"ns1.example.com:5353", 0, "ns1.example.com", 5353,
     "ns1.example.com:5353"},
    {"ns1.example.com.", 0, "ns1.example.com.", 53, "ns1.example.com.:53"},
    {"localhost", 0, "localhost", 53, "localhost:53"},
    {"knot-0.dns.svc", 0, "knot-0.dns.svc", 53, "knot-0.dns.svc:53"},
    {"123.example", 0, "123.example", 53, "123.example:53"},

    /* -------------------------------------------------------- bad */
    {"", DNS_EADDR, "empty nameserver address", 0, NULL},
    {"1.2.3.4:", DNS_EADDR, "missing port after ':'", 0, NULL},
    {"1.2.3.4:0", DNS_EADDR, "port 0 is out of range", 0, NULL},
    {"1.2.3.4:65536", DNS_EADDR, "port 65536 is out of range", 0, NULL},
    {"1.2.3.4:99999999999999999999", DNS_EADDR, "out of range", 0, NULL},
    {"1.2.3.4:dns", DNS_EADDR, "port 'dns' is not a number", 0, NULL},
    {"1.2.3.4:-1", DNS_EADDR, "port '-1' is not a number", 0, NULL},
    {"1.2.3.4: 53", DNS_EADDR, "port ' 53' is not a number", 0, NULL},
    {"ns1:53:53", DNS_EADDR, "is not an IPv6 address", 0, NULL},
    {"[2001:db8::1", DNS_EADDR, "'[' without ']'", 0, NULL},
    {"[2001:db8::1]53", DNS_EADDR, "unexpected text after ']'", 0, NULL},
    {"[2001:db8::1]:", DNS_EADDR, "missing port after ':'", 0, NULL},
    {"[2001:db8::1]:0", DNS_EADDR, "port 0 is out of range", 0, NULL},
    {"[]:53", DNS_EADDR, "empty IPv6 address in brackets", 0, NULL},
    {"[1.2.3.4]:53", DNS_EADDR, "is not an IPv6 address", 0, NULL},
    {"[ns1.example.com]", DNS_EADDR, "is not an IPv6 address", 0, NULL},
    {"2001:db8::g", DNS_EADDR, "is not an IPv6 address", 0, NULL},
    {"2001:db8:::1", DNS_EADDR, "is not an IPv6 address", 0, NULL},
    {"1.2.3.256", DNS_EADDR, "octet out of range 0-255", 0, NULL},
    {"1.2.3.1000", DNS_EADDR, "octet out of range 0-255", 0, NULL},
    {"1.2.3", DNS_EADDR, "does not have 4 octets", 0, NULL},
    {"1.2.3.4.5", DNS_EADDR, "does not have 4 octets", 0, NULL},
    {"1.2..4", DNS_EADDR, "has an empty octet", 0, NULL},
    {"1.2.3.4.", DNS_EADDR, "has an empty octet", 0, NULL},
    {"1.2.3.04", DNS_EADDR, "leading zero", 0, NULL},
    {":53", DNS_EADDR, "missing host before ':'", 0, NULL},
    {"ns1 .example.com", DNS_EADDR, "invalid character ' ' in host name", 0,
     NULL},
    {"ns1_x.example.com", DNS_EADDR, "invalid character '_' in host name", 0,
     NULL},
    {"ns1..example.com", DNS_EADDR, "has an empty label", 0, NULL},
    {".example.com", DNS_EADDR, "has an empty label", 0, NULL},
    {"-ns1.example.com", DNS_EADDR, "starting or ending with '-'", 0, NULL},
    {"ns1-.example.com", DNS_EADDR, "starting or ending with '-'", 0, NULL},
    {"a123456789012345678901234567890123456789012345678901234567890123."
     "example.com",
     DNS_EADDR, "label longer than 63 characters", 0, NULL},
    {"ns1.exa\tmple.com", DNS_EADDR, "invalid character 0x09", 0, NULL},
};

static void test_addr_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct addr_case *c = &cases[i];
		struct dns_addr a;
		char err[256] = "unset", fmt[300];
		int ret = dns_addr_parse(&a, c->text, err, sizeof(err));

		if (ret != c->ret)
			print_message("case %zu: '%s' -> %d %s\n", i, c->text,
				      ret, err);
		assert_int_equal(ret, c->ret);
		if (c->ret == 0) {
			assert_string_equal(a.host, c->host);
			assert_int_equal(a.port, c->port);
			assert_string_equal(err, "");
			assert_string_equal(
			    dns_addr_format(&a, fmt, sizeof(fmt)),
			    c->formatted);
		} else {
			assert_non_null(strstr(err, c->host));
		}
	}
}

/* Host names too long for the buffer, and a NULL text. */
static void test_addr_long(void **state)
{
	char text[400], err[256];
	struct dns_addr a;

	(void)state;
	/* 5 labels of 60: 304 characters. */
	text[0] = '\0';
	for (int i = 0; i < 5; i++) {
		size_t n = strlen(text);
		memset(text + n, 'a', 60);
		text[n + 60] = '.';
		text[n + 61] = '\0';
	}
	assert_int_equal(dns_addr_parse(&a, text, err, sizeof(err)), DNS_EADDR);
	assert_non_null(strstr(err, "longer than 253 characters"));
	/* 4 labels of 63 plus a dot each = 256 > 253. */
	text[0] = '\0';
	for (int i = 0; i < 4; i++) {
		size_t n = strlen(text);
		memset(text + n, 'b', 63);
		text[n + 63] = i < 3 ? '.' : '\0';
		text[n + 64] = '\0';
	}
	assert_int_equal(dns_addr_parse(&a, text, err, sizeof(err)), DNS_EADDR);
	assert_non_null(strstr(err, "longer than 253 characters"));
	assert_int_equal(dns_addr_parse(&a, NULL, err, sizeof(err)), DNS_EADDR);
	/* A NULL error buffer is allowed. */
	assert_int_equal(dns_addr_parse(&a, "[::1", NULL, 0), DNS_EADDR);
}

/* Every code has a text; errno values come from the C library. */
static void test_strerror(void **state)
{
	(void)state;
	for (int code = DNS_EKEY_SYNTAX; code < DNS_ELAST; code++) {
		const char *t = dns_strerror(code);
		assert_non_null(t);
		assert_string_not_equal(t, "unknown error");
	}
	assert_string_equal(dns_strerror(DNS_EADDR),
			    "malformed nameserver address");
	assert_string_equal(dns_strerror(0), "success");
	assert_string_equal(dns_strerror(-ETIMEDOUT), "Connection timed out");
	assert_string_equal(dns_strerror(-ECONNREFUSED), "Connection refused");
	assert_string_equal(dns_strerror(DNS_ELAST), "unknown error");
	assert_string_equal(dns_strerror(-900), "unknown error");
	assert_string_equal(dns_strerror(5), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr_table),
	    cmocka_unit_test(test_addr_long),
	    cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
