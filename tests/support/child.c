/* Children driven line by line through pipes: start, ask, read, kill. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

int ts_child_start(struct ts_child *c, char *const argv[])
{
	int in[2], out[2];

	memset(c, 0, sizeof(*c));
	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	fflush(NULL);
	c->pid = fork();
	if (c->pid < 0) {
		c->pid = 0;
		return -1;
	}
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->in = fdopen(in[1], "w");
	c->out = fdopen(out[0], "r");
	if (!c->in || !c->out)
		return -1;
	setvbuf(c->in, NULL, _IOLBF, 0);
	/* Unbuffered: a line stdio read ahead would hide from poll(). */
	setvbuf(c->out, NULL, _IONBF, 0);
	return 0;
}

int ts_child_line(struct ts_child *c, char *buf, size_t len, int timeout_ms)
{
	struct pollfd p = { .fd = fileno(c->out), .events = POLLIN };

	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	if (!fgets(buf, (int)len, c->out))
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int ts_child_ask(struct ts_child *c, const char *cmd, char *buf, size_t len, int timeout_ms)
{
	if (fprintf(c->in, "%s\n", cmd) < 0 || fflush(c->in))
		return -1;
	return ts_child_line(c, buf, len, timeout_ms);
}

int ts_child_kill(struct ts_child *c)
{
	int st = 0;

	if (c->in)
		fclose(c->in);
	if (c->out)
		fclose(c->out);
	c->in = c->out = NULL;
	if (c->pid <= 0)
		return 0;
	kill(c->pid, SIGKILL);
	while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
		;
	c->pid = 0;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

char ts_proc_state(pid_t pid)
{
	char path[64], st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%*d (%*[^)]) %c", &st) != 1)
		st = 0;
	fclose(f);
	return st;
}
