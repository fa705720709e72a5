/* The options the commands share, end to end through the real CLI: each
 * command that has --pid, --retries, --consistency, a COMPONENT=FILE
 * option or --help refuses a bad value the same way (exit 2, the option
 * and the value named, a pointer to the command's --help), refuses an
 * option it does not have, and takes good values on to the next stage
 * (the package, the state directory, the process), where the real
 * failure is reported instead of a usage error. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "support.h"

#define MAX_ARGS 16

/* Run hotpatch with the NULL-terminated arguments; the exit status, the
 * output in *out and *err (malloc'd). */
static int hotpatch(char **out, char **err, const char *arg, ...)
{
	char *argv[MAX_ARGS + 2];
	va_list ap;
	int n = 0;

	argv[n++] = (char *)ts_build_path("bin/hotpatch");
	va_start(ap, arg);
	for (; arg && n <= MAX_ARGS; arg = va_arg(ap, const char *))
		argv[n++] = (char *)arg;
	va_end(ap);
	argv[n] = NULL;
	return ts_run(argv, NULL, out, err);
}

/* A usage error: exit 2, nothing on stdout, the message and the pointer to
 * the command's help on stderr. */
static void usage_error(const char *cmd, const char *want, char *out, char *err, int rc)
{
	char help[64];

	snprintf(help, sizeof(help), "Try 'hotpatch %s --help'.", cmd);
	CU_ASSERT_EQUAL(rc, 2);
	CU_ASSERT(out && !*out);
	CU_ASSERT(err && strstr(err, want));
	CU_ASSERT(err && strstr(err, help));
	if (rc != 2 || !err || !strstr(err, want))
		fprintf(stderr, "%s: want exit 2 and '%s', got %d: %s\n", cmd, want, rc,
			err ? err : "(null)");
	free(out);
	free(err);
}

static void bad_values(void)
{
	static const struct {
		const char *cmd, *target, *opt, *val, *want;
	} cases[] = {
		{ "apply", "m.json", "--pid", "0", "--pid wants a process id, not '0'" },
		{ "apply", "m.json", "--pid", "12x", "--pid wants a process id, not '12x'" },
		{ "rollback", "KB1", "--pid", "2147483648",
		  "--pid wants a process id, not '2147483648'" },
		{ "verify", "m.json", "-p", "-3", "--pid wants a process id, not '-3'" },
		{ "verify", "m.json", "--pid", "", "--pid wants a process id, not ''" },
		{ "apply", "m.json", "--retries", "0", "--retries wants 1..10000, not '0'" },
		{ "rollback", "KB1", "--retries", "10001", "--retries wants 1..10000, not '10001'" },
		{ "apply", "m.json", "--retries", "99999999999999999999",
		  "--retries wants 1..10000, not '99999999999999999999'" },
		{ "apply", "m.json", "--consistency", "both",
		  "--consistency is full or entry, not 'both'" },
		{ "rollback", "KB1", "--consistency", "Full",
		  "--consistency is full or entry, not 'Full'" },
		{ "pack", "src.json", "--payload", "mrxsmb",
		  "--payload wants COMPONENT=OBJECT, not 'mrxsmb'" },
		{ "pack", "src.json", "-t", "=srv", "--target wants COMPONENT=FILE, not '=srv'" },
		{ "pack", "src.json", "--full-build", "srv=",
		  "--full-build wants COMPONENT=FILE, not 'srv='" },
		{ "pack", "src.json", "-r", "srv", "--replaced wants COMPONENT=FILE, not 'srv'" },
		{ "inspect", "--all-functions", "--pid", "x", "--pid: 'x' is not a process id" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL, *err = NULL;
		int rc;

		rc = hotpatch(&out, &err, cases[i].cmd, cases[i].target, cases[i].opt, cases[i].val,
			      NULL);
		usage_error(cases[i].cmd, cases[i].want, out, err, rc);
	}
}

/* An option another command has is no option of this one. */
static void options_of_other_commands(void)
{
	static const struct {
		const char *cmd, *opt, *val;
	} cases[] = {
		{ "status", "--trusted-key", "k.pub" },
		{ "status", "--pid", "1" },
		{ "verify", "--state-dir", "/tmp" },
		{ "verify", "--retries", "3" },
		{ "rollback", "--root", "/" },
		{ "rollback", "--hotpatch-only", NULL },
		{ "pack", "--insecure-skip-signature", NULL },
		{ "keygen", "--pid", "1" },
		{ "sign", "--state-dir", "/tmp" },
		{ "apply", "--no-processes", NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL, *err = NULL, want[64];
		int rc;

		rc = hotpatch(&out, &err, cases[i].cmd, cases[i].opt, cases[i].val, NULL);
		/* getopt names the option, the command says it is a bad one. */
		snprintf(want, sizeof(want), "'%s'", cases[i].opt);
		CU_ASSERT(err && strstr(err, want));
		usage_error(cases[i].cmd, "bad option", out, err, rc);
	}
}

/* --pid without --live, --root without --disk. */
static void selections(void)
{
	char *out = NULL, *err = NULL;
	int rc;

	rc = hotpatch(&out, &err, "rollback", "KB1", "--pid", "1", NULL);
	usage_error("rollback", "--pid selects processes; give --live with it", out, err, rc);
	rc = hotpatch(&out, &err, "apply", "m.json", "--disk", "--pid", "1", NULL);
	usage_error("apply", "--pid selects processes; give --live with it", out, err, rc);
	rc = hotpatch(&out, &err, "apply", "m.json", "--live", "--root", "/", NULL);
	usage_error("apply", "--root selects files; give --disk with it", out, err, rc);
	rc = hotpatch(&out, &err, "verify", "m.json", "--no-processes", "-p", "1", NULL);
	usage_error("verify", "--pid and --no-processes contradict each other", out, err, rc);
}

/* -h and --help: the command's own help on stdout, exit 0, even after
 * another option. */
static void help(void)
{
	static const char *const cmds[] = { "apply", "rollback", "verify", "pack", "status",
					    "inspect", "keygen", "sign" };
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char *out = NULL, *err = NULL, want[64];

		snprintf(want, sizeof(want), "Usage: hotpatch %s ", cmds[i]);
		CU_ASSERT_EQUAL(hotpatch(&out, &err, cmds[i], "--help", NULL), 0);
		CU_ASSERT(out && strstr(out, want));
		CU_ASSERT(err && !*err);
		free(out), free(err);
		CU_ASSERT_EQUAL(hotpatch(&out, &err, cmds[i], "--json", "-h", NULL), 0);
		CU_ASSERT(out && strstr(out, want));
		free(out), free(err);
	}
}

/* Good values pass the parser: what fails is the stage they lead to,
 * named. */
static void good_values_go_on(void)
{
	const char *dir = ts_tmpdir(), *state = ts_join(dir, "state"), *sd;
	char *out = NULL, *err = NULL;
	json_error_t je;
	json_t *doc;
	int rc;

	/* Every common option of apply, then the package: not there. */
	rc = hotpatch(&out, &err, "apply", ts_join(dir, "none.json"), "--live", "--pid", "1",
		      "--retries", "10000", "--consistency=entry", "--trusted-key",
		      ts_join(dir, "k.pub"), "--insecure-skip-signature", "--state-dir", state, NULL);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(err && strstr(err, "none.json: package refused"));
	free(out), free(err);

	/* The state directory given is the one used, and refused by name. */
	rc = hotpatch(&out, &err, "rollback", "KB1", "--disk", "--state-dir", "/proc/none", NULL);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(err && strstr(err, "/proc/none"));
	CU_ASSERT(err && strstr(err, "rollback: state directory:"));
	free(out), free(err);

	/* A --pid of no process: taken, then found missing. --json gives
	 * the one document, nothing changed. */
	rc = hotpatch(&out, &err, "rollback", "KB1", "--live", "-p", "2147483000", "--retries",
		      "1", "--consistency", "full", "--state-dir", state, "--json", NULL);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(err && strstr(err, "pid 2147483000: no such process"));
	doc = json_loads(out ? out : "", 0, &je);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "command")), "rollback");
	CU_ASSERT(json_is_false(json_object_get(doc, "changed")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(
				json_array_get(json_object_get(doc, "processes"), 0), "pid")),
			2147483000);
	CU_ASSERT_PTR_NULL(json_object_get(doc, "files"));
	json_decref(doc);
	free(out), free(err);

	/* status reads the state directory it is given. */
	rc = hotpatch(&out, &err, "status", "--state-dir", state, "--json", NULL);
	CU_ASSERT_EQUAL(rc, 0);
	doc = json_loads(out ? out : "", 0, &je);
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	sd = json_string_value(json_object_get(doc, "state_dir"));
	CU_ASSERT(sd && strstr(sd, "/state"));
	json_decref(doc);
	free(out), free(err);
}

/* A package refused for what it is (here: a well-signed manifest with a
 * field no format has) is an integrity failure, exit 5, whichever command
 * opened it. */
static void refused_package_same_exit(void)
{
	const char *dir = ts_tmpdir(), *state, *key;
	char *cmd = NULL, *out = NULL, *err = NULL, manifest[4096];
	static const char *const cmds[] = { "verify", "apply", "rollback" };
	size_t i;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	state = ts_join(dir, "state");
	CU_ASSERT_FATAL(asprintf(&cmd, "cp '%s'/* '%s'/ && sed -i 's/\"title\":/\"colour\": \"blue\", \"title\":/' "
				 "'%s/manifest.json' && '%s' keygen -s '%s/k.key' -p '%s/k.pub' >/dev/null && "
				 "'%s' sign -s '%s/k.key' '%s/manifest.json' >/dev/null",
				 ts_build_path("packages/KB916846"), dir, dir, ts_build_path("bin/hotpatch"),
				 dir, dir, ts_build_path("bin/hotpatch"), dir, dir) > 0);
	CU_ASSERT_EQUAL_FATAL(ts_sh(cmd, NULL, NULL), 0);
	free(cmd);
	snprintf(manifest, sizeof(manifest), "%s/manifest.json", dir);
	key = ts_join(dir, "k.pub");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(cmds[i], "verify"))
			rc = hotpatch(&out, &err, cmds[i], manifest, "--trusted-key", key,
				      "--no-processes", "--root", dir, NULL);
		else
			rc = hotpatch(&out, &err, cmds[i], manifest, "--trusted-key", key, "--disk",
				      "--state-dir", state, NULL);
		CU_ASSERT_EQUAL(rc, 5);
		CU_ASSERT(err && strstr(err, "package refused") && strstr(err, "colour"));
		if (rc != 5)
			fprintf(stderr, "%s: exit %d: %s\n", cmds[i], rc, err ? err : "");
		free(out);
		free(err);
		out = err = NULL;
	}
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "bad values: exit 2, option and value named", bad_values },
		{ "options of other commands are refused", options_of_other_commands },
		{ "--pid needs --live, --root needs --disk", selections },
		{ "-h and --help of every command", help },
		{ "good values go on to the next stage", good_values_go_on },
		{ "a refused package: exit 5 for verify, apply and rollback", refused_package_same_exit },
		{ NULL, NULL },
	};

	ts_add_suite("cli options", tests);
}
