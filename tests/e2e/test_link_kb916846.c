/* The real KB916846 payload objects against the real vendor builds.
 *
 * For every eligible srv and libmrxsmb.so build (the lists come from the
 * build, $(O)/targets/versions.sh): the payload links against the file with
 * the ELF resolver, every replaced function exists there, and linked beside
 * the target's code it needs neither the far-call table nor an absolute
 * field. Then the client payload runs: each eligible libmrxsmb.so is loaded
 * into this process, mrxsmb.o is linked against it (resolved through the
 * library's own symbol table plus its load bias, as a live patch does), and
 * the linked routines must decide exactly as the vendor's fixed full build
 * does for every setting and server SecurityMode, while counting in the old
 * library's statistics. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hotpatch.h"
#include "internal.h"
#include "link.h"
#include "support.h"

#include "mrx_negotiate.h"

#define MAX_VERSIONS 8

/* "NAME='a b c'" from versions.sh into list (strings into a kept buffer). */
static size_t versions(const char *name, char **list)
{
	static char *text;
	char *line, *copy, *save = NULL, *v, *vsave = NULL;
	size_t n = 0, len = strlen(name);

	if (!text)
		text = ts_read_file(ts_build_path("targets/versions.sh"), NULL);
	if (!text)
		return 0;
	copy = strdup(text);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, name, len) || strncmp(line + len, "='", 2))
			continue;
		line += len + 2;
		line[strcspn(line, "'")] = '\0';
		for (v = strtok_r(line, " ", &vsave); v && n < MAX_VERSIONS; v = strtok_r(NULL, " ", &vsave))
			list[n++] = strdup(v);
	}
	free(copy);
	return n;
}

static void free_list(char **list, size_t n)
{
	while (n)
		free(list[--n]);
}

static struct link_object *payload(const char *name)
{
	struct link_object *obj = NULL;
	size_t len = 0;
	char *buf = ts_read_file(ts_build_path("payloads/KB916846/%s", name), &len);

	CU_ASSERT_PTR_NOT_NULL(buf);
	if (buf)
		CU_ASSERT_EQUAL(link_object_open(buf, len, name, &obj), 0);
	free(buf);
	return obj;
}

/* Link obj against the file at path, for the first page past its highest
 * segment (where a disk patch would add its segment). */
static void links_against(const char *objname, const char *path)
{
	struct link_object *obj = payload(objname);
	struct hp_elf *elf = hp_elf__open(path);
	struct link_elf_resolver er = { .elf = elf, .bias = 0 };
	struct link_resolver res = { link_resolve_elf, &er };
	struct link_image img = { 0 };
	uint64_t end = 0;
	size_t i, len = 0;
	char *bytes;

	CU_ASSERT_PTR_NOT_NULL_FATAL(elf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(obj);
	for (i = 0; i < hp_elf__segment_count(elf); i++) {
		const struct hp_segment *s = hp_elf__segment(elf, i);

		if (s->vaddr + s->memsz > end)
			end = s->vaddr + s->memsz;
	}
	bytes = ts_read_file(ts_build_path("payloads/KB916846/%s", objname), &len);
	CU_ASSERT_EQUAL(hp_link__check_elf(bytes, len, objname, elf), 0);
	free(bytes);
	for (i = 0; i < link_object_func_count(obj); i++) {
		const struct hp_symbol *s = hp_elf__find_symbol(elf, link_object_func_name(obj, i));

		CU_ASSERT(s && s->defined && s->kind == HP_SYM_FUNC);
	}
	end = (end + 2 * LINK_PAGE_SIZE) & ~(uint64_t)(LINK_PAGE_SIZE - 1);
	CU_ASSERT_EQUAL(link_image_build(obj, end, &res, &img), 0);
	CU_ASSERT_EQUAL(img.nfuncs, link_object_func_count(obj));
	CU_ASSERT_EQUAL(img.nfar, 0);
	CU_ASSERT_EQUAL(img.nabs, 0);
	link_image_release(&img);
	link_object_free(obj);
	hp_elf__close(elf);
}

static void srv_payload_links_against_eligible_builds(void)
{
	char *list[MAX_VERSIONS];
	size_t n = versions("SRV_ELIGIBLE", list), i;

	CU_ASSERT_FATAL(n >= 2);
	for (i = 0; i < n; i++)
		links_against("srv.o", ts_build_path("targets/srv/%s/srv", list[i]));
	free_list(list, n);
}

static void mrxsmb_payload_links_against_eligible_builds(void)
{
	char *list[MAX_VERSIONS];
	size_t n = versions("MRXSMB_ELIGIBLE", list), i;

	CU_ASSERT_FATAL(n >= 2);
	for (i = 0; i < n; i++)
		links_against("mrxsmb.o", ts_build_path("targets/mrxsmb/%s/libmrxsmb.so", list[i]));
	free_list(list, n);
}

static void wrong_component_refused(void)
{
	char *list[MAX_VERSIONS];
	size_t n = versions("MRXSMB_ELIGIBLE", list), len = 0;
	char *bytes = ts_read_file(ts_build_path("payloads/KB916846/srv.o"), &len);
	hp_print_fn_t old;
	struct hp_elf *elf;

	CU_ASSERT_FATAL(n >= 1 && bytes);
	elf = hp_elf__open(ts_build_path("targets/mrxsmb/%s/libmrxsmb.so", list[0]));
	CU_ASSERT_PTR_NOT_NULL_FATAL(elf);
	old = hp_set_print(NULL);
	CU_ASSERT_EQUAL(hp_link__check_elf(bytes, len, "srv.o", elf), -HP_E_RELOC);
	hp_set_print(old);
	hp_elf__close(elf);
	free(bytes);
	free_list(list, n);
}

typedef uint16_t (*flags2_fn)(const struct signing_config *);
typedef void (*signing_fn)(const struct signing_config *, uint8_t, struct mrx_signing *);

static int read_local(void *ctx, uint64_t addr, uint64_t *value)
{
	(void)ctx;
	memcpy(value, (const void *)(uintptr_t)addr, sizeof(*value));
	return 0;
}

/* Free memory within 1 GiB of addr. */
static void *map_near(uint64_t addr, size_t size)
{
	uint64_t anchor = addr & ~(uint64_t)(LINK_PAGE_SIZE - 1), d;

	for (d = 64ull << 20; d < (1ull << 30); d += 64ull << 20) {
		uint64_t tries[2] = { anchor - d, anchor + d };
		int k;

		for (k = 0; k < 2; k++) {
			void *p = mmap((void *)(uintptr_t)tries[k], size, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

			if (p != MAP_FAILED && (uint64_t)(uintptr_t)p == tries[k])
				return p;
			if (p != MAP_FAILED)
				munmap(p, size);
		}
	}
	return NULL;
}

/* Compare every decision of sign/flags (the payload) with fixed_sign/
 * fixed_flags (the full build); count the cells where old_sign differs. */
static int compare_decisions(signing_fn sign, flags2_fn flags, signing_fn fixed_sign,
			     flags2_fn fixed_flags, signing_fn old_sign)
{
	static const uint8_t modes[] = { 0x00, 0x04, 0x08, 0x0c };
	int enable, require, differ = 0;
	size_t m;

	for (enable = 0; enable <= 1; enable++) {
		for (require = 0; require <= 1; require++) {
			struct signing_config cfg = { .enable = enable, .require = require };

			CU_ASSERT_EQUAL(flags(&cfg), fixed_flags(&cfg));
			for (m = 0; m < ARRAY_SIZE(modes); m++) {
				struct mrx_signing a, b, c;

				memset(&a, 0xaa, sizeof(a));
				memset(&b, 0x55, sizeof(b));
				memset(&c, 0x33, sizeof(c));
				sign(&cfg, modes[m], &a);
				fixed_sign(&cfg, modes[m], &b);
				old_sign(&cfg, modes[m], &c);
				CU_ASSERT(!memcmp(&a, &b, sizeof(a)));
				if (memcmp(&b, &c, sizeof(b)))
					differ++;
			}
		}
	}
	return differ;
}

static void mrxsmb_payload_decides_as_the_fixed_build(void)
{
	char *list[MAX_VERSIONS], *fixed_list[1];
	size_t n = versions("MRXSMB_ELIGIBLE", list), i;
	size_t nf = versions("FIXED_VERSION", fixed_list);
	void *fixed;

	CU_ASSERT_FATAL(n >= 2 && nf == 1);
	fixed = dlopen(ts_build_path("targets/mrxsmb/%s/libmrxsmb.so", fixed_list[0]), RTLD_NOW | RTLD_LOCAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fixed);
	for (i = 0; i < n; i++) {
		const char *path = ts_build_path("targets/mrxsmb/%s/libmrxsmb.so", list[i]);
		void *old = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		struct hp_elf *elf = hp_elf__open(path);
		struct link_elf_resolver er = { .elf = elf };
		struct link_resolver res = { link_resolve_elf, &er };
		struct link_object *obj = payload("mrxsmb.o");
		struct link_image img = { 0 };
		struct link_layout lay;
		struct mrx_signing_stats *stats;
		const struct hp_symbol *sym;
		unsigned long before;
		void *mem = NULL, *flags = NULL, *sign = NULL;
		size_t k;

		CU_ASSERT_FATAL(old && elf && obj);
		/* The load bias, as a live patch finds it from the mappings. */
		sym = hp_elf__find_symbol(elf, "mrx_negotiate_signing");
		CU_ASSERT_PTR_NOT_NULL_FATAL(sym);
		er.bias = (uint64_t)(uintptr_t)dlsym(old, "mrx_negotiate_signing") - sym->value;
		CU_ASSERT_EQUAL_FATAL(link_plan_layout(obj, &lay), 0);
		mem = map_near((uint64_t)(uintptr_t)dlsym(old, "mrx_negotiate_signing"), lay.size);
		CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
		CU_ASSERT_EQUAL_FATAL(link_image_build(obj, (uint64_t)(uintptr_t)mem, &res, &img), 0);
		memcpy(mem, img.bytes, img.size);
		CU_ASSERT_EQUAL_FATAL(mprotect(mem, img.text_size, PROT_READ | PROT_EXEC), 0);
		for (k = 0; k < img.nfuncs; k++) {
			if (!strcmp(link_object_func_name(obj, k), "mrx_negotiate_flags2"))
				flags = (void *)(uintptr_t)img.func_addr[k];
			if (!strcmp(link_object_func_name(obj, k), "mrx_negotiate_signing"))
				sign = (void *)(uintptr_t)img.func_addr[k];
		}
		CU_ASSERT_FATAL(flags && sign);

		/* What the library imports comes from its GOT: libc's memcmp
		 * as the process bound it (an IFUNC), libsodium's function. */
		{
			struct link_got_resolver gr = { .elf = elf, .bias = er.bias, .read = read_local };
			uint64_t addr = 0;

			CU_ASSERT_EQUAL(link_resolve_got(&gr, "memcmp", &addr), 0);
			CU_ASSERT_EQUAL(addr, (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "memcmp"));
			CU_ASSERT_EQUAL(link_resolve_got(&gr, "sodium_memcmp", &addr), 0);
			CU_ASSERT_EQUAL(addr, (uint64_t)(uintptr_t)dlsym(old, "sodium_memcmp"));
			CU_ASSERT_EQUAL(link_resolve_got(&gr, "mrx_negotiate_signing_x", &addr), -HP_E_NOT_FOUND);
		}

		stats = dlsym(old, "mrx_signing_stats");
		CU_ASSERT_PTR_NOT_NULL_FATAL(stats);
		before = stats->negotiations;
		/* The unpatched build must decide differently somewhere, or this
		 * comparison would prove nothing. */
		CU_ASSERT(compare_decisions((signing_fn)(uintptr_t)sign, (flags2_fn)(uintptr_t)flags,
					    (signing_fn)dlsym(fixed, "mrx_negotiate_signing"),
					    (flags2_fn)dlsym(fixed, "mrx_negotiate_flags2"),
					    (signing_fn)dlsym(old, "mrx_negotiate_signing")) > 0);
		/* 16 calls of the payload and 16 of the old routine counted in
		 * the old library: the payload writes the target's own data. */
		CU_ASSERT_EQUAL(stats->negotiations, before + 32);

		munmap(mem, lay.size);
		link_image_release(&img);
		link_object_free(obj);
		hp_elf__close(elf);
		dlclose(old);
	}
	dlclose(fixed);
	free_list(list, n);
	free_list(fixed_list, nf);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "srv.o links against every eligible srv", srv_payload_links_against_eligible_builds },
		{ "mrxsmb.o links against every eligible libmrxsmb.so", mrxsmb_payload_links_against_eligible_builds },
		{ "srv.o does not link against libmrxsmb.so", wrong_component_refused },
		{ "mrxsmb.o linked into a loaded old build decides as the fixed build", mrxsmb_payload_decides_as_the_fixed_build },
		{ NULL, NULL },
	};

	ts_add_suite("link KB916846", tests);
}
