# Valgrind memcheck over the unit tests and the system tests.
#
#   make valgrind        every unit test binary, then the system tests of
#                        tests/valgrind/system-tests.txt with the webhook
#                        binary (serve and the CLI) under memcheck; fails on
#                        any memory error and on any definite or indirect
#                        leak (each process exits 99 then, and its log is
#                        named)
#   make valgrind-unit / valgrind-system    one half
#
# The system tests run the binary through tests/valgrind/wrapper.sh, given
# to them as RFC2136_WEBHOOK; one log per process under $(VALGRIND_LOGS).
# Suppressions, each explained, are in tests/valgrind/memcheck.supp.

VALGRIND ?= valgrind
VALGRIND_LOGS ?= $(abspath $(O))/valgrind
VALGRIND_OPTS ?= --leak-check=full --errors-for-leak-kinds=definite,indirect \
	--error-exitcode=99 --num-callers=40 \
	--suppressions=$(abspath tests/valgrind/memcheck.supp)
VALGRIND_TESTS := $(shell sed -e 's/\#.*//' tests/valgrind/system-tests.txt)

.PHONY: valgrind valgrind-unit valgrind-system

valgrind: valgrind-unit valgrind-system

valgrind-unit: deps-test $(UNIT_BIN)
	$(Q)mkdir -p $(VALGRIND_LOGS)/unit && rm -f $(VALGRIND_LOGS)/unit/*.log
	$(Q)pass=0; fail=0; for t in $(UNIT_BIN); do \
		n=$$(basename $$t); \
		if $(VALGRIND) $(VALGRIND_OPTS) --log-file=$(VALGRIND_LOGS)/unit/$$n.log \
			$$t >$(VALGRIND_LOGS)/unit/$$n.out 2>&1; then \
			pass=$$((pass+1)); \
		else fail=$$((fail+1)); \
			echo "FAILED: $$t (valgrind log $(VALGRIND_LOGS)/unit/$$n.log)"; \
			grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|.*definitely|.*indirectly)' \
				$(VALGRIND_LOGS)/unit/$$n.log | head -n 5; \
			tail -n 3 $(VALGRIND_LOGS)/unit/$$n.out; \
		fi; \
	done; echo "valgrind unit: $$pass clean, $$fail failed"; [ $$fail -eq 0 ]

valgrind-system: deps-test $(BIN) $(TOOL_BIN)
	$(Q)mkdir -p $(VALGRIND_LOGS)/system && rm -f $(VALGRIND_LOGS)/system/*.log
	$(Q)RFC2136_WEBHOOK=$(abspath tests/valgrind/wrapper.sh) \
		RFC2136_VALGRIND_BINARY=$(abspath $(BIN)) \
		RFC2136_VALGRIND_LOGS=$(VALGRIND_LOGS)/system \
		RFC2136_VALGRIND_OPTS="$(VALGRIND_OPTS)" \
		RFC2136_TOOLS=$(abspath $(O)/tools) \
		$(PYTHON) -m pytest -q -p no:cacheprovider $(VALGRIND_TESTS) \
		$(PYTEST_ARGS); rc=$$?; \
	logs=$$(ls $(VALGRIND_LOGS)/system/*.log 2>/dev/null | wc -l); \
	bad=$$(grep -L 'ERROR SUMMARY: 0 errors' $(VALGRIND_LOGS)/system/*.log); \
	for f in $$bad; do echo "valgrind: errors in $$f:"; \
		grep -m1 '== Command:' $$f; \
		grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|.*definitely|.*indirectly|ERROR SUMMARY)' $$f | head -n 8; \
	done; \
	echo "valgrind system: $$logs processes checked, $$(echo $$bad | wc -w) with errors or cut short, pytest exit $$rc"; \
	[ $$rc -eq 0 ] && [ -z "$$bad" ]
