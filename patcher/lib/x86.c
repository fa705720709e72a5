/* x86-64 instruction decoding with Capstone, reduced to instruction kinds.
 *
 * Function analysis needs only a handful of facts per instruction: its
 * length, whether it transfers control and where, whether it enters the
 * kernel, whether it addresses memory relative to RIP. This module turns
 * Capstone's detailed output into exactly those facts, so the analysis and
 * everything after it stay free of opcodes and of Capstone's types.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>

#include "hotpatch.h"
#include "internal.h"
#include "x86.h"

struct x86_decoder {
	csh handle;   /* Capstone handle, x86-64 mode, details on */
	cs_insn *insn; /* reusable instruction buffer from cs_malloc() */
};

struct x86_decoder *x86_decoder_new(void)
{
	struct x86_decoder *dec = calloc(1, sizeof(*dec));

	if (!dec) {
		errno = ENOMEM;
		return NULL;
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &dec->handle) != CS_ERR_OK) {
		pr_warn("x86: cannot start the disassembler");
		free(dec);
		errno = HP_E_UNSUPPORTED;
		return NULL;
	}
	cs_option(dec->handle, CS_OPT_DETAIL, CS_OPT_ON);
	dec->insn = cs_malloc(dec->handle);
	if (!dec->insn) {
		cs_close(&dec->handle);
		free(dec);
		errno = ENOMEM;
		return NULL;
	}
	return dec;
}

void x86_decoder_free(struct x86_decoder *dec)
{
	if (!dec)
		return;
	if (dec->insn)
		cs_free(dec->insn, 1);
	cs_close(&dec->handle);
	free(dec);
}

static bool imm_operand(const cs_x86 *x, uint64_t *imm)
{
	if (x->op_count >= 1 && x->operands[0].type == X86_OP_IMM) {
		*imm = (uint64_t)x->operands[0].imm;
		return true;
	}
	return false;
}

static void classify(struct x86_decoder *dec, const cs_insn *in, struct x86_instr *out)
{
	const cs_x86 *x = &in->detail->x86;
	uint64_t imm = 0;
	uint8_t i;

	for (i = 0; i < x->op_count; i++) {
		const cs_x86_op *op = &x->operands[i];

		if (op->type == X86_OP_MEM && op->mem.base == X86_REG_RIP) {
			out->rip_relative = true;
			/* RIP-relative operands count from the next instruction. */
			out->target = in->address + in->size + (uint64_t)op->mem.disp;
		}
	}
	switch (in->id) {
	case X86_INS_JMP:
		if (imm_operand(x, &imm)) {
			out->kind = HP_INSN_JMP;
			out->has_target = true;
			out->target = imm;
		} else {
			out->kind = HP_INSN_JMP_IND;
		}
		return;
	case X86_INS_LJMP:
		out->kind = HP_INSN_JMP_IND;
		return;
	case X86_INS_CALL:
		if (imm_operand(x, &imm)) {
			out->kind = HP_INSN_CALL;
			out->has_target = true;
			out->target = imm;
		} else {
			out->kind = HP_INSN_CALL_IND;
		}
		return;
	case X86_INS_LCALL:
		out->kind = HP_INSN_CALL_IND;
		return;
	case X86_INS_RET:
	case X86_INS_RETF:
	case X86_INS_IRET:
	case X86_INS_IRETD:
	case X86_INS_IRETQ:
		out->kind = HP_INSN_RET;
		return;
	case X86_INS_SYSCALL:
	case X86_INS_SYSENTER:
		out->kind = HP_INSN_SYSCALL;
		return;
	case X86_INS_INT:
		/* int 0x80 still enters the kernel from 64-bit code. */
		out->kind = imm_operand(x, &imm) && imm == 0x80 ? HP_INSN_SYSCALL : HP_INSN_OTHER;
		return;
	case X86_INS_INT3:
		out->kind = HP_INSN_INT3;
		return;
	case X86_INS_NOP:
		out->kind = HP_INSN_NOP;
		return;
	case X86_INS_UD2:
	case X86_INS_UD2B:
	case X86_INS_UD0:
	case X86_INS_HLT:
		out->kind = HP_INSN_TRAP;
		return;
	case X86_INS_ENDBR64:
		out->kind = HP_INSN_ENDBR;
		return;
	case X86_INS_LOOP:
	case X86_INS_LOOPE:
	case X86_INS_LOOPNE:
	case X86_INS_JRCXZ:
	case X86_INS_JECXZ:
	case X86_INS_JCXZ:
		/* Capstone 4 leaves these out of the jump group, yet they are
		 * conditional branches like any jcc. */
		out->kind = HP_INSN_JCC;
		out->has_target = imm_operand(x, &imm);
		out->target = imm;
		return;
	default:
		break;
	}
	/* Every other member of the jump group is conditional: jcc, loop*,
	 * jrcxz and friends, all with an immediate target. */
	if (cs_insn_group(dec->handle, in, X86_GRP_JUMP)) {
		out->kind = HP_INSN_JCC;
		if (imm_operand(x, &imm)) {
			out->has_target = true;
			out->target = imm;
		}
		return;
	}
	out->kind = HP_INSN_OTHER;
}

/* "mnemonic operands" into dst, cut at cap-1 bytes: display only. */
static void set_text(char *dst, size_t cap, const char *mnemonic, const char *ops)
{
	size_t n = 0;

	while (*mnemonic && n + 1 < cap)
		dst[n++] = *mnemonic++;
	if (*ops && n + 1 < cap)
		dst[n++] = ' ';
	while (*ops && n + 1 < cap)
		dst[n++] = *ops++;
	dst[n] = '\0';
}

int x86_decode(struct x86_decoder *dec, const uint8_t *code, size_t len, uint64_t addr,
	       struct x86_instr *out)
{
	static const uint8_t endbr64[] = { 0xf3, 0x0f, 0x1e, 0xfa };
	const uint8_t *p = code;
	uint64_t a = addr;
	size_t n = len;

	memset(out, 0, sizeof(*out));
	out->addr = addr;
	/* Capstone 4 predates CET and decodes endbr64 as a hint nop; the
	 * byte pattern is fixed, so recognise it first. */
	if (len >= sizeof(endbr64) && !memcmp(code, endbr64, sizeof(endbr64))) {
		out->len = sizeof(endbr64);
		out->kind = HP_INSN_ENDBR;
		snprintf(out->text, sizeof(out->text), "endbr64");
		return 0;
	}
	if (!len || !cs_disasm_iter(dec->handle, &p, &n, &a, dec->insn))
		return -HP_E_FORMAT;
	out->len = (uint8_t)dec->insn->size;
	set_text(out->text, sizeof(out->text), dec->insn->mnemonic, dec->insn->op_str);
	classify(dec, dec->insn, out);
	return 0;
}
