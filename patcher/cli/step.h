/* What apply and rollback share for each step they take on a target (one
 * process, one file): the journal records around a live step, and the
 * step's line in the report. */
#ifndef HP_CLI_STEP_H
#define HP_CLI_STEP_H

#include <sys/types.h>

#include "hotpatch.h"
#include "output.h"

/* Journal the intent of a live step (action of package id on process pid,
 * which runs path; path may be NULL) before it is taken, so the state
 * directory always says at least what may have happened; the process is
 * named by pid and start time. rec is filled for step_journal_close().
 * Returns 0, -HP_E_PROCESS when pid is gone, or the journal's error. */
int step_journal_intent(struct hp_state *st, const char *id, enum hp_journal_action action,
			pid_t pid, const char *path, struct hp_journal_rec *rec);

/* Journal the outcome of the step intent opened: done, or failed with err.
 * A journal that cannot take it is said on stderr; the step stays done. */
void step_journal_close(struct hp_state *st, const struct hp_journal_rec *intent, int err);

/* The members of a step's JSON object that follow what names the target:
 * "result", then "reason" when there is one. */
void step_json_result(struct out_node *o, const char *result, const char *reason);

/* A step's text line: the target named by fmt, then ": RESULT", ": REASON"
 * when there is one and " (DETAIL)" when there is one, after the progress
 * line is put away. */
void step_print(const char *result, const char *reason, const char *detail, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif /* HP_CLI_STEP_H */
