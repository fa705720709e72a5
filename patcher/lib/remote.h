/* Working inside a stopped process: its memory through /proc/PID/mem, and
 * system calls (mmap, mprotect, munmap) run by one of its own threads.
 * Internal to libhotpatch. */
#ifndef HP_REMOTE_H
#define HP_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "ptrace.h"

/* Access to one process's memory and a place to run system calls there. */
struct remote {
	struct pt_group *g;   /* the seized threads; not owned */
	int mem_fd;           /* /proc/PID/mem, read-write; owned */
	uint64_t syscall_at;  /* runtime address of a "syscall" instruction, 0
				 until found */
};

/* Open the memory of g's process. Errors: -HP_E_PROCESS, -errno. */
int remote_open(struct remote *r, struct pt_group *g);
void remote_close(struct remote *r);

/* Read or write len bytes at runtime address addr. Writes go through the
 * kernel's forced access, so they reach read-only and executable pages (copy
 * on write for private mappings) and each call is one system call, never
 * split by a signal. Errors: -EIO/-EFAULT for an unmapped address, -ESRCH. */
int remote_read(struct remote *r, uint64_t addr, void *buf, size_t len);
int remote_write(struct remote *r, uint64_t addr, const void *buf, size_t len);

/* Run system call nr with up to six arguments on stopped thread i of g, and
 * give its return value (a negative errno on failure) in *ret. Every
 * register of the thread, and any system call it was interrupted in, is
 * exactly as before when this returns. Errors (the call could not be run):
 * -HP_E_PROCESS, -HP_E_NOT_FOUND (no syscall instruction found). */
int remote_syscall(struct remote *r, size_t i, long nr, const uint64_t args[6], long *ret);

#endif /* HP_REMOTE_H */
