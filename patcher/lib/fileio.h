/* Bounded whole-file reads, shared by the payload container and the
 * minisign key and signature files (their atomic writes are atomic_file.h's).
 * Not public API. */
#ifndef HP_FILEIO_H
#define HP_FILEIO_H

#include <stddef.h>

/* Read the regular file path whole into a new buffer (malloc'd, with a NUL
 * after the last byte that *len does not count). Prints nothing: the caller
 * knows what the file is for and names it. Returns 0, -errno (-EISDIR or
 * -EINVAL for something that is not a regular file), or -HP_E_TOO_BIG when
 * the file holds more than max bytes, without reading them. */
int fileio_read(const char *path, size_t max, void **buf, size_t *len);

#endif /* HP_FILEIO_H */
