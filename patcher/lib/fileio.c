/* Bounded reads of small whole files.
 *
 * Keys, signatures and payload containers are read whole and checked before
 * anything trusts them, so the read itself must be bounded: the size comes
 * from fstat, and a file that grows while it is read is still cut at the
 * bound. (They are written through atomic_file.c, as every file is.)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
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
