/* The patcher killed (SIGKILL, through HOTPATCH_FAULT) at every step of a
 * live apply and rollback: the target keeps running, no thread is left
 * stopped, it runs either the old or the new code everywhere, status tells
 * which, and a new apply or rollback completes. */
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hotpatch.h"
#include "live_fixture.h"
#include "support.h"

static const char *const apply_steps[] = {
	"live-apply-seized", "live-apply-linked", "live-apply-mapped", "live-apply-written",
	"live-apply-stopped", "live-apply-jumped", "live-apply-resumed",
};
static const char *const rollback_steps[] = {
	"live-rollback-seized", "live-rollback-stopped", "live-rollback-restored",
	"live-rollback-resumed", "live-rollback-released",
};

/* No thread of pid in a stop (ptrace or job control). */
static bool all_running(pid_t pid)
{
	char path[64], tpath[384];
	struct dirent *de;
	bool ok = true;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return false;
	while ((de = readdir(d))) {
		FILE *f;
		char st = 0;

		if (de->d_name[0] == '.')
			continue;
		snprintf(tpath, sizeof(tpath), "%s/%s/stat", path, de->d_name);
		f = fopen(tpath, "r");
		if (!f)
			continue;
		if (fscanf(f, "%*d (%*[^)]) %c", &st) == 1 && (st == 't' || st == 'T' || st == 'Z')) {
			fprintf(stderr, "thread %s is in state %c\n", de->d_name, st);
			ok = false;
		}
		fclose(f);
	}
	closedir(d);
	return ok;
}

/* Regions carrying a record in pid (anonymous r-x mappings that start with
 * the record's magic). */
static int records(pid_t pid)
{
	char path[64], line[512], perms[8], rest[256];
	unsigned long long s, e;
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char magic[8];

		rest[0] = '\0';
		if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %255s", &s, &e, perms, rest) < 3)
			continue;
		if (strcmp(perms, "r-xp") || rest[0])
			continue;
		if (!lf_read(pid, s, magic, 8) && !memcmp(magic, "HPLIVREC", 8))
			n++;
	}
	fclose(f);
	return n;
}

/* Run apply (or rollback) in a child that kills itself at step. Returns
 * the child's wait status. */
static int killed_run(struct lf_target *t, const char *step, bool rollback)
{
	pid_t child;
	int st = 0, rc;

	fflush(NULL);
	child = fork();
	if (child == 0) {
		setenv("HOTPATCH_FAULT", step, 1);
		hp_set_print(NULL);
		rc = rollback ? hp_live__rollback(t->c.pid, "KBTEST1", NULL, NULL)
			      : hp_live__apply(t->c.pid, &t->patch, NULL, NULL);
		_exit(rc ? 1 : 0);
	}
	waitpid(child, &st, 0);
	return st;
}

/* Which version runs everywhere: 1000 or 2000, or 0 when mixed/broken. */
static int version_everywhere(struct lf_target *t)
{
	char buf[128];
	int v = 0, lo = 0, hi = 0;

	if (ts_child_ask(&t->c, "v", buf, sizeof(buf), 10000) || sscanf(buf, "version %d", &v) != 1)
		return 0;
	if (ts_child_ask(&t->c, "w", buf, sizeof(buf), 10000) ||
	    sscanf(buf, "workers %d %d", &lo, &hi) != 2 || lo != v || hi != v)
		return 0;
	if (ts_child_ask(&t->c, "c", buf, sizeof(buf), 10000) || strcmp(buf, v == 1000 ? "churn 1000" : "churn 2000"))
		return 0;
	return v;
}

static int print_stderr(enum hp_print_level level, const char *fmt, va_list ap)
{
	return level == HP_DEBUG ? 0 : vfprintf(stderr, fmt, ap);
}

static void check_after_kill(struct lf_target *t, const char *step, int st, bool rollback)
{
	struct hp_live_status ls;
	int v, err;

	CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
		fprintf(stderr, "%s: the patcher was not killed there (status %#x)\n", step, st);
	CU_ASSERT(all_running(t->c.pid));
	v = version_everywhere(t);
	CU_ASSERT(v == 1000 || v == 2000);
	CU_ASSERT_FALSE(lf_has_wx(t->c.pid));
	err = hp_live__status(t->c.pid, "KBTEST1", &ls);
	CU_ASSERT(err == 0 || err == -HP_E_NOT_APPLIED);
	if (err)
		ls.applied = 0;
	/* Status reads the truth from the process. */
	CU_ASSERT_EQUAL(ls.applied, v == 2000 ? 1u : 0u);
	/* The patcher's messages from here on show in the log. */
	hp_set_print(print_stderr);
	if (v == 2000) {
		CU_ASSERT_EQUAL(hp_live__rollback(t->c.pid, "KBTEST1", NULL, NULL), 0);
	} else {
		CU_ASSERT_EQUAL(hp_live__apply(t->c.pid, &t->patch, NULL, NULL), 0);
		CU_ASSERT_EQUAL(version_everywhere(t), 2000);
		CU_ASSERT_EQUAL(hp_live__rollback(t->c.pid, "KBTEST1", NULL, NULL), 0);
	}
	CU_ASSERT_EQUAL(version_everywhere(t), 1000);
	CU_ASSERT(all_running(t->c.pid));
	/* What a killed apply left before its jumps went is reclaimed by the
	 * next apply. A region a killed rollback had already unhooked stays
	 * (unreferenced, read-only: docs/live.md). */
	if (!rollback)
		CU_ASSERT_EQUAL(records(t->c.pid), 0);
	hp_set_print(NULL);
}

static void kill_at_every_apply_step(void)
{
	static const char *const args[] = { "-t", "4", "-c", NULL };
	struct lf_target t;
	size_t i;

	hp_set_print(NULL);
	CU_ASSERT_FATAL(lf_start(&t, ts_build_path("tests/fixtures/live"), args) == 0);
	for (i = 0; i < (sizeof(apply_steps) / sizeof(apply_steps[0])); i++)
		check_after_kill(&t, apply_steps[i], killed_run(&t, apply_steps[i], false), false);
	lf_stop(&t);
}

static void kill_at_every_rollback_step(void)
{
	static const char *const args[] = { "-t", "4", "-c", NULL };
	struct lf_target t;
	size_t i;

	hp_set_print(NULL);
	CU_ASSERT_FATAL(lf_start(&t, ts_build_path("tests/fixtures/live"), args) == 0);
	for (i = 0; i < (sizeof(rollback_steps) / sizeof(rollback_steps[0])); i++) {
		CU_ASSERT_EQUAL(hp_live__apply(t.c.pid, &t.patch, NULL, NULL), 0);
		check_after_kill(&t, rollback_steps[i], killed_run(&t, rollback_steps[i], true), true);
	}
	lf_stop(&t);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "killed at every step of apply", kill_at_every_apply_step },
		{ "killed at every step of rollback", kill_at_every_rollback_step },
		{ NULL, NULL },
	};

	ts_add_suite("live faults", tests);
}
