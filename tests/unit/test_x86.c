/* The x86-64 decoder's instruction kinds, on real encodings: what the
 * analysis relies on (lengths, direct targets, RIP-relative operands) and
 * what it refuses (bytes that are no instruction, an instruction cut off). */
#include <stdio.h>
#include <string.h>

#include "hotpatch.h"
#include "support.h"
#include "x86.h"

struct sample {
	const char *what;          /* for failure messages */
	uint8_t bytes[16];         /* encoding */
	size_t len;                /* bytes given to the decoder */
	enum hp_insn_kind kind;    /* expected kind */
	uint8_t insn_len;          /* expected length */
	bool rip;                  /* expected RIP-relative flag */
	uint64_t target;           /* expected target (branch or RIP-relative), 0 none */
};

#define BASE 0x401000ULL

static const struct sample samples[] = {
	{ "jmp rel8", { 0xeb, 0x10 }, 2, HP_INSN_JMP, 2, false, BASE + 0x12 },
	{ "jmp rel32", { 0xe9, 0x00, 0x01, 0x00, 0x00 }, 5, HP_INSN_JMP, 5, false, BASE + 0x105 },
	{ "jne rel8 back", { 0x75, 0xfe }, 2, HP_INSN_JCC, 2, false, BASE },
	{ "je rel32", { 0x0f, 0x84, 0x10, 0, 0, 0 }, 6, HP_INSN_JCC, 6, false, BASE + 0x16 },
	{ "loop", { 0xe2, 0x02 }, 2, HP_INSN_JCC, 2, false, BASE + 4 },
	{ "call rel32", { 0xe8, 0x0b, 0, 0, 0 }, 5, HP_INSN_CALL, 5, false, BASE + 0x10 },
	{ "call *rax", { 0xff, 0xd0 }, 2, HP_INSN_CALL_IND, 2, false, 0 },
	{ "jmp *rax", { 0xff, 0xe0 }, 2, HP_INSN_JMP_IND, 2, false, 0 },
	{ "jmp *[rip+8]", { 0xff, 0x25, 8, 0, 0, 0 }, 6, HP_INSN_JMP_IND, 6, true, BASE + 14 },
	{ "ret", { 0xc3 }, 1, HP_INSN_RET, 1, false, 0 },
	{ "rep ret", { 0xf3, 0xc3 }, 2, HP_INSN_RET, 2, false, 0 },
	{ "syscall", { 0x0f, 0x05 }, 2, HP_INSN_SYSCALL, 2, false, 0 },
	{ "int 0x80", { 0xcd, 0x80 }, 2, HP_INSN_SYSCALL, 2, false, 0 },
	{ "nop", { 0x90 }, 1, HP_INSN_NOP, 1, false, 0 },
	{ "nopw 10 bytes", { 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0 }, 10, HP_INSN_NOP, 10, false, 0 },
	{ "int3", { 0xcc }, 1, HP_INSN_INT3, 1, false, 0 },
	{ "endbr64", { 0xf3, 0x0f, 0x1e, 0xfa }, 4, HP_INSN_ENDBR, 4, false, 0 },
	{ "ud2", { 0x0f, 0x0b }, 2, HP_INSN_TRAP, 2, false, 0 },
	{ "mov eax,[rip+0x10]", { 0x8b, 0x05, 0x10, 0, 0, 0 }, 6, HP_INSN_OTHER, 6, true, BASE + 0x16 },
	{ "lea rdi,[rip-6]", { 0x48, 0x8d, 0x3d, 0xfa, 0xff, 0xff, 0xff }, 7, HP_INSN_OTHER, 7, true, BASE + 1 },
	{ "push rbp", { 0x55 }, 1, HP_INSN_OTHER, 1, false, 0 },
};

static void kinds(void)
{
	struct x86_decoder *dec = x86_decoder_new();
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dec);
	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const struct sample *s = &samples[i];
		struct x86_instr in;

		CU_ASSERT_EQUAL(x86_decode(dec, s->bytes, s->len, BASE, &in), 0);
		if (in.kind != s->kind || in.len != s->insn_len || in.rip_relative != s->rip)
			fprintf(stderr, "%s: kind %s len %u rip %d\n", s->what,
				hp_insn_kind_name(in.kind), in.len, in.rip_relative);
		CU_ASSERT_EQUAL(in.kind, s->kind);
		CU_ASSERT_EQUAL(in.len, s->insn_len);
		CU_ASSERT_EQUAL(in.rip_relative, s->rip);
		if (s->target)
			CU_ASSERT_EQUAL(in.target, s->target);
		CU_ASSERT_EQUAL(in.has_target, s->kind == HP_INSN_JMP || s->kind == HP_INSN_JCC ||
						       s->kind == HP_INSN_CALL);
		CU_ASSERT(in.text[0] != '\0');
	}
	x86_decoder_free(dec);
}

static void refusals(void)
{
	static const uint8_t push_es[] = { 0x06 };
	static const uint8_t cut_mov[] = { 0xb8, 0x01, 0x00 };
	static const uint8_t cut_call[] = { 0xe8, 0x00, 0x00 };
	struct x86_decoder *dec = x86_decoder_new();
	struct x86_instr in;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dec);
	CU_ASSERT_EQUAL(x86_decode(dec, push_es, 1, BASE, &in), -HP_E_FORMAT);
	CU_ASSERT_EQUAL(x86_decode(dec, cut_mov, 3, BASE, &in), -HP_E_FORMAT);
	CU_ASSERT_EQUAL(x86_decode(dec, cut_call, 3, BASE, &in), -HP_E_FORMAT);
	CU_ASSERT_EQUAL(x86_decode(dec, cut_call, 0, BASE, &in), -HP_E_FORMAT);
	x86_decoder_free(dec);
	x86_decoder_free(NULL);
}

static void kind_names(void)
{
	CU_ASSERT_STRING_EQUAL(hp_insn_kind_name(HP_INSN_CALL), "call");
	CU_ASSERT_STRING_EQUAL(hp_insn_kind_name(HP_INSN_SYSCALL), "syscall");
	CU_ASSERT_STRING_EQUAL(hp_insn_kind_name(HP_INSN_ENDBR), "endbr64");
	CU_ASSERT_STRING_EQUAL(hp_insn_kind_name(HP_INSN_JCC), "jcc");
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "instruction kinds, lengths and targets", kinds },
		{ "invalid and cut-off instructions", refusals },
		{ "kind names", kind_names },
		{ NULL, NULL },
	};

	ts_add_suite("x86", tests);
}
