/* The cold patch's builder, shared by the disk executor (disk.c) and the
 * vendor's `pack` (which pins the SHA-256 of each result). Not public API. */
#ifndef HP_DISK_H
#define HP_DISK_H

#include <stddef.h>
#include <stdint.h>

#include "hotpatch.h"

struct link_object;

/* Build the cold-patched form of the target orig[0..len), already opened as
 * elf (the same bytes), for component c of package id with payload obj:
 * the payload linked at the file's own link-time addresses in a new
 * segment, a jump at each replaced function. *out is malloc'd (*out_len
 * bytes). Deterministic. Errors, each with a message naming the file:
 * HP_E_NOT_FOUND (a function absent), HP_E_UNPATCHABLE, HP_E_UNSUPPORTED (a
 * position-independent file whose payload needs absolute addresses),
 * HP_E_RELOC, HP_E_FORMAT, HP_E_TOO_BIG, -ENOMEM. */
int disk_build(const char *id, const struct hp_manifest_component *c,
	       const struct link_object *obj, const struct hp_elf *elf, const uint8_t *orig,
	       size_t len, uint8_t **out, size_t *out_len);

#endif /* HP_DISK_H */
