/* hotpatch apply --live and rollback --live on real srv processes serving on
 * loopback, with the signed KB916846 package: the fixed client (which
 * requires signing and announces it) gets no communication from an
 * unpatched server with signing disabled, a signed session once the running
 * server is patched, and no communication again after the rollback; the
 * server's pid never changes. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "support.h"

#define SRV_ELIGIBLE "5.2.3790.2691"
#define SRV_OLD "5.2.3790.1830"
#define MRX_FIXED "5.2.3790.2734"

/* The commands keep their journal and lock under the test's directory. */
static void use_state_dir(const char *dir)
{
	char state[4096];

	snprintf(state, sizeof(state), "%s/state", dir);
	setenv("HOTPATCH_STATE_DIR", state, 1);
}

static pid_t start_srv(const char *dir, const char *version, int *port)
{
	char listen[64], conf[4096], share[4096], *bin = NULL;
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/lanmanserver.conf", dir);
	snprintf(share, sizeof(share), "%s/share", dir);
	*port = ts_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", *port);
	bin = strdup(ts_build_path("targets/srv/%s/srv", version));
	{
		char *argv[] = { bin, "--listen", listen, "--config", conf, "--share", share,
				 "--threads", "4", NULL };

		pid = ts_spawn(argv, NULL);
	}
	free(bin);
	return ts_wait_port(*port, 5000) ? pid : -1;
}

/* smbcli connect's exit: 0 signed, 10 not signed, 11 no communication. */
static int connect_fixed(const char *dir, int port)
{
	char *out;
	int rc;

	out = ts_run_cmd("'%s' connect --server 127.0.0.1:%d --config '%s/client.conf'", &rc,
		  ts_build_path("targets/mrxsmb/" MRX_FIXED "/smbcli"), port, dir);
	free(out);
	return rc;
}

static void apply_and_rollback_running_srv(void)
{
	static const char sconf[] = "EnableSecuritySignature=0\nRequireSecuritySignature=0\n";
	static const char cconf[] = "EnableSecuritySignature=1\nRequireSecuritySignature=1\n";
	const char *dir = ts_tmpdir(), *hp = ts_build_path("bin/hotpatch");
	const char *manifest = ts_build_path("packages/KB916846/manifest.json");
	const char *key = ts_build_path("keys/vendor.pub");
	char path[4096], *out;
	pid_t srv, old;
	int port, port_old, rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	use_state_dir(dir);
	snprintf(path, sizeof(path), "%s/share", dir);
	CU_ASSERT_FATAL(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/lanmanserver.conf", dir);
	CU_ASSERT_FATAL(ts_write_file(path, sconf, strlen(sconf)) == 0);
	snprintf(path, sizeof(path), "%s/client.conf", dir);
	CU_ASSERT_FATAL(ts_write_file(path, cconf, strlen(cconf)) == 0);
	srv = start_srv(dir, SRV_ELIGIBLE, &port);
	old = start_srv(dir, SRV_OLD, &port_old);
	CU_ASSERT_FATAL(srv > 0 && old > 0);

	CU_ASSERT_EQUAL(connect_fixed(dir, port), 11);

	out = ts_run_cmd("'%s' apply '%s' --trusted-key '%s' --live --pid %d", &rc, hp, manifest, key, (int)srv);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(out && strstr(out, "patched (") && strstr(out, "1 processes patched"));
	free(out);
	CU_ASSERT_EQUAL(connect_fixed(dir, port), 0);
	CU_ASSERT(ts_proc_state(srv) == 'S' || ts_proc_state(srv) == 'R');
	{
		/* The journal holds the intent and its completion. */
		char jpath[4096], want[64], *j;

		snprintf(jpath, sizeof(jpath), "%s/state/journal", dir);
		j = ts_read_file(jpath, NULL);
		snprintf(want, sizeof(want), "%d", (int)srv);
		CU_ASSERT(j && strstr(j, "KB916846") && strstr(j, want));
		free(j);
	}

	/* Again: already applied, nothing changed. */
	out = ts_run_cmd("'%s' --json apply '%s' --trusted-key '%s' --live --pid %d", &rc, hp, manifest, key,
		  (int)srv);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(out && strstr(out, "\"already applied\"") && strstr(out, "\"changed\": false"));
	free(out);

	/* A version the package was not built for: skipped, exit 3. */
	out = ts_run_cmd("'%s' --json apply '%s' --trusted-key '%s' --live --pid %d", &rc, hp, manifest, key,
		  (int)old);
	CU_ASSERT_EQUAL(rc, 3);
	CU_ASSERT(out && strstr(out, "\"skipped\"") && strstr(out, "not eligible"));
	free(out);
	CU_ASSERT_EQUAL(connect_fixed(dir, port_old), 11);

	out = ts_run_cmd("'%s' --json rollback KB916846 --live --pid %d", &rc, hp, (int)srv);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(out && strstr(out, "\"rolled back\"") && strstr(out, "\"region_released\": true"));
	free(out);
	CU_ASSERT_EQUAL(connect_fixed(dir, port), 11);

	out = ts_run_cmd("'%s' rollback KB916846 --live --pid %d", &rc, hp, (int)srv);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(out && strstr(out, "not applied"));
	free(out);

	/* hotpatch killed right after writing the jump, before marking its
	 * record: the server runs the new code, status tells so, a new apply
	 * says already applied, rollback completes. */
	out = ts_run_cmd("HOTPATCH_FAULT=live-apply-jumped '%s' apply '%s' --trusted-key '%s' --live --pid %d",
		  &rc, hp, manifest, key, (int)srv);
	CU_ASSERT_EQUAL(rc, 128 + SIGKILL);
	free(out);
	CU_ASSERT_EQUAL(connect_fixed(dir, port), 0);
	out = ts_run_cmd("'%s' apply '%s' --trusted-key '%s' --live --pid %d", &rc, hp, manifest, key,
		  (int)srv);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(out && strstr(out, "already applied"));
	free(out);
	out = ts_run_cmd("HOTPATCH_FAULT=live-rollback-restored '%s' rollback KB916846 --live --pid %d", &rc,
		  hp, (int)srv);
	CU_ASSERT_EQUAL(rc, 128 + SIGKILL);
	free(out);
	CU_ASSERT_EQUAL(connect_fixed(dir, port), 11);
	out = ts_run_cmd("'%s' rollback KB916846 --live --pid %d", &rc, hp, (int)srv);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(out && strstr(out, "not applied"));
	free(out);

	/* Usage and a process that is not there. */
	out = ts_run_cmd("'%s' apply '%s' --trusted-key '%s' --pid %d", &rc, hp, manifest, key, (int)srv);
	CU_ASSERT_EQUAL(rc, 2);
	free(out);
	out = ts_run_cmd("'%s' rollback KB916846 --live --pid %d", &rc, hp, 0x7ffffff0);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(out && strstr(out, "no such process"));
	free(out);

	/* Same server process all along, still serving. */
	CU_ASSERT_EQUAL(connect_fixed(dir, port), 11);
	CU_ASSERT(ts_stop(srv, 2000) >= 0);
	CU_ASSERT(ts_stop(old, 2000) >= 0);
}

/* Under load: smbcli load (8 clients, reconnecting) runs against srv while
 * the patch is applied and rolled back 20 times; no request may fail. */
static void cycles_under_load(void)
{
	static const char sconf[] = "EnableSecuritySignature=0\nRequireSecuritySignature=0\n";
	static const char cconf[] = "EnableSecuritySignature=1\nRequireSecuritySignature=0\n";
	const char *dir = ts_tmpdir(), *hp = ts_build_path("bin/hotpatch");
	const char *manifest = ts_build_path("packages/KB916846/manifest.json");
	const char *key = ts_build_path("keys/vendor.pub");
	char path[4096], server[64], *out, *bin;
	pid_t srv, load;
	int port, rc, i, st = -1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	use_state_dir(dir);
	snprintf(path, sizeof(path), "%s/share", dir);
	CU_ASSERT_FATAL(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/lanmanserver.conf", dir);
	CU_ASSERT_FATAL(ts_write_file(path, sconf, strlen(sconf)) == 0);
	snprintf(path, sizeof(path), "%s/client.conf", dir);
	CU_ASSERT_FATAL(ts_write_file(path, cconf, strlen(cconf)) == 0);
	srv = start_srv(dir, SRV_ELIGIBLE, &port);
	CU_ASSERT_FATAL(srv > 0);
	snprintf(server, sizeof(server), "127.0.0.1:%d", port);
	bin = strdup(ts_build_path("targets/mrxsmb/" MRX_FIXED "/smbcli"));
	{
		char *argv[] = { bin, "load", "--server", server, "--config", path, "--clients", "8",
				 "--duration", "4", "--reconnect", NULL };

		load = ts_spawn(argv, NULL);
	}
	free(bin);
	usleep(300000);
	for (i = 0; i < 20; i++) {
		out = ts_run_cmd("'%s' apply '%s' --trusted-key '%s' --live --pid %d", &rc, hp, manifest,
			  key, (int)srv);
		CU_ASSERT_EQUAL(rc, 0);
		free(out);
		out = ts_run_cmd("'%s' rollback KB916846 --live --pid %d", &rc, hp, (int)srv);
		CU_ASSERT_EQUAL(rc, 0);
		free(out);
	}
	/* smbcli load exits 0 only when no request failed. */
	for (i = 0; i < 100 && st < 0; i++) {
		int status;

		if (waitpid(load, &status, WNOHANG) == load)
			st = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		else
			usleep(100000);
	}
	CU_ASSERT_EQUAL(st, 0);
	if (st < 0)
		ts_stop(load, 1000);
	CU_ASSERT(ts_proc_state(srv) == 'S' || ts_proc_state(srv) == 'R');
	CU_ASSERT(ts_stop(srv, 2000) >= 0);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "apply --live and rollback --live on a serving srv", apply_and_rollback_running_srv },
		{ "20 apply/rollback cycles under smbcli load, no failed request", cycles_under_load },
		{ NULL, NULL },
	};

	ts_add_suite("live cli", tests);
}
