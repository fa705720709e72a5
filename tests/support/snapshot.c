/* Snapshots of files for "nothing changed" checks: contents and mtimes of
 * the files of a directory (or of one file), compared byte for byte. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "snapshot.h"
#include "support.h"

struct ts_file {
	char *path;            /* file name */
	char *data;            /* its bytes, malloc'd */
	size_t len;            /* bytes */
	struct timespec mtime; /* modification time */
};

struct ts_snapshot {
	char *dir;             /* what was snapshotted */
	struct ts_file *files; /* regular files in it */
	size_t n;              /* entries in files */
};

static int add(struct ts_snapshot *s, const char *path)
{
	struct ts_file *f;
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	f = realloc(s->files, (s->n + 1) * sizeof(*f));
	if (!f)
		return -1;
	s->files = f;
	f = &s->files[s->n];
	f->path = strdup(path);
	f->data = ts_read_file(path, &f->len);
	f->mtime = st.st_mtim;
	if (!f->path || !f->data)
		return -1;
	s->n++;
	return 0;
}

static int list(const char *dir, char ***names, size_t *n)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	*names = NULL;
	*n = 0;
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char **nn;

		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		nn = realloc(*names, (*n + 1) * sizeof(**names));
		if (!nn)
			break;
		*names = nn;
		if (asprintf(&(*names)[*n], "%s/%s", dir, de->d_name) >= 0)
			(*n)++;
	}
	closedir(d);
	return 0;
}

struct ts_snapshot *ts_snapshot_take(const char *dir)
{
	struct ts_snapshot *s = calloc(1, sizeof(*s));
	struct stat st;
	char **names = NULL;
	size_t n = 0, i;
	int err = 0;

	if (!s || stat(dir, &st) < 0) {
		free(s);
		return NULL;
	}
	s->dir = strdup(dir);
	if (!S_ISDIR(st.st_mode))
		err = add(s, dir);
	else if (list(dir, &names, &n) == 0)
		for (i = 0; i < n; i++)
			err |= add(s, names[i]);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (err) {
		ts_snapshot_free(s);
		return NULL;
	}
	return s;
}

bool ts_snapshot_same(const struct ts_snapshot *s)
{
	struct ts_snapshot *now;
	size_t i;
	bool same = true;

	if (!s)
		return false;
	now = ts_snapshot_take(s->dir);
	if (!now)
		return false;
	if (now->n != s->n) {
		fprintf(stderr, "snapshot: %s: %zu files, was %zu\n", s->dir, now->n, s->n);
		same = false;
	}
	for (i = 0; same && i < s->n; i++) {
		const struct ts_file *a = &s->files[i], *b = &now->files[i];

		if (strcmp(a->path, b->path) || a->len != b->len || memcmp(a->data, b->data, a->len) ||
		    a->mtime.tv_sec != b->mtime.tv_sec || a->mtime.tv_nsec != b->mtime.tv_nsec) {
			fprintf(stderr, "snapshot: %s changed\n", a->path);
			same = false;
		}
	}
	ts_snapshot_free(now);
	return same;
}

void ts_snapshot_free(struct ts_snapshot *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->files[i].path);
		free(s->files[i].data);
	}
	free(s->files);
	free(s->dir);
	free(s);
}
