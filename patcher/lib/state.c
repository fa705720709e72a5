/* The state directory and its lock.
 *
 * Every run that may change something opens the state directory first and
 * holds its lock until it ends, so the journal and the backups only ever
 * have one writer and two runs never race for the same target. hotpatch runs
 * as root, so the directory is checked before anything is trusted in it: a
 * symbolic link, a directory someone else owns or may write to could let
 * another user redirect or forge what is written there. Once opened, the
 * directory is only used through its descriptor (openat and friends with
 * O_NOFOLLOW), so renaming or replacing it afterwards changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hotpatch.h"
#include "internal.h"
#include "state.h"

const char *hp_state__default_dir(void)
{
	const char *env = getenv(HP_STATE_DIR_ENV);

	return env && *env ? env : HP_STATE_DIR_DEFAULT;
}

const char *hp_state__path(const struct hp_state *st)
{
	return st ? st->path : NULL;
}

int state_check_writable(const struct hp_state *st, const char *what)
{
	if (st->lockfd >= 0 && st->dirfd >= 0)
		return 0;
	pr_warn("state: %s: %s needs the state directory opened for writing", st->path, what);
	return -HP_E_STATE;
}

int state_check_entry(const struct hp_state *st, int fd, const char *name, bool dir)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0) {
		int err = -errno;

		pr_warn("state: %s/%s: %s", st->path, name, strerror(errno));
		return err;
	}
	if (dir ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode)) {
		pr_warn("state: %s/%s: not a %s", st->path, name, dir ? "directory" : "regular file");
		return -HP_E_STATE;
	}
	if (sb.st_uid != geteuid()) {
		pr_warn("state: %s/%s: owned by uid %u, not by uid %u running hotpatch; refusing it",
			st->path, name, (unsigned int)sb.st_uid, (unsigned int)geteuid());
		return -HP_E_STATE;
	}
	if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		pr_warn("state: %s/%s: writable by group or others (mode %04o); refusing it",
			st->path, name, (unsigned int)(sb.st_mode & 07777));
		return -HP_E_STATE;
	}
	return 0;
}

int state_backup_dir(struct hp_state *st, bool create)
{
	int fd, err;

	if (st->backupfd >= 0)
		return st->backupfd;
	if (st->dirfd < 0)
		return -ENOENT;
	if (create && mkdirat(st->dirfd, STATE_BACKUP_DIR, 0700) < 0 && errno != EEXIST) {
		err = -errno;
		pr_warn("state: %s/%s: cannot create: %s", st->path, STATE_BACKUP_DIR, strerror(errno));
		return err;
	}
	fd = openat(st->dirfd, STATE_BACKUP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		if (errno == ENOENT)
			return err;
		if (errno == ELOOP || errno == ENOTDIR)
			pr_warn("state: %s/%s: not a directory (a symbolic link?); refusing it",
				st->path, STATE_BACKUP_DIR);
		else
			pr_warn("state: %s/%s: %s", st->path, STATE_BACKUP_DIR, strerror(errno));
		return errno == ELOOP || errno == ENOTDIR ? -HP_E_STATE : err;
	}
	err = state_check_entry(st, fd, STATE_BACKUP_DIR, true);
	if (err) {
		close(fd);
		return err;
	}
	st->backupfd = fd;
	return fd;
}

/* Open dir itself, refusing anything but a private directory of ours. */
static int open_dir(const char *dir, bool create, int *fdp)
{
	struct stat sb;
	int fd = -1, err;

	if (lstat(dir, &sb) < 0) {
		if (errno != ENOENT || !create) {
			err = -errno;
			if (errno != ENOENT)
				pr_warn("state: %s: %s", dir, strerror(errno));
			return err;
		}
		/* The mode is final: the umask can only take bits away from 0700. */
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			err = -errno;
			if (errno == EACCES && geteuid() != 0)
				pr_warn("state: %s: cannot create the state directory: %s (hotpatch "
					"runs as uid %u, not root)", dir, strerror(errno),
					(unsigned int)geteuid());
			else
				pr_warn("state: %s: cannot create the state directory: %s", dir,
					strerror(errno));
			return err;
		}
		if (lstat(dir, &sb) < 0) {
			err = -errno;
			pr_warn("state: %s: %s", dir, strerror(errno));
			return err;
		}
	}
	if (S_ISLNK(sb.st_mode)) {
		pr_warn("state: %s: is a symbolic link; refusing to use it as the state directory", dir);
		return -HP_E_STATE;
	}
	if (!S_ISDIR(sb.st_mode)) {
		pr_warn("state: %s: not a directory", dir);
		return -HP_E_STATE;
	}
	/* The checks that count are made on the descriptor: lstat above only
	 * gives the clearer message; a swap in between fails here. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = errno == ELOOP || errno == ENOTDIR ? -HP_E_STATE : -errno;
		pr_warn("state: %s: %s", dir, strerror(errno));
		return err;
	}
	if (fstat(fd, &sb) < 0) {
		err = -errno;
		pr_warn("state: %s: %s", dir, strerror(errno));
		goto out;
	}
	if (sb.st_uid != geteuid()) {
		pr_warn("state: %s: owned by uid %u, not by uid %u running hotpatch; refusing it",
			dir, (unsigned int)sb.st_uid, (unsigned int)geteuid());
		err = -HP_E_STATE;
		goto out;
	}
	if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
		pr_warn("state: %s: writable by group or others (mode %04o); refusing it "
			"(chmod go-w, or use a private directory)",
			dir, (unsigned int)(sb.st_mode & 07777));
		err = -HP_E_STATE;
		goto out;
	}
	*fdp = fd;
	fd = -1;
	err = 0;
out:
	if (fd >= 0)
		close(fd);
	return err;
}

/* The pid the lock holder wrote into the lock file, 0 if unknown. */
static long read_holder(int fd)
{
	char buf[32];
	ssize_t n;
	char *end;
	long pid;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	if (end == buf || (*end && *end != '\n') || pid <= 0)
		return 0;
	return pid;
}

/* flock the lock file, trying again until wait_ms have passed. */
static int take_lock(struct hp_state *st, int fd, int wait_ms)
{
	struct timespec start, now, pause = { 0, 1000000 };
	long holder, waited_ms;
	char pidbuf[32];
	int len;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			int err = -errno;

			pr_warn("state: %s/%s: cannot lock: %s", st->path, STATE_LOCK_NAME,
				strerror(errno));
			return err;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited_ms = (now.tv_sec - start.tv_sec) * 1000 +
			    (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited_ms >= wait_ms) {
			holder = read_holder(fd);
			if (holder)
				pr_warn("state: %s: another hotpatch run holds the lock (pid %ld)",
					st->path, holder);
			else
				pr_warn("state: %s: another hotpatch run holds the lock", st->path);
			return -HP_E_LOCKED;
		}
		/* Back off from 1 ms to 50 ms: a short wait stays short, a long
		 * one does not spin. */
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 50000000)
			pause.tv_nsec *= 2;
	}
	/* Tell a run that finds the lock taken who holds it. */
	len = snprintf(pidbuf, sizeof(pidbuf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pidbuf, (size_t)len, 0) != len)
		pr_debug("state: %s/%s: cannot record our pid: %s", st->path, STATE_LOCK_NAME,
			 strerror(errno));
	return 0;
}

struct hp_state *hp_state__open(const char *dir, unsigned int flags, int wait_ms)
{
	struct hp_state *st = NULL;
	bool read_only = flags & HP_STATE_READ_ONLY;
	int fd, err;

	if (!dir)
		dir = hp_state__default_dir();
	if (!*dir || (flags & ~(unsigned int)HP_STATE_READ_ONLY) || wait_ms < 0) {
		pr_warn("state: invalid arguments to open the state directory");
		err = -EINVAL;
		goto out;
	}
	st = calloc(1, sizeof(*st));
	if (!st || !(st->path = strdup(dir))) {
		err = -ENOMEM;
		goto out;
	}
	st->flags = flags;
	st->dirfd = st->lockfd = st->journalfd = st->backupfd = -1;

	err = open_dir(dir, !read_only, &st->dirfd);
	if (err == -ENOENT && read_only) {
		/* Nothing was ever recorded: an empty state, not an error. */
		err = 0;
		goto out;
	}
	if (err)
		goto out;
	if (read_only)
		goto out;

	fd = openat(st->dirfd, STATE_LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = errno == ELOOP ? -HP_E_STATE : -errno;
		pr_warn("state: %s/%s: cannot open the lock file: %s", dir, STATE_LOCK_NAME,
			errno == ELOOP ? "it is a symbolic link" : strerror(errno));
		goto out;
	}
	err = state_check_entry(st, fd, STATE_LOCK_NAME, false);
	if (!err)
		err = take_lock(st, fd, wait_ms);
	if (err) {
		/* Not ours: leave the holder's pid in the file. */
		close(fd);
		goto out;
	}
	st->lockfd = fd;
	pr_debug("state: %s: locked by pid %ld", dir, (long)getpid());
out:
	if (err) {
		hp_state__close(st);
		errno = -err;
		return NULL;
	}
	return st;
}

void hp_state__close(struct hp_state *st)
{
	if (!st)
		return;
	journal_release(st);
	if (st->journalfd >= 0)
		close(st->journalfd);
	if (st->backupfd >= 0)
		close(st->backupfd);
	if (st->lockfd >= 0) {
		/* Clear our pid before letting go, so the next holder's is the
		 * only one ever shown. Closing releases the flock. */
		if (ftruncate(st->lockfd, 0) < 0)
			pr_debug("state: %s/%s: %s", st->path, STATE_LOCK_NAME, strerror(errno));
		close(st->lockfd);
	}
	if (st->dirfd >= 0)
		close(st->dirfd);
	free(st->path);
	free(st);
}
