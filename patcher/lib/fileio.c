/* Bounded reads and atomic writes of small whole files.
 *
 * Keys, signatures and payload containers are read whole and checked before
 * anything trusts them, so the read itself must be bounded: the size comes
 * from fstat, and a file that grows while it is read is still cut at the
 * bound. Writes go through a temporary file and rename(2), so an
 * interrupted run never leaves half a key or half a signature behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hotpatch.h"
#include "internal.h"
#include "fileio.h"

int fileio_read(const char *path, size_t max, void **buf, size_t *len)
{
	struct stat st;
	char *data = NULL;
	size_t have = 0, cap;
	int fd = -1, err = 0;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		err = -EISDIR;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto out;
	}
	if ((unsigned long long)st.st_size > max) {
		err = -HP_E_TOO_BIG;
		goto out;
	}
	/* One byte more than fstat said, so growth past the bound is seen. */
	cap = (size_t)st.st_size + 1;
	data = malloc(cap + 1);
	if (!data) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (have == cap) {
			char *bigger;

			if (cap > max) {
				err = -HP_E_TOO_BIG;
				goto out;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			bigger = realloc(data, cap + 1);
			if (!bigger) {
				err = -ENOMEM;
				goto out;
			}
			data = bigger;
		}
		n = read(fd, data + have, cap - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	if (have > max) {
		err = -HP_E_TOO_BIG;
		goto out;
	}
	data[have] = '\0';
	*buf = data;
	*len = have;
	data = NULL;
out:
	free(data);
	if (fd >= 0)
		close(fd);
	return err;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int sync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd, err = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
	} else {
		if (fsync(fd) < 0 && errno != EINVAL)
			err = -errno;
		close(fd);
	}
	free(copy);
	return err;
}

int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			bool replace)
{
	char *tmp = NULL;
	int fd = -1, err = 0;

	if (!replace && access(path, F_OK) == 0) {
		err = -EEXIST;
		goto out;
	}
	if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0) {
		tmp = NULL;
		err = -ENOMEM;
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		free(tmp);
		tmp = NULL;
		goto out;
	}
	/* mkostemp makes 0600; a public key or a signature is meant to be read. */
	if (fchmod(fd, mode) < 0) {
		err = -errno;
		goto out;
	}
	err = write_all(fd, data, len);
	if (err)
		goto out;
	if (fsync(fd) < 0) {
		err = -errno;
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		err = -errno;
		goto out;
	}
	fd = -1;
	if (replace) {
		if (rename(tmp, path) < 0) {
			err = -errno;
			goto out;
		}
	} else {
		/* Fails if path appeared meanwhile: never clobber a key someone
		 * else just wrote. link(2) does the same where the filesystem
		 * lacks RENAME_NOREPLACE. */
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0) {
			if (errno != EINVAL && errno != ENOSYS) {
				err = -errno;
				goto out;
			}
			if (link(tmp, path) < 0) {
				err = -errno;
				goto out;
			}
			unlink(tmp);
		}
	}
	free(tmp);
	tmp = NULL;
	err = sync_dir_of(path);
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	return err;
}
