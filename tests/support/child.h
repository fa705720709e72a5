/* A child process driven through its stdin and stdout, line by line: the
 * live tests use it to talk to the fixture programs they patch. */
#ifndef HP_TEST_CHILD_H
#define HP_TEST_CHILD_H

#include <stdio.h>
#include <sys/types.h>

struct ts_child {
	pid_t pid;   /* the child's process id, 0 once reaped */
	FILE *in;    /* its stdin, line buffered */
	FILE *out;   /* its stdout */
};

/* Start argv with pipes on stdin and stdout (stderr inherited). Returns 0
 * or -1. */
int ts_child_start(struct ts_child *c, char *const argv[]);

/* Read one line (without its newline) into buf, waiting up to timeout_ms.
 * Returns 0, or -1 on timeout or end of file. */
int ts_child_line(struct ts_child *c, char *buf, size_t len, int timeout_ms);

/* Send cmd and read the answer line into buf. Returns 0 or -1. */
int ts_child_ask(struct ts_child *c, const char *cmd, char *buf, size_t len, int timeout_ms);

/* SIGKILL and reap it; returns what ts_stop() would. Accepts a child never
 * started (pid 0). */
int ts_child_kill(struct ts_child *c);

/* Is the process running (not a zombie, not stopped)? Reads
 * /proc/PID/stat; returns the state letter, or 0 when gone. */
char ts_proc_state(pid_t pid);

#endif
