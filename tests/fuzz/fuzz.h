/*
 * fuzz.h - what the libFuzzer targets of tests/fuzz/ share.
 *
 * Each fuzz_<name>.c defines LLVMFuzzerTestOneInput() and is linked with
 * libFuzzer's main (clang -fsanitize=fuzzer,address,undefined) and the
 * project's library built with the same instrumentation (mk/fuzz.mk).  A
 * target aborts through fuzz_check() when an invariant the contract
 * promises does not hold, so libFuzzer records the input as a crash.
 */
#ifndef RFC2136_FUZZ_H
#define RFC2136_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with the failed condition when @cond is false. */
#define fuzz_check(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",       \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

/* A NUL-terminated malloc'ed copy of @data (@size bytes). */
static inline char *fuzz_strdup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * An error text must be a NUL-terminated string within its buffer; reading
 * it with strlen() lets ASan catch a missing terminator.
 */
static inline void fuzz_check_text(const char *text, size_t cap)
{
	fuzz_check(strnlen(text, cap) < cap);
}

#endif /* RFC2136_FUZZ_H */
