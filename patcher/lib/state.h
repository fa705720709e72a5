/* The state directory as the library's modules see it: the object behind
 * struct hp_state, shared by state.c (directory and lock), journal.c and
 * backup.c. Not part of the public API. */
#ifndef HP_STATE_H
#define HP_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "hotpatch.h"

struct journal_open;

/* Names inside the state directory. */
#define STATE_LOCK_NAME "lock"
#define STATE_JOURNAL_NAME "journal"
#define STATE_BACKUP_DIR "backups"

struct hp_state {
	char *path;         /* the directory as named, for messages */
	unsigned int flags; /* enum hp_state_flags given at open */
	int dirfd;          /* the directory (O_DIRECTORY); -1: read-only and absent */
	int lockfd;         /* the lock file, flock(LOCK_EX) held; -1 when read-only */
	int journalfd;      /* the journal, O_APPEND; -1 until the first append */
	int backupfd;       /* the backups directory; -1 until first needed */
	uint64_t next_seq;  /* sequence number of the next journal record; 0: not read yet */
	struct journal_open *open; /* intents not closed yet, to check closing records */
	size_t nopen;       /* entries in open */
};

/* Free what journal.c keeps in st (called by hp_state__close). */
void journal_release(struct hp_state *st);

/* 0 if st may be written (opened with its lock); else HP_E_STATE with a
 * message naming what was attempted. */
int state_check_writable(const struct hp_state *st, const char *what);

/* The backups directory of st, opened (and created if create) on first use.
 * Returns its descriptor (owned by st), -ENOENT if absent and !create, or a
 * negative error with a message. */
int state_backup_dir(struct hp_state *st, bool create);

/* Check that fd (opened from name inside the state directory) is what the
 * state directory may hold: a regular file, or a directory if dir, owned
 * by us and not writable by group or others. HP_E_STATE with a message. */
int state_check_entry(const struct hp_state *st, int fd, const char *name, bool dir);

#endif /* HP_STATE_H */
