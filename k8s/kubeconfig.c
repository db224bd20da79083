/*
 * kubeconfig.c - the client configuration: a kubeconfig file (parsed with
 * libyaml, the fields kubectl's clientcmd reads for a static credential)
 * or the in-cluster environment of a pod's service account.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "k8s/k8s_internal.h"
#include "util/file.h"

/* One parse: the document and what error texts need to name. */
struct kc_parse {
	yaml_document_t doc;
	const char *path; /* for error texts */
	char *err;
	size_t errlen;
};

void k8s_config_release(struct k8s_config *cfg)
{
	if (cfg == NULL) {
		return;
	}
	free(cfg->server);
	free(cfg->ca_file);
	free(cfg->ca_data);
	if (cfg->token != NULL) {
		util_wipe_free(cfg->token, strlen(cfg->token));
	}
	free(cfg->token_file);
	free(cfg->cert_file);
	free(cfg->cert_data);
	free(cfg->key_file);
	util_wipe_free(cfg->key_data, cfg->key_len);
	memset(cfg, 0, sizeof(*cfg));
}

/* The text of a scalar node; NULL for anything else and for YAML nulls. */
static const char *kc_scalar(const yaml_node_t *node)
{
	const char *v;

	if (node == NULL || node->type != YAML_SCALAR_NODE) {
		return NULL;
	}
	v = (const char *)node->data.scalar.value;
	/* YAML 1.1 null: "~", "null" or nothing, when unquoted. */
	if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	     strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0)) {
		return NULL;
	}
	return v;
}

/* Value node of @key in mapping @map, or NULL. */
static yaml_node_t *kc_get(struct kc_parse *p, yaml_node_t *map,
			   const char *key)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE) {
		return NULL;
	}
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(&p->doc, pair->key);
		const char *ks = kc_scalar(k);

		if (ks != NULL && strcmp(ks, key) == 0) {
			return yaml_document_get_node(&p->doc, pair->value);
		}
	}
	return NULL;
}

static const char *kc_get_str(struct kc_parse *p, yaml_node_t *map,
			      const char *key)
{
	return kc_scalar(kc_get(p, map, key));
}

/*
 * Find the entry named @name in list @key ("clusters", "users",
 * "contexts") and return its inner mapping (@inner: "cluster", ...).
 */
static int kc_find(struct kc_parse *p, yaml_node_t *root, const char *key,
		   const char *inner, const char *name, yaml_node_t **out)
{
	yaml_node_t *list = kc_get(p, root, key);

	*out = NULL;
	if (list == NULL) {
		return 0;
	}
	if (list->type != YAML_SEQUENCE_NODE) {
		snprintf(p->err, p->errlen, "kubeconfig %s: %s is not a list",
			 p->path, key);
		return K8S_ECONFIG;
	}
	for (yaml_node_item_t *it = list->data.sequence.items.start;
	     it < list->data.sequence.items.top; it++) {
		yaml_node_t *entry = yaml_document_get_node(&p->doc, *it);
		const char *n = kc_get_str(p, entry, "name");

		if (n == NULL || strcmp(n, name) != 0) {
			continue;
		}
		*out = kc_get(p, entry, inner);
		if (*out == NULL || (*out)->type != YAML_MAPPING_NODE) {
			snprintf(p->err, p->errlen,
				 "kubeconfig %s: %s entry '%s' has no '%s' "
				 "mapping",
				 p->path, key, name, inner);
			return K8S_ECONFIG;
		}
		return 0;
	}
	return 0;
}

/* "true"/"false" in the spellings YAML 1.1 and Go's parser accept. */
static int kc_get_bool(struct kc_parse *p, yaml_node_t *map, const char *key,
		       const char *where, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes",
					  "Yes",  "YES",  "on",	  "On"};
	static const char *const no[] = {"false", "False", "FALSE", "no",
					 "No",	  "NO",	   "off",   "Off"};
	const char *v = kc_get_str(p, map, key);

	*out = false;
	if (v == NULL) {
		return 0;
	}
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			return 0;
		}
	}
	snprintf(p->err, p->errlen,
		 "kubeconfig %s: %s: %s must be true or false", p->path, where,
		 key);
	return K8S_ECONFIG;
}

/*
 * A path from the kubeconfig: relative paths are relative to the
 * kubeconfig's own directory, as kubectl resolves them.
 */
static int kc_get_path(struct kc_parse *p, yaml_node_t *map, const char *key,
		       char **out)
{
	const char *v = kc_get_str(p, map, key);
	const char *slash;

	*out = NULL;
	if (v == NULL) {
		return 0;
	}
	slash = p->path != NULL ? strrchr(p->path, '/') : NULL;
	if (v[0] == '/' || slash == NULL) {
		*out = strdup(v);
	} else if (asprintf(out, "%.*s/%s", (int)(slash - p->path), p->path,
			    v) < 0) {
		*out = NULL;
	}
	return *out == NULL ? -ENOMEM : 0;
}

/*
 * A *-data field: base64 of PEM bytes.  Whitespace is skipped so that
 * folded YAML strings work.  The field's value never reaches @err.
 */
static int kc_get_data(struct kc_parse *p, yaml_node_t *map, const char *key,
		       const char *where, uint8_t **out, size_t *outlen)
{
	const char *v = kc_get_str(p, map, key);
	char *clean;
	size_t n = 0;
	int ret;

	*out = NULL;
	*outlen = 0;
	if (v == NULL) {
		return 0;
	}
	clean = malloc(strlen(v) + 1);
	if (clean == NULL) {
		return -ENOMEM;
	}
	for (const char *c = v; *c != '\0'; c++) {
		if (*c != ' ' && *c != '\n' && *c != '\r' && *c != '\t') {
			clean[n++] = *c;
		}
	}
	ret = k8s_base64_decode(clean, n, out, outlen);
	util_wipe_free(clean, n + 1);
	if (ret == -EINVAL || (ret == 0 && *outlen == 0)) {
		free(*out);
		*out = NULL;
		snprintf(p->err, p->errlen,
			 "kubeconfig %s: %s: %s is not valid base64", p->path,
			 where, key);
		return K8S_ECONFIG;
	}
	return ret;
}

static int kc_cluster(struct kc_parse *p, struct k8s_config *cfg,
		      yaml_node_t *cluster, const char *where)
{
	const char *server = kc_get_str(p, cluster, "server");
	size_t n;
	int ret;

	if (server == NULL) {
		snprintf(p->err, p->errlen, "kubeconfig %s: %s has no server",
			 p->path, where);
		return K8S_ECONFIG;
	}
	if (strncmp(server, "https://", 8) != 0 &&
	    strncmp(server, "http://", 7) != 0) {
		snprintf(p->err, p->errlen,
			 "kubeconfig %s: %s: server '%.200s' is not an "
			 "https:// URL",
			 p->path, where, server);
		return K8S_ECONFIG;
	}
	n = strlen(server);
	while (n > 0 && server[n - 1] == '/') {
		n--;
	}
	cfg->server = strndup(server, n);
	if (cfg->server == NULL) {
		return -ENOMEM;
	}
	ret = kc_get_path(p, cluster, "certificate-authority", &cfg->ca_file);
	if (ret != 0) {
		return ret;
	}
	ret = kc_get_data(p, cluster, "certificate-authority-data", where,
			  &cfg->ca_data, &cfg->ca_len);
	if (ret != 0) {
		return ret;
	}
	return kc_get_bool(p, cluster, "insecure-skip-tls-verify", where,
			   &cfg->insecure);
}

static int kc_user(struct kc_parse *p, struct k8s_config *cfg,
		   yaml_node_t *user, const char *where)
{
	const char *token = kc_get_str(p, user, "token");
	bool has_cert;
	bool has_key;
	int ret;

	if (token != NULL) {
		cfg->token = strdup(token);
		if (cfg->token == NULL) {
			return -ENOMEM;
		}
	}
	ret = kc_get_path(p, user, "tokenFile", &cfg->token_file);
	if (ret == 0) {
		ret =
		    kc_get_path(p, user, "client-certificate", &cfg->cert_file);
	}
	if (ret == 0) {
		ret = kc_get_path(p, user, "client-key", &cfg->key_file);
	}
	if (ret == 0) {
		ret = kc_get_data(p, user, "client-certificate-data", where,
				  &cfg->cert_data, &cfg->cert_len);
	}
	if (ret == 0) {
		ret = kc_get_data(p, user, "client-key-data", where,
				  &cfg->key_data, &cfg->key_len);
	}
	if (ret != 0) {
		return ret;
	}
	has_cert = cfg->cert_file != NULL || cfg->cert_data != NULL;
	has_key = cfg->key_file != NULL || cfg->key_data != NULL;
	if (has_cert != has_key) {
		snprintf(p->err, p->errlen,
			 "kubeconfig %s: %s has a client %s but no client %s",
			 p->path, where, has_cert ? "certificate" : "key",
			 has_cert ? "key" : "certificate");
		return K8S_ECONFIG;
	}
	/* Plugins and basic auth need machinery this client does not have. */
	if (cfg->token == NULL && cfg->token_file == NULL && !has_cert) {
		static const char *const unsupported[] = {
		    "exec", "auth-provider", "username"};

		for (size_t i = 0; i < 3; i++) {
			if (kc_get(p, user, unsupported[i]) != NULL) {
				snprintf(p->err, p->errlen,
					 "kubeconfig %s: %s uses %s, which is "
					 "not supported; use token, tokenFile "
					 "or client-certificate and client-key",
					 p->path, where, unsupported[i]);
				return K8S_ECONFIG;
			}
		}
	}
	return 0;
}

/* The context to use: current-context, else the only one there is. */
static int kc_context(struct kc_parse *p, yaml_node_t *root, const char **name,
		      yaml_node_t **ctx)
{
	yaml_node_t *list = kc_get(p, root, "contexts");
	int ret;

	*name = kc_get_str(p, root, "current-context");
	if (*name == NULL) {
		yaml_node_t *only;

		if (list == NULL || list->type != YAML_SEQUENCE_NODE ||
		    list->data.sequence.items.top -
			    list->data.sequence.items.start !=
			1) {
			snprintf(p->err, p->errlen,
				 "kubeconfig %s: current-context is not set "
				 "and there is not exactly one context",
				 p->path);
			return K8S_ECONFIG;
		}
		only = yaml_document_get_node(&p->doc,
					      *list->data.sequence.items.start);
		*name = kc_get_str(p, only, "name");
		if (*name == NULL) {
			snprintf(p->err, p->errlen,
				 "kubeconfig %s: contexts[0] has no name",
				 p->path);
			return K8S_ECONFIG;
		}
	}
	ret = kc_find(p, root, "contexts", "context", *name, ctx);
	if (ret == 0 && *ctx == NULL) {
		snprintf(p->err, p->errlen,
			 "kubeconfig %s: context '%.100s' (current-context) "
			 "not found in contexts",
			 p->path, *name);
		ret = K8S_ECONFIG;
	}
	return ret;
}

/*
 * YAML 1.2 3.2.1.1 says mapping keys are unique and Go's YAML parser
 * refuses duplicates; libyaml keeps both, so refuse them here rather than
 * silently pick one.  Nodes are visited in a flat loop (aliases share
 * nodes, so no recursion and no alias expansion).
 */
static int kc_check_duplicates(struct kc_parse *p)
{
	for (yaml_node_t *n = p->doc.nodes.start; n < p->doc.nodes.top; n++) {
		if (n->type != YAML_MAPPING_NODE) {
			continue;
		}
		for (yaml_node_pair_t *a = n->data.mapping.pairs.start;
		     a < n->data.mapping.pairs.top; a++) {
			yaml_node_t *ka =
			    yaml_document_get_node(&p->doc, a->key);
			const char *sa = kc_scalar(ka);

			if (sa == NULL) {
				continue;
			}
			for (yaml_node_pair_t *b = a + 1;
			     b < n->data.mapping.pairs.top; b++) {
				yaml_node_t *kb =
				    yaml_document_get_node(&p->doc, b->key);
				const char *sb = kc_scalar(kb);

				if (sb != NULL && strcmp(sa, sb) == 0) {
					snprintf(p->err, p->errlen,
						 "kubeconfig %s: line %zu: "
						 "duplicate key '%.100s'",
						 p->path,
						 kb->start_mark.line + 1, sb);
					return K8S_ECONFIG;
				}
			}
		}
	}
	return 0;
}

/*
 * The @kind ("cluster", "user") named @name by context @ctx_name, from the
 * list "@kinds"; @where gets "@kind 'name'" for the errors that follow.
 * 0, or K8S_ECONFIG when the list has no such entry.
 */
static int kc_find_named(struct kc_parse *p, yaml_node_t *root,
			 const char *kind, const char *name,
			 const char *ctx_name, yaml_node_t **node, char *where,
			 size_t wlen)
{
	char list[16];
	int ret;

	snprintf(list, sizeof(list), "%ss", kind);
	ret = kc_find(p, root, list, kind, name, node);
	if (ret != 0) {
		return ret;
	}
	if (*node == NULL) {
		snprintf(p->err, p->errlen,
			 "kubeconfig %s: %s '%.100s' of context '%.100s' not "
			 "found in %s",
			 p->path, kind, name, ctx_name, list);
		return K8S_ECONFIG;
	}
	snprintf(where, wlen, "%s '%.100s'", kind, name);
	return 0;
}

static int kc_document(struct kc_parse *p, struct k8s_config *cfg)
{
	yaml_node_t *root = yaml_document_get_root_node(&p->doc);
	yaml_node_t *ctx;
	yaml_node_t *cluster;
	yaml_node_t *user;
	const char *ctx_name;
	const char *cluster_name;
	const char *user_name;
	char where[160];
	int ret;

	if (root == NULL) {
		snprintf(p->err, p->errlen, "kubeconfig %s is empty", p->path);
		return K8S_ECONFIG;
	}
	if (root->type != YAML_MAPPING_NODE) {
		snprintf(p->err, p->errlen,
			 "kubeconfig %s: not a YAML mapping (kind: Config)",
			 p->path);
		return K8S_ECONFIG;
	}
	ret = kc_check_duplicates(p);
	if (ret != 0) {
		return ret;
	}
	ret = kc_context(p, root, &ctx_name, &ctx);
	if (ret != 0) {
		return ret;
	}
	cluster_name = kc_get_str(p, ctx, "cluster");
	if (cluster_name == NULL) {
		snprintf(p->err, p->errlen,
			 "kubeconfig %s: context '%.100s' has no cluster",
			 p->path, ctx_name);
		return K8S_ECONFIG;
	}
	ret = kc_find_named(p, root, "cluster", cluster_name, ctx_name,
			    &cluster, where, sizeof(where));
	if (ret != 0) {
		return ret;
	}
	ret = kc_cluster(p, cfg, cluster, where);
	if (ret != 0) {
		return ret;
	}
	/* A context without a user talks to the API anonymously. */
	user_name = kc_get_str(p, ctx, "user");
	if (user_name == NULL) {
		return 0;
	}
	ret = kc_find_named(p, root, "user", user_name, ctx_name, &user, where,
			    sizeof(where));
	if (ret != 0) {
		return ret;
	}
	return kc_user(p, cfg, user, where);
}

int k8s_kubeconfig_parse(struct k8s_config *cfg, const char *text, size_t len,
			 const char *path, char *err, size_t errlen)
{
	struct kc_parse p = {.path = path != NULL ? path : "(text)",
			     .err = err,
			     .errlen = errlen};
	yaml_parser_t parser;
	bool loaded = false;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	if (!yaml_parser_initialize(&parser)) {
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &p.doc)) {
		snprintf(err, errlen,
			 "kubeconfig %s: malformed YAML at line %zu column "
			 "%zu: %s",
			 p.path, parser.problem_mark.line + 1,
			 parser.problem_mark.column + 1,
			 parser.problem != NULL ? parser.problem : "error");
		ret = parser.error == YAML_MEMORY_ERROR ? -ENOMEM : K8S_ECONFIG;
		goto out;
	}
	loaded = true;
	ret = kc_document(&p, cfg);
out:
	if (loaded) {
		yaml_document_delete(&p.doc);
	}
	yaml_parser_delete(&parser);
	if (ret != 0) {
		k8s_config_release(cfg);
	}
	return ret;
}

/* A file the configuration names must be readable now, not at first use. */
static int kc_check_file(const char *what, const char *field, const char *file,
			 char *err, size_t errlen)
{
	if (file == NULL || access(file, R_OK) == 0) {
		return 0;
	}
	snprintf(err, errlen, "%s: %s %s: %s", what, field, file,
		 strerror(errno));
	return K8S_ECONFIG;
}

static int kc_check_files(const struct k8s_config *cfg, const char *what,
			  char *err, size_t errlen)
{
	int ret;

	ret = kc_check_file(what, "certificate-authority", cfg->ca_file, err,
			    errlen);
	if (ret == 0) {
		ret = kc_check_file(what, "tokenFile", cfg->token_file, err,
				    errlen);
	}
	if (ret == 0) {
		ret = kc_check_file(what, "client-certificate", cfg->cert_file,
				    err, errlen);
	}
	if (ret == 0) {
		ret = kc_check_file(what, "client-key", cfg->key_file, err,
				    errlen);
	}
	return ret;
}

int k8s_kubeconfig_load(struct k8s_config *cfg, const char *path, char *err,
			size_t errlen)
{
	uint8_t *text = NULL;
	size_t len = 0;
	char what[300];
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	ret = k8s_file_read(path, K8S_MAX_BODY, &text, &len);
	if (ret == K8S_ETOOBIG) {
		snprintf(err, errlen, "kubeconfig %s is larger than %d bytes",
			 path, K8S_MAX_BODY);
		ret = K8S_ECONFIG;
		goto out;
	}
	if (ret != 0) {
		snprintf(err, errlen, "cannot read kubeconfig %s: %s", path,
			 strerror(-ret));
		ret = K8S_ECONFIG;
		goto out;
	}
	ret = k8s_kubeconfig_parse(cfg, (const char *)text, len, path, err,
				   errlen);
	if (ret != 0) {
		goto out;
	}
	snprintf(what, sizeof(what), "kubeconfig %s", path);
	ret = kc_check_files(cfg, what, err, errlen);
out:
	/* The text may hold a token or a client key. */
	util_wipe_free(text, len);
	if (ret != 0) {
		k8s_config_release(cfg);
	}
	return ret;
}

int k8s_incluster_load(struct k8s_config *cfg, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *dir = getenv("RFC2136_SERVICEACCOUNT_DIR");
	unsigned long portnum;
	char *end = NULL;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	if (dir == NULL || dir[0] == '\0') {
		dir = K8S_SA_DIR;
	}
	if (host == NULL || host[0] == '\0' || port == NULL ||
	    port[0] == '\0') {
		snprintf(err, errlen,
			 "in-cluster configuration: %s is not set (not "
			 "running in a pod?); use --kubeconfig or "
			 "--secrets-dir",
			 host == NULL || host[0] == '\0'
			     ? "KUBERNETES_SERVICE_HOST"
			     : "KUBERNETES_SERVICE_PORT");
		return K8S_ECONFIG;
	}
	errno = 0;
	portnum = strtoul(port, &end, 10);
	if (errno != 0 || *end != '\0' || portnum == 0 || portnum > 65535 ||
	    port[0] == '-' || port[0] == '+') {
		snprintf(err, errlen,
			 "in-cluster configuration: KUBERNETES_SERVICE_PORT "
			 "'%.20s' is not a port number",
			 port);
		return K8S_ECONFIG;
	}
	/* RFC 3986 3.2.2: an IPv6 literal goes in brackets. */
	if (asprintf(&cfg->server,
		     strchr(host, ':') != NULL ? "https://[%s]:%lu"
					       : "https://%s:%lu",
		     host, portnum) < 0) {
		cfg->server = NULL;
		ret = -ENOMEM;
		goto out;
	}
	if (asprintf(&cfg->token_file, "%s/token", dir) < 0) {
		cfg->token_file = NULL;
		ret = -ENOMEM;
		goto out;
	}
	if (asprintf(&cfg->ca_file, "%s/ca.crt", dir) < 0) {
		cfg->ca_file = NULL;
		ret = -ENOMEM;
		goto out;
	}
	ret = kc_check_files(cfg, "in-cluster configuration", err, errlen);
out:
	if (ret != 0) {
		k8s_config_release(cfg);
	}
	return ret;
}
