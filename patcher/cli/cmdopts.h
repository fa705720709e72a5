/* The options several commands share: which keys to trust for the package
 * (--trusted-key, --insecure-skip-signature), the state directory
 * (--state-dir), where to change things (--disk, --live), the processes
 * and how to stop them (--pid, --retries, --consistency), and --json and
 * --help.
 *
 * Each command keeps its own getopt_long table, built from the entries
 * below (so "--pid" is spelled, and valued, the same everywhere), and its
 * own usage(). Its switch handles its own options and hands every other
 * getopt_long result to cmdopts_take(), which fills a struct cmdopts,
 * prints the help, or reports the bad option or value once.
 */
#ifndef HP_CLI_CMDOPTS_H
#define HP_CLI_CMDOPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "hotpatch.h"

/* getopt_long values of the common options. 'p', 'k' and 'h' are also the
 * short options of the commands that have them (a command's own option
 * with the same letter is handled in its switch first); the others are
 * long only. */
enum cmdopt_val {
	CMDOPT_PID = 'p',
	CMDOPT_TRUSTED_KEY = 'k',
	CMDOPT_HELP = 'h',
	CMDOPT_JSON = 0x100,
	CMDOPT_SKIP_SIGNATURE,
	CMDOPT_STATE_DIR,
	CMDOPT_RETRIES,
	CMDOPT_CONSISTENCY,
	CMDOPT_DISK,
	CMDOPT_LIVE,
	CMDOPT_OWN, /* the first value left for a command's own long options */
};

/* Entries of a command's getopt_long table. */
#define CMDOPT_ENTRY_LIVE { "live", no_argument, NULL, CMDOPT_LIVE }
#define CMDOPT_ENTRY_DISK { "disk", no_argument, NULL, CMDOPT_DISK }
#define CMDOPT_ENTRY_PID { "pid", required_argument, NULL, CMDOPT_PID }
#define CMDOPT_ENTRY_TRUSTED_KEY { "trusted-key", required_argument, NULL, CMDOPT_TRUSTED_KEY }
#define CMDOPT_ENTRY_SKIP_SIGNATURE \
	{ "insecure-skip-signature", no_argument, NULL, CMDOPT_SKIP_SIGNATURE }
#define CMDOPT_ENTRY_STATE_DIR { "state-dir", required_argument, NULL, CMDOPT_STATE_DIR }
#define CMDOPT_ENTRY_RETRIES { "retries", required_argument, NULL, CMDOPT_RETRIES }
#define CMDOPT_ENTRY_CONSISTENCY { "consistency", required_argument, NULL, CMDOPT_CONSISTENCY }
#define CMDOPT_ENTRY_JSON { "json", no_argument, NULL, CMDOPT_JSON }
#define CMDOPT_ENTRY_HELP { "help", no_argument, NULL, CMDOPT_HELP }

/* The entries apply and rollback both have after --live, --disk and their
 * own: the processes and how to stop them, the package's trust, the state
 * directory, --json and --help. */
#define CMDOPT_ENTRIES_CHANGE                                                              \
	CMDOPT_ENTRY_PID, CMDOPT_ENTRY_CONSISTENCY, CMDOPT_ENTRY_RETRIES,                  \
	CMDOPT_ENTRY_TRUSTED_KEY, CMDOPT_ENTRY_SKIP_SIGNATURE, CMDOPT_ENTRY_STATE_DIR,     \
	CMDOPT_ENTRY_JSON, CMDOPT_ENTRY_HELP

/* The common options' values, as given on the command line. */
struct cmdopts {
	const char *cmd;               /* the command's verb, for messages */
	void (*usage)(FILE *f);        /* the command's help, printed for --help */
	const char **keys;             /* --trusted-key files (argv strings); malloc'd array */
	pid_t *pids;                   /* --pid processes, in order; malloc'd */
	size_t nr_pids;                /* entries in pids */
	const char *state_dir;         /* --state-dir; NULL: the default */
	struct hp_package_opts pkg;    /* trusted_keys (keys), skip_signature */
	struct hp_live_opts live_opts; /* consistency, retries */
	bool disk;                     /* --disk: change the files */
	bool live;                     /* --live: change the running processes */
};

#define CMDOPTS_INIT(verb, usage_fn) { .cmd = (verb), .usage = (usage_fn) }

/* Take getopt_long's result c, with arg its argument (optarg), for a
 * common option. Returns true when it was taken and parsing goes on;
 * false when the command returns *rc now: EXIT_OK after printing the help,
 * EXIT_USAGE after saying what is wrong with a value or that c is no
 * option of the command ("bad option"), EXIT_ERROR when out of memory. */
bool cmdopts_take(struct cmdopts *co, int c, const char *arg, int *rc);

/* After the options of apply or rollback: --pid selects processes, so it
 * wants --live; with neither --disk nor --live, both. Returns true, or
 * false after the usage error, with *rc the exit code. */
bool cmdopts_check_targets(struct cmdopts *co, int *rc);

/* Open the state directory (--state-dir, or the default), taking its lock
 * so that two runs never race; NULL after a message naming the cause, with
 * *rc the exit code. */
struct hp_state *cmdopts_open_state(const struct cmdopts *co, int *rc);

/* Free what cmdopts_take() allocated. */
void cmdopts_free(struct cmdopts *co);

/* A whole decimal number from min to max in *val: 0, or -1 (nothing
 * written) when s is not one. */
int cmdopts_parse_long(const char *s, long min, long max, long *val);

/* A process id (1 to 2^31-1) in *pid: 0, or -1 when s is not one. */
int cmdopts_parse_pid(const char *s, pid_t *pid);

#endif /* HP_CLI_CMDOPTS_H */
