/*
 * floor.c - the memory floor the webhook's VmRSS is read against: a
 * program that links the same libraries and does nothing.  It prints its
 * own VmRSS, RssAnon and RssFile (KB, /proc/self/status) as one JSON line
 * and returns.
 *
 * Built twice by mk/bench.mk: bench/floor links everything the webhook
 * links; bench/floor_core leaves out libcurl (and with it OpenSSL), MIT
 * Kerberos and libyaml, which the webhook needs only to talk to a
 * Kubernetes API and for GSS-TSIG.  What is loaded costs memory before
 * main() runs: the dynamic loader maps each library, applies its
 * relocations and runs its constructors (GnuTLS initialises its whole
 * crypto backend there), and the kernel maps file pages around each page
 * touched.
 */
#include <stdio.h>
#include <string.h>

int main(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long rss = -1, anon = -1, file = -1;

	if (f == NULL) {
		perror("floor: /proc/self/status");
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
