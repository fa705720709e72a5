/* Trusted keys: which public keys a package signature may come from.
 *
 * verify and apply check a package's signature against a keyring built
 * here: every *.pub file of the system directory (HP_TRUSTED_KEYS_DIR, or
 * $HOTPATCH_TRUSTED_KEYS_DIR, or a directory the caller names) plus the
 * files given with --trusted-key. A key file that cannot be read or parsed
 * is an error, never skipped: a broken trust store must be noticed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hotpatch.h"
#include "internal.h"
#include "minisign.h"

struct hp_keyring *hp_keyring__new(void)
{
	return calloc(1, sizeof(struct hp_keyring));
}

void hp_keyring__free(struct hp_keyring *kr)
{
	size_t i;

	if (!kr)
		return;
	for (i = 0; i < kr->nr; i++)
		hp_key__free(kr->keys[i]);
	free(kr->keys);
	free(kr);
}

size_t hp_keyring__count(const struct hp_keyring *kr)
{
	return kr ? kr->nr : 0;
}

int trust_add_key(struct hp_keyring *kr, struct hp_key *key)
{
	if (kr->nr == kr->cap) {
		size_t cap = kr->cap ? kr->cap * 2 : 4;
		struct hp_key **keys = realloc(kr->keys, cap * sizeof(*keys));

		if (!keys) {
			hp_key__free(key);
			return -ENOMEM;
		}
		kr->keys = keys;
		kr->cap = cap;
	}
	kr->keys[kr->nr++] = key;
	return 0;
}

int hp_keyring__add_file(struct hp_keyring *kr, const char *path)
{
	struct hp_key *key = hp_key__load_public(path);

	if (!key)
		return -errno;
	pr_debug("trust: %s: trusted key %s", path, key->id);
	return trust_add_key(kr, key);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_pub_name(const char *name)
{
	size_t n = strlen(name);

	/* Hidden files are editor and package-manager leftovers, not keys. */
	return name[0] != '.' && n > 4 && !strcmp(name + n - 4, ".pub");
}

int hp_keyring__add_dir(struct hp_keyring *kr, const char *dir)
{
	char **names = NULL, *path = NULL;
	size_t nr = 0, cap = 0, i;
	struct dirent *de;
	DIR *d = NULL;
	int err = 0;

	d = opendir(dir);
	if (!d) {
		err = -errno;
		pr_warn("trust: %s: cannot open the trusted key directory: %s", dir,
			strerror(-err));
		goto out;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				err = -errno;
				pr_warn("trust: %s: cannot list: %s", dir, strerror(-err));
				goto out;
			}
			break;
		}
		if (!is_pub_name(de->d_name))
			continue;
		if (nr == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **n = realloc(names, ncap * sizeof(*n));

			if (!n) {
				err = -ENOMEM;
				goto out;
			}
			names = n;
			cap = ncap;
		}
		names[nr] = strdup(de->d_name);
		if (!names[nr]) {
			err = -ENOMEM;
			goto out;
		}
		nr++;
	}
	/* readdir order depends on the filesystem; keep messages stable. */
	if (nr)
		qsort(names, nr, sizeof(*names), cmp_names);
	for (i = 0; i < nr; i++) {
		if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
			path = NULL;
			err = -ENOMEM;
			goto out;
		}
		err = hp_keyring__add_file(kr, path);
		free(path);
		path = NULL;
		if (err)
			goto out;
	}
out:
	for (i = 0; i < nr; i++)
		free(names[i]);
	free(names);
	if (d)
		closedir(d);
	return err;
}

struct hp_keyring *hp_keyring__load_trusted(const char *dir, const char *const *files,
					    size_t nr_files)
{
	struct hp_keyring *kr = NULL;
	bool optional = false;
	struct stat st;
	size_t i;
	int err = 0;

	kr = hp_keyring__new();
	if (!kr) {
		err = -ENOMEM;
		goto out;
	}
	if (!dir) {
		dir = getenv(HP_TRUSTED_KEYS_ENV);
		if (!dir || !*dir) {
			dir = HP_TRUSTED_KEYS_DIR;
			/* A machine with no system keys yet is normal; a
			 * directory someone named and that is missing is not. */
			optional = true;
		}
	}
	if (optional && stat(dir, &st) < 0 && errno == ENOENT) {
		pr_debug("trust: %s: no trusted key directory", dir);
	} else {
		err = hp_keyring__add_dir(kr, dir);
		if (err)
			goto out;
	}
	for (i = 0; i < nr_files; i++) {
		err = hp_keyring__add_file(kr, files[i]);
		if (err)
			goto out;
	}
	pr_debug("trust: %zu trusted key(s)", kr->nr);
out:
	if (err) {
		hp_keyring__free(kr);
		errno = -err;
		return NULL;
	}
	return kr;
}
