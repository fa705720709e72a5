/* Control of every thread of a process through ptrace, for the live
 * executor: seize them all (threads created meanwhile included), stop them
 * all at once, read and set registers, resume, and always put the process
 * back as it was. Internal to libhotpatch. */
#ifndef HP_PTRACE_H
#define HP_PTRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/* One thread of the traced process. */
struct pt_thread {
	pid_t tid;                    /* kernel thread id */
	bool stopped;                 /* in a ptrace-stop, registers valid */
	bool gone;                    /* exited while we traced it */
	bool interrupt_pending;       /* PTRACE_INTERRUPT sent, stop not yet seen */
	bool trap_maybe;              /* stopped for something else while our
					 interrupt was pending: the kernel may
					 still hold the trap for after resume */
	int pending_sig;              /* signal caught at a signal-delivery-stop,
					 delivered again when the thread resumes */
	struct user_regs_struct regs; /* registers at the current stop */
};

/* Every thread of one process, seized with PTRACE_SEIZE. */
struct pt_group {
	pid_t pid;                  /* thread group id (the process) */
	struct pt_thread *threads;  /* array of n threads; owned */
	size_t n;                   /* number of threads, exited ones included */
	size_t cap;                 /* allocated entries in threads */
	uint64_t first_stop_ns;     /* CLOCK_MONOTONIC when the last stop began */
	uint64_t last_resume_ns;    /* CLOCK_MONOTONIC when the last resume ended */
};

/* Seize every thread of pid without stopping it, following clones, and scan
 * /proc/PID/task again until no thread appears that is not seized. On error
 * nothing stays attached. Errors: -HP_E_PROCESS (gone, a kernel thread,
 * traced by another tracer: the message says which), -HP_E_PRIVILEGE,
 * -ENOMEM. */
int ptrace_seize_all(struct pt_group *g, pid_t pid);

/* Seize the single thread tid of process pid into an empty group (for a
 * system call run after the others were let go). Errors as
 * ptrace_seize_all(). */
int ptrace_seize_thread(struct pt_group *g, pid_t pid, pid_t tid);

/* Stop every running thread: PTRACE_INTERRUPT to all, then wait for all, so
 * the threads stop in parallel; threads born meanwhile join the group
 * stopped. Registers of each stopped thread are read. Errors: -HP_E_PROCESS
 * when the whole process exited. */
int ptrace_stop_all(struct pt_group *g);

/* Stop one thread (index i) and read its registers. */
int ptrace_stop_one(struct pt_group *g, size_t i);

/* Resume every stopped thread (PTRACE_CONT, with the signal it was stopped
 * for, if any); with detach, PTRACE_DETACH instead, which resumes too. */
void ptrace_resume_all(struct pt_group *g, bool detach);

/* Resume one stopped thread. */
int ptrace_resume_one(struct pt_group *g, size_t i);

/* Write regs into stopped thread i (and its cached copy). */
int ptrace_set_regs(struct pt_group *g, size_t i, const struct user_regs_struct *regs);

/* Detach from every thread, stopping the running ones first as ptrace
 * requires, and free the group. Accepts a zeroed group. The process keeps
 * running as if never traced. */
void ptrace_release(struct pt_group *g);

/* Index of the thread to use for work done inside the process: the leader
 * when alive, otherwise the first live thread; -1 when none. */
long ptrace_pick_thread(const struct pt_group *g);

/* Number of threads not known to have exited. */
size_t ptrace_live_threads(const struct pt_group *g);

/* The current CLOCK_MONOTONIC time in nanoseconds. */
uint64_t ptrace_now_ns(void);

#endif /* HP_PTRACE_H */
