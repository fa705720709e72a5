/* hotpatch apply --live without --pid: every running process that maps an
 * eligible target is patched, a process started later from the unpatched
 * file is found by the next apply, and a process forked from a patched one
 * already carries the patch; rollback without --pid undoes them all.
 *
 * A scan without --pid patches every process of the machine, other tests'
 * included, so the whole scenario runs in a PID namespace of its own with
 * its own /proc (unshare --pid --mount-proc, as root): there, the scan sees
 * exactly the processes this test started. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support.h"

#define SRV_ELIGIBLE "5.2.3790.2691"

/* The scenario, as a shell script; it prints the pids it started as
 * "NAME=PID" lines and the output of each hotpatch run between markers. */
static const char script[] =
	"set -eu\n"
	"cd \"$DIR\"\n"
	"hp() { \"$HP\" \"$@\" --live --state-dir \"$DIR/state\" 2>&1; }\n"
	"apply() { hp apply \"$MANIFEST\" --trusted-key \"$KEY\"; }\n"
	"start_srv() {\n"
	"  \"$SRV\" --listen 127.0.0.1:0 --config server.conf --share share --threads 4 2>\"$1.log\" &\n"
	"  pid=$!\n"
	"  for i in $(seq 500); do grep -q listening \"$1.log\" && break; sleep 0.01; done\n"
	"  echo \"$1=$pid\"\n"
	"}\n"
	"mkfifo fin fout\n"
	"\"$FORK\" <fin >fout & echo \"forker=$!\"\n"
	"exec 3>fin 4<fout\n"
	"read -r ready pid <&4\n"
	"start_srv srv1\n"
	"echo '--- apply 1'; apply; echo \"rc=$?\"\n"
	"start_srv srv2\n"
	"echo fork >&3; read -r word child <&4; echo \"child=$child\"\n"
	"echo '--- apply 2'; apply; echo \"rc=$?\"\n"
	"echo '--- apply 3'; apply; echo \"rc=$?\"\n"
	"echo '--- rollback'; hp rollback KB916846; echo \"rc=$?\"\n"
	"echo '--- apply 4'; apply; echo \"rc=$?\"\n"
	"echo '--- end'\n"
	"kill -9 \"$child\" 2>/dev/null || true\n";

/* The pid the script printed as NAME=PID. */
static int pid_of(const char *out, const char *name)
{
	char key[32];
	const char *p;

	snprintf(key, sizeof(key), "\n%s=", name);
	p = strstr(out, key);
	return p ? atoi(p + strlen(key)) : -1;
}

/* The output of one step, between its marker and the next. */
static char *section(const char *out, const char *marker)
{
	const char *p = strstr(out, marker), *e;

	if (!p)
		return strdup("");
	p += strlen(marker);
	e = strstr(p, "\n---");
	return strndup(p, e ? (size_t)(e - p) : strlen(p));
}

/* Does the step's output say "pid N (comm) ...: result"? */
static int says(const char *sec, int pid, const char *comm, const char *result)
{
	char head[64];
	const char *p = sec;

	snprintf(head, sizeof(head), "pid %d (%s) ", pid, comm);
	while ((p = strstr(p, head))) {
		const char *eol = strchr(p, '\n'), *r = strstr(p, result);

		if (r && (!eol || r < eol))
			return 1;
		p += strlen(head);
	}
	fprintf(stderr, "expected '%s...: %s' in:\n%s\n", head, result, sec);
	return 0;
}

static void apply_without_pid(void)
{
	static const char sconf[] = "EnableSecuritySignature=0\nRequireSecuritySignature=0\n";
	const char *dir = ts_tmpdir();
	char path[4096], *cmd = NULL, *out = NULL, *err = NULL, *s;
	int rc, srv1, srv2, forker, child;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	snprintf(path, sizeof(path), "%s/share", dir);
	CU_ASSERT_FATAL(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/server.conf", dir);
	CU_ASSERT_FATAL(ts_write_file(path, sconf, strlen(sconf)) == 0);
	snprintf(path, sizeof(path), "%s/scenario.sh", dir);
	CU_ASSERT_FATAL(ts_write_file(path, script, strlen(script)) == 0);
	CU_ASSERT_FATAL(asprintf(&cmd,
				 "DIR='%s' HP='%s' MANIFEST='%s' KEY='%s' SRV='%s' FORK='%s' "
				 "timeout 120 unshare --pid --fork --mount-proc sh '%s'",
				 dir, ts_build_path("bin/hotpatch"),
				 ts_build_path("packages/KB916846/manifest.json"),
				 ts_build_path("keys/vendor.pub"),
				 ts_build_path("targets/srv/" SRV_ELIGIBLE "/srv"),
				 ts_build_path("tests/fixtures/live/mrxfork"), path) > 0);
	rc = ts_sh(cmd, &out, &err);
	fprintf(stderr, "$ %s\n%s%s[exit %d]\n", cmd, out ? out : "", err ? err : "", rc);
	free(cmd);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_PTR_NOT_NULL_FATAL(strstr(out, "--- end"));
	{
		char *o = NULL;

		/* pid_of looks for "\nNAME=": give the first line one too. */
		CU_ASSERT_FATAL(asprintf(&o, "\n%s", out) > 0);
		free(out);
		out = o;
	}
	srv1 = pid_of(out, "srv1");
	srv2 = pid_of(out, "srv2");
	forker = pid_of(out, "forker");
	child = pid_of(out, "child");
	CU_ASSERT_FATAL(srv1 > 0 && srv2 > 0 && forker > 0 && child > 0);

	/* Every process mapping an eligible target: the server and the
	 * program using the client library. */
	s = section(out, "--- apply 1");
	CU_ASSERT(says(s, srv1, "srv", "patched ("));
	CU_ASSERT(says(s, forker, "mrxfork", "patched ("));
	CU_ASSERT(strstr(s, "2 processes patched") != NULL);
	CU_ASSERT(strstr(s, "rc=0") != NULL);
	free(s);
	/* The next apply finds the server started since, from the unpatched
	 * file; the child forked from a patched process already has it. */
	s = section(out, "--- apply 2");
	CU_ASSERT(says(s, srv2, "srv", "patched ("));
	CU_ASSERT(says(s, srv1, "srv", "already applied"));
	CU_ASSERT(says(s, forker, "mrxfork", "already applied"));
	CU_ASSERT(says(s, child, "mrxfork", "already applied"));
	CU_ASSERT(strstr(s, "1 processes patched, 3 already applied") != NULL);
	CU_ASSERT(strstr(s, "rc=0") != NULL);
	free(s);
	s = section(out, "--- apply 3");
	CU_ASSERT(strstr(s, "0 processes patched, 4 already applied") != NULL);
	free(s);
	/* Rollback without --pid: every process carrying the package. */
	s = section(out, "--- rollback");
	CU_ASSERT(strstr(s, "4 processes rolled back") != NULL);
	CU_ASSERT(strstr(s, "rc=0") != NULL);
	free(s);
	s = section(out, "--- apply 4");
	CU_ASSERT(strstr(s, "4 processes patched") != NULL);
	free(s);
	free(out);
	free(err);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "apply without --pid: every target, later ones, forked children", apply_without_pid },
		{ NULL, NULL },
	};

	ts_add_suite("live all processes", tests);
}
