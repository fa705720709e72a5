/* Signing end to end, with the real binaries: `hotpatch keygen` and
 * `hotpatch sign` against the stock minisign tool, both ways (its keys,
 * its signatures, its legacy format, its encrypted keys), and the CLI's
 * refusals leaving every file as it was. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "hotpatch.h"
#include "support.h"

static char *paths[512];
static int nr_paths;

static void free_paths(void)
{
	while (nr_paths)
		free(paths[--nr_paths]);
}

static const char *at(const char *dir, const char *name)
{
	char *p;

	CU_ASSERT_FATAL(nr_paths < 512);
	CU_ASSERT_FATAL(asprintf(&p, "%s/%s", dir, name) > 0);
	paths[nr_paths++] = p;
	return p;
}

static const char *hotpatch(void)
{
	return ts_build_path("bin/hotpatch");
}

static void write_text(const char *path, const char *text)
{
	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, text, strlen(text)), 0);
}

/* Run argv; stdout and stderr kept in out and err when not NULL, stderr shown on failure. */
static int run(const char *in, char **out, char **err, const char *arg0, ...)
{
	char *argv[32], *o = NULL, *e = NULL;
	va_list ap;
	int argc = 0, rc;

	argv[argc++] = (char *)arg0;
	va_start(ap, arg0);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	rc = ts_run(argv, in, &o, &e);
	if (out)
		*out = o;
	else
		free(o);
	if (err)
		*err = e;
	else {
		if (rc)
			fprintf(stderr, "%s %s: exit %d: %s\n", arg0, argv[1], rc, e ? e : "");
		free(e);
	}
	return rc;
}

static struct hp_keyring *ring_of(const char *pub)
{
	struct hp_keyring *kr = hp_keyring__load_trusted(NULL, &pub, 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(kr);
	return kr;
}

static void hotpatch_signs_minisign_verifies(void)
{
	const char *dir = ts_tmpdir(), *sec = at(dir, "v.key"), *pub = at(dir, "v.pub");
	const char *a = at(dir, "manifest.json"), *b = at(dir, "payload.hpz");
	char *out = NULL;

	write_text(a, "{\"id\":\"KB916846\"}\n");
	write_text(b, "payload bytes\n");
	CU_ASSERT_EQUAL_FATAL(run(NULL, NULL, NULL, hotpatch(), "keygen", "-s", sec, "-p", pub, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(run(NULL, NULL, NULL, hotpatch(), "sign", "-s", sec, a, b, NULL), 0);

	CU_ASSERT_EQUAL(run(NULL, &out, NULL, "minisign", "-Vm", a, "-p", pub, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "Trusted comment: timestamp:"));
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "\tfile:manifest.json\thashed"));
	free(out);
	CU_ASSERT_EQUAL(run(NULL, NULL, NULL, "minisign", "-Vm", b, "-p", pub, NULL), 0);

	/* The check can fail: a changed file is refused by both tools. */
	write_text(b, "payload bytes!\n");
	CU_ASSERT_NOT_EQUAL(run(NULL, NULL, &out, "minisign", "-q", "-Vm", b, "-p", pub, NULL), 0);
	free(out);
	{
		struct hp_keyring *kr = ring_of(pub);
		hp_print_fn_t old = hp_set_print(NULL);

		CU_ASSERT_EQUAL(hp_sig__verify_file(a, NULL, kr, NULL), 0);
		CU_ASSERT_EQUAL(hp_sig__verify_file(b, NULL, kr, NULL), -HP_E_SIGNATURE);
		hp_set_print(old);
		hp_keyring__free(kr);
	}
}

static void minisign_signs_hotpatch_verifies(void)
{
	const char *dir = ts_tmpdir(), *sec = at(dir, "m.key"), *pub = at(dir, "m.pub");
	const char *f = at(dir, "manifest.json"), *legacy = at(dir, "legacy.minisig");
	struct hp_keyring *kr;
	struct hp_sig_info info;

	write_text(f, "{\"id\":\"KB916846\"}\n");
	CU_ASSERT_EQUAL_FATAL(run(NULL, NULL, NULL, "minisign", "-G", "-W", "-p", pub, "-s", sec,
				  NULL), 0);
	CU_ASSERT_EQUAL_FATAL(run(NULL, NULL, NULL, "minisign", "-S", "-s", sec, "-m", f, "-t",
				  "KB916846 signed by minisign", NULL), 0);
	CU_ASSERT_EQUAL_FATAL(run(NULL, NULL, NULL, "minisign", "-S", "-l", "-s", sec, "-m", f,
				  "-x", legacy, NULL), 0);
	kr = ring_of(pub);
	memset(&info, 0, sizeof(info));
	CU_ASSERT_EQUAL(hp_sig__verify_file(f, NULL, kr, &info), 0);
	CU_ASSERT_STRING_EQUAL(info.trusted_comment, "KB916846 signed by minisign");
	CU_ASSERT_EQUAL(info.prehashed, 1);
	CU_ASSERT_EQUAL(hp_sig__verify_file(f, legacy, kr, &info), 0);
	CU_ASSERT_EQUAL(info.prehashed, 0);

	/* minisign's own secret key, used by hotpatch sign. */
	CU_ASSERT_EQUAL(run(NULL, NULL, NULL, hotpatch(), "sign", "-s", sec, "-t", "by hotpatch", f,
			    NULL), 0);
	CU_ASSERT_EQUAL(hp_sig__verify_file(f, NULL, kr, &info), 0);
	CU_ASSERT_STRING_EQUAL(info.trusted_comment, "by hotpatch");
	CU_ASSERT_EQUAL(run(NULL, NULL, NULL, "minisign", "-q", "-Vm", f, "-p", pub, NULL), 0);
	hp_keyring__free(kr);
}

static void hotpatch_key_in_minisign(void)
{
	const char *dir = ts_tmpdir(), *sec = at(dir, "h.key"), *pub = at(dir, "h.pub");
	const char *again = at(dir, "again.pub"), *f = at(dir, "f");
	struct hp_keyring *kr;
	char *ours, *theirs;

	write_text(f, "x\n");
	CU_ASSERT_EQUAL_FATAL(run(NULL, NULL, NULL, hotpatch(), "keygen", "-s", sec, "-p", pub, NULL), 0);
	/* minisign reads our secret key: it signs, and derives our public key. */
	CU_ASSERT_EQUAL(run(NULL, NULL, NULL, "minisign", "-S", "-s", sec, "-m", f, NULL), 0);
	kr = ring_of(pub);
	CU_ASSERT_EQUAL(hp_sig__verify_file(f, NULL, kr, NULL), 0);
	hp_keyring__free(kr);
	CU_ASSERT_EQUAL(run(NULL, NULL, NULL, "minisign", "-R", "-s", sec, "-p", again, NULL), 0);
	ours = ts_read_file(pub, NULL);
	theirs = ts_read_file(again, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ours);
	CU_ASSERT_PTR_NOT_NULL_FATAL(theirs);
	CU_ASSERT_STRING_EQUAL(strchr(ours, '\n'), strchr(theirs, '\n'));
	free(ours);
	free(theirs);
}

static void encrypted_keys(void)
{
	const char *dir = ts_tmpdir(), *sec = at(dir, "e.key"), *pub = at(dir, "e.pub");
	const char *pw = at(dir, "pw"), *bad = at(dir, "bad"), *f = at(dir, "f");
	struct hp_keyring *kr;
	char *err = NULL;

	write_text(f, "x\n");
	write_text(pw, "s3cret pass\n");
	write_text(bad, "not it\n");
	CU_ASSERT_EQUAL_FATAL(run(NULL, NULL, NULL, hotpatch(), "keygen", "-s", sec, "-p", pub,
				  "--password-file", pw, "--fast-kdf", NULL), 0);
	/* minisign decrypts our key (it reads the password on stdin). */
	CU_ASSERT_EQUAL(run("s3cret pass\n", NULL, NULL, "minisign", "-S", "-s", sec, "-m", f, NULL), 0);
	kr = ring_of(pub);
	CU_ASSERT_EQUAL(hp_sig__verify_file(f, NULL, kr, NULL), 0);
	hp_keyring__free(kr);

	unlink(at(dir, "f.minisig"));
	CU_ASSERT_EQUAL(run(NULL, NULL, &err, hotpatch(), "sign", "-s", sec, "--password-file", bad,
			    f, NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "wrong password"));
	free(err);
	CU_ASSERT_EQUAL(access(at(dir, "f.minisig"), F_OK), -1);
	CU_ASSERT_EQUAL(run("s3cret pass\n", NULL, NULL, hotpatch(), "sign", "-s", sec,
			    "--password-file", "-", f, NULL), 0);
	CU_ASSERT_EQUAL(run(NULL, NULL, NULL, "minisign", "-q", "-Vm", f, "-p", pub, NULL), 0);
}

static bool same_file(const char *path, const char *bytes, const struct stat *before)
{
	struct stat st;
	char *now = ts_read_file(path, NULL);
	bool same = now && !strcmp(now, bytes) && stat(path, &st) == 0 &&
		    st.st_mtim.tv_sec == before->st_mtim.tv_sec &&
		    st.st_mtim.tv_nsec == before->st_mtim.tv_nsec;

	free(now);
	return same;
}

static void cli_refusals_change_nothing(void)
{
	const char *dir = ts_tmpdir(), *sec = at(dir, "k.key"), *pub = at(dir, "k.pub");
	const char *f = at(dir, "f"), *missing = at(dir, "missing");
	char *sec0, *pub0, *out = NULL, *err = NULL;
	struct stat ssec, spub;
	json_t *doc;

	write_text(f, "x\n");
	CU_ASSERT_EQUAL_FATAL(run(NULL, NULL, NULL, hotpatch(), "keygen", "-s", sec, "-p", pub, NULL), 0);
	sec0 = ts_read_file(sec, NULL);
	pub0 = ts_read_file(pub, NULL);
	CU_ASSERT_EQUAL(stat(sec, &ssec), 0);
	CU_ASSERT_EQUAL(stat(pub, &spub), 0);

	CU_ASSERT_EQUAL(run(NULL, NULL, &err, hotpatch(), "keygen", "-s", sec, "-p", pub, NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "k.key: exists"));
	free(err);
	CU_ASSERT(same_file(sec, sec0, &ssec));
	CU_ASSERT(same_file(pub, pub0, &spub));

	/* One unreadable input: no signature is written for the others. */
	CU_ASSERT_EQUAL(run(NULL, NULL, &err, hotpatch(), "sign", "-s", sec, f, missing, NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "missing: No such file"));
	free(err);
	CU_ASSERT_EQUAL(access(at(dir, "f.minisig"), F_OK), -1);
	/* A public key is not a secret key. */
	CU_ASSERT_EQUAL(run(NULL, NULL, &err, hotpatch(), "sign", "-s", pub, f, NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "k.pub"));
	free(err);
	CU_ASSERT_EQUAL(access(at(dir, "f.minisig"), F_OK), -1);

	CU_ASSERT_EQUAL(run(NULL, NULL, &err, hotpatch(), "keygen", "-s", sec, NULL), 2);
	free(err);
	CU_ASSERT_EQUAL(run(NULL, NULL, &err, hotpatch(), "sign", "-s", sec, NULL), 2);
	free(err);
	CU_ASSERT_EQUAL(run(NULL, NULL, &err, hotpatch(), "sign", "-s", sec, "-x", at(dir, "s"), f,
			    f, NULL), 2);
	free(err);
	CU_ASSERT_EQUAL(run(NULL, &out, NULL, hotpatch(), "sign", "--help", NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "Usage: hotpatch sign"));
	free(out);
	CU_ASSERT(same_file(sec, sec0, &ssec));
	CU_ASSERT(same_file(pub, pub0, &spub));

	/* --json: one document, saying something changed. */
	CU_ASSERT_EQUAL(run(NULL, &out, NULL, hotpatch(), "--json", "sign", "-s", sec, f, NULL), 0);
	doc = out ? json_loads(out, 0, NULL) : NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	CU_ASSERT(json_is_true(json_object_get(doc, "changed")));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
		json_array_get(json_object_get(doc, "signed"), 0), "signature")), at(dir, "f.minisig"));
	json_decref(doc);
	free(out);
	CU_ASSERT_EQUAL(run(NULL, &out, NULL, hotpatch(), "keygen", "--json", "-f", "-s", sec, "-p",
			    pub, NULL), 0);
	doc = out ? json_loads(out, 0, NULL) : NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	CU_ASSERT(json_is_true(json_object_get(doc, "changed")));
	CU_ASSERT_EQUAL(strlen(json_string_value(json_object_get(doc, "key_id")) ?: ""), 16);
	json_decref(doc);
	free(out);
	free(sec0);
	free(pub0);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "hotpatch signs, minisign verifies", hotpatch_signs_minisign_verifies },
		{ "minisign signs (prehashed and legacy), hotpatch verifies",
		  minisign_signs_hotpatch_verifies },
		{ "a hotpatch key in minisign", hotpatch_key_in_minisign },
		{ "encrypted keys both ways", encrypted_keys },
		{ "CLI refusals change nothing", cli_refusals_change_nothing },
		{ NULL, NULL },
	};

	atexit(free_paths);
	ts_add_suite("signing", tests);
}
