/* hotpatch verify, the dry run, against real targets: the package `make
 * package` built, the srv and mrxsmb builds of every version installed in
 * a staged root, and real srv servers and smbcli load clients running on
 * loopback. Eligible files and processes would patch (functions and
 * addresses), the others would be replaced by the package's fixed full
 * build (files) or need a restart (processes), or, in a package carrying
 * no full build, are not eligible with their version; an eligible
 * build whose function bytes differ is refused, in text and JSON; nothing
 * is changed, and the processes keep running untraced. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "hotpatch.h"
#include "snapshot.h"
#include "support.h"

#define SRV_OLD "5.2.3790.1830"   /* not eligible */
#define SRV_A "5.2.3790.2437"     /* eligible */
#define SRV_B "5.2.3790.2691"     /* eligible */
#define MRX_OLD "5.2.3790.1218"   /* not eligible */
#define MRX_A "5.2.3790.1830"     /* eligible */
#define MRX_B "5.2.3790.2697"     /* eligible */

static char *run_out, *run_err;

/* Run hotpatch verify on the package whose manifest is manifest with key
 * and args. */
static int verify_with(const char *manifest, const char *key, const char *args)
{
	char *cmd = NULL;
	int rc;

	free(run_out);
	free(run_err);
	run_out = run_err = NULL;
	if (asprintf(&cmd, "'%s' verify '%s' --trusted-key '%s' %s", ts_build_path("bin/hotpatch"),
		     manifest, key, args) < 0)
		return -1;
	rc = ts_sh(cmd, &run_out, &run_err);
	free(cmd);
	return rc;
}

/* Run hotpatch verify on the built package with the vendor key and args. */
static int verify(const char *args)
{
	return verify_with(ts_build_path("packages/KB916846/manifest.json"),
			   ts_build_path("keys/vendor.pub"), args);
}

static void show(int rc, int want)
{
	if (rc != want)
		fprintf(stderr, "exit %d, want %d\nstdout:\n%s\nstderr:\n%s\n", rc, want, run_out, run_err);
}

static bool has(const char *text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool has(const char *text, const char *fmt, ...)
{
	char want[1024];
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	ok = text && strstr(text, want);
	if (!ok)
		fprintf(stderr, "missing: %s\n", want);
	return ok;
}

static void install(const char *root, const char *rel, const char *built)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s/%s')\" && cp -p '%s' '%s/%s'", root, rel,
		 ts_build_path("%s", built), root, rel);
	CU_ASSERT_EQUAL_FATAL(ts_sh(cmd, NULL, NULL), 0);
}

static void staged_root(void)
{
	const char *root = ts_tmpdir();
	struct ts_snapshot *a, *b, *c;
	char cmd[4096];
	int rc;

	install(root, "usr/sbin/srv", "targets/srv/" SRV_A "/srv");
	install(root, "usr/local/sbin/srv", "targets/srv/" SRV_OLD "/srv");
	install(root, "usr/lib/libmrxsmb.so.1", "targets/mrxsmb/" MRX_B "/libmrxsmb.so");
	snprintf(cmd, sizeof(cmd), "ln -s libmrxsmb.so.1 '%s/usr/lib/libmrxsmb.so'", root);
	CU_ASSERT_EQUAL_FATAL(ts_sh(cmd, NULL, NULL), 0);
	a = ts_snapshot_take(ts_build_path("%s/usr/sbin", root + strlen(ts_build_dir()) + 1));
	b = ts_snapshot_take(ts_build_path("%s/usr/local/sbin", root + strlen(ts_build_dir()) + 1));
	c = ts_snapshot_take(ts_build_path("%s/usr/lib", root + strlen(ts_build_dir()) + 1));

	snprintf(cmd, sizeof(cmd), "--root '%s' --no-processes", root);
	rc = verify(cmd);
	show(rc, 0);
	/* Eligible beside not eligible: reported, and still success. */
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(has(run_out, "%s/usr/sbin/srv: srv " SRV_A ": would patch", root));
	CU_ASSERT(has(run_out, "srv_negotiate_signing at 0x"));
	CU_ASSERT(has(run_out, "(link-time)"));
	CU_ASSERT(has(run_out, "%s/usr/local/sbin/srv: srv " SRV_OLD
		      ": would replace with the fixed full build 5.2.3790.2734", root));
	CU_ASSERT(has(run_out, "mrxsmb " MRX_B ": would patch"));
	CU_ASSERT(has(run_out, "mrx_negotiate_flags2 at 0x"));
	CU_ASSERT(has(run_out, "mrx_negotiate_signing at 0x"));
	/* The library and the symlink to it are one file. */
	CU_ASSERT(has(run_out, "2 would patch, 1 would replace, 0 would need a restart, "
		      "0 not eligible, 0 already patched, 0 refused, 0 errors"));
	CU_ASSERT(ts_snapshot_same(a));
	CU_ASSERT(ts_snapshot_same(b));
	CU_ASSERT(ts_snapshot_same(c));
	ts_snapshot_free(a);
	ts_snapshot_free(b);
	ts_snapshot_free(c);
}

/* The package without its full builds (the same manifest with
 * "full_builds" taken out, signed with a key of the test's own). */
static const char *package_without_full_builds(const char **key)
{
	const char *dir = ts_tmpdir();
	char path[4096], *cmd = NULL;
	json_t *m, *c;
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	CU_ASSERT_FATAL(asprintf(&cmd, "cp '%s'/*.hpc '%s'/ && '%s' keygen -s '%s/k.key' -p '%s/k.pub' "
				 ">/dev/null", ts_build_path("packages/KB916846"), dir,
				 ts_build_path("bin/hotpatch"), dir, dir) > 0);
	CU_ASSERT_EQUAL_FATAL(ts_sh(cmd, NULL, NULL), 0);
	free(cmd);
	m = json_load_file(ts_build_path("packages/KB916846/manifest.json"), JSON_PRESERVE_ORDER, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	json_array_foreach(json_object_get(m, "components"), i, c)
		json_object_del(c, "full_builds");
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	CU_ASSERT_EQUAL_FATAL(json_dump_file(m, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER), 0);
	json_decref(m);
	CU_ASSERT_FATAL(asprintf(&cmd, "'%s' sign -s '%s/k.key' '%s' >/dev/null",
				 ts_build_path("bin/hotpatch"), dir, path) > 0);
	CU_ASSERT_EQUAL_FATAL(ts_sh(cmd, NULL, NULL), 0);
	free(cmd);
	*key = ts_build_path_raw(dir, "k.pub");
	return ts_build_path_raw(dir, "manifest.json");
}

/* Only builds the hotpatch was not built for: each would be replaced by
 * the fixed full build (exit 0); with a package carrying none, each is not
 * eligible, with its version (exit 3). */
static void only_not_eligible(void)
{
	const char *manifest, *key;
	char args[4096];
	int rc;

	snprintf(args, sizeof(args), "--no-processes '%s' '%s'",
		 ts_build_path("targets/srv/" SRV_OLD "/srv"),
		 ts_build_path("targets/mrxsmb/" MRX_OLD "/libmrxsmb.so"));
	rc = verify(args);
	show(rc, 0);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(has(run_out, "srv " SRV_OLD ": would replace with the fixed full build"));
	CU_ASSERT(has(run_out, "mrxsmb " MRX_OLD ": would replace with the fixed full build"));

	manifest = package_without_full_builds(&key);
	rc = verify_with(manifest, key, args);
	show(rc, 3);
	CU_ASSERT_EQUAL(rc, 3);
	CU_ASSERT(has(run_out, "srv " SRV_OLD ": not eligible (version " SRV_OLD " of srv"));
	CU_ASSERT(has(run_out, "mrxsmb " MRX_OLD ": not eligible (version " MRX_OLD " of mrxsmb"));
}

/* An eligible build with one byte changed inside the replaced function:
 * run-pre matching refuses it, exit 5, and the file is left as it was. */
static void fingerprint_mismatch(void)
{
	const char *dir = ts_tmpdir();
	const struct hp_symbol *sym;
	const struct hp_segment *seg;
	struct ts_snapshot *snap;
	struct hp_elf *elf;
	char path[4096], args[4200];
	size_t len;
	char *data;
	int rc;

	snprintf(path, sizeof(path), "%s/srv", dir);
	data = ts_read_file(ts_build_path("targets/srv/" SRV_B "/srv"), &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	elf = hp_elf__open(ts_build_path("targets/srv/" SRV_B "/srv"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(elf);
	sym = hp_elf__find_symbol(elf, "srv_negotiate_signing");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sym);
	seg = hp_elf__segment_at(elf, sym->value);
	CU_ASSERT_PTR_NOT_NULL_FATAL(seg);
	/* Past the entry window: the function still analyses as patchable,
	 * only its bytes differ from what the patch was built against. */
	data[sym->value - seg->vaddr + seg->offset + sym->size - 2] ^= 0x01;
	hp_elf__close(elf);
	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, data, len), 0);
	free(data);
	snap = ts_snapshot_take(dir);

	snprintf(args, sizeof(args), "--no-processes '%s'", path);
	rc = verify(args);
	show(rc, 5);
	CU_ASSERT_EQUAL(rc, 5);
	CU_ASSERT(has(run_out, "srv " SRV_B ": refused: srv_negotiate_signing: bytes do not match the "
			       "fingerprint of version " SRV_B));
	CU_ASSERT(has(run_err, "verify: %s: srv_negotiate_signing: bytes do not match", path));
	CU_ASSERT(ts_snapshot_same(snap));
	ts_snapshot_free(snap);
}

/* An eligible build whose replaced function already starts with a jump
 * out of it (as an on-disk patch leaves it): already patched, exit 0. */
static void already_patched(void)
{
	const char *dir = ts_tmpdir();
	const struct hp_symbol *sym;
	const struct hp_segment *seg;
	struct hp_func_report rep;
	struct hp_elf *elf;
	char path[4096], args[4200];
	int32_t rel;
	size_t len, off;
	char *data;
	int rc;

	snprintf(path, sizeof(path), "%s/srv", dir);
	data = ts_read_file(ts_build_path("targets/srv/" SRV_A "/srv"), &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	elf = hp_elf__open(ts_build_path("targets/srv/" SRV_A "/srv"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(elf);
	sym = hp_elf__find_symbol(elf, "srv_negotiate_signing");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sym);
	CU_ASSERT_EQUAL_FATAL(hp_func__analyze(elf, sym, &rep), 0);
	seg = hp_elf__segment_at(elf, sym->value);
	CU_ASSERT_PTR_NOT_NULL_FATAL(seg);
	/* jmp rel32 to 64 KiB below the function, where a payload segment
	 * could be. */
	off = sym->value - seg->vaddr + seg->offset + rep.patch_offset;
	rel = (int32_t)(-0x10000 - (int32_t)(rep.patch_offset + 5));
	data[off] = (char)0xe9;
	memcpy(data + off + 1, &rel, 4);
	hp_elf__close(elf);
	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, data, len), 0);
	free(data);

	snprintf(args, sizeof(args), "--no-processes '%s'", path);
	rc = verify(args);
	show(rc, 0);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(has(run_out, "srv " SRV_A ": already-patched: a jump at the entry of every replaced function"));
	CU_ASSERT(has(run_out, "0 would patch, 0 would replace, 0 would need a restart, "
		      "0 not eligible, 1 already patched"));
}

/* ---- running processes ---- */

static pid_t pids[6];
static int ports[3];

static bool maps_library(pid_t pid, int timeout_ms)
{
	char path[64], line[4096];
	int waited;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	for (waited = 0; waited < timeout_ms; waited += 20) {
		FILE *f = fopen(path, "r");
		bool found = false;

		while (f && !found && fgets(line, sizeof(line), f))
			found = strstr(line, "/libmrxsmb.so") != NULL;
		if (f)
			fclose(f);
		if (found)
			return true;
		usleep(20 * 1000);
	}
	return false;
}

static void start_processes(const char *dir)
{
	static const char *const srv[3] = { SRV_OLD, SRV_A, SRV_B };
	static const char *const mrx[3] = { MRX_OLD, MRX_A, MRX_B };
	static const char sconf_text[] = "EnableSecuritySignature=0\nRequireSecuritySignature=0\n";
	static const char cconf_text[] = "EnableSecuritySignature=1\nRequireSecuritySignature=0\n";
	char conf[4096], cconf[4096], share[4096], listen[64], server[64], *bin;
	int i;

	snprintf(conf, sizeof(conf), "%s/lanmanserver.conf", dir);
	snprintf(cconf, sizeof(cconf), "%s/lanmanworkstation.conf", dir);
	snprintf(share, sizeof(share), "%s/share", dir);
	CU_ASSERT_EQUAL_FATAL(mkdir(share, 0755), 0);
	CU_ASSERT_EQUAL_FATAL(ts_write_file(conf, sconf_text, strlen(sconf_text)), 0);
	CU_ASSERT_EQUAL_FATAL(ts_write_file(cconf, cconf_text, strlen(cconf_text)), 0);
	for (i = 0; i < 3; i++) {
		ports[i] = ts_free_port();
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", ports[i]);
		bin = strdup(ts_build_path("targets/srv/%s/srv", srv[i]));
		{
			char *argv[] = { bin, "--listen", listen, "--config", conf, "--share", share,
					 "--threads", "4", NULL };

			pids[i] = ts_spawn(argv, NULL);
		}
		free(bin);
		CU_ASSERT_FATAL(ts_wait_port(ports[i], 5000));
	}
	for (i = 0; i < 3; i++) {
		snprintf(server, sizeof(server), "127.0.0.1:%d", ports[1]);
		bin = strdup(ts_build_path("targets/mrxsmb/%s/smbcli", mrx[i]));
		{
			char *argv[] = { bin, "load", "--server", server, "--config", cconf, "--clients",
					 "2", "--duration", "60", NULL };

			pids[3 + i] = ts_spawn(argv, NULL);
		}
		free(bin);
	}
	/* The loader maps libmrxsmb.so before smbcli's main(); wait for it. */
	for (i = 3; i < 6; i++)
		CU_ASSERT(maps_library(pids[i], 5000));
}

static void stop_processes(void)
{
	int i;

	for (i = 0; i < 6; i++) {
		if (pids[i] > 0)
			ts_stop(pids[i], 3000);
		pids[i] = 0;
	}
}

static bool untraced_and_alive(pid_t pid)
{
	char path[64], line[256];
	bool ok = false;
	FILE *f;

	/* /proc files have no size: read them as streams. */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "TracerPid:", 10))
			ok = atoi(line + 10) == 0;
	fclose(f);
	return ok && kill(pid, 0) == 0;
}

static void processes_text_and_json(void)
{
	const char *dir = ts_tmpdir();
	char args[1024];
	json_t *doc = NULL, *targets, *t;
	json_error_t jerr;
	size_t i, would = 0, not_eligible = 0;
	int rc;

	start_processes(dir);
	snprintf(args, sizeof(args), "--root '%s' --pid %d --pid %d --pid %d --pid %d --pid %d --pid %d",
		 dir, pids[0], pids[1], pids[2], pids[3], pids[4], pids[5]);
	rc = verify(args);
	show(rc, 0);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(has(run_out, "pid %d (srv): %s: srv " SRV_OLD ": needs a restart (not eligible",
		      pids[0], ts_build_path("targets/srv/" SRV_OLD "/srv")));
	CU_ASSERT(has(run_out, "pid %d (srv): %s: srv " SRV_A ": would patch", pids[1],
		      ts_build_path("targets/srv/" SRV_A "/srv")));
	CU_ASSERT(has(run_out, "pid %d (srv): %s: srv " SRV_B ": would patch", pids[2],
		      ts_build_path("targets/srv/" SRV_B "/srv")));
	CU_ASSERT(has(run_out, "pid %d (smbcli): %s: mrxsmb " MRX_OLD ": needs a restart", pids[3],
		      ts_build_path("targets/mrxsmb/" MRX_OLD "/libmrxsmb.so")));
	CU_ASSERT(has(run_out, "pid %d (smbcli): %s: mrxsmb " MRX_A ": would patch", pids[4],
		      ts_build_path("targets/mrxsmb/" MRX_A "/libmrxsmb.so")));
	CU_ASSERT(has(run_out, "pid %d (smbcli): %s: mrxsmb " MRX_B ": would patch", pids[5],
		      ts_build_path("targets/mrxsmb/" MRX_B "/libmrxsmb.so")));
	CU_ASSERT(has(run_out, "(runtime)"));
	CU_ASSERT(has(run_out, "4 would patch, 0 would replace, 2 would need a restart, "
		      "0 not eligible, 0 already patched, 0 refused, 0 errors"));

	rc = verify(strcat(args, " --json"));
	show(rc, 0);
	CU_ASSERT_EQUAL(rc, 0);
	doc = json_loads(run_out ? run_out : "", 0, &jerr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	CU_ASSERT(json_is_false(json_object_get(doc, "changed")));
	CU_ASSERT(json_is_true(json_object_get(json_object_get(json_object_get(doc, "package"),
							       "signature"), "verified")));
	targets = json_object_get(doc, "targets");
	CU_ASSERT_EQUAL(json_array_size(targets), 6);
	json_array_foreach(targets, i, t) {
		const char *v = json_string_value(json_object_get(t, "verdict"));
		json_t *funcs = json_object_get(t, "functions"), *f;
		size_t j;

		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(t, "kind")), "process");
		if (v && !strcmp(v, "would-patch")) {
			would++;
			CU_ASSERT(json_array_size(funcs) >= 1);
			json_array_foreach(funcs, j, f) {
				const char *addr = json_string_value(json_object_get(f, "address"));

				CU_ASSERT(addr && !strncmp(addr, "0x", 2) && strtoull(addr, NULL, 16) > 0x10000);
				CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "address_space")),
						       "runtime");
				CU_ASSERT(json_is_true(json_object_get(f, "fingerprint_ok")));
			}
		} else if (v && !strcmp(v, "needs-restart")) {
			not_eligible++;
			CU_ASSERT(json_is_true(json_object_get(t, "restart_required")));
			CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(t, "reason")),
						      json_string_value(json_object_get(t, "version"))));
		}
	}
	CU_ASSERT_EQUAL(would, 4);
	CU_ASSERT_EQUAL(not_eligible, 2);
	json_decref(doc);

	/* Without --pid every process of the machine is looked at; ours are
	 * among them. The exit code depends on whatever else runs on the
	 * machine (another run's patched or modified processes), so only what
	 * is said about ours is checked. */
	snprintf(args, sizeof(args), "--root '%s'", dir);
	rc = verify(args);
	CU_ASSERT(rc >= 0 && rc != 2);
	CU_ASSERT(has(run_out, "pid %d (srv): %s: srv " SRV_A ": would patch", pids[1],
		      ts_build_path("targets/srv/" SRV_A "/srv")));
	CU_ASSERT(has(run_out, "pid %d (smbcli): %s: mrxsmb " MRX_B ": would patch", pids[5],
		      ts_build_path("targets/mrxsmb/" MRX_B "/libmrxsmb.so")));

	/* Nothing was done to them. */
	for (i = 0; i < 6; i++)
		CU_ASSERT(untraced_and_alive(pids[i]));
	stop_processes();
}

static void a_pid_that_maps_nothing(void)
{
	char args[256];
	int rc;

	snprintf(args, sizeof(args), "--root '%s' --pid %d", ts_tmpdir(), (int)getpid());
	rc = verify(args);
	show(rc, 1);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(has(run_out, "maps no file of KB916846"));
}

static void cleanup(void)
{
	stop_processes();
	free(run_out);
	free(run_err);
	run_out = run_err = NULL;
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "a staged root: eligible, not eligible, one file behind a symlink", staged_root },
		{ "only not-eligible targets: exit 3 with their versions", only_not_eligible },
		{ "function bytes differing from the fingerprint: refused, exit 5", fingerprint_mismatch },
		{ "a jump out of the function: already patched", already_patched },
		{ "srv and smbcli processes, text and JSON, untouched", processes_text_and_json },
		{ "a pid mapping no component is an error", a_pid_that_maps_nothing },
		{ "cleanup", cleanup },
		{ NULL, NULL },
	};

	ts_add_suite("verify", tests);
}
