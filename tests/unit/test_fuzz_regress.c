/* Inputs the fuzz targets of tests/fuzz/ found crashing, replayed through
 * the normal (gcc-built) library with the specific outcome each must now
 * have. The inputs are the committed ones of tests/fuzz/corpus/ (named
 * crash-*); `make check` also replays the whole corpus through the fuzz
 * targets themselves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotpatch.h"
#include "support.h"

static const char *corpus(const char *target, const char *name)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/%s/%s", ts_src_dir(), target, name);
	return path;
}

/* A relocatable object (the test fixtures' shapes.o, mutated) whose section
 * 1 is an inactive (SHT_NULL) header flagged executable, with a garbage
 * offset and size far beyond the file, and function symbols in it. The
 * analysis read their "code" at file image + that offset. Now the section
 * has no bytes, so each of its functions is "not code". */
static void null_section_is_not_code(void)
{
	struct hp_elf *elf = hp_elf__open(corpus("elf", "crash-null-section-exec-huge"));
	const struct hp_section *sec;
	size_t i, funcs = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(elf);
	sec = hp_elf__section(elf, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sec);
	CU_ASSERT(sec->exec);
	CU_ASSERT(sec->nobits);
	for (i = 0; i < hp_elf__symbol_count(elf); i++) {
		const struct hp_symbol *s = hp_elf__symbol(elf, i);
		struct hp_func_report r;

		if (s->kind != HP_SYM_FUNC || !s->defined || s->section != 1)
			continue;
		funcs++;
		CU_ASSERT_EQUAL(hp_func__analyze(elf, s, &r), 0);
		CU_ASSERT_FALSE(r.patchable);
		CU_ASSERT_EQUAL(r.reason, HP_FUNC_NOT_CODE);
		CU_ASSERT_STRING_EQUAL(r.fingerprint, "");
	}
	CU_ASSERT(funcs > 0);
	hp_elf__close(elf);
}

/* A shared object with a PT_LOAD of 0x150 file bytes and a memsz of almost
 * 2^64. Reading its last byte (bss) formed a pointer that far beyond the
 * file image (undefined behaviour, caught by UBSan) to copy 0 bytes from it.
 * The byte reads as zero, as bss does. */
static void read_far_into_bss(void)
{
	struct hp_elf *elf = hp_elf__open(corpus("elf", "crash-read-bss-huge-memsz"));
	const struct hp_segment *big = NULL;
	uint8_t buf[4] = { 0xff, 0xff, 0xff, 0xff };
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(elf);
	for (i = 0; i < hp_elf__segment_count(elf); i++)
		if (hp_elf__segment(elf, i)->memsz > (1ull << 62))
			big = hp_elf__segment(elf, i);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	CU_ASSERT_EQUAL(hp_elf__read(elf, big->vaddr + big->memsz - 4, buf, 4), 0);
	CU_ASSERT_EQUAL(buf[0] | buf[1] | buf[2] | buf[3], 0);
	/* Across the end of the file bytes: file bytes, then zeros. */
	CU_ASSERT_EQUAL(hp_elf__read(elf, big->vaddr + big->filesz - 2, buf, 4), 0);
	CU_ASSERT_EQUAL(buf[2] | buf[3], 0);
	hp_elf__close(elf);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "elf: an executable SHT_NULL section has no code", null_section_is_not_code },
		{ "elf: reading bss far past the file bytes", read_far_into_bss },
		{ NULL, NULL },
	};

	ts_add_suite("fuzz regressions", tests);
}
