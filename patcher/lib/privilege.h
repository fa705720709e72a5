/* Why the kernel refused us a process (privilege.c). Internal to
 * libhotpatch. */
#ifndef HP_PRIVILEGE_H
#define HP_PRIVILEGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PRIVILEGE_YAMA_SYSCTL "/proc/sys/kernel/yama/ptrace_scope"

/* Into buf, one clause saying why this run may not read or trace pid:
 * "hotpatch runs without CAP_SYS_PTRACE (...)", "it runs as uid 0 and
 * hotpatch as uid 65534, not root", ... Call it after an EPERM/EACCES. */
void privilege_why(pid_t pid, char *buf, size_t size);

/* Is err (negative or not) a refusal for lack of privilege? */
bool privilege_denied(int err);

#endif
