/* The interoperability matrix runner (tests/matrix/run-matrix.sh) as the
 * e2e tests call it: one way of obtaining the patched side, the article's
 * table expected. */
#include <stdio.h>
#include <stdlib.h>

#include <CUnit/CUnit.h>

#include "support.h"

const char *ts_matrix_table(void)
{
	static char path[2048];

	snprintf(path, sizeof(path), "%s/targets/kb916846-matrix.tsv", ts_src_dir());
	return path;
}

int ts_matrix_run(const char *patch, const char *expect, char **out, char **err)
{
	char script[2048];
	char *argv[] = { script, "--build", (char *)ts_build_dir(), "--patch", (char *)patch,
			 "--expect", (char *)expect, NULL };

	snprintf(script, sizeof(script), "%s/tests/matrix/run-matrix.sh", ts_src_dir());
	return ts_run(argv, NULL, out, err);
}

void ts_matrix_equals_article(const char *patch)
{
	char *out = NULL, *err = NULL, *want = ts_read_file(ts_matrix_table(), NULL);
	int rc = ts_matrix_run(patch, ts_matrix_table(), &out, &err);

	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	if (rc != 0)
		fprintf(stderr, "run-matrix.sh --patch %s exited %d:\n%s\n", patch, rc,
			err ? err : "");
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(out);
	if (out)
		CU_ASSERT_STRING_EQUAL(out, want);
	free(out);
	free(err);
	free(want);
}
