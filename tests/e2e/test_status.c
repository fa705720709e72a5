/* hotpatch status against real srv processes on loopback and real files:
 * after a live apply, a run killed between its jump and its journal entry
 * (a partial failure), rollbacks, a patched process exiting; and for a file
 * patched on disk (journal, backup and replaced file as the disk engine
 * leaves them): the entry, the process still running the old copy, a
 * missing backup, a file changed behind hotpatch's back. Every check reads
 * the --json document; only our own processes are asserted on. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "support.h"

#define SRV_ELIGIBLE "5.2.3790.2691"
#define SRV_FIXED "5.2.3790.2734"

static char *run(const char *fmt, int *rc, ...) __attribute__((format(printf, 1, 3)));

static char *run(const char *fmt, int *rc, ...)
{
	char *cmd = NULL, *out = NULL, *err = NULL;
	va_list ap;

	va_start(ap, rc);
	if (vasprintf(&cmd, fmt, ap) < 0)
		cmd = NULL;
	va_end(ap);
	*rc = cmd ? ts_sh(cmd, &out, &err) : -1;
	fprintf(stderr, "$ %s\n%s%s[exit %d]\n", cmd ? cmd : "?", out ? out : "", err ? err : "", *rc);
	free(cmd);
	free(err);
	return out;
}

/* hotpatch --json status on state directory state, parsed. */
static json_t *status(const char *state)
{
	json_t *doc;
	char *out;
	int rc;

	out = run("'%s' --json status --state-dir '%s'", &rc, ts_build_path("bin/hotpatch"), state);
	CU_ASSERT_EQUAL(rc, 0);
	doc = out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	CU_ASSERT_PTR_NOT_NULL(doc);
	if (doc) {
		CU_ASSERT(json_is_false(json_object_get(doc, "changed")));
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "command")), "status");
	}
	return doc;
}

/* The live target of pid in doc, or NULL. */
static json_t *live_target(json_t *doc, pid_t pid)
{
	json_t *t;
	size_t i;

	json_array_foreach(json_object_get(doc, "targets"), i, t)
		if (json_integer_value(json_object_get(t, "pid")) == pid &&
		    !strcmp(json_string_value(json_object_get(t, "kind")), "live"))
			return t;
	return NULL;
}

static json_t *disk_target(json_t *doc, const char *path)
{
	json_t *t;
	size_t i;

	json_array_foreach(json_object_get(doc, "targets"), i, t)
		if (!strcmp(json_string_value(json_object_get(t, "kind")), "disk") &&
		    !strcmp(json_string_value(json_object_get(t, "path")), path))
			return t;
	return NULL;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static bool has_problem(json_t *t, const char *name)
{
	json_t *p;
	size_t i;

	json_array_foreach(json_object_get(t, "problems"), i, p)
		if (!strcmp(json_string_value(p), name))
			return true;
	return false;
}

static bool has_unfinished(json_t *doc, pid_t pid)
{
	json_t *u;
	size_t i;

	json_array_foreach(json_object_get(doc, "unfinished"), i, u)
		if (json_integer_value(json_object_get(u, "pid")) == pid)
			return true;
	return false;
}

static bool is_stale(json_t *doc, pid_t pid, const char *path)
{
	json_t *s;
	size_t i;

	json_array_foreach(json_object_get(doc, "stale_processes"), i, s)
		if (json_integer_value(json_object_get(s, "pid")) == pid &&
		    !strcmp(str(s, "path"), path))
			return true;
	return false;
}

static pid_t start_srv(const char *bin, const char *dir)
{
	char listen[64], conf[4096], share[4096];
	int port = ts_free_port();
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/srv.conf", dir);
	snprintf(share, sizeof(share), "%s/share", dir);
	mkdir(share, 0755);
	ts_write_file(conf, "EnableSecuritySignature=0\nRequireSecuritySignature=0\n", 52);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	{
		char *argv[] = { (char *)bin, "--listen", listen, "--config", conf, "--share", share,
				 "--threads", "2", NULL };

		pid = ts_spawn(argv, NULL);
	}
	return ts_wait_port(port, 5000) ? pid : -1;
}

static void live_lifecycle(void)
{
	const char *dir = ts_tmpdir(), *hp = ts_build_path("bin/hotpatch");
	char *manifest = strdup(ts_build_path("packages/KB916846/manifest.json"));
	char *key = strdup(ts_build_path("keys/vendor.pub"));
	char *bin = strdup(ts_build_path("targets/srv/" SRV_ELIGIBLE "/srv"));
	char state[4096], *out;
	json_t *doc, *t;
	pid_t a, b;
	int rc;

	snprintf(state, sizeof(state), "%s/state", dir);
	a = start_srv(bin, dir);
	b = start_srv(bin, dir);
	CU_ASSERT_FATAL(a > 0 && b > 0);

	/* Nothing applied yet: an absent state directory reads as empty. */
	doc = status(state);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(doc, "targets")), 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(doc, "problems")), 0);
	json_decref(doc);

	/* Live apply to a. */
	out = run("'%s' apply '%s' --trusted-key '%s' --live --pid %d --state-dir '%s'", &rc, hp,
		  manifest, key, (int)a, state);
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	doc = status(state);
	t = live_target(doc, a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_STRING_EQUAL(str(t, "state"), "applied");
	CU_ASSERT_STRING_EQUAL(str(t, "package"), "KB916846");
	CU_ASSERT_STRING_EQUAL(str(t, "path"), bin);
	CU_ASSERT_STRING_EQUAL(str(t, "comm"), "srv");
	CU_ASSERT(json_is_true(json_object_get(t, "running")));
	CU_ASSERT(json_is_true(json_object_get(t, "in_process")));
	CU_ASSERT(json_is_true(json_object_get(t, "journaled")));
	CU_ASSERT(json_is_string(json_object_get(t, "since")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(t, "functions"), 0)),
			       "srv_negotiate_signing");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(t, "problems")), 0);
	CU_ASSERT_PTR_NULL(live_target(doc, b));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(doc, "problems")), 0);
	json_decref(doc);

	/* A partial failure: the run on b is killed after the jump, before it
	 * journals the outcome. b carries the patch; the journal has only an
	 * intent. Status says both things. a is untouched. */
	out = run("HOTPATCH_FAULT=live-apply-jumped '%s' apply '%s' --trusted-key '%s' --live --pid %d"
		  " --state-dir '%s'", &rc, hp, manifest, key, (int)b, state);
	CU_ASSERT_EQUAL(rc, 128 + SIGKILL);
	free(out);
	doc = status(state);
	CU_ASSERT(has_unfinished(doc, b));
	t = live_target(doc, b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_STRING_EQUAL(str(t, "state"), "inconsistent");
	CU_ASSERT(has_problem(t, "no-journal"));
	CU_ASSERT(json_is_false(json_object_get(t, "journaled")));
	CU_ASSERT(json_is_true(json_object_get(t, "in_process")));
	CU_ASSERT(json_is_string(json_object_get(t, "problem")));
	CU_ASSERT(json_integer_value(json_object_get(doc, "problems")) >= 2);
	t = live_target(doc, a);
	CU_ASSERT(t && !strcmp(str(t, "state"), "applied"));
	json_decref(doc);

	/* The text form says it plainly too. */
	out = run("'%s' status --state-dir '%s'", &rc, hp, state);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(out && strstr(out, "problem:") && strstr(out, "never finished"));
	free(out);

	/* Rollback of b: it leaves the list (the old intent stays unfinished:
	 * the journal never rewrites history). */
	out = run("'%s' rollback KB916846 --live --pid %d --state-dir '%s'", &rc, hp, (int)b, state);
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	doc = status(state);
	CU_ASSERT_PTR_NULL(live_target(doc, b));
	CU_ASSERT_PTR_NOT_NULL(live_target(doc, a));
	json_decref(doc);

	/* Rollback of a: nothing applied. */
	out = run("'%s' rollback KB916846 --live --pid %d --state-dir '%s'", &rc, hp, (int)a, state);
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	doc = status(state);
	CU_ASSERT_PTR_NULL(live_target(doc, a));
	json_decref(doc);

	/* Applied again, then the patched process exits: "exited". */
	out = run("'%s' apply '%s' --trusted-key '%s' --live --pid %d --state-dir '%s'", &rc, hp,
		  manifest, key, (int)a, state);
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	CU_ASSERT(ts_stop(a, 2000) >= 0);
	doc = status(state);
	t = live_target(doc, a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_STRING_EQUAL(str(t, "state"), "exited");
	CU_ASSERT(json_is_false(json_object_get(t, "running")));
	CU_ASSERT(json_is_false(json_object_get(t, "in_process")));
	json_decref(doc);

	/* A journal that says applied in a process that carries no record
	 * (rolled back by someone else's state directory): said plainly. */
	out = run("'%s' apply '%s' --trusted-key '%s' --live --pid %d --state-dir '%s'", &rc, hp,
		  manifest, key, (int)b, state);
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	out = run("'%s' rollback KB916846 --live --pid %d --state-dir '%s/other'", &rc, hp, (int)b,
		  dir);
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	doc = status(state);
	t = live_target(doc, b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_STRING_EQUAL(str(t, "state"), "inconsistent");
	CU_ASSERT(has_problem(t, "no-record"));
	json_decref(doc);

	CU_ASSERT(ts_stop(b, 2000) >= 0);
	free(manifest);
	free(key);
	free(bin);
}

static int copy_file(const char *from, const char *to)
{
	size_t len;
	char *data = ts_read_file(from, &len);
	int err;

	if (!data)
		return -1;
	err = ts_write_file(to, data, len);
	chmod(to, 0755);
	free(data);
	return err;
}

/* A file patched on disk, as the disk engine leaves it: the original kept
 * as a backup, a new file renamed over the path, the step journaled with
 * its backup and hashes. A process started before keeps the old copy. */
static void disk_entry(void)
{
	const char *dir = ts_tmpdir();
	char state[4096], target[4096], newfile[4096], old_sha[65], new_sha[65], backup[65];
	struct hp_journal_rec rec = { 0 };
	struct hp_journal_detail *d;
	struct hp_state *st;
	json_t *doc, *t;
	struct stat sb;
	pid_t p;
	int fd;

	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(target, sizeof(target), "%s/srv", dir);
	snprintf(newfile, sizeof(newfile), "%s/srv.new", dir);
	CU_ASSERT_FATAL(copy_file(ts_build_path("targets/srv/" SRV_ELIGIBLE "/srv"), target) == 0);
	CU_ASSERT_FATAL(copy_file(ts_build_path("targets/srv/" SRV_FIXED "/srv"), newfile) == 0);
	p = start_srv(target, dir);
	CU_ASSERT_FATAL(p > 0);

	st = hp_state__open(state, 0, 1000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	fd = open(target, O_RDONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(hp_backup__store(st, fd, target, NULL, backup), 0);
	close(fd);
	CU_ASSERT_EQUAL(hp_sha256_file(target, old_sha), 0);
	CU_ASSERT_EQUAL(hp_sha256_file(newfile, new_sha), 0);
	rec.package = "KB916846";
	rec.action = HP_JOURNAL_APPLY;
	rec.kind = HP_JOURNAL_DISK;
	rec.step = HP_JOURNAL_INTENT;
	rec.path = target;
	CU_ASSERT_EQUAL(stat(target, &sb), 0);
	rec.dev = sb.st_dev;
	rec.ino = sb.st_ino;
	CU_ASSERT_EQUAL(hp_journal__append(st, &rec), 0);
	CU_ASSERT_EQUAL(rename(newfile, target), 0);
	d = (struct hp_journal_detail[]){ { "backup", backup }, { "old_sha256", old_sha },
					  { "new_sha256", new_sha },
					  { "functions", "srv_negotiate_signing" } };
	CU_ASSERT_EQUAL(hp_journal__append_step(st, &rec, HP_JOURNAL_DONE, d, 4, NULL), 0);

	doc = status(state);
	t = disk_target(doc, target);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_STRING_EQUAL(str(t, "state"), "applied");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(t, "functions"), 0)),
			       "srv_negotiate_signing");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(t, "problems")), 0);
	/* p mapped the file before it was replaced: it runs the old code. */
	CU_ASSERT(is_stale(doc, p, target));
	json_decref(doc);

	/* A process started now runs the patched file: not stale. */
	{
		pid_t q = start_srv(target, dir);

		CU_ASSERT_FATAL(q > 0);
		doc = status(state);
		CU_ASSERT(is_stale(doc, p, target));
		CU_ASSERT(!is_stale(doc, q, target));
		json_decref(doc);
		CU_ASSERT(ts_stop(q, 2000) >= 0);
	}

	/* The backup rollback needs disappears. */
	CU_ASSERT_EQUAL(hp_backup__remove(st, backup), 0);
	doc = status(state);
	t = disk_target(doc, target);
	CU_ASSERT(t && has_problem(t, "backup") && !strcmp(str(t, "state"), "inconsistent"));
	json_decref(doc);

	/* Someone rewrites the file behind hotpatch's back. */
	CU_ASSERT_FATAL(copy_file(ts_build_path("targets/srv/" SRV_ELIGIBLE "/srv"), target) == 0);
	doc = status(state);
	t = disk_target(doc, target);
	CU_ASSERT(t && has_problem(t, "file-changed"));
	json_decref(doc);

	hp_state__close(st);
	CU_ASSERT(ts_stop(p, 2000) >= 0);
}

/* hotpatch apply --disk on a copy of srv under a root, and --live on
 * another process: both kinds at once; a process started before the disk
 * patch is named as running the old copy, one started after is not; each
 * rollback removes its own entries. */
static void disk_and_live_cli(void)
{
	const char *dir = ts_tmpdir(), *hp = ts_build_path("bin/hotpatch");
	char *manifest = strdup(ts_build_path("packages/KB916846/manifest.json"));
	char *key = strdup(ts_build_path("keys/vendor.pub"));
	char *bin = strdup(ts_build_path("targets/srv/" SRV_ELIGIBLE "/srv"));
	char state[4096], root[4096], target[4096 + 16], *out;
	json_t *doc, *t;
	pid_t before, live, after;
	int rc;

	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(root, sizeof(root), "%s/root", dir);
	snprintf(target, sizeof(target), "%s/usr/sbin/srv", root);
	out = run("mkdir -p '%s/usr/sbin'", &rc, root);
	free(out);
	CU_ASSERT_FATAL(copy_file(bin, target) == 0);
	before = start_srv(target, dir);
	live = start_srv(bin, dir);
	CU_ASSERT_FATAL(before > 0 && live > 0);

	out = run("'%s' apply '%s' --trusted-key '%s' --disk --root '%s' --state-dir '%s'", &rc, hp,
		  manifest, key, root, state);
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	doc = status(state);
	t = disk_target(doc, target);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_STRING_EQUAL(str(t, "state"), "applied");
	CU_ASSERT(json_is_true(json_object_get(t, "journaled")));
	CU_ASSERT(json_is_string(json_object_get(t, "since")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(t, "functions"), 0)),
			       "srv_negotiate_signing");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(t, "problems")), 0);
	CU_ASSERT(is_stale(doc, before, target));
	json_decref(doc);

	/* Both: the live patch of another process beside the disk one. */
	out = run("'%s' apply '%s' --trusted-key '%s' --live --pid %d --state-dir '%s'", &rc, hp,
		  manifest, key, (int)live, state);
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	after = start_srv(target, dir);
	CU_ASSERT_FATAL(after > 0);
	doc = status(state);
	CU_ASSERT_PTR_NOT_NULL(disk_target(doc, target));
	t = live_target(doc, live);
	CU_ASSERT(t && !strcmp(str(t, "state"), "applied"));
	CU_ASSERT(is_stale(doc, before, target));
	CU_ASSERT(!is_stale(doc, after, target));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(doc, "problems")), 0);
	json_decref(doc);

	/* Each rollback takes its own entry away. */
	out = run("'%s' rollback KB916846 --live --pid %d --state-dir '%s'", &rc, hp, (int)live, state);
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	doc = status(state);
	CU_ASSERT_PTR_NULL(live_target(doc, live));
	CU_ASSERT_PTR_NOT_NULL(disk_target(doc, target));
	json_decref(doc);
	out = run("'%s' rollback KB916846 --disk --state-dir '%s'", &rc, hp, state);
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	doc = status(state);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(doc, "targets")), 0);
	CU_ASSERT(!is_stale(doc, before, target));
	json_decref(doc);

	CU_ASSERT(ts_stop(before, 2000) >= 0);
	CU_ASSERT(ts_stop(live, 2000) >= 0);
	CU_ASSERT(ts_stop(after, 2000) >= 0);
	free(manifest);
	free(key);
	free(bin);
}

static void errors(void)
{
	const char *dir = ts_tmpdir(), *hp = ts_build_path("bin/hotpatch");
	char *out;
	int rc;

	/* A state directory others may write is refused, by name. */
	out = run("mkdir -m 0777 '%s/open' && chmod 0777 '%s/open' && '%s' status --state-dir '%s/open' 2>&1",
		  &rc, dir, dir, hp, dir);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(out && strstr(out, "/open"));
	free(out);
	/* A corrupt journal: an error naming it, exit 1. */
	out = run("mkdir -m 0700 '%s/bad' && printf 'hpj1\\tgarbage\\n' > '%s/bad/journal' && "
		  "'%s' status --state-dir '%s/bad' 2>&1", &rc, dir, dir, hp, dir);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(out && strstr(out, "journal"));
	free(out);
	out = run("'%s' status extra 2>&1", &rc, hp);
	CU_ASSERT_EQUAL(rc, 2);
	free(out);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "live apply, partial failure, rollback, exit", live_lifecycle },
		{ "file patched on disk: entry, stale process, backup, changed file", disk_entry },
		{ "apply --disk and --live, both, rollbacks", disk_and_live_cli },
		{ "errors", errors },
		{ NULL, NULL },
	};

	ts_add_suite("status", tests);
}
