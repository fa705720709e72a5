/* make matrix, end to end: the runner starts real srv processes and runs
 * real smbcli connections over loopback for all 36 cells, prints the table
 * in the article's format, and exits 0 only when every cell is as the
 * article says. A deliberately wrong expected table must make it fail and
 * name the cell; an unknown way of patching is refused
 * with status 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static void matrix_equals_article(void)
{
	ts_matrix_equals_article("full");
}

/* Flip one cell of the table and the runner must fail, naming it. */
static void wrong_cell_fails(void)
{
	static const char row[] = "unpatched\tdisabled\tpatched\trequired\t";
	const char *dir = ts_tmpdir();
	char path[1024], *table = ts_read_file(ts_matrix_table(), NULL), *wrong = NULL, *cell;
	char *out = NULL, *err = NULL;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(table);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	/* The article says no-communication for this cell; claim signed. */
	cell = strstr(table, row);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cell);
	cell += strlen(row);
	CU_ASSERT_EQUAL_FATAL(strncmp(cell, "no-communication\n", 17), 0);
	CU_ASSERT_FATAL(asprintf(&wrong, "%.*ssigned\n%s", (int)(cell - table), table, cell + 17) > 0);
	snprintf(path, sizeof(path), "%s/wrong.tsv", dir);
	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, wrong, strlen(wrong)), 0);
	rc = ts_matrix_run("full", path, &out, &err);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "cell client unpatched/disabled, server patched/required: expected signed, got no-communication"));
	/* The printed table is still what really happened. */
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "unpatched\tdisabled\tpatched\trequired\tno-communication\n"));
	free(out);
	free(err);
	free(wrong);
	free(table);
}

static void bad_table_and_patch_modes(void)
{
	const char *dir = ts_tmpdir();
	char path[1024], *out = NULL, *err = NULL;
	static const char short_table[] =
		"client_build\tclient_signing\tserver_build\tserver_signing\tresult\n"
		"patched\trequired\tpatched\trequired\tsigned\n";
	int rc;

	snprintf(path, sizeof(path), "%s/short.tsv", dir);
	ts_write_file(path, short_table, sizeof(short_table) - 1);
	rc = ts_matrix_run("full", path, &out, &err);
	CU_ASSERT_EQUAL(rc, 2);
	CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "1 cells, expected 36"));
	free(out);
	free(err);
	rc = ts_matrix_run("bogus", ts_matrix_table(), &out, &err);
	CU_ASSERT_EQUAL(rc, 2);
	free(out);
	free(err);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "36 cells over real connections equal the article", matrix_equals_article },
		{ "a wrong expected cell makes it fail", wrong_cell_fails },
		{ "bad table and unknown patch modes are refused", bad_table_and_patch_modes },
		{ NULL, NULL },
	};

	ts_add_suite("matrix", tests);
}
