/* Test support: paths, processes, temporary directories and ports for the
 * CUnit programs. Everything here is real: real fork/exec, real sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

#define MAX_STRINGS 4096
static char *strings[MAX_STRINGS];
static size_t nstrings;
static char *tmpdirs[256];
static size_t ntmpdirs;

static const char *keep(char *s)
{
	if (s && nstrings < MAX_STRINGS)
		strings[nstrings++] = s;
	return s;
}

void ts_add_suite(const char *name, const struct ts_test *tests)
{
	CU_pSuite suite = CU_add_suite(name, NULL, NULL);

	for (; suite && tests->name; tests++)
		CU_add_test(suite, tests->name, tests->fn);
}

static const char *env_dir(const char *var, const char *fallback)
{
	const char *v = getenv(var);

	return v && *v ? v : fallback;
}

const char *ts_build_dir(void)
{
	return env_dir("HP_BUILD_DIR", "build");
}

const char *ts_src_dir(void)
{
	return env_dir("HP_SRC_DIR", ".");
}

const char *ts_build_path(const char *fmt, ...)
{
	char *rel = NULL, *full = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&rel, fmt, ap) < 0)
		rel = NULL;
	va_end(ap);
	if (!rel || asprintf(&full, "%s/%s", ts_build_dir(), rel) < 0)
		full = NULL;
	free(rel);
	return keep(full);
}

const char *ts_build_path_raw(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return keep(p);
}

const char *ts_tmpdir(void)
{
	char *dir = NULL;

	mkdir(ts_build_path("tmp"), 0755);
	if (asprintf(&dir, "%s/tmp/test.XXXXXX", ts_build_dir()) < 0)
		return NULL;
	if (!mkdtemp(dir)) {
		free(dir);
		return NULL;
	}
	if (ntmpdirs < sizeof(tmpdirs) / sizeof(tmpdirs[0]))
		tmpdirs[ntmpdirs++] = strdup(dir);
	return keep(dir);
}

/* Read everything from fd into a malloc'd string. */
static char *slurp_fd(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;

	if (!buf)
		return NULL;
	for (;;) {
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

static int status_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

int ts_run(char *const argv[], const char *in_text, char **out, char **err)
{
	char outpath[] = "/tmp/hp-test-out.XXXXXX", errpath[] = "/tmp/hp-test-err.XXXXXX";
	int ofd = mkstemp(outpath), efd = mkstemp(errpath), inpipe[2] = { -1, -1 };
	int status = 0;
	pid_t pid;

	if (ofd < 0 || efd < 0 || pipe(inpipe) < 0)
		return -1;
	unlink(outpath);
	unlink(errpath);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(inpipe[0], 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		close(inpipe[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(inpipe[0]);
	if (in_text && pid > 0) {
		size_t len = strlen(in_text);
		ssize_t n = write(inpipe[1], in_text, len);

		(void)n;
	}
	close(inpipe[1]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		close(ofd);
		close(efd);
		return -1;
	}
	if (out) {
		lseek(ofd, 0, SEEK_SET);
		*out = slurp_fd(ofd);
	}
	if (err) {
		lseek(efd, 0, SEEK_SET);
		*err = slurp_fd(efd);
	}
	close(ofd);
	close(efd);
	return status_code(status);
}

int ts_sh(const char *cmd, char **out, char **err)
{
	char *argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };

	return ts_run(argv, NULL, out, err);
}

/* Every child ts_spawn started, so that a test stopped half-way by a
 * failed fatal assertion leaves no server running behind it. */
static pid_t spawned[256];
static size_t nr_spawned;

/* At exit: a child still unreaped is still ours (its pid cannot have been
 * reused), so it and its process group are killed; one already reaped is
 * left alone (waitpid says ECHILD, whoever has the pid now). */
static void kill_spawned(void)
{
	size_t i;
	int status;

	for (i = 0; i < nr_spawned; i++) {
		if (waitpid(spawned[i], &status, WNOHANG) != 0)
			continue;
		kill(-spawned[i], SIGKILL);
		kill(spawned[i], SIGKILL);
		while (waitpid(spawned[i], &status, 0) < 0 && errno == EINTR)
			;
	}
}

pid_t ts_spawn(char *const argv[], const char *log)
{
	pid_t pid;

	if (!nr_spawned)
		atexit(kill_spawned);
	fflush(NULL);
	pid = fork();
	if (pid > 0 && nr_spawned < sizeof(spawned) / sizeof(spawned[0]))
		spawned[nr_spawned++] = pid;
	if (pid == 0) {
		int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
		int nul = open("/dev/null", O_RDONLY);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (nul >= 0)
			dup2(nul, 0);
		setpgid(0, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int ts_stop(pid_t pid, int timeout_ms)
{
	int status, waited;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	for (waited = 0; waited < timeout_ms; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status_code(status);
		if (r < 0)
			return -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status_code(status);
}

int ts_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

bool ts_wait_port(int port, int timeout_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int waited;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (waited = 0; waited <= timeout_ms; waited += 10) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		if (fd >= 0)
			close(fd);
		if (ok)
			return true;
		usleep(10000);
	}
	return false;
}

char *ts_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	char *buf;
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
	return buf;
}

int ts_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

void ts_cleanup(void)
{
	size_t i;

	if (!getenv("HP_KEEP_TMP")) {
		for (i = 0; i < ntmpdirs; i++) {
			char *cmd = NULL;

			if (asprintf(&cmd, "rm -rf '%s'", tmpdirs[i]) >= 0) {
				int rc = system(cmd);

				(void)rc;
			}
			free(cmd);
			free(tmpdirs[i]);
		}
	}
	ntmpdirs = 0;
	for (i = 0; i < nstrings; i++)
		free(strings[i]);
	nstrings = 0;
}
