/* hotpatch status [--state-dir DIR]: every package applied, to which files
 * and in which processes, since when and which functions, as the journal
 * and the processes themselves tell it, with every disagreement between
 * them said plainly. Read-only: takes no lock and changes nothing. The JSON
 * form is documented in docs/operator-guide.md. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hotpatch.h"
#include "cli.h"
#include "cmdopts.h"
#include "commands.h"
#include "output.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: hotpatch status [--state-dir DIR] [--json]\n\n"
		"Say which packages are applied, to which files and in which processes,\n"
		"since when and which functions: from the journal of the state directory\n"
		"and from the processes themselves (their in-process record is the\n"
		"truth). Also lists processes still running an older copy of a file\n"
		"patched on disk, processes started from a file patched on disk (they\n"
		"carry no record of their own), steps started and never finished, and\n"
		"any disagreement between the journal, the processes and the backups.\n"
		"Changes nothing and takes no lock.\n\n"
		"Options:\n"
		"  --state-dir DIR   state directory; default $HOTPATCH_STATE_DIR or\n"
		"                    /var/lib/hotpatch\n"
		"  --json            one JSON document on stdout\n"
		"  -h, --help        this help\n\n"
		"Exit codes: 0 status read (problems, if any, are in the report),\n"
		"1 error (state directory or journal unreadable), 2 usage.\n");
}

/* "applied", "exited" or "inconsistent": the one word for a target. */
static const char *target_state(const struct hp_status_target *t)
{
	if (t->problems & ~(unsigned int)HP_STATUS_UNFINISHED)
		return "inconsistent";
	if (t->kind == HP_JOURNAL_LIVE && !t->running)
		return "exited";
	return "applied";
}

static void fmt_time(int64_t us, char *buf, size_t len)
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;

	if (!us || !gmtime_r(&secs, &tm)) {
		snprintf(buf, len, "unknown");
		return;
	}
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void json_functions(struct out_node *o, const char *list)
{
	struct out_node *arr = out_array(o, "functions");
	const char *p = list;

	while (p && *p) {
		size_t n = strcspn(p, ",");

		out_strf(arr, NULL, "%.*s", (int)n, p);
		p += n;
		if (*p == ',')
			p++;
	}
}

/* One of status' process lists; full_build: with each entry's full build. */
static void json_procs(struct out_node *root, const char *key, const struct hp_status_proc *p,
		       size_t n, bool full_build)
{
	struct out_node *arr = out_array(root, key), *o;
	size_t i;

	for (i = 0; i < n; i++) {
		o = out_object(arr, NULL);
		out_int(o, "pid", p[i].pid);
		out_str(o, "comm", p[i].comm);
		out_str(o, "path", p[i].path);
		out_str(o, "package", p[i].package);
		if (full_build)
			out_str(o, "full_build", p[i].full_build);
	}
}

static void json_report(const struct hp_status *s)
{
	struct out_node *root = out_root(), *arr, *o, *pr;
	char when[32];
	size_t i;

	out_str(root, "command", "status");
	out_str(root, "state_dir", s->state_dir);
	arr = out_array(root, "targets");
	for (i = 0; i < s->nr_targets; i++) {
		const struct hp_status_target *t = &s->targets[i];

		o = out_object(arr, NULL);
		out_str(o, "package", t->package);
		out_str(o, "kind", hp_journal_kind__str(t->kind));
		out_str(o, "state", target_state(t));
		out_str(o, "path", t->path);
		if (t->kind == HP_JOURNAL_LIVE) {
			out_int(o, "pid", t->pid);
			out_uint(o, "start_time", t->start_time);
			out_str(o, "comm", t->comm);
			out_bool(o, "running", t->running);
			out_bool(o, "in_process", t->in_process);
			out_uint(o, "nfuncs", t->nfuncs);
			out_uint(o, "applied_funcs", t->applied);
			if (t->region)
				out_hex(o, "region", t->region);
			else
				out_null(o, "region");
		}
		fmt_time(t->since_us, when, sizeof(when));
		if (t->since_us)
			out_str(o, "since", when);
		else
			out_null(o, "since");
		out_bool(o, "journaled", t->journaled);
		if (t->kind == HP_JOURNAL_DISK)
			out_str(o, "full_build", t->full_build);
		json_functions(o, t->functions);
		pr = out_array(o, "problems");
		if (t->problems & HP_STATUS_NO_RECORD)
			out_str(pr, NULL, "no-record");
		if (t->problems & HP_STATUS_PARTIAL)
			out_str(pr, NULL, "partial");
		if (t->problems & HP_STATUS_NO_JOURNAL)
			out_str(pr, NULL, "no-journal");
		if (t->problems & HP_STATUS_BACKUP)
			out_str(pr, NULL, "backup");
		if (t->problems & HP_STATUS_FILE_CHANGED)
			out_str(pr, NULL, "file-changed");
		if (t->problems & HP_STATUS_UNFINISHED)
			out_str(pr, NULL, "unfinished");
		out_str(o, "problem", t->problem);
	}
	json_procs(root, "stale_processes", s->stale, s->nr_stale, true);
	json_procs(root, "started_from_patched", s->started, s->nr_started, false);
	arr = out_array(root, "unfinished");
	for (i = 0; i < s->nr_unfinished; i++) {
		const struct hp_journal_rec *r = s->unfinished[i];

		o = out_object(arr, NULL);
		out_uint(o, "seq", r->seq);
		fmt_time(r->time_us, when, sizeof(when));
		out_str(o, "time", when);
		out_str(o, "package", r->package);
		out_str(o, "action", hp_journal_action__str(r->action));
		out_str(o, "kind", hp_journal_kind__str(r->kind));
		out_str(o, "path", r->path);
		if (r->kind == HP_JOURNAL_LIVE)
			out_int(o, "pid", r->pid);
		else
			out_null(o, "pid");
	}
	if (s->torn_line)
		out_uint(root, "torn_line", s->torn_line);
	else
		out_null(root, "torn_line");
	out_uint(root, "problems", s->nr_problems);
}

static void text_report(const struct hp_status *s)
{
	const char *last = NULL;
	char when[32];
	size_t i;

	printf("state directory: %s\n", s->state_dir);
	if (!s->nr_targets)
		printf("no package is applied\n");
	for (i = 0; i < s->nr_targets; i++) {
		const struct hp_status_target *t = &s->targets[i];

		if (!last || strcmp(last, t->package))
			printf("%s\n", t->package);
		last = t->package;
		fmt_time(t->since_us, when, sizeof(when));
		if (t->kind == HP_JOURNAL_LIVE)
			printf("  pid %d (%s) %s: %s, live, since %s", (int)t->pid,
			       t->comm ? t->comm : "?", *t->path ? t->path : "?", target_state(t), when);
		else if (t->full_build)
			printf("  %s: %s, replaced by the fixed full build %s, since %s", t->path,
			       target_state(t), t->full_build, when);
		else
			printf("  %s: %s, on disk, since %s", t->path, target_state(t), when);
		if (t->functions)
			printf("; functions %s", t->functions);
		putchar('\n');
		if (t->problem)
			printf("    problem: %s\n", t->problem);
	}
	if (s->nr_stale)
		printf("processes that need a restart (they run an older copy of a file updated on disk):\n");
	for (i = 0; i < s->nr_stale; i++) {
		const struct hp_status_proc *x = &s->stale[i];

		printf("  pid %d (%s) %s (%s", (int)x->pid, x->comm ? x->comm : "?", x->path,
		       x->package);
		if (x->full_build)
			printf("; the fixed full build %s is installed", x->full_build);
		else
			printf("; or patch it live");
		printf(")\n");
	}
	/* Their code came patched from the file: no record in the process,
	 * and a rollback leaves them on the fixed code until restarted. */
	if (s->nr_started)
		printf("processes started from a file patched on disk:\n");
	for (i = 0; i < s->nr_started; i++)
		printf("  pid %d (%s) %s: %s patched on disk (started from the patched file)\n",
		       (int)s->started[i].pid, s->started[i].comm ? s->started[i].comm : "?",
		       s->started[i].path, s->started[i].package);
	if (s->nr_unfinished)
		printf("steps started and never finished (a run was killed or crashed):\n");
	for (i = 0; i < s->nr_unfinished; i++) {
		const struct hp_journal_rec *r = s->unfinished[i];

		fmt_time(r->time_us, when, sizeof(when));
		if (r->kind == HP_JOURNAL_LIVE)
			printf("  seq %llu %s: %s %s live pid %d %s\n", (unsigned long long)r->seq, when,
			       r->package, hp_journal_action__str(r->action), (int)r->pid,
			       r->path ? r->path : "");
		else
			printf("  seq %llu %s: %s %s disk %s\n", (unsigned long long)r->seq, when,
			       r->package, hp_journal_action__str(r->action), r->path);
	}
	if (s->torn_line)
		printf("journal line %zu was torn by a crash and skipped\n", s->torn_line);
	printf("%zu targets, %zu problems\n", s->nr_targets, s->nr_problems);
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		CMDOPT_ENTRY_STATE_DIR,
		CMDOPT_ENTRY_JSON,
		CMDOPT_ENTRY_HELP,
		{ NULL, 0, NULL, 0 },
	};
	struct cmdopts co = CMDOPTS_INIT("status", usage);
	struct hp_status *s = NULL;
	int c, err, rc = EXIT_OK;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		/* status has only common options: none allocates. */
		if (!cmdopts_take(&co, c, optarg, &rc))
			return rc;
	}
	if (optind != argc)
		return cli_usage_error("status", "unexpected argument '%s'", argv[optind]);
	err = hp_status__read(co.state_dir, &s);
	if (err) {
		cli_error("status: %s: %s", co.state_dir ? co.state_dir : hp_state__default_dir(),
			  hp_strerror(err));
		rc = EXIT_ERROR;
		goto out;
	}
	if (cli_json) {
		json_report(s);
		if (out_emit(false))
			rc = EXIT_ERROR;
	} else {
		text_report(s);
	}
out:
	hp_status__free(s);
	return rc;
}
