/*
 * fuzz_key.c - every TSIG key format dns_key_parse() reads (BIND blocks,
 * K*.private, Knot's alg:name:secret and YAML, bare secrets, base64 of a
 * whole file), with and without a name and algorithm from the caller.
 *
 * Input: byte 0 selects what the caller passes: bit 0 a key name, bit 1
 * an algorithm, bit 2 a K*.private file name as source, bit 3 which name
 * and algorithm (so both agreement and conflict are reached); the rest is
 * the key text.
 */
#include "dns/dns.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"acme-update", "Acme-Update."};
	static const char *const algs[] = {"hmac-sha256", "HMACSHA512"};
	struct dns_key key;
	char err[512];
	const char *name, *alg, *source;
	unsigned mode;
	int ret;

	if (size < 1)
		return 0;
	mode = data[0];
	name = mode & 1 ? names[(mode >> 3) & 1] : NULL;
	alg = mode & 2 ? algs[(mode >> 3) & 1] : NULL;
	source = mode & 4 ? "/keys/Kacme-update.+163+12345.private"
			  : "Secret ns/name key secret";
	err[0] = '\0';
	memset(&key, 0x5a, sizeof(key));
	ret = dns_key_parse(&key, (const char *)data + 1, size - 1, source,
			    name, alg, err, sizeof(err));
	fuzz_check_text(err, sizeof(err));
	if (ret == 0) {
		fuzz_check(key.name[0] != '\0');
		fuzz_check_text(key.name, sizeof(key.name));
		fuzz_check(key.name[strlen(key.name) - 1] == '.');
		fuzz_check(key.alg >= DNS_ALG_MD5 && key.alg <= DNS_ALG_SHA512);
		fuzz_check(key.secret != NULL && key.secret_len > 0);
		fuzz_check_text(key.warning, sizeof(key.warning));
		/* Touch every secret byte: ASan checks the length. */
		volatile uint8_t sum = 0;
		for (size_t i = 0; i < key.secret_len; i++)
			sum ^= key.secret[i];
		(void)sum;
	} else {
		fuzz_check(ret < 0);
		fuzz_check(err[0] != '\0');
	}
	dns_key_release(&key);
	fuzz_check(key.secret == NULL);
	return 0;
}
