/* The built targets as a distribution would ship them and as the patcher
 * will meet them: every file carries its version in .note.package and a
 * GNU build-id; every version is a different build (code bytes and
 * addresses differ); the flags are the distribution's (PIE, full RELRO,
 * endbr64 at function entries, symbols kept); smbcli finds its library
 * through RUNPATH; and a build made in another directory, from a copy of
 * the sources at another path, is byte for byte the same.
 * make check runs this again on cold-patched components (ts_target(),
 * HP_TARGET_ROOT): there only the installed files' flags are checked, which
 * a cold patch must keep; the other suites are about the vendor builds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* A value from $(O)/targets/versions.sh (NAME='a b c'); the string lives
 * until exit. */
static const char *version_var(const char *name)
{
	static char *text, **kept;
	static size_t nkept;
	char key[64], *p, *end, *v, **vals;

	if (!text)
		text = ts_read_file(ts_build_path("targets/versions.sh"), NULL);
	if (!text)
		return NULL;
	snprintf(key, sizeof(key), "\n%s='", name);
	p = strstr(text, key);
	if (!p)
		return NULL;
	p += strlen(key);
	end = strchr(p, '\'');
	if (!end)
		return NULL;
	/* Kept in the list until exit (as documented), not leaked: the
	 * suite runs under LeakSanitizer with SANITIZE=address. */
	v = strndup(p, (size_t)(end - p));
	if (v && (vals = realloc(kept, (nkept + 1) * sizeof(*kept))) != NULL) {
		kept = vals;
		kept[nkept++] = v;
	}
	return v;
}

/* Output of a shell command that must succeed (malloc'd). Kept out of
 * line: inlined, gcc 12 mistakes the returned buffer for a dangling local. */
static __attribute__((noinline)) char *run_out(const char *cmd)
{
	char *out = NULL;
	int rc = ts_sh(cmd, &out, NULL);

	CU_ASSERT_EQUAL(rc, 0);
	return out;
}

/* readelf -n shows the package note with the version, and a build-id;
 * returns the build-id (malloc'd). */
static char *check_notes(const char *file, const char *name, const char *version)
{
	char cmd[1024], want[256], *out, *id, *bid = NULL;

	snprintf(cmd, sizeof(cmd), "readelf -n '%s'", file);
	out = run_out(cmd);
	if (!out)
		return NULL;
	snprintf(want, sizeof(want),
		 "{\"type\":\"deb\",\"name\":\"%s\",\"version\":\"%s\",\"architecture\":\"amd64\"}",
		 name, version);
	if (!strstr(out, want))
		fprintf(stderr, "%s: no package note %s in:\n%s\n", file, want, out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, ".note.package"));
	id = strstr(out, "Build ID: ");
	CU_ASSERT_PTR_NOT_NULL(id);
	if (id) {
		id += strlen("Build ID: ");
		bid = strndup(id, strspn(id, "0123456789abcdef"));
		CU_ASSERT_EQUAL(strlen(bid), 40);
	}
	free(out);
	return bid;
}

static void for_each_version(const char *var, void (*fn)(const char *version, void *arg),
			     void *arg)
{
	const char *list = version_var(var);
	char *copy, *tok, *save = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(list);
	copy = strdup(list);
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		fn(tok, arg);
	free(copy);
}

struct ids {
	char *id[32];   /* build-ids seen */
	int n;          /* entries in id */
};

static void add_id(struct ids *ids, char *id)
{
	int i;

	if (!id)
		return;
	for (i = 0; i < ids->n; i++)
		CU_ASSERT_STRING_NOT_EQUAL(ids->id[i], id);
	if (ids->n < 32)
		ids->id[ids->n++] = id;
	else
		free(id);
}

static void srv_notes(const char *v, void *arg)
{
	add_id(arg, check_notes(ts_build_path("targets/srv/%s/srv", v), "srv", v));
}

static void mrxsmb_notes(const char *v, void *arg)
{
	add_id(arg, check_notes(ts_build_path("targets/mrxsmb/%s/libmrxsmb.so", v), "mrxsmb", v));
	add_id(arg, check_notes(ts_build_path("targets/mrxsmb/%s/smbcli", v), "mrxsmb", v));
}

static void notes_and_build_ids(void)
{
	struct ids ids = { .n = 0 };
	int i;

	for_each_version("SRV_VERSIONS", srv_notes, &ids);
	for_each_version("MRXSMB_VERSIONS", mrxsmb_notes, &ids);
	CU_ASSERT_EQUAL(ids.n, 12);
	for (i = 0; i < ids.n; i++)
		free(ids.id[i]);
}

/* The .text bytes of file, and the address of symbol. */
static char *text_bytes(const char *file, size_t *len)
{
	char cmd[1024], *dir = (char *)ts_tmpdir(), path[600];

	snprintf(path, sizeof(path), "%s/text.bin", dir);
	snprintf(cmd, sizeof(cmd), "objcopy -O binary --only-section=.text '%s' '%s'", file, path);
	free(run_out(cmd));
	return ts_read_file(path, len);
}

static unsigned long sym_addr(const char *file, const char *sym)
{
	char cmd[1024], *out;
	unsigned long a = 0;

	snprintf(cmd, sizeof(cmd), "nm '%s' | awk '$3 == \"%s\" { print $1 }'", file, sym);
	out = run_out(cmd);
	if (out)
		a = strtoul(out, NULL, 16);
	free(out);
	CU_ASSERT(a != 0);
	return a;
}

static void builds_differ(const char *a, const char *b, const char *sym)
{
	size_t la, lb;
	char *ta = text_bytes(a, &la), *tb = text_bytes(b, &lb);

	CU_ASSERT_PTR_NOT_NULL_FATAL(ta);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
	CU_ASSERT(la != lb || memcmp(ta, tb, la) != 0);
	CU_ASSERT_NOT_EQUAL(sym_addr(a, sym), sym_addr(b, sym));
	free(ta);
	free(tb);
}

static void versions_are_different_builds(void)
{
	const char *fixed = version_var("FIXED_VERSION");
	const char *srv_versions[] = { "5.2.3790.1830", "5.2.3790.2437", "5.2.3790.2691" };
	const char *mrx_versions[] = { "5.2.3790.1218", "5.2.3790.1830", "5.2.3790.2697" };
	int i, j;

	CU_ASSERT_PTR_NOT_NULL_FATAL(fixed);
	CU_ASSERT_STRING_EQUAL(version_var("SRV_ELIGIBLE"), "5.2.3790.2437 5.2.3790.2691");
	CU_ASSERT_STRING_EQUAL(version_var("MRXSMB_ELIGIBLE"), "5.2.3790.1830 5.2.3790.2697");
	/* Not eligible against each eligible one, and eligible ones between
	 * themselves: code bytes and the patched routine's address differ. */
	for (i = 0; i < 3; i++)
		for (j = i + 1; j < 3; j++) {
			builds_differ(ts_build_path("targets/srv/%s/srv", srv_versions[i]),
				      ts_build_path("targets/srv/%s/srv", srv_versions[j]),
				      "srv_negotiate_signing");
			builds_differ(ts_build_path("targets/mrxsmb/%s/libmrxsmb.so", mrx_versions[i]),
				      ts_build_path("targets/mrxsmb/%s/libmrxsmb.so", mrx_versions[j]),
				      "mrx_negotiate_signing");
		}
	builds_differ(ts_build_path("targets/srv/%s/srv", srv_versions[2]),
		      ts_build_path("targets/srv/%s/srv", fixed), "srv_negotiate_signing");
}

static void distribution_flags(void)
{
	static const char *const files[] = { "srv", "smbcli", "libmrxsmb.so" };
	const char *srv = ts_target("srv"), *smbcli = ts_target("smbcli");
	const char *lib = ts_target("libmrxsmb.so");
	char cmd[1024], *out;
	size_t i;

	for (i = 0; i < 3; i++) {
		const char *f = ts_target(files[i]);

		snprintf(cmd, sizeof(cmd), "readelf -hlSd '%s'", f);
		out = run_out(cmd);
		CU_ASSERT_PTR_NOT_NULL_FATAL(out);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "DYN ("));          /* PIE or shared object */
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "GNU_RELRO"));
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "BIND_NOW"));       /* full RELRO */
		CU_ASSERT_PTR_NOT_NULL(strstr(out, ".symtab"));        /* not stripped */
		CU_ASSERT_PTR_NOT_NULL(strstr(out, ".debug_info"));    /* -g */
		free(out);
	}
	snprintf(cmd, sizeof(cmd), "readelf -d '%s'", smbcli);
	out = run_out(cmd);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "Library runpath: [$ORIGIN:$ORIGIN/../lib]"));
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "Shared library: [libmrxsmb.so]"));
	free(out);
	/* -fcf-protection: the routines open with endbr64, as distributions
	 * build them. */
	snprintf(cmd, sizeof(cmd), "objdump -d --no-show-raw-insn --disassemble=srv_negotiate_signing "
		 "'%s' | grep -A1 '<srv_negotiate_signing>:'", srv);
	out = run_out(cmd);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "endbr64"));
	free(out);
	snprintf(cmd, sizeof(cmd), "objdump -d --no-show-raw-insn --disassemble=mrx_negotiate_signing "
		 "'%s' | grep -A1 '<mrx_negotiate_signing>:'", lib);
	out = run_out(cmd);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "endbr64"));
	free(out);
	/* The client routines are exported by the library. */
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s'", lib);
	out = run_out(cmd);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, " T mrx_negotiate_flags2\n"));
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, " T mrx_negotiate_signing\n"));
	free(out);
	/* No path of the build machine in what is built. */
	snprintf(cmd, sizeof(cmd), "grep -c -F '%s' '%s' || true", ts_src_dir(), srv);
	out = run_out(cmd);
	CU_ASSERT_PTR_NOT_NULL(out && strcmp(out, "0\n") == 0);
	free(out);
}

/* Build srv 5.2.3790.2437 twice more: in this checkout with another build
 * directory, and from a copy of the sources at another path. Both must be
 * identical to the file the main build made. */
static void reproducible(void)
{
	const char *tmp = ts_tmpdir();
	const char *target = "targets/srv/5.2.3790.2437/srv";
	char cmd[4096];
	size_t l0, l1, l2;
	char *f0, *f1, *f2, *out = NULL, *err = NULL;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(tmp);
	snprintf(cmd, sizeof(cmd),
		 "set -e; unset MAKEFLAGS MFLAGS MAKELEVEL; src=\"$HP_SRC_DIR\"; t='%s';"
		 "make -s -C \"$src\" -f mk/build.mk O=\"$t/one/build\" \"$t/one/build/%s\";"
		 "mkdir -p \"$t/another/checkout/payloads\";"
		 "cp -R \"$src/mk\" \"$src/targets\" \"$t/another/checkout/\";"
		 "cp -R \"$src/payloads/KB916846\" \"$t/another/checkout/payloads/\";"
		 "make -s -C \"$t/another/checkout\" -f mk/build.mk O=out \"out/%s\"",
		 tmp, target, target);
	rc = ts_sh(cmd, &out, &err);
	if (rc != 0)
		fprintf(stderr, "rebuild failed (%d):\n%s\n%s\n", rc, out, err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	f0 = ts_read_file(ts_build_path("%s", target), &l0);
	snprintf(cmd, sizeof(cmd), "%s/one/build/%s", tmp, target);
	f1 = ts_read_file(cmd, &l1);
	snprintf(cmd, sizeof(cmd), "%s/another/checkout/out/%s", tmp, target);
	f2 = ts_read_file(cmd, &l2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f2);
	CU_ASSERT(l0 == l1 && memcmp(f0, f1, l0) == 0);
	CU_ASSERT(l0 == l2 && memcmp(f0, f2, l0) == 0);
	free(f0);
	free(f1);
	free(f2);
	free(out);
	free(err);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "package note with the version and a build-id", notes_and_build_ids },
		{ "each version is a different build", versions_are_different_builds },
		{ "distribution flags: PIE, RELRO, endbr64, symbols", distribution_flags },
		{ "builds are reproducible across directories", reproducible },
		{ NULL, NULL },
	};
	static const struct ts_test installed[] = {
		{ "distribution flags: PIE, RELRO, endbr64, symbols", distribution_flags },
		{ NULL, NULL },
	};

	ts_add_suite("targets identity", ts_target_root() ? installed : tests);
}
