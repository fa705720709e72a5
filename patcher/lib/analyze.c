/* Function analysis: can a jump be written at this function's entry?
 *
 * Redirecting a function means overwriting the first instructions after its
 * entry (after an endbr64, which indirect calls must still find) with a
 * 5-byte jmp rel32. That is safe when
 *   - the bytes decode as instructions, the window being whole instructions
 *     covering at least 5 bytes;
 *   - the function is long enough, or is followed by alignment padding
 *     (only NOP or int3 bytes, up to the next symbol or the end of its
 *     section) that no one executes, which may complete the window;
 *   - no direct branch in the function lands inside the window other than
 *     at its start, since such a branch would land in the middle of the jmp.
 * The instructions in the window that matter to a thread stopped there are
 * listed: a call leaves a return address inside the window, a syscall a
 * restart point, and a RIP-relative operand would mean something else if
 * the instruction were moved. The live executor uses that list when it
 * checks the threads it stopped.
 *
 * The fingerprint is the SHA-256 of exactly the symbol's size in bytes from
 * its address, the same whether the bytes come from a file or a process.
 * A symbol of size 0 (hand-written assembly without .size) gets no verdict
 * beyond "no-size": its end, and so the branches into its window, are not
 * known.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hotpatch.h"
#include "internal.h"
#include "elf_priv.h"
#include "x86.h"

/* Padding read after a function: more than a window's worth is never needed. */
#define MAX_PADDING 32

static __thread struct x86_decoder *thread_decoder;

const char *hp_func_reason_name(enum hp_func_reason reason)
{
	switch (reason) {
	case HP_FUNC_OK:
		return "ok";
	case HP_FUNC_NOT_FUNCTION:
		return "not-function";
	case HP_FUNC_NO_SIZE:
		return "no-size";
	case HP_FUNC_NOT_CODE:
		return "not-code";
	case HP_FUNC_BAD_INSTRUCTION:
		return "bad-instruction";
	case HP_FUNC_TOO_SHORT:
		return "too-short";
	case HP_FUNC_BRANCH_INTO_WINDOW:
		return "branch-into-window";
	}
	return "unknown";
}

const char *hp_insn_kind_name(enum hp_insn_kind kind)
{
	switch (kind) {
	case HP_INSN_OTHER:
		return "other";
	case HP_INSN_JMP:
		return "jmp";
	case HP_INSN_JMP_IND:
		return "jmp-indirect";
	case HP_INSN_JCC:
		return "jcc";
	case HP_INSN_CALL:
		return "call";
	case HP_INSN_CALL_IND:
		return "call-indirect";
	case HP_INSN_RET:
		return "ret";
	case HP_INSN_SYSCALL:
		return "syscall";
	case HP_INSN_NOP:
		return "nop";
	case HP_INSN_INT3:
		return "int3";
	case HP_INSN_ENDBR:
		return "endbr64";
	case HP_INSN_TRAP:
		return "trap";
	}
	return "unknown";
}

static void refuse(struct hp_func_report *r, enum hp_func_reason reason, uint64_t culprit)
{
	r->patchable = false;
	r->reason = reason;
	r->culprit = culprit;
}

static void add_window(struct hp_func_report *r, const struct x86_instr *in, bool padding)
{
	struct hp_window_insn *w;

	if (r->n_window >= HP_WINDOW_MAX)
		return;
	w = &r->window[r->n_window++];
	w->offset = (uint32_t)(in->addr - r->addr);
	w->len = in->len;
	w->kind = in->kind;
	w->rip_relative = in->rip_relative;
	w->padding = padding;
	w->stop_sensitive = in->kind == HP_INSN_CALL || in->kind == HP_INSN_CALL_IND ||
			    in->kind == HP_INSN_SYSCALL || in->rip_relative;
	w->target = in->has_target || in->rip_relative ? in->target : 0;
	memcpy(w->text, in->text, sizeof(w->text));
}

/* Lay the window over the function's first instructions (and padding when
 * the function runs out). Returns 0 or a negative error; a refusal is
 * recorded in *r. */
static int lay_window(struct x86_decoder *dec, const uint8_t *code, size_t len,
		      size_t padding_after, struct hp_func_report *r)
{
	struct x86_instr in;
	size_t off = 0;

	if (x86_decode(dec, code, len, r->addr, &in) == 0 && in.kind == HP_INSN_ENDBR) {
		r->patch_offset = in.len;
		off = in.len;
	}
	while (off - r->patch_offset < HP_JMP_LEN && off < len) {
		if (x86_decode(dec, code + off, len - off, r->addr + off, &in) < 0) {
			refuse(r, HP_FUNC_BAD_INSTRUCTION, r->addr + off);
			return 0;
		}
		add_window(r, &in, false);
		off += in.len;
	}
	/* Alignment padding is never executed, so it can hold the rest of the
	 * jump; but only bytes that are plainly padding. */
	while (off - r->patch_offset < HP_JMP_LEN && off < len + padding_after) {
		if (x86_decode(dec, code + off, len + padding_after - off, r->addr + off, &in) < 0 ||
		    (in.kind != HP_INSN_NOP && in.kind != HP_INSN_INT3))
			break;
		add_window(r, &in, true);
		r->padding_used += in.len;
		off += in.len;
	}
	r->window_len = (uint32_t)(off - r->patch_offset);
	if (r->window_len < HP_JMP_LEN)
		refuse(r, HP_FUNC_TOO_SHORT, 0);
	return 0;
}

/* Walk the whole function: every byte must decode, no instruction may run
 * past the end, and no direct branch may land inside the window. */
static void check_body(struct x86_decoder *dec, const uint8_t *code, size_t len,
		       struct hp_func_report *r)
{
	uint64_t win_lo = r->addr + r->patch_offset, win_hi = win_lo + r->window_len;
	struct x86_instr in;
	size_t off = 0;

	while (off < len) {
		if (x86_decode(dec, code + off, len - off, r->addr + off, &in) < 0) {
			refuse(r, HP_FUNC_BAD_INSTRUCTION, r->addr + off);
			return;
		}
		r->insn_count++;
		if (r->patchable && in.has_target && in.target > win_lo && in.target < win_hi) {
			refuse(r, HP_FUNC_BRANCH_INTO_WINDOW, in.addr);
			r->culprit_target = in.target;
		}
		off += in.len;
	}
}

int hp_func__analyze_code(const uint8_t *code, size_t len, uint64_t addr,
			  size_t padding_after, struct hp_func_report *r)
{
	struct x86_decoder *dec = NULL;
	int err = 0;

	memset(r, 0, sizeof(*r));
	r->addr = addr;
	r->size = len;
	r->patchable = true;
	r->reason = HP_FUNC_OK;
	if (len == 0) {
		refuse(r, HP_FUNC_NO_SIZE, 0);
		return 0;
	}
	hp_sha256_buf(code, len, r->fingerprint);
	/* One decoder per thread, kept: opening Capstone costs more than
	 * analysing a small function, and --all-functions does tens of
	 * thousands of them. */
	dec = thread_decoder;
	if (!dec) {
		dec = x86_decoder_new();
		if (!dec) {
			err = -errno;
			goto out;
		}
		thread_decoder = dec;
	}
	err = lay_window(dec, code, len, padding_after, r);
	if (err)
		goto out;
	/* A bad instruction anywhere outranks the other reasons: nothing
	 * else said about such bytes can be trusted. */
	if (r->reason != HP_FUNC_BAD_INSTRUCTION)
		check_body(dec, code, len, r);
out:
	return err;
}

int hp_func__analyze(const struct hp_elf *elf, const struct hp_symbol *sym,
		     struct hp_func_report *r)
{
	const struct hp_identity *id = hp_elf__identity(elf);
	const struct hp_segment *seg;
	const struct hp_section *sec;
	uint64_t end, limit, padding = 0;
	const uint8_t *code;

	memset(r, 0, sizeof(*r));
	r->addr = sym->value;
	r->size = sym->size;
	if (sym->kind != HP_SYM_FUNC || !sym->defined) {
		refuse(r, HP_FUNC_NOT_FUNCTION, 0);
		return 0;
	}
	if (sym->size == 0) {
		refuse(r, HP_FUNC_NO_SIZE, 0);
		return 0;
	}
	end = sym->value + sym->size;
	if (end < sym->value) {
		refuse(r, HP_FUNC_NOT_CODE, 0);
		return 0;
	}
	if (id->type == HP_ELF_RELOCATABLE) {
		/* An object file: values are offsets into the symbol's own
		 * section, and padding runs to the section's end. */
		sec = hp_elf__section(elf, sym->section);
		if (!sec || !sec->exec || !elf_section_bytes(elf, sym->section, sym->value, sym->size)) {
			refuse(r, HP_FUNC_NOT_CODE, 0);
			return 0;
		}
		padding = sec->size - end;
		if (padding > MAX_PADDING)
			padding = MAX_PADDING;
		code = elf_section_bytes(elf, sym->section, sym->value, sym->size + padding);
		return hp_func__analyze_code(code, sym->size, sym->value, padding, r);
	}
	seg = hp_elf__segment_at(elf, sym->value);
	if (!seg || !seg->exec || !elf_bytes_at(elf, sym->value, sym->size)) {
		refuse(r, HP_FUNC_NOT_CODE, 0);
		pr_debug("analyze: %s: %s: not in an executable segment", id->path, sym->name);
		return 0;
	}
	/* Padding runs to the next symbol and never past the section (or,
	 * without section headers, the segment's bytes). */
	limit = elf_next_symbol_addr(elf, end - 1);
	sec = hp_elf__section_at(elf, sym->value);
	if (sec && sec->addr + sec->size < limit)
		limit = sec->addr + sec->size;
	if (seg->vaddr + seg->filesz < limit)
		limit = seg->vaddr + seg->filesz;
	if (limit > end)
		padding = limit - end;
	if (padding > MAX_PADDING)
		padding = MAX_PADDING;
	code = elf_bytes_at(elf, sym->value, sym->size + padding);
	if (!code) {
		padding = 0;
		code = elf_bytes_at(elf, sym->value, sym->size);
	}
	return hp_func__analyze_code(code, sym->size, sym->value, padding, r);
}
