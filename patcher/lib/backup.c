/* Backups of the files a disk apply replaces.
 *
 * Rollback on disk puts back the original byte for byte, so before a file
 * is replaced its original goes into the state directory's backups/, named
 * by its SHA-256. The name is the check: a backup is hashed when it is
 * written (the copy must hash to what the caller hashed, so a file that
 * changed while being read is caught) and again before every use, so a
 * backup damaged on disk is reported instead of being restored. Identical
 * originals share one backup.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hotpatch.h"
#include "internal.h"
#include "atomic_file.h"
#include "state.h"

#define SHA_HEX_LEN 64
#define BACKUPS_MAX 100000 /* entries listed; far beyond any real state directory */

static bool valid_sha(const char *s)
{
	size_t i;

	for (i = 0; i < SHA_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[SHA_HEX_LEN] == '\0';
}

static int check_name(const struct hp_state *st, const char *sha)
{
	if (sha && valid_sha(sha))
		return 0;
	pr_warn("backup: %s: '%.80s' is not a backup name (64 lowercase hex digits)", st->path,
		sha ? sha : "(null)");
	return -EINVAL;
}

/* Open the backup sha and check it hashes to its name; *fdp gets it. */
static int open_checked(struct hp_state *st, const char *sha, bool quiet_missing, int *fdp)
{
	char hex[SHA_HEX_LEN + 1], entry[sizeof(STATE_BACKUP_DIR) + SHA_HEX_LEN + 2];
	int bfd, fd = -1, err;

	*fdp = -1;
	err = check_name(st, sha);
	if (err)
		return err;
	bfd = state_backup_dir(st, false);
	if (bfd == -ENOENT)
		goto missing;
	if (bfd < 0)
		return bfd;
	fd = openat(bfd, sha, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			goto missing;
		err = errno == ELOOP ? -HP_E_STATE : -errno;
		pr_warn("backup: %s/%s/%s: %s", st->path, STATE_BACKUP_DIR, sha,
			errno == ELOOP ? "is a symbolic link; refusing it" : strerror(errno));
		return err;
	}
	snprintf(entry, sizeof(entry), "%s/%s", STATE_BACKUP_DIR, sha);
	err = state_check_entry(st, fd, entry, false);
	if (err)
		goto out;
	err = hp_sha256_fd(fd, hex);
	if (err) {
		pr_warn("backup: %s/%s/%s: cannot read: %s", st->path, STATE_BACKUP_DIR, sha,
			hp_strerror(err));
		goto out;
	}
	if (strcmp(hex, sha)) {
		pr_warn("backup: %s/%s/%s: corrupted: its content hashes to %s", st->path,
			STATE_BACKUP_DIR, sha, hex);
		err = -HP_E_MISMATCH;
		goto out;
	}
	*fdp = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return err;
missing:
	if (!quiet_missing)
		pr_warn("backup: %s: no backup %s in %s/%s", st->path, sha, st->path,
			STATE_BACKUP_DIR);
	return -ENOENT;
}

int hp_backup__verify(struct hp_state *st, const char *sha)
{
	int fd, err;

	err = open_checked(st, sha, false, &fd);
	if (fd >= 0)
		close(fd);
	return err;
}

int hp_backup__open(struct hp_state *st, const char *sha)
{
	int fd, err;

	err = open_checked(st, sha, false, &fd);
	return err ? err : fd;
}

int hp_backup__store(struct hp_state *st, int fd, const char *what, const char *expect_sha,
		     char sha[65])
{
	char hex[SHA_HEX_LEN + 1], copied[SHA_HEX_LEN + 1], *display = NULL;
	struct atomic_file *af = NULL;
	int bfd, old = -1, err;

	err = state_check_writable(st, "storing a backup");
	if (err)
		return err;
	err = hp_sha256_fd(fd, hex);
	if (err) {
		pr_warn("backup: %s: cannot read: %s", what, hp_strerror(err));
		return err;
	}
	if (expect_sha && strcmp(hex, expect_sha)) {
		pr_warn("backup: %s: content hashes to %s, not the expected %.64s; not stored", what,
			hex, expect_sha);
		return -HP_E_MISMATCH;
	}
	bfd = state_backup_dir(st, true);
	if (bfd < 0)
		return bfd;

	err = open_checked(st, hex, true, &old);
	if (!err) {
		pr_debug("backup: %s: already kept as %s", what, hex);
		close(old);
		goto done;
	}
	if (err != -ENOENT && err != -HP_E_MISMATCH)
		return err;
	if (err == -HP_E_MISMATCH)
		pr_warn("backup: %s: replacing the corrupted backup %s", what, hex);

	if (asprintf(&display, "%s/%s/%s", st->path, STATE_BACKUP_DIR, hex) < 0)
		return -ENOMEM;
	err = atomic_file_openat(bfd, hex, display, 0600, &af);
	if (err)
		goto out;
	err = atomic_file_copy(af, fd, what);
	if (err)
		goto out;
	/* Hash what landed in the copy, not what we meant to write: a file
	 * changing under us, or a short read, shows here. */
	err = hp_sha256_fd(atomic_file_fd(af), copied);
	if (err) {
		pr_warn("backup: %s: cannot read back: %s", display, hp_strerror(err));
		goto out;
	}
	if (strcmp(copied, hex)) {
		pr_warn("backup: %s: changed while it was copied (now %s, was %s); not stored", what,
			copied, hex);
		err = -HP_E_MISMATCH;
		goto out;
	}
	err = atomic_file_commit(af);
	if (err)
		goto out;
	pr_debug("backup: %s: stored as %s", what, display);
done:
	memcpy(sha, hex, sizeof(hex));
out:
	atomic_file_close(af);
	free(display);
	return err;
}

int hp_backup__restore(struct hp_state *st, const char *sha, const char *path,
		       const char *expect_current)
{
	char hex[SHA_HEX_LEN + 1];
	struct atomic_file *af = NULL;
	int bfd = -1, cur = -1, err;

	err = state_check_writable(st, "restoring a backup");
	if (err)
		return err;
	err = open_checked(st, sha, false, &bfd);
	if (err)
		goto out;
	cur = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (cur < 0) {
		err = errno == ELOOP ? -HP_E_UNSUPPORTED : -errno;
		pr_warn("backup: %s: %s; not restored", path,
			errno == ELOOP ? "is a symbolic link" : strerror(errno));
		goto out;
	}
	if (expect_current) {
		err = hp_sha256_fd(cur, hex);
		if (err) {
			pr_warn("backup: %s: cannot read: %s", path, hp_strerror(err));
			goto out;
		}
		if (strcmp(hex, expect_current)) {
			pr_warn("backup: %s: content hashes to %s, not the expected %.64s; not restored",
				path, hex, expect_current);
			err = -HP_E_MISMATCH;
			goto out;
		}
	}
	/* cur is the file that was checked: the replace refuses to go on if
	 * path is another file by then. */
	err = atomic_file_open(path, cur, &af);
	if (err)
		goto out;
	err = atomic_file_copy(af, bfd, sha);
	if (err)
		goto out;
	err = hp_sha256_fd(atomic_file_fd(af), hex);
	if (err) {
		pr_warn("backup: %s: cannot read back the restored copy: %s", path,
			hp_strerror(err));
		goto out;
	}
	if (strcmp(hex, sha)) {
		pr_warn("backup: %s: the restored copy hashes to %s, not %s; not restored", path, hex,
			sha);
		err = -HP_E_MISMATCH;
		goto out;
	}
	err = atomic_file_commit(af);
	if (!err)
		pr_debug("backup: %s: restored from %s", path, sha);
out:
	atomic_file_close(af);
	if (cur >= 0)
		close(cur);
	if (bfd >= 0)
		close(bfd);
	return err;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void hp_backup__free_list(char **names, size_t n)
{
	size_t i;

	if (!names)
		return;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int hp_backup__list(struct hp_state *st, char ***namesp, size_t *np)
{
	char **names = NULL, **grown;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dir = NULL;
	int bfd, dfd, err = 0;

	*namesp = NULL;
	*np = 0;
	bfd = state_backup_dir(st, false);
	if (bfd == -ENOENT)
		return 0;
	if (bfd < 0)
		return bfd;
	dfd = openat(bfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || !(dir = fdopendir(dfd))) {
		err = -errno;
		pr_warn("backup: %s/%s: cannot list: %s", st->path, STATE_BACKUP_DIR,
			strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return err;
	}
	while ((de = readdir(dir))) {
		/* Temporary files of an interrupted store are not backups. */
		if (!valid_sha(de->d_name))
			continue;
		if (n == BACKUPS_MAX) {
			pr_warn("backup: %s/%s: more than %d backups", st->path, STATE_BACKUP_DIR,
				BACKUPS_MAX);
			err = -HP_E_TOO_BIG;
			goto out;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(names, cap * sizeof(*names));
			if (!grown) {
				err = -ENOMEM;
				goto out;
			}
			names = grown;
		}
		if (!(names[n] = strdup(de->d_name))) {
			err = -ENOMEM;
			goto out;
		}
		n++;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	*namesp = names;
	*np = n;
	names = NULL;
out:
	hp_backup__free_list(names, n);
	closedir(dir);
	return err;
}

int hp_backup__remove(struct hp_state *st, const char *sha)
{
	int bfd, err;

	err = state_check_writable(st, "removing a backup");
	if (!err)
		err = check_name(st, sha);
	if (err)
		return err;
	bfd = state_backup_dir(st, false);
	if (bfd < 0)
		return bfd;
	if (unlinkat(bfd, sha, 0) < 0) {
		err = -errno;
		pr_warn("backup: %s/%s/%s: cannot remove: %s", st->path, STATE_BACKUP_DIR, sha,
			strerror(errno));
		return err;
	}
	if (fsync(bfd) < 0)
		pr_warn("backup: %s/%s: cannot sync: %s", st->path, STATE_BACKUP_DIR, strerror(errno));
	return 0;
}
