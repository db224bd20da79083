# Measurements (not tests; not part of `make check`).
#
#   make bench   bare signed UPDATE vs Present/CleanUp through the webhook
#                (production configuration: a kubeconfig to a stand-in
#                Kubernetes API) and through a minimal Go webhook,
#                against BIND, Knot and PowerDNS on loopback: latency
#                percentiles, calls per second, memory, start-up time;
#                writes the table to bench/RESULTS.md
#   make soak    100 000 Present/CleanUp pairs at 64 concurrent clients
#                against PowerDNS: no failure, nothing left behind, memory
#                and file descriptors flat
#
#   BENCH_ARGS=  extra options for bench/bench.py (--help lists them)

BENCH_TOOLS := $(O)/bench/bare_update $(O)/bench/load
FLOOR_TOOLS := $(O)/bench/floor $(O)/bench/floor_core $(O)/bench/floor_kube
# floor_core: the libraries the webhook needs without a Kubernetes API or
# GSS-TSIG (no libcurl and its OpenSSL, no Kerberos, no libyaml).
FLOOR_CORE_PKGS := libknot libdnssec libmicrohttpd jansson gnutls
BENCH_ARGS ?=
# The yardstick: a minimal Go webhook (bench/gowebhook) built from Debian's
# Go and miekg/dns, no module download.
GOWEBHOOK := $(O)/bench/gowebhook
BENCH_GO_ENV := GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= \
	GOCACHE=$(abspath $(O))/bench/gocache

.PHONY: bench soak bench-tools deps-bench

# bare_update uses the project's dns/; load only libcurl and jansson.
$(O)/bench/bare_update: $(O)/bench/bare_update.o $(O)/bench/stats.o $(LIBA)
$(O)/bench/load: $(O)/bench/load.o $(O)/bench/stats.o
$(BENCH_TOOLS):
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# Linked with --no-as-needed: floor.c calls none of them, and each must be
# loaded as it is in the webhook.
$(O)/bench/floor: $(O)/bench/floor.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ -Wl,--no-as-needed $(LIBS)
# floor_kube: the same, and one HTTPS call through libcurl and OpenSSL.
$(O)/bench/floor_kube: $(O)/bench/floor_kube.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ -Wl,--no-as-needed $(LIBS)
$(O)/bench/floor_core: $(O)/bench/floor.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ -Wl,--no-as-needed \
		$$(pkg-config --libs $(FLOOR_CORE_PKGS)) -lpthread

$(GOWEBHOOK): bench/gowebhook/main.go
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GO      $@")
	$(Q)$(BENCH_GO_ENV) go build -o $@ ./bench/gowebhook

deps-bench:
	$(Q)sh scripts/deps.sh build test bench

bench-tools: $(BENCH_TOOLS) $(FLOOR_TOOLS) $(GOWEBHOOK)

bench: deps-bench $(BIN) $(BENCH_TOOLS) $(FLOOR_TOOLS) $(GOWEBHOOK)
	$(Q)$(PYTHON) bench/bench.py --webhook $(abspath $(BIN)) \
		--tools $(abspath $(O)/bench) --results bench/RESULTS.md $(BENCH_ARGS)

soak: deps-test $(BIN) $(BENCH_TOOLS)
	$(Q)$(PYTHON) bench/bench.py --soak --webhook $(abspath $(BIN)) \
		--tools $(abspath $(O)/bench) $(BENCH_ARGS)

-include $(O)/bench/bare_update.d $(O)/bench/load.d $(O)/bench/stats.d \
	$(O)/bench/floor.d $(O)/bench/floor_kube.d
