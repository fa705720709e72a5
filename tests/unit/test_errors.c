/* libhotpatch error names and the print callback. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "hotpatch.h"
#include "internal.h"
#include "support.h"

static int printed;

static int count_print(enum hp_print_level level, const char *fmt, va_list ap)
{
	(void)fmt;
	(void)ap;
	if (level == HP_WARN)
		printed++;
	return 0;
}

static void every_code_has_a_name(void)
{
	int e;

	for (e = HP_E_BASE + 1; e < HP_E_END; e++) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(hp_strerror(-e));
		CU_ASSERT(strlen(hp_strerror(-e)) > 0);
		CU_ASSERT_STRING_EQUAL(hp_strerror(-e), hp_strerror(e));
	}
	CU_ASSERT_STRING_EQUAL(hp_strerror(-ENOENT), strerror(ENOENT));
}

static void print_goes_through_the_callback(void)
{
	hp_print_fn_t old = hp_set_print(count_print);

	printed = 0;
	pr_warn("test: %d", 1);
	pr_debug("test: %d", 2);
	CU_ASSERT_EQUAL(printed, 1);
	hp_set_print(NULL);
	pr_warn("silenced");
	CU_ASSERT_EQUAL(printed, 1);
	hp_set_print(old);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "every error code has a name", every_code_has_a_name },
		{ "messages go through the print callback", print_goes_through_the_callback },
		{ NULL, NULL },
	};

	ts_add_suite("errors", tests);
}
