/* Passwords for the key and signing commands.
 *
 * A secret key may be encrypted with a password (minisign's scrypt scheme).
 * Scripts hand it over in a file (--password-file, "-" for standard input);
 * people type it at the terminal, echo off, as minisign asks for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "keyopts.h"

#define PASSWORD_MAX 1024 /* minisign's own bound */

/* One line from f into a new string; NULL at EOF, error or overlength. */
static char *read_line(FILE *f, const char *name)
{
	char buf[PASSWORD_MAX + 2];
	size_t n;
	char *pw;

	if (!fgets(buf, sizeof(buf), f)) {
		cli_error("%s: no password in it", name);
		return NULL;
	}
	n = strcspn(buf, "\r\n");
	if (n > PASSWORD_MAX) {
		explicit_bzero(buf, sizeof(buf));
		cli_error("%s: password longer than %d bytes", name, PASSWORD_MAX);
		return NULL;
	}
	buf[n] = '\0';
	pw = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	if (!pw)
		cli_error("%s: %s", name, strerror(ENOMEM));
	return pw;
}

char *keyopts_read_password_file(const char *path)
{
	FILE *f;
	char *pw;

	if (!strcmp(path, "-"))
		return read_line(stdin, "standard input");
	f = fopen(path, "re");
	if (!f) {
		cli_error("%s: cannot open password file: %s", path, strerror(errno));
		return NULL;
	}
	pw = read_line(f, path);
	fclose(f);
	return pw;
}

static char *ask(FILE *tty, const char *prompt)
{
	struct termios old, quiet;
	bool restore = false;
	char *pw;

	fputs(prompt, tty);
	fflush(tty);
	if (tcgetattr(fileno(tty), &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(fileno(tty), TCSAFLUSH, &quiet) == 0;
	}
	pw = read_line(tty, "terminal");
	if (restore)
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	return pw;
}

char *keyopts_prompt_password(const char *what, bool confirm)
{
	char *pw = NULL, *again = NULL, prompt[256];
	FILE *tty;

	tty = fopen("/dev/tty", "r+e");
	if (!tty) {
		cli_error("%s: a password is needed and there is no terminal to ask on (use --password-file)",
			  what);
		return NULL;
	}
	snprintf(prompt, sizeof(prompt), "Password for %s: ", what);
	pw = ask(tty, prompt);
	if (pw && confirm) {
		again = ask(tty, "Password (again): ");
		if (!again || strcmp(pw, again)) {
			if (again)
				cli_error("%s: the passwords differ", what);
			keyopts_free_password(pw);
			pw = NULL;
		}
		keyopts_free_password(again);
	}
	fclose(tty);
	return pw;
}

void keyopts_free_password(char *pw)
{
	if (!pw)
		return;
	explicit_bzero(pw, strlen(pw));
	free(pw);
}
