/* `hotpatch inspect` end to end: the real CLI on real system files, on the
 * fixtures and on the srv/mrxsmb vendor builds, text and --json; its errors
 * and exit codes; and `inspect --pid` of a running srv whose file is
 * replaced on disk after it started, which must report what is mapped. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "hotpatch.h"
#include "support.h"

/* Run hotpatch with args; returns the exit status, output in out and err. */
static int hotpatch(char **out, char **err, const char *a1, const char *a2, const char *a3,
		    const char *a4, const char *a5, const char *a6)
{
	char *argv[] = { (char *)ts_build_path("bin/hotpatch"), (char *)a1, (char *)a2,
			 (char *)a3, (char *)a4, (char *)a5, (char *)a6, NULL };

	return ts_run(argv, NULL, out, err);
}

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text ? text : "", 0, &e);

	if (!j)
		fprintf(stderr, "not JSON (%s): %.300s\n", e.text, text ? text : "(null)");
	return j;
}

static json_t *find_function(json_t *doc, const char *name)
{
	json_t *arr = json_object_get(doc, "functions"), *f;
	size_t i;

	json_array_foreach(arr, i, f)
		if (!strcmp(json_string_value(json_object_get(f, "name")), name))
			return f;
	return NULL;
}

static void system_files(void)
{
	const char *files[] = { "/usr/lib/x86_64-linux-gnu/libz.so.1", ts_build_path("bin/hotpatch") };
	size_t i;

	for (i = 0; i < 2; i++) {
		char *out = NULL, *err = NULL, hex[65];
		json_t *doc;

		CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", files[i], "--all-functions", NULL,
					 NULL, NULL), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "summary: "));
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "build-id:"));
		free(out);
		free(err);
		CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", files[i], "--json", "--all-functions",
					 NULL, NULL), 0);
		doc = parse(out);
		CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
		CU_ASSERT(json_is_false(json_object_get(doc, "changed")));
		hp_sha256_file(files[i], hex);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "sha256")), hex);
		CU_ASSERT(json_array_size(json_object_get(doc, "functions")) > 10);
		CU_ASSERT(json_integer_value(json_object_get(json_object_get(doc, "summary"),
							    "patchable")) > 10);
		json_decref(doc);
		free(out);
		free(err);
	}
}

static void fixture_verdicts_in_json(void)
{
	static const struct { const char *name, *reason; } want[] = {
		{ "fn_two", "too-short" }, { "fn_four", "too-short" },
		{ "fn_short_int3", "ok" }, { "fn_loop_back", "branch-into-window" },
		{ "fn_bad", "bad-instruction" }, { "fn_nosize", "no-size" },
		{ "fn_in_data", "not-code" }, { "fn_endbr", "ok" },
	};
	char *out = NULL, *err = NULL;
	json_t *doc, *f;
	size_t i;

	CU_ASSERT_EQUAL(hotpatch(&out, &err, "--json", "inspect", ts_build_path("fixtures/fx_pie"),
				 "--all-functions", NULL, NULL), 0);
	doc = parse(out);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "type")), "pie-executable");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
		json_object_get(doc, "package"), "version")), "1.2.3");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		f = find_function(doc, want[i].name);
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "reason")), want[i].reason);
		CU_ASSERT_EQUAL(json_is_true(json_object_get(f, "patchable")),
				!strcmp(want[i].reason, "ok"));
	}
	f = find_function(doc, "fn_endbr");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(f, "patch_offset")), 4);
	json_decref(doc);
	free(out);
	free(err);

	/* the text form says the same */
	CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", ts_build_path("fixtures/fx_exec"), "-s",
				 "fn_loop_back", "--symbol", "fn_call_window"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "fn_loop_back 0x"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "not patchable: branch-into-window (fn_loop_back+0x8 "
					   "jumps to fn_loop_back+0x2)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "matters to a stopped thread"));
	free(out);
	free(err);
}

static void errors_and_exit_codes(void)
{
	char *out = NULL, *err = NULL;

	CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", "--bogus", "x", NULL, NULL, NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown option '--bogus'"));
	free(out), free(err);
	CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", NULL, NULL, NULL, NULL, NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "missing FILE"));
	free(out), free(err);
	CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", "--pid", "12x", NULL, NULL, NULL), 2);
	free(out), free(err);
	CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", "/nonexistent/srv", NULL, NULL, NULL, NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/srv: No such file or directory"));
	CU_ASSERT_STRING_EQUAL(out, "");
	free(out), free(err);
	CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", "--json", "/etc/passwd", NULL, NULL, NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/etc/passwd: not an ELF file"));
	CU_ASSERT_STRING_EQUAL(out, "");
	free(out), free(err);
	CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", ts_build_path("fixtures/fx_exec"), "-s",
				 "no_such_fn", NULL, NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no symbol 'no_such_fn'"));
	free(out), free(err);
	CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", "--pid", "99999999999", NULL, NULL, NULL), 2);
	free(out), free(err);
	/* a pid that cannot exist (beyond pid_max) */
	CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", "--pid", "4194305", NULL, NULL, NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "pid 4194305"));
	free(out), free(err);
	CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", "--help", NULL, NULL, NULL, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Usage: hotpatch inspect"));
	free(out), free(err);
}

/* The space-separated list after NAME=' in the targets' versions.sh. */
static char *versions(const char *var)
{
	char *text = ts_read_file(ts_build_path("targets/versions.sh"), NULL), *p, *v = NULL;
	char key[64];

	if (!text)
		return NULL;
	snprintf(key, sizeof(key), "\n%s='", var);
	p = strstr(text, key);
	if (p) {
		p += strlen(key);
		v = strndup(p, strcspn(p, "'"));
	}
	free(text);
	return v;
}

static void check_target(const char *path, const char *fn)
{
	char *out = NULL, *err = NULL;
	json_t *doc, *f;

	CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", path, "--json", "--symbol", fn, NULL), 0);
	doc = parse(out);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	f = find_function(doc, fn);
	CU_ASSERT_PTR_NOT_NULL(f);
	if (f && !json_is_true(json_object_get(f, "patchable")))
		fprintf(stderr, "%s: %s: %s\n", path, fn,
			json_string_value(json_object_get(f, "reason")));
	CU_ASSERT(f && json_is_true(json_object_get(f, "patchable")));
	json_decref(doc);
	free(out);
	free(err);
}

static void eligible_targets(void)
{
	char *srv = versions("SRV_ELIGIBLE"), *mrx = versions("MRXSMB_ELIGIBLE"), *v, *save;
	int n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mrx);
	for (v = strtok_r(srv, " ", &save); v; v = strtok_r(NULL, " ", &save), n++)
		check_target(ts_build_path("targets/srv/%s/srv", v), "srv_negotiate_signing");
	for (v = strtok_r(mrx, " ", &save); v; v = strtok_r(NULL, " ", &save), n++) {
		check_target(ts_build_path("targets/mrxsmb/%s/libmrxsmb.so", v), "mrx_negotiate_flags2");
		check_target(ts_build_path("targets/mrxsmb/%s/libmrxsmb.so", v), "mrx_negotiate_signing");
	}
	CU_ASSERT(n >= 4);
	free(srv);
	free(mrx);
}

/* Wait until pid runs path (the exec is done). */
static bool wait_exec(pid_t pid, const char *path)
{
	char link[64], target[4096];
	int i;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	for (i = 0; i < 500; i++) {
		ssize_t n = readlink(link, target, sizeof(target) - 1);

		if (n > 0) {
			target[n] = '\0';
			if (!strcmp(target, path))
				return true;
		}
		usleep(10000);
	}
	return false;
}

static void pid_of_replaced_srv(void)
{
	char *srv = versions("SRV_ELIGIBLE"), *other, *save, *out = NULL, *err = NULL;
	const char *dir = ts_tmpdir(), *first;
	char exe[4096], newer[4096], conf[4096], share[4096], log[4096], pidstr[32], cmd[16384];
	struct hp_elf *orig;
	json_t *doc, *o, *obj = NULL;
	size_t i;
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
	first = strtok_r(srv, " ", &save);
	other = strtok_r(NULL, " ", &save);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	snprintf(exe, sizeof(exe), "%s/srv", dir);
	snprintf(newer, sizeof(newer), "%s/srv.new", dir);
	snprintf(conf, sizeof(conf), "%s/lanmanserver.conf", dir);
	snprintf(share, sizeof(share), "%s/share", dir);
	snprintf(log, sizeof(log), "%s/srv.log", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && cp '%s' '%s' && mkdir -p '%s'",
		 ts_build_path("targets/srv/%s/srv", first), exe,
		 ts_build_path("targets/srv/%s/srv", other), newer, share);
	CU_ASSERT_EQUAL_FATAL(ts_sh(cmd, NULL, NULL), 0);
	{
		static const char text[] = "EnableSecuritySignature = 1\n"
					   "RequireSecuritySignature = 0\n";

		CU_ASSERT_EQUAL_FATAL(ts_write_file(conf, text, strlen(text)), 0);
	}
	orig = hp_elf__open(exe);
	CU_ASSERT_PTR_NOT_NULL_FATAL(orig);
	{
		char *argv[] = { exe, "--listen", "127.0.0.1:0", "--config", conf, "--share", share,
				 "--threads", "3", NULL };

		pid = ts_spawn(argv, log);
	}
	CU_ASSERT_FATAL(pid > 0);
	if (!wait_exec(pid, exe)) {
		ts_stop(pid, 2000);
		CU_FAIL_FATAL("srv did not start");
	}
	/* An upgrade: the new build renamed over the running one. */
	CU_ASSERT_EQUAL_FATAL(rename(newer, exe), 0);
	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", "--pid", pidstr, "--json", NULL, NULL), 0);
	doc = parse(out);
	CU_ASSERT_PTR_NOT_NULL(doc);
	json_array_foreach(json_object_get(doc, "objects"), i, o)
		if (!strcmp(json_string_value(json_object_get(o, "path")), exe))
			obj = o;
	CU_ASSERT_PTR_NOT_NULL(obj);
	if (obj) {
		const struct hp_identity *id = hp_elf__identity(orig);

		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(obj, "state")), "replaced");
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(obj, "build_id")),
				       id->build_id);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(obj, "sha256")), id->sha256);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
			json_object_get(obj, "package"), "version")), first);
		CU_ASSERT(json_is_string(json_object_get(obj, "load_bias")));
	}
	CU_ASSERT(json_array_size(json_object_get(doc, "threads")) >= 2);
	CU_ASSERT(json_is_false(json_object_get(doc, "changed")));
	json_decref(doc);
	free(out), free(err);
	/* the function in memory: the mapped build's bytes, fingerprint and all */
	CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", "--pid", pidstr, "--json", "--symbol",
				 "srv_negotiate_signing"), 0);
	doc = parse(out);
	CU_ASSERT_PTR_NOT_NULL(doc);
	{
		const struct hp_symbol *sym = hp_elf__find_symbol(orig, "srv_negotiate_signing");
		json_t *f = find_function(doc, "srv_negotiate_signing");
		struct hp_func_report r;

		CU_ASSERT_PTR_NOT_NULL_FATAL(sym);
		CU_ASSERT_EQUAL(hp_func__analyze(orig, sym, &r), 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		CU_ASSERT(json_is_true(json_object_get(f, "patchable")));
		CU_ASSERT(json_is_true(json_object_get(f, "matches_file")));
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "fingerprint")),
				       r.fingerprint);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "object")), exe);
	}
	json_decref(doc);
	free(out), free(err);
	CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", "--pid", pidstr, "--symbol", "no_such_fn",
				 NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no mapped object defines function 'no_such_fn'"));
	free(out), free(err);
	/* the text form flags it too */
	CU_ASSERT_EQUAL(hotpatch(&out, &err, "inspect", "--pid", pidstr, NULL, NULL, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "replaced on disk since mapped"));
	free(out), free(err);
	ts_stop(pid, 5000);
	hp_elf__close(orig);
	free(srv);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "system files: libz and hotpatch itself", system_files },
		{ "fixture verdicts in text and JSON", fixture_verdicts_in_json },
		{ "errors and exit codes", errors_and_exit_codes },
		{ "negotiation routines of eligible builds are patchable", eligible_targets },
		{ "--pid of a srv replaced on disk reports what is mapped", pid_of_replaced_srv },
		{ NULL, NULL },
	};

	ts_add_suite("inspect", tests);
}
