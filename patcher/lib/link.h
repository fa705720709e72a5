/* The payload linker: from a relocatable payload object to code ready to run
 * at a chosen runtime address inside a target.
 *
 * A payload (the C files of payloads/<ID>/) is compiled to an ET_REL object whose
 * references to the target's own functions and data, and to libc, stay
 * relocations. elf_object.c reads and checks such an object (it is untrusted
 * input once it comes out of a package); link.c lays it out, resolves its
 * undefined symbols through a resolver the caller supplies (a target file on
 * disk, or what a live process has mapped) and applies the relocations.
 * docs/formats/payload-object.md describes what an object may contain and
 * the layout of a linked image.
 *
 * Errors: HP_E_FORMAT (malformed object), HP_E_UNSUPPORTED (a section, symbol
 * or feature the linker does not place: TLS, constructors, COMMON...),
 * HP_E_RELOC (a relocation type not supported, a symbol that does not
 * resolve, a value that does not fit), HP_E_TOO_BIG (sizes beyond their
 * bounds), -ENOMEM. Each is reported once with pr_warn, naming the object,
 * the section and offset, the relocation type and the symbol.
 */
#ifndef HP_LINK_H
#define HP_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "hotpatch.h"

/* Page size the layout is aligned to (x86-64). */
#define LINK_PAGE_SIZE 4096u

/* ---- the payload object ---- */

/* A parsed payload relocatable object (opaque; defined in elf_object.h). */
struct link_object;

/* Parse len bytes at buf as a payload object. name is used in messages (a
 * file name or "KB916846/srv.o"). The bytes are copied: buf may be freed
 * afterwards. On success *out owns the object (free with link_object_free).
 * Every unsupported section or relocation is rejected here, before any
 * target is involved. */
int link_object_open(const void *buf, size_t len, const char *name, struct link_object **out);
/* Accepts NULL. */
void link_object_free(struct link_object *obj);
/* The name given to link_object_open; owned by obj. */
const char *link_object_name(const struct link_object *obj);

/* The functions the object defines with global (or weak) binding, i.e. the
 * replacements, in symbol-table order. Names are owned by obj. */
size_t link_object_func_count(const struct link_object *obj);
const char *link_object_func_name(const struct link_object *obj, size_t i);
/* Size in bytes of function i (its st_size). */
uint64_t link_object_func_size(const struct link_object *obj, size_t i);

/* The names the object needs from outside (undefined symbols that some
 * relocation uses), in symbol-table order, each once. Owned by obj. */
size_t link_object_undef_count(const struct link_object *obj);
const char *link_object_undef_name(const struct link_object *obj, size_t i);

/* ---- resolving undefined symbols ---- */

struct link_resolver {
	/* Store the runtime address of the undefined symbol name (a target
	 * function or variable, or a library function such as memcmp) in
	 * *runtime_addr. Return 0, -HP_E_NOT_FOUND if the name is unknown
	 * (without printing: the linker reports it with the relocation that
	 * needs it), or another negative error. */
	int (*resolve)(void *ctx, const char *name, uint64_t *runtime_addr);
	void *ctx; /* passed to resolve */
};

/* A resolver that asks several in turn; the first that knows a name wins.
 * Live patching chains the target's own symbols, then each loaded library;
 * an on-disk patch chains the target file, then its imports. Use as
 * { link_resolve_chain, &chain }. */
struct link_resolver_chain {
	const struct link_resolver *list; /* resolvers, asked in this order */
	size_t count;                     /* number of entries in list */
};
int link_resolve_chain(void *ctx, const char *name, uint64_t *runtime_addr);

/* A resolver over one ELF file (link_resolve.c): the symbols it defines
 * (.symtab, then .dynsym), at link-time address + bias. Imports are not
 * answered (-HP_E_NOT_FOUND): chain link_resolve_got for them. Do not point
 * it at libc: a libc function found this way may be an IFUNC's resolver
 * rather than the function (hp_symbol does not tell them apart).
 * Use as { link_resolve_elf, &elf_resolver }. */
struct hp_elf;
struct link_elf_resolver {
	const struct hp_elf *elf; /* the target file, open */
	uint64_t bias;            /* runtime address minus link-time address (0 on disk) */
};
int link_resolve_elf(void *ctx, const char *name, uint64_t *runtime_addr);

/* A resolver for what a target imports, in a running process: the value
 * the dynamic linker stored in the target's GOT slot for the name (a
 * R_X86_64_GLOB_DAT or JUMP_SLOT relocation of .rela.dyn / .rela.plt),
 * read at slot + bias through read. That is exactly what the target's own
 * code calls: IFUNCs resolved, the right library and version chosen. The
 * slot must be bound: the targets are linked with -z now (BIND_NOW); with
 * lazy binding a JUMP_SLOT holds a PLT address until the first call.
 * Use as { link_resolve_got, &got_resolver }. */
struct link_got_resolver {
	const struct hp_elf *elf; /* the target file, open */
	uint64_t bias;            /* its load bias in the process */
	/* Read the 8-byte value at runtime address addr of the process into
	 * *value; 0 or a negative error. */
	int (*read)(void *read_ctx, uint64_t addr, uint64_t *value);
	void *read_ctx;           /* passed to read */
};
int link_resolve_got(void *ctx, const char *name, uint64_t *runtime_addr);

/* The link-time address of elf's GOT slot for the imported name, or
 * -HP_E_NOT_FOUND. */
int link_elf_got_slot(const struct hp_elf *elf, const char *name, uint64_t *slot_vaddr);

/* ---- layout ---- */

/*
 * A linked image is one block (base normally page-aligned; see align):
 *
 *   base                     +text_size                 +size
 *   | code, rodata, GOT, far  | data, bss (zeroed)       |
 *   | call table    -> r-x    |            -> rw-        |
 *
 * The layout depends only on the object, never on the base or the target,
 * so a caller can reserve the memory first and link into it afterwards.
 */
struct link_layout {
	size_t text_size; /* bytes, page multiple: code + read-only data + GOT + far-call table, map r-x */
	size_t data_size; /* bytes, page multiple: .data/.bss of the payload at base+text_size, map rw-; may be 0 */
	size_t size;      /* bytes: text_size + data_size */
	size_t align;     /* bytes: the base must be a multiple of this (16 at least, the largest
			     section alignment); a page-aligned base is needed only to give the
			     two parts different protections */
};
int link_plan_layout(const struct link_object *obj, struct link_layout *layout);

/* ---- linking ---- */

struct link_image {
	uint8_t *bytes;      /* malloc'd, size bytes, the exact contents for [base, base+size) */
	size_t size;         /* bytes, equal to link_layout.size */
	size_t text_size;    /* bytes at the start of bytes to map r-x; the rest rw- */
	uint64_t base;       /* runtime address it was linked for (a multiple of link_layout.align) */
	uint64_t *func_addr; /* runtime address of each function, same order as link_object_func_name */
	size_t nfuncs;       /* entries in func_addr */
	size_t nfar;         /* far-call stubs in use (some call was out of rel32 reach) */
	/* Offsets (from base) of the 8-byte fields that hold absolute runtime
	 * addresses: R_X86_64_64 results, GOT slots and far-call stubs in use.
	 * A live patch needs nothing more; a disk patch of a PIE must have the
	 * dynamic linker adjust each of them (or refuse). */
	uint64_t *abs_off;   /* malloc'd, nabs entries, ascending within each kind */
	size_t nabs;         /* entries in abs_off */
};

/* Link obj to run at base (a multiple of link_layout.align), resolving
 * undefined symbols through resolver (NULL: the object must need nothing
 * from outside). On success *out holds a malloc'd image (release with
 * link_image_release). The output is a function of (object, base, resolved
 * addresses) only: same inputs, same bytes. On error *out is left empty and
 * the message names the object, section+offset, relocation type and symbol. */
int link_image_build(const struct link_object *obj, uint64_t base,
		     const struct link_resolver *resolver, struct link_image *out);
/* Accepts a zeroed or already released image. */
void link_image_release(struct link_image *img);

/* A dry run of the resolution: every undefined symbol the object uses must
 * resolve. Each missing one is reported with pr_warn; returns -HP_E_RELOC if
 * any is missing, 0 if all resolve. */
int link_check(const struct link_object *obj, const struct link_resolver *resolver);

#endif /* HP_LINK_H */
