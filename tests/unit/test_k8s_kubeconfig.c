/*
 * test_k8s_kubeconfig.c - kubeconfig parsing from a table of YAML texts:
 * every field, the -data forms, contexts and current-context, relative
 * paths, missing fields and malformed YAML.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "k8s/k8s_internal.h"

/* base64 of "CA-PEM", "CERT-PEM", "KEY-PEM" */
#define CA_B64	 "Q0EtUEVN"
#define CERT_B64 "Q0VSVC1QRU0="
#define KEY_B64	 "S0VZLVBFTQ=="

struct kc_case {
	const char *name;
	const char *path; /* the kubeconfig's path (NULL: none) */
	const char *yaml;
	int ret;
	/* expected fields (NULL: must be absent), or err substring */
	const char *server;
	const char *ca_file;
	const char *ca_data;
	bool insecure;
	const char *token;
	const char *token_file;
	const char *cert_file;
	const char *cert_data;
	const char *key_file;
	const char *key_data;
	const char *err;
};

#define HEAD	      "apiVersion: v1\nkind: Config\n"
#define CLUSTER(body) "clusters:\n- name: c\n  cluster:\n" body
#define USER(body)    "users:\n- name: u\n  user:\n" body
#define CTX                                                                    \
	"contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n"      \
	"current-context: x\n"

static const struct kc_case cases[] = {
    /* ------------------------------------------------------------ good */
    {.name = "token and CA file",
     .path = "/etc/kube/config",
     .yaml = HEAD CLUSTER("    server: https://10.0.0.1:6443\n"
			  "    certificate-authority: ca.crt\n")
	 USER("    token: abc.def\n") CTX,
     .server = "https://10.0.0.1:6443",
     .ca_file = "/etc/kube/ca.crt",
     .token = "abc.def"},
    {.name = "absolute paths stay",
     .path = "/etc/kube/config",
     .yaml = HEAD CLUSTER("    server: https://h\n"
			  "    certificate-authority: /pki/ca.crt\n")
	 USER("    tokenFile: /var/tok\n") CTX,
     .server = "https://h",
     .ca_file = "/pki/ca.crt",
     .token_file = "/var/tok"},
    {.name = "relative kubeconfig path",
     .path = "dir/sub/config",
     .yaml = HEAD CLUSTER("    server: https://h\n"
			  "    certificate-authority: ../ca.crt\n")
	 USER("    client-certificate: c.crt\n"
	      "    client-key: keys/c.key\n") CTX,
     .server = "https://h",
     .ca_file = "dir/sub/../ca.crt",
     .cert_file = "dir/sub/c.crt",
     .key_file = "dir/sub/keys/c.key"},
    {.name = "no path: paths as written",
     .path = NULL,
     .yaml = HEAD CLUSTER("    server: https://h\n"
			  "    certificate-authority: ca.crt\n")
	 USER("    tokenFile: tok\n") CTX,
     .server = "https://h",
     .ca_file = "ca.crt",
     .token_file = "tok"},
    {.name = "kubeconfig in the working directory",
     .path = "config",
     .yaml = HEAD CLUSTER("    server: https://h\n"
			  "    certificate-authority: ca.crt\n")
	 USER("    tokenFile: tok\n") CTX,
     .server = "https://h",
     .ca_file = "ca.crt",
     .token_file = "tok"},
    {.name = "-data forms",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    server: https://[2001:db8::1]:443/\n"
			  "    certificate-authority-data: " CA_B64 "\n")
	 USER("    client-certificate-data: " CERT_B64 "\n"
	      "    client-key-data: " KEY_B64 "\n") CTX,
     .server = "https://[2001:db8::1]:443",
     .ca_data = "CA-PEM",
     .cert_data = "CERT-PEM",
     .key_data = "KEY-PEM"},
    {.name = "-data folded over lines",
     .path = "/k/config",
     .yaml =
	 HEAD CLUSTER("    server: https://h\n"
		      "    certificate-authority-data: >-\n"
		      "      Q0Et\n      UEVN\n") USER("    token: t\n") CTX,
     .server = "https://h",
     .ca_data = "CA-PEM",
     .token = "t"},
    {.name = "both CA forms kept (data wins at use)",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    server: https://h\n"
			  "    certificate-authority: ca.crt\n"
			  "    certificate-authority-data: " CA_B64 "\n")
	 USER("    token: t\n") CTX,
     .server = "https://h",
     .ca_file = "/k/ca.crt",
     .ca_data = "CA-PEM",
     .token = "t"},
    {.name = "insecure-skip-tls-verify true",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    server: https://h\n"
			  "    insecure-skip-tls-verify: true\n")
	 USER("    token: t\n") CTX,
     .server = "https://h",
     .insecure = true,
     .token = "t"},
    {.name = "insecure-skip-tls-verify false",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    server: https://h\n"
			  "    insecure-skip-tls-verify: false\n")
	 USER("    token: t\n") CTX,
     .server = "https://h",
     .token = "t"},
    {.name = "token and tokenFile both kept",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    server: https://h\n")
	 USER("    token: t\n    tokenFile: f\n") CTX,
     .server = "https://h",
     .token = "t",
     .token_file = "/k/f"},
    {.name = "current-context picks among several",
     .path = "/k/config",
     .yaml = HEAD "clusters:\n"
		  "- name: a\n  cluster:\n    server: https://a\n"
		  "- name: b\n  cluster:\n    server: https://b\n"
		  "users:\n"
		  "- name: ua\n  user:\n    token: ta\n"
		  "- name: ub\n  user:\n    token: tb\n"
		  "contexts:\n"
		  "- name: ca\n  context: {cluster: a, user: ua}\n"
		  "- name: cb\n  context: {cluster: b, user: ub}\n"
		  "current-context: cb\n",
     .server = "https://b",
     .token = "tb"},
    {.name = "one context, no current-context",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    server: https://h\n") USER(
	 "    token: t\n") "contexts:\n- name: only\n  context:\n    cluster: c\n"
			   "    user: u\n",
     .server = "https://h",
     .token = "t"},
    {.name = "context without user: anonymous",
     .path = "/k/config",
     .yaml = HEAD CLUSTER(
	 "    server: http://127.0.0.1:8001\n") "contexts:\n- name: x\n  context:\n    cluster: c\n"
						"current-context: x\n",
     .server = "http://127.0.0.1:8001"},
    {.name = "quoted values, flow style, null fields",
     .path = "/k/config",
     .yaml = "{\"clusters\": [{\"name\": \"c\", \"cluster\": "
	     "{\"server\": \"https://h:1\", \"certificate-authority\": ~}}],"
	     " \"users\": [{\"name\": \"u\", \"user\": {\"token\": \"q t\","
	     " \"tokenFile\": null}}], \"contexts\": [{\"name\": \"x\","
	     " \"context\": {\"cluster\": \"c\", \"user\": \"u\"}}],"
	     " \"current-context\": \"x\"}",
     .server = "https://h:1",
     .token = "q t"},
    {.name = "anchors and aliases",
     .path = "/k/config",
     .yaml =
	 HEAD CLUSTER("    server: &s https://h\n") USER("    token: *s\n") CTX,
     .server = "https://h",
     .token = "https://h"},

    /* ------------------------------------------------------------- bad */
    {.name = "empty",
     .path = "/k/config",
     .yaml = "",
     .ret = K8S_ECONFIG,
     .err = "kubeconfig /k/config is empty"},
    {.name = "malformed YAML",
     .path = "/k/config",
     .yaml = "clusters:\n- name: c\n  cluster: [\n",
     .ret = K8S_ECONFIG,
     .err = "kubeconfig /k/config: malformed YAML at line"},
    {.name = "tab indentation",
     .path = "/k/config",
     .yaml = "clusters:\n\t- name: c\n",
     .ret = K8S_ECONFIG,
     .err = "malformed YAML at line 2"},
    {.name = "not a mapping",
     .path = "/k/config",
     .yaml = "- a\n- b\n",
     .ret = K8S_ECONFIG,
     .err = "not a YAML mapping"},
    {.name = "no current-context, two contexts",
     .path = "/k/config",
     .yaml = HEAD "contexts:\n- name: a\n  context: {cluster: c}\n"
		  "- name: b\n  context: {cluster: c}\n",
     .ret = K8S_ECONFIG,
     .err = "current-context is not set"},
    {.name = "no contexts at all",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    server: https://h\n"),
     .ret = K8S_ECONFIG,
     .err = "current-context is not set"},
    {.name = "current-context names no context",
     .path = "/k/config",
     .yaml = HEAD CLUSTER(
	 "    server: https://h\n") "contexts:\n- name: x\n  context: {cluster: c}\n"
				    "current-context: nope\n",
     .ret = K8S_ECONFIG,
     .err = "context 'nope' (current-context) not found in contexts"},
    {.name = "duplicate key",
     .path = "/k/config",
     .yaml =
	 HEAD CLUSTER("    server: https://h\n") CTX "current-context: nope\n",
     .ret = K8S_ECONFIG,
     .err = "kubeconfig /k/config: line 13: duplicate key "
	    "'current-context'"},
    {.name = "context without cluster",
     .path = "/k/config",
     .yaml = HEAD "contexts:\n- name: x\n  context: {user: u}\n"
		  "current-context: x\n",
     .ret = K8S_ECONFIG,
     .err = "context 'x' has no cluster"},
    {.name = "context entry without context mapping",
     .path = "/k/config",
     .yaml = HEAD "contexts:\n- name: x\n"
		  "current-context: x\n",
     .ret = K8S_ECONFIG,
     .err = "contexts entry 'x' has no 'context' mapping"},
    {.name = "contexts not a list",
     .path = "/k/config",
     .yaml = HEAD "contexts: {a: b}\ncurrent-context: x\n",
     .ret = K8S_ECONFIG,
     .err = "contexts is not a list"},
    {.name = "cluster missing",
     .path = "/k/config",
     .yaml = HEAD USER("    token: t\n") CTX,
     .ret = K8S_ECONFIG,
     .err = "cluster 'c' of context 'x' not found in clusters"},
    {.name = "server missing",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    certificate-authority: ca\n")
	 USER("    token: t\n") CTX,
     .ret = K8S_ECONFIG,
     .err = "kubeconfig /k/config: cluster 'c' has no server"},
    {.name = "server not a URL",
     .path = "/k/config",
     .yaml =
	 HEAD CLUSTER("    server: 10.0.0.1:6443\n") USER("    token: t\n") CTX,
     .ret = K8S_ECONFIG,
     .err = "server '10.0.0.1:6443' is not an https:// URL"},
    {.name = "user missing",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    server: https://h\n") CTX,
     .ret = K8S_ECONFIG,
     .err = "user 'u' of context 'x' not found in users"},
    {.name = "bad CA data",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    server: https://h\n"
			  "    certificate-authority-data: Q0E*UEVN\n")
	 USER("    token: t\n") CTX,
     .ret = K8S_ECONFIG,
     .err = "cluster 'c': certificate-authority-data is not valid base64"},
    {.name = "bad key data never quoted",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    server: https://h\n")
	 USER("    client-certificate-data: " CERT_B64 "\n"
	      "    client-key-data: SECRETKEYBYTES!\n") CTX,
     .ret = K8S_ECONFIG,
     .err = "user 'u': client-key-data is not valid base64"},
    {.name = "certificate without key",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    server: https://h\n")
	 USER("    client-certificate: c.crt\n") CTX,
     .ret = K8S_ECONFIG,
     .err = "user 'u' has a client certificate but no client key"},
    {.name = "key without certificate",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    server: https://h\n")
	 USER("    client-key-data: " KEY_B64 "\n") CTX,
     .ret = K8S_ECONFIG,
     .err = "user 'u' has a client key but no client certificate"},
    {.name = "insecure not a boolean",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    server: https://h\n"
			  "    insecure-skip-tls-verify: maybe\n")
	 USER("    token: t\n") CTX,
     .ret = K8S_ECONFIG,
     .err = "insecure-skip-tls-verify must be true or false"},
    {.name = "exec plugin",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    server: https://h\n")
	 USER("    exec:\n      command: aws\n") CTX,
     .ret = K8S_ECONFIG,
     .err = "user 'u' uses exec, which is not supported"},
    {.name = "auth-provider",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    server: https://h\n")
	 USER("    auth-provider:\n      name: gcp\n") CTX,
     .ret = K8S_ECONFIG,
     .err = "uses auth-provider, which is not supported"},
    {.name = "basic auth",
     .path = "/k/config",
     .yaml = HEAD CLUSTER("    server: https://h\n")
	 USER("    username: admin\n    password: hunter2\n") CTX,
     .ret = K8S_ECONFIG,
     .err = "uses username, which is not supported"},
};

/* A field compared as text: both absent, or both present and equal. */
static void check_str(const char *field, const char *want, const char *got,
		      size_t gotlen)
{
	if (want == NULL) {
		if (got != NULL) {
			fail_msg("%s: unexpected value", field);
		}
		return;
	}
	if (got == NULL) {
		fail_msg("%s: missing, want '%s'", field, want);
	}
	if (strlen(want) != gotlen || memcmp(want, got, gotlen) != 0) {
		fail_msg("%s: got '%.*s', want '%s'", field, (int)gotlen, got,
			 want);
	}
}

static size_t len0(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

static void test_kubeconfig_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct kc_case *c = &cases[i];
		struct k8s_config cfg;
		char err[512] = "";
		int ret;

		print_message("case: %s\n", c->name);
		ret = k8s_kubeconfig_parse(&cfg, c->yaml, strlen(c->yaml),
					   c->path, err, sizeof(err));
		if (ret != c->ret) {
			fail_msg("%s: ret %d, want %d (%s)", c->name, ret,
				 c->ret, err);
		}
		if (ret != 0) {
			if (strstr(err, c->err) == NULL) {
				fail_msg("%s: err '%s' lacks '%s'", c->name,
					 err, c->err);
			}
			/* no secret byte in an error text */
			assert_null(strstr(err, "SECRETKEYBYTES"));
			assert_null(strstr(err, "hunter2"));
			/* a failed parse leaves nothing behind */
			assert_null(cfg.server);
			assert_null(cfg.token);
			continue;
		}
		check_str("server", c->server, cfg.server, len0(cfg.server));
		check_str("ca_file", c->ca_file, cfg.ca_file,
			  len0(cfg.ca_file));
		check_str("ca_data", c->ca_data, (const char *)cfg.ca_data,
			  cfg.ca_len);
		assert_int_equal(cfg.insecure, c->insecure);
		check_str("token", c->token, cfg.token, len0(cfg.token));
		check_str("token_file", c->token_file, cfg.token_file,
			  len0(cfg.token_file));
		check_str("cert_file", c->cert_file, cfg.cert_file,
			  len0(cfg.cert_file));
		check_str("cert_data", c->cert_data,
			  (const char *)cfg.cert_data, cfg.cert_len);
		check_str("key_file", c->key_file, cfg.key_file,
			  len0(cfg.key_file));
		check_str("key_data", c->key_data, (const char *)cfg.key_data,
			  cfg.key_len);
		k8s_config_release(&cfg);
		assert_null(cfg.server);
	}
}

/* Files are checked at load time, naming the field and the file. */
static void test_kubeconfig_load_errors(void **state)
{
	struct k8s_config cfg;
	char err[512] = "";

	(void)state;
	assert_int_equal(k8s_kubeconfig_load(&cfg, "/nonexistent/kubeconfig",
					     err, sizeof(err)),
			 K8S_ECONFIG);
	assert_non_null(strstr(err, "cannot read kubeconfig "
				    "/nonexistent/kubeconfig: No such file"));
	k8s_config_release(NULL); /* NULL-safe */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kubeconfig_table),
	    cmocka_unit_test(test_kubeconfig_load_errors),
	};

	return cmocka_run_group_tests_name("k8s_kubeconfig", tests, NULL, NULL);
}
