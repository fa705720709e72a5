/* Writing a cold-patched ELF file: the interface of elf_write.c, used by the
 * disk executor (disk.c). Not public API.
 *
 * The new file is the original, byte for byte, plus one appended loadable
 * segment that holds the program header table (moved there so it can grow),
 * a note naming the package, and the linked payload; a jump at each
 * replaced function's entry leads into it. docs/disk.md shows the layout.
 */
#ifndef HP_ELF_WRITE_H
#define HP_ELF_WRITE_H

#include <stddef.h>
#include <stdint.h>

/* Owner name of the record (note-shaped) that marks a cold-patched file. */
#define ELF_WRITE_NOTE_OWNER "HOTPATCH"
#define ELF_WRITE_NOTE_TYPE 0x4850u /* "HP" */
/* Bytes of note descriptor the writer accepts (and the reader believes). */
#define ELF_WRITE_NOTE_MAX 2048u

/* Where the added segment goes, computed from the original file alone. */
struct elf_write_plan {
	uint64_t seg_off;   /* file offset of the added segment (page-aligned) */
	uint64_t seg_vaddr; /* its link-time address (page-aligned, = seg_off mod page) */
	uint64_t head_size; /* bytes before the payload: program headers and note, page multiple */
	uint64_t base;      /* link-time address where the payload image starts */
	size_t nphdr;       /* program headers in the new table */
};

/* One jump to write: at link-time address at, a jmp rel32 to target. */
struct elf_write_jump {
	uint64_t at;     /* link-time address of the jump's first byte */
	uint64_t target; /* link-time address it jumps to */
};

/* What to add to the file. */
struct elf_write_add {
	const uint8_t *image;     /* linked payload for base, image_size bytes */
	size_t image_size;        /* bytes, text_size + data */
	size_t text_size;         /* of those, the first bytes mapped r-x (page multiple) */
	const char *note;         /* note descriptor (text), NUL-terminated */
	const struct elf_write_jump *jumps; /* one per replaced function */
	size_t njumps;            /* entries in jumps */
};

/* Plan the segment for the original file orig[0..len) (name for messages),
 * for a payload with writable data (has_data) and a note descriptor of
 * note_len bytes. Errors: HP_E_FORMAT (headers do not fit the file),
 * HP_E_UNSUPPORTED (not a 64-bit little-endian file, extended numbering),
 * HP_E_TOO_BIG (a table that does not fit one page). */
int elf_write_plan(const uint8_t *orig, size_t len, const char *name, int has_data,
		   size_t note_len, struct elf_write_plan *plan);

/* Build the new file into *out (malloc'd, *out_len bytes) following plan.
 * Deterministic: same inputs, same bytes. Each jump must land inside a
 * file-backed executable segment of the original (else HP_E_FORMAT). */
int elf_write_build(const uint8_t *orig, size_t len, const char *name,
		    const struct elf_write_plan *plan, const struct elf_write_add *add,
		    uint8_t **out, size_t *out_len);

/* The record's text of a file cold-patched by hotpatch, copied into buf
 * (size bytes, NUL-terminated): 1 if the file carries one, 0 if not, or a
 * negative error for a malformed header table (reported, naming name). */
int elf_write_find_note(const uint8_t *orig, size_t len, const char *name, char *buf,
			size_t size);

#endif /* HP_ELF_WRITE_H */
