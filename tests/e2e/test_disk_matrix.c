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
	ts_matrix_equals_article("disk");
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "36 cells with cold-patched builds equal the article", disk_matrix_equals_article },
		{ NULL, NULL },
	};

	ts_add_suite("disk matrix", tests);
}
