/*
 * floor_kube.c - the memory floor of the production configuration: the
 * webhook's libraries (linked as bench/floor links them) and one HTTPS
 * GET through libcurl and OpenSSL to the stand-in Kubernetes API,
 * verified against its CA alone, as the webhook's k8s/ client makes it.
 * Prints VmRSS, RssAnon and RssFile (KB) as one JSON line, like floor.c.
 *
 * Usage: floor_kube URL CAFILE
 */
#include <curl/curl.h>
#include <stdio.h>

#include "bench/rss.h"

static size_t sink(char *ptr, size_t size, size_t nmemb, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * nmemb;
}

int main(int argc, char **argv)
{
	long status = 0;
	int ret;
	CURL *h;
	CURLcode rc;

	if (argc != 3) {
		fprintf(stderr, "usage: floor_kube URL CAFILE\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	h = curl_easy_init();
	if (h == NULL)
		return 1;
	curl_easy_setopt(h, CURLOPT_URL, argv[1]);
	curl_easy_setopt(h, CURLOPT_CAINFO, argv[2]);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK || status == 0) {
		fprintf(stderr, "floor_kube: %s: %s\n", argv[1],
			curl_easy_strerror(rc));
		return 1;
	}
	ret = rss_print("floor_kube");
	/* Kept to the end, as the webhook keeps its handle. */
	curl_easy_cleanup(h);
	return ret;
}
