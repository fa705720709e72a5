/* What the ELF module offers the other modules of libhotpatch beyond the
 * public hp_elf API. */
#ifndef HP_ELF_PRIV_H
#define HP_ELF_PRIV_H

#include <stdint.h>

#include "hotpatch.h"

/* The link-time address of the first defined FUNC/OBJECT symbol that starts
 * strictly after vaddr, or UINT64_MAX when there is none. Binary search. */
uint64_t elf_next_symbol_addr(const struct hp_elf *elf, uint64_t vaddr);

/* The file bytes of a PT_LOAD range [vaddr, vaddr+len) without copying, or
 * NULL when the range is not entirely file-backed within one segment. */
const uint8_t *elf_bytes_at(const struct hp_elf *elf, uint64_t vaddr, size_t len);

/* The file bytes of [off, off+len) inside section secidx (not SHT_NOBITS),
 * or NULL when out of range. For relocatable objects, whose symbol values
 * are offsets into their section. */
const uint8_t *elf_section_bytes(const struct hp_elf *elf, size_t secidx, uint64_t off,
				 size_t len);

#endif /* HP_ELF_PRIV_H */
