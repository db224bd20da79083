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
#include "bench/rss.h"

int main(void)
{
	return rss_print("floor");
}
