/* Fault injection for the tests: a run of hotpatch started with
 * HOTPATCH_FAULT=<step> kills itself with SIGKILL when it reaches the fault
 * point of that name, as an operator's kill -9 or a power cut would stop it.
 * The tests use it to prove that every step leaves targets and files whole.
 * HOTPATCH_FAULT=<step>:stop stops the run there instead (SIGSTOP), so a
 * test can change the world under it (swap a file, start a second run)
 * before it goes on with SIGCONT. Step names are listed next to each
 * fault_point() call and in docs/. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

void fault_point(const char *step)
{
	const char *want = getenv("HOTPATCH_FAULT");
	size_t len = strlen(step);

	if (!want || strncmp(want, step, len))
		return;
	if (!want[len]) {
		pr_debug("fault: killing myself at step '%s'", step);
		kill(getpid(), SIGKILL);
	} else if (!strcmp(want + len, ":stop")) {
		pr_debug("fault: stopping at step '%s'", step);
		raise(SIGSTOP);
	}
}
