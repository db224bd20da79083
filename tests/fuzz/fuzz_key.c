/*
 * fuzz_key.c - every TSIG key format dns_key_parse() reads (BIND blocks,
 * K*.private, Knot's alg:name:secret and YAML, bare secrets, base64 of a
 * whole file), with and without a name and algorithm from the caller.
 *
 * Input: byte 0 selects what the caller passes: bit 0 a key name, bit 1
 * an algorithm, bit 2 a K*.private file name as source, bit 3 which name
 * and algorithm (so both agreement and conflict are reached); the rest is
 * the key text.
 *
 * The property of issue 12: whatever the bytes, the parser never crashes,
 * and a text that is valid base64 (white space anywhere, padding optional
 * unless white space stands inside a line)
 * given with a name and an algorithm is a bare secret whose key is exactly
 * its decoding, as nsupdate -y reads it.  The decoding is checked with a
 * decoder written here, independent of dns/key.c's.
 */
#include "dns/dns.h"
#include "tests/fuzz/fuzz.h"

/*
 * The RFC 4648 alphabet looked up, where dns/key.c computes each digit's
 * value from character ranges: this file is the oracle the parser's
 * decoding is checked against, so it shares none of dns/key.c's base64
 * code (a bug there must not reach here).
 */
static int b64_digit(uint8_t ch)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = memchr(alphabet, ch, 64);

	return p != NULL ? (int)(p - alphabet) : -1;
}

/*
 * RFC 4648 4 base64 of at least one byte, white space ignored, the final
 * padding optional (but complete when present): the decoding into @out
 * (room for @len bytes) and its length, or 0 when @in is not that.
 */
static size_t b64_reference(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t digits = 0, pad = 0, o = 0, bits = 0;
	bool seen = false, gap = false, inner = false;
	uint32_t acc = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t ch = in[i];
		int v;

		if (ch == '\n') {
			seen = gap = false;
			continue;
		}
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' ||
		    ch == '\v') {
			gap = seen;
			continue;
		}
		inner |= gap;
		seen = true;
		if (ch == '=') {
			pad++;
			continue;
		}
		v = b64_digit(ch);
		if (v < 0 || pad > 0)
			return 0;
		digits++;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (digits % 4 == 1 || o == 0)
		return 0;
	if (pad > 0 && (digits + pad) % 4 != 0)
		return 0;
	/* White space inside a line: complete padding, as BIND wants. */
	if (inner && (digits + pad) % 4 != 0)
		return 0;
	if (pad > 2)
		return 0;
	return o;
}

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
	if (name != NULL && alg != NULL && size - 1 <= 64 * 1024) {
		uint8_t *want = malloc(size);
		size_t n;

		if (want == NULL)
			abort();
		n = b64_reference(data + 1, size - 1, want);
		if (n > 0) {
			/* nsupdate's reading, whatever the bytes decode to. */
			fuzz_check(ret == 0);
			fuzz_check(key.secret_len == n);
			fuzz_check(memcmp(key.secret, want, n) == 0);
			fuzz_check(key.warning[0] == '\0');
		}
		free(want);
	}
	if (ret == 0) {
		fuzz_check(key.name[0] != '\0');
		fuzz_check_text(key.name, sizeof(key.name));
		fuzz_check(key.name[strlen(key.name) - 1] == '.');
		fuzz_check(key.alg >= DNS_ALG_MD5 && key.alg <= DNS_ALG_SHA512);
		fuzz_check(key.secret != NULL && key.secret_len > 0);
		fuzz_check_text(key.warning, sizeof(key.warning));
		fuzz_check_text(key.alt_desc, sizeof(key.alt_desc));
		fuzz_check_text(key.alt_warning, sizeof(key.alt_warning));
		fuzz_check_text(key.weak, sizeof(key.weak));
		fuzz_check((key.alt_secret == NULL) ==
			   (key.alt_secret_len == 0));

		/* Touch every secret byte: ASan checks the length. */
		volatile uint8_t sum = 0;
		for (size_t i = 0; i < key.secret_len; i++)
			sum ^= key.secret[i];
		for (size_t i = 0; i < key.alt_secret_len; i++)
			sum ^= key.alt_secret[i];
		(void)sum;
	} else {
		fuzz_check(ret < 0);
		fuzz_check(err[0] != '\0');
	}
	dns_key_release(&key);
	fuzz_check(key.secret == NULL && key.alt_secret == NULL);
	return 0;
}
