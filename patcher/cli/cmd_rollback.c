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
#include "commands.h"
#include "output.h"

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

/* Journal one step on process pid before it is taken (intent) and after
 * (done or failed), so the state directory always says at least what may
 * have happened; a process is named by pid and start time. */
static int journal_intent(struct hp_state *st, const char *id, enum hp_journal_action action,
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

static void journal_close(struct hp_state *st, const struct hp_journal_rec *intent, int err)
{
	struct hp_journal_detail d = { "error", hp_strerror(err) };

	if (hp_journal__append_step(st, intent, err ? HP_JOURNAL_FAILED : HP_JOURNAL_DONE,
				    err ? &d : NULL, err ? 1 : 0, NULL))
		cli_error("%s: journal: cannot record the outcome for pid %d",
			  intent->action == HP_JOURNAL_APPLY ? "apply" : "rollback", (int)intent->pid);
}

/* The disk step: every file the journal says carries id gets its original
 * back. Returns the exit code; *restored counts the files changed. */
static int rollback_disk(struct hp_state *state, const char *id, struct out_node *arr,
			 size_t *restored)
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
		const char *result;
		struct out_node *o;

		err = hp_disk__rollback(state, id, paths[i], &res);
		if (!err) {
			(*restored)++;
			result = "rolled back";
		} else if (err == -HP_E_NOT_APPLIED) {
			notapp++;
			result = "not applied";
		} else {
			result = "failed";
			if (rc == EXIT_OK)
				rc = cli_exit_for(err);
		}
		if (cli_json) {
			o = out_object(arr, NULL);
			out_str(o, "path", paths[i]);
			out_str(o, "result", result);
			if (err && err != -HP_E_NOT_APPLIED)
				out_str(o, "reason", hp_strerror(err));
			if (!err) {
				out_str(o, "old_sha256", res.old_sha256);
				out_str(o, "new_sha256", res.new_sha256);
			}
		} else {
			printf("file %s: %s", paths[i], result);
			if (err && err != -HP_E_NOT_APPLIED)
				printf(": %s", hp_strerror(err));
			if (!err)
				printf(" (SHA-256 %.16s... restored)", res.new_sha256);
			putchar('\n');
		}
	}
	if (!cli_json)
		printf("%s: %zu files rolled back, %zu were the original already\n", id, *restored,
		       notapp);
	hp_disk__free_files(paths, n);
	return rc;
}

int cmd_rollback(int argc, char **argv)
{
	enum { OPT_SKIP = 256, OPT_LIVE, OPT_DISK, OPT_CONS, OPT_RETRIES, OPT_STATE };
	static const struct option opts[] = {
		{ "live", no_argument, NULL, OPT_LIVE },
		{ "disk", no_argument, NULL, OPT_DISK },
		{ "pid", required_argument, NULL, 'p' },
		{ "consistency", required_argument, NULL, OPT_CONS },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "trusted-key", required_argument, NULL, 'k' },
		{ "insecure-skip-signature", no_argument, NULL, OPT_SKIP },
		{ "state-dir", required_argument, NULL, OPT_STATE },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hp_package_opts popts = { 0 };
	struct hp_live_opts lopts = { 0 };
	struct hp_package *pkg = NULL;
	struct out_node *root = NULL, *arr = NULL, *farr = NULL, *o;
	const char **keys = NULL;
	pid_t *pids = NULL, *found = NULL;
	size_t nkeys = 0, npids = 0, i, done = 0, notapp = 0, nfiles = 0;
	bool live = false, disk = false;
	const char *id, *state_dir = NULL;
	struct hp_state *state = NULL;
	struct hp_journal_rec intent;
	struct stat sb;
	int c, err, rc = EXIT_OK;

	keys = calloc((size_t)argc, sizeof(*keys));
	pids = calloc((size_t)argc, sizeof(*pids));
	if (!keys || !pids) {
		cli_error("rollback: out of memory");
		rc = EXIT_ERROR;
		goto out;
	}
	while ((c = getopt_long(argc, argv, "p:k:h", opts, NULL)) != -1) {
		char *end;
		long v;

		switch (c) {
		case OPT_LIVE:
			live = true;
			break;
		case OPT_DISK:
			disk = true;
			break;
		case 'p':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v <= 0 || v > 0x7fffffff) {
				rc = cli_usage_error("rollback", "--pid wants a process id, not '%s'", optarg);
				goto out;
			}
			pids[npids++] = (pid_t)v;
			break;
		case OPT_CONS:
			if (!strcmp(optarg, "full") || !strcmp(optarg, "entry")) {
				lopts.consistency = optarg[0] == 'f' ? HP_LIVE_FULL : HP_LIVE_ENTRY;
			} else {
				rc = cli_usage_error("rollback", "--consistency is full or entry, not '%s'", optarg);
				goto out;
			}
			break;
		case OPT_RETRIES:
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 10000) {
				rc = cli_usage_error("rollback", "--retries wants 1..10000, not '%s'", optarg);
				goto out;
			}
			lopts.retries = (unsigned int)v;
			break;
		case 'k':
			keys[nkeys++] = optarg;
			break;
		case OPT_SKIP:
			popts.skip_signature = 1;
			break;
		case OPT_STATE:
			state_dir = optarg;
			break;
		case 'j':
			cli_json = true;
			break;
		case 'h':
			usage(stdout);
			goto out;
		default:
			rc = cli_usage_error("rollback", "bad option");
			goto out;
		}
	}
	if (optind != argc - 1) {
		rc = cli_usage_error("rollback", "one package id or manifest is required");
		goto out;
	}
	if (npids && !live) {
		rc = cli_usage_error("rollback", "--pid selects processes; give --live with it");
		goto out;
	}
	if (!disk && !live)
		disk = live = true;
	id = argv[optind];
	if (!stat(id, &sb) && S_ISREG(sb.st_mode)) {
		popts.trusted_keys = keys;
		popts.nr_trusted_keys = nkeys;
		pkg = hp_package__open(id, &popts);
		if (!pkg) {
			err = -errno;
			cli_error("rollback: %s: package refused: %s; nothing changed", id, hp_strerror(err));
			rc = cli_exit_for(err);
			goto out;
		}
		id = pkg->manifest->id;
	}
	state = hp_state__open(state_dir, 0, 5000);
	if (!state) {
		err = -errno;
		cli_error("rollback: state directory: %s; nothing changed", hp_strerror(err));
		rc = cli_exit_for(err);
		goto out;
	}
	if (live && !npids) {
		err = find_carriers(id, &found, &npids);
		if (err) {
			cli_error("rollback: cannot list the processes: %s", hp_strerror(err));
			rc = EXIT_ERROR;
			goto out;
		}
		free(pids);
		pids = found;
		found = NULL;
	}
	if (cli_json) {
		root = out_root();
		out_str(root, "command", "rollback");
		out_str(root, "package", id);
		if (live)
			arr = out_array(root, "processes");
		if (disk)
			farr = out_array(root, "files");
	}
	/* Processes first, the reverse of apply: until the files are restored
	 * a new process still starts patched, as every running one is. */
	if (live)
		out_progress_begin("rollback", "processes", npids);
	for (i = 0; live && i < npids; i++) {
		struct hp_live_result res = { 0 };
		const char *result;

		err = journal_intent(state, id, HP_JOURNAL_ROLLBACK, pids[i], NULL, &intent);
		if (!err) {
			err = hp_live__rollback(pids[i], id, &lopts, &res);
			journal_close(state, &intent, err);
		} else if (err == -HP_E_PROCESS) {
			out_progress_hide();
			cli_error("rollback: pid %d: no such process", (int)pids[i]);
		}
		if (!err) {
			done++;
			result = "rolled back";
		} else if (err == -HP_E_NOT_APPLIED) {
			notapp++;
			result = "not applied";
		} else {
			result = "failed";
			if (rc == EXIT_OK)
				rc = cli_exit_for(err);
		}
		if (cli_json) {
			o = out_object(arr, NULL);
			out_int(o, "pid", pids[i]);
			out_str(o, "result", result);
			if (err && err != -HP_E_NOT_APPLIED)
				out_str(o, "reason", hp_strerror(err));
			if (!err) {
				out_hex(o, "region", res.region);
				out_bool(o, "region_released", res.region_released);
				out_uint(o, "threads", res.threads);
				out_uint(o, "stop_ns", res.stop_ns);
			}
		} else {
			out_progress_hide();
			printf("pid %d: %s", (int)pids[i], result);
			if (err && err != -HP_E_NOT_APPLIED)
				printf(": %s", hp_strerror(err));
			if (!err)
				printf(" (%u threads stopped %.1f us; region %s)", res.threads,
				       res.stop_ns / 1000.0, res.region_released ? "released" : "kept");
			putchar('\n');
		}
		out_progress_update(i + 1, i + 1 - done - notapp);
	}
	if (live) {
		out_progress_end();
		if (!cli_json)
			printf("%s: %zu processes rolled back, %zu did not carry it\n", id, done, notapp);
	}
	if (disk) {
		int drc = rollback_disk(state, id, farr, &nfiles);

		if (rc == EXIT_OK)
			rc = drc;
	}
	if (cli_json && out_emit(done + nfiles > 0))
		rc = EXIT_ERROR;
out:
	hp_state__close(state);
	hp_package__close(pkg);
	free(found);
	free(keys);
	free(pids);
	return rc;
}
