/* The restart report of apply and rollback: the files a run left holding
 * other code than the processes started before it run (a fixed full build
 * installed, or taken out again), and the processes that still map an old
 * copy of one, found by the restart scanner (hp_restart__scan) as Debian's
 * needrestart finds them. */
#ifndef HP_CLI_RESTART_REPORT_H
#define HP_CLI_RESTART_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "output.h"

struct restart_files {
	char **paths;  /* canonical paths, malloc'd */
	size_t n;      /* entries in paths */
};

/* Remember path (canonicalised; a path that no longer resolves is left
 * out: no process can be told apart by it). */
void restart_files_add(struct restart_files *rf, const char *path);

/* Is mapped (a path as a process' maps show it, perhaps marked
 * " (deleted)") one of the files? */
bool restart_files_has(const struct restart_files *rf, const char *mapped);

void restart_files_free(struct restart_files *rf);

/* Report every process still mapping an old copy of one of the files: in
 * root (JSON: "restart_required", "restart" [{pid, comm, exe, path,
 * is_exe}]) when root is not NULL, else as text saying they still run
 * what ("the old code"). cmd names the command in an error. Returns the
 * number of processes, or -1 (after a message) when the scan could not
 * run. */
long restart_report(const struct restart_files *rf, struct out_node *root, const char *cmd,
		    const char *what);

#endif /* HP_CLI_RESTART_REPORT_H */
