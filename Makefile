# rfc2136-webhook - one non-recursive GNU Makefile.
#
#   make                 build build/rfc2136-webhook
#   make check           unit (cmocka) and system (pytest) tests
#   make demo            a challenge published and removed end to end
#   make lint            clang-format and forbidden functions
#   make install         PREFIX=/usr/local DESTDIR=
#   WERROR=1             warnings are errors
#   SANITIZE=address,undefined   instrumented build (under build/san/)
#   V=1                  show the commands
#
# Missing Debian packages are installed first (scripts/deps.sh, as root).

VERSION := $(shell cat VERSION)

.DEFAULT_GOAL := all
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
CC ?= cc
PYTHON ?= /usr/bin/python3
PYTEST_ARGS ?=

ifneq ($(SANITIZE),)
O ?= build/san
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
O ?= build
SAN_FLAGS :=
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

PKGS := libknot libdnssec libmicrohttpd jansson libcurl yaml-0.1 gnutls openssl \
	krb5-gssapi krb5
# The layering (docs/ARCHITECTURE.md): dns/ and k8s/ are compiled with the
# flags of their own libraries only, cli/ with none (it uses dns/dns.h and
# libc); `make lint` checks that no module includes a header it may not.
DNS_PKGS := libknot libdnssec krb5-gssapi krb5
K8S_PKGS := libcurl jansson yaml-0.1 openssl

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wvla -Wwrite-strings
ifeq ($(WERROR),1)
WARN += -Werror
endif

CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -DVERSION='"$(VERSION)"' -I. $(WARN) \
	$(PKG_CFLAGS) $(SAN_FLAGS) $(CFLAGS) -MMD -MP
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)
LIBS = $(PKG_LIBS) -lpthread

# Package flags are read once the dependencies are there: build/config.mk is
# remade (installing what is missing) before anything else, then make
# restarts with it.
NODEPS_GOALS := clean lint help
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
-include build/config.mk
endif

build/config.mk: scripts/deps.sh Makefile
	$(Q)sh scripts/deps.sh build
	$(Q)mkdir -p build
	$(Q){ echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS))"; \
	      echo "PKG_LIBS := $$(pkg-config --libs $(PKGS))"; \
	      echo "DNS_CFLAGS := $$(pkg-config --cflags $(DNS_PKGS))"; \
	      echo "K8S_CFLAGS := $$(pkg-config --cflags $(K8S_PKGS))"; } > $@.tmp
	$(Q)mv $@.tmp $@

# One static archive per module (docs/ARCHITECTURE.md), each compiled with
# the flags of the libraries that module may use: util/ with libc's only,
# dns/ and k8s/ with their own libraries', cli/ with none, server/ with all.
MODULES := util dns k8s cli server
util_SRC := $(wildcard util/*.c)
dns_SRC := $(wildcard dns/*.c)
k8s_SRC := $(wildcard k8s/*.c)
cli_SRC := $(wildcard cli/*.c)
server_SRC := $(filter-out server/main.c,$(wildcard server/*.c))
LIB_SRC := $(foreach m,$(MODULES),$($(m)_SRC))
LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o)
$(O)/util/%.o: PKG_CFLAGS =
$(O)/dns/%.o: PKG_CFLAGS = $(DNS_CFLAGS)
$(O)/k8s/%.o: PKG_CFLAGS = $(K8S_CFLAGS)
$(O)/cli/%.o: PKG_CFLAGS =
BIN := $(O)/rfc2136-webhook
# In link order: each archive before the ones it uses.
LIBA := $(O)/libserver.a $(O)/libcli.a $(O)/libk8s.a $(O)/libdns.a \
	$(O)/libutil.a

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)

# Small helper programs the system tests drive (tests/tools/NAME.c).
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(O)/tools/%)

# Keep intermediate objects of tests and tools (no relinking on every run).
.SECONDARY:

.PHONY: all check check-unit check-system unit tools demo lint install clean help deps-test

all: $(BIN)

# The layering is checked on every compile: the headers an object was
# built from (its .d file) must not cross into a module it may not use.
$(O)/util/%.o: LAYER_FORBID = (dns|k8s|cli|server)/
$(O)/dns/%.o: LAYER_FORBID = (k8s|cli|server)/
$(O)/k8s/%.o: LAYER_FORBID = (dns|cli|server)/
$(O)/cli/%.o: LAYER_FORBID = (k8s|server)/
$(O)/server/%.o: LAYER_FORBID = cli/
$(O)/server/main.o: LAYER_FORBID =

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<
	$(Q)if [ -n '$(LAYER_FORBID)' ] && \
	    grep -qE '(^| )$(LAYER_FORBID)' $(@:.o=.d); then \
		echo "$<: includes $$(grep -oE '(^| )$(LAYER_FORBID)[^ ]*' $(@:.o=.d) | head -1 | tr -d ' ')," \
		     "across the layering (docs/ARCHITECTURE.md)" >&2; \
		rm -f $@; exit 1; fi

define module_archive
$(O)/lib$(1).a: $$($(1)_SRC:%.c=$(O)/%.o)
	@$$(if $$(Q),echo "  AR      $$@")
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_archive,$(m))))

$(BIN): $(O)/server/main.o $(LIBA)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(O)/tests/%: $(O)/tests/unit/%.o $(LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

$(O)/tools/%: $(O)/tests/tools/%.o $(LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

unit: $(UNIT_BIN)
tools: $(TOOL_BIN)

deps-test:
	$(Q)sh scripts/deps.sh build test

# Unit tests: each binary runs its cmocka groups; a summary line ends it.
check-unit: deps-test $(UNIT_BIN)
	$(Q)pass=0; fail=0; for t in $(UNIT_BIN); do \
		if $$t; then pass=$$((pass+1)); else fail=$$((fail+1)); echo "FAILED: $$t"; fi; \
	done; echo "unit: $$pass passed, $$fail failed"; [ $$fail -eq 0 ]

# System tests against real Knot, BIND and PowerDNS on loopback.
check-system: deps-test $(BIN) $(TOOL_BIN)
	$(Q)RFC2136_WEBHOOK=$(abspath $(BIN)) RFC2136_TOOLS=$(abspath $(O)/tools) $(PYTHON) -m pytest -q -p no:cacheprovider tests/system $(PYTEST_ARGS)

check: check-unit check-system

demo: $(BIN)
	$(Q)sh scripts/deps.sh demo
	$(Q)RFC2136_WEBHOOK=$(abspath $(BIN)) sh scripts/demo.sh

lint:
	$(Q)sh scripts/deps.sh lint
	$(Q)clang-format --dry-run -Werror $(wildcard util/*.[ch] dns/*.[ch] k8s/*.[ch] cli/*.[ch] server/*.[ch])
	$(Q)if grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|atoi|atol|gets)\s*\(' \
		util/*.[ch] dns/*.[ch] k8s/*.[ch] cli/*.[ch] server/*.[ch]; then \
		echo "lint: forbidden functions above"; exit 1; fi
	$(Q)if grep -nE '^#include "(dns|k8s|cli|server)/' util/*.[ch] || \
	    grep -nE '^#include "(k8s|cli|server)/' dns/*.[ch] || \
	    grep -nE '^#include "(dns|cli|server)/' k8s/*.[ch] || \
	    grep -nE '^#include "(k8s|server)/' cli/*.[ch] || \
	    grep -nE '^#include "cli/' $(filter-out server/main.c,$(wildcard server/*.[ch])); then \
		echo "lint: an include across the layering above (docs/ARCHITECTURE.md:"; \
		echo "      util/ uses none, dns/ and k8s/ only util/, cli/ dns/ and util/,"; \
		echo "      only server/main.c uses cli/)"; \
		exit 1; fi
	@echo "lint: ok"

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/rfc2136-webhook

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(O)/server/main.d $(UNIT_SRC:tests/unit/%.c=$(O)/tests/unit/%.d) \
	$(TOOL_SRC:tests/tools/%.c=$(O)/tests/tools/%.d)

# Further targets, one fragment per concern (packaging, benchmarks, fuzzing).
include $(wildcard mk/*.mk)
