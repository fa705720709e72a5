/* The linker for real: link a payload fixture against a shared library
 * loaded into this process (tests/fixtures/link/libfix.so, with dlopen) and
 * against libc, copy the image into memory mapped near the library (within
 * rel32 reach) and far from it (beyond 2 GiB, so calls go through the
 * far-call table and data through the local GOT), make it r-x, call the
 * linked functions and check their results and their effects on the
 * library's data. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hotpatch.h"
#include "internal.h"
#include "link.h"
#include "support.h"

static void *libfix;

/* Resolve like the dynamic linker would for code loaded next to libfix:
 * the global scope first (libc, or an interceptor in front of it under
 * SANITIZE=address), then the library, which is loaded RTLD_LOCAL. dlsym
 * returns the implementation an IFUNC (strlen) selects. */
static int dl_resolve(void *ctx, const char *name, uint64_t *addr)
{
	void *p = dlsym(RTLD_DEFAULT, name);

	if (!p)
		p = dlsym(ctx, name);
	if (!p)
		return -HP_E_NOT_FOUND;
	*addr = (uint64_t)(uintptr_t)p;
	return 0;
}

static uint64_t sym_addr(const char *name)
{
	return (uint64_t)(uintptr_t)dlsym(libfix, name);
}

static uint64_t distance(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/* An anonymous mapping at exactly want, or NULL. */
static void *map_exact(uint64_t want, size_t size)
{
	void *p = mmap((void *)(uintptr_t)want, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if ((uint64_t)(uintptr_t)p != want) {
		munmap(p, size);
		return NULL;
	}
	return p;
}

/* Free memory within 1 GiB of the library's code. */
static void *map_near(size_t size)
{
	uint64_t anchor = sym_addr("fix_add") & ~(uint64_t)(LINK_PAGE_SIZE - 1), d;

	for (d = 64ull << 20; d < (1ull << 30); d += 64ull << 20) {
		void *p = map_exact(anchor - d, size);

		if (p || (p = map_exact(anchor + d, size)))
			return p;
	}
	return NULL;
}

/* Free memory more than 8 GiB from both the library and libc. */
static void *map_far(size_t size)
{
	uint64_t lib = sym_addr("fix_add"), libc = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "strlen");
	uint64_t want;

	for (want = 0x100000000000ull; want < 0x700000000000ull; want += 0x080000000000ull) {
		void *p;

		if (distance(want, lib) < (8ull << 30) || distance(want, libc) < (8ull << 30))
			continue;
		p = map_exact(want, size);
		if (p)
			return p;
	}
	return NULL;
}

struct linked {
	struct link_object *obj; /* the fixture */
	struct link_image img;   /* linked for mem */
	void *mem;               /* where it runs */
	size_t size;             /* bytes mapped */
};

/* Link fixture name at memory from map(), install it and make its code
 * executable. */
static int link_and_load(const char *name, void *(*map)(size_t), struct linked *l)
{
	struct link_resolver res = { dl_resolve, libfix };
	struct link_layout lay;
	size_t len = 0;
	char *buf = ts_read_file(ts_build_path("tests/fixtures/link/%s", name), &len);
	int err;

	memset(l, 0, sizeof(*l));
	if (!buf || !libfix) {
		free(buf);
		return -ENOENT;
	}
	err = link_object_open(buf, len, name, &l->obj);
	free(buf);
	if (err)
		return err;
	err = link_plan_layout(l->obj, &lay);
	if (err)
		return err;
	l->mem = map(lay.size);
	if (!l->mem)
		return -ENOMEM;
	l->size = lay.size;
	err = link_image_build(l->obj, (uint64_t)(uintptr_t)l->mem, &res, &l->img);
	if (err)
		return err;
	if (l->img.size != lay.size || l->img.text_size != lay.text_size)
		return -EINVAL;
	memcpy(l->mem, l->img.bytes, l->img.size);
	if (mprotect(l->mem, l->img.text_size, PROT_READ | PROT_EXEC))
		return -errno;
	return 0;
}

static void unload(struct linked *l)
{
	if (l->mem)
		munmap(l->mem, l->size);
	link_image_release(&l->img);
	link_object_free(l->obj);
	memset(l, 0, sizeof(*l));
}

static void *func(const struct linked *l, const char *name)
{
	size_t i;

	for (i = 0; i < link_object_func_count(l->obj); i++)
		if (!strcmp(link_object_func_name(l->obj, i), name))
			return (void *)(uintptr_t)l->img.func_addr[i];
	return NULL;
}

/* Every behaviour of payload_ok.o, with expected values worked out by hand
 * from its source (the greeting "hello, payload" is 14 bytes). */
static void check_payload_ok(const struct linked *l)
{
	long (*select)(int, long) = (long (*)(int, long))func(l, "pl_select");
	long (*apply)(int, long) = (long (*)(int, long))func(l, "pl_apply");
	int (*entry)(int) = (int (*)(int))func(l, "pl_entry");
	int (*weight)(int) = (int (*)(int))func(l, "pl_weight");
	int (*calls)(void) = (int (*)(void))func(l, "pl_calls");
	int (*has_optional)(void) = (int (*)(void))func(l, "pl_has_optional");
	int *counter = dlsym(libfix, "fix_counter");
	int before;

	CU_ASSERT_FATAL(select && apply && entry && weight && calls && has_optional && counter);
	before = *counter;
	CU_ASSERT_EQUAL(select(0, 41), 42);
	CU_ASSERT_EQUAL(select(1, 5), 15);
	CU_ASSERT_EQUAL(*counter, before + 3);
	CU_ASSERT_EQUAL(select(2, 10), 3);
	CU_ASSERT_EQUAL(select(3, 1), 15);
	CU_ASSERT_EQUAL(select(4, 6), 37);
	CU_ASSERT_EQUAL(select(5, 4), 40);
	CU_ASSERT_EQUAL(select(6, 2), 28);
	CU_ASSERT_EQUAL(select(7, 5), -105);
	CU_ASSERT_EQUAL(select(9, 0), -1);
	CU_ASSERT_EQUAL(apply(0, 7), -7);
	CU_ASSERT_EQUAL(apply(1, 7), 14);
	CU_ASSERT_EQUAL(*counter, before + 5);
	CU_ASSERT_EQUAL(apply(2, 7), 49);
	CU_ASSERT_EQUAL(apply(5, 7), 0);

	CU_ASSERT_EQUAL(calls(), 0);
	CU_ASSERT_EQUAL(entry(5), 1000 + 14 + 5);
	CU_ASSERT_EQUAL(*counter, before + 10);
	CU_ASSERT_EQUAL(calls(), 1);
	CU_ASSERT_EQUAL(weight(0), 3);
	CU_ASSERT_EQUAL(weight(0), 4);
	CU_ASSERT_EQUAL(weight(2), 4);
	CU_ASSERT_EQUAL(has_optional(), 0);
	/* The function addresses lie in the code part of the image. */
	CU_ASSERT((uint64_t)(uintptr_t)entry >= l->img.base &&
		  (uint64_t)(uintptr_t)entry < l->img.base + l->img.text_size);
}

static void runs_near_the_target(void)
{
	struct linked l;
	uint64_t libc = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "strlen");
	int err = link_and_load("payload_ok.o", map_near, &l);

	CU_ASSERT_EQUAL_FATAL(err, 0);
	CU_ASSERT(distance(l.img.base, sym_addr("fix_add")) < (1ull << 31));
	/* Calls into the library are direct; only libc, if it happens to be
	 * mapped beyond reach, goes through the table. */
	if (distance(l.img.base, libc) < (1ull << 31) - (16ull << 20))
		CU_ASSERT_EQUAL(l.img.nfar, 0);
	if (distance(l.img.base, libc) > (1ull << 31) + (16ull << 20))
		CU_ASSERT_EQUAL(l.img.nfar, 1);
	CU_ASSERT(l.img.nfar <= 1);
	/* The movs of fix_counter and fix_greeting were relaxed to leas: the
	 * absolute fields are the three pointers of ops[], the GOT slot of the
	 * weak fix_optional (0 is out of reach) and any far stub. */
	CU_ASSERT_EQUAL(l.img.nabs, 3 + 1 + l.img.nfar);
	check_payload_ok(&l);
	unload(&l);
}

static void runs_far_from_the_target(void)
{
	struct linked l;
	int err = link_and_load("payload_ok.o", map_far, &l);

	CU_ASSERT_EQUAL_FATAL(err, 0);
	CU_ASSERT(distance(l.img.base, sym_addr("fix_add")) > (8ull << 30));
	/* fix_add, fix_scale and strlen through the far-call table. */
	CU_ASSERT_EQUAL(l.img.nfar, 3);
	/* ops[] (3), GOT slots of fix_counter, fix_greeting, fix_optional (3),
	 * far stubs (3). */
	CU_ASSERT_EQUAL(l.img.nabs, 9);
	check_payload_ok(&l);
	unload(&l);
}

static void pc32_call_near_and_far(void)
{
	struct linked l;
	int (*call)(int, int);

	CU_ASSERT_EQUAL_FATAL(link_and_load("payload_asm.o", map_near, &l), 0);
	call = (int (*)(int, int))func(&l, "pl_pc32_call");
	CU_ASSERT_PTR_NOT_NULL_FATAL(call);
	CU_ASSERT_EQUAL(l.img.nfar, 0);
	CU_ASSERT_EQUAL(call(2, 3), 5);
	unload(&l);

	CU_ASSERT_EQUAL_FATAL(link_and_load("payload_asm.o", map_far, &l), 0);
	call = (int (*)(int, int))func(&l, "pl_pc32_call");
	CU_ASSERT_PTR_NOT_NULL_FATAL(call);
	CU_ASSERT_EQUAL(l.img.nfar, 1);
	CU_ASSERT_EQUAL(call(40, 2), 42);
	unload(&l);
}

static int read_local(void *ctx, uint64_t addr, uint64_t *value)
{
	(void)ctx;
	memcpy(value, (const void *)(uintptr_t)addr, sizeof(*value));
	return 0;
}

/* Resolved the way a live patch resolves: the library's own symbol table
 * plus its load bias, then its GOT for what it imports (strlen), with no
 * help from dlsym. */
static void resolved_from_symbols_and_got(void)
{
	struct hp_elf *elf = hp_elf__open(ts_build_path("tests/fixtures/link/libfix.so"));
	struct link_elf_resolver er = { .elf = elf };
	struct link_got_resolver gr = { .elf = elf, .read = read_local };
	struct link_resolver list[2] = { { link_resolve_elf, &er }, { link_resolve_got, &gr } };
	struct link_resolver_chain chain = { list, 2 };
	struct link_resolver res = { link_resolve_chain, &chain };
	const struct hp_symbol *sym;
	struct link_image img = { 0 };
	struct linked l;
	uint64_t addr = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(elf);
	sym = hp_elf__find_symbol(elf, "fix_add");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sym);
	er.bias = gr.bias = sym_addr("fix_add") - sym->value;

	CU_ASSERT_EQUAL(link_resolve_chain(&chain, "fix_counter", &addr), 0);
	CU_ASSERT_EQUAL(addr, sym_addr("fix_counter"));
	/* strlen is not defined in libfix: it comes from the GOT, and is what
	 * the process's dynamic linker picked (the IFUNC's choice). */
	CU_ASSERT_EQUAL(link_resolve_elf(&er, "strlen", &addr), -HP_E_NOT_FOUND);
	CU_ASSERT_EQUAL(link_resolve_got(&gr, "strlen", &addr), 0);
	CU_ASSERT_EQUAL(addr, (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "strlen"));
	CU_ASSERT_EQUAL(link_resolve_chain(&chain, "fix_nothing", &addr), -HP_E_NOT_FOUND);

	/* Link and run with that resolver, far away (every call through the
	 * table, every data reference through the GOT). */
	CU_ASSERT_EQUAL_FATAL(link_and_load("payload_ok.o", map_far, &l), 0);
	CU_ASSERT_EQUAL_FATAL(link_image_build(l.obj, l.img.base, &res, &img), 0);
	/* Same addresses as dlsym gave, so the same bytes. */
	CU_ASSERT(img.size == l.img.size && !memcmp(img.bytes, l.img.bytes, img.size));
	CU_ASSERT_EQUAL_FATAL(mprotect(l.mem, l.img.text_size, PROT_READ | PROT_WRITE), 0);
	memcpy(l.mem, img.bytes, img.size);
	CU_ASSERT_EQUAL_FATAL(mprotect(l.mem, l.img.text_size, PROT_READ | PROT_EXEC), 0);
	check_payload_ok(&l);
	link_image_release(&img);
	unload(&l);
	hp_elf__close(elf);
}

/* The live executor puts its record first and the image after it, at an
 * offset aligned to the layout's alignment rather than to a page. */
static void runs_at_a_base_inside_a_page(void)
{
	struct link_resolver res = { dl_resolve, libfix };
	struct link_object *obj = NULL;
	struct link_image img = { 0 };
	struct link_layout lay;
	size_t len = 0;
	char *buf = ts_read_file(ts_build_path("tests/fixtures/link/payload_asm.o"), &len);
	uint8_t *mem;
	int (*call)(int, int);

	CU_ASSERT_FATAL(buf && libfix);
	CU_ASSERT_EQUAL_FATAL(link_object_open(buf, len, "payload_asm.o", &obj), 0);
	free(buf);
	CU_ASSERT_EQUAL_FATAL(link_plan_layout(obj, &lay), 0);
	CU_ASSERT_EQUAL(lay.data_size, 0);
	mem = map_near(lay.size + LINK_PAGE_SIZE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
	CU_ASSERT_EQUAL_FATAL(link_image_build(obj, (uint64_t)(uintptr_t)(mem + 4 * lay.align), &res, &img), 0);
	memcpy(mem + 4 * lay.align, img.bytes, img.size);
	CU_ASSERT_EQUAL_FATAL(mprotect(mem, lay.size + LINK_PAGE_SIZE, PROT_READ | PROT_EXEC), 0);
	call = (int (*)(int, int))(uintptr_t)img.func_addr[0];
	CU_ASSERT_EQUAL(call(20, 22), 42);
	munmap(mem, lay.size + LINK_PAGE_SIZE);
	link_image_release(&img);
	link_object_free(obj);
}

static void same_bytes_as_a_second_link(void)
{
	struct link_resolver res = { dl_resolve, libfix };
	struct link_image again = { 0 };
	struct linked l;

	CU_ASSERT_EQUAL_FATAL(link_and_load("payload_ok.o", map_far, &l), 0);
	CU_ASSERT_EQUAL_FATAL(link_image_build(l.obj, l.img.base, &res, &again), 0);
	CU_ASSERT_EQUAL(again.size, l.img.size);
	CU_ASSERT(again.size == l.img.size && !memcmp(again.bytes, l.img.bytes, again.size));
	/* What runs is what was linked. */
	CU_ASSERT(!memcmp(l.mem, again.bytes, again.text_size));
	link_image_release(&again);
	unload(&l);
}

/* Every test fails (link_and_load) when the library cannot be loaded. */
static void load_libfix(void)
{
	libfix = dlopen(ts_build_path("tests/fixtures/link/libfix.so"), RTLD_NOW | RTLD_LOCAL);
	if (!libfix)
		fprintf(stderr, "dlopen: %s\n", dlerror());
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "linked near the target, it runs", runs_near_the_target },
		{ "linked beyond 2 GiB, it runs through the far-call table and GOT", runs_far_from_the_target },
		{ "a plain PC32 call, near and far", pc32_call_near_and_far },
		{ "what runs is what a second link gives", same_bytes_as_a_second_link },
		{ "linked at a base inside a page, it runs", runs_at_a_base_inside_a_page },
		{ "resolved from the library's symbols and GOT, it runs", resolved_from_symbols_and_got },
		{ NULL, NULL },
	};

	load_libfix();
	ts_add_suite("link run", tests);
}
