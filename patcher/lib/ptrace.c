/* ptrace for the live executor: every thread of a process, seized, stopped
 * together, resumed together, and always released.
 *
 * PTRACE_SEIZE rather than PTRACE_ATTACH: seizing sends no SIGSTOP, so a
 * tracer that dies (SIGKILL, fault injection) leaves no thread in group-stop;
 * the kernel detaches and wakes every thread in a ptrace-stop. The stop is
 * PTRACE_INTERRUPT sent to every thread before waiting for any, so the
 * threads stop in parallel instead of one after the other; threads created
 * while we work are seized by the kernel for us (PTRACE_O_TRACECLONE) and
 * join the group. We never wait for "any child": the program using the
 * library may have children of its own whose exit status is not ours. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "procmaps.h"
#include "privilege.h"
#include "ptrace.h"

/* Rounds of "list the threads, seize the new ones" before giving up on a
 * process that creates threads faster than we seize them. */
#define SEIZE_ROUNDS 64

uint64_t ptrace_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The value of "Field:" in /proc/PID/task/TID/status, or -1. */
static long status_field(pid_t pid, pid_t tid, const char *field)
{
	char path[96], line[256];
	size_t flen = strlen(field);
	long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, flen)) {
			if (!strcmp(field, "State:")) {
				const char *p = line + flen;

				while (*p == ' ' || *p == '\t')
					p++;
				val = (unsigned char)*p;
			} else {
				val = strtol(line + flen, NULL, 10);
			}
			break;
		}
	}
	fclose(f);
	return val;
}

static struct pt_thread *find_thread(struct pt_group *g, pid_t tid)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (g->threads[i].tid == tid)
			return &g->threads[i];
	return NULL;
}

static int add_thread(struct pt_group *g, pid_t tid)
{
	struct pt_thread *nt;

	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;

		nt = realloc(g->threads, cap * sizeof(*nt));
		if (!nt)
			return -ENOMEM;
		g->threads = nt;
		g->cap = cap;
	}
	nt = &g->threads[g->n++];
	memset(nt, 0, sizeof(*nt));
	nt->tid = tid;
	return 0;
}

/* Account for one wait status of thread i. Returns 0 once the thread is
 * in a ptrace-stop (registers read), -ESRCH when it exited. */
static int handle_status(struct pt_group *g, size_t i, int st)
{
	pid_t tid = g->threads[i].tid;
	int sig, ev;

	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		g->threads[i].gone = true;
		g->threads[i].stopped = false;
		g->threads[i].interrupt_pending = false;
		return -ESRCH;
	}
	if (!WIFSTOPPED(st))
		return 0;
	sig = WSTOPSIG(st);
	ev = st >> 16;
	g->threads[i].stopped = true;
	if (ev == PTRACE_EVENT_CLONE || ev == PTRACE_EVENT_FORK || ev == PTRACE_EVENT_VFORK) {
		unsigned long msg = 0;

		/* Only clones are followed; forks are not traced (no
		 * TRACEFORK), so the kernel reports nothing for them. */
		if (ev == PTRACE_EVENT_CLONE && !ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) &&
		    msg && !find_thread(g, (pid_t)msg)) {
			if (add_thread(g, (pid_t)msg))
				return -ENOMEM;
			/* The kernel seized it; it starts in a stop we must
			 * collect before counting it as stopped. */
			g->threads[g->n - 1].interrupt_pending = true;
		}
	} else if (ev == PTRACE_EVENT_STOP) {
		/* Our interrupt, a new thread's first stop, or a group-stop:
		 * each consumes the pending trap. */
		g->threads[i].interrupt_pending = false;
		g->threads[i].trap_maybe = false;
	} else if (ev == 0) {
		/* A signal on its way to the thread: hold it, deliver it when
		 * the thread resumes. */
		g->threads[i].pending_sig = sig;
	}
	if (ptrace(PTRACE_GETREGS, tid, 0, &g->threads[i].regs) < 0 && errno == ESRCH) {
		g->threads[i].gone = true;
		g->threads[i].stopped = false;
		return -ESRCH;
	}
	return 0;
}

/* Wait for thread i to report one event and account for it.
 *
 * The leader is special: when the process dies, the kernel reports the
 * leader's exit only after every other thread's exit has been collected,
 * and a leader that called pthread_exit() is reported only when the whole
 * process ends. So the leader is polled, collecting the other threads'
 * events meanwhile, and counted gone once it is a zombie. */
static int wait_event(struct pt_group *g, size_t i)
{
	pid_t tid = g->threads[i].tid;
	unsigned int spins;
	size_t j;
	int st;
	pid_t r;

	if (tid != g->pid) {
		do
			r = waitpid(tid, &st, __WALL);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			st = 0x9; /* as if killed: no such child */
		return handle_status(g, i, st);
	}
	for (spins = 0;; spins++) {
		r = waitpid(tid, &st, __WALL | WNOHANG);
		if (r == tid)
			return handle_status(g, i, st);
		if (r < 0 && errno != EINTR)
			return handle_status(g, i, 0x9);
		for (j = 0; j < g->n; j++) {
			if (j == i || g->threads[j].gone)
				continue;
			if (waitpid(g->threads[j].tid, &st, __WALL | WNOHANG) == g->threads[j].tid)
				handle_status(g, j, st);
		}
		if (spins % 64 == 63 && status_field(g->pid, tid, "State:") == 'Z') {
			g->threads[i].gone = true;
			g->threads[i].stopped = false;
			g->threads[i].interrupt_pending = false;
			return -ESRCH;
		}
		usleep(spins < 64 ? 10 : 1000);
	}
}

/* Wait until thread i is in a ptrace-stop. Any stop will do: the kernel
 * drops a pending interrupt when a thread stops for anything else (a clone,
 * a signal), so waiting for the interrupt's own stop could wait forever. But
 * when the thread had stopped before the interrupt came, the interrupt stays
 * pending and would stop it again right after it resumes: trap_maybe tells
 * ptrace_resume_one() to look for that stop. */
static int settle(struct pt_group *g, size_t i)
{
	int err;

	for (;;) {
		if (g->threads[i].gone)
			return -ESRCH;
		if (g->threads[i].stopped) {
			if (g->threads[i].interrupt_pending) {
				g->threads[i].interrupt_pending = false;
				g->threads[i].trap_maybe = true;
			}
			return 0;
		}
		err = wait_event(g, i);
		if (err && err != -ESRCH)
			return err;
	}
}

static int interrupt(struct pt_group *g, size_t i)
{
	struct pt_thread *t = &g->threads[i];

	if (t->gone || t->stopped || t->interrupt_pending)
		return 0;
	if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0) {
		if (errno == ESRCH) {
			/* Exiting: its exit status will tell. */
			t->interrupt_pending = true;
			return 0;
		}
		return -errno;
	}
	t->interrupt_pending = true;
	return 0;
}

size_t ptrace_live_threads(const struct pt_group *g)
{
	size_t i, live = 0;

	for (i = 0; i < g->n; i++)
		live += !g->threads[i].gone;
	return live;
}

long ptrace_pick_thread(const struct pt_group *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (!g->threads[i].gone && g->threads[i].tid == g->pid)
			return (long)i;
	for (i = 0; i < g->n; i++)
		if (!g->threads[i].gone)
			return (long)i;
	return -1;
}

int ptrace_stop_all(struct pt_group *g)
{
	size_t i;
	int err;

	/* Collect stops that happened since we last looked (a clone, a
	 * signal), so no interrupt is sent to a thread stopped already: it
	 * would stay pending and stop the thread again after the window. */
	for (i = 0; i < g->n; i++) {
		struct pt_thread *t = &g->threads[i];
		int st;

		if (!t->gone && !t->stopped && !t->interrupt_pending &&
		    waitpid(t->tid, &st, __WALL | WNOHANG) == t->tid)
			handle_status(g, i, st);
	}
	g->first_stop_ns = ptrace_now_ns();
	for (i = 0; i < g->n; i++) {
		err = interrupt(g, i);
		if (err) {
			pr_warn("ptrace: pid %d: thread %d: cannot interrupt: %s", (int)g->pid,
				(int)g->threads[i].tid, hp_strerror(err));
			return err;
		}
	}
	/* g->n grows when a clone is reported. The leader last: by then its
	 * stop has arrived and the poll in wait_event() costs nothing. */
	for (i = 0; i < g->n; i++) {
		if (g->threads[i].tid == g->pid)
			continue;
		err = settle(g, i);
		if (err && err != -ESRCH)
			return err;
	}
	for (i = 0; i < g->n; i++) {
		if (g->threads[i].tid != g->pid)
			continue;
		err = settle(g, i);
		if (err && err != -ESRCH)
			return err;
	}
	if (!ptrace_live_threads(g)) {
		pr_warn("live: pid %d: the process exited", (int)g->pid);
		return -HP_E_PROCESS;
	}
	return 0;
}

int ptrace_stop_one(struct pt_group *g, size_t i)
{
	int err = interrupt(g, i);

	if (!err)
		err = settle(g, i);
	if (err == -ESRCH) {
		pr_warn("live: pid %d: thread %d exited", (int)g->pid, (int)g->threads[i].tid);
		return -HP_E_PROCESS;
	}
	return err;
}

int ptrace_resume_one(struct pt_group *g, size_t i)
{
	struct pt_thread *t = &g->threads[i];
	int sig = t->pending_sig;

	if (t->gone || !t->stopped)
		return 0;
	t->pending_sig = 0;
	t->stopped = false;
	if (ptrace(PTRACE_CONT, t->tid, 0, (long)sig) < 0) {
		if (errno == ESRCH) {
			t->gone = true;
			return 0;
		}
		return -errno;
	}
	if (t->trap_maybe) {
		int tries, st;

		/* Collect the left-over interrupt stop, if it comes, and let
		 * the thread go on; rare, and brief when it happens. */
		t->trap_maybe = false;
		for (tries = 0; tries < 20; tries++) {
			pid_t r = waitpid(t->tid, &st, __WALL | WNOHANG);

			if (r == t->tid) {
				if (handle_status(g, i, st) == 0 && g->threads[i].stopped)
					return ptrace_resume_one(g, i);
				return 0;
			}
			if (r < 0)
				return 0;
			usleep(5);
		}
	}
	return 0;
}

void ptrace_resume_all(struct pt_group *g, bool detach)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		struct pt_thread *t = &g->threads[i];

		if (t->gone || !t->stopped)
			continue;
		if (detach) {
			if (ptrace(PTRACE_DETACH, t->tid, 0, (long)t->pending_sig) < 0 &&
			    errno != ESRCH)
				pr_warn("ptrace: pid %d: thread %d: cannot detach: %s", (int)g->pid,
					(int)t->tid, strerror(errno));
			/* Detached: no longer ours to wait for. */
			t->gone = true;
			t->stopped = false;
			t->pending_sig = 0;
		} else {
			ptrace_resume_one(g, i);
		}
	}
	g->last_resume_ns = ptrace_now_ns();
}

int ptrace_set_regs(struct pt_group *g, size_t i, const struct user_regs_struct *regs)
{
	if (ptrace(PTRACE_SETREGS, g->threads[i].tid, 0, regs) < 0)
		return -errno;
	g->threads[i].regs = *regs;
	return 0;
}

void ptrace_release(struct pt_group *g)
{
	size_t i;

	if (!g)
		return;
	/* PTRACE_DETACH needs a stopped tracee: stop the running ones one at
	 * a time (they are already patched or untouched, so this is not the
	 * stop window) and let each go at once. */
	for (i = 0; i < g->n; i++) {
		struct pt_thread *t = &g->threads[i];

		if (t->gone)
			continue;
		if (!t->stopped || t->interrupt_pending) {
			if (interrupt(g, i) || settle(g, i))
				continue;
		}
		t = &g->threads[i];
		if (ptrace(PTRACE_DETACH, t->tid, 0, (long)t->pending_sig) < 0 && errno != ESRCH)
			pr_warn("ptrace: pid %d: thread %d: cannot detach: %s", (int)g->pid,
				(int)t->tid, strerror(errno));
		t->gone = true;
		t->stopped = false;
	}
	free(g->threads);
	g->threads = NULL;
	g->n = g->cap = 0;
}

/* Why a seize of tid failed, in words, and the error code for it. */
static int seize_error(struct pt_group *g, pid_t tid, int err)
{
	long tracer = status_field(g->pid, tid, "TracerPid:");

	if (err == ESRCH) {
		pr_warn("live: pid %d: process exited", (int)g->pid);
		return -HP_E_PROCESS;
	}
	if (tracer > 0 && tracer != getpid()) {
		pr_warn("live: pid %d: thread %d is already traced by pid %ld", (int)g->pid,
			(int)tid, tracer);
		return -HP_E_PROCESS;
	}
	if (privilege_denied(err)) {
		char why[256];

		privilege_why(g->pid, why, sizeof(why));
		pr_warn("live: pid %d: not allowed to trace it: %s", (int)g->pid, why);
		return -HP_E_PRIVILEGE;
	}
	pr_warn("live: pid %d: thread %d: cannot seize: %s", (int)g->pid, (int)tid, strerror(err));
	return -HP_E_PROCESS;
}

int ptrace_seize_all(struct pt_group *g, pid_t pid)
{
	pid_t *tids = NULL;
	size_t ntids = 0, i;
	int round, err = 0, added;
	long tgid;

	memset(g, 0, sizeof(*g));
	g->pid = pid;
	if (pid <= 0 || pid == getpid()) {
		pr_warn("live: pid %d: cannot patch %s", (int)pid,
			pid <= 0 ? "an invalid process id" : "the patcher itself");
		return -HP_E_PROCESS;
	}
	tgid = status_field(pid, pid, "Tgid:");
	if (tgid < 0) {
		pr_warn("live: pid %d: no such process", (int)pid);
		return -HP_E_PROCESS;
	}
	if (tgid != pid) {
		pr_warn("live: pid %d: is a thread of process %ld, not a process", (int)pid, tgid);
		return -HP_E_PROCESS;
	}
	for (round = 0; round < SEIZE_ROUNDS; round++) {
		free(tids);
		tids = NULL;
		err = procmaps_tasks(pid, &tids, &ntids);
		if (err) {
			pr_warn("live: pid %d: process exited", (int)pid);
			err = -HP_E_PROCESS;
			goto out;
		}
		added = 0;
		for (i = 0; i < ntids; i++) {
			if (find_thread(g, tids[i]))
				continue;
			if (ptrace(PTRACE_SEIZE, tids[i], 0, PTRACE_O_TRACECLONE) < 0) {
				int e = errno;

				/* Seized already by the kernel for us, through a
				 * clone of a thread we hold. */
				if (e == EPERM && status_field(pid, tids[i], "TracerPid:") == getpid()) {
					err = add_thread(g, tids[i]);
					if (err)
						goto out;
					g->threads[g->n - 1].interrupt_pending = true;
					added++;
					continue;
				}
				/* A thread that exited meanwhile is no loss;
				 * the leader gone means the process is. An
				 * exiting thread refuses with EPERM. */
				if (tids[i] != pid) {
					long state = status_field(pid, tids[i], "State:");

					if (e == ESRCH || state < 0 || state == 'Z' || state == 'X')
						continue;
				}
				err = seize_error(g, tids[i], e);
				goto out;
			}
			err = add_thread(g, tids[i]);
			if (err)
				goto out;
			/* A leader that called pthread_exit() stays a zombie
			 * until the others exit: never wait for it. */
			if (tids[i] == pid && status_field(pid, pid, "State:") == 'Z')
				g->threads[g->n - 1].gone = true;
			added++;
		}
		if (!added)
			break;
	}
	if (round == SEIZE_ROUNDS) {
		pr_warn("live: pid %d: threads keep appearing faster than they can be seized",
			(int)pid);
		err = -HP_E_PROCESS;
		goto out;
	}
	pr_debug("live: pid %d: seized %zu threads", (int)pid, g->n);
out:
	free(tids);
	if (err)
		ptrace_release(g);
	return err;
}

int ptrace_seize_thread(struct pt_group *g, pid_t pid, pid_t tid)
{
	int err;

	memset(g, 0, sizeof(*g));
	g->pid = pid;
	if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0)
		return seize_error(g, tid, errno);
	err = add_thread(g, tid);
	if (err)
		ptrace(PTRACE_DETACH, tid, 0, 0);
	return err;
}
