/* hotpatch apply --disk / rollback --disk end to end, on copies of the real
 * eligible srv and libmrxsmb.so builds laid out below a --root: the
 * cold-patched files are sound ELF (eu-elflint, readelf), run and serve
 * with the fixed behaviour (connect outcomes over loopback), run clean under
 * valgrind; applying twice changes nothing; rollback restores the original
 * SHA-256; hotpatch killed at every step of apply and rollback leaves each
 * file exactly the original or exactly the patched result; a full disk and
 * a read-only file system give clear errors with nothing lost. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <jansson.h>

#include "hotpatch.h"
#include "support.h"

#define SRV_ELIGIBLE "5.2.3790.2691"
#define SRV_OLD "5.2.3790.1830"
#define MRX_ELIGIBLE "5.2.3790.2697"
#define FIXED_VERSION "5.2.3790.2734"
#define MRX_FIXED FIXED_VERSION

/* A root holding the eligible srv and mrxsmb builds (and smbcli beside
 * them, finding the library through its $ORIGIN/../lib runpath) plus a
 * srv of a version the package was not built for, in dir/root. */
static const char *make_root(const char *dir)
{
	const char *root = ts_join(dir, "root");
	char *out;
	int rc;

	out = ts_run_cmd("set -e; r='%s'; mkdir -p $r/usr/sbin $r/usr/local/sbin $r/usr/lib $r/usr/bin; "
		  "cp '%s' $r/usr/sbin/srv; cp '%s' $r/usr/local/sbin/srv; cp '%s' $r/usr/lib/; "
		  "cp '%s' $r/usr/bin/; chmod 0751 $r/usr/sbin/srv",
		  &rc, root, ts_build_path("targets/srv/%s/srv", SRV_ELIGIBLE),
		  ts_build_path("targets/srv/%s/srv", SRV_OLD),
		  ts_build_path("targets/mrxsmb/%s/libmrxsmb.so", MRX_ELIGIBLE),
		  ts_build_path("targets/mrxsmb/%s/smbcli", MRX_ELIGIBLE));
	free(out);
	CU_ASSERT_EQUAL(rc, 0);
	return rc ? NULL : root;
}

static const char *pkg_args(void)
{
	static char buf[8192];

	snprintf(buf, sizeof(buf), "'%s' --trusted-key '%s'",
		 ts_build_path("packages/KB916846/manifest.json"), ts_build_path("keys/vendor.pub"));
	return buf;
}

static void sha_of(const char *path, char sha[65])
{
	if (hp_sha256_file(path, sha))
		strcpy(sha, "(unreadable)");
}

static int apply_disk(const char *root, const char *state, const char *fault, char **out)
{
	int rc;
	char *o = ts_run_cmd("%s%s '%s' apply %s --disk --root '%s' --state-dir '%s'", &rc,
		      fault ? "HOTPATCH_FAULT=" : "", fault ? fault : "",
		      ts_build_path("bin/hotpatch"), pkg_args(), root, state);

	if (out)
		*out = o;
	else
		free(o);
	return rc;
}

static int rollback_disk(const char *state, const char *fault, char **out)
{
	int rc;
	char *o = ts_run_cmd("%s%s '%s' rollback KB916846 --disk --state-dir '%s'", &rc,
		      fault ? "HOTPATCH_FAULT=" : "", fault ? fault : "",
		      ts_build_path("bin/hotpatch"), state);

	if (out)
		*out = o;
	else
		free(o);
	return rc;
}

/* srv (bin) at a setting on a free port; its pid, the port in *port. */
static pid_t start_srv(const char *dir, const char *bin, const char *setting, int *port,
		       bool valgrind)
{
	char listen[64], conf[4096], share[4096], log[4096];
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/%s.conf", dir, setting);
	snprintf(share, sizeof(share), "%s/share", dir);
	snprintf(log, sizeof(log), "%s/srv-%s.log", dir, setting);
	*port = ts_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", *port);
	if (valgrind) {
		char *argv[] = { "valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
				 "--errors-for-leak-kinds=definite", (char *)bin, "--listen", listen,
				 "--config", conf, "--share", share, "--threads", "2", NULL };

		pid = ts_spawn(argv, log);
	} else {
		char *argv[] = { (char *)bin, "--listen", listen, "--config", conf, "--share", share,
				 "--threads", "2", NULL };

		pid = ts_spawn(argv, log);
	}
	if (pid > 0 && !ts_wait_port(*port, valgrind ? 20000 : 5000)) {
		ts_stop(pid, 1000);
		return -1;
	}
	return pid;
}

/* smbcli (bin) at a setting against port: its exit code (0 signed,
 * 10 not signed, 11 no communication). */
static int connect_cli(const char *dir, const char *bin, const char *setting, int port,
		       bool valgrind)
{
	char *out;
	int rc;

	out = ts_run_cmd("%s'%s' connect --server 127.0.0.1:%d --config '%s/%s.conf' --read readme.txt",
		  &rc, valgrind ? "valgrind -q --error-exitcode=99 --leak-check=full "
				  "--errors-for-leak-kinds=definite " : "",
		  bin, port, dir, setting);
	free(out);
	return rc;
}

static void write_confs(const char *dir)
{
	static const char *const confs[][2] = {
		{ "disabled", "EnableSecuritySignature = 0\nRequireSecuritySignature = 0\n" },
		{ "required", "EnableSecuritySignature = 1\nRequireSecuritySignature = 1\n" },
	};
	char path[4096];
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s.conf", dir, confs[i][0]);
		CU_ASSERT(ts_write_file(path, confs[i][1], strlen(confs[i][1])) == 0);
	}
	snprintf(path, sizeof(path), "%s/share", dir);
	CU_ASSERT(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/share/readme.txt", dir);
	CU_ASSERT(ts_write_file(path, "disk\n", 5) == 0);
}

/* The article's cells that tell a patched build from an unpatched one:
 * server Disabled against a client that Requires, and the reverse. */
static void check_behaviour(const char *dir, const char *root, bool patched, bool valgrind)
{
	const char *srv = ts_join(root, "usr/sbin/srv"), *cli = ts_join(root, "usr/bin/smbcli");
	int port, rc;
	pid_t pid;

	pid = start_srv(dir, srv, "disabled", &port, valgrind);
	CU_ASSERT_FATAL(pid > 0);
	/* A patched client announces it requires signing; a patched server
	 * then signs although set to Disabled. */
	CU_ASSERT_EQUAL(connect_cli(dir, cli, "required", port, valgrind), patched ? 0 : 11);
	CU_ASSERT_EQUAL(connect_cli(dir, cli, "disabled", port, false), 10);
	rc = ts_stop(pid, valgrind ? 20000 : 3000);
	CU_ASSERT_EQUAL(rc, 0);
	pid = start_srv(dir, srv, "required", &port, false);
	CU_ASSERT_FATAL(pid > 0);
	/* A patched client set to Disabled signs when the server requires. */
	CU_ASSERT_EQUAL(connect_cli(dir, cli, "disabled", port, false), patched ? 0 : 11);
	CU_ASSERT_EQUAL(ts_stop(pid, 3000), 0);
}

/* Whether path carries the extended attribute the test set (true when the
 * file system takes none: nothing to keep then). */
static bool xattr_kept(const char *path, bool supported)
{
	char v[16] = "";

	if (!supported)
		return true;
	return getxattr(path, "user.hotpatch-test", v, sizeof(v) - 1) == 4 && !strcmp(v, "kept");
}

static void apply_run_rollback(void)
{
	const char *dir = ts_tmpdir(), *root, *state;
	char srv0[65], lib0[65], old0[65], fixed0[65], srv1[65], lib1[65], sha[65], *out;
	struct stat sb;
	bool xattrs;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	root = make_root(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	state = ts_join(dir, "state");
	write_confs(dir);
	sha_of(ts_join(root, "usr/sbin/srv"), srv0);
	sha_of(ts_join(root, "usr/lib/libmrxsmb.so"), lib0);
	sha_of(ts_join(root, "usr/local/sbin/srv"), old0);
	xattrs = setxattr(ts_join(root, "usr/sbin/srv"), "user.hotpatch-test", "kept", 4, 0) == 0;
	if (!xattrs)
		fprintf(stderr, "note: no user xattrs here (%s): not checked\n", strerror(errno));
	check_behaviour(dir, root, false, false);

	rc = apply_disk(root, state, NULL, &out);
	CU_ASSERT_EQUAL(rc, 0);
	/* The two eligible files cold-patched, the other replaced by the
	 * fixed full build (tests/e2e/test_full_build.c has the rest). */
	CU_ASSERT(out && strstr(out, "3 files changed") &&
		  strstr(out, "replaced: fixed full build " FIXED_VERSION));
	sha_of(ts_build_path("targets/srv/" FIXED_VERSION "/srv"), fixed0);
	free(out);
	sha_of(ts_join(root, "usr/sbin/srv"), srv1);
	sha_of(ts_join(root, "usr/lib/libmrxsmb.so"), lib1);
	CU_ASSERT(strcmp(srv0, srv1) != 0 && strcmp(lib0, lib1) != 0);
	sha_of(ts_join(root, "usr/local/sbin/srv"), sha);
	CU_ASSERT_STRING_EQUAL(sha, fixed0);
	CU_ASSERT_STRING_NOT_EQUAL(sha, old0);
	CU_ASSERT(stat(ts_join(root, "usr/sbin/srv"), &sb) == 0 && (sb.st_mode & 07777) == 0751);
	CU_ASSERT(xattr_kept(ts_join(root, "usr/sbin/srv"), xattrs));

	/* Sound files, as the toolchain sees them. */
	out = ts_run_cmd("eu-elflint --gnu-ld '%s' && eu-elflint --gnu-ld '%s'", &rc,
		  ts_join(root, "usr/sbin/srv"), ts_join(root, "usr/lib/libmrxsmb.so"));
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	out = ts_run_cmd("readelf -lW '%s' && readelf -SW '%s' && readelf -p .hotpatch.record '%s'", &rc,
		  ts_join(root, "usr/sbin/srv"), ts_join(root, "usr/sbin/srv"),
		  ts_join(root, "usr/sbin/srv"));
	CU_ASSERT(rc == 0 && out && strstr(out, ".hotpatch.text") && strstr(out, "PHDR") &&
		  strstr(out, "package=KB916846"));
	free(out);
	out = ts_run_cmd("gdb -batch -nx -ex 'info functions srv_negotiate_signing' '%s'", &rc,
		  ts_join(root, "usr/sbin/srv"));
	CU_ASSERT(rc == 0 && out && strstr(out, "srv_negotiate_signing") && !strstr(out, "not in executable format"));
	free(out);

	/* The patched builds behave as the article's fix. */
	check_behaviour(dir, root, true, false);

	/* Again: nothing changes. */
	rc = apply_disk(root, state, NULL, &out);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(out && strstr(out, "0 files changed, 3 already applied"));
	free(out);
	out = ts_run_cmd("'%s' --json apply %s --disk --root '%s' --state-dir '%s'", &rc,
		  ts_build_path("bin/hotpatch"), pkg_args(), root, state);
	CU_ASSERT(rc == 0 && out && strstr(out, "\"changed\": false") && strstr(out, "\"files\""));
	free(out);
	sha_of(ts_join(root, "usr/sbin/srv"), sha);
	CU_ASSERT_STRING_EQUAL(sha, srv1);

	/* The dry run says so too. */
	out = ts_run_cmd("'%s' verify %s --root '%s' --no-processes", &rc, ts_build_path("bin/hotpatch"),
		  pkg_args(), root);
	CU_ASSERT(out && strstr(out, "already"));
	free(out);

	/* Rollback: the originals, byte for byte; again: nothing to do. */
	out = ts_run_cmd("'%s' --json rollback KB916846 --disk --state-dir '%s'", &rc,
		  ts_build_path("bin/hotpatch"), state);
	CU_ASSERT(rc == 0 && out && strstr(out, "\"rolled back\"") && strstr(out, "\"changed\": true"));
	free(out);
	sha_of(ts_join(root, "usr/sbin/srv"), sha);
	CU_ASSERT_STRING_EQUAL(sha, srv0);
	sha_of(ts_join(root, "usr/lib/libmrxsmb.so"), sha);
	CU_ASSERT_STRING_EQUAL(sha, lib0);
	sha_of(ts_join(root, "usr/local/sbin/srv"), sha);
	CU_ASSERT_STRING_EQUAL(sha, old0);
	CU_ASSERT(stat(ts_join(root, "usr/sbin/srv"), &sb) == 0 && (sb.st_mode & 07777) == 0751);
	CU_ASSERT(xattr_kept(ts_join(root, "usr/sbin/srv"), xattrs));
	rc = rollback_disk(state, NULL, &out);
	CU_ASSERT(rc == 0 && out && strstr(out, "0 files rolled back"));
	free(out);
	check_behaviour(dir, root, false, false);

	/* Deterministic: a second apply gives the same bytes. */
	CU_ASSERT_EQUAL(apply_disk(root, state, NULL, NULL), 0);
	sha_of(ts_join(root, "usr/sbin/srv"), sha);
	CU_ASSERT_STRING_EQUAL(sha, srv1);
	sha_of(ts_join(root, "usr/lib/libmrxsmb.so"), sha);
	CU_ASSERT_STRING_EQUAL(sha, lib1);
	CU_ASSERT_EQUAL(rollback_disk(state, NULL, NULL), 0);
}

/* --disk --live together (what apply does without either): files first,
 * then processes; a process started from the cold-patched file is already
 * patched and never gets a second copy. Processes are named with --pid so
 * that no other test's process is touched. */
static void disk_and_live_together(void)
{
	const char *dir = ts_tmpdir(), *root, *state, *cli;
	char srv0[65], sha[65], *out;
	int port_a, port_b, rc;
	pid_t a, b;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	root = make_root(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	state = ts_join(dir, "state");
	write_confs(dir);
	cli = ts_build_path("targets/mrxsmb/%s/smbcli", MRX_ELIGIBLE);
	sha_of(ts_join(root, "usr/sbin/srv"), srv0);
	a = start_srv(dir, ts_join(root, "usr/sbin/srv"), "disabled", &port_a, false);
	CU_ASSERT_FATAL(a > 0);
	CU_ASSERT_EQUAL(connect_cli(dir, ts_join(root, "usr/bin/smbcli"), "required", port_a, false), 11);

	out = ts_run_cmd("'%s' apply %s --disk --live --pid %d --root '%s' --state-dir '%s'", &rc,
		  ts_build_path("bin/hotpatch"), pkg_args(), (int)a, root, state);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(out && strstr(out, "3 files changed") && strstr(out, "1 processes patched"));
	free(out);
	/* The running server switched; the patched client (from disk) too. */
	CU_ASSERT_EQUAL(connect_cli(dir, ts_join(root, "usr/bin/smbcli"), "required", port_a, false), 0);

	/* A server started now runs the patched file: already patched. */
	b = start_srv(dir, ts_join(root, "usr/sbin/srv"), "disabled", &port_b, false);
	CU_ASSERT_FATAL(b > 0);
	out = ts_run_cmd("'%s' --json apply %s --disk --live --pid %d --pid %d --root '%s' --state-dir '%s'",
		  &rc, ts_build_path("bin/hotpatch"), pkg_args(), (int)a, (int)b, root, state);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(out && strstr(out, "\"changed\": false") && !strstr(out, "\"patched\""));
	free(out);
	CU_ASSERT_EQUAL(connect_cli(dir, ts_join(root, "usr/bin/smbcli"), "required", port_b, false), 0);
	out = ts_run_cmd("'%s' rollback KB916846 --live --pid %d --state-dir '%s'", &rc,
		  ts_build_path("bin/hotpatch"), (int)b, state);
	CU_ASSERT(rc == 0 && out && strstr(out, "not applied"));
	free(out);

	/* Both back: the live process, then the files. */
	out = ts_run_cmd("'%s' rollback KB916846 --disk --live --pid %d --state-dir '%s'", &rc,
		  ts_build_path("bin/hotpatch"), (int)a, state);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(out && strstr(out, "1 processes rolled back") && strstr(out, "3 files rolled back"));
	free(out);
	CU_ASSERT_EQUAL(connect_cli(dir, cli, "required", port_a, false), 11);
	sha_of(ts_join(root, "usr/sbin/srv"), sha);
	CU_ASSERT_STRING_EQUAL(sha, srv0);
	CU_ASSERT_EQUAL(ts_stop(a, 3000), 0);
	CU_ASSERT_EQUAL(ts_stop(b, 3000), 0);
}

/* The one entry of the JSON status's array name, as pid (-1 if not one). */
static int only_pid(json_t *doc, const char *name, const char *path)
{
	json_t *arr = json_object_get(doc, name), *e = json_array_get(arr, 0);

	if (json_array_size(arr) != 1 || strcmp(json_string_value(json_object_get(e, "path")) ?: "", path) ||
	    strcmp(json_string_value(json_object_get(e, "package")) ?: "", "KB916846"))
		return -1;
	return (int)json_integer_value(json_object_get(e, "pid"));
}

/* A process started from a cold-patched file carries no record of its own:
 * status names it "patched on disk (started from the patched file)", apart
 * from a process started before the apply, which runs an older copy. After
 * rollback --disk the file is the original again and status no longer names
 * the process, which runs the fixed code until it is restarted. */
static void status_names_processes_started_patched(void)
{
	const char *dir = ts_tmpdir(), *root, *state, *srv, *fixed_cli;
	char line[8192], *out;
	int port_old, port_new, rc;
	pid_t old, new;
	json_t *doc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	root = make_root(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	state = ts_join(dir, "state");
	srv = ts_join(root, "usr/sbin/srv");
	fixed_cli = ts_build_path("targets/mrxsmb/%s/smbcli", MRX_FIXED);
	write_confs(dir);
	old = start_srv(dir, srv, "disabled", &port_old, false);
	CU_ASSERT_FATAL(old > 0);
	CU_ASSERT_EQUAL_FATAL(apply_disk(root, state, NULL, NULL), 0);
	new = start_srv(dir, srv, "disabled", &port_new, false);
	CU_ASSERT_FATAL(new > 0);
	CU_ASSERT_EQUAL(connect_cli(dir, fixed_cli, "required", port_new, false), 0);
	CU_ASSERT_EQUAL(connect_cli(dir, fixed_cli, "required", port_old, false), 11);

	out = ts_run_cmd("'%s' status --state-dir '%s'", &rc, ts_build_path("bin/hotpatch"), state);
	CU_ASSERT_EQUAL(rc, 0);
	snprintf(line, sizeof(line),
		 "\n  pid %d (srv) %s: KB916846 patched on disk (started from the patched file)\n",
		 (int)new, srv);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, line));
	snprintf(line, sizeof(line), "\n  pid %d (srv) %s (KB916846; or patch it live)\n", (int)old,
		 srv);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, line));
	snprintf(line, sizeof(line), "pid %d (srv) %s: KB916846 patched on disk", (int)old, srv);
	CU_ASSERT_PTR_NULL(out ? strstr(out, line) : NULL);
	free(out);
	out = ts_run_cmd("'%s' --json status --state-dir '%s'", &rc, ts_build_path("bin/hotpatch"),
			 state);
	CU_ASSERT_EQUAL(rc, 0);
	doc = out ? json_loads(out, 0, NULL) : NULL;
	CU_ASSERT_PTR_NOT_NULL(doc);
	CU_ASSERT_EQUAL(only_pid(doc, "started_from_patched", srv), (int)new);
	CU_ASSERT_EQUAL(only_pid(doc, "stale_processes", srv), (int)old);
	json_decref(doc);
	free(out);

	CU_ASSERT_EQUAL(rollback_disk(state, NULL, NULL), 0);
	/* Restored on disk, unchanged in memory: fixed until restarted. */
	CU_ASSERT_EQUAL(connect_cli(dir, fixed_cli, "required", port_new, false), 0);
	out = ts_run_cmd("'%s' status --state-dir '%s'", &rc, ts_build_path("bin/hotpatch"), state);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NULL(out ? strstr(out, "started from the patched file") : NULL);
	free(out);
	CU_ASSERT_EQUAL(ts_stop(old, 3000), 0);
	CU_ASSERT_EQUAL(ts_stop(new, 3000), 0);
	/* A restart runs the original again. */
	new = start_srv(dir, srv, "disabled", &port_new, false);
	CU_ASSERT_FATAL(new > 0);
	CU_ASSERT_EQUAL(connect_cli(dir, fixed_cli, "required", port_new, false), 11);
	CU_ASSERT_EQUAL(ts_stop(new, 3000), 0);
}

static void patched_runs_clean_under_valgrind(void)
{
	const char *dir = ts_tmpdir(), *root;
	int rc;
	char *out;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	out = ts_run_cmd("command -v valgrind", &rc);
	free(out);
	if (rc) {
		CU_FAIL("valgrind is not installed");
		return;
	}
	root = make_root(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	write_confs(dir);
	CU_ASSERT_EQUAL_FATAL(apply_disk(root, ts_join(dir, "state"), NULL, NULL), 0);
	check_behaviour(dir, root, true, true);
}

/* The file is exactly one of two contents. */
static bool one_of(const char *path, const char *a, const char *b)
{
	char sha[65];

	sha_of(path, sha);
	if (!strcmp(sha, a) || !strcmp(sha, b))
		return true;
	fprintf(stderr, "%s: SHA-256 %s is neither %s nor %s\n", path, sha, a, b);
	return false;
}

/* Kill apply and rollback at each step, on the files paths[0..n) of root:
 * each is always its original or its result, and the next run completes
 * what the killed one left. */
static void kill_everywhere(const char *dir, const char *root, const char *const *paths, size_t n)
{
	static const char *const apply_steps[] = {
		"disk-built", "disk-backed-up", "disk-intent", "atomic-created", "atomic-partial",
		"atomic-written", "atomic-synced", "atomic-renamed", "atomic-done", "disk-replaced",
	};
	static const char *const rollback_steps[] = {
		"disk-rb-intent", "atomic-created", "atomic-partial", "atomic-written",
		"atomic-synced", "atomic-renamed", "atomic-done", "disk-restored",
	};
	const char *state = ts_join(dir, "state");
	char orig[4][65], done[4][65], sha[65];
	size_t i, k;
	int rc;

	CU_ASSERT_FATAL(n <= 4);
	for (k = 0; k < n; k++)
		sha_of(paths[k], orig[k]);
	CU_ASSERT_EQUAL_FATAL(apply_disk(root, state, NULL, NULL), 0);
	for (k = 0; k < n; k++) {
		sha_of(paths[k], done[k]);
		CU_ASSERT_STRING_NOT_EQUAL(done[k], orig[k]);
	}
	CU_ASSERT_EQUAL_FATAL(rollback_disk(state, NULL, NULL), 0);

	for (i = 0; i < (sizeof(apply_steps) / sizeof(apply_steps[0])); i++) {
		rc = apply_disk(root, state, apply_steps[i], NULL);
		CU_ASSERT_EQUAL(rc, 128 + SIGKILL);
		for (k = 0; k < n; k++)
			CU_ASSERT(one_of(paths[k], orig[k], done[k]));
		/* The next run completes it, whatever was left. */
		CU_ASSERT_EQUAL(apply_disk(root, state, NULL, NULL), 0);
		for (k = 0; k < n; k++) {
			sha_of(paths[k], sha);
			CU_ASSERT_STRING_EQUAL(sha, done[k]);
		}
		/* The journal knows it is applied: rollback finds it. */
		CU_ASSERT_EQUAL(rollback_disk(state, NULL, NULL), 0);
		for (k = 0; k < n; k++) {
			sha_of(paths[k], sha);
			CU_ASSERT_STRING_EQUAL(sha, orig[k]);
		}
	}
	for (i = 0; i < (sizeof(rollback_steps) / sizeof(rollback_steps[0])); i++) {
		CU_ASSERT_EQUAL(apply_disk(root, state, NULL, NULL), 0);
		rc = rollback_disk(state, rollback_steps[i], NULL);
		CU_ASSERT_EQUAL(rc, 128 + SIGKILL);
		for (k = 0; k < n; k++)
			CU_ASSERT(one_of(paths[k], orig[k], done[k]));
		CU_ASSERT_EQUAL(rollback_disk(state, NULL, NULL), 0);
		for (k = 0; k < n; k++) {
			sha_of(paths[k], sha);
			CU_ASSERT_STRING_EQUAL(sha, orig[k]);
		}
	}
}

static void killed_at_every_step(void)
{
	const char *dir = ts_tmpdir(), *root, *paths[3];

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	root = make_root(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	paths[0] = ts_join(root, "usr/lib/libmrxsmb.so");
	paths[1] = ts_join(root, "usr/local/sbin/srv");
	paths[2] = ts_join(root, "usr/sbin/srv");
	kill_everywhere(dir, root, paths, 3);
}

/* The same with only a file a full build replaces, so that every fault
 * point is reached on the full build's path. */
static void full_build_killed_at_every_step(void)
{
	const char *dir = ts_tmpdir(), *root, *path;
	char *out;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	root = ts_join(dir, "root");
	path = ts_join(root, "usr/sbin/srv");
	out = ts_run_cmd("mkdir -p '%s/usr/sbin' && cp '%s' '%s'", &rc, root,
			 ts_build_path("targets/srv/%s/srv", SRV_OLD), path);
	free(out);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	kill_everywhere(dir, root, &path, 1);
}

/* ---- full and read-only file systems ------------------------------------ */

/* Mounts made by this test stay in a mount namespace of its own (the
 * hotpatch processes it starts inherit it). */
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

/* A root on a small tmpfs of its own, the state directory outside it. */
static const char *tmpfs_root(const char *dir, const char *size)
{
	const char *mnt = ts_join(dir, "mnt");
	char opts[64];

	snprintf(opts, sizeof(opts), "size=%s,mode=0755", size);
	if (mkdir(mnt, 0755) < 0 || mount("tmpfs", mnt, "tmpfs", 0, opts) < 0) {
		CU_FAIL("cannot mount a tmpfs");
		return NULL;
	}
	return make_root(mnt) ? mnt : NULL;
}

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
	const char *dir = ts_tmpdir(), *mnt, *root, *srv;
	char srv0[65], sha[65], *out;
	int rc;

	if (!private_mounts()) {
		CU_FAIL("a private mount namespace is needed (run as root)");
		return;
	}
	mnt = tmpfs_root(dir, "1m");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mnt);
	root = ts_join(mnt, "root");
	srv = ts_join(root, "usr/sbin/srv");
	sha_of(srv, srv0);
	fill(mnt);
	rc = apply_disk(root, ts_join(dir, "state"), NULL, &out);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(out && strstr(out, strerror(ENOSPC)) && strstr(out, "usr/sbin/srv"));
	free(out);
	sha_of(srv, sha);
	CU_ASSERT_STRING_EQUAL(sha, srv0);
	out = ts_run_cmd("ls -a '%s/usr/sbin' '%s/usr/lib'", &rc, root, root);
	CU_ASSERT(out && !strstr(out, ".hp"));
	free(out);
	/* Room again: the same command completes. */
	CU_ASSERT(unlink(ts_join(mnt, "filler")) == 0);
	CU_ASSERT_EQUAL(apply_disk(root, ts_join(dir, "state"), NULL, NULL), 0);
	CU_ASSERT_EQUAL(rollback_disk(ts_join(dir, "state"), NULL, NULL), 0);
	sha_of(srv, sha);
	CU_ASSERT_STRING_EQUAL(sha, srv0);
	CU_ASSERT_EQUAL(umount2(mnt, MNT_DETACH), 0);
}

static void read_only_file_system_loses_nothing(void)
{
	const char *dir = ts_tmpdir(), *mnt, *root, *srv;
	char srv0[65], sha[65], *out;
	int rc;

	if (!private_mounts()) {
		CU_FAIL("a private mount namespace is needed (run as root)");
		return;
	}
	mnt = tmpfs_root(dir, "2m");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mnt);
	root = ts_join(mnt, "root");
	srv = ts_join(root, "usr/sbin/srv");
	sha_of(srv, srv0);
	CU_ASSERT_EQUAL_FATAL(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
	rc = apply_disk(root, ts_join(dir, "state"), NULL, &out);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(out && strstr(out, strerror(EROFS)) && strstr(out, "usr/sbin/srv"));
	free(out);
	sha_of(srv, sha);
	CU_ASSERT_STRING_EQUAL(sha, srv0);
	/* Patched, then the file system turned read-only: rollback says why
	 * it cannot, and the patched file stays whole. */
	CU_ASSERT_EQUAL(mount(NULL, mnt, NULL, MS_REMOUNT, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(apply_disk(root, ts_join(dir, "state"), NULL, NULL), 0);
	sha_of(srv, sha);
	CU_ASSERT_EQUAL_FATAL(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
	{
		char patched[65];

		memcpy(patched, sha, sizeof(patched));
		rc = rollback_disk(ts_join(dir, "state"), NULL, &out);
		CU_ASSERT_EQUAL(rc, 1);
		CU_ASSERT(out && strstr(out, strerror(EROFS)));
		free(out);
		sha_of(srv, sha);
		CU_ASSERT_STRING_EQUAL(sha, patched);
	}
	CU_ASSERT_EQUAL(mount(NULL, mnt, NULL, MS_REMOUNT, NULL), 0);
	CU_ASSERT_EQUAL(rollback_disk(ts_join(dir, "state"), NULL, NULL), 0);
	sha_of(srv, sha);
	CU_ASSERT_STRING_EQUAL(sha, srv0);
	CU_ASSERT_EQUAL(umount2(mnt, MNT_DETACH), 0);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "apply --disk, run, apply again, rollback (srv, libmrxsmb.so)", apply_run_rollback },
		{ "--disk --live together: files first, new processes already patched", disk_and_live_together },
		{ "status names processes started from the patched file", status_names_processes_started_patched },
		{ "cold-patched srv and smbcli under valgrind", patched_runs_clean_under_valgrind },
		{ "killed at every step of apply and rollback: original or patched", killed_at_every_step },
		{ "full build killed at every step of apply and rollback: original or replaced",
		  full_build_killed_at_every_step },
		{ "full disk: clear error, nothing lost", full_disk_loses_nothing },
		{ "read-only file system: clear error, nothing lost", read_only_file_system_loses_nothing },
		{ NULL, NULL },
	};

	ts_add_suite("disk", tests);
}
