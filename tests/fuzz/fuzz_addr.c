/*
 * fuzz_addr.c - the nameserver address parser (dns_addr_parse) and its
 * formatter: whatever parses formats to a text that parses to the same
 * host and port.
 */
#include "dns/dns.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_addr addr, again;
	char err[512], buf[DNS_NAME_LEN + 16];
	char *text = fuzz_strdup(data, size);
	int ret;

	err[0] = '\0';
	ret = dns_addr_parse(&addr, text, err, sizeof(err));
	fuzz_check_text(err, sizeof(err));
	if (ret != 0) {
		fuzz_check(ret == DNS_EADDR && err[0] != '\0');
		goto out;
	}
	fuzz_check(addr.host[0] != '\0');
	fuzz_check_text(addr.host, sizeof(addr.host));
	fuzz_check(dns_addr_format(&addr, buf, sizeof(buf)) == buf);
	fuzz_check_text(buf, sizeof(buf));
	ret = dns_addr_parse(&again, buf, err, sizeof(err));
	fuzz_check(ret == 0);
	fuzz_check(strcmp(again.host, addr.host) == 0);
	fuzz_check(again.port == addr.port);
out:
	free(text);
	return 0;
}
