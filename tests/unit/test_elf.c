/* The ELF module on the fixtures and on real system files: identity (type,
 * build-id, package note, SHA-256) cross-checked with binutils' readelf and
 * coreutils' sha256sum, symbol lookup by name (versioned too) and by
 * address, stripped files, and reading bytes through the segments. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotpatch.h"
#include "support.h"

static struct hp_elf *open_fixture(const char *name)
{
	struct hp_elf *elf = hp_elf__open(ts_build_path("fixtures/%s", name));

	CU_ASSERT_PTR_NOT_NULL(elf);
	return elf;
}

/* The build-id as readelf -n prints it. */
static char *readelf_build_id(const char *path)
{
	char *argv[] = { "readelf", "-n", (char *)path, NULL };
	char *out = NULL, *p, *id = NULL;

	if (ts_run(argv, NULL, &out, NULL) != 0 || !out)
		goto out;
	p = strstr(out, "Build ID: ");
	if (p) {
		p += strlen("Build ID: ");
		id = strndup(p, strcspn(p, "\n "));
	}
out:
	free(out);
	return id;
}

static char *sha256sum(const char *path)
{
	char *argv[] = { "sha256sum", (char *)path, NULL };
	char *out = NULL, *hex = NULL;

	if (ts_run(argv, NULL, &out, NULL) == 0 && out)
		hex = strndup(out, 64);
	free(out);
	return hex;
}

static void check_identity(const char *path, enum hp_elf_type type)
{
	struct hp_elf *elf = hp_elf__open(path);
	const struct hp_identity *id;
	char *bid, *sha, hex[65];

	CU_ASSERT_PTR_NOT_NULL_FATAL(elf);
	id = hp_elf__identity(elf);
	CU_ASSERT_EQUAL(id->type, type);
	bid = readelf_build_id(path);
	sha = sha256sum(path);
	CU_ASSERT_PTR_NOT_NULL(bid);
	CU_ASSERT_PTR_NOT_NULL(id->build_id);
	if (bid && id->build_id)
		CU_ASSERT_STRING_EQUAL(id->build_id, bid);
	CU_ASSERT_PTR_NOT_NULL(sha);
	if (sha)
		CU_ASSERT_STRING_EQUAL(id->sha256, sha);
	CU_ASSERT_EQUAL(hp_sha256_file(path, hex), 0);
	CU_ASSERT_STRING_EQUAL(hex, id->sha256);
	free(bid);
	free(sha);
	hp_elf__close(elf);
}

static void identity_of_fixtures(void)
{
	check_identity(ts_build_path("fixtures/fx_exec"), HP_ELF_EXEC);
	check_identity(ts_build_path("fixtures/fx_pie"), HP_ELF_PIE);
	check_identity(ts_build_path("fixtures/fx_pie-stripped"), HP_ELF_PIE);
	check_identity(ts_build_path("fixtures/libfx.so"), HP_ELF_SHARED);
	check_identity(ts_build_path("fixtures/libfx-stripped.so"), HP_ELF_SHARED);
}

static void identity_of_system_files(void)
{
	check_identity("/usr/lib/x86_64-linux-gnu/libz.so.1", HP_ELF_SHARED);
	check_identity(ts_build_path("bin/hotpatch"), HP_ELF_PIE);
}

static void package_note(void)
{
	struct hp_elf *elf = open_fixture("fx_pie");
	const struct hp_identity *id;

	if (!elf)
		return;
	id = hp_elf__identity(elf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(id->pkg_name);
	CU_ASSERT_STRING_EQUAL(id->pkg_name, "fixture");
	CU_ASSERT_STRING_EQUAL(id->pkg_version, "1.2.3");
	CU_ASSERT_STRING_EQUAL(id->pkg_type, "deb");
	hp_elf__close(elf);
	elf = open_fixture("fx_exec");
	CU_ASSERT_PTR_NULL(hp_elf__identity(elf)->pkg_version);
	hp_elf__close(elf);
	/* relocatable: no build-id, no segments */
	elf = open_fixture("shapes.o");
	CU_ASSERT_EQUAL(hp_elf__identity(elf)->type, HP_ELF_RELOCATABLE);
	CU_ASSERT_PTR_NULL(hp_elf__identity(elf)->build_id);
	hp_elf__close(elf);
}

static void symbols_by_name(void)
{
	struct hp_elf *elf = open_fixture("fx_exec");
	const struct hp_symbol *s;

	if (!elf)
		return;
	s = hp_elf__find_symbol(elf, "fx_sum");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(s->kind, HP_SYM_FUNC);
	CU_ASSERT_EQUAL(s->bind, HP_BIND_GLOBAL);
	CU_ASSERT(s->defined && !s->dynamic && s->size > 0);
	/* a static function is found through .symtab */
	s = hp_elf__find_symbol(elf, "fx_square");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(s->bind, HP_BIND_LOCAL);
	s = hp_elf__find_symbol(elf, "fx_var");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(s->kind, HP_SYM_OBJECT);
	CU_ASSERT_EQUAL(s->size, 4);
	/* an import */
	s = hp_elf__find_symbol(elf, "printf");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_FALSE(s->defined);
	CU_ASSERT_PTR_NULL(hp_elf__find_symbol(elf, "no_such_symbol"));
	CU_ASSERT_PTR_NULL(hp_elf__find_symbol(elf, "fx_su"));
	hp_elf__close(elf);
}

static void versioned_symbols(void)
{
	static const char *const files[] = { "libfx.so", "libfx-stripped.so" };
	size_t f;

	for (f = 0; f < 2; f++) {
		struct hp_elf *elf = open_fixture(files[f]);
		const struct hp_symbol *def, *old, *s;

		if (!elf)
			continue;
		def = hp_elf__find_symbol(elf, "fx_compat");
		old = hp_elf__find_symbol(elf, "fx_compat@FX_1.0");
		CU_ASSERT_PTR_NOT_NULL_FATAL(def);
		CU_ASSERT_PTR_NOT_NULL_FATAL(old);
		CU_ASSERT_PTR_NOT_NULL_FATAL(def->version);
		CU_ASSERT_STRING_EQUAL(old->version, "FX_1.0");
		CU_ASSERT_NOT_EQUAL(def->value, old->value);
		s = hp_elf__find_symbol(elf, "fx_compat@@FX_2.0");
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		CU_ASSERT_EQUAL(s->value, def->value);
		CU_ASSERT_PTR_NULL(hp_elf__find_symbol(elf, "fx_compat@FX_9"));
		s = hp_elf__find_symbol(elf, "fx_lib_version");
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		CU_ASSERT_STRING_EQUAL(s->version, "FX_2.0");
		s = hp_elf__find_symbol(elf, "fx_sum");
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		CU_ASSERT_STRING_EQUAL(s->version, "FX_1.0");
		hp_elf__close(elf);
	}
}

static void stripped(void)
{
	struct hp_elf *elf = open_fixture("libfx-stripped.so");

	if (!elf)
		return;
	CU_ASSERT_EQUAL(hp_elf__symtab_count(elf), 0);
	CU_ASSERT(hp_elf__dynsym_count(elf) > 0);
	CU_ASSERT_PTR_NOT_NULL(hp_elf__find_symbol(elf, "fn_endbr"));
	CU_ASSERT_PTR_NULL(hp_elf__find_symbol(elf, "fx_helper")); /* local: gone */
	CU_ASSERT(hp_elf__find_symbol(elf, "fn_endbr")->dynamic);
	hp_elf__close(elf);
}

static void symbols_by_address(void)
{
	struct hp_elf *elf = open_fixture("fx_pie");
	const struct hp_symbol *s, *t;
	size_t i, n;

	if (!elf)
		return;
	s = hp_elf__find_symbol(elf, "fn_jcc_rip");
	CU_ASSERT_PTR_EQUAL(hp_elf__symbol_at(elf, s->value), s);
	CU_ASSERT_PTR_EQUAL(hp_elf__symbol_at(elf, s->value + s->size - 1), s);
	t = hp_elf__symbol_at(elf, s->value + s->size);
	CU_ASSERT(t != s);
	/* every defined sized function is found at each of its ends */
	n = hp_elf__symbol_count(elf);
	for (i = 0; i < n; i++) {
		s = hp_elf__symbol(elf, i);
		if (s->kind != HP_SYM_FUNC || !s->defined || !s->size)
			continue;
		t = hp_elf__symbol_at(elf, s->value + s->size - 1);
		CU_ASSERT_PTR_NOT_NULL(t);
		if (t)
			CU_ASSERT_EQUAL(t->value, s->value);
	}
	hp_elf__close(elf);
}

static void read_bytes(void)
{
	struct hp_elf *elf = open_fixture("fx_exec");
	const struct hp_symbol *s;
	const struct hp_segment *seg = NULL;
	uint8_t buf[16];
	size_t i;

	if (!elf)
		return;
	s = hp_elf__find_symbol(elf, "fn_two");
	CU_ASSERT_EQUAL(hp_elf__read(elf, s->value, buf, 2), 0);
	CU_ASSERT(buf[0] == 0xf3 && buf[1] == 0xc3);
	s = hp_elf__find_symbol(elf, "fn_endbr");
	CU_ASSERT_EQUAL(hp_elf__read(elf, s->value, buf, 4), 0);
	CU_ASSERT(!memcmp(buf, "\xf3\x0f\x1e\xfa", 4));
	s = hp_elf__find_symbol(elf, "fx_var");
	CU_ASSERT_EQUAL(hp_elf__read(elf, s->value, buf, 4), 0);
	CU_ASSERT_EQUAL(buf[0], 42);
	CU_ASSERT_EQUAL(hp_elf__read(elf, 0x10, buf, 4), -EFAULT);
	CU_ASSERT_EQUAL(hp_elf__read(elf, UINT64_MAX - 2, buf, 8), -EFAULT);
	/* past the last segment's end */
	for (i = 0; i < hp_elf__segment_count(elf); i++)
		seg = hp_elf__segment(elf, i);
	CU_ASSERT_EQUAL(hp_elf__read(elf, seg->vaddr + seg->memsz - 2, buf, 4), -EFAULT);
	CU_ASSERT_EQUAL(hp_elf__link_base(elf), 0x400000);
	CU_ASSERT_PTR_NOT_NULL(hp_elf__section_at(elf, hp_elf__find_symbol(elf, "fx_sum")->value));
	CU_ASSERT_STRING_EQUAL(
		hp_elf__section_at(elf, hp_elf__find_symbol(elf, "fx_sum")->value)->name, ".text");
	hp_elf__close(elf);
}

static void errors(void)
{
	errno = 0;
	CU_ASSERT_PTR_NULL(hp_elf__open("/nonexistent/file"));
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_PTR_NULL(hp_elf__open("/etc/passwd"));
	CU_ASSERT_EQUAL(errno, HP_E_FORMAT);
	CU_ASSERT_PTR_NULL(hp_elf__open("/"));
	CU_ASSERT_EQUAL(errno, EISDIR);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "identity of the fixtures (readelf, sha256sum)", identity_of_fixtures },
		{ "identity of system files", identity_of_system_files },
		{ "package note and relocatable objects", package_note },
		{ "symbols by name", symbols_by_name },
		{ "versioned symbols", versioned_symbols },
		{ "stripped library", stripped },
		{ "symbols by address", symbols_by_address },
		{ "reading bytes through the segments", read_bytes },
		{ "missing, non-ELF and directory", errors },
		{ NULL, NULL },
	};

	ts_add_suite("elf", tests);
}
