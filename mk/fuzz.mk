# Fuzzing: libFuzzer targets (tests/fuzz/fuzz_*.c) built with clang.
#
#   make fuzz                 build every target and run each for
#                             FUZZ_SECONDS (default 60); fails on any
#                             crash, leak, timeout or out-of-memory, and
#                             prints executions and coverage per target
#   make fuzz-build           build the targets only
#   make fuzz FUZZ_TARGETS="codec key" FUZZ_SECONDS=10
#   make fuzz-seeds           recapture the DNS answer seeds from real
#                             Knot, BIND and PowerDNS servers
#
# The library sources the targets reach are compiled again with the
# fuzzer's instrumentation under $(FUZZ_O) (never mixed with the normal
# objects).  Each target starts from its seed corpus tests/fuzz/corpus/NAME
# (read only) and keeps what it finds under $(FUZZ_O)/corpus/NAME;
# crashing inputs land in $(FUZZ_O)/artifacts/.  A crash found is fixed in
# the code and its input added to the seed corpus.

FUZZ_CC ?= clang
FUZZ_O ?= $(O)/fuzz
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 65536
FUZZ_RSS_MB ?= 2048
FUZZ_TIMEOUT ?= 10
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -DVERSION='"$(VERSION)"' -I. \
	$(WARN) $(PKG_CFLAGS) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	-MMD -MP

# What the targets reach: util/, dns/, k8s/ and the pure codecs of server/ (the
# ChallengePayload and Status encoders, the solver config).
FUZZ_LIB_SRC := $(wildcard util/*.c dns/*.c k8s/*.c) server/codec.c server/status.c \
	server/config.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_O)/obj/%.o)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_ALL := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_BIN := $(FUZZ_ALL:%=$(FUZZ_O)/fuzz_%)

.PHONY: fuzz fuzz-build fuzz-seeds fuzz-deps

fuzz-deps:
	$(Q)sh scripts/deps.sh build fuzz

$(FUZZ_O)/obj/%.o: %.c | fuzz-deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_O)/librfc2136-fuzz.a: $(FUZZ_LIB_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_O)/fuzz_%: $(FUZZ_O)/obj/tests/fuzz/fuzz_%.o $(FUZZ_O)/librfc2136-fuzz.a
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_TARGETS:%=$(FUZZ_O)/fuzz_%)
	$(Q)FUZZ_O=$(FUZZ_O) FUZZ_SECONDS=$(FUZZ_SECONDS) \
		FUZZ_MAX_LEN=$(FUZZ_MAX_LEN) FUZZ_RSS_MB=$(FUZZ_RSS_MB) \
		FUZZ_TIMEOUT=$(FUZZ_TIMEOUT) sh tests/fuzz/run.sh $(FUZZ_TARGETS)

# The capture helper is an ordinary program of the normal build.
$(O)/fuzz-tools/capture_answer: $(O)/tests/fuzz/capture_answer.o $(LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

fuzz-seeds: $(O)/fuzz-tools/capture_answer
	$(Q)$(PYTHON) tests/fuzz/capture_seeds.py $(abspath $<) \
		tests/fuzz/corpus/dns_answer

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_SRC:%.c=$(FUZZ_O)/obj/%.d)
