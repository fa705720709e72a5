/* Bounded whole-file reads and atomic file writes, shared by the payload
 * container and the minisign key and signature files. Not public API. */
#ifndef HP_FILEIO_H
#define HP_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Read the regular file path whole into a new buffer (malloc'd, with a NUL
 * after the last byte that *len does not count). Prints nothing: the caller
 * knows what the file is for and names it. Returns 0, -errno (-EISDIR or
 * -EINVAL for something that is not a regular file), or -HP_E_TOO_BIG when
 * the file holds more than max bytes, without reading them. */
int fileio_read(const char *path, size_t max, void **buf, size_t *len);

/* Write data to path atomically: a temporary file in the same directory
 * created with mode, written, fsync'd, renamed over path, and the directory
 * fsync'd, so a reader sees the old file or the new one, never a part.
 * Without replace an existing path is -EEXIST and nothing is written.
 * Prints nothing; returns 0 or -errno. */
int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			bool replace);

#endif /* HP_FILEIO_H */
