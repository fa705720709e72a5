/* hp_restart__scan against real processes started from copies of built
 * fixtures in a temporary directory: a program whose file is renamed over
 * and deleted under it, a new process started from the new file, a shared
 * library (LD_PRELOAD) replaced under a running process, the pid filter, a
 * process whose mount namespace shows another file at the same path, and
 * paths nobody maps. Every scan but the filtered ones covers the whole
 * machine; only our own processes are asserted on, and the temporary paths
 * are ours alone. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "internal.h"
#include "support.h"

/* Room for the canonical temporary directory and a file name. */
#define PATH_BUF (PATH_MAX + 64)

/* A fresh temporary directory, canonical as the kernel shows paths in
 * /proc/PID/maps (the build directory may be reached through a symlink). */
static const char *canon_tmpdir(void)
{
	static char dir[PATH_MAX];

	if (!realpath(ts_tmpdir(), dir))
		return NULL;
	return dir;
}

/* Install a copy of src at dst the way a package manager does: a new file
 * written beside it, then renamed over (the old inode lives on in whoever
 * maps it). */
static int install(const char *src, const char *dst)
{
	char tmp[PATH_BUF];
	size_t len;
	char *data = ts_read_file(src, &len);
	int rc = -1;

	snprintf(tmp, sizeof(tmp), "%s.new", dst);
	if (data && ts_write_file(tmp, data, len) == 0 && chmod(tmp, 0755) == 0 &&
	    rename(tmp, dst) == 0)
		rc = 0;
	free(data);
	return rc;
}

/* The pids of the children running, so that one a failed fatal assertion
 * left behind is killed when the program exits. */
static pid_t running[16];

static void track(pid_t pid)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(running); i++) {
		if (!running[i]) {
			running[i] = pid;
			return;
		}
	}
}

/* Kill and reap c, and forget it. */
static void stop(struct ts_child *c)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(running); i++)
		if (c->pid > 0 && running[i] == c->pid)
			running[i] = 0;
	ts_child_kill(c);
}

static void kill_children(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(running); i++)
		if (running[i] > 0)
			kill(running[i], SIGKILL);
}

/* Start path (a copy of the sleeper) and wait for its "ready". */
static int start(struct ts_child *c, const char *path)
{
	char *argv[] = { (char *)path, NULL };
	char line[64];
	int rc = ts_child_start(c, argv);

	if (c->pid > 0)
		track(c->pid);
	if (rc || ts_child_line(c, line, sizeof(line), 10000))
		return -1;
	return strcmp(line, "ready") ? -1 : 0;
}

static struct hp_restart_list *scan(const char *const *paths, size_t n, enum hp_restart_match how,
				    const pid_t *pids, size_t nr_pids)
{
	struct hp_restart_list *l = NULL;
	int err = hp_restart__scan(paths, n, how, pids, nr_pids, &l);

	CU_ASSERT_EQUAL(err, 0);
	if (err)
		fprintf(stderr, "hp_restart__scan: %s\n", hp_strerror(err));
	return l;
}

static struct hp_restart_list *scan1(const char *path, enum hp_restart_match how)
{
	return scan(&path, 1, how, NULL, 0);
}

/* The entry of pid for path in l, NULL if none. */
static const struct hp_restart_proc *entry(const struct hp_restart_list *l, pid_t pid,
					   const char *path)
{
	size_t i;

	for (i = 0; l && i < l->n; i++)
		if (l->procs[i].pid == pid && !strcmp(l->procs[i].path, path))
			return &l->procs[i];
	return NULL;
}

static size_t count(const struct hp_restart_list *l)
{
	return l ? l->n : (size_t)-1;
}

/* The entry is the process c named fully: start time, comm, exe. */
static void check_named(const struct hp_restart_proc *p, const struct ts_child *c,
			const char *comm, const char *exe)
{
	uint64_t start = 0;

	CU_ASSERT_PTR_NOT_NULL(p);
	if (!p)
		return;
	CU_ASSERT_EQUAL(hp_journal__proc_start(c->pid, &start), 0);
	CU_ASSERT_EQUAL(p->start_time, start);
	CU_ASSERT(p->comm && !strcmp(p->comm, comm));
	CU_ASSERT(p->exe && !strcmp(p->exe, exe));
}

/* A program renamed over, deleted, installed again: which processes run
 * which copy. */
static void program_replaced(void)
{
	const char *dir = canon_tmpdir(), *sleeper = ts_build_path("fixtures/fx_sleeper");
	struct ts_child a = { 0 }, b = { 0 };
	struct hp_restart_list *l;
	const struct hp_restart_proc *p;
	char path[PATH_BUF];

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	snprintf(path, sizeof(path), "%s/rs-daemon", dir);
	CU_ASSERT_EQUAL_FATAL(install(sleeper, path), 0);
	CU_ASSERT_EQUAL_FATAL(start(&a, path), 0);

	/* Running what path is now. */
	l = scan1(path, HP_RESTART_CURRENT);
	CU_ASSERT_EQUAL(count(l), 1);
	p = entry(l, a.pid, path);
	check_named(p, &a, "rs-daemon", path);
	CU_ASSERT(p && p->is_exe);
	hp_restart__free(l);
	l = scan1(path, HP_RESTART_OLD_COPY);
	CU_ASSERT_EQUAL(count(l), 0);
	hp_restart__free(l);

	/* Renamed over by another copy: a runs the old one, b the new. */
	CU_ASSERT_EQUAL_FATAL(install(sleeper, path), 0);
	CU_ASSERT_EQUAL_FATAL(start(&b, path), 0);
	l = scan1(path, HP_RESTART_OLD_COPY);
	CU_ASSERT_EQUAL(count(l), 1);
	p = entry(l, a.pid, path);
	check_named(p, &a, "rs-daemon", path);
	CU_ASSERT(p && p->is_exe);
	hp_restart__free(l);
	l = scan1(path, HP_RESTART_CURRENT);
	CU_ASSERT_EQUAL(count(l), 1);
	check_named(entry(l, b.pid, path), &b, "rs-daemon", path);
	hp_restart__free(l);

	/* Deleted: whoever maps it runs an old copy, sorted by pid. */
	CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
	l = scan1(path, HP_RESTART_OLD_COPY);
	CU_ASSERT_EQUAL_FATAL(count(l), 2);
	CU_ASSERT(l->procs[0].pid < l->procs[1].pid);
	CU_ASSERT_PTR_NOT_NULL(entry(l, a.pid, path));
	check_named(entry(l, b.pid, path), &b, "rs-daemon", path);
	hp_restart__free(l);
	l = scan1(path, HP_RESTART_CURRENT);
	CU_ASSERT_EQUAL(count(l), 0);
	hp_restart__free(l);

	/* Installed again, both restarted from it: nothing old is left. */
	CU_ASSERT_EQUAL_FATAL(install(sleeper, path), 0);
	stop(&a);
	stop(&b);
	CU_ASSERT_EQUAL_FATAL(start(&a, path), 0);
	l = scan1(path, HP_RESTART_OLD_COPY);
	CU_ASSERT_EQUAL(count(l), 0);
	hp_restart__free(l);
	l = scan1(path, HP_RESTART_CURRENT);
	CU_ASSERT_EQUAL(count(l), 1);
	p = entry(l, a.pid, path);
	check_named(p, &a, "rs-daemon", path);
	CU_ASSERT(p && p->is_exe);
	hp_restart__free(l);
	stop(&a);
}

/* A library replaced under a running program: listed for the library with
 * is_exe 0, and, scanned with its program, one entry per file. */
static void library_replaced(void)
{
	const char *dir = canon_tmpdir();
	struct ts_child c = { 0 };
	struct hp_restart_list *l;
	const struct hp_restart_proc *p;
	char exe[PATH_BUF], lib[PATH_BUF];
	const char *both[2] = { NULL, NULL };
	int started;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	snprintf(exe, sizeof(exe), "%s/rs-client", dir);
	snprintf(lib, sizeof(lib), "%s/libfx.so", dir);
	/* Given in the reverse of path order: the list is sorted anyway. */
	both[0] = lib;
	both[1] = exe;
	CU_ASSERT_EQUAL_FATAL(install(ts_build_path("fixtures/fx_sleeper"), exe), 0);
	CU_ASSERT_EQUAL_FATAL(install(ts_build_path("fixtures/libfx.so"), lib), 0);
	/* The dynamic loader maps the library as it maps any DT_NEEDED one. */
	CU_ASSERT_EQUAL_FATAL(setenv("LD_PRELOAD", lib, 1), 0);
	started = start(&c, exe);
	unsetenv("LD_PRELOAD");
	CU_ASSERT_EQUAL_FATAL(started, 0);

	l = scan(both, 2, HP_RESTART_CURRENT, NULL, 0);
	CU_ASSERT_EQUAL_FATAL(count(l), 2);
	/* Sorted by pid, then path: ".../libfx.so" before ".../rs-client". */
	CU_ASSERT_STRING_EQUAL(l->procs[0].path, lib);
	CU_ASSERT_EQUAL(l->procs[0].is_exe, 0);
	CU_ASSERT_STRING_EQUAL(l->procs[1].path, exe);
	CU_ASSERT(l->procs[1].is_exe);
	check_named(entry(l, c.pid, lib), &c, "rs-client", exe);
	hp_restart__free(l);

	CU_ASSERT_EQUAL_FATAL(install(ts_build_path("fixtures/libfx.so"), lib), 0);
	l = scan1(lib, HP_RESTART_OLD_COPY);
	CU_ASSERT_EQUAL(count(l), 1);
	p = entry(l, c.pid, lib);
	check_named(p, &c, "rs-client", exe);
	CU_ASSERT(p && !p->is_exe);
	hp_restart__free(l);
	/* The program itself is current, the library not. */
	l = scan(both, 2, HP_RESTART_CURRENT, NULL, 0);
	CU_ASSERT_EQUAL(count(l), 1);
	CU_ASSERT_PTR_NOT_NULL(entry(l, c.pid, exe));
	hp_restart__free(l);
	l = scan(both, 2, HP_RESTART_OLD_COPY, NULL, 0);
	CU_ASSERT_EQUAL(count(l), 1);
	CU_ASSERT_PTR_NOT_NULL(entry(l, c.pid, lib));
	hp_restart__free(l);
	stop(&c);
}

/* Only the pids asked for, each once; gone ones and the caller skipped. */
static void pid_filter(void)
{
	const char *dir = canon_tmpdir();
	struct ts_child a = { 0 }, b = { 0 }, gone = { 0 };
	struct hp_restart_list *l = NULL;
	char path[PATH_BUF], self[PATH_MAX];
	const char *sp = self, *pp = path;
	pid_t pids[4];
	ssize_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	snprintf(path, sizeof(path), "%s/rs-worker", dir);
	CU_ASSERT_EQUAL_FATAL(install(ts_build_path("fixtures/fx_sleeper"), path), 0);
	CU_ASSERT_EQUAL_FATAL(start(&a, path), 0);
	CU_ASSERT_EQUAL_FATAL(start(&b, path), 0);
	CU_ASSERT_EQUAL_FATAL(start(&gone, path), 0);
	pids[0] = gone.pid;
	stop(&gone);

	pids[1] = b.pid;
	l = scan(&pp, 1, HP_RESTART_CURRENT, pids + 1, 1);
	CU_ASSERT_EQUAL(count(l), 1);
	CU_ASSERT_PTR_NOT_NULL(entry(l, b.pid, path));
	hp_restart__free(l);

	/* Repeated, unsorted, with a pid that exited and the caller's own. */
	pids[2] = a.pid;
	pids[3] = b.pid;
	l = scan(&pp, 1, HP_RESTART_CURRENT, pids, 4);
	CU_ASSERT_EQUAL_FATAL(count(l), 2);
	CU_ASSERT(l->procs[0].pid < l->procs[1].pid);
	CU_ASSERT_PTR_NOT_NULL(entry(l, a.pid, path));
	CU_ASSERT_PTR_NOT_NULL(entry(l, b.pid, path));
	hp_restart__free(l);
	l = scan(&pp, 1, HP_RESTART_OLD_COPY, pids, 4);
	CU_ASSERT_EQUAL(count(l), 0);
	hp_restart__free(l);

	/* The caller maps its own program but is never listed. */
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	CU_ASSERT_FATAL(len > 0);
	self[len] = '\0';
	pids[0] = getpid();
	l = scan(&sp, 1, HP_RESTART_CURRENT, pids, 1);
	CU_ASSERT_EQUAL(count(l), 0);
	hp_restart__free(l);
	l = scan(&sp, 1, HP_RESTART_CURRENT, NULL, 0);
	CU_ASSERT_PTR_NULL(entry(l, getpid(), self));
	hp_restart__free(l);

	/* A pid that cannot be a process is the caller's mistake. */
	pids[0] = 0;
	l = (struct hp_restart_list *)&l;
	CU_ASSERT_EQUAL(hp_restart__scan(&pp, 1, HP_RESTART_CURRENT, pids, 1, &l), -EINVAL);
	CU_ASSERT_PTR_NULL(l);
	stop(&a);
	stop(&b);
}

/* A process in its own mount namespace where path is bound to another
 * copy: the kernel shows its mapping by that path, and it runs what path
 * names for it, so it is current, not an old copy of our file. */
static void other_mount_namespace(void)
{
	const char *dir = canon_tmpdir();
	struct ts_child c = { 0 };
	struct hp_restart_list *l;
	const struct hp_restart_proc *p;
	char path[PATH_BUF], other[PATH_BUF], line[64];
	int out[2];

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	snprintf(path, sizeof(path), "%s/rs-service", dir);
	snprintf(other, sizeof(other), "%s/rs-service-other", dir);
	CU_ASSERT_EQUAL_FATAL(install(ts_build_path("fixtures/fx_sleeper"), path), 0);
	CU_ASSERT_EQUAL_FATAL(install(ts_build_path("fixtures/fx_sleeper"), other), 0);
	CU_ASSERT_EQUAL_FATAL(pipe2(out, O_CLOEXEC), 0);
	fflush(NULL);
	c.pid = fork();
	CU_ASSERT_FATAL(c.pid >= 0);
	if (c.pid > 0)
		track(c.pid);
	if (c.pid == 0) {
		char *argv[] = { path, NULL };

		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount(other, path, NULL, MS_BIND, NULL)) {
			perror("rs-service: private mount namespace");
			_exit(126);
		}
		dup2(out[1], 1);
		execv(path, argv);
		_exit(127);
	}
	close(out[1]);
	c.out = fdopen(out[0], "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c.out);
	setvbuf(c.out, NULL, _IONBF, 0);
	CU_ASSERT_EQUAL_FATAL(ts_child_line(&c, line, sizeof(line), 10000), 0);
	CU_ASSERT_STRING_EQUAL_FATAL(line, "ready");

	l = scan1(path, HP_RESTART_OLD_COPY);
	CU_ASSERT_PTR_NULL(entry(l, c.pid, path));
	hp_restart__free(l);
	l = scan1(path, HP_RESTART_CURRENT);
	p = entry(l, c.pid, path);
	check_named(p, &c, "rs-service", path);
	CU_ASSERT(p && p->is_exe);
	hp_restart__free(l);
	stop(&c);
}

/* Paths nobody maps: an existing file, a missing one; a relative path. */
static void nobody_maps(void)
{
	const char *dir = canon_tmpdir();
	struct hp_restart_list *l = NULL;
	char path[PATH_BUF], missing[PATH_BUF];
	const char *paths[3] = { path, missing, path };
	const char *rel = "fixtures/fx_sleeper";

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	snprintf(path, sizeof(path), "%s/rs-idle", dir);
	snprintf(missing, sizeof(missing), "%s/rs-missing", dir);
	CU_ASSERT_EQUAL_FATAL(install(ts_build_path("fixtures/fx_sleeper"), path), 0);
	l = scan(paths, 3, HP_RESTART_CURRENT, NULL, 0);
	CU_ASSERT_EQUAL(count(l), 0);
	hp_restart__free(l);
	l = scan(paths, 3, HP_RESTART_OLD_COPY, NULL, 0);
	CU_ASSERT_EQUAL(count(l), 0);
	hp_restart__free(l);
	/* No path at all: nothing to look for, nothing listed. */
	l = scan(NULL, 0, HP_RESTART_OLD_COPY, NULL, 0);
	CU_ASSERT_EQUAL(count(l), 0);
	hp_restart__free(l);
	hp_restart__free(NULL);

	l = (struct hp_restart_list *)&l;
	CU_ASSERT_EQUAL(hp_restart__scan(&rel, 1, HP_RESTART_OLD_COPY, NULL, 0, &l), -EINVAL);
	CU_ASSERT_PTR_NULL(l);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "a program renamed over, deleted, installed again", program_replaced },
		{ "a shared library replaced under a running program", library_replaced },
		{ "only the pids asked for; never the caller", pid_filter },
		{ "a path bound to another file in a process' mount namespace",
		  other_mount_namespace },
		{ "paths nobody maps, and a relative path", nobody_maps },
		{ NULL, NULL },
	};

	ts_add_suite("restart", tests);
	atexit(kill_children);
}
