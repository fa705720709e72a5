/* Replacing a file atomically: the interface of atomic_file.c, used by the
 * disk executor and by the state directory (backups). Not public API. */
#ifndef HP_ATOMIC_FILE_H
#define HP_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Fault points, in the order they are reached (HOTPATCH_FAULT=<name>):
 *   atomic-created   temporary file created, owner/mode/xattrs set, empty
 *   atomic-partial   about half of the new content written
 *   atomic-written   all of it written, not yet fsync'd
 *   atomic-synced    temporary file fsync'd, not yet renamed
 *   atomic-renamed   renamed over the target, directory not yet fsync'd
 *   atomic-done      directory fsync'd
 * Killed before atomic-renamed, the target is the old file and a temporary
 * file remains, removed by the next atomic_file_open*() or
 * atomic_file_clean() on the same name; from atomic-renamed on it is the
 * new file. */

struct atomic_file;

/* Start replacing the existing regular file at path (not a symbolic link:
 * HP_E_UNSUPPORTED). The new content gets its owner, mode and extended
 * attributes. If like_fd >= 0 it is a descriptor the caller read the file
 * through (and hashed): path must still be that same file, at open and at
 * commit, else HP_E_MISMATCH. Errors have a message naming path. */
int atomic_file_open(const char *path, int like_fd, struct atomic_file **out);

/* The same for name in the directory dirfd (kept open by the caller; display
 * names name in messages). If name does not exist it is created with mode. */
int atomic_file_openat(int dirfd, const char *name, const char *display, mode_t mode,
		       struct atomic_file **out);

/* The temporary file, open read-write, for callers that write through
 * another interface (libelf) or read back what they wrote. */
int atomic_file_fd(const struct atomic_file *af);

/* Append len bytes of buf to the new content. */
int atomic_file_write(struct atomic_file *af, const void *buf, size_t len);

/* Append the whole content of srcfd (read with pread from offset 0). */
int atomic_file_copy(struct atomic_file *af, int srcfd, const char *srcname);

/* fsync the new content, rename it over the target, fsync the directory.
 * On failure before the rename the target is unchanged. */
int atomic_file_commit(struct atomic_file *af);

/* Release af; if not committed, remove the temporary file. Accepts NULL. */
void atomic_file_close(struct atomic_file *af);

/* open + write + commit + close in one call. */
int atomic_file_replace(const char *path, int like_fd, const void *buf, size_t len);

/* Remove the temporary files for name in dirfd that runs killed before
 * their rename left behind (a live writer's is kept: it holds a lock on
 * it). Returns how many were removed, or a negative error. */
int atomic_file_clean(int dirfd, const char *name, const char *display);

#endif /* HP_ATOMIC_FILE_H */
