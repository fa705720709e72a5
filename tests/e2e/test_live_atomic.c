/* A package that replaces several functions in one process: mrxsmb's
 * KB916846 redirects mrx_negotiate_flags2 and mrx_negotiate_signing, two
 * jump writes. hotpatch killed between the two (fault points
 * live-apply-partial and live-rollback-partial) leaves a running client
 * with one function redirected: status must say so (1 of 2), the process
 * must keep running and answering, and the next apply, or the next
 * rollback, must finish the job, after which the client behaves as fully
 * patched or fully unpatched. The client is a long-running smbcli connect
 * --stdin; the server requires signing and the client's setting is
 * Disabled, so unpatched it gets no communication and patched it signs. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "hotpatch.h"
#include "support.h"

#define SRV_ELIGIBLE "5.2.3790.2691"
#define MRX_ELIGIBLE "5.2.3790.2697"

struct rig {
	const char *dir;        /* the test's directory */
	pid_t srv;              /* the server */
	int port;               /* its port */
	struct ts_child cli;    /* smbcli connect --stdin */
};

static int hp(const struct rig *r, const char *fault, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Run hotpatch with arguments fmt (the package's paths substituted by
 * the caller), optionally under a fault point; its output goes to stderr. */
static int hp(const struct rig *r, const char *fault, const char *fmt, ...)
{
	char *args = NULL, *cmd = NULL, *out = NULL, *err = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&args, fmt, ap) < 0)
		args = NULL;
	va_end(ap);
	if (!args || asprintf(&cmd, "%s%s '%s' %s --live --pid %d --state-dir '%s/state'",
			      fault ? "HOTPATCH_FAULT=" : "", fault ? fault : "",
			      ts_build_path("bin/hotpatch"), args, (int)r->cli.pid, r->dir) < 0)
		cmd = NULL;
	rc = cmd ? ts_sh(cmd, &out, &err) : -1;
	fprintf(stderr, "$ %s\n%s%s[exit %d]\n", cmd ? cmd : "?", out ? out : "", err ? err : "", rc);
	free(args);
	free(cmd);
	free(out);
	free(err);
	return rc;
}

static int apply(const struct rig *r, const char *fault)
{
	return hp(r, fault, "apply '%s' --trusted-key '%s'",
		  ts_build_path("packages/KB916846/manifest.json"),
		  ts_build_path("keys/vendor.pub"));
}

static int rollback(const struct rig *r, const char *fault)
{
	return hp(r, fault, "rollback KB916846");
}

/* The outcome of one new connection from the running client. */
static void expect_outcome(struct rig *r, const char *want)
{
	char line[512], addr[64];

	snprintf(addr, sizeof(addr), "127.0.0.1:%d\n", r->port);
	CU_ASSERT_EQUAL_FATAL(ts_child_ask(&r->cli, addr, line, sizeof(line), 10000), 0);
	if (strncmp(line, want, strlen(want)))
		fprintf(stderr, "expected %s, got: %s\n", want, line);
	CU_ASSERT_EQUAL(strncmp(line, want, strlen(want)), 0);
}

/* How many of the record's functions jump now (-1: no record). */
static int applied(const struct rig *r, unsigned int *nfuncs)
{
	struct hp_live_status st;

	if (hp_live__status(r->cli.pid, "KB916846", &st))
		return -1;
	*nfuncs = st.nfuncs;
	return (int)st.applied;
}

static int setup(struct rig *r)
{
	static const char sconf[] = "EnableSecuritySignature=1\nRequireSecuritySignature=1\n";
	static const char cconf[] = "EnableSecuritySignature=0\nRequireSecuritySignature=0\n";
	char path[4096], listen[64], share[4096], conf[4096], line[64], *bin, *cli;

	memset(r, 0, sizeof(*r));
	r->dir = ts_tmpdir();
	if (!r->dir)
		return -1;
	snprintf(share, sizeof(share), "%s/share", r->dir);
	snprintf(conf, sizeof(conf), "%s/server.conf", r->dir);
	snprintf(path, sizeof(path), "%s/client.conf", r->dir);
	if (mkdir(share, 0755) || ts_write_file(conf, sconf, strlen(sconf)) ||
	    ts_write_file(path, cconf, strlen(cconf)))
		return -1;
	r->port = ts_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", r->port);
	bin = strdup(ts_build_path("targets/srv/" SRV_ELIGIBLE "/srv"));
	{
		char *argv[] = { bin, "--listen", listen, "--config", conf, "--share", share, NULL };

		r->srv = ts_spawn(argv, NULL);
	}
	free(bin);
	if (r->srv <= 0 || !ts_wait_port(r->port, 5000))
		return -1;
	cli = strdup(ts_build_path("targets/mrxsmb/" MRX_ELIGIBLE "/smbcli"));
	{
		char *argv[] = { cli, "connect", "--stdin", "--config", path, NULL };

		if (ts_child_start(&r->cli, argv))
			r->cli.pid = 0;
	}
	free(cli);
	if (!r->cli.pid || ts_child_line(&r->cli, line, sizeof(line), 5000) || strcmp(line, "ready"))
		return -1;
	return 0;
}

static void teardown(struct rig *r)
{
	ts_child_kill(&r->cli);
	if (r->srv > 0)
		ts_stop(r->srv, 5000);
}

static void running(const struct rig *r)
{
	char st = ts_proc_state(r->cli.pid);

	CU_ASSERT(st == 'S' || st == 'R');
}

/* Killed after the first of two jumps: half patched, and said so; the next
 * apply writes the second jump. */
static void killed_apply_is_completed_by_apply(void)
{
	struct rig r;
	unsigned int n = 0;

	CU_ASSERT_EQUAL_FATAL(setup(&r), 0);
	expect_outcome(&r, "no-communication:");
	CU_ASSERT_EQUAL(apply(&r, "live-apply-partial"), 128 + SIGKILL);
	running(&r);
	CU_ASSERT_EQUAL(applied(&r, &n), 1);
	CU_ASSERT_EQUAL(n, 2);
	/* The client keeps answering. */
	{
		char line[512], addr[64];

		snprintf(addr, sizeof(addr), "127.0.0.1:%d\n", r.port);
		CU_ASSERT_EQUAL(ts_child_ask(&r.cli, addr, line, sizeof(line), 10000), 0);
	}
	CU_ASSERT_EQUAL(apply(&r, NULL), 0);
	CU_ASSERT_EQUAL(applied(&r, &n), 2);
	expect_outcome(&r, "signed:");
	/* Idempotent from there. */
	CU_ASSERT_EQUAL(apply(&r, NULL), 0);
	CU_ASSERT_EQUAL(applied(&r, &n), 2);
	CU_ASSERT_EQUAL(rollback(&r, NULL), 0);
	CU_ASSERT_EQUAL(applied(&r, &n), -1);
	expect_outcome(&r, "no-communication:");
	teardown(&r);
}

/* Killed after the first of two jumps, then rolled back: the one jump
 * there goes, the process is as before. */
static void killed_apply_is_undone_by_rollback(void)
{
	struct rig r;
	unsigned int n = 0;

	CU_ASSERT_EQUAL_FATAL(setup(&r), 0);
	CU_ASSERT_EQUAL(apply(&r, "live-apply-partial"), 128 + SIGKILL);
	CU_ASSERT_EQUAL(applied(&r, &n), 1);
	CU_ASSERT_EQUAL(rollback(&r, NULL), 0);
	running(&r);
	CU_ASSERT_EQUAL(applied(&r, &n), -1);
	expect_outcome(&r, "no-communication:");
	/* And a clean apply works afterwards. */
	CU_ASSERT_EQUAL(apply(&r, NULL), 0);
	CU_ASSERT_EQUAL(applied(&r, &n), 2);
	expect_outcome(&r, "signed:");
	teardown(&r);
}

/* Rollback killed after restoring the first of two functions: status says
 * 1 of 2, a new rollback finishes it, or a new apply redirects both again. */
static void killed_rollback_is_completed(void)
{
	struct rig r;
	unsigned int n = 0;

	CU_ASSERT_EQUAL_FATAL(setup(&r), 0);
	CU_ASSERT_EQUAL(apply(&r, NULL), 0);
	expect_outcome(&r, "signed:");
	CU_ASSERT_EQUAL(rollback(&r, "live-rollback-partial"), 128 + SIGKILL);
	running(&r);
	CU_ASSERT_EQUAL(applied(&r, &n), 1);
	CU_ASSERT_EQUAL(apply(&r, NULL), 0);
	CU_ASSERT_EQUAL(applied(&r, &n), 2);
	expect_outcome(&r, "signed:");
	CU_ASSERT_EQUAL(rollback(&r, "live-rollback-partial"), 128 + SIGKILL);
	CU_ASSERT_EQUAL(applied(&r, &n), 1);
	CU_ASSERT_EQUAL(rollback(&r, NULL), 0);
	CU_ASSERT_EQUAL(applied(&r, &n), -1);
	expect_outcome(&r, "no-communication:");
	teardown(&r);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "apply killed between two jumps: the next apply completes it",
		  killed_apply_is_completed_by_apply },
		{ "apply killed between two jumps: rollback undoes it", killed_apply_is_undone_by_rollback },
		{ "rollback killed between two restores: rollback or apply completes it",
		  killed_rollback_is_completed },
		{ NULL, NULL },
	};

	ts_add_suite("live atomicity", tests);
}
