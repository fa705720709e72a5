/* Function analysis on the fixture shapes: every verdict and reason of
 * tests/fixtures/shapes.S, in a non-PIE executable, a PIE, a shared library,
 * its stripped copy and the object file; the C functions at -O0 and -O2;
 * raw code as the live side will pass it; and the fingerprint rule. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotpatch.h"
#include "support.h"

struct expect {
	const char *name;           /* function */
	enum hp_func_reason reason; /* verdict */
	unsigned int patch_offset;  /* where the jump goes */
	unsigned int padding_used;  /* bytes of padding in the window */
};

static const struct expect shapes[] = {
	{ "fn_two", HP_FUNC_TOO_SHORT, 0, 0 },
	{ "fn_four", HP_FUNC_TOO_SHORT, 0, 0 },
	{ "fn_short_int3", HP_FUNC_OK, 0, 2 },
	{ "fn_short_nop", HP_FUNC_OK, 0, 11 },
	{ "fn_short_tight", HP_FUNC_TOO_SHORT, 0, 1 },
	{ "fn_endbr", HP_FUNC_OK, 4, 0 },
	{ "fn_endbr_short", HP_FUNC_TOO_SHORT, 4, 0 },
	{ "fn_loop_back", HP_FUNC_BRANCH_INTO_WINDOW, 0, 0 },
	{ "fn_loop_entry", HP_FUNC_OK, 0, 0 },
	{ "fn_jcc_rip", HP_FUNC_OK, 0, 0 },
	{ "fn_call_window", HP_FUNC_OK, 0, 0 },
	{ "fn_syscall", HP_FUNC_OK, 0, 0 },
	{ "fn_bad", HP_FUNC_BAD_INSTRUCTION, 0, 0 },
	{ "fn_nosize", HP_FUNC_NO_SIZE, 0, 0 },
	{ "fn_in_data", HP_FUNC_NOT_CODE, 0, 0 },
};

static struct hp_elf *open_fixture(const char *name)
{
	struct hp_elf *elf = hp_elf__open(ts_build_path("fixtures/%s", name));

	CU_ASSERT_PTR_NOT_NULL(elf);
	return elf;
}

static void check_shapes(const char *fixture)
{
	struct hp_elf *elf = open_fixture(fixture);
	size_t i;

	if (!elf)
		return;
	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const struct expect *e = &shapes[i];
		const struct hp_symbol *s = hp_elf__find_symbol(elf, e->name);
		struct hp_func_report r;

		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		CU_ASSERT_EQUAL_FATAL(hp_func__analyze(elf, s, &r), 0);
		if (r.reason != e->reason)
			fprintf(stderr, "%s: %s: %s, expected %s\n", fixture, e->name,
				hp_func_reason_name(r.reason), hp_func_reason_name(e->reason));
		CU_ASSERT_EQUAL(r.reason, e->reason);
		CU_ASSERT_EQUAL(r.patchable, e->reason == HP_FUNC_OK);
		if (e->reason == HP_FUNC_NO_SIZE || e->reason == HP_FUNC_NOT_CODE)
			continue;
		CU_ASSERT_EQUAL(r.patch_offset, e->patch_offset);
		if (e->reason == HP_FUNC_OK) {
			CU_ASSERT(r.window_len >= HP_JMP_LEN);
			CU_ASSERT_EQUAL(r.padding_used, e->padding_used);
		}
	}
	hp_elf__close(elf);
}

static void shapes_non_pie(void) { check_shapes("fx_exec"); }
static void shapes_pie(void) { check_shapes("fx_pie"); }
static void shapes_shared(void) { check_shapes("libfx.so"); }
static void shapes_stripped(void) { check_shapes("libfx-stripped.so"); }

static void shapes_object(void)
{
	/* fn_in_data is a data symbol of the object: not-code there too. */
	check_shapes("shapes.o");
}

/* The details a refusal or a window carries. */
static void report_details(void)
{
	struct hp_elf *elf = open_fixture("fx_exec");
	const struct hp_symbol *s;
	struct hp_func_report r;
	unsigned int i;
	bool jcc = false, rip = false;

	if (!elf)
		return;
	s = hp_elf__find_symbol(elf, "fn_loop_back");
	CU_ASSERT_EQUAL_FATAL(hp_func__analyze(elf, s, &r), 0);
	/* jne at +8 back to +2 */
	CU_ASSERT_EQUAL(r.culprit, s->value + 8);
	CU_ASSERT_EQUAL(r.culprit_target, s->value + 2);

	s = hp_elf__find_symbol(elf, "fn_bad");
	CU_ASSERT_EQUAL_FATAL(hp_func__analyze(elf, s, &r), 0);
	CU_ASSERT_EQUAL(r.culprit, s->value + 4);

	s = hp_elf__find_symbol(elf, "fn_jcc_rip");
	CU_ASSERT_EQUAL_FATAL(hp_func__analyze(elf, s, &r), 0);
	CU_ASSERT_EQUAL(r.window_len, 10);
	for (i = 0; i < r.n_window; i++) {
		if (r.window[i].kind == HP_INSN_JCC) {
			jcc = true;
			CU_ASSERT_FALSE(r.window[i].stop_sensitive);
		}
		if (r.window[i].rip_relative) {
			rip = true;
			CU_ASSERT(r.window[i].stop_sensitive);
			CU_ASSERT_EQUAL(r.window[i].target, hp_elf__find_symbol(elf, "fx_var")->value);
		}
	}
	CU_ASSERT(jcc && rip);

	s = hp_elf__find_symbol(elf, "fn_call_window");
	CU_ASSERT_EQUAL_FATAL(hp_func__analyze(elf, s, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.n_window, 1);
	CU_ASSERT_EQUAL(r.window[0].kind, HP_INSN_CALL);
	CU_ASSERT(r.window[0].stop_sensitive);
	CU_ASSERT_EQUAL(r.window[0].target, hp_elf__find_symbol(elf, "fx_helper")->value);

	s = hp_elf__find_symbol(elf, "fn_syscall");
	CU_ASSERT_EQUAL_FATAL(hp_func__analyze(elf, s, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.n_window, 3);
	CU_ASSERT_EQUAL(r.window[2].kind, HP_INSN_SYSCALL);
	CU_ASSERT(r.window[2].stop_sensitive);

	s = hp_elf__find_symbol(elf, "fn_short_int3");
	CU_ASSERT_EQUAL_FATAL(hp_func__analyze(elf, s, &r), 0);
	CU_ASSERT(r.window[r.n_window - 1].padding);
	CU_ASSERT_EQUAL(r.window[r.n_window - 1].kind, HP_INSN_INT3);

	s = hp_elf__find_symbol(elf, "fx_var");
	CU_ASSERT_EQUAL_FATAL(hp_func__analyze(elf, s, &r), 0);
	CU_ASSERT_EQUAL(r.reason, HP_FUNC_NOT_FUNCTION);
	hp_elf__close(elf);
}

/* The fingerprint is the SHA-256 of exactly size bytes at the address. */
static void fingerprint_is_the_bytes(void)
{
	struct hp_elf *elf = open_fixture("fx_pie");
	const char *names[] = { "fx_sum", "fn_endbr", "fn_two", "fn_bad" };
	size_t i;

	if (!elf)
		return;
	for (i = 0; i < 4; i++) {
		const struct hp_symbol *s = hp_elf__find_symbol(elf, names[i]);
		struct hp_func_report r;
		uint8_t *buf = malloc(s->size);
		char hex[65];

		CU_ASSERT_EQUAL(hp_elf__read(elf, s->value, buf, s->size), 0);
		hp_sha256_buf(buf, s->size, hex);
		CU_ASSERT_EQUAL(hp_func__analyze(elf, s, &r), 0);
		CU_ASSERT_STRING_EQUAL(r.fingerprint, hex);
		free(buf);
	}
	/* size 0: no fingerprint */
	{
		struct hp_func_report r;

		hp_func__analyze(elf, hp_elf__find_symbol(elf, "fn_nosize"), &r);
		CU_ASSERT_STRING_EQUAL(r.fingerprint, "");
	}
	hp_elf__close(elf);
}

/* Compiled C: every function decodes, and the real ones are patchable;
 * with -fcf-protection the jump goes after the endbr64. */
static void compiled_code(void)
{
	static const char *const fixtures[] = { "fx_exec", "fx_pie", "libfx.so" };
	static const char *const names[] = { "fx_sum", "fx_name", "fx_fib", "main" };
	size_t f, i;

	for (f = 0; f < 3; f++) {
		struct hp_elf *elf = open_fixture(fixtures[f]);

		if (!elf)
			continue;
		for (i = 0; i < 4; i++) {
			const struct hp_symbol *s = hp_elf__find_symbol(elf, names[i]);
			struct hp_func_report r;

			if (!s) {
				CU_ASSERT_STRING_EQUAL(names[i], "main"); /* the library has none */
				continue;
			}
			CU_ASSERT_EQUAL(hp_func__analyze(elf, s, &r), 0);
			CU_ASSERT_EQUAL(r.reason, HP_FUNC_OK);
			CU_ASSERT_EQUAL(r.patch_offset, f == 1 ? 4u : 0u);
		}
		hp_elf__close(elf);
	}
}

/* The raw-bytes core, as the live side uses it with bytes read from memory
 * at a runtime address. */
static void raw_code(void)
{
	/* endbr64; push rbp; mov rbp,rsp; jmp back to +5; pop rbp; ret */
	static const uint8_t into[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5,
					0xeb, 0xfb, 0x5d, 0xc3 };
	/* push rbp; mov rbp,rsp; call rel32 0; pop rbp; ret */
	static const uint8_t call[] = { 0x55, 0x48, 0x89, 0xe5, 0xe8, 0, 0, 0, 0, 0x5d, 0xc3 };
	/* xor eax,eax; ret; then three int3 of padding */
	static const uint8_t pad[] = { 0x31, 0xc0, 0xc3, 0xcc, 0xcc, 0xcc };
	/* same with padding that is code */
	static const uint8_t notpad[] = { 0x31, 0xc0, 0xc3, 0x55, 0x48, 0x89, 0xe5 };
	/* a mov whose immediate runs past the function's end */
	static const uint8_t cut[] = { 0x48, 0x89, 0xe5, 0xb8, 0x01, 0x00 };
	uint64_t base = 0x7f0000001000ULL;
	struct hp_func_report r;

	CU_ASSERT_EQUAL(hp_func__analyze_code(into, sizeof(into), base, 0, &r), 0);
	CU_ASSERT_EQUAL(r.reason, HP_FUNC_BRANCH_INTO_WINDOW);
	CU_ASSERT_EQUAL(r.culprit, base + 8);
	CU_ASSERT_EQUAL(r.culprit_target, base + 5);

	CU_ASSERT_EQUAL(hp_func__analyze_code(call, sizeof(call), base, 0, &r), 0);
	CU_ASSERT_EQUAL(r.reason, HP_FUNC_OK);
	CU_ASSERT_EQUAL(r.window_len, 9);
	CU_ASSERT_EQUAL(r.window[2].kind, HP_INSN_CALL);
	CU_ASSERT_EQUAL(r.window[2].target, base + 9);
	CU_ASSERT(r.window[2].stop_sensitive);

	CU_ASSERT_EQUAL(hp_func__analyze_code(pad, 3, base, 3, &r), 0);
	CU_ASSERT_EQUAL(r.reason, HP_FUNC_OK);
	CU_ASSERT_EQUAL(r.padding_used, 2);
	CU_ASSERT_EQUAL(hp_func__analyze_code(pad, 3, base, 0, &r), 0);
	CU_ASSERT_EQUAL(r.reason, HP_FUNC_TOO_SHORT);
	CU_ASSERT_EQUAL(hp_func__analyze_code(notpad, 3, base, 4, &r), 0);
	CU_ASSERT_EQUAL(r.reason, HP_FUNC_TOO_SHORT);

	CU_ASSERT_EQUAL(hp_func__analyze_code(cut, sizeof(cut), base, 0, &r), 0);
	CU_ASSERT_EQUAL(r.reason, HP_FUNC_BAD_INSTRUCTION);
	CU_ASSERT_EQUAL(r.culprit, base + 3);

	CU_ASSERT_EQUAL(hp_func__analyze_code(NULL, 0, base, 0, &r), 0);
	CU_ASSERT_EQUAL(r.reason, HP_FUNC_NO_SIZE);
}

static void reason_names(void)
{
	CU_ASSERT_STRING_EQUAL(hp_func_reason_name(HP_FUNC_OK), "ok");
	CU_ASSERT_STRING_EQUAL(hp_func_reason_name(HP_FUNC_TOO_SHORT), "too-short");
	CU_ASSERT_STRING_EQUAL(hp_func_reason_name(HP_FUNC_BRANCH_INTO_WINDOW), "branch-into-window");
	CU_ASSERT_STRING_EQUAL(hp_func_reason_name(HP_FUNC_BAD_INSTRUCTION), "bad-instruction");
	CU_ASSERT_STRING_EQUAL(hp_func_reason_name(HP_FUNC_NO_SIZE), "no-size");
	CU_ASSERT_STRING_EQUAL(hp_func_reason_name(HP_FUNC_NOT_CODE), "not-code");
	CU_ASSERT_STRING_EQUAL(hp_func_reason_name(HP_FUNC_NOT_FUNCTION), "not-function");
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "shapes in a non-PIE executable", shapes_non_pie },
		{ "shapes in a PIE executable", shapes_pie },
		{ "shapes in a shared library", shapes_shared },
		{ "shapes in a stripped shared library", shapes_stripped },
		{ "shapes in an object file", shapes_object },
		{ "culprits, windows and stop-sensitive instructions", report_details },
		{ "fingerprint is the SHA-256 of the function's bytes", fingerprint_is_the_bytes },
		{ "compiled C at -O0 and -O2, with endbr64", compiled_code },
		{ "raw code at a runtime address", raw_code },
		{ "reason names", reason_names },
		{ NULL, NULL },
	};

	ts_add_suite("analyze", tests);
}
