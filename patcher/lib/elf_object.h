/* The parsed form of a payload object, shared by the reader (elf_object.c,
 * the only one that sees libelf) and the linker (link.c). Nothing here uses
 * libelf types: the reader has already checked every index and bound, so the
 * linker can trust what it finds. */
#ifndef HP_ELF_OBJECT_H
#define HP_ELF_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "link.h"

/* Where a section goes in a linked image. */
enum link_sec_kind {
	LINK_SEC_SKIP,   /* not loaded: notes, comments, debug info, .eh_frame, metadata */
	LINK_SEC_TEXT,   /* code: r-x part */
	LINK_SEC_RODATA, /* read-only data, .data.rel.ro included (final after linking): r-x part */
	LINK_SEC_DATA,   /* writable data: rw- part */
	LINK_SEC_BSS,    /* zero-filled: rw- part */
};

struct link_reloc {
	uint64_t offset; /* byte offset of the patched field in its section */
	uint32_t type;   /* R_X86_64_* */
	uint32_t sym;    /* index into link_object.syms */
	int64_t addend;  /* bytes */
};

struct link_section {
	char *name;                /* malloc'd */
	enum link_sec_kind kind;   /* where it goes */
	const uint8_t *bytes;      /* contents, inside link_object.buf; NULL for bss and skipped */
	uint64_t size;             /* bytes */
	uint64_t align;            /* bytes, power of two, at most LINK_PAGE_SIZE */
	struct link_reloc *relocs; /* relocations that patch this section (loaded sections only) */
	size_t nrelocs;            /* entries in relocs */
};

/* link_symbol.sec values that are not section indexes. */
#define LINK_SYM_UNDEF UINT32_MAX
#define LINK_SYM_ABS (UINT32_MAX - 1)

struct link_symbol {
	char *name;       /* malloc'd; "" when unnamed */
	uint32_t sec;     /* section index, LINK_SYM_UNDEF or LINK_SYM_ABS */
	uint64_t value;   /* offset in sec (bytes), or the absolute value */
	uint64_t size;    /* bytes */
	uint8_t type;     /* STT_* */
	uint8_t bind;     /* STB_* */
	size_t undef;     /* index into link_object.undefs when undefined and used, else SIZE_MAX */
	/* First relocation that uses the symbol, for messages. */
	uint32_t use_sec;  /* section index; 0 when unused */
	uint64_t use_off;  /* byte offset in use_sec */
	uint32_t use_type; /* R_X86_64_* */
};

struct link_object {
	char *name;                 /* malloc'd, for messages */
	uint8_t *buf;               /* malloc'd copy of the object file */
	size_t len;                 /* bytes in buf */
	struct link_section *secs;  /* indexed like the ELF section headers */
	size_t nsecs;               /* entries in secs */
	struct link_symbol *syms;   /* indexed like the ELF symbol table */
	size_t nsyms;               /* entries in syms */
	size_t *funcs;              /* indexes into syms: global/weak functions defined in code */
	size_t nfuncs;              /* entries in funcs */
	size_t *undefs;             /* indexes into syms: undefined symbols some relocation uses */
	size_t nundefs;             /* entries in undefs */
};

/* "R_X86_64_PLT32", or "type 42" (in a static buffer per call site: only
 * for messages, and not thread-safe for unknown types). */
const char *link_reloc_name(uint32_t type);

/* Bytes a relocation type writes (0 for R_X86_64_NONE), or -1 if the
 * linker does not support the type. */
int link_reloc_width(uint32_t type);

/* Name for messages: the symbol's name, or its section's for a section
 * symbol. */
const char *link_symbol_label(const struct link_object *obj, uint32_t sym);

#endif /* HP_ELF_OBJECT_H */
