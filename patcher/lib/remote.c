/* Memory and system calls inside a traced process.
 *
 * Memory goes through /proc/PID/mem: one pread/pwrite moves any number of
 * bytes (PTRACE_POKEDATA moves 8), and the kernel writes through page
 * protections as a debugger does, so the payload region never has to be
 * writable in the process's own view.
 *
 * A system call is run by a stopped thread of the process: point its rip at
 * a "syscall" instruction somewhere in its code, set the arguments, single
 * step over it, read rax, put every register back. Two things make "put
 * back" subtle. A thread stopped while blocked in a system call (read,
 * nanosleep) holds orig_rax = the call and rax = -ERESTARTSYS or a friend;
 * on the way back to user mode the kernel rewinds rip by two and restarts it.
 * We set orig_rax to -1 while our call runs so the kernel does not "restart"
 * into our borrowed rip, and restore the original orig_rax and rax with the
 * rest, so the interrupted call restarts as it would have. And a signal may
 * arrive while we step; it is held and delivered when the thread resumes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "procmaps.h"
#include "remote.h"

/* How much code to search for a syscall instruction before giving up. */
#define SCAN_LIMIT (16u << 20)
/* Signals that may interrupt our single step before we give up. */
#define STEP_TRIES 16

int remote_open(struct remote *r, struct pt_group *g)
{
	char path[64];

	memset(r, 0, sizeof(*r));
	r->g = g;
	r->mem_fd = -1;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)g->pid);
	r->mem_fd = open(path, O_RDWR | O_CLOEXEC);
	if (r->mem_fd < 0) {
		int err = errno;

		pr_warn("live: pid %d: cannot open its memory: %s", (int)g->pid, strerror(err));
		return err == ENOENT ? -HP_E_PROCESS : -err;
	}
	return 0;
}

void remote_close(struct remote *r)
{
	if (r && r->mem_fd >= 0)
		close(r->mem_fd);
	if (r)
		r->mem_fd = -1;
}

int remote_read(struct remote *r, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(r->mem_fd, (char *)buf + done, len - done, (off_t)(addr + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int remote_write(struct remote *r, uint64_t addr, const void *buf, size_t len)
{
	ssize_t n;

	/* One call: a short write would leave half an update behind. */
	n = pwrite(r->mem_fd, buf, len, (off_t)addr);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

/* The first "0f 05" in [start, end) of the process, or 0. */
static uint64_t scan_for_syscall(struct remote *r, uint64_t start, uint64_t end, size_t *budget)
{
	unsigned char buf[65536];
	uint64_t at = start, found = 0;
	size_t i, len;

	while (at < end && *budget && !found) {
		len = end - at < sizeof(buf) ? (size_t)(end - at) : sizeof(buf);
		if (len > *budget)
			len = *budget;
		if (remote_read(r, at, buf, len))
			break;
		*budget -= len;
		for (i = 0; i + 1 < len; i++) {
			if (buf[i] == 0x0f && buf[i + 1] == 0x05) {
				found = at + i;
				break;
			}
		}
		/* A pair split across two reads is found by overlapping. */
		at += len > 1 ? len - 1 : len;
	}
	return found;
}

/* Somewhere to execute "syscall": the instruction a thread is blocked
 * behind, then the vDSO (mapped in every process, never unmapped), then any
 * executable mapping. The bytes need not start an instruction of the
 * original code; they only have to decode as syscall when we jump there. */
static int find_syscall(struct remote *r, size_t i)
{
	const struct user_regs_struct *regs = &r->g->threads[i].regs;
	struct procmaps pm = { 0 };
	size_t budget = SCAN_LIMIT, k;
	unsigned char two[2];
	int err, pass;

	if (r->syscall_at)
		return 0;
	if ((long long)regs->orig_rax >= 0 && regs->rip >= 2 &&
	    !remote_read(r, regs->rip - 2, two, 2) && two[0] == 0x0f && two[1] == 0x05) {
		r->syscall_at = regs->rip - 2;
		return 0;
	}
	err = procmaps_read(r->g->pid, &pm);
	if (err)
		return err == -ESRCH ? -HP_E_PROCESS : err;
	for (pass = 0; pass < 2 && !r->syscall_at; pass++) {
		for (k = 0; k < pm.n && !r->syscall_at; k++) {
			const struct procmap *m = &pm.maps[k];
			bool vdso = !strcmp(m->path, "[vdso]");

			if (!(m->perms & PM_EXEC) || (pass == 0) != vdso ||
			    !strcmp(m->path, "[vsyscall]"))
				continue;
			r->syscall_at = scan_for_syscall(r, m->start, m->end, &budget);
		}
	}
	procmaps_free(&pm);
	if (!r->syscall_at) {
		pr_warn("live: pid %d: no syscall instruction found in its code", (int)r->g->pid);
		return -HP_E_NOT_FOUND;
	}
	pr_debug("live: pid %d: system calls run at %#llx", (int)r->g->pid,
		 (unsigned long long)r->syscall_at);
	return 0;
}

/* Single-step thread i over the syscall instruction; *out gets the
 * registers after it. */
static int step(struct remote *r, size_t i, struct user_regs_struct *out)
{
	struct pt_thread *t = &r->g->threads[i];
	int tries, st, sig;
	pid_t w;

	for (tries = 0; tries < STEP_TRIES; tries++) {
		if (ptrace(PTRACE_SINGLESTEP, t->tid, 0, 0) < 0)
			return -HP_E_PROCESS;
		do
			w = waitpid(t->tid, &st, __WALL);
		while (w < 0 && errno == EINTR);
		if (w < 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
			t->gone = true;
			t->stopped = false;
			return -HP_E_PROCESS;
		}
		if (!WIFSTOPPED(st))
			continue;
		if (ptrace(PTRACE_GETREGS, t->tid, 0, out) < 0)
			return -HP_E_PROCESS;
		sig = WSTOPSIG(st);
		if ((st >> 16) == 0 && sig == SIGTRAP && out->rip == r->syscall_at + 2)
			return 0;
		/* A signal came first: hold it for later and step again. */
		if ((st >> 16) == 0 && sig != SIGTRAP && !t->pending_sig)
			t->pending_sig = sig;
		if (out->rip != r->syscall_at)
			break;
	}
	pr_warn("live: pid %d: thread %d: could not step over a system call", (int)r->g->pid,
		(int)t->tid);
	return -HP_E_PROCESS;
}

int remote_syscall(struct remote *r, size_t i, long nr, const uint64_t args[6], long *ret)
{
	struct pt_thread *t = &r->g->threads[i];
	struct user_regs_struct saved = t->regs, call, after;
	int err, rerr;

	err = find_syscall(r, i);
	if (err)
		return err;
	call = saved;
	call.rip = r->syscall_at;
	call.rax = (unsigned long long)nr;
	/* -1: not in a system call, so no restart logic touches rip. */
	call.orig_rax = (unsigned long long)-1;
	call.rdi = args[0];
	call.rsi = args[1];
	call.rdx = args[2];
	call.r10 = args[3];
	call.r8 = args[4];
	call.r9 = args[5];
	err = ptrace_set_regs(r->g, i, &call);
	if (err) {
		pr_warn("live: pid %d: thread %d: cannot set registers: %s", (int)r->g->pid,
			(int)t->tid, hp_strerror(err));
		return -HP_E_PROCESS;
	}
	err = step(r, i, &after);
	if (!err)
		*ret = (long)after.rax;
	/* Put everything back, whatever happened, while the thread lives. */
	rerr = ptrace_set_regs(r->g, i, &saved);
	if (rerr && !r->g->threads[i].gone) {
		pr_warn("live: pid %d: thread %d: cannot restore registers: %s", (int)r->g->pid,
			(int)r->g->threads[i].tid, hp_strerror(rerr));
		if (!err)
			err = -HP_E_PROCESS;
	}
	return err;
}
