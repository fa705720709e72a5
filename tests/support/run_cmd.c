/* Running a shell command line for a test: formatted, echoed with its
 * output and exit status on stderr (so a failing test shows what ran), and
 * its stdout and stderr returned together. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "support.h"

char *ts_run_cmd(const char *fmt, int *rc, ...)
{
	char *cmd = NULL, *out = NULL, *err = NULL, *both = NULL;
	va_list ap;

	va_start(ap, rc);
	if (vasprintf(&cmd, fmt, ap) < 0)
		cmd = NULL;
	va_end(ap);
	*rc = cmd ? ts_sh(cmd, &out, &err) : -1;
	if (asprintf(&both, "%s%s", out ? out : "", err ? err : "") < 0)
		both = NULL;
	fprintf(stderr, "$ %s\n%s[exit %d]\n", cmd ? cmd : "?", both ? both : "", *rc);
	free(cmd);
	free(out);
	free(err);
	return both;
}

