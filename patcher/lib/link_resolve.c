/* Resolving a payload's undefined symbols against a target ELF file.
 *
 * The linker (link.c) asks a resolver for the runtime address of each name
 * the payload needs. Two answer from one ELF file (the inspect module's
 * hp_elf):
 *   - link_resolve_elf: what the file defines, from its symbol tables, plus a
 *     load bias (0 on disk; runtime load base minus hp_elf__link_base() in a
 *     process);
 *   - link_resolve_got: what the file imports, as the dynamic linker bound it
 *     in a running process: the file's GOT slot for the name, read from the
 *     process. That is the address the target's own code calls, IFUNCs
 *     already resolved and the right library chosen.
 * A live process chains them (link_resolve_chain): the executable's
 * definitions, its imports, then other loaded objects.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hotpatch.h"
#include "internal.h"
#include "link.h"
#include "elf_priv.h"

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

/* An allocated section of elf by name, or NULL. */
static const struct hp_section *section_named(const struct hp_elf *elf, const char *name)
{
	size_t i;

	for (i = 1; i < hp_elf__section_count(elf); i++) {
		const struct hp_section *s = hp_elf__section(elf, i);

		if (s->alloc && !s->nobits && !strcmp(s->name, name))
			return s;
	}
	return NULL;
}

/* Search one RELA table (.rela.dyn or .rela.plt) for a GLOB_DAT or
 * JUMP_SLOT relocation of name; everything is bounds-checked against the
 * sections as the file describes them. */
static int find_slot(const struct hp_elf *elf, const struct hp_section *rela,
		     const uint8_t *dynsym, size_t nsyms, const char *dynstr, size_t strsize,
		     const char *name, uint64_t *slot_vaddr)
{
	const uint8_t *bytes = elf_bytes_at(elf, rela->addr, rela->size);
	size_t i, n = rela->size / sizeof(Elf64_Rela);

	if (!bytes)
		return -HP_E_NOT_FOUND;
	for (i = 0; i < n; i++) {
		Elf64_Rela r;
		Elf64_Sym sym;
		uint64_t si;

		memcpy(&r, bytes + i * sizeof(r), sizeof(r));
		if (ELF64_R_TYPE(r.r_info) != R_X86_64_GLOB_DAT &&
		    ELF64_R_TYPE(r.r_info) != R_X86_64_JUMP_SLOT)
			continue;
		si = ELF64_R_SYM(r.r_info);
		if (si == 0 || si >= nsyms)
			continue;
		memcpy(&sym, dynsym + si * sizeof(sym), sizeof(sym));
		if (sym.st_name >= strsize || !memchr(dynstr + sym.st_name, '\0', strsize - sym.st_name))
			continue;
		if (!strcmp(dynstr + sym.st_name, name)) {
			*slot_vaddr = r.r_offset;
			return 0;
		}
	}
	return -HP_E_NOT_FOUND;
}

int link_elf_got_slot(const struct hp_elf *elf, const char *name, uint64_t *slot_vaddr)
{
	const struct hp_section *dynsym = section_named(elf, ".dynsym");
	const struct hp_section *dynstr = section_named(elf, ".dynstr");
	static const char *const tables[] = { ".rela.dyn", ".rela.plt" };
	const uint8_t *syms;
	const char *strs;
	size_t i;

	if (!dynsym || !dynstr)
		return -HP_E_NOT_FOUND;
	syms = elf_bytes_at(elf, dynsym->addr, dynsym->size);
	strs = (const char *)elf_bytes_at(elf, dynstr->addr, dynstr->size);
	if (!syms || !strs)
		return -HP_E_NOT_FOUND;
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		const struct hp_section *rela = section_named(elf, tables[i]);

		if (rela && find_slot(elf, rela, syms, dynsym->size / sizeof(Elf64_Sym), strs,
				      dynstr->size, name, slot_vaddr) == 0)
			return 0;
	}
	return -HP_E_NOT_FOUND;
}

int link_resolve_got(void *ctx, const char *name, uint64_t *runtime_addr)
{
	const struct link_got_resolver *r = ctx;
	uint64_t slot, value = 0;
	int err;

	err = link_elf_got_slot(r->elf, name, &slot);
	if (err)
		return err;
	err = r->read(r->read_ctx, slot + r->bias, &value);
	if (err)
		return err;
	/* An unbound weak import reads 0: as good as unknown here, so another
	 * resolver of the chain may still know it. */
	if (!value)
		return -HP_E_NOT_FOUND;
	*runtime_addr = value;
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
