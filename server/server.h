/*
 * server.h - the daemon's entry point (the present, cleanup and check
 * commands are in cli/cli.h).  It takes the arguments after the command
 * name (argv[0] is the command) and returns the process exit status: 0
 * success, 1 failure, 2 usage error.
 */
#ifndef RFC2136_SERVER_H
#define RFC2136_SERVER_H

#include <stdbool.h>

/* serve: the cert-manager webhook (serve.c). */
int serve_main(int argc, char **argv);

/*
 * Keep secrets out of core dumps (main.c): RLIMIT_CORE 0 and
 * PR_SET_DUMPABLE 0, which also keeps other processes of the same user
 * from reading this one's memory through ptrace or /proc/PID/mem.  Every
 * command runs so; `serve --allow-core-dumps` undoes it.  Returns 0 or a
 * negative errno.
 */
int process_core_dumps(bool allow);

#endif /* RFC2136_SERVER_H */
