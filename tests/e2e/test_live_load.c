/* The load acceptance of live patching: srv serving smbcli load --clients
 * 32 (persistent sessions, echo and read) while KB916846 is applied to it
 * and rolled back 100 times (HP_LIVE_LOAD_CYCLES overrides):
 * no request may fail, the server's pid never changes, and the outcome for
 * new connections switches every time. Two witnesses of the switch: after
 * each apply and each rollback, one connection of the fixed client (which
 * requires signing) must be signed, then no communication; and a second
 * smbcli load --reconnect of that client, running throughout, must report
 * a change of outcome at least once per step. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "support.h"

#define SRV_ELIGIBLE "5.2.3790.2691"
#define MRX_ELIGIBLE "5.2.3790.2697"
#define MRX_FIXED "5.2.3790.2734"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run argv quietly; its exit status. */
static int quiet(char *const argv[])
{
	char *out = NULL, *err = NULL;
	int rc = ts_run(argv, NULL, &out, &err);

	if (rc != 0 && rc != 11)
		fprintf(stderr, "%s exited %d:\n%s%s", argv[0], rc, out ? out : "", err ? err : "");
	free(out);
	free(err);
	return rc;
}

/* smbcli SUBCOMMAND... in the background, stdout to out (exec keeps the
 * pid smbcli's, so SIGTERM reaches it). The clients stand for other
 * machines: on the test's own CPUs they run at a lower priority, so that
 * they load srv without starving hotpatch, which would only measure the
 * scheduler. */
static pid_t spawn_load(const char *bin, const char *args, const char *out)
{
	char *cmd = NULL;
	pid_t pid;

	if (asprintf(&cmd, "exec nice -n 10 '%s' %s >'%s'", bin, args, out) < 0)
		return -1;
	{
		char *argv[] = { "/bin/sh", "-c", cmd, NULL };

		pid = ts_spawn(argv, NULL);
	}
	free(cmd);
	return pid;
}

static int count_lines(const char *text, const char *prefix)
{
	const char *p = text;
	int n = 0;

	while (p && *p) {
		n += !strncmp(p, prefix, strlen(prefix));
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return n;
}

static void cycles_under_load(void)
{
	static const char sconf[] = "EnableSecuritySignature=0\nRequireSecuritySignature=0\n";
	static const char enabled[] = "EnableSecuritySignature=1\nRequireSecuritySignature=0\n";
	static const char required[] = "EnableSecuritySignature=1\nRequireSecuritySignature=1\n";
	const char *dir = ts_tmpdir(), *env = getenv("HP_LIVE_LOAD_CYCLES");
	int cycles = env ? atoi(env) : 100, port, i, rc, load_rc, watch_rc, bad = 0;
	char share[4096], conf[4096], econf[4096], rconf[4096], state[4096], server[64];
	char lpath[4096], wpath[4096], listen[64], args[8192], pidstr[16];
	char *hp, *manifest, *key, *fixed, *srvbin, *report = NULL, *changes = NULL;
	pid_t srv, load, watch;
	double t0, t1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	CU_ASSERT_FATAL(cycles > 0);
	snprintf(share, sizeof(share), "%s/share", dir);
	snprintf(conf, sizeof(conf), "%s/server.conf", dir);
	snprintf(econf, sizeof(econf), "%s/enabled.conf", dir);
	snprintf(rconf, sizeof(rconf), "%s/required.conf", dir);
	/* The journal is fsync'd at every step; on a disk shared with other
	 * work one fsync can take seconds, which would measure the disk, not
	 * live patching. Its durability has tests of its own
	 * (test_state_files): here it lives in memory when it can. */
	snprintf(state, sizeof(state), "/dev/shm/hp-live-load.XXXXXX");
	if (!mkdtemp(state))
		snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(lpath, sizeof(lpath), "%s/load.json", dir);
	snprintf(wpath, sizeof(wpath), "%s/watch.out", dir);
	CU_ASSERT_FATAL(mkdir(share, 0755) == 0);
	snprintf(args, sizeof(args), "%s/readme.txt", share);
	CU_ASSERT_FATAL(ts_write_file(args, "KB916846\n", 9) == 0);
	CU_ASSERT_FATAL(ts_write_file(conf, sconf, strlen(sconf)) == 0);
	CU_ASSERT_FATAL(ts_write_file(econf, enabled, strlen(enabled)) == 0);
	CU_ASSERT_FATAL(ts_write_file(rconf, required, strlen(required)) == 0);
	hp = strdup(ts_build_path("bin/hotpatch"));
	manifest = strdup(ts_build_path("packages/KB916846/manifest.json"));
	key = strdup(ts_build_path("keys/vendor.pub"));
	fixed = strdup(ts_build_path("targets/mrxsmb/" MRX_FIXED "/smbcli"));
	srvbin = strdup(ts_build_path("targets/srv/" SRV_ELIGIBLE "/srv"));

	port = ts_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(server, sizeof(server), "127.0.0.1:%d", port);
	{
		char *argv[] = { srvbin, "--listen", listen, "--config", conf, "--share", share,
				 "--threads", "64", NULL };

		srv = ts_spawn(argv, NULL);
	}
	CU_ASSERT_FATAL(srv > 0 && ts_wait_port(port, 5000));
	snprintf(pidstr, sizeof(pidstr), "%d", (int)srv);

	snprintf(args, sizeof(args),
		 "load --server %s --config '%s' --clients 32 --duration 3600 --read readme.txt --json",
		 server, econf);
	load = spawn_load(ts_build_path("targets/mrxsmb/" MRX_ELIGIBLE "/smbcli"), args, lpath);
	snprintf(args, sizeof(args),
		 "load --server %s --config '%s' --clients 2 --duration 3600 --reconnect", server,
		 rconf);
	watch = spawn_load(fixed, args, wpath);
	CU_ASSERT_FATAL(load > 0 && watch > 0);
	usleep(300000);

	t0 = now_s();
	for (i = 0; i < cycles; i++) {
		char *apply[] = { hp, "apply", manifest, "--trusted-key", key, "--live", "--pid",
				  pidstr, "--state-dir", state, NULL };
		char *rollback[] = { hp, "rollback", "KB916846", "--live", "--pid", pidstr,
				     "--state-dir", state, NULL };
		char *connect[] = { fixed, "connect", "--server", server, "--config", rconf, NULL };

		rc = quiet(apply);
		bad += rc != 0;
		rc = quiet(connect);
		bad += rc != 0;   /* signed */
		rc = quiet(rollback);
		bad += rc != 0;
		rc = quiet(connect);
		bad += rc != 11;  /* no communication */
		if (bad) {
			fprintf(stderr, "cycle %d went wrong\n", i + 1);
			break;
		}
	}
	t1 = now_s();
	CU_ASSERT_EQUAL(bad, 0);
	/* The same server process served everything. */
	CU_ASSERT(ts_proc_state(srv) == 'S' || ts_proc_state(srv) == 'R');
	CU_ASSERT_EQUAL(waitpid(srv, NULL, WNOHANG), 0);

	/* SIGTERM ends each load with its report; exit 0 means no failure. */
	load_rc = ts_stop(load, 20000);
	watch_rc = ts_stop(watch, 20000);
	CU_ASSERT_EQUAL(load_rc, 0);
	CU_ASSERT_EQUAL(watch_rc, 0);
	report = ts_read_file(lpath, NULL);
	changes = ts_read_file(wpath, NULL);
	CU_ASSERT_PTR_NOT_NULL(report && strstr(report, "\"failed\": 0,"));
	CU_ASSERT_PTR_NOT_NULL(report && strstr(report, "\"clients\": 32,"));
	CU_ASSERT_PTR_NOT_NULL(changes && strstr(changes, "\nfailed 0\n"));
	/* none -> no-communication, then one change per apply and rollback. */
	{
		int nchg = count_lines(changes, "change: ");

		CU_ASSERT(nchg >= 2 * i + 1);
		fprintf(stderr,
			"live load: %d apply/rollback cycles in %.2f s (%.1f ms each) under smbcli load --clients 32; outcome changes seen by --reconnect: %d\nload report: %s",
			i, t1 - t0, (t1 - t0) * 1000.0 / (i ? i : 1), nchg, report ? report : "?\n");
	}
	CU_ASSERT(ts_stop(srv, 5000) == 0);
	if (!strncmp(state, "/dev/shm/", 9)) {
		char *rm[] = { "rm", "-rf", state, NULL };

		quiet(rm);
	}
	free(report);
	free(changes);
	free(hp);
	free(manifest);
	free(key);
	free(fixed);
	free(srvbin);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "srv under smbcli load --clients 32: apply/rollback cycles, no failed request, outcome switches, same pid",
		  cycles_under_load },
		{ NULL, NULL },
	};

	ts_add_suite("live load", tests);
}
