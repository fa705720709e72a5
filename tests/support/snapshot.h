/* "Nothing changed": a snapshot of files (bytes, size, mtime) taken before
 * a command and compared after it. */
#ifndef HP_TEST_SNAPSHOT_H
#define HP_TEST_SNAPSHOT_H

#include <stdbool.h>

struct ts_snapshot;

/* Every regular file directly in dir (not recursive), or the single file
 * dir names. NULL if nothing could be read. */
struct ts_snapshot *ts_snapshot_take(const char *dir);

/* True if every file has the same bytes and mtime as when the snapshot was
 * taken and no file was added or removed; prints the first difference on
 * stderr. */
bool ts_snapshot_same(const struct ts_snapshot *s);

void ts_snapshot_free(struct ts_snapshot *s);

#endif
