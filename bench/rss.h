/*
 * rss.h - what the floor programs print: their own VmRSS, RssAnon and
 * RssFile (KB, /proc/self/status) as one JSON line.  Header-only, so each
 * floor program stays one object linked as mk/bench.mk links it.
 */
#ifndef BENCH_RSS_H
#define BENCH_RSS_H

#include <stdio.h>
#include <string.h>

/* Print the line; 0, or 1 when it cannot be read (@prog names the caller). */
static inline int rss_print(const char *prog)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long rss = -1, anon = -1, file = -1;

	if (f == NULL) {
		fprintf(stderr, "%s: /proc/self/status: ", prog);
		perror(NULL);
		return 1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			sscanf(line + 6, "%ld", &rss);
		else if (strncmp(line, "RssAnon:", 8) == 0)
			sscanf(line + 8, "%ld", &anon);
		else if (strncmp(line, "RssFile:", 8) == 0)
			sscanf(line + 8, "%ld", &file);
	}
	fclose(f);
	printf("{\"VmRSS\": %ld, \"RssAnon\": %ld, \"RssFile\": %ld}\n", rss,
	       anon, file);
	return rss < 0 ? 1 : 0;
}

#endif
