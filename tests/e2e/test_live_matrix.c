/* make matrix PATCH=live, end to end: the patched side of every cell is an
 * unpatched eligible build patched while it runs (hotpatch apply --live
 * --pid on each srv once it listens, and on long-running smbcli connect
 * --stdin clients), and all 36 cells must equal the article. The article's
 * table itself proves the patches took: a patched cell differs from its
 * unpatched twin in 8 rows. The long-running client is checked on its own:
 * an unpatched process changes outcome, on the same server, once patched. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

#define MRX_ELIGIBLE "5.2.3790.2697"
#define SRV_ELIGIBLE "5.2.3790.2691"

static void matrix_live_equals_article(void)
{
	ts_matrix_equals_article("live");
}

/* smbcli connect --stdin, patched between two lines. The server requires
 * signing and the client's setting is Disabled: unpatched, the client will
 * not sign (no communication); patched, it signs because the server
 * requires it. Same process, same server. */
static void long_running_client_switches(void)
{
	static const char sconf[] = "EnableSecuritySignature=1\nRequireSecuritySignature=1\n";
	static const char cconf[] = "EnableSecuritySignature=0\nRequireSecuritySignature=0\n";
	const char *dir = ts_tmpdir();
	char cmd[8192], path[4096], *out = NULL, *err = NULL;
	int port, rc;
	pid_t srv;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	snprintf(path, sizeof(path), "%s/share", dir);
	CU_ASSERT_FATAL(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/server.conf", dir);
	CU_ASSERT_FATAL(ts_write_file(path, sconf, strlen(sconf)) == 0);
	snprintf(path, sizeof(path), "%s/client.conf", dir);
	CU_ASSERT_FATAL(ts_write_file(path, cconf, strlen(cconf)) == 0);
	port = ts_free_port();
	{
		char listen[64], conf[4096], share[4096], *bin;

		snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
		snprintf(conf, sizeof(conf), "%s/server.conf", dir);
		snprintf(share, sizeof(share), "%s/share", dir);
		bin = strdup(ts_build_path("targets/srv/" SRV_ELIGIBLE "/srv"));
		char *argv[] = { bin, "--listen", listen, "--config", conf, "--share", share, NULL };

		srv = ts_spawn(argv, NULL);
		free(bin);
	}
	CU_ASSERT_FATAL(srv > 0);
	CU_ASSERT_FATAL(ts_wait_port(port, 5000));
	/* One shell drives the client through a fifo: a connection, the patch
	 * of that very process, a second connection. */
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd '%s'; mkfifo in; exec 3<>in\n"
		 "'%s' connect --stdin --config client.conf <in >out 2>err 3>&- & pid=$!\n"
		 "trap 'kill -9 $pid 2>/dev/null' EXIT\n"
		 "lines() { for i in $(seq 1000); do [ $(wc -l <out) -ge $1 ] && return 0; "
		 "sleep 0.01; done; echo \"no line $1 from smbcli\" >&2; return 1; }\n"
		 "lines 1\n"
		 "echo 127.0.0.1:%d >&3; lines 2\n"
		 "'%s' apply '%s' --trusted-key '%s' --live --pid $pid --state-dir state >apply.out 2>&1\n"
		 "echo 127.0.0.1:%d >&3; lines 3\n"
		 "exec 3>&-; wait $pid; trap - EXIT; echo \"pid $pid\"; cat out\n",
		 dir, ts_build_path("targets/mrxsmb/" MRX_ELIGIBLE "/smbcli"), port,
		 ts_build_path("bin/hotpatch"), ts_build_path("packages/KB916846/manifest.json"),
		 ts_build_path("keys/vendor.pub"), port);
	rc = ts_sh(cmd, &out, &err);
	if (rc != 0)
		fprintf(stderr, "driver exited %d:\n%s\n%s\n", rc, out ? out : "", err ? err : "");
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	{
		char *ready = strstr(out, "\nready\n"), *first, *second;

		CU_ASSERT_PTR_NOT_NULL_FATAL(ready);
		first = ready + 7;
		second = strchr(first, '\n');
		CU_ASSERT_PTR_NOT_NULL_FATAL(second);
		second++;
		CU_ASSERT_EQUAL(strncmp(first, "no-communication:", 17), 0);
		CU_ASSERT_EQUAL(strncmp(second, "signed:", 7), 0);
	}
	free(out);
	free(err);
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "make matrix PATCH=live: 36 cells equal the article", matrix_live_equals_article },
		{ "smbcli connect --stdin switches outcome once patched", long_running_client_switches },
		{ NULL, NULL },
	};

	ts_add_suite("live matrix", tests);
}
