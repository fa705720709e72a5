/* make matrix PATCH=disk, end to end: the runner cold-patches copies of the
 * eligible srv and libmrxsmb.so builds (hotpatch apply --disk --root with the
 * signed package), starts every patched server and client as a new process
 * from the patched files, and runs the 36 cells over loopback; the table
 * must equal the article's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static void disk_matrix_equals_article(void)
{
	char script[2048], table[2048], *out = NULL, *err = NULL, *want;
	char *argv[] = { script, "--build", (char *)ts_build_dir(), "--patch", "disk", "--expect",
			 table, NULL };
	int rc;

	snprintf(script, sizeof(script), "%s/tests/matrix/run-matrix.sh", ts_src_dir());
	snprintf(table, sizeof(table), "%s/targets/kb916846-matrix.tsv", ts_src_dir());
	want = ts_read_file(table, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	rc = ts_run(argv, NULL, &out, &err);
	if (rc != 0)
		fprintf(stderr, "run-matrix.sh --patch disk exited %d:\n%s\n", rc, err ? err : "");
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_STRING_EQUAL(out, want);
	free(out);
	free(err);
	free(want);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "36 cells with cold-patched builds equal the article", disk_matrix_equals_article },
		{ NULL, NULL },
	};

	ts_add_suite("disk matrix", tests);
}
