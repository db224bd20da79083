/*
 * fuzz_kubeconfig.c - the kubeconfig parser (k8s/k8s_internal.h): any
 * YAML, with and without a path that anchors relative file names.  A
 * parsed config names a server; nothing leaks on any path.
 *
 * Input: byte 0 bit 0 chooses the path; the rest is the kubeconfig text.
 */
#include "k8s/k8s_internal.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_config cfg;
	char err[512];
	int ret;

	if (size < 1)
		return 0;
	err[0] = '\0';
	memset(&cfg, 0, sizeof(cfg));
	ret = k8s_kubeconfig_parse(&cfg, (const char *)data + 1, size - 1,
				   data[0] & 1 ? "/etc/kube/config" : NULL, err,
				   sizeof(err));
	fuzz_check_text(err, sizeof(err));
	if (ret == 0) {
		fuzz_check(cfg.server != NULL && cfg.server[0] != '\0');
	} else {
		fuzz_check(ret < 0 && err[0] != '\0');
	}
	k8s_config_release(&cfg);
	fuzz_check(cfg.server == NULL && cfg.token == NULL);
	return 0;
}
