/* The main() of every test program: each tests/{unit,e2e}/test_NAME.c
 * defines test_register(), which adds its CUnit suites; this runs them and
 * prints one summary line that tests/run-tests.sh adds up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "support.h"

int main(int argc, char **argv)
{
	unsigned int run, failed;
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

	(void)argc;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	test_register();
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	run = CU_get_number_of_tests_run();
	failed = CU_get_number_of_tests_failed();
	ts_cleanup();
	printf("\ntest-summary: %s %u passed, %u failed\n", name, run - failed, failed);
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
