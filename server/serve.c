/* serve.c - placeholder until the webhook server lands. */
#include <stdio.h>

#include "server/server.h"

int serve_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("rfc2136-webhook serve: not built yet\n", stderr);
	return 1;
}
