/* Why the kernel refused us a process.
 *
 * Reading another process' mappings and memory, opening the files it maps
 * and tracing it all go through the kernel's ptrace access check, which
 * answers only EPERM or EACCES. An operator needs the reason to fix it, so
 * when a process is refused the module looks, in the order the kernel
 * decides, at what this run lacks: a Yama policy that forbids every attach,
 * a user namespace of our own (no privilege outside it), a user that is not
 * root and not the process' owner, a missing CAP_SYS_PTRACE (and the Yama
 * scope that made it needed). Everything read
 * here is readable without any privilege (our own /proc/self, the target's
 * /proc/PID/status, the Yama sysctl), so the explanation itself cannot fail
 * for the same reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "privilege.h"

#define CAP_SYS_PTRACE_BIT 19 /* <linux/capability.h>, stable ABI */

/* The first line of path starting with key, its rest in buf; false if none. */
static bool read_field(const char *path, const char *key, char *buf, size_t size)
{
	char line[256];
	size_t klen = strlen(key);
	bool found = false;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen))
			continue;
		snprintf(buf, size, "%s", line + klen + strspn(line + klen, " \t"));
		buf[strcspn(buf, "\n")] = '\0';
		found = true;
		break;
	}
	fclose(f);
	return found;
}

/* Yama's ptrace_scope, -1 when the kernel has no Yama. */
static int yama_scope(void)
{
	char buf[16];
	int fd;
	ssize_t n;

	fd = open(PRIVILEGE_YAMA_SYSCTL, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return atoi(buf);
}

/* Do we run in the initial user namespace? Its uid map is the identity on
 * every uid; any other map means a namespace of our own. */
static bool initial_userns(char *map, size_t size)
{
	unsigned long inside, outside, count;
	char line[128];
	bool initial = false;
	FILE *f;

	map[0] = '\0';
	f = fopen("/proc/self/uid_map", "re");
	if (!f)
		return true; /* no user namespaces in this kernel */
	if (fgets(line, sizeof(line), f) &&
	    sscanf(line, "%lu %lu %lu", &inside, &outside, &count) == 3) {
		initial = inside == 0 && outside == 0 && count == 4294967295UL;
		if (!initial)
			snprintf(map, size, "uid %lu in it is uid %lu outside", inside, outside);
	}
	fclose(f);
	return initial;
}

static bool have_sys_ptrace(void)
{
	char buf[64];
	uint64_t eff;

	if (!read_field("/proc/self/status", "CapEff:", buf, sizeof(buf)))
		return geteuid() == 0;
	eff = strtoull(buf, NULL, 16);
	return eff & (1ULL << CAP_SYS_PTRACE_BIT);
}

void privilege_why(pid_t pid, char *buf, size_t size)
{
	char path[64], field[64], map[96];
	long owner = -1;
	int scope = yama_scope();

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	/* "Uid: real effective saved fs": the kernel compares ours to these. */
	if (read_field(path, "Uid:", field, sizeof(field)))
		owner = strtol(field, NULL, 10);

	if (scope >= 3) {
		snprintf(buf, size, "Yama forbids tracing any process (%s is %d)",
			 PRIVILEGE_YAMA_SYSCTL, scope);
	} else if (!initial_userns(map, sizeof(map))) {
		snprintf(buf, size,
			 "hotpatch runs in a user namespace of its own (%s), with no privilege over "
			 "processes outside it", map);
	} else if (geteuid() != 0 && owner >= 0 && owner != (long)geteuid()) {
		snprintf(buf, size, "it runs as uid %ld and hotpatch as uid %u, not root", owner,
			 (unsigned int)geteuid());
	} else if (!have_sys_ptrace() && scope == 2) {
		snprintf(buf, size, "Yama ptrace_scope is 2 (%s): only a process with "
			 "CAP_SYS_PTRACE may trace, and hotpatch runs without it",
			 PRIVILEGE_YAMA_SYSCTL);
	} else if (!have_sys_ptrace() && scope == 1) {
		snprintf(buf, size, "Yama ptrace_scope is 1 (%s): without CAP_SYS_PTRACE only "
			 "descendants may be traced, and hotpatch runs without it",
			 PRIVILEGE_YAMA_SYSCTL);
	} else if (!have_sys_ptrace()) {
		snprintf(buf, size, "hotpatch runs without CAP_SYS_PTRACE (dropped from its "
			 "capabilities)");
	} else if (scope >= 1) {
		snprintf(buf, size, "refused by the kernel under Yama ptrace_scope %d (%s)", scope,
			 PRIVILEGE_YAMA_SYSCTL);
	} else {
		snprintf(buf, size, "refused by the kernel (a security module's policy?)");
	}
}

bool privilege_denied(int err)
{
	if (err < 0)
		err = -err;
	return err == EPERM || err == EACCES || err == HP_E_PRIVILEGE;
}
