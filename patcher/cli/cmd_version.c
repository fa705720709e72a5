/* hotpatch version: the tool's version, as text or JSON. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

int cmd_version(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: hotpatch version [--json]\n");
		return EXIT_OK;
	}
	if (argc > 1 && !strcmp(argv[1], "--json"))
		cli_json = true;
	else if (argc > 1)
		return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
	if (cli_json)
		printf("{\"hotpatch\":\"%s\",\"changed\":false}\n", HOTPATCH_VERSION);
	else
		printf("hotpatch %s\n", HOTPATCH_VERSION);
	return EXIT_OK;
}
