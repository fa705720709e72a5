/* hotpatch apply MANIFEST [--disk] [--live] [--pid PID]...: the package
 * checked (the dry run of `verify`), then applied to the eligible files on
 * disk (the cold patch: a patched copy replaces each file atomically) and to
 * each running process that maps an eligible component (one process at a
 * time, each completely or not at all). Without --disk or --live, both,
 * disk first (docs/disk.md says why). The report names every file and
 * process: patched, already applied, skipped (why) or failed (why).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotpatch.h"
#include "cli.h"
#include "cmdopts.h"
#include "commands.h"
#include "output.h"
#include "restart_report.h"
#include "step.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: hotpatch apply MANIFEST [--disk] [--live] [--root DIR] [--pid PID]... [OPTIONS]\n\n"
		"Apply the package to the eligible files on disk (each replaced atomically\n"
		"by a patched copy; the original kept in the state directory for rollback)\n"
		"and to running processes, without a restart: every process that maps an\n"
		"eligible version of one of its components (or only the processes given\n"
		"with --pid). Without --disk or --live, both: the files first, then the\n"
		"processes. Each file and each process is patched completely or not at\n"
		"all; a process that stays busy is left unchanged.\n\n"
		"A file of a version the hotpatch was not built for is replaced by the\n"
		"package's fixed full build, if it carries one (same atomic replace and\n"
		"backup); the processes still running the old file are named: they need\n"
		"a restart (\"restart required\"). --hotpatch-only leaves such files\n"
		"unchanged instead.\n\n"
		"Options:\n"
		"  --disk                 patch the files on disk\n"
		"  --live                 patch running processes\n"
		"  --root DIR             look for the components' files below DIR (default /)\n"
		"  --pid PID              only this process (repeatable; needs --live)\n"
		"  --hotpatch-only        change nothing that would need a restart: leave\n"
		"                         files that only a full build can fix unchanged\n"
		"  --consistency=full|entry  full (default): no thread inside a replaced\n"
		"                         function nor returning into one; entry: no thread\n"
		"                         inside the bytes the jump overwrites\n"
		"  --retries N            stop windows tried while busy (default 20)\n"
		"  --trusted-key FILE     also trust this public key (repeatable)\n"
		"  --state-dir DIR        state directory (journal, lock); default\n"
		"                         $HOTPATCH_STATE_DIR or /var/lib/hotpatch\n"
		"  --insecure-skip-signature  do not check the signature (development only)\n"
		"  --json                 one JSON document on stdout\n"
		"  -h, --help             this help\n\n"
		"Exit codes: 0 done (or already applied; a restart may be required, see\n"
		"the report), 1 error, 2 usage, 3 not eligible (a --pid, or a file\n"
		"--hotpatch-only left unchanged), 4 busy, 5 integrity or signature failure.\n");
}

/* One line (or JSON object) per process of the live step. */
static void report(struct out_node *arr, const struct hp_verify_target *t, const char *result,
		   const char *reason, const struct hp_live_result *res)
{
	bool patched = res && !strcmp(result, "patched");
	char detail[96];
	struct out_node *o;

	if (cli_json) {
		o = out_object(arr, NULL);
		out_int(o, "pid", t->pid);
		out_str(o, "comm", t->comm ? t->comm : "");
		out_str(o, "path", t->path ? t->path : "");
		out_str(o, "component", t->component ? t->component->name : "");
		out_str(o, "version", t->version ? t->version : "");
		step_json_result(o, result, reason);
		if (res && res->region) {
			out_hex(o, "region", res->region);
			out_uint(o, "threads", res->threads);
			out_uint(o, "stop_ns", res->stop_ns);
			out_uint(o, "attempts", res->attempts);
		}
		return;
	}
	if (patched)
		snprintf(detail, sizeof(detail), "%u threads stopped %.1f us", res->threads,
			 res->stop_ns / 1000.0);
	step_print(result, reason, patched ? detail : NULL, "pid %d (%s) %s", (int)t->pid,
		   t->comm ? t->comm : "?", t->path ? t->path : "?");
}

/* One line (or JSON object) per file of the disk step. */
static void report_file(struct out_node *arr, const struct hp_verify_target *t, const char *result,
			const char *reason, const struct hp_disk_result *res)
{
	bool changed = res && res->new_sha256[0];
	char detail[96];
	struct out_node *o;

	if (cli_json) {
		o = out_object(arr, NULL);
		out_str(o, "path", t->path ? t->path : "");
		out_str(o, "component", t->component ? t->component->name : "");
		out_str(o, "version", t->version ? t->version : "");
		step_json_result(o, result, reason);
		out_str(o, "full_build", t->build ? t->build->version : NULL);
		if (changed) {
			out_str(o, "old_sha256", res->old_sha256);
			out_str(o, "new_sha256", res->new_sha256);
			out_str(o, "backup", res->backup);
		}
		return;
	}
	if (changed)
		snprintf(detail, sizeof(detail), "SHA-256 %.16s... -> %.16s...", res->old_sha256,
			 res->new_sha256);
	step_print(result, reason, changed ? detail : NULL, "file %s", t->path ? t->path : "?");
}

/* Replace or cold-patch one file (the dry run judged it would be) and
 * report it; returns the exit code for it. */
static int disk_step(const struct hp_package *pkg, struct hp_state *state,
		     const struct hp_verify_target *t, struct out_node *arr, size_t *changed,
		     size_t *already, struct restart_files *rf)
{
	bool replace = t->verdict == HP_VERDICT_WOULD_REPLACE;
	struct hp_disk_result res;
	char why[160];
	int err;

	err = hp_disk__apply(pkg, t, state, &res);
	if (!err) {
		(*changed)++;
		if (replace) {
			snprintf(why, sizeof(why), "fixed full build %s installed; restart required",
				 res.full_build);
			restart_files_add(rf, t->path);
		}
		report_file(arr, t, replace ? "replaced" : "patched", replace ? why : NULL, &res);
		return EXIT_OK;
	}
	if (err == -HP_E_ALREADY) {
		(*already)++;
		report_file(arr, t, "already applied", NULL, NULL);
		return EXIT_OK;
	}
	report_file(arr, t, "failed", hp_strerror(err), NULL);
	return cli_exit_for(err);
}

/* The disk step: every component file below root that the dry run judges
 * patchable is replaced by its cold-patched copy, every file of a version a
 * full build replaces by that build (unless hotpatch_only). Returns the
 * exit code; *patched counts the files changed, rf gets the files that now
 * hold a full build. */
static int apply_disk(const struct hp_package *pkg, struct hp_state *state, const char *root,
		      bool hotpatch_only, struct out_node *arr, size_t *patched,
		      struct restart_files *rf)
{
	struct hp_verify_opts vopts = { 0 };
	struct hp_verify_report *rep = NULL;
	size_t i, already = 0, files = 0, left = 0;
	struct hp_disk_result res;
	char why[256];
	int err, rc = EXIT_OK;

	vopts.root = root;
	vopts.no_processes = 1;
	err = hp_verify__run(pkg, &vopts, &rep);
	if (err) {
		cli_error("apply: %s: cannot examine the files below %s: %s; nothing changed",
			  pkg->manifest_path, root ? root : "/", hp_strerror(err));
		return EXIT_ERROR;
	}
	for (i = 0; i < rep->nr_targets; i++) {
		const struct hp_verify_target *t = &rep->targets[i];
		int trc = EXIT_OK;

		if (t->pid)
			continue;
		files++;
		switch (t->verdict) {
		case HP_VERDICT_WOULD_PATCH:
			trc = disk_step(pkg, state, t, arr, patched, &already, rf);
			break;
		case HP_VERDICT_WOULD_REPLACE:
			if (!hotpatch_only) {
				trc = disk_step(pkg, state, t, arr, patched, &already, rf);
				break;
			}
			snprintf(why, sizeof(why),
				 "version %s is not eligible for the hotpatch; installing the fixed full build %s would need a restart, and --hotpatch-only refuses that",
				 t->version ? t->version : "(none)", t->build->version);
			report_file(arr, t, "left unchanged", why, NULL);
			left++;
			trc = EXIT_NOT_ELIGIBLE;
			break;
		case HP_VERDICT_ALREADY:
			/* Through the executor all the same: it settles a step a
			 * killed run left open in the journal, then says already. */
			if (hp_disk__apply(pkg, t, state, &res) == 0)
				(*patched)++;
			else
				already++;
			if (t->build)
				restart_files_add(rf, t->path);
			report_file(arr, t, "already applied", t->build ? t->reason : NULL, NULL);
			break;
		case HP_VERDICT_NOT_ELIGIBLE:
			report_file(arr, t, "skipped", t->reason ? t->reason : "not eligible", NULL);
			break;
		default:
			report_file(arr, t, "failed", t->reason ? t->reason : hp_strerror(t->err), NULL);
			trc = t->err ? cli_exit_for(t->err) : EXIT_ERROR;
			break;
		}
		if (trc != EXIT_OK && rc == EXIT_OK)
			rc = trc;
	}
	if (!cli_json) {
		printf("%s: %zu files changed, %zu already applied, ", pkg->manifest->id, *patched,
		       already);
		if (left)
			printf("%zu left unchanged (--hotpatch-only), ", left);
		printf("%zu examined\n", files);
	}
	hp_verify__free(rep);
	return rc;
}

/* Does process pid carry package id with only some of its jumps in place? */
static int live_partial(pid_t pid, const char *id)
{
	struct hp_live_status st;

	return !hp_live__status(pid, id, &st) && st.applied && st.applied < st.nfuncs;
}

/* The live step: every process the dry run judges patchable (all of the
 * machine's, or those of pids). Returns the exit code; *patched counts the
 * processes changed. */
static int apply_live(const struct hp_package *pkg, struct hp_state *state, const pid_t *pids,
		      size_t npids, const struct hp_live_opts *lopts, const struct restart_files *rf,
		      struct out_node *arr, size_t *patched)
{
	struct hp_verify_opts vopts = { 0 };
	struct hp_verify_report *rep = NULL;
	struct hp_journal_rec intent;
	size_t i, already = 0, procs = 0, nprocs = 0, nfailed = 0;
	int err, rc = EXIT_OK;

	/* The dry run finds the processes and checks them; only what it
	 * judges patchable is touched. */
	vopts.no_root = 1;
	vopts.pids = npids ? pids : NULL;
	vopts.nr_pids = npids;
	err = hp_verify__run(pkg, &vopts, &rep);
	if (err) {
		cli_error("apply: %s: cannot examine the processes: %s; nothing changed",
			  pkg->manifest_path, hp_strerror(err));
		return EXIT_ERROR;
	}
	for (i = 0; i < rep->nr_targets; i++)
		nprocs += rep->targets[i].pid != 0;
	out_progress_begin("apply", "processes", nprocs);
	for (i = 0; i < rep->nr_targets; i++) {
		const struct hp_verify_target *t = &rep->targets[i];
		struct hp_live_result res = { 0 };
		int trc = EXIT_OK;

		if (!t->pid)
			continue;
		procs++;
		switch (t->verdict) {
		case HP_VERDICT_WOULD_PATCH:
			err = step_journal_intent(state, pkg->manifest->id, HP_JOURNAL_APPLY,
						  t->pid, t->path, &intent);
			if (!err) {
				err = hp_live__apply_target(pkg, t, lopts, &res);
				step_journal_close(state, &intent, err == -HP_E_ALREADY ? 0 : err);
			}
			if (!err) {
				(*patched)++;
				report(arr, t, "patched", NULL, &res);
			} else if (err == -HP_E_ALREADY) {
				already++;
				report(arr, t, "already applied", NULL, NULL);
			} else {
				report(arr, t, "failed", hp_strerror(err), &res);
				trc = cli_exit_for(err);
			}
			break;
		case HP_VERDICT_ALREADY:
			already++;
			report(arr, t, "already applied", NULL, NULL);
			break;
		case HP_VERDICT_NEEDS_RESTART:
			/* Its file replaced by the full build: the restart report
			 * names it, and that is this process' outcome. */
			report(arr, t, "skipped", t->reason, NULL);
			if (npids && !restart_files_has(rf, t->path))
				trc = EXIT_NOT_ELIGIBLE;
			break;
		case HP_VERDICT_NOT_ELIGIBLE:
			report(arr, t, "skipped", t->reason ? t->reason : "not eligible", NULL);
			if (npids)
				trc = EXIT_NOT_ELIGIBLE;
			break;
		case HP_VERDICT_REFUSED:
			/* A run killed between two jump writes left some functions
			 * redirected (so the fingerprints differ): finish it. */
			if (t->err == -HP_E_MISMATCH && live_partial(t->pid, pkg->manifest->id)) {
				err = step_journal_intent(state, pkg->manifest->id, HP_JOURNAL_APPLY,
							  t->pid, t->path, &intent);
				if (!err) {
					err = hp_live__complete(t->pid, pkg->manifest->id, lopts, &res);
					step_journal_close(state, &intent, err);
				}
				if (!err) {
					(*patched)++;
					report(arr, t, "patched", "completed a half-applied patch", &res);
				} else {
					report(arr, t, "failed", hp_strerror(err), &res);
					trc = cli_exit_for(err);
				}
				break;
			}
			report(arr, t, "failed", t->reason ? t->reason : hp_strerror(t->err), NULL);
			trc = t->err ? cli_exit_for(t->err) : EXIT_ERROR;
			break;
		default:
			report(arr, t, "failed", t->reason ? t->reason : hp_strerror(t->err), NULL);
			trc = t->err ? cli_exit_for(t->err) : EXIT_ERROR;
			break;
		}
		/* The first failure decides the exit code. */
		if (trc != EXIT_OK && rc == EXIT_OK)
			rc = trc;
		nfailed += trc != EXIT_OK;
		out_progress_update(procs, nfailed);
	}
	out_progress_end();
	if (!cli_json) {
		printf("%s: %zu processes patched, %zu already applied, %zu examined\n",
		       pkg->manifest->id, *patched, already, procs);
		if (rep->nr_unreadable)
			printf("%zu process%s could not be examined (no permission to read %s mappings)\n",
			       rep->nr_unreadable, rep->nr_unreadable == 1 ? "" : "es",
			       rep->nr_unreadable == 1 ? "its" : "their");
	} else if (!npids) {
		out_uint(out_root(), "unreadable_processes", rep->nr_unreadable);
	}
	hp_verify__free(rep);
	return rc;
}

int cmd_apply(int argc, char **argv)
{
	enum { OPT_ROOT = CMDOPT_OWN, OPT_HPONLY };
	static const struct option opts[] = {
		CMDOPT_ENTRY_LIVE,
		CMDOPT_ENTRY_DISK,
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "hotpatch-only", no_argument, NULL, OPT_HPONLY },
		CMDOPT_ENTRIES_CHANGE,
		{ NULL, 0, NULL, 0 },
	};
	struct cmdopts co = CMDOPTS_INIT("apply", usage);
	struct hp_package *pkg = NULL;
	struct out_node *root = NULL, *farr = NULL, *parr = NULL;
	size_t nfiles = 0, nprocs = 0;
	bool hotpatch_only = false;
	struct restart_files rf = { 0 };
	const char *manifest, *root_dir = NULL;
	struct hp_state *state = NULL;
	int c, err, rc = EXIT_OK, drc = EXIT_OK, lrc = EXIT_OK;

	while ((c = getopt_long(argc, argv, "p:k:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT:
			root_dir = optarg;
			break;
		case OPT_HPONLY:
			hotpatch_only = true;
			break;
		default:
			if (!cmdopts_take(&co, c, optarg, &rc))
				goto out;
		}
	}
	if (optind != argc - 1) {
		rc = cli_usage_error("apply", "one manifest is required");
		goto out;
	}
	if (!cmdopts_check_targets(&co, &rc))
		goto out;
	if (root_dir && !co.disk) {
		rc = cli_usage_error("apply", "--root selects files; give --disk with it");
		goto out;
	}
	manifest = argv[optind];
	pkg = hp_package__open(manifest, &co.pkg);
	if (!pkg) {
		err = -errno;
		cli_error("apply: %s: package refused: %s; nothing changed", manifest, hp_strerror(err));
		rc = cli_package_exit(err);
		goto out;
	}
	/* The lock keeps two runs apart; the journal records each step. */
	state = cmdopts_open_state(&co, &rc);
	if (!state)
		goto out;
	if (cli_json) {
		root = out_root();
		out_str(root, "command", "apply");
		out_str(root, "package", pkg->manifest->id);
		if (co.disk)
			farr = out_array(root, "files");
		if (co.live)
			parr = out_array(root, "processes");
	}
	/* Disk first: from the rename on, a new process starts patched; the
	 * live step that follows then finds every process still running an
	 * old copy, and sees the ones started from a patched file as already
	 * patched (a jump out of every function), so none is left out and
	 * none is patched twice. */
	if (co.disk)
		drc = apply_disk(pkg, state, root_dir, hotpatch_only, farr, &nfiles, &rf);
	if (co.live)
		lrc = apply_live(pkg, state, co.pids, co.nr_pids, &co.live_opts, &rf, parr, &nprocs);
	rc = drc != EXIT_OK ? drc : lrc;
	/* After the live step: a process it could hotpatch is not in the
	 * list, whatever file it was started from. */
	if (restart_report(&rf, root, "apply", "the old code") < 0 && rc == EXIT_OK)
		rc = EXIT_ERROR;
	if (cli_json && out_emit(nfiles + nprocs > 0))
		rc = EXIT_ERROR;
out:
	restart_files_free(&rf);
	hp_state__close(state);
	hp_package__close(pkg);
	cmdopts_free(&co);
	return rc;
}
