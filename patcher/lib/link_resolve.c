/* Resolving a payload's undefined symbols against a target ELF file.
 *
 * The linker (link.c) asks a resolver for the runtime address of each name
 * the payload needs. This one answers from the symbol tables of one ELF file
 * (the inspect module's hp_elf) plus a load bias: for a file on disk the
 * bias is 0 (link-time addresses), for a file mapped in a process it is the
 * runtime load base minus hp_elf__link_base(). A live process chains one such
 * resolver per mapped object (link_resolve_chain): the executable first, then
 * its libraries.
 */
#include <errno.h>
#include <stdlib.h>

#include "hotpatch.h"
#include "internal.h"
#include "link.h"

int link_resolve_elf(void *ctx, const char *name, uint64_t *runtime_addr)
{
	const struct link_elf_resolver *r = ctx;
	const struct hp_symbol *sym = hp_elf__find_symbol(r->elf, name);

	/* Only what the file itself defines: an import (undefined here) is
	 * for another resolver of the chain, and a section or file symbol is
	 * never what a payload means by a name. */
	if (!sym || !sym->defined || (sym->kind != HP_SYM_FUNC && sym->kind != HP_SYM_OBJECT))
		return -HP_E_NOT_FOUND;
	/* Section index 0 on a defined symbol: SHN_ABS, not moved by the bias. */
	*runtime_addr = sym->section ? sym->value + r->bias : sym->value;
	return 0;
}

int hp_link__check_elf(const void *obj, size_t len, const char *obj_name,
		       const struct hp_elf *target)
{
	struct link_elf_resolver er = { .elf = target, .bias = 0 };
	struct link_resolver res = { link_resolve_elf, &er };
	struct link_object *o = NULL;
	int err;

	err = link_object_open(obj, len, obj_name, &o);
	if (err)
		return err;
	err = link_check(o, &res);
	if (err)
		pr_warn("link: %s: does not link against %s", link_object_name(o),
			hp_elf__identity(target)->path);
	link_object_free(o);
	return err;
}
