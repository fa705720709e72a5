/* make demo's script, run as `make demo` runs it, checked by its outcomes
 * (exit status and the machine-readable "demo-result:" trailer), not by its
 * wording: the client that requires signing gets no communication before,
 * a signed session after the live patch, none again after the rollback; no
 * request of the load failed; the matrix matched; and the script left no
 * file behind in its temporary directory. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support.h"

/* The value of key in the trailer line, or NULL (static buffer). */
static const char *fact(const char *trailer, const char *key)
{
	static char val[64];
	char pat[64];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(trailer, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	n = strcspn(p, " \n");
	if (n >= sizeof(val))
		n = sizeof(val) - 1;
	memcpy(val, p, n);
	val[n] = '\0';
	return val;
}

static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void demo_outcomes(void)
{
	const char *tmp = ts_tmpdir();
	char *cmd = NULL, *out = NULL, *err = NULL, *trailer;
	struct timespec t0, t1;
	double secs;
	int rc;

	if (asprintf(&cmd, "TMPDIR='%s' '%s/targets/demo.sh' '%s'", tmp, ts_src_dir(),
		     ts_build_dir()) < 0)
		cmd = NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(cmd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = ts_sh(cmd, &out, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "$ %s\n%s%s[exit %d, %.1f s]\n", cmd, out ? out : "", err ? err : "", rc, secs);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(secs < 120);

	trailer = out ? strstr(out, "\ndemo-result:") : NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(trailer);
	CU_ASSERT_STRING_EQUAL(fact(trailer, "before"), "11");   /* no communication */
	CU_ASSERT_STRING_EQUAL(fact(trailer, "verify"), "0");
	CU_ASSERT_STRING_EQUAL(fact(trailer, "apply"), "0");
	CU_ASSERT(fact(trailer, "stop_us") && atoi(fact(trailer, "stop_us")) > 0);
	CU_ASSERT(fact(trailer, "load_requests") && atoi(fact(trailer, "load_requests")) > 0);
	CU_ASSERT_STRING_EQUAL(fact(trailer, "load_failed"), "0");
	CU_ASSERT_STRING_EQUAL(fact(trailer, "after"), "0");     /* signed */
	CU_ASSERT_STRING_EQUAL(fact(trailer, "status"), "0");
	CU_ASSERT_STRING_EQUAL(fact(trailer, "matrix"), "0");
	CU_ASSERT_STRING_EQUAL(fact(trailer, "rollback"), "0");
	CU_ASSERT_STRING_EQUAL(fact(trailer, "restored"), "11"); /* no communication again */
	/* The older server: full build installed, the process named for a
	 * restart, signing once restarted, no longer listed, file restored. */
	CU_ASSERT_STRING_EQUAL(fact(trailer, "full_apply"), "0");
	CU_ASSERT_STRING_EQUAL(fact(trailer, "restart_named"), "0");
	CU_ASSERT_STRING_EQUAL(fact(trailer, "restarted"), "0");
	CU_ASSERT_STRING_EQUAL(fact(trailer, "restart_listed"), "0");
	CU_ASSERT_STRING_EQUAL(fact(trailer, "full_rollback"), "0");

	/* Its work directory (state directory included) is gone. */
	CU_ASSERT_EQUAL(count_entries(tmp), 0);
	free(cmd);
	free(out);
	free(err);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "make demo: outcomes, time, nothing left behind", demo_outcomes },
		{ NULL, NULL },
	};

	ts_add_suite("demo", tests);
}
