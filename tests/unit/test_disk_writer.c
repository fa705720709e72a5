/* The cold patch's ELF writer (elf_write.c) on the fixture builds: a
 * non-PIE executable, a PIE with endbr64 entries, the same stripped, and a
 * versioned shared library. fx_zero() is redirected to a one-page payload
 * returning 42 in an added segment: the programs run and print it, the
 * library called through dlopen returns it, eu-elflint accepts every
 * result, the output is deterministic, the record is found (also without
 * section headers) and the identity is kept. Malformed inputs and jumps
 * outside the code are refused. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hotpatch.h"
#include "internal.h"
#include "elf_write.h"
#include "support.h"

#define NOTE "package=TEST\ncomponent=fixture\nfunction=fx_zero\n"

/* mov eax, 42; ret */
static const uint8_t ret42[] = { 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3 };

/* Build the patched form of fixture name (symbols read from symfile, the
 * unstripped twin) into *out; the entry's jump address in *at. */
static int patch_fixture(const char *name, const char *symfile, uint8_t **out, size_t *out_len,
			 struct elf_write_plan *plan)
{
	struct hp_func_report *rep = malloc(sizeof(*rep));
	struct elf_write_jump jump;
	struct elf_write_add add;
	struct hp_elf *elf = NULL;
	const struct hp_symbol *sym;
	uint8_t image[4096], *orig = NULL;
	size_t len = 0;
	int err = -1;

	orig = (uint8_t *)ts_read_file(ts_build_path("fixtures/%s", name), &len);
	elf = hp_elf__open(ts_build_path("fixtures/%s", symfile));
	CU_ASSERT_PTR_NOT_NULL_FATAL(orig);
	CU_ASSERT_PTR_NOT_NULL_FATAL(elf);
	sym = hp_elf__find_symbol(elf, "fx_zero");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sym);
	CU_ASSERT_EQUAL_FATAL(hp_func__analyze(elf, sym, rep), 0);
	CU_ASSERT_FATAL(rep->patchable);
	err = elf_write_plan(orig, len, name, 0, sizeof(NOTE), plan);
	CU_ASSERT_EQUAL(err, 0);
	if (err)
		goto out;
	CU_ASSERT_EQUAL(plan->seg_off % 4096, 0);
	CU_ASSERT_EQUAL(plan->seg_vaddr % 4096, 0);
	memset(image, 0xcc, sizeof(image));
	memcpy(image, ret42, sizeof(ret42));
	jump.at = sym->value + rep->patch_offset;
	jump.target = plan->base;
	memset(&add, 0, sizeof(add));
	add.image = image;
	add.image_size = sizeof(image);
	add.text_size = sizeof(image);
	add.note = NOTE;
	add.jumps = &jump;
	add.njumps = 1;
	err = elf_write_build(orig, len, name, plan, &add, out, out_len);
	CU_ASSERT_EQUAL(err, 0);
out:
	hp_elf__close(elf);
	free(orig);
	free(rep);
	return err;
}

static const char *write_exec(const uint8_t *buf, size_t len, const char *name)
{
	const char *path = ts_join(ts_tmpdir(), name);

	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, buf, len), 0);
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0755), 0);
	return path;
}

static void elflint_ok(const char *path)
{
	char cmd[8192], *out = NULL;
	int rc;

	snprintf(cmd, sizeof(cmd), "eu-elflint --gnu-ld '%s'", path);
	rc = ts_sh(cmd, &out, NULL);
	if (rc)
		fprintf(stderr, "%s\n", out ? out : "");
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
}

/* Run the program: its 4th number is fx_zero()'s result. */
static void prints(const char *path, const char *want)
{
	char *argv[] = { (char *)path, NULL }, *out = NULL;

	CU_ASSERT_EQUAL(ts_run(argv, NULL, &out, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(out);
	if (out && !strstr(out, want))
		fprintf(stderr, "%s printed '%s', expected '%s'\n", path, out, want);
	CU_ASSERT(out && strstr(out, want));
	free(out);
}

static void program(const char *name, const char *symfile)
{
	struct elf_write_plan plan;
	uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	const char *path;
	struct hp_elf *orig, *elf;
	char note[256];

	if (patch_fixture(name, symfile, &a, &alen, &plan))
		return;
	/* Same inputs, same bytes. */
	CU_ASSERT_EQUAL_FATAL(patch_fixture(name, symfile, &b, &blen, &plan), 0);
	CU_ASSERT(alen == blen && !memcmp(a, b, alen));
	path = write_exec(a, alen, name);
	prints(ts_build_path("fixtures/%s", name), " 0 ");
	prints(path, " 42 ");
	elflint_ok(path);
	/* The record, and the identity of the original. */
	CU_ASSERT_EQUAL(elf_write_find_note(a, alen, "patched", note, sizeof(note)), 1);
	CU_ASSERT_STRING_EQUAL(note, NOTE);
	orig = hp_elf__open(ts_build_path("fixtures/%s", name));
	elf = hp_elf__open(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(orig);
	CU_ASSERT_PTR_NOT_NULL_FATAL(elf);
	CU_ASSERT_STRING_EQUAL(hp_elf__identity(elf)->build_id, hp_elf__identity(orig)->build_id);
	CU_ASSERT_PTR_NOT_NULL(hp_elf__segment_at(elf, plan.base));
	CU_ASSERT(hp_elf__segment_at(elf, plan.base) && hp_elf__segment_at(elf, plan.base)->exec);
	hp_elf__close(orig);
	hp_elf__close(elf);
	free(a);
	free(b);
}

static void non_pie_executable(void)
{
	program("fx_exec", "fx_exec");
}

static void pie_with_endbr(void)
{
	program("fx_pie", "fx_pie");
}

static void stripped_pie(void)
{
	program("fx_pie-stripped", "fx_pie");
}

static void shared_library(void)
{
	struct elf_write_plan plan;
	uint8_t *a = NULL;
	size_t alen = 0;
	const char *path;
	void *h;
	int (*fx_zero)(void);

	if (patch_fixture("libfx.so", "libfx.so", &a, &alen, &plan))
		return;
	path = write_exec(a, alen, "libfx-patched.so");
	elflint_ok(path);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	*(void **)&fx_zero = dlsym(h, "fx_zero");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx_zero);
	CU_ASSERT_EQUAL(fx_zero(), 42);
	dlclose(h);
	free(a);
}

static void refuses_bad_input(void)
{
	hp_print_fn_t old = ts_capture_start();
	struct elf_write_plan plan;
	struct elf_write_jump jump = { 0x10, 0x20 };
	struct elf_write_add add = { 0 };
	uint8_t image[4096] = { 0 }, *orig, *out = NULL;
	size_t len = 0, out_len = 0;
	char note[16];

	orig = (uint8_t *)ts_read_file(ts_build_path("fixtures/fx_pie"), &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(orig);
	/* Not ELF, truncated tables. */
	CU_ASSERT_EQUAL(elf_write_plan((const uint8_t *)"hello", 5, "hello", 0, 8, &plan),
			-HP_E_FORMAT);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "hello: not an ELF file"));
	CU_ASSERT_EQUAL(elf_write_plan(orig, 100, "short", 0, 8, &plan), -HP_E_FORMAT);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "short: program header table does not fit"));
	CU_ASSERT_EQUAL(elf_write_plan(orig, len, "fx_pie", 0, ELF_WRITE_NOTE_MAX + 1, &plan),
			-HP_E_TOO_BIG);
	/* A jump outside the file's code. */
	CU_ASSERT_EQUAL_FATAL(elf_write_plan(orig, len, "fx_pie", 0, 8, &plan), 0);
	add.image = image;
	add.image_size = add.text_size = sizeof(image);
	add.note = "x";
	add.jumps = &jump;
	add.njumps = 1;
	jump.target = plan.base;
	CU_ASSERT_EQUAL(elf_write_build(orig, len, "fx_pie", &plan, &add, &out, &out_len),
			-HP_E_FORMAT);
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "outside the file's code"));
	/* An unpatched file carries no record. */
	CU_ASSERT_EQUAL(elf_write_find_note(orig, len, "fx_pie", note, sizeof(note)), 0);
	hp_set_print(old);
	free(orig);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "non-PIE executable: runs the payload, elflint clean", non_pie_executable },
		{ "PIE with endbr64: runs the payload, deterministic, record", pie_with_endbr },
		{ "stripped PIE", stripped_pie },
		{ "versioned shared library through dlopen", shared_library },
		{ "malformed input and a jump outside the code are refused", refuses_bad_input },
		{ NULL, NULL },
	};

	ts_add_suite("disk writer", tests);
}
