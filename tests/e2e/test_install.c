/* make install into a DESTDIR: the binary runs from there, `man` finds and
 * renders the installed page, bash loads the completion; and the page and
 * the completion keep up with the CLI: every command of `hotpatch --help`
 * and every option of every command's --help must appear in the rendered
 * man page, and every long option in the completion. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support.h"

static char *sh(const char *cmd, int *rc)
{
	char *out = NULL, *err = NULL;

	*rc = ts_sh(cmd, &out, &err);
	if (*rc)
		fprintf(stderr, "$ %s\n%s%s[exit %d]\n", cmd, out ? out : "", err ? err : "", *rc);
	free(err);
	return out;
}

/* Does text hold word as a whole option (not followed by [a-z0-9-])? */
static bool has_option(const char *text, const char *word)
{
	size_t n = strlen(word);
	const char *p = text;

	while ((p = strstr(p, word))) {
		char next = p[n];

		if ((p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '-')) &&
		    !(isalnum((unsigned char)next) || next == '-'))
			return true;
		p += n;
	}
	return false;
}

/* Check every "--long" and "-x" option of help in man and (long ones) in
 * completion; returns how many are missing. */
static int check_options(const char *cmd, const char *help, const char *man, const char *compl)
{
	const char *p = help;
	int missing = 0;

	while ((p = strchr(p, '-'))) {
		char opt[64];
		size_t n = 0;
		bool lng = p[1] == '-';

		if ((p > help && !isspace((unsigned char)p[-1]) && p[-1] != '[' && p[-1] != ',') ||
		    !(lng ? isalpha((unsigned char)p[2]) : isalpha((unsigned char)p[1]))) {
			p++;
			continue;
		}
		opt[n++] = '-';
		if (lng)
			opt[n++] = '-';
		for (p += n; n < sizeof(opt) - 1 && (isalnum((unsigned char)*p) || *p == '-'); p++) {
			opt[n++] = *p;
			/* a short option is one letter */
			if (!lng)
				break;
		}
		opt[n] = '\0';
		if (!lng && (isalnum((unsigned char)*p) || *p == '-'))
			continue; /* "-xyz" is prose, not an option */
		if (!has_option(man, opt)) {
			fprintf(stderr, "hotpatch %s: option %s is not in the man page\n", cmd, opt);
			missing++;
		}
		if (lng && compl && *cmd && !has_option(compl, opt)) {
			fprintf(stderr, "hotpatch %s: option %s is not in the completion\n", cmd, opt);
			missing++;
		}
	}
	return missing;
}

static void install_and_man(void)
{
	const char *dest = ts_tmpdir();
	char *cmd = NULL, *out, *man, *compl, *help, *line, *save = NULL;
	char path[4096];
	struct stat sb;
	int rc, ncmds = 0;

	/* The install rule, run as `make install` runs it (the binary is
	 * already built by the check run). */
	if (asprintf(&cmd, "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C '%s' -f mk/build.mk "
			   "O='%s' DESTDIR='%s' PREFIX=/usr install",
		     ts_src_dir(), ts_build_dir(), dest) < 0)
		cmd = NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(cmd);
	free(sh(cmd, &rc));
	free(cmd);
	CU_ASSERT_EQUAL_FATAL(rc, 0);

	snprintf(path, sizeof(path), "%s/usr/bin/hotpatch", dest);
	CU_ASSERT(stat(path, &sb) == 0 && (sb.st_mode & 0111) && S_ISREG(sb.st_mode));
	snprintf(path, sizeof(path), "%s/usr/share/man/man1/hotpatch.1", dest);
	CU_ASSERT(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644);
	snprintf(path, sizeof(path), "%s/usr/share/bash-completion/completions/hotpatch", dest);
	CU_ASSERT(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644);

	/* The installed binary runs. */
	if (asprintf(&cmd, "'%s/usr/bin/hotpatch' --version", dest) < 0)
		cmd = NULL;
	out = sh(cmd, &rc);
	free(cmd);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(out && strstr(out, "hotpatch "));
	free(out);

	/* man -l on the installed page, and `man hotpatch` through MANPATH:
	 * both render (no warnings from the formatter). */
	if (asprintf(&cmd, "LC_ALL=C MANWIDTH=200 man -P cat -l '%s/usr/share/man/man1/hotpatch.1'",
		     dest) < 0)
		cmd = NULL;
	man = sh(cmd, &rc);
	free(cmd);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(man);
	CU_ASSERT(strstr(man, "HOTPATCH(1)") && strstr(man, "EXIT STATUS"));
	if (asprintf(&cmd, "MANPATH='%s/usr/share/man' LC_ALL=C MANWIDTH=200 man -P cat hotpatch "
			   "| grep -c '^NAME'", dest) < 0)
		cmd = NULL;
	out = sh(cmd, &rc);
	free(cmd);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(out && atoi(out) == 1);
	free(out);
	if (asprintf(&cmd, "LC_ALL=C man --warnings -P cat -l '%s/usr/share/man/man1/hotpatch.1' "
			   "2>&1 >/dev/null", dest) < 0)
		cmd = NULL;
	out = sh(cmd, &rc);
	free(cmd);
	CU_ASSERT(out && *out == '\0');
	if (out && *out)
		fprintf(stderr, "man warnings:\n%s", out);
	free(out);

	/* bash loads the completion and registers it. */
	if (asprintf(&cmd, "bash -c \". '%s/usr/share/bash-completion/completions/hotpatch' && "
			   "complete -p hotpatch\"", dest) < 0)
		cmd = NULL;
	out = sh(cmd, &rc);
	free(cmd);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(out && strstr(out, "_hotpatch"));
	free(out);
	snprintf(path, sizeof(path), "%s/usr/share/bash-completion/completions/hotpatch", dest);
	compl = ts_read_file(path, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(compl);

	/* Every global option, every command, every option of every command. */
	if (asprintf(&cmd, "'%s' --help", ts_build_path("bin/hotpatch")) < 0)
		cmd = NULL;
	help = sh(cmd, &rc);
	free(cmd);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(help);
	CU_ASSERT_EQUAL(check_options("", help, man, NULL), 0);
	line = strstr(help, "Commands:\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(line);
	for (line = strtok_r(line + 10, "\n", &save); line && !strncmp(line, "  ", 2);
	     line = strtok_r(NULL, "\n", &save)) {
		char name[32], *chelp, pat[64];

		if (sscanf(line, " %31s", name) != 1)
			continue;
		ncmds++;
		snprintf(pat, sizeof(pat), "hotpatch %s", name);
		if (!strstr(man, pat))
			fprintf(stderr, "command %s is not in the man page\n", name);
		CU_ASSERT_PTR_NOT_NULL(strstr(man, pat));
		CU_ASSERT(has_option(compl, name));
		if (asprintf(&cmd, "'%s' %s --help", ts_build_path("bin/hotpatch"), name) < 0)
			cmd = NULL;
		chelp = sh(cmd, &rc);
		free(cmd);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT_EQUAL(chelp ? check_options(name, chelp, man, compl) : 1, 0);
		free(chelp);
	}
	CU_ASSERT(ncmds >= 9);
	free(help);
	free(man);
	free(compl);
}

/* PREFIX is honoured and nothing is written outside DESTDIR/PREFIX. */
static void prefix(void)
{
	const char *dest = ts_tmpdir();
	char *cmd = NULL, *out;
	int rc;

	if (asprintf(&cmd, "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C '%s' -f mk/build.mk "
			   "O='%s' DESTDIR='%s' PREFIX=/opt/hp install >/dev/null && cd '%s' && find . -type f | sort",
		     ts_src_dir(), ts_build_dir(), dest, dest) < 0)
		cmd = NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(cmd);
	out = sh(cmd, &rc);
	free(cmd);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_STRING_EQUAL(out ? out : "",
			       "./opt/hp/bin/hotpatch\n"
			       "./opt/hp/share/bash-completion/completions/hotpatch\n"
			       "./opt/hp/share/man/man1/hotpatch.1\n");
	free(out);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "make install DESTDIR: binary, man page, completion, every option", install_and_man },
		{ "PREFIX honoured, nothing else written", prefix },
		{ NULL, NULL },
	};

	ts_add_suite("install", tests);
}
