/*
 * secretdir.c - the directory-backed secret source (--secrets-dir): a
 * Secret's key is the file DIR/NAMESPACE/NAME/KEY, laid out as a mounted
 * Secret volume, for use without a cluster.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "k8s/k8s_internal.h"

/* A path component of the secrets directory: no '/', no dot files. */
static bool k8s_component_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && s[0] != '.' &&
	       strchr(s, '/') == NULL && strlen(s) <= 253;
}

static int k8s_strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "(keys: a, b)" of a secret directory: its files without dot files. */
static void k8s_dir_keys(const char *path, char *out, size_t outlen)
{
	char *names[64];
	size_t nnames = 0;
	size_t off = 0;
	struct dirent *e;
	DIR *d = opendir(path);

	out[0] = '\0';
	if (d == NULL) {
		return;
	}
	while ((e = readdir(d)) != NULL && nnames < 64) {
		struct stat st;

		/* Mounted Secret volumes hold ..data and ..<timestamp>. */
		if (e->d_name[0] == '.' ||
		    fstatat(dirfd(d), e->d_name, &st, 0) != 0 ||
		    !S_ISREG(st.st_mode)) {
			continue;
		}
		names[nnames] = strdup(e->d_name);
		if (names[nnames] != NULL) {
			nnames++;
		}
	}
	closedir(d);
	qsort(names, nnames, sizeof(names[0]), k8s_strcmp_p);
	for (size_t i = 0; i < nnames; i++) {
		int w = snprintf(out + off, outlen - off, "%s%.100s",
				 i > 0 ? ", " : "", names[i]);

		if (w > 0 && (size_t)w < outlen - off) {
			off += (size_t)w;
		}
		free(names[i]);
	}
	if (nnames == 0) {
		snprintf(out, outlen, "none");
	}
}

/* Read @key of Secret @ns/@name below @dir, naming what is wrong in @err. */
static int k8s_dir_secret_read(const char *dir, const char *ns,
			       const char *name, const char *key,
			       uint8_t **value, size_t *len, char *err,
			       size_t errlen)
{
	char *secdir = NULL;
	char *file = NULL;
	char keys[512];
	struct stat st;
	int ret;

	if (asprintf(&secdir, "%s/%s/%s", dir, ns, name) < 0) {
		secdir = NULL;
		ret = -ENOMEM;
		goto out;
	}
	if (stat(secdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen,
			 "Secret %s/%s not found (no directory %s)", ns, name,
			 secdir);
		ret = K8S_ENOTFOUND;
		goto out;
	}
	if (asprintf(&file, "%s/%s", secdir, key) < 0) {
		file = NULL;
		ret = -ENOMEM;
		goto out;
	}
	ret = k8s_file_read_regular(file, K8S_MAX_BODY, value, len);
	switch (ret) {
	case 0:
		break;
	case -ENOENT:
	case -EISDIR:
		k8s_dir_keys(secdir, keys, sizeof(keys));
		snprintf(err, errlen, "Secret %s/%s has no key '%s' (keys: %s)",
			 ns, name, key, keys);
		ret = K8S_ENOKEY;
		break;
	case K8S_ETOOBIG:
		snprintf(err, errlen,
			 "Secret %s/%s key '%s': %s is larger than %d bytes",
			 ns, name, key, file, K8S_MAX_BODY);
		break;
	case K8S_ENOTREG:
		snprintf(err, errlen,
			 "Secret %s/%s key '%s': %s is not a regular file (a "
			 "FIFO, socket or device); store the value in a "
			 "regular file",
			 ns, name, key, file);
		break;
	case -EACCES:
	case -EPERM:
		snprintf(err, errlen,
			 "reading Secret %s/%s key '%s' is "
			 "forbidden: %s: %s",
			 ns, name, key, file, strerror(-ret));
		ret = K8S_EFORBIDDEN;
		break;
	default:
		snprintf(err, errlen, "reading Secret %s/%s key '%s': %s: %s",
			 ns, name, key, file, strerror(-ret));
		break;
	}
out:
	if (ret == -ENOMEM) {
		snprintf(err, errlen, "out of memory");
	}
	free(file);
	free(secdir);
	return ret;
}

int k8s_secretdir_get(const char *dir, const char *ns, const char *name,
		      const char *key, uint8_t **value, size_t *len, char *err,
		      size_t errlen)
{
	if (!k8s_component_ok(ns) || !k8s_component_ok(name) ||
	    !k8s_component_ok(key)) {
		snprintf(err, errlen,
			 "Secret %.100s/%.100s key '%.100s': names "
			 "must not be empty, contain '/' or start "
			 "with '.'",
			 ns != NULL ? ns : "", name != NULL ? name : "",
			 key != NULL ? key : "");
		return -EINVAL;
	}
	return k8s_dir_secret_read(dir, ns, name, key, value, len, err, errlen);
}
