/*
 * main.c - rfc2136-webhook: dispatch to the command named first.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "server/server.h"

static const char usage[] =
    "usage: rfc2136-webhook COMMAND [OPTIONS]\n"
    "\n"
    "A cert-manager ACME DNS-01 webhook solver: publishes and removes\n"
    "_acme-challenge TXT records with RFC 2136 dynamic updates signed\n"
    "with TSIG.\n"
    "\n"
    "commands:\n"
    "  serve     run the webhook (cert-manager's solver API over HTTPS)\n"
    "  present   add one TXT value\n"
    "  cleanup   delete exactly one TXT value\n"
    "  check     test a nameserver, zone and key step by step\n"
    "  version   print the version\n"
    "\n"
    "'rfc2136-webhook COMMAND --help' describes each command.\n";

int process_core_dumps(bool allow)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_CORE, &rl) != 0)
		return -errno;
	if (allow) {
		/* Back up to the hard limit, which was left alone. */
		rl.rlim_cur = rl.rlim_max;
	} else {
		rl.rlim_cur = 0;
	}
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return -errno;
	if (prctl(PR_SET_DUMPABLE, allow ? 1 : 0, 0, 0, 0) != 0)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	/*
	 * Before any secret is read: a TSIG key, a keytab or the serving key
	 * must not end up in a core file.
	 */
	int ret = process_core_dumps(false);
	if (ret < 0)
		fprintf(stderr,
			"rfc2136-webhook: warning: cannot turn core "
			"dumps off: %s\n",
			strerror(-ret));
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "serve") == 0)
		return serve_main(argc - 1, argv + 1);
	if (strcmp(cmd, "present") == 0)
		return cli_present_main(argc - 1, argv + 1);
	if (strcmp(cmd, "cleanup") == 0)
		return cli_cleanup_main(argc - 1, argv + 1);
	if (strcmp(cmd, "check") == 0)
		return cli_check_main(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("rfc2136-webhook %s\n", VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "-h") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	fprintf(stderr, "rfc2136-webhook: unknown command '%s'\n\n%s", cmd,
		usage);
	return 2;
}
