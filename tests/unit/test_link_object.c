/* The payload object reader and the linker's refusals, on real objects built
 * by tests/fixtures/link/link.mk: what a good payload exposes, the specific
 * error (code and message) for each thing the linker refuses, malformed
 * objects (truncated, bad offsets, bad indexes, random corruption) rejected
 * without crashing, missing symbols, determinism. Nothing here runs linked
 * code; tests/unit/test_link_run.c does. */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotpatch.h"
#include "internal.h"
#include "link.h"
#include "support.h"

/* ---- messages ---- */

static char msgs[16384];

static int capture(enum hp_print_level level, const char *fmt, va_list ap)
{
	size_t n = strlen(msgs);

	if (level != HP_WARN || n >= sizeof(msgs) - 1)
		return 0;
	return vsnprintf(msgs + n, sizeof(msgs) - n, fmt, ap);
}

static void msgs_reset(void)
{
	msgs[0] = '\0';
}

#define CU_ASSERT_MSG(sub)                                                   \
	do {                                                                 \
		CU_ASSERT_PTR_NOT_NULL(strstr(msgs, (sub)));                 \
		if (!strstr(msgs, (sub)))                                    \
			fprintf(stderr, "missing '%s' in: %s\n", (sub), msgs); \
	} while (0)

/* ---- fixtures ---- */

static uint8_t *fixture(const char *name, size_t *len)
{
	uint8_t *buf = (uint8_t *)ts_read_file(ts_build_path("tests/fixtures/link/%s", name), len);

	CU_ASSERT_PTR_NOT_NULL(buf);
	return buf;
}

static int open_fixture(const char *name, struct link_object **obj)
{
	size_t len = 0;
	uint8_t *buf = fixture(name, &len);
	int err;

	*obj = NULL;
	if (!buf)
		return -ENOENT;
	msgs_reset();
	err = link_object_open(buf, len, name, obj);
	free(buf);
	return err;
}

/* A resolver that answers with made-up addresses (nothing runs), except for
 * one name it pretends not to know. */
struct fake_ctx {
	uint64_t where;      /* address of the first name; each next one 64 bytes on */
	const char *unknown; /* name answered with -HP_E_NOT_FOUND, or NULL */
	int asked;           /* number of calls */
};

static int fake_resolve(void *ctx, const char *name, uint64_t *addr)
{
	struct fake_ctx *f = ctx;

	f->asked++;
	if (f->unknown && !strcmp(name, f->unknown))
		return -HP_E_NOT_FOUND;
	*addr = f->where + 64 * (uint64_t)(strlen(name) + name[0]);
	return 0;
}

static bool has_name(const char *(*get)(const struct link_object *, size_t),
		     size_t (*count)(const struct link_object *), const struct link_object *obj,
		     const char *name)
{
	size_t i;

	for (i = 0; i < count(obj); i++)
		if (!strcmp(get(obj, i), name))
			return true;
	return false;
}

/* ---- a good payload ---- */

static void good_payload_contents(void)
{
	static const char *const funcs[] = { "pl_select", "pl_apply", "pl_entry", "pl_weight",
					     "pl_calls", "pl_has_optional" };
	static const char *const undefs[] = { "fix_scale", "fix_add", "fix_greeting", "strlen",
					      "fix_counter", "fix_optional" };
	struct link_object *obj = NULL;
	struct link_layout lay;
	size_t i;

	CU_ASSERT_EQUAL_FATAL(open_fixture("payload_ok.o", &obj), 0);
	CU_ASSERT_STRING_EQUAL(link_object_name(obj), "payload_ok.o");
	/* Static helpers (op_*) are not replacements. */
	CU_ASSERT_EQUAL(link_object_func_count(obj), ARRAY_SIZE(funcs));
	for (i = 0; i < ARRAY_SIZE(funcs); i++)
		CU_ASSERT(has_name(link_object_func_name, link_object_func_count, obj, funcs[i]));
	CU_ASSERT(!has_name(link_object_func_name, link_object_func_count, obj, "op_neg"));
	CU_ASSERT_EQUAL(link_object_undef_count(obj), ARRAY_SIZE(undefs));
	for (i = 0; i < ARRAY_SIZE(undefs); i++)
		CU_ASSERT(has_name(link_object_undef_name, link_object_undef_count, obj, undefs[i]));
	CU_ASSERT_PTR_NULL(link_object_func_name(obj, 100));
	CU_ASSERT_PTR_NULL(link_object_undef_name(obj, 100));
	for (i = 0; i < link_object_func_count(obj); i++)
		CU_ASSERT(link_object_func_size(obj, i) > 0);

	CU_ASSERT_EQUAL(link_plan_layout(obj, &lay), 0);
	CU_ASSERT(lay.text_size >= LINK_PAGE_SIZE);
	CU_ASSERT_EQUAL(lay.text_size % LINK_PAGE_SIZE, 0);
	/* .data (weights) and .bss (calls): one page. */
	CU_ASSERT_EQUAL(lay.data_size, LINK_PAGE_SIZE);
	CU_ASSERT_EQUAL(lay.size, lay.text_size + lay.data_size);
	link_object_free(obj);
}

static void real_payload_objects_open(void)
{
	static const char *const names[] = { "payloads/KB916846/srv.o", "payloads/KB916846/mrxsmb.o" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		struct link_object *obj = NULL;
		size_t len = 0;
		uint8_t *buf = (uint8_t *)ts_read_file(ts_build_path("%s", names[i]), &len);

		CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
		msgs_reset();
		CU_ASSERT_EQUAL(link_object_open(buf, len, names[i], &obj), 0);
		CU_ASSERT(obj && link_object_func_count(obj) >= 1);
		CU_ASSERT(obj && link_object_undef_count(obj) >= 1);
		link_object_free(obj);
		free(buf);
	}
}

/* ---- refusals, each with its own code and message ---- */

static void refuses_tls(void)
{
	struct link_object *obj;

	CU_ASSERT_EQUAL(open_fixture("bad_tls.o", &obj), -HP_E_UNSUPPORTED);
	CU_ASSERT_PTR_NULL(obj);
	CU_ASSERT_MSG("link: bad_tls.o: section");
	CU_ASSERT_MSG(".tbss");
	CU_ASSERT_MSG("thread-local storage");
}

static void refuses_constructors(void)
{
	struct link_object *obj;

	CU_ASSERT_EQUAL(open_fixture("bad_ctor.o", &obj), -HP_E_UNSUPPORTED);
	CU_ASSERT_PTR_NULL(obj);
	CU_ASSERT_MSG("link: bad_ctor.o: section");
	CU_ASSERT_MSG(".init_array");
	CU_ASSERT_MSG("constructors");
}

static void refuses_unknown_section(void)
{
	struct link_object *obj;

	CU_ASSERT_EQUAL(open_fixture("bad_section.o", &obj), -HP_E_UNSUPPORTED);
	CU_ASSERT_MSG("link: bad_section.o: section");
	CU_ASSERT_MSG("(pl_custom): cannot be placed");
}

static void refuses_common(void)
{
	struct link_object *obj;

	CU_ASSERT_EQUAL(open_fixture("bad_common.o", &obj), -HP_E_UNSUPPORTED);
	CU_ASSERT_MSG("link: bad_common.o: symbol 'pl_common': COMMON");
}

static void refuses_unsupported_reloc(void)
{
	struct link_object *obj;

	CU_ASSERT_EQUAL(open_fixture("bad_reloc.o", &obj), -HP_E_RELOC);
	CU_ASSERT_MSG("link: bad_reloc.o: .rodata.bad+0x0: R_X86_64_16 against 'fix_add': relocation type not supported");
}

static void refuses_shared_library(void)
{
	struct link_object *obj;

	CU_ASSERT_EQUAL(open_fixture("libfix.so", &obj), -HP_E_FORMAT);
	CU_ASSERT_MSG("link: libfix.so: ELF type 3, a relocatable object (ET_REL) expected");
}

static void refuses_out_of_reach(void)
{
	struct fake_ctx f = { .where = 0x7f0000000000ull };
	struct link_resolver res = { fake_resolve, &f };
	struct link_image img;
	struct link_object *obj;

	/* An absolute 32-bit field cannot hold an address above 4 GiB... */
	CU_ASSERT_EQUAL_FATAL(open_fixture("bad_nopic_abs.o", &obj), 0);
	msgs_reset();
	CU_ASSERT_EQUAL(link_image_build(obj, 0x400000, &res, &img), -HP_E_RELOC);
	CU_ASSERT_PTR_NULL(img.bytes);
	CU_ASSERT_MSG("link: bad_nopic_abs.o: .text.pl_addr+0x1: R_X86_64_32 against 'fix_counter': value does not fit in 32 bits unsigned");
	link_object_free(obj);

	/* ...and a PC-relative data reference cannot reach 2 GiB away, while
	 * the same object linked within reach is fine. */
	CU_ASSERT_EQUAL_FATAL(open_fixture("bad_nopic_pc.o", &obj), 0);
	msgs_reset();
	CU_ASSERT_EQUAL(link_image_build(obj, 0x400000, &res, &img), -HP_E_RELOC);
	CU_ASSERT_MSG("link: bad_nopic_pc.o: .text.pl_read+0x2: R_X86_64_PC32 against 'fix_counter': destination beyond rel32 reach");
	CU_ASSERT_EQUAL(link_image_build(obj, f.where - 0x10000000, &res, &img), 0);
	link_image_release(&img);
	link_object_free(obj);
}

static void missing_symbol_named(void)
{
	struct fake_ctx f = { .where = 0x7f0000000000ull, .unknown = "fix_scale" };
	struct link_resolver res = { fake_resolve, &f };
	struct link_image img = { 0 };
	struct link_object *obj;

	CU_ASSERT_EQUAL_FATAL(open_fixture("payload_ok.o", &obj), 0);
	msgs_reset();
	CU_ASSERT_EQUAL(link_check(obj, &res), -HP_E_RELOC);
	CU_ASSERT_MSG("R_X86_64_PLT32 against 'fix_scale': symbol not found in the target");
	CU_ASSERT_MSG("link: payload_ok.o: .text.");
	/* Each name is asked once. */
	CU_ASSERT_EQUAL(f.asked, (int)link_object_undef_count(obj));

	msgs_reset();
	CU_ASSERT_EQUAL(link_image_build(obj, 0x7f0010000000ull, &res, &img), -HP_E_RELOC);
	CU_ASSERT_MSG("'fix_scale': symbol not found in the target");
	CU_ASSERT_PTR_NULL(img.bytes);
	CU_ASSERT_EQUAL(img.size, 0);

	/* A weak reference nobody defines is not an error. */
	f.unknown = "fix_optional";
	msgs_reset();
	CU_ASSERT_EQUAL(link_check(obj, &res), 0);
	CU_ASSERT_STRING_EQUAL(msgs, "");
	link_object_free(obj);
}

static void bad_base_refused(void)
{
	struct fake_ctx f = { .where = 0x7f0000000000ull };
	struct link_resolver res = { fake_resolve, &f };
	struct link_image img;
	struct link_object *obj;

	struct link_layout lay;

	CU_ASSERT_EQUAL_FATAL(open_fixture("payload_ok.o", &obj), 0);
	CU_ASSERT_EQUAL_FATAL(link_plan_layout(obj, &lay), 0);
	/* At least the far-call stubs' 16, a power of two, at most a page. */
	CU_ASSERT(lay.align >= 16 && lay.align <= LINK_PAGE_SIZE && !(lay.align & (lay.align - 1)));
	msgs_reset();
	CU_ASSERT_EQUAL(link_image_build(obj, 0x7f0010000000ull + lay.align / 2, &res, &img), -EINVAL);
	CU_ASSERT_MSG("not a user-space address aligned to");
	CU_ASSERT_PTR_NULL(img.bytes);
	/* A base aligned to lay.align but not to a page is fine. */
	if (lay.align < LINK_PAGE_SIZE) {
		CU_ASSERT_EQUAL(link_image_build(obj, 0x7f0010000000ull + lay.align, &res, &img), 0);
		CU_ASSERT_EQUAL(img.func_addr[0] % 16, 0);
		link_image_release(&img);
	}
	CU_ASSERT_EQUAL(link_image_build(obj, 0x7ffffffff000ull, &res, &img), -EINVAL);
	CU_ASSERT_EQUAL(link_image_build(obj, 0xffff800000000000ull, &res, &img), -EINVAL);
	link_object_free(obj);
}

static void output_is_deterministic(void)
{
	struct fake_ctx f = { .where = 0x7f0000000000ull };
	struct link_resolver res = { fake_resolve, &f };
	struct link_image a = { 0 }, b = { 0 }, c = { 0 };
	struct link_object *obj;

	CU_ASSERT_EQUAL_FATAL(open_fixture("payload_ok.o", &obj), 0);
	CU_ASSERT_EQUAL_FATAL(link_image_build(obj, 0x7f0010000000ull, &res, &a), 0);
	CU_ASSERT_EQUAL_FATAL(link_image_build(obj, 0x7f0010000000ull, &res, &b), 0);
	CU_ASSERT_EQUAL_FATAL(link_image_build(obj, 0x7f0020000000ull, &res, &c), 0);
	CU_ASSERT_EQUAL(a.size, b.size);
	CU_ASSERT(a.size == b.size && !memcmp(a.bytes, b.bytes, a.size));
	/* Another base: same size, other bytes (PC-relative fields moved). */
	CU_ASSERT_EQUAL(a.size, c.size);
	CU_ASSERT(a.size == c.size && memcmp(a.bytes, c.bytes, a.size));
	CU_ASSERT_EQUAL(a.nfuncs, link_object_func_count(obj));
	CU_ASSERT_EQUAL(c.func_addr[0] - c.base, a.func_addr[0] - a.base);
	link_image_release(&a);
	link_image_release(&b);
	link_image_release(&c);
	link_image_release(&c); /* twice is fine */
	link_object_free(obj);
}

/* ---- malformed objects ---- */

static Elf64_Shdr *shdr(uint8_t *buf, size_t i)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;

	return (Elf64_Shdr *)(buf + eh->e_shoff + i * sizeof(Elf64_Shdr));
}

static size_t find_section(uint8_t *buf, const char *name)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
	const char *names = (const char *)buf + shdr(buf, eh->e_shstrndx)->sh_offset;
	size_t i;

	for (i = 1; i < eh->e_shnum; i++)
		if (!strcmp(names + shdr(buf, i)->sh_name, name))
			return i;
	return 0;
}

static size_t find_type(uint8_t *buf, uint32_t type)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
	size_t i;

	for (i = 1; i < eh->e_shnum; i++)
		if (shdr(buf, i)->sh_type == type)
			return i;
	return 0;
}

/* Open a corrupted copy; expect err and a message holding sub. */
static void expect_refused(const uint8_t *buf, size_t len, int err, const char *sub)
{
	struct link_object *obj = NULL;

	msgs_reset();
	CU_ASSERT_EQUAL(link_object_open(buf, len, "corrupt.o", &obj), err);
	CU_ASSERT_PTR_NULL(obj);
	CU_ASSERT_MSG(sub);
	link_object_free(obj);
}

static void every_truncation_refused(void)
{
	struct link_object *obj = NULL;
	size_t len = 0, n, refused = 0;
	uint8_t *buf = fixture("payload_ok.o", &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	for (n = 0; n < len; n++) {
		hp_set_print(NULL);
		if (link_object_open(buf, n, "truncated.o", &obj) < 0)
			refused++;
		link_object_free(obj);
		obj = NULL;
	}
	hp_set_print(capture);
	CU_ASSERT_EQUAL(refused, len);
	expect_refused(buf, 10, -HP_E_FORMAT, "too short for an ELF header");
	expect_refused(buf, len / 2, -HP_E_FORMAT, "section header table runs past the end");
	free(buf);
}

static void corrupt_headers_refused(void)
{
	size_t len = 0, text, rela, bss, symtab;
	uint8_t *orig = fixture("payload_ok.o", &len), *buf;
	Elf64_Rela *r;
	Elf64_Sym *sym;

	CU_ASSERT_PTR_NOT_NULL_FATAL(orig);
	buf = malloc(len);
	text = find_section(orig, ".text.pl_select");
	rela = find_section(orig, ".rela.text.pl_select");
	bss = find_section(orig, ".bss.calls");
	symtab = find_type(orig, SHT_SYMTAB);
	CU_ASSERT_FATAL(buf && text && rela && bss && symtab);

	memcpy(buf, orig, len);
	shdr(buf, text)->sh_offset = len + 100;
	expect_refused(buf, len, -HP_E_FORMAT, "run past the end of the file");

	memcpy(buf, orig, len);
	shdr(buf, text)->sh_size = ~0ull - 8;
	expect_refused(buf, len, -HP_E_FORMAT, "run past the end of the file");

	memcpy(buf, orig, len);
	shdr(buf, text)->sh_name = 0x7fffffff;
	expect_refused(buf, len, -HP_E_FORMAT, "outside the section name table");

	memcpy(buf, orig, len);
	shdr(buf, text)->sh_addralign = 3;
	expect_refused(buf, len, -HP_E_FORMAT, "alignment 3 is not a power of two");

	memcpy(buf, orig, len);
	r = (Elf64_Rela *)(buf + shdr(buf, rela)->sh_offset);
	r->r_info = ELF64_R_INFO(0xfffff, ELF64_R_TYPE(r->r_info));
	expect_refused(buf, len, -HP_E_FORMAT, "symbol index 1048575 out of range");

	memcpy(buf, orig, len);
	r = (Elf64_Rela *)(buf + shdr(buf, rela)->sh_offset);
	r->r_offset = shdr(buf, text)->sh_size - 2;
	expect_refused(buf, len, -HP_E_FORMAT, "field outside the section");

	memcpy(buf, orig, len);
	shdr(buf, rela)->sh_info = 0xffff;
	expect_refused(buf, len, -HP_E_FORMAT, "applies to section 65535, out of range");

	memcpy(buf, orig, len);
	shdr(buf, rela)->sh_entsize = 16;
	expect_refused(buf, len, -HP_E_FORMAT, "invalid relocation section header");

	memcpy(buf, orig, len);
	shdr(buf, symtab)->sh_link = 0xffff;
	expect_refused(buf, len, -HP_E_FORMAT, "invalid symbol table header");

	memcpy(buf, orig, len);
	sym = (Elf64_Sym *)(buf + shdr(buf, symtab)->sh_offset);
	sym[1].st_shndx = 0xfeff;
	sym[1].st_info = ELF64_ST_INFO(STB_LOCAL, STT_OBJECT);
	expect_refused(buf, len, -HP_E_FORMAT, "section index 65279 out of range");

	memcpy(buf, orig, len);
	sym = (Elf64_Sym *)(buf + shdr(buf, symtab)->sh_offset);
	sym[1].st_name = 0x7fffffff;
	expect_refused(buf, len, -HP_E_FORMAT, "symbol 1: name offset");

	memcpy(buf, orig, len);
	shdr(buf, bss)->sh_size = 1ull << 40;
	expect_refused(buf, len, -HP_E_TOO_BIG, "loaded sections exceed");

	memcpy(buf, orig, len);
	((Elf64_Ehdr *)buf)->e_machine = EM_386;
	expect_refused(buf, len, -HP_E_FORMAT, "not a little-endian ELF64 x86-64 object");

	memcpy(buf, orig, len);
	((Elf64_Ehdr *)buf)->e_shstrndx = 0;
	expect_refused(buf, len, -HP_E_FORMAT, "section name table index");

	memcpy(buf, orig, len);
	buf[0] = 'X';
	expect_refused(buf, len, -HP_E_FORMAT, "link: corrupt.o:");

	free(buf);
	free(orig);
}

/* Random corruption: whatever happens, no crash, no leak (under
 * SANITIZE=address), and an object that still opens still links. */
static void random_corruption_survived(void)
{
	struct fake_ctx f = { .where = 0x7f0000000000ull };
	struct link_resolver res = { fake_resolve, &f };
	size_t len = 0, iter, opened = 0;
	uint8_t *orig = fixture("payload_ok.o", &len), *buf;
	uint32_t seed = 12345;

	CU_ASSERT_PTR_NOT_NULL_FATAL(orig);
	buf = malloc(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	hp_set_print(NULL);
	for (iter = 0; iter < 4000; iter++) {
		struct link_object *obj = NULL;
		struct link_image img = { 0 };
		int k, flips = 1 + (int)(iter % 4);

		memcpy(buf, orig, len);
		for (k = 0; k < flips; k++) {
			seed = seed * 1103515245u + 12345u;
			buf[(seed >> 8) % len] ^= (uint8_t)(1u << ((seed >> 4) & 7));
		}
		if (link_object_open(buf, len, "fuzz.o", &obj) == 0) {
			struct link_layout lay;

			opened++;
			CU_ASSERT_EQUAL(link_plan_layout(obj, &lay), 0);
			if (link_image_build(obj, 0x7f0010000000ull, &res, &img) == 0)
				CU_ASSERT_EQUAL(img.size, lay.size);
			link_image_release(&img);
			link_object_free(obj);
		}
	}
	hp_set_print(capture);
	/* Many flips land in bytes that do not matter (code, padding). */
	CU_ASSERT(opened > 0);
	free(buf);
	free(orig);
}

static void too_big_refused(void)
{
	struct link_object *obj = NULL;
	static const uint8_t byte;

	msgs_reset();
	CU_ASSERT_EQUAL(link_object_open(&byte, (size_t)1 << 30, "huge.o", &obj), -HP_E_TOO_BIG);
	CU_ASSERT_MSG("link: huge.o: 1073741824 bytes");
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "a payload's functions, undefined names and layout", good_payload_contents },
		{ "the KB916846 payload objects open", real_payload_objects_open },
		{ "thread-local storage refused", refuses_tls },
		{ "constructors refused", refuses_constructors },
		{ "a section that cannot be placed refused", refuses_unknown_section },
		{ "COMMON symbols refused", refuses_common },
		{ "an unsupported relocation type refused", refuses_unsupported_reloc },
		{ "a shared library is not a payload", refuses_shared_library },
		{ "values out of reach refused, in reach linked", refuses_out_of_reach },
		{ "a missing symbol is named with its relocation", missing_symbol_named },
		{ "a bad base refused", bad_base_refused },
		{ "same inputs, same bytes", output_is_deterministic },
		{ "every truncation refused", every_truncation_refused },
		{ "corrupt headers refused with their cause", corrupt_headers_refused },
		{ "random corruption survived", random_corruption_survived },
		{ "an object beyond the size bound refused", too_big_refused },
		{ NULL, NULL },
	};

	hp_set_print(capture);
	ts_add_suite("link object", tests);
}
