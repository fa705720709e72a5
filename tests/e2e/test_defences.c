/* The defences of docs/security.md, each through the real hotpatch CLI with
 * the signed KB916846 package, against the real eligible builds:
 * - a target below --root that is a symbolic link out of the root, or that
 *   is swapped for one (the file, or a directory of its path) while a run
 *   is stopped between its dry run and its write: nothing outside the root
 *   is written, the write lands only on the file that was hashed;
 * - a symbolic-link state directory, one others may write to, one owned by
 *   another user: refused, nothing changed;
 * - no mapping both writable and executable in a running srv after apply
 *   --live and after rollback;
 * - two apply runs on the same state directory: one waits for the other or
 *   gives up with exit 4; the file is patched once, the journal holds one
 *   intent and one completion;
 * - without privilege (another user, no CAP_SYS_PTRACE, hotpatch in a user
 *   namespace of its own, a Yama ptrace_scope that forbids tracing): a
 *   message naming the process and the cause, exit 1, the process unchanged.
 * A run is stopped at a step with HOTPATCH_FAULT=<step>:stop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "live_fixture.h"
#include "support.h"

#define SRV_ELIGIBLE "5.2.3790.2691"
#define MRX_ELIGIBLE "5.2.3790.2697"
#define MRX_FIXED "5.2.3790.2734"
#define YAMA "/proc/sys/kernel/yama/ptrace_scope"
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const char *hp(void)
{
	return ts_build_path("bin/hotpatch");
}

/* The package and the key that signs it, as arguments. */
static const char *pkg_args(void)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "'%s' --trusted-key '%s'",
		 ts_build_path("packages/KB916846/manifest.json"), ts_build_path("keys/vendor.pub"));
	return buf;
}

static void sha_of(const char *path, char sha[65])
{
	if (hp_sha256_file(path, sha))
		strcpy(sha, "(unreadable)");
}

static bool has(const char *out, const char *what)
{
	if (out && strstr(out, what))
		return true;
	fprintf(stderr, "expected in the output: %s\n", what);
	return false;
}

/* Lines of the journal in state holding all of the words given. */
static int journal_lines(const char *state, const char *w1, const char *w2)
{
	char *j = ts_read_file(ts_join(state, "journal"), NULL), *line, *save = NULL;
	int n = 0;

	if (!j)
		return 0;
	for (line = strtok_r(j, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, w1) && (!w2 || strstr(line, w2)))
			n++;
	free(j);
	return n;
}

/* dir/root/usr/sbin/srv: a copy of the eligible srv. */
static const char *make_root(const char *dir)
{
	const char *root = ts_join(dir, "root");
	char *out;
	int rc;

	out = ts_run_cmd("set -e; mkdir -p '%s/usr/sbin'; cp '%s' '%s/usr/sbin/srv'", &rc, root,
			 ts_build_path("targets/srv/%s/srv", SRV_ELIGIBLE), root);
	free(out);
	CU_ASSERT_EQUAL(rc, 0);
	return rc ? NULL : root;
}

/* hotpatch started with extra (environment assignments, or a wrapper
 * command) in front, in the background, its output in log. */
static pid_t spawn_hp(const char *extra, const char *args, const char *log)
{
	char cmd[32768];
	char *argv[] = { "sh", "-c", cmd, NULL };

	snprintf(cmd, sizeof(cmd), "exec env %s '%s' %s", extra, hp(), args);
	return ts_spawn(argv, log);
}

/* Wait (up to a minute: a loaded machine) until pid stops at its fault point. */
static bool wait_stopped(pid_t pid)
{
	int i;

	for (i = 0; i < 6000; i++) {
		char st = ts_proc_state(pid);

		if (st == 'T' || st == 't')
			return true;
		if (st == 0 || st == 'Z')
			return false;
		usleep(10000);
	}
	return false;
}

/* SIGCONT pid and reap it: its exit status, 128+signal if killed. */
static int resume(pid_t pid)
{
	int status;

	kill(pid, SIGCONT);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- symbolic links: targets --------------------------------------------- */

/* root/usr/sbin/srv links to a copy of srv outside the root, and
 * root/usr/lib/libmrxsmb.so to libmrxsmb.so.1 beside it: the first is
 * refused (exit 1), nothing outside the root changes; the second is
 * followed and patched under its real name, the link left as it was. */
static void target_linked_out_of_root(void)
{
	const char *dir = ts_tmpdir(), *root, *outside, *state;
	char before[65], after[65], lib_before[65], lib_after[65], link[256];
	char *out;
	ssize_t n;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	root = ts_join(dir, "root");
	outside = ts_join(dir, "outside/srv");
	state = ts_join(dir, "state");
	out = ts_run_cmd("set -e; mkdir -p '%s/usr/sbin' '%s/usr/lib' '%s/outside'; cp '%s' '%s'; "
			 "ln -s '%s' '%s/usr/sbin/srv'; cp '%s' '%s/usr/lib/libmrxsmb.so.1'; "
			 "ln -s libmrxsmb.so.1 '%s/usr/lib/libmrxsmb.so'",
			 &rc, root, root, dir, ts_build_path("targets/srv/%s/srv", SRV_ELIGIBLE),
			 outside, outside, root,
			 ts_build_path("targets/mrxsmb/%s/libmrxsmb.so", MRX_ELIGIBLE), root, root);
	free(out);
	CU_ASSERT_FATAL(rc == 0);
	sha_of(outside, before);
	sha_of(ts_join(root, "usr/lib/libmrxsmb.so.1"), lib_before);

	out = ts_run_cmd("'%s' verify %s --root '%s' --no-processes", &rc, hp(), pkg_args(), root);
	CU_ASSERT(has(out, "outside the root"));
	free(out);

	out = ts_run_cmd("'%s' apply %s --disk --root '%s' --state-dir '%s'", &rc, hp(), pkg_args(),
			 root, state);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(has(out, "usr/sbin/srv: resolves to "));
	CU_ASSERT(has(out, "outside the root"));
	CU_ASSERT(has(out, "usr/lib/libmrxsmb.so.1: patched"));
	free(out);
	sha_of(outside, after);
	CU_ASSERT_STRING_EQUAL(after, before);
	sha_of(ts_join(root, "usr/lib/libmrxsmb.so.1"), lib_after);
	CU_ASSERT_STRING_NOT_EQUAL(lib_after, lib_before);
	n = readlink(ts_join(root, "usr/lib/libmrxsmb.so"), link, sizeof(link) - 1);
	CU_ASSERT(n == (ssize_t)strlen("libmrxsmb.so.1") && !memcmp(link, "libmrxsmb.so.1", (size_t)n));
	CU_ASSERT_EQUAL(journal_lines(state, "outside", NULL), 0);
	CU_ASSERT_EQUAL(journal_lines(state, "usr/sbin/srv", NULL), 0);

	out = ts_run_cmd("'%s' rollback KB916846 --disk --state-dir '%s'", &rc, hp(), state);
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	sha_of(ts_join(root, "usr/lib/libmrxsmb.so.1"), lib_after);
	CU_ASSERT_STRING_EQUAL(lib_after, lib_before);
	sha_of(outside, after);
	CU_ASSERT_STRING_EQUAL(after, before);
}

/* A run stopped at step (HOTPATCH_FAULT=step:stop) while swap (a shell
 * command run in the test's directory, $r the root, $o a directory outside
 * it holding a copy of srv) changes the world; then it goes on. Returns its
 * exit status, its output in *out; before and after get the SHA-256 of the
 * outside copy before and after the run. */
static int swapped_under_run(const char *step, const char *swap, char **out, char before[65],
			     char after[65])
{
	const char *dir = ts_tmpdir(), *root, *log;
	char extra[256];
	pid_t pid;
	char *o;
	int rc = -1, src;

	*out = NULL;
	if (!dir || !(root = make_root(dir)))
		return -1;
	log = ts_join(dir, "apply.log");
	o = ts_run_cmd("set -e; mkdir '%s/o'; cp '%s/usr/sbin/srv' '%s/o/srv'", &src, dir, root, dir);
	free(o);
	sha_of(ts_join(dir, "o/srv"), before);
	snprintf(extra, sizeof(extra), "HOTPATCH_FAULT=%s:stop", step);
	{
		char args[16384];

		snprintf(args, sizeof(args), "apply %s --disk --root '%s' --state-dir '%s/state'",
			 pkg_args(), root, dir);
		pid = spawn_hp(extra, args, log);
	}
	if (pid <= 0 || !wait_stopped(pid)) {
		fprintf(stderr, "hotpatch did not stop at %s\n", step);
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		return -1;
	}
	o = ts_run_cmd("set -e; cd '%s'; r='%s'; o='%s/o'; %s", &src, dir, root, dir, swap);
	free(o);
	CU_ASSERT_EQUAL(src, 0);
	rc = resume(pid);
	*out = ts_read_file(log, NULL);
	fprintf(stderr, "%s", *out ? *out : "");
	sha_of(ts_join(dir, "o/srv"), after);
	CU_ASSERT_EQUAL(journal_lines(ts_join(dir, "state"), "/o/srv", NULL), 0);
	return rc;
}

/* Between the dry run and the apply of srv, the file is replaced by a link
 * to the copy outside the root, or its directory by a link to the outside
 * directory: refused (the path no longer resolves to itself), exit 5,
 * nothing outside written. After srv was read and hashed, the file is
 * replaced by a link, or by another file with the same bytes: the replace
 * refuses to write (not the file that was hashed), exit 5. */
static void target_swapped_during_run(void)
{
	static const struct {
		const char *step;  /* where the run is stopped */
		const char *swap;  /* what is done meanwhile */
		int rc;            /* its exit code then */
		const char *says;  /* and what it says */
	} cases[] = {
		{ "disk-checked", "rm $r/usr/sbin/srv; ln -s $o/srv $r/usr/sbin/srv", 5,
		  "a symbolic link put in its path" },
		{ "disk-checked", "mv $r/usr/sbin $r/usr/sbin.old; ln -s $o $r/usr/sbin", 5,
		  "a symbolic link put in its path" },
		{ "disk-backed-up", "rm $r/usr/sbin/srv; ln -s $o/srv $r/usr/sbin/srv", 5,
		  "is now a symbolic link, no longer the file that was read" },
		{ "disk-backed-up", "cp $o/srv $r/usr/sbin/srv.new; mv $r/usr/sbin/srv.new $r/usr/sbin/srv",
		  5, "no longer the file that was read" },
	};
	size_t i;

	for (i = 0; i < N_OF(cases); i++) {
		char before[65], after[65], *out = NULL;
		int rc;

		fprintf(stderr, "-- stopped at %s: %s\n", cases[i].step, cases[i].swap);
		rc = swapped_under_run(cases[i].step, cases[i].swap, &out, before, after);
		CU_ASSERT_EQUAL(rc, cases[i].rc);
		CU_ASSERT(has(out, cases[i].says));
		CU_ASSERT(has(out, "0 files changed"));
		CU_ASSERT_STRING_EQUAL(after, before);
		free(out);
	}
}

/* ---- the state directory -------------------------------------------------- */

/* apply --disk with state_dir: refused with exit 1 and a message holding
 * says; the target unchanged, no journal written anywhere. */
static void state_refused(const char *root, const char *state_dir, const char *says)
{
	char before[65], after[65];
	const char *srv = ts_join(root, "usr/sbin/srv");
	char *out;
	int rc;

	sha_of(srv, before);
	out = ts_run_cmd("'%s' apply %s --disk --root '%s' --state-dir '%s'", &rc, hp(), pkg_args(),
			 root, state_dir);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(has(out, state_dir));
	CU_ASSERT(has(out, says));
	CU_ASSERT(has(out, "nothing changed"));
	free(out);
	sha_of(srv, after);
	CU_ASSERT_STRING_EQUAL(after, before);
	CU_ASSERT(access(ts_join(state_dir, "journal"), F_OK) != 0);
}

static void state_dir_refused(void)
{
	const char *dir = ts_tmpdir(), *root, *real, *link, *open_dir, *group_dir, *other;
	char *out;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	root = make_root(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	real = ts_join(dir, "private");
	link = ts_join(dir, "state-link");
	open_dir = ts_join(dir, "state-0777");
	group_dir = ts_join(dir, "state-0770");
	other = ts_join(dir, "state-nobody");
	CU_ASSERT_FATAL(mkdir(real, 0700) == 0 && symlink(real, link) == 0);
	CU_ASSERT_FATAL(mkdir(open_dir, 0700) == 0 && chmod(open_dir, 0777) == 0);
	CU_ASSERT_FATAL(mkdir(group_dir, 0700) == 0 && chmod(group_dir, 0770) == 0);
	CU_ASSERT_FATAL(mkdir(other, 0700) == 0 && chown(other, 65534, 65534) == 0);

	state_refused(root, link, "is a symbolic link");
	CU_ASSERT(access(ts_join(real, "journal"), F_OK) != 0);
	CU_ASSERT(access(ts_join(real, "lock"), F_OK) != 0);
	state_refused(root, open_dir, "writable by group or others (mode 0777)");
	state_refused(root, group_dir, "writable by group or others (mode 0770)");
	state_refused(root, other, "owned by uid 65534");

	/* A new one is created private (0700), and used. */
	out = ts_run_cmd("'%s' apply %s --disk --root '%s' --state-dir '%s/new'", &rc, hp(),
			 pkg_args(), root, dir);
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	{
		struct stat sb;

		CU_ASSERT(lstat(ts_join(dir, "new"), &sb) == 0 && S_ISDIR(sb.st_mode) &&
			  (sb.st_mode & 07777) == 0700);
	}
}

/* ---- running processes ----------------------------------------------------- */

struct srv {
	const char *dir; /* its config and share, and the client's config */
	pid_t pid;
	int port;
};

/* srv, signing disabled, and a fixed client's config requiring signing:
 * unpatched, the client gets no communication (11); patched, signed (0). */
static bool srv_start(struct srv *s, const char *dir)
{
	static const char sconf[] = "EnableSecuritySignature=0\nRequireSecuritySignature=0\n";
	static const char cconf[] = "EnableSecuritySignature=1\nRequireSecuritySignature=1\n";
	char listen[64];

	s->dir = dir;
	s->pid = -1;
	if (mkdir(ts_join(dir, "share"), 0755) ||
	    ts_write_file(ts_join(dir, "lanmanserver.conf"), sconf, strlen(sconf)) ||
	    ts_write_file(ts_join(dir, "client.conf"), cconf, strlen(cconf)))
		return false;
	s->port = ts_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
	{
		char *bin = strdup(ts_build_path("targets/srv/%s/srv", SRV_ELIGIBLE));
		char *conf = strdup(ts_join(dir, "lanmanserver.conf"));
		char *share = strdup(ts_join(dir, "share"));
		char *argv[] = { bin, "--listen", listen, "--config", conf, "--share", share,
				 "--threads", "4", NULL };

		s->pid = ts_spawn(argv, NULL);
		free(bin);
		free(conf);
		free(share);
	}
	return s->pid > 0 && ts_wait_port(s->port, 10000);
}

static int srv_connect(const struct srv *s)
{
	char *out;
	int rc;

	out = ts_run_cmd("'%s' connect --server 127.0.0.1:%d --config '%s/client.conf'", &rc,
			 ts_build_path("targets/mrxsmb/" MRX_FIXED "/smbcli"), s->port, s->dir);
	free(out);
	return rc;
}

static void srv_stop(struct srv *s)
{
	if (s->pid > 0)
		CU_ASSERT(ts_stop(s->pid, 5000) >= 0);
	s->pid = -1;
}

/* After apply --live on a serving srv and after rollback, no mapping of
 * the process is both writable and executable. */
static void no_wx_after_live(void)
{
	const char *dir = ts_tmpdir();
	struct srv s;
	char *out;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	CU_ASSERT_FATAL(srv_start(&s, dir));
	CU_ASSERT_FALSE(lf_has_wx(s.pid));
	out = ts_run_cmd("'%s' apply %s --live --pid %d --state-dir '%s/state'", &rc, hp(), pkg_args(),
			 (int)s.pid, dir);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(has(out, "1 processes patched"));
	free(out);
	CU_ASSERT_EQUAL(srv_connect(&s), 0);
	CU_ASSERT_FALSE(lf_has_wx(s.pid));
	out = ts_run_cmd("'%s' rollback KB916846 --live --pid %d --state-dir '%s/state'", &rc, hp(),
			 (int)s.pid, dir);
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	CU_ASSERT_EQUAL(srv_connect(&s), 11);
	CU_ASSERT_FALSE(lf_has_wx(s.pid));
	srv_stop(&s);
}

/* ---- two runs ---------------------------------------------------------------- */

/* Run A is stopped holding the lock, journal intent written, file not yet
 * replaced; run B gives up after its wait with exit 4 naming A; A goes on
 * and patches. Then two runs started together on a fresh copy: one patches,
 * the other waits and finds it applied. Either way, one intent and one
 * completion in the journal, the file the patched build. */
static void two_runs(void)
{
	const char *dir = ts_tmpdir(), *root, *state, *srv;
	char args[16384], holder[32], orig[65], sha[65], first[65], *out;
	pid_t a, b;
	int rc, rc_b, status;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	root = make_root(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	state = ts_join(dir, "state");
	srv = ts_join(root, "usr/sbin/srv");
	sha_of(srv, orig);
	snprintf(args, sizeof(args), "apply %s --disk --root '%s' --state-dir '%s'", pkg_args(), root,
		 state);
	a = spawn_hp("HOTPATCH_FAULT=disk-intent:stop", args, ts_join(dir, "a.log"));
	CU_ASSERT_FATAL(a > 0 && wait_stopped(a));
	out = ts_run_cmd("'%s' %s", &rc, hp(), args);
	CU_ASSERT_EQUAL(rc, 4);
	snprintf(holder, sizeof(holder), "(pid %d)", (int)a);
	CU_ASSERT(has(out, "another hotpatch run holds the lock"));
	CU_ASSERT(has(out, holder));
	free(out);
	sha_of(srv, sha);
	CU_ASSERT_STRING_EQUAL(sha, orig);
	CU_ASSERT_EQUAL(resume(a), 0);
	out = ts_read_file(ts_join(dir, "a.log"), NULL);
	CU_ASSERT(has(out, "1 files changed"));
	free(out);
	sha_of(srv, first);
	CU_ASSERT_STRING_NOT_EQUAL(first, orig);
	CU_ASSERT_EQUAL(journal_lines(state, "step=intent", "action=apply"), 1);
	CU_ASSERT_EQUAL(journal_lines(state, "step=done", "action=apply"), 1);

	/* Together, on a fresh copy with its own state. */
	dir = ts_tmpdir();
	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	root = make_root(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	state = ts_join(dir, "state");
	srv = ts_join(root, "usr/sbin/srv");
	snprintf(args, sizeof(args), "apply %s --disk --root '%s' --state-dir '%s'", pkg_args(), root,
		 state);
	a = spawn_hp("", args, ts_join(dir, "a.log"));
	b = spawn_hp("", args, ts_join(dir, "b.log"));
	CU_ASSERT_FATAL(a > 0 && b > 0);
	CU_ASSERT(waitpid(a, &status, 0) == a);
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	CU_ASSERT(waitpid(b, &status, 0) == b);
	rc_b = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	/* The lock wait (5 s) is far longer than an apply, but a starved
	 * machine may make one give up: busy, never both writing. */
	CU_ASSERT((rc == 0 || rc == 4) && (rc_b == 0 || rc_b == 4) && (rc == 0 || rc_b == 0));
	{
		char *la = ts_read_file(ts_join(dir, "a.log"), NULL);
		char *lb = ts_read_file(ts_join(dir, "b.log"), NULL);
		int patched = (la && strstr(la, "1 files changed")) + (lb && strstr(lb, "1 files changed"));

		fprintf(stderr, "run a (%d):\n%srun b (%d):\n%s", rc, la ? la : "", rc_b, lb ? lb : "");
		CU_ASSERT_EQUAL(patched, 1);
		free(la);
		free(lb);
	}
	sha_of(srv, sha);
	CU_ASSERT_STRING_EQUAL(sha, first);
	CU_ASSERT_EQUAL(journal_lines(state, "step=intent", "action=apply"), 1);
	CU_ASSERT_EQUAL(journal_lines(state, "step=done", "action=apply"), 1);
	CU_ASSERT_EQUAL(journal_lines(state, "step=failed", NULL), 0);
}

/* ---- privilege -------------------------------------------------------------- */

/* hotpatch apply --live on s, run through wrap (a command prefix): exit 1,
 * a message naming the process and holding cause, the process unchanged. */
static void live_refused(const struct srv *s, const char *wrap, const char *state,
			 const char *cause)
{
	char name[64];
	char *out;
	int rc;

	fprintf(stderr, "-- %s\n", wrap);
	out = ts_run_cmd("%s '%s' apply %s --live --pid %d --state-dir '%s'", &rc, wrap, hp(),
			 pkg_args(), (int)s->pid, state);
	CU_ASSERT_EQUAL(rc, 1);
	snprintf(name, sizeof(name), "pid %d (srv)", (int)s->pid);
	CU_ASSERT(has(out, name));
	CU_ASSERT(has(out, cause));
	CU_ASSERT(has(out, "0 processes patched"));
	free(out);
	CU_ASSERT_EQUAL(srv_connect(s), 11);
	CU_ASSERT_FALSE(lf_has_wx(s->pid));
	CU_ASSERT_EQUAL(journal_lines(state, "KB916846", NULL), 0);
}

static void without_privilege(void)
{
	const char *dir = ts_tmpdir(), *mine, *state;
	struct srv s;
	char *out, *yama;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	/* nobody must reach the package, hotpatch and a state directory of
	 * its own below dir. */
	CU_ASSERT_FATAL(chmod(dir, 0755) == 0);
	mine = ts_join(dir, "state-nobody");
	state = ts_join(dir, "state");
	CU_ASSERT_FATAL(mkdir(mine, 0700) == 0 && chown(mine, 65534, 65534) == 0);
	CU_ASSERT_FATAL(srv_start(&s, dir));
	CU_ASSERT_EQUAL(srv_connect(&s), 11);

	/* Not root: the process belongs to root. */
	live_refused(&s, "setpriv --reuid=65534 --regid=65534 --clear-groups --", mine,
		     "it runs as uid 0 and hotpatch as uid 65534, not root");
	/* Not root, with root's state directory: refused before any process. */
	out = ts_run_cmd("setpriv --reuid=65534 --regid=65534 --clear-groups -- '%s' apply %s --live "
			 "--pid %d --state-dir '%s'", &rc, hp(), pkg_args(), (int)s.pid, state);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(has(out, state));
	CU_ASSERT(has(out, "Permission denied"));
	CU_ASSERT(has(out, "nothing changed"));
	free(out);
	/* Not root, without --pid: root's processes cannot be examined, and
	 * the dry run says how many rather than reporting nothing to do. */
	out = ts_run_cmd("setpriv --reuid=65534 --regid=65534 --clear-groups -- '%s' verify %s "
			 "--root '%s'", &rc, hp(), pkg_args(), dir);
	CU_ASSERT(has(out, "could not be examined (no permission to read"));
	CU_ASSERT(!has(out, "would patch\n"));
	free(out);
	/* Root without CAP_SYS_PTRACE. */
	live_refused(&s, "setpriv --inh-caps=-sys_ptrace --bounding-set=-sys_ptrace --", state,
		     "hotpatch runs without CAP_SYS_PTRACE");
	/* hotpatch in a user namespace of its own: root there, nothing here. */
	live_refused(&s, "unshare --user --map-root-user --", state,
		     "hotpatch runs in a user namespace of its own");

	/* Yama: ptrace_scope 2 lets only CAP_SYS_PTRACE attach. Never 3,
	 * which nothing but a reboot lowers again; the old value is put back
	 * before any assertion can stop the test. */
	yama = ts_read_file(YAMA, NULL);
	if (!yama) {
		fprintf(stderr, "-- no Yama in this kernel (%s): ptrace_scope not tested\n", YAMA);
	} else if (ts_write_file(YAMA, "2\n", 2) != 0) {
		fprintf(stderr, "-- cannot set %s: ptrace_scope not tested\n", YAMA);
		free(yama);
	} else {
		out = ts_run_cmd("setpriv --inh-caps=-sys_ptrace --bounding-set=-sys_ptrace -- '%s' "
				 "apply %s --live --pid %d --state-dir '%s'", &rc, hp(), pkg_args(),
				 (int)s.pid, state);
		rc = ts_write_file(YAMA, yama, strlen(yama)) == 0 ? rc : -1;
		CU_ASSERT_EQUAL(rc, 1);
		CU_ASSERT(has(out, "Yama ptrace_scope is 2"));
		free(out);
		free(yama);
	}

	CU_ASSERT_EQUAL(srv_connect(&s), 11);
	srv_stop(&s);
}

/* A process in a user namespace of its own (unshare -U -r) belongs to root
 * here: root may patch it, and rolls it back, with nothing left w+x. */
static void process_in_user_namespace(void)
{
	const char *dir = ts_tmpdir();
	struct srv s;
	char *out, ns_self[64], ns_srv[64], path[64];
	ssize_t n;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	/* As srv_start, with unshare in front. */
	{
		static const char sconf[] = "EnableSecuritySignature=0\nRequireSecuritySignature=0\n";
		static const char cconf[] = "EnableSecuritySignature=1\nRequireSecuritySignature=1\n";
		char listen[64];
		char *bin = strdup(ts_build_path("targets/srv/%s/srv", SRV_ELIGIBLE));
		char *conf = strdup(ts_join(dir, "lanmanserver.conf"));
		char *share = strdup(ts_join(dir, "share"));

		s.dir = dir;
		CU_ASSERT_FATAL(mkdir(share, 0755) == 0);
		CU_ASSERT_FATAL(ts_write_file(conf, sconf, strlen(sconf)) == 0);
		CU_ASSERT_FATAL(ts_write_file(ts_join(dir, "client.conf"), cconf, strlen(cconf)) == 0);
		s.port = ts_free_port();
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", s.port);
		{
			char *argv[] = { "unshare", "--user", "--map-root-user", "--", bin, "--listen",
					 listen, "--config", conf, "--share", share, "--threads", "2",
					 NULL };

			s.pid = ts_spawn(argv, NULL);
		}
		free(bin);
		free(conf);
		free(share);
		CU_ASSERT_FATAL(s.pid > 0 && ts_wait_port(s.port, 10000));
	}
	n = readlink("/proc/self/ns/user", ns_self, sizeof(ns_self) - 1);
	ns_self[n > 0 ? n : 0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)s.pid);
	n = readlink(path, ns_srv, sizeof(ns_srv) - 1);
	ns_srv[n > 0 ? n : 0] = '\0';
	CU_ASSERT(n > 0 && strcmp(ns_self, ns_srv) != 0);

	out = ts_run_cmd("'%s' apply %s --live --pid %d --state-dir '%s/state'", &rc, hp(), pkg_args(),
			 (int)s.pid, dir);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(has(out, "1 processes patched"));
	free(out);
	CU_ASSERT_EQUAL(srv_connect(&s), 0);
	CU_ASSERT_FALSE(lf_has_wx(s.pid));
	out = ts_run_cmd("'%s' rollback KB916846 --live --pid %d --state-dir '%s/state'", &rc, hp(),
			 (int)s.pid, dir);
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	CU_ASSERT_EQUAL(srv_connect(&s), 11);
	srv_stop(&s);
}

void test_register(void)
{
	static const struct ts_test files[] = {
		{ "a target linked out of --root is refused; a link inside is followed",
		  target_linked_out_of_root },
		{ "a target or its directory swapped for a link during the run: no redirected write",
		  target_swapped_during_run },
		{ "a symlinked, 0777, 0770 or foreign state directory is refused, nothing changed",
		  state_dir_refused },
		{ "two apply runs: one waits or exits 4, the file patched once, journal sane",
		  two_runs },
		{ NULL, NULL },
	};
	static const struct ts_test procs[] = {
		{ "no writable and executable mapping after apply --live and rollback",
		  no_wx_after_live },
		{ "without privilege: not root, no CAP_SYS_PTRACE, user namespace, Yama",
		  without_privilege },
		{ "a process in a user namespace of its own is patched by root",
		  process_in_user_namespace },
		{ NULL, NULL },
	};

	ts_add_suite("defences: files and state", files);
	ts_add_suite("defences: processes and privilege", procs);
}
