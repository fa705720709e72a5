/* The x86-64 decoder behind a small interface: the rest of libhotpatch asks
 * what kind of instruction sits at an address, how long it is, where it
 * branches and whether it addresses memory relative to RIP, and never sees
 * an opcode. A second architecture would be one more module like this. */
#ifndef HP_X86_H
#define HP_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hotpatch.h"

/* One decoded instruction. */
struct x86_instr {
	uint64_t addr;          /* address it was decoded at (caller's address space) */
	uint8_t len;            /* bytes */
	enum hp_insn_kind kind; /* what it is, as far as patching cares */
	bool has_target;        /* a direct jmp/jcc/call: target is valid */
	bool rip_relative;      /* has a RIP-relative memory operand */
	uint64_t target;        /* branch target, or the RIP-relative address */
	char text[64];          /* "mnemonic operands", truncated if longer */
};

struct x86_decoder;

/* A decoder; NULL and errno (ENOMEM, or HP_E_UNSUPPORTED when the
 * disassembler cannot start) on failure. Free with x86_decoder_free(). */
struct x86_decoder *x86_decoder_new(void);
void x86_decoder_free(struct x86_decoder *dec);

/* Decode the instruction at code[0..len) located at addr. 0 and *out, or
 * -HP_E_FORMAT when the bytes are not a valid instruction or it would run
 * past len. */
int x86_decode(struct x86_decoder *dec, const uint8_t *code, size_t len, uint64_t addr,
	       struct x86_instr *out);

#endif /* HP_X86_H */
