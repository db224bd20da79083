#!/bin/sh
# Stand-in for the webhook binary in the system tests (RFC2136_WEBHOOK
# points here under `make valgrind`): runs the real binary, named by
# RFC2136_VALGRIND_BINARY, under valgrind memcheck with
# RFC2136_VALGRIND_OPTS, one log per process in RFC2136_VALGRIND_LOGS.
# exec keeps the PID, so the tests' signals reach the program itself.
: "${RFC2136_VALGRIND_BINARY:?}" "${RFC2136_VALGRIND_LOGS:?}"
exec valgrind $RFC2136_VALGRIND_OPTS \
	--log-file="$RFC2136_VALGRIND_LOGS/%p.log" \
	"$RFC2136_VALGRIND_BINARY" "$@"
