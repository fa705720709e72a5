/* The steps of apply and rollback: each live step journaled before (intent)
 * and after (done or failed), and each step, live or on disk, reported in
 * one text line or one JSON object, the same way by both commands. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "step.h"

int step_journal_intent(struct hp_state *st, const char *id, enum hp_journal_action action,
			pid_t pid, const char *path, struct hp_journal_rec *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->package = id;
	rec->action = action;
	rec->kind = HP_JOURNAL_LIVE;
	rec->step = HP_JOURNAL_INTENT;
	rec->path = path;
	rec->pid = pid;
	if (hp_journal__proc_start(pid, &rec->start_time))
		return -HP_E_PROCESS;
	return hp_journal__append(st, rec);
}

void step_journal_close(struct hp_state *st, const struct hp_journal_rec *intent, int err)
{
	struct hp_journal_detail d = { "error", hp_strerror(err) };

	if (hp_journal__append_step(st, intent, err ? HP_JOURNAL_FAILED : HP_JOURNAL_DONE,
				    err ? &d : NULL, err ? 1 : 0, NULL))
		cli_error("%s: journal: cannot record the outcome for pid %d",
			  intent->action == HP_JOURNAL_APPLY ? "apply" : "rollback", (int)intent->pid);
}

void step_json_result(struct out_node *o, const char *result, const char *reason)
{
	out_str(o, "result", result);
	if (reason)
		out_str(o, "reason", reason);
}

void step_print(const char *result, const char *reason, const char *detail, const char *fmt, ...)
{
	va_list ap;

	out_progress_hide();
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(": %s", result);
	if (reason)
		printf(": %s", reason);
	if (detail)
		printf(" (%s)", detail);
	putchar('\n');
}
