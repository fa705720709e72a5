/* What `hotpatch keygen` and `hotpatch sign` share: passwords for secret
 * keys. */
#ifndef HP_CLI_KEYOPTS_H
#define HP_CLI_KEYOPTS_H

#include <stdbool.h>

/* The first line of path ("-": standard input), without its newline, in a
 * malloc'd string; NULL after an error message naming the file. */
char *keyopts_read_password_file(const char *path);

/* Ask on the terminal with echo off (twice if confirm). NULL after an error
 * message when there is no terminal or the answers differ. */
char *keyopts_prompt_password(const char *what, bool confirm);

/* Wipe and free a password. Accepts NULL. */
void keyopts_free_password(char *pw);

#endif
