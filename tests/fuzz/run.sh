#!/bin/sh
# Run libFuzzer targets one after the other for FUZZ_SECONDS each and print
# a summary: executions, executions per second, coverage (cov: edges, ft:
# features, from the final stats line) and corpus size.  Exits 1 when any
# target found a crash, a leak, a timeout or ran out of memory (libFuzzer
# exits non-zero then; the input is kept under $FUZZ_O/artifacts/).
#
#   FUZZ_O=build/fuzz FUZZ_SECONDS=60 sh tests/fuzz/run.sh codec key ...
set -u
: "${FUZZ_O:=build/fuzz}" "${FUZZ_SECONDS:=60}" "${FUZZ_MAX_LEN:=65536}"
: "${FUZZ_RSS_MB:=2048}" "${FUZZ_TIMEOUT:=10}"
seeds=tests/fuzz/corpus
mkdir -p "$FUZZ_O/logs" "$FUZZ_O/artifacts"
summary="$FUZZ_O/summary.txt"
printf '%-12s %12s %9s %7s %7s %7s  %s\n' target execs exec/s cov ft corpus \
	result >"$summary"
failed=0
for t in "$@"; do
	bin="$FUZZ_O/fuzz_$t"
	log="$FUZZ_O/logs/$t.log"
	work="$FUZZ_O/corpus/$t"
	mkdir -p "$work" "$seeds/$t"
	echo "fuzz: $t for ${FUZZ_SECONDS}s (log $log)"
	# The work corpus comes first: libFuzzer adds new inputs there and
	# only reads the seeds.
	"$bin" -max_total_time="$FUZZ_SECONDS" -max_len="$FUZZ_MAX_LEN" \
		-rss_limit_mb="$FUZZ_RSS_MB" -timeout="$FUZZ_TIMEOUT" \
		-detect_leaks=1 -print_final_stats=1 \
		-artifact_prefix="$FUZZ_O/artifacts/$t-" \
		"$work" "$seeds/$t" >"$log" 2>&1
	rc=$?
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
	if [ "$rc" -eq 0 ]; then
		result=ok
	else
		failed=1
		result="FAILED (exit $rc): $(grep -m1 -E \
			'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|invariant failed' \
			"$log" | cut -c1-120)"
		grep -E '^(artifact_prefix|Test unit written)' "$log"
	fi
	printf '%-12s %12s %9s %7s %7s %7s  %s\n' "$t" "${execs:-?}" \
		"${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result" \
		>>"$summary"
done
echo
cat "$summary"
if [ "$failed" -ne 0 ]; then
	echo "fuzz: FAILED (logs under $FUZZ_O/logs, inputs under $FUZZ_O/artifacts)"
	exit 1
fi
echo "fuzz: all targets clean"
