/* The options apply, rollback, verify, pack, status, inspect, keygen and
 * sign share, parsed in one place so that each is spelled, bounded and
 * refused the same way by every command that has it. Each command's own
 * options stay in its own file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmdopts.h"

#define RETRIES_MAX 10000 /* --retries: stop windows tried while busy, at most */
#define LOCK_WAIT_MS 5000 /* how long apply and rollback wait for another run's lock */

int cmdopts_parse_long(const char *s, long min, long max, long *val)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*val = v;
	return 0;
}

int cmdopts_parse_pid(const char *s, pid_t *pid)
{
	long v;

	if (cmdopts_parse_long(s, 1, 0x7fffffff, &v))
		return -1;
	*pid = (pid_t)v;
	return 0;
}

bool cmdopts_take(struct cmdopts *co, int c, const char *arg, int *rc)
{
	const char **keys;
	pid_t pid, *pids;
	long v;

	switch (c) {
	case CMDOPT_PID:
		if (cmdopts_parse_pid(arg, &pid)) {
			*rc = cli_usage_error(co->cmd, "--pid wants a process id, not '%s'", arg);
			return false;
		}
		pids = realloc(co->pids, (co->nr_pids + 1) * sizeof(*pids));
		if (!pids)
			goto nomem;
		pids[co->nr_pids++] = pid;
		co->pids = pids;
		break;
	case CMDOPT_TRUSTED_KEY:
		keys = realloc(co->keys, (co->pkg.nr_trusted_keys + 1) * sizeof(*keys));
		if (!keys)
			goto nomem;
		keys[co->pkg.nr_trusted_keys++] = arg;
		co->keys = keys;
		co->pkg.trusted_keys = keys;
		break;
	case CMDOPT_SKIP_SIGNATURE:
		co->pkg.skip_signature = 1;
		break;
	case CMDOPT_STATE_DIR:
		co->state_dir = arg;
		break;
	case CMDOPT_RETRIES:
		if (cmdopts_parse_long(arg, 1, RETRIES_MAX, &v)) {
			*rc = cli_usage_error(co->cmd, "--retries wants 1..%d, not '%s'",
					      RETRIES_MAX, arg);
			return false;
		}
		co->live_opts.retries = (unsigned int)v;
		break;
	case CMDOPT_CONSISTENCY:
		if (!strcmp(arg, "full")) {
			co->live_opts.consistency = HP_LIVE_FULL;
		} else if (!strcmp(arg, "entry")) {
			co->live_opts.consistency = HP_LIVE_ENTRY;
		} else {
			*rc = cli_usage_error(co->cmd, "--consistency is full or entry, not '%s'",
					      arg);
			return false;
		}
		break;
	case CMDOPT_DISK:
		co->disk = true;
		break;
	case CMDOPT_LIVE:
		co->live = true;
		break;
	case CMDOPT_JSON:
		cli_json = true;
		break;
	case CMDOPT_HELP:
		co->usage(stdout);
		*rc = EXIT_OK;
		return false;
	default:
		/* getopt_long has named the option on stderr already. */
		*rc = cli_usage_error(co->cmd, "bad option");
		return false;
	}
	return true;
nomem:
	cli_error("%s: out of memory", co->cmd);
	*rc = EXIT_ERROR;
	return false;
}

bool cmdopts_check_targets(struct cmdopts *co, int *rc)
{
	/* Without --live, --pid would also patch every file below / as a
	 * side effect nobody asked for. */
	if (co->nr_pids && !co->live) {
		*rc = cli_usage_error(co->cmd, "--pid selects processes; give --live with it");
		return false;
	}
	if (!co->disk && !co->live)
		co->disk = co->live = true;
	return true;
}

struct hp_state *cmdopts_open_state(const struct cmdopts *co, int *rc)
{
	struct hp_state *state = hp_state__open(co->state_dir, 0, LOCK_WAIT_MS);
	int err = -errno;

	if (!state) {
		cli_error("%s: state directory: %s; nothing changed", co->cmd, hp_strerror(err));
		*rc = cli_exit_for(err);
	}
	return state;
}

void cmdopts_free(struct cmdopts *co)
{
	free(co->keys);
	free(co->pids);
	co->keys = NULL;
	co->pids = NULL;
	co->nr_pids = 0;
	co->pkg.trusted_keys = NULL;
	co->pkg.nr_trusted_keys = 0;
}
