/* What a running process has mapped and which threads it has, read from
 * /proc: the live executor uses it to find the code it patches, the stacks it
 * scans and a free gap near the code for the payload; `inspect --pid` uses it
 * to list what a process runs. Internal to libhotpatch. */
#ifndef HP_PROCMAPS_H
#define HP_PROCMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Permission bits of a mapping (the "rwxp" column). */
#define PM_READ    0x1u
#define PM_WRITE   0x2u
#define PM_EXEC    0x4u
#define PM_PRIVATE 0x8u  /* 'p' (copy on write); 's' when clear */

/* One line of /proc/PID/maps. */
struct procmap {
	uint64_t start;         /* runtime address of the first byte */
	uint64_t end;           /* runtime address one past the last byte */
	uint64_t offset;        /* file offset mapped at start (bytes) */
	unsigned int perms;     /* PM_* bits */
	unsigned int dev_major; /* device of the mapped file */
	unsigned int dev_minor; /* device of the mapped file */
	uint64_t inode;         /* inode of the mapped file, 0 when anonymous */
	char *path;             /* file path without " (deleted)", a pseudo name
				   such as "[stack]", or "" when anonymous; owned */
	bool deleted;           /* the file was unlinked or replaced after mapping */
};

/* Every mapping of a process, sorted by address as the kernel lists them. */
struct procmaps {
	pid_t pid;              /* the process they were read from */
	struct procmap *maps;   /* array of n mappings; owned */
	size_t n;               /* number of mappings */
};

/* Read /proc/PID/maps into *pm (which the caller frees with procmaps_free()).
 * Errors: -ESRCH when the process does not exist (or exited), -EACCES/-EPERM
 * when it may not be read, -HP_E_FORMAT for a line that does not parse,
 * -ENOMEM. */
int procmaps_read(pid_t pid, struct procmaps *pm);

/* The raw text of /proc/PID/maps in *text (malloc'd, NUL-terminated, the
 * caller frees it), without a message: for scans over many processes that
 * look for a path in it before parsing. Errors: -ESRCH when the process does
 * not exist (or exited), -EACCES/-EPERM, -ENOMEM. */
int procmaps_read_text(pid_t pid, char **text);

/* Parse maps text (the contents of a maps file) into *pm; pid is recorded
 * for messages only. Same errors as procmaps_read(). */
int procmaps_parse(pid_t pid, const char *text, struct procmaps *pm);

/* Release what procmaps_read()/procmaps_parse() allocated; accepts a zeroed
 * or already freed *pm. */
void procmaps_free(struct procmaps *pm);

/* The mapping holding runtime address addr, or NULL. */
const struct procmap *procmaps_find(const struct procmaps *pm, uint64_t addr);

/* The thread ids of a process (/proc/PID/task), sorted ascending, in *tids
 * (malloc'd, caller frees) and their number in *n. Errors: -ESRCH when the
 * process is gone, -ENOMEM. */
int procmaps_tasks(pid_t pid, pid_t **tids, size_t *n);

/* Find size bytes (rounded up to pages) of unmapped address space from which
 * every byte of [lo, hi) is reachable by a rel32 jump or call and back, that
 * is, the whole gap and the whole range lie within 2 GiB of each other.
 * Prefers the candidate closest to the range, leaves a guard page on each
 * side, and never goes below min_addr (pass 0 for the kernel's usual
 * 64 KiB floor). Returns 0 and the page-aligned runtime address in *addr, or
 * -HP_E_NOT_FOUND when no gap qualifies. */
int procmaps_find_gap(const struct procmaps *pm, uint64_t lo, uint64_t hi, size_t size,
		      uint64_t min_addr, uint64_t *addr);

/* Every process of the machine but the caller: the numeric entries of
 * /proc, sorted ascending, in *pids (malloc'd, caller frees) and their
 * number in *n. who names the caller in the message when /proc cannot be
 * listed. Errors: -errno of /proc, -ENOMEM. */
int procmaps_pids(const char *who, pid_t **pids, size_t *n);

/* The command name of pid (/proc/PID/comm), malloc'd; NULL if it is gone. */
char *procmaps_comm(pid_t pid);

#endif /* HP_PROCMAPS_H */
