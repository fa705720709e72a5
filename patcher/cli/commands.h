/* One declaration per command, generated from commands.def. */
#ifndef HP_CLI_COMMANDS_H
#define HP_CLI_COMMANDS_H

#define CLI_COMMAND(name, fn, summary) int fn(int argc, char **argv);
#include "commands.def"
#undef CLI_COMMAND

#endif
