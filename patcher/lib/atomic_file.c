/* Writing a file atomically.
 *
 * Every file hotpatch writes whole reaches the disk the same way: a
 * patched ELF, a restored original, a backup, a key, a signature, a
 * payload container, a manifest. The new content goes to a temporary file
 * in the target's own directory (so the rename cannot cross file systems),
 * is fsync'd, renamed over the target, and then the directory is fsync'd so
 * the rename itself survives a power cut. Whatever stops us, the target's
 * name points at either the whole old file or the whole new one (or, for a
 * new file, at nothing yet).
 *
 * What differs is the policy, chosen by the caller's flags. A target
 * (ATOMIC_KEEP) gives the new content its owner, mode and extended
 * attributes (file capabilities, ACLs, SELinux labels all live there) and
 * must still be the same file at the rename. A key (ATOMIC_NO_REPLACE) is
 * never written over an existing one, even one that appears meanwhile.
 * Anything else is written with the mode the caller names.
 *
 * A run killed before its rename leaves its temporary file behind. Each
 * temporary file is flock'd by its writer for as long as it is being
 * written, so the next run can tell an abandoned one (lock free: remove it)
 * from one being written right now (lock held: leave it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "hotpatch.h"
#include "internal.h"
#include "atomic_file.h"

#define TMP_TAG ".hp-tmp."
/* Keep ".<name>.hp-tmp.<16 hex>" within NAME_MAX for any name. */
#define TMP_NAME_PREFIX_MAX 200
#define XATTR_BUF_MAX 65536 /* the kernel's own limit on a list and on a value */
#define COPY_CHUNK 65536

/* A failure, reported once with the target's name; with ATOMIC_QUIET the
 * caller reports it in its own words instead. */
#define say(flags, fmt, ...)                                \
	do {                                                \
		if (!((flags) & ATOMIC_QUIET))              \
			pr_warn(fmt, ##__VA_ARGS__);        \
	} while (0)

struct atomic_file {
	int dirfd;           /* directory holding the target and the temporary file */
	bool own_dirfd;      /* dirfd is ours to close */
	char *name;          /* the target's name in dirfd */
	char *tmpname;       /* the temporary file's name in dirfd; NULL once gone */
	char *display;       /* the target as shown in messages */
	unsigned int flags;  /* ATOMIC_*: the policy */
	int fd;              /* the temporary file, read-write, flock'd */
	bool replacing;      /* the target existed: orig is its identity */
	int origfd;          /* the target as opened, read-only; -1 if new */
	struct stat orig;    /* the target when opened (st_dev, st_ino checked at commit) */
	bool committed;      /* renamed over the target */
};

/* ".<name>.hp-tmp." into buf: what every temporary file of name starts with. */
static void tmp_prefix(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, ".%.*s%s", TMP_NAME_PREFIX_MAX, name, TMP_TAG);
}

static int clean(int dirfd, const char *name, const char *display, unsigned int flags)
{
	char prefix[TMP_NAME_PREFIX_MAX + 16];
	struct dirent *de;
	DIR *dir = NULL;
	int dfd, fd, removed = 0, err = 0;
	size_t plen;

	tmp_prefix(name, prefix, sizeof(prefix));
	plen = strlen(prefix);
	dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || !(dir = fdopendir(dfd))) {
		err = -errno;
		say(flags, "atomic: %s: cannot list its directory: %s", display, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return err;
	}
	while ((de = readdir(dir))) {
		struct stat sb;

		if (strncmp(de->d_name, prefix, plen) != 0)
			continue;
		fd = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* Only a regular file nobody holds the lock of is abandoned. */
		if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    flock(fd, LOCK_EX | LOCK_NB) == 0) {
			if (unlinkat(dirfd, de->d_name, 0) == 0) {
				pr_info("atomic: %s: removed %s, left by an interrupted run",
					display, de->d_name);
				removed++;
			} else if (errno != ENOENT) {
				say(flags, "atomic: %s: cannot remove the stale temporary file %s: %s",
				    display, de->d_name, strerror(errno));
			}
		}
		close(fd);
	}
	closedir(dir);
	return removed;
}

int atomic_file_clean(int dirfd, const char *name, const char *display)
{
	return clean(dirfd, name, display, 0);
}

/* Create and lock a fresh temporary file for af->name. */
static int create_tmp(struct atomic_file *af)
{
	char prefix[TMP_NAME_PREFIX_MAX + 16];
	struct stat a, b;
	uint64_t rnd;
	int tries, fd, err;

	tmp_prefix(af->name, prefix, sizeof(prefix));
	for (tries = 0; tries < 16; tries++) {
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = ((uint64_t)getpid() << 32) ^ (uint64_t)tries;
		free(af->tmpname);
		if (asprintf(&af->tmpname, "%s%016llx", prefix, (unsigned long long)rnd) < 0) {
			af->tmpname = NULL;
			return -ENOMEM;
		}
		fd = openat(af->dirfd, af->tmpname, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0) {
			err = -errno;
			say(af->flags, "atomic: %s: cannot create a temporary file beside it: %s; %s unchanged",
			    af->display, strerror(errno), af->display);
			free(af->tmpname);
			af->tmpname = NULL;
			return err;
		}
		/* Lock it, then make sure the name is still ours: a cleaner
		 * running at the very moment of creation may have taken it for
		 * abandoned. */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &a) == 0 &&
		    fstatat(af->dirfd, af->tmpname, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			af->fd = fd;
			return 0;
		}
		close(fd);
	}
	free(af->tmpname);
	af->tmpname = NULL;
	say(af->flags, "atomic: %s: cannot create a temporary file beside it", af->display);
	return -EEXIST;
}

/* Is name in the NUL-separated list of len bytes? */
static bool in_list(const char *list, ssize_t len, const char *name)
{
	const char *p;

	for (p = list; p < list + len; p += strlen(p) + 1)
		if (!strcmp(p, name))
			return true;
	return false;
}

/* The NUL-separated names of fd's extended attributes, malloc'd, in *list. */
static ssize_t list_xattrs(int fd, char **list)
{
	ssize_t len;

	*list = NULL;
	len = flistxattr(fd, NULL, 0);
	if (len < 0)
		return errno == ENOTSUP ? 0 : -errno;
	if (len == 0)
		return 0;
	if (len > XATTR_BUF_MAX)
		return -HP_E_TOO_BIG;
	*list = malloc((size_t)len);
	if (!*list)
		return -ENOMEM;
	len = flistxattr(fd, *list, (size_t)len);
	if (len < 0) {
		len = -errno;
		free(*list);
		*list = NULL;
	}
	return len;
}

/* Give the temporary file exactly the extended attributes of the target:
 * file capabilities (security.capability), ACLs (system.posix_acl_*),
 * SELinux labels, user.* data. Must come after fchown, which clears
 * security.capability. */
static int copy_xattrs(struct atomic_file *af, int origfd)
{
	char *names = NULL, *have = NULL, *value = NULL;
	ssize_t nlen, hlen, vlen;
	const char *p;
	int err = 0;

	nlen = list_xattrs(origfd, &names);
	if (nlen < 0) {
		err = (int)nlen;
		say(af->flags, "atomic: %s: cannot list extended attributes: %s", af->display,
		    hp_strerror(err));
		goto out;
	}
	/* The new file may have been born with some (a default ACL of the
	 * directory, a SELinux type transition); drop those the target lacks. */
	hlen = list_xattrs(af->fd, &have);
	for (p = have; hlen > 0 && p < have + hlen; p += strlen(p) + 1) {
		if (!in_list(names, nlen, p) && fremovexattr(af->fd, p) < 0 && errno != ENODATA) {
			err = -errno;
			say(af->flags, "atomic: %s: cannot drop extended attribute %s from the new file: %s",
			    af->display, p, strerror(errno));
			goto out;
		}
	}
	if (nlen > 0 && !(value = malloc(XATTR_BUF_MAX))) {
		err = -ENOMEM;
		goto out;
	}
	for (p = names; nlen > 0 && p < names + nlen; p += strlen(p) + 1) {
		vlen = fgetxattr(origfd, p, value, XATTR_BUF_MAX);
		if (vlen < 0) {
			if (errno == ENODATA) /* removed meanwhile */
				continue;
			err = -errno;
			say(af->flags, "atomic: %s: cannot read extended attribute %s: %s",
			    af->display, p, strerror(errno));
			goto out;
		}
		if (fsetxattr(af->fd, p, value, (size_t)vlen, 0) < 0) {
			err = -errno;
			say(af->flags, "atomic: %s: cannot keep extended attribute %s on the new file: %s; "
			    "%s unchanged", af->display, p, strerror(errno), af->display);
			goto out;
		}
	}
out:
	free(names);
	free(have);
	free(value);
	return err;
}

/* Owner, then mode (chown clears set-id bits), then extended attributes. */
static int copy_metadata(struct atomic_file *af, int origfd)
{
	const struct stat *o = &af->orig;
	struct stat now;
	int err;

	if (fstat(af->fd, &now) < 0)
		return -errno;
	if ((now.st_uid != o->st_uid || now.st_gid != o->st_gid) &&
	    fchown(af->fd, o->st_uid, o->st_gid) < 0) {
		err = -errno;
		say(af->flags, "atomic: %s: cannot give the new file its owner %u:%u: %s; %s unchanged",
		    af->display, (unsigned int)o->st_uid, (unsigned int)o->st_gid,
		    strerror(errno), af->display);
		return err;
	}
	if (fchmod(af->fd, o->st_mode & 07777) < 0) {
		err = -errno;
		say(af->flags, "atomic: %s: cannot give the new file its mode %04o: %s",
		    af->display, (unsigned int)(o->st_mode & 07777), strerror(errno));
		return err;
	}
	return copy_xattrs(af, origfd);
}

/* ATOMIC_KEEP: what stands at the name, if anything, must be a regular
 * file (not a symbolic link), and like_fd's file when like_fd >= 0. af
 * keeps it open, to copy its attributes and to know it again at the rename. */
static int open_target(struct atomic_file *af, int like_fd)
{
	const char *display = af->display;
	struct stat like;
	int fd, err;

	/* O_NONBLOCK: a FIFO in the target's place must not hang us before
	 * the type check refuses it. */
	fd = openat(af->dirfd, af->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		if (errno == ELOOP && like_fd >= 0) {
			/* We were to replace the file read through like_fd. */
			say(af->flags, "atomic: %s: is now a symbolic link, no longer the file that "
			    "was read; nothing written", display);
			return -HP_E_MISMATCH;
		}
		if (errno == ELOOP) {
			say(af->flags, "atomic: %s: is a symbolic link; name the file it points to",
			    display);
			return -HP_E_UNSUPPORTED;
		}
		if (errno != ENOENT || (af->flags & ATOMIC_MUST_EXIST)) {
			say(af->flags, "atomic: %s: %s", display, strerror(errno));
			return err;
		}
	} else {
		af->origfd = fd;
		if (fstat(fd, &af->orig) < 0) {
			err = -errno;
			say(af->flags, "atomic: %s: %s", display, strerror(errno));
			return err;
		}
		if (!S_ISREG(af->orig.st_mode)) {
			say(af->flags, "atomic: %s: not a regular file", display);
			return -HP_E_UNSUPPORTED;
		}
		/* rename replaces this name only: other hard links keep the old
		 * content, which the operator should know. */
		if (af->orig.st_nlink > 1)
			say(af->flags, "atomic: %s: has %lu hard links; only this name will get "
			    "the new content", display, (unsigned long)af->orig.st_nlink);
		af->replacing = true;
	}
	if (like_fd >= 0) {
		if (fstat(like_fd, &like) < 0)
			return -errno;
		if (!af->replacing || like.st_dev != af->orig.st_dev ||
		    like.st_ino != af->orig.st_ino) {
			say(af->flags, "atomic: %s: no longer the file that was read; nothing written",
			    display);
			return -HP_E_MISMATCH;
		}
	}
	return 0;
}

static int begin(int dirfd, bool own_dirfd, const char *name, const char *display, int like_fd,
		 unsigned int flags, mode_t mode, struct atomic_file **out)
{
	struct atomic_file *af;
	int err;

	*out = NULL;
	af = calloc(1, sizeof(*af));
	if (!af) {
		if (own_dirfd)
			close(dirfd);
		return -ENOMEM;
	}
	af->dirfd = dirfd;
	af->own_dirfd = own_dirfd;
	af->fd = -1;
	af->origfd = -1;
	af->flags = flags;
	af->name = strdup(name);
	af->display = strdup(display);
	if (!af->name || !af->display) {
		err = -ENOMEM;
		goto out;
	}

	if (flags & ATOMIC_KEEP) {
		err = open_target(af, like_fd);
		if (err)
			goto out;
	} else if ((flags & ATOMIC_NO_REPLACE) && faccessat(dirfd, name, F_OK, 0) == 0) {
		/* Checked again by the rename itself; this only spares the
		 * writing when the answer is known already. */
		say(flags, "atomic: %s: exists; not replaced", display);
		err = -EEXIST;
		goto out;
	}

	clean(dirfd, name, display, flags);
	err = create_tmp(af);
	if (err)
		goto out;
	if (af->replacing) {
		err = copy_metadata(af, af->origfd);
	} else if (fchmod(af->fd, mode & 07777) < 0) {
		err = -errno;
		say(flags, "atomic: %s: cannot set mode %04o: %s", display,
		    (unsigned int)(mode & 07777), strerror(errno));
	}
	if (err)
		goto out;
	fault_point("atomic-created");
	*out = af;
	af = NULL;
out:
	atomic_file_close(af);
	return err;
}

/* begin() for a path: the directory opened, the last component the name. */
static int open_path(const char *path, int like_fd, unsigned int flags, mode_t mode,
		     struct atomic_file **out)
{
	char *copy = NULL;
	const char *dir, *base;
	char *slash;
	int dirfd, err;

	*out = NULL;
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	slash = strrchr(copy, '/');
	if (slash) {
		*slash = '\0';
		dir = slash == copy ? "/" : copy;
		base = slash + 1;
	} else {
		dir = ".";
		base = copy;
	}
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		say(flags, "atomic: %s: not a file name", path);
		free(copy);
		return -EINVAL;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		err = -errno;
		say(flags, "atomic: %s: cannot open its directory %s: %s", path, dir,
		    strerror(errno));
		free(copy);
		return err;
	}
	err = begin(dirfd, true, base, path, like_fd, flags, mode, out);
	free(copy);
	return err;
}

int atomic_file_open(const char *path, int like_fd, struct atomic_file **out)
{
	return open_path(path, like_fd, ATOMIC_KEEP | ATOMIC_MUST_EXIST, 0, out);
}

int atomic_file_create(const char *path, mode_t mode, unsigned int flags,
		       struct atomic_file **out)
{
	return open_path(path, -1, flags, mode, out);
}

int atomic_file_openat(int dirfd, const char *name, const char *display, mode_t mode,
		       struct atomic_file **out)
{
	if (strchr(name, '/') || !*name) {
		pr_warn("atomic: %s: not a file name", display);
		return -EINVAL;
	}
	return begin(dirfd, false, name, display, -1, ATOMIC_KEEP, mode, out);
}

int atomic_file_fd(const struct atomic_file *af)
{
	return af->fd;
}

static int write_all(struct atomic_file *af, const char *p, size_t len)
{
	ssize_t n;
	int err;

	while (len) {
		n = write(af->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			say(af->flags, "atomic: %s: writing the new content: %s; %s unchanged",
			    af->display, strerror(errno), af->display);
			return err;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int atomic_file_write(struct atomic_file *af, const void *buf, size_t len)
{
	size_t half = len / 2;
	int err;

	err = write_all(af, buf, half);
	if (err)
		return err;
	fault_point("atomic-partial");
	return write_all(af, (const char *)buf + half, len - half);
}

int atomic_file_copy(struct atomic_file *af, int srcfd, const char *srcname)
{
	char *buf = NULL;
	struct stat sb;
	off_t off = 0;
	size_t want;
	bool faulted = false;
	ssize_t n;
	int err = 0;

	if (fstat(srcfd, &sb) < 0) {
		err = -errno;
		say(af->flags, "atomic: %s: %s", srcname, strerror(errno));
		return err;
	}
	buf = malloc(COPY_CHUNK);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		/* The first chunk stops halfway so the "partial" fault point
		 * really leaves a partial file, whatever the size. */
		want = COPY_CHUNK;
		if (!faulted && sb.st_size > 1 && (off_t)want > sb.st_size / 2)
			want = (size_t)(sb.st_size / 2);
		n = pread(srcfd, buf, want, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			say(af->flags, "atomic: %s: reading: %s; %s unchanged", srcname,
			    strerror(errno), af->display);
			goto out;
		}
		if (n == 0)
			break;
		err = write_all(af, buf, (size_t)n);
		if (err)
			goto out;
		off += n;
		if (!faulted) {
			fault_point("atomic-partial");
			faulted = true;
		}
	}
out:
	free(buf);
	return err;
}

/* The rename itself; ATOMIC_NO_REPLACE refuses a name that appeared since
 * the open: never clobber a key someone else just wrote. */
static int rename_into_place(struct atomic_file *af)
{
	if (!(af->flags & ATOMIC_NO_REPLACE))
		return renameat(af->dirfd, af->tmpname, af->dirfd, af->name) < 0 ? -errno : 0;
	if (renameat2(af->dirfd, af->tmpname, af->dirfd, af->name, RENAME_NOREPLACE) == 0)
		return 0;
	/* link(2) refuses an existing name too, where the file system
	 * lacks RENAME_NOREPLACE. */
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (linkat(af->dirfd, af->tmpname, af->dirfd, af->name, 0) < 0)
		return -errno;
	unlinkat(af->dirfd, af->tmpname, 0);
	return 0;
}

int atomic_file_commit(struct atomic_file *af)
{
	struct stat now;
	int err;

	fault_point("atomic-written");
	/* Writing to a file drops its security.capability (and, for a writer
	 * without CAP_FSETID, its set-id bits): set them again now that the
	 * content is final. Set once at open already, so a file system that
	 * cannot hold them failed us before anything was written. */
	if (af->replacing) {
		err = copy_metadata(af, af->origfd);
		if (err)
			return err;
	}
	if (fsync(af->fd) < 0) {
		err = -errno;
		say(af->flags, "atomic: %s: syncing the new content: %s; %s unchanged", af->display,
		    strerror(errno), af->display);
		return err;
	}
	fault_point("atomic-synced");
	if (af->replacing) {
		/* Someone may have replaced the target while we wrote; what we
		 * wrote was made from the old one, so stop. */
		if (fstatat(af->dirfd, af->name, &now, AT_SYMLINK_NOFOLLOW) < 0 ||
		    now.st_dev != af->orig.st_dev || now.st_ino != af->orig.st_ino) {
			say(af->flags, "atomic: %s: replaced by someone else while the new content was "
			    "written; nothing changed by us", af->display);
			return -HP_E_MISMATCH;
		}
	}
	err = rename_into_place(af);
	if (err) {
		say(af->flags, "atomic: %s: renaming the new content into place: %s; %s unchanged",
		    af->display, strerror(-err), af->display);
		return err;
	}
	free(af->tmpname);
	af->tmpname = NULL;
	af->committed = true;
	fault_point("atomic-renamed");
	/* EINVAL: the file system cannot sync a directory at all, so there
	 * is nothing more to wait for. */
	if (fsync(af->dirfd) < 0 && errno != EINVAL) {
		err = -errno;
		say(af->flags, "atomic: %s: replaced, but syncing its directory failed: %s; the change "
		    "may not survive a crash", af->display, strerror(errno));
		return err;
	}
	fault_point("atomic-done");
	return 0;
}

void atomic_file_close(struct atomic_file *af)
{
	if (!af)
		return;
	if (af->tmpname && unlinkat(af->dirfd, af->tmpname, 0) < 0 && errno != ENOENT)
		say(af->flags, "atomic: %s: cannot remove the temporary file %s: %s", af->display,
		    af->tmpname, strerror(errno));
	if (af->fd >= 0)
		close(af->fd);
	if (af->origfd >= 0)
		close(af->origfd);
	if (af->own_dirfd && af->dirfd >= 0)
		close(af->dirfd);
	free(af->tmpname);
	free(af->name);
	free(af->display);
	free(af);
}

static int put(const char *path, int like_fd, unsigned int flags, mode_t mode, const void *buf,
	       size_t len)
{
	struct atomic_file *af = NULL;
	int err;

	err = open_path(path, like_fd, flags, mode, &af);
	if (err)
		goto out;
	err = atomic_file_write(af, buf, len);
	if (err)
		goto out;
	err = atomic_file_commit(af);
out:
	atomic_file_close(af);
	return err;
}

int atomic_file_replace(const char *path, int like_fd, const void *buf, size_t len)
{
	return put(path, like_fd, ATOMIC_KEEP | ATOMIC_MUST_EXIST, 0, buf, len);
}

int atomic_file_put(const char *path, mode_t mode, unsigned int flags, const void *buf,
		    size_t len)
{
	return put(path, -1, flags, mode, buf, len);
}
