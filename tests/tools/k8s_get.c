/*
 * k8s_get - drive the k8s/ module from the system tests.
 *
 *   k8s_get [--kubeconfig F | --secrets-dir D] [--timeout MS]
 *           [--parallel N] COMMAND
 *   k8s_get [connection options] -i      (commands from stdin, one a line)
 *
 * COMMAND:
 *   secret NS NAME KEY        prints the value's bytes
 *   configmap NS NAME KEY     prints the value
 *   configmap-keys NS NAME KEY...
 *                             one GET; prints "KEY HEX-OF-VALUE" or
 *                             "KEY -" (absent) a line, in the keys' order
 *   review USER [GROUP...] (--resource VERB,GROUP,VERSION,RESOURCE |
 *          --path VERB,PATH) [--uid UID] [--extra KEY=VALUE]...
 *                             prints "allowed REASON" or "denied REASON"
 *
 * Without --kubeconfig or --secrets-dir the in-cluster configuration is
 * used.  Errors: "k8s_get: CODE: text" on stderr, exit 1.  With -i each
 * line of stdin is one command (words split on spaces) and each answer is
 * one line: "ok HEX-OF-VALUE", "ok allowed|denied REASON" or
 * "err CODE text"; the client lives across lines (token rotation tests).
 * --parallel N runs the command from N threads 10 times each and fails
 * unless every result is the same.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/k8s.h"

#define MAX_WORDS 64

struct result {
	int code;
	bool allowed;
	char *value;
	size_t len;
	char err[1024];
};

struct job {
	struct k8s_client *client;
	int argc;
	char **argv;
	struct result first;
	bool mismatch;
	char mismatch_err[1100];
};

static const char *code_name(int code)
{
	static const char *const names[] = {
	    "K8S_ECONFIG",	 "K8S_ENOTFOUND",  "K8S_ENOKEY",
	    "K8S_EUNAUTHORIZED", "K8S_EFORBIDDEN", "K8S_EHTTP",
	    "K8S_ERESPONSE",	 "K8S_ETOOBIG",	   "K8S_ETRANSPORT"};

	if (code >= K8S_ECONFIG && code < K8S_ELAST) {
		return names[code - K8S_ECONFIG];
	}
	switch (code) {
	case -EINVAL:
		return "EINVAL";
	case -ENOMEM:
		return "ENOMEM";
	default:
		return "ERRNO";
	}
}

/* Split "a,b,c" in place into at most @max fields. */
static int split_commas(char *s, char **out, int max)
{
	int n = 0;

	out[n++] = s;
	for (char *p = s; *p != '\0'; p++) {
		if (*p == ',') {
			if (n == max) {
				return -1;
			}
			*p = '\0';
			out[n++] = p + 1;
		}
	}
	return n;
}

static int run_review(struct k8s_client *client, int argc, char **argv,
		      struct result *res)
{
	const char *groups[MAX_WORDS];
	const char *ekeys[MAX_WORDS];
	const char *evals[MAX_WORDS];
	char *copies[MAX_WORDS * 2];
	size_t ncopies = 0;
	struct k8s_review r = {0};
	char reason[512];
	int ret = -EINVAL;

	if (argc < 2) {
		snprintf(res->err, sizeof(res->err), "review: no user");
		return -EINVAL;
	}
	r.user = argv[1];
	r.groups = groups;
	r.extra_keys = ekeys;
	r.extra_values = evals;
	for (int i = 2; i < argc; i++) {
		char *f[4];
		char *copy;

		if (strcmp(argv[i], "--resource") == 0 ||
		    strcmp(argv[i], "--path") == 0 ||
		    strcmp(argv[i], "--extra") == 0 ||
		    strcmp(argv[i], "--uid") == 0) {
			if (i + 1 >= argc) {
				snprintf(res->err, sizeof(res->err),
					 "%s needs a value", argv[i]);
				goto out;
			}
			copy = strdup(argv[i + 1]);
			if (copy == NULL || ncopies == MAX_WORDS * 2) {
				free(copy);
				goto out;
			}
			copies[ncopies++] = copy;
		} else {
			if (r.ngroups == MAX_WORDS) {
				goto out;
			}
			groups[r.ngroups++] = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--resource") == 0) {
			if (split_commas(copy, f, 4) != 4) {
				snprintf(res->err, sizeof(res->err),
					 "--resource VERB,GROUP,VERSION,"
					 "RESOURCE");
				goto out;
			}
			r.verb = f[0];
			r.group = f[1];
			r.version = f[2];
			r.resource = f[3];
		} else if (strcmp(argv[i], "--path") == 0) {
			if (split_commas(copy, f, 2) != 2) {
				snprintf(res->err, sizeof(res->err),
					 "--path VERB,PATH");
				goto out;
			}
			r.verb = f[0];
			r.path = f[1];
		} else if (strcmp(argv[i], "--uid") == 0) {
			r.uid = copy;
		} else {
			char *eq = strchr(copy, '=');

			if (eq == NULL || r.nextra == MAX_WORDS) {
				snprintf(res->err, sizeof(res->err),
					 "--extra KEY=VALUE");
				goto out;
			}
			*eq = '\0';
			ekeys[r.nextra] = copy;
			evals[r.nextra++] = eq + 1;
		}
		i++;
	}
	ret = k8s_access_review(client, &r, &res->allowed, reason,
				sizeof(reason), res->err, sizeof(res->err));
	if (ret == 0) {
		res->value = strdup(reason);
		res->len = strlen(reason);
	}
out:
	for (size_t i = 0; i < ncopies; i++) {
		free(copies[i]);
	}
	return ret;
}

/* configmap-keys NS NAME KEY...: "KEY HEX" or "KEY -" lines. */
static int run_configmap_keys(struct k8s_client *client, int argc, char **argv,
			      struct result *res)
{
	size_t nkeys = (size_t)argc - 3;
	char *values[MAX_WORDS] = {NULL};
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;
	int ret;

	if (nkeys > MAX_WORDS) {
		snprintf(res->err, sizeof(res->err), "too many keys");
		return -EINVAL;
	}
	ret = k8s_configmap_get_keys(client, argv[1], argv[2],
				     (const char *const *)argv + 3, nkeys,
				     values, res->err, sizeof(res->err));
	if (ret != 0) {
		return ret;
	}
	f = open_memstream(&out, &outlen);
	if (f == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nkeys; i++) {
		fprintf(f, "%s ", argv[3 + i]);
		if (values[i] == NULL) {
			fputs("-", f);
		}
		for (const char *p = values[i]; p != NULL && *p != '\0'; p++) {
			fprintf(f, "%02x", (unsigned char)*p);
		}
		fputc('\n', f);
	}
	if (fclose(f) != 0) {
		free(out);
		ret = -ENOMEM;
		goto out;
	}
	res->value = out;
	res->len = outlen;
out:
	for (size_t i = 0; i < nkeys; i++) {
		free(values[i]);
	}
	return ret;
}

static int run(struct k8s_client *client, int argc, char **argv,
	       struct result *res)
{
	memset(res, 0, sizeof(*res));
	if (argc == 4 && strcmp(argv[0], "secret") == 0) {
		uint8_t *v = NULL;

		res->code =
		    k8s_secret_get(client, argv[1], argv[2], argv[3], &v,
				   &res->len, res->err, sizeof(res->err));
		if (res->code == 0) {
			/* a copy the tool may print; the original is wiped */
			res->value = malloc(res->len + 1);
			if (res->value != NULL) {
				memcpy(res->value, v, res->len + 1);
			}
			k8s_secret_free(v, res->len);
		}
	} else if (argc == 4 && strcmp(argv[0], "configmap") == 0) {
		res->code =
		    k8s_configmap_get(client, argv[1], argv[2], argv[3],
				      &res->value, res->err, sizeof(res->err));
		if (res->code == 0) {
			res->len = strlen(res->value);
		}
	} else if (argc >= 4 && strcmp(argv[0], "configmap-keys") == 0) {
		res->code = run_configmap_keys(client, argc, argv, res);
	} else if (argc >= 1 && strcmp(argv[0], "review") == 0) {
		res->code = run_review(client, argc, argv, res);
	} else {
		snprintf(res->err, sizeof(res->err), "unknown command");
		res->code = -EINVAL;
	}
	return res->code;
}

static void result_release(struct result *res)
{
	free(res->value);
	res->value = NULL;
}

static void *parallel_worker(void *arg)
{
	struct job *job = arg;

	for (int i = 0; i < 10 && !job->mismatch; i++) {
		struct result res;

		run(job->client, job->argc, job->argv, &res);
		if (res.code != job->first.code ||
		    res.allowed != job->first.allowed ||
		    res.len != job->first.len ||
		    (res.len > 0 &&
		     memcmp(res.value, job->first.value, res.len) != 0)) {
			job->mismatch = true;
			snprintf(job->mismatch_err, sizeof(job->mismatch_err),
				 "parallel result differs: %s: %s",
				 code_name(res.code), res.err);
		}
		result_release(&res);
	}
	return NULL;
}

static void print_line(const char *cmd, const struct result *res)
{
	if (res->code != 0) {
		printf("err %s %s\n", code_name(res->code), res->err);
	} else if (strcmp(cmd, "review") == 0) {
		printf("ok %s %s\n", res->allowed ? "allowed" : "denied",
		       res->value != NULL ? res->value : "");
	} else {
		printf("ok ");
		for (size_t i = 0; i < res->len; i++) {
			printf("%02x", (unsigned char)res->value[i]);
		}
		printf("\n");
	}
	fflush(stdout);
}

static int interactive(struct k8s_client *client)
{
	char line[4096];

	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *words[MAX_WORDS];
		int n = 0;
		struct result res;
		char *save = NULL;

		for (char *w = strtok_r(line, " \t\r\n", &save);
		     w != NULL && n < MAX_WORDS;
		     w = strtok_r(NULL, " \t\r\n", &save)) {
			words[n++] = w;
		}
		if (n == 0) {
			continue;
		}
		run(client, n, words, &res);
		print_line(words[0], &res);
		result_release(&res);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: k8s_get [--kubeconfig F | --secrets-dir D] "
			"[--timeout MS] [--parallel N] [-i] COMMAND\n"
			"  secret NS NAME KEY | configmap NS NAME KEY |\n"
			"  review USER [GROUP...] (--resource V,G,VER,RES | "
			"--path V,PATH) [--uid U] [--extra K=V]...\n");
}

int main(int argc, char **argv)
{
	const char *kubeconfig = NULL;
	const char *dir = NULL;
	unsigned long timeout = 0;
	unsigned long parallel = 0;
	bool inter = false;
	struct k8s_client *client = NULL;
	struct result res = {0};
	char err[1024] = "";
	int i = 1;
	int ret;
	int status = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		char *end = NULL;

		if (strcmp(argv[i], "-i") == 0) {
			inter = true;
		} else if (i + 1 >= argc) {
			usage();
			return 2;
		} else if (strcmp(argv[i], "--kubeconfig") == 0) {
			kubeconfig = argv[++i];
		} else if (strcmp(argv[i], "--secrets-dir") == 0) {
			dir = argv[++i];
		} else if (strcmp(argv[i], "--timeout") == 0) {
			timeout = strtoul(argv[++i], &end, 10);
			if (*end != '\0' || timeout > 600000) {
				usage();
				return 2;
			}
		} else if (strcmp(argv[i], "--parallel") == 0) {
			parallel = strtoul(argv[++i], &end, 10);
			if (*end != '\0' || parallel == 0 || parallel > 64) {
				usage();
				return 2;
			}
		} else {
			usage();
			return 2;
		}
	}
	if (!inter && i >= argc) {
		usage();
		return 2;
	}
	if (dir != NULL) {
		ret = k8s_client_new_dir(&client, dir, err, sizeof(err));
	} else {
		ret = k8s_client_new(&client, kubeconfig, (unsigned)timeout,
				     err, sizeof(err));
	}
	if (ret != 0) {
		fprintf(stderr, "k8s_get: %s: %s\n", code_name(ret), err);
		goto out;
	}
	if (inter) {
		status = interactive(client);
		goto out;
	}
	ret = run(client, argc - i, argv + i, &res);
	if (ret == 0 && parallel > 0) {
		pthread_t tids[64];
		struct job job = {.client = client,
				  .argc = argc - i,
				  .argv = argv + i,
				  .first = res};

		for (unsigned long t = 0; t < parallel; t++) {
			pthread_create(&tids[t], NULL, parallel_worker, &job);
		}
		for (unsigned long t = 0; t < parallel; t++) {
			pthread_join(tids[t], NULL);
		}
		if (job.mismatch) {
			fprintf(stderr, "k8s_get: %s\n", job.mismatch_err);
			goto out;
		}
	}
	if (ret != 0) {
		fprintf(stderr, "k8s_get: %s: %s\n", code_name(ret), res.err);
		goto out;
	}
	if (strcmp(argv[i], "review") == 0) {
		printf("%s %s\n", res.allowed ? "allowed" : "denied",
		       res.value != NULL ? res.value : "");
	} else {
		fwrite(res.value, 1, res.len, stdout);
	}
	status = 0;
out:
	result_release(&res);
	k8s_client_free(client);
	return status;
}
