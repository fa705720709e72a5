/* The restart report shared by apply and rollback (restart_report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotpatch.h"
#include "cli.h"
#include "restart_report.h"

void restart_files_add(struct restart_files *rf, const char *path)
{
	char *real = realpath(path, NULL), **grown;

	if (!real)
		return;
	grown = realloc(rf->paths, (rf->n + 1) * sizeof(*grown));
	if (!grown) {
		free(real);
		return;
	}
	rf->paths = grown;
	rf->paths[rf->n++] = real;
}

bool restart_files_has(const struct restart_files *rf, const char *mapped)
{
	size_t i, n = strlen(mapped);

	if (n > 10 && !strcmp(mapped + n - 10, " (deleted)"))
		n -= 10;
	for (i = 0; i < rf->n; i++)
		if (strlen(rf->paths[i]) == n && !strncmp(rf->paths[i], mapped, n))
			return true;
	return false;
}

void restart_files_free(struct restart_files *rf)
{
	size_t i;

	for (i = 0; i < rf->n; i++)
		free(rf->paths[i]);
	free(rf->paths);
	rf->paths = NULL;
	rf->n = 0;
}

long restart_report(const struct restart_files *rf, struct out_node *root, const char *cmd,
		    const char *what)
{
	struct hp_restart_list *l = NULL;
	struct out_node *arr = NULL;
	size_t i;
	int err;

	if (!rf->n) {
		if (root) {
			out_bool(root, "restart_required", false);
			out_array(root, "restart");
		}
		return 0;
	}
	err = hp_restart__scan((const char *const *)rf->paths, rf->n, HP_RESTART_OLD_COPY, NULL, 0,
			       &l);
	if (err) {
		cli_error("%s: cannot list the processes that need a restart: %s", cmd,
			  hp_strerror(err));
		return -1;
	}
	if (root) {
		out_bool(root, "restart_required", l->n > 0);
		arr = out_array(root, "restart");
	} else if (l->n) {
		printf("restart required: %zu process%s still run%s %s:\n", l->n,
		       l->n == 1 ? "" : "es", l->n == 1 ? "s" : "", what);
	}
	for (i = 0; i < l->n; i++) {
		const struct hp_restart_proc *p = &l->procs[i];

		if (arr) {
			struct out_node *o = out_object(arr, NULL);

			out_int(o, "pid", p->pid);
			out_str(o, "comm", p->comm ? p->comm : "");
			out_str(o, "exe", p->exe);
			out_str(o, "path", p->path);
			out_bool(o, "is_exe", p->is_exe);
		} else {
			printf("  pid %d (%s): maps the replaced %s%s\n", (int)p->pid,
			       p->comm ? p->comm : "?", p->path, p->is_exe ? " (its executable)" : "");
		}
	}
	i = l->n;
	hp_restart__free(l);
	return (long)i;
}
