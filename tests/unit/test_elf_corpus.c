/* Malformed and truncated ELF files: each must give a clear message naming
 * the file and the cause, and an error code, never a crash or a read
 * outside the file (this test is what `make check SANITIZE=address,undefined`
 * and valgrind watch). The corpus is made here, at run time, from a real
 * fixture built by make: one targeted defect per case, then truncations at
 * many lengths and a deterministic storm of random byte flips. */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotpatch.h"
#include "support.h"

static char last_warning[1024];

static int capture(enum hp_print_level level, const char *fmt, va_list ap)
{
	if (level == HP_WARN)
		vsnprintf(last_warning, sizeof(last_warning), fmt, ap);
	return 0;
}

static uint8_t *orig;
static size_t orig_len;
static const char *dir;

static int setup(void)
{
	orig = (uint8_t *)ts_read_file(ts_build_path("fixtures/fx_exec"), &orig_len);
	dir = ts_tmpdir();
	hp_set_print(capture);
	return orig && dir ? 0 : -1;
}

static Elf64_Ehdr *eh(uint8_t *b)
{
	return (Elf64_Ehdr *)b;
}

static Elf64_Shdr *shdr(uint8_t *b, size_t i)
{
	return (Elf64_Shdr *)(b + eh(b)->e_shoff) + i;
}

static Elf64_Phdr *phdr(uint8_t *b, size_t i)
{
	return (Elf64_Phdr *)(b + eh(b)->e_phoff) + i;
}

/* Index of the first section of the given type. */
static size_t section_of_type(uint8_t *b, uint32_t type)
{
	size_t i;

	for (i = 1; i < eh(b)->e_shnum; i++)
		if (shdr(b, i)->sh_type == type)
			return i;
	return 0;
}

static size_t first_load(uint8_t *b)
{
	size_t i;

	for (i = 0; i < eh(b)->e_phnum; i++)
		if (phdr(b, i)->p_type == PT_LOAD)
			return i;
	return 0;
}

/* Write buf as a corpus file and open it: it must fail with err (0: any
 * HP_E_FORMAT/HP_E_UNSUPPORTED) and a message naming the file and holding
 * cause. */
static void expect_refused(const char *name, const uint8_t *buf, size_t len, int err,
			   const char *cause)
{
	char path[4096];
	struct hp_elf *elf;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, buf, len), 0);
	last_warning[0] = '\0';
	errno = 0;
	elf = hp_elf__open(path);
	CU_ASSERT_PTR_NULL(elf);
	if (elf) {
		fprintf(stderr, "%s: opened, expected an error about '%s'\n", name, cause);
		hp_elf__close(elf);
		return;
	}
	if (err)
		CU_ASSERT_EQUAL(errno, err);
	CU_ASSERT(errno == HP_E_FORMAT || errno == HP_E_UNSUPPORTED || errno == HP_E_TOO_BIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_warning, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(last_warning, cause));
	if (!strstr(last_warning, cause))
		fprintf(stderr, "%s: message '%s' does not say '%s'\n", name, last_warning, cause);
}

static uint8_t *copy(void)
{
	uint8_t *b = malloc(orig_len);

	memcpy(b, orig, orig_len);
	return b;
}

static void headers(void)
{
	uint8_t *b;

	expect_refused("empty", orig, 0, HP_E_FORMAT, "not an ELF file");
	expect_refused("magic-only", orig, 3, HP_E_FORMAT, "not an ELF file");
	expect_refused("short-header", orig, 40, HP_E_FORMAT, "truncated");
	b = copy();
	b[EI_CLASS] = ELFCLASS32;
	expect_refused("class32", b, orig_len, HP_E_UNSUPPORTED, "64-bit");
	memcpy(b, orig, orig_len);
	eh(b)->e_machine = EM_AARCH64;
	expect_refused("aarch64", b, orig_len, HP_E_UNSUPPORTED, "not x86-64");
	memcpy(b, orig, orig_len);
	eh(b)->e_type = ET_CORE;
	expect_refused("core", b, orig_len, HP_E_UNSUPPORTED, "ELF type 4");
	free(b);
}

static void program_headers(void)
{
	uint8_t *b = copy();
	size_t l = first_load(orig);

	eh(b)->e_phoff = orig_len - 10;
	expect_refused("phoff-past-end", b, orig_len, HP_E_FORMAT, "program headers");
	memcpy(b, orig, orig_len);
	eh(b)->e_phentsize = 10;
	expect_refused("phentsize", b, orig_len, HP_E_FORMAT, "program headers");
	memcpy(b, orig, orig_len);
	eh(b)->e_phnum = 0xfff0;
	expect_refused("phnum", b, orig_len, HP_E_FORMAT, "program headers");
	memcpy(b, orig, orig_len);
	phdr(b, l)->p_offset = 1ULL << 40;
	expect_refused("load-offset", b, orig_len, HP_E_FORMAT, "extends beyond the end");
	memcpy(b, orig, orig_len);
	phdr(b, l)->p_filesz = UINT64_MAX - 8;
	expect_refused("load-filesz-wrap", b, orig_len, HP_E_FORMAT, "segment");
	memcpy(b, orig, orig_len);
	phdr(b, l)->p_memsz = phdr(b, l)->p_filesz - 1;
	expect_refused("load-memsz", b, orig_len, HP_E_FORMAT, "invalid sizes");
	free(b);
}

static void section_headers(void)
{
	uint8_t *b = copy();
	size_t text = 0, i;

	for (i = 1; i < eh(orig)->e_shnum; i++)
		if (shdr(orig, i)->sh_type == SHT_PROGBITS && (shdr(orig, i)->sh_flags & SHF_EXECINSTR))
			text = i;
	CU_ASSERT_FATAL(text != 0);
	eh(b)->e_shoff = orig_len - 32;
	expect_refused("shoff-past-end", b, orig_len, HP_E_FORMAT, "section header");
	memcpy(b, orig, orig_len);
	eh(b)->e_shentsize = 20;
	expect_refused("shentsize", b, orig_len, HP_E_FORMAT, "section header");
	memcpy(b, orig, orig_len);
	eh(b)->e_shnum = 0xfff0;
	expect_refused("shnum", b, orig_len, HP_E_FORMAT, "section header");
	memcpy(b, orig, orig_len);
	eh(b)->e_shstrndx = (uint16_t)(eh(b)->e_shnum + 3);
	expect_refused("shstrndx", b, orig_len, HP_E_FORMAT, "section name table");
	memcpy(b, orig, orig_len);
	shdr(b, text)->sh_offset = orig_len + 4096;
	expect_refused("section-offset", b, orig_len, HP_E_FORMAT, "extends beyond the end");
	memcpy(b, orig, orig_len);
	shdr(b, text)->sh_size = UINT64_MAX - 4;
	expect_refused("section-size-wrap", b, orig_len, HP_E_FORMAT, "extends beyond the end");
	memcpy(b, orig, orig_len);
	shdr(b, text)->sh_name = 0x7fffffff;
	expect_refused("section-name", b, orig_len, HP_E_FORMAT, "name offset");
	free(b);
}

static void symbols_and_notes(void)
{
	uint8_t *b = copy();
	size_t st = section_of_type(orig, SHT_SYMTAB), nt = section_of_type(orig, SHT_NOTE);
	Elf64_Sym *sym;

	CU_ASSERT_FATAL(st && nt);
	shdr(b, st)->sh_entsize = 0;
	expect_refused("symtab-entsize", b, orig_len, HP_E_FORMAT, "symbol entry size");
	memcpy(b, orig, orig_len);
	shdr(b, st)->sh_link = 9999;
	expect_refused("symtab-link", b, orig_len, HP_E_FORMAT, "string table index");
	memcpy(b, orig, orig_len);
	sym = (Elf64_Sym *)(b + shdr(b, st)->sh_offset) + 5;
	sym->st_name = 0x7fffffff;
	expect_refused("symbol-name", b, orig_len, HP_E_FORMAT, "name offset");
	memcpy(b, orig, orig_len);
	sym = (Elf64_Sym *)(b + shdr(b, st)->sh_offset);
	for (sym++; ELF64_ST_TYPE(sym->st_info) == STT_SECTION ||
		    ELF64_ST_TYPE(sym->st_info) == STT_FILE || !sym->st_name; sym++)
		;
	sym->st_shndx = 0x7000;
	expect_refused("symbol-section", b, orig_len, HP_E_FORMAT, "section index");
	memcpy(b, orig, orig_len);
	/* descsz of the first note runs past its section */
	((Elf64_Nhdr *)(b + shdr(b, nt)->sh_offset))->n_descsz = 4000;
	expect_refused("note-descsz", b, orig_len, HP_E_FORMAT, "note");
	free(b);
}

static void truncations(void)
{
	size_t len;
	char name[64];
	int refused = 0;

	/* Every truncation cuts off the section headers at the end. */
	for (len = 64; len < orig_len; len += 97) {
		snprintf(name, sizeof(name), "trunc-%zu", len);
		expect_refused(name, orig, len, HP_E_FORMAT, "");
		refused++;
	}
	CU_ASSERT(refused > 100);
}

/* xorshift: the same storm on every run. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void random_flips(void)
{
	uint8_t *b = malloc(orig_len);
	char path[4096];
	int i, opened = 0, refused = 0;

	snprintf(path, sizeof(path), "%s/flips", dir);
	for (i = 0; i < 400; i++) {
		int n = 1 + (int)(next_rand() % 8), k;
		struct hp_elf *elf;

		memcpy(b, orig, orig_len);
		for (k = 0; k < n; k++) {
			/* Aim at the headers and tables half of the time. */
			size_t at = next_rand() % 2 ? next_rand() % 64 :
				    (next_rand() % 2 ? eh(orig)->e_shoff + next_rand() % (eh(orig)->e_shnum * 64) :
				     next_rand() % orig_len);

			if (at < orig_len)
				b[at] ^= (uint8_t)(1 + next_rand() % 255);
		}
		ts_write_file(path, b, orig_len);
		last_warning[0] = '\0';
		elf = hp_elf__open(path);
		if (!elf) {
			refused++;
			CU_ASSERT(last_warning[0] != '\0');
			continue;
		}
		opened++;
		/* What opens must also survive analysis of every function. */
		for (size_t s = 0; s < hp_elf__symbol_count(elf); s++) {
			const struct hp_symbol *sym = hp_elf__symbol(elf, s);
			struct hp_func_report r;

			if (sym->kind == HP_SYM_FUNC && sym->size < (1u << 20))
				hp_func__analyze(elf, sym, &r);
			hp_elf__symbol_at(elf, sym->value);
		}
		hp_elf__close(elf);
	}
	CU_ASSERT(opened + refused == 400);
	free(b);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "bad ELF headers", headers },
		{ "bad program headers", program_headers },
		{ "bad section headers", section_headers },
		{ "bad symbol tables and notes", symbols_and_notes },
		{ "truncated files", truncations },
		{ "random byte flips", random_flips },
		{ NULL, NULL },
	};

	if (setup() < 0) {
		fprintf(stderr, "corpus: cannot read the fixture or make a directory\n");
		return;
	}
	ts_add_suite("elf-corpus", tests);
}
