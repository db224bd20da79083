/* cli.c - placeholder until the command line lands. */
#include <stdio.h>

#include "server/server.h"

static int todo(const char *what)
{
	fprintf(stderr, "rfc2136-webhook %s: not built yet\n", what);
	return 1;
}

int cli_present_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return todo("present");
}

int cli_cleanup_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return todo("cleanup");
}

int cli_check_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return todo("check");
}
