/* Reading a payload object: the relocatable ELF file a patch package carries.
 *
 * This is the first stage of linking a payload (link.h): the object is
 * parsed into neutral tables (elf_object.h) of sections, symbols and RELA
 * relocations, and everything the linker cannot place is refused here, with
 * the object, section, offset, relocation type and symbol named, before any
 * target is involved. The bytes come out of a package, so they are
 * untrusted: every offset, size, index and string is checked against the
 * buffer before it is used, and libelf is only asked for what it converts
 * (headers, symbols, relocations) after those checks.
 */
#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf_object.h"
#include "internal.h"

/* Bounds on what a payload may hold; a corrected routine or two is a few
 * kilobytes, so these only stop absurd inputs from costing memory. */
#define MAX_OBJECT_BYTES (256u << 20)
#define MAX_SECTIONS 65280u /* below SHN_LORESERVE: no extended numbering */
#define MAX_SYMBOLS (1u << 20)
#define MAX_RELOCS (1u << 22)
#define MAX_LOADED_BYTES (64u << 20)

static const struct {
	uint32_t type; /* R_X86_64_* */
	const char *name;
	int width;     /* bytes written; -1: not supported */
} reloc_types[] = {
	{ R_X86_64_NONE, "R_X86_64_NONE", 0 },
	{ R_X86_64_64, "R_X86_64_64", 8 },
	{ R_X86_64_PC32, "R_X86_64_PC32", 4 },
	{ R_X86_64_GOT32, "R_X86_64_GOT32", -1 },
	{ R_X86_64_PLT32, "R_X86_64_PLT32", 4 },
	{ R_X86_64_COPY, "R_X86_64_COPY", -1 },
	{ R_X86_64_GLOB_DAT, "R_X86_64_GLOB_DAT", -1 },
	{ R_X86_64_JUMP_SLOT, "R_X86_64_JUMP_SLOT", -1 },
	{ R_X86_64_RELATIVE, "R_X86_64_RELATIVE", -1 },
	{ R_X86_64_GOTPCREL, "R_X86_64_GOTPCREL", 4 },
	{ R_X86_64_32, "R_X86_64_32", 4 },
	{ R_X86_64_32S, "R_X86_64_32S", 4 },
	{ R_X86_64_16, "R_X86_64_16", -1 },
	{ R_X86_64_PC16, "R_X86_64_PC16", -1 },
	{ R_X86_64_8, "R_X86_64_8", -1 },
	{ R_X86_64_PC8, "R_X86_64_PC8", -1 },
	{ R_X86_64_DTPMOD64, "R_X86_64_DTPMOD64", -1 },
	{ R_X86_64_DTPOFF64, "R_X86_64_DTPOFF64", -1 },
	{ R_X86_64_TPOFF64, "R_X86_64_TPOFF64", -1 },
	{ R_X86_64_TLSGD, "R_X86_64_TLSGD", -1 },
	{ R_X86_64_TLSLD, "R_X86_64_TLSLD", -1 },
	{ R_X86_64_DTPOFF32, "R_X86_64_DTPOFF32", -1 },
	{ R_X86_64_GOTTPOFF, "R_X86_64_GOTTPOFF", -1 },
	{ R_X86_64_TPOFF32, "R_X86_64_TPOFF32", -1 },
	{ R_X86_64_PC64, "R_X86_64_PC64", 8 },
	{ R_X86_64_GOTOFF64, "R_X86_64_GOTOFF64", -1 },
	{ R_X86_64_GOTPC32, "R_X86_64_GOTPC32", -1 },
	{ R_X86_64_GOT64, "R_X86_64_GOT64", -1 },
	{ R_X86_64_GOTPCREL64, "R_X86_64_GOTPCREL64", -1 },
	{ R_X86_64_GOTPC64, "R_X86_64_GOTPC64", -1 },
	{ R_X86_64_GOTPLT64, "R_X86_64_GOTPLT64", -1 },
	{ R_X86_64_PLTOFF64, "R_X86_64_PLTOFF64", -1 },
	{ R_X86_64_SIZE32, "R_X86_64_SIZE32", -1 },
	{ R_X86_64_SIZE64, "R_X86_64_SIZE64", -1 },
	{ R_X86_64_GOTPC32_TLSDESC, "R_X86_64_GOTPC32_TLSDESC", -1 },
	{ R_X86_64_TLSDESC_CALL, "R_X86_64_TLSDESC_CALL", -1 },
	{ R_X86_64_TLSDESC, "R_X86_64_TLSDESC", -1 },
	{ R_X86_64_IRELATIVE, "R_X86_64_IRELATIVE", -1 },
	{ R_X86_64_RELATIVE64, "R_X86_64_RELATIVE64", -1 },
	{ R_X86_64_GOTPCRELX, "R_X86_64_GOTPCRELX", 4 },
	{ R_X86_64_REX_GOTPCRELX, "R_X86_64_REX_GOTPCRELX", 4 },
};

const char *link_reloc_name(uint32_t type)
{
	static char unknown[32];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(reloc_types); i++)
		if (reloc_types[i].type == type)
			return reloc_types[i].name;
	snprintf(unknown, sizeof(unknown), "relocation type %u", type);
	return unknown;
}

int link_reloc_width(uint32_t type)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(reloc_types); i++)
		if (reloc_types[i].type == type)
			return reloc_types[i].width;
	return -1;
}

const char *link_symbol_label(const struct link_object *obj, uint32_t sym)
{
	const struct link_symbol *s = &obj->syms[sym];

	if (s->type == STT_SECTION && s->sec < obj->nsecs)
		return obj->secs[s->sec].name;
	return s->name[0] ? s->name : "(unnamed)";
}

static bool has_prefix(const char *name, const char *sec)
{
	size_t n = strlen(sec);

	/* ".text" and ".text.foo", never ".textual". */
	return !strncmp(name, sec, n) && (name[n] == '\0' || name[n] == '.');
}

/* A NUL-terminated string at index idx of the string table section strsec,
 * or NULL if it runs outside. */
static const char *string_at(const struct link_object *obj, const GElf_Shdr *strsec, uint64_t idx)
{
	const char *s, *end;

	if (strsec->sh_type != SHT_STRTAB || idx >= strsec->sh_size)
		return NULL;
	s = (const char *)obj->buf + strsec->sh_offset + idx;
	end = (const char *)obj->buf + strsec->sh_offset + strsec->sh_size;
	return memchr(s, '\0', (size_t)(end - s)) ? s : NULL;
}

/* Where a loadable section goes; the name decides, as for ld's default
 * script, and the flags must agree with it. */
static int classify(const struct link_object *obj, size_t i, const GElf_Shdr *sh,
		    enum link_sec_kind *kind)
{
	const char *name = obj->secs[i].name;
	bool exec = sh->sh_flags & SHF_EXECINSTR;

	*kind = LINK_SEC_SKIP;
	if (sh->sh_flags & SHF_TLS) {
		pr_warn("link: %s: section %zu (%s): thread-local storage is not supported in a payload",
			obj->name, i, name);
		return -HP_E_UNSUPPORTED;
	}
	if (sh->sh_type == SHT_INIT_ARRAY || sh->sh_type == SHT_FINI_ARRAY ||
	    sh->sh_type == SHT_PREINIT_ARRAY || has_prefix(name, ".ctors") ||
	    has_prefix(name, ".dtors") || has_prefix(name, ".init") || has_prefix(name, ".fini")) {
		pr_warn("link: %s: section %zu (%s): constructors and destructors never run in a payload",
			obj->name, i, name);
		return -HP_E_UNSUPPORTED;
	}
	switch (sh->sh_type) {
	case SHT_NULL:
	case SHT_SYMTAB:
	case SHT_STRTAB:
	case SHT_RELA:
	case SHT_GROUP:
	case SHT_NOTE:
	case SHT_X86_64_UNWIND:
		return 0;
	case SHT_REL:
		pr_warn("link: %s: section %zu (%s): REL relocations are not used on x86-64 (RELA expected)",
			obj->name, i, name);
		return -HP_E_FORMAT;
	case SHT_SYMTAB_SHNDX:
		pr_warn("link: %s: section %zu (%s): extended section numbering is not supported",
			obj->name, i, name);
		return -HP_E_UNSUPPORTED;
	default:
		break;
	}
	/* Unwind tables are not loaded: payloads are built without them, and
	 * nothing would register them with an unwinder in the target. */
	if (!(sh->sh_flags & SHF_ALLOC) || !strcmp(name, ".eh_frame"))
		return 0;

	if (has_prefix(name, ".text") && exec && sh->sh_type == SHT_PROGBITS)
		*kind = LINK_SEC_TEXT;
	else if ((has_prefix(name, ".rodata") || has_prefix(name, ".data.rel.ro")) && !exec &&
		 sh->sh_type == SHT_PROGBITS)
		*kind = LINK_SEC_RODATA;
	else if (has_prefix(name, ".data") && !exec && sh->sh_type == SHT_PROGBITS)
		*kind = LINK_SEC_DATA;
	else if (has_prefix(name, ".bss") && !exec && sh->sh_type == SHT_NOBITS)
		*kind = LINK_SEC_BSS;
	else {
		pr_warn("link: %s: section %zu (%s): cannot be placed (a payload holds only .text*, .rodata*, .data*, .bss*)",
			obj->name, i, name);
		return -HP_E_UNSUPPORTED;
	}
	if (sh->sh_addralign > LINK_PAGE_SIZE ||
	    (sh->sh_addralign & (sh->sh_addralign - 1))) {
		pr_warn("link: %s: section %zu (%s): alignment %llu is not a power of two up to %u",
			obj->name, i, name, (unsigned long long)sh->sh_addralign, LINK_PAGE_SIZE);
		return -HP_E_FORMAT;
	}
	return 0;
}

static int read_sections(struct link_object *obj, Elf *elf, size_t shstrndx)
{
	GElf_Shdr strsh;
	uint64_t loaded = 0;
	size_t i;
	int err;

	if (!gelf_getshdr(elf_getscn(elf, shstrndx), &strsh) || strsh.sh_type != SHT_STRTAB) {
		pr_warn("link: %s: section %zu: invalid section name table", obj->name, shstrndx);
		return -HP_E_FORMAT;
	}
	for (i = 0; i < obj->nsecs; i++) {
		GElf_Shdr sh;

		if (!gelf_getshdr(elf_getscn(elf, i), &sh)) {
			pr_warn("link: %s: section %zu: invalid section header: %s", obj->name, i,
				elf_errmsg(-1));
			return -HP_E_FORMAT;
		}
		if (sh.sh_type != SHT_NOBITS && sh.sh_type != SHT_NULL &&
		    (sh.sh_offset > obj->len || sh.sh_size > obj->len - sh.sh_offset)) {
			pr_warn("link: %s: section %zu: contents [0x%llx, +0x%llx) run past the end of the file (%zu bytes)",
				obj->name, i, (unsigned long long)sh.sh_offset,
				(unsigned long long)sh.sh_size, obj->len);
			return -HP_E_FORMAT;
		}
	}
	/* Names only once every section's bounds are known good. */
	for (i = 0; i < obj->nsecs; i++) {
		struct link_section *sec = &obj->secs[i];
		GElf_Shdr sh;
		const char *name;

		gelf_getshdr(elf_getscn(elf, i), &sh);
		name = string_at(obj, &strsh, sh.sh_name);
		if (!name) {
			pr_warn("link: %s: section %zu: name offset %u outside the section name table",
				obj->name, i, sh.sh_name);
			return -HP_E_FORMAT;
		}
		sec->name = strdup(name);
		if (!sec->name)
			return -ENOMEM;
		err = classify(obj, i, &sh, &sec->kind);
		if (err)
			return err;
		if (sec->kind == LINK_SEC_SKIP)
			continue;
		sec->size = sh.sh_size;
		sec->align = sh.sh_addralign ? sh.sh_addralign : 1;
		if (sec->kind != LINK_SEC_BSS)
			sec->bytes = obj->buf + sh.sh_offset;
		loaded += sec->size;
		if (sec->size > MAX_LOADED_BYTES || loaded > MAX_LOADED_BYTES) {
			pr_warn("link: %s: section %zu (%s): loaded sections exceed %u bytes",
				obj->name, i, sec->name, MAX_LOADED_BYTES);
			return -HP_E_TOO_BIG;
		}
	}
	return 0;
}

/* The one symbol table, checked entry by entry. */
static int read_symbols(struct link_object *obj, Elf *elf, size_t *symtab_index)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh, strsh;
	Elf_Data *data;
	size_t i, found = 0;

	for (i = 1; i < obj->nsecs; i++) {
		GElf_Shdr s;

		if (gelf_getshdr(elf_getscn(elf, i), &s) && s.sh_type == SHT_SYMTAB) {
			found++;
			*symtab_index = i;
		}
	}
	if (found != 1) {
		pr_warn("link: %s: %zu symbol tables (exactly one expected)", obj->name, found);
		return -HP_E_FORMAT;
	}
	scn = elf_getscn(elf, *symtab_index);
	gelf_getshdr(scn, &sh);
	if (sh.sh_entsize != sizeof(Elf64_Sym) || sh.sh_size % sizeof(Elf64_Sym) ||
	    sh.sh_link == 0 || sh.sh_link >= obj->nsecs ||
	    !gelf_getshdr(elf_getscn(elf, sh.sh_link), &strsh) || strsh.sh_type != SHT_STRTAB) {
		pr_warn("link: %s: section %zu (%s): invalid symbol table header", obj->name,
			*symtab_index, obj->secs[*symtab_index].name);
		return -HP_E_FORMAT;
	}
	obj->nsyms = sh.sh_size / sizeof(Elf64_Sym);
	if (obj->nsyms > MAX_SYMBOLS) {
		pr_warn("link: %s: %zu symbols (at most %u)", obj->name, obj->nsyms, MAX_SYMBOLS);
		return -HP_E_TOO_BIG;
	}
	data = elf_getdata(scn, NULL);
	if (!data || data->d_size != sh.sh_size) {
		pr_warn("link: %s: section %zu: symbol table unreadable: %s", obj->name,
			*symtab_index, elf_errmsg(-1));
		return -HP_E_FORMAT;
	}
	obj->syms = calloc(obj->nsyms ? obj->nsyms : 1, sizeof(*obj->syms));
	if (!obj->syms)
		return -ENOMEM;
	for (i = 0; i < obj->nsyms; i++) {
		struct link_symbol *sym = &obj->syms[i];
		const char *name;
		GElf_Sym s;

		sym->undef = SIZE_MAX;
		if (!gelf_getsym(data, (int)i, &s)) {
			pr_warn("link: %s: symbol %zu unreadable", obj->name, i);
			return -HP_E_FORMAT;
		}
		name = string_at(obj, &strsh, s.st_name);
		if (!name) {
			pr_warn("link: %s: symbol %zu: name offset %u outside the string table",
				obj->name, i, s.st_name);
			return -HP_E_FORMAT;
		}
		sym->name = strdup(name);
		if (!sym->name)
			return -ENOMEM;
		sym->type = GELF_ST_TYPE(s.st_info);
		sym->bind = GELF_ST_BIND(s.st_info);
		sym->value = s.st_value;
		sym->size = s.st_size;
		if (i == 0)
			continue;
		/* An undefined thread-local symbol is refused with the
		 * relocation that uses it, which says more. */
		if ((sym->type == STT_TLS && s.st_shndx != SHN_UNDEF) || sym->type == STT_GNU_IFUNC) {
			pr_warn("link: %s: symbol '%s': %s symbols are not supported in a payload",
				obj->name, name, sym->type == STT_TLS ? "thread-local" : "indirect function");
			return -HP_E_UNSUPPORTED;
		}
		switch (s.st_shndx) {
		case SHN_UNDEF:
			sym->sec = LINK_SYM_UNDEF;
			if (sym->bind == STB_LOCAL || !name[0]) {
				pr_warn("link: %s: symbol %zu: undefined local or unnamed symbol",
					obj->name, i);
				return -HP_E_FORMAT;
			}
			continue;
		case SHN_ABS:
			sym->sec = LINK_SYM_ABS;
			continue;
		case SHN_COMMON:
			pr_warn("link: %s: symbol '%s': COMMON symbols are not supported (build the payload with -fno-common)",
				obj->name, name);
			return -HP_E_UNSUPPORTED;
		case SHN_XINDEX:
			pr_warn("link: %s: symbol '%s': extended section index not supported",
				obj->name, name);
			return -HP_E_UNSUPPORTED;
		default:
			break;
		}
		if (s.st_shndx >= obj->nsecs) {
			pr_warn("link: %s: symbol '%s': section index %u out of range (%zu sections)",
				obj->name, name, s.st_shndx, obj->nsecs);
			return -HP_E_FORMAT;
		}
		sym->sec = s.st_shndx;
		if (obj->secs[sym->sec].kind != LINK_SEC_SKIP &&
		    (s.st_value > obj->secs[sym->sec].size ||
		     s.st_size > obj->secs[sym->sec].size - s.st_value)) {
			pr_warn("link: %s: symbol '%s': [0x%llx, +0x%llx) lies outside section %u (%s, 0x%llx bytes)",
				obj->name, name, (unsigned long long)s.st_value,
				(unsigned long long)s.st_size, s.st_shndx, obj->secs[sym->sec].name,
				(unsigned long long)obj->secs[sym->sec].size);
			return -HP_E_FORMAT;
		}
	}
	return 0;
}

static int read_one_reloc(struct link_object *obj, size_t target, const GElf_Rela *r,
			  struct link_reloc *out)
{
	struct link_section *sec = &obj->secs[target];
	uint32_t type = (uint32_t)GELF_R_TYPE(r->r_info);
	uint64_t symi = GELF_R_SYM(r->r_info);
	int width = link_reloc_width(type);
	struct link_symbol *sym;

	if (symi >= obj->nsyms) {
		pr_warn("link: %s: %s+0x%llx: %s: symbol index %llu out of range (%zu symbols)",
			obj->name, sec->name, (unsigned long long)r->r_offset, link_reloc_name(type),
			(unsigned long long)symi, obj->nsyms);
		return -HP_E_FORMAT;
	}
	sym = &obj->syms[symi];
	if (width < 0) {
		pr_warn("link: %s: %s+0x%llx: %s against '%s': relocation type not supported",
			obj->name, sec->name, (unsigned long long)r->r_offset, link_reloc_name(type),
			link_symbol_label(obj, (uint32_t)symi));
		return -HP_E_RELOC;
	}
	if (sym->type == STT_TLS) {
		pr_warn("link: %s: %s+0x%llx: %s against '%s': thread-local storage is not supported in a payload",
			obj->name, sec->name, (unsigned long long)r->r_offset, link_reloc_name(type),
			link_symbol_label(obj, (uint32_t)symi));
		return -HP_E_RELOC;
	}
	if (r->r_offset > sec->size || (uint64_t)width > sec->size - r->r_offset) {
		pr_warn("link: %s: %s+0x%llx: %s against '%s': field outside the section (0x%llx bytes)",
			obj->name, sec->name, (unsigned long long)r->r_offset, link_reloc_name(type),
			link_symbol_label(obj, (uint32_t)symi), (unsigned long long)sec->size);
		return -HP_E_FORMAT;
	}
	if (type != R_X86_64_NONE && symi == 0) {
		pr_warn("link: %s: %s+0x%llx: %s without a symbol", obj->name, sec->name,
			(unsigned long long)r->r_offset, link_reloc_name(type));
		return -HP_E_FORMAT;
	}
	if (sym->sec < obj->nsecs && obj->secs[sym->sec].kind == LINK_SEC_SKIP && symi) {
		pr_warn("link: %s: %s+0x%llx: %s against '%s': refers to section %s, which is not loaded",
			obj->name, sec->name, (unsigned long long)r->r_offset, link_reloc_name(type),
			link_symbol_label(obj, (uint32_t)symi), obj->secs[sym->sec].name);
		return -HP_E_RELOC;
	}
	out->offset = r->r_offset;
	out->type = type;
	out->sym = (uint32_t)symi;
	out->addend = r->r_addend;
	if (symi && !sym->use_sec) {
		sym->use_sec = (uint32_t)target;
		sym->use_off = r->r_offset;
		sym->use_type = type;
	}
	return 0;
}

static int read_relocs(struct link_object *obj, Elf *elf, size_t symtab_index)
{
	size_t i, j, total = 0;

	for (i = 1; i < obj->nsecs; i++) {
		Elf_Scn *scn = elf_getscn(elf, i);
		struct link_section *target;
		struct link_reloc *grown;
		Elf_Data *data;
		GElf_Shdr sh;
		size_t n;

		gelf_getshdr(scn, &sh);
		if (sh.sh_type != SHT_RELA)
			continue;
		if (sh.sh_info == 0 || sh.sh_info >= obj->nsecs) {
			pr_warn("link: %s: section %zu (%s): applies to section %u, out of range",
				obj->name, i, obj->secs[i].name, sh.sh_info);
			return -HP_E_FORMAT;
		}
		target = &obj->secs[sh.sh_info];
		/* Relocations of .eh_frame or debug info: nothing loads them. */
		if (target->kind == LINK_SEC_SKIP)
			continue;
		if (sh.sh_link != symtab_index || sh.sh_entsize != sizeof(Elf64_Rela) ||
		    sh.sh_size % sizeof(Elf64_Rela)) {
			pr_warn("link: %s: section %zu (%s): invalid relocation section header",
				obj->name, i, obj->secs[i].name);
			return -HP_E_FORMAT;
		}
		if (target->kind == LINK_SEC_BSS) {
			pr_warn("link: %s: section %zu (%s): relocations for %s, which has no contents",
				obj->name, i, obj->secs[i].name, target->name);
			return -HP_E_FORMAT;
		}
		n = sh.sh_size / sizeof(Elf64_Rela);
		total += n;
		if (total > MAX_RELOCS) {
			pr_warn("link: %s: more than %u relocations", obj->name, MAX_RELOCS);
			return -HP_E_TOO_BIG;
		}
		data = elf_getdata(scn, NULL);
		if (!data || data->d_size != sh.sh_size) {
			pr_warn("link: %s: section %zu (%s): unreadable: %s", obj->name, i,
				obj->secs[i].name, elf_errmsg(-1));
			return -HP_E_FORMAT;
		}
		grown = realloc(target->relocs, (target->nrelocs + n + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		target->relocs = grown;
		for (j = 0; j < n; j++) {
			GElf_Rela r;
			int err;

			if (!gelf_getrela(data, (int)j, &r)) {
				pr_warn("link: %s: section %zu (%s): relocation %zu unreadable",
					obj->name, i, obj->secs[i].name, j);
				return -HP_E_FORMAT;
			}
			err = read_one_reloc(obj, sh.sh_info, &r, &target->relocs[target->nrelocs]);
			if (err)
				return err;
			target->nrelocs++;
		}
	}
	return 0;
}

/* The replacements and the names needed from outside, in symbol order. */
static int index_symbols(struct link_object *obj)
{
	size_t i;

	obj->funcs = calloc(obj->nsyms + 1, sizeof(*obj->funcs));
	obj->undefs = calloc(obj->nsyms + 1, sizeof(*obj->undefs));
	if (!obj->funcs || !obj->undefs)
		return -ENOMEM;
	for (i = 1; i < obj->nsyms; i++) {
		struct link_symbol *sym = &obj->syms[i];

		if (sym->sec == LINK_SYM_UNDEF && sym->use_sec) {
			sym->undef = obj->nundefs;
			obj->undefs[obj->nundefs++] = i;
		} else if (sym->type == STT_FUNC && sym->bind != STB_LOCAL &&
			   sym->sec < obj->nsecs && obj->secs[sym->sec].kind == LINK_SEC_TEXT) {
			obj->funcs[obj->nfuncs++] = i;
		}
	}
	return 0;
}

static int check_header(struct link_object *obj, Elf *elf)
{
	GElf_Ehdr eh;

	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		pr_warn("link: %s: not an ELF file", obj->name);
		return -HP_E_FORMAT;
	}
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64) {
		pr_warn("link: %s: not a little-endian ELF64 x86-64 object", obj->name);
		return -HP_E_FORMAT;
	}
	if (eh.e_type != ET_REL) {
		pr_warn("link: %s: ELF type %u, a relocatable object (ET_REL) expected",
			obj->name, eh.e_type);
		return -HP_E_FORMAT;
	}
	if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > obj->len ||
	    (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr) > obj->len - eh.e_shoff) {
		pr_warn("link: %s: section header table runs past the end of the file", obj->name);
		return -HP_E_FORMAT;
	}
	return 0;
}

int link_object_open(const void *buf, size_t len, const char *name, struct link_object **out)
{
	struct link_object *obj = NULL;
	size_t shstrndx, symtab_index = 0;
	Elf *elf = NULL;
	int err;

	*out = NULL;
	if (!name)
		name = "payload";
	if (len > MAX_OBJECT_BYTES) {
		pr_warn("link: %s: %zu bytes, beyond the %u-byte bound for a payload object",
			name, len, MAX_OBJECT_BYTES);
		return -HP_E_TOO_BIG;
	}
	if (len < sizeof(Elf64_Ehdr)) {
		pr_warn("link: %s: %zu bytes, too short for an ELF header", name, len);
		return -HP_E_FORMAT;
	}
	obj = calloc(1, sizeof(*obj));
	if (!obj)
		return -ENOMEM;
	obj->name = strdup(name);
	obj->buf = malloc(len);
	if (!obj->name || !obj->buf) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(obj->buf, buf, len);
	obj->len = len;

	elf_version(EV_CURRENT);
	elf = elf_memory((char *)obj->buf, len);
	if (!elf) {
		pr_warn("link: %s: not readable as ELF: %s", name, elf_errmsg(-1));
		err = -HP_E_FORMAT;
		goto out;
	}
	err = check_header(obj, elf);
	if (err)
		goto out;
	if (elf_getshdrnum(elf, &obj->nsecs) || elf_getshdrstrndx(elf, &shstrndx) ||
	    obj->nsecs == 0 || shstrndx == 0 || shstrndx >= obj->nsecs) {
		pr_warn("link: %s: invalid section count or section name table index", name);
		err = -HP_E_FORMAT;
		goto out;
	}
	if (obj->nsecs > MAX_SECTIONS) {
		pr_warn("link: %s: %zu sections (at most %u)", name, obj->nsecs, MAX_SECTIONS);
		err = -HP_E_TOO_BIG;
		goto out;
	}
	obj->secs = calloc(obj->nsecs, sizeof(*obj->secs));
	if (!obj->secs) {
		err = -ENOMEM;
		goto out;
	}
	err = read_sections(obj, elf, shstrndx);
	if (!err)
		err = read_symbols(obj, elf, &symtab_index);
	if (!err)
		err = read_relocs(obj, elf, symtab_index);
	if (!err)
		err = index_symbols(obj);
	if (err)
		goto out;
	pr_debug("link: %s: %zu sections, %zu symbols, %zu functions, %zu undefined",
		 name, obj->nsecs, obj->nsyms, obj->nfuncs, obj->nundefs);
	*out = obj;
	obj = NULL;
out:
	if (elf)
		elf_end(elf);
	link_object_free(obj);
	return err;
}

void link_object_free(struct link_object *obj)
{
	size_t i;

	if (!obj)
		return;
	for (i = 0; obj->secs && i < obj->nsecs; i++) {
		free(obj->secs[i].name);
		free(obj->secs[i].relocs);
	}
	for (i = 0; obj->syms && i < obj->nsyms; i++)
		free(obj->syms[i].name);
	free(obj->secs);
	free(obj->syms);
	free(obj->funcs);
	free(obj->undefs);
	free(obj->buf);
	free(obj->name);
	free(obj);
}

const char *link_object_name(const struct link_object *obj)
{
	return obj->name;
}

size_t link_object_func_count(const struct link_object *obj)
{
	return obj->nfuncs;
}

const char *link_object_func_name(const struct link_object *obj, size_t i)
{
	return i < obj->nfuncs ? obj->syms[obj->funcs[i]].name : NULL;
}

uint64_t link_object_func_size(const struct link_object *obj, size_t i)
{
	return i < obj->nfuncs ? obj->syms[obj->funcs[i]].size : 0;
}

size_t link_object_undef_count(const struct link_object *obj)
{
	return obj->nundefs;
}

const char *link_object_undef_name(const struct link_object *obj, size_t i)
{
	return i < obj->nundefs ? obj->syms[obj->undefs[i]].name : NULL;
}
