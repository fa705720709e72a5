/* hotpatch rollback ID|MANIFEST [--disk] [--live] [--pid PID]...: put the
 * original code back in each running process that carries the package
 * (read from the record inside the process itself, the injected memory
 * released) and each file the journal says was cold-patched with it
 * (restored byte for byte from its backup). Without --disk or --live, both:
 * processes first, then files. Without --pid, every process of the machine
 * carrying the package. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
		"Usage: hotpatch rollback ID|MANIFEST [--disk] [--live] [--pid PID]... [OPTIONS]\n\n"
		"Roll the package back in running processes: the original entries are\n"
		"restored under the same safety rules as apply, and the injected memory\n"
		"is released once no thread can be inside it. Without --pid, every\n"
		"process carrying the package. On disk, every file the journal says was\n"
		"patched with it gets its original back, byte for byte (SHA-256 checked).\n"
		"Without --disk or --live, both: processes first, then files. A MANIFEST\n"
		"is opened (and its signature checked) only for its package id.\n\n"
		"Options:\n"
		"  --disk                 restore the files patched on disk\n"
		"  --live                 roll back in running processes\n"
		"  --pid PID              only this process (repeatable; needs --live)\n"
		"  --consistency=full|entry  as for apply\n"
		"  --retries N            stop windows tried while busy (default 20)\n"
		"  --trusted-key FILE     trust this public key for MANIFEST (repeatable)\n"
		"  --state-dir DIR        state directory (journal, lock); default\n"
		"                         $HOTPATCH_STATE_DIR or /var/lib/hotpatch\n"
		"  --insecure-skip-signature  do not check MANIFEST's signature\n"
		"  --json                 one JSON document on stdout\n"
		"  -h, --help             this help\n\n"
		"Exit codes: 0 done (or nothing to roll back), 1 error, 2 usage, 4 busy,\n"
		"5 a file changed since it was patched (left alone).\n");
}

/* Every process carrying a record of id (the patcher itself excluded). */
static int find_carriers(const char *id, pid_t **out, size_t *n)
{
	hp_print_fn_t old = hp_set_print(NULL);
	struct hp_live_status st;
	struct dirent *de;
	pid_t *list = NULL, *nl;
	size_t cap = 0;
	DIR *d = opendir("/proc");

	*n = 0;
	if (!d) {
		hp_set_print(old);
		return -errno;
	}
	while ((de = readdir(d))) {
		long v;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		v = strtol(de->d_name, NULL, 10);
		if (v <= 0 || v == getpid() || hp_live__status((pid_t)v, id, &st) || !st.applied)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			nl = realloc(list, cap * sizeof(*nl));
			if (!nl)
				break;
			list = nl;
		}
		list[(*n)++] = (pid_t)v;
	}
	closedir(d);
	hp_set_print(old);
	*out = list;
	return 0;
}

/* The outcome of one step that returned err, counted in *done or
 * *notapp; the first failure's exit code goes to *rc. */
static const char *outcome(int err, size_t *done, size_t *notapp, int *rc)
{
	if (!err) {
		(*done)++;
		return "rolled back";
	}
	if (err == -HP_E_NOT_APPLIED) {
		(*notapp)++;
		return "not applied";
	}
	if (*rc == EXIT_OK)
		*rc = cli_exit_for(err);
	return "failed";
}

/* Why a step failed; NULL when it did not, or found nothing to undo. */
static const char *reason_of(int err)
{
	return err && err != -HP_E_NOT_APPLIED ? hp_strerror(err) : NULL;
}

/* One line (or JSON object) per process of the live step; res only when
 * it was rolled back. */
static void report(struct out_node *arr, pid_t pid, const char *result, int err,
		   const struct hp_live_result *res)
{
	char detail[96];
	struct out_node *o;

	if (cli_json) {
		o = out_object(arr, NULL);
		out_int(o, "pid", pid);
		step_json_result(o, result, reason_of(err));
		if (res) {
			out_hex(o, "region", res->region);
			out_bool(o, "region_released", res->region_released);
			out_uint(o, "threads", res->threads);
			out_uint(o, "stop_ns", res->stop_ns);
		}
		return;
	}
	if (res)
		snprintf(detail, sizeof(detail), "%u threads stopped %.1f us; region %s",
			 res->threads, res->stop_ns / 1000.0,
			 res->region_released ? "released" : "kept");
	step_print(result, reason_of(err), res ? detail : NULL, "pid %d", (int)pid);
}

/* One line (or JSON object) per file of the disk step; res only when it
 * was restored. */
static void report_file(struct out_node *arr, const char *path, const char *result, int err,
			const struct hp_disk_result *res)
{
	char detail[64];
	struct out_node *o;

	if (cli_json) {
		o = out_object(arr, NULL);
		out_str(o, "path", path);
		step_json_result(o, result, reason_of(err));
		if (res) {
			out_str(o, "old_sha256", res->old_sha256);
			out_str(o, "new_sha256", res->new_sha256);
		}
		return;
	}
	if (res)
		snprintf(detail, sizeof(detail), "SHA-256 %.16s... restored", res->new_sha256);
	step_print(result, reason_of(err), res ? detail : NULL, "file %s", path);
}

/* The disk step: every file the journal says carries id gets its original
 * back. Returns the exit code; *restored counts the files changed. */
static int rollback_disk(struct hp_state *state, const char *id, struct out_node *arr,
			 size_t *restored, struct restart_files *rf)
{
	struct hp_disk_result res;
	char **paths = NULL;
	size_t n = 0, i, notapp = 0;
	int err, rc = EXIT_OK;

	err = hp_disk__files(state, id, &paths, &n);
	if (err) {
		cli_error("rollback: journal: %s; no file restored", hp_strerror(err));
		return cli_exit_for(err);
	}
	for (i = 0; i < n; i++) {
		err = hp_disk__rollback(state, id, paths[i], &res);
		report_file(arr, paths[i], outcome(err, restored, &notapp, &rc), err,
			    err ? NULL : &res);
		/* A process restarted on the full build runs it until it is
		 * restarted again: the report names it. */
		if (!err && res.full_build[0])
			restart_files_add(rf, paths[i]);
	}
	if (!cli_json)
		printf("%s: %zu files rolled back, %zu were the original already\n", id, *restored,
		       notapp);
	hp_disk__free_files(paths, n);
	return rc;
}

int cmd_rollback(int argc, char **argv)
{
	static const struct option opts[] = {
		CMDOPT_ENTRY_LIVE,
		CMDOPT_ENTRY_DISK,
		CMDOPT_ENTRIES_CHANGE,
		{ NULL, 0, NULL, 0 },
	};
	struct cmdopts co = CMDOPTS_INIT("rollback", usage);
	struct hp_package *pkg = NULL;
	struct out_node *root = NULL, *arr = NULL, *farr = NULL;
	size_t i, done = 0, notapp = 0, nfiles = 0;
	struct hp_state *state = NULL;
	struct hp_journal_rec intent;
	struct restart_files rf = { 0 };
	struct stat sb;
	const char *id;
	int c, err, rc = EXIT_OK;

	/* Every option of rollback is one apply has too. */
	while ((c = getopt_long(argc, argv, "p:k:h", opts, NULL)) != -1)
		if (!cmdopts_take(&co, c, optarg, &rc))
			goto out;
	if (optind != argc - 1) {
		rc = cli_usage_error("rollback", "one package id or manifest is required");
		goto out;
	}
	if (!cmdopts_check_targets(&co, &rc))
		goto out;
	id = argv[optind];
	if (!stat(id, &sb) && S_ISREG(sb.st_mode)) {
		pkg = hp_package__open(id, &co.pkg);
		if (!pkg) {
			err = -errno;
			cli_error("rollback: %s: package refused: %s; nothing changed", id, hp_strerror(err));
			rc = cli_package_exit(err);
			goto out;
		}
		id = pkg->manifest->id;
	}
	state = cmdopts_open_state(&co, &rc);
	if (!state)
		goto out;
	if (co.live && !co.nr_pids) {
		err = find_carriers(id, &co.pids, &co.nr_pids);
		if (err) {
			cli_error("rollback: cannot list the processes: %s", hp_strerror(err));
			rc = EXIT_ERROR;
			goto out;
		}
	}
	if (cli_json) {
		root = out_root();
		out_str(root, "command", "rollback");
		out_str(root, "package", id);
		if (co.live)
			arr = out_array(root, "processes");
		if (co.disk)
			farr = out_array(root, "files");
	}
	/* Processes first, the reverse of apply: until the files are restored
	 * a new process still starts patched, as every running one is. */
	if (co.live)
		out_progress_begin("rollback", "processes", co.nr_pids);
	for (i = 0; co.live && i < co.nr_pids; i++) {
		struct hp_live_result res = { 0 };

		err = step_journal_intent(state, id, HP_JOURNAL_ROLLBACK, co.pids[i], NULL, &intent);
		if (!err) {
			err = hp_live__rollback(co.pids[i], id, &co.live_opts, &res);
			step_journal_close(state, &intent, err);
		} else if (err == -HP_E_PROCESS) {
			out_progress_hide();
			cli_error("rollback: pid %d: no such process", (int)co.pids[i]);
		}
		report(arr, co.pids[i], outcome(err, &done, &notapp, &rc), err, err ? NULL : &res);
		out_progress_update(i + 1, i + 1 - done - notapp);
	}
	if (co.live) {
		out_progress_end();
		if (!cli_json)
			printf("%s: %zu processes rolled back, %zu did not carry it\n", id, done, notapp);
	}
	if (co.disk) {
		int drc = rollback_disk(state, id, farr, &nfiles, &rf);

		if (rc == EXIT_OK)
			rc = drc;
		if (restart_report(&rf, root, "rollback", "the removed full build") < 0 &&
		    rc == EXIT_OK)
			rc = EXIT_ERROR;
	}
	if (cli_json && out_emit(done + nfiles > 0))
		rc = EXIT_ERROR;
out:
	restart_files_free(&rf);
	hp_state__close(state);
	hp_package__close(pkg);
	cmdopts_free(&co);
	return rc;
}
