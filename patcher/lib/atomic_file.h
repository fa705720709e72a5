/* Writing a file atomically: the interface of atomic_file.c, used by the
 * disk executor, the state directory (backups), the keys and signatures,
 * the payload container and the manifest. Not public API. */
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
 * file remains, removed by the next write of the same name (any opener
 * below) or atomic_file_clean(); from atomic-renamed on it is the new file.
 * Every atomic write passes them, whatever its policy. */

struct atomic_file;

/* Policies, or'd (atomic_file_put()):
 *   ATOMIC_KEEP        what stands at the name, if anything, must be a
 *                      regular file (a symbolic link: HP_E_UNSUPPORTED);
 *                      the new content gets its owner, mode and extended
 *                      attributes, and the rename happens only while the
 *                      name still holds that same file (else HP_E_MISMATCH)
 *   ATOMIC_MUST_EXIST  with ATOMIC_KEEP: no file at the name is -ENOENT
 *   ATOMIC_NO_REPLACE  an existing name is -EEXIST, also one that appears
 *                      before the rename: nothing is ever written over it
 *   ATOMIC_QUIET       failures are not reported: the caller names the file
 *                      and the cause in its own words
 * Without ATOMIC_KEEP, whatever stands at the name is replaced (unless
 * ATOMIC_NO_REPLACE), and the new file gets the mode the caller names. */
#define ATOMIC_KEEP 0x1u
#define ATOMIC_MUST_EXIST 0x2u
#define ATOMIC_NO_REPLACE 0x4u
#define ATOMIC_QUIET 0x8u

/* Start replacing the existing regular file at path (ATOMIC_KEEP and
 * ATOMIC_MUST_EXIST). If like_fd >= 0 it is a descriptor the caller read
 * the file through (and hashed): path must still be that same file, at open
 * and at commit, else HP_E_MISMATCH. Errors have a message naming path. */
int atomic_file_open(const char *path, int like_fd, struct atomic_file **out);

/* The same for name in the directory dirfd (kept open by the caller; display
 * names name in messages), ATOMIC_KEEP only: if name does not exist it is
 * created with mode. */
int atomic_file_openat(int dirfd, const char *name, const char *display, mode_t mode,
		       struct atomic_file **out);

/* Start writing path by the policy of flags (ATOMIC_*); a file created
 * without ATOMIC_KEEP gets mode. Errors have a message naming path unless
 * ATOMIC_QUIET. */
int atomic_file_create(const char *path, mode_t mode, unsigned int flags,
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

/* create + write + commit + close in one call: a reader of path sees the
 * old file (or none) or the new one, never a part. Returns 0 or a negative
 * error: -errno (-EEXIST for ATOMIC_NO_REPLACE), or those of
 * atomic_file_open() with ATOMIC_KEEP. */
int atomic_file_put(const char *path, mode_t mode, unsigned int flags, const void *buf,
		    size_t len);

/* Remove the temporary files for name in dirfd that runs killed before
 * their rename left behind (a live writer's is kept: it holds a lock on
 * it). Returns how many were removed, or a negative error. */
int atomic_file_clean(int dirfd, const char *name, const char *display);

#endif /* HP_ATOMIC_FILE_H */
