/* The hotpatch CLI: what its commands share.
 *
 * The CLI is a thin layer over libhotpatch: one file per object, each
 * command parsing its own options, calling the library, and printing a
 * report as text or, with --json, as one JSON document on stdout.
 */
#ifndef HP_CLI_H
#define HP_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Exit codes: documented in docs/operator-guide.md and hotpatch(1); stable. */
enum cli_exit {
	EXIT_OK = 0,           /* success */
	EXIT_ERROR = 1,        /* any other error */
	EXIT_USAGE = 2,        /* bad command line */
	EXIT_NOT_ELIGIBLE = 3, /* a target is not a version the patch was built for */
	EXIT_BUSY = 4,         /* a process stayed busy, or another run holds the lock */
	EXIT_INTEGRITY = 5,    /* signature, hash or fingerprint check failed */
};

struct cli_command {
	const char *name;    /* verb, or "object verb" */
	int (*run)(int argc, char **argv); /* returns an enum cli_exit */
	const char *summary; /* one line for `hotpatch --help` */
};

/* Options common to every command, parsed before the verb and by each
 * command's own parser (--json, -v). */
extern bool cli_json;
extern int cli_verbose;

/* The exit code for a library error (negative errno or HP_E*). */
int cli_exit_for(int err);
/* The exit code for a package hp_package__open() refused: a package that
 * is malformed, tampered with or unsigned is an integrity failure (5),
 * whichever command opened it; one that could not be read is an error (1). */
int cli_package_exit(int err);

/* Print "hotpatch: <message>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Usage error: message, a pointer to the command's --help, EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* HP_CLI_H */
