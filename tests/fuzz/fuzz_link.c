/* Fuzz target: the payload linker's input, a relocatable object out of a
 * package (link_object_open), then the layout and a full link
 * (link_plan_layout, link_image_build) against a resolver that answers every
 * name with an address near the image, so relocations are applied, not just
 * read. This is the code that decides what bytes go into a running process:
 * a malformed object must be refused here, and a linked image must stay
 * inside the size its layout announced. */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "link.h"

/* Where the image is linked; a page-aligned address in the upper user half
 * (where the live engine places payloads), so rel32 reach matters. */
#define FUZZ_BASE 0x7f1234560000ull

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

/* Every name resolves: most within rel32 reach of the image, names
 * starting with 'f' far away, so both the direct and far-call paths run. */
static int resolve_all(void *ctx, const char *name, uint64_t *addr)
{
	uint64_t h = 1469598103934665603ull;
	const char *p;

	(void)ctx;
	for (p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	if (name[0] == 'f')
		*addr = 0x555555554000ull + (h & 0xffff0);
	else
		*addr = FUZZ_BASE - 0x100000 + (h & 0xffff0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct link_resolver res = { resolve_all, NULL };
	struct link_object *obj = NULL;
	struct link_layout lay;
	struct link_image img;
	size_t i, n;
	uint64_t base;

	if (link_object_open(data, size, "fuzz.o", &obj))
		return 0;
	n = link_object_func_count(obj);
	for (i = 0; i < n; i++) {
		(void)link_object_func_name(obj, i);
		(void)link_object_func_size(obj, i);
	}
	n = link_object_undef_count(obj);
	for (i = 0; i < n; i++)
		(void)link_object_undef_name(obj, i);
	if (link_plan_layout(obj, &lay))
		goto out;
	if (lay.size != lay.text_size + lay.data_size || !lay.align ||
	    (lay.align & (lay.align - 1))) {
		fprintf(stderr, "fuzz: link: inconsistent layout %zu = %zu + %zu, align %zu\n",
			lay.size, lay.text_size, lay.data_size, lay.align);
		abort();
	}
	base = (FUZZ_BASE + lay.align - 1) & ~((uint64_t)lay.align - 1);
	(void)link_check(obj, &res);
	memset(&img, 0, sizeof(img));
	if (!link_image_build(obj, base, &res, &img)) {
		if (img.size != lay.size || img.text_size != lay.text_size)
			abort();
		for (i = 0; i < img.nabs; i++)
			if (img.abs_off[i] + 8 > img.size)
				abort();
		for (i = 0; i < img.nfuncs; i++)
			if (img.func_addr[i] < base || img.func_addr[i] > base + img.size)
				abort();
	}
	link_image_release(&img);
out:
	link_object_free(obj);
	return 0;
}
