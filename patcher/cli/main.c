/* hotpatch: entry point and the table of commands.
 *
 * Global options come before the command; each command parses the rest
 * itself and has its own --help.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotpatch.h"
#include "cli.h"
#include "commands.h"

bool cli_json;
int cli_verbose;

static const struct cli_command commands[] = {
#define CLI_COMMAND(name, fn, summary) { name, fn, summary },
#include "commands.def"
#undef CLI_COMMAND
};

int cli_exit_for(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return EXIT_OK;
	case HP_E_NOT_ELIGIBLE:
		return EXIT_NOT_ELIGIBLE;
	case HP_E_BUSY:
	case HP_E_LOCKED:
		return EXIT_BUSY;
	case HP_E_SIGNATURE:
	case HP_E_MISMATCH:
		return EXIT_INTEGRITY;
	default:
		return EXIT_ERROR;
	}
}

int cli_package_exit(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case HP_E_SIGNATURE:
	case HP_E_MISMATCH:
	case HP_E_FORMAT:
	case HP_E_TOO_BIG:
	case HP_E_UNSUPPORTED:
	case HP_E_RELOC:
		return EXIT_INTEGRITY;
	default:
		return EXIT_ERROR;
	}
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("hotpatch: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("hotpatch: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'hotpatch %s --help'.\n", cmd ? cmd : "");
	return EXIT_USAGE;
}

static int print_cb(enum hp_print_level level, const char *fmt, va_list ap)
{
	if ((int)level > cli_verbose)
		return 0;
	fputs(level == HP_WARN ? "hotpatch: " : "hotpatch: note: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: hotpatch [--json] [-v] COMMAND [ARGS...]\n\n"
		   "Apply, verify and roll back signed binary patches, on disk and in\n"
		   "running processes, without a restart.\n\nCommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nGlobal options:\n"
		   "  --json       one JSON document on stdout\n"
		   "  -v, --verbose  more messages on stderr (repeat for debug)\n"
		   "  -h, --help   this help; 'hotpatch COMMAND --help' for a command\n"
		   "  --version    print the version\n"
		   "\nExit codes: 0 success, 1 error, 2 usage, 3 not eligible, 4 busy,\n"
		   "5 integrity or signature failure.\n");
}

int main(int argc, char **argv)
{
	size_t i;
	int argi = 1;

	hp_set_print(print_cb);
	for (; argi < argc && argv[argi][0] == '-'; argi++) {
		const char *a = argv[argi];

		if (!strcmp(a, "--json")) {
			cli_json = true;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			cli_verbose++;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(a, "--version")) {
			printf("hotpatch %s\n", HOTPATCH_VERSION);
			return EXIT_OK;
		} else {
			return cli_usage_error(NULL, "unknown option '%s'", a);
		}
	}
	if (argi >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[argi], commands[i].name)) {
			/* getopt in the command starts at its own argv[1]. */
			optind = 1;
			return commands[i].run(argc - argi, argv + argi);
		}
	}
	return cli_usage_error(NULL, "unknown command '%s'", argv[argi]);
}
