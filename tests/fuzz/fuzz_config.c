/*
 * fuzz_config.c - the solver config parser (server/config.h): any JSON
 * value as request.config, and Go-style durations on their own.
 *
 * Input: byte 0 even: the rest is JSON given to solver_config_parse();
 * odd: the rest is a duration for solver_duration_parse().
 */
#include <errno.h>

#include <jansson.h>

#include "server/config.h"
#include "tests/fuzz/fuzz.h"

static void check_config(const struct solver_config *cfg)
{
	fuzz_check(cfg->nservers >= 1 && cfg->nservers <= SOLVER_NS_MAX);
	for (size_t i = 0; i < cfg->nservers; i++) {
		fuzz_check(cfg->servers[i].host[0] != '\0');
		fuzz_check_text(cfg->servers[i].host,
				sizeof(cfg->servers[i].host));
	}
	fuzz_check_text(cfg->servers_text, sizeof(cfg->servers_text));
	fuzz_check_text(cfg->key_name, sizeof(cfg->key_name));
	fuzz_check_text(cfg->alg, sizeof(cfg->alg));
	fuzz_check_text(cfg->secret_name, sizeof(cfg->secret_name));
	fuzz_check_text(cfg->secret_key, sizeof(cfg->secret_key));
	fuzz_check_text(cfg->zone, sizeof(cfg->zone));
	fuzz_check(cfg->proto == DNS_PROTO_UDP || cfg->proto == DNS_PROTO_TCP);
	fuzz_check(cfg->timeout_ms <= SOLVER_TIMEOUT_MAX);
	fuzz_check(!cfg->has_secret_ref ||
		   (cfg->secret_name[0] != '\0' && cfg->secret_key[0] != '\0'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	int ret;

	if (size < 1)
		return 0;
	err[0] = '\0';
	if (data[0] & 1) {
		char *text = fuzz_strdup(data + 1, size - 1);
		unsigned ms = 12345;

		ret = solver_duration_parse(text, &ms, err, sizeof(err));
		fuzz_check_text(err, sizeof(err));
		fuzz_check(ret == 0 || (ret == -EINVAL && err[0] != '\0'));
		free(text);
	} else {
		struct solver_config cfg;
		json_t *config =
		    json_loadb((const char *)data + 1, size - 1,
			       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);

		ret = solver_config_parse(&cfg, config, err, sizeof(err));
		fuzz_check_text(err, sizeof(err));
		if (ret == 0)
			check_config(&cfg);
		else
			fuzz_check(err[0] != '\0');
		json_decref(config);
	}
	return 0;
}
