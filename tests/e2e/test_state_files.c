/* The state directory and atomic file writes against real processes and
 * real file systems: two processes taking the lock, a replace keeping
 * owner, mode and extended attributes, a new file never written over one
 * that exists, a writer SIGKILLed at every step (HOTPATCH_FAULT) leaving
 * the exact old or the exact new file, a full disk and a read-only file
 * system (small tmpfs mounts, in a mount namespace of this test's own so
 * nothing outlives it). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "hotpatch.h"
#include "atomic_file.h"
#include "support.h"

static char *pattern(size_t n, unsigned int seed)
{
	char *buf = malloc(n ? n : 1);
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (char)(seed >> 16);
	}
	return buf;
}

static bool same_content(const char *path, const char *data, size_t len)
{
	size_t got = 0;
	char *now = ts_read_file(path, &got);
	bool same = now && got == len && memcmp(now, data, len) == 0;

	free(now);
	return same;
}

/* Temporary files of name left in dir. */
static int count_temps(const char *dir, const char *name)
{
	char prefix[300];
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	snprintf(prefix, sizeof(prefix), ".%s.hp-tmp.", name);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

static long elapsed_ms(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

/* ---- the lock ----------------------------------------------------------- */

static void two_processes_and_the_lock(void)
{
	const char *dir = ts_join(ts_tmpdir(), "state");
	int ready[2], go[2];
	struct hp_state *st, *ro;
	struct timespec t0;
	hp_print_fn_t old;
	char c, want[64];
	pid_t child;
	int status;

	CU_ASSERT_EQUAL_FATAL(pipe(ready), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(go), 0);
	child = fork();
	CU_ASSERT_FATAL(child >= 0);
	if (child == 0) {
		/* The other run: take the lock, say so, hold it until told,
		 * then hold it 300 ms more. */
		close(ready[0]);
		close(go[1]);
		st = hp_state__open(dir, 0, 0);
		if (!st)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		if (read(go[0], &c, 1) < 0)
			_exit(3);
		usleep(300 * 1000);
		hp_state__close(st);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	CU_ASSERT_EQUAL_FATAL(read(ready[0], &c, 1), 1);

	/* Taken: refused at once, naming the holder. */
	old = ts_capture_start();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	st = hp_state__open(dir, 0, 0);
	CU_ASSERT_PTR_NULL(st);
	CU_ASSERT_EQUAL(errno, HP_E_LOCKED);
	CU_ASSERT(elapsed_ms(&t0) < 500);
	snprintf(want, sizeof(want), "(pid %ld)", (long)child);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, dir));

	/* A bounded wait that is too short also gives up, after the wait. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	st = hp_state__open(dir, 0, 150);
	CU_ASSERT_PTR_NULL(st);
	CU_ASSERT_EQUAL(errno, HP_E_LOCKED);
	CU_ASSERT(elapsed_ms(&t0) >= 150);
	hp_set_print(old);

	/* A reader (status) needs no lock. */
	ro = hp_state__open(dir, HP_STATE_READ_ONLY, 0);
	CU_ASSERT_PTR_NOT_NULL(ro);
	hp_state__close(ro);

	/* A long enough wait gets it once the holder lets go. */
	CU_ASSERT_EQUAL(write(go[1], "g", 1), 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	st = hp_state__open(dir, 0, 10000);
	CU_ASSERT_PTR_NOT_NULL(st);
	CU_ASSERT(elapsed_ms(&t0) >= 200);
	CU_ASSERT(elapsed_ms(&t0) < 5000);
	CU_ASSERT_EQUAL(waitpid(child, &status, 0), child);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* Now ours: the lock file names us. */
	{
		char *text = ts_read_file(ts_join(dir, "lock"), NULL);

		snprintf(want, sizeof(want), "%ld\n", (long)getpid());
		CU_ASSERT_PTR_NOT_NULL(text);
		if (text)
			CU_ASSERT_STRING_EQUAL(text, want);
		free(text);
	}
	hp_state__close(st);
	close(ready[0]);
	close(go[1]);
}

static void a_killed_holder_frees_the_lock(void)
{
	const char *dir = ts_join(ts_tmpdir(), "state");
	struct hp_state *st;
	int ready[2], status;
	pid_t child;
	char c;

	CU_ASSERT_EQUAL_FATAL(pipe(ready), 0);
	child = fork();
	CU_ASSERT_FATAL(child >= 0);
	if (child == 0) {
		close(ready[0]);
		st = hp_state__open(dir, 0, 0);
		if (!st || write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	CU_ASSERT_EQUAL_FATAL(read(ready[0], &c, 1), 1);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	st = hp_state__open(dir, 0, 0);
	CU_ASSERT_PTR_NOT_NULL(st);
	hp_state__close(st);
	close(ready[0]);
}

/* ---- atomic replace ----------------------------------------------------- */

static void replace_keeps_owner_mode_and_xattrs(void)
{
	const char *dir = ts_tmpdir();
	const char *path = ts_join(dir, "srv");
	char *oldc = pattern(20000, 1), *newc = pattern(30000, 2);
	/* File capabilities, v2: CAP_NET_BIND_SERVICE (10) permitted. */
	static const unsigned char caps[20] = { 0x00, 0x00, 0x00, 0x02, 0x00, 0x04 };
	unsigned char got[64];
	bool have_caps = false;
	struct stat before, after;
	ssize_t n;

	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, oldc, 20000), 0);
	if (geteuid() == 0)
		CU_ASSERT_EQUAL(chown(path, 65534, 65534), 0);
	/* Set-id bits are what chown clears: they must survive the replace. */
	CU_ASSERT_EQUAL(chmod(path, 04751), 0);
	if (setxattr(path, "user.hotpatch.test", "kept", 4, 0) < 0) {
		fprintf(stderr, "note: %s: user xattrs unsupported here (%s)\n", path,
			strerror(errno));
		CU_ASSERT_EQUAL(errno, ENOTSUP);
	}
	if (geteuid() == 0 && setxattr(path, "security.capability", caps, sizeof(caps), 0) == 0)
		have_caps = true;
	CU_ASSERT_EQUAL_FATAL(stat(path, &before), 0);

	CU_ASSERT_EQUAL(atomic_file_replace(path, -1, newc, 30000), 0);
	CU_ASSERT(same_content(path, newc, 30000));
	CU_ASSERT_EQUAL_FATAL(stat(path, &after), 0);
	CU_ASSERT_NOT_EQUAL(after.st_ino, before.st_ino);
	CU_ASSERT_EQUAL(after.st_mode, before.st_mode);
	CU_ASSERT_EQUAL(after.st_uid, before.st_uid);
	CU_ASSERT_EQUAL(after.st_gid, before.st_gid);
	n = getxattr(path, "user.hotpatch.test", got, sizeof(got));
	if (n >= 0 || errno != ENOTSUP) {
		CU_ASSERT_EQUAL(n, 4);
		CU_ASSERT_EQUAL(memcmp(got, "kept", 4), 0);
	}
	if (have_caps) {
		n = getxattr(path, "security.capability", got, sizeof(got));
		CU_ASSERT_EQUAL(n, (ssize_t)sizeof(caps));
		CU_ASSERT_EQUAL(memcmp(got, caps, sizeof(caps)), 0);
	}
	CU_ASSERT_EQUAL(count_temps(dir, "srv"), 0);
	free(oldc);
	free(newc);
}

static void replace_refuses_what_it_must_not_touch(void)
{
	const char *dir = ts_tmpdir();
	const char *real = ts_join(dir, "real"), *link = ts_join(dir, "link");
	const char *other = ts_join(dir, "other");
	hp_print_fn_t old;
	int fd;

	CU_ASSERT_EQUAL_FATAL(ts_write_file(real, "old", 3), 0);
	CU_ASSERT_EQUAL_FATAL(ts_write_file(other, "zzz", 3), 0);
	CU_ASSERT_EQUAL_FATAL(symlink(real, link), 0);
	old = ts_capture_start();
	/* A symbolic link would be replaced by a plain file: refused. */
	CU_ASSERT_EQUAL(atomic_file_replace(link, -1, "new", 3), -HP_E_UNSUPPORTED);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "symbolic link"));
	/* The file hashed must be the file replaced. */
	fd = open(other, O_RDONLY);
	ts_messages[0] = '\0';
	CU_ASSERT_EQUAL(atomic_file_replace(real, fd, "new", 3), -HP_E_MISMATCH);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, real));
	close(fd);
	/* A directory, a missing file. */
	CU_ASSERT_EQUAL(atomic_file_replace(dir, -1, "new", 3), -HP_E_UNSUPPORTED);
	CU_ASSERT_EQUAL(atomic_file_replace(ts_join(dir, "missing"), -1, "new", 3), -ENOENT);
	hp_set_print(old);
	CU_ASSERT(same_content(real, "old", 3));
	CU_ASSERT(same_content(other, "zzz", 3));
	CU_ASSERT_EQUAL(count_temps(dir, "real"), 0);
	CU_ASSERT_EQUAL(count_temps(dir, "link"), 0);
}

static void hard_links_are_said(void)
{
	const char *dir = ts_tmpdir();
	const char *path = ts_join(dir, "a"), *other = ts_join(dir, "b");
	hp_print_fn_t old;

	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, "old", 3), 0);
	CU_ASSERT_EQUAL_FATAL(link(path, other), 0);
	old = ts_capture_start();
	CU_ASSERT_EQUAL(atomic_file_replace(path, -1, "new", 3), 0);
	hp_set_print(old);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "2 hard links"));
	CU_ASSERT(same_content(path, "new", 3));
	CU_ASSERT(same_content(other, "old", 3));
}

static void replaced_under_us_is_not_clobbered(void)
{
	const char *dir = ts_tmpdir();
	const char *path = ts_join(dir, "t"), *side = ts_join(dir, "side");
	struct atomic_file *af = NULL;
	hp_print_fn_t old;

	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, "old", 3), 0);
	CU_ASSERT_EQUAL_FATAL(atomic_file_open(path, -1, &af), 0);
	CU_ASSERT_EQUAL(atomic_file_write(af, "new", 3), 0);
	/* Someone else replaces the file while we write. */
	CU_ASSERT_EQUAL(ts_write_file(side, "theirs", 6), 0);
	CU_ASSERT_EQUAL(rename(side, path), 0);
	old = ts_capture_start();
	CU_ASSERT_EQUAL(atomic_file_commit(af), -HP_E_MISMATCH);
	hp_set_print(old);
	atomic_file_close(af);
	CU_ASSERT(same_content(path, "theirs", 6));
	CU_ASSERT_EQUAL(count_temps(dir, "t"), 0);
}

static void a_live_writers_temp_is_not_cleaned(void)
{
	const char *dir = ts_tmpdir();
	const char *path = ts_join(dir, "t");
	struct atomic_file *af = NULL;
	int dfd;

	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, "old", 3), 0);
	CU_ASSERT_EQUAL_FATAL(atomic_file_open(path, -1, &af), 0);
	CU_ASSERT_EQUAL(count_temps(dir, "t"), 1);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	/* Its writer holds the lock on it: not abandoned. */
	CU_ASSERT_EQUAL(atomic_file_clean(dfd, "t", path), 0);
	CU_ASSERT_EQUAL(count_temps(dir, "t"), 1);
	CU_ASSERT_EQUAL(atomic_file_write(af, "new", 3), 0);
	CU_ASSERT_EQUAL(atomic_file_commit(af), 0);
	atomic_file_close(af);
	CU_ASSERT(same_content(path, "new", 3));
	CU_ASSERT_EQUAL(count_temps(dir, "t"), 0);
	close(dfd);
}

static mode_t mode_of(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 ? sb.st_mode : 0;
}

static void no_replace_never_writes_over_a_file(void)
{
	const char *dir = ts_tmpdir();
	const char *path = ts_join(dir, "k.key");
	struct atomic_file *af = NULL;
	hp_print_fn_t old;

	/* A new file gets exactly the mode asked for, umask or not. */
	CU_ASSERT_EQUAL(atomic_file_put(path, 0640, ATOMIC_NO_REPLACE, "one", 3), 0);
	CU_ASSERT(same_content(path, "one", 3));
	CU_ASSERT_EQUAL(mode_of(path) & 07777, 0640);
	/* An existing one is refused before anything is written, */
	old = ts_capture_start();
	CU_ASSERT_EQUAL(atomic_file_put(path, 0640, ATOMIC_NO_REPLACE, "two", 3), -EEXIST);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "k.key: exists; not replaced"));
	CU_ASSERT(same_content(path, "one", 3));
	CU_ASSERT_EQUAL(count_temps(dir, "k.key"), 0);
	/* and so is one that appears while the new content is written. */
	CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
	CU_ASSERT_EQUAL_FATAL(atomic_file_create(path, 0600, ATOMIC_NO_REPLACE, &af), 0);
	CU_ASSERT_EQUAL(atomic_file_write(af, "ours", 4), 0);
	CU_ASSERT_EQUAL(ts_write_file(path, "theirs", 6), 0);
	CU_ASSERT_EQUAL(atomic_file_commit(af), -EEXIST);
	atomic_file_close(af);
	hp_set_print(old);
	CU_ASSERT(same_content(path, "theirs", 6));
	CU_ASSERT_EQUAL(count_temps(dir, "k.key"), 0);
}

static void plain_put_writes_the_named_mode(void)
{
	const char *dir = ts_tmpdir();
	const char *path = ts_join(dir, "p.hpc"), *real = ts_join(dir, "real");
	const char *link = ts_join(dir, "link");

	/* Not a target: the old file's mode is not kept, the caller's is used. */
	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, "old", 3), 0);
	CU_ASSERT_EQUAL(chmod(path, 0600), 0);
	CU_ASSERT_EQUAL(atomic_file_put(path, 0644, 0, "new", 3), 0);
	CU_ASSERT(same_content(path, "new", 3));
	CU_ASSERT_EQUAL(mode_of(path) & 07777, 0644);
	/* A symbolic link at the name is what gets replaced, not followed. */
	CU_ASSERT_EQUAL_FATAL(ts_write_file(real, "old", 3), 0);
	CU_ASSERT_EQUAL_FATAL(symlink(real, link), 0);
	CU_ASSERT_EQUAL(atomic_file_put(link, 0644, 0, "new", 3), 0);
	CU_ASSERT(S_ISREG(mode_of(link)));
	CU_ASSERT(same_content(link, "new", 3));
	CU_ASSERT(same_content(real, "old", 3));
	CU_ASSERT_EQUAL(count_temps(dir, "p.hpc"), 0);
	CU_ASSERT_EQUAL(count_temps(dir, "link"), 0);
}

static void quiet_leaves_the_words_to_the_caller(void)
{
	const char *dir = ts_tmpdir();
	const char *path = ts_join(ts_join(dir, "missing"), "f");
	hp_print_fn_t old;

	old = ts_capture_start();
	CU_ASSERT_EQUAL(atomic_file_put(path, 0644, ATOMIC_QUIET, "new", 3), -ENOENT);
	CU_ASSERT_STRING_EQUAL(ts_messages, "");
	CU_ASSERT_EQUAL(atomic_file_put(path, 0644, 0, "new", 3), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, path));
	hp_set_print(old);
}

/* The fault points of an atomic write, in order. */
static const struct {
	const char *step; /* fault point */
	bool is_new;      /* the target holds the new content after it */
} atomic_steps[] = {
	{ "atomic-created", false }, { "atomic-partial", false },
	{ "atomic-written", false }, { "atomic-synced", false },
	{ "atomic-renamed", true },  { "atomic-done", true },
};

/* Write path in a child killed at step, as a target is replaced or (key)
 * as a new key is written; return its wait status. */
static int write_killed_at(const char *step, const char *path, const char *data, size_t len,
			   bool key)
{
	int status = -1;
	pid_t child;

	child = fork();
	if (child < 0)
		return -1;
	if (child == 0) {
		hp_set_print(NULL);
		setenv("HOTPATCH_FAULT", step, 1);
		_exit((key ? atomic_file_put(path, 0600, ATOMIC_NO_REPLACE, data, len)
			   : atomic_file_replace(path, -1, data, len)) == 0 ? 0 : 1);
	}
	waitpid(child, &status, 0);
	return status;
}

static void killed_at_every_step_leaves_old_or_new(void)
{
	const size_t olen = 150000, nlen = 170001;
	char *oldc = pattern(olen, 7), *newc = pattern(nlen, 8);
	size_t i;

	for (i = 0; i < sizeof(atomic_steps) / sizeof(atomic_steps[0]); i++) {
		const char *step = atomic_steps[i].step;
		bool is_new = atomic_steps[i].is_new;
		const char *dir = ts_tmpdir();
		const char *path = ts_join(dir, "libmrxsmb.so");
		struct stat sb;
		int status, dfd;

		CU_ASSERT_EQUAL_FATAL(ts_write_file(path, oldc, olen), 0);
		CU_ASSERT_EQUAL(chmod(path, 0755), 0);
		status = write_killed_at(step, path, newc, nlen, false);
		CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
			fprintf(stderr, "step %s: child not killed (status %#x)\n", step, status);
		/* Exactly one of the two, never a mix. */
		CU_ASSERT(is_new ? same_content(path, newc, nlen) : same_content(path, oldc, olen));
		CU_ASSERT_EQUAL(stat(path, &sb), 0);
		CU_ASSERT_EQUAL(sb.st_mode & 07777, 0755);
		/* A temporary file is left only by a kill before the rename, and
		 * the next run removes it. */
		CU_ASSERT_EQUAL(count_temps(dir, "libmrxsmb.so"), is_new ? 0 : 1);
		dfd = open(dir, O_RDONLY | O_DIRECTORY);
		CU_ASSERT_EQUAL(atomic_file_clean(dfd, "libmrxsmb.so", path), is_new ? 0 : 1);
		close(dfd);
		CU_ASSERT_EQUAL(count_temps(dir, "libmrxsmb.so"), 0);

		/* And a run after that completes. */
		if (!is_new) {
			CU_ASSERT_EQUAL(write_killed_at(step, path, newc, nlen, false) & 0x7f, SIGKILL);
			CU_ASSERT_EQUAL(atomic_file_replace(path, -1, newc, nlen), 0);
			CU_ASSERT(same_content(path, newc, nlen));
			CU_ASSERT_EQUAL(count_temps(dir, "libmrxsmb.so"), 0);
		}
	}
	free(oldc);
	free(newc);
}

/* A key written where none is (no-replace), killed at every step: no key or
 * the whole new one, never a part, and a temporary file (holding key
 * material) only before the rename, removed by the next write. */
static void new_file_killed_at_every_step_leaves_none_or_new(void)
{
	const size_t len = 4099;
	char *data = pattern(len, 9);
	size_t i;

	for (i = 0; i < sizeof(atomic_steps) / sizeof(atomic_steps[0]); i++) {
		const char *step = atomic_steps[i].step;
		bool is_new = atomic_steps[i].is_new;
		const char *dir = ts_tmpdir();
		const char *path = ts_join(dir, "k.key");
		int status;

		status = write_killed_at(step, path, data, len, true);
		CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		if (is_new) {
			CU_ASSERT(same_content(path, data, len));
			CU_ASSERT_EQUAL(mode_of(path) & 07777, 0600);
		} else {
			CU_ASSERT_EQUAL(access(path, F_OK), -1);
		}
		CU_ASSERT_EQUAL(count_temps(dir, "k.key"), is_new ? 0 : 1);
		if (!is_new) {
			CU_ASSERT_EQUAL(atomic_file_put(path, 0600, ATOMIC_NO_REPLACE, data, len), 0);
			CU_ASSERT(same_content(path, data, len));
			CU_ASSERT_EQUAL(count_temps(dir, "k.key"), 0);
		}
	}
	free(data);
}

static void restore_killed_at_every_step(void)
{
	static const char *const steps[] = { "atomic-created", "atomic-partial", "atomic-written",
					     "atomic-synced", "atomic-renamed", "atomic-done" };
	const size_t olen = 90000, plen = 91000;
	char *orig = pattern(olen, 11), *patched = pattern(plen, 12);
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		const char *tmp = ts_tmpdir();
		const char *sdir = ts_join(tmp, "state"), *path = ts_join(tmp, "srv");
		struct hp_state *st;
		char sha[65];
		int fd, status;
		pid_t child;

		CU_ASSERT_EQUAL_FATAL(ts_write_file(path, orig, olen), 0);
		st = hp_state__open(sdir, 0, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(st);
		fd = open(path, O_RDONLY);
		CU_ASSERT_EQUAL_FATAL(hp_backup__store(st, fd, path, NULL, sha), 0);
		close(fd);
		hp_state__close(st);
		CU_ASSERT_EQUAL_FATAL(atomic_file_replace(path, -1, patched, plen), 0);

		child = fork();
		CU_ASSERT_FATAL(child >= 0);
		if (child == 0) {
			hp_set_print(NULL);
			st = hp_state__open(sdir, 0, 0);
			setenv("HOTPATCH_FAULT", steps[i], 1);
			_exit(st && hp_backup__restore(st, sha, path, NULL) == 0 ? 0 : 1);
		}
		waitpid(child, &status, 0);
		CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		CU_ASSERT(i >= 4 ? same_content(path, orig, olen) : same_content(path, patched, plen));
		/* The backup is untouched, and the restore can be run again. */
		st = hp_state__open(sdir, 0, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(st);
		CU_ASSERT_EQUAL(hp_backup__verify(st, sha), 0);
		CU_ASSERT_EQUAL(hp_backup__restore(st, sha, path, NULL), 0);
		CU_ASSERT(same_content(path, orig, olen));
		CU_ASSERT_EQUAL(count_temps(tmp, "srv"), 0);
		hp_state__close(st);
	}
	free(orig);
	free(patched);
}

/* ---- full and read-only file systems ------------------------------------ */

/* Mounts made by this test stay in a mount namespace of its own. */
static bool private_mounts(void)
{
	static int done; /* 1: ready, -1: not possible */

	if (!done) {
		done = -1;
		if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
			done = 1;
		else
			fprintf(stderr, "note: cannot mount here (not root?): %s\n", strerror(errno));
	}
	return done == 1;
}

static const char *small_tmpfs(const char *size)
{
	const char *mnt = ts_join(ts_tmpdir(), "mnt");
	char opts[64];

	snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
	if (mkdir(mnt, 0700) < 0 || mount("tmpfs", mnt, "tmpfs", 0, opts) < 0) {
		CU_FAIL("cannot mount a tmpfs");
		return NULL;
	}
	return mnt;
}

/* Fill the file system of dir to the last block. */
static void fill(const char *dir)
{
	const char *filler = ts_join(dir, "filler");
	char block[4096];
	int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	memset(block, 'f', sizeof(block));
	while (fd >= 0 && write(fd, block, sizeof(block)) > 0)
		;
	while (fd >= 0 && write(fd, block, 1) > 0)
		;
	if (fd >= 0)
		close(fd);
}

static void full_disk_loses_nothing(void)
{
	const char *mnt, *path, *sdir;
	char *oldc = pattern(100000, 21), *newc = pattern(300000, 22), *before;
	struct hp_journal_rec r;
	struct hp_journal *j = NULL;
	struct hp_state *st;
	hp_print_fn_t old;
	size_t blen, alen;
	char *after;
	int i;

	if (!private_mounts())
		return;
	mnt = small_tmpfs("256k");
	if (!mnt)
		return;
	path = ts_join(mnt, "srv");
	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, oldc, 100000), 0);

	/* The new content does not fit beside the old one. */
	old = ts_capture_start();
	CU_ASSERT_EQUAL(atomic_file_replace(path, -1, newc, 300000), -ENOSPC);
	hp_set_print(old);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "No space left on device"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "unchanged"));
	CU_ASSERT(same_content(path, oldc, 100000));
	CU_ASSERT_EQUAL(count_temps(mnt, "srv"), 0);

	/* The journal on a full disk: the append fails, the journal is whole. */
	sdir = ts_join(mnt, "state");
	st = hp_state__open(sdir, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	memset(&r, 0, sizeof(r));
	r.package = "KB916846";
	r.action = HP_JOURNAL_APPLY;
	r.kind = HP_JOURNAL_DISK;
	r.step = HP_JOURNAL_INTENT;
	r.path = "/usr/sbin/srv";
	CU_ASSERT_EQUAL(hp_journal__append(st, &r), 0);
	before = ts_read_file(ts_join(sdir, "journal"), &blen);
	fill(mnt);
	old = ts_capture_start();
	/* tmpfs gives pages: the first appends may still fit in the last one. */
	for (i = 0; i < 64; i++) {
		r.step = HP_JOURNAL_INTENT;
		r.ref = 0;
		if (hp_journal__append(st, &r) != 0)
			break;
		free(before);
		before = ts_read_file(ts_join(sdir, "journal"), &blen);
	}
	hp_set_print(old);
	CU_ASSERT(i < 64);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "No space left on device"));
	after = ts_read_file(ts_join(sdir, "journal"), &alen);
	CU_ASSERT_EQUAL(alen, blen);
	CU_ASSERT(after && before && memcmp(after, before, blen) == 0);
	CU_ASSERT_EQUAL(hp_journal__read(st, &j), 0);
	CU_ASSERT_EQUAL(hp_journal__torn_line(j), 0);
	CU_ASSERT_EQUAL(hp_journal__count(j), (size_t)i + 1);
	hp_journal__free(j);
	hp_state__close(st);

	CU_ASSERT_EQUAL(umount2(mnt, MNT_DETACH), 0);
	free(before);
	free(after);
	free(oldc);
	free(newc);
}

static void read_only_file_system_loses_nothing(void)
{
	char *oldc = pattern(5000, 31);
	const char *mnt, *path;
	hp_print_fn_t old;

	if (!private_mounts())
		return;
	mnt = small_tmpfs("1m");
	if (!mnt)
		return;
	path = ts_join(mnt, "srv");
	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, oldc, 5000), 0);
	CU_ASSERT_EQUAL_FATAL(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
	old = ts_capture_start();
	CU_ASSERT_EQUAL(atomic_file_replace(path, -1, "new", 3), -EROFS);
	hp_set_print(old);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "Read-only file system"));
	CU_ASSERT(same_content(path, oldc, 5000));
	/* A state directory that cannot be created there: a clear error. */
	old = ts_capture_start();
	CU_ASSERT_PTR_NULL(hp_state__open(ts_join(mnt, "state"), 0, 0));
	CU_ASSERT_EQUAL(errno, EROFS);
	hp_set_print(old);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "cannot create the state directory"));
	CU_ASSERT_EQUAL(umount2(mnt, MNT_DETACH), 0);
	free(oldc);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "two processes: the lock, its holder's pid, a bounded wait",
		  two_processes_and_the_lock },
		{ "a killed holder frees the lock", a_killed_holder_frees_the_lock },
		{ "replace keeps owner, mode, set-id bits and xattrs",
		  replace_keeps_owner_mode_and_xattrs },
		{ "replace refuses a symlink, a swapped file, a directory",
		  replace_refuses_what_it_must_not_touch },
		{ "a replaced file's other hard links are said", hard_links_are_said },
		{ "a file replaced under us is not clobbered", replaced_under_us_is_not_clobbered },
		{ "a live writer's temporary file is not cleaned",
		  a_live_writers_temp_is_not_cleaned },
		{ "no-replace never writes over a file, even one appearing meanwhile",
		  no_replace_never_writes_over_a_file },
		{ "a plain write: the named mode, a symlink replaced not followed",
		  plain_put_writes_the_named_mode },
		{ "quiet: failures left to the caller to report",
		  quiet_leaves_the_words_to_the_caller },
		{ "killed at every step: the exact old or new file, temps cleaned",
		  killed_at_every_step_leaves_old_or_new },
		{ "a new key killed at every step: none or the whole key, temps cleaned",
		  new_file_killed_at_every_step_leaves_none_or_new },
		{ "restore from backup killed at every step", restore_killed_at_every_step },
		{ "full disk (tmpfs): nothing lost, journal whole", full_disk_loses_nothing },
		{ "read-only file system: nothing lost", read_only_file_system_loses_nothing },
		{ NULL, NULL },
	};

	ts_add_suite("state files", tests);
}
