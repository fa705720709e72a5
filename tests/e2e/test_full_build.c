/* Every version gets the fix (issue: full builds and the restart report).
 * An eligible srv and a srv of a version the hotpatch was not built for run
 * side by side, each from its own file under a staged root. One `hotpatch
 * apply` patches the eligible one live and on disk, installs the package's
 * fixed full build over the other file and names the process still running
 * it as needing a restart; once that process is restarted (from the
 * replaced file) its matrix cells are those of a patched server and
 * `status` no longer lists it; `rollback` restores both files byte for byte
 * and takes the live patch out. With --hotpatch-only the file that only a
 * full build can fix is left untouched, and the report says why.
 *
 * apply and rollback without --pid act on every process of the machine, so
 * the scenario runs in a PID namespace of its own with its own /proc
 * (unshare --pid --mount-proc, as root), where they see only what it
 * started. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "hotpatch.h"
#include "support.h"

#define SRV_ELIGIBLE "5.2.3790.2691"
#define SRV_OLD "5.2.3790.1830"
#define FIXED "5.2.3790.2734"

static const char script[] =
	"set -u\n"
	"abs() { case $1 in /*) echo \"$1\" ;; *) echo \"$PWD/$1\" ;; esac; }\n"
	"HP=$(abs \"$HP\") M=$(abs \"$M\") KEY=$(abs \"$KEY\") SRV_NEW=$(abs \"$SRV_NEW\")\n"
	"SRV_OLD=$(abs \"$SRV_OLD\") CLI_FIXED=$(abs \"$CLI_FIXED\") CLI_OLD=$(abs \"$CLI_OLD\")\n"
	"cd \"$DIR\"\n"
	"mkdir -p root/usr/sbin root/usr/local/sbin share\n"
	"echo 'KB916846 share' >share/readme.txt\n"
	"conf() { printf 'EnableSecuritySignature = %s\\nRequireSecuritySignature = %s\\n' \"$2\" \"$3\" >\"$1.conf\"; }\n"
	"conf disabled 0 0; conf enabled 1 0; conf required 1 1\n"
	"cp \"$SRV_NEW\" root/usr/sbin/srv\n"
	"cp \"$SRV_OLD\" root/usr/local/sbin/srv\n"
	"sha() { sha256sum root/usr/sbin/srv root/usr/local/sbin/srv | cut -c1-64 | tr '\\n' ' '; echo; }\n"
	"echo \"sha.before $(sha)\"\n"
	"port=''\n"
	"start_srv() {\n"
	"  \"$2\" --listen 127.0.0.1:0 --config \"$3.conf\" --share share --threads 4 2>\"$1.log\" &\n"
	"  pid=$!; port=''\n"
	"  for i in $(seq 500); do\n"
	"    port=$(sed -n 's/.*listening on 127\\.0\\.0\\.1:\\([0-9]*\\),.*/\\1/p' \"$1.log\")\n"
	"    [ -n \"$port\" ] && break; sleep 0.01\n"
	"  done\n"
	"  echo \"$1=$pid\"\n"
	"}\n"
	"hp() { out=$1; shift; \"$HP\" \"$@\" --json >\"$out\" 2>>hp.err; echo \"$out rc=$?\"; }\n"
	"start_srv elig root/usr/sbin/srv disabled; elig=$pid\n"
	"start_srv old root/usr/local/sbin/srv disabled; old=$pid\n"
	"hp verify.json verify \"$M\" --trusted-key \"$KEY\" --root root\n"
	"hp apply.json apply \"$M\" --trusted-key \"$KEY\" --root root --state-dir state\n"
	"hp status1.json status --state-dir state\n"
	"echo \"sha.applied $(sha)\"\n"
	/* The restart the report asks for, once per server setting. */
	"kill -TERM $old; wait $old\n"
	"for s in disabled enabled required; do\n"
	"  start_srv new_$s root/usr/local/sbin/srv $s; new=$pid\n"
	"  for cb in patched unpatched; do\n"
	"    if [ $cb = patched ]; then cli=$CLI_FIXED; else cli=$CLI_OLD; fi\n"
	"    for cs in required enabled disabled; do\n"
	"      r=$(\"$cli\" connect --server 127.0.0.1:$port --config $cs.conf --read readme.txt 2>/dev/null)\n"
	"      echo \"cell $cb $cs patched $s ${r%%:*}\"\n"
	"    done\n"
	"  done\n"
	"  [ $s = required ] && hp status2.json status --state-dir state\n"
	"  [ $s = required ] || { kill -TERM $new; wait $new; }\n"
	"done\n"
	/* The last restarted server runs the full build through the rollback. */
	"hp rollback.json rollback KB916846 --state-dir state\n"
	"kill -TERM $new; wait $new\n"
	"hp status3.json status --state-dir state\n"
	"echo \"sha.rolledback $(sha)\"\n"
	"hp hponly.json apply \"$M\" --trusted-key \"$KEY\" --root root --state-dir state2 --hotpatch-only\n"
	"echo \"sha.hponly $(sha)\"\n"
	"kill -KILL $elig\n"
	"echo '--- end'\n";

/* The value after "KEY=" or "KEY " at the start of a line of out. */
static const char *line_after(const char *out, const char *key)
{
	char k[160];
	const char *p;

	snprintf(k, sizeof(k), "\n%s", key);
	p = strstr(out, k);
	return p ? p + strlen(k) : NULL;
}

static int pid_of(const char *out, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "%s=", name);
	p = line_after(out, key);
	return p ? atoi(p) : -1;
}

static int rc_of(const char *out, const char *doc)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "%s rc=", doc);
	p = line_after(out, key);
	return p ? atoi(p) : -1;
}

/* The two SHA-256 digests the script printed after tag. */
static void shas(const char *out, const char *tag, char a[65], char b[65])
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "%s ", tag);
	p = line_after(out, key);
	a[0] = b[0] = '\0';
	if (p && sscanf(p, "%64s %64s", a, b) != 2)
		a[0] = b[0] = '\0';
}

static json_t *load(const char *dir, const char *name)
{
	char path[4096];
	json_error_t e;
	json_t *doc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	doc = json_load_file(path, 0, &e);
	if (!doc)
		fprintf(stderr, "%s: %s (line %d)\n", path, e.text, e.line);
	return doc;
}

/* The entry of array key in doc whose field equals value (string). */
static json_t *find(json_t *doc, const char *key, const char *field, const char *value)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(doc, key), i, v)
		if (json_string_value(json_object_get(v, field)) &&
		    strstr(json_string_value(json_object_get(v, field)), value))
			return v;
	return NULL;
}

static json_t *find_pid(json_t *doc, const char *key, int pid)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(doc, key), i, v)
		if (json_integer_value(json_object_get(v, "pid")) == pid)
			return v;
	return NULL;
}

static const char *str(json_t *obj, const char *field)
{
	const char *s = json_string_value(json_object_get(obj, field));

	return s ? s : "";
}

/* Every cell the script ran must equal the article's cell for a patched
 * server; 18 of them (3 server settings x 2 client builds x 3 settings). */
static void check_cells(const char *out)
{
	char table[4096], *want = NULL, *line, *save = NULL;
	int n = 0;

	snprintf(table, sizeof(table), "%s/targets/kb916846-matrix.tsv", ts_src_dir());
	want = ts_read_file(table, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	for (line = strtok_r(want, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char cb[16], cs[16], sb[16], ss[16], res[32], key[128];
		const char *got;

		if (sscanf(line, "%15s %15s %15s %15s %31s", cb, cs, sb, ss, res) != 5 ||
		    strcmp(sb, "patched"))
			continue;
		snprintf(key, sizeof(key), "cell %s %s patched %s ", cb, cs, ss);
		got = line_after(out, key);
		n++;
		CU_ASSERT_PTR_NOT_NULL(got);
		if (got && strncmp(got, res, strlen(res))) {
			fprintf(stderr, "cell client %s/%s, restarted server %s: got '%.20s', the article says %s\n",
				cb, cs, ss, got, res);
			CU_FAIL("matrix cell of the restarted server");
		}
	}
	CU_ASSERT_EQUAL(n, 18);
	free(want);
}

static void eligible_and_not_eligible(void)
{
	const char *dir = ts_tmpdir();
	char path[4096], *cmd = NULL, *raw = NULL, *out = NULL, *err = NULL;
	char e0[65], o0[65], e1[65], o1[65], e2[65], o2[65], e3[65], o3[65];
	json_t *verify, *apply, *st1, *st2, *st3, *rb, *hpo, *v;
	int rc, elig, old, newp;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	snprintf(path, sizeof(path), "%s/scenario.sh", dir);
	CU_ASSERT_FATAL(ts_write_file(path, script, strlen(script)) == 0);
	CU_ASSERT_FATAL(asprintf(&cmd,
				 "DIR='%s' HP='%s' M='%s' KEY='%s' SRV_NEW='%s' SRV_OLD='%s' "
				 "CLI_FIXED='%s' CLI_OLD='%s' "
				 "timeout 120 unshare --pid --fork --mount-proc bash '%s'",
				 dir, ts_build_path("bin/hotpatch"),
				 ts_build_path("packages/KB916846/manifest.json"),
				 ts_build_path("keys/vendor.pub"),
				 ts_build_path("targets/srv/" SRV_ELIGIBLE "/srv"),
				 ts_build_path("targets/srv/" SRV_OLD "/srv"),
				 ts_build_path("targets/mrxsmb/" FIXED "/smbcli"),
				 ts_build_path("targets/mrxsmb/5.2.3790.2697/smbcli"), path) > 0);
	rc = ts_sh(cmd, &raw, &err);
	fprintf(stderr, "$ %s\n%s%s[exit %d]\n", cmd, raw ? raw : "", err ? err : "", rc);
	free(cmd);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
	CU_ASSERT_PTR_NOT_NULL_FATAL(strstr(raw, "--- end"));
	CU_ASSERT_FATAL(asprintf(&out, "\n%s", raw) > 0);
	elig = pid_of(out, "elig");
	old = pid_of(out, "old");
	newp = pid_of(out, "new_required");
	CU_ASSERT_FATAL(elig > 0 && old > 0 && newp > 0);
	shas(out, "sha.before", e0, o0);
	shas(out, "sha.applied", e1, o1);
	shas(out, "sha.rolledback", e2, o2);
	shas(out, "sha.hponly", e3, o3);

	/* The dry run says which of the two each file gets, and which
	 * process would need a restart. */
	verify = load(dir, "verify.json");
	CU_ASSERT_EQUAL(rc_of(out, "verify.json"), 0);
	v = find(verify, "targets", "path", "/usr/local/sbin/srv");
	CU_ASSERT_STRING_EQUAL(str(find(verify, "targets", "path", "root/usr/sbin/srv"), "action"),
			       "hotpatch");
	CU_ASSERT_STRING_EQUAL(str(v, "action"), "replace");
	CU_ASSERT_STRING_EQUAL(str(v, "full_build"), FIXED);
	v = find_pid(verify, "targets", old);
	CU_ASSERT_STRING_EQUAL(str(v, "verdict"), "needs-restart");
	CU_ASSERT(json_is_true(json_object_get(v, "restart_required")));
	CU_ASSERT_STRING_EQUAL(str(find_pid(verify, "targets", elig), "verdict"), "would-patch");

	/* One apply: the eligible file patched, the other replaced, the
	 * eligible process patched live, the other named for a restart. */
	apply = load(dir, "apply.json");
	CU_ASSERT_EQUAL(rc_of(out, "apply.json"), 0);
	CU_ASSERT(json_is_true(json_object_get(apply, "changed")));
	CU_ASSERT_STRING_EQUAL(str(find(apply, "files", "path", "root/usr/sbin/srv"), "result"),
			       "patched");
	v = find(apply, "files", "path", "/usr/local/sbin/srv");
	CU_ASSERT_STRING_EQUAL(str(v, "result"), "replaced");
	CU_ASSERT_STRING_EQUAL(str(v, "full_build"), FIXED);
	CU_ASSERT_STRING_EQUAL(str(find_pid(apply, "processes", elig), "result"), "patched");
	CU_ASSERT_STRING_EQUAL(str(find_pid(apply, "processes", old), "result"), "skipped");
	CU_ASSERT(json_is_true(json_object_get(apply, "restart_required")));
	v = find_pid(apply, "restart", old);
	CU_ASSERT_PTR_NOT_NULL(v);
	CU_ASSERT(strstr(str(v, "path"), "/usr/local/sbin/srv") != NULL);
	CU_ASSERT(json_is_true(json_object_get(v, "is_exe")));
	CU_ASSERT_PTR_NULL(find_pid(apply, "restart", elig));
	CU_ASSERT_EQUAL(json_array_size(json_object_get(apply, "restart")), 1);
	CU_ASSERT_STRING_NOT_EQUAL(e1, e0);
	CU_ASSERT_STRING_NOT_EQUAL(o1, o0);

	/* status names the process still running the old code... */
	st1 = load(dir, "status1.json");
	v = find_pid(st1, "stale_processes", old);
	CU_ASSERT_PTR_NOT_NULL(v);
	CU_ASSERT_STRING_EQUAL(str(v, "full_build"), FIXED);
	CU_ASSERT_PTR_NULL(find_pid(st1, "stale_processes", elig));
	CU_ASSERT_STRING_EQUAL(str(find(st1, "targets", "path", "/usr/local/sbin/srv"), "full_build"),
			       FIXED);
	/* ...and no longer once it is restarted. */
	check_cells(out);
	st2 = load(dir, "status2.json");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(st2, "stale_processes")), 0);
	CU_ASSERT_PTR_NULL(find_pid(st2, "stale_processes", newp));

	/* Rollback: both files byte for byte, the live patch out. */
	rb = load(dir, "rollback.json");
	CU_ASSERT_EQUAL(rc_of(out, "rollback.json"), 0);
	/* The server restarted on the full build still runs it: named. */
	CU_ASSERT(json_is_true(json_object_get(rb, "restart_required")));
	CU_ASSERT_PTR_NOT_NULL(find_pid(rb, "restart", newp));
	CU_ASSERT_STRING_EQUAL(str(find_pid(rb, "processes", elig), "result"), "rolled back");
	CU_ASSERT_STRING_EQUAL(e2, e0);
	CU_ASSERT_STRING_EQUAL(o2, o0);
	st3 = load(dir, "status3.json");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(st3, "targets")), 0);

	/* Hotpatch or nothing: the eligible file patched, the other left. */
	hpo = load(dir, "hponly.json");
	CU_ASSERT_EQUAL(rc_of(out, "hponly.json"), 3);
	CU_ASSERT_STRING_EQUAL(str(find(hpo, "files", "path", "root/usr/sbin/srv"), "result"),
			       "patched");
	v = find(hpo, "files", "path", "/usr/local/sbin/srv");
	CU_ASSERT_STRING_EQUAL(str(v, "result"), "left unchanged");
	CU_ASSERT(strstr(str(v, "reason"), "--hotpatch-only") != NULL);
	CU_ASSERT(strstr(str(v, "reason"), "restart") != NULL);
	CU_ASSERT(json_is_false(json_object_get(hpo, "restart_required")));
	CU_ASSERT_STRING_EQUAL(o3, o0);
	CU_ASSERT_STRING_EQUAL(e3, e1);

	json_decref(verify);
	json_decref(apply);
	json_decref(st1);
	json_decref(st2);
	json_decref(st3);
	json_decref(rb);
	json_decref(hpo);
	free(out);
	free(raw);
	free(err);
}

/* A file of a replaced version whose bytes are not the build the vendor
 * named (a local change): refused, exit 5, the file and the state
 * directory as they were. */
static void modified_file_refused(void)
{
	const char *dir = ts_tmpdir();
	char sha0[65], sha1[65], *out;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	out = ts_run_cmd("mkdir -p '%s/root/usr/sbin' && cp '%s' '%s/root/usr/sbin/srv' && "
			 "printf 'local change' >>'%s/root/usr/sbin/srv'", &rc, dir,
			 ts_build_path("targets/srv/" SRV_OLD "/srv"), dir, dir);
	free(out);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL_FATAL(hp_sha256_file(ts_join(dir, "root/usr/sbin/srv"), sha0), 0);
	out = ts_run_cmd("'%s' apply '%s' --trusted-key '%s' --disk --root '%s/root' --state-dir '%s/state' 2>&1",
			 &rc, ts_build_path("bin/hotpatch"),
			 ts_build_path("packages/KB916846/manifest.json"),
			 ts_build_path("keys/vendor.pub"), dir, dir);
	CU_ASSERT_EQUAL(rc, 5);
	CU_ASSERT(out && strstr(out, "/root/usr/sbin/srv: failed: version " SRV_OLD " with SHA-256 ") &&
		  strstr(out, "replaces only the one with SHA-256"));
	free(out);
	CU_ASSERT_EQUAL(hp_sha256_file(ts_join(dir, "root/usr/sbin/srv"), sha1), 0);
	CU_ASSERT_STRING_EQUAL(sha1, sha0);
	out = ts_run_cmd("ls '%s/state/backups' | wc -l", &rc, dir);
	CU_ASSERT(out && atoi(out) == 0);
	free(out);
}

static void matrix_replace_equals_article(void)
{
	ts_matrix_equals_article("replace");
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "eligible and not-eligible srv: hotpatch, full build, restart report, rollback, --hotpatch-only",
		  eligible_and_not_eligible },
		{ "a locally modified file of a replaced version: refused, unchanged",
		  modified_file_refused },
		{ "36 cells with full builds installed over not-eligible builds equal the article",
		  matrix_replace_equals_article },
		{ NULL, NULL },
	};

	ts_add_suite("full builds", tests);
}
