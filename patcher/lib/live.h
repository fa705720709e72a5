/* The live executor's in-process record: the layout of the header at the
 * start of every region hotpatch injects into a process (documented in
 * docs/formats/process-record.md), and the reader that finds it. Internal to
 * libhotpatch; the public view is hp_live__status(). */
#ifndef HP_LIVE_H
#define HP_LIVE_H

#include <stdint.h>
#include <sys/types.h>

#define LIVE_MAGIC "HPLIVREC"     /* 8 bytes, no terminator */
#define LIVE_VERSION 1u
#define LIVE_JUMP_LEN 5u          /* e9 rel32 */
#define LIVE_MAX_FUNCS 64u

enum live_state {
	LIVE_PREPARED = 1,   /* region written, no jump yet */
	LIVE_APPLIED = 2,    /* jumps written */
	LIVE_ROLLED_BACK = 3 /* originals restored; region kept (a thread may be in it) */
};

/* The header at the region's first byte; all fields little-endian. */
struct live_rec_hdr {
	char magic[8];          /* LIVE_MAGIC */
	uint32_t version;       /* LIVE_VERSION */
	uint32_t hdr_size;      /* sizeof(struct live_rec_hdr) */
	uint32_t func_size;     /* sizeof(struct live_rec_func) */
	uint32_t state;         /* enum live_state */
	uint32_t nfuncs;        /* entries following the header */
	uint32_t reserved0;     /* zero */
	uint64_t region_size;   /* bytes mapped, from the header's address */
	uint64_t image_off;     /* offset of the linked code from the region start */
	uint64_t image_size;    /* bytes of linked code */
	uint64_t created;       /* CLOCK_REALTIME seconds when written */
	char id[32];            /* package id, NUL-padded */
	uint8_t reserved[32];   /* zero */
};

/* One redirected function, right after the header (nfuncs of them). */
struct live_rec_func {
	uint64_t entry;         /* runtime address of the original function */
	uint64_t size;          /* its size in bytes */
	uint64_t new_addr;      /* runtime address of the replacement */
	uint32_t patch_off;     /* offset of the jump from entry */
	uint32_t jump_len;      /* bytes replaced: LIVE_JUMP_LEN */
	uint8_t orig[16];       /* the original bytes at entry + patch_off */
	uint8_t jump[16];       /* the jump written there */
	char name[64];          /* symbol, NUL-padded */
};

_Static_assert(sizeof(struct live_rec_hdr) == 128, "record header is 128 bytes");
_Static_assert(sizeof(struct live_rec_func) == 128, "record entry is 128 bytes");

#endif /* HP_LIVE_H */
