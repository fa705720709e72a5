/* The vendor side and the package as a library object: `hotpatch pack`
 * reproduces the package `make package` built byte for byte from the same
 * built files, refuses a build that is not an eligible version or a missing
 * one, and hp_package__open gives the verified manifest and the parsed
 * payloads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hotpatch.h"
#include "support.h"

#define SRV_OLD "5.2.3790.1830"

static char *out, *err;

static int pack(const char *outdir, const char *targets)
{
	char *cmd = NULL;
	int rc;

	free(out);
	free(err);
	out = err = NULL;
	if (asprintf(&cmd,
		     "'%s' pack '%s/manifests/KB916846.json' --out '%s' --payload srv='%s' "
		     "--payload mrxsmb='%s' %s",
		     ts_build_path("bin/hotpatch"), ts_src_dir(), outdir,
		     ts_build_path("payloads/KB916846/srv.o"), ts_build_path("payloads/KB916846/mrxsmb.o"),
		     targets) < 0)
		return -1;
	rc = ts_sh(cmd, &out, &err);
	if (rc)
		fprintf(stderr, "%s\n-> %d\n%s", cmd, rc, err);
	free(cmd);
	return rc;
}

/* --target arguments for every eligible build, --full-build for the fixed
 * build and --replaced for every other build, from versions.sh. */
static char *eligible_targets(void)
{
	char *cmd = NULL, *list = NULL;

	if (asprintf(&cmd,
		     ". '%s'; for v in $SRV_ELIGIBLE; do printf '%%s ' \"--target srv=%s/targets/srv/$v/srv\"; done; "
		     "for v in $MRXSMB_ELIGIBLE; do printf '%%s ' \"--target mrxsmb=%s/targets/mrxsmb/$v/libmrxsmb.so\"; done; "
		     "printf -- '--full-build srv=%s/targets/srv/%%s/srv --full-build mrxsmb=%s/targets/mrxsmb/%%s/libmrxsmb.so ' "
		     "$FIXED_VERSION $FIXED_VERSION; "
		     "for v in $SRV_VERSIONS; do case \" $SRV_ELIGIBLE $FIXED_VERSION \" in *\" $v \"*) ;; "
		     "*) printf -- '--replaced srv=%s/targets/srv/%%s/srv ' $v ;; esac; done; "
		     "for v in $MRXSMB_VERSIONS; do case \" $MRXSMB_ELIGIBLE $FIXED_VERSION \" in *\" $v \"*) ;; "
		     "*) printf -- '--replaced mrxsmb=%s/targets/mrxsmb/%%s/libmrxsmb.so ' $v ;; esac; done",
		     ts_build_path("targets/versions.sh"), ts_build_dir(), ts_build_dir(), ts_build_dir(),
		     ts_build_dir(), ts_build_dir(), ts_build_dir()) < 0)
		return NULL;
	if (ts_sh(cmd, &list, NULL) != 0) {
		free(list);
		list = NULL;
	}
	free(cmd);
	return list;
}

static bool same_file(const char *a, const char *b)
{
	size_t la, lb;
	char *da = ts_read_file(a, &la), *db = ts_read_file(b, &lb);
	bool same = da && db && la == lb && !memcmp(da, db, la);

	if (!same)
		fprintf(stderr, "%s and %s differ\n", a, b);
	free(da);
	free(db);
	return same;
}

static void pack_is_deterministic(void)
{
	const char *a = ts_tmpdir(), *b = ts_tmpdir();
	static const char *const files[] = { "manifest.json", "srv.hpc", "mrxsmb.hpc",
					     "srv-5.2.3790.2734.hpc", "mrxsmb-5.2.3790.2734.hpc" };
	char *targets = eligible_targets();
	char pa[4096], pb[4096];
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(targets);
	CU_ASSERT_EQUAL_FATAL(pack(a, targets), 0);
	CU_ASSERT_EQUAL_FATAL(pack(b, targets), 0);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(pa, sizeof(pa), "%s/%s", a, files[i]);
		snprintf(pb, sizeof(pb), "%s/%s", b, files[i]);
		CU_ASSERT(same_file(pa, pb));
		/* And the same as what make package shipped. */
		CU_ASSERT(same_file(pa, ts_build_path("packages/KB916846/%s", files[i])));
	}
	free(targets);
}

static void pack_refuses_not_eligible(void)
{
	const char *dir = ts_tmpdir();
	char *targets = eligible_targets(), *more = NULL, path[4096];
	struct stat st;

	CU_ASSERT_PTR_NOT_NULL_FATAL(targets);
	CU_ASSERT(asprintf(&more, "%s --target srv=%s", targets,
			   ts_build_path("targets/srv/" SRV_OLD "/srv")) > 0);
	snprintf(path, sizeof(path), "%s/out", dir);
	CU_ASSERT_EQUAL(pack(path, more), 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "version " SRV_OLD " is not an eligible version of component srv"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no package written"));
	CU_ASSERT_NOT_EQUAL(stat(path, &st), 0); /* nothing written */
	free(more);
	free(targets);
}

static void pack_needs_every_eligible_version(void)
{
	const char *dir = ts_tmpdir();
	char *targets = eligible_targets(), *cut, path[4096];
	struct stat st;

	CU_ASSERT_PTR_NOT_NULL_FATAL(targets);
	/* Drop the first --target (an eligible srv build). */
	cut = strstr(targets + 1, "--target");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cut);
	snprintf(path, sizeof(path), "%s/out", dir);
	CU_ASSERT_EQUAL(pack(path, cut), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "pack: component srv: no built file of eligible version"));
	CU_ASSERT_NOT_EQUAL(stat(path, &st), 0);
	free(targets);
}

/* The full builds: pack needs the fixed build and each build it replaces,
 * and refuses an eligible build given as one to replace. */
static void pack_needs_full_builds(void)
{
	const char *dir = ts_tmpdir();
	char *targets = eligible_targets(), *cut, *more = NULL, path[4096];
	struct stat st;

	CU_ASSERT_PTR_NOT_NULL_FATAL(targets);
	snprintf(path, sizeof(path), "%s/out", dir);
	cut = strstr(targets, "--full-build");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cut);
	*cut = '\0';
	CU_ASSERT_EQUAL(pack(path, targets), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "component srv: no built file of full build 5.2.3790.2734"));
	CU_ASSERT_NOT_EQUAL(stat(path, &st), 0);
	*cut = '-';
	CU_ASSERT(asprintf(&more, "%s --replaced srv=%s", targets,
			   ts_build_path("targets/srv/5.2.3790.2691/srv")) > 0);
	CU_ASSERT_EQUAL(pack(path, more), 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is not replaced by a full build in the source manifest"));
	CU_ASSERT_NOT_EQUAL(stat(path, &st), 0);
	free(more);
	free(targets);
}

static void pack_usage(void)
{
	CU_ASSERT_EQUAL(pack("", "--target srv"), 2);
}

static void open_the_built_package(void)
{
	const char *key = ts_build_path("keys/vendor.pub");
	struct hp_package_opts opts = { .trusted_keys = &key, .nr_trusted_keys = 1 };
	const struct hp_package_payload *p;
	struct hp_package *pkg;

	pkg = hp_package__open(ts_build_path("packages/KB916846/manifest.json"), &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pkg);
	CU_ASSERT(pkg->signature_checked);
	CU_ASSERT_EQUAL(strlen(pkg->key_id), 16);
	CU_ASSERT_STRING_EQUAL(pkg->manifest->id, "KB916846");
	CU_ASSERT_EQUAL(pkg->nr_payloads, 2);
	p = hp_package__find_payload(pkg, "mrxsmb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_PTR_NOT_NULL(p->link);
	CU_ASSERT(p->object_size > 64);
	CU_ASSERT(!memcmp(p->object, "\177ELF", 4));
	CU_ASSERT_PTR_NULL(hp_package__find_payload(pkg, "rdr"));
	hp_package__close(pkg);
	hp_package__close(NULL);
}

static void cleanup(void)
{
	free(out);
	free(err);
	out = err = NULL;
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "pack reproduces the built package byte for byte", pack_is_deterministic },
		{ "pack refuses a build that is not an eligible version", pack_refuses_not_eligible },
		{ "pack needs the full builds and the builds they replace", pack_needs_full_builds },
		{ "pack needs a build of every eligible version", pack_needs_every_eligible_version },
		{ "pack usage errors", pack_usage },
		{ "hp_package__open on the built package", open_the_built_package },
		{ "cleanup", cleanup },
		{ NULL, NULL },
	};

	ts_add_suite("package", tests);
}
