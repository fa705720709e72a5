/* hotpatch verify against bad packages: each way a package can be wrong
 * (wrong key, tampered manifest or payload, truncated, oversized, a
 * decompression bomb, invalid JSON, an unknown field, a file name escaping
 * the package) gets its own specific error on stderr and exit code 5, and
 * the package's files keep their bytes and mtimes. The package is the one
 * `make package` built, copied; refusals that need a validly signed bad
 * package are re-signed with a key made for the test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hotpatch.h"
#include "snapshot.h"
#include "support.h"

static const char *keydir; /* holds other.key/other.pub, made once */

static const char *hotpatch(void)
{
	return ts_build_path("bin/hotpatch");
}

/* A fresh copy of the built package; returns its directory. */
static const char *copy_package(void)
{
	const char *dir = ts_tmpdir();
	char *cmd = NULL;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	CU_ASSERT_FATAL(asprintf(&cmd, "cp -p '%s'/* '%s'/", ts_build_path("packages/KB916846"), dir) > 0);
	rc = ts_sh(cmd, NULL, NULL);
	free(cmd);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	return dir;
}

static const char *test_key(const char *ext)
{
	static char path[4096];

	if (!keydir) {
		char *cmd = NULL;

		keydir = ts_tmpdir();
		CU_ASSERT_FATAL(asprintf(&cmd, "'%s' keygen -s '%s/other.key' -p '%s/other.pub' >/dev/null",
					 hotpatch(), keydir, keydir) > 0);
		CU_ASSERT_EQUAL_FATAL(ts_sh(cmd, NULL, NULL), 0);
		free(cmd);
	}
	snprintf(path, sizeof(path), "%s/other.%s", keydir, ext);
	return path;
}

/* Re-sign dir/manifest.json with the test key: a bad package that a
 * (compromised or careless) trusted vendor signed. */
static void resign(const char *dir)
{
	char *cmd = NULL;

	CU_ASSERT_FATAL(asprintf(&cmd, "'%s' sign -s '%s' '%s/manifest.json' >/dev/null", hotpatch(),
				 test_key("key"), dir) > 0);
	CU_ASSERT_EQUAL_FATAL(ts_sh(cmd, NULL, NULL), 0);
	free(cmd);
}

/* Run verify on dir's manifest (no targets: an empty root, no processes)
 * trusting key; check exit code and that stderr holds want; then check
 * that nothing in dir changed. */
static void expect(const char *dir, const char *key, const char *extra, int code, const char *want)
{
	struct ts_snapshot *snap = ts_snapshot_take(dir);
	const char *empty = ts_tmpdir();
	char *cmd = NULL, *out = NULL, *err = NULL;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(snap);
	CU_ASSERT_FATAL(asprintf(&cmd, "'%s' verify '%s/manifest.json' --trusted-key '%s' --root '%s' "
				       "--no-processes %s",
				 hotpatch(), dir, key, empty, extra ? extra : "") > 0);
	rc = ts_sh(cmd, &out, &err);
	if (rc != code || !strstr(err, want))
		fprintf(stderr, "%s\n-> exit %d, want %d and '%s'\nstdout: %s\nstderr: %s\n", cmd, rc,
			code, want, out, err);
	CU_ASSERT_EQUAL(rc, code);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	if (code)
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "nothing changed"));
	CU_ASSERT(ts_snapshot_same(snap));
	ts_snapshot_free(snap);
	free(cmd);
	free(out);
	free(err);
}

static const char *vendor_key(void)
{
	return ts_build_path("keys/vendor.pub");
}

/* Set the srv payload's size and SHA-256 in dir's manifest from the file now
 * there, as a vendor packing that file would have. */
static void repin_payload(const char *dir)
{
	char path[4096], file[4096];
	struct hp_manifest *m;
	struct hp_manifest_component *c;
	struct stat st;

	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	snprintf(file, sizeof(file), "%s/srv.hpc", dir);
	m = hp_manifest__load(path, HP_MANIFEST_FINAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	c = (struct hp_manifest_component *)hp_manifest__find_component(m, "srv");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(stat(file, &st), 0);
	c->payload_size = (uint64_t)st.st_size;
	CU_ASSERT_EQUAL_FATAL(hp_sha256_file(file, c->payload_sha256), 0);
	CU_ASSERT_EQUAL_FATAL(hp_manifest__write(m, path), 0);
	hp_manifest__free(m);
}

/* Replace the first occurrence of from by to in dir/manifest.json. */
static void edit_manifest(const char *dir, const char *from, const char *to)
{
	char path[4096], *text, *p, *nt = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	text = ts_read_file(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	p = strstr(text, from);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_FATAL(asprintf(&nt, "%.*s%s%s", (int)(p - text), text, to, p + strlen(from)) > 0);
	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, nt, strlen(nt)), 0);
	free(nt);
	free(text);
}

static void good_package(void)
{
	const char *dir = copy_package();

	expect(dir, vendor_key(), NULL, 0, "");
}

static void wrong_key(void)
{
	expect(copy_package(), test_key("pub"), NULL, 5, "signed by unknown key id");
}

static void tampered_manifest(void)
{
	const char *dir = copy_package();

	edit_manifest(dir, "\"title\": \"", "\"title\": \"(harmless) ");
	expect(dir, vendor_key(), NULL, 5, "bad signature");
}

static void unsigned_manifest(void)
{
	const char *dir = copy_package();
	char path[4096];

	snprintf(path, sizeof(path), "%s/manifest.json.minisig", dir);
	CU_ASSERT_EQUAL(unlink(path), 0);
	expect(dir, vendor_key(), NULL, 5, "manifest.json");
	/* Skipping the check is possible, and loud. */
	expect(dir, vendor_key(), "--insecure-skip-signature", 0, "signature NOT verified");
}

static void tampered_payload(void)
{
	const char *dir = copy_package();
	char path[4096], *data;
	size_t len;

	snprintf(path, sizeof(path), "%s/srv.hpc", dir);
	data = ts_read_file(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	data[len / 2] ^= 0x40;
	CU_ASSERT_EQUAL(ts_write_file(path, data, len), 0);
	free(data);
	expect(dir, vendor_key(), NULL, 5, "srv.hpc: SHA-256");
}

static void truncated_payload(void)
{
	const char *dir = copy_package();
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/srv.hpc", dir);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(truncate(path, st.st_size - 40), 0);
	expect(dir, vendor_key(), NULL, 5, "the manifest says");
	expect(dir, vendor_key(), NULL, 5, "(truncated)");
	/* Signed that way: the container itself finds its stream cut short. */
	repin_payload(dir);
	resign(dir);
	expect(dir, test_key("pub"), NULL, 5, "payload container is refused");
}

static void oversized_payload(void)
{
	const char *dir = copy_package();
	char path[4096], *data, *big;
	size_t len;

	snprintf(path, sizeof(path), "%s/srv.hpc", dir);
	data = ts_read_file(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	big = calloc(1, len + 4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memcpy(big, data, len);
	CU_ASSERT_EQUAL(ts_write_file(path, big, len + 4096), 0);
	expect(dir, vendor_key(), NULL, 5, "(oversized)");
	/* Signed that way: trailing bytes after the container's stream. */
	repin_payload(dir);
	resign(dir);
	expect(dir, test_key("pub"), NULL, 5, "payload container is refused");
	free(big);
	free(data);
}

static void decompression_bomb(void)
{
	const char *dir = copy_package();
	size_t n = 256u << 20, clen = 0;
	void *zeros = calloc(1, n), *bomb = NULL;
	char path[4096];

	/* 256 MiB of zeros packs into a few hundred KiB: a small, validly
	 * signed file that would expand far beyond any bound. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(zeros);
	CU_ASSERT_EQUAL_FATAL(hp_container__pack(zeros, n, &bomb, &clen), 0);
	free(zeros);
	snprintf(path, sizeof(path), "%s/srv.hpc", dir);
	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, bomb, clen), 0);
	free(bomb);
	repin_payload(dir);
	resign(dir);
	expect(dir, test_key("pub"), NULL, 5, "size beyond its limit");
}

static void invalid_json(void)
{
	const char *dir = copy_package();

	edit_manifest(dir, "\"components\": [", "\"components\": [,");
	resign(dir);
	expect(dir, test_key("pub"), NULL, 5, "invalid JSON at line");
}

static void unknown_field(void)
{
	const char *dir = copy_package();

	edit_manifest(dir, "\"package_note\": \"srv\",",
		      "\"package_note\": \"srv\", \"restart_required\": false,");
	resign(dir);
	expect(dir, test_key("pub"), NULL, 5, "components[0].restart_required: unknown field");
}

static void path_escaping(void)
{
	const char *dir = copy_package(), *outside = ts_tmpdir();
	char cmd[8192];

	edit_manifest(dir, "\"file\": \"srv.hpc\"", "\"file\": \"../srv.hpc\"");
	resign(dir);
	expect(dir, test_key("pub"), NULL, 5, "escapes the package directory");

	/* A name that looks harmless but is a symlink to a file outside. */
	dir = copy_package();
	snprintf(cmd, sizeof(cmd), "mv '%s/srv.hpc' '%s/srv.hpc' && ln -s '%s/srv.hpc' '%s/srv.hpc'",
		 dir, outside, outside, dir);
	CU_ASSERT_EQUAL_FATAL(ts_sh(cmd, NULL, NULL), 0);
	expect(dir, vendor_key(), NULL, 5, "resolves outside the package directory");

	/* A symlink that stays inside is fine. */
	dir = copy_package();
	snprintf(cmd, sizeof(cmd), "mkdir '%s/p' && mv '%s/srv.hpc' '%s/p/' && ln -s p/srv.hpc '%s/srv.hpc'",
		 dir, dir, dir, dir);
	CU_ASSERT_EQUAL_FATAL(ts_sh(cmd, NULL, NULL), 0);
	expect(dir, vendor_key(), NULL, 0, "");
}

static void stock_minisign_verifies(void)
{
	char *cmd = NULL, *out = NULL;

	CU_ASSERT_FATAL(asprintf(&cmd, "minisign -Vm '%s' -p '%s'",
				 ts_build_path("packages/KB916846/manifest.json"), vendor_key()) > 0);
	CU_ASSERT_EQUAL(ts_sh(cmd, &out, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "verified"));
	free(cmd);
	free(out);
}

/* Format 2: a full fixed build shipped beside the hotpatch is checked like
 * a payload. */
static void format2_full_build(void)
{
	const char *dir = copy_package();
	char path[4096], file[4096], *data;
	struct hp_manifest *m;
	struct hp_manifest_component *c;
	struct hp_manifest_build *b;
	size_t len;

	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	snprintf(file, sizeof(file), "%s/srv-5.2.3790.2734", dir);
	data = ts_read_file(ts_build_path("targets/srv/5.2.3790.2734/srv"), &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	CU_ASSERT_EQUAL_FATAL(ts_write_file(file, data, len), 0);
	m = hp_manifest__load(path, HP_MANIFEST_FINAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	c = (struct hp_manifest_component *)hp_manifest__find_component(m, "srv");
	b = c->builds = calloc(1, sizeof(*b));
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	c->nr_builds = 1;
	m->format = 2;
	b->version = strdup("5.2.3790.2734");
	b->file = strdup("srv-5.2.3790.2734");
	b->size = len;
	CU_ASSERT_EQUAL(hp_sha256_buf(data, len, b->sha256), 0);
	b->replaces = calloc(1, sizeof(*b->replaces));
	CU_ASSERT_PTR_NOT_NULL_FATAL(b->replaces);
	b->replaces[0].version = strdup("5.2.3790.1830");
	b->nr_replaces = 1;
	CU_ASSERT_EQUAL_FATAL(hp_manifest__write(m, path), 0);
	hp_manifest__free(m);
	resign(dir);
	expect(dir, test_key("pub"), NULL, 0, "");

	data[len / 3] ^= 1;
	CU_ASSERT_EQUAL_FATAL(ts_write_file(file, data, len), 0);
	free(data);
	expect(dir, test_key("pub"), NULL, 5, "srv-5.2.3790.2734: SHA-256");
}

/* A package signed with the stock minisign verifies with hotpatch. */
static void signed_by_stock_minisign(void)
{
	const char *dir = copy_package(), *keys = ts_tmpdir();
	char cmd[8192], pub[4200];

	snprintf(cmd, sizeof(cmd),
		 "minisign -G -W -p '%s/m.pub' -s '%s/m.key' >/dev/null && rm -f '%s/manifest.json.minisig' && "
		 "minisign -S -s '%s/m.key' -m '%s/manifest.json' >/dev/null",
		 keys, keys, dir, keys, dir);
	CU_ASSERT_EQUAL_FATAL(ts_sh(cmd, NULL, NULL), 0);
	snprintf(pub, sizeof(pub), "%s/m.pub", keys);
	expect(dir, pub, NULL, 0, "");
	expect(dir, vendor_key(), NULL, 5, "signed by unknown key id");
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "the built package verifies", good_package },
		{ "the stock minisign verifies the built package", stock_minisign_verifies },
		{ "a package signed by the stock minisign verifies", signed_by_stock_minisign },
		{ "wrong key", wrong_key },
		{ "tampered manifest", tampered_manifest },
		{ "unsigned manifest; skipping the check is loud", unsigned_manifest },
		{ "tampered payload", tampered_payload },
		{ "truncated payload", truncated_payload },
		{ "oversized payload", oversized_payload },
		{ "decompression bomb", decompression_bomb },
		{ "invalid JSON", invalid_json },
		{ "unknown field", unknown_field },
		{ "a payload name escaping the package directory", path_escaping },
		{ "format 2: a full build in the package is checked", format2_full_build },
		{ NULL, NULL },
	};

	ts_add_suite("verify: bad packages", tests);
}
