/* Refusals of hotpatch apply --live through the real CLI on real
 * processes, each with nothing changed: a pid that maps no target of the
 * package, a srv already traced by another tracer, a srv whose code in
 * memory no longer matches the fingerprint. (The library-level refusals,
 * busy and a process exiting during the patch among them, are in
 * test_live.c on the live fixture; a not-eligible version is in
 * test_live_cli.c.) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "hotpatch.h"
#include "support.h"

#define SRV_ELIGIBLE "5.2.3790.2691"

/* hotpatch apply --live --pid PID; its exit status, output in *out. */
static int apply(const char *dir, pid_t pid, char **out)
{
	char *cmd = NULL, *o = NULL, *e = NULL;
	int rc;

	if (asprintf(&cmd, "'%s' apply '%s' --trusted-key '%s' --live --pid %d --state-dir '%s/state'",
		     ts_build_path("bin/hotpatch"), ts_build_path("packages/KB916846/manifest.json"),
		     ts_build_path("keys/vendor.pub"), (int)pid, dir) < 0)
		return -1;
	rc = ts_sh(cmd, &o, &e);
	fprintf(stderr, "$ %s\n%s%s[exit %d]\n", cmd, o ? o : "", e ? e : "", rc);
	if (asprintf(out, "%s%s", o ? o : "", e ? e : "") < 0)
		*out = NULL;
	free(cmd);
	free(o);
	free(e);
	return rc;
}

static pid_t start_srv(const char *dir, int *port)
{
	static const char sconf[] = "EnableSecuritySignature=0\nRequireSecuritySignature=0\n";
	char listen[64], conf[4096], share[4096], *bin;
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/server.conf", dir);
	snprintf(share, sizeof(share), "%s/share", dir);
	mkdir(share, 0755);
	if (ts_write_file(conf, sconf, strlen(sconf)))
		return -1;
	*port = ts_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", *port);
	bin = strdup(ts_build_path("targets/srv/" SRV_ELIGIBLE "/srv"));
	{
		char *argv[] = { bin, "--listen", listen, "--config", conf, "--share", share,
				 "--threads", "4", NULL };

		pid = ts_spawn(argv, NULL);
	}
	free(bin);
	return pid > 0 && ts_wait_port(*port, 5000) ? pid : -1;
}

static int carries(pid_t pid)
{
	struct hp_live_status st;

	return hp_live__status(pid, "KB916846", &st) == 0;
}

static void not_a_target(void)
{
	const char *dir = ts_tmpdir();
	char *argv[] = { "sleep", "30", NULL }, *out = NULL;
	pid_t pid = ts_spawn(argv, NULL);
	int rc;

	CU_ASSERT_FATAL(dir && pid > 0);
	usleep(50000);
	rc = apply(dir, pid, &out);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(out && strstr(out, "maps no file of KB916846"));
	CU_ASSERT(out && strstr(out, "0 processes patched"));
	CU_ASSERT_FALSE(carries(pid));
	CU_ASSERT(ts_proc_state(pid) == 'S');
	free(out);
	ts_stop(pid, 1000);
}

/* Another tracer holds the server: refused, the message names it. */
static void already_traced(void)
{
	const char *dir = ts_tmpdir();
	char *out = NULL, want[64];
	int port, rc, sync[2];
	pid_t srv, tracer;

	CU_ASSERT_FATAL(dir && pipe(sync) == 0);
	srv = start_srv(dir, &port);
	CU_ASSERT_FATAL(srv > 0);
	tracer = fork();
	if (tracer == 0) {
		char ok = ptrace(PTRACE_SEIZE, srv, NULL, NULL) == 0 ? 'y' : 'n';

		if (write(sync[1], &ok, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	{
		char ok = 0;

		CU_ASSERT_FATAL(read(sync[0], &ok, 1) == 1 && ok == 'y');
	}
	rc = apply(dir, srv, &out);
	CU_ASSERT_EQUAL(rc, 1);
	snprintf(want, sizeof(want), "%d", (int)tracer);
	CU_ASSERT(out && strstr(out, "failed") && strstr(out, "traced") && strstr(out, want));
	CU_ASSERT_FALSE(carries(srv));
	free(out);
	kill(tracer, SIGKILL);
	waitpid(tracer, NULL, 0);
	/* Once the other tracer is gone, the same server takes the patch. */
	rc = apply(dir, srv, &out);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(carries(srv));
	free(out);
	close(sync[0]);
	close(sync[1]);
	ts_stop(srv, 2000);
}

/* A byte of srv_negotiate_signing changed in memory (after the bytes the
 * jump would replace): the fingerprint no longer matches, exit 5, no
 * region, the byte still as it was. */
static void fingerprint_mismatch(void)
{
	const char *dir = ts_tmpdir();
	struct hp_elf *elf = NULL;
	const struct hp_symbol *sym;
	char path[64], *out = NULL;
	unsigned long long lo = 0;
	uint8_t byte, after;
	int port, rc, fd;
	pid_t srv;

	CU_ASSERT_FATAL(dir != NULL);
	srv = start_srv(dir, &port);
	CU_ASSERT_FATAL(srv > 0);
	elf = hp_elf__open(ts_build_path("targets/srv/" SRV_ELIGIBLE "/srv"));
	CU_ASSERT_PTR_NOT_NULL_FATAL(elf);
	sym = hp_elf__find_symbol(elf, "srv_negotiate_signing");
	CU_ASSERT_FATAL(sym && sym->size > 16);
	/* A PIE: its first mapping is at the load bias. */
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)srv);
	{
		FILE *f = fopen(path, "r");

		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		rc = fscanf(f, "%llx-", &lo);
		fclose(f);
		CU_ASSERT_FATAL(rc == 1);
	}
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)srv);
	fd = open(path, O_RDWR);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(pread(fd, &byte, 1, (off_t)(lo + sym->value + 12)) == 1);
	byte ^= 0xff;
	CU_ASSERT_FATAL(pwrite(fd, &byte, 1, (off_t)(lo + sym->value + 12)) == 1);
	rc = apply(dir, srv, &out);
	CU_ASSERT_EQUAL(rc, 5);
	CU_ASSERT(out && strstr(out, "srv_negotiate_signing") && strstr(out, "fingerprint"));
	CU_ASSERT_FALSE(carries(srv));
	CU_ASSERT(pread(fd, &after, 1, (off_t)(lo + sym->value + 12)) == 1 && after == byte);
	free(out);
	close(fd);
	hp_elf__close(elf);
	/* The routine is damaged now: stop this server without using it. */
	kill(srv, SIGKILL);
	waitpid(srv, NULL, 0);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "a pid that maps no target: refused, untouched", not_a_target },
		{ "a srv traced by another tracer: refused, named; fine once it detaches",
		  already_traced },
		{ "code in memory differs from the fingerprint: exit 5, untouched",
		  fingerprint_mismatch },
		{ NULL, NULL },
	};

	ts_add_suite("live refusals (cli)", tests);
}
